//! `[pii]` through the whole pipeline: each rule and field name, depth,
//! arrays, non-strings, derived fields, `event.original`, addresses.
//! Every test also searches the document's bytes for the clear values.

use bytes::Bytes;
use maxminddb_writer::paths::IpAddrWithMask;
use serde::Serialize;
use serde_json::{json, Value as Json};
use time::OffsetDateTime;

use super::*;
use crate::event::{Input, RawEvent};
use crate::pipeline::enrich::geo::Geo;
use crate::pipeline::enrich::ua::UserAgents;
use crate::pipeline::enrich::Enrichers;
use crate::pipeline::{Config as PipelineConfig, Outcome, Pipeline};

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

fn config(fields: &[DataName], method: Method) -> PipelineConfig {
    PipelineConfig {
        pii: Config {
            fields: fields.to_vec(),
            method,
            ip: IpMode::Keep,
        },
        ..PipelineConfig::defaults()
    }
}

fn hmac() -> Method {
    Method::HmacSha256(Secret::new(KEY.to_vec()))
}

fn raw(event: &str) -> RawEvent {
    RawEvent {
        input: Input::Webhook,
        received_at: OffsetDateTime::UNIX_EPOCH,
        bytes: Bytes::copy_from_slice(event.as_bytes()),
    }
}

/// The document's JSON text.
fn text_of(pipeline: &Pipeline, event: &str) -> String {
    match pipeline.process(&raw(event)).unwrap() {
        Outcome::Document(document) => document.json,
        Outcome::Filtered(category) => panic!("filtered as {category:?}"),
    }
}

fn map(config: PipelineConfig, event: &str) -> (Json, String) {
    let text = text_of(&Pipeline::new(config, Enrichers::none()), event);
    (serde_json::from_str(&text).unwrap(), text)
}

fn at<'v>(document: &'v Json, path: &str) -> Option<&'v Json> {
    path.split('.')
        .try_fold(document, |value, key| value.get(key))
}

#[track_caller]
fn assert_absent(text: &str, clear: &[&str]) {
    for value in clear {
        assert!(!text.contains(value), "clear `{value}` in output:\n{text}");
    }
}

fn hide(method: Method, text: &str) -> String {
    Obfuscator::new(&Config {
        fields: vec![DataName::Email],
        method,
        ip: IpMode::Keep,
    })
    .hide(text)
}

#[test]
fn methods_give_their_documented_output() {
    assert_eq!(hide(Method::Mask, "jané@x.io"), "*********");
    // XXH64 reference values (seed 0), big-endian hex.
    assert_eq!(hide(Method::Xxhash, ""), "ef46db3751d8e999");
    assert_eq!(hide(Method::Xxhash, "abc"), "44bc2cf5ad770999");
    // RFC 4231 test case 2, first 128 bits.
    let jefe = Method::HmacSha256(Secret::new(b"Jefe".to_vec()));
    assert_eq!(
        hide(jefe, "what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c7"
    );
    // Deterministic across instances (restarts, agents) with one key: the
    // value HMAC-SHA-256 gives for this key and input (worked out with
    // `ring` directly, not the obfuscator).
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, KEY);
    let expected: String = ring::hmac::sign(&key, b"a@b.c").as_ref()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(hide(hmac(), "a@b.c"), expected);
    assert_ne!(hide(hmac(), "a@b.c"), hide(hmac(), "a@b.d"));
    let other_key = Method::HmacSha256(Secret::new(b"another key, 16+ bytes".to_vec()));
    assert_ne!(hide(hmac(), "a@b.c"), hide(other_key, "a@b.c"));
}

#[test]
fn every_field_name_of_every_data_name_at_any_depth() {
    for data in DataName::ALL {
        for field in data.field_names() {
            for method in [Method::Mask, Method::Xxhash, hmac()] {
                let clear = format!("clear-{field}-value");
                let event = format!(
                    r#"{{"log_id":"1","data":{{"type":"s","{field}":"{clear}-top","details":{{"body":{{"{field}":"{clear}-body"}},"request":{{"auth":{{"user":{{"{field}":"{clear}-deep"}}}}}}}}}}}}"#
                );
                let (document, text) = map(config(&[data], method.clone()), &event);
                assert_absent(&text, &[&clear]);
                let deep = format!("auth0.logs.data.details.request.auth.user.{field}");
                let expected = hide(method.clone(), &format!("{clear}-deep"));
                assert_eq!(at(&document, &deep), Some(&json!(expected)), "{field}");
                let body = format!("auth0.logs.data.details.body.{field}");
                assert!(at(&document, &body).is_some(), "{field}: {text}");
            }
        }
    }
}

