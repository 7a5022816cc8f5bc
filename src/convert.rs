//! `auth0-ingest convert`: Auth0 events from files or stdin → one ECS
//! document per line on stdout, in input order, with no network.
//!
//! Input may be any body the webhook accepts (JSON Lines, a JSON array, a
//! `{"logs": […]}` object, one event), split by
//! [`crate::inputs::framing`]. Items that are not events, and events the
//! pipeline refuses, are reported on stderr with their position and
//! counted; every other event is still converted, unless the config's
//! `[filter]` leaves it out (counted in [`Summary::filtered`], not an
//! error). `[pii]` applies as in the agent. A file that cannot be
//! read is reported and counted too, and the next one converted.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use time::OffsetDateTime;

use crate::event::{Input, RawEvent};
use crate::inputs::framing::{self, Item};
use crate::pipeline::{Outcome, Pipeline};

/// What a conversion did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Documents written.
    pub converted: u64,
    /// Items skipped (not an event, or refused by the pipeline).
    pub rejected: u64,
    /// Events `[filter]` left out.
    pub filtered: u64,
    /// Input files (or stdin) that could not be read.
    pub unreadable: u64,
}

/// Conversion errors: writing output (unreadable input is reported and
/// counted in [`Summary::unreadable`] instead).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing a document failed (e.g. a closed pipe).
    #[error("cannot write to stdout")]
    Write(#[source] io::Error),
}

impl Error {
    /// Whether stdout was closed by the reader (`convert … | head`): the
    /// caller stops quietly.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Write(error) if error.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// Converts `files` (stdin when empty; `-` is stdin too) to `out`,
/// reporting skipped items and unreadable files to `diagnostics`.
pub fn run(
    pipeline: &Pipeline,
    files: &[PathBuf],
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    diagnostics: &mut dyn Write,
) -> Result<Summary, Error> {
    let mut summary = Summary::default();
    let stdin_path = PathBuf::from("-");
    let inputs: Vec<&Path> = if files.is_empty() {
        vec![stdin_path.as_path()]
    } else {
        files.iter().map(PathBuf::as_path).collect()
    };
    for path in inputs {
        let mut body = Vec::new();
        let read = if path == Path::new("-") {
            stdin.read_to_end(&mut body).map(|_| ())
        } else {
            std::fs::File::open(path).and_then(|mut file| file.read_to_end(&mut body).map(|_| ()))
        };
        if let Err(error) = read {
            summary.unreadable += 1;
            // Diagnostics are best effort.
            let _ = writeln!(diagnostics, "{}: cannot read: {error}", path.display());
            continue;
        }
        let received_at = OffsetDateTime::now_utc();
        for (index, item) in framing::split(&body).into_iter().enumerate() {
            let position = index + 1;
            let bytes = match item {
                Item::Event(bytes) => bytes,
                Item::Rejected { reason, .. } => {
                    summary.rejected += 1;
                    // Diagnostics are best effort.
                    let _ = writeln!(diagnostics, "{}: item {position}: {reason}", path.display());
                    continue;
                }
            };
            let event = RawEvent {
                input: Input::File,
                received_at,
                bytes: Bytes::copy_from_slice(bytes),
            };
            match pipeline.process(&event) {
                Ok(Outcome::Filtered(_)) => summary.filtered += 1,
                Ok(Outcome::Document(document)) => {
                    out.write_all(document.json.as_bytes())
                        .map_err(Error::Write)?;
                    out.write_all(b"\n").map_err(Error::Write)?;
                    summary.converted += 1;
                }
                Err(reason) => {
                    summary.rejected += 1;
                    let _ = writeln!(diagnostics, "{}: item {position}: {reason}", path.display());
                }
            }
        }
    }
    out.flush().map_err(Error::Write)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::enrich::Enrichers;
    use crate::pipeline::Config;

    #[test]
    fn converts_in_order_and_reports_rejects() {
        let pipeline = Pipeline::new(Config::defaults(), Enrichers::none());
        let mut stdin: &[u8] =
            b"{\"log_id\":\"1\",\"data\":{\"type\":\"s\"}}\nnot json\n[2]\n{\"log_id\":\"3\",\"data\":{\"type\":\"f\"}}\n";
        let mut out = Vec::new();
        let mut diagnostics = Vec::new();
        let summary = run(&pipeline, &[], &mut stdin, &mut out, &mut diagnostics).unwrap();
        assert_eq!(
            summary,
            Summary {
                converted: 2,
                rejected: 2,
                filtered: 0,
                unreadable: 0
            }
        );
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines[0]["event"]["id"], "1");
        assert_eq!(lines[1]["event"]["id"], "3");
        assert_eq!(lines[0]["input"]["type"], "file");
        let diagnostics = String::from_utf8(diagnostics).unwrap();
        assert!(
            diagnostics.contains("-: item 2: invalid JSON"),
            "{diagnostics}"
        );
        assert!(
            diagnostics.contains("-: item 3: not a JSON object"),
            "{diagnostics}"
        );
    }

    /// Regression (review): the first unreadable file stopped the
    /// conversion, so the files after it were never converted.
    #[test]
    fn unreadable_file_is_reported_and_the_next_converted() {
        let pipeline = Pipeline::new(Config::defaults(), Enrichers::none());
        let mut stdin: &[u8] = b"{\"log_id\":\"2\",\"data\":{\"type\":\"s\"}}\n";
        let mut out = Vec::new();
        let mut diagnostics = Vec::new();
        let summary = run(
            &pipeline,
            &[
                PathBuf::from("/nonexistent/events.jsonl"),
                PathBuf::from("-"),
            ],
            &mut stdin,
            &mut out,
            &mut diagnostics,
        )
        .unwrap();
        assert_eq!(
            summary,
            Summary {
                converted: 1,
                rejected: 0,
                filtered: 0,
                unreadable: 1
            }
        );
        assert_eq!(String::from_utf8(out).unwrap().lines().count(), 1);
        let diagnostics = String::from_utf8(diagnostics).unwrap();
        assert!(
            diagnostics.starts_with("/nonexistent/events.jsonl: cannot read: "),
            "{diagnostics}"
        );
    }
}
