//! [`Inner`]: a configured pipeline's shared state, everything compiled
//! once from its [`Config`] (tags, `[pii]`, the type table) beside the
//! enrichers. The mapping (`ecs`) reads it per event; `mod.rs` builds it.

use super::config::Config;
use super::enrich::Enrichers;
use super::pii;
use super::tags::Tags;
use super::types;

/// What a `Pipeline` shares between threads.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) enrichers: Enrichers,
    pub(crate) types: types::Table,
    /// `config.tags` as JSON, for each kind of document.
    pub(crate) tags: Tags,
    /// `config.pii`, compiled.
    pub(crate) pii: pii::Obfuscator,
}

impl Inner {
    /// `config` compiled, with loaded `enrichers`.
    pub(crate) fn new(config: Config, enrichers: Enrichers) -> Inner {
        Inner {
            tags: Tags::new(&config.tags),
            pii: pii::Obfuscator::new(&config.pii),
            config,
            enrichers,
            types: types::Table::embedded(),
        }
    }
}
