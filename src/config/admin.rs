//! `[admin]` validation: the admin listener's address, tokens and the
//! `failing` threshold of `/status`.

use std::net::SocketAddr;
use std::path::Path;

use super::problems::Errors;
use super::raw::RawAdmin;
use super::tokens;
use super::values::duration;
use crate::admin::{Config, DEFAULT_FAILING_AFTER, DEFAULT_LISTEN};

/// Validates `[admin]` (absent means every default).
pub(super) fn build(
    raw: Option<RawAdmin>,
    base: &Path,
    errors: &mut Errors,
    files: &mut Vec<tokens::TokensFile>,
) -> Config {
    let raw = raw.unwrap_or_default();
    let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listen = if listen_text.is_empty() {
        None
    } else {
        match listen_text.parse::<SocketAddr>() {
            Ok(listen) => Some(listen),
            Err(_) => {
                errors.push(
                    "admin.listen",
                    format!("`{listen_text}` is not an address:port such as `127.0.0.1:8384` (or \"\" for none)"),
                );
                None
            }
        }
    };
    let report = tokens::Report {
        errors,
        warnings: None,
        files,
    };
    let tokens = tokens::read("admin", raw.tokens, raw.tokens_file, base, report);
    if let Some(listen) = listen {
        if !listen.ip().is_loopback() && tokens.is_empty() {
            errors.push(
                "admin.tokens",
                format!("required: `admin.listen` ({listen}) is not a loopback address; set `admin.tokens` or `admin.tokens_file`"),
            );
        }
    }
    let failing_after = duration(
        errors,
        "admin.failing_after",
        raw.failing_after,
        DEFAULT_FAILING_AFTER,
    );
    Config {
        listen,
        tokens,
        failing_after,
    }
}

/// Every default: what `status` asks without `--config`.
pub fn defaults() -> Config {
    build(
        None,
        Path::new("."),
        &mut Errors::default(),
        &mut Vec::new(),
    )
}

/// `[admin]` alone from a config file's text: what `status` and `replay`
/// need to reach the agent, without validating (or being able to read) the
/// rest of the file.
pub fn from_file(path: &Path) -> Result<Config, super::problems::LoadError> {
    #[derive(serde::Deserialize)]
    struct AdminOnly {
        admin: Option<RawAdmin>,
    }
    let text =
        std::fs::read_to_string(path).map_err(|source| super::problems::LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
    let raw: AdminOnly =
        toml::from_str(&text).map_err(|error| super::problems::LoadError::Parse {
            path: path.to_owned(),
            message: error.to_string(),
        })?;
    let mut errors = Errors::default();
    let base = path.parent().unwrap_or(Path::new("."));
    let config = build(raw.admin, base, &mut errors, &mut Vec::new());
    errors
        .into_result()
        .map_err(|errors| super::problems::LoadError::Invalid {
            path: path.to_owned(),
            errors,
        })?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::Config;

    const BASE: &str =
        "[webhook]\nallow_unauthenticated=true\n[spool]\ndir=\"/s\"\n[output.file]\ndir=\"/o\"\n";

    fn admin(text: &str) -> Result<crate::admin::Config, Vec<String>> {
        Config::from_toml(&format!("{BASE}{text}"), std::path::Path::new("/"))
            .map(|config| config.admin)
            .map_err(|error| match error {
                crate::config::FromTomlError::Invalid(errors) => {
                    errors.0.into_iter().map(|error| error.key).collect()
                }
                other => vec![other.to_string()],
            })
    }

    #[test]
    fn defaults_to_loopback_8384_and_five_minutes() {
        let config = admin("").unwrap();
        assert_eq!(config.listen, Some("127.0.0.1:8384".parse().unwrap()));
        assert!(config.tokens.is_empty());
        assert_eq!(config.failing_after, Duration::from_secs(300));
        assert_eq!(admin("[admin]\nlisten = \"\"\n").unwrap().listen, None);
    }

    #[test]
    fn a_public_address_needs_a_token() {
        assert_eq!(
            admin("[admin]\nlisten = \"0.0.0.0:8384\"\n").unwrap_err(),
            ["admin.tokens"]
        );
        let config =
            admin("[admin]\nlisten = \"0.0.0.0:8384\"\ntokens = [\"Bearer t\"]\n").unwrap();
        assert_eq!(config.tokens.len(), 1);
        let mut keys =
            admin("[admin]\nlisten = \"x\"\ntokens = [\"\"]\nfailing_after = \"soon\"\n")
                .unwrap_err();
        keys.sort();
        assert_eq!(
            keys,
            ["admin.failing_after", "admin.listen", "admin.tokens[0]"]
        );
    }
}