#[test]
fn only_configured_names_change() {
    let event = r#"{"log_id":"1","data":{"type":"s","details":{"email":"kept@example.com","phone_number":"+33 6 12","name":"Jane Roe","given_name":"Jane"}}}"#;
    let (document, text) = map(config(&[DataName::Phone], Method::Mask), event);
    assert_absent(&text, &["+33 6 12"]);
    assert_eq!(
        at(&document, "auth0.logs.data.details.phone_number"),
        Some(&json!("********"))
    );
    for (path, value) in [
        ("email", "kept@example.com"),
        ("name", "Jane Roe"),
        ("given_name", "Jane"),
    ] {
        assert_eq!(
            at(&document, &format!("auth0.logs.data.details.{path}")),
            Some(&json!(value))
        );
    }
    // `name` belongs to first_name and to last_name.
    for data in [DataName::FirstName, DataName::LastName] {
        let (_, text) = map(config(&[data], Method::Xxhash), event);
        assert_absent(&text, &["Jane Roe"]);
    }
    // Keys match exactly.
    let (document, _) = map(
        config(&[DataName::Email], Method::Mask),
        r#"{"data":{"type":"s","details":{"Email":"a@b.c","emails":"d@e.f"}}}"#,
    );
    assert_eq!(
        at(&document, "auth0.logs.data.details.Email"),
        Some(&json!("a@b.c"))
    );
    assert_eq!(
        at(&document, "auth0.logs.data.details.emails"),
        Some(&json!("d@e.f"))
    );
}

#[test]
fn arrays_element_by_element_and_non_strings_untouched() {
    let event = r#"{"data":{"type":"s","details":{"email":["a@x.io",7,"b@y.io",null,true,""],"phone":12345,"address":{"street":"1 Main St","zip":75001,"lines":["Flat 2"]},"username":null,"name":false,"user_name":""}}}"#;
    let (document, text) = map(
        config(
            &[
                DataName::Email,
                DataName::Phone,
                DataName::Address,
                DataName::Username,
                DataName::FirstName,
            ],
            Method::Mask,
        ),
        event,
    );
    assert_absent(&text, &["a@x.io", "b@y.io", "1 Main St", "Flat 2"]);
    // Mapping then drops the empty values (null, "") as Elastic does.
    assert_eq!(
        at(&document, "auth0.logs.data.details.email"),
        Some(&json!(["******", 7, "******", true]))
    );
    assert_eq!(
        at(&document, "auth0.logs.data.details.address"),
        Some(&json!({"street": "*********", "zip": 75001, "lines": ["******"]}))
    );
    assert_eq!(
        at(&document, "auth0.logs.data.details.phone"),
        Some(&json!(12345))
    );
    assert_eq!(
        at(&document, "auth0.logs.data.details.name"),
        Some(&json!(false))
    );
}

#[test]
fn derived_fields_come_from_the_obfuscated_value() {
    let event = r#"{"log_id":"1","data":{"type":"f","user_id":"auth0|42","user_name":"jane.roe@example.com","date":"2024-03-08T04:30:29.321Z"}}"#;
    // Without [pii] the mapping derives name, domain, email.
    let (clear, _) = map(PipelineConfig::defaults(), event);
    assert_eq!(at(&clear, "user.domain"), Some(&json!("example.com")));
    for method in [Method::Mask, Method::Xxhash, hmac()] {
        let hidden = hide(method.clone(), "jane.roe@example.com");
        let (document, text) = map(config(&[DataName::Username], method), event);
        assert_absent(&text, &["jane.roe", "example.com"]);
        assert_eq!(at(&document, "user.name"), Some(&json!(hidden)));
        assert_eq!(at(&document, "user.domain"), None);
        assert_eq!(at(&document, "user.email"), None);
        assert_eq!(at(&document, "user.id"), Some(&json!("auth0|42")));
        assert_eq!(
            at(&document, "related.user"),
            Some(&json!(["auth0|42", hidden]))
        );
        assert_eq!(
            at(&document, "auth0.logs.data.user_name"),
            None,
            "the mapping moves user_name to user.name"
        );
    }
}

