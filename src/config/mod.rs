//! Configuration: the TOML file ([`raw`]) turned into validated, typed
//! per-subsystem configs ([`Config`]).
//!
//! Two layers, as in ripgrep and linkerd: `raw` is the file format with serde
//! derives and `deny_unknown_fields`; [`Config::from_raw`] checks every key,
//! collects **all** problems (each naming its key) and only then fails, so an
//! operator fixes a config in one round. The validated `Config` has no
//! `Default`: every default is a named `DEFAULT_*` constant below, chosen for
//! a reason written next to it. Secrets are read from files here (with
//! systemd's `$CREDENTIALS_DIRECTORY` searched first) and wrapped in
//! [`Secret`], so they never reach `Debug` output.

pub mod admin;
pub mod check;
pub mod embedded;
mod filter;
mod hint;
mod log;
pub mod output_datadog;
pub mod output_elasticsearch;
pub mod parse;
mod pii;
mod poller;
pub mod raw;
pub mod sections;
pub mod size;
pub mod tokens;
mod trusted_proxies;
mod webhook_edge;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::inputs::{self, webhook};
use crate::outputs::{datadog, elasticsearch, file};
use crate::pipeline::enrich;
use crate::secret::Secret;
use crate::{pipeline, spool, telemetry};
use raw::RawConfig;

/// Loopback by default: facing the internet is a decision the operator makes.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8383";
/// The path the README and the Auth0 set-up instructions use.
pub const DEFAULT_PATH: &str = "/auth0/logs";
/// Auth0 batches are small (hundreds of events); 16 MiB leaves room for
/// backfills posted by hand without letting one client exhaust memory.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 16 * 1024 * 1024;
/// The largest `max_body_bytes` allowed: one event of the body must fit a
/// spool record (`spool::MAX_EVENT_BYTES`).
pub const MAX_BODY_BYTES: u64 = spool::MAX_EVENT_BYTES as u64;
/// Enough for a busy stream plus a few backfills; each connection costs a
/// task and a TLS session (~50 KiB).
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// A legitimate client sends its headers at once; 10 s only hurts slowloris.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// 16 MiB at a slow 300 KiB/s still fits in 60 s.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// Long enough for the output to drain some of the spool before Auth0 retries.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(10);
/// A day of a busy tenant's stream (~1 KB/event) fits several times over.
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 1024 * 1024 * 1024;
/// Files small enough to open in an editor or ship around.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// The validated configuration of one agent.
#[derive(Debug)]
pub struct Config {
    /// The webhook input, when configured.
    pub webhook: Option<webhook::Config>,
    /// The API poller input, when configured.
    pub poller: Option<inputs::poller::Config>,
    /// The spool every input writes to.
    pub spool: spool::Config,
    /// The NDJSON file output, when configured.
    pub file_output: Option<file::Config>,
    /// The Elasticsearch output, when configured.
    pub elasticsearch: Option<elasticsearch::Config>,
    /// The Datadog output, when configured.
    pub datadog: Option<datadog::Config>,
    /// Event → document settings.
    pub pipeline: pipeline::Config,
    /// Enrichment databases and modes (loaded by `crate::enrichment::load`).
    pub enrich: enrich::Config,
    /// Logging settings.
    pub telemetry: telemetry::Config,
    /// Things that work but are likely mistakes (a short token): `run` logs
    /// them at `warn`, `check-config` prints them.
    pub warnings: Vec<ConfigError>,
    /// The admin listener (`/metrics`, `/status`, …).
    pub admin: crate::admin::Config,
    /// The tokens files read (webhook and admin), for reloads to compare.
    pub tokens_files: Vec<tokens::TokensFile>,
}

/// The webhook token the packaging once shipped as a placeholder: refused,
/// since anyone who read the package could send events.
pub const PLACEHOLDER_TOKEN: &str = "change-me-to-the-output-of-openssl-rand-hex-32";
/// Tokens shorter than this get a warning: Auth0's stream token is the only
/// thing between the internet and the spool.
pub const MIN_TOKEN_CHARS: usize = 16;

/// One problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted key path, e.g. `webhook.listen`.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

