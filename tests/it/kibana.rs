//! Issue 19: the Kibana assets of `fields/kibana/` are well-formed saved
//! objects, read only fields `fields/` defines (with a type that supports
//! the use), and every query matches documents of our own fixture corpus.
//!
//! The formats followed, from Kibana's source (elastic/kibana, 8.13–9.x):
//! - `src/plugins/saved_search/server/saved_objects/schema.ts` and
//!   `search.ts` (search: `title`, `columns`, `sort`, `grid`,
//!   `kibanaSavedObjectMeta.searchSourceJSON` required);
//! - `src/plugins/dashboard/server/dashboard_saved_object/schema/v1/v1.ts`
//!   and `v2/v2.ts` (dashboard attributes, `unknowns: 'forbid'`),
//!   `dashboard_saved_object.ts` and
//!   `migrations/migrate_extract_panel_references.ts` (`panelRefName` =
//!   `panel_<i>` naming a reference);
//! - `src/plugins/visualizations/server/saved_objects/visualization.ts`,
//!   `visualization_migrations.ts` and `public/vis.ts` (`visState` with
//!   `type`, `aggs`, `params`; params merged with the type's defaults);
//! - `src/plugins/data_views/server/saved_objects/data_views.ts`
//!   (index-pattern: `title`, `timeFieldName`, `fieldFormatMap` as text);
//! - `x-pack/plugins/saved_objects_tagging/common/references.ts` (tag
//!   references named `tag-ref-<id>`).
//!
//! Panels are aggregation-based `visualization` objects (not Lens): their
//! format is stable from 8.13 through 9.x, imports migrate them forward,
//! and OpenSearch Dashboards reads the same `visState` (a later issue
//! reuses them).

#[path = "kibana/kql.rs"]
mod kql;

use std::collections::{BTreeMap, BTreeSet};

use auth0_ingest::event::{Input, RawEvent};
use auth0_ingest::fields;
use auth0_ingest::inputs::framing::{self, Item};
use auth0_ingest::pipeline::{self, enrich::Enrichers, Pipeline};
use auth0_ingest::setup::assets;
use bytes::Bytes;
use serde_json::Value;
use time::OffsetDateTime;

/// The ids, fixed: an import overwrites the previous one, and links to
/// the dashboard keep working.
const IDS: [&str; 18] = [
    "auth0-ingest-tag",
    "auth0-ingest-logs",
    "auth0-ingest-search-all",
    "auth0-ingest-search-failed-logins",
    "auth0-ingest-search-signups",
    "auth0-ingest-search-management-api",
    "auth0-ingest-search-anomalies",
    "auth0-ingest-search-salvaged",
    "auth0-ingest-vis-events-over-time",
    "auth0-ingest-vis-failed-logins-over-time",
    "auth0-ingest-vis-failed-logins-countries",
    "auth0-ingest-vis-failed-logins-as",
    "auth0-ingest-vis-failing-users",
    "auth0-ingest-vis-applications",
    "auth0-ingest-vis-user-agents",
    "auth0-ingest-vis-management-api",
    "auth0-ingest-vis-classification",
    "auth0-ingest-overview",
];

/// Field types a `terms` aggregation runs on.
const AGGREGATABLE: [&str; 13] = [
    "keyword",
    "constant_keyword",
    "wildcard",
    "long",
    "integer",
    "short",
    "byte",
    "double",
    "float",
    "scaled_float",
    "ip",
    "date",
    "boolean",
];

/// The attributes each type requires (from the schemas cited above).
fn required(kind: &str) -> &'static [&'static str] {
    match kind {
        "tag" => &["name", "description", "color"],
        "index-pattern" => &["title", "timeFieldName"],
        "search" => &["title", "columns", "sort", "kibanaSavedObjectMeta"],
        "visualization" => &["title", "visState", "uiStateJSON", "kibanaSavedObjectMeta"],
        "dashboard" => &[
            "title",
            "panelsJSON",
            "optionsJSON",
            "kibanaSavedObjectMeta",
        ],
        _ => &[],
    }
}

/// Dashboard attributes Kibana accepts (`unknowns: 'forbid'`).
const DASHBOARD_ATTRIBUTES: [&str; 12] = [
    "title",
    "description",
    "kibanaSavedObjectMeta",
    "timeRestore",
    "timeFrom",
    "timeTo",
    "refreshInterval",
    "controlGroupInput",
    "panelsJSON",
    "optionsJSON",
    "hits",
    "version",
];

