//! The pipeline: turns one spooled [`RawEvent`] into one ECS [`Document`](crate::event::Document).
//!
//! decode ([`decode`], borrowed [`json`]) → [`filter`] → obfuscate
//! ([`pii`]) → map and enrich ([`ecs`], [`enrich`], the type table
//! [`types`], [`coerce`], [`dates`], Management API requests [`mgmt`], who
//! acted [`users`]) → JSON written directly. Events the parser refuses are
//! repaired first ([`salvage`]).
//!
//! **Invariant:** pure and synchronous. No I/O, no panics on any input: a
//! bad event becomes `Err(DropReason)`, which the caller dead-letters. Only
//! input that is not a JSON object is refused; every object becomes a
//! document or is [`Outcome::Filtered`] out by `[filter]`. It runs on the spool's read side, so events are durable before
//! any of it. The enrichers' databases are loaded by the caller
//! (`crate::enrichment::load`) and handed in.

pub mod coerce;
pub mod config;
pub mod dates;
pub mod decode;
pub mod ecs;
pub mod enrich;
pub mod filter;
mod inner;
pub mod json;
pub(crate) mod mgmt;
mod names;
pub mod outcome;
pub mod pii;
pub mod salvage;
pub mod tags;
pub mod types;
pub(crate) mod user_name;
pub(crate) mod users;

use std::borrow::Cow;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::event::RawEvent;
use decode::LogEvent;
use enrich::Enrichers;
use inner::Inner;

pub use config::{Config, DEFAULT_NAMESPACE, DEFAULT_TAGS};
pub use ecs::ECS_VERSION;
pub use outcome::{DropReason, Outcome};

/// A configured pipeline; cheap to clone and share between threads.
#[derive(Debug, Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

impl Pipeline {
    /// A pipeline with `config` and loaded `enrichers`.
    pub fn new(config: Config, enrichers: Enrichers) -> Pipeline {
        Pipeline {
            inner: Arc::new(Inner::new(config, enrichers)),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The enrichers.
    pub fn enrichers(&self) -> &Enrichers {
        &self.inner.enrichers
    }

    /// Maps one event, with `event.ingested` = now.
    pub fn process(&self, event: &RawEvent) -> Result<Outcome, DropReason> {
        self.process_at(event, OffsetDateTime::now_utc())
    }

    /// Maps one event, with `event.ingested` = `now`.
    pub fn process_at(&self, event: &RawEvent, now: OffsetDateTime) -> Result<Outcome, DropReason> {
        let inner = &self.inner;
        if inner.config.preserve_original_event && inner.pii.is_active() {
            // [pii] with `event.original` on every document: one parse for
            // the obfuscated original and the mapping (else it is written
            // from the bytes again, only for the rare events with a note).
            if let Ok(mut value) = json::parse(&event.bytes) {
                let original = inner.pii.original_of(&mut value);
                if let Ok(log) = decode::decode_value(value) {
                    return Ok(self.filter_and_map(event, log, now, None, Some(&original)));
                }
                // A shape the decoder refuses (`data` not an object, …):
                // the usual path below salvages it, as without [pii].
            }
        }
        match decode::decode(&event.bytes) {
            Ok(log) => Ok(self.filter_and_map(event, log, now, None, None)),
            Err(reason) => salvage::document(event, reason, |log, note| {
                self.filter_and_map(event, log, now, Some(note), None)
            }),
        }
    }

    /// The event as outputs may show it: the bytes as received, or, with
    /// `[pii]` on, the event obfuscated and written again as compact JSON
    /// (the same envelope or bare log). Exactly what `event.original`
    /// holds; for an output that sends Auth0's own envelope (Datadog's
    /// `format = "auth0"`). `None` for input the pipeline refuses.
    pub fn original<'e>(&self, event: &'e RawEvent) -> Option<Cow<'e, str>> {
        self.inner.pii.original(&event.bytes)
    }

    /// Whether `[pii]` changes events (names to obfuscate, or addresses to
    /// truncate): only then does [`Pipeline::original`] differ from the
    /// bytes as received.
    pub fn obfuscates(&self) -> bool {
        self.inner.pii.is_active()
    }

    /// `[filter]`, then `[pii]`, then the mapping. `obfuscated_original`
    /// is given when `log` was obfuscated already (with its original).
    fn filter_and_map(
        &self,
        event: &RawEvent,
        mut log: LogEvent<'_>,
        now: OffsetDateTime,
        note: Option<String>,
        obfuscated_original: Option<&str>,
    ) -> Outcome {
        let inner = &self.inner;
        if !inner.config.filter.is_empty() {
            let code = log
                .data
                .iter()
                .find(|(key, _)| key == "type")
                .and_then(|(_, value)| value.as_str());
            let category = inner.types.category(code);
            if !inner.config.filter.passes(category, code) {
                return Outcome::Filtered(category);
            }
        }
        if obfuscated_original.is_none() {
            inner.pii.obfuscate(&mut log);
        }
        Outcome::Document(ecs::document(
            inner,
            event,
            log,
            now,
            note,
            obfuscated_original,
        ))
    }
}

#[cfg(test)]
mod tests;
