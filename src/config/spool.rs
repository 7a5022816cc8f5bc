//! `[spool]`: where the spool lives and how much unacknowledged data
//! (dead letters included) it may hold.

use std::path::Path;

use super::problems::Errors;
use super::raw::RawSpool;
use super::values::{positive, resolve};
use crate::spool;

/// A day of a busy tenant's stream (~1 KB/event) fits several times over.
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 1024 * 1024 * 1024;

/// Validates `[spool]`; a missing section is a problem (`None`).
pub(crate) fn build(
    raw: Option<RawSpool>,
    base: &Path,
    errors: &mut Errors,
) -> Option<spool::Config> {
    let Some(spool) = raw else {
        errors.push("spool", "missing [spool] section with `dir`".to_owned());
        return None;
    };
    Some(spool::Config {
        dir: resolve(base, &spool.dir),
        max_bytes: positive(
            errors,
            "spool.max_bytes",
            spool.max_bytes,
            DEFAULT_SPOOL_MAX_BYTES,
        ),
        dead_letter_max_file_bytes: positive(
            errors,
            "spool.dead_letter_max_file_bytes",
            spool.dead_letter_max_file_bytes,
            spool::dead_letter::DEFAULT_MAX_FILE_BYTES,
        ),
    })
}
