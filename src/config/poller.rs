//! `[poller]` → [`poller::Config`], collecting every problem.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use reqwest::Url;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::credentials::inline_or_file_secret;
use super::problems::Errors;
use super::raw::RawPoller;
use super::values::{duration, resolve};
use crate::event::LogId;
use crate::inputs::poller::{self, checkpoint, StartFrom};

/// Auth0's maximum `take`: fewer requests for the same logs.
pub const DEFAULT_BATCH_SIZE: u32 = 100;
/// Auth0's most `take` allows.
pub const MAX_BATCH_SIZE: u32 = 100;
/// Logs appear within seconds; 30 s keeps an idle tenant at two requests a
/// minute, well under every plan's limit (Elastic's default is 5 min).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// A day back: the shortest retention (free plan) is one day, so a fresh
/// agent fetches what every tenant still has.
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(24 * 3600);
/// A page of 100 logs is well under a megabyte; 30 s only fails a stuck
/// connection.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Validates `[poller]`; `None` when a required value is missing or invalid
/// (the problem is in `errors`).
pub(super) fn build(
    raw: RawPoller,
    base: &Path,
    spool_dir: Option<&Path>,
    errors: &mut Errors,
) -> Option<poller::Config> {
    let url = match raw.url.as_deref() {
        None => {
            errors.push(
                "poller.url",
                "missing: the tenant URL, e.g. `https://tenant.eu.auth0.com`".to_owned(),
            );
            None
        }
        Some(text) => tenant_url(text)
            .map_err(|message| errors.push("poller.url", message))
            .ok(),
    };
    let audience = match (raw.audience, &url) {
        (Some(audience), _) if audience.trim().is_empty() => {
            errors.push("poller.audience", "is empty".to_owned());
            None
        }
        (Some(audience), _) => Some(audience),
        (None, Some(url)) => url.join("api/v2/").ok().map(String::from),
        (None, None) => None,
    };
    let client_id = match raw.client_id {
        Some(client_id) if !client_id.trim().is_empty() => Some(client_id),
        _ => {
            errors.push(
                "poller.client_id",
                "missing: the Machine to Machine application's client id".to_owned(),
            );
            None
        }
    };
    let client_secret = if raw.client_secret.is_none() && raw.client_secret_file.is_none() {
        errors.push(
            "poller.client_secret_file",
            "missing: a file with the application's client secret (or `client_secret`)".to_owned(),
        );
        None
    } else {
        inline_or_file_secret(
            errors,
            base,
            "poller.client_secret",
            raw.client_secret,
            raw.client_secret_file,
        )
    };
    let batch_size = raw.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
    if !(1..=MAX_BATCH_SIZE).contains(&batch_size) {
        errors.push(
            "poller.batch_size",
            format!("{batch_size} is out of range: Auth0 takes 1 to {MAX_BATCH_SIZE}"),
        );
    }
    let interval = duration(errors, "poller.interval", raw.interval, DEFAULT_INTERVAL);
    let request_timeout = duration(
        errors,
        "poller.request_timeout",
        raw.request_timeout,
        DEFAULT_REQUEST_TIMEOUT,
    );
    let start_from = match raw.start_from.as_deref() {
        None => Some(StartFrom::Lookback(DEFAULT_LOOKBACK)),
        Some(text) => start_from(text)
            .map_err(|message| errors.push("poller.start_from", message))
            .ok(),
    };
    let state_dir = match (raw.state_dir, spool_dir) {
        (Some(dir), _) => Some(resolve(base, &dir)),
        (None, spool_dir) => spool_dir.map(Path::to_owned),
    };
    Some(poller::Config {
        url: url?,
        audience: audience?,
        client_id: client_id?,
        client_secret: client_secret?,
        batch_size,
        interval,
        start_from: start_from?,
        request_timeout,
        state_dir: state_dir?,
    })
}

/// The tenant URL: `https` (or `http` to a loopback host), no path, query
/// or credentials.
fn tenant_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|error| {
        format!("`{text}` is not a URL such as `https://tenant.eu.auth0.com`: {error}")
    })?;
    let loopback = url.host_str().is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(format!(
                "`{text}` is plain http: the client secret and tokens need `https://` (http is only allowed to a loopback host)"
            ))
        }
        scheme => return Err(format!("`{text}`: unsupported scheme `{scheme}`; use `https://`")),
    }
    if url.host().is_none() {
        return Err(format!("`{text}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("`{text}` must not hold credentials"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{text}` must be the tenant's base URL, without path or query (the agent adds `/oauth/token` and `/api/v2/logs`)"
        ));
    }
    Ok(url)
}

