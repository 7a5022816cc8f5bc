//! One Datadog log item per document: the JSON object put in the intake's
//! array, with the `ddsource`, `service`, `ddtags` and `hostname`
//! attributes Datadog reads.
//!
//! - `format = "auth0"`: [`auth0_item`] takes the event JSON (what Auth0
//!   sent, or the PII-obfuscated version of it) and sends Auth0's envelope
//!   `{"log_id": …, "data": {…}}`, what Auth0's own Datadog stream sends, so
//!   Datadog's Auth0 pipeline (`data.date`, `data.ip`, `data.type`, …) and
//!   dashboards work unchanged. A bare log is wrapped into the envelope.
//! - `format = "ecs"`: [`ecs_item`] sends our ECS document.
//!
//! Both splice the attributes after the object's `{` instead of parsing
//! and re-serializing the event: the event is valid JSON (the pipeline
//! accepted it), and copying bytes is what keeps this output cheap.
//!
//! [`truncate`] keeps an item within Datadog's 1 MB per log, cutting the
//! largest values and saying so in a note field, never silently.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::event::Document;

/// Datadog truncates a log above 1 MB; items are cut to this size here
/// (with a note) so that nothing is cut silently. 1 MB read as 10⁶ bytes,
/// the smaller reading.
pub const MAX_ITEM_BYTES: usize = 1_000_000;
/// Datadog's intake refuses (silently drops) logs older than this.
pub const STALE_AFTER: time::Duration = time::Duration::hours(18);
/// The attribute added to a truncated item.
pub const NOTE_FIELD: &str = "auth0_ingest";

/// The `dd*` attributes every item carries, as JSON members ready to be
/// spliced into an object (`"ddsource":"auth0","service":"auth0",…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    members: String,
}

impl Attributes {
    /// `ddsource`, `service`, `ddtags` (comma-joined, left out when empty)
    /// and `hostname` (left out when `None`).
    pub fn new(source: &str, service: &str, tags: &[String], hostname: Option<&str>) -> Attributes {
        let quoted = |text: &str| serde_json::Value::from(text).to_string();
        let mut members = format!(
            "\"ddsource\":{},\"service\":{}",
            quoted(source),
            quoted(service)
        );
        if !tags.is_empty() {
            members.push_str(",\"ddtags\":");
            members.push_str(&quoted(&tags.join(",")));
        }
        if let Some(hostname) = hostname {
            members.push_str(",\"hostname\":");
            members.push_str(&quoted(hostname));
        }
        Attributes { members }
    }
}

/// The top-level members of an Auth0 event this module reads; the rest is
/// copied as bytes.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    log_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    date: Option<&'a RawValue>,
}

/// A log's `date`.
#[derive(Deserialize)]
struct Dated<'a> {
    #[serde(borrow, default)]
    date: Option<&'a RawValue>,
}

/// Appends the `format = "auth0"` item for `event_json` (an envelope or a
/// bare log, as received or after PII obfuscation) to `out`, and returns
/// the event's `date` when it has a readable one. `log_id` names the event
/// when the JSON cannot be read (then the item carries the text as its
/// `message`, so Datadog still gets it).
pub fn auth0_item(
    event_json: &[u8],
    log_id: Option<&str>,
    attributes: &Attributes,
    out: &mut Vec<u8>,
) -> Option<OffsetDateTime> {
    let text = std::str::from_utf8(event_json)
        .ok()
        .map(str::trim)
        .filter(|text| text.starts_with('{'));
    let parsed = text.and_then(|text| Some((text, serde_json::from_str::<Envelope>(text).ok()?)));
    let Some((text, envelope)) = parsed else {
        unreadable(event_json, log_id, attributes, out);
        return None;
    };
    match envelope.data {
        Some(data) => {
            splice(text, attributes, out);
            serde_json::from_str::<Dated>(data.get())
                .ok()
                .and_then(|dated| date(dated.date))
        }
        None => {
            out.extend_from_slice(b"{\"log_id\":");
            match (envelope.log_id, log_id) {
                (Some(raw), _) => out.extend_from_slice(raw.get().as_bytes()),
                (None, Some(id)) => out.extend_from_slice(quote(id).as_bytes()),
                (None, None) => out.extend_from_slice(b"null"),
            }
            out.extend_from_slice(b",\"data\":");
            out.extend_from_slice(text.as_bytes());
            out.push(b',');
            out.extend_from_slice(attributes.members.as_bytes());
            out.push(b'}');
            date(envelope.date)
        }
    }
}

/// Appends the `format = "ecs"` item for `document` to `out`, and returns
/// its `@timestamp`.
pub fn ecs_item(
    document: &Document,
    attributes: &Attributes,
    out: &mut Vec<u8>,
) -> Option<OffsetDateTime> {
    splice(&document.json, attributes, out);
    // The pipeline writes `@timestamp` first, as a string.
    let rest = document.json.strip_prefix("{\"@timestamp\":\"")?;
    let end = rest.find('"')?;
    OffsetDateTime::parse(&rest[..end], &time::format_description::well_known::Rfc3339).ok()
}

