//! `webhook.idle_timeout`, `send_timeout` and `max_inflight_bytes` →
//! [`webhook::Edge`], collecting every problem.

use std::time::Duration;

use super::size::Size;

use super::problems::Errors;
use super::values::{duration, positive};
use crate::inputs::webhook;

/// Auth0 posts every few seconds on a busy tenant; a connection silent for
/// 30 s is reopened cheaply, and an idle one cannot hold a slot for longer.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A client that has not read a small response in 30 s is not reading.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Sixteen 16 MiB bodies (with their spool copies, eight) at once; more wait
/// for a `Retry-After`, so memory stays bounded whatever clients send.
pub const DEFAULT_MAX_INFLIGHT_BYTES: u64 = 256 * 1024 * 1024;
/// One largest request must fit: its body as received, decompressed, and
/// its spool copy.
const MIN_INFLIGHT_BODIES: u64 = 3;

/// Validates the keys; a bad value is reported and its default used.
pub(super) fn build(
    idle_timeout: Option<String>,
    send_timeout: Option<String>,
    max_inflight_bytes: Option<Size>,
    max_body_bytes: u64,
    errors: &mut Errors,
) -> webhook::Edge {
    let idle_timeout = duration(
        errors,
        "webhook.idle_timeout",
        idle_timeout,
        DEFAULT_IDLE_TIMEOUT,
    );
    let send_timeout = duration(
        errors,
        "webhook.send_timeout",
        send_timeout,
        DEFAULT_SEND_TIMEOUT,
    );
    let max_inflight_bytes = positive(
        errors,
        "webhook.max_inflight_bytes",
        max_inflight_bytes,
        DEFAULT_MAX_INFLIGHT_BYTES,
    );
    let minimum = max_body_bytes.saturating_mul(MIN_INFLIGHT_BODIES);
    if max_inflight_bytes < minimum {
        errors.push(
            "webhook.max_inflight_bytes",
            format!(
                "must be at least 3 × webhook.max_body_bytes ({minimum} bytes): \
                 a largest body, decompressed, and its spool copy must fit"
            ),
        );
    }
    webhook::Edge {
        idle_timeout,
        send_timeout,
        max_inflight_bytes: usize::try_from(max_inflight_bytes).unwrap_or(usize::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::errors_of;
    use super::super::Config;
    use super::*;

    #[test]
    fn defaults_and_values() {
        let base = "[spool]\ndir=\"/s\"\n[output.file]\ndir=\"/o\"\n";
        let config = Config::from_toml(
            &format!("[webhook]\nallow_unauthenticated=true\n{base}"),
            std::path::Path::new("/"),
        )
        .unwrap();
        let edge = config.webhook.unwrap().edge;
        assert_eq!(edge.idle_timeout, DEFAULT_IDLE_TIMEOUT);
        assert_eq!(edge.send_timeout, DEFAULT_SEND_TIMEOUT);
        assert_eq!(edge.max_inflight_bytes as u64, DEFAULT_MAX_INFLIGHT_BYTES);
        let config = Config::from_toml(
            &format!(
                "[webhook]\nallow_unauthenticated=true\nidle_timeout=\"5s\"\nsend_timeout=\"2m\"\nmax_inflight_bytes=\"64MiB\"\n{base}"
            ),
            std::path::Path::new("/"),
        )
        .unwrap();
        let edge = config.webhook.unwrap().edge;
        assert_eq!(edge.idle_timeout, Duration::from_secs(5));
        assert_eq!(edge.send_timeout, Duration::from_secs(120));
        assert_eq!(edge.max_inflight_bytes, 64 << 20);
    }

    #[test]
    fn bad_values_name_their_key() {
        let keys = errors_of(
            "[webhook]\nallow_unauthenticated=true\nidle_timeout=\"0s\"\nsend_timeout=\"soon\"\nmax_inflight_bytes=\"40MiB\"\n\
             [spool]\ndir=\"/s\"\n[output.file]\ndir=\"/o\"\n",
        );
        assert_eq!(
            keys,
            [
                "webhook.idle_timeout",
                "webhook.send_timeout",
                "webhook.max_inflight_bytes"
            ]
        );
    }
}
