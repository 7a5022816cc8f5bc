//! `[output.elasticsearch]`: raw keys → [`elasticsearch::Config`], every
//! problem collected with its key (a child of `config`, so it shares the
//! parent's `Errors`, `positive`, `duration` and path helpers).

use std::path::Path;
use std::time::Duration;

use super::credentials::inline_or_file_secret;
use super::output_tuning::{compression, raw_tuning, tuning, Defaults};
use super::problems::Errors;
use super::raw::RawElasticsearchOutput;
use super::stack_auth::{auth, Keys};
use super::values::resolve;
use crate::outputs::elasticsearch;

/// Elastic's default namespace; operators split tenants or environments by it.
pub const DEFAULT_NAMESPACE: &str = "default";
/// Elastic's recommended bulk size range starts around 1000 documents
/// (~1 MB at Auth0's ~1 KB per event).
pub const DEFAULT_BATCH_MAX_EVENTS: usize = 1000;
/// Well under Elasticsearch's 100 MB `http.max_content_length`, in the 5–15
/// MB range Elastic recommends for bulk bodies.
pub const DEFAULT_BATCH_MAX_BYTES: u64 = 5 * 1024 * 1024;
/// A quiet stream still reaches Kibana within a second or two.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Enough to hide one request's round trip behind the next ones without
/// flooding a small cluster's write queue.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 4;
/// A 5 MB bulk on a busy cluster takes seconds; a minute means stuck.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

const AUTH_KEYS: Keys = Keys {
    api_key: "output.elasticsearch.api_key",
    username: "output.elasticsearch.username",
    password: "output.elasticsearch.password",
    both: "use either an API key or `username` + password, not both",
    password_needed: "needs `password` or `password_file`",
};

const DEFAULTS: Defaults = Defaults {
    batch_max_events: DEFAULT_BATCH_MAX_EVENTS,
    batch_max_bytes: DEFAULT_BATCH_MAX_BYTES,
    flush_interval: DEFAULT_FLUSH_INTERVAL,
    max_in_flight: DEFAULT_MAX_IN_FLIGHT,
    request_timeout: DEFAULT_REQUEST_TIMEOUT,
};

/// Validates `[output.elasticsearch]`; `None` when it has problems (each
/// pushed to `errors`).
pub(super) fn build(
    raw: RawElasticsearchOutput,
    base: &Path,
    errors: &mut Errors,
) -> Option<elasticsearch::Config> {
    let before = errors.0.len();
    let hosts = hosts(&raw.hosts, errors);
    let api_key = inline_or_file_secret(
        errors,
        base,
        "output.elasticsearch.api_key",
        raw.api_key,
        raw.api_key_file,
    );
    let password = inline_or_file_secret(
        errors,
        base,
        "output.elasticsearch.password",
        raw.password,
        raw.password_file,
    );
    let auth = auth(errors, &AUTH_KEYS, api_key, raw.username, password);
    let ca_cert = raw
        .ca_cert
        .and_then(|path| ca_cert(&resolve(base, &path), errors));
    let (namespace, index) = namespace_and_index(raw.namespace, raw.index, errors);
    let tuning = tuning(errors, "output.elasticsearch", raw_tuning!(raw), &DEFAULTS);
    let compression = compression(errors, "output.elasticsearch.compression", raw.compression);
    if errors.0.len() > before {
        return None;
    }
    Some(elasticsearch::Config {
        hosts,
        auth: auth?,
        ca_cert,
        tls_verify: raw.tls_verify.unwrap_or(true),
        namespace,
        index,
        tuning,
        compression,
    })
}

/// `hosts`: http(s) URLs with a host and no credentials, each a directory.
fn hosts(hosts: &[String], errors: &mut Errors) -> Vec<::elasticsearch::http::Url> {
    let mut urls = Vec::new();
    if hosts.is_empty() {
        errors.push(
            "output.elasticsearch.hosts",
            "needs at least one URL such as `https://localhost:9200`".to_owned(),
        );
    }
    for (index, host) in hosts.iter().enumerate() {
        let key = format!("output.elasticsearch.hosts[{index}]");
        // The transport joins request paths onto the URL: keep its path a directory.
        let text = if host.ends_with('/') {
            host.clone()
        } else {
            format!("{host}/")
        };
        match ::elasticsearch::http::Url::parse(&text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                if !url.username().is_empty() || url.password().is_some() {
                    errors.push(
                        &key,
                        "holds credentials; use `username` and `password_file`".to_owned(),
                    );
                } else {
                    urls.push(url);
                }
            }
            // A URL with `user:password@` must not be echoed.
            Ok(_) | Err(_) if host.contains('@') => errors.push(
                &key,
                "is not a valid URL and seems to hold credentials (value \"…\"); use `username` and `password_file`".to_owned(),
            ),
            Ok(_) => errors.push(&key, format!("`{host}` is not an http(s) URL with a host")),
            Err(error) => errors.push(&key, format!("`{host}` is not a URL: {error}")),
        }
    }
    urls
}

/// The PEM certificate(s) at `path`, to trust for the cluster.
fn ca_cert(path: &Path, errors: &mut Errors) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(pem) if is_certificate_pem(&pem) => Some(pem),
        Ok(_) => {
            errors.push(
                "output.elasticsearch.ca_cert",
                format!("`{}` holds no valid PEM certificate", path.display()),
            );
            None
        }
        Err(error) => {
            errors.push(
                "output.elasticsearch.ca_cert",
                format!("cannot read `{}`: {error}", path.display()),
            );
            None
        }
    }
}

