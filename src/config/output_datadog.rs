//! `[output.datadog]`: raw keys → [`datadog::Config`], every problem
//! collected with its key.

use std::path::Path;
use std::time::Duration;

use super::credentials::inline_or_file_secret;
use super::output_tuning::{compression, one_of, raw_tuning, tuning, Defaults};
use super::problems::Errors;
use super::raw::RawDatadogOutput;
use crate::outputs::datadog::{self, item, Format};
use crate::outputs::tuning::Tuning;

/// US1, Datadog's default site.
pub const DEFAULT_SITE: &str = "datadoghq.com";
/// What Auth0's Datadog stream sets, so Datadog's Auth0 pipeline applies.
pub const DEFAULT_SOURCE: &str = "auth0";
/// What Auth0's Datadog stream sets.
pub const DEFAULT_SERVICE: &str = "auth0";
/// A quiet stream still reaches Datadog within a second or two.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// As the Elasticsearch output: hides round trips without flooding.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4;
/// A 4 MB request over a WAN takes seconds; 30 s means stuck (Vector's default is 60 s).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const DEFAULTS: Defaults = Defaults {
    batch_max_events: datadog::MAX_BATCH_EVENTS,
    batch_max_bytes: datadog::MAX_BATCH_BYTES as u64,
    flush_interval: DEFAULT_FLUSH_INTERVAL,
    max_in_flight: DEFAULT_MAX_IN_FLIGHT,
    request_timeout: DEFAULT_REQUEST_TIMEOUT,
};
/// The sites Datadog documents for the logs intake.
pub const SITES: [&str; 7] = [
    "datadoghq.com",
    "us3.datadoghq.com",
    "us5.datadoghq.com",
    "datadoghq.eu",
    "ap1.datadoghq.com",
    "ap2.datadoghq.com",
    "ddog-gov.com",
];

/// Auth0's `datadogRegion` names → sites.
fn region_site(region: &str) -> Option<&'static str> {
    match region {
        "us" => Some("datadoghq.com"),
        "eu" => Some("datadoghq.eu"),
        "us3" => Some("us3.datadoghq.com"),
        "us5" => Some("us5.datadoghq.com"),
        _ => None,
    }
}

/// Validates `[output.datadog]`; `None` when it has problems.
pub(super) fn build(
    raw: RawDatadogOutput,
    base: &Path,
    errors: &mut Errors,
) -> Option<datadog::Config> {
    let before = errors.0.len();
    let (url, api_url) = endpoints(raw.site, raw.region, raw.url, errors);
    let before_key = errors.0.len();
    let api_key = inline_or_file_secret(
        errors,
        base,
        "output.datadog.api_key",
        raw.api_key,
        raw.api_key_file,
    );
    match &api_key {
        None if errors.0.len() == before_key => errors.push(
            "output.datadog.api_key_file",
            "is required (or `api_key`)".to_owned(),
        ),
        Some(key) if !key.expose().bytes().all(|byte| byte.is_ascii_graphic()) => errors.push(
            "output.datadog.api_key",
            "holds characters an API key cannot have (spaces or non-ASCII)".to_owned(),
        ),
        _ => {}
    }
    let non_empty = |errors: &mut Errors, key: &str, value: Option<String>, default: &str| {
        let value = value.unwrap_or_else(|| default.to_owned());
        if value.trim().is_empty() {
            errors.push(key, "is empty".to_owned());
        }
        value
    };
    let source = non_empty(errors, "output.datadog.source", raw.source, DEFAULT_SOURCE);
    let service = non_empty(
        errors,
        "output.datadog.service",
        raw.service,
        DEFAULT_SERVICE,
    );
    let tags = raw.tags.unwrap_or_default();
    for (index, tag) in tags.iter().enumerate() {
        if tag.trim().is_empty() || tag.contains(',') {
            errors.push(
                &format!("output.datadog.tags[{index}]"),
                "must be non-empty and hold no comma (tags are sent comma-joined)".to_owned(),
            );
        }
    }
    if raw
        .hostname
        .as_deref()
        .is_some_and(|host| host.trim().is_empty())
    {
        errors.push("output.datadog.hostname", "is empty".to_owned());
    }
    let format = one_of(
        errors,
        "output.datadog.format",
        "format",
        raw.format.as_deref(),
        &[("auth0", Format::Auth0), ("ecs", Format::Ecs)],
    );
    let compression = compression(errors, "output.datadog.compression", raw.compression);
    let tuning = tuning(errors, "output.datadog", raw_tuning!(raw), &DEFAULTS);
    check_batch_limits(&tuning, errors);
    if errors.0.len() > before {
        return None;
    }
    Some(datadog::Config {
        url,
        api_url,
        api_key: api_key?,
        format,
        attributes: item::Attributes::new(&source, &service, &tags, raw.hostname.as_deref()),
        compression,
        tuning,
        unauthorized_pause: datadog::DEFAULT_UNAUTHORIZED_PAUSE,
    })
}

