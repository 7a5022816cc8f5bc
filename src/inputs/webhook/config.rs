//! The webhook's validated configuration (`[webhook]`, built by
//! `crate::config::webhook`) and the part of it SIGHUP replaces. Its own
//! file so that the handler, the server and the body reader read it
//! without a circle through `webhook/mod.rs`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{auth, peer, tls};
use crate::secret::Secret;

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
