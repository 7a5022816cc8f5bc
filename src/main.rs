//! The `auth0-ingest` binary: parses the command line, loads the config,
//! starts telemetry and the runtime, runs, and maps errors to exit codes.
//! No logic lives here.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use std::sync::Arc;

use auth0_ingest::admin::client;
use auth0_ingest::app::App;
use auth0_ingest::config::admin as admin_config;
use auth0_ingest::config::embedded::{self, Embedded};
use auth0_ingest::config::{check, sections, Config, ConfigError, LoadError};
use auth0_ingest::outputs::elasticsearch::setup;
use auth0_ingest::pipeline::{self, enrich, Pipeline};
use auth0_ingest::{convert, enrichment, reload, shutdown, spool, telemetry};
use clap::{CommandFactory, Parser, Subcommand};

/// sysexits' `EX_CONFIG`: the unit sets `RestartPreventExitStatus=78`.
const EXIT_CONFIG: u8 = 78;
/// sysexits' `EX_USAGE`: a bad command-line value.
const EXIT_USAGE: u8 = 64;
/// sysexits' `EX_NOINPUT`: `convert` could not read an input file.
const EXIT_NO_INPUT: u8 = 66;
/// sysexits' `EX_TEMPFAIL`: another agent holds the spool directory.
const EXIT_TEMPFAIL: u8 = 75;

/// What `run --help` adds: where the reference config is, how to log more,
/// and what the exit status means (for systemd units and scripts).
const RUN_AFTER_HELP: &str = "\
Configuration:
  Every key, with its default and what it does, is in the example config:
  /etc/auth0-ingest/auth0-ingest.toml as installed by the Debian package
  (also in /usr/share/doc/auth0-ingest/examples/, and packaging/ in the
  source). `auth0-ingest check-config --config FILE` lists every problem.

Logging:
  [log] level in the file; the RUST_LOG environment variable overrides it
  (e.g. RUST_LOG=auth0_ingest=debug). Logs go to stderr: text under systemd
  or a terminal, JSON otherwise ([log] format).

Exit status:
  0   stopped by SIGTERM/SIGINT after draining
  1   failed at run time (see the log)
  78  configuration problem (missing or unreadable file included); the unit
      sets RestartPreventExitStatus=78, so systemd does not restart it";

