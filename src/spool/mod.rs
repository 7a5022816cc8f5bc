//! The spool: the durable on-disk queue between inputs and outputs, and the
//! agent's durability boundary.
//!
//! # On-disk format
//!
//! ```text
//! <spool.dir>/
//!   lock                      held (flock) by the running agent, holding its pid: one agent per spool
//!   00000000000000000001.seg  segment files, ids ascending, append-only
//!   00000000000000000002.seg
//!   acked                     the acknowledged watermark (see `ack`)
//!   dead-letter.ndjson        rejected items, verbatim (see `dead_letter`)
//!   dead-letter.ndjson.<n>    rotated dead letters, never deleted by the agent
//! ```
//!
//! Files are created `0600` and the directory `0700` ([`crate::private_files`]).
//!
//! A segment is an 8-byte header, the magic `A0SPOOL` and a format version
//! byte (1), followed by records, each framed as `u32 LE length, u32 LE
//! CRC-32, payload` (see [`record`], the one module that knows the layout).
//! The version is explicit: any change to the layout is a new version, and
//! `open` refuses a spool holding a segment of a version it does not know
//! ([`Error::UnsupportedVersion`]; the agent exits 65) and leaves it as it
//! is. The `acked` ledger has no version of its own: it is 20 bytes (the
//! position and its CRC), and any other content is read as absent (every
//! record is delivered again, nothing deleted), so a later ledger format
//! must differ in length. A new segment is
//! started at every start-up and once the current one passes
//! `segment_bytes` (an eighth of `max_bytes`, between 1 MiB and 128 MiB, and
//! at most an eighth of the disk's free space when the segment is created).
//!
//! # Invariants
//!
//! - **A successful [`Writer::append`] is durable**: its records are written
//!   and `fdatasync`ed (group commit: one sync for every request waiting) and
//!   its dead letters fsynced before it returns.
//! - **The reader sees only committed records**: the writer publishes the
//!   committed position after each sync; the reader never reads past it.
//! - **Only the last segment can have a torn tail** (a crash mid-append);
//!   earlier segments are synced before the next is created. `open`
//!   truncates the tail after the last record whose CRC holds, and removes
//!   a last segment too short to hold its header (a crash while creating
//!   it). Those bytes were never acknowledged to anyone. A complete header
//!   of another version or kind is never torn: it is refused untouched.
//! - **Acknowledged means delivered for good**: outputs ack a batch only
//!   once each of its events is indexed, written, or dead-lettered. After a
//!   clean shutdown, acknowledged records are never read again; after a
//!   crash, every unacknowledged record is (at least once).
//! - **Bounded**: appends that would take the unacknowledged record bytes
//!   plus the dead-letter files past `max_bytes` fail with
//!   [`AppendError::Full`] (the webhook answers 503), except into an empty
//!   spool. Acknowledged bytes are freed when
//!   their segment is deleted, so the disk holds at most `max_bytes` plus
//!   one segment (an eighth of `max_bytes`) plus one oversized batch.
//! - **A full disk is back-pressure** ([`AppendError::DiskFull`], see
//!   [`space`]): the writer starts a new segment so the acknowledged one can
//!   be deleted, and appends succeed again once there is room.
//! - **One agent per spool** ([`Lock`], held by `App` until it stopped).

mod ack;
pub mod dead_letter;
mod lock;
mod reader;
pub mod record;
mod segment;
pub mod space;
mod stats;
mod writer;

use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::watch;

use crate::private_files;

pub use ack::Acker;
use dead_letter::DeadLetters;
pub use lock::Lock;
pub use reader::{Batch, Reader, Receipt};
pub use stats::{Backlog, Stats};
pub use writer::{Append, AppendError, Writer};

/// Smallest and largest segment sizes.
const MIN_SEGMENT_BYTES: u64 = 1024 * 1024;
const MAX_SEGMENT_BYTES: u64 = 128 * 1024 * 1024;

/// `[spool]`, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The spool directory (created if missing).
    pub dir: PathBuf,
    /// Bound on the segments' unacknowledged bytes plus the dead-letter files.
    pub max_bytes: u64,
    /// Size at which the dead-letter file is rotated (see [`dead_letter`]).
    pub dead_letter_max_file_bytes: u64,
}

/// A place in the spool: a segment and a byte offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Segment id.
    pub segment: u64,
    /// Byte offset in the segment.
    pub offset: u64,
}

