//! The spool writer: one dedicated thread appends batches and fsyncs them
//! with group commit.
//!
//! Inputs build an [`Append`] (frames encoded on their own task, so the
//! writer thread only copies bytes) and await [`Writer::append`]. The thread
//! takes every request waiting in its channel, writes them all, issues one
//! `fdatasync` for the lot, publishes the new committed position to the
//! reader, and only then answers each request. Concurrent requests thus
//! share one fsync, and an answer always means "durable".

use std::fs::File;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, watch};

use super::ack::Acker;
use super::dead_letter::{self, Stage};
use super::position::Position;
use super::shared::{Shared, MIN_SEGMENT_BYTES};
use super::space;
use super::{record, segment};
use crate::event::Input;
use crate::telemetry::throttle::Throttle;

/// Requests waiting for the writer thread; more wait on the channel's
/// senders (bounded, like every channel here).
const QUEUE: usize = 1024;
/// Least time between two measurements of the dead-letter files while the
/// budget refuses batches.
const RESCAN_INTERVAL: Duration = Duration::from_secs(5);

/// Bytes of single dead-letter entries a body may cost at least, however
/// small it is (a one-line body's entry is larger than the line).
pub const MIN_BODY_REJECT_BYTES: usize = 64 * 1024;

/// A batch to append: encoded records plus dead letters, written and
/// fsynced together.
#[derive(Debug, Default)]
pub struct Append {
    frames: Vec<u8>,
    records: usize,
    dead_letters: Vec<u8>,
    rejected: usize,
    /// For a body's batch ([`Append::for_body`]): the bytes its single
    /// dead-letter entries may take.
    reject_budget: Option<usize>,
    /// The body's rejects passed the bound: it is kept whole instead.
    whole_body: bool,
    /// The first reasons, for the whole-body entry.
    reasons: Vec<String>,
}

/// Why an append was not made durable. Nothing of the batch was written.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The spool is closed (the agent is shutting down).
    #[error("spool is closed")]
    Closed,
    /// The disk under the spool is full (`ENOSPC`/`EDQUOT`); retry once
    /// delivered segments are deleted or space is freed.
    #[error("spool disk is full")]
    DiskFull,
    /// The spool is at `spool.max_bytes`; retry once the outputs catch up.
    #[error("spool is full")]
    Full,
    /// Writing or syncing failed.
    #[error("spool write failed")]
    Io(#[source] std::io::Error),
}

/// Handle to the writer thread; cheap to clone, one per input task.
#[derive(Debug, Clone)]
pub struct Writer {
    sender: mpsc::Sender<Request>,
}

struct Request {
    append: Append,
    reply: Reply,
}

/// Where a request's outcome goes.
type Reply = oneshot::Sender<Result<(), AppendError>>;

/// The writer thread's state.
struct Thread {
    shared: Arc<Shared>,
    /// Dropped with the thread, which tells the reader that no more data comes.
    committed: watch::Sender<Position>,
    segment_id: u64,
    file: File,
    offset: u64,
    /// The segment holds bytes past `offset` that could not be cut off:
    /// nothing more is written to it.
    abandoned: bool,
    /// Size past which this segment is closed (see [`segment_limit`]).
    segment_limit: u64,
    /// Deletes acknowledged segments when a full disk needs the space.
    acker: Acker,
    /// Disk-full and budget-full warnings: one a minute.
    disk_full_log: Throttle,
    budget_full_log: Throttle,
    /// When the dead-letter files were last measured again (an operator
    /// may have moved some away to free the budget).
    dead_letters_rescanned: Option<Instant>,
}

impl Append {
    /// An empty batch.
    pub fn new() -> Append {
        Append::default()
    }

    /// An empty batch with room for about `bytes` of events, so framing a
    /// body does not grow the buffer step by step.
    pub fn with_capacity(bytes: usize) -> Append {
        Append {
            frames: Vec::with_capacity(record::frames_capacity(bytes)),
            ..Append::default()
        }
    }

    /// Adds an event to be spooled.
    pub fn push(&mut self, input: Input, received_at: OffsetDateTime, event: &[u8]) {
        record::encode(&mut self.frames, input, received_at, event);
        self.records += 1;
    }

