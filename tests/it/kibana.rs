//! Issue 19: the Kibana assets of `fields/kibana/` are well-formed saved
//! objects, read only fields `fields/` defines (with a type that supports
//! the use), and every query matches documents of our own fixture corpus.
//!
//! The formats followed, read in Kibana's source (elastic/kibana; 8.x
//! paths under `src/plugins/…`, 9.x under `src/platform/plugins/shared/…`;
//! the commit of each file read is given):
//! - versions: `packages/core/saved-objects/core-saved-objects-migration-server-internal/src/document_migrator/pipelines/upgrade_pipeline.ts`
//!   (ab5a4a6f: `assertCompatibility` refuses a `typeMigrationVersion`
//!   above the type's last migrate/convert version; `Convert` transforms
//!   run on documents below `convertToMultiNamespaceTypeVersion`) and
//!   `…/document_migrator/migrations/index.ts` (74fd10e3: the last core
//!   transform is `'8.8.0'`) — see [`version_window`];
//! - search: `src/plugins/saved_search/server/saved_objects/search.ts`
//!   (02705568: `convertToMultiNamespaceTypeVersion: '8.0.0'`,
//!   `schemas['8.8.0']`: `title` and `kibanaSavedObjectMeta.searchSourceJSON`
//!   required, the accepted keys of [`accepted`]);
//! - dashboard: `src/plugins/dashboard/server/dashboard_saved_object/dashboard_saved_object.ts`
//!   (02705568), its 9.x twin `src/platform/plugins/shared/dashboard/server/dashboard_saved_object/dashboard_saved_object.ts`
//!   (7527ca73: model versions 1–2, `schemas['8.9.0']`),
//!   `…/schema/v1/v1.ts` (3c37204b: attributes, `unknowns: 'forbid'`),
//!   `…/migrations/dashboard_saved_object_migrations.ts` (d78d5cbc: own
//!   migrations end at 7.17.3) and `migrate_extract_panel_references.ts`
//!   (`panelRefName` = `panel_<i>` naming a reference);
//! - visualization: `src/plugins/visualizations/server/saved_objects/visualization.ts`
//!   (02705568), `src/platform/plugins/shared/visualizations/server/saved_objects/visualization.ts`
//!   (91016ea1: `schemas['8.8.0']`, `visState`/`uiStateJSON` as text) and
//!   `…/server/migrations/visualization_saved_object_migrations.ts`
//!   (328b3b5e: last migration `'8.5.0'`; `visState` with `type`, `aggs`,
//!   `params`);
//! - data view: `src/plugins/data_views/server/saved_objects/data_views.ts`
//!   (02705568: `index-pattern`, converted at 8.0.0) and
//!   `index_pattern_migrations.ts` (731e0e8b: last migration 7.11.0);
//! - tag: `x-pack/plugins/saved_objects_tagging/server/saved_objects/tag.ts`
//!   (341c3c65: `name`, `description`, `color`, converted at 8.0.0) and
//!   `x-pack/plugins/saved_objects_tagging/common/references.ts` (tag
//!   references named `tag-ref-<id>`).
//!
//! `kibanaSavedObjectMeta.searchSourceJSON` names its data view by
//! `indexRefName`, the `name` of an `index-pattern` reference (search
//! source `extractReferences`); the dashboard's panels by `panelRefName`.
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
use auth0_ingest::pipeline::enrich::{geo::Geo, ua::UserAgents, Enrichers};
use auth0_ingest::pipeline::{self, Pipeline};
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

/// The attributes Kibana's create schema accepts for a type (config-schema
/// objects refuse unknown keys): search `schemas['8.8.0']`, visualization
/// `schemas['8.8.0']`, dashboard `schema/v1/v1.ts` (`unknowns: 'forbid'`).
/// `None`: the type registers no schema (index-pattern, tag).
fn accepted(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "search" => Some(&[
            "title",
            "description",
            "columns",
            "sort",
            "grid",
            "rowHeight",
            "rowsPerPage",
            "hideChart",
            "breakdownField",
            "kibanaSavedObjectMeta",
            "isTextBasedQuery",
            "usesAdHocDataView",
            "timeRestore",
            "timeRange",
            "refreshInterval",
            "viewMode",
            "hideAggregatedPreview",
            "hits",
            "version",
        ]),
        "visualization" => Some(&[
            "title",
            "description",
            "version",
            "kibanaSavedObjectMeta",
            "uiStateJSON",
            "visState",
            "savedSearchRefName",
        ]),
        "dashboard" => Some(&[
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
        ]),
        _ => None,
    }
}

