//! The cursor file: where the poller resumes after a restart.
//!
//! `<state_dir>/poller-cursor.json` holds one JSON object,
//! `{"version":1,"from":"<log_id>","saved_at":"<RFC 3339>"}`: the `from` of
//! the next `GET /api/v2/logs` request. It is replaced atomically (write a
//! temporary file, fsync it, rename it over the old one, fsync the
//! directory), so a crash leaves either the old or the new cursor, never a
//! torn one.
//!
//! **Invariant:** [`store`] is called only after the page that moved the
//! cursor is durable in the spool. A crash between the two repeats that
//! page after the restart (harmless: documents are keyed by `log_id`); it
//! never skips one.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::event::LogId;
use crate::private_files;

/// The cursor file's name inside the state directory.
pub const FILE_NAME: &str = "poller-cursor.json";
const TEMPORARY_NAME: &str = "poller-cursor.json.tmp";
const VERSION: u32 = 1;

/// Why the cursor file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file holds something else than a cursor.
    #[error("cursor file `{path}` is not valid: {message}; fix or delete it (deleting restarts from `poller.start_from`)")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Reading, writing or syncing failed.
    #[error("cursor file `{path}` i/o failed")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// The file format.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    version: u32,
    from: String,
    saved_at: String,
}

/// The cursor file of `state_dir`.
pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

/// Reads the saved cursor; `None` when there is no cursor file yet.
/// Blocking.
pub fn load(state_dir: &Path) -> Result<Option<LogId>, Error> {
    let path = path(state_dir);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(Error::Io { path, source }),
    };
    let invalid = |message: String| Error::Invalid {
        path: path.clone(),
        message,
    };
    let record: Record = serde_json::from_str(&text).map_err(|error| invalid(error.to_string()))?;
    if record.version != VERSION {
        return Err(invalid(format!("unknown version {}", record.version)));
    }
    if !is_log_id(&record.from) {
        return Err(invalid(format!("`from` `{}` is not a log_id", record.from)));
    }
    Ok(Some(LogId(record.from)))
}

/// Replaces the saved cursor with `from`, atomically and durably. Blocking.
pub fn store(state_dir: &Path, from: &LogId) -> Result<(), Error> {
    let io = |path: PathBuf| move |source| Error::Io { path, source };
    private_files::create_dir_all(state_dir).map_err(io(state_dir.to_owned()))?;
    let record = Record {
        version: VERSION,
        from: from.0.clone(),
        saved_at: OffsetDateTime::now_utc()
            .format(&Rfc3339)
            .unwrap_or_default(),
    };
    // Serializing three strings cannot fail.
    let mut bytes = serde_json::to_vec(&record).unwrap_or_default();
    bytes.push(b'\n');
    let temporary = state_dir.join(TEMPORARY_NAME);
    let mut file = private_files::create(&temporary).map_err(io(temporary.clone()))?;
    file.write_all(&bytes).map_err(io(temporary.clone()))?;
    file.sync_all().map_err(io(temporary.clone()))?;
    drop(file);
    let target = path(state_dir);
    fs::rename(&temporary, &target).map_err(io(target))?;
    File::open(state_dir)
        .and_then(|directory| directory.sync_all())
        .map_err(io(state_dir.to_owned()))
}

/// Whether `text` looks like an Auth0 `log_id`: non-empty, at most 256
/// ASCII letters and digits (today's ids are 56 digits).
pub fn is_log_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 256 && text.bytes().all(|byte| byte.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_loads_atomically() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        store(dir.path(), &LogId("900123".to_owned())).unwrap();
        store(dir.path(), &LogId("900124".to_owned())).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(LogId("900124".to_owned())));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, [FILE_NAME], "no temporary file is left behind");
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(path(dir.path()), "{\"version\":1,\"from\":\"\"").unwrap();
        assert!(matches!(load(dir.path()), Err(Error::Invalid { .. })));
        fs::write(
            path(dir.path()),
            "{\"version\":1,\"from\":\"a b\",\"saved_at\":\"\"}",
        )
        .unwrap();
        assert!(matches!(load(dir.path()), Err(Error::Invalid { .. })));
    }
}