/// The intake and API URLs: `url` (for both), else the site's (`site`, or
/// the `region`'s, or the default).
fn endpoints(
    site: Option<String>,
    region: Option<String>,
    url: Option<String>,
    errors: &mut Errors,
) -> (String, String) {
    let site = match (site, region) {
        (Some(_), Some(_)) => {
            errors.push(
                "output.datadog.region",
                "give `site` or `region`, not both".to_owned(),
            );
            None
        }
        (Some(site), None) => {
            if !SITES.contains(&site.as_str()) {
                errors.push(
                    "output.datadog.site",
                    format!("unknown site `{site}`; use one of {}", SITES.join(", ")),
                );
            }
            Some(site)
        }
        (None, Some(region)) => match region_site(&region) {
            Some(site) => Some(site.to_owned()),
            None => {
                errors.push(
                    "output.datadog.region",
                    format!("unknown region `{region}`; use `us`, `eu`, `us3` or `us5`"),
                );
                None
            }
        },
        (None, None) => None,
    };
    match url {
        Some(url) => {
            if site.is_some() {
                errors.push(
                    "output.datadog.url",
                    "give `url` or `site`/`region`, not both (`url` replaces the site's intake)"
                        .to_owned(),
                );
            }
            check_url(errors, &url);
            let url = url.trim_end_matches('/').to_owned();
            (url.clone(), url)
        }
        None => {
            // Datadog serves the key check on the site's API host.
            let site = site.as_deref().unwrap_or(DEFAULT_SITE);
            (
                format!("https://http-intake.logs.{site}"),
                format!("https://api.{site}"),
            )
        }
    }
}

/// `batch_max_events` and `batch_max_bytes` within Datadog's limits (a
/// zero is reported by [`tuning`] already).
fn check_batch_limits(tuning: &Tuning, errors: &mut Errors) {
    if tuning.batch_max_events > datadog::MAX_BATCH_EVENTS {
        errors.push(
            "output.datadog.batch_max_events",
            format!(
                "must be at most {} (Datadog's limit)",
                datadog::MAX_BATCH_EVENTS
            ),
        );
    }
    let batch_max_bytes = tuning.batch_max_bytes;
    // Room for one item at the 1 MB cut, so that every item fits a request.
    if batch_max_bytes != 0
        && !(item::MAX_ITEM_BYTES + 2..=datadog::MAX_BATCH_BYTES).contains(&batch_max_bytes)
    {
        errors.push(
            "output.datadog.batch_max_bytes",
            format!(
                "must be between {} (one 1 MB log) and {} bytes (under Datadog's 5 MB limit)",
                item::MAX_ITEM_BYTES + 2,
                datadog::MAX_BATCH_BYTES
            ),
        );
    }
}

