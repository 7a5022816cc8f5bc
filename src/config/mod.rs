//! Configuration: the TOML file ([`raw`]) turned into validated, typed
//! per-subsystem configs ([`Config`]).
//!
//! Two layers, as in ripgrep and linkerd: `raw` is the file format with serde
//! derives and `deny_unknown_fields`; [`Config::from_raw`] checks every key,
//! collects **all** problems (each naming its key) and only then fails, so an
//! operator fixes a config in one round. The validated `Config` has no
//! `Default`: every default is a named `DEFAULT_*` constant in its section's
//! module, chosen for a reason written next to it. Secrets are read from files here (with
//! systemd's `$CREDENTIALS_DIRECTORY` searched first) and wrapped in
//! [`Secret`], so they never reach `Debug` output.

pub mod admin;
pub mod check;
mod credentials;
pub mod embedded;
mod enrich;
mod filter;
mod hint;
mod kibana;
mod log;
pub mod output_datadog;
pub mod output_elasticsearch;
mod output_file;
mod output_tuning;
pub mod parse;
mod pii;
mod poller;
pub mod problems;
pub mod raw;
pub mod sections;
pub mod size;
pub mod spool;
mod stack_auth;
pub mod tokens;
mod trusted_proxies;
mod values;
pub mod webhook;
mod webhook_edge;
mod webhook_exposure;

use std::path::{Path, PathBuf};

use crate::inputs;
use crate::outputs::{datadog, elasticsearch, file};
use crate::{pipeline, telemetry};
use problems::{follows_from, load_error, read, Errors};
use raw::RawConfig;

pub use problems::{ConfigError, ConfigErrors, FromTomlError, LoadError};

/// The validated configuration of one agent.
#[derive(Debug)]
pub struct Config {
    /// The webhook input, when configured.
    pub webhook: Option<inputs::webhook::Config>,
    /// The API poller input, when configured.
    pub poller: Option<inputs::poller::Config>,
    /// The spool every input writes to.
    pub spool: crate::spool::Config,
    /// The NDJSON file output, when configured.
    pub file_output: Option<file::Config>,
    /// The Elasticsearch output, when configured.
    pub elasticsearch: Option<elasticsearch::Config>,
    /// The Datadog output, when configured.
    pub datadog: Option<datadog::Config>,
    /// Event → document settings.
    pub pipeline: pipeline::Config,
    /// Enrichment databases and modes (loaded by `crate::enrichment::load`).
    pub enrich: pipeline::enrich::Config,
    /// Logging settings.
    pub telemetry: telemetry::Config,
    /// Things that work but are likely mistakes (a short token): `run` logs
    /// them at `warn`, `check-config` prints them.
    pub warnings: Vec<ConfigError>,
    /// The admin listener (`/metrics`, `/status`, …).
    pub admin: crate::admin::Config,
    /// The tokens files read (webhook and admin), for reloads to compare.
    pub tokens_files: Vec<tokens::TokensFile>,
    /// The file it was read from, made absolute (`/status` names it);
    /// `None` when built from text (the embedded default).
    pub source: Option<PathBuf>,
}

impl Config {
    /// Reads, parses and validates a config file. Relative paths in it are
    /// taken relative to the file's directory.
    pub fn load(path: &Path) -> Result<Config, LoadError> {
        let text = read(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut config = Config::from_toml(&text, base).map_err(|error| load_error(path, error))?;
        config.source = Some(std::path::absolute(path).unwrap_or_else(|_| path.to_owned()));
        Ok(config)
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
            webhook::build(webhook, base, &mut errors, &mut warnings, &mut tokens_files)
        });
        if webhook.is_none() && raw.poller.is_none() {
            errors.push(
                "webhook",
                "no input configured: add a [webhook] or a [poller] section".to_owned(),
            );
        }
        let spool = spool::build(raw.spool, base, &mut errors);
        let poller = raw.poller.map(|poller| {
            let spool_dir = spool.as_ref().map(|spool| spool.dir.as_path());
            poller::build(poller, base, spool_dir, &mut errors)
        });
        let file_output = raw
            .output
            .file
            .map(|file| output_file::build(file, base, &mut errors));
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
        let (mut pipeline, enrich) = enrich::build(raw.enrich, base, &mut errors);
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
        let telemetry = log::build(raw.log, &mut errors);
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
                source: None,
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::spool::DEFAULT_SPOOL_MAX_BYTES;
    use super::webhook::{DEFAULT_LISTEN, DEFAULT_MAX_BODY_BYTES, DEFAULT_PATH};
    use super::*;
    use crate::pipeline::enrich;

