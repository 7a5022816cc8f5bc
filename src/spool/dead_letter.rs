//! The dead-letter files: events (or documents) that cannot be delivered,
//! kept verbatim with the reason, one JSON object per line.
//!
//! ```json
//! {"time":"2026-11-21T10:00:00Z","input":"webhook","stage":"input","reason":"invalid JSON: …","raw":"{\"log_id\":…"}
//! ```
//!
//! `raw` holds the bytes as text when they are UTF-8; otherwise `raw_base64`
//! holds them base64-encoded, so nothing is ever altered.
//!
//! # A body whose rejects would outgrow it
//!
//! An input body's rejected items never cost more than the body itself
//! (see `Append::for_body`): past [`MAX_REJECTED_ITEMS`] rejected items, or
//! once their entries would be larger than the body, the body is
//! dead-lettered as **one** entry ([`encode_body`]) with `rejected` (the
//! count), `accepted` (its valid events, which were spooled as usual),
//! `reasons` (the first [`FIRST_REASONS`]) and the whole body: `raw` when it
//! is UTF-8 and escapes to at most 1/16 more, else `raw_gzip_base64`
//! (`base64 -d | gunzip` gives the body back) when gzip shrinks it, else
//! `raw_base64`.
//!
//! # Files and budget
//!
//! The files live in the spool directory: `dead-letter.ndjson` is written;
//! once it would pass `spool.dead_letter_max_file_bytes` it is renamed
//! `dead-letter.ndjson.<n>` (`n` = 1, 2, …: the highest is the newest) and a
//! new one is started. The agent never deletes one: their bytes count
//! against `spool.max_bytes`, and when that budget is used up the webhook
//! answers 503 (logged) until an operator moves rotated files away (after
//! replaying them, say). Every append is fsynced before the caller
//! acknowledges anything.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use base64::Engine;
use serde::Serialize;
use time::OffsetDateTime;

use crate::event::Input;
use crate::private_files;

/// The file name inside the spool directory.
pub const FILE_NAME: &str = "dead-letter.ndjson";
/// Rejected items of one body kept as single entries; one more and the
/// body is kept whole instead.
pub const MAX_REJECTED_ITEMS: usize = 1000;
/// Reasons kept in a whole-body entry.
pub const FIRST_REASONS: usize = 10;
/// `spool.dead_letter_max_file_bytes` when unset: the size at which the file
/// is rotated, small enough to move or replay one file at a time.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// An upper bound on an entry's bytes besides its reason and raw bytes.
const ENTRY_OVERHEAD: usize = 128;

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

/// The append-only, fsynced, rotating dead-letter files of a spool.
#[derive(Debug)]
pub struct DeadLetters {
    dir: PathBuf,
    path: PathBuf,
    max_file_bytes: u64,
    current: Mutex<Current>,
    /// Bytes in every dead-letter file of the directory.
    bytes: AtomicU64,
}

#[derive(Debug)]
struct Current {
    file: File,
    length: u64,
}

/// What a whole-body entry says besides the body.
#[derive(Debug, Default)]
pub struct BodySummary {
    /// Items of the body rejected.
    pub rejected: usize,
    /// Events of the body spooled.
    pub accepted: usize,
    /// The first [`FIRST_REASONS`] reasons.
    pub reasons: Vec<String>,
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(with = "time::serde::rfc3339")]
    time: OffsetDateTime,
    input: &'a str,
    stage: &'static str,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    accepted: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasons: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_gzip_base64: Option<String>,
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
        raw: text,
        raw_base64: match text {
            Some(_) => None,
            None => Some(base64::engine::general_purpose::STANDARD.encode(raw)),
        },
        ..Line::new(time, input, stage, reason)
    };
    write_line(out, &line);
}

/// At least the bytes [`encode`] appends for `reason` and `raw`, computed
/// without encoding (a line of control characters escapes to six times its
/// size, so the budget is checked before the bytes are spent).
pub fn encoded_len(reason: &str, raw: &[u8]) -> usize {
    let raw_len = match std::str::from_utf8(raw) {
        Ok(text) => json_string_len(text),
        Err(_) => raw.len().div_ceil(3) * 4 + 2,
    };
    ENTRY_OVERHEAD + json_string_len(reason) + raw_len
}

/// Appends the one entry that stands for a whole body (see the module docs).
pub fn encode_body(
    out: &mut Vec<u8>,
    time: OffsetDateTime,
    input: Input,
    summary: &BodySummary,
    body: &[u8],
) {
    let reason = format!(
        "{} items rejected (more than {MAX_REJECTED_ITEMS}, or more bytes than the body): the whole body is kept in this entry; its {} valid events were spooled",
        summary.rejected, summary.accepted
    );
    let mut line = Line {
        rejected: Some(summary.rejected),
        accepted: Some(summary.accepted),
        reasons: Some(&summary.reasons),
        ..Line::new(time, input.as_str(), Stage::Input, &reason)
    };
    let text = std::str::from_utf8(body)
        .ok()
        .filter(|text| json_string_len(text) <= body.len() + body.len() / 16 + 2);
    match text {
        Some(text) => line.raw = Some(text),
        None => {
            let engine = &base64::engine::general_purpose::STANDARD;
            match gzip(body).filter(|compressed| compressed.len() < body.len()) {
                Some(compressed) => line.raw_gzip_base64 = Some(engine.encode(compressed)),
                None => line.raw_base64 = Some(engine.encode(body)),
            }
        }
    }
    write_line(out, &line);
}

