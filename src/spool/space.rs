//! A full disk is back-pressure, not an error.
//!
//! `ENOSPC` or `EDQUOT` on a spool write refuses the batch with
//! `AppendError::DiskFull` (the webhook answers 503 with `Retry-After`, the
//! poller waits), and the writer frees what delivered records hold: it
//! moves to a new segment so the current one, once acknowledged, can be
//! deleted (see `Acker::collect`). Nothing else changes: when space comes
//! back the next append succeeds, without a restart. Such conditions are
//! logged at most once a minute (a `telemetry::throttle::Throttle`), with
//! the free space and the backlog, never once per request.

use std::io;
use std::path::Path;

/// Whether `error` means the disk (or the user's quota) is full.
pub fn is_disk_full(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// Bytes available to the agent on the file system holding `path`.
pub fn free_bytes(path: &Path) -> Option<u64> {
    let stats = rustix::fs::statvfs(path).ok()?;
    Some(stats.f_bavail.saturating_mul(stats.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_full_kinds_and_free_space() {
        assert!(is_disk_full(&io::Error::from_raw_os_error(28))); // ENOSPC
        assert!(is_disk_full(&io::Error::from_raw_os_error(122))); // EDQUOT
        assert!(!is_disk_full(&io::Error::from_raw_os_error(5))); // EIO
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).is_some_and(|free| free > 0));
    }
}
