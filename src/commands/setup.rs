//! `auth0-ingest setup`: installs the index templates for the data stream
//! (idempotent, reporting what changed), then the Kibana assets when the
//! file has `[kibana]`; or prints the requests with `--dry-run`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use auth0_ingest::config::sections;
use auth0_ingest::outputs::elasticsearch::{self, setup};
use auth0_ingest::setup::{assets, kibana};

use super::exit;

/// Reads `[output.elasticsearch]` from `config` and installs (or prints).
pub fn run(config: &Path, dry_run: bool) -> ExitCode {
    match (sections::setup(config), sections::kibana(config)) {
        (Ok(es_config), Ok(kibana_config)) => {
            let code = install(&es_config, dry_run);
            match kibana_config {
                Some(kibana_config) if code == ExitCode::SUCCESS => {
                    install_kibana(&kibana_config, &es_config.namespace, dry_run)
                }
                _ => code,
            }
        }
        (Err(error), _) | (_, Err(error)) => exit::config_error(&error),
    }
}

fn install(es_config: &elasticsearch::Config, dry_run: bool) -> ExitCode {
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
            .block_on(setup::install(es_config))
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

/// Imports the Kibana assets (after the Elasticsearch templates); each
/// object Kibana refused is printed with its error type.
fn install_kibana(config: &kibana::Config, namespace: &str, dry_run: bool) -> ExitCode {
    let ndjson = match assets::ndjson(namespace) {
        Ok(ndjson) => ndjson,
        Err(error) => {
            eprintln!("error: {:#}", anyhow::Error::from(error));
            return ExitCode::FAILURE;
        }
    };
    if dry_run {
        print!("{}", kibana::dry_run(config, &ndjson));
        return ExitCode::SUCCESS;
    }
    let installed = exit::current_thread().and_then(|runtime| {
        runtime
            .block_on(kibana::install(config, &ndjson))
            .map_err(|error| {
                if let kibana::Error::ImportFailed { problems, .. } = &error {
                    for problem in problems {
                        eprintln!("error: {problem}");
                    }
                }
                anyhow::Error::from(error)
            })
            .context("installing the Kibana assets")
    });
    match installed {
        Ok(installed) => {
            println!(
                "Kibana {}, space `{}`: {} saved objects imported (dashboard \"Auth0 overview\")",
                installed.version, config.space, installed.imported
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
