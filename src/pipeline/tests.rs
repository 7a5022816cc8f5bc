//! Data-driven pipeline tests with events written here for the tricky
//! cases: each maps one event and checks the listed fields (dotted paths;
//! `null` = must be absent).

use bytes::Bytes;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::enrich::geo::tests::{asn_database, city_database};
use super::enrich::geo::Geo;
use super::enrich::ua::UserAgents;
use super::enrich::uap::Regexes;
use super::enrich::Enrichers;
use super::*;
use crate::event::{Input, LogId};

const RECEIVED: i64 = 1_700_000_000; // 2023-11-14T22:13:20Z
const NOW: i64 = 1_800_000_000; // 2027-01-15T08:00:00Z

const UAP: &str = r#"
user_agent_parsers:
  - regex: '(Firefox)/(\d+)\.(\d+)'
os_parsers:
  - regex: '(Ubuntu)'
device_parsers:
  - regex: 'iPhone'
    device_replacement: 'iPhone'
"#;

pub(super) fn pipeline(config: Config) -> Pipeline {
    Pipeline::new(
        config,
        Enrichers {
            geo: Geo::from_bytes(Some(city_database()), Some(asn_database())).unwrap(),
            user_agents: UserAgents::uap(Regexes::from_yaml(UAP).unwrap()),
        },
    )
}

pub(super) fn map_with(pipeline: &Pipeline, input: Input, event: &str) -> Value {
    let raw = RawEvent {
        input,
        received_at: OffsetDateTime::from_unix_timestamp(RECEIVED).unwrap(),
        bytes: Bytes::copy_from_slice(event.as_bytes()),
    };
    let document = pipeline
        .process_at(&raw, OffsetDateTime::from_unix_timestamp(NOW).unwrap())
        .unwrap()
        .into_document()
        .unwrap();
    serde_json::from_str(&document.json).unwrap()
}

pub(super) fn map(event: &str) -> Value {
    map_with(&pipeline(Config::defaults()), Input::Webhook, event)
}

pub(super) fn field<'v>(document: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .try_fold(document, |value, key| value.get(key))
}

