//! Outputs: where documents go. An output acknowledges a spool batch only
//! once each of its documents has a final outcome (written, indexed,
//! duplicate, or dead-lettered).
//!
//! One folder (or file) per output; what the HTTP outputs share lives
//! here, in files named for it: [`batch`] (deliveries into batches,
//! requests in flight, outcomes), [`retry`] (the one retry loop, which an
//! output joins by implementing [`retry::Endpoint`]), [`suspects`]
//! (whole-request `400`s), [`probe`] (the start-up and idle check that
//! feeds an output's health), [`dead_letters`] (refused documents, fsynced
//! before a delivery finishes), [`tuning`] (the batch, in-flight, timeout
//! and retry settings every HTTP output has) and [`compression`]. The backoff schedule
//! is the leaf [`crate::backoff`], shared with the poller.

pub(crate) mod batch;
pub mod compression;
pub mod datadog;
pub(crate) mod dead_letters;
pub mod elasticsearch;
pub mod file;
pub(crate) mod probe;
pub(crate) mod retry;
pub(crate) mod suspects;
pub mod tuning;

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
