//! What `setup` installs beyond the Elasticsearch templates, and what
//! `assets` prints: the Kibana saved objects (data view, saved searches,
//! visualizations, the "Auth0 overview" dashboard, the "Auth0" tag), kept
//! as reviewed files in `fields/kibana/` next to the field definitions they
//! read.
//!
//! **Invariant:** every field an asset uses is defined in `fields/` with a
//! type that supports the use, and every query matches real documents
//! (`tests/it/kibana.rs` checks both).

pub mod assets;
pub mod kibana;
