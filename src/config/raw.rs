//! The configuration file format: TOML deserialized into `Raw*` structs.
//!
//! These types mirror the file one to one and carry no validation beyond
//! syntax; [`crate::config::Config::from_raw`] turns them into validated
//! domain types. The `///` docs on each field are the reference for the key
//! (the example `packaging/auth0-ingest.toml` repeats them for operators).

use std::path::PathBuf;

use bytesize::ByteSize;
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Format version of this file; only `1` exists. Optional so that the
    /// short configs in the issues and docs stay valid.
    pub version: Option<u32>,
    /// The HTTPS endpoint an Auth0 "Custom Webhook" log stream posts to.
    pub webhook: Option<RawWebhook>,
    /// The Management API poller (alternative or complement to the webhook).
    pub poller: Option<RawPoller>,
    /// The durable on-disk queue between inputs and outputs.
    pub spool: Option<RawSpool>,
    /// Where documents go.
    #[serde(default)]
    pub output: RawOutputs,
    /// How events become documents.
    #[serde(default)]
    pub enrich: RawEnrich,
    /// Logging.
    #[serde(default)]
    pub log: RawLog,
}

/// `[webhook]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// Address to listen on, e.g. `127.0.0.1:8383`; `0.0.0.0:443` faces the internet.
    pub listen: Option<String>,
    /// URL path Auth0 posts to. Default `/auth0/logs`.
    pub path: Option<String>,
    /// Accepted `Authorization` header values, compared verbatim (Auth0 adds no `Bearer `).
    /// Several allow rotation.
    pub tokens: Option<Vec<String>>,
    /// Alternative to `tokens`: a file with one accepted value per line
    /// (relative paths are looked up in `$CREDENTIALS_DIRECTORY` first).
    pub tokens_file: Option<PathBuf>,
    /// Largest accepted request body, after gzip decompression. Default 16MiB.
    pub max_body_bytes: Option<ByteSize>,
    /// Most connections served at once; further clients wait in the accept queue. Default 512.
    pub max_connections: Option<usize>,
    /// Time a client gets to send the request line and headers (and the TLS handshake). Default 10s.
    pub header_timeout: Option<String>,
    /// Time a client gets to send the whole body. Default 60s.
    pub body_timeout: Option<String>,
    /// Seconds put in `Retry-After` when the spool is full. Default 10s.
    pub retry_after: Option<String>,
    /// TLS material; omit to serve plain HTTP behind a TLS-terminating reverse proxy.
    pub tls: Option<RawTls>,
}

/// `[webhook.tls]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// `[poller]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPoller {
    /// The tenant's base URL, e.g. `https://tenant.eu.auth0.com` (a custom
    /// domain works). `https://` only; `http://` is accepted for a loopback
    /// host (tests, a local proxy).
    pub url: Option<String>,
    /// The Management API audience. Default `<url>/api/v2/`; with a custom
    /// domain it is usually still the canonical `https://<tenant>.auth0.com/api/v2/`.
    pub audience: Option<String>,
    /// The Machine to Machine application's client id.
    pub client_id: Option<String>,
    /// Its client secret, inline; prefer `client_secret_file`.
    pub client_secret: Option<String>,
    /// A file holding the client secret (relative paths are looked up in
    /// `$CREDENTIALS_DIRECTORY` first).
    pub client_secret_file: Option<PathBuf>,
    /// Logs per request, 1 to 100. Default 100 (Auth0's maximum).
    pub batch_size: Option<u32>,
    /// The wait after an empty or partial page; full pages are fetched back
    /// to back. Default 30s.
    pub interval: Option<String>,
    /// Where to start when there is no saved cursor: an RFC 3339 time
    /// (`2026-11-01T00:00:00Z`) or a `log_id`. Default: 24 hours before the start.
    /// Ignored once a cursor is saved: delete `<state_dir>/poller-cursor.json` to start over.
    pub start_from: Option<String>,
    /// Limit for each HTTP request, body included. Default 30s.
    pub request_timeout: Option<String>,
    /// Directory of the cursor file `poller-cursor.json`. Default: `spool.dir`.
    pub state_dir: Option<PathBuf>,
}