impl<'a> Line<'a> {
    fn new(time: OffsetDateTime, input: &'a str, stage: Stage, reason: &'a str) -> Line<'a> {
        Line {
            time,
            input,
            stage: stage.as_str(),
            reason,
            rejected: None,
            accepted: None,
            reasons: None,
            raw: None,
            raw_base64: None,
            raw_gzip_base64: None,
        }
    }
}

fn write_line(out: &mut Vec<u8>, line: &Line<'_>) {
    // Serializing this struct into a Vec cannot fail: every field is a
    // string, a number or a valid date.
    if serde_json::to_writer(&mut *out, line).is_ok() {
        out.push(b'\n');
    }
}

/// The length of `text` as a JSON string, quotes included, as serde_json
/// writes it.
fn json_string_len(text: &str) -> usize {
    2 + text
        .bytes()
        .map(|byte| match byte {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 8),
        flate2::Compression::fast(),
    );
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
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
    /// Opens (creating, durably) the dead-letter file in `dir`, rotating it
    /// past `max_file_bytes`.
    pub fn open(dir: &Path, max_file_bytes: u64) -> io::Result<DeadLetters> {
        let path = dir.join(FILE_NAME);
        let file = private_files::open_options(OpenOptions::new().create(true).append(true))
            .open(&path)?;
        // The file's directory entry must survive a power loss too.
        File::open(dir)?.sync_all()?;
        let length = file.metadata()?.len();
        let dead_letters = DeadLetters {
            dir: dir.to_owned(),
            path,
            max_file_bytes,
            current: Mutex::new(Current { file, length }),
            bytes: AtomicU64::new(0),
        };
        dead_letters.rescan()?;
        Ok(dead_letters)
    }

    /// The file's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// After `auth0-ingest replay` moved the file aside (or an operator
    /// did), appends go to a new file at the path, not to the moved one.
    fn reopen_if_moved(&self, current: &mut Current) -> io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let open = current.file.metadata()?;
        let moved = match fs::metadata(&self.path) {
            Ok(at_path) => at_path.ino() != open.ino() || at_path.dev() != open.dev(),
            Err(error) if error.kind() == io::ErrorKind::NotFound => true,
            Err(error) => return Err(error),
        };
        if moved {
            let file = private_files::open_options(OpenOptions::new().create(true).append(true))
                .open(&self.path)?;
            File::open(&self.dir)?.sync_all()?;
            let length = file.metadata()?.len();
            *current = Current { file, length };
            // The moved file no longer counts against the budget.
            self.rescan_locked()?;
        }
        Ok(())
    }

    /// Bytes in all dead-letter files (as of the last append or
    /// [`DeadLetters::rescan`]).
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Acquire)
    }

    /// Counts the files' bytes again, to notice rotated files an operator
    /// moved away.
    pub fn rescan(&self) -> io::Result<u64> {
        // Under the file lock: an append between its write and its count
        // would otherwise be lost or counted twice.
        let _current = self
            .current
            .lock()
            .map_err(|_| io::Error::other("dead-letter file lock poisoned"))?;
        self.rescan_locked()
    }

    /// [`DeadLetters::rescan`], the caller holding the file lock.
    fn rescan_locked(&self) -> io::Result<u64> {
        let mut total = 0;
        for (_, path) in files(&self.dir)? {
            match fs::metadata(&path) {
                Ok(metadata) => total += metadata.len(),
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        self.bytes.store(total, Ordering::Release);
        Ok(total)
    }

    /// Appends lines made by [`encode`] and fsyncs them. Blocking.
    pub fn append(&self, lines: &[u8]) -> io::Result<()> {
        if lines.is_empty() {
            return Ok(());
        }
        let mut current = self
            .current
            .lock()
            .map_err(|_| io::Error::other("dead-letter file lock poisoned"))?;
        self.reopen_if_moved(&mut current)?;
        if current.length > 0 && current.length + lines.len() as u64 > self.max_file_bytes {
            self.rotate(&mut current)?;
        }
        let length = current.length;
        let written = current
            .file
            .write_all(lines)
            .and_then(|()| current.file.sync_data());
        if let Err(error) = written {
            // Cut a partial append so the next one does not join a torn line.
            let _ = current.file.set_len(length);
            return Err(error);
        }
        current.length += lines.len() as u64;
        self.bytes.fetch_add(lines.len() as u64, Ordering::AcqRel);
        Ok(())
    }

    /// Renames the current file `dead-letter.ndjson.<n>` (one above the
    /// highest) and starts an empty one.
    fn rotate(&self, current: &mut Current) -> io::Result<()> {
        let next = files(&self.dir)?
            .iter()
            .map(|(number, _)| *number)
            .max()
            .unwrap_or(0)
            + 1;
        fs::rename(&self.path, self.dir.join(format!("{FILE_NAME}.{next}")))?;
        // A crash here leaves no current file; `open` creates it.
        let file = private_files::open_options(OpenOptions::new().create(true).append(true))
            .open(&self.path)?;
        File::open(&self.dir)?.sync_all()?;
        let length = file.metadata()?.len();
        *current = Current { file, length };
        Ok(())
    }
}

/// The dead-letter files of `dir`: (number, path), the current one as 0.
fn files(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let number = match name.strip_prefix(FILE_NAME) {
            Some("") => 0,
            Some(suffix) => match suffix.strip_prefix('.').and_then(|n| n.parse().ok()) {
                Some(number) => number,
                None => continue,
            },
            None => continue,
        };
        found.push((number, entry.path()));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn encoded_len_bounds_the_encoding() {
        for raw in [
            &b"{\"a\":1}"[..],
            b"\x01\x02\n\"\\ plain",
            b"\xff\xfe not utf-8",
            b"",
        ] {
            let mut out = Vec::new();
            let reason = "invalid JSON: \"quoted\"\n";
            encode(
                &mut out,
                OffsetDateTime::now_utc(),
                Input::Webhook,
                Stage::Input,
                reason,
                raw,
            );
            assert!(out.len() <= encoded_len(reason, raw), "{raw:?}");
            assert!(out.len() + ENTRY_OVERHEAD >= encoded_len(reason, raw) - 64);
        }
    }

    #[test]
    fn a_body_entry_keeps_the_body_losslessly_in_the_smallest_form() {
        let summary = BodySummary {
            rejected: 3,
            accepted: 1,
            reasons: vec!["invalid JSON: x".to_owned()],
        };
        let decode = |out: &[u8]| -> (serde_json::Value, Vec<u8>) {
            let line: serde_json::Value = serde_json::from_slice(out).unwrap();
            let engine = &base64::engine::general_purpose::STANDARD;
            let body = if let Some(raw) = line["raw"].as_str() {
                raw.as_bytes().to_vec()
            } else if let Some(encoded) = line["raw_gzip_base64"].as_str() {
                let mut body = Vec::new();
                flate2::read::GzDecoder::new(&engine.decode(encoded).unwrap()[..])
                    .read_to_end(&mut body)
                    .unwrap();
                body
            } else {
                engine.decode(line["raw_base64"].as_str().unwrap()).unwrap()
            };
            (line, body)
        };
        let cases: [(Vec<u8>, &str); 3] = [
            (b"plain text without escapes".to_vec(), "raw"),
            // 2 bytes a line escape to 3: more than the body; gzip wins.
            (b"x\n".repeat(100_000), "raw_gzip_base64"),
            // Not UTF-8 and incompressible-ish (short).
            (vec![0xff, 0x00, 0x13], "raw_base64"),
        ];
        for (body, form) in cases {
            let mut out = Vec::new();
            encode_body(
                &mut out,
                OffsetDateTime::now_utc(),
                Input::Webhook,
                &summary,
                &body,
            );
            let (line, decoded) = decode(&out);
            assert!(line.get(form).is_some(), "{form}: {line}");
            assert_eq!(decoded, body);
            assert_eq!(line["rejected"], 3);
            assert_eq!(line["accepted"], 1);
            assert_eq!(line["reasons"][0], "invalid JSON: x");
            assert!(
                out.len() <= body.len() + 600,
                "{} > {}",
                out.len(),
                body.len()
            );
        }
    }

    #[test]
    fn files_rotate_to_numbered_names_and_every_byte_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let dead_letters = DeadLetters::open(dir.path(), 100).unwrap();
        let line = [b'a'; 59].iter().chain(b"\n").copied().collect::<Vec<u8>>();
        for _ in 0..5 {
            dead_letters.append(&line).unwrap();
        }
        // 60-byte lines, 100 bytes a file: one line a file.
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "dead-letter.ndjson",
                "dead-letter.ndjson.1",
                "dead-letter.ndjson.2",
                "dead-letter.ndjson.3",
                "dead-letter.ndjson.4"
            ]
        );
        assert_eq!(dead_letters.bytes(), 300);
        fs::remove_file(dir.path().join("dead-letter.ndjson.1")).unwrap();
        assert_eq!(dead_letters.rescan().unwrap(), 240);
        drop(dead_letters);
        let reopened = DeadLetters::open(dir.path(), 100).unwrap();
        assert_eq!(reopened.bytes(), 240);
        reopened.append(&line).unwrap();
        assert!(dir.path().join("dead-letter.ndjson.5").is_file());
    }
}
