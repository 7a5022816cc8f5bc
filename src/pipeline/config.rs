//! The pipeline's settings ([`Config`]: `[enrich]`, `[filter]`, `[pii]`
//! and the namespace) and their defaults.

use super::filter::Filter;
use super::pii;

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
