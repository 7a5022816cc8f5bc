//! The spool lock: one agent per spool directory, for the life of the
//! process.
//!
//! `<spool.dir>/lock` is `flock`ed (exclusive, non-blocking) before anything
//! else in the directory is opened, and the holder writes its pid into it.
//! The [`Lock`] is kept by `App` until the agent has stopped, so a second
//! agent started on the same directory fails with [`Error::Locked`] (naming
//! the directory and the pid) before it reads, truncates or deletes a
//! segment. The kernel releases a `flock` when its holder dies, so a crash
//! never leaves a stale lock behind; a stale pid in the file is harmless.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::error::Error;
use crate::private_files;

/// The lock file's name inside the spool directory.
pub const FILE_NAME: &str = "lock";

/// The held lock; dropping it releases the spool.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Takes the lock of `dir` (which must exist) and writes this process's pid
/// into it.
pub fn acquire(dir: &Path) -> Result<Lock, Error> {
    let path = dir.join(FILE_NAME);
    let io = |source| Error::Io {
        path: path.clone(),
        source,
    };
    let mut file =
        private_files::open_options(OpenOptions::new().read(true).write(true).create(true))
            .truncate(false)
            .open(&path)
            .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(Error::Locked {
                dir: dir.to_owned(),
                pid: holder(&mut file),
            })
        }
        Err(TryLockError::Error(source)) => return Err(io(source)),
    }
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| writeln!(file, "{}", std::process::id()))
        .map_err(io)?;
    Ok(Lock { _file: file })
}

/// The pid the holder wrote, if it is readable.
fn holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path()).unwrap();
        assert!(std::fs::metadata(dir.path().join(FILE_NAME)).is_ok());
        match acquire(dir.path()) {
            Err(Error::Locked { dir: locked, pid }) => {
                assert_eq!(locked, dir.path());
                assert_eq!(pid, Some(std::process::id()));
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
        let _again = acquire(dir.path()).unwrap();
    }
}
