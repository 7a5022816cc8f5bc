//! The request loop shared by the HTTP outputs (Elasticsearch, Datadog).
//!
//! - [`Tracker`]: a delivery shared by the requests carrying its entries,
//!   finished when the last entry is settled; [`Slot`]: one of its
//!   documents, what every output's entry holds.
//! - [`Batcher`]: entries gather in an open batch that closes when it
//!   reaches `max_events` or `max_bytes`, or `flush_interval` after its
//!   first entry; closed batches wait until a request slot is free.
//! - [`Outcomes`]: one request task's final outcomes; its entries are
//!   settled only after the dead letters among them are fsynced
//!   ([`crate::outputs::dead_letters`]).
//! - [`drive`]: takes deliveries, batches them, keeps at most
//!   `max_in_flight` requests outstanding. The queue of closed batches holds
//!   at most one delivery's: no delivery is taken while it is not empty or
//!   every slot is busy, so backpressure reaches the spool.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::backoff::Backoff;
use crate::delivery::Delivery;
use crate::event::Document;
use crate::outputs::dead_letters;
use crate::spool::dead_letter::DeadLetters;
use crate::telemetry::metrics::Metrics;

/// A delivery shared by the requests that carry its entries.
#[derive(Debug)]
pub(crate) struct Tracker {
    documents: Arc<[Document]>,
    /// Each document's event as received (for output dead letters that
    /// `replay` can re-drive).
    originals: Arc<[Bytes]>,
    remaining: AtomicUsize,
    delivery: Mutex<Option<Delivery>>,
}

impl Tracker {
    /// Tracks `delivery`, finished once `entries` entries are settled (at
    /// once when `entries` is 0).
    pub(crate) fn new(delivery: Delivery, entries: usize) -> Arc<Tracker> {
        let documents = Arc::clone(&delivery.documents);
        let originals = Arc::clone(&delivery.originals);
        let delivery = if entries == 0 {
            delivery.finish();
            None
        } else {
            Some(delivery)
        };
        Arc::new(Tracker {
            documents,
            originals,
            remaining: AtomicUsize::new(entries),
            delivery: Mutex::new(delivery),
        })
    }

    /// Document `index` of the tracked delivery.
    pub(crate) fn slot(self: &Arc<Tracker>, index: usize) -> Slot {
        Slot {
            tracker: Arc::clone(self),
            index,
        }
    }

    /// Records that one entry has its final outcome.
    fn settle(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Only `settle` takes the lock and it cannot panic holding it;
            // a poisoned lock leaves the batch unacknowledged (delivered
            // again, a duplicate, not a loss).
            let delivery = self.delivery.lock().ok().and_then(|mut slot| slot.take());
            if let Some(delivery) = delivery {
                delivery.finish();
            }
        }
    }
}

/// One document of a tracked delivery, as a request carries it: every
/// output's entry holds one (`AsRef<Slot>`).
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    tracker: Arc<Tracker>,
    index: usize,
}

/// The final outcomes of one request task's entries `E`, as they are
/// decided. Nothing is settled before [`Outcomes::finish`], which first
/// writes the dead letters: a delivery is never finished while one of its
/// dead letters could still be lost, and a task dropped midway settles
/// nothing.
#[derive(Debug)]
pub(crate) struct Outcomes<E> {
    settled: Vec<E>,
    /// Who refused what, the start of each dead letter's reason.
    refused: &'static str,
    dead: Vec<u8>,
    dead_count: u64,
}

/// Open and closed batches of entries `E`.
#[derive(Debug)]
pub(crate) struct Batcher<E> {
    max_events: usize,
    max_bytes: usize,
    flush_interval: Duration,
    /// Bytes of an empty request body (`[]` for a JSON array).
    overhead: usize,
    open: Vec<E>,
    bytes: usize,
    flush_at: Option<Instant>,
    ready: VecDeque<Vec<E>>,
}

impl Slot {
    /// The document.
    pub(crate) fn document(&self) -> &Document {
        &self.tracker.documents[self.index]
    }

    /// The event the document was made from, as received (empty if there
    /// is none), for its dead letter.
    pub(crate) fn original(&self) -> &[u8] {
        self.tracker
            .originals
            .get(self.index)
            .map_or(&[][..], |original| &original[..])
    }

    /// Records that this document has its final outcome.
    pub(crate) fn settle(&self) {
        self.tracker.settle();
    }
}

impl AsRef<Slot> for Slot {
    fn as_ref(&self) -> &Slot {
        self
    }
}

impl<E> Batcher<E> {
    /// Batches of at most `max_events` entries and `max_bytes` bytes (a
    /// single larger entry goes alone), `overhead` included.
    pub(crate) fn new(
        max_events: usize,
        max_bytes: usize,
        flush_interval: Duration,
        overhead: usize,
    ) -> Batcher<E> {
        Batcher {
            max_events,
            max_bytes,
            flush_interval,
            overhead,
            open: Vec::new(),
            bytes: overhead,
            flush_at: None,
            ready: VecDeque::new(),
        }
    }

    /// Adds an entry of `size` bytes, closing the open batch first when
    /// the entry would not fit.
    pub(crate) fn push(&mut self, entry: E, size: usize) {
        if !self.open.is_empty()
            && (self.open.len() >= self.max_events || self.bytes + size > self.max_bytes)
        {
            self.close();
        }
        if self.open.is_empty() {
            self.flush_at = Some(Instant::now() + self.flush_interval);
        }
        self.open.push(entry);
        self.bytes += size;
    }

    /// Closes the open batch if it is full (after a delivery's entries).
    pub(crate) fn close_if_full(&mut self) {
        if self.open.len() >= self.max_events || self.bytes >= self.max_bytes {
            self.close();
        }
    }

