//! The pipeline: turns one spooled [`RawEvent`] into one ECS [`Document`].
//!
//! **Invariant:** pure and synchronous. No I/O, no panics on any input: a
//! bad event becomes `Err(DropReason)`, which the caller dead-letters. It
//! runs on the spool's read side, so events are durable before any of it.

pub mod decode;
pub mod ecs;

use crate::event::{Document, RawEvent};

/// The ECS version documents claim.
pub const ECS_VERSION: &str = "8.11.0";

/// Event → document settings (`[enrich]`).
#[derive(Debug, Clone)]
pub struct Config {
    /// Keep the event as received in `event.original`.
    pub preserve_original_event: bool,
}

/// Why an event produced no document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// The event is not a JSON object (or not JSON).
    #[error("invalid event: {0}")]
    Invalid(String),
}

/// A configured pipeline; cheap to share between threads.
#[derive(Debug, Clone)]
pub struct Pipeline {
    config: Config,
}

impl Pipeline {
    /// A pipeline with `config`.
    pub fn new(config: Config) -> Pipeline {
        Pipeline { config }
    }

    /// Maps one event.
    pub fn process(&self, event: &RawEvent) -> Result<Document, DropReason> {
        let log = decode::decode(&event.bytes)?;
        Ok(ecs::document(&log, event, &self.config))
    }
}