/// Every problem of `objects` against the field definitions `defined`.
fn problems(objects: &[Value], defined: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut use_field =
        |owner: &str, field: &str, allowed: Option<&[&str]>, use_: &str| match defined.get(field) {
            None => problems.push(format!(
                "{owner}: {use_} `{field}` is not defined in fields/"
            )),
            Some(kind) if allowed.is_some_and(|allowed| !allowed.contains(&kind.as_str())) => {
                problems.push(format!("{owner}: {use_} `{field}` is a {kind}"))
            }
            Some(_) => {}
        };
    let present: BTreeSet<(String, String)> = objects
        .iter()
        .map(|object| (text(&object["type"]), text(&object["id"])))
        .collect();
    let mut shape = Vec::new();
    for object in objects {
        let (kind, id) = (text(&object["type"]), text(&object["id"]));
        let owner = format!("{kind} {id}");
        for key in ["typeMigrationVersion", "coreMigrationVersion"] {
            if !object[key].is_string() {
                shape.push(format!("{owner}: no {key}"));
            }
        }
        let attributes = &object["attributes"];
        for key in required(&kind) {
            if attributes.get(*key).is_none() {
                shape.push(format!("{owner}: attribute {key} missing"));
            }
        }
        if required(&kind).is_empty() {
            shape.push(format!("{owner}: unknown type"));
        }
        let references: Vec<&Value> = object["references"]
            .as_array()
            .map(|refs| refs.iter().collect())
            .unwrap_or_default();
        let names: BTreeSet<String> = references
            .iter()
            .map(|reference| text(&reference["name"]))
            .collect();
        for reference in &references {
            let target = (text(&reference["type"]), text(&reference["id"]));
            if !present.contains(&target) {
                shape.push(format!("{owner}: reference {target:?} is not in the file"));
            }
        }
        if kind != "tag"
            && kind != "index-pattern"
            && !references.iter().any(|reference| {
                reference["type"] == "tag"
                    && reference["name"]
                        == format!("tag-ref-{}", reference["id"].as_str().unwrap_or(""))
            })
        {
            shape.push(format!("{owner}: not tagged"));
        }
        if let Some(source) = attributes.pointer("/kibanaSavedObjectMeta/searchSourceJSON") {
            if let Some(name) = source.get("indexRefName").and_then(Value::as_str) {
                if !names.contains(name) {
                    shape.push(format!("{owner}: indexRefName {name} names no reference"));
                }
            } else if kind != "dashboard" {
                shape.push(format!("{owner}: no indexRefName"));
            }
            if source["filter"]
                .as_array()
                .is_none_or(|filter| !filter.is_empty())
            {
                shape.push(format!(
                    "{owner}: filters must be [] (queries are checked, filters not)"
                ));
            }
            let query = text(
                &source
                    .pointer("/query/query")
                    .cloned()
                    .unwrap_or(Value::Null),
            );
            match kql::parse(&query) {
                Ok(parsed) => kql::fields(&parsed)
                    .iter()
                    .for_each(|field| use_field(&owner, field, None, "query on")),
                Err(why) => shape.push(format!("{owner}: query `{query}`: {why}")),
            }
        }
        match kind.as_str() {
            "index-pattern" => {
                use_field(
                    &owner,
                    &text(&attributes["timeFieldName"]),
                    Some(&["date"]),
                    "time field",
                );
                for (field, format) in attributes["fieldFormatMap"]
                    .as_object()
                    .into_iter()
                    .flatten()
                {
                    let allowed: &[&str] = match format["id"].as_str() {
                        Some("ip") => &["ip"],
                        Some("number" | "duration" | "bytes") => {
                            &["long", "integer", "double", "float"]
                        }
                        _ => &[
                            "keyword",
                            "wildcard",
                            "constant_keyword",
                            "match_only_text",
                            "text",
                        ],
                    };
                    use_field(&owner, field, Some(allowed), "field format on");
                }
            }
            "search" => {
                for column in attributes["columns"].as_array().into_iter().flatten() {
                    use_field(&owner, &text(column), None, "column");
                }
                for sort in attributes["sort"].as_array().into_iter().flatten() {
                    use_field(&owner, &text(&sort[0]), Some(&AGGREGATABLE), "sort on");
                }
            }
            "visualization" => {
                let state = &attributes["visState"];
                if ![
                    "histogram",
                    "line",
                    "area",
                    "table",
                    "pie",
                    "metric",
                    "tagcloud",
                ]
                .contains(&state["type"].as_str().unwrap_or(""))
                {
                    shape.push(format!("{owner}: vis type {}", state["type"]));
                }
                for agg in state["aggs"].as_array().into_iter().flatten() {
                    let field = agg.pointer("/params/field").map(text);
                    match (agg["type"].as_str(), field) {
                        (Some("count"), None) => {}
                        (Some("terms"), Some(field)) => {
                            use_field(&owner, &field, Some(&AGGREGATABLE), "terms on")
                        }
                        (Some("date_histogram"), Some(field)) => {
                            use_field(&owner, &field, Some(&["date"]), "date_histogram on")
                        }
                        other => shape.push(format!("{owner}: aggregation {other:?} not checked")),
                    }
                }
            }
            "dashboard" => {
                for key in attributes
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(key, _)| key)
                {
                    if !DASHBOARD_ATTRIBUTES.contains(&key.as_str()) {
                        shape.push(format!("{owner}: attribute {key} is refused by Kibana"));
                    }
                }
                for panel in attributes["panelsJSON"].as_array().into_iter().flatten() {
                    let name = text(&panel["panelRefName"]);
                    if !names.contains(&name) || panel["gridData"]["w"].as_u64().is_none() {
                        shape.push(format!(
                            "{owner}: panel {name} names no reference or has no gridData"
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    problems.extend(shape);
    problems
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

fn defined() -> BTreeMap<String, String> {
    fields::definitions()
        .unwrap()
        .into_iter()
        .map(|field| (field.name, field.kind))
        .collect()
}

#[test]
fn r19_assets_are_well_formed_and_read_only_defined_fields() {
    let objects = assets::objects().unwrap();
    let ids: Vec<String> = objects.iter().map(|object| text(&object["id"])).collect();
    assert_eq!(ids, IDS, "ids are stable (and unique)");
    let problems = problems(&objects, &defined());
    assert!(problems.is_empty(), "{problems:#?}");

    // The dashboard: ≥ 8 visualization panels plus every saved search.
    let dashboard = objects
        .iter()
        .find(|object| object["id"] == assets::DASHBOARD_ID)
        .unwrap();
    assert_eq!(dashboard["attributes"]["title"], "Auth0 overview");
    let panels: Vec<&Value> = dashboard["references"].as_array().unwrap().iter().collect();
    let count = |kind: &str| {
        panels
            .iter()
            .filter(|reference| reference["type"] == kind)
            .count()
    };
    assert!(count("visualization") >= 8);
    assert_eq!(count("search"), 6);
    let tag = objects
        .iter()
        .find(|object| object["type"] == "tag")
        .unwrap();
    assert_eq!(tag["attributes"]["name"], "Auth0");
    let data_view = objects
        .iter()
        .find(|object| object["id"] == assets::DATA_VIEW_ID)
        .unwrap();
    assert_eq!(data_view["attributes"]["timeFieldName"], "@timestamp");
}

#[test]
fn r19_renaming_a_field_in_fields_without_the_assets_fails_the_check() {
    let objects = assets::objects().unwrap();
    for field in [
        "user.name",
        "auth0.logs.data.classification",
        "url.path",
        "@timestamp",
    ] {
        let mut renamed = defined();
        let kind = renamed.remove(field).unwrap();
        renamed.insert(format!("{field}_renamed"), kind);
        let problems = problems(&objects, &renamed);
        assert!(
            problems
                .iter()
                .any(|problem| problem.contains(&format!("`{field}`"))),
            "{field}: {problems:#?}"
        );
    }
    // A type that cannot be aggregated fails too.
    let mut retyped = defined();
    retyped.insert("user.name".to_owned(), "match_only_text".to_owned());
    assert!(problems(&objects, &retyped)
        .iter()
        .any(|problem| problem.contains("terms on `user.name` is a match_only_text")));
}

/// The project's own fixture corpus, converted with the library's pipeline.
fn corpus() -> Vec<Value> {
    let pipeline = Pipeline::new(pipeline::Config::defaults(), Enrichers::none());
    let mut documents = Vec::new();
    for file in ["real-shapes.jsonl", "tricky.jsonl"] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/events")
            .join(file);
        let body = std::fs::read(&path).unwrap();
        for item in framing::split(&body) {
            let Item::Event(bytes) = item else { continue };
            let raw = RawEvent {
                input: Input::Webhook,
                received_at: OffsetDateTime::now_utc(),
                bytes: Bytes::copy_from_slice(bytes),
            };
            if let Ok(outcome) = pipeline.process(&raw) {
                if let Some(document) = outcome.into_document() {
                    documents.push(serde_json::from_str(&document.json).unwrap());
                }
            }
        }
    }
    documents
}

#[test]
fn r19_every_query_and_panel_filter_matches_fixture_documents() {
    let documents = corpus();
    assert!(documents.len() >= 15, "{}", documents.len());
    let mut checked = 0;
    for object in assets::objects().unwrap() {
        let Some(query) =
            object.pointer("/attributes/kibanaSavedObjectMeta/searchSourceJSON/query/query")
        else {
            continue;
        };
        if object["type"] == "dashboard" {
            continue;
        }
        let parsed = kql::parse(query.as_str().unwrap()).unwrap();
        let hits = documents
            .iter()
            .filter(|document| kql::matches(&parsed, document))
            .count();
        assert!(
            hits >= 1,
            "{} `{query}` matches no fixture document",
            object["id"]
        );
        checked += 1;
    }
    assert_eq!(checked, 15);
}
