//! Telemetry: the `tracing` subscriber and the agent's metrics.
//!
//! **Invariant:** no event payload, token or `Authorization` header is
//! logged above `trace`.

pub mod errors;
pub mod health;
pub mod metrics;
pub mod throttle;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable lines (no timestamps under journald, which adds its own).
    Text,
    /// One JSON object per line.
    Json,
}

/// `[log]`, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The format; `None` picks text under systemd or a terminal, else JSON.
    pub format: Option<Format>,
    /// The `tracing` filter: `RUST_LOG` when set, else `[log] level`
    /// (validated by `config`, which reads the environment).
    pub level: String,
}

/// Installs the global subscriber. Call once, from `main`.
pub fn init(config: &Config) {
    let filter = EnvFilter::try_new(&config.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let format = config
        .format
        .unwrap_or(if journald || std::io::stderr().is_terminal() {
            Format::Text
        } else {
            Format::Json
        });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match (format, journald) {
        (Format::Json, _) => builder.json().init(),
        (Format::Text, true) => builder.without_time().with_ansi(false).init(),
        (Format::Text, false) => builder.init(),
    }
}