/// Every problem found in a configuration; never empty.
#[derive(Debug, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// Loading a configuration file failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read config file `{path}`")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML (unknown keys and wrong types are `Invalid`).
    #[error("config file `{path}` is not valid TOML: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and what, without the source text (which may hold a secret).
        message: String,
    },
    /// The file parsed but some values are invalid.
    #[error("config file `{path}` has {} problem(s):\n{errors}", errors.0.len())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem.
        errors: ConfigErrors,
    },
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(formatter)?;
            }
            write!(formatter, "  `{}`: {}", error.key, error.message)?;
        }
        Ok(())
    }
}

impl Config {
    /// Reads, parses and validates a config file. Relative paths in it are
    /// taken relative to the file's directory.
    pub fn load(path: &Path) -> Result<Config, LoadError> {
        let text = read(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::from_toml(&text, base).map_err(|error| load_error(path, error))
    }

    /// Parses and validates TOML text; relative paths are resolved against
    /// `base`. Every problem is reported: type errors and unknown keys (see
    /// [`parse`]) as well as invalid values.
    pub fn from_toml(text: &str, base: &Path) -> Result<Config, FromTomlError> {
        let table = parse::table(text).map_err(|error| FromTomlError::Parse(error.to_string()))?;
        let parsed = parse::deserialize::<RawConfig>(table);
        let mut errors = parsed.errors;
        let built = parsed.raw.map(|raw| Config::from_raw(raw, base));
        match built {
            Some(Ok(config)) if errors.is_empty() => Ok(config),
            Some(Ok(_)) | None => Err(FromTomlError::Invalid(ConfigErrors(errors))),
            Some(Err(ConfigErrors(more))) => {
                let reported = errors.clone();
                errors.extend(
                    more.into_iter()
                        .filter(|error| !follows_from(error, &reported)),
                );
                Err(FromTomlError::Invalid(ConfigErrors(errors)))
            }
        }
    }

    /// Validates a parsed file, collecting every problem before failing.
    pub fn from_raw(raw: RawConfig, base: &Path) -> Result<Config, ConfigErrors> {
        let mut errors = Errors::default();
        if let Some(version) = raw.version {
            if version != 1 {
                errors.push(
                    "version",
                    format!("unsupported version {version}; only 1 exists"),
                );
            }
        }
        let mut warnings = Vec::new();
        let mut tokens_files = Vec::new();
        let webhook = raw.webhook.map(|webhook| {
            build_webhook(webhook, base, &mut errors, &mut warnings, &mut tokens_files)
        });
        if webhook.is_none() && raw.poller.is_none() {
            errors.push(
                "webhook",
                "no input configured: add a [webhook] or a [poller] section".to_owned(),
            );
        }
        let spool = match raw.spool {
            Some(spool) => Some(spool::Config {
                dir: resolve(base, &spool.dir),
                max_bytes: positive(
                    &mut errors,
                    "spool.max_bytes",
                    spool.max_bytes.map(|size| size.as_u64()),
                    DEFAULT_SPOOL_MAX_BYTES,
                ),
                dead_letter_max_file_bytes: positive(
                    &mut errors,
                    "spool.dead_letter_max_file_bytes",
                    spool.dead_letter_max_file_bytes.map(|size| size.as_u64()),
                    spool::dead_letter::DEFAULT_MAX_FILE_BYTES,
                ),
            }),
            None => {
                errors.push("spool", "missing [spool] section with `dir`".to_owned());
                None
            }
        };
        let poller = raw.poller.map(|poller| {
            let spool_dir = spool.as_ref().map(|spool| spool.dir.as_path());
            poller::build(poller, base, spool_dir, &mut errors)
        });
        let file_output = raw.output.file.map(|file| file::Config {
            dir: resolve(base, &file.dir),
            max_file_bytes: positive(
                &mut errors,
                "output.file.max_file_bytes",
                file.max_file_bytes.map(|size| size.as_u64()),
                DEFAULT_MAX_FILE_BYTES,
            ),
            max_files: file.max_files.unwrap_or(0),
        });
        let has_elasticsearch = raw.output.elasticsearch.is_some();
        let elasticsearch = raw
            .output
            .elasticsearch
            .and_then(|raw| output_elasticsearch::build(raw, base, &mut errors));
        let has_datadog = raw.output.datadog.is_some();
        let datadog = raw
            .output
            .datadog
            .and_then(|raw| output_datadog::build(raw, base, &mut errors));
        if file_output.is_none() && !has_elasticsearch && !has_datadog {
            errors.push(
                "output",
                "no output configured: add an [output.elasticsearch], [output.datadog] or [output.file] section"
                    .to_owned(),
            );
        }
        if let (Some(spool), Some(file)) = (&spool, &file_output) {
            if spool.dir == file.dir {
                errors.push(
                    "output.file.dir",
                    format!("must differ from `spool.dir` (`{}`)", spool.dir.display()),
                );
            }
        }
        let (mut pipeline, enrich) = build_enrich(raw.enrich, base, &mut errors);
        if let Some(raw_filter) = raw.filter {
            pipeline.filter = filter::build(raw_filter, &mut errors);
        }
        if let Some(raw_pii) = raw.pii {
            pipeline.pii = pii::build(raw_pii, base, &mut errors);
        }
        // Documents name the data stream they belong to (`data_stream.namespace`).
        if let Some(elasticsearch) = &elasticsearch {
            pipeline.namespace = elasticsearch.namespace.clone();
        }
        let telemetry = telemetry::Config {
            format: match raw.log.format.as_deref() {
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
            level: log::effective(raw.log.level, &mut errors),
        };
        let admin = admin::build(raw.admin, base, &mut errors, &mut tokens_files);
        match (errors.into_result(), spool) {
            // Every invalid section pushed an error, so with no errors
            // `flatten` drops nothing.
            (Ok(()), Some(spool)) => Ok(Config {
                webhook: webhook.flatten(),
                poller: poller.flatten(),
                spool,
                file_output,
                elasticsearch,
                datadog,
                pipeline,
                enrich,
                telemetry,
                warnings,
                admin,
                tokens_files,
            }),
            (Err(errors), ..) => Err(errors),
            // Every `None` above pushed an error, so this arm is unreachable in
            // practice; report it rather than panic.
            _ => Err(ConfigErrors(vec![ConfigError {
                key: "spool".to_owned(),
                message: "invalid".to_owned(),
            }])),
        }
    }
}

/// Errors of [`Config::from_toml`].
#[derive(Debug, thiserror::Error)]
pub enum FromTomlError {
    /// Not TOML, or unknown keys or wrong types.
    #[error("{0}")]
    Parse(String),
    /// Values are invalid.
    #[error("{0}")]
    Invalid(ConfigErrors),
}

/// Accumulates problems.
#[derive(Default)]
struct Errors(Vec<ConfigError>);

impl Errors {
    fn push(&mut self, key: &str, message: String) {
        self.0.push(ConfigError {
            key: key.to_owned(),
            message,
        });
    }

    fn into_result(self) -> Result<(), ConfigErrors> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(self.0))
        }
    }
}

