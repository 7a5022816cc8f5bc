//! The `auth0-ingest` binary: parses the command line and dispatches to
//! the command's module under `commands/`, which loads the config it
//! needs, runs, and maps the outcome to an exit code. No logic lives here.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

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
  65  the spool holds a segment of a format version this agent does not
      read (written by a newer agent); the file is left untouched
  73  the spool directory (or a file in it) cannot be created or written
      (permissions, a read-only file system); the unit sets
      RestartPreventExitStatus=73
  75  another agent holds the spool directory
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
    /// stream (idempotent; reports what changed), then, when the file has a
    /// [kibana] section, the Kibana data view, saved searches and dashboard.
    /// Exits 0 when everything is installed, 1 on any failure.
    Setup {
        /// The TOML config file (its [output.elasticsearch] and [kibana] sections).
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
    Convert(commands::convert::Args),
    /// Print assets to install by hand.
    Assets {
        #[command(subcommand)]
        asset: commands::assets::Asset,
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
    match Cli::parse().command {
        Command::CheckConfig { config } => commands::check_config::run(&config),
        Command::Setup { config, dry_run } => commands::setup::run(&config, dry_run),
        Command::GenerateAssets { out_dir } => {
            commands::generate_assets::run(Cli::command(), &out_dir)
        }
        Command::Assets { asset } => commands::assets::run(asset),
        Command::Convert(args) => commands::convert::run(args),
        Command::Status { config, json } => commands::status::run(config.as_deref(), json),
        Command::Replay { config, files } => commands::replay::run(&config, &files),
        Command::Run { config } => commands::run::run(config),
    }
}
