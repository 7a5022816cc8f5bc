//! Outputs: where documents go. An output acknowledges a spool batch only
//! once each of its documents has a final outcome (written, indexed,
//! duplicate, or dead-lettered).

pub(crate) mod batch;
pub mod compression;
pub mod datadog;
pub mod elasticsearch;
pub mod file;
pub(crate) mod suspects;
