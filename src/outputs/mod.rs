//! Outputs: where documents go. An output acknowledges a spool batch only
//! once each of its documents has a final outcome (written, indexed,
//! duplicate, or dead-lettered).

pub(crate) mod batch;
pub mod compression;
pub mod datadog;
pub mod elasticsearch;
pub mod file;
pub(crate) mod suspects;

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::delivery::Delivery;
use crate::spool::dead_letter::DeadLetters;
use crate::telemetry::metrics::Metrics;

/// What an HTTP output (Elasticsearch, Datadog) needs besides its config.
#[derive(Debug)]
pub struct Parts {
    /// Deliveries from the read side (with `originals` when the Datadog
    /// output has `format = "auth0"`); the output ends when it closes.
    pub deliveries: mpsc::Receiver<Delivery>,
    /// Where permanently refused documents go.
    pub dead_letters: Arc<DeadLetters>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Cancelled to abandon outstanding work at once (shutdown deadline).
    pub stop: CancellationToken,
}