#[test]
fn event_original_is_the_obfuscated_event() {
    let event = r#"{"log_id":"1", "data":{"type":"s","user_name":"jane@example.com","details":{"body":{"email":"jane@example.com","n":1.5}},"ip":"203.0.113.9"},"extra":{"phone":"+1 555"}}"#;
    let mut pipeline_config = config(
        &[DataName::Username, DataName::Email, DataName::Phone],
        hmac(),
    );
    pipeline_config.preserve_original_event = true;
    let pipeline = Pipeline::new(pipeline_config, Enrichers::none());
    let text = text_of(&pipeline, event);
    assert_absent(&text, &["jane@example.com", "jane", "+1 555"]);
    let document: Json = serde_json::from_str(&text).unwrap();
    let original = at(&document, "event.original").unwrap().as_str().unwrap();
    // The same text `Pipeline::original` gives other outputs.
    assert_eq!(pipeline.original(&raw(event)).as_deref(), Some(original));
    let hidden = hide(hmac(), "jane@example.com");
    let expected = json!({
        "log_id": "1",
        "data": {
            "type": "s",
            "user_name": hidden,
            "details": {"body": {"email": hidden, "n": 1.5}},
            "ip": "203.0.113.9",
        },
        "extra": {"phone": hide(hmac(), "+1 555")},
    });
    assert_eq!(serde_json::from_str::<Json>(original).unwrap(), expected);
    // Off: the bytes as received, borrowed.
    let off = Pipeline::new(PipelineConfig::defaults(), Enrichers::none());
    assert!(matches!(off.original(&raw(event)), Some(Cow::Borrowed(text)) if text == event));
}

#[test]
fn a_note_keeps_event_original_obfuscated_too() {
    // No `date`: the mapping keeps `event.original` although
    // `preserve_original_event` is off.
    let event = r#"{"log_id":"1","data":{"type":"s","user_name":"jane@example.com"}}"#;
    let (document, text) = map(config(&[DataName::Username], Method::Xxhash), event);
    assert!(at(&document, "event.original").is_some(), "{text}");
    assert_absent(&text, &["jane@example.com"]);
}

#[test]
fn salvaged_events_keep_nothing_clear() {
    // A lone surrogate: the full parse refuses it, the salvage maps it.
    let event = r#"{"log_id":"1","data":{"type":"f","date":"2024-03-08T04:30:29.321Z","user_name":"jane@example.com","description":"\ud800"}}"#;
    let (document, text) = map(config(&[DataName::Username], Method::Mask), event);
    assert!(at(&document, "error.message").is_some(), "{text}");
    assert_absent(&text, &["jane@example.com"]);
    let original = at(&document, "event.original").unwrap().as_str().unwrap();
    let original: Json = serde_json::from_str(original).unwrap();
    assert_eq!(original["log_id"], "1");
    assert_eq!(original["data"]["type"], "f");
    // The salvage maps the whole event (issue 13), through the same
    // obfuscation: the user is there, masked, in the document and in the
    // repaired `event.original`, and the document is tagged as salvaged.
    let masked = "*".repeat("jane@example.com".len());
    assert_eq!(
        at(&document, "user.name").unwrap(),
        masked.as_str(),
        "{text}"
    );
    assert_eq!(original["data"]["user_name"], masked.as_str());
    assert_eq!(original["data"]["description"], "\u{fffd}");
    assert!(
        at(&document, "tags")
            .and_then(Json::as_array)
            .is_some_and(|tags| tags.iter().any(|tag| tag == "auth0_ingest_salvaged")),
        "{text}"
    );
    // Not even salvageable: no document, no original.
    let obfuscator = Obfuscator::new(&config(&[DataName::Email], Method::Mask).pii);
    assert_eq!(obfuscator.original(b"not json"), None);
}

