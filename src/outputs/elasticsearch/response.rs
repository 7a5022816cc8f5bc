//! Bulk responses: one outcome per item, in request order.
//!
//! An HTTP `200` says nothing about the documents (`"errors": true` marks a
//! response with failed items), so every item is read and classified:
//!
//! | item | outcome |
//! |---|---|
//! | `200`, `201` | [`Outcome::Indexed`] |
//! | `409` (version conflict: the `_id` exists) | [`Outcome::Duplicate`], a success |
//! | `429`, `5xx`, `es_rejected_execution_exception` | [`Outcome::Retry`] |
//! | `401`, `403`, `404`, `408`, `cluster_block_exception` | [`Outcome::Retry`]: the cluster or the credentials need fixing, not the document |
//! | `index_not_found_exception`, `index_closed_exception`, `invalid_index_name_exception`, or a reason naming a missing write index, ingest pipeline or data stream template ([`is_misconfiguration`]) | [`Outcome::Misconfigured`]: retried, logged at `error` |
//! | any other `4xx` (`mapper_parsing_exception`, `document_parsing_exception`, `strict_dynamic_mapping_exception`, other `illegal_argument_exception`s, …) | [`Outcome::Reject`]: dead-lettered |
//! | anything else | [`Outcome::Retry`] (never drop on a surprise) |

use serde::Deserialize;

/// The `filter_path` asked of `_bulk`: what Beats asks for (the status and
/// error of each item), which makes responses about ten times smaller.
pub const FILTER_PATH: &str = "errors,items.*.status,items.*.error";

/// What became of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Written.
    Indexed,
    /// The `_id` exists already: a redelivery, counted as success.
    Duplicate,
    /// Refused permanently; dead-letter it with this reason.
    Reject(String),
    /// Refused for now; send it again after a pause.
    Retry(String),
    /// Refused because of the cluster's configuration (a closed or missing
    /// index, no write index, a missing pipeline or template), not the
    /// document: send it again after a pause, and tell the operator.
    Misconfigured(String),
}

/// Error types that are about the target index, never the document.
const CONFIG_ERROR_TYPES: &[&str] = &[
    "index_not_found_exception",
    "index_closed_exception",
    "invalid_index_name_exception",
];

/// Reasons (lowercase, matched anywhere in the reason or a cause's) of
/// `illegal_argument_exception`s and the like that are about the cluster's
/// configuration, never the document.
const CONFIG_ERROR_REASONS: &[&str] = &[
    "no write index is defined",
    "no matching index template found",
    "pipeline with id [",
    "only write ops with an op_type of create are allowed in data streams",
];

/// A bulk response that cannot be matched to the request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The item count differs from the request's.
    #[error("bulk response has {actual} items for {expected} documents")]
    ItemCount {
        /// Documents sent.
        expected: usize,
        /// Items answered.
        actual: usize,
    },
    /// The body is not a bulk response.
    #[error("bulk response is not valid JSON")]
    Json(#[source] serde_json::Error),
}

#[derive(Deserialize)]
struct RawResponse {
    #[serde(default)]
    errors: bool,
    #[serde(default)]
    items: Vec<RawActionItem>,
}

/// `{"create": {…}}`; `index` too, for servers that answer that way.
#[derive(Deserialize)]
struct RawActionItem {
    create: Option<RawItem>,
    index: Option<RawItem>,
}

#[derive(Deserialize)]
struct RawItem {
    status: u16,
    error: Option<RawError>,
}

#[derive(Deserialize)]
struct RawError {
    #[serde(rename = "type", default, deserialize_with = "lenient_text")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    reason: Option<String>,
    caused_by: Option<Box<RawError>>,
}

/// A string as itself, any other JSON value as its text, `null` as `None`:
/// an odd error description from a proxy or a plugin must not make the
/// whole bulk response unreadable (which would retry it for ever).
fn lenient_text<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(
        match Option::<serde_json::Value>::deserialize(deserializer)? {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(text)) => Some(text),
            Some(other) => Some(other.to_string()),
        },
    )
}

/// Reads a `2xx` bulk response for `expected` documents.
pub fn parse(body: &[u8], expected: usize) -> Result<Vec<Outcome>, Error> {
    let response: RawResponse = serde_json::from_slice(body).map_err(Error::Json)?;
    if !response.errors && response.items.is_empty() && expected > 0 {
        // `filter_path` drops `items` when empty: not an answer for ours.
        return Err(Error::ItemCount {
            expected,
            actual: 0,
        });
    }
    if response.items.len() != expected {
        return Err(Error::ItemCount {
            expected,
            actual: response.items.len(),
        });
    }
    Ok(response
        .items
        .into_iter()
        .map(|action| match action.create.or(action.index) {
            Some(item) => classify(item.status, item.error.as_ref()),
            None => Outcome::Retry("bulk item without a `create` result".to_owned()),
        })
        .collect())
}

