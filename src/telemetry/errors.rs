//! The recent errors of `/status`: the last [`MAX_ERRORS`] errors of the
//! last [`MAX_AGE`], like Auth0's log stream Health tab, kept across
//! restarts in `<spool.dir>/errors.json`.
//!
//! The file is small and bounded (at most `MAX_ERRORS` entries, each message
//! cut to [`MAX_MESSAGE_BYTES`]), replaced atomically (temp file, fsync,
//! rename) and readable by the agent's user only. A repeated error is
//! recorded again only when its message changes or [`REPEAT_INTERVAL`] has
//! passed, so an output retrying every second does not rewrite the file
//! every second. Errors are not secrets by construction: callers pass
//! messages that hold no token or event body.

use std::collections::VecDeque;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The file name in the spool directory.
pub const FILE_NAME: &str = "errors.json";
/// Errors kept.
pub const MAX_ERRORS: usize = 10;
/// Errors older than this are dropped.
pub const MAX_AGE: Duration = Duration::from_secs(5 * 24 * 3600);
/// Longest message kept, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 512;
/// The same error of the same component is recorded again after this.
pub const REPEAT_INTERVAL: Duration = Duration::from_secs(60);

/// One error, as in `/status` and the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEntry {
    /// When it happened.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The part of the agent: `elasticsearch`, `file`, `poller`, `reload`, `spool`.
    pub component: String,
    /// What happened.
    pub message: String,
}

/// The recent errors, in memory and (when attached) on disk.
#[derive(Debug, Default)]
pub struct ErrorLog {
    path: Option<PathBuf>,
    entries: VecDeque<ErrorEntry>,
}

impl ErrorLog {
    /// Reads `<dir>/errors.json` (an unreadable or corrupt file starts an
    /// empty log, with a warning); later errors are written there.
    pub fn open(dir: &Path) -> ErrorLog {
        let path = dir.join(FILE_NAME);
        let entries = match fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Vec<ErrorEntry>>(&bytes) {
                Ok(entries) => entries.into_iter().collect(),
                Err(error) => {
                    tracing::warn!(%error, path = %path.display(), "recent errors file is corrupt; starting afresh");
                    VecDeque::new()
                }
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => VecDeque::new(),
            Err(error) => {
                tracing::warn!(%error, path = %path.display(), "cannot read the recent errors file");
                VecDeque::new()
            }
        };
        let mut log = ErrorLog {
            path: Some(path),
            entries,
        };
        log.prune(OffsetDateTime::now_utc());
        log
    }

    /// Records an error (see the module docs for repeats) and rewrites the file.
    pub fn record(&mut self, at: OffsetDateTime, component: &str, message: &str) {
        let message = truncate(message, MAX_MESSAGE_BYTES);
        let repeat = self
            .entries
            .iter()
            .rev()
            .find(|entry| entry.component == component);
        if let Some(last) = repeat {
            if last.message == message && (at - last.at).unsigned_abs() < REPEAT_INTERVAL {
                return;
            }
        }
        self.entries.push_back(ErrorEntry {
            at,
            component: component.to_owned(),
            message: message.to_owned(),
        });
        self.prune(at);
        if let Err(error) = self.save() {
            tracing::warn!(%error, "cannot write the recent errors file");
        }
    }

    /// The errors of the last five days, oldest first.
    pub fn recent(&self, now: OffsetDateTime) -> Vec<ErrorEntry> {
        self.entries
            .iter()
            .filter(|entry| (now - entry.at).unsigned_abs() <= MAX_AGE || entry.at > now)
            .cloned()
            .collect()
    }

    fn prune(&mut self, now: OffsetDateTime) {
        self.entries
            .retain(|entry| entry.at > now || (now - entry.at).unsigned_abs() <= MAX_AGE);
        while self.entries.len() > MAX_ERRORS {
            self.entries.pop_front();
        }
    }

    fn save(&self) -> std::io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let entries: Vec<&ErrorEntry> = self.entries.iter().collect();
        let bytes = serde_json::to_vec_pretty(&entries).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        {
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(0o600)
                .open(&tmp)?;
            file.write_all(&bytes)?;
            file.sync_data()?;
        }
        fs::rename(&tmp, path)
    }
}

fn truncate(text: &str, limit: usize) -> &str {
    if text.len() <= limit {
        return text;
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keeps_the_last_ten_of_five_days_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let now = OffsetDateTime::now_utc();
        let mut log = ErrorLog::open(dir.path());
        log.record(now - time::Duration::days(6), "poller", "old");
        for index in 0..12 {
            log.record(now, "elasticsearch", &format!("error {index}"));
        }
        let path = dir.path().join(FILE_NAME);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let reopened = ErrorLog::open(dir.path());
        let recent = reopened.recent(now);
        assert_eq!(recent.len(), MAX_ERRORS);
        assert_eq!(recent[0].message, "error 2");
        assert_eq!(recent[9].message, "error 11");
        assert!(fs::metadata(dir.path().join("errors.json.tmp")).is_err());
    }

    #[test]
    fn a_repeated_error_is_recorded_once_a_minute_and_long_messages_are_cut() {
        let now = OffsetDateTime::now_utc();
        let mut log = ErrorLog::default();
        log.record(now, "elasticsearch", "refused");
        log.record(now + time::Duration::seconds(5), "elasticsearch", "refused");
        assert_eq!(log.recent(now).len(), 1);
        log.record(
            now + time::Duration::seconds(61),
            "elasticsearch",
            "refused",
        );
        log.record(now, "reload", &"é".repeat(MAX_MESSAGE_BYTES));
        let recent = log.recent(now);
        assert_eq!(recent.len(), 3);
        assert!(recent[2].message.len() <= MAX_MESSAGE_BYTES);
    }

    #[test]
    fn a_corrupt_file_starts_an_empty_log() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), "{not json").unwrap();
        assert!(ErrorLog::open(dir.path())
            .recent(OffsetDateTime::now_utc())
            .is_empty());
    }
}