#[test]
fn events_the_decoder_refuses_are_salvaged_whatever_the_settings() {
    // `data` is not an object: a document from the envelope, never
    // dropped, and nothing clear, whether [pii]'s single-parse path for
    // `preserve_original_event` or the usual one maps it.
    let event = r#"{"log_id":"7","data":"not an object","email":"jane@example.com"}"#;
    for preserve in [false, true] {
        let mut settings = config(&[DataName::Email], hmac());
        settings.preserve_original_event = preserve;
        let pipeline = Pipeline::new(settings, Enrichers::none());
        let outcome = pipeline.process(&raw(event));
        let Ok(Outcome::Document(document)) = outcome else {
            panic!("preserve_original_event = {preserve}: {outcome:?}");
        };
        assert_eq!(document.id.map(|id| id.0).as_deref(), Some("7"));
        assert_absent(&document.json, &["jane@example.com"]);
    }
}

/// An ASN database where only the upper half of 198.51.100.0/24 and only
/// 2001:db8:0:1::/64 are known: a lookup of a truncated address finds
/// nothing, so a document with `source.as` proves the full address was used.
fn split_asn_database() -> Vec<u8> {
    #[derive(Serialize)]
    struct Asn {
        autonomous_system_number: u32,
        autonomous_system_organization: &'static str,
    }
    let mut database = maxminddb_writer::Database::default();
    let upper = database
        .insert_value(Asn {
            autonomous_system_number: 64502,
            autonomous_system_organization: "Upper Half",
        })
        .unwrap();
    database.insert_node(
        "::198.51.100.128/121".parse::<IpAddrWithMask>().unwrap(),
        upper,
    );
    database.insert_node(
        "2001:db8:0:1::/64".parse::<IpAddrWithMask>().unwrap(),
        upper,
    );
    database.metadata.database_type = "Test-ASN".to_owned();
    database.metadata.ip_version = maxminddb_writer::metadata::IpVersion::V6;
    database.write_to(Vec::new()).unwrap()
}

#[test]
fn truncate_zeroes_addresses_after_the_lookups() {
    let geo = Geo::from_bytes(None, Some(split_asn_database())).unwrap();
    let enrichers = Enrichers {
        geo,
        user_agents: UserAgents::off(),
    };
    let mut pipeline_config = PipelineConfig::defaults();
    pipeline_config.pii.ip = IpMode::Truncate;
    pipeline_config.preserve_original_event = true;
    let pipeline = Pipeline::new(pipeline_config, enrichers);
    for (address, truncated, network) in [
        ("198.51.100.200", "198.51.100.0", "ipv4"),
        ("2001:db8:0:1::5", "2001:db8::", "ipv6"),
    ] {
        let event = format!(
            r#"{{"log_id":"1","data":{{"type":"sapi","date":"2024-03-08T04:30:29.321Z","ip":"{address}","client_ip":"{address}","details":{{"request":{{"ip":"{address}","hops":[{{"ip":"{address}"}}],"note":"{address}"}}}}}}}}"#
        );
        let text = text_of(&pipeline, &event);
        let document: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(at(&document, "source.ip"), Some(&json!(truncated)));
        assert_eq!(at(&document, "network.type"), Some(&json!(network)));
        // The lookup saw the full address.
        assert_eq!(at(&document, "source.as.number"), Some(&json!(64502)));
        for path in [
            "auth0.logs.data.client_ip",
            "auth0.logs.data.details.request.ip",
        ] {
            assert_eq!(at(&document, path), Some(&json!(truncated)), "{path}");
        }
        assert_eq!(
            at(&document, "auth0.logs.data.details.request.hops"),
            Some(&json!([{"ip": truncated}]))
        );
        // Only `ip` keys: other text is not searched for addresses.
        assert_eq!(
            at(&document, "auth0.logs.data.details.request.note"),
            Some(&json!(address))
        );
        let original: Json =
            serde_json::from_str(at(&document, "event.original").unwrap().as_str().unwrap())
                .unwrap();
        assert_eq!(original["data"]["ip"], truncated);
        assert_eq!(original["data"]["client_ip"], truncated);
        assert_eq!(original["data"]["details"]["request"]["ip"], truncated);
    }
}