    /// An empty batch for the events of one body of `body_len` bytes: its
    /// rejected items cost at most the body's size (or
    /// `MIN_BODY_REJECT_BYTES`) and [`dead_letter::MAX_REJECTED_ITEMS`]
    /// entries; past that, [`Append::finish_body`] keeps the body whole in
    /// one entry.
    pub fn for_body(body_len: usize) -> Append {
        Append {
            reject_budget: Some(body_len.max(MIN_BODY_REJECT_BYTES)),
            ..Append::with_capacity(body_len)
        }
    }

    /// Adds an item that is rejected: it goes to the dead-letter file, verbatim.
    pub fn reject(&mut self, input: Input, received_at: OffsetDateTime, reason: &str, raw: &[u8]) {
        self.rejected += 1;
        if let Some(budget) = self.reject_budget {
            if self.reasons.len() < dead_letter::FIRST_REASONS {
                self.reasons.push(reason.to_owned());
            }
            if !self.whole_body
                && (self.rejected > dead_letter::MAX_REJECTED_ITEMS
                    || self.dead_letters.len() + dead_letter::encoded_len(reason, raw) > budget)
            {
                // From here on the body is kept whole (see `finish_body`).
                self.whole_body = true;
                self.dead_letters = Vec::new();
            }
            if self.whole_body {
                return;
            }
        }
        dead_letter::encode(
            &mut self.dead_letters,
            received_at,
            input,
            Stage::Input,
            reason,
            raw,
        );
    }

    /// Ends the batch of `body` (made with [`Append::for_body`]): when its
    /// rejects passed the bound, the body becomes one dead-letter entry.
    pub fn finish_body(&mut self, input: Input, received_at: OffsetDateTime, body: &[u8]) {
        if !self.whole_body {
            return;
        }
        let summary = dead_letter::BodySummary {
            rejected: self.rejected,
            accepted: self.records,
            reasons: std::mem::take(&mut self.reasons),
        };
        dead_letter::encode_body(&mut self.dead_letters, received_at, input, &summary, body);
    }

    /// Events pushed.
    pub fn records(&self) -> usize {
        self.records
    }

    /// Items rejected.
    pub fn rejected(&self) -> usize {
        self.rejected
    }

    /// The dead-letter lines made so far.
    #[cfg(test)]
    pub(crate) fn dead_letters(&self) -> &[u8] {
        &self.dead_letters
    }
}

impl Writer {
    /// Appends a batch and returns once it is durable on disk.
    pub async fn append(&self, append: Append) -> Result<(), AppendError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Request { append, reply })
            .await
            .map_err(|_| AppendError::Closed)?;
        answer.await.map_err(|_| AppendError::Closed)?
    }
}

/// The size at which a new segment will be closed: `segment_bytes`, or an
/// eighth of the disk's free space when that is less (at least 1 MiB).
/// Space is freed a whole segment at a time, so on a disk smaller than the
/// spool's budget, segments as large as the budget allows would pin the
/// disk full with acknowledged bytes.
fn segment_limit(shared: &Shared) -> u64 {
    match space::free_bytes(&shared.dir) {
        Some(free) => shared.segment_bytes.min((free / 8).max(MIN_SEGMENT_BYTES)),
        None => shared.segment_bytes,
    }
}

/// Starts the writer thread on a fresh segment `segment_id`.
pub(super) fn spawn(
    shared: Arc<Shared>,
    committed: watch::Sender<Position>,
    segment_id: u64,
    acker: Acker,
) -> std::io::Result<(Writer, JoinHandle<()>)> {
    let file = segment::create(&shared.dir, segment_id)?;
    let (sender, receiver) = mpsc::channel(QUEUE);
    let mut thread = Thread {
        segment_limit: segment_limit(&shared),
        shared,
        committed,
        segment_id,
        file,
        offset: segment::FIRST_RECORD,
        abandoned: false,
        acker,
        disk_full_log: Throttle::default(),
        budget_full_log: Throttle::default(),
        dead_letters_rescanned: None,
    };
    let handle = std::thread::Builder::new()
        .name("spool-writer".to_owned())
        .spawn(move || thread.run(receiver))?;
    Ok((Writer { sender }, handle))
}

