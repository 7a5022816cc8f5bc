//! The spool's errors: what `open`, the lock, the reader and the acker
//! report. Its own file so that those files and `spool/mod.rs` share one
//! type without a circle.

use std::path::PathBuf;

use super::{record, segment};

/// Spool errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation failed.
    #[error("spool i/o on `{path}` failed")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the spool (its pid, when it wrote one).
    #[error("spool `{}` is in use by another agent ({})", dir.display(), match pid { Some(pid) => format!("pid {pid}"), None => "pid unknown".to_owned() })]
    Locked {
        /// The spool directory.
        dir: PathBuf,
        /// The holder's pid, from the lock file.
        pid: Option<u32>,
    },
    /// A segment file does not start like a spool segment: it is left
    /// untouched and the spool is not opened.
    #[error("spool file `{}` is not a spool segment (unknown header); move it out of the spool directory", path.display())]
    NotASegment {
        /// The file.
        path: PathBuf,
    },
    /// A thread panicked while holding the acknowledgement state.
    #[error("spool acknowledgement state is poisoned")]
    Poisoned,
    /// A segment was written in a format version this agent does not read
    /// (a newer agent's, before a downgrade): it is left untouched and the
    /// spool is not opened.
    #[error("spool segment `{}` has format version {found}, this agent reads version {supported}; run an agent that reads version {found}, or move the segment away", path.display())]
    UnsupportedVersion {
        /// The segment.
        path: PathBuf,
        /// The version in its header.
        found: u8,
        /// The version this agent reads and writes.
        supported: u8,
    },
}

impl Error {
    /// The spool holds data this agent cannot read (a segment of another
    /// format version, or a foreign file): restarting will not help.
    pub fn is_unreadable_data(&self) -> bool {
        matches!(
            self,
            Error::NotASegment { .. } | Error::UnsupportedVersion { .. }
        )
    }

    /// The spool directory or a file in it cannot be created (no
    /// permission, a read-only file system, a file in the way): the
    /// operator must fix the directory, restarting will not help.
    pub fn is_cannot_create(&self) -> bool {
        use std::io::ErrorKind;
        matches!(
            self,
            Error::Io { source, .. } if matches!(
                source.kind(),
                ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem | ErrorKind::NotADirectory
            )
        )
    }

    /// A segment error on `path` as a spool error.
    pub(super) fn segment(path: PathBuf, error: segment::Error) -> Error {
        match error {
            segment::Error::Io(source) => Error::Io { path, source },
            segment::Error::Version(found) => Error::UnsupportedVersion {
                path,
                found,
                supported: record::FORMAT_VERSION,
            },
            segment::Error::Foreign => Error::NotASegment { path },
        }
    }
}
