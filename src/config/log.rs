//! `[log]`: the output format, and `level` (or `RUST_LOG`): a `tracing`
//! filter that keeps the agent's errors visible.
//!
//! `EnvFilter` takes a bare word as a target name, so `level = "verbose"`
//! parses, enables only the (nonexistent) target `verbose`, and the agent
//! logs nothing at all. The same happens to `auth0-ingest=debug`: targets
//! are module paths, spelt with `_`. So every directive must name a level,
//! the crate's name is accepted with a hyphen (and rewritten), and a filter
//! that would silence the agent's own errors (`off`, `auth0_ingest=off`, or
//! only other crates' targets) is refused.

use super::problems::Errors;
use super::raw::RawLog;
use crate::telemetry;

/// The level names `tracing` filters know (case-insensitive).
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// Validates `[log]` into the telemetry config.
pub(crate) fn build(raw: RawLog, errors: &mut Errors) -> telemetry::Config {
    telemetry::Config {
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
        level: effective(raw.level, errors),
    }
}

/// The crate's target (its module path root).
const CRATE: &str = "auth0_ingest";

/// The same name as the package and binary spell it.
const CRATE_HYPHENATED: &str = "auth0-ingest";

/// The usable filter for `filter` (the crate's name with `_`), or why it
/// cannot be used: a directive without a level, or one that silences the
/// agent's errors. The message says what to write instead.
pub fn check_level(filter: &str) -> Result<String, String> {
    let example = "use one of trace, debug, info, warn, error, or `target=level` such as `auth0_ingest=debug`";
    if filter.trim().is_empty() {
        return Err(format!("is empty: {example}"));
    }
    let mut directives = Vec::new();
    let mut enables_crate = false;
    for directive in filter.split(',').map(str::trim) {
        let (target, level) = match directive.rsplit_once('=') {
            Some((target, level)) => (target.trim(), level.trim()),
            None => ("", directive),
        };
        if !LEVELS.iter().any(|name| name.eq_ignore_ascii_case(level)) {
            return Err(format!("`{directive}` names no level: {example}"));
        }
        let target = match target.strip_prefix(CRATE_HYPHENATED) {
            Some(rest) => format!("{CRATE}{rest}"),
            None => target.to_owned(),
        };
        let ours = target.is_empty()
            || target == CRATE
            || target.starts_with(&format!("{CRATE}::"))
            || target.starts_with(&format!("{CRATE}["));
        let off = level.eq_ignore_ascii_case("off");
        if ours && off {
            return Err(format!(
                "`{directive}` silences the agent's errors too: use `error` for the quietest log"
            ));
        }
        if !off && (target.is_empty() || target == CRATE) {
            enables_crate = true;
        }
        directives.push(if target.is_empty() {
            level.to_owned()
        } else {
            format!("{target}={level}")
        });
    }
    if !enables_crate {
        return Err(format!(
            "`{filter}` enables no level for the agent itself, so its errors would not be logged: add a default level, e.g. `info,{filter}`"
        ));
    }
    let normalized = directives.join(",");
    tracing_subscriber::EnvFilter::try_new(&normalized)
        .map_err(|error| format!("invalid filter: {error}"))?;
    Ok(normalized)
}

/// The filter the agent logs with: `RUST_LOG` when set (it overrides the
/// file), else `[log] level`, else `info`; each checked by [`check_level`]
/// under its own name.
pub(super) fn effective(level: Option<String>, errors: &mut Errors) -> String {
    let (key, filter) = match std::env::var("RUST_LOG") {
        Ok(filter) if !filter.trim().is_empty() => ("RUST_LOG", filter),
        _ => ("log.level", level.unwrap_or_else(|| "info".to_owned())),
    };
    check_level(&filter).unwrap_or_else(|message| {
        errors.push(key, message);
        filter
    })
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
            "info,auth0_ingest::spool=trace",
            "error,hyper=off",
        ] {
            assert_eq!(check_level(good), Ok(good.to_owned()), "{good}");
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

    #[test]
    fn the_crate_name_takes_a_hyphen() {
        assert_eq!(
            check_level("auth0-ingest=debug").as_deref(),
            Ok("auth0_ingest=debug")
        );
        assert_eq!(
            check_level("warn,auth0-ingest::spool=trace").as_deref(),
            Ok("warn,auth0_ingest::spool=trace")
        );
    }

    #[test]
    fn filters_that_silence_errors_are_refused() {
        for bad in [
            "off",
            "auth0_ingest=off",
            "info,auth0-ingest=off",
            "info,auth0_ingest::spool=off",
            "hyper=warn",
            "auth0_ingest::spool=debug",
        ] {
            let message = check_level(bad).unwrap_err();
            assert!(message.contains("errors"), "{bad}: {message}");
        }
    }
}
