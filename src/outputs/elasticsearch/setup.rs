//! `auth0-ingest setup`: installs, idempotently, the component and index
//! templates that make `logs-auth0.logs-*` a data stream with the Auth0
//! mappings.
//!
//! Each template carries `_meta.digest`, a CRC-32 of its body; a template
//! already installed with the same digest is left alone, so a second run
//! changes nothing and says so.
//!
//! Names are our own (`auth0-ingest@…`, index template priority 250) so they
//! never overwrite the templates Elastic's Fleet integration installs for
//! the same data stream.

use std::fmt::Write as _;

use elasticsearch::http::Method;
use serde_json::{json, Value};

use super::client::Client;
use super::config::{Config, DATA_STREAM_PREFIX};
use super::error::Error;
use super::health::{self, Cluster};

/// The index template's priority: above Elasticsearch's built-in `logs`
/// (100) and Fleet's integration templates (200).
pub const PRIORITY: u64 = 250;

/// Component or index template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `_component_template/<name>`.
    Component,
    /// `_index_template/<name>`.
    Index,
}

/// One template to install.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Component or index.
    pub kind: Kind,
    /// Its name.
    pub name: String,
    /// The body to `PUT`, `_meta.digest` included.
    pub body: Value,
}

/// What `setup` did to one template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// It did not exist.
    Created,
    /// It existed with another body.
    Updated,
    /// It existed with this body.
    Unchanged,
}

/// The templates for documents going to `index` (the data stream; a custom
/// `index` outside `logs-auth0.logs-*` gets its own pattern too). The
/// component template carries the mappings and settings generated from
/// `fields/` ([`crate::fields::index_template`]).
pub fn templates(index: &str) -> Result<Vec<Template>, crate::fields::Error> {
    let mut patterns = vec![format!("{DATA_STREAM_PREFIX}*")];
    if !index.starts_with(DATA_STREAM_PREFIX) {
        patterns.push(index.to_owned());
    }
    let generated = crate::fields::index_template("*")?;
    let component = json!({
        "template": {
            "settings": generated["template"]["settings"],
            "mappings": generated["template"]["mappings"],
        },
        "_meta": { "managed_by": "auth0-ingest" }
    });
    let index_template = json!({
        "index_patterns": patterns,
        "data_stream": {},
        "priority": PRIORITY,
        "composed_of": [
            "logs@mappings",
            "logs@settings",
            "auth0-ingest@package",
            "auth0-ingest@custom",
            "ecs@mappings"
        ],
        "ignore_missing_component_templates": [
            "logs@mappings",
            "logs@settings",
            "auth0-ingest@custom",
            "ecs@mappings"
        ],
        "_meta": { "managed_by": "auth0-ingest" }
    });
    Ok(vec![
        with_digest(Kind::Component, "auth0-ingest@package", component),
        with_digest(Kind::Index, "auth0-ingest", index_template),
    ])
}

impl Kind {
    /// The API path of template `name`.
    pub fn path(self, name: &str) -> String {
        match self {
            Kind::Component => format!("/_component_template/{name}"),
            Kind::Index => format!("/_index_template/{name}"),
        }
    }

    fn list_key(self) -> (&'static str, &'static str) {
        match self {
            Kind::Component => ("component_templates", "component_template"),
            Kind::Index => ("index_templates", "index_template"),
        }
    }
}

impl Change {
    /// The word printed for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Updated => "updated",
            Change::Unchanged => "unchanged",
        }
    }
}

/// `PUT <path>` and the JSON body of each template, for `--dry-run`.
pub fn dry_run(templates: &[Template]) -> String {
    let mut out = String::new();
    for template in templates {
        let body = serde_json::to_string_pretty(&template.body).unwrap_or_default();
        let _ = writeln!(out, "PUT {}\n{body}\n", template.kind.path(&template.name));
    }
    out
}

