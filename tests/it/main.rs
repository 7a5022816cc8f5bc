//! The one integration-test binary (ripgrep style): every module drives the
//! real library or the built binary over loopback.

// Test helpers outside #[test] functions panic on purpose too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod architecture;
mod cli;
mod conformance;
mod convert;
mod datadog_output;
mod end_to_end;
mod es_output;
mod filters_pii;
mod hostile;
mod kibana;
mod kibana_import;
mod nginx;
mod ops;
mod poller;
mod secure_defaults;
mod sigkill;
mod spool;
mod store;
mod support;
mod uap_suite;
mod webhook;
mod webhook_edge;
