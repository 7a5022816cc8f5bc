//! Exit codes (sysexits where one fits) and the one way every command
//! reports a configuration problem, so a bad config exits 78 everywhere.

use std::process::ExitCode;

use anyhow::Context;
use auth0_ingest::config::LoadError;

/// sysexits' `EX_CONFIG`: the unit sets `RestartPreventExitStatus=78`.
pub const CONFIG: u8 = 78;
/// sysexits' `EX_USAGE`: a bad command-line value.
pub const USAGE: u8 = 64;
/// sysexits' `EX_NOINPUT`: an input file could not be read.
pub const NO_INPUT: u8 = 66;
/// sysexits' `EX_TEMPFAIL`: another agent holds the spool directory.
pub const TEMPFAIL: u8 = 75;
/// sysexits' `EX_CANTCREAT`: the spool directory (or a file in it) cannot
/// be created or written; the unit sets `RestartPreventExitStatus=73`.
pub const CANTCREAT: u8 = 73;
/// sysexits' `EX_DATAERR`: the spool holds a segment of a format version
/// this agent does not read (left untouched).
pub const DATAERR: u8 = 65;

/// Every configuration problem, the unreadable file included, exits 78.
pub fn config_error(error: &LoadError) -> ExitCode {
    match error {
        LoadError::Read { source, .. } => eprintln!("error: {error}: {source}"),
        LoadError::Parse { .. } | LoadError::Invalid { .. } => eprintln!("error: {error}"),
    }
    ExitCode::from(CONFIG)
}

/// A single-threaded runtime for a command's few requests.
pub fn current_thread() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}
