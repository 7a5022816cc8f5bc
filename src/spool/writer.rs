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

use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot, watch};

use super::dead_letter::{self, Stage};
use super::{record, segment, Position, Shared};
use crate::event::Input;

/// Requests waiting for the writer thread; more wait on the channel's
/// senders (bounded, like every channel here).
const QUEUE: usize = 1024;

/// A batch to append: encoded records plus dead letters, written and
/// fsynced together.
#[derive(Debug, Default)]
pub struct Append {
    frames: Vec<u8>,
    records: usize,
    dead_letters: Vec<u8>,
    rejected: usize,
}

/// Why an append was not made durable. Nothing of the batch was written.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The spool is closed (the agent is shutting down).
    #[error("spool is closed")]
    Closed,
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
    reply: oneshot::Sender<Result<(), AppendError>>,
}

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
            frames: Vec::with_capacity(bytes + bytes / 16 + 64),
            ..Append::default()
        }
    }

    /// Adds an event to be spooled.
    pub fn push(&mut self, input: Input, received_at: OffsetDateTime, event: &[u8]) {
        record::encode(&mut self.frames, input, received_at, event);
        self.records += 1;
    }

    /// Adds an item that is rejected: it goes to the dead-letter file, verbatim.
    pub fn reject(&mut self, input: Input, received_at: OffsetDateTime, reason: &str, raw: &[u8]) {
        dead_letter::encode(
            &mut self.dead_letters,
            received_at,
            input,
            Stage::Input,
            reason,
            raw,
        );
        self.rejected += 1;
    }

    /// Events pushed.
    pub fn records(&self) -> usize {
        self.records
    }

    /// Items rejected.
    pub fn rejected(&self) -> usize {
        self.rejected
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

/// Starts the writer thread on a fresh segment `segment_id`.
pub(super) fn spawn(
    shared: Arc<Shared>,
    committed: watch::Sender<Position>,
    segment_id: u64,
) -> std::io::Result<(Writer, JoinHandle<()>)> {
    let file = segment::create(&shared.dir, segment_id)?;
    let (sender, receiver) = mpsc::channel(QUEUE);
    let mut thread = Thread {
        shared,
        committed,
        segment_id,
        file,
        offset: segment::FIRST_RECORD,
        abandoned: false,
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
    fn commit(&mut self, requests: &mut Vec<Request>) {
        let mut answers = Vec::with_capacity(requests.len());
        let mut result: Result<(), std::io::Error> = Ok(());
        let mut dead_letters = Vec::new();
        let mut records = 0u64;
        for request in requests.drain(..) {
            let size = request.append.frames.len() as u64;
            let used = self.shared.unacked();
            // An empty spool takes any batch, so one body larger than
            // `max_bytes` cannot be refused forever.
            if used > 0 && used + size > self.shared.max_bytes {
                let _ = request.reply.send(Err(AppendError::Full));
                continue;
            }
            if result.is_ok() && !request.append.frames.is_empty() {
                result = self.write(&request.append.frames);
            }
            dead_letters.extend_from_slice(&request.append.dead_letters);
            records += request.append.records as u64;
            answers.push(request.reply);
        }
        if result.is_ok() {
            result = self.file.sync_data();
        }
        if result.is_ok() {
            result = self.shared.dead_letters.append(&dead_letters);
        }
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
                tracing::error!(%error, "spool write failed; refusing the batches");
                self.shared.write_failed.store(true, Ordering::Release);
                self.recover_after_error();
                for reply in answers {
                    let _ = reply.send(Err(AppendError::Io(std::io::Error::new(
                        error.kind(),
                        error.to_string(),
                    ))));
                }
            }
        }
    }

    fn write(&mut self, frames: &[u8]) -> std::io::Result<()> {
        if self.abandoned
            || (self.offset > segment::FIRST_RECORD
                && self.offset + frames.len() as u64 > self.shared.segment_bytes)
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
        // The reader moves on once the committed position is in the next
        // segment; publish the end of this one first, it is synced.
        self.committed.send_replace(Position {
            segment: self.segment_id,
            offset: self.offset,
        });
        self.segment_id = next;
        self.offset = segment::FIRST_RECORD;
        self.abandoned = false;
        Ok(())
    }

    /// After a failed write the file may hold a partial, unacknowledged
    /// tail; cut it back to the committed offset so later records follow
    /// valid ones. If it cannot be cut, the segment is abandoned: the next
    /// commit starts a new one (the reader stops at the committed end).
    fn recover_after_error(&mut self) {
        let committed = *self.committed.borrow();
        let keep = if committed.segment == self.segment_id {
            committed.offset
        } else {
            segment::FIRST_RECORD
        };
        if let Err(error) = self.file.set_len(keep) {
            tracing::error!(%error, "cannot truncate the spool segment after a failed write; starting a new one");
            self.abandoned = true;
        }
        let dropped = self.offset.saturating_sub(keep);
        self.shared.written.fetch_sub(dropped, Ordering::AcqRel);
        self.offset = keep;
    }
}
