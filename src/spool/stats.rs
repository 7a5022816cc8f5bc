//! The spool's state as numbers, for the admin listener's gauges and
//! `/status`: the backlog (events, bytes, age of the oldest) and whether the
//! spool takes writes.
//!
//! Everything comes from the spool itself (the counters kept by the writer
//! and the acker, seeded at open by counting the unacknowledged records on
//! disk), so the figures are right after a restart with a backlog.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use time::OffsetDateTime;

use super::ack::Acker;
use super::position::Position;
use super::record::{self, HEADER_LEN};
use super::segment;
use super::shared::Shared;

/// The spool's backlog at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Records appended and not yet acknowledged.
    pub events: u64,
    /// Their record bytes (what `spool.max_bytes` bounds).
    pub bytes: u64,
    /// `spool.max_bytes`.
    pub max_bytes: u64,
    /// When the oldest unacknowledged record was received; `None` when the
    /// backlog is empty (or the record could not be read).
    pub oldest_unacked_at: Option<OffsetDateTime>,
    /// The last write (and fsync) succeeded.
    pub writable: bool,
}

impl Backlog {
    /// The fraction of `max_bytes` in use (0.0 to 1.0 and beyond).
    pub fn fill(&self) -> f64 {
        if self.max_bytes == 0 {
            return 0.0;
        }
        self.bytes as f64 / self.max_bytes as f64
    }
}

/// A read-only view of the spool's state; cheap to clone.
#[derive(Debug, Clone)]
pub struct Stats {
    shared: Arc<Shared>,
    acker: Acker,
}

impl Stats {
    pub(super) fn new(shared: Arc<Shared>, acker: Acker) -> Stats {
        Stats { shared, acker }
    }

    /// The backlog now. Reads one record header from disk for the age of
    /// the oldest record.
    pub fn backlog(&self) -> Backlog {
        let shared = &self.shared;
        let acked = shared.records_acked.load(Ordering::Acquire);
        let events = shared
            .records_written
            .load(Ordering::Acquire)
            .saturating_sub(acked);
        let bytes = shared.unacked();
        let oldest_unacked_at = if events == 0 {
            None
        } else {
            self.acker
                .watermark()
                .ok()
                .and_then(|watermark| received_at(&shared.dir, watermark))
        };
        Backlog {
            events,
            bytes,
            max_bytes: shared.max_bytes,
            oldest_unacked_at,
            writable: !shared.write_failed.load(Ordering::Acquire),
        }
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }
}

/// The receive time of the record at `position`, or of the first record of
/// the next segment when `position` is a segment's end.
fn received_at(dir: &Path, position: Position) -> Option<OffsetDateTime> {
    let mut position = position;
    for _ in 0..2 {
        let file = File::open(segment::path(dir, position.segment)).ok()?;
        let mut start = [0u8; record::RECEIVED_AT_END];
        match file.read_exact_at(&mut start, position.offset) {
            Ok(()) => return record::received_at(&start),
            Err(_) => {
                position = Position {
                    segment: position.segment + 1,
                    offset: segment::FIRST_RECORD,
                };
            }
        }
    }
    None
}

/// Counts the whole records of a segment from `from` on (headers only: it
/// seeks over payloads). A torn tail has been cut before this is called.
pub(super) fn count_records(path: &Path, from: u64) -> io::Result<u64> {
    let mut file = BufReader::new(File::open(path)?);
    file.seek(SeekFrom::Start(from))?;
    let mut count = 0;
    let mut header = [0u8; HEADER_LEN];
    loop {
        match file.read_exact(&mut header) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(count),
            Err(error) => return Err(error),
        }
        let Ok((length, _)) = record::decode_header(header) else {
            return Ok(count);
        };
        file.seek_relative(length as i64)?;
        count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Input;
    use crate::spool::{self, Append, Config};

    #[tokio::test]
    async fn backlog_is_counted_from_disk_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            dir: dir.path().to_owned(),
            max_bytes: 1 << 20,
            dead_letter_max_file_bytes: spool::dead_letter::DEFAULT_MAX_FILE_BYTES,
        };
        let first = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        {
            let spool = spool::open(&config).unwrap();
            assert_eq!(spool.stats.backlog().events, 0);
            assert_eq!(spool.stats.backlog().oldest_unacked_at, None);
            let mut append = Append::new();
            for index in 0..5 {
                let at = first + time::Duration::seconds(index);
                append.push(Input::Webhook, at, b"{\"log_id\":\"x\"}");
            }
            spool.writer.append(append).await.unwrap();
            let backlog = spool.stats.backlog();
            assert_eq!(backlog.events, 5);
            assert_eq!(backlog.oldest_unacked_at, Some(first));
            assert!(backlog.writable);
            let Spool {
                writer,
                writer_thread,
                mut reader,
                acker,
                stats,
                ..
            } = spool;
            drop(writer);
            writer_thread.join().unwrap();
            let batch = reader.read(2, 1 << 20).unwrap().unwrap();
            acker.ack(batch.receipt).unwrap();
            acker.close().unwrap();
            let backlog = stats.backlog();
            assert_eq!(backlog.events, 3);
            assert_eq!(
                backlog.oldest_unacked_at,
                Some(first + time::Duration::seconds(2))
            );
        }
        let spool = spool::open(&config).unwrap();
        let backlog = spool.stats.backlog();
        assert_eq!(backlog.events, 3);
        assert_eq!(backlog.bytes, spool.backlog_bytes);
        assert_eq!(
            backlog.oldest_unacked_at,
            Some(first + time::Duration::seconds(2))
        );
    }

    use crate::spool::Spool;
}
