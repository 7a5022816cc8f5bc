//! The configuration file format: TOML deserialized into `Raw*` structs.
//!
//! These types mirror the file one to one and carry no validation beyond
//! syntax; [`crate::config::Config::from_raw`] turns them into validated
//! domain types. The `///` docs on each field are the reference for the key
//! (the example `packaging/auth0-ingest.toml` repeats them for operators).

use std::path::PathBuf;

use super::size::Size;
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
    /// Which events become documents (Auth0's log-stream filter categories
    /// and type codes). Default: all.
    pub filter: Option<RawFilter>,
    /// Personal data obfuscation before anything is written. Default: off.
    pub pii: Option<RawPii>,
    /// Logging.
    #[serde(default)]
    pub log: RawLog,
    /// The admin listener: `/metrics`, `/healthz`, `/readyz`, `/status`, `POST /replay`.
    pub admin: Option<RawAdmin>,
    /// Kibana: `setup` imports the saved objects of `fields/kibana/` when
    /// this section is present (issue 19).
    pub kibana: Option<RawKibana>,
}

/// `[kibana]`: where `setup` installs the data view, saved searches and
/// dashboard.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKibana {
    /// Kibana's base URL, e.g. `https://kibana.example:5601` (with its
    /// `server.basePath`, if any).
    pub url: Option<String>,
    /// The Kibana space the objects go into; default `default`.
    pub space: Option<String>,
    /// A file holding an API key (the base64 `id:api_key` form), sent as
    /// `Authorization: ApiKey …`.
    pub api_key_file: Option<PathBuf>,
    /// The user for basic authentication (with `password_file`).
    pub username: Option<String>,
    /// A file holding the password of `username`.
    pub password_file: Option<PathBuf>,
    /// PEM CA certificate(s) to trust for Kibana's TLS, besides the system roots.
    pub ca_file: Option<PathBuf>,
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
    pub max_body_bytes: Option<Size>,
    /// Most connections served at once; further clients wait in the accept queue. Default 512.
    pub max_connections: Option<usize>,
    /// Time a client gets to send the request line and headers (and the TLS handshake). Default 10s.
    pub header_timeout: Option<String>,
    /// Time a client gets to send the whole body. Default 60s.
    pub body_timeout: Option<String>,
    /// Seconds put in `Retry-After` when the spool is full. Default 10s.
    pub retry_after: Option<String>,
    /// A keep-alive connection that sends no request for this long is closed. Default 30s.
    pub idle_timeout: Option<String>,
    /// A connection whose client does not read a response for this long is closed
    /// (clients that pipeline requests and never read). Default 30s.
    pub send_timeout: Option<String>,
    /// Body bytes held in memory by all requests together (as received, decompressed and
    /// the spool copy); a request that does not fit is answered 503 + `Retry-After` before
    /// its body is read. At least 3 × `max_body_bytes`. Default 256MiB.
    pub max_inflight_bytes: Option<Size>,
    /// TLS material; omit to serve plain HTTP behind a TLS-terminating reverse proxy.
    pub tls: Option<RawTls>,
    /// Reverse proxies (addresses or CIDR networks, e.g. `["127.0.0.1"]`)
    /// whose `X-Forwarded-For` names the client in the webhook's logs.
    /// Default none: the client is the connection's peer.
    pub trusted_proxies: Option<Vec<String>>,
    /// Accept posts without a token (no `tokens`/`tokens_file`): refused unless
    /// `listen` is a loopback address. Default false: no token is a config error.
    pub allow_unauthenticated: Option<bool>,
    /// Serve plain HTTP on a non-loopback `listen` without declaring the
    /// TLS-terminating proxy in `trusted_proxies`. Default false: such a listener
    /// needs `[webhook.tls]`, `trusted_proxies` or this key.
    pub allow_plaintext: Option<bool>,
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
    pub max_bytes: Option<Size>,
    /// Size at which `dead-letter.ndjson` is renamed `dead-letter.ndjson.<n>` and a new one
    /// started. Dead-letter files are never deleted by the agent; they count against
    /// `max_bytes`. Default 64MiB.
    pub dead_letter_max_file_bytes: Option<Size>,
}

/// `[output]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutputs {
    /// `[output.file]`: rotating NDJSON files.
    pub file: Option<RawFileOutput>,
    /// `[output.elasticsearch]`: bulk indexing into a data stream.
    pub elasticsearch: Option<RawElasticsearchOutput>,
    /// `[output.datadog]`: Datadog's logs intake.
    pub datadog: Option<RawDatadogOutput>,
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
    pub batch_max_bytes: Option<Size>,
    /// Longest time a document waits for its bulk request to fill. Default 1s.
    pub flush_interval: Option<String>,
    /// Most bulk requests outstanding at once. Default 4.
    pub max_in_flight: Option<usize>,
    /// Time one bulk request may take before it is abandoned and retried. Default 60s.
    pub request_timeout: Option<String>,
    /// Bulk request bodies: `gzip` (default, level 1, as Beats) or `none`.
    pub compression: Option<String>,
}