/// `setup` itself: checks the cluster, then [`apply`]s the templates for
/// `config.index`.
pub async fn install(config: &Config) -> Result<(Cluster, Vec<(Template, Change)>), Error> {
    let client = Client::from_config(config)?;
    let cluster = health::check(&client).await?;
    let changes = apply(&client, &templates(&config.index)?).await?;
    Ok((cluster, changes))
}

/// Installs each template whose digest differs from the installed one, in
/// order (components first, as the index template refers to them).
pub async fn apply(
    client: &Client,
    templates: &[Template],
) -> Result<Vec<(Template, Change)>, Error> {
    let mut changes = Vec::new();
    for template in templates {
        let path = template.kind.path(&template.name);
        let installed = client.json(Method::Get, &path, None).await?;
        let (list, field) = template.kind.list_key();
        let installed_digest = installed.as_ref().and_then(|value| {
            let body = match value.get(list) {
                Some(list) => list
                    .as_array()?
                    .iter()
                    .find(|entry| {
                        entry.get("name").and_then(Value::as_str) == Some(&template.name)
                    })?
                    .get(field)?,
                // `{"<name>": {…}}`: the legacy shape some compatible
                // servers answer with.
                None => value.get(&template.name)?,
            };
            body.pointer("/_meta/digest").cloned()
        });
        let change = match (installed, installed_digest) {
            (None, _) => Change::Created,
            (Some(_), Some(digest)) if Some(&digest) == template.body.pointer("/_meta/digest") => {
                Change::Unchanged
            }
            (Some(_), _) => Change::Updated,
        };
        if change != Change::Unchanged {
            client
                .json(Method::Put, &path, Some(&template.body))
                .await?;
        }
        changes.push((template.clone(), change));
    }
    Ok(changes)
}

fn with_digest(kind: Kind, name: &str, mut body: Value) -> Template {
    let digest = format!("{:08x}", crc32fast::hash(body.to_string().as_bytes()));
    if let Some(meta) = body.get_mut("_meta").and_then(Value::as_object_mut) {
        meta.insert("digest".to_owned(), Value::String(digest));
    }
    Template {
        kind,
        name: name.to_owned(),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_make_a_data_stream_with_flattened_details() {
        let templates = templates("logs-auth0.logs-default").unwrap();
        assert_eq!(templates.len(), 2);
        let component = &templates[0];
        assert_eq!(component.kind, Kind::Component);
        assert_eq!(
            component
                .body
                .pointer("/template/mappings/properties/auth0/properties/logs/properties/data/properties/details/type"),
            Some(&json!("flattened"))
        );
        let index = &templates[1];
        assert_eq!(index.body["index_patterns"], json!(["logs-auth0.logs-*"]));
        assert_eq!(index.body["data_stream"], json!({}));
        assert!(index.body["composed_of"]
            .as_array()
            .unwrap()
            .contains(&json!("ecs@mappings")));
        assert!(index.body.pointer("/_meta/digest").is_some());
    }

    #[test]
    fn a_custom_index_gets_its_own_pattern() {
        let templates = templates("auth0-audit").unwrap();
        assert_eq!(
            templates[1].body["index_patterns"],
            json!(["logs-auth0.logs-*", "auth0-audit"])
        );
    }

    #[test]
    fn digests_are_stable_and_change_with_the_body() {
        assert_eq!(
            templates("logs-auth0.logs-a").unwrap(),
            templates("logs-auth0.logs-b").unwrap()
        );
        assert_ne!(
            templates("logs-auth0.logs-a").unwrap()[1].body["_meta"]["digest"],
            templates("other").unwrap()[1].body["_meta"]["digest"]
        );
    }

    #[test]
    fn dry_run_prints_paths_and_json() {
        let text = dry_run(&templates("logs-auth0.logs-default").unwrap());
        assert!(text.starts_with("PUT /_component_template/auth0-ingest@package\n{"));
        assert!(text.contains("PUT /_index_template/auth0-ingest\n{"));
    }
}
