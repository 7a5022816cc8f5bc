//! Conformance with Elastic's Auth0 integration: the shared fixture pairs
//! (`../shared/conformance/elastic-auth0/`, see its README for which are
//! current) converted with MaxMind's test databases (`../shared/geoip/`)
//! and uap-core, compared leaf by leaf with Elastic's expected documents.
//!
//! Rules, from the fixtures' `test-common-config.yml`: `event.ingested` may
//! be anything; `user_agent.version` may differ by a trailing dot. Fields we
//! add beyond Elastic's are listed in [`OURS`] and allowed; any other extra
//! field fails. `test-pull-responses` predates package 1.22.0, so its
//! expectation gets the 1.22.0 `related.user` (= `[user.id]`).
//! Where we deliberately go past Elastic (issue 13: Management API fields,
//! the acting administrator, full user agents), [`past_elastic`] applies
//! those rules to Elastic's expectation first; the test prints both counts
//! (Elastic's leaves as they are, and with the rules applied) and demands
//! 100 % of the latter.
//! Skipped, saying so, when `../shared` is absent.

mod past_elastic;

use std::path::{Path, PathBuf};

use auth0_ingest::enrichment;
use auth0_ingest::event::{Input, RawEvent};
use auth0_ingest::pipeline::enrich::{self, ua};
use auth0_ingest::pipeline::{self, Pipeline};
use bytes::Bytes;
use serde_json::Value;
use time::OffsetDateTime;

/// The current fixture pairs.
const PAIRS: &[&str] = &[
    "test-logout-success.json",
    "test-user-behaviour-fail.json",
    "test-pull-responses.json",
];

/// Fields the agent adds that Elastic's pipeline tests do not show (Elastic
/// adds them too, outside the ingest pipeline).
const OURS: &[&str] = &[
    "agent.type",
    "agent.version",
    "data_stream.dataset",
    "data_stream.namespace",
    "data_stream.type",
    "event.dataset",
    "event.ingested",
    "event.module",
    "input.type",
    "tags",
];

fn shared() -> Option<PathBuf> {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
    shared
        .join("conformance/elastic-auth0")
        .is_dir()
        .then_some(shared)
}

/// A pipeline with MaxMind's test databases and uap-core.
pub fn pipeline(shared: &Path) -> Pipeline {
    let loaded = enrichment::load(&enrich::Config {
        geoip_city: Some(shared.join("geoip/GeoLite2-City-Test.mmdb")),
        geoip_asn: Some(shared.join("geoip/GeoLite2-ASN-Test.mmdb")),
        user_agent: ua::Mode::Uap,
        uap_regexes: PathBuf::from(enrich::DEFAULT_UAP_REGEXES),
    });
    assert!(
        loaded.warnings.is_empty(),
        "conformance needs ../shared/geoip and Debian's uap-core: {:?}",
        loaded.warnings
    );
    Pipeline::new(pipeline::Config::defaults(), loaded.enrichers)
}

/// The input events of an Elastic pipeline-test file (`{"events":[{"json":…}]}`).
pub fn events(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    file["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["json"].clone())
        .collect()
}

/// Maps one event as the webhook would.
pub fn convert(pipeline: &Pipeline, event: &Value) -> Value {
    let raw = RawEvent {
        input: Input::Webhook,
        received_at: OffsetDateTime::now_utc(),
        bytes: Bytes::from(event.to_string()),
    };
    serde_json::from_str(
        &pipeline
            .process(&raw)
            .unwrap()
            .into_document()
            .unwrap()
            .json,
    )
    .unwrap()
}

/// Leaves of a document: dotted path → value (arrays of scalars are leaves).
fn leaves(value: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        Value::Object(members) => {
            for (key, member) in members {
                leaves(member, &join(key), out);
            }
        }
        Value::Array(elements) if elements.iter().any(|e| e.is_object() || e.is_array()) => {
            for (index, element) in elements.iter().enumerate() {
                leaves(element, &join(&index.to_string()), out);
            }
        }
        other => out.push((prefix.to_owned(), other.clone())),
    }
}