/// The `coreMigrationVersion` every object carries: the last core
/// transform (`document_migrator/migrations/index.ts`: `'8.8.0'`), which
/// `assertValidCoreVersion` accepts on every Kibana from 8.8.0 on.
const CORE_MIGRATION_VERSION: &str = "8.8.0";

/// The `typeMigrationVersion` window of each type. Below: the type's
/// `convertToMultiNamespaceTypeVersion` (`8.0.0` for all five); an older
/// document imported into a space other than `default` runs the convert
/// transform, which regenerates its id (and breaks our fixed ids). Above:
/// the last version a Kibana 8.13 knows for the type
/// (`upgrade_pipeline.ts` `assertCompatibility` refuses a document "that
/// belongs to a more recent version of Kibana"): index-pattern and tag have
/// no migration after the 8.0.0 conversion; the dashboard's own migrations
/// end at 7.17.3 (the rest come from embeddables, so we claim no more than
/// the conversion); visualization's migrations end at `'8.5.0'`
/// (`removeExclamationCircleIcon`); search claims only the conversion.
/// 9.x knows more (model versions `10.x`) and migrates these up.
fn version_window(kind: &str) -> Option<(&'static str, &'static str)> {
    match kind {
        "tag" | "index-pattern" | "search" | "dashboard" => Some(("8.0.0", "8.0.0")),
        "visualization" => Some(("8.0.0", "8.5.0")),
        _ => None,
    }
}

fn semver(text: &str) -> Option<(u64, u64, u64)> {
    let mut parts = text.split('.').map(|part| part.parse::<u64>().ok());
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Some(major)), Some(Some(minor)), Some(Some(patch)), None) => {
            Some((major, minor, patch))
        }
        _ => None,
    }
}

/// The version fields' problems of one object.
fn version_problems(owner: &str, kind: &str, object: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if object["coreMigrationVersion"] != CORE_MIGRATION_VERSION {
        problems.push(format!(
            "{owner}: coreMigrationVersion must be {CORE_MIGRATION_VERSION}"
        ));
    }
    if object.get("migrationVersion").is_some() {
        problems.push(format!(
            "{owner}: migrationVersion is the pre-8.8 spelling; use typeMigrationVersion"
        ));
    }
    let found = object["typeMigrationVersion"].as_str().and_then(semver);
    match (version_window(kind), found) {
        (Some((low, high)), Some(found))
            if semver(low).is_some_and(|low| found >= low)
                && semver(high).is_some_and(|high| found <= high) => {}
        (Some((low, high)), _) => problems.push(format!(
            "{owner}: typeMigrationVersion {} is outside {low}..={high}",
            object["typeMigrationVersion"]
        )),
        (None, _) => {}
    }
    problems
}

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
        shape.extend(version_problems(&owner, &kind, object));
        let attributes = &object["attributes"];
        if let (Some(allowed), Some(present)) = (accepted(&kind), attributes.as_object()) {
            for key in present.keys() {
                if !allowed.contains(&key.as_str()) {
                    shape.push(format!("{owner}: attribute {key} is refused by Kibana"));
                }
            }
        }
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

/// A GeoIP City + ASN pair built for the fixtures' public addresses (the
/// documentation ranges they use), so the country and AS panels group by
/// fields that really have values: 203.0.113.0/24 is Springfield, US, AS
/// 64500 "Example Net"; 2001:db8::/32 is Paris, FR, AS 64501 "Exemple
/// Télécom"; 198.51.100.0/24 is Berlin, DE, AS 64502 "Beispiel AG".
mod geoip {
    use std::collections::BTreeMap;

    use maxminddb_writer::metadata::IpVersion;
    use maxminddb_writer::paths::IpAddrWithMask;
    use maxminddb_writer::Database;
    use serde::Serialize;

