//! SIGHUP: re-reads the config file and swaps in, without dropping a
//! connection or an event, the material that expires or rotates:
//!
//! - the webhook's TLS certificate and key (presented from the next
//!   handshake on; established connections keep theirs),
//! - the webhook's tokens (`tokens` and `tokens_file`),
//! - the admin listener's tokens,
//! - the GeoIP databases (and the uap-core regexes, read with them): the
//!   read side maps the next batch with the new ones.
//!
//! The new file is validated as a whole first: anything wrong (a broken
//! certificate, a key that does not match, an unreadable tokens file, a
//! GeoIP database that no longer opens) keeps all the running material, is
//! logged at `error`, recorded in `/status` errors and counted in
//! `auth0_ingest_reloads_total{result="failure"}`. Other changed settings
//! take effect only after a restart, and the log says so.
//!
//! A reload that can rotate no token says so at `warn`: tokens read from
//! systemd's `$CREDENTIALS_DIRECTORY` (a copy made at start, blind to edits
//! of its source), and a tokens file that changed on disk while its tokens
//! did not (an edit that rotated nothing).
//!
//! systemd is told `RELOADING=1` before and `READY=1` after.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::admin;
use crate::config::tokens::TokensFile;
use crate::config::Config;
use crate::enrichment;
use crate::inputs::webhook;
use crate::pipeline::{self, Pipeline};
use crate::secret::Secret;
use crate::telemetry::metrics::Metrics;

/// Reads the configuration anew (the file the agent was started with).
pub type Source = Arc<dyn Fn() -> Result<Config, String> + Send + Sync>;

/// Applies reloads; one per agent.
pub struct Reloader {
    source: Option<Source>,
    webhook: Option<Arc<webhook::Reloadable>>,
    admin: Arc<admin::State>,
    pipeline: Option<watch::Sender<Pipeline>>,
    pipeline_config: pipeline::Config,
    /// The running enrichment's warnings: the same ones again are no reason
    /// to refuse a reload (a database that was already missing at start).
    enrich_warnings: Mutex<Vec<String>>,
    /// The settings that need a restart, as running.
    fingerprint: String,
    /// The tokens files as last read.
    tokens_files: Mutex<Vec<TokensFile>>,
    /// One reload at a time.
    running: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Reloader")
            .field("source", &self.source.is_some())
            .finish_non_exhaustive()
    }
}

impl Reloader {
    /// A reloader for the agent running `config`; `pipeline` feeds the read
    /// side, `enrich_warnings` are those of the start-up load.
    pub fn new(
        config: &Config,
        admin: Arc<admin::State>,
        pipeline: watch::Sender<Pipeline>,
        enrich_warnings: Vec<String>,
    ) -> Reloader {
        Reloader {
            source: None,
            webhook: config
                .webhook
                .as_ref()
                .map(|webhook| Arc::clone(&webhook.reloadable)),
            admin,
            pipeline: Some(pipeline),
            pipeline_config: config.pipeline.clone(),
            enrich_warnings: Mutex::new(enrich_warnings),
            fingerprint: fingerprint(config),
            tokens_files: Mutex::new(config.tokens_files.clone()),
            running: tokio::sync::Mutex::new(()),
        }
    }

    /// Where the new configuration comes from.
    pub fn set_source(&mut self, source: Source) {
        self.source = Some(source);
    }

    /// Reloads (see the module docs); returns whether it took effect.
    pub async fn reload(&self) -> bool {
        let _one = self.running.lock().await;
        crate::systemd::notify("RELOADING=1");
        tracing::info!("SIGHUP: reloading TLS material, tokens and GeoIP databases");
        let metrics: &Metrics = &self.admin.metrics;
        let done = match self.try_reload().await {
            Ok(()) => {
                Metrics::add(&metrics.reloads_ok, 1);
                tracing::info!("reload done");
                true
            }
            Err(message) => {
                Metrics::add(&metrics.reloads_failed, 1);
                tracing::error!(error = %message, "reload failed; the running material is kept");
                metrics.health.record_error("reload", &message);
                false
            }
        };
        crate::systemd::notify("READY=1");
        done
    }