impl Thread {
    fn run(&mut self, mut receiver: mpsc::Receiver<Request>) {
        let mut requests = Vec::new();
        while let Some(first) = receiver.blocking_recv() {
            requests.push(first);
            while requests.len() < QUEUE {
                match receiver.try_recv() {
                    Ok(request) => requests.push(request),
                    Err(_) => break,
                }
            }
            self.commit(&mut requests);
        }
        // Every sender is gone: the committed position is final. Dropping
        // `self.committed` tells the reader no more data will come.
        tracing::debug!("spool writer stopped");
    }

    /// Writes every request that fits, syncs once, then answers them all.
    /// A write that fails (a full disk, say) refuses that request and the
    /// ones after it; those before it are still synced and answered, so
    /// no request is refused whose records are then delivered (which would
    /// make the counters disagree).
    fn commit(&mut self, requests: &mut Vec<Request>) {
        let mut answers = Vec::with_capacity(requests.len());
        let mut dead_letters = Vec::new();
        let mut records = 0u64;
        let mut failure: Option<(std::io::Error, Vec<Reply>)> = None;
        for request in requests.drain(..) {
            let size = (request.append.frames.len() + request.append.dead_letters.len()) as u64;
            // Dead letters are never acknowledged: they hold their share of
            // the budget until an operator moves the files away.
            let used = self.used() + dead_letters.len() as u64;
            // An empty spool takes any batch, so one body larger than
            // `max_bytes` cannot be refused forever.
            if used > 0 && used + size > self.shared.max_bytes {
                self.refuse_full(used);
                let _ = request.reply.send(Err(AppendError::Full));
                continue;
            }
            if let Some((_, refused)) = &mut failure {
                refused.push(request.reply);
                continue;
            }
            if !request.append.frames.is_empty() {
                if let Err(error) = self.write(&request.append.frames) {
                    // Cut this request's partial frames; the ones before
                    // it stay.
                    if self.file.set_len(self.offset).is_err() {
                        self.abandoned = true;
                    }
                    failure = Some((error, vec![request.reply]));
                    continue;
                }
            }
            dead_letters.extend_from_slice(&request.append.dead_letters);
            records += request.append.records as u64;
            answers.push(request.reply);
        }
        if !answers.is_empty() {
            let result = self
                .file
                .sync_data()
                .and_then(|()| self.shared.dead_letters.append(&dead_letters));
            match result {
                Ok(()) => {
                    self.shared
                        .records_written
                        .fetch_add(records, Ordering::AcqRel);
                    self.shared.write_failed.store(false, Ordering::Release);
                    self.committed.send_replace(Position {
                        segment: self.segment_id,
                        offset: self.offset,
                    });
                    for reply in answers {
                        let _ = reply.send(Ok(()));
                    }
                }
                Err(error) => {
                    self.recover_after_error();
                    let refused = match &mut failure {
                        Some((_, refused)) => refused,
                        None => &mut failure.insert((error, Vec::new())).1,
                    };
                    refused.extend(answers);
                }
            }
        }
        if let Some((error, refused)) = failure {
            self.shared.write_failed.store(true, Ordering::Release);
            let disk_full = self.failed(&error);
            for reply in refused {
                let _ = reply.send(Err(if disk_full {
                    AppendError::DiskFull
                } else {
                    AppendError::Io(std::io::Error::new(error.kind(), error.to_string()))
                }));
            }
        }
    }

    /// Handles a failed write or sync: on a full disk (`true`) frees what
    /// delivered records hold and warns once a minute; otherwise logs the
    /// error.
    fn failed(&mut self, error: &std::io::Error) -> bool {
        if !space::is_disk_full(error) {
            tracing::error!(%error, "spool write failed; refusing the batches");
            return false;
        }
        self.release_acknowledged_space();
        if let Some(suppressed) = self.disk_full_log.ready() {
            let free_bytes = space::free_bytes(&self.shared.dir);
            tracing::warn!(
                %error,
                free_bytes,
                backlog_bytes = self.shared.unacked(),
                dead_letter_bytes = self.shared.dead_letters.bytes(),
                refused_since_last_warning = suppressed,
                "spool disk full; refusing batches (503) until space is freed"
            );
        }
        true
    }

    /// What `spool.max_bytes` bounds: unacknowledged records plus dead letters.
    fn used(&self) -> u64 {
        self.shared.unacked() + self.shared.dead_letters.bytes()
    }

