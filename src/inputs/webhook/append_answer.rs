//! The status and body answering a spool append that failed, one table
//! for the webhook's handler and the admin listener's `POST /replay`.

use hyper::StatusCode;

use crate::spool::AppendError;

/// The answer to a spool append that failed: 503 (retry later) for a full
/// spool or disk and at shutdown, 500 for another write error. Shared by
/// the webhook and the admin listener's `POST /replay`.
pub fn append_failed(error: &AppendError) -> (StatusCode, &'static str) {
    match error {
        AppendError::Full => (StatusCode::SERVICE_UNAVAILABLE, "spool full, retry later\n"),
        AppendError::DiskFull => (
            StatusCode::SERVICE_UNAVAILABLE,
            "spool disk full, retry later\n",
        ),
        AppendError::Closed => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n"),
        AppendError::Io(_) => (StatusCode::INTERNAL_SERVER_ERROR, "spool write failed\n"),
    }
}