/// `error.message` of `document`, which must have one.
#[track_caller]
pub(super) fn error_message(document: &Value) -> &str {
    field(document, "error.message")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no error.message\n{document:#}"))
}

/// Asserts that `error.message` of `document` mentions each of `parts`.
#[track_caller]
pub(super) fn assert_error_mentions(document: &Value, parts: &[&str]) {
    let message = error_message(document);
    for part in parts {
        assert!(message.contains(part), "{part:?} not in {message}");
    }
}

/// Checks `expected` (path → value; `null` means absent) against `document`.
#[track_caller]
pub(super) fn check(document: &Value, expected: &[(&str, Value)]) {
    for (path, value) in expected {
        let actual = field(document, path);
        if value.is_null() {
            assert!(
                actual.is_none(),
                "{path} should be absent, is {actual:?}\n{document:#}"
            );
        } else {
            assert_eq!(actual, Some(value), "{path}\n{document:#}");
        }
    }
}

#[test]
fn missing_date_falls_back_to_the_log_id_time_and_keeps_the_original() {
    let event = r#"{"log_id":"90020211104001515271334544008635532534914988032684720226","data":{"type":"s"}}"#;
    let document = map(event);
    check(
        &document,
        &[
            ("@timestamp", json!("2021-11-04T00:15:15.000Z")),
            ("event.kind", json!("event")),
            ("event.original", json!(event)),
            ("event.ingested", json!("2027-01-15T08:00:00.000Z")),
            (
                "tags",
                json!(["preserve_original_event", "forwarded", "auth0-logstream"]),
            ),
            ("event.action", json!("successful-login")),
        ],
    );
    assert_error_mentions(&document, &["no `date`", "log_id"]);
}

#[test]
fn unparsable_date_without_log_id_uses_the_receive_time() {
    let document = map(r#"{"date":"yesterday","type":"f"}"#);
    check(
        &document,
        &[
            ("@timestamp", json!("2023-11-14T22:13:20.000Z")),
            ("auth0.logs.data.date", Value::Null),
            ("event.outcome", json!("failure")),
        ],
    );
    assert_error_mentions(&document, &["`yesterday`", "receive time"]);
}

#[test]
fn date_forms_elasticsearch_accepts() {
    for (date, timestamp) in [
        (
            json!("2021-11-03T03:25:28.923+01:00"),
            "2021-11-03T02:25:28.923Z",
        ),
        (json!("2021-11-03T03:25:28.9Z"), "2021-11-03T03:25:28.900Z"),
        (json!("2021-11-03T03:25:28"), "2021-11-03T03:25:28.000Z"),
        (json!("2021-11-03"), "2021-11-03T00:00:00.000Z"),
        (json!(1_635_909_928_923_u64), "2021-11-03T03:25:28.923Z"),
    ] {
        let document = map(&json!({"date": date, "type": "s"}).to_string());
        check(
            &document,
            &[("@timestamp", json!(timestamp)), ("error", Value::Null)],
        );
    }
}

#[test]
fn scope_mobile_and_client_of_any_shape() {
    let string = map(
        r#"{"date":"2024-03-08T04:30:29.321Z","scope":"read:logs read:logs_users","isMobile":false,"auth0_client":{"name":"auth0.js","version":"9"}}"#,
    );
    check(
        &string,
        &[
            ("auth0.logs.data.scope", json!("read:logs read:logs_users")),
            ("auth0.logs.data.is_mobile", json!(false)),
            ("auth0.logs.data.isMobile", Value::Null),
            ("auth0.logs.data.auth0_client.name", json!("auth0.js")),
        ],
    );
    let array = map(
        r#"{"date":"2024-03-08T04:30:29.321Z","scope":["openid",7,true],"is_mobile":"true","auth0_client":[{"name":"a"}]}"#,
    );
    check(
        &array,
        &[
            ("auth0.logs.data.scope", json!(["openid", "7", "true"])),
            ("auth0.logs.data.is_mobile", json!(true)),
            ("auth0.logs.data.auth0_client.value", json!([{"name": "a"}])),
        ],
    );
    let odd = map(
        r#"{"date":"2024-03-08T04:30:29.321Z","scope":{"a":1},"is_mobile":"maybe","client_name":42}"#,
    );
    check(
        &odd,
        &[
            ("auth0.logs.data.scope", json!(r#"{"a":1}"#)),
            ("auth0.logs.data.is_mobile", Value::Null),
            ("auth0.logs.data.client_name", json!("42")),
        ],
    );
}

#[test]
fn details_of_any_shape_and_the_empty_sweep() {
    let text = map(r#"{"date":"2024-03-08T04:30:29.321Z","details":"just text"}"#);
    check(
        &text,
        &[("auth0.logs.data.details.value", json!("just text"))],
    );
    let swept = map(
        r#"{"date":"2024-03-08T04:30:29.321Z","client_name":"","connection_id":null,"$event_schema":{"version":"1.0.0"},"details":{"body":{},"prompts":[],"riskAssessment":null,"q":[null,"",{}],"keep":0}}"#,
    );
    check(
        &swept,
        &[
            ("auth0.logs.data.client_name", Value::Null),
            ("auth0.logs.data.connection_id", Value::Null),
            ("auth0.logs.data.$event_schema", Value::Null),
            ("auth0.logs.data.details", json!({"keep": 0})),
        ],
    );
}

#[test]
fn login_times_in_scientific_notation_and_strings() {
    let document = map(
        r#"{"date":"2025-03-26T18:07:00.000Z","type":"s","details":{"initiatedAt":"1.743012420759E12","completedAt":1743012421159,"elapsedTime":"400","stats":{"loginsCount":"12"}}}"#,
    );
    check(
        &document,
        &[
            (
                "auth0.logs.data.login.initiatedAt",
                json!("2025-03-26T18:07:00.759Z"),
            ),
            (
                "auth0.logs.data.login.completedAt",
                json!("2025-03-26T18:07:01.159Z"),
            ),
            ("auth0.logs.data.login.elapsedTime", json!(400)),
            ("auth0.logs.data.login.stats.loginsCount", json!(12)),
            (
                "auth0.logs.data.details.initiatedAt",
                json!(1_743_012_420_759_u64),
            ),
            ("auth0.logs.data.details.elapsedTime", json!("400")),
            ("error", Value::Null),
        ],
    );
    // loginsCount only for successful logins; a bad number is a note, not a failure.
    let failed = map(
        r#"{"date":"2025-03-26T18:07:00.000Z","type":"f","details":{"initiatedAt":"soon","stats":{"loginsCount":3}}}"#,
    );
    check(
        &failed,
        &[
            ("auth0.logs.data.login", Value::Null),
            ("auth0.logs.data.details.initiatedAt", json!("soon")),
        ],
    );
    assert_error_mentions(&failed, &["details.initiatedAt"]);
}

#[test]
fn unknown_codes_take_elastics_unknown_branch() {
    let document = map(r#"{"date":"2024-03-08T04:30:29.321Z","type":"brand_new_code"}"#);
    check(
        &document,
        &[
            ("event.action", json!("unknown-brand_new_code")),
            ("event.type", json!(["info"])),
            ("event.category", json!(["authentication"])),
            ("event.outcome", Value::Null),
            ("auth0.logs.data.type", json!("brand_new_code")),
            ("auth0.logs.data.type_id", json!("brand_new_code")),
            ("auth0.logs.data.classification", Value::Null),
        ],
    );
    let untyped = map(r#"{"date":"2024-03-08T04:30:29.321Z"}"#);
    check(
        &untyped,
        &[
            ("event.action", Value::Null),
            ("event.type", Value::Null),
            ("event.category", json!(["authentication"])),
        ],
    );
}

#[test]
fn every_code_in_the_table_maps() {
    let pipeline = pipeline(Config::defaults());
    let table = types::Table::embedded();
    for code in table.codes() {
        let row = table.get(code).unwrap();
        let document = map_with(
            &pipeline,
            Input::Api,
            &json!({"date": "2024-03-08T04:30:29.321Z", "type": code}).to_string(),
        );
        let mut categories = vec![json!("authentication")];
        categories.extend(row.categories.iter().map(|c| json!(c)));
        check(
            &document,
            &[
                ("auth0.logs.data.type", json!(row.description)),
                ("auth0.logs.data.type_id", json!(code)),
                ("auth0.logs.data.classification", json!(row.classification)),
                ("event.action", json!(row.action)),
                ("event.category", Value::Array(categories)),
                ("event.type", json!(row.types)),
                ("event.outcome", json!(row.outcome)),
                ("input.type", json!("api")),
            ],
        );
    }
}

#[test]
fn users_as_elastic_splits_them() {
    for (user_name, name, domain, email) in [
        (
            "morpheus@test.com",
            Some("morpheus"),
            Some("test.com"),
            Some("morpheus@test.com"),
        ),
        ("neo", Some("neo"), None, None),
        ("+14155550100", Some("+14155550100"), None, None),
        ("@handle", Some("@handle"), None, None),
        (
            "first+tag@example.org",
            Some("tag"),
            Some("example.org"),
            Some("first+tag@example.org"),
        ),
    ] {
        let document = map(
            &json!({"date": "2024-03-08T04:30:29.321Z", "user_name": user_name, "user_id": "auth0|1"}).to_string(),
        );
        let mut related = vec![json!("auth0|1")];
        related.extend(name.map(|n| json!(n)));
        related.extend(
            email
                .map(|e| json!(e))
                .filter(|e| Some(e) != name.map(|n| json!(n)).as_ref()),
        );
        check(
            &document,
            &[
                ("user.name", name.map_or(Value::Null, |n| json!(n))),
                ("user.domain", domain.map_or(Value::Null, |d| json!(d))),
                ("user.email", email.map_or(Value::Null, |e| json!(e))),
                ("user.id", json!("auth0|1")),
                ("related.user", Value::Array(related)),
                ("auth0.logs.data.user_name", Value::Null),
                ("auth0.logs.data.user_id", Value::Null),
            ],
        );
    }
    let machine = map(r#"{"date":"2024-03-08T04:30:29.321Z","user_id":"","user_name":""}"#);
    check(&machine, &[("user", Value::Null), ("related", Value::Null)]);
}

#[test]
fn addresses_geo_and_network_type() {
    let v4 = map(r#"{"date":"2024-03-08T04:30:29.321Z","ip":"203.0.113.7"}"#);
    check(
        &v4,
        &[
            ("source.ip", json!("203.0.113.7")),
            ("network.type", json!("ipv4")),
            ("source.geo.city_name", json!("Springfield")),
            ("source.geo.region_iso_code", json!("US-IL")),
            ("source.geo.location", json!({"lat": 39.8, "lon": -89.65})),
            ("source.as.number", json!(64500)),
            ("source.as.organization.name", json!("Example Net")),
            ("auth0.logs.data.ip", Value::Null),
        ],
    );
    let v6 = map(r#"{"date":"2024-03-08T04:30:29.321Z","ip":"2001:db8::5"}"#);
    check(
        &v6,
        &[
            ("network.type", json!("ipv6")),
            ("source.geo.city_name", json!("Paris")),
        ],
    );
    let private = map(r#"{"date":"2024-03-08T04:30:29.321Z","ip":"192.168.1.50"}"#);
    check(
        &private,
        &[
            ("source.ip", json!("192.168.1.50")),
            ("source.geo", Value::Null),
            ("source.as", Value::Null),
        ],
    );
    let bad = map(r#"{"date":"2024-03-08T04:30:29.321Z","ip":"not-an-ip"}"#);
    check(&bad, &[("source", Value::Null), ("network", Value::Null)]);
    assert_error_mentions(&bad, &["not-an-ip"]);
}

#[test]
fn user_agent_log_level_and_removals() {
    let document = map(
        r#"{"date":"2024-03-08T04:30:29.321Z","user_agent":"Mozilla/5.0 (X11; Ubuntu) Firefox/93.0","details":{"error":""},"_id":"1","log_id":"7","type_id":"forged","classification":"forged"}"#,
    );
    check(
        &document,
        &[
            (
                "user_agent.original",
                json!("Mozilla/5.0 (X11; Ubuntu) Firefox/93.0"),
            ),
            ("user_agent.name", json!("Firefox")),
            ("user_agent.version", json!("93.0")),
            ("user_agent.os.name", json!("Ubuntu")),
            ("user_agent.device.name", json!("Other")),
            ("log.level", json!("error")),
            ("event.id", json!("7")),
            (
                "auth0.logs.data",
                json!({"date": "2024-03-08T04:30:29.321Z"}),
            ),
        ],
    );
    let none = map(r#"{"date":"2024-03-08T04:30:29.321Z","user_agent":""}"#);
    check(
        &none,
        &[("user_agent", Value::Null), ("log.level", json!("info"))],
    );
}

#[test]
fn api_records_location_info_and_unknown_keys() {
    let document = map_with(
        &pipeline(Config::defaults()),
        Input::Api,
        r#"{"_id":"900","log_id":"900","date":"2024-03-08T04:30:29.321Z","location_info":{"country_code":"US","latitude":47.25,"longitude":-122.31},"brand_new_field":{"x":1},"location_info_extra":null}"#,
    );
    check(
        &document,
        &[
            (
                "auth0.logs.data.location_info",
                json!({"country_code": "US", "latitude": "47.25", "longitude": "-122.31"}),
            ),
            ("auth0.logs.data.brand_new_field", json!({"x": 1})),
            ("auth0.logs.data._id", Value::Null),
            ("input.type", json!("api")),
            ("event.id", json!("900")),
        ],
    );
}

#[test]
fn configured_namespace_tags_and_original() {
    let config = Config {
        preserve_original_event: true,
        namespace: "prod".to_owned(),
        tags: vec!["a".to_owned(), "preserve_original_event".to_owned()],
        ..Config::defaults()
    };
    let event = r#"{"log_id":"1","data":{"date":"2024-03-08T04:30:29.321Z"}}"#;
    let document = map_with(&pipeline(config), Input::Webhook, event);
    check(
        &document,
        &[
            (
                "data_stream",
                json!({"dataset": "auth0.logs", "namespace": "prod", "type": "logs"}),
            ),
            ("event.original", json!(event)),
            ("tags", json!(["preserve_original_event", "a"])),
            ("event.dataset", json!("auth0.logs")),
            ("event.module", json!("auth0")),
            ("agent.type", json!("auth0-ingest")),
        ],
    );
}

#[test]
fn duplicate_keys_and_escapes_stay_valid_json() {
    let document = map(
        r#"{"date":"2024-03-08T04:30:29.321Z","client_name":"a","client_name":"b\"\n\u0000c"}"#,
    );
    check(
        &document,
        &[("auth0.logs.data.client_name", json!("b\"\n\u{0}c"))],
    );
}

#[test]
fn document_id_is_the_envelope_or_data_log_id() {
    let pipeline = pipeline(Config::defaults());
    let raw = |text: &str| RawEvent {
        input: Input::Webhook,
        received_at: OffsetDateTime::from_unix_timestamp(RECEIVED).unwrap(),
        bytes: Bytes::copy_from_slice(text.as_bytes()),
    };
    let id = |text: &str| {
        let document = pipeline.process(&raw(text)).unwrap().into_document();
        document.unwrap().id.map(|id| id.0)
    };
    assert_eq!(
        id(r#"{"log_id":"e","data":{"log_id":"d"}}"#).as_deref(),
        Some("e")
    );
    assert_eq!(id(r#"{"log_id":"d"}"#).as_deref(), Some("d"));
    assert_eq!(id(r#"{"type":"s"}"#), None);
    assert!(pipeline.process(&raw("[]")).is_err());
}

/// The regex Elastic's grok patterns expand to: the oracle for
/// `user_name::split`.
const USER_NAME_PATTERN: &str = r"([a-zA-Z0-9._-]+)@(\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*(?:\.?|\b))";

fn split_by_regex(text: &str) -> (Option<&str>, Option<&str>) {
    let pattern = regex::Regex::new(USER_NAME_PATTERN).unwrap();
    match pattern.captures(text) {
        Some(captures) => (
            captures.get(1).map(|found| found.as_str()),
            captures
                .get(2)
                .map(|found| found.as_str())
                .filter(|d| !d.is_empty()),
        ),
        None => (Some(text), None),
    }
}

#[test]
fn user_name_split_matches_the_grok_regex() {
    let long = format!("u@{}.x", "a".repeat(70));
    for text in [
        "morpheus@test.com",
        "first+tag@example.org",
        "a@b",
        "@x",
        "a@",
        "a@-b",
        "a@@b.c",
        "x y@b.c.",
        "a@b..c",
        "a@b.-c",
        "é@b.c",
        "a@b@c.d",
        "-@a-.b-",
        long.as_str(),
        "no at sign",
        "+14155550100",
    ] {
        assert_eq!(user_name::split(text), split_by_regex(text), "{text}");
    }
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn user_name_split_equals_the_regex(text in "[a-c.@_ +-]{0,12}|[a-zA-Z0-9.@-]{0,80}") {
            prop_assert_eq!(user_name::split(&text), split_by_regex(&text));
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            "[ -~é\\n\"]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop_oneof![
                            Just("date".to_owned()),
                            Just("type".to_owned()),
                            Just("ip".to_owned()),
                            Just("details".to_owned()),
                            Just("user_name".to_owned()),
                            Just("scope".to_owned()),
                            Just("isMobile".to_owned()),
                            Just("location_info".to_owned()),
                            Just("initiatedAt".to_owned()),
                            Just("stats".to_owned()),
                            "[a-z_$]{1,8}",
                        ],
                        inner
                    ),
                    0..8
                )
                .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Any object becomes exactly one valid JSON document, never a panic,
        /// with the same fields always of the same JSON type.
        #[test]
        fn any_object_maps_to_valid_json(data in json_value(), envelope in any::<bool>()) {
            let event = if envelope { json!({"log_id": "1", "data": data}) } else { data };
            prop_assume!(event.is_object());
            let document = map(&event.to_string());
            for (path, is_type) in [
                ("@timestamp", Value::is_string as fn(&Value) -> bool),
                ("auth0.logs.data.scope", |v: &Value| v.is_string() || v.as_array().is_some_and(|a| a.iter().all(Value::is_string))),
                ("auth0.logs.data.details", Value::is_object),
                ("auth0.logs.data.is_mobile", Value::is_boolean),
                ("auth0.logs.data.location_info", Value::is_object),
                ("auth0.logs.data.type", Value::is_string),
                ("user.name", Value::is_string),
                ("source.ip", Value::is_string),
            ] {
                if let Some(value) = field(&document, path) {
                    prop_assert!(is_type(value), "{} = {}", path, value);
                }
            }
        }
    }
}

/// Golden output: `tests/fixtures/events/tricky.jsonl` mapped with the test
/// databases, uap-core and fixed clocks must equal
/// `tests/fixtures/ecs/tricky.json`, a JSON array (`UPDATE_GOLDEN=1 cargo test --lib
/// golden` rewrites it after an intended change; review the diff).
#[test]
fn golden_documents() {
    check_golden(
        include_str!("../../tests/fixtures/events/tricky.jsonl"),
        "tests/fixtures/ecs/tricky.json",
    );
}

/// The same for `tests/fixtures/events/real-shapes.jsonl`: events in the
/// shapes Auth0 sends, written for issue 13 (short-form user agents,
/// Management API requests by the user themselves, by an administrator on
/// someone else and by a machine, a token quota warning, and salvaged
/// events: a lone surrogate, numbers beyond f64, nesting 200 deep).
#[test]
fn golden_real_shapes() {
    check_golden(
        include_str!("../../tests/fixtures/events/real-shapes.jsonl"),
        "tests/fixtures/ecs/real-shapes.json",
    );
}

fn check_golden(input: &str, golden: &str) {
    let regexes = std::fs::read_to_string(super::enrich::DEFAULT_UAP_REGEXES)
        .expect("Debian's uap-core must be installed (apt-get install uap-core)");
    let pipeline = Pipeline::new(
        Config::defaults(),
        Enrichers {
            geo: Geo::from_bytes(Some(city_database()), Some(asn_database())).unwrap(),
            user_agents: UserAgents::uap(Regexes::from_yaml(&regexes).unwrap()),
        },
    );
    let documents: Vec<Value> = input
        .lines()
        .map(|line| map_with(&pipeline, Input::Webhook, line))
        .collect();
    let output = format!("{}\n", serde_json::to_string_pretty(&documents).unwrap());
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(golden);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &output).unwrap();
        panic!(
            "{} rewritten: review the diff, then run the tests without UPDATE_GOLDEN",
            path.display()
        );
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        golden == output,
        "golden output differs: run `UPDATE_GOLDEN=1 cargo test --lib golden` and review\n{output}"
    );
}

/// Regression (review): a year-9999 date with a negative offset is year
/// 10000 in UTC, and `to_offset` panicked; the delivery side would have
/// crashed on the spooled event after every restart.
#[test]
fn dates_past_year_9999_in_utc_fall_back_instead_of_panicking() {
    let document = map(
        r#"{"log_id":"90020211103032530111223343147286033102509916061341581378","data":{"type":"s","date":"9999-12-31T23:59:59-00:01"}}"#,
    );
    assert_eq!(document["@timestamp"], "2021-11-03T03:25:30.000Z");
    assert!(document["error"]["message"]
        .as_str()
        .unwrap()
        .contains("out of range"));
}

/// Regression (review): valid JSON objects the parser refuses (JavaScript
/// writes lone surrogates as escapes; numbers beyond f64) were dropped from
/// the index, so a crafted user name could hide a failed login.
#[test]
fn events_the_parser_refuses_still_become_documents() {
    for (event, action) in [
        (
            r#"{"log_id":"90020211103032530111223343147286033102509916061341581378","data":{"type":"fp","date":"2021-11-03T03:25:28.923Z","user_name":"a\ud800b"}}"#,
            "incorrect-password",
        ),
        (
            r#"{"log_id":"90020211103032530111223343147286033102509916061341581378","type":"s","date":"2021-11-03T03:25:28.923Z","n":1e400}"#,
            "successful-login",
        ),
    ] {
        let document = map(event);
        assert_eq!(document["@timestamp"], "2021-11-03T03:25:28.923Z");
        assert_eq!(
            document["event"]["id"],
            "90020211103032530111223343147286033102509916061341581378"
        );
        assert_eq!(document["event"]["action"], action);
        assert_eq!(document["event"]["original"], event);
        assert!(document["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("the event could not be read in full"));
    }
}

/// Regression (review): Elasticsearch rejects the whole document for an
/// empty key, a key ending in `.`, and a dotted key under a mapped leaf
/// (`client_id.x`), even with `dynamic: false`. Such keys are renamed (with
/// a note) at the top of `auth0.logs.data`, in `location_info` and in
/// unmapped subtrees; `flattened` fields take dots and keep their keys.
#[test]
fn keys_elasticsearch_rejects_are_renamed_with_a_note() {
    let event = r#"{"date":"2021-11-03T03:25:28.923Z","type":"s","client_id":"c","":1,"a.":2,"a_":3,"client_id.x":4,"date.x":5,"type.id":6," ":7,"location_info":{"country_code":"DE","country_code.x":"x"},"extra":{"b.":{"":1},"list":[{"c.d":2}]},"details":{"x.y":1}}"#;
    let document = map(event);
    let data = &document["auth0"]["logs"]["data"];
    assert_eq!(data["client_id"], "c", "{document:#}");
    assert_eq!(data["_empty"], 1, "{document:#}");
    assert_eq!(data["a_"], 3, "{document:#}");
    assert_eq!(data["a__2"], 2, "{document:#}");
    assert_eq!(data["client_id_x"], 4, "{document:#}");
    assert_eq!(data["date_x"], 5, "{document:#}");
    // `type_id` is written by us from `type`, so the renamed key steps aside.
    assert_eq!(data["type_id"], "s", "{document:#}");
    assert_eq!(data["type_id_2"], 6, "{document:#}");
    assert_eq!(data["_empty_2"], 7, "{document:#}");
    assert_eq!(data["location_info"]["country_code"], "DE");
    assert_eq!(data["location_info"]["country_code_x"], "x");
    assert_eq!(data["extra"]["b_"]["_empty"], 1, "{document:#}");
    assert_eq!(data["extra"]["list"][0]["c_d"], 2, "{document:#}");
    assert_eq!(data["details"]["x.y"], 1, "{document:#}");
    fn check_keys(path: &str, value: &Value) {
        match value {
            Value::Object(members) => {
                for (key, member) in members {
                    let path = format!("{path}/{key}");
                    if path != "/details/x.y" {
                        assert!(
                            !key.trim().is_empty() && !key.contains('.'),
                            "key {path:?} kept"
                        );
                    }
                    check_keys(&path, member);
                }
            }
            Value::Array(elements) => elements.iter().for_each(|e| check_keys(path, e)),
            _ => {}
        }
    }
    check_keys("", data);
    let message = document["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "renamed 10 `auth0.logs.data` key(s) Elasticsearch rejects: `` as `_empty`"
        ),
        "{message}"
    );
    assert_eq!(document["event"]["original"], event);
}

/// Regression (review): the document `_id` preferred the envelope's
/// `log_id` and `event.id` the record's, so the two could disagree.
#[test]
fn document_id_and_event_id_agree() {
    let pipeline = pipeline(Config::defaults());
    let raw = RawEvent {
        input: Input::Webhook,
        received_at: OffsetDateTime::from_unix_timestamp(RECEIVED).unwrap(),
        bytes: Bytes::from_static(
            br#"{"log_id":"envelope","data":{"log_id":"record","type":"s","date":"2021-11-03T03:25:28.923Z"}}"#,
        ),
    };
    let document = pipeline
        .process_at(&raw, OffsetDateTime::from_unix_timestamp(NOW).unwrap())
        .unwrap()
        .into_document()
        .unwrap();
    assert_eq!(document.id, Some(LogId("envelope".to_owned())));
    let json: Value = serde_json::from_str(&document.json).unwrap();
    assert_eq!(json["event"]["id"], "envelope");
}

/// Issue 8: a `log_id` over Elasticsearch's 512-byte `_id` limit becomes
/// `sha256-<hex>` of itself in both `_id` and `event.id`; 512 bytes stay.
#[test]
fn r8_log_id_longer_than_512_bytes_is_hashed_in_id_and_event_id() {
    let pipeline = pipeline(Config::defaults());
    for (length, hashed) in [(512, false), (513, true), (1 << 20, true)] {
        let log_id = "9".repeat(length);
        let event = format!(
            r#"{{"log_id":"{log_id}","data":{{"type":"s","date":"2021-11-03T03:25:28.923Z"}}}}"#
        );
        let raw = RawEvent {
            input: Input::Webhook,
            received_at: OffsetDateTime::from_unix_timestamp(RECEIVED).unwrap(),
            bytes: Bytes::from(event.clone()),
        };
        let document = pipeline
            .process_at(&raw, OffsetDateTime::from_unix_timestamp(NOW).unwrap())
            .unwrap()
            .into_document()
            .unwrap();
        let json: Value = serde_json::from_str(&document.json).unwrap();
        let id = document.id.unwrap().0;
        assert_eq!(json["event"]["id"], id.as_str(), "the two agree");
        if hashed {
            assert_eq!(id, crate::event::sha256_id(log_id.as_bytes()));
            assert_eq!(id.len(), 71);
            assert_eq!(
                json["event"]["original"], event,
                "the long id is kept there"
            );
            let message = json["error"]["message"].as_str().unwrap();
            assert!(message.contains("longer than 512"), "{message}");
        } else {
            assert_eq!(id, log_id);
        }
    }
}
