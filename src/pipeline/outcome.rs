//! What the pipeline makes of one event: an [`Outcome`] (a document, or
//! filtered out) or a [`DropReason`]. Its own file because the stages that
//! refuse an event (`decode`, `salvage`) name these too, and the wiring in
//! `mod.rs` uses those stages.

use super::filter::Category;
use crate::event::Document;

/// What became of one event the pipeline could read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It maps to this document.
    Document(Document),
    /// `[filter]` leaves it out: acknowledged and counted under its
    /// category, never written, never dead-lettered.
    Filtered(Category),
}

/// Why an event produced no document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// The event is not a JSON object (or not JSON).
    #[error("invalid event: {0}")]
    Invalid(String),
}

impl Outcome {
    /// The document, unless the event was filtered out.
    pub fn into_document(self) -> Option<Document> {
        match self {
            Outcome::Document(document) => Some(document),
            Outcome::Filtered(_) => None,
        }
    }
}
