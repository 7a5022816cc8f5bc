//! `auth0-ingest convert`, the command: the config's `[enrich]` (and
//! `[filter]`, `[pii]`) with the command line's overrides, then
//! [`auth0_ingest::convert::run`] from files or stdin to stdout, and the
//! exit code: 66 when an input file could not be read, else 1 when some
//! items were skipped, else 0.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use auth0_ingest::config::sections;
use auth0_ingest::convert::Summary;
use auth0_ingest::pipeline::{self, enrich, Pipeline};
use auth0_ingest::{convert, enrichment};

use super::exit;

/// The command line of `convert`.
#[derive(Debug, clap::Args)]
pub struct Args {
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
}

/// Converts the inputs `args` names.
pub fn run(args: Args) -> ExitCode {
    let pipeline = match pipeline_of(&args) {
        Ok(pipeline) => pipeline,
        Err(code) => return code,
    };
    let converted = convert::run(
        &pipeline,
        &args.files,
        &mut std::io::stdin().lock(),
        &mut std::io::BufWriter::new(std::io::stdout().lock()),
        &mut std::io::stderr(),
    );
    match converted {
        Ok(summary) => report(&summary),
        Err(error) if error.is_broken_pipe() => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {:#}", anyhow::Error::from(error));
            ExitCode::FAILURE
        }
    }
}

/// The pipeline the config file and the overrides describe, or the exit
/// code of a bad config or command-line value.
fn pipeline_of(args: &Args) -> Result<Pipeline, ExitCode> {
    let loaded = args
        .config
        .as_deref()
        .map(sections::convert)
        .transpose()
        .map_err(|error| exit::config_error(&error))?;
    let (pipeline_config, mut enrich_config) =
        loaded.unwrap_or_else(|| (pipeline::Config::defaults(), enrich::Config::defaults()));
    let database = |path: &OsString| (!path.is_empty()).then(|| PathBuf::from(path));
    if let Some(path) = &args.geoip_city {
        enrich_config.geoip_city = database(path);
    }
    if let Some(path) = &args.geoip_asn {
        enrich_config.geoip_asn = database(path);
    }
    if let Some(path) = &args.uap_regexes {
        enrich_config.uap_regexes = path.clone();
    }
    if let Some(name) = &args.user_agent {
        match enrich::ua::Mode::from_name(name) {
            Some(mode) => enrich_config.user_agent = mode,
            None => {
                eprintln!("error: unknown --user-agent `{name}`; use uap, woothee or off");
                return Err(ExitCode::from(exit::USAGE));
            }
        }
    }
    let loaded = enrichment::load(&enrich_config);
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(Pipeline::new(pipeline_config, loaded.enrichers))
}

/// The exit code of a finished conversion, with its counts on stderr when
/// something was skipped or unreadable.
fn report(summary: &Summary) -> ExitCode {
    if summary.rejected == 0 && summary.unreadable == 0 {
        return ExitCode::SUCCESS;
    }
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
        ExitCode::from(exit::NO_INPUT)
    } else {
        ExitCode::FAILURE
    }
}