/// Whether an event dated `date` is older than Datadog accepts at `now`.
pub fn is_stale(date: OffsetDateTime, now: OffsetDateTime) -> bool {
    date < now - STALE_AFTER
}

/// `{` + attributes + `,` + the object's members.
fn splice(object: &str, attributes: &Attributes, out: &mut Vec<u8>) {
    let members = object[1..].trim_start();
    out.push(b'{');
    out.extend_from_slice(attributes.members.as_bytes());
    if !members.starts_with('}') {
        out.push(b',');
    }
    out.extend_from_slice(members.as_bytes());
}

/// An event this module cannot read as a JSON object (the pipeline
/// salvaged it): its text goes in `message`.
fn unreadable(event_json: &[u8], log_id: Option<&str>, attributes: &Attributes, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"log_id\":");
    match log_id {
        Some(id) => out.extend_from_slice(quote(id).as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"message\":");
    out.extend_from_slice(quote(&String::from_utf8_lossy(event_json)).as_bytes());
    out.push(b',');
    out.extend_from_slice(attributes.members.as_bytes());
    out.push(b'}');
}

fn quote(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

fn date(raw: Option<&RawValue>) -> Option<OffsetDateTime> {
    let text: Cow<str> = serde_json::from_str(raw?.get()).ok()?;
    OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339).ok()
}

