//! Private files: everything the agent writes (spool segments, the ack
//! ledger, the lock, dead letters, output files) holds user names, emails
//! and IP addresses, so it is created owner-only whatever the umask.
//!
//! Files are created with mode [`FILE_MODE`] and directories with
//! [`DIR_MODE`] in the `open`/`mkdir` call itself (no window in which a new
//! file is readable by others); the umask can only remove bits from these.
//! Existing files and directories keep their modes: an operator who chose
//! `0750` for a directory (systemd's `StateDirectoryMode=`, say) keeps it.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// Mode of every file the agent creates: read and write for its user only.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory the agent creates.
pub const DIR_MODE: u32 = 0o700;

/// `options` with [`FILE_MODE`] for the file it may create.
pub fn open_options(options: &mut OpenOptions) -> &mut OpenOptions {
    options.mode(FILE_MODE)
}

/// `File::create` with [`FILE_MODE`]: opens `path` for writing, creating
/// it or truncating it.
pub fn create(path: &Path) -> io::Result<File> {
    open_options(OpenOptions::new().write(true).create(true).truncate(true)).open(path)
}

/// `fs::create_dir_all` with [`DIR_MODE`] for every directory it creates.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn created_files_and_directories_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_dir_all(&nested).unwrap();
        let file = nested.join("f");
        open_options(OpenOptions::new().write(true).create_new(true))
            .open(&file)
            .unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        // Whatever the umask, no group or other bit can appear.
        assert_eq!(mode(&file) & 0o077, 0);
        assert_eq!(mode(&nested) & 0o077, 0);
        assert_eq!(mode(&dir.path().join("a")) & 0o077, 0);
    }
}