/// Spool errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation failed.
    #[error("spool i/o on `{path}` failed")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the spool (its pid, when it wrote one).
    #[error("spool `{}` is in use by another agent ({})", dir.display(), match pid { Some(pid) => format!("pid {pid}"), None => "pid unknown".to_owned() })]
    Locked {
        /// The spool directory.
        dir: PathBuf,
        /// The holder's pid, from the lock file.
        pid: Option<u32>,
    },
    /// A segment file does not start like a spool segment: it is left
    /// untouched and the spool is not opened.
    #[error("spool file `{}` is not a spool segment (unknown header); move it out of the spool directory", path.display())]
    NotASegment {
        /// The file.
        path: PathBuf,
    },
    /// A thread panicked while holding the acknowledgement state.
    #[error("spool acknowledgement state is poisoned")]
    Poisoned,
    /// A segment was written in a format version this agent does not read
    /// (a newer agent's, before a downgrade): it is left untouched and the
    /// spool is not opened.
    #[error("spool segment `{}` has format version {found}, this agent reads version {supported}; run an agent that reads version {found}, or move the segment away", path.display())]
    UnsupportedVersion {
        /// The segment.
        path: PathBuf,
        /// The version in its header.
        found: u8,
        /// The version this agent reads and writes.
        supported: u8,
    },
}

impl Error {
    /// The spool holds data this agent cannot read (a segment of another
    /// format version, or a foreign file): restarting will not help.
    pub fn is_unreadable_data(&self) -> bool {
        matches!(
            self,
            Error::NotASegment { .. } | Error::UnsupportedVersion { .. }
        )
    }

    /// The spool directory or a file in it cannot be created (no
    /// permission, a read-only file system, a file in the way): the
    /// operator must fix the directory, restarting will not help.
    pub fn is_cannot_create(&self) -> bool {
        use std::io::ErrorKind;
        matches!(
            self,
            Error::Io { source, .. } if matches!(
                source.kind(),
                ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem | ErrorKind::NotADirectory
            )
        )
    }

    /// A segment error on `path` as a spool error.
    fn segment(path: PathBuf, error: segment::Error) -> Error {
        match error {
            segment::Error::Io(source) => Error::Io { path, source },
            segment::Error::Version(found) => Error::UnsupportedVersion {
                path,
                found,
                supported: record::FORMAT_VERSION,
            },
            segment::Error::Foreign => Error::NotASegment { path },
        }
    }
}

/// An open spool: one writer (clone it per input), one reader, one acker.
#[derive(Debug)]
pub struct Spool {
    /// Appends batches; the writer thread stops when every clone is dropped.
    pub writer: Writer,
    /// Reads committed records.
    pub reader: Reader,
    /// Acknowledges delivered batches.
    pub acker: Acker,
    /// The dead-letter file, shared with the outputs.
    pub dead_letters: Arc<DeadLetters>,
    /// The writer thread; join it after dropping every writer.
    pub writer_thread: JoinHandle<()>,
    /// Bytes cut off a torn tail at open, for the start-up log line.
    pub truncated_bytes: u64,
    /// Unacknowledged record bytes found at open (the backlog).
    pub backlog_bytes: u64,
    /// The backlog and write health, read at any time (gauges, `/status`).
    pub stats: Stats,
    /// The spool lock: keep it until the agent has stopped.
    pub lock: Lock,
}

/// State shared by writer, reader and acker.
#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    /// Record bytes appended (including the backlog found at open).
    written: AtomicU64,
    /// Record bytes acknowledged. `written - acked` is what `max_bytes` bounds.
    acked: AtomicU64,
    /// Records appended (including the backlog found at open).
    records_written: AtomicU64,
    /// Records acknowledged.
    records_acked: AtomicU64,
    /// The last commit failed (cleared by the next one that succeeds).
    write_failed: AtomicBool,
    dead_letters: Arc<DeadLetters>,
}

impl Shared {
    /// Record bytes not yet acknowledged.
    fn unacked(&self) -> u64 {
        let acked = self.acked.load(Ordering::Acquire);
        self.written.load(Ordering::Acquire).saturating_sub(acked)
    }
}