/// Gets Auth0 log events into Elasticsearch or NDJSON files as ECS documents.
#[derive(Debug, Parser)]
#[command(name = "auth0-ingest", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent. Without --config, runs the embedded default: an HTTPS
    /// webhook on 127.0.0.1:8383 with a development certificate, writing
    /// NDJSON files under ./auth0-ingest-data.
    #[command(after_help = RUN_AFTER_HELP)]
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
    /// Validate a config file and exit: 0 when valid, 78 listing every
    /// problem. Also checks that the directories can be created and written
    /// by the current user and that the files it names are readable.
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
    /// Write the man pages and shell completions generated from these
    /// definitions into a directory (used to build the Debian package).
    #[command(hide = true)]
    GenerateAssets {
        /// Directory to write `auth0-ingest.1` (and `auth0-ingest-<command>.1`),
        /// `auth0-ingest.bash` and `_auth0-ingest` (zsh) into.
        #[arg(long)]
        out_dir: PathBuf,
    },
    /// Ask the running agent's admin listener for its health and print a
    /// short summary. Exits 0 ok, 1 degraded, 2 failing, 3 unreachable.
    Status {
        /// The agent's config file (its [admin] section); without it, the
        /// default 127.0.0.1:8384.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Print the /status JSON instead of the summary.
        #[arg(long)]
        json: bool,
    },
    /// Re-drive events after the cause of their failure is fixed: posts the
    /// lines of dead-letter files (their raw events) or any body the webhook
    /// accepts to the running agent (POST /replay on the admin listener).
    /// A replayed `dead-letter.ndjson` is moved aside to
    /// `dead-letter.ndjson.replayed-<time>`, never deleted. Exits 0 when
    /// every event was accepted, 1 when some were rejected again, 3 when
    /// the agent could not take them, 66 when a file could not be read.
    Replay {
        /// The agent's config file (its [admin] section).
        #[arg(long, short)]
        config: PathBuf,
        /// Dead-letter files or webhook bodies.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { config } => match Config::load(&config) {
            Ok(loaded) => check_config(&config, &loaded),
            Err(error) => config_error(&error),
        },
        Command::Setup { config, dry_run } => match sections::setup(&config) {
            Ok(config) => setup(config, dry_run),
            Err(error) => config_error(&error),
        },
        Command::GenerateAssets { out_dir } => match generate_assets(&out_dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        },
        Command::Convert {
            config,
            geoip_city,
            geoip_asn,
            uap_regexes,
            user_agent,
            files,
        } => {
            let loaded = match config.map(|path| sections::convert(&path)).transpose() {
                Ok(loaded) => loaded,
                Err(error) => return config_error(&error),
            };
            let (pipeline_config, mut enrich_config) = loaded
                .unwrap_or_else(|| (pipeline::Config::defaults(), enrich::Config::defaults()));
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
                    // `[filter]`'s count only when it left something out.
                    let filtered = if summary.filtered > 0 {
                        format!(", {} filtered", summary.filtered)
                    } else {
                        String::new()
                    };
                    eprintln!(
                        "{} converted, {} skipped, {} unreadable{filtered}",
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
        Command::Status { config, json } => status(config.as_deref(), json),
        Command::Replay { config, files } => replay(&config, &files),
        Command::Run { config: Some(path) } => match Config::load(&path) {
            Ok(config) => {
                let source: reload::Source =
                    Arc::new(move || Config::load(&path).map_err(|error| error.to_string()));
                run(config, None, source)
            }
            Err(error) => config_error(&error),
        },
        Command::Run { config: None } => match embedded::prepare(Path::new(embedded::DATA_DIR)) {
            Ok(embedded) => {
                let banner = Banner::of(&embedded);
                let source: reload::Source = Arc::new(|| {
                    embedded::prepare(Path::new(embedded::DATA_DIR))
                        .map(|embedded| embedded.config)
                        .map_err(|error| format!("{:#}", anyhow::Error::from(error)))
                });
                run(embedded.config, Some(banner), source)
            }
            Err(error) => {
                eprintln!("error: {:#}", anyhow::Error::from(error));
                ExitCode::FAILURE
            }
        },
    }
}

fn check_config(path: &Path, config: &Config) -> ExitCode {
    let report = check::environment(config);
    for warning in config.warnings.iter().chain(&report.warnings) {
        eprintln!("warning: `{}`: {}", warning.key, warning.message);
    }
    if report.errors.is_empty() {
        println!("{}: ok", path.display());
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "error: config file `{}` has {} problem(s) on this machine:",
        path.display(),
        report.errors.len()
    );
    for ConfigError { key, message } in &report.errors {
        eprintln!("  `{key}`: {message}");
    }
    ExitCode::from(EXIT_CONFIG)
}