/// `[output.datadog]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatadogOutput {
    /// Datadog site: `datadoghq.com` (default, US1), `us3.datadoghq.com`,
    /// `us5.datadoghq.com`, `datadoghq.eu`, `ap1.datadoghq.com`,
    /// `ap2.datadoghq.com` or `ddog-gov.com`.
    pub site: Option<String>,
    /// Alternative to `site`, as Auth0's Datadog stream form names it: `us`, `eu`, `us3` or `us5`.
    pub region: Option<String>,
    /// Intake base URL instead of `https://http-intake.logs.<site>` (a proxy, a test);
    /// logs go to `<url>/api/v2/logs`, the key check to `<url>/api/v1/validate`.
    pub url: Option<String>,
    /// The API key, inline; prefer `api_key_file`.
    pub api_key: Option<String>,
    /// File holding the API key (relative paths are looked up in `$CREDENTIALS_DIRECTORY` first).
    pub api_key_file: Option<PathBuf>,
    /// `service` of every log. Default `auth0`.
    pub service: Option<String>,
    /// `ddsource` of every log. Default `auth0` (Datadog's Auth0 pipeline filters on it).
    pub source: Option<String>,
    /// Tags of every log, e.g. `["env:prod"]`, sent comma-joined as `ddtags`. Default none.
    pub tags: Option<Vec<String>>,
    /// `hostname` of every log. Default: not sent.
    pub hostname: Option<String>,
    /// `auth0` (default: Auth0's `{"log_id","data"}` envelope, as Auth0's own
    /// Datadog stream) or `ecs` (our ECS document, with GeoIP and user agent).
    pub format: Option<String>,
    /// Request bodies: `gzip` (default, level 1) or `none`.
    pub compression: Option<String>,
    /// Most logs per request, at most 1000 (Datadog's limit). Default 1000.
    pub batch_max_events: Option<usize>,
    /// Most bytes per request before compression, at most 4250000 (Datadog's limit is 5 MB). Default 4250000.
    pub batch_max_bytes: Option<Size>,
    /// Longest time a log waits for its request to fill. Default 1s.
    pub flush_interval: Option<String>,
    /// Most requests outstanding at once. Default 4.
    pub max_in_flight: Option<usize>,
    /// Time one request may take before it is abandoned and retried. Default 30s.
    pub request_timeout: Option<String>,
}

/// `[output.file]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFileOutput {
    /// Directory the NDJSON files are written to.
    pub dir: PathBuf,
    /// A file is closed and a new one started once it reaches this size. Default 256MiB.
    pub max_file_bytes: Option<Size>,
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

/// `[filter]`: an event becomes a document when no `include`/`types` is
/// given, or its category is in `include`, or its code is in `types`; and
/// then only when neither `exclude` nor `exclude_types` names it. Filtered
/// events are acknowledged and counted, never written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFilter {
    /// Auth0 filter categories to keep, as the Management API spells them
    /// (`auth.login.fail`, `management.success`, `other`, …). Default: all.
    pub include: Option<Vec<String>>,
    /// Auth0 filter categories to leave out; wins over `include` and `types`.
    pub exclude: Option<Vec<String>>,
    /// Exact type codes to keep (`s`, `fp`, …), in addition to `include`.
    pub types: Option<Vec<String>>,
    /// Exact type codes to leave out; wins over `include` and `types`.
    pub exclude_types: Option<Vec<String>>,
}

/// `[pii]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPii {
    /// Auth0's data names to obfuscate, at any depth of the event:
    /// `first_name` (`first_name`, `given_name`, `name`), `last_name`
    /// (`last_name`, `family_name`, `name`), `email`, `phone` (`phone`,
    /// `phone_number`, `old_phone_number`, `new_phone_number`), `address`,
    /// `username` (`username`, `user_name`). Default: none.
    pub fields: Option<Vec<String>>,
    /// `mask` (every character becomes `*`; the default), `xxhash` (XXH64,
    /// seed 0, hex) or `hmac-sha256` (keyed with `key_file`; recommended: an
    /// unkeyed hash of an email is reversible with a dictionary).
    pub method: Option<String>,
    /// The HMAC key for `method = "hmac-sha256"`: the file's bytes, without
    /// trailing line breaks, at least 16 (relative paths are looked up in
    /// `$CREDENTIALS_DIRECTORY` first). Same key, same output on every agent.
    pub key_file: Option<PathBuf>,
    /// `keep` (default) or `truncate`: IPv4 to /24 and IPv6 to /48 in
    /// `source.ip` and every `ip`/`client_ip` member, after the GeoIP and
    /// ASN lookups used the full address.
    pub ip: Option<String>,
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

/// `[admin]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// Address of the admin listener (plain HTTP). Default `127.0.0.1:8384`;
    /// `""` turns it off. A non-loopback address requires `tokens` or `tokens_file`.
    pub listen: Option<String>,
    /// Accepted `Authorization` header values for `/metrics`, `/status` and
    /// `POST /replay`, compared verbatim (write `Bearer …` to use a bearer token).
    pub tokens: Option<Vec<String>>,
    /// Alternative to `tokens`: a file with one accepted value per line
    /// (relative paths are looked up in `$CREDENTIALS_DIRECTORY` first).
    pub tokens_file: Option<PathBuf>,
    /// `/status` says `failing` once an output with work has not succeeded
    /// for this long. Default 5m.
    pub failing_after: Option<String>,
}
