//! Acknowledgements: the acked watermark, its ledger file, and deletion of
//! fully acknowledged segments.
//!
//! Outputs acknowledge [`Receipt`]s in any order; the watermark advances
//! over the contiguous acknowledged prefix only, so a record is never
//! considered delivered while an earlier one is still in flight. The ledger
//! (`acked`: segment u64 LE, offset u64 LE, CRC-32 u32 LE) is rewritten
//! atomically (temp file + rename) at each advance and fsynced on close. A
//! ledger that lags or is lost in a crash only causes redelivery, never
//! loss; segments wholly below the watermark are deleted.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::error::Error;
use super::position::Position;
use super::reader::Receipt;
use super::segment;
use super::shared::Shared;
use super::space;
use crate::private_files;
use crate::telemetry::throttle::Throttle;

const LEDGER: &str = "acked";
const LEDGER_TMP: &str = "acked.tmp";

/// Takes acknowledgements; cheap to clone, one per output.
#[derive(Debug, Clone)]
pub struct Acker {
    shared: Arc<Shared>,
    state: Arc<Mutex<State>>,
    /// The writer's committed position: a segment below its segment is
    /// finished (nothing more is written to it).
    committed: watch::Receiver<Position>,
}

#[derive(Debug)]
struct State {
    watermark: Position,
    /// Acknowledged receipts beyond the watermark, by start: (end, bytes, records).
    pending: BTreeMap<Position, (Position, u64, u64)>,
    /// Segments below this id are deleted.
    deleted_below: u64,
    /// Ledger writes that failed on a full disk: one warning a minute.
    ledger_log: Throttle,
}

impl Acker {
    pub(super) fn new(
        shared: Arc<Shared>,
        watermark: Position,
        committed: watch::Receiver<Position>,
    ) -> Acker {
        Acker {
            shared,
            state: Arc::new(Mutex::new(State {
                watermark,
                pending: BTreeMap::new(),
                deleted_below: watermark.segment,
                ledger_log: Throttle::default(),
            })),
            committed,
        }
    }

    /// Deletes every segment wholly acknowledged: those below the
    /// watermark's, and the watermark's own once it is finished and the
    /// watermark is at its end (on a full disk the writer moves to a new
    /// segment so that this frees the old one without waiting for an ack
    /// in the next).
    pub(super) fn collect(&self) -> Result<(), Error> {
        let mut state = self.state.lock().map_err(|_| Error::Poisoned)?;
        self.delete_acknowledged(&mut state)
    }

    fn delete_acknowledged(&self, state: &mut State) -> Result<(), Error> {
        let watermark = state.watermark;
        let mut below = watermark.segment;
        if watermark.segment < self.committed.borrow().segment {
            let path = segment::path(&self.shared.dir, watermark.segment);
            let finished_at_end = match fs::metadata(&path) {
                Ok(metadata) => watermark.offset >= metadata.len(),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => true,
                Err(source) => return Err(Error::Io { path, source }),
            };
            if finished_at_end {
                below += 1;
            }
        }
        while state.deleted_below < below {
            let path = segment::path(&self.shared.dir, state.deleted_below);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(Error::Io { path, source }),
            }
            state.deleted_below += 1;
        }
        Ok(())
    }

    /// Marks a batch as delivered for good. Its records will not be read
    /// again once every earlier batch is acknowledged too.
    pub fn ack(&self, receipt: Receipt) -> Result<(), Error> {
        let mut state = self.state.lock().map_err(|_| Error::Poisoned)?;
        if receipt.end <= state.watermark {
            return Ok(());
        }
        state
            .pending
            .insert(receipt.start, (receipt.end, receipt.bytes, receipt.records));
        let before = state.watermark;
        while let Some((end, bytes, records)) = {
            let watermark = state.watermark;
            state.pending.remove(&watermark)
        } {
            state.watermark = end;
            self.shared.acked.fetch_add(bytes, Ordering::AcqRel);
            self.shared
                .records_acked
                .fetch_add(records, Ordering::AcqRel);
        }
        if state.watermark == before {
            return Ok(());
        }
        // Segments first: freeing space must not depend on writing the
        // ledger (on a full disk it may not be writable). A ledger that lags
        // behind deleted segments is corrected at open.
        self.delete_acknowledged(&mut state)?;
        match write_ledger(&self.shared.dir, state.watermark, false) {
            // A lagging ledger only means redelivery after a crash: on a
            // full disk that is the price, said once a minute.
            Err(Error::Io { path, source }) if space::is_disk_full(&source) => {
                if let Some(suppressed) = state.ledger_log.ready() {
                    tracing::warn!(
                        error = %source,
                        path = %path.display(),
                        failed_since_last_warning = suppressed,
                        "cannot update the spool ledger on a full disk; a crash now would deliver some records again"
                    );
                }
                Ok(())
            }
            written => written,
        }
    }

    /// The acknowledged watermark: the first record not yet delivered.
    pub(super) fn watermark(&self) -> Result<Position, Error> {
        Ok(self.state.lock().map_err(|_| Error::Poisoned)?.watermark)
    }

    /// Writes the ledger durably; call on shutdown. On a full disk it
    /// cannot be: the records since the last ledger are delivered again at
    /// the next start (said in a warning), which is no reason to fail.
    pub fn close(&self) -> Result<(), Error> {
        let state = self.state.lock().map_err(|_| Error::Poisoned)?;
        match write_ledger(&self.shared.dir, state.watermark, true) {
            Err(Error::Io { path, source }) if space::is_disk_full(&source) => {
                tracing::warn!(
                    error = %source,
                    path = %path.display(),
                    "cannot write the spool ledger on a full disk; some records will be delivered again at the next start"
                );
                Ok(())
            }
            written => written,
        }
    }
}

/// Reads the ledger; `None` when absent or unreadable (then everything still
/// on disk is delivered again).
pub(super) fn read_ledger(dir: &Path) -> Option<Position> {
    let bytes = fs::read(dir.join(LEDGER)).ok()?;
    let bytes: [u8; 20] = bytes.try_into().ok()?;
    let (body, crc) = bytes.split_at(16);
    if crc32fast::hash(body).to_le_bytes() != crc {
        tracing::warn!("spool ledger is corrupt; delivering every spooled record again");
        return None;
    }
    let (segment, offset) = body.split_at(8);
    Some(Position {
        segment: u64::from_le_bytes(segment.try_into().ok()?),
        offset: u64::from_le_bytes(offset.try_into().ok()?),
    })
}

fn write_ledger(dir: &Path, position: Position, sync: bool) -> Result<(), Error> {
    let mut bytes = Vec::with_capacity(20);
    bytes.extend_from_slice(&position.segment.to_le_bytes());
    bytes.extend_from_slice(&position.offset.to_le_bytes());
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    let tmp = dir.join(LEDGER_TMP);
    let io = |source| Error::Io {
        path: tmp.clone(),
        source,
    };
    let mut file = private_files::create(&tmp).map_err(io)?;
    file.write_all(&bytes).map_err(io)?;
    if sync {
        file.sync_all().map_err(io)?;
    }
    fs::rename(&tmp, dir.join(LEDGER)).map_err(io)?;
    if sync {
        segment::sync_dir(dir).map_err(io)?;
    }
    Ok(())
}