/// The man page and bash/zsh completions, from the clap definitions.
fn generate_assets(out_dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out_dir)
        .with_context(|| format!("creating `{}`", out_dir.display()))?;
    // No `help` subcommand in the pages: auth0-ingest(1) would name an
    // auth0-ingest-help(1) that is not generated (nor worth installing).
    let command = Cli::command().disable_help_subcommand(true);
    // auth0-ingest(1) and one page per visible command, auth0-ingest-run(1)…
    let mut pages = vec![("auth0-ingest".to_owned(), command.clone())];
    for subcommand in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let name = format!("auth0-ingest-{}", subcommand.get_name());
        let bin_name = format!("auth0-ingest {}", subcommand.get_name());
        pages.push((
            name.clone(),
            subcommand.clone().display_name(name).bin_name(bin_name),
        ));
    }
    for (name, page_command) in pages {
        let mut page = Vec::new();
        clap_mangen::Man::new(page_command)
            .render(&mut page)
            .with_context(|| format!("rendering the man page {name}(1)"))?;
        let path = out_dir.join(format!("{name}.1"));
        std::fs::write(&path, page).with_context(|| format!("writing `{}`", path.display()))?;
    }
    for (shell, name) in [
        (clap_complete::Shell::Bash, "auth0-ingest.bash"),
        (clap_complete::Shell::Zsh, "_auth0-ingest"),
    ] {
        let path = out_dir.join(name);
        let mut file = std::fs::File::create(&path)
            .with_context(|| format!("writing `{}`", path.display()))?;
        clap_complete::generate(shell, &mut command.clone(), "auth0-ingest", &mut file);
    }
    Ok(())
}

fn setup(es_config: auth0_ingest::outputs::elasticsearch::Config, dry_run: bool) -> ExitCode {
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

/// Every configuration problem, the unreadable file included, exits 78.
fn config_error(error: &LoadError) -> ExitCode {
    match error {
        LoadError::Read { source, .. } => eprintln!("error: {error}: {source}"),
        LoadError::Parse { .. } | LoadError::Invalid { .. } => eprintln!("error: {error}"),
    }
    ExitCode::from(EXIT_CONFIG)
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

/// The `status` command.
fn status(config: Option<&Path>, json: bool) -> ExitCode {
    let admin_config = match config.map(admin_config::from_file).transpose() {
        Ok(Some(admin_config)) => admin_config,
        Ok(None) => admin_config::defaults(),
        Err(error) => return config_error(&error),
    };
    let asked = client::Target::new(&admin_config)
        .map(|target| current_thread().map(|runtime| runtime.block_on(target.status())));
    match asked {
        Ok(Ok(Ok(status))) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&status).unwrap_or_default()
                );
            } else {
                print!(
                    "{}",
                    client::summary(&status, time::OffsetDateTime::now_utc())
                );
            }
            ExitCode::from(client::exit_code(&status))
        }
        Ok(Ok(Err(error))) | Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(client::EXIT_UNREACHABLE)
        }
        Ok(Err(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::from(client::EXIT_UNREACHABLE)
        }
    }
}

/// The `replay` command.
fn replay(config: &Path, files: &[PathBuf]) -> ExitCode {
    let admin_config = match admin_config::from_file(config) {
        Ok(admin_config) => admin_config,
        Err(error) => return config_error(&error),
    };
    let target = match client::Target::new(&admin_config) {
        Ok(target) => target,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(client::EXIT_UNREACHABLE);
        }
    };
    let runtime = match current_thread() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let (mut rejected, mut unreadable) = (0, false);
    for file in files {
        match runtime.block_on(client::replay_file(&target, file)) {
            Ok(done) => {
                println!(
                    "{}: {} accepted, {} rejected{}",
                    file.display(),
                    done.replayed.accepted,
                    done.replayed.rejected,
                    done.moved_to.map_or(String::new(), |moved| format!(
                        "; moved to {}",
                        moved.display()
                    ))
                );
                rejected += done.replayed.rejected;
            }
            Err(client::ReplayError::File { path, source }) => {
                eprintln!("error: `{}`: {source}", path.display());
                unreadable = true;
            }
            Err(client::ReplayError::Client(error)) => {
                eprintln!("error: {}: {error}", file.display());
                return ExitCode::from(client::EXIT_UNREACHABLE);
            }
        }
    }
    if unreadable {
        ExitCode::from(EXIT_NO_INPUT)
    } else if rejected > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn current_thread() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn run(config: Config, banner: Option<Banner>, source: reload::Source) -> ExitCode {
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
            if locked {
                ExitCode::from(EXIT_TEMPFAIL)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
