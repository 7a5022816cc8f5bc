//! Bytes → [`LogEvent`]: unwraps the log-stream envelope
//! (`{"log_id":…,"data":{…}}`) or takes a bare log object (as the
//! Management API returns it). An envelope wrapped as `{"json": …}` (the
//! shape Elastic's agent and pipeline tests hand over) is unwrapped too.
//! Strings borrow from the input.

use std::borrow::Cow;

use super::json::{self, Value};
use super::outcome::DropReason;

/// One Auth0 log event.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent<'a> {
    /// The envelope's `log_id`, when there is an envelope with one.
    pub envelope_id: Option<Cow<'a, str>>,
    /// The members of the log object itself.
    pub data: Vec<(Cow<'a, str>, Value<'a>)>,
}

/// Decodes one event; only non-JSON and non-objects are refused.
pub fn decode(bytes: &[u8]) -> Result<LogEvent<'_>, DropReason> {
    let value = json::parse(bytes).map_err(|error| DropReason::Invalid(error.to_string()))?;
    decode_value(value)
}

/// [`decode`] of a value already parsed; non-objects are refused.
pub fn decode_value(value: Value<'_>) -> Result<LogEvent<'_>, DropReason> {
    let Value::Object(mut members) = value else {
        return Err(DropReason::Invalid("not a JSON object".to_owned()));
    };
    if let [(key, Value::Object(_))] = &members[..] {
        if key == "json" {
            if let Some((_, Value::Object(inner))) = members.pop() {
                members = inner;
            }
        }
    }
    let data_position = members
        .iter()
        .position(|(key, value)| key == "data" && matches!(value, Value::Object(_)));
    let Some(data_position) = data_position else {
        return Ok(LogEvent {
            envelope_id: None,
            data: members,
        });
    };
    let (_, data) = members.swap_remove(data_position);
    let Value::Object(data) = data else {
        return Err(DropReason::Invalid("`data` is not an object".to_owned()));
    };
    let envelope_id = members
        .into_iter()
        .find(|(key, _)| key == "log_id")
        .and_then(|(_, value)| match value {
            Value::String(id) if !id.is_empty() => Some(id),
            Value::Number(number) => Some(Cow::Owned(number.to_string())),
            _ => None,
        });
    Ok(LogEvent { envelope_id, data })
}

/// A valid JSON object the full parse refuses (an escaped lone surrogate,
/// as JavaScript's `JSON.stringify` writes; a number beyond `f64`) is still
/// an Auth0 event: this probe recovers what identifies it (`log_id`,
/// `type`, `date`, from the envelope or the bare log) so it becomes a
/// document (with `event.original` and the reason) instead of vanishing
/// from the index. `None` when even that is impossible.
pub fn salvage(bytes: &[u8]) -> Option<LogEvent<'static>> {
    use serde_json::value::RawValue;
    #[derive(serde::Deserialize)]
    struct Probe<'a> {
        #[serde(borrow)]
        log_id: Option<&'a RawValue>,
        #[serde(borrow, rename = "type")]
        code: Option<&'a RawValue>,
        #[serde(borrow)]
        date: Option<&'a RawValue>,
        #[serde(borrow)]
        data: Option<&'a RawValue>,
    }
    fn string(raw: Option<&RawValue>) -> Option<String> {
        raw.and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let outer: Probe<'_> = serde_json::from_str(text).ok()?;
    let inner = outer
        .data
        .and_then(|data| serde_json::from_str::<Probe<'_>>(data.get()).ok());
    let envelope_id = string(outer.log_id);
    let log = inner.as_ref().unwrap_or(&outer);
    let mut data = Vec::new();
    for (key, value) in [
        ("log_id", string(log.log_id).or_else(|| envelope_id.clone())),
        ("type", string(log.code)),
        ("date", string(log.date)),
    ] {
        if let Some(value) = value {
            data.push((Cow::Borrowed(key), Value::String(Cow::Owned(value))));
        }
    }
    Some(LogEvent {
        envelope_id: inner
            .is_some()
            .then_some(envelope_id)
            .flatten()
            .map(Cow::Owned),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_and_bare_log() {
        let envelope = decode(br#"{"log_id":"9","data":{"type":"s","log_id":"9"}}"#).unwrap();
        assert_eq!(envelope.envelope_id.as_deref(), Some("9"));
        assert_eq!(envelope.data.len(), 2);
        let bare = decode(br#"{"type":"s","log_id":"9"}"#).unwrap();
        assert_eq!(bare.envelope_id, None);
        assert_eq!(bare.data.len(), 2);
        let wrapped = decode(br#"{"json":{"log_id":"9","data":{"type":"s"}}}"#).unwrap();
        assert_eq!(wrapped.envelope_id.as_deref(), Some("9"));
        assert_eq!(wrapped.data.len(), 1);
        // `data` that is not an object: a bare log with a `data` field.
        let odd = decode(br#"{"type":"s","data":"x"}"#).unwrap();
        assert_eq!(odd.data.len(), 2);
    }

    #[test]
    fn non_objects_are_refused() {
        for bytes in [&b"[1]"[..], b"\"s\"", b"{", b"", b"\xff"] {
            assert!(decode(bytes).is_err(), "{bytes:?}");
        }
    }
}
