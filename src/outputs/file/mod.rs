//! The NDJSON file output: one document per line, files rotated by size.
//!
//! Files are named `auth0-logs-<UTC start time>-<sequence>.ndjson` in
//! `output.file.dir`; each start of the agent writes a new file, created
//! with its first document (a restart without traffic adds none). A batch is
//! written and `fdatasync`ed before its spool records are acknowledged. A
//! crash can leave a partial last line in the newest file: on open it is cut
//! back to its last complete line (that batch was not acknowledged, so the
//! spool delivers it again).
//!
//! Files have no `_id` to absorb redeliveries, so the output keeps a window
//! of recently written `log_id`s ([`dedup::Window`]) and skips
//! repeats: an Auth0 retry, the same event from webhook and poller, or the
//! unacknowledged tail the spool delivers again after a crash. The window
//! is seeded at open from the end of the newest files, so that last case
//! survives a restart.

pub mod dedup;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use self::dedup::Window;
use crate::delivery::Delivery;
use crate::event::{Document, LogId};
use crate::private_files;
use crate::telemetry::metrics::Metrics;

/// `log_id`s remembered (a 128-bit digest each, ~40 bytes with the set):
/// minutes of a busy stream.
pub const DEDUP_WINDOW: usize = 200_000;
/// How much of the newest files is read at open to seed the window: more
/// than the batches that can be in flight when the agent dies.
const SEED_BYTES: u64 = 32 * 1024 * 1024;
/// Bytes handed to each `write`: big enough to amortise the syscall, small
/// enough to stay in the CPU cache (measured here: 1 MiB writes copy ~5x
/// cheaper per byte than 6 MiB ones).
const WRITE_CHUNK: usize = 512 * 1024;
const PREFIX: &str = "auth0-logs-";
const SUFFIX: &str = ".ndjson";

/// `[output.file]`, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory of the NDJSON files.
    pub dir: PathBuf,
    /// Size at which a file is closed and the next one started.
    pub max_file_bytes: u64,
    /// Closed files to keep; 0 keeps all.
    pub max_files: usize,
}

/// File output errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation failed.
    #[error("file output i/o on `{path}` failed")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// The open output.
#[derive(Debug)]
pub struct FileOutput {
    config: Config,
    path: PathBuf,
    /// The file being written: created with the first document, so a
    /// restart without traffic leaves no empty file behind.
    file: Option<File>,
    size: u64,
    sequence: u64,
    buffer: Vec<u8>,
    window: Window,
}

/// The documents of a batch the output writes: those whose `log_id` is not
/// in its recent window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    indices: Vec<usize>,
    duplicates: usize,
}

impl Selection {
    /// What writing it does.
    pub fn written(&self) -> Written {
        Written {
            documents: self.indices.len(),
            duplicates: self.duplicates,
        }
    }
}

/// What one [`FileOutput::write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Documents written.
    pub documents: usize,
    /// Documents skipped as already written.
    pub duplicates: usize,
}

impl FileOutput {
    /// Creates the directory and repairs a torn last line; the new file is
    /// created when the first document comes.
    pub fn open(config: Config) -> Result<FileOutput, Error> {
        private_files::create_dir_all(&config.dir).map_err(io(&config.dir))?;
        let existing = list(&config.dir).map_err(io(&config.dir))?;
        if let Some(newest) = existing.last() {
            repair_torn_line(newest).map_err(io(newest))?;
        }
        let mut window = Window::new(DEDUP_WINDOW);
        for id in recent_ids(&existing).map_err(io(&config.dir))? {
            window.insert(&id);
        }
        Ok(FileOutput {
            path: config.dir.clone(),
            config,
            file: None,
            size: 0,
            sequence: 0,
            buffer: Vec::with_capacity(1 << 20),
            window,
        })
    }

    /// Writes the documents not written recently, one per line, and syncs
    /// them: [`FileOutput::select`] then [`FileOutput::flush`]. Blocking.
    pub fn write(&mut self, documents: &[Document]) -> Result<Written, Error> {
        let selection = self.select(documents);
        self.flush(documents, &selection)?;
        Ok(selection.written())
    }

    /// Decides, once per batch, which documents are new (not in the dedup
    /// window); the window records them.
    pub fn select(&mut self, documents: &[Document]) -> Selection {
        let mut selection = Selection {
            indices: Vec::with_capacity(documents.len()),
            duplicates: 0,
        };
        for (index, document) in documents.iter().enumerate() {
            if document
                .id
                .as_ref()
                .is_some_and(|id| !self.window.insert(id))
            {
                selection.duplicates += 1;
            } else {
                selection.indices.push(index);
            }
        }
        selection
    }

