//! `[pii]` → [`pii::Config`], collecting every problem.
//!
//! Data names must be Auth0's six; an unknown one is an error listing them.
//! `hmac-sha256` needs `key_file` and `key_file` is refused with any other
//! method (a reader would think the hash keyed). The key is read here, as
//! every secret is, and never appears in a message.

use std::path::Path;

use super::credentials::resolve_credential;
use super::problems::Errors;
use super::raw::RawPii;
use super::values::known_names;
use crate::pipeline::pii::{self, DataName, IpMode, Method};
use crate::secret::Secret;

/// The shortest HMAC key accepted: 128 bits.
pub const MIN_KEY_BYTES: usize = 16;

/// Validates `[pii]`; invalid entries fall back to "off" for that entry
/// (the problem is in `errors`, so the config is refused anyway).
pub(super) fn build(raw: RawPii, base: &Path, errors: &mut Errors) -> pii::Config {
    let fields = known_names(
        errors,
        "pii.fields",
        raw.fields,
        DataName::from_name,
        |name| {
            format!(
                "unknown Auth0 PII data name `{name}`; valid names: {}",
                DataName::names()
            )
        },
    );
    let method = match (raw.method.as_deref(), raw.key_file) {
        (None | Some("mask"), None) => Method::Mask,
        (Some("xxhash"), None) => Method::Xxhash,
        (Some("hmac-sha256"), Some(file)) => match read_key(base, &file) {
            Ok(key) => Method::HmacSha256(key),
            Err(message) => {
                errors.push("pii.key_file", message);
                Method::Mask
            }
        },
        (Some("hmac-sha256"), None) => {
            errors.push(
                "pii.key_file",
                "is required by `method = \"hmac-sha256\"`: a file holding the key".to_owned(),
            );
            Method::Mask
        }
        (name @ (None | Some("mask" | "xxhash")), Some(_)) => {
            let name = name.unwrap_or("mask");
            errors.push(
                "pii.key_file",
                format!("is only used by `method = \"hmac-sha256\"`, not `{name}`"),
            );
            Method::Mask
        }
        (Some(other), _) => {
            errors.push(
                "pii.method",
                format!("unknown method `{other}`; use `mask`, `xxhash` or `hmac-sha256`"),
            );
            Method::Mask
        }
    };
    let ip = match raw.ip.as_deref() {
        None | Some("keep") => IpMode::Keep,
        Some("truncate") => IpMode::Truncate,
        Some(other) => {
            errors.push(
                "pii.ip",
                format!("unknown mode `{other}`; use `keep` or `truncate`"),
            );
            IpMode::Keep
        }
    };
    pii::Config { fields, method, ip }
}

/// The key: the file's bytes without trailing CR/LF (so `openssl rand -hex
/// 32 > key` and a binary key both work, the same on every agent).
fn read_key(base: &Path, file: &Path) -> Result<Secret<Vec<u8>>, String> {
    let path = resolve_credential(base, file);
    let mut bytes = std::fs::read(&path)
        .map_err(|error| format!("cannot read `{}`: {error}", path.display()))?;
    while bytes
        .last()
        .is_some_and(|byte| matches!(byte, b'\n' | b'\r'))
    {
        bytes.pop();
    }
    if bytes.len() < MIN_KEY_BYTES {
        return Err(format!(
            "`{}` holds {} byte(s); an HMAC key needs at least {MIN_KEY_BYTES} (e.g. `openssl rand -hex 32`)",
            path.display(),
            bytes.len()
        ));
    }
    Ok(Secret::new(bytes))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::tests::errors_of;
    use crate::config::{Config, FromTomlError};

    const BASE: &str =
        "[webhook]\nallow_unauthenticated=true\n[spool]\ndir=\"/s\"\n[output.file]\ndir=\"/o\"\n";

    #[test]
    fn defaults_and_every_method() {
        let config = Config::from_toml(BASE, Path::new("/")).unwrap();
        assert_eq!(config.pipeline.pii, pii::Config::off());
        let config = Config::from_toml(
            &format!("{BASE}[pii]\nfields=[\"email\",\"username\",\"email\"]\n"),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(
            config.pipeline.pii.fields,
            [DataName::Email, DataName::Username]
        );
        assert_eq!(config.pipeline.pii.method, Method::Mask);
        assert_eq!(config.pipeline.pii.ip, IpMode::Keep);
        let config = Config::from_toml(
            &format!("{BASE}[pii]\nfields=[\"phone\"]\nmethod=\"xxhash\"\nip=\"truncate\"\n"),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(config.pipeline.pii.method, Method::Xxhash);
        assert_eq!(config.pipeline.pii.ip, IpMode::Truncate);

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pii.key"), "0123456789abcdef0123\r\n").unwrap();
        let config = Config::from_toml(
            &format!(
                "{BASE}[pii]\nfields=[\"email\"]\nmethod=\"hmac-sha256\"\nkey_file=\"pii.key\"\n"
            ),
            dir.path(),
        )
        .unwrap();
        assert_eq!(
            config.pipeline.pii.method,
            Method::HmacSha256(Secret::new(b"0123456789abcdef0123".to_vec()))
        );
        // The key never shows in Debug output.
        let debug = format!("{:?}", config.pipeline);
        assert!(!debug.contains("0123456789abcdef"), "{debug}");
    }

    #[test]
    fn problems_are_errors_naming_the_valid_values() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("short.key"), "secret-value\n").unwrap();
        let text = format!(
            "{BASE}[pii]\nfields=[\"email\",\"e-mail\",\"ip\"]\nmethod=\"hmac-sha256\"\nkey_file=\"short.key\"\nip=\"hide\"\n"
        );
        let Err(FromTomlError::Invalid(errors)) = Config::from_toml(&text, dir.path()) else {
            panic!("the config is invalid");
        };
        let mut keys: Vec<&str> = errors.0.iter().map(|error| error.key.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["pii.fields[1]", "pii.fields[2]", "pii.ip", "pii.key_file"]
        );
        let message = errors.to_string();
        assert!(
            message.contains("unknown Auth0 PII data name `e-mail`; valid names: first_name, last_name, email, phone, address, username"),
            "{message}"
        );
        assert!(message.contains("holds 12 byte(s)"), "{message}");
        // Never the key itself.
        assert!(!message.contains("secret-value"), "{message}");

        let mut keys = errors_of(&format!("{BASE}[pii]\nmethod=\"sha1\"\n"));
        keys.sort();
        assert_eq!(keys, ["pii.method"]);
        assert_eq!(
            errors_of(&format!("{BASE}[pii]\nmethod=\"hmac-sha256\"\n")),
            ["pii.key_file"]
        );
        assert_eq!(
            errors_of(&format!(
                "{BASE}[pii]\nmethod=\"xxhash\"\nkey_file=\"/nonexistent\"\n"
            )),
            ["pii.key_file"]
        );
        assert_eq!(
            errors_of(&format!(
                "{BASE}[pii]\nmethod=\"hmac-sha256\"\nkey_file=\"/nonexistent/key\"\n"
            )),
            ["pii.key_file"]
        );
    }
}