    /// Logs (once a minute) that the budget refuses a batch; measures the
    /// dead-letter files again (at most every few seconds) so that files an
    /// operator moved away free the budget without a restart.
    fn refuse_full(&mut self, used: u64) {
        let dead_letter_bytes = self.shared.dead_letters.bytes();
        if dead_letter_bytes > 0
            && self
                .dead_letters_rescanned
                .is_none_or(|last| last.elapsed() >= RESCAN_INTERVAL)
        {
            self.dead_letters_rescanned = Some(Instant::now());
            if let Err(error) = self.shared.dead_letters.rescan() {
                tracing::debug!(%error, "cannot measure the dead-letter files");
            }
        }
        if let Some(suppressed) = self.budget_full_log.ready() {
            tracing::warn!(
                used_bytes = used,
                max_bytes = self.shared.max_bytes,
                backlog_bytes = self.shared.unacked(),
                dead_letter_bytes,
                refused_since_last_warning = suppressed,
                "spool budget used up; refusing batches (503) until the outputs catch up or dead-letter files are moved away"
            );
        }
    }

    /// On a full disk: moves to a new segment, so the current one can be
    /// deleted once acknowledged (the reader lets go of it as soon as the
    /// committed position is past it), and deletes what is acknowledged
    /// already. A failure (not even room for a new segment) is left for
    /// the next attempt.
    fn release_acknowledged_space(&mut self) {
        if self.offset > segment::FIRST_RECORD || self.abandoned {
            if let Err(error) = self.rotate() {
                tracing::debug!(%error, "cannot start a new spool segment on the full disk");
                return;
            }
            // Everything before the new segment is committed (a failed
            // commit was cut back first): the reader may close the old one,
            // which frees its space once it is deleted.
            self.committed.send_replace(Position {
                segment: self.segment_id,
                offset: segment::FIRST_RECORD,
            });
        }
        if let Err(error) = self.acker.collect() {
            tracing::debug!(%error, "cannot delete acknowledged spool segments");
        }
    }

    fn write(&mut self, frames: &[u8]) -> std::io::Result<()> {
        if self.abandoned
            || (self.offset > segment::FIRST_RECORD
                && self.offset + frames.len() as u64 > self.segment_limit)
        {
            self.rotate()?;
        }
        self.file.write_all(frames)?;
        self.offset += frames.len() as u64;
        self.shared
            .written
            .fetch_add(frames.len() as u64, Ordering::AcqRel);
        Ok(())
    }

    /// Closes the current segment (synced) and starts the next one.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.file.sync_data()?;
        let next = self.segment_id + 1;
        self.file = segment::create(&self.shared.dir, next)?;
        // The commit publishes a position in the new segment once its
        // requests are durable; from then on the reader reads this one to
        // its end and closes it, and the acker knows it is finished.
        self.segment_id = next;
        self.offset = segment::FIRST_RECORD;
        self.abandoned = false;
        self.segment_limit = segment_limit(&self.shared);
        Ok(())
    }

    /// After a failed sync the files may hold unacknowledged records past
    /// the committed position, in this segment and (if the commit started
    /// new segments) in earlier ones: cut each back, so that nothing a
    /// refused request wrote is ever read and later records follow valid
    /// ones. A segment that cannot be cut is abandoned: the next commit
    /// starts a new one.
    fn recover_after_error(&mut self) {
        let committed = *self.committed.borrow();
        let mut dropped = 0;
        for id in committed.segment..self.segment_id {
            let keep = if id == committed.segment {
                committed.offset
            } else {
                segment::FIRST_RECORD
            };
            let path = segment::path(&self.shared.dir, id);
            let cut = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|file| {
                    let length = file.metadata()?.len();
                    file.set_len(keep.min(length))?;
                    file.sync_data()?;
                    Ok(length.saturating_sub(keep))
                });
            match cut {
                Ok(bytes) => dropped += bytes,
                Err(error) => {
                    tracing::error!(%error, path = %path.display(), "cannot cut refused records from a spool segment; they will be delivered")
                }
            }
        }
        let keep = if committed.segment == self.segment_id {
            committed.offset
        } else {
            segment::FIRST_RECORD
        };
        if let Err(error) = self.file.set_len(keep) {
            tracing::error!(%error, "cannot truncate the spool segment after a failed write; starting a new one");
            self.abandoned = true;
        }
        dropped += self.offset.saturating_sub(keep);
        self.shared.written.fetch_sub(dropped, Ordering::AcqRel);
        self.offset = keep;
    }
}
