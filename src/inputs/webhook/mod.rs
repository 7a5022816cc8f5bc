//! The webhook input: an HTTPS (or, behind a TLS-terminating proxy, plain
//! HTTP) listener for Auth0 "Custom Webhook" log streams.
//!
//! `POST <path>` with a configured `Authorization` value takes a body in any
//! format Auth0 sends (see [`crate::inputs::framing`]), optionally gzipped,
//! and answers `200 {"accepted":N,"rejected":M}` only once the accepted
//! events are durable in the spool. `GET /healthz` answers 200 without
//! authentication (for load balancers); `/metrics` and `/status` are on the
//! admin listener (`crate::admin`), not here.
//!
//! Status codes: 400 malformed/empty body or no valid event (rejected items
//! are still dead-lettered), 401 bad or missing token, 404 other path, 405
//! other method, 408 body too slow, 413 body too large (before reading it
//! all), 415 unknown, non-ASCII or repeated `Content-Encoding`, 503 +
//! `Retry-After` spool full, body memory budget used up or shutting down,
//! 500 spool write failed.
//!
//! **Invariant:** a 2xx is sent only after the spool writer has fsynced
//! every accepted event of the request.
//!
//! **Invariant:** no client can hold a connection or memory beyond a named
//! limit: `header_timeout`, `idle_timeout`, `send_timeout` and
//! `body_timeout` bound every state of a connection ([`tracker`]),
//! `max_connections` is kept by closing idle or stalled connections first
//! ([`registry`]), and `max_inflight_bytes` bounds the body bytes of all
//! requests together ([`budget`]). An answer that leaves request bytes unread
//! closes with a lingering read ([`linger`]), so the client still reads it.

pub mod auth;
mod budget;
mod chunk_watch;
mod handler;
mod linger;
pub mod peer;
pub mod refusals;
mod registry;
mod request_body;
mod server;
pub mod tls;
mod tracked_io;
mod tracker;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::secret::Secret;

pub use server::{bind, serve};

/// `[webhook]`, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// The POST path.
    pub path: String,
    /// Accepted `Authorization` values at start; empty means an open
    /// endpoint. Requests are checked against `reloadable.tokens`.
    pub tokens: Vec<Secret<String>>,
    /// What SIGHUP replaces.
    pub reloadable: Arc<Reloadable>,
    /// Body limit, after decompression.
    pub max_body_bytes: usize,
    /// Connections served at once.
    pub max_connections: usize,
    /// Limit for the TLS handshake and the request head.
    pub header_timeout: Duration,
    /// Limit for reading the body.
    pub body_timeout: Duration,
    /// `Retry-After` on 503.
    pub retry_after: Duration,
    /// Connection hygiene and the body memory budget.
    pub edge: Edge,
    /// TLS, or `None` for plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Proxies whose `X-Forwarded-For` names the client in logs.
    pub trusted_proxies: peer::TrustedProxies,
}

/// `webhook.idle_timeout`, `send_timeout` and `max_inflight_bytes`,
/// validated: the limits that keep hostile clients from holding connections
/// or memory.
#[derive(Debug, Clone, Copy)]
pub struct Edge {
    /// A keep-alive connection with no request is closed after this.
    pub idle_timeout: Duration,
    /// A response the client does not drain within this closes the connection.
    pub send_timeout: Duration,
    /// Body bytes (received, decompressed, spool copy) all requests may hold.
    pub max_inflight_bytes: usize,
}

/// The material SIGHUP re-reads without dropping connections: the tokens
/// and the certificate presented at each new handshake.
#[derive(Debug)]
pub struct Reloadable {
    /// The accepted `Authorization` values.
    pub tokens: auth::Tokens,
    /// The certificate (with TLS).
    pub certificate: Option<Arc<tls::CertificateSlot>>,
}

/// The answer to a spool append that failed: 503 (retry later) for a full
/// spool or disk and at shutdown, 500 for another write error. Shared by
/// the webhook and the admin listener's `POST /replay`.
pub fn append_failed(error: &crate::spool::AppendError) -> (hyper::StatusCode, &'static str) {
    use crate::spool::AppendError;
    use hyper::StatusCode;
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
