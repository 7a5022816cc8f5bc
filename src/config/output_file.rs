//! `[output.file]`: the NDJSON file output's directory, file size and
//! file count.

use std::path::Path;

use super::problems::Errors;
use super::raw::RawFileOutput;
use super::values::{positive, resolve};
use crate::outputs::file;

/// Files small enough to open in an editor or ship around.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Validates `[output.file]`.
pub(crate) fn build(file: RawFileOutput, base: &Path, errors: &mut Errors) -> file::Config {
    file::Config {
        dir: resolve(base, &file.dir),
        max_file_bytes: positive(
            errors,
            "output.file.max_file_bytes",
            file.max_file_bytes,
            DEFAULT_MAX_FILE_BYTES,
        ),
        max_files: file.max_files.unwrap_or(0),
    }
}
