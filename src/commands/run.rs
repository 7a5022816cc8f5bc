//! `auth0-ingest run`: the service. Loads the config file (or prepares the
//! embedded default and logs its banner), starts telemetry and the
//! runtime, runs [`App`] until SIGTERM/SIGINT with SIGHUP reloading from
//! the same source, and maps a failure to its exit code (75 when another
//! agent holds the spool).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use auth0_ingest::app::App;
use auth0_ingest::config::embedded::{self, Embedded};
use auth0_ingest::config::Config;
use auth0_ingest::{reload, shutdown, spool, telemetry};

use super::exit;

/// Runs the agent from `config`, or the embedded default without one.
pub fn run(config: Option<PathBuf>) -> ExitCode {
    match config {
        Some(path) => match Config::load(&path) {
            Ok(config) => {
                let source: reload::Source =
                    Arc::new(move || Config::load(&path).map_err(|error| error.to_string()));
                serve(config, None, source)
            }
            Err(error) => exit::config_error(&error),
        },
        None => match embedded::prepare(Path::new(embedded::DATA_DIR)) {
            Ok(embedded) => {
                let banner = Banner::of(&embedded);
                let source: reload::Source = Arc::new(|| {
                    embedded::prepare(Path::new(embedded::DATA_DIR))
                        .map(|embedded| embedded.config)
                        .map_err(|error| format!("{:#}", anyhow::Error::from(error)))
                });
                serve(embedded.config, Some(banner), source)
            }
            Err(error) => {
                eprintln!("error: {:#}", anyhow::Error::from(error));
                ExitCode::FAILURE
            }
        },
    }
}

fn serve(config: Config, banner: Option<Banner>, source: reload::Source) -> ExitCode {
    telemetry::init(&config.telemetry);
    for warning in &config.warnings {
        tracing::warn!(key = %warning.key, "{}", warning.message);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("auth0-ingest")
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result: anyhow::Result<()> = runtime.block_on(async move {
        let mut app = App::start(config).await.context("starting")?;
        app.reload_from(source);
        if let Some(banner) = banner {
            banner.log();
        }
        app.run_until(shutdown::signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "agent failed");
            eprintln!("error: {error:#}");
            let locked = error
                .chain()
                .any(|cause| matches!(cause.downcast_ref(), Some(spool::Error::Locked { .. })));
            let unreadable = error.chain().any(|cause| {
                cause
                    .downcast_ref::<spool::Error>()
                    .is_some_and(spool::Error::is_unreadable_data)
            });
            let cannot_create = error.chain().any(|cause| {
                cause
                    .downcast_ref::<spool::Error>()
                    .is_some_and(spool::Error::is_cannot_create)
            });
            if locked {
                ExitCode::from(exit::TEMPFAIL)
            } else if cannot_create {
                ExitCode::from(exit::CANTCREAT)
            } else if unreadable {
                ExitCode::from(exit::DATAERR)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// What the embedded default tells a newcomer, logged in the log format
/// (the token itself stays in its file: secrets are never logged).
struct Banner {
    webhook: String,
    admin: String,
    token_file: String,
    certificate: String,
    documents: String,
}

impl Banner {
    fn of(embedded: &Embedded) -> Banner {
        let webhook = embedded
            .config
            .webhook
            .as_ref()
            .map_or_else(String::new, |webhook| {
                format!("https://{}{}", webhook.listen, webhook.path)
            });
        let documents = embedded
            .config
            .file_output
            .as_ref()
            .map_or_else(String::new, |file| {
                format!("{}/*.ndjson", file.dir.display())
            });
        let admin = embedded
            .config
            .admin
            .listen
            .map_or_else(|| "off".to_owned(), |addr| format!("http://{addr}/status"));
        Banner {
            webhook,
            admin,
            token_file: embedded.data_dir.join("token").display().to_string(),
            certificate: embedded.certificate.display().to_string(),
            documents,
        }
    }

    fn log(&self) {
        let Banner {
            webhook,
            admin,
            token_file,
            certificate,
            documents,
        } = self;
        tracing::info!(
            %webhook, %admin, %token_file, %certificate, %documents,
            "embedded default running: send the token file's line as the Authorization header; the certificate is self-signed, for local tests"
        );
        tracing::info!(
            "try: curl --cacert {certificate} -H \"Authorization: $(cat {token_file})\" --data-binary @packaging/sample-batch.jsonl {webhook}"
        );
    }
}