fn build_webhook(
    raw: raw::RawWebhook,
    base: &Path,
    errors: &mut Errors,
    warnings: &mut Vec<ConfigError>,
    tokens_files: &mut Vec<tokens::TokensFile>,
) -> Option<webhook::Config> {
    let listen_text = raw.listen.unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listen = match listen_text.parse::<SocketAddr>() {
        Ok(listen) => Some(listen),
        Err(_) => {
            errors.push(
                "webhook.listen",
                format!("`{listen_text}` is not an address:port such as `127.0.0.1:8383`"),
            );
            None
        }
    };
    let path = raw.path.unwrap_or_else(|| DEFAULT_PATH.to_owned());
    if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
        errors.push(
            "webhook.path",
            format!("`{path}` must start with `/` and hold no query, fragment or space"),
        );
    }
    let report = tokens::Report {
        errors,
        warnings: Some(warnings),
        files: tokens_files,
    };
    let tokens = tokens::read("webhook", raw.tokens, raw.tokens_file, base, report);
    check_placeholder(&tokens, errors);
    let trusted_proxies = trusted_proxies::build(raw.trusted_proxies, errors);
    let max_body_bytes = positive(
        errors,
        "webhook.max_body_bytes",
        raw.max_body_bytes.map(|size| size.as_u64()),
        DEFAULT_MAX_BODY_BYTES,
    );
    if max_body_bytes > MAX_BODY_BYTES {
        errors.push(
            "webhook.max_body_bytes",
            format!("must be at most {MAX_BODY_BYTES} bytes (256MiB): one event must fit a spool record"),
        );
    }
    let max_connections = at_least_one(
        errors,
        "webhook.max_connections",
        raw.max_connections,
        DEFAULT_MAX_CONNECTIONS,
    );
    let header_timeout = duration(
        errors,
        "webhook.header_timeout",
        raw.header_timeout,
        DEFAULT_HEADER_TIMEOUT,
    );
    let body_timeout = duration(
        errors,
        "webhook.body_timeout",
        raw.body_timeout,
        DEFAULT_BODY_TIMEOUT,
    );
    let retry_after = duration(
        errors,
        "webhook.retry_after",
        raw.retry_after,
        DEFAULT_RETRY_AFTER,
    );
    let edge = webhook_edge::build(
        raw.idle_timeout,
        raw.send_timeout,
        raw.max_inflight_bytes,
        max_body_bytes,
        errors,
    );
    let tls = match raw.tls {
        None => None,
        Some(tls) => {
            let cert = resolve(base, &tls.cert);
            let key = resolve_credential(base, &tls.key);
            let loaded = webhook::tls::certified_key(&cert, &key).and_then(|key| {
                let slot = Arc::new(webhook::tls::CertificateSlot::new(key));
                let config = webhook::tls::server_config_with(Arc::clone(&slot))?;
                Ok((Arc::new(config), slot))
            });
            match loaded {
                Ok(loaded) => Some(loaded),
                Err(error) => {
                    errors.push("webhook.tls", error.to_string());
                    None
                }
            }
        }
    };
    let (tls, certificate) = match tls {
        Some((config, slot)) => (Some(config), Some(slot)),
        None => (None, None),
    };
    Some(webhook::Config {
        listen: listen?,
        path,
        reloadable: Arc::new(webhook::Reloadable {
            tokens: webhook::auth::Tokens::new(tokens.clone()),
            certificate,
        }),
        tokens,
        max_body_bytes: usize::try_from(max_body_bytes).unwrap_or(usize::MAX),
        max_connections,
        header_timeout,
        body_timeout,
        retry_after,
        edge,
        tls,
        trusted_proxies,
    })
}

