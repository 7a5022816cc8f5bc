//! The definitions parse, the template has the promised types, and every
//! field the pipeline emits is defined.

use std::collections::BTreeSet;
use std::path::Path;

use bytes::Bytes;
use time::OffsetDateTime;

use super::*;
use crate::event::{Input, RawEvent};
use crate::inputs::framing::{self, Item};
use crate::pipeline::enrich::geo::tests::{asn_database, city_database};
use crate::pipeline::enrich::geo::Geo;
use crate::pipeline::enrich::ua::UserAgents;
use crate::pipeline::enrich::uap::Regexes;
use crate::pipeline::enrich::{Enrichers, DEFAULT_UAP_REGEXES};
use crate::pipeline::{types, Config, Pipeline};

/// Our own tricky events (every optional field, odd shapes, failures).
const TRICKY: &str = include_str!("../../tests/fixtures/events/tricky.jsonl");
/// Our events in Auth0's real shapes (short-form user agents, Management
/// API requests, salvaged events).
const REAL_SHAPES: &str = include_str!("../../tests/fixtures/events/real-shapes.jsonl");

fn kind_of<'f>(fields: &'f [Field], name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|field| field.name == name)
        .map(|field| field.kind.as_str())
}

#[test]
fn definitions_parse_and_are_unique() {
    let fields = definitions().unwrap();
    let names: BTreeSet<&str> = fields.iter().map(|field| field.name.as_str()).collect();
    assert_eq!(names.len(), fields.len(), "duplicate definitions");
    for field in &fields {
        assert!(
            !field.description.is_empty(),
            "{} has no description",
            field.name
        );
    }
    assert_eq!(
        kind_of(&fields, "auth0.logs.data.details"),
        Some("flattened")
    );
    assert_eq!(kind_of(&fields, "source.ip"), Some("ip"));
    assert_eq!(kind_of(&fields, "source.geo.location"), Some("geo_point"));
    assert_eq!(kind_of(&fields, "@timestamp"), Some("date"));
}

#[test]
fn template_maps_the_promised_types() {
    let template = index_template("*").unwrap();
    assert_eq!(template["index_patterns"], json!(["logs-auth0.logs-*"]));
    assert_eq!(template["data_stream"], json!({}));
    let properties = &template["template"]["mappings"]["properties"];
    let at = |path: &str| {
        path.split('.')
            .try_fold(properties, |value, key| {
                value.get(key)?.get("properties").or(value.get(key))
            })
            .cloned()
    };
    let data = &properties["auth0"]["properties"]["logs"]["properties"]["data"];
    assert_eq!(data["dynamic"], json!(false));
    assert_eq!(data["properties"]["details"]["type"], "flattened");
    assert_eq!(data["properties"]["date"]["type"], "date");
    assert_eq!(
        data["properties"]["login"]["properties"]["initiatedAt"]["type"],
        "date"
    );
    assert_eq!(properties["source"]["properties"]["ip"]["type"], "ip");
    assert_eq!(
        properties["source"]["properties"]["geo"]["properties"]["location"]["type"],
        "geo_point"
    );
    assert_eq!(properties["@timestamp"]["type"], "date");
    assert_eq!(
        properties["event"]["properties"]["ingested"]["type"],
        "date"
    );
    assert_eq!(
        properties["event"]["properties"]["original"]["index"],
        json!(false)
    );
    assert_eq!(
        properties["user_agent"]["properties"]["original"]["fields"]["text"]["type"],
        "match_only_text"
    );
    assert!(at("data_stream.namespace").is_some());
    assert_eq!(template["template"]["mappings"]["dynamic"], json!(false));
}

/// Regression (review): a leaf over 32,766 bytes, or nested deeper than 20,
/// in a `flattened` field made Elasticsearch reject the whole document.
#[test]
fn flattened_fields_bound_leaf_length_and_depth() {
    fn visit(name: &str, mapping: &serde_json::Value, found: &mut usize) {
        if mapping["type"] == "flattened" {
            *found += 1;
            assert_eq!(mapping["ignore_above"], json!(8191), "{name}");
            assert_eq!(mapping["depth_limit"], json!(50), "{name}");
        }
        for (key, child) in mapping["properties"].as_object().into_iter().flatten() {
            visit(&full_name(name, key), child, found);
        }
    }
    let template = index_template("*").unwrap();
    let mut found = 0;
    for (name, mapping) in template["template"]["mappings"]["properties"]
        .as_object()
        .unwrap()
    {
        visit(name, mapping, &mut found);
    }
    let flattened = definitions()
        .unwrap()
        .iter()
        .filter(|field| field.kind == "flattened")
        .count();
    assert!(flattened >= 7, "{flattened}");
    assert_eq!(found, flattened);
    // Keyword fields keep the default unless they set their own.
    let data = &template["template"]["mappings"]["properties"]["auth0"]["properties"]["logs"]
        ["properties"]["data"]["properties"];
    assert_eq!(
        data["client_id"]["ignore_above"],
        json!(KEYWORD_IGNORE_ABOVE)
    );
}

