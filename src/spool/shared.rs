//! The state the writer, the reader and the acker share: the spool's
//! directory, its bounds and the byte and record counters the backlog
//! gauges read. Built once by `open`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::dead_letter::DeadLetters;

/// Smallest and largest segment sizes.
pub(super) const MIN_SEGMENT_BYTES: u64 = 1024 * 1024;
const MAX_SEGMENT_BYTES: u64 = 128 * 1024 * 1024;

/// State shared by writer, reader and acker.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) dir: PathBuf,
    pub(super) max_bytes: u64,
    pub(super) segment_bytes: u64,
    /// Record bytes appended (including the backlog found at open).
    pub(super) written: AtomicU64,
    /// Record bytes acknowledged. `written - acked` is what `max_bytes` bounds.
    pub(super) acked: AtomicU64,
    /// Records appended (including the backlog found at open).
    pub(super) records_written: AtomicU64,
    /// Records acknowledged.
    pub(super) records_acked: AtomicU64,
    /// The last commit failed (cleared by the next one that succeeds).
    pub(super) write_failed: AtomicBool,
    pub(super) dead_letters: Arc<DeadLetters>,
}

impl Shared {
    /// The state of a spool in `dir` bounded by `max_bytes`, holding
    /// `backlog` unacknowledged record bytes in `backlog_records` records;
    /// segments are an eighth of `max_bytes`, between 1 MiB and 128 MiB.
    pub(super) fn new(
        dir: PathBuf,
        max_bytes: u64,
        backlog: u64,
        backlog_records: u64,
        dead_letters: Arc<DeadLetters>,
    ) -> Self {
        Self {
            dir,
            max_bytes,
            segment_bytes: (max_bytes / 8).clamp(MIN_SEGMENT_BYTES, MAX_SEGMENT_BYTES),
            written: AtomicU64::new(backlog),
            acked: AtomicU64::new(0),
            records_written: AtomicU64::new(backlog_records),
            records_acked: AtomicU64::new(0),
            write_failed: AtomicBool::new(false),
            dead_letters,
        }
    }

    /// Record bytes not yet acknowledged.
    pub(super) fn unacked(&self) -> u64 {
        let acked = self.acked.load(Ordering::Acquire);
        self.written.load(Ordering::Acquire).saturating_sub(acked)
    }
}