    /// `text` as a valid config, relative paths under `/etc/a`.
    pub(super) fn config_of(text: &str) -> Config {
        Config::from_toml(text, Path::new("/etc/a")).unwrap()
    }

    /// The keys of every problem in `text` (or the parse error).
    pub(super) fn errors_of(text: &str) -> Vec<String> {
        match Config::from_toml(text, Path::new("/tmp")) {
            Ok(_) => Vec::new(),
            Err(FromTomlError::Invalid(errors)) => errors.0.into_iter().map(|e| e.key).collect(),
            Err(FromTomlError::Parse(message)) => vec![format!("parse: {message}")],
        }
    }

    /// What the refusal of the invalid config `text` says.
    pub(super) fn message_of(text: &str) -> String {
        let Err(FromTomlError::Invalid(errors)) = Config::from_toml(text, Path::new("/tmp")) else {
            panic!("the config is invalid");
        };
        errors.to_string()
    }

    #[test]
    fn minimal_config_is_valid_with_defaults() {
        let config = config_of(
            "[webhook]\ntokens=[\"t\"]\n[spool]\ndir=\"spool\"\n[output.file]\ndir=\"/o\"\n",
        );
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
        let base = "[webhook]\nallow_unauthenticated=true\n[spool]\ndir=\"/s\"\n[output.file]\ndir=\"/o\"\n";
        let config = config_of(
            &format!("{base}[enrich]\ngeoip_city=\"geo/city.mmdb\"\ngeoip_asn=\"\"\nuser_agent=\"woothee\"\ntags=[\"a\"]\npreserve_original_event=true\n"),
        );
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
            "[webhook]\nallow_unauthenticated=true\nlisten=\"nope\"\npath=\"x\"\nmax_body_bytes=0\nbody_timeout=\"soon\"\n\
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
        let base = "[spool]\ndir=\"/s\"\n[output.file]\ndir=\"/o\"\n[webhook]\nallow_unauthenticated=true\n";
        let config = config_of(&format!(
            "{base}trusted_proxies=[\"127.0.0.1\", \"10.0.0.0/8\", \"::1\"]\n"
        ));
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
        let keys = errors_of("[webhook]\nallow_unauthenticated=true\nlisten_addr=\"x\"\n");
        assert_eq!(keys, ["webhook.listen_addr", "spool", "output"]);
    }

    #[test]
    fn sizes_and_durations_are_human_readable() {
        let config = config_of(
            "[webhook]\nallow_unauthenticated=true\nmax_body_bytes=\"2MiB\"\nheader_timeout=\"1m\"\n[spool]\ndir=\"/s\"\nmax_bytes=\"10MiB\"\n[output.file]\ndir=\"/o\"\nmax_file_bytes=\"1KiB\"\n",
        );
        let webhook = config.webhook.unwrap();
        assert_eq!(webhook.max_body_bytes, 2 * 1024 * 1024);
        assert_eq!(webhook.header_timeout, Duration::from_secs(60));
        assert_eq!(config.spool.max_bytes, 10 * 1024 * 1024);
        assert_eq!(config.file_output.unwrap().max_file_bytes, 1024);
    }
}
