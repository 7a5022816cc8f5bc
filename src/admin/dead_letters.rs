//! The dead-letter file's running count for `/status`: lines and bytes,
//! reading only what was appended since the last count. Part of the admin
//! [`State`](super::State), so a file below both the state and the
//! `/status` rules.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;

/// The dead-letter file of `/status`.
#[derive(Debug, Serialize)]
pub struct DeadLetters {
    /// Lines in `dead-letter.ndjson`.
    pub count: u64,
    /// Its size.
    pub bytes: u64,
}

/// Counts the dead-letter file's lines, reading only what was appended
/// since the last count (the file is append-only; a smaller file, after a
/// replay moved it aside, is counted afresh).
#[derive(Debug)]
pub struct DeadLetterCount {
    path: PathBuf,
    counted: Mutex<(u64, u64)>,
}

impl DeadLetterCount {
    /// Counts `path`'s lines on demand.
    pub fn new(path: PathBuf) -> DeadLetterCount {
        DeadLetterCount {
            path,
            counted: Mutex::new((0, 0)),
        }
    }

    /// (lines, bytes) now. Blocking file I/O.
    pub fn count(&self) -> DeadLetters {
        let mut counted = self
            .counted
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let Ok(file) = File::open(&self.path) else {
            *counted = (0, 0);
            return DeadLetters { count: 0, bytes: 0 };
        };
        let length = file.metadata().map_or(0, |metadata| metadata.len());
        if length < counted.1 {
            *counted = (0, 0);
        }
        let (mut lines, from) = *counted;
        let mut reader = BufReader::new(file);
        if reader.seek(SeekFrom::Start(from)).is_ok() {
            let mut buffer = [0u8; 64 * 1024];
            let mut read = from;
            while read < length {
                match reader.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let n = n.min((length - read) as usize);
                        lines += buffer[..n].iter().filter(|&&byte| byte == b'\n').count() as u64;
                        read += n as u64;
                    }
                }
            }
            *counted = (lines, read);
        }
        DeadLetters {
            count: counted.0,
            bytes: length,
        }
    }
}
