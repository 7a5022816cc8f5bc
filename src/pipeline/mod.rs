//! The pipeline: turns one spooled [`RawEvent`] into one ECS [`Document`].
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
pub mod dates;
pub mod decode;
pub mod ecs;
pub mod enrich;
pub mod filter;
pub mod json;
pub(crate) mod mgmt;
pub mod pii;
pub mod salvage;
pub mod types;
pub(crate) mod user_name;
pub(crate) mod users;

use std::borrow::Cow;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::event::{Document, RawEvent};
use decode::LogEvent;
use enrich::Enrichers;
use filter::{Category, Filter};

/// The ECS version documents claim.
pub const ECS_VERSION: &str = "8.11.0";
/// `data_stream.namespace` when none is configured.
pub const DEFAULT_NAMESPACE: &str = "default";
/// Elastic's default tags for the integration.
pub const DEFAULT_TAGS: [&str; 2] = ["forwarded", "auth0-logstream"];

/// Event → document settings (`[enrich]`, plus the namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Keep the event as received in `event.original` (and tag it
    /// `preserve_original_event`, as Elastic does).
    pub preserve_original_event: bool,
    /// `data_stream.namespace`: `[output.elasticsearch] namespace` when
    /// that output is configured (documents name the data stream they are
    /// written to; `convert` reads it from the file too), else
    /// [`DEFAULT_NAMESPACE`].
    pub namespace: String,
    /// `tags` (`enrich.tags`; default [`DEFAULT_TAGS`]).
    pub tags: Vec<String>,
    /// `[filter]`: which events become documents (default: all).
    pub filter: Filter,
    /// `[pii]`: personal data obfuscation (default: off).
    pub pii: pii::Config,
}

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

/// A configured pipeline; cheap to clone and share between threads.
#[derive(Debug, Clone)]
pub struct Pipeline {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) enrichers: Enrichers,
    pub(crate) types: types::Table,
    /// `tags` as a JSON array (empty when there are none), without and with
    /// `preserve_original_event` first.
    pub(crate) tags: String,
    pub(crate) tags_preserved: String,
    /// `tags` of a salvaged event: `preserve_original_event`,
    /// `auth0_ingest_salvaged`, then the configured ones.
    pub(crate) tags_salvaged: String,
    /// `config.pii`, compiled.
    pub(crate) pii: pii::Obfuscator,
}

impl Config {
    /// The defaults: no `event.original`, namespace `default`, Elastic's tags.
    pub fn defaults() -> Config {
        Config {
            preserve_original_event: false,
            namespace: DEFAULT_NAMESPACE.to_owned(),
            tags: DEFAULT_TAGS.iter().map(|tag| (*tag).to_owned()).collect(),
            filter: Filter::default(),
            pii: pii::Config::off(),
        }
    }
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

impl Pipeline {
    /// A pipeline with `config` and loaded `enrichers`.
    pub fn new(config: Config, enrichers: Enrichers) -> Pipeline {
        let tags = tags_json(&config.tags, &[]);
        let tags_preserved = tags_json(&config.tags, &[ecs::PRESERVE_ORIGINAL_TAG]);
        let tags_salvaged = tags_json(
            &config.tags,
            &[ecs::PRESERVE_ORIGINAL_TAG, salvage::SALVAGED_TAG],
        );
        Pipeline {
            inner: Arc::new(Inner {
                tags,
                tags_preserved,
                tags_salvaged,
                pii: pii::Obfuscator::new(&config.pii),
                config,
                enrichers,
                types: types::Table::embedded(),
            }),
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

/// `[…leading, …tags]` without duplicates, as JSON; empty when there is
/// no tag.
fn tags_json(tags: &[String], leading: &[&str]) -> String {
    let mut unique: Vec<&str> = Vec::with_capacity(tags.len() + leading.len());
    for tag in leading
        .iter()
        .copied()
        .chain(tags.iter().map(String::as_str))
    {
        if !unique.contains(&tag) {
            unique.push(tag);
        }
    }
    if unique.is_empty() {
        return String::new();
    }
    let mut out = String::from("[");
    for (index, tag) in unique.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        json::write_str(&mut out, tag);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests;