/// An RFC 3339 time or a `log_id`.
fn start_from(text: &str) -> Result<StartFrom, String> {
    let text = text.trim();
    if let Ok(date) = OffsetDateTime::parse(text, &Rfc3339) {
        if !(2000..=9999).contains(&date.year()) {
            return Err(format!("`{text}` is out of range"));
        }
        return Ok(StartFrom::Date(date));
    }
    // A word like `yesterday` is not taken for a log_id: real ones are long
    // and hold digits (56 of them today).
    if checkpoint::is_log_id(text) && text.len() >= 16 && text.bytes().any(|b| b.is_ascii_digit()) {
        return Ok(StartFrom::LogId(LogId(text.to_owned())));
    }
    Err(format!(
        "`{text}` is neither an RFC 3339 time such as `2026-11-01T00:00:00Z` nor a log_id"
    ))
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, FromTomlError};
    use crate::inputs::poller::StartFrom;
    use std::path::Path;
    use std::time::Duration;

    fn keys(text: &str) -> Vec<String> {
        match Config::from_toml(text, Path::new("/tmp")) {
            Ok(_) => Vec::new(),
            Err(FromTomlError::Invalid(errors)) => {
                let mut keys: Vec<_> = errors.0.into_iter().map(|error| error.key).collect();
                keys.sort();
                keys
            }
            Err(FromTomlError::Parse(message)) => vec![format!("parse: {message}")],
        }
    }

    const TAIL: &str = "[spool]\ndir=\"/s\"\n[output.file]\ndir=\"/o\"\n";

    #[test]
    fn a_poller_alone_is_a_valid_input_with_defaults() {
        let text = format!(
            "[poller]\nurl=\"https://tenant.eu.auth0.com\"\nclient_id=\"id\"\nclient_secret=\"s\"\n{TAIL}"
        );
        let config = Config::from_toml(&text, Path::new("/etc")).unwrap();
        assert!(config.webhook.is_none());
        let poller = config.poller.unwrap();
        assert_eq!(poller.url.as_str(), "https://tenant.eu.auth0.com/");
        assert_eq!(poller.audience, "https://tenant.eu.auth0.com/api/v2/");
        assert_eq!(poller.batch_size, 100);
        assert_eq!(poller.interval, Duration::from_secs(30));
        assert_eq!(poller.request_timeout, Duration::from_secs(30));
        assert_eq!(
            poller.start_from,
            StartFrom::Lookback(Duration::from_secs(86_400))
        );
        assert_eq!(poller.state_dir, Path::new("/s"));
    }

    #[test]
    fn every_poller_problem_is_reported() {
        assert_eq!(
            keys(&format!(
                "[poller]\nurl=\"http://tenant.eu.auth0.com/x\"\nclient_secret=\"s\"\nclient_secret_file=\"f\"\n\
                 batch_size=101\ninterval=\"0s\"\nstart_from=\"2026-11-01\"\nrequest_timeout=\"x\"\n{TAIL}"
            )),
            [
                "poller.batch_size",
                "poller.client_id",
                "poller.client_secret",
                "poller.interval",
                "poller.request_timeout",
                "poller.start_from",
                "poller.url",
            ]
        );
        assert_eq!(keys(TAIL), ["webhook"], "no input at all");
    }

    #[test]
    fn urls_start_points_and_loopback_http() {
        let config = |extra: &str| {
            let text = format!("[poller]\nclient_id=\"i\"\nclient_secret=\"s\"\n{extra}\n{TAIL}");
            Config::from_toml(&text, Path::new("/")).map(|config| config.poller.unwrap())
        };
        let local =
            config("url=\"http://127.0.0.1:9/\"\nstart_from=\"90020261101000000123\"").unwrap();
        assert_eq!(local.url.as_str(), "http://127.0.0.1:9/");
        assert!(matches!(local.start_from, StartFrom::LogId(_)));
        let dated = config("url=\"https://x.example\"\nstart_from=\"2026-11-01T00:00:00+02:00\"\nstate_dir=\"st\"\naudience=\"https://t.auth0.com/api/v2/\"").unwrap();
        assert!(matches!(dated.start_from, StartFrom::Date(_)));
        assert_eq!(dated.state_dir, Path::new("/st"));
        assert_eq!(dated.audience, "https://t.auth0.com/api/v2/");
        assert!(config("url=\"http://[::1]:8/\"").is_ok());
        assert!(config("url=\"http://localhost:8\"").is_ok());
        assert!(config("url=\"http://10.0.0.1/\"").is_err());
        assert!(config("url=\"ftp://x/\"").is_err());
        assert!(config("url=\"https://x/\"\nstart_from=\"yesterday\"").is_err());
        assert!(config("url=\"https://u:p@x/\"").is_err());
    }
}
