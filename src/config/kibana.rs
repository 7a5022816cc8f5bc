//! `[kibana]` → [`kibana::Config`]: where `setup` imports the saved objects
//! of `fields/kibana/` (issue 19). Secrets come from files only.

use std::path::Path;

use reqwest::Url;

use super::raw::RawKibana;
use super::{inline_or_file_secret, Errors};
use crate::setup::kibana;

/// The space when none is configured.
pub const DEFAULT_SPACE: &str = "default";

/// Validates `[kibana]`, pushing every problem into `errors`.
pub(super) fn build(raw: RawKibana, base: &Path, errors: &mut Errors) -> Option<kibana::Config> {
    let url = match raw.url.as_deref() {
        None => {
            errors.push("kibana.url", "is required".to_owned());
            None
        }
        Some(text) => match Url::parse(text) {
            Ok(url)
                if matches!(url.scheme(), "http" | "https")
                    && url.host().is_some()
                    && url.username().is_empty()
                    && url.password().is_none() =>
            {
                Some(url)
            }
            Ok(_) | Err(_) if text.contains('@') => {
                errors.push(
                    "kibana.url",
                    "seems to hold credentials (value \"…\"); use `api_key_file` or `username` and `password_file`".to_owned(),
                );
                None
            }
            Ok(_) => {
                errors.push("kibana.url", format!("`{text}` is not an http(s) URL with a host"));
                None
            }
            Err(error) => {
                errors.push("kibana.url", format!("`{text}` is not a URL: {error}"));
                None
            }
        },
    };
    let space = raw.space.unwrap_or_else(|| DEFAULT_SPACE.to_owned());
    let space_ok = !space.is_empty()
        && space
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-');
    if !space_ok {
        errors.push(
            "kibana.space",
            format!("`{space}` is not a space id (lowercase letters, digits, `_` and `-`)"),
        );
    }
    let api_key = inline_or_file_secret(errors, base, "kibana.api_key", None, raw.api_key_file);
    let password = inline_or_file_secret(errors, base, "kibana.password", None, raw.password_file);
    let auth = match (api_key, raw.username, password) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            errors.push(
                "kibana.api_key_file",
                "use either `api_key_file` or `username` + `password_file`, not both".to_owned(),
            );
            None
        }
        (Some(key), None, None) => Some(kibana::Auth::ApiKey(key)),
        (None, Some(username), Some(password)) => Some(kibana::Auth::Basic { username, password }),
        (None, Some(_), None) => {
            errors.push("kibana.username", "needs `password_file`".to_owned());
            None
        }
        (None, None, Some(_)) => {
            errors.push("kibana.password_file", "needs `username`".to_owned());
            None
        }
        (None, None, None) => {
            errors.push(
                "kibana",
                "needs `api_key_file`, or `username` and `password_file`".to_owned(),
            );
            None
        }
    };
    let ca_cert = match raw.ca_file {
        None => None,
        Some(file) => {
            let path = base.join(file);
            match std::fs::read(&path) {
                Ok(pem) => Some(pem),
                Err(error) => {
                    errors.push(
                        "kibana.ca_file",
                        format!("cannot read `{}`: {error}", path.display()),
                    );
                    None
                }
            }
        }
    };
    Some(kibana::Config {
        url: url?,
        space: space_ok.then_some(space)?,
        auth: auth?,
        ca_cert,
    })
}
