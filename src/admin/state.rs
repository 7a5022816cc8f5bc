//! What the admin endpoints read (one [`State`], shared by the routes, the
//! replay handler and the ticker), and the listener's limits. A file of its
//! own so that the routes and the `/status` rules import it without
//! importing each other.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::dead_letters::DeadLetterCount;
use crate::inputs::webhook::auth::Tokens;
use crate::spool;
use crate::telemetry::metrics::Metrics;

/// Connections served at once; more wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 32;
/// Time a client gets to send the request head, and the body of a replay.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What the admin endpoints read.
#[derive(Debug)]
pub struct State {
    /// Counters, histograms and health.
    pub metrics: Arc<Metrics>,
    /// The spool's backlog.
    pub spool: spool::Stats,
    /// The dead-letter file.
    pub dead_letters: DeadLetterCount,
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