/// The placeholder token is an error (short ones are warned about by
/// [`tokens::read`]). Tokens are named by position, never shown.
fn check_placeholder(tokens: &[Secret<String>], errors: &mut Errors) {
    for (index, token) in tokens.iter().enumerate() {
        if token.expose().trim() == PLACEHOLDER_TOKEN {
            errors.push(
                "webhook.tokens",
                format!("token {} is the placeholder from the example: generate one with `openssl rand -hex 32`", index + 1),
            );
        }
    }
}

/// Reads a config file; a missing or unreadable file is a configuration
/// problem like any other (exit 78).
fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })
}

fn load_error(path: &Path, error: FromTomlError) -> LoadError {
    match error {
        FromTomlError::Parse(message) => LoadError::Parse {
            path: path.to_owned(),
            message,
        },
        FromTomlError::Invalid(errors) => LoadError::Invalid {
            path: path.to_owned(),
            errors,
        },
    }
}

/// Whether `error` (from validation) is a consequence of a key already
/// reported and dropped while parsing: the same key, or one inside or
/// around it (a dropped `[spool]` makes validation say `spool` is missing).
fn follows_from(error: &ConfigError, reported: &[ConfigError]) -> bool {
    let within = |inner: &str, outer: &str| {
        inner == outer
            || inner
                .strip_prefix(outer)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    };
    reported.iter().any(|earlier| {
        let dropped = earlier.key.as_str();
        within(&error.key, dropped) || within(dropped, &error.key)
    })
}

fn build_enrich(
    raw: raw::RawEnrich,
    base: &Path,
    errors: &mut Errors,
) -> (pipeline::Config, enrich::Config) {
    let mut pipeline = pipeline::Config::defaults();
    pipeline.preserve_original_event = raw.preserve_original_event.unwrap_or(false);
    if let Some(tags) = raw.tags {
        for (index, tag) in tags.iter().enumerate() {
            if tag.trim().is_empty() {
                errors.push(&format!("enrich.tags[{index}]"), "is empty".to_owned());
            }
        }
        pipeline.tags = tags;
    }
    let user_agent = match raw.user_agent.as_deref() {
        None => enrich::ua::Mode::Uap,
        Some(name) => enrich::ua::Mode::from_name(name).unwrap_or_else(|| {
            errors.push(
                "enrich.user_agent",
                format!("unknown mode `{name}`; use `uap`, `woothee` or `off`"),
            );
            enrich::ua::Mode::Uap
        }),
    };
    // An empty path turns a lookup off.
    let database = |path: Option<PathBuf>, default: &str| match path {
        Some(path) if path.as_os_str().is_empty() => None,
        Some(path) => Some(resolve(base, &path)),
        None => Some(PathBuf::from(default)),
    };
    let enrich = enrich::Config {
        geoip_city: database(raw.geoip_city, enrich::DEFAULT_GEOIP_CITY),
        geoip_asn: database(raw.geoip_asn, enrich::DEFAULT_GEOIP_ASN),
        user_agent,
        uap_regexes: raw.uap_regexes.map_or_else(
            || PathBuf::from(enrich::DEFAULT_UAP_REGEXES),
            |path| resolve(base, &path),
        ),
    };
    (pipeline, enrich)
}