/// `namespace` (Elastic's data stream naming) and the index written to:
/// `index`, or the data stream of the namespace.
fn namespace_and_index(
    namespace: Option<String>,
    index: Option<String>,
    errors: &mut Errors,
) -> (String, String) {
    let namespace = namespace.unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
    if !elasticsearch::valid_namespace(&namespace) {
        errors.push(
            "output.elasticsearch.namespace",
            format!("`{namespace}` must be lowercase, at most 100 bytes, without `-`, spaces or any of \\/*?\"<>|,#:"),
        );
    }
    let index = match index {
        Some(index) => {
            if index.is_empty()
                || index.len() > 255
                || index.starts_with(['-', '_', '+', '.'])
                || index
                    .chars()
                    .any(|c| c.is_uppercase() || "\\/*?\"<>| ,#:".contains(c))
            {
                errors.push(
                    "output.elasticsearch.index",
                    format!("`{index}` is not a valid index name (lowercase, no spaces or \\/*?\"<>|,#:, not starting with -_+.)"),
                );
            }
            index
        }
        None => format!("{}{namespace}", elasticsearch::DATA_STREAM_PREFIX),
    };
    (namespace, index)
}

/// Whether `pem` holds certificates and nothing unparsable (checked here so
/// that a bad `ca_cert` is a config error, not a start-up failure).
fn is_certificate_pem(pem: &[u8]) -> bool {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let mut any = false;
    for certificate in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
        match certificate.map(|certificate| roots.add(certificate)) {
            Ok(Ok(())) => any = true,
            _ => return false,
        }
    }
    any
}

#[cfg(test)]
mod tests {
    use super::super::tests::errors_of;
    use super::super::{Config, FromTomlError};
    use super::*;

    #[test]
    fn elasticsearch_alone_is_an_output_with_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("es-key"), "aWQ6a2V5\n").unwrap();
        let config = Config::from_toml(
            "[webhook]\nallow_unauthenticated=true\n[spool]\ndir=\"s\"\n[output.elasticsearch]\nhosts=[\"https://es:9200\"]\napi_key_file=\"es-key\"\n",
            dir.path(),
        )
        .unwrap();
        assert!(config.file_output.is_none());
        let es = config.elasticsearch.unwrap();
        assert_eq!(es.hosts[0].as_str(), "https://es:9200/");
        assert_eq!(es.index, "logs-auth0.logs-default");
        assert_eq!(es.tuning.batch_max_events, DEFAULT_BATCH_MAX_EVENTS);
        assert_eq!(es.tuning.batch_max_bytes as u64, DEFAULT_BATCH_MAX_BYTES);
        assert_eq!(es.tuning.flush_interval, DEFAULT_FLUSH_INTERVAL);
        assert!(es.tls_verify);
        match es.auth {
            elasticsearch::Auth::ApiKey(key) => assert_eq!(key.expose(), "aWQ6a2V5"),
            other => panic!("unexpected auth {other:?}"),
        }
    }

    #[test]
    fn elasticsearch_problems_are_reported_with_their_keys() {
        let mut keys = errors_of(
            "[webhook]\nallow_unauthenticated=true\n[spool]\ndir=\"/s\"\n[output.elasticsearch]\nhosts=[\"ftp://x\", \"not a url\"]\n\
             api_key=\"k\"\nusername=\"u\"\npassword=\"p\"\npassword_file=\"/nonexistent\"\n\
             namespace=\"Prod-1\"\nbatch_max_events=0\nflush_interval=\"0s\"\nmax_in_flight=0\nca_cert=\"/nonexistent.pem\"\n",
        );
        keys.sort();
        assert_eq!(
            keys,
            [
                "output.elasticsearch.api_key",
                "output.elasticsearch.batch_max_events",
                "output.elasticsearch.ca_cert",
                "output.elasticsearch.flush_interval",
                "output.elasticsearch.hosts[0]",
                "output.elasticsearch.hosts[1]",
                "output.elasticsearch.max_in_flight",
                "output.elasticsearch.namespace",
                "output.elasticsearch.password",
            ]
        );
        let keys = errors_of(
            "[webhook]\nallow_unauthenticated=true\n[spool]\ndir=\"/s\"\n[output.elasticsearch]\nhosts=[\"http://es\"]\nusername=\"u\"\nindex=\"_bad\"\n",
        );
        assert_eq!(
            keys,
            [
                "output.elasticsearch.username",
                "output.elasticsearch.index"
            ]
        );
    }

    #[test]
    fn elasticsearch_ca_cert_must_be_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ca.pem"),
            "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let text = "[webhook]\nallow_unauthenticated=true\n[spool]\ndir=\"s\"\n[output.elasticsearch]\nhosts=[\"https://es:9200\"]\nca_cert=\"ca.pem\"\n";
        match Config::from_toml(text, dir.path()) {
            Err(FromTomlError::Invalid(errors)) => {
                assert_eq!(errors.0[0].key, "output.elasticsearch.ca_cert");
            }
            other => panic!("unexpected {other:?}"),
        }
        let (certificate, _key) =
            crate::inputs::webhook::tls::generate_development_certificate().unwrap();
        std::fs::write(dir.path().join("ca.pem"), certificate).unwrap();
        let config = Config::from_toml(text, dir.path()).unwrap();
        assert!(config.elasticsearch.unwrap().ca_cert.is_some());
    }
}