fn classify(status: u16, error: Option<&RawError>) -> Outcome {
    let kind = error.and_then(|error| error.kind.as_deref()).unwrap_or("");
    match (status, kind) {
        (200 | 201, _) => Outcome::Indexed,
        (409, _) => Outcome::Duplicate,
        _ if is_misconfiguration(error) => Outcome::Misconfigured(describe(status, error)),
        (_, "es_rejected_execution_exception")
        | (_, "cluster_block_exception")
        | (401 | 403 | 404 | 408 | 429, _)
        | (500..=599, _) => Outcome::Retry(describe(status, error)),
        (400..=499, _) => Outcome::Reject(describe(status, error)),
        _ => Outcome::Retry(describe(status, error)),
    }
}

/// Whether an item error is about the index or the cluster's configuration
/// (see [`CONFIG_ERROR_TYPES`] and [`CONFIG_ERROR_REASONS`]), at any level
/// of its `caused_by` chain.
fn is_misconfiguration(error: Option<&RawError>) -> bool {
    let mut level = error;
    while let Some(error) = level {
        if error
            .kind
            .as_deref()
            .is_some_and(|kind| CONFIG_ERROR_TYPES.contains(&kind))
        {
            return true;
        }
        if let Some(reason) = &error.reason {
            let reason = reason.to_ascii_lowercase();
            if CONFIG_ERROR_REASONS
                .iter()
                .any(|pattern| reason.contains(pattern))
            {
                return true;
            }
        }
        level = error.caused_by.as_deref();
    }
    false
}

