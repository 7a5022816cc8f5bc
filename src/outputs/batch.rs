//! Request batching shared by the HTTP outputs (Elasticsearch, Datadog):
//! entries gather in an open batch that closes when it reaches
//! `max_events` or `max_bytes`, or `flush_interval` after its first entry;
//! closed batches wait in a queue until a request slot is free.
//!
//! The queue holds at most the batches of one delivery: the outputs take a
//! delivery from their channel only when it is empty.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

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