    /// Closes the open batch, if it has entries (its timer expired, or no
    /// more entries will come).
    pub(crate) fn close(&mut self) {
        if !self.open.is_empty() {
            self.ready.push_back(std::mem::take(&mut self.open));
        }
        self.bytes = self.overhead;
        self.flush_at = None;
    }

    /// The oldest closed batch.
    pub(crate) fn pop_ready(&mut self) -> Option<Vec<E>> {
        self.ready.pop_front()
    }

    /// Whether a closed batch waits for a request slot.
    pub(crate) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Whether no entry waits at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.open.is_empty()
    }

    /// When the open batch must be closed, if it has entries.
    pub(crate) fn flush_at(&self) -> Option<Instant> {
        self.flush_at.filter(|_| !self.open.is_empty())
    }
}

impl<E: AsRef<Slot>> Outcomes<E> {
    /// No outcome yet, room for `entries`; dead letters give `refused` as
    /// the start of their reason (`"elasticsearch refused the document"`).
    pub(crate) fn new(entries: usize, refused: &'static str) -> Outcomes<E> {
        Outcomes {
            settled: Vec::with_capacity(entries),
            refused,
            dead: Vec::new(),
            dead_count: 0,
        }
    }

    /// `entry` is delivered (or a duplicate).
    pub(crate) fn delivered(&mut self, entry: E) {
        self.settled.push(entry);
    }

    /// Every entry of `group` is delivered; `group` is left empty.
    pub(crate) fn delivered_all(&mut self, group: &mut Vec<E>) {
        self.settled.append(group);
    }

    /// `entry` is refused for good, for `reason`: it becomes a dead letter.
    pub(crate) fn reject(&mut self, entry: E, reason: &str) {
        let slot = entry.as_ref();
        dead_letters::encode(
            &mut self.dead,
            slot.document(),
            slot.original(),
            self.refused,
            reason,
        );
        self.dead_count += 1;
        self.settled.push(entry);
    }

    /// Appends and fsyncs the dead letters (retrying until that works) and
    /// counts them, then settles every entry.
    pub(crate) async fn finish(
        self,
        dead_letters: &Arc<DeadLetters>,
        backoff: &Backoff,
        metrics: &Metrics,
    ) {
        if !self.dead.is_empty() {
            dead_letters::write(dead_letters, backoff, self.dead).await;
            Metrics::add(&metrics.events_rejected_output, self.dead_count);
        }
        for entry in &self.settled {
            entry.as_ref().settle();
        }
    }
}

/// Runs an output's request loop until `deliveries` closes and every
/// request has finished, or until `stop` is cancelled (outstanding
/// requests are then dropped, their deliveries left unfinished). `take`
/// turns a delivery into entries in `batcher`; `send` makes the task that
/// takes one batch to a final outcome.
pub(crate) async fn drive<E, Fut>(
    deliveries: &mut mpsc::Receiver<Delivery>,
    stop: &CancellationToken,
    max_in_flight: usize,
    batcher: &mut Batcher<E>,
    mut take: impl FnMut(Delivery, &mut Batcher<E>),
    mut send: impl FnMut(Vec<E>) -> Fut,
) where
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut in_flight: JoinSet<()> = JoinSet::new();
    let mut open = true;
    loop {
        while in_flight.len() < max_in_flight {
            let Some(entries) = batcher.pop_ready() else {
                break;
            };
            in_flight.spawn(send(entries).in_current_span());
        }
        if !open && batcher.is_empty() && in_flight.is_empty() {
            return;
        }
        let can_take = open && !batcher.has_ready() && in_flight.len() < max_in_flight;
        let can_flush = !batcher.has_ready() && in_flight.len() < max_in_flight;
        let flush_at = batcher.flush_at();
        let timer = flush_at.unwrap_or_else(Instant::now);
        tokio::select! {
            biased;
            () = stop.cancelled() => {
                // Leave every unfinished delivery unacknowledged.
                in_flight.abort_all();
                return;
            }
            Some(joined) = in_flight.join_next(), if !in_flight.is_empty() => {
                if let Err(error) = joined {
                    if error.is_panic() {
                        // A panicking task is fatal (STYLE §3).
                        std::panic::resume_unwind(error.into_panic());
                    }
                }
            }
            received = deliveries.recv(), if can_take => match received {
                Some(delivery) => {
                    take(delivery, batcher);
                    batcher.close_if_full();
                }
                None => {
                    open = false;
                    batcher.close();
                }
            },
            () = tokio::time::sleep_until(timer), if can_flush && flush_at.is_some() => {
                batcher.close();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_close_at_the_count_or_the_bytes_and_big_entries_go_alone() {
        let mut batcher = Batcher::new(3, 100, Duration::from_secs(1), 2);
        for n in 0..7 {
            batcher.push(n, 10);
        }
        assert_eq!(batcher.pop_ready(), Some(vec![0, 1, 2]));
        assert_eq!(batcher.pop_ready(), Some(vec![3, 4, 5]));
        assert_eq!(batcher.pop_ready(), None);
        assert!(batcher.flush_at().is_some());
        batcher.push(7, 60);
        // 2 + 10 + 60 = 72; another 60 would pass 100.
        batcher.push(8, 60);
        assert_eq!(batcher.pop_ready(), Some(vec![6, 7]));
        batcher.push(9, 500);
        assert_eq!(batcher.pop_ready(), Some(vec![8]));
        batcher.close_if_full();
        assert_eq!(batcher.pop_ready(), Some(vec![9]));
        assert!(batcher.is_empty() && batcher.flush_at().is_none());
        batcher.push(10, 1);
        batcher.close_if_full();
        assert!(!batcher.has_ready());
        batcher.close();
        assert_eq!(batcher.pop_ready(), Some(vec![10]));
    }
}
