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
//! An event must be a JSON object with at least one of Auth0's top-level
//! keys (`log_id`, `data`, `type`, `date`): anything else (`2`, `{"foo":1}`)
//! is rejected with a reason and its bytes verbatim, and the other events of
//! the body still count.

use serde::de::{Deserializer as _, IgnoredAny, SeqAccess, Visitor};
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
/// Holds every item at once: for bodies from the network use [`for_each`].
pub fn split(body: &[u8]) -> Vec<Item<'_>> {
    let mut items = Vec::new();
    for_each(body, |item| items.push(item));
    items
}

/// Hands each item of `body` to `visit`, in order, holding none of them:
/// memory stays flat however many items a body has (a 16 MiB body can
/// hold 8 million one-byte lines).
pub fn for_each<'a>(body: &'a [u8], mut visit: impl FnMut(Item<'a>)) {
    let trimmed = body.trim_ascii();
    match trimmed.first() {
        None => {}
        Some(b'[') => each_array(trimmed, &mut visit),
        Some(b'{') if each_object(trimmed, &mut visit) => {}
        Some(_) => each_line(body, &mut visit),
    }
}

fn each_array<'a>(body: &'a [u8], visit: &mut impl FnMut(Item<'a>)) {
    let text = match std::str::from_utf8(body) {
        Ok(text) => text,
        Err(error) => return visit(rejected(format!("invalid UTF-8: {error}"), body)),
    };
    match serde_json::from_str::<IgnoredAny>(text) {
        Ok(_) => each_element(text, visit),
        // A body that is one line per element can still be saved line by
        // line; otherwise the whole array is one rejected item.
        Err(_) if body.contains(&b'\n') && has_object_line(body) => each_line(body, visit),
        Err(error) => visit(rejected(format!("invalid JSON array: {error}"), body)),
    }
}

/// Whether some line of `body` is a JSON object event.
fn has_object_line(body: &[u8]) -> bool {
    let mut found = false;
    each_line(body, &mut |item| found |= matches!(item, Item::Event(_)));
    found
}

/// Visits the elements of `text`, a JSON array already checked to be
/// valid, one at a time (a `Vec` of them would cost 16 bytes an element).
fn each_element<'a>(text: &'a str, visit: &mut impl FnMut(Item<'a>)) {
    struct Elements<'v, V>(&'v mut V);
    impl<'a, V: FnMut(Item<'a>)> Visitor<'a> for Elements<'_, V> {
        type Value = ();
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a JSON array")
        }
        fn visit_seq<S: SeqAccess<'a>>(self, mut sequence: S) -> Result<(), S::Error> {
            while let Some(value) = sequence.next_element::<&'a RawValue>()? {
                (self.0)(element(value));
            }
            Ok(())
        }
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    // The array was validated, so this cannot fail; if it did, the items
    // visited so far stand and the rest would be lost: say so loudly.
    if let Err(error) = deserializer.deserialize_seq(Elements(visit)) {
        tracing::error!(%error, "a validated JSON array failed to parse (a bug)");
    }
}

/// Probe of a top-level object: which format it is.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow)]
    logs: Option<&'a RawValue>,
    log_id: Option<IgnoredAny>,
    data: Option<IgnoredAny>,
}

/// `false` when the body is not one JSON value (then it is JSON Lines).
fn each_object<'a>(body: &'a [u8], visit: &mut impl FnMut(Item<'a>)) -> bool {
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    let Ok(probe) = serde_json::from_str::<Probe<'a>>(text) else {
        return false;
    };
    if let (Some(logs), None, None) = (probe.logs, &probe.log_id, &probe.data) {
        let logs = logs.get();
        if logs.trim_start().starts_with('[') {
            each_element(logs, visit);
            return true;
        }
    }
    visit(judged(body));
    true
}

