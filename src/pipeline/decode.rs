//! Bytes → [`LogEvent`]: unwraps the log-stream envelope
//! (`{"log_id":…,"data":{…}}`) or takes a bare log object (as the
//! Management API returns it).

use serde_json::{Map, Value};

use super::DropReason;
use crate::event::LogId;

/// One Auth0 log event.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEvent {
    /// The event's id, from the envelope or from `data.log_id`.
    pub log_id: Option<LogId>,
    /// The log object itself.
    pub data: Map<String, Value>,
}

/// Decodes one event.
pub fn decode(bytes: &[u8]) -> Result<LogEvent, DropReason> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|error| DropReason::Invalid(error.to_string()))?;
    let Value::Object(mut object) = value else {
        return Err(DropReason::Invalid("not a JSON object".to_owned()));
    };
    let envelope_id = object
        .get("log_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let data = match object.remove("data") {
        Some(Value::Object(data)) => data,
        Some(other) => {
            // Not an envelope after all: a bare log with a `data` field.
            object.insert("data".to_owned(), other);
            object
        }
        None => object,
    };
    let log_id = envelope_id
        .or_else(|| {
            data.get("log_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .filter(|id| !id.is_empty())
        .map(LogId);
    Ok(LogEvent { log_id, data })
}
