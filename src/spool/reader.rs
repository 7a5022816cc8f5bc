//! The spool reader: hands committed records to the pipeline in batches.
//!
//! It only reads up to the position the writer has published as committed
//! (fsynced), so it never sees a record that could still vanish in a crash.
//! Each [`Batch`] carries a [`Receipt`]; consecutive batches' receipts are
//! contiguous, which lets the [`super::Acker`] take acknowledgements in any
//! order.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::watch;

use super::error::Error;
use super::position::Position;
use super::record::{self, HEADER_LEN};
use super::segment;
use super::shared::Shared;
use crate::event::RawEvent;

/// Read buffer; large reads keep the reader to a few syscalls per batch.
const BUFFER: usize = 1 << 20;

/// Reads committed records in order.
#[derive(Debug)]
pub struct Reader {
    shared: Arc<Shared>,
    committed: watch::Receiver<Position>,
    /// Where the next record is read.
    position: Position,
    /// Where the next batch starts: the end of the last batch returned.
    batch_start: Position,
    /// Record bytes read since `batch_start`.
    batch_bytes: u64,
    file: Option<Open>,
}

#[derive(Debug)]
struct Open {
    reader: BufReader<File>,
    /// The segment's final length, read once the writer has moved past it
    /// (never earlier: while it is written, only the committed offset counts).
    finished_length: Option<u64>,
}

/// Records read together, acknowledged together.
#[derive(Debug)]
pub struct Batch {
    /// The events, in spool order.
    pub events: Vec<RawEvent>,
    /// What to give [`super::Acker::ack`] once every event is delivered.
    pub receipt: Receipt,
}

/// The span of spool a batch covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub(super) start: Position,
    pub(super) end: Position,
    /// Record bytes between `start` and `end`.
    pub(super) bytes: u64,
    /// Records between `start` and `end`.
    pub(super) records: u64,
}

impl Reader {
    pub(super) fn new(
        shared: Arc<Shared>,
        committed: watch::Receiver<Position>,
        position: Position,
    ) -> Reader {
        Reader {
            shared,
            committed,
            position,
            batch_start: position,
            batch_bytes: 0,
            file: None,
        }
    }

    /// Reads up to `max_events` events or about `max_bytes` of them from
    /// what is committed. `None` when nothing new is committed. Blocking
    /// (file reads): call it from a blocking thread.
    pub fn read(&mut self, max_events: usize, max_bytes: usize) -> Result<Option<Batch>, Error> {
        let mut events = Vec::new();
        let mut bytes = 0;
        while events.len() < max_events && bytes < max_bytes {
            let committed = *self.committed.borrow_and_update();
            if self.position.segment > committed.segment {
                break;
            }
            let open = match &mut self.file {
                Some(open) => open,
                None => match open(&self.shared, self.position) {
                    Ok(opened) => self.file.insert(opened),
                    // Hand on what was read; the next call meets the error.
                    Err(_) if !events.is_empty() => break,
                    Err(error) => return Err(error),
                },
            };
            let end = if self.position.segment < committed.segment {
                match open.finished_length {
                    Some(length) => length,
                    None => {
                        // The writer synced this segment before creating the
                        // next one, so its length is final now.
                        let path = segment::path(&self.shared.dir, self.position.segment);
                        let length = open
                            .reader
                            .get_ref()
                            .metadata()
                            .map_err(|source| Error::Io { path, source })?
                            .len();
                        *open.finished_length.insert(length)
                    }
                }
            } else {
                committed.offset
            };
            if self.position.offset >= end {
                if self.position.segment < committed.segment {
                    // Finished segment read to its end: on to the next one.
                    self.position = Position {
                        segment: self.position.segment + 1,
                        offset: segment::FIRST_RECORD,
                    };
                    self.file = None;
                    continue;
                }
                break;
            }
            match read_frame(&mut open.reader, end - self.position.offset) {
                Ok(event) => {
                    let frame_len = record::frame_len(event.bytes.len()) as u64;
                    self.position.offset += frame_len;
                    self.batch_bytes += frame_len;
                    bytes += event.bytes.len();
                    events.push(event);
                }
                Err(reason) => {
                    // Committed data failed its checksum: the disk changed
                    // under us. Skip to the next point known to be a frame
                    // boundary and say loudly what was lost.
                    tracing::error!(
                        segment = self.position.segment,
                        offset = self.position.offset,
                        %reason,
                        "corrupt spool record; skipping the rest of it"
                    );
                    self.batch_bytes += end - self.position.offset;
                    self.position.offset = end;
                    self.file = None;
                }
            }
        }
        if events.is_empty() {
            return Ok(None);
        }
        let receipt = Receipt {
            start: self.batch_start,
            end: self.position,
            bytes: self.batch_bytes,
            records: events.len() as u64,
        };
        self.batch_start = self.position;
        self.batch_bytes = 0;
        Ok(Some(Batch { events, receipt }))
    }

    /// Waits until more is committed. Returns `false` once the writer has
    /// stopped and nothing more will come.
    pub async fn wait(&mut self) -> bool {
        self.committed.changed().await.is_ok()
    }
}

fn open(shared: &Shared, position: Position) -> Result<Open, Error> {
    let path = segment::path(&shared.dir, position.segment);
    let io = |source| Error::Io {
        path: path.clone(),
        source,
    };
    let mut file = File::open(&path).map_err(io)?;
    file.seek(SeekFrom::Start(position.offset)).map_err(io)?;
    Ok(Open {
        reader: BufReader::with_capacity(BUFFER, file),
        finished_length: None,
    })
}

fn read_frame(reader: &mut BufReader<File>, available: u64) -> Result<RawEvent, String> {
    let mut header = [0u8; HEADER_LEN];
    reader
        .read_exact(&mut header)
        .map_err(|error| error.to_string())?;
    let (len, crc) = record::decode_header(header).map_err(|error| error.to_string())?;
    if (HEADER_LEN + len) as u64 > available {
        return Err(format!("frame of {len} bytes overruns the committed data"));
    }
    let mut payload = vec![0u8; len];
    reader
        .read_exact(&mut payload)
        .map_err(|error| error.to_string())?;
    record::decode_payload(Bytes::from(payload), crc).map_err(|error| error.to_string())
}