/// `400 mapper_parsing_exception: failed to parse … (caused by …)`.
fn describe(status: u16, error: Option<&RawError>) -> String {
    let mut text = status.to_string();
    let mut level = error;
    let mut first = true;
    while let Some(error) = level {
        text.push_str(if first { " " } else { " (caused by " });
        text.push_str(error.kind.as_deref().unwrap_or("error"));
        if let Some(reason) = &error.reason {
            text.push_str(": ");
            text.push_str(reason);
        }
        if !first {
            text.push(')');
        }
        first = false;
        level = error.caused_by.as_deref();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real Elasticsearch 8 answer (trimmed by `FILTER_PATH`) with one
    /// item of each kind.
    const MIXED: &str = r#"{"errors":true,"items":[
        {"create":{"status":201}},
        {"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"[900201]: version conflict, document already exists (current version [1])"}}},
        {"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}}},
        {"create":{"status":400,"error":{"type":"document_parsing_exception","reason":"[1:42] failed to parse field [auth0.logs.data.date] of type [date]","caused_by":{"type":"illegal_argument_exception","reason":"failed to parse date field [yesterday]"}}}},
        {"create":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse"}}},
        {"create":{"status":500,"error":{"type":"exception","reason":"boom"}}},
        {"create":{"status":503,"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"}}},
        {"create":{"status":500,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},
        {"create":{"status":403,"error":{"type":"cluster_block_exception","reason":"index [.ds-logs-auth0.logs-default] blocked by: [FORBIDDEN/8/index write (api)];"}}},
        {"index":{"status":201}}
    ]}"#;

    #[test]
    fn every_item_kind_is_classified() {
        let outcomes = parse(MIXED.as_bytes(), 10).unwrap();
        let kinds: Vec<&str> = outcomes
            .iter()
            .map(|outcome| match outcome {
                Outcome::Indexed => "indexed",
                Outcome::Duplicate => "duplicate",
                Outcome::Reject(_) => "reject",
                Outcome::Retry(_) => "retry",
                Outcome::Misconfigured(_) => "misconfigured",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "indexed",
                "duplicate",
                "retry",
                "reject",
                "reject",
                "retry",
                "retry",
                "retry",
                "retry",
                "indexed"
            ]
        );
        assert_eq!(
            outcomes[3],
            Outcome::Reject(
                "400 document_parsing_exception: [1:42] failed to parse field [auth0.logs.data.date] of type [date] (caused by illegal_argument_exception: failed to parse date field [yesterday])"
                    .to_owned()
            )
        );
    }

    /// Item errors about the cluster's configuration, as Elasticsearch 8
    /// words them, and document errors that look alike.
    #[test]
    fn configuration_errors_are_retried_and_document_errors_rejected() {
        let item = |status: u16, kind: &str, reason: &str| serde_json::json!({"create": {"status": status, "error": {"type": kind, "reason": reason}}});
        let misconfigured = [
            item(400, "index_closed_exception", "closed"),
            item(400, "invalid_index_name_exception", "Invalid index name [Logs], must be lowercase"),
            item(404, "index_not_found_exception", "no such index [logs-auth0.logs-default]"),
            item(400, "illegal_argument_exception", "no write index is defined for alias [logs-auth0]. The write index may be explicitly disabled using is_write_index=false or the alias points to multiple indices without one being designated as a write index"),
            item(400, "illegal_argument_exception", "pipeline with id [logs-auth0.logs-1.0.0] does not exist"),
            item(400, "illegal_argument_exception", "no matching index template found for data stream [logs-auth0.logs-default]"),
            serde_json::json!({"create": {"status": 400, "error": {"type": "exception", "reason": "failed", "caused_by": {"type": "illegal_argument_exception", "reason": "pipeline with id [auth0] does not exist"}}}}),
        ];
        let rejected = [
            item(
                400,
                "mapper_parsing_exception",
                "failed to parse field [a] of type [long]",
            ),
            item(400, "document_parsing_exception", "[1:2] failed to parse"),
            item(
                400,
                "strict_dynamic_mapping_exception",
                "mapping set to strict, dynamic introduction of [x] within [_doc] is not allowed",
            ),
            item(
                400,
                "illegal_argument_exception",
                "Limit of total fields [1000] has been exceeded",
            ),
        ];
        for (items, misconfiguration) in [
            (misconfigured.as_slice(), true),
            (rejected.as_slice(), false),
        ] {
            let body = serde_json::json!({"errors": true, "items": items}).to_string();
            for outcome in parse(body.as_bytes(), items.len()).unwrap() {
                match outcome {
                    Outcome::Misconfigured(_) => assert!(misconfiguration, "{outcome:?}"),
                    Outcome::Reject(_) => assert!(!misconfiguration, "{outcome:?}"),
                    other => panic!("{other:?}"),
                }
            }
        }
    }

    #[test]
    fn errors_false_with_every_item_created() {
        let body = r#"{"took":3,"errors":false,"items":[{"create":{"_index":".ds-logs-auth0.logs-default-2026.11.21-000001","_id":"1","_version":1,"result":"created","status":201}}]}"#;
        assert_eq!(parse(body.as_bytes(), 1).unwrap(), [Outcome::Indexed]);
    }

    #[test]
    fn mismatched_or_garbage_answers_are_errors() {
        assert!(matches!(
            parse(br#"{"errors":false}"#, 2),
            Err(Error::ItemCount {
                expected: 2,
                actual: 0
            })
        ));
        assert!(matches!(
            parse(br#"{"errors":true,"items":[{"create":{"status":201}}]}"#, 2),
            Err(Error::ItemCount {
                expected: 2,
                actual: 1
            })
        ));
        assert!(matches!(parse(b"<html>", 1), Err(Error::Json(_))));
        assert!(matches!(
            parse(br#"{"items":[{"create":{}}]}"#, 1),
            Err(Error::Json(_))
        ));
    }

    #[test]
    fn an_item_without_create_is_retried() {
        assert!(matches!(
            parse(br#"{"errors":true,"items":[{"delete":{"status":200}}]}"#, 1).unwrap()[0],
            Outcome::Retry(_)
        ));
    }

    /// One bulk item of any status, error type and shape Elasticsearch (or
    /// a proxy pretending to be it) might send.
    fn item() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let kind = prop_oneof![
            Just(serde_json::Value::Null),
            Just(serde_json::json!("mapper_parsing_exception")),
            Just(serde_json::json!("es_rejected_execution_exception")),
            Just(serde_json::json!("index_closed_exception")),
            "[a-z_]{0,12}".prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
        ];
        let reason = prop_oneof![
            Just(serde_json::Value::Null),
            "\\PC{0,40}".prop_map(serde_json::Value::from),
            Just(serde_json::json!({"nested": true})),
        ];
        (
            prop_oneof![Just("create"), Just("index"), Just("delete")],
            0u16..=600,
            proptest::option::of((kind, reason)),
        )
            .prop_map(|(action, status, error)| {
                let mut result = serde_json::json!({ "status": status });
                if let Some((kind, reason)) = error {
                    result["error"] = serde_json::json!({ "type": kind, "reason": reason,
                        "caused_by": { "type": "x", "reason": "no write index is defined" } });
                }
                serde_json::json!({ action: result })
            })
    }

    proptest::proptest! {
        /// Any bytes: an error at worst, never a panic.
        #[test]
        fn parse_never_panics_on_bytes(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256), expected in 0usize..4) {
            let _ = parse(&body, expected);
        }

        /// Well-formed responses with arbitrary items: one outcome per item
        /// when the count matches, a count error otherwise, never a panic;
        /// 201 is always indexed and 409 always a duplicate.
        #[test]
        fn structured_responses_give_one_outcome_per_item(
            items in proptest::collection::vec(item(), 0..20),
            errors in proptest::bool::ANY,
            extra in 0usize..2,
        ) {
            let body = serde_json::json!({ "took": 1, "errors": errors, "items": items }).to_string();
            let expected = items.len() + extra;
            match parse(body.as_bytes(), expected) {
                Ok(outcomes) => {
                    proptest::prop_assert_eq!(outcomes.len(), expected);
                    for (item, outcome) in items.iter().zip(&outcomes) {
                        let result = item.get("create").or_else(|| item.get("index"));
                        match result.and_then(|result| result["status"].as_u64()) {
                            Some(201) => proptest::prop_assert_eq!(outcome, &Outcome::Indexed),
                            Some(409) => proptest::prop_assert_eq!(outcome, &Outcome::Duplicate),
                            None => proptest::prop_assert!(matches!(outcome, Outcome::Retry(_))),
                            Some(_) => {}
                        }
                    }
                }
                Err(_) => proptest::prop_assert!(extra > 0 || (!errors && items.is_empty() && expected > 0)),
            }
        }
    }
}