/// `[spool]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpool {
    /// Directory of the segment files, acknowledgement ledger and dead-letter file.
    pub dir: PathBuf,
    /// Upper bound on the spool's size on disk; when reached the webhook answers 503. Default 1GiB.
    pub max_bytes: Option<ByteSize>,
    /// Size at which `dead-letter.ndjson` is renamed `dead-letter.ndjson.<n>` and a new one
    /// started. Dead-letter files are never deleted by the agent; they count against
    /// `max_bytes`. Default 64MiB.
    pub dead_letter_max_file_bytes: Option<ByteSize>,
}

/// `[output]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutputs {
    /// `[output.file]`: rotating NDJSON files.
    pub file: Option<RawFileOutput>,
    /// `[output.elasticsearch]`: bulk indexing into a data stream.
    pub elasticsearch: Option<RawElasticsearchOutput>,
}

/// `[output.elasticsearch]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawElasticsearchOutput {
    /// Node URLs, e.g. `["https://es1:9200", "https://es2:9200"]`; requests go round-robin.
    pub hosts: Vec<String>,
    /// API key in the base64 `id:key` form Elasticsearch issues (`encoded`). Prefer `api_key_file`.
    pub api_key: Option<String>,
    /// File holding the API key (relative paths are looked up in `$CREDENTIALS_DIRECTORY` first).
    pub api_key_file: Option<PathBuf>,
    /// User for basic authentication (with `password` or `password_file`).
    pub username: Option<String>,
    /// Password for `username`. Prefer `password_file`.
    pub password: Option<String>,
    /// File holding the password (relative paths are looked up in `$CREDENTIALS_DIRECTORY` first).
    pub password_file: Option<PathBuf>,
    /// PEM CA certificate to trust for the cluster (e.g. Elasticsearch's `http_ca.crt`).
    pub ca_cert: Option<PathBuf>,
    /// Verify the cluster's TLS certificate. Default true; false only for labs.
    pub tls_verify: Option<bool>,
    /// Data stream namespace: documents go to `logs-auth0.logs-<namespace>`. Default `default`.
    pub namespace: Option<String>,
    /// Index or data stream to write to instead of `logs-auth0.logs-<namespace>`.
    pub index: Option<String>,
    /// Most documents per bulk request. Default 1000.
    pub batch_max_events: Option<usize>,
    /// Most bytes per bulk request body. Default 5MiB.
    pub batch_max_bytes: Option<ByteSize>,
    /// Longest time a document waits for its bulk request to fill. Default 1s.
    pub flush_interval: Option<String>,
    /// Most bulk requests outstanding at once. Default 4.
    pub max_in_flight: Option<usize>,
    /// Time one bulk request may take before it is abandoned and retried. Default 60s.
    pub request_timeout: Option<String>,
}

/// `[output.file]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFileOutput {
    /// Directory the NDJSON files are written to.
    pub dir: PathBuf,
    /// A file is closed and a new one started once it reaches this size. Default 256MiB.
    pub max_file_bytes: Option<ByteSize>,
    /// Closed files kept; the oldest beyond this count are deleted. Default 0 = keep all.
    pub max_files: Option<usize>,
}

/// `[enrich]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnrich {
    /// Keep the event as received in `event.original` (and add the tag
    /// `preserve_original_event`). Default false.
    pub preserve_original_event: Option<bool>,
    /// GeoIP2/GeoLite2 City database for `source.geo.*`. Default
    /// `/var/lib/GeoIP/GeoLite2-City.mmdb`; `""` turns geo lookups off. A
    /// missing file turns them off with one warning.
    pub geoip_city: Option<PathBuf>,
    /// GeoLite2 ASN database for `source.as.*`. Default
    /// `/var/lib/GeoIP/GeoLite2-ASN.mmdb`; `""` turns AS lookups off. A
    /// missing file turns them off with one warning.
    pub geoip_asn: Option<PathBuf>,
    /// `uap` (default: uap-core regexes, Elasticsearch's names), `woothee`
    /// (faster, woothee's names) or `off`.
    pub user_agent: Option<String>,
    /// uap-core's regexes file. Default `/usr/share/uap-core/regexes.yaml`
    /// (Debian package `uap-core`).
    pub uap_regexes: Option<PathBuf>,
    /// `tags` of every document. Default `["forwarded", "auth0-logstream"]`.
    pub tags: Option<Vec<String>>,
}

/// `[log]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// `text` or `json`; default: text under systemd (`JOURNAL_STREAM`) or a terminal, else json.
    pub format: Option<String>,
    /// A `tracing` filter such as `info` or `auth0_ingest=debug`. `RUST_LOG` overrides it. Default `info`.
    pub level: Option<String>,
}