/// `https://` with a host; `http://` only to a loopback host (the key
/// would otherwise cross the network in clear).
fn check_url(errors: &mut Errors, text: &str) {
    match reqwest::Url::parse(text) {
        Ok(url) if url.scheme() == "https" && url.host().is_some() => {}
        Ok(url) if url.scheme() == "http" => {
            let loopback = match url.host_str() {
                Some("localhost") => true,
                Some(host) => host
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback()),
                None => false,
            };
            if !loopback {
                errors.push(
                    "output.datadog.url",
                    format!("`{text}`: plain http only to a loopback host (the API key would travel in clear); use https"),
                );
            }
        }
        Ok(_) => errors.push(
            "output.datadog.url",
            format!("`{text}` is not an http(s) URL with a host"),
        ),
        Err(error) => errors.push(
            "output.datadog.url",
            format!("`{text}` is not a URL: {error}"),
        ),
    }
    if text.contains('?') || text.contains('#') {
        errors.push("output.datadog.url", "holds a query or fragment".to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::errors_of;
    use super::super::Config;
    use super::*;
    use crate::outputs::compression::Compression;

    const BASE: &str = "[webhook]\nallow_unauthenticated=true\n[spool]\ndir=\"/s\"\n";

    #[test]
    fn datadog_alone_is_an_output_with_auth0_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dd-key"), "0123456789abcdef\n").unwrap();
        let config = Config::from_toml(
            &format!("{BASE}[output.datadog]\napi_key_file=\"dd-key\"\n"),
            dir.path(),
        )
        .unwrap();
        assert!(config.file_output.is_none() && config.elasticsearch.is_none());
        let datadog = config.datadog.unwrap();
        assert_eq!(datadog.url, "https://http-intake.logs.datadoghq.com");
        assert_eq!(datadog.api_url, "https://api.datadoghq.com");
        assert_eq!(datadog.api_key.expose(), "0123456789abcdef");
        assert_eq!(datadog.format, Format::Auth0);
        assert_eq!(datadog.compression, Compression::Gzip);
        assert_eq!(datadog.tuning.batch_max_events, 1000);
        assert_eq!(datadog.tuning.batch_max_bytes, 4_250_000);
        assert_eq!(
            datadog.attributes,
            item::Attributes::new("auth0", "auth0", &[], None)
        );
    }

    #[test]
    fn regions_sites_and_urls_choose_the_intake() {
        let urls = |section: &str| {
            let config = Config::from_toml(
                &format!("{BASE}[output.datadog]\napi_key=\"k\"\n{section}\n"),
                Path::new("/"),
            )
            .unwrap();
            let datadog = config.datadog.unwrap();
            (datadog.url, datadog.api_url)
        };
        let intake = |section: &str| urls(section).0;
        assert_eq!(urls("region=\"eu\"").1, "https://api.datadoghq.eu");
        assert_eq!(urls("url=\"http://127.0.0.1:9\"").1, "http://127.0.0.1:9");
        assert_eq!(
            intake("region=\"eu\""),
            "https://http-intake.logs.datadoghq.eu"
        );
        assert_eq!(
            intake("region=\"us5\""),
            "https://http-intake.logs.us5.datadoghq.com"
        );
        assert_eq!(
            intake("site=\"ap2.datadoghq.com\""),
            "https://http-intake.logs.ap2.datadoghq.com"
        );
        assert_eq!(
            intake("site=\"ddog-gov.com\""),
            "https://http-intake.logs.ddog-gov.com"
        );
        assert_eq!(intake("url=\"http://127.0.0.1:9/\""), "http://127.0.0.1:9");
        assert_eq!(
            intake("url=\"https://dd-proxy.internal\""),
            "https://dd-proxy.internal"
        );
    }

    #[test]
    fn datadog_problems_are_reported_with_their_keys() {
        let mut keys = errors_of(&format!(
            "{BASE}[output.datadog]\nsite=\"datadoghq.org\"\nurl=\"http://dd.example\"\napi_key=\"a b\"\n\
             service=\"\"\ntags=[\"a,b\"]\nformat=\"json\"\ncompression=\"zstd\"\nbatch_max_events=1001\n\
             batch_max_bytes=\"5MB\"\nmax_in_flight=0\n"
        ));
        keys.sort();
        keys.dedup();
        assert_eq!(
            keys,
            [
                "output.datadog.api_key",
                "output.datadog.batch_max_bytes",
                "output.datadog.batch_max_events",
                "output.datadog.compression",
                "output.datadog.format",
                "output.datadog.max_in_flight",
                "output.datadog.service",
                "output.datadog.site",
                "output.datadog.tags[0]",
                "output.datadog.url",
            ]
        );
        assert_eq!(
            errors_of(&format!("{BASE}[output.datadog]\nregion=\"ap1\"\n")),
            ["output.datadog.region", "output.datadog.api_key_file"]
        );
        assert_eq!(
            errors_of(&format!(
                "{BASE}[output.datadog]\napi_key=\"k\"\nsite=\"datadoghq.eu\"\nregion=\"eu\"\n"
            )),
            ["output.datadog.region"]
        );
    }

    #[test]
    fn elasticsearch_compression_is_gzip_unless_told() {
        let text = |extra: &str| {
            format!("{BASE}[output.elasticsearch]\nhosts=[\"http://es:9200\"]\n{extra}\n")
        };
        let config = Config::from_toml(&text(""), Path::new("/")).unwrap();
        assert_eq!(config.elasticsearch.unwrap().compression, Compression::Gzip);
        let config = Config::from_toml(&text("compression=\"none\""), Path::new("/")).unwrap();
        assert_eq!(config.elasticsearch.unwrap().compression, Compression::None);
        assert_eq!(
            errors_of(&text("compression=\"br\"")),
            ["output.elasticsearch.compression"]
        );
    }
}
