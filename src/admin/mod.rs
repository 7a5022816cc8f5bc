//! The admin listener: what an operator (or Prometheus, or systemd) asks
//! the running agent. Plain HTTP, on loopback by default
//! (`admin.listen = "127.0.0.1:8384"`; `""` turns it off), for every
//! configuration (a poller-only agent too).
//!
//! - `GET /healthz`: liveness, `200 ok` while the process serves.
//! - `GET /readyz`: `200` only when the spool takes writes and is below
//!   90 % of `spool.max_bytes`, else `503` with the reason.
//! - `GET /metrics`: Prometheus text format 0.0.4 ([`crate::telemetry::metrics`]).
//! - `GET /status`: the Health view as JSON ([`status`]).
//! - `POST /replay`: a body the webhook accepts, spooled with the webhook's
//!   durability contract (`200` only once durable) ([`replay`]).
//!
//! With `admin.tokens` / `admin.tokens_file` set, `/metrics`, `/status` and
//! `/replay` need a matching `Authorization` header (checked like the
//! webhook's, [`crate::inputs::webhook::auth`]); the probes stay open. A
//! non-loopback address without tokens is a config error. The tokens are
//! re-read on SIGHUP.
//!
//! Layout: [`server`] (accept loop and routing), [`status`] (the JSON and
//! the ok/degraded/failing rules), [`replay`] (`POST /replay`), [`cli_client`]
//! (the `status` and `replay` commands' side).

pub mod cli_client;
mod format;
pub mod replay;
mod response;
mod server;
pub mod status;
pub mod ticker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::inputs::webhook::auth::Tokens;
use crate::secret::Secret;
use crate::spool;
use crate::telemetry::metrics::Metrics;

pub use server::{bind, serve};

/// Loopback: the admin endpoints are for the host's operator and scraper.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8384";
/// The rule: an output with work that has not succeeded for five
/// minutes is `failing`.
pub const DEFAULT_FAILING_AFTER: Duration = Duration::from_secs(300);
/// Spool fill (of `max_bytes`) from which `/readyz` fails and `/status` is
/// `failing`.
pub const FULL_FRACTION: f64 = 0.9;
/// Connections served at once; more wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 32;
/// Time a client gets to send the request head, and the body of a replay.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// `[admin]`, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen; `None` turns the listener off.
    pub listen: Option<SocketAddr>,
    /// Accepted `Authorization` values; empty means open (loopback only).
    pub tokens: Vec<Secret<String>>,
    /// When an output that keeps failing turns `/status` to `failing`.
    pub failing_after: Duration,
}

/// What the admin endpoints read.
#[derive(Debug)]
pub struct State {
    /// Counters, histograms and health.
    pub metrics: Arc<Metrics>,
    /// The spool's backlog.
    pub spool: spool::Stats,
    /// The dead-letter file.
    pub dead_letters: status::DeadLetterCount,
    /// The admin tokens.
    pub tokens: Tokens,
    /// `admin.failing_after`.
    pub failing_after: Duration,
    /// Largest replay body (the webhook's `max_body_bytes`, or its default).
    pub max_body_bytes: usize,
    /// When the agent started.
    pub started_at: OffsetDateTime,
    /// The config file it runs from; `None` for the embedded default.
    pub config_source: Option<std::path::PathBuf>,
}
