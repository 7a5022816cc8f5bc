//! The admin listener: what an operator (or Prometheus, or systemd) asks
//! the running agent. Plain HTTP, on loopback by default
//! (`admin.listen = "127.0.0.1:8384"`; `""` turns it off), for every
//! configuration (a poller-only agent too).
//!
//! - `GET /healthz`: liveness, `200 ok` while the process serves.
//! - `GET /readyz`: `200` only when the spool takes writes and is below
//!   90 % of `spool.max_bytes`, else `503` with the reason.
//! - `GET /metrics`: Prometheus text format 0.0.4 ([`crate::telemetry::metrics`]).
//! - `GET /status`: the Health view as JSON ([`status`]).
//! - `POST /replay`: a body the webhook accepts, spooled with the webhook's
//!   durability contract (`200` only once durable) ([`replay`]).
//!
//! With `admin.tokens` / `admin.tokens_file` set, `/metrics`, `/status` and
//! `/replay` need a matching `Authorization` header (checked like the
//! webhook's, [`crate::inputs::webhook::auth`]); the probes stay open. A
//! non-loopback address without tokens is a config error. The tokens are
//! re-read on SIGHUP.
//!
//! Layout: [`server`] (accept loop and routing), [`status`] (the JSON and
//! the ok/degraded/failing rules), [`replay`] (`POST /replay`), [`cli_client`]
//! (the `status` and `replay` commands' side), [`state`] (what the endpoints
//! read, and the listener's limits), [`settings`] (`[admin]`, validated),
//! [`dead_letters`] (the dead-letter file's running count).

pub mod cli_client;
mod dead_letters;
mod format;
pub mod replay;
mod response;
mod server;
mod settings;
mod state;
pub mod status;
pub mod ticker;

pub use dead_letters::DeadLetterCount;
pub use server::{bind, serve};
pub use settings::{Config, DEFAULT_FAILING_AFTER, DEFAULT_LISTEN};
pub use state::{State, MAX_CONNECTIONS, REQUEST_TIMEOUT};
pub use status::FULL_FRACTION;
