//! Where issue 13 deliberately goes past Elastic's integration, applied to
//! Elastic's expected documents from the *input* event by the rules,
//! written out plainly here (an oracle independent of `src/pipeline`):
//!
//! - A Management API event's `user_agent.*` is parsed from the full
//!   `details.request.userAgent` ([`FULL_AGENTS`]: what Elasticsearch's
//!   `user_agent` processor gives for that string with uap-core);
//!   `user_agent.original` stays the event's `user_agent`.
//! - `details.request.method` (upper case) → `http.request.method`,
//!   `.path` → `url.path`, a string `.query` → `url.query`,
//!   `details.response.statusCode` → `http.response.status_code`.
//! - The acting administrator (`details.request.auth.user`): when the event
//!   has the same `user_id`, `user.email` and `user.name` come from the
//!   administrator and `related.user` holds all three.
//!
//! Auth0's short forms in these fixtures (`Other 0.0.0 / Other 0.0.0`, and
//! `Firefox 125.0.0 / Arch 0.0.0` only beside a full string) need no change.

use serde_json::{json, Value};

/// Full user agents of the fixtures: (string, name, version, os.name).
const FULL_AGENTS: &[(&str, &str, &str, &str)] = &[(
    "Mozilla/5.0 (X11; Arch; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Firefox",
    "125.0",
    "Linux",
)];

/// Applies the rules to `expected`, the document Elastic expects for
/// `input`; returns how many leaves were changed or added.
pub fn apply(input: &Value, expected: &mut Value) -> usize {
    let data = input.get("data").unwrap_or(input);
    let Some(request) = data["details"]["request"].as_object() else {
        return 0;
    };
    let mut changed = 0;
    let mut set = |path: &str, value: Value| {
        let mut target = &mut *expected;
        for key in path.split('.') {
            if target.get(key).is_none() {
                target[key] = json!({});
            }
            target = &mut target[key];
        }
        if *target != value {
            *target = value;
            changed += 1;
        }
    };
    if let Some(method) = request.get("method").and_then(Value::as_str) {
        set("http.request.method", json!(method.to_ascii_uppercase()));
    }
    if let Some(path) = request.get("path").and_then(Value::as_str) {
        set("url.path", json!(path));
    }
    if let Some(query) = request.get("query").and_then(Value::as_str) {
        set("url.query", json!(query));
    }
    if let Some(status) = data["details"]["response"]["statusCode"].as_i64() {
        set("http.response.status_code", json!(status));
    }
    if let Some(full) = request.get("userAgent").and_then(Value::as_str) {
        let Some((_, name, version, os)) = FULL_AGENTS.iter().find(|(agent, ..)| *agent == full)
        else {
            panic!("add {full:?} to FULL_AGENTS with what Elasticsearch gives for it")
        };
        set("user_agent.name", json!(name));
        set("user_agent.version", json!(version));
        set("user_agent.os.name", json!(os));
        set("user_agent.device.name", json!("Other"));
    }
    let actor = &request.get("auth").unwrap_or(&Value::Null)["user"];
    if actor.is_object() && actor["user_id"] == data["user_id"] && data["user_name"].is_null() {
        let id = data["user_id"].clone();
        set("user.name", actor["name"].clone());
        set("user.email", actor["email"].clone());
        set(
            "related.user",
            json!([id, actor["name"].clone(), actor["email"].clone()]),
        );
    }
    changed
}
