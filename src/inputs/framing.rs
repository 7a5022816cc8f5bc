//! Splits a body into events, judging each alone.
//!
//! Auth0 lets users pick JSON Lines, a JSON array or a JSON object, and type
//! any Content-Type, so the format is detected from the content:
//!
//! - `[` … `]`: a JSON array; each element is an event.
//! - one JSON object with a `logs` array (and no `log_id`/`data`): the
//!   `JSONOBJECT` format; each element of `logs` is an event.
//! - one JSON object otherwise: a single event (envelope or bare log).
//! - anything else: JSON Lines; each non-blank line (CRLF tolerated) is an
//!   event.
//!
//! An event must be a JSON object; anything else is rejected with a reason
//! and its bytes verbatim, and the other events of the body still count.

use serde::Deserialize;
use serde_json::value::RawValue;

/// One item of a body.
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A JSON object: one event, exactly as received.
    Event(&'a [u8]),
    /// Not an event: why, and the bytes as received.
    Rejected {
        /// What is wrong.
        reason: String,
        /// The bytes.
        raw: &'a [u8],
    },
}

/// Splits `body` into items. A body of only whitespace gives no items.
pub fn split(body: &[u8]) -> Vec<Item<'_>> {
    let trimmed = body.trim_ascii();
    match trimmed.first() {
        None => Vec::new(),
        Some(b'[') => split_array(trimmed),
        Some(b'{') => split_object(trimmed).unwrap_or_else(|| split_lines(body)),
        Some(_) => split_lines(body),
    }
}

fn split_array(body: &[u8]) -> Vec<Item<'_>> {
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(error) => return vec![rejected(format!("invalid UTF-8: {error}"), body)],
    };
    match serde_json::from_str::<Vec<&RawValue>>(text) {
        Ok(elements) => elements.into_iter().map(element).collect(),
        // A body that is one line per element can still be saved line by
        // line; otherwise the whole array is one rejected item.
        Err(error) if body.contains(&b'\n') => {
            let lines = split_lines(body);
            if lines.iter().any(|item| matches!(item, Item::Event(_))) {
                lines
            } else {
                vec![rejected(format!("invalid JSON array: {error}"), body)]
            }
        }
        Err(error) => vec![rejected(format!("invalid JSON array: {error}"), body)],
    }
}

/// Probe of a top-level object: which format it is.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow)]
    logs: Option<&'a RawValue>,
    log_id: Option<serde::de::IgnoredAny>,
    data: Option<serde::de::IgnoredAny>,
}

/// `None` when the body is not one JSON value (then it is JSON Lines).
fn split_object(body: &[u8]) -> Option<Vec<Item<'_>>> {
    let text = std::str::from_utf8(body).ok()?;
    let probe: Probe<'_> = serde_json::from_str(text).ok()?;
    if let (Some(logs), None, None) = (probe.logs, &probe.log_id, &probe.data) {
        if let Ok(elements) = serde_json::from_str::<Vec<&RawValue>>(logs.get()) {
            return Some(elements.into_iter().map(element).collect());
        }
    }
    Some(vec![Item::Event(body)])
}

fn split_lines(body: &[u8]) -> Vec<Item<'_>> {
    body.split(|&byte| byte == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.trim_ascii().is_empty())
        .map(|line| {
            let line = line.trim_ascii();
            let text = match std::str::from_utf8(line) {
                Ok(text) => text,
                Err(error) => return rejected(format!("invalid UTF-8: {error}"), line),
            };
            match serde_json::from_str::<&RawValue>(text) {
                Ok(value) => element(value),
                Err(error) => rejected(format!("invalid JSON: {error}"), line),
            }
        })
        .collect()
}

fn element(value: &RawValue) -> Item<'_> {
    let bytes = value.get().as_bytes();
    if bytes.first() == Some(&b'{') {
        Item::Event(bytes)
    } else {
        rejected("not a JSON object".to_owned(), bytes)
    }
}

fn rejected(reason: String, raw: &[u8]) -> Item<'_> {
    Item::Rejected { reason, raw }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders items as `E:<text>` / `R:<reason prefix>:<text>` for compact expectations.
    fn check(body: &str) -> Vec<String> {
        split(body.as_bytes())
            .into_iter()
            .map(|item| match item {
                Item::Event(bytes) => format!("E:{}", String::from_utf8_lossy(bytes)),
                Item::Rejected { reason, raw } => format!(
                    "R:{}:{}",
                    reason.split(':').next().unwrap_or(""),
                    String::from_utf8_lossy(raw)
                ),
            })
            .collect()
    }

    #[test]
    fn json_lines_with_blank_lines_crlf_and_a_bad_line() {
        assert_eq!(
            check("{\"log_id\":\"1\"}\r\n\n  \n{bad\n[1]\n{\"log_id\":\"2\"}"),
            [
                "E:{\"log_id\":\"1\"}",
                "R:invalid JSON:{bad",
                "R:not a JSON object:[1]",
                "E:{\"log_id\":\"2\"}"
            ]
        );
    }

    #[test]
    fn array_elements_are_judged_alone() {
        assert_eq!(
            check("[{\"log_id\":\"1\"}, 2, {\"log_id\":\"3\"}]"),
            [
                "E:{\"log_id\":\"1\"}",
                "R:not a JSON object:2",
                "E:{\"log_id\":\"3\"}"
            ]
        );
    }

    #[test]
    fn object_with_logs_array_is_the_jsonobject_format() {
        assert_eq!(
            check("{\"logs\":[{\"log_id\":\"1\"},{\"log_id\":\"2\"}]}"),
            ["E:{\"log_id\":\"1\"}", "E:{\"log_id\":\"2\"}"]
        );
    }

    #[test]
    fn single_envelope_and_bare_log_pretty_printed() {
        let envelope = "{\n  \"log_id\": \"1\",\n  \"data\": {\"logs\": []}\n}";
        assert_eq!(check(envelope), [format!("E:{envelope}")]);
        assert_eq!(check(" {\"type\":\"s\"} \n"), ["E:{\"type\":\"s\"}"]);
    }

    #[test]
    fn broken_array_is_one_rejected_item_and_blank_body_is_empty() {
        assert_eq!(check("[{\"a\":1},"), ["R:invalid JSON array:[{\"a\":1},"]);
        assert!(check(" \r\n ").is_empty());
    }

    #[test]
    fn invalid_utf8_line_is_rejected_verbatim() {
        let items = split(b"{\"a\":\"\xff\"}\n{\"b\":1}");
        assert!(matches!(&items[0], Item::Rejected { raw, .. } if raw == b"{\"a\":\"\xff\"}"));
        assert_eq!(items[1], Item::Event(b"{\"b\":1}"));
    }
}
