//! `[kibana]` → [`kibana::Config`]: where `setup` imports the saved objects
//! of `fields/kibana/` (issue 19). Secrets come from files only.

use std::path::Path;

use reqwest::Url;

use super::credentials::inline_or_file_secret;
use super::problems::Errors;
use super::raw::RawKibana;
use super::stack_auth::{auth, Keys};
use crate::setup::kibana;

/// The space when none is configured.
pub const DEFAULT_SPACE: &str = "default";

const AUTH_KEYS: Keys = Keys {
    api_key: "kibana.api_key_file",
    username: "kibana.username",
    password: "kibana.password_file",
    both: "use either `api_key_file` or `username` + `password_file`, not both",
    password_needed: "needs `password_file`",
};

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
                errors.push(
                    "kibana.url",
                    format!("`{text}` is not an http(s) URL with a host"),
                );
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
        && space.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'-'
        });
    if !space_ok {
        errors.push(
            "kibana.space",
            format!("`{space}` is not a space id (lowercase letters, digits, `_` and `-`)"),
        );
    }
    let api_key = inline_or_file_secret(errors, base, "kibana.api_key", None, raw.api_key_file);
    let password = inline_or_file_secret(errors, base, "kibana.password", None, raw.password_file);
    let auth = match auth(errors, &AUTH_KEYS, api_key, raw.username, password) {
        Some(kibana::Auth::None) => {
            errors.push(
                "kibana",
                "needs `api_key_file`, or `username` and `password_file`".to_owned(),
            );
            None
        }
        auth => auth,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(url: &str, space: Option<&str>) -> RawKibana {
        RawKibana {
            url: Some(url.to_owned()),
            space: space.map(str::to_owned),
            api_key_file: None,
            username: None,
            password_file: None,
            ca_file: None,
        }
    }

    fn keys(errors: &Errors) -> Vec<&str> {
        errors.0.iter().map(|error| error.key.as_str()).collect()
    }

    #[test]
    fn every_problem_is_reported() {
        let mut errors = Errors(Vec::new());
        assert!(build(
            raw("ftp://x", Some("Sec Ops")),
            Path::new("/nonexistent"),
            &mut errors
        )
        .is_none());
        assert_eq!(keys(&errors), ["kibana.url", "kibana.space", "kibana"]);
    }

    #[test]
    fn credentials_in_the_url_are_refused_without_echo() {
        let mut errors = Errors(Vec::new());
        let mut section = raw("https://elastic:hunter2@kibana:5601", None);
        section.username = Some("elastic".to_owned());
        build(section, Path::new("/nonexistent"), &mut errors);
        let text = format!("{:?}", errors.0);
        assert!(text.contains("seems to hold credentials"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn api_key_file_and_default_space() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key"), "a2V5\n").unwrap();
        let mut section = raw("https://kibana:5601/base", None);
        section.api_key_file = Some("key".into());
        let mut errors = Errors(Vec::new());
        let config = build(section, dir.path(), &mut errors).unwrap();
        assert!(errors.0.is_empty());
        assert_eq!(config.space, DEFAULT_SPACE);
        assert!(matches!(config.auth, kibana::Auth::ApiKey(ref key) if key.expose() == "a2V5"));
    }
}
