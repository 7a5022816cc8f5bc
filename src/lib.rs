//! auth0-ingest: gets Auth0 tenant log events into Elasticsearch (or NDJSON
//! files) as ECS documents, durably and exactly once.
//!
//! Crate map (see `ARCHITECTURE.md`):
//! - [`config`]: TOML → validated per-subsystem configs, one module per
//!   section.
//! - [`inputs`]: the webhook listener, the Management API poller, framing
//!   shared with `convert`, and a body → one spool append (`append`).
//! - [`spool`]: the durable on-disk queue; the durability boundary.
//! - [`pipeline`]: pure event → ECS document mapping.
//! - [`convert`]: the `convert` conversion (events → ECS NDJSON, no
//!   network); the binary's `commands/` hold every command's CLI side.
//! - [`enrichment`]: loads the GeoIP databases and uap-core regexes.
//! - [`fields`]: field definitions (`fields/`) and the index template.
//! - [`delivery`]: the read side: spool → pipeline → outputs → acks.
//! - [`outputs`]: Elasticsearch (bulk into a data stream), Datadog and
//!   NDJSON files (with the `log_id` dedup window, `outputs::file::dedup`),
//!   and what the HTTP outputs share.
//! - [`telemetry`]: logging and metrics.
//! - [`admin`]: the admin listener (`/metrics`, `/status`, `/replay`) and
//!   the `status`/`replay` commands' client (`admin::cli_client`).
//! - [`reload`]: SIGHUP: TLS material, tokens, GeoIP databases.
//! - [`setup`]: the Kibana saved objects (`fields/kibana/`) and their install.
//! - [`secret`]: `Secret<T>`, a leaf every module may import.
//! - [`backoff`]: the jittered, capped exponential backoff and
//!   `Retry-After`, shared by the outputs and the poller (a leaf).
//! - [`error_chain`]: an error and its causes on one line (a leaf).
//! - [`private_files`]: owner-only modes for every file and directory created.
//! - [`app`]: wiring and ordered shutdown.

pub mod admin;
pub mod app;
pub mod backoff;
pub mod config;
pub mod convert;
pub mod delivery;
pub mod enrichment;
pub mod error_chain;
pub mod event;
pub mod fields;
pub mod inputs;
pub mod outputs;
pub mod pipeline;
pub mod private_files;
pub mod reload;
pub mod secret;
pub mod setup;
pub mod shutdown;
pub mod spool;
pub mod systemd;
pub mod telemetry;