#[test]
fn truncation_prefixes() {
    for (address, truncated) in [
        ("81.2.69.143", "81.2.69.0"),
        ("0.0.0.0", "0.0.0.0"),
        ("2a02:1234:5678:9abc::1", "2a02:1234:5678::"),
        ("::1", "::"),
        ("::ffff:81.2.69.143", "::ffff:81.2.69.0"),
    ] {
        assert_eq!(
            truncate(address.parse().unwrap()).to_string(),
            truncated,
            "{address}"
        );
    }
    // Keep: nothing changes, and the text is returned as sent.
    let keep = Obfuscator::new(&Config::off());
    assert!(!keep.is_active());
    assert!(matches!(
        keep.source_ip("81.2.69.143".parse().unwrap(), "81.2.69.143"),
        Cow::Borrowed("81.2.69.143")
    ));
}

#[test]
fn the_hmac_memo_changes_no_output_and_is_never_shown() {
    let obfuscator = Obfuscator::new(&Config {
        fields: vec![DataName::Email],
        method: hmac(),
        ip: IpMode::Keep,
    });
    let first = obfuscator.hide("jane@example.com");
    assert_eq!(obfuscator.hide("jane@example.com"), first, "a hit");
    assert_eq!(hide(hmac(), "jane@example.com"), first, "a fresh instance");
    // Past the memo's size (slots are overwritten), outputs stay right.
    for n in 0..3 * memo::SLOTS {
        let value = format!("user{n}@example.com");
        let hidden = obfuscator.hide(&value);
        if n % 97 == 0 {
            assert_eq!(hidden, hide(hmac(), &value), "{value}");
        }
    }
    assert_eq!(
        obfuscator.hide("jane@example.com"),
        first,
        "after overwrites"
    );
    // Values too long to memoise are right too.
    let long = "l".repeat(memo::KEY_BYTES + 1);
    assert_eq!(obfuscator.hide(&long), hide(hmac(), &long));
    assert_eq!(obfuscator.hide(&long), hide(hmac(), &long));
    let debug = format!("{obfuscator:?}");
    assert!(!debug.contains("example.com"), "{debug}");
    assert!(debug.contains("hmac-sha256"), "{debug}");
}

#[test]
fn one_original_whichever_path_writes_it() {
    // No `date`: a note keeps `event.original` even with
    // `preserve_original_event` off (written from the bytes again); with it
    // on, the original comes from the one parse. Both equal
    // `Pipeline::original`.
    let event = r#"{"log_id":"1","data":{"type":"s","ip":"198.51.100.7","user_name":"jane@example.com","details":{"request":{"ip":["2001:db8:1:2::3"],"email":"a@b.c"}}},"extra":[{"client_ip":"198.51.100.8"}]}"#;
    let mut originals = Vec::new();
    for preserve in [false, true] {
        let mut pipeline_config = config(&[DataName::Username, DataName::Email], Method::Xxhash);
        pipeline_config.pii.ip = IpMode::Truncate;
        pipeline_config.preserve_original_event = preserve;
        let pipeline = Pipeline::new(pipeline_config, Enrichers::none());
        let text = text_of(&pipeline, event);
        assert_absent(
            &text,
            &[
                "jane@example.com",
                "a@b.c",
                "198.51.100.7",
                "198.51.100.8",
                "2001:db8:1:2::3",
            ],
        );
        let document: Json = serde_json::from_str(&text).unwrap();
        let original = at(&document, "event.original")
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            pipeline.original(&raw(event)).as_deref(),
            Some(original.as_str())
        );
        // The mapping still saw the full address.
        assert_eq!(at(&document, "source.ip"), Some(&json!("198.51.100.0")));
        originals.push(original);
    }
    assert_eq!(originals[0], originals[1]);
    let original: Json = serde_json::from_str(&originals[0]).unwrap();
    assert_eq!(original["data"]["ip"], "198.51.100.0");
    assert_eq!(
        original["data"]["details"]["request"]["ip"],
        json!(["2001:db8:1::"])
    );
    assert_eq!(original["extra"][0]["client_ip"], "198.51.100.0");
    assert_eq!(
        original["data"]["user_name"],
        json!(hide(Method::Xxhash, "jane@example.com"))
    );
}