    async fn try_reload(&self) -> Result<(), String> {
        let Some(source) = &self.source else {
            return Err("this agent has no config file to reload from".to_owned());
        };
        let source = Arc::clone(source);
        let config = tokio::task::spawn_blocking(move || source())
            .await
            .map_err(|error| format!("reading the config file failed: {error}"))??;
        let enrich_config = config.enrich.clone();
        let loaded = tokio::task::spawn_blocking(move || enrichment::load(&enrich_config))
            .await
            .map_err(|error| format!("loading the enrichment databases failed: {error}"))?;
        {
            let running = self
                .enrich_warnings
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            let new: Vec<&String> = loaded
                .warnings
                .iter()
                .filter(|warning| !running.contains(warning))
                .collect();
            if !new.is_empty() {
                let joined: Vec<&str> = new.iter().map(|warning| warning.as_str()).collect();
                return Err(joined.join("; "));
            }
        }
        // Everything is valid: swap.
        let mut unchanged = vec![(
            "admin.tokens_file",
            same(&self.admin.tokens.get(), &config.admin.tokens),
        )];
        if let (Some(running), Some(new)) = (&self.webhook, &config.webhook) {
            unchanged.push((
                "webhook.tokens_file",
                same(&running.tokens.get(), &new.reloadable.tokens.get()),
            ));
        }
        self.warn_about_tokens_files(&config.tokens_files, &unchanged);
        match (&self.webhook, &config.webhook) {
            (Some(running), Some(new)) => {
                running.tokens.set(new.reloadable.tokens.get().to_vec());
                match (&running.certificate, &new.reloadable.certificate) {
                    (Some(slot), Some(new_slot)) => slot.set(new_slot.get()),
                    (None, None) => {}
                    _ => tracing::warn!("turning the webhook's TLS on or off needs a restart"),
                }
            }
            (None, None) => {}
            _ => tracing::warn!("adding or removing the webhook needs a restart"),
        }
        self.admin.tokens.set(config.admin.tokens.clone());
        if let Some(pipeline) = &self.pipeline {
            let warnings = loaded.warnings.clone();
            pipeline.send_replace(Pipeline::new(
                self.pipeline_config.clone(),
                loaded.enrichers,
            ));
            *self
                .enrich_warnings
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()) = warnings;
        }
        if fingerprint(&config) != self.fingerprint {
            tracing::warn!(
                "the config file changed settings other than TLS material, tokens and GeoIP databases; those take effect at the next restart"
            );
        }
        Ok(())
    }
}

impl Reloader {
    /// Warns about the tokens files of a reload that cannot rotate (see the
    /// module docs); `unchanged` says per key whether its tokens stayed
    /// the same.
    fn warn_about_tokens_files(&self, new: &[TokensFile], unchanged: &[(&str, bool)]) {
        let mut running = self
            .tokens_files
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        for file in new {
            if file.credential {
                tracing::warn!(
                    key = %file.key,
                    path = %file.path.display(),
                    "the tokens were read from $CREDENTIALS_DIRECTORY, a copy systemd made at start: a reload cannot see edits to its source; point the key at the file itself (e.g. /etc/auth0-ingest/webhook-tokens) and drop its LoadCredential= line, or restart"
                );
            }
            let same_tokens = unchanged
                .iter()
                .any(|(key, same)| *key == file.key && *same);
            if same_tokens && running.iter().any(|old| old.edited_since(file)) {
                tracing::warn!(
                    key = %file.key,
                    path = %file.path.display(),
                    "the tokens file changed on disk but its tokens did not: this reload rotated nothing (comments, blank lines and surrounding whitespace are ignored)"
                );
            }
        }
        *running = new.to_vec();
    }
}

/// Whether two token lists hold the same values in the same order.
fn same(old: &[Secret<String>], new: &[Secret<String>]) -> bool {
    old.len() == new.len()
        && old
            .iter()
            .zip(new)
            .all(|(old, new)| old.expose() == new.expose())
}