/// `item` cut to at most `limit` bytes: the largest values are replaced by
/// the start of their JSON text (a string), and a note says what was cut:
/// `"auth0_ingest": {"truncated": true, "original_bytes": …, "cut": [paths], "note": …}`.
/// An item that is not a JSON object becomes a `message` string.
pub fn truncate(item: &[u8], limit: usize) -> Vec<u8> {
    let original_bytes = item.len();
    let mut value: serde_json::Value = match serde_json::from_slice(item) {
        Ok(value @ serde_json::Value::Object(_)) => value,
        _ => serde_json::json!({ "message": String::from_utf8_lossy(item) }),
    };
    let mut cut = Vec::new();
    // Room for the note (paths are short; at most a few dozen cuts).
    let reserve = 512;
    let budget = limit.saturating_sub(reserve);
    for _ in 0..64 {
        let size = serde_json::to_vec(&value).map_or(0, |bytes| bytes.len());
        if size <= budget {
            break;
        }
        let excess = size - budget;
        let mut path = String::new();
        cut_largest(&mut value, excess, &mut path);
        cut.push(path);
    }
    let note = serde_json::json!({
        "truncated": true,
        "original_bytes": original_bytes,
        "cut": cut,
        "note": format!(
            "auth0-ingest cut this log from {original_bytes} bytes to Datadog's {limit}-byte limit; the cut values hold the start of their JSON text"
        ),
    });
    if let serde_json::Value::Object(map) = &mut value {
        map.insert(NOTE_FIELD.to_owned(), note);
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

/// Finds the value to cut by `excess` bytes (descending into the largest
/// member while it alone exceeds the excess by a margin) and replaces it
/// by a string of the start of its JSON text; `path` gets its dotted path.
fn cut_largest(value: &mut serde_json::Value, excess: usize, path: &mut String) {
    let size = |value: &serde_json::Value| serde_json::to_vec(value).map_or(0, |bytes| bytes.len());
    let mut current = value;
    loop {
        let largest = match current {
            serde_json::Value::Object(map) => map
                .iter()
                .map(|(key, member)| (key.clone(), size(member)))
                .max_by_key(|(_, bytes)| *bytes)
                .map(|(key, bytes)| (Some(key), None, bytes)),
            serde_json::Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(index, item)| (index, size(item)))
                .max_by_key(|(_, bytes)| *bytes)
                .map(|(index, bytes)| (None, Some(index), bytes)),
            _ => None,
        };
        match largest {
            // The largest member alone can absorb the cut: go down.
            Some((key, index, bytes)) if bytes > excess + 64 => {
                let next = match (key, index) {
                    (Some(key), _) => {
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(&key);
                        current.get_mut(key.as_str())
                    }
                    (None, Some(index)) => {
                        path.push_str(&format!("[{index}]"));
                        current.get_mut(index)
                    }
                    (None, None) => None,
                };
                match next {
                    Some(next) => current = next,
                    None => return,
                }
            }
            _ => break,
        }
    }
    // A string is cut itself; anything else becomes the start of its JSON
    // text (whose escaping the next round accounts for).
    let text = match &mut *current {
        serde_json::Value::String(text) => std::mem::take(text),
        other => other.to_string(),
    };
    let mut end = text.len().saturating_sub(excess + 16);
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    *current = serde_json::Value::String(text[..end].to_owned());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn attributes() -> Attributes {
        Attributes::new(
            "auth0",
            "auth0",
            &["env:prod".to_owned(), "team:id".to_owned()],
            Some("agent-1"),
        )
    }

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn an_envelope_keeps_its_shape_and_gains_the_attributes() {
        let event = br#" {"log_id":"9001","data":{"date":"2026-11-21T10:00:00.120Z","type":"s","ip":"81.2.69.143"}}"#;
        let mut out = Vec::new();
        let date = auth0_item(event, Some("9001"), &attributes(), &mut out);
        assert_eq!(
            parse(&out),
            json!({"log_id":"9001","data":{"date":"2026-11-21T10:00:00.120Z","type":"s","ip":"81.2.69.143"},
                   "ddsource":"auth0","service":"auth0","ddtags":"env:prod,team:id","hostname":"agent-1"})
        );
        assert_eq!(date.unwrap().unix_timestamp(), 1_795_255_200);
    }

    #[test]
    fn a_bare_log_is_wrapped_into_the_envelope() {
        let event = br#"{"log_id":"9002","date":"2026-11-21T10:00:00Z","type":"f"}"#;
        let mut out = Vec::new();
        let attributes = Attributes::new("auth0", "svc", &[], None);
        assert!(auth0_item(event, Some("9002"), &attributes, &mut out).is_some());
        assert_eq!(
            parse(&out),
            json!({"log_id":"9002","data":{"log_id":"9002","date":"2026-11-21T10:00:00Z","type":"f"},
                   "ddsource":"auth0","service":"svc"})
        );
    }

    #[test]
    fn unreadable_events_and_empty_objects_still_make_valid_items() {
        let mut out = Vec::new();
        assert!(auth0_item(b"not json", Some("9003"), &attributes(), &mut out).is_none());
        let value = parse(&out);
        assert_eq!(value["message"], "not json");
        assert_eq!(value["log_id"], "9003");
        out.clear();
        let document = Document {
            id: None,
            json: "{}".to_owned(),
        };
        assert!(ecs_item(&document, &attributes(), &mut out).is_none());
        assert_eq!(parse(&out)["ddsource"], "auth0");
    }

    #[test]
    fn ecs_items_carry_the_document_and_its_timestamp() {
        let document = Document {
            id: None,
            json: r#"{"@timestamp":"2026-11-21T10:00:00.120Z","event":{"code":"s"}}"#.to_owned(),
        };
        let mut out = Vec::new();
        let date = ecs_item(&document, &attributes(), &mut out).unwrap();
        let value = parse(&out);
        assert_eq!(value["event"]["code"], "s");
        assert_eq!(value["service"], "auth0");
        assert!(is_stale(date, date + time::Duration::hours(19)));
        assert!(!is_stale(date, date + time::Duration::hours(17)));
    }

    #[test]
    fn oversized_items_are_cut_with_a_note_never_silently() {
        let big = "x".repeat(3 * MAX_ITEM_BYTES);
        let event = format!(
            r#"{{"log_id":"9004","data":{{"date":"2026-11-21T10:00:00Z","type":"s","details":{{"body":"{big}","small":1}}}}}}"#
        );
        let mut item = Vec::new();
        auth0_item(event.as_bytes(), Some("9004"), &attributes(), &mut item);
        let cut = truncate(&item, MAX_ITEM_BYTES);
        assert!(cut.len() <= MAX_ITEM_BYTES, "{}", cut.len());
        assert!(cut.len() > MAX_ITEM_BYTES - 2000, "{}", cut.len());
        let value = parse(&cut);
        assert_eq!(value["log_id"], "9004");
        assert_eq!(value["data"]["type"], "s");
        assert_eq!(value["data"]["details"]["small"], 1);
        assert!(value["data"]["details"]["body"]
            .as_str()
            .unwrap()
            .starts_with("xxx"));
        assert_eq!(value["ddsource"], "auth0");
        let note = &value[NOTE_FIELD];
        assert_eq!(note["truncated"], true);
        assert_eq!(note["original_bytes"], item.len());
        assert_eq!(note["cut"], json!(["data.details.body"]));
    }

    #[test]
    fn many_medium_values_are_cut_until_the_item_fits() {
        let members: Vec<String> = (0..40)
            .map(|n| format!("\"f{n}\":\"{}\"", "y".repeat(40_000)))
            .collect();
        let event = format!(r#"{{"log_id":"9005","data":{{{}}}}}"#, members.join(","));
        let mut item = Vec::new();
        auth0_item(event.as_bytes(), None, &attributes(), &mut item);
        let cut = truncate(&item, MAX_ITEM_BYTES);
        assert!(cut.len() <= MAX_ITEM_BYTES);
        assert!(!parse(&cut)[NOTE_FIELD]["cut"]
            .as_array()
            .unwrap()
            .is_empty());
    }
}
