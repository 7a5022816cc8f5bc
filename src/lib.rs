//! auth0-ingest: gets Auth0 tenant log events into Elasticsearch (or NDJSON
//! files) as ECS documents, durably and exactly once.
//!
//! Crate map (see `ARCHITECTURE.md`):
//! - [`config`]: TOML → validated per-subsystem configs.
//! - [`inputs`]: the webhook listener, the Management API poller (and
//!   framing shared with `convert`).
//! - [`spool`]: the durable on-disk queue; the durability boundary.
//! - [`pipeline`]: pure event → ECS document mapping.
//! - [`convert`]: the `convert` command (events → ECS NDJSON, no network).
//! - [`enrichment`]: loads the GeoIP databases and uap-core regexes.
//! - [`fields`]: field definitions (`fields/`) and the index template.
//! - [`delivery`]: the read side: spool → pipeline → outputs → acks.
//! - [`outputs`]: Elasticsearch (bulk into a data stream) and NDJSON files.
//! - [`telemetry`]: logging and metrics.
//! - [`admin`]: the admin listener (`/metrics`, `/status`, `/replay`) and
//!   the `status`/`replay` commands' client.
//! - [`reload`]: SIGHUP: TLS material, tokens, GeoIP databases.
//! - [`setup`]: the Kibana saved objects (`fields/kibana/`) and their install.
//! - [`secret`]: `Secret<T>`, a leaf every module may import.
//! - [`private_files`]: owner-only modes for every file and directory created.
//! - [`app`]: wiring and ordered shutdown.

pub mod admin;
pub mod app;
pub mod config;
pub mod convert;
pub mod dedup;
pub mod delivery;
pub mod enrichment;
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
