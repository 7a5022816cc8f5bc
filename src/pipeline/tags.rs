//! A document's `tags`, written once per pipeline as JSON: the configured
//! tags, led by [`PRESERVE_ORIGINAL_TAG`] when `event.original` is kept
//! and also by [`SALVAGED_TAG`] when the event was repaired (see
//! `salvage`). Per event the mapping only picks one of the three.

use super::json;

/// The tag Elastic adds when `event.original` is kept.
pub const PRESERVE_ORIGINAL_TAG: &str = "preserve_original_event";
/// The tag of salvaged documents.
pub const SALVAGED_TAG: &str = "auth0_ingest_salvaged";

/// The three spellings of `tags` as JSON arrays (each empty when there is
/// no tag).
#[derive(Debug)]
pub(crate) struct Tags {
    plain: String,
    preserved: String,
    salvaged: String,
}

impl Tags {
    /// `configured`, as written in documents.
    pub(crate) fn new(configured: &[String]) -> Tags {
        Tags {
            plain: tags_json(configured, &[]),
            preserved: tags_json(configured, &[PRESERVE_ORIGINAL_TAG]),
            salvaged: tags_json(configured, &[PRESERVE_ORIGINAL_TAG, SALVAGED_TAG]),
        }
    }

    /// The JSON array of a document: salvaged, or keeping `event.original`,
    /// or neither. Empty when there is no tag.
    #[inline]
    pub(crate) fn of(&self, salvaged: bool, keep_original: bool) -> &str {
        if salvaged {
            &self.salvaged
        } else if keep_original {
            &self.preserved
        } else {
            &self.plain
        }
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
    let mut out = String::new();
    json::write_array(&mut out, &unique, |out, tag| json::write_str(out, tag));
    out
}
