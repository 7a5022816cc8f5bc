//! `fields/`: the definition of every field a document can have
//! (Elastic-package-style YAML, embedded) and the composable index template
//! for `logs-auth0.logs-*` generated from it.
//!
//! **Invariant:** every field the pipeline emits is defined here (a test maps
//! the fixtures and our own tricky events and checks each leaf). The
//! template maps with `dynamic: false`, so nothing is ever mapped by guess
//! and a mapping conflict cannot happen.

use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Above Elasticsearch's built-in `logs-*-*` template (priority 100).
pub const TEMPLATE_PRIORITY: u64 = 200;
/// Longest keyword value indexed; longer ones are kept in `_source` only.
pub const KEYWORD_IGNORE_ABOVE: u64 = 1024;

/// The embedded definition files, in order.
const FILES: [(&str, &str); 3] = [
    ("base-fields.yml", include_str!("../fields/base-fields.yml")),
    ("ecs.yml", include_str!("../fields/ecs.yml")),
    ("fields.yml", include_str!("../fields/fields.yml")),
];

/// One defined leaf field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Full dotted name, e.g. `source.geo.location`.
    pub name: String,
    /// Elasticsearch field type, e.g. `keyword`, `flattened`, `geo_point`.
    pub kind: String,
    /// What it holds.
    pub description: String,
}

/// A definition file that does not parse (a bug caught by the unit tests).
#[derive(Debug, thiserror::Error)]
#[error("field definitions `fields/{file}` are invalid")]
pub struct Error {
    /// The file.
    pub file: &'static str,
    /// Why.
    #[source]
    pub source: serde_norway::Error,
}

/// Every defined leaf field (groups flattened into dotted names).
pub fn definitions() -> Result<Vec<Field>, Error> {
    let mut fields = Vec::new();
    for field in &raw_fields()? {
        flatten(field, "", &mut fields);
    }
    Ok(fields)
}

/// The composable index template for `logs-auth0.logs-<namespace_pattern>`
/// (`*` for every namespace), to `PUT _index_template/logs-auth0.logs`.
pub fn index_template(namespace_pattern: &str) -> Result<Value, Error> {
    let mut properties = Map::new();
    for field in &raw_fields()? {
        insert(&mut properties, field, "");
    }
    Ok(json!({
        "index_patterns": [format!("logs-auth0.logs-{namespace_pattern}")],
        "data_stream": {},
        "priority": TEMPLATE_PRIORITY,
        "template": {
            "settings": {
                "index": { "mapping": { "total_fields": { "limit": 1000 } } }
            },
            "mappings": {
                "dynamic": false,
                "date_detection": false,
                "properties": properties,
            }
        },
        "_meta": {
            "managed_by": "auth0-ingest",
            "description": "Auth0 log events as ECS documents, generated from fields/",
        }
    }))
}

/// One entry of a definition file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    description: String,
    fields: Option<Vec<RawField>>,
    multi_fields: Option<Vec<RawField>>,
    index: Option<bool>,
    doc_values: Option<bool>,
    dynamic: Option<bool>,
    /// Longest leaf value indexed (keyword: overrides
    /// [`KEYWORD_IGNORE_ABOVE`]; flattened: Elasticsearch rejects the
    /// whole document for a leaf over 32,766 bytes without it).
    ignore_above: Option<u64>,
    /// Deepest nesting a `flattened` field takes (Elasticsearch's default
    /// is 20; deeper objects reject the document).
    depth_limit: Option<u64>,
}

impl RawField {
    fn is_group(&self) -> bool {
        self.fields.is_some() || self.kind.as_deref() == Some("group")
    }
}

/// The top-level definitions of every file, in order.
fn raw_fields() -> Result<Vec<RawField>, Error> {
    let mut fields = Vec::new();
    for (file, text) in FILES {
        let raw: Vec<RawField> =
            serde_norway::from_str(text).map_err(|source| Error { file, source })?;
        fields.extend(raw);
    }
    Ok(fields)
}

fn full_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn flatten(field: &RawField, prefix: &str, out: &mut Vec<Field>) {
    let name = full_name(prefix, &field.name);
    if field.is_group() {
        for child in field.fields.iter().flatten() {
            flatten(child, &name, out);
        }
    } else {
        out.push(Field {
            name,
            kind: field.kind.clone().unwrap_or_else(|| "keyword".to_owned()),
            description: field.description.clone(),
        });
    }
}

/// Inserts `field` (whose dotted name may span several objects) into
/// `properties`.
fn insert(properties: &mut Map<String, Value>, field: &RawField, prefix: &str) {
    let name = full_name(prefix, &field.name);
    let parts: Vec<&str> = field.name.split('.').collect();
    let Some((last, parents)) = parts.split_last() else {
        return;
    };
    let mut current = properties;
    for parent in parents {
        let entry = current
            .entry((*parent).to_owned())
            .or_insert_with(|| json!({ "properties": {} }));
        let Some(children) = entry.as_object_mut().and_then(|object| {
            object
                .entry("properties")
                .or_insert_with(|| json!({}))
                .as_object_mut()
        }) else {
            return;
        };
        current = children;
    }
    if field.is_group() {
        let entry = current
            .entry((*last).to_owned())
            .or_insert_with(|| json!({ "properties": {} }));
        if let (Some(dynamic), Some(object)) = (field.dynamic, entry.as_object_mut()) {
            object.insert("dynamic".to_owned(), Value::Bool(dynamic));
        }
        if let Some(children) = entry.as_object_mut().and_then(|object| {
            object
                .entry("properties")
                .or_insert_with(|| json!({}))
                .as_object_mut()
        }) {
            for child in field.fields.iter().flatten() {
                insert(children, child, &name);
            }
        }
        return;
    }
    current.insert((*last).to_owned(), mapping(field));
}

fn mapping(field: &RawField) -> Value {
    let kind = field.kind.as_deref().unwrap_or("keyword");
    let mut properties = Map::new();
    properties.insert("type".to_owned(), Value::String(kind.to_owned()));
    match field.ignore_above {
        Some(ignore_above) => {
            properties.insert("ignore_above".to_owned(), json!(ignore_above));
        }
        None if kind == "keyword" => {
            properties.insert("ignore_above".to_owned(), json!(KEYWORD_IGNORE_ABOVE));
        }
        None => {}
    }
    if let Some(depth_limit) = field.depth_limit {
        properties.insert("depth_limit".to_owned(), json!(depth_limit));
    }
    if let Some(index) = field.index {
        properties.insert("index".to_owned(), Value::Bool(index));
    }
    if let Some(doc_values) = field.doc_values {
        properties.insert("doc_values".to_owned(), Value::Bool(doc_values));
    }
    if let Some(multi_fields) = &field.multi_fields {
        let fields: Map<String, Value> = multi_fields
            .iter()
            .map(|multi| (multi.name.clone(), mapping(multi)))
            .collect();
        properties.insert("fields".to_owned(), Value::Object(fields));
    }
    Value::Object(properties)
}

#[cfg(test)]
mod tests;
