//! Coercion of `auth0.logs.data` values to one JSON type per field, so
//! that a field never changes type between events (and no mapping conflict
//! can happen): see [`Kind`].

use std::borrow::Cow;

use super::json::Value;

/// What a member of `auth0.logs.data` is mapped as, which decides how a
/// value of another JSON type is coerced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A keyword (or text): strings kept, numbers and booleans as their JSON
    /// text, arrays element-wise, objects as JSON text.
    Keyword,
    /// A `flattened` object: objects kept, anything else wrapped as
    /// `{"value": …}`.
    Flattened,
    /// A group of keywords (`location_info`): an object whose members are
    /// keywords; anything else dropped.
    KeywordGroup,
    /// A boolean: `true`/`false`, also as strings or 0/1; anything else
    /// dropped.
    Boolean,
    /// Not mapped (`dynamic: false`): kept in `_source` as it is.
    Unmapped,
}

/// The kind of member `key` of `auth0.logs.data` (after the removals).
pub fn kind(key: &str) -> Kind {
    match key {
        "agent_id"
        | "audience"
        | "client_id"
        | "client_ip"
        | "client_name"
        | "connection"
        | "connection_id"
        | "description"
        | "email"
        | "environment_name"
        | "external_agent_id"
        | "hostname"
        | "identity_user_id"
        | "mtls_thumbprint_sha256"
        | "organization_id"
        | "organization_name"
        | "scope"
        | "session_connection"
        | "strategy"
        | "strategy_type"
        | "tenant_name"
        | "title"
        | "tracking_id"
        | "transaction_linking_id" => Kind::Keyword,
        "$event_schema" | "auth0_client" | "body" | "details" | "query" | "references"
        | "security_context" => Kind::Flattened,
        "location_info" => Kind::KeywordGroup,
        "is_mobile" => Kind::Boolean,
        _ => Kind::Unmapped,
    }
}

/// A keyword text of any value; `None` for null and `""`.
pub fn keyword(value: Value<'_>) -> Option<Cow<'_, str>> {
    match value {
        Value::Null => None,
        Value::String(text) if text.is_empty() => None,
        Value::String(text) => Some(text),
        other => Some(Cow::Owned(other.to_keyword().into_owned())),
    }
}

/// Makes `value` keyword text (arrays element-wise).
pub fn coerce_keyword(value: &mut Value<'_>) {
    match value {
        Value::String(_) | Value::Null => {}
        Value::Array(elements) => {
            for element in elements.iter_mut() {
                if !matches!(element, Value::String(_) | Value::Null) {
                    *element = Value::String(Cow::Owned(element.to_keyword().into_owned()));
                }
            }
        }
        other => *other = Value::String(Cow::Owned(other.to_keyword().into_owned())),
    }
}

/// A boolean from `true`/`false` (also as strings) or 0/1.
pub fn boolean(value: Value<'_>) -> Option<bool> {
    match value {
        Value::Bool(value) => Some(value),
        Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        Value::Number(number) => match number.as_u64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A number or numeric string (scientific notation included) as a long,
/// rounded as Elastic's `Math.round(Double.parseDouble(…))`.
pub fn to_long(value: &Value<'_>) -> Option<i64> {
    let float = match value {
        Value::Number(number) => {
            if let Some(integer) = number.as_i64() {
                return Some(integer);
            }
            number.as_f64()?
        }
        Value::String(text) => {
            let text = text.trim();
            if let Ok(integer) = text.parse::<i64>() {
                return Some(integer);
            }
            text.parse::<f64>().ok()?
        }
        _ => return None,
    };
    // `as` saturates; the range check keeps out values that would.
    (float.is_finite() && float.abs() < 9.0e18).then(|| float.round() as i64)
}
