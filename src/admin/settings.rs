//! `[admin]`, validated: the listener's address, its tokens and the
//! `failing` threshold, with their defaults. Read by `crate::config` (which
//! builds it) and by the `status`/`replay` commands' client.

use std::net::SocketAddr;
use std::time::Duration;

use crate::secret::Secret;

/// Loopback: the admin endpoints are for the host's operator and scraper.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8384";
/// The rule: an output with work that has not succeeded for five
/// minutes is `failing`.
pub const DEFAULT_FAILING_AFTER: Duration = Duration::from_secs(300);

/// `[admin]`, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen; `None` turns the listener off.
    pub listen: Option<SocketAddr>,
    /// Accepted `Authorization` values; empty means open (loopback only).
    pub tokens: Vec<Secret<String>>,
    /// When an output that keeps failing turns `/status` to `failing`.
    pub failing_after: Duration,
}
