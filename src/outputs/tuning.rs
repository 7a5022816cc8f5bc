//! The settings every HTTP output has (batch limits, requests in flight,
//! the request timeout, the retry schedule): one struct, so that each
//! output's `Config` holds it and `run` batches, keeps requests in flight
//! and builds its request tasks' [`Shared`] from it the same way.

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use crate::backoff::Backoff;
use crate::delivery::Delivery;
use crate::outputs::batch::{self, Batcher};
use crate::outputs::retry::Shared;
use crate::outputs::Parts;

/// How an HTTP output batches, paces and retries its requests.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Most documents (items) per request.
    pub batch_max_events: usize,
    /// Most body bytes per request, before compression (a single larger
    /// document goes alone).
    pub batch_max_bytes: usize,
    /// Longest time a document waits for its request to fill.
    pub flush_interval: Duration,
    /// Most requests outstanding at once.
    pub max_in_flight: usize,
    /// Time one request may take before it is abandoned and retried.
    pub request_timeout: Duration,
    /// The retry schedule.
    pub backoff: Backoff,
}

impl Tuning {
    /// Feeds the deliveries of `parts` through `take` into batches of
    /// these limits, capped at the service's own (`max_events`,
    /// `max_bytes`, counting `overhead` bytes per request), and `send`s
    /// them with at most `max_in_flight` outstanding ([`batch::drive`]).
    pub(crate) async fn drive<E, Fut>(
        &self,
        parts: &mut Parts,
        (max_events, max_bytes, overhead): (usize, usize, usize),
        take: impl FnMut(Delivery, &mut Batcher<E>),
        send: impl FnMut(Vec<E>) -> Fut,
    ) where
        Fut: Future<Output = ()> + Send + 'static,
    {
        let mut batcher = Batcher::new(
            self.batch_max_events.min(max_events),
            self.batch_max_bytes.min(max_bytes),
            self.flush_interval,
            overhead,
        );
        batch::drive(
            &mut parts.deliveries,
            &parts.stop,
            self.max_in_flight,
            &mut batcher,
            take,
            send,
        )
        .await;
    }

    /// What the request tasks of an output started with `parts` share.
    pub(crate) fn shared(&self, parts: &Parts) -> Shared {
        Shared {
            backoff: self.backoff,
            dead_letters: Arc::clone(&parts.dead_letters),
            metrics: Arc::clone(&parts.metrics),
            accepted: AtomicU64::new(0),
        }
    }
}
