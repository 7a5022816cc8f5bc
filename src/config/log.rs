//! `[log]`: the output format, and `level`: a `tracing` filter where every
//! directive names a level.
//!
//! `EnvFilter` takes a bare word as a target name, so `level = "verbose"`
//! parses, enables only the (nonexistent) target `verbose`, and the agent
//! logs nothing at all. Requiring a level in each directive catches that.

use super::problems::Errors;
use super::raw::RawLog;
use crate::telemetry;

/// The level names `tracing` filters know (case-insensitive).
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Validates `[log]` into the telemetry config.
pub(crate) fn build(raw: RawLog, errors: &mut Errors) -> telemetry::Config {
    let telemetry = telemetry::Config {
        format: match raw.format.as_deref() {
            None => None,
            Some("text") => Some(telemetry::Format::Text),
            Some("json") => Some(telemetry::Format::Json),
            Some(other) => {
                errors.push(
                    "log.format",
                    format!("unknown format `{other}`; use `text` or `json`"),
                );
                None
            }
        },
        level: raw.level.unwrap_or_else(|| "info".to_owned()),
    };
    if let Err(message) = check_level(&telemetry.level) {
        errors.push("log.level", message);
    }
    telemetry
}

/// `Ok` when `filter` is a `tracing` filter whose every directive has a level:
/// `info`, `auth0_ingest=debug,hyper=warn`.
pub fn check_level(filter: &str) -> Result<(), String> {
    let example = "use one of trace, debug, info, warn, error, off, or `target=level` such as `auth0_ingest=debug`";
    if filter.trim().is_empty() {
        return Err(format!("is empty: {example}"));
    }
    for directive in filter.split(',').map(str::trim) {
        let level = match directive.rsplit_once('=') {
            Some((_, level)) => level,
            None => directive,
        };
        if !LEVELS
            .iter()
            .any(|name| name.eq_ignore_ascii_case(level.trim()))
        {
            return Err(format!("`{directive}` names no level: {example}"));
        }
    }
    tracing_subscriber::EnvFilter::try_new(filter)
        .map(drop)
        .map_err(|error| format!("invalid filter: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_directive_needs_a_level() {
        for good in [
            "info",
            "WARN",
            "auth0_ingest=debug,hyper=warn",
            "off",
            "info,auth0_ingest::spool=trace",
        ] {
            assert_eq!(check_level(good), Ok(()), "{good}");
        }
        for bad in [
            "verbose",
            "",
            "info,verbose",
            "auth0_ingest=loud",
            "auth0_ingest",
        ] {
            assert!(check_level(bad).is_err(), "{bad}");
        }
    }
}
