//! The dead-letter file: events (or documents) that cannot be delivered,
//! kept verbatim with the reason, one JSON object per line.
//!
//! ```json
//! {"time":"2026-11-21T10:00:00Z","input":"webhook","stage":"input","reason":"invalid JSON: …","raw":"{\"log_id\":…"}
//! ```
//!
//! `raw` holds the bytes as text when they are UTF-8; otherwise `raw_base64`
//! holds them base64-encoded, so nothing is ever altered. The file lives in
//! the spool directory (`dead-letter.ndjson`) and every append is fsynced
//! before the caller acknowledges anything.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine;
use serde::Serialize;
use time::OffsetDateTime;

use crate::event::Input;
use crate::private_files;

/// The file name inside the spool directory.
pub const FILE_NAME: &str = "dead-letter.ndjson";

/// Where in the agent an item was given up on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Rejected by an input's framing (bad JSON, not an object).
    Input,
    /// The pipeline could not turn it into a document.
    Pipeline,
    /// An output refused it permanently (e.g. an Elasticsearch mapping error).
    Output,
}

/// An append-only, fsynced dead-letter file.
#[derive(Debug)]
pub struct DeadLetters {
    path: PathBuf,
    file: Mutex<File>,
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    input: &'a str,
    stage: &'static str,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_base64: Option<String>,
}

/// Appends one dead-letter line (with its newline) to `out`.
pub fn encode(
    out: &mut Vec<u8>,
    time: OffsetDateTime,
    input: Input,
    stage: Stage,
    reason: &str,
    raw: &[u8],
) {
    encode_named(out, time, input.as_str(), stage, reason, raw);
}

/// Like [`encode`], for an item whose input is known only by name (an
/// output has the document, whose `input.type` says it, not the event).
pub fn encode_named(
    out: &mut Vec<u8>,
    time: OffsetDateTime,
    input: &str,
    stage: Stage,
    reason: &str,
    raw: &[u8],
) {
    let text = std::str::from_utf8(raw).ok();
    let line = Line {
        time,
        input,
        stage: stage.as_str(),
        reason,
        raw: text,
        raw_base64: match text {
            Some(_) => None,
            None => Some(base64::engine::general_purpose::STANDARD.encode(raw)),
        },
    };
    // Serializing this struct into a Vec cannot fail: every field is a
    // string or a valid date.
    if serde_json::to_writer(&mut *out, &line).is_ok() {
        out.push(b'\n');
    }
}

impl Stage {
    /// The name written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Input => "input",
            Stage::Pipeline => "pipeline",
            Stage::Output => "output",
        }
    }
}

impl DeadLetters {
    /// Opens (creating, durably) the dead-letter file in `dir`.
    pub fn open(dir: &Path) -> io::Result<DeadLetters> {
        let path = dir.join(FILE_NAME);
        let file = private_files::open_options(OpenOptions::new().create(true).append(true))
            .open(&path)?;
        // The file's directory entry must survive a power loss too.
        File::open(dir)?.sync_all()?;
        Ok(DeadLetters {
            path,
            file: Mutex::new(file),
        })
    }

    /// The file's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends lines made by [`encode`] and fsyncs them. Blocking.
    pub fn append(&self, lines: &[u8]) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut file = self
            .file
            .lock()
            .map_err(|_| io::Error::other("dead-letter file lock poisoned"))?;
        let length = file.metadata()?.len();
        let written = file.write_all(lines).and_then(|()| file.sync_data());
        if written.is_err() {
            // Cut a partial append so the next one does not join a torn line.
            let _ = file.set_len(length);
        }
        written
    }
}