fn positive(errors: &mut Errors, key: &str, value: Option<u64>, default: u64) -> u64 {
    match value {
        Some(0) => {
            errors.push(key, "must be greater than zero".to_owned());
            default
        }
        Some(value) => value,
        None => default,
    }
}

/// A count that must be at least 1 (`default` when absent).
fn at_least_one(errors: &mut Errors, key: &str, value: Option<usize>, default: usize) -> usize {
    let value = value.unwrap_or(default);
    if value == 0 {
        errors.push(key, "must be at least 1".to_owned());
    }
    value
}

fn duration(errors: &mut Errors, key: &str, value: Option<String>, default: Duration) -> Duration {
    let Some(text) = value else {
        return default;
    };
    match humantime::parse_duration(&text) {
        Ok(value) if !value.is_zero() => value,
        Ok(_) => {
            errors.push(key, "must be greater than zero".to_owned());
            default
        }
        Err(error) => {
            errors.push(
                key,
                format!("`{text}` is not a duration such as `30s` or `5m`: {error}"),
            );
            default
        }
    }
}

fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        base.join(path)
    }
}

/// Relative secret paths are looked up in systemd's `$CREDENTIALS_DIRECTORY`
/// (`LoadCredential=`) first, then next to the config file.
fn resolve_credential(base: &Path, path: &Path) -> PathBuf {
    if path.is_relative() {
        if let Some(directory) = std::env::var_os("CREDENTIALS_DIRECTORY") {
            let candidate = Path::new(&directory).join(path);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    resolve(base, path)
}

/// A secret given inline (`key`) or in a file (`key_file`), not both.
fn inline_or_file_secret(
    errors: &mut Errors,
    base: &Path,
    key: &str,
    inline: Option<String>,
    file: Option<PathBuf>,
) -> Option<Secret<String>> {
    match (inline, file) {
        (Some(_), Some(_)) => {
            errors.push(key, format!("give `{key}` or `{key}_file`, not both"));
            None
        }
        (Some(value), None) if value.trim().is_empty() => {
            errors.push(key, "is empty".to_owned());
            None
        }
        (Some(value), None) => Some(Secret::new(value)),
        (None, Some(file)) => {
            let path = resolve_credential(base, &file);
            match std::fs::read_to_string(&path) {
                Ok(text) if !text.trim().is_empty() => Some(Secret::new(text.trim().to_owned())),
                Ok(_) => {
                    errors.push(
                        &format!("{key}_file"),
                        format!("`{}` is empty", path.display()),
                    );
                    None
                }
                Err(error) => {
                    errors.push(
                        &format!("{key}_file"),
                        format!("cannot read `{}`: {error}", path.display()),
                    );
                    None
                }
            }
        }
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys of every problem in `text` (or the parse error).
    pub(super) fn errors_of(text: &str) -> Vec<String> {
        match Config::from_toml(text, Path::new("/tmp")) {
            Ok(_) => Vec::new(),
            Err(FromTomlError::Invalid(errors)) => errors.0.into_iter().map(|e| e.key).collect(),
            Err(FromTomlError::Parse(message)) => vec![format!("parse: {message}")],
        }
    }

    #[test]
    fn minimal_config_is_valid_with_defaults() {
        let config = Config::from_toml(
            "[webhook]\ntokens=[\"t\"]\n[spool]\ndir=\"spool\"\n[output.file]\ndir=\"/o\"\n",
            Path::new("/etc/a"),
        )
        .unwrap();
        let webhook = config.webhook.unwrap();
        assert_eq!(webhook.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(webhook.path, DEFAULT_PATH);
        assert_eq!(webhook.max_body_bytes as u64, DEFAULT_MAX_BODY_BYTES);
        assert_eq!(config.spool.dir, Path::new("/etc/a/spool"));
        assert_eq!(config.spool.max_bytes, DEFAULT_SPOOL_MAX_BYTES);
        assert!(!config.pipeline.preserve_original_event);
        assert_eq!(config.pipeline.namespace, "default");
        assert_eq!(config.pipeline.tags, ["forwarded", "auth0-logstream"]);
        assert_eq!(config.enrich.user_agent, enrich::ua::Mode::Uap);
        assert_eq!(
            config.enrich.geoip_city.as_deref(),
            Some(Path::new(enrich::DEFAULT_GEOIP_CITY))
        );
    }

    #[test]
    fn enrich_keys_are_validated_and_resolved() {
        let base = "[webhook]\n[spool]\ndir=\"/s\"\n[output.file]\ndir=\"/o\"\n";
        let config = Config::from_toml(
            &format!("{base}[enrich]\ngeoip_city=\"geo/city.mmdb\"\ngeoip_asn=\"\"\nuser_agent=\"woothee\"\ntags=[\"a\"]\npreserve_original_event=true\n"),
            Path::new("/etc/a"),
        )
        .unwrap();
        assert_eq!(
            config.enrich.geoip_city.as_deref(),
            Some(Path::new("/etc/a/geo/city.mmdb"))
        );
        assert_eq!(config.enrich.geoip_asn, None);
        assert_eq!(config.enrich.user_agent, enrich::ua::Mode::Woothee);
        assert_eq!(config.pipeline.tags, ["a"]);
        assert!(config.pipeline.preserve_original_event);
        let mut keys = errors_of(&format!(
            "{base}[enrich]\nuser_agent=\"fast\"\ntags=[\"\"]\n"
        ));
        keys.sort();
        assert_eq!(keys, ["enrich.tags[0]", "enrich.user_agent"]);
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_key() {
        let keys = errors_of(
            "[webhook]\nlisten=\"nope\"\npath=\"x\"\nmax_body_bytes=0\nbody_timeout=\"soon\"\n\
             tokens=[\"\"]\ntokens_file=\"/nonexistent/tokens\"\n[spool]\ndir=\"/s\"\nmax_bytes=\"0B\"\n",
        );
        let mut keys = keys;
        keys.sort();
        assert_eq!(
            keys,
            [
                "output",
                "spool.max_bytes",
                "webhook.body_timeout",
                "webhook.listen",
                "webhook.max_body_bytes",
                "webhook.path",
                "webhook.tokens[0]",
                "webhook.tokens_file",
            ]
        );
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let base = "[spool]\ndir=\"/s\"\n[output.file]\ndir=\"/o\"\n[webhook]\n";
        let config = Config::from_toml(
            &format!("{base}trusted_proxies=[\"127.0.0.1\", \"10.0.0.0/8\", \"::1\"]\n"),
            Path::new("/"),
        )
        .unwrap();
        let proxies = config.webhook.unwrap().trusted_proxies;
        for (address, trusted) in [
            ("127.0.0.1", true),
            ("10.9.8.7", true),
            ("::1", true),
            ("127.0.0.2", false),
        ] {
            assert_eq!(
                proxies.contains(address.parse().unwrap()),
                trusted,
                "{address}"
            );
        }
        assert_eq!(
            errors_of(&format!(
                "{base}trusted_proxies=[\"nginx\", \"10.0.0.0/33\"]\n"
            )),
            ["webhook.trusted_proxies[0]", "webhook.trusted_proxies[1]"]
        );
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let keys = errors_of("[webhook]\nlisten_addr=\"x\"\n");
        assert_eq!(keys, ["webhook.listen_addr", "spool", "output"]);
    }

    #[test]
    fn sizes_and_durations_are_human_readable() {
        let config = Config::from_toml(
            "[webhook]\nmax_body_bytes=\"2MiB\"\nheader_timeout=\"1m\"\n[spool]\ndir=\"/s\"\nmax_bytes=\"10m\"\n[output.file]\ndir=\"/o\"\nmax_file_bytes=\"1KiB\"\n",
            Path::new("/"),
        )
        .unwrap();
        let webhook = config.webhook.unwrap();
        assert_eq!(webhook.max_body_bytes, 2 * 1024 * 1024);
        assert_eq!(webhook.header_timeout, Duration::from_secs(60));
        assert_eq!(config.spool.max_bytes, 10 * 1024 * 1024);
        assert_eq!(config.file_output.unwrap().max_file_bytes, 1024);
    }
}