/// Opens (creating) the spool in `config.dir`: recovers a torn tail, starts
/// the writer thread on a fresh segment, and positions the reader at the
/// first unacknowledged record.
pub fn open(config: &Config) -> Result<Spool, Error> {
    let dir = config.dir.clone();
    let io = |path: PathBuf| move |source| Error::Io { path, source };
    private_files::create_dir_all(&dir).map_err(io(dir.clone()))?;
    // Before anything else in the directory is read, cut or deleted.
    let lock = lock::acquire(&dir)?;

    let mut ids = segment::list(&dir).map_err(io(dir.clone()))?;
    // Every segment must be ours before any is cut or deleted: a segment of
    // another format version is refused, never taken for a torn one.
    for &id in &ids {
        segment::check(&dir, id).map_err(|error| Error::segment(segment::path(&dir, id), error))?;
    }
    let mut truncated_bytes = 0;
    if let Some(&last) = ids.last() {
        truncated_bytes = segment::truncate_torn_tail(&dir, last)
            .map_err(|error| Error::segment(segment::path(&dir, last), error))?;
        let path = segment::path(&dir, last);
        let length = fs::metadata(&path).map_err(io(path.clone()))?.len();
        if length < segment::FIRST_RECORD {
            // Crashed while creating it: holds nothing.
            fs::remove_file(&path).map_err(io(path))?;
            ids.pop();
        }
    }
    let next_id = ids.last().map_or(1, |last| last + 1);
    let oldest = Position {
        segment: ids.first().copied().unwrap_or(next_id),
        offset: segment::FIRST_RECORD,
    };
    let start = ack::read_ledger(&dir)
        .filter(|acked| *acked >= oldest && acked.segment < next_id)
        .unwrap_or(oldest);
    let mut backlog = 0;
    let mut backlog_records = 0;
    for &id in &ids {
        let path = segment::path(&dir, id);
        if id < start.segment {
            // Acknowledged before a crash but not yet deleted.
            fs::remove_file(&path).map_err(io(path))?;
        } else {
            let length = fs::metadata(&path).map_err(io(path.clone()))?.len();
            let from = if id == start.segment {
                start.offset
            } else {
                segment::FIRST_RECORD
            };
            backlog += length.saturating_sub(from);
            backlog_records += stats::count_records(&path, from).map_err(io(path))?;
        }
    }
    let dead_letters = Arc::new(
        DeadLetters::open(&dir, config.dead_letter_max_file_bytes)
            .map_err(io(dir.join(dead_letter::FILE_NAME)))?,
    );
    let shared = Arc::new(Shared {
        dir: dir.clone(),
        max_bytes: config.max_bytes,
        segment_bytes: (config.max_bytes / 8).clamp(MIN_SEGMENT_BYTES, MAX_SEGMENT_BYTES),
        written: AtomicU64::new(backlog),
        acked: AtomicU64::new(0),
        records_written: AtomicU64::new(backlog_records),
        records_acked: AtomicU64::new(0),
        write_failed: AtomicBool::new(false),
        dead_letters: Arc::clone(&dead_letters),
    });
    // Everything before the new segment is finished: the reader reads old
    // segments to their end.
    let (committed_sender, committed) = watch::channel(Position {
        segment: next_id,
        offset: segment::FIRST_RECORD,
    });
    let acker = Acker::new(Arc::clone(&shared), start, committed.clone());
    let (writer, writer_thread) = writer::spawn(
        Arc::clone(&shared),
        committed_sender,
        next_id,
        acker.clone(),
    )
    .map_err(io(segment::path(&dir, next_id)))?;
    Ok(Spool {
        writer,
        reader: Reader::new(Arc::clone(&shared), committed, start),
        stats: Stats::new(shared, acker.clone()),
        acker,
        dead_letters,
        writer_thread,
        truncated_bytes,
        backlog_bytes: backlog,
        lock,
    })
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::event::Input;

    fn config(dir: &std::path::Path) -> Config {
        Config {
            dir: dir.to_owned(),
            max_bytes: 1 << 20,
            dead_letter_max_file_bytes: dead_letter::DEFAULT_MAX_FILE_BYTES,
        }
    }

    /// Opens the spool in `dir`, appends `count` events and closes it; the
    /// events are in the segment it returns (the last one).
    async fn spooled(dir: &std::path::Path, count: usize) -> PathBuf {
        let spool = open(&config(dir)).unwrap();
        let mut append = Append::new();
        for n in 0..count {
            append.push(
                Input::Webhook,
                OffsetDateTime::UNIX_EPOCH,
                format!("{{\"log_id\":\"{n}\"}}").as_bytes(),
            );
        }
        spool.writer.append(append).await.unwrap();
        close(spool);
        let last = *segment::list(dir).unwrap().last().unwrap();
        segment::path(dir, last)
    }

    /// Stops the writer thread and releases the spool.
    fn close(spool: Spool) {
        drop(spool.writer);
        spool.writer_thread.join().unwrap();
        spool.acker.close().unwrap();
    }

    /// Every file of `dir` but the lock, with its bytes.
    fn contents(dir: &std::path::Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| !path.ends_with("lock"))
            .map(|path| {
                let bytes = fs::read(&path).unwrap();
                (path, bytes)
            })
            .collect();
        files.sort();
        files
    }

    fn events(dir: &std::path::Path) -> usize {
        let mut spool = open(&config(dir)).unwrap();
        let mut count = 0;
        while let Some(batch) = spool.reader.read(1000, 1 << 20).unwrap() {
            count += batch.events.len();
        }
        close(spool);
        count
    }

    #[tokio::test]
    async fn a_segment_of_another_version_is_refused_and_left_untouched() {
        for (newer_is_last, header) in [(true, 2u8), (false, 2), (true, 0), (true, 255)] {
            let dir = tempfile::tempdir().unwrap();
            let ours = spooled(dir.path(), 3).await;
            // A later agent's segment, ending in what would look torn to us.
            let mut forged = b"A0SPOOL".to_vec();
            forged.push(header);
            forged.extend_from_slice(b"\x05\x00\x00\x00not a record of ours");
            let forged_path = if newer_is_last {
                segment::path(dir.path(), 100)
            } else {
                // Before ours, which then is the last one and gets checked too.
                fs::rename(&ours, segment::path(dir.path(), 200)).unwrap();
                segment::path(dir.path(), 100)
            };
            fs::write(&forged_path, &forged).unwrap();
            let before = contents(dir.path());

            let error = open(&config(dir.path())).unwrap_err();
            assert!(
                matches!(&error, Error::UnsupportedVersion { path, found, supported: 1 }
                    if *path == forged_path && *found == header),
                "{error:?}"
            );
            assert!(error.is_unreadable_data());
            let message = error.to_string();
            assert!(
                message.contains(&forged_path.display().to_string())
                    && message.contains(&format!("version {header}"))
                    && message.contains("version 1"),
                "{message}"
            );
            assert_eq!(contents(dir.path()), before, "the spool was changed");
        }
    }

    #[tokio::test]
    async fn a_foreign_file_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        spooled(dir.path(), 1).await;
        let foreign = segment::path(dir.path(), 100);
        fs::write(&foreign, b"{\"log_id\":\"x\"}\n").unwrap();
        let before = contents(dir.path());
        let error = open(&config(dir.path())).unwrap_err();
        assert!(
            matches!(&error, Error::NotASegment { path } if *path == foreign),
            "{error:?}"
        );
        assert!(error.is_unreadable_data());
        assert!(error.to_string().contains(&foreign.display().to_string()));
        assert_eq!(contents(dir.path()), before);
    }

    #[tokio::test]
    async fn a_torn_tail_of_this_version_is_still_cut() {
        let dir = tempfile::tempdir().unwrap();
        let last = spooled(dir.path(), 3).await;
        let whole = fs::read(&last).unwrap();
        let mut torn = whole.clone();
        let first = record::SEGMENT_HEADER_LEN;
        // The start of a record again, cut short.
        torn.extend_from_slice(&whole[first..first + 12]);
        fs::write(&last, &torn).unwrap();
        let spool = open(&config(dir.path())).unwrap();
        assert_eq!(spool.truncated_bytes, 12);
        assert_eq!(fs::read(&last).unwrap(), whole);
        close(spool);
        assert_eq!(events(dir.path()), 3);
    }

    #[tokio::test]
    async fn a_last_segment_without_a_whole_header_is_removed() {
        for header in [&b"A0SP"[..], &[0; 8][..], &[][..]] {
            let dir = tempfile::tempdir().unwrap();
            spooled(dir.path(), 2).await;
            let torn = segment::path(dir.path(), 100);
            fs::write(&torn, header).unwrap();
            let spool = open(&config(dir.path())).unwrap();
            assert!(!fs::exists(&torn).unwrap(), "{header:?} was kept");
            close(spool);
            assert_eq!(events(dir.path()), 2);
        }
    }
}
