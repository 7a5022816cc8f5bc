//! `auth0-ingest replay`: posts dead-letter files (or webhook bodies) to
//! the running agent's `POST /replay`. Exits 0 when every event was
//! accepted, 1 when some were rejected again, 3 when the agent could not
//! take them, 66 when a file could not be read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use auth0_ingest::admin::cli_client;
use auth0_ingest::config::admin as admin_config;

use super::exit;

/// Replays `files` to the agent `config`'s `[admin]` names.
pub fn run(config: &Path, files: &[PathBuf]) -> ExitCode {
    let admin_config = match admin_config::from_file(config) {
        Ok(admin_config) => admin_config,
        Err(error) => return exit::config_error(&error),
    };
    let target = match cli_client::Target::new(&admin_config) {
        Ok(target) => target,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(cli_client::EXIT_UNREACHABLE);
        }
    };
    let runtime = match exit::current_thread() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let (mut rejected, mut unreadable) = (0, false);
    for file in files {
        match runtime.block_on(cli_client::replay_file(&target, file)) {
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
            Err(cli_client::ReplayError::File { path, source }) => {
                eprintln!("error: `{}`: {source}", path.display());
                unreadable = true;
            }
            Err(cli_client::ReplayError::Client(error)) => {
                eprintln!("error: {}: {error}", file.display());
                return ExitCode::from(cli_client::EXIT_UNREACHABLE);
            }
        }
    }
    if unreadable {
        ExitCode::from(exit::NO_INPUT)
    } else if rejected > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
