//! `auth0-ingest setup`: installs the index templates for the data stream
//! (idempotent, reporting what changed), or prints the requests with
//! `--dry-run`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use auth0_ingest::config::sections;
use auth0_ingest::outputs::elasticsearch::{self, setup};

use super::exit;

/// Reads `[output.elasticsearch]` from `config` and installs (or prints).
pub fn run(config: &Path, dry_run: bool) -> ExitCode {
    match sections::setup(config) {
        Ok(es_config) => install(es_config, dry_run),
        Err(error) => exit::config_error(&error),
    }
}

fn install(es_config: elasticsearch::Config, dry_run: bool) -> ExitCode {
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
    let installed = exit::current_thread().and_then(|runtime| {
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