    /// Writes the selected documents and syncs them. Lines go out in chunks
    /// of about [`WRITE_CHUNK`]: a chunk still in the CPU cache copies into
    /// the page cache several times faster than one large buffer. On an
    /// error nothing of the call stays in the file, so calling it again with
    /// the same selection is the retry.
    pub fn flush(&mut self, documents: &[Document], selection: &Selection) -> Result<(), Error> {
        if selection.indices.is_empty() {
            return Ok(());
        }
        if self.file.is_none() || self.size >= self.config.max_file_bytes {
            self.rotate()?;
        }
        let Some(file) = self.file.as_mut() else {
            // `rotate` succeeded, so a file is open.
            return Ok(());
        };
        let mut written = 0u64;
        let mut result = Ok(());
        self.buffer.clear();
        let selected = selection
            .indices
            .iter()
            .filter_map(|&index| documents.get(index));
        for document in selected {
            self.buffer.extend_from_slice(document.json.as_bytes());
            self.buffer.push(b'\n');
            if self.buffer.len() >= WRITE_CHUNK {
                result = file.write_all(&self.buffer);
                if result.is_err() {
                    break;
                }
                written += self.buffer.len() as u64;
                self.buffer.clear();
            }
        }
        if result.is_ok() && !self.buffer.is_empty() {
            result = file.write_all(&self.buffer);
            written += self.buffer.len() as u64;
        }
        if result.is_ok() {
            result = file.sync_data();
        }
        if let Err(source) = result {
            // Cut a partial write so the retry does not leave a torn line.
            let _ = file.set_len(self.size);
            return Err(Error::Io {
                path: self.path.clone(),
                source,
            });
        }
        self.size += written;
        Ok(())
    }

    /// Starts the next file (the first one of this run when none is open).
    fn rotate(&mut self) -> Result<(), Error> {
        if self.file.is_some() {
            self.sequence += 1;
        }
        let (path, file) = create(&self.config.dir, self.sequence)?;
        self.path = path;
        self.file = Some(file);
        self.size = 0;
        if self.config.max_files > 0 {
            let files = list(&self.config.dir).map_err(io(&self.config.dir))?;
            // The current file is not counted among the closed ones.
            let closed = files.len().saturating_sub(1);
            for old in files
                .iter()
                .take(closed.saturating_sub(self.config.max_files))
            {
                fs::remove_file(old).map_err(io(old))?;
            }
        }
        Ok(())
    }
}

/// Pause before retrying a failed write (a full disk, say): the batch stays
/// unacknowledged in the spool meanwhile, and the spool's bound turns the
/// stall into 503s at the webhook.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Runs the output on its own thread until the delivery side hangs up.
/// At `abort` (the shutdown deadline) it stops retrying and leaves the
/// batch unfinished, so a full disk cannot hold shutdown forever.
pub fn spawn(
    mut output: FileOutput,
    mut deliveries: mpsc::Receiver<Delivery>,
    metrics: Arc<Metrics>,
    abort: CancellationToken,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("output-file".to_owned())
        .spawn(move || {
            while let Some(delivery) = deliveries.blocking_recv() {
                let selection = output.select(&delivery.documents);
                let mut failures = 0u32;
                let started = std::time::Instant::now();
                while let Err(error) = output.flush(&delivery.documents, &selection) {
                    metrics.health.output_failed("file", &error.to_string());
                    if abort.is_cancelled() {
                        tracing::warn!(%error, "file output gives up at shutdown; the batch stays in the spool");
                        return;
                    }
                    if failures.is_multiple_of(60) {
                        tracing::error!(%error, failures, "file output cannot write; retrying");
                    }
                    failures += 1;
                    std::thread::sleep(RETRY_PAUSE);
                }
                metrics.health.output_succeeded("file");
                if let Some(histogram) = metrics.exporter.output_request_duration("file") {
                    histogram.record(started.elapsed().as_secs_f64());
                }
                let written = selection.written();
                Metrics::add(&metrics.documents_written_file, written.documents as u64);
                Metrics::add(&metrics.documents_duplicate_file, written.duplicates as u64);
                delivery.finish();
            }
        })
}

