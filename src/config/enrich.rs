//! `[enrich]`: the pipeline's tags and `event.original`, and the
//! enrichment databases and user-agent mode (paths resolved, an empty path
//! turning a lookup off).

use std::path::{Path, PathBuf};

use super::problems::Errors;
use super::raw;
use super::values::resolve;
use crate::pipeline::{self, enrich};

/// Validates `[enrich]` into the pipeline's and the enrichment's configs.
pub(crate) fn build(
    raw: raw::RawEnrich,
    base: &Path,
    errors: &mut Errors,
) -> (pipeline::Config, enrich::Config) {
    let mut pipeline = pipeline::Config::defaults();
    pipeline.preserve_original_event = raw.preserve_original_event.unwrap_or(false);
    if let Some(tags) = raw.tags {
        for (index, tag) in tags.iter().enumerate() {
            if tag.trim().is_empty() {
                errors.push(&format!("enrich.tags[{index}]"), "is empty".to_owned());
            }
        }
        pipeline.tags = tags;
    }
    let user_agent = match raw.user_agent.as_deref() {
        None => enrich::ua::Mode::Uap,
        Some(name) => enrich::ua::Mode::from_name(name).unwrap_or_else(|| {
            errors.push(
                "enrich.user_agent",
                format!("unknown mode `{name}`; use `uap`, `woothee` or `off`"),
            );
            enrich::ua::Mode::Uap
        }),
    };
    // An empty path turns a lookup off.
    let database = |path: Option<PathBuf>, default: &str| match path {
        Some(path) if path.as_os_str().is_empty() => None,
        Some(path) => Some(resolve(base, &path)),
        None => Some(PathBuf::from(default)),
    };
    let enrich = enrich::Config {
        geoip_city: database(raw.geoip_city, enrich::DEFAULT_GEOIP_CITY),
        geoip_asn: database(raw.geoip_asn, enrich::DEFAULT_GEOIP_ASN),
        user_agent,
        uap_regexes: raw.uap_regexes.map_or_else(
            || PathBuf::from(enrich::DEFAULT_UAP_REGEXES),
            |path| resolve(base, &path),
        ),
    };
    (pipeline, enrich)
}