fn each_line<'a>(body: &'a [u8], visit: &mut impl FnMut(Item<'a>)) {
    let lines = body
        .split(|&byte| byte == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .filter(|line| !line.trim_ascii().is_empty());
    for line in lines {
        let line = line.trim_ascii();
        let item = match std::str::from_utf8(line) {
            Err(error) => rejected(format!("invalid UTF-8: {error}"), line),
            Ok(text) => match serde_json::from_str::<&RawValue>(text) {
                Ok(value) => element(value),
                Err(error) => rejected(format!("invalid JSON: {error}"), line),
            },
        };
        visit(item);
    }
}

fn element(value: &RawValue) -> Item<'_> {
    let bytes = value.get().as_bytes();
    if bytes.first() == Some(&b'{') {
        judged(bytes)
    } else {
        rejected("not a JSON object".to_owned(), bytes)
    }
}

/// Why an object without Auth0's keys is refused.
pub const NOT_AUTH0: &str =
    "not an Auth0 event: the object has none of `log_id`, `data`, `type`, `date`";

/// The keys of which an Auth0 event (a stream envelope or a bare log) has
/// at least one at its top level.
const AUTH0_KEYS: [&[u8]; 4] = [b"\"log_id\"", b"\"date\"", b"\"type\"", b"\"data\""];

/// Top-level keys of an object, for [`judged`].
#[derive(Deserialize)]
struct Marks {
    log_id: Option<IgnoredAny>,
    data: Option<IgnoredAny>,
    #[serde(rename = "type")]
    kind: Option<IgnoredAny>,
    date: Option<IgnoredAny>,
}

/// `bytes`, a valid JSON object, as an event when it has one of Auth0's
/// keys at its top level. Auth0's objects start with one (`{"log_id":…`,
/// `{"date":…`), which is checked without parsing; other objects are read
/// for their top-level keys. An object that cannot be read that way (a
/// duplicate key) is kept: the pipeline judges it.
fn judged(bytes: &[u8]) -> Item<'_> {
    if first_key_is_auth0(bytes) {
        return Item::Event(bytes);
    }
    match serde_json::from_slice::<Marks>(bytes) {
        Ok(Marks {
            log_id: None,
            data: None,
            kind: None,
            date: None,
        }) => rejected(NOT_AUTH0.to_owned(), bytes),
        _ => Item::Event(bytes),
    }
}

/// Whether the object's first key is one of [`AUTH0_KEYS`].
fn first_key_is_auth0(bytes: &[u8]) -> bool {
    let inner = bytes.get(1..).unwrap_or_default().trim_ascii_start();
    AUTH0_KEYS.iter().any(|key| {
        inner
            .strip_prefix(*key)
            .is_some_and(|rest| rest.trim_ascii_start().first() == Some(&b':'))
    })
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
    fn objects_without_auth0_keys_are_not_events() {
        assert_eq!(check("{\"foo\":1}"), ["R:not an Auth0 event:{\"foo\":1}"]);
        assert_eq!(
            check("[{\"foo\":{\"log_id\":1}}, { \"x\":1, \"date\":\"d\"}]"),
            [
                "R:not an Auth0 event:{\"foo\":{\"log_id\":1}}",
                "E:{ \"x\":1, \"date\":\"d\"}"
            ]
        );
        assert_eq!(
            check("{\"foo\":1}\n{ \"log_id\" : \"1\"}\n{\"logs\":\"x\"}"),
            [
                "R:not an Auth0 event:{\"foo\":1}",
                "E:{ \"log_id\" : \"1\"}",
                "R:not an Auth0 event:{\"logs\":\"x\"}"
            ]
        );
    }

    #[test]
    fn invalid_utf8_line_is_rejected_verbatim() {
        let items = split(b"{\"a\":\"\xff\"}\n{\"type\":1}");
        assert!(matches!(&items[0], Item::Rejected { raw, .. } if raw == b"{\"a\":\"\xff\"}"));
        assert_eq!(items[1], Item::Event(b"{\"type\":1}"));
    }
}
