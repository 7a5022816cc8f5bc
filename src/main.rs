//! The `auth0-ingest` binary: parses the command line, loads the config,
//! starts telemetry and the runtime, runs, and maps errors to exit codes.
//! No logic lives here.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use auth0_ingest::app::App;
use auth0_ingest::config::embedded::{self, Embedded};
use auth0_ingest::config::{Config, LoadError};
use auth0_ingest::outputs::elasticsearch::setup;
use auth0_ingest::pipeline::{self, enrich, Pipeline};
use auth0_ingest::{convert, enrichment, shutdown, spool, telemetry};
use clap::{Parser, Subcommand};

/// sysexits' `EX_CONFIG`: the unit sets `RestartPreventExitStatus=78`.
const EXIT_CONFIG: u8 = 78;
/// sysexits' `EX_USAGE`: a bad command-line value.
const EXIT_USAGE: u8 = 64;
/// sysexits' `EX_NOINPUT`: `convert` could not read an input file.
const EXIT_NO_INPUT: u8 = 66;
/// sysexits' `EX_TEMPFAIL`: another agent holds the spool directory.
const EXIT_TEMPFAIL: u8 = 75;

/// Gets Auth0 log events into Elasticsearch or NDJSON files as ECS documents.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent. Without --config, runs the embedded default: an HTTPS
    /// webhook on 127.0.0.1:8383 with a development certificate, writing
    /// NDJSON files under ./auth0-ingest-data.
    Run {
        /// The TOML config file.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Install the Elasticsearch component and index templates for the data
    /// stream (idempotent; reports what changed).
    Setup {
        /// The TOML config file (its [output.elasticsearch] section).
        #[arg(long, short)]
        config: PathBuf,
        /// Print the requests it would send instead of sending them.
        #[arg(long)]
        dry_run: bool,
    },
    /// Validate a config file and exit: 0 when valid, 78 listing every problem.
    CheckConfig {
        /// The TOML config file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Convert Auth0 events (files, or stdin; any body the webhook accepts)
    /// to ECS documents, one per line on stdout, in input order. No network.
    /// Exits 66 when an input file could not be read (the others are still
    /// converted), else 1 when some items were skipped, else 0; both are
    /// reported on stderr.
    Convert {
        /// Take `[enrich]` from this config file (else the defaults).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// GeoIP City database (overrides `enrich.geoip_city`; "" for none).
        #[arg(long)]
        geoip_city: Option<OsString>,
        /// GeoIP ASN database (overrides `enrich.geoip_asn`; "" for none).
        #[arg(long)]
        geoip_asn: Option<OsString>,
        /// uap-core regexes file (overrides `enrich.uap_regexes`).
        #[arg(long)]
        uap_regexes: Option<PathBuf>,
        /// `uap`, `woothee` or `off` (overrides `enrich.user_agent`).
        #[arg(long)]
        user_agent: Option<String>,
        /// Input files; `-` or none for stdin.
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { config } => match Config::load(&config) {
            Ok(_) => {
                println!("{}: ok", config.display());
                ExitCode::SUCCESS
            }
            Err(error) => config_error(&error),
        },
        Command::Setup { config, dry_run } => match Config::load(&config) {
            Ok(config) => setup(config, dry_run),
            Err(error) => config_error(&error),
        },
        Command::Convert {
            config,
            geoip_city,
            geoip_asn,
            uap_regexes,
            user_agent,
            files,
        } => {
            let loaded = match config.map(|path| Config::load(&path)).transpose() {
                Ok(loaded) => loaded,
                Err(error) => return config_error(&error),
            };
            let (pipeline_config, mut enrich_config) = match loaded {
                Some(config) => (config.pipeline, config.enrich),
                None => (pipeline::Config::defaults(), enrich::Config::defaults()),
            };
            let database = |path: OsString| (!path.is_empty()).then(|| PathBuf::from(path));
            if let Some(path) = geoip_city {
                enrich_config.geoip_city = database(path);
            }
            if let Some(path) = geoip_asn {
                enrich_config.geoip_asn = database(path);
            }
            if let Some(path) = uap_regexes {
                enrich_config.uap_regexes = path;
            }
            if let Some(name) = user_agent {
                match enrich::ua::Mode::from_name(&name) {
                    Some(mode) => enrich_config.user_agent = mode,
                    None => {
                        eprintln!("error: unknown --user-agent `{name}`; use uap, woothee or off");
                        return ExitCode::from(EXIT_USAGE);
                    }
                }
            }
            let loaded = enrichment::load(&enrich_config);
            for warning in &loaded.warnings {
                eprintln!("warning: {warning}");
            }
            let pipeline = Pipeline::new(pipeline_config, loaded.enrichers);
            match convert::run(
                &pipeline,
                &files,
                &mut std::io::stdin().lock(),
                &mut std::io::BufWriter::new(std::io::stdout().lock()),
                &mut std::io::stderr(),
            ) {
                Ok(summary) if summary.rejected == 0 && summary.unreadable == 0 => {
                    ExitCode::SUCCESS
                }
                Ok(summary) => {
                    eprintln!(
                        "{} converted, {} skipped, {} unreadable",
                        summary.converted, summary.rejected, summary.unreadable
                    );
                    if summary.unreadable > 0 {
                        ExitCode::from(EXIT_NO_INPUT)
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(error) if error.is_broken_pipe() => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("error: {:#}", anyhow::Error::from(error));
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run { config: Some(path) } => match Config::load(&path) {
            Ok(config) => run(config, None),
            Err(error) => config_error(&error),
        },
        Command::Run { config: None } => match embedded::prepare(Path::new(embedded::DATA_DIR)) {
            Ok(embedded) => {
                let banner = banner(&embedded);
                run(embedded.config, Some(banner))
            }
            Err(error) => {
                eprintln!("error: {:#}", anyhow::Error::from(error));
                ExitCode::FAILURE
            }
        },
    }
}

fn setup(config: Config, dry_run: bool) -> ExitCode {
    let Some(es_config) = config.elasticsearch else {
        eprintln!("error: the config has no [output.elasticsearch] section");
        return ExitCode::from(EXIT_CONFIG);
    };
    let templates = match setup::templates(&es_config.index) {
        Ok(templates) => templates,
        Err(error) => {
            eprintln!("error: {:#}", anyhow::Error::from(error));
            return ExitCode::FAILURE;
        }
    };
    if dry_run {
        print!("{}", setup::dry_run(&templates));
        return ExitCode::SUCCESS;
    }
    let installed = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .and_then(|runtime| {
            runtime
                .block_on(setup::install(&es_config))
                .context("installing the index templates")
        });
    match installed {
        Ok((cluster, changes)) => {
            println!("cluster `{}`, version {}", cluster.name, cluster.version);
            for (template, change) in changes {
                println!(
                    "{}: {}",
                    template.kind.path(&template.name),
                    change.as_str()
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn config_error(error: &LoadError) -> ExitCode {
    eprintln!("error: {error}");
    match error {
        LoadError::Read { .. } => ExitCode::FAILURE,
        LoadError::Parse { .. } | LoadError::Invalid { .. } => ExitCode::from(EXIT_CONFIG),
    }
}

/// What the embedded default tells a newcomer.
fn banner(embedded: &Embedded) -> String {
    let listen = embedded
        .config
        .webhook
        .as_ref()
        .map_or_else(String::new, |webhook| {
            format!("https://{}{}", webhook.listen, webhook.path)
        });
    let out = embedded
        .config
        .file_output
        .as_ref()
        .map_or_else(String::new, |file| file.dir.display().to_string());
    format!(
        "auth0-ingest embedded default\n  webhook:   {listen}\n  token:     {token}   (send as the Authorization header)\n  cert:      {cert}   (self-signed, for local tests)\n  documents: {out}/*.ndjson\n  try:       curl --cacert {cert} -H 'Authorization: {token}' --data-binary @packaging/sample-batch.jsonl {listen}\n",
        token = embedded.token,
        cert = embedded.certificate.display(),
    )
}

fn run(config: Config, banner: Option<String>) -> ExitCode {
    telemetry::init(&config.telemetry);
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
        let app = App::start(config).await.context("starting")?;
        if let Some(banner) = banner {
            eprint!("{banner}");
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
            if locked {
                ExitCode::from(EXIT_TEMPFAIL)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