fn equal(path: &str, expected: &Value, actual: Option<&Value>) -> bool {
    let Some(actual) = actual else {
        return false;
    };
    match path {
        "event.ingested" => true,
        "user_agent.version" => {
            let trim = |value: &Value| {
                value
                    .as_str()
                    .map(|text| text.trim_end_matches('.').to_owned())
            };
            trim(expected) == trim(actual)
        }
        _ => match (expected.as_f64(), actual.as_f64()) {
            (Some(expected), Some(actual)) => (expected - actual).abs() < 1e-9,
            _ => expected == actual,
        },
    }
}

#[test]
fn elastic_fixture_pairs_match_leaf_for_leaf() {
    let Some(shared) = shared() else {
        println!("conformance: SKIPPED: ../shared/conformance/elastic-auth0 is not there");
        return;
    };
    let pipeline = pipeline(&shared);
    let directory = shared.join("conformance/elastic-auth0");
    let (mut total, mut matched) = (0usize, 0usize);
    let (mut elastic_total, mut elastic_matched, mut past) = (0usize, 0usize, 0usize);
    let mut problems = Vec::new();
    for pair in PAIRS {
        let inputs = events(&directory.join(pair));
        let expected_text =
            std::fs::read_to_string(directory.join(format!("{pair}-expected.json"))).unwrap();
        let expected: Value = serde_json::from_str(&expected_text).unwrap();
        let expected = expected["expected"].as_array().unwrap();
        assert_eq!(inputs.len(), expected.len(), "{pair}");
        let (mut file_total, mut file_matched) = (0usize, 0usize);
        for (index, (input, expected)) in inputs.iter().zip(expected).enumerate() {
            let mut expected = expected.clone();
            if *pair == "test-pull-responses.json" {
                if let Some(id) = expected["user"]["id"].as_str().map(str::to_owned) {
                    expected["related"] = serde_json::json!({ "user": [id] });
                }
            }
            let actual = convert(&pipeline, input);
            let mut actual_leaves = Vec::new();
            leaves(&actual, "", &mut actual_leaves);
            let found = |path: &str| {
                actual_leaves
                    .iter()
                    .find(|(p, _)| p == path)
                    .map(|(_, v)| v)
            };
            let mut elastic_leaves = Vec::new();
            leaves(&expected, "", &mut elastic_leaves);
            elastic_total += elastic_leaves.len();
            elastic_matched += elastic_leaves
                .iter()
                .filter(|(path, value)| equal(path, value, found(path)))
                .count();
            past += past_elastic::apply(input, &mut expected);
            let mut expected_leaves = Vec::new();
            leaves(&expected, "", &mut expected_leaves);
            for (path, value) in &expected_leaves {
                file_total += 1;
                let found = found(path);
                if equal(path, value, found) {
                    file_matched += 1;
                } else {
                    problems.push(format!(
                        "{pair}[{index}] {path}: expected {value}, got {found:?}"
                    ));
                }
            }
            for (path, value) in &actual_leaves {
                let expected_has = expected_leaves.iter().any(|(p, _)| p == path);
                if !expected_has && !OURS.contains(&path.as_str()) {
                    problems.push(format!(
                        "{pair}[{index}] {path}: unexpected extra field = {value}"
                    ));
                }
            }
        }
        println!(
            "conformance: {pair}: {file_matched}/{file_total} expected leaves equal ({:.1} %)",
            100.0 * file_matched as f64 / file_total as f64
        );
        total += file_total;
        matched += file_matched;
    }
    println!(
        "conformance: Elastic's expected documents as they are: {elastic_matched}/{elastic_total} leaves equal; \
         {past} leaves changed or added by issue 13's rules (see past_elastic.rs)"
    );
    println!(
        "conformance: all current pairs, with those rules: {matched}/{total} expected leaves equal ({:.1} %)",
        100.0 * matched as f64 / total as f64
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
