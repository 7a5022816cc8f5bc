//! [`LogEvent`] → ECS document (first cut: `@timestamp`, `event.id`,
//! `event.original`, `ecs.version`, `auth0.logs.data.*`).

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::decode::LogEvent;
use super::{Config, ECS_VERSION};
use crate::event::{Document, RawEvent};

/// Builds the document of one event.
pub fn document(log: &LogEvent, raw: &RawEvent, config: &Config) -> Document {
    let mut event = Map::new();
    let mut error_message = None;
    let timestamp = match log.data.get("date").map(parse_date) {
        Some(Ok(date)) => date,
        Some(Err(message)) => {
            error_message = Some(message);
            raw.received_at
        }
        None => {
            error_message = Some("event has no `date`; @timestamp is the receive time".to_owned());
            raw.received_at
        }
    };
    if let Some(log_id) = &log.log_id {
        event.insert("id".to_owned(), Value::String(log_id.0.clone()));
    }
    if config.preserve_original_event || error_message.is_some() {
        event.insert(
            "original".to_owned(),
            Value::String(String::from_utf8_lossy(&raw.bytes).into_owned()),
        );
    }
    let mut document = json!({
        "@timestamp": format_timestamp(timestamp),
        "ecs": { "version": ECS_VERSION },
        "event": event,
        "auth0": { "logs": { "data": log.data } },
    });
    if let (Some(message), Value::Object(object)) = (error_message, &mut document) {
        object.insert("error".to_owned(), json!({ "message": message }));
    }
    Document {
        id: log.log_id.clone(),
        json: document.to_string(),
    }
}

fn parse_date(value: &Value) -> Result<OffsetDateTime, String> {
    let Value::String(text) = value else {
        return Err("`date` is not a string; @timestamp is the receive time".to_owned());
    };
    OffsetDateTime::parse(text, &Rfc3339).map_err(|error| {
        format!("`date` `{text}` is not RFC 3339 ({error}); @timestamp is the receive time")
    })
}

/// `2026-11-21T10:00:00.123Z`: millisecond precision, UTC, as Elasticsearch
/// writes dates.
pub fn format_timestamp(timestamp: OffsetDateTime) -> String {
    let utc = timestamp.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
        utc.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::event::Input;
    use crate::pipeline::decode::decode;

    fn map(event: &str, preserve: bool) -> Value {
        let raw = RawEvent {
            input: Input::Webhook,
            received_at: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
            bytes: Bytes::copy_from_slice(event.as_bytes()),
        };
        let log = decode(&raw.bytes).unwrap();
        let config = Config {
            preserve_original_event: preserve,
        };
        serde_json::from_str(&document(&log, &raw, &config).json).unwrap()
    }

    #[test]
    fn envelope_maps_timestamp_id_and_data() {
        let document = map(
            r#"{"log_id":"900","data":{"date":"2021-11-03T03:25:28.923+01:00","type":"s","log_id":"900"}}"#,
            false,
        );
        assert_eq!(
            document,
            json!({
                "@timestamp": "2021-11-03T02:25:28.923Z",
                "ecs": {"version": "8.11.0"},
                "event": {"id": "900"},
                "auth0": {"logs": {"data": {"date": "2021-11-03T03:25:28.923+01:00", "type": "s", "log_id": "900"}}}
            })
        );
    }

    #[test]
    fn bad_date_falls_back_to_receive_time_and_keeps_the_original() {
        let document = map(r#"{"log_id":"1","date":"yesterday"}"#, false);
        assert_eq!(document["@timestamp"], "2023-11-14T22:13:20.000Z");
        assert!(document["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not RFC 3339"));
        assert_eq!(
            document["event"]["original"],
            r#"{"log_id":"1","date":"yesterday"}"#
        );
    }

    #[test]
    fn original_is_kept_when_asked() {
        let event = r#"{"log_id":"1","data":{"date":"2021-11-03T03:25:28Z"}}"#;
        assert_eq!(map(event, true)["event"]["original"], event);
        assert!(map(event, false)["event"].get("original").is_none());
    }
}
