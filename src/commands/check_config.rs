//! `auth0-ingest check-config`: the file's problems, then the machine's
//! (directories writable, files readable); 0 when none, else 78.

use std::path::Path;
use std::process::ExitCode;

use auth0_ingest::config::{check, sections, Config, ConfigError};

use super::exit;

/// Loads and checks the config file at `path`.
pub fn run(path: &Path) -> ExitCode {
    // [kibana] is only used by `setup`, but checked here too.
    match (Config::load(path), sections::kibana(path)) {
        (Ok(config), Ok(_)) => check_environment(path, &config),
        (Err(error), _) | (_, Err(error)) => exit::config_error(&error),
    }
}

fn check_environment(path: &Path, config: &Config) -> ExitCode {
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
    ExitCode::from(exit::CONFIG)
}