/// Leaf paths of a document; array elements share their array's path.
fn paths(value: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(members) => {
            for (key, member) in members {
                paths(member, &full_name(prefix, key), out);
            }
        }
        serde_json::Value::Array(elements) => {
            for element in elements {
                paths(element, prefix, out);
            }
            if elements.iter().all(|element| !element.is_object()) {
                out.insert(prefix.to_owned());
            }
        }
        _ => {
            out.insert(prefix.to_owned());
        }
    }
}

/// The bodies the test maps: ours, every code, and the shared fixtures
/// (inputs of Elastic's pipeline tests and its sample log-stream files)
/// when `../shared` is present.
fn bodies() -> Vec<Vec<u8>> {
    let mut bodies = vec![TRICKY.as_bytes().to_vec(), REAL_SHAPES.as_bytes().to_vec()];
    let table = types::Table::embedded();
    let codes: Vec<String> = table
        .codes()
        .map(|code| json!({"date": "2025-01-01T00:00:00Z", "type": code}).to_string())
        .collect();
    bodies.push(codes.join("\n").into_bytes());
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/elastic-auth0");
    if let Ok(entries) = std::fs::read_dir(&shared) {
        let mut files: Vec<_> = entries.flatten().map(|entry| entry.path()).collect();
        files.sort();
        for file in files {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_owned();
            let Ok(text) = std::fs::read_to_string(&file) else {
                continue;
            };
            if name.starts_with("test-") && name.ends_with(".json") && !name.contains("expected") {
                let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
                let events: Vec<String> = parsed["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|event| event["json"].to_string())
                    .collect();
                bodies.push(events.join("\n").into_bytes());
            } else if name.ends_with(".log") {
                // `auth0-ndjson-1.log` wraps each item as `{"json": …}`.
                let lines: Vec<String> = text
                    .lines()
                    .filter(|line| !line.trim().is_empty())
                    .map(|line| {
                        let value: serde_json::Value = serde_json::from_str(line).unwrap();
                        value.get("json").unwrap_or(&value).to_string()
                    })
                    .collect();
                bodies.push(lines.join("\n").into_bytes());
            }
        }
    } else {
        println!("fields: ../shared absent; checking our own events only");
    }
    bodies
}

#[test]
fn every_emitted_field_is_defined() {
    let regexes = std::fs::read_to_string(DEFAULT_UAP_REGEXES)
        .expect("Debian's uap-core must be installed (apt-get install uap-core)");
    let mut config = Config::defaults();
    config.preserve_original_event = true;
    let pipeline = Pipeline::new(
        config,
        Enrichers {
            geo: Geo::from_bytes(Some(city_database()), Some(asn_database())).unwrap(),
            user_agents: UserAgents::uap(Regexes::from_yaml(&regexes).unwrap()),
        },
    );
    let fields = definitions().unwrap();
    // Object-valued field types: their members are part of the one field.
    let flattened: Vec<&str> = fields
        .iter()
        .filter(|field| field.kind == "flattened" || field.kind == "geo_point")
        .map(|field| field.name.as_str())
        .collect();
    let mut emitted = BTreeSet::new();
    let mut documents = 0;
    for body in bodies() {
        for item in framing::split(&body) {
            let Item::Event(bytes) = item else {
                panic!("fixture item is not an event")
            };
            let raw = RawEvent {
                input: Input::Webhook,
                received_at: OffsetDateTime::now_utc(),
                bytes: Bytes::copy_from_slice(bytes),
            };
            let document: serde_json::Value = serde_json::from_str(
                &pipeline
                    .process(&raw)
                    .unwrap()
                    .into_document()
                    .unwrap()
                    .json,
            )
            .unwrap();
            paths(&document, "", &mut emitted);
            documents += 1;
        }
    }
    let undefined: Vec<&String> = emitted
        .iter()
        .filter(|path| {
            kind_of(&fields, path).is_none()
                && !flattened
                    .iter()
                    .any(|root| path.starts_with(&format!("{root}.")))
        })
        .collect();
    println!(
        "fields: {documents} documents, {} distinct leaf paths",
        emitted.len()
    );
    assert!(
        undefined.is_empty(),
        "emitted but not defined in fields/: {undefined:?}"
    );
    // The tricky events reach the fields that only odd input produces.
    for path in [
        "error.message",
        "event.original",
        "source.geo.location.lat",
        "source.as.organization.name",
        "auth0.logs.data.location_info.time_zone",
        "auth0.logs.data.login.stats.loginsCount",
        "user.email",
        "user_agent.os.full",
        "http.request.method",
        "http.response.status_code",
        "url.path",
        "url.query",
        "user.target.id",
        "user.target.email",
    ] {
        assert!(emitted.contains(path), "{path} never emitted");
    }
}

/// `fields/index-template.json` is the generated template, committed for
/// review; `UPDATE_FIELDS=1 cargo test --lib fields` rewrites it.
#[test]
fn committed_template_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fields/index-template.json");
    let generated = format!("{:#}\n", index_template("*").unwrap());
    if std::env::var_os("UPDATE_FIELDS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "fields/index-template.json is stale: run `UPDATE_FIELDS=1 cargo test --lib fields`"
    );
}