    /// The networks and what they are.
    const PLACES: [(&str, Place); 3] = [
        (
            "::203.0.113.0/120",
            Place {
                city: "Springfield",
                continent: "North America",
                country: ("US", "United States"),
                location: (39.8, -89.65),
                asn: (64500, "Example Net"),
            },
        ),
        (
            "2001:db8::/32",
            Place {
                city: "Paris",
                continent: "Europe",
                country: ("FR", "France"),
                location: (48.8566, 2.3522),
                asn: (64501, "Exemple Télécom"),
            },
        ),
        (
            "::198.51.100.0/120",
            Place {
                city: "Berlin",
                continent: "Europe",
                country: ("DE", "Germany"),
                location: (52.52, 13.405),
                asn: (64502, "Beispiel AG"),
            },
        ),
    ];

    struct Place {
        city: &'static str,
        continent: &'static str,
        country: (&'static str, &'static str),
        location: (f64, f64),
        asn: (u32, &'static str),
    }

    type Names = BTreeMap<&'static str, &'static str>;

    #[derive(Serialize)]
    struct Named {
        names: Names,
    }

    #[derive(Serialize)]
    struct Coded {
        iso_code: &'static str,
        names: Names,
    }

    #[derive(Serialize)]
    struct Location {
        latitude: f64,
        longitude: f64,
    }

    #[derive(Serialize)]
    struct City {
        city: Named,
        continent: Named,
        country: Coded,
        location: Location,
    }

    #[derive(Serialize)]
    struct Asn {
        autonomous_system_number: u32,
        autonomous_system_organization: &'static str,
    }

    fn en(name: &'static str) -> Names {
        [("en", name)].into()
    }

    /// One database of `kind` with `value(place)` at each network.
    fn build<T: Serialize>(kind: &str, value: impl Fn(&Place) -> T) -> Vec<u8> {
        let mut database = Database::default();
        for (network, place) in &PLACES {
            let data = database.insert_value(value(place)).unwrap();
            database.insert_node(network.parse::<IpAddrWithMask>().unwrap(), data);
        }
        database.metadata.database_type = kind.to_owned();
        database.metadata.ip_version = IpVersion::V6;
        database.write_to(Vec::new()).unwrap()
    }

    /// The City database.
    pub fn city() -> Vec<u8> {
        build("Test-City", |place| City {
            city: Named {
                names: en(place.city),
            },
            continent: Named {
                names: en(place.continent),
            },
            country: Coded {
                iso_code: place.country.0,
                names: en(place.country.1),
            },
            location: Location {
                latitude: place.location.0,
                longitude: place.location.1,
            },
        })
    }

    /// The ASN database.
    pub fn asn() -> Vec<u8> {
        build("Test-ASN", |place| Asn {
            autonomous_system_number: place.asn.0,
            autonomous_system_organization: place.asn.1,
        })
    }
}

/// The project's own fixture corpus, converted with the library's pipeline
/// (GeoIP from [`geoip`]; user agents as written).
fn corpus() -> Vec<Value> {
    let enrichers = Enrichers {
        geo: Geo::from_bytes(Some(geoip::city()), Some(geoip::asn())).unwrap(),
        user_agents: UserAgents::off(),
    };
    let pipeline = Pipeline::new(pipeline::Config::defaults(), enrichers);
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

/// Every field a panel groups by (`terms`, `date_histogram`) has a value in
/// at least one document the panel's query matches: a panel that filters
/// right but buckets an always-empty field draws nothing.
#[test]
fn r19_every_panel_groups_by_a_field_with_values_in_the_documents_it_matches() {
    let documents = corpus();
    let mut checked = Vec::new();
    for object in assets::objects().unwrap() {
        if object["type"] != "visualization" {
            continue;
        }
        let query = object
            .pointer("/attributes/kibanaSavedObjectMeta/searchSourceJSON/query/query")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let query = kql::parse(query).unwrap();
        let matched: Vec<&Value> = documents
            .iter()
            .filter(|document| kql::matches(&query, document))
            .collect();
        for agg in object["attributes"]["visState"]["aggs"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Some(field) = agg.pointer("/params/field").and_then(Value::as_str) else {
                continue;
            };
            let exists = kql::parse(&format!("{field} : *")).unwrap();
            let with_value = matched
                .iter()
                .filter(|document| kql::matches(&exists, document))
                .count();
            assert!(
                with_value >= 1,
                "{}: no document its query matches ({}) has `{field}`",
                object["id"],
                matched.len()
            );
            checked.push(field.to_owned());
        }
    }
    for field in [
        "source.geo.country_name",
        "source.as.organization.name",
        "user.name",
        "url.path",
    ] {
        assert!(checked.iter().any(|checked| checked == field), "{field}");
    }
}
