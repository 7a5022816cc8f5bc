//! Outputs: where documents go. An output acknowledges a spool batch only
//! once each of its documents has a final outcome (written, indexed,
//! duplicate, or dead-lettered).

pub mod compression;
pub mod datadog;
pub mod elasticsearch;
pub mod file;