fn io(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

fn create(dir: &Path, sequence: u64) -> Result<(PathBuf, File), Error> {
    let now = OffsetDateTime::now_utc();
    let path = dir.join(format!(
        "{PREFIX}{:04}{:02}{:02}T{:02}{:02}{:02}{:03}Z-{sequence:06}{SUFFIX}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond(),
    ));
    let file = private_files::open_options(OpenOptions::new().create(true).append(true))
        .open(&path)
        .map_err(io(&path))?;
    // Make the new name durable, so a synced batch is findable after a crash.
    File::open(dir)
        .and_then(|directory| directory.sync_all())
        .map_err(io(dir))?;
    Ok((path, file))
}

/// The output files in `dir`, oldest first (names sort by time).
pub fn list(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with(PREFIX) && name.ends_with(SUFFIX) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// The `event.id`s in the last [`SEED_BYTES`] of `files` (oldest first).
fn recent_ids(files: &[PathBuf]) -> io::Result<Vec<LogId>> {
    #[derive(serde::Deserialize)]
    struct Line {
        event: Option<Event>,
    }
    #[derive(serde::Deserialize)]
    struct Event {
        id: Option<String>,
    }
    let mut ids = Vec::new();
    let mut budget = SEED_BYTES;
    for path in files.iter().rev() {
        if budget == 0 {
            break;
        }
        let mut file = File::open(path)?;
        let length = file.metadata()?.len();
        let start = length.saturating_sub(budget);
        budget -= length - start;
        let mut tail = Vec::new();
        io::Seek::seek(&mut file, io::SeekFrom::Start(start))?;
        io::Read::read_to_end(&mut file, &mut tail)?;
        // From the middle of a file, the first line is partial: skip it.
        let whole = if start > 0 {
            tail.iter()
                .position(|&byte| byte == b'\n')
                .map_or(&tail[..0], |index| &tail[index + 1..])
        } else {
            &tail[..]
        };
        let mut file_ids: Vec<LogId> = whole
            .split(|&byte| byte == b'\n')
            .filter_map(|line| serde_json::from_slice::<Line>(line).ok())
            .filter_map(|line| line.event?.id.map(LogId))
            .collect();
        file_ids.append(&mut ids);
        ids = file_ids;
    }
    Ok(ids)
}

fn repair_torn_line(path: &Path) -> io::Result<()> {
    let bytes = fs::read(path)?;
    let complete = bytes
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |index| index + 1);
    if complete < bytes.len() {
        tracing::warn!(
            path = %path.display(),
            bytes = bytes.len() - complete,
            "cut a partial last line left by a crash"
        );
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(complete as u64)?;
        file.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &tempfile::TempDir, max_file_bytes: u64, max_files: usize) -> Config {
        Config {
            dir: dir.path().to_owned(),
            max_file_bytes,
            max_files,
        }
    }

    fn document(n: usize) -> Document {
        Document {
            id: None,
            json: format!("{{\"n\":{n}}}"),
        }
    }

    #[test]
    fn rotates_by_size_keeps_max_files_and_repairs_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(&dir, 20, 2);
        let mut output = FileOutput::open(config.clone()).unwrap();
        for n in 0..10 {
            // Documents without a log id are never taken for duplicates.
            output.write(&[document(n), document(n)]).unwrap();
        }
        let files = list(dir.path()).unwrap();
        assert_eq!(files.len(), 3, "two closed files and the current one");
        let last = fs::read_to_string(files.last().unwrap()).unwrap();
        // 16-byte writes: a file passes 20 bytes at its second write.
        assert_eq!(last, "{\"n\":8}\n{\"n\":8}\n{\"n\":9}\n{\"n\":9}\n");

        let mut torn = OpenOptions::new()
            .append(true)
            .open(files.last().unwrap())
            .unwrap();
        torn.write_all(b"{\"n\":10").unwrap();
        drop(output);
        let _reopened = FileOutput::open(config).unwrap();
        assert_eq!(fs::read_to_string(files.last().unwrap()).unwrap(), last);
    }

    #[test]
    fn r10_restarts_without_documents_leave_no_empty_files() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(&dir, 1 << 20, 0);
        for _ in 0..3 {
            drop(FileOutput::open(config.clone()).unwrap());
        }
        assert!(list(dir.path()).unwrap().is_empty());
        let mut output = FileOutput::open(config).unwrap();
        output.write(&[document(1)]).unwrap();
        output.write(&[document(2)]).unwrap();
        let files = list(dir.path()).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(
            fs::read_to_string(&files[0]).unwrap(),
            "{\"n\":1}\n{\"n\":2}\n"
        );
    }

    fn with_id(id: &str) -> Document {
        Document {
            id: Some(LogId(id.to_owned())),
            json: format!("{{\"event\":{{\"id\":\"{id}\"}}}}"),
        }
    }

    #[test]
    fn redelivered_ids_are_skipped_even_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(&dir, 1 << 20, 0);
        let mut output = FileOutput::open(config.clone()).unwrap();
        let written = output
            .write(&[with_id("a"), with_id("b"), with_id("a")])
            .unwrap();
        assert_eq!(
            written,
            Written {
                documents: 2,
                duplicates: 1
            }
        );
        drop(output);
        let mut output = FileOutput::open(config).unwrap();
        let written = output.write(&[with_id("b"), with_id("c")]).unwrap();
        assert_eq!(
            written,
            Written {
                documents: 1,
                duplicates: 1
            }
        );
        let lines: Vec<String> = list(dir.path())
            .unwrap()
            .iter()
            .flat_map(|file| {
                fs::read_to_string(file)
                    .unwrap()
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(lines.len(), 3);
    }
}
