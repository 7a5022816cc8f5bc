//! The Kibana saved objects of `fields/kibana/` (embedded), rendered as
//! Kibana's import format: one object per line, JSON-valued attributes
//! (`visState`, `panelsJSON`, `searchSourceJSON`, …) as strings.
//!
//! The files keep those attributes as nested JSON so that a review reads
//! them; [`ndjson`] serializes them the way Kibana stores them. The data
//! view's index pattern is the one place the data stream's namespace
//! matters: `logs-auth0.logs-<namespace>` (`*` for every namespace). Object
//! ids are fixed, so an import with `overwrite=true` replaces the previous
//! one (idempotent).

use crate::outputs::elasticsearch;
use serde_json::{Map, Value};

/// The data view's id (fixed: searches and visualizations reference it).
pub const DATA_VIEW_ID: &str = "auth0-ingest-logs";
/// The dashboard's id.
pub const DASHBOARD_ID: &str = "auth0-ingest-overview";
/// The namespace pattern of a data view over every namespace.
pub const ALL_NAMESPACES: &str = "*";

/// The embedded asset files, in import order (referenced objects first).
pub const FILES: [(&str, &str); 5] = [
    ("tag.json", include_str!("../../fields/kibana/tag.json")),
    (
        "data-view.json",
        include_str!("../../fields/kibana/data-view.json"),
    ),
    (
        "searches.json",
        include_str!("../../fields/kibana/searches.json"),
    ),
    (
        "visualizations.json",
        include_str!("../../fields/kibana/visualizations.json"),
    ),
    (
        "dashboard.json",
        include_str!("../../fields/kibana/dashboard.json"),
    ),
];

/// Attributes Kibana stores as JSON text; the files hold them as JSON.
const JSON_TEXT_ATTRIBUTES: [&str; 8] = [
    "visState",
    "uiStateJSON",
    "panelsJSON",
    "optionsJSON",
    "fieldFormatMap",
    "fieldAttrs",
    "runtimeFieldMap",
    "sourceFilters",
];

pub use crate::outputs::elasticsearch::MAX_NAMESPACE_BYTES;

/// The assets cannot be rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An asset file that does not parse as an array of objects (a bug
    /// caught by the tests).
    #[error("Kibana assets `fields/kibana/{file}` are invalid")]
    Invalid {
        /// The file.
        file: &'static str,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A namespace no data stream can have (Kibana's data view would match
    /// nothing, or more than asked).
    #[error(
        "namespace {0:?} is not a data stream namespace: it must be `*` (every namespace) or \
         1 to 100 bytes, lowercase, without control characters, `-`, spaces or any of \\/*?\"<>|,#:"
    )]
    Namespace(String),
}

/// Whether `namespace` is `*` or a namespace Elasticsearch accepts in a
/// data stream name (lowercase, at most [`MAX_NAMESPACE_BYTES`], none of
/// `outputs::elasticsearch::NAMESPACE_FORBIDDEN`, no control or white space characters).
pub fn check_namespace(namespace: &str) -> Result<(), Error> {
    let valid = namespace == ALL_NAMESPACES || elasticsearch::valid_namespace(namespace);
    if valid {
        Ok(())
    } else {
        Err(Error::Namespace(namespace.to_owned()))
    }
}

/// Every object as written in the files (nested JSON attributes), in
/// import order.
pub fn objects() -> Result<Vec<Value>, Error> {
    let mut objects = Vec::new();
    for (file, text) in FILES {
        let parsed: Vec<Value> =
            serde_json::from_str(text).map_err(|source| Error::Invalid { file, source })?;
        objects.extend(parsed);
    }
    Ok(objects)
}

/// The import file for Kibana (`POST /api/saved_objects/_import`, or Stack
/// Management → Saved objects → Import): one object per line, the data
/// view over `logs-auth0.logs-<namespace>` (checked by [`check_namespace`]).
pub fn ndjson(namespace: &str) -> Result<String, Error> {
    check_namespace(namespace)?;
    let mut out = String::new();
    for mut object in objects()? {
        if object.get("type").and_then(Value::as_str) == Some("index-pattern") {
            apply_namespace(&mut object, namespace);
        }
        if let Some(attributes) = object.get_mut("attributes").and_then(Value::as_object_mut) {
            to_kibana_text(attributes);
        }
        out.push_str(&object.to_string());
        out.push('\n');
    }
    Ok(out)
}

/// The data view's index pattern and name for `namespace`.
fn apply_namespace(object: &mut Value, namespace: &str) {
    let Some(attributes) = object.get_mut("attributes").and_then(Value::as_object_mut) else {
        return;
    };
    attributes.insert(
        "title".to_owned(),
        Value::String(format!("logs-auth0.logs-{namespace}")),
    );
    if namespace != ALL_NAMESPACES {
        attributes.insert(
            "name".to_owned(),
            Value::String(format!("Auth0 logs ({namespace})")),
        );
    }
}

/// Serializes the attributes Kibana keeps as JSON text.
fn to_kibana_text(attributes: &mut Map<String, Value>) {
    for key in JSON_TEXT_ATTRIBUTES {
        if let Some(value) = attributes.get_mut(key) {
            if !value.is_string() {
                *value = Value::String(value.to_string());
            }
        }
    }
    if let Some(meta) = attributes
        .get_mut("kibanaSavedObjectMeta")
        .and_then(Value::as_object_mut)
    {
        if let Some(value) = meta.get_mut("searchSourceJSON") {
            if !value.is_string() {
                *value = Value::String(value.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_is_an_object_with_text_attributes() {
        let text = ndjson(ALL_NAMESPACES).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(lines.len(), objects().unwrap().len());
        for line in &lines {
            let attributes = &line["attributes"];
            for key in JSON_TEXT_ATTRIBUTES {
                if let Some(value) = attributes.get(key) {
                    assert!(value.is_string(), "{key} of {}", line["id"]);
                }
            }
            if let Some(meta) = attributes.get("kibanaSavedObjectMeta") {
                assert!(meta["searchSourceJSON"].is_string(), "{}", line["id"]);
            }
        }
    }

    #[test]
    fn odd_namespaces_are_refused_with_a_reason() {
        let long = "a".repeat(MAX_NAMESPACE_BYTES + 1);
        for namespace in [
            "", " ", "a b", "a*", "**", "*,b", "a\"b", "a'b\"", "A", "a-b", "a:b", "a/b", "a\nb",
            "a\tb", "a#b", "a|b", "a\u{0}b", &long,
        ] {
            let error = ndjson(namespace).unwrap_err();
            assert!(matches!(error, Error::Namespace(_)), "{namespace:?}");
            assert!(error.to_string().contains("not a data stream namespace"));
        }
        let longest = "a".repeat(MAX_NAMESPACE_BYTES);
        for namespace in ["*", "default", "tenant_a", "prod.eu1", "é", &longest] {
            let text = ndjson(namespace).unwrap();
            for line in text.lines() {
                serde_json::from_str::<Value>(line).unwrap();
            }
        }
    }

    #[test]
    fn the_namespace_goes_into_the_data_view_only() {
        let all = ndjson(ALL_NAMESPACES).unwrap();
        assert!(all.contains(r#""title":"logs-auth0.logs-*""#));
        let one = ndjson("tenant_a").unwrap();
        assert!(one.contains(r#""title":"logs-auth0.logs-tenant_a""#));
        assert!(!one.contains("logs-auth0.logs-*"));
        assert_eq!(all.lines().count(), one.lines().count());
    }
}
