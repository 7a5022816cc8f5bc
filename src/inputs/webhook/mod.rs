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

mod append_answer;
pub mod auth;
mod budget;
mod chunk_watch;
mod config;
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

pub use append_answer::append_failed;
pub use config::{Config, Edge, Reloadable};
pub use server::{bind, serve};
