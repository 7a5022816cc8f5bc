//! `auth0-ingest status`: asks the running agent's admin listener for its
//! health and prints a summary (or the JSON). Exits 0 ok, 1 degraded,
//! 2 failing, 3 unreachable.

use std::path::Path;
use std::process::ExitCode;

use auth0_ingest::admin::cli_client;
use auth0_ingest::config::admin as admin_config;

use super::exit;

/// Asks the agent `config`'s `[admin]` names (else the default address).
pub fn run(config: Option<&Path>, json: bool) -> ExitCode {
    let admin_config = match config.map(admin_config::from_file).transpose() {
        Ok(Some(admin_config)) => admin_config,
        Ok(None) => admin_config::defaults(),
        Err(error) => return exit::config_error(&error),
    };
    let asked = cli_client::Target::new(&admin_config)
        .map(|target| exit::current_thread().map(|runtime| runtime.block_on(target.status())));
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
                    cli_client::summary(&status, time::OffsetDateTime::now_utc())
                );
            }
            ExitCode::from(cli_client::exit_code(&status))
        }
        Ok(Ok(Err(error))) | Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(cli_client::EXIT_UNREACHABLE)
        }
        Ok(Err(error)) => {
            eprintln!("error: {error:#}");
            ExitCode::from(cli_client::EXIT_UNREACHABLE)
        }
    }
}