/// The settings a reload does not apply, in comparable form (secrets are
/// redacted by their `Debug`).
fn fingerprint(config: &Config) -> String {
    let webhook = config.webhook.as_ref().map(|webhook| {
        (
            webhook.listen,
            &webhook.path,
            webhook.max_body_bytes,
            webhook.max_connections,
            webhook.header_timeout,
            webhook.body_timeout,
            webhook.retry_after,
            webhook.edge,
            &webhook.trusted_proxies,
            webhook.tls.is_some(),
        )
    });
    format!(
        "{webhook:?}{:?}{:?}{:?}{:?}{:?}{:?}{:?}{:?}{:?}{:?}",
        config.poller,
        config.spool,
        config.file_output,
        config.elasticsearch,
        config.datadog,
        config.pipeline,
        (config.enrich.user_agent, &config.enrich.uap_regexes),
        config.telemetry,
        config.admin.listen,
        config.admin.failing_after,
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::admin::DeadLetterCount;
    use crate::inputs::webhook::auth::Tokens;
    use crate::pipeline::enrich::geo::tests::city_database;
    use crate::spool;

    fn text(token: &str) -> String {
        format!(
            "[webhook]\nlisten = \"127.0.0.1:0\"\ntokens = [\"{token}\"]\n[spool]\ndir = \"spool\"\n\
             [output.file]\ndir = \"out\"\n[enrich]\ngeoip_city = \"city.mmdb\"\ngeoip_asn = \"\"\nuser_agent = \"off\"\n"
        )
    }

    #[test]
    fn settings_a_reload_does_not_apply_change_the_fingerprint() {
        let base = std::path::Path::new("/");
        let fingerprint_of = |extra: &str| {
            let text = format!("{}{extra}", text("a-token-of-16-chars"));
            fingerprint(&Config::from_toml(&text, base).unwrap())
        };
        let plain = fingerprint_of("");
        // Tokens are reloaded: not part of it.
        assert_eq!(
            fingerprint(&Config::from_toml(&text("another-token-16-chars"), base).unwrap()),
            plain
        );
        // These need a restart: each must be noticed (and said in the log).
        for extra in [
            "[output.datadog]\nurl = \"http://127.0.0.1:9\"\napi_key = \"0123456789abcdef\"\n",
            "[output.elasticsearch]\nhosts = [\"http://127.0.0.1:9\"]\n",
        ] {
            assert_ne!(fingerprint_of(extra), plain, "{extra}");
        }
        let webhook = |key: &str| {
            let text = text("a-token-of-16-chars").replacen(
                "[webhook]\n",
                &format!("[webhook]\n{key}\n"),
                1,
            );
            fingerprint(&Config::from_toml(&text, base).unwrap())
        };
        for key in [
            "idle_timeout = \"5s\"",
            "max_inflight_bytes = \"512MiB\"",
            "trusted_proxies = [\"127.0.0.1\"]",
        ] {
            assert_ne!(webhook(key), plain, "{key}");
        }
    }

    #[tokio::test]
    async fn geoip_databases_and_tokens_are_swapped_and_a_broken_database_keeps_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().to_owned();
        let config = Config::from_toml(&text("old"), &base).unwrap();
        let spool = spool::open(&config.spool).unwrap();
        let metrics = Arc::new(Metrics::default());
        let admin = Arc::new(admin::State {
            metrics: Arc::clone(&metrics),
            spool: spool.stats.clone(),
            dead_letters: DeadLetterCount::new(spool.dead_letters.path().to_owned()),
            tokens: Tokens::new(Vec::new()),
            failing_after: Duration::from_secs(300),
            max_body_bytes: 1024,
            started_at: time::OffsetDateTime::now_utc(),
            config_source: None,
        });
        // No database yet: geo lookups are off, with a warning.
        let loaded = enrichment::load(&config.enrich);
        assert_eq!(loaded.warnings.len(), 1);
        let pipeline = Pipeline::new(config.pipeline.clone(), loaded.enrichers);
        let (sender, mut updates) = watch::channel(pipeline);
        let mut reloader = Reloader::new(&config, Arc::clone(&admin), sender, loaded.warnings);
        let webhook = Arc::clone(&config.webhook.as_ref().unwrap().reloadable);
        let source_base = base.clone();
        reloader.set_source(Arc::new(move || {
            Config::from_toml(&text("new"), &source_base).map_err(|error| error.to_string())
        }));

        std::fs::write(base.join("city.mmdb"), city_database()).unwrap();
        assert!(reloader.reload().await);
        assert!(updates.has_changed().unwrap());
        let address = "203.0.113.9".parse().unwrap();
        let rendered = updates.borrow_and_update().enrichers().geo.lookup(address);
        assert_ne!(*rendered, Default::default(), "the new database is used");
        let tokens = webhook.tokens.get();
        assert_eq!(tokens.len(), 1);
        assert_eq!(tokens[0].expose(), "new");

        std::fs::write(base.join("city.mmdb"), b"not a database").unwrap();
        assert!(!reloader.reload().await);
        assert!(
            !updates.has_changed().unwrap(),
            "the running pipeline is kept"
        );
        assert_eq!(
            metrics
                .reloads_ok
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        assert_eq!(
            metrics
                .reloads_failed
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        let errors = metrics.health.snapshot().errors;
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].component, "reload");
        assert!(
            errors[0].message.contains("city.mmdb"),
            "{}",
            errors[0].message
        );
    }
}
