//! Salvage without loss: a valid JSON object that the full parser refuses
//! still becomes a fully mapped document.
//!
//! `serde_json` refuses three things valid JSON may hold: escaped lone
//! surrogates (JavaScript's `JSON.stringify` writes them, so a chosen
//! `user_name` can hold one), numbers beyond `f64` (`1e999`) and nesting
//! deeper than its recursion limit (128). Dropping such an event, or
//! keeping only its id, would let an attacker hide a failed login's
//! `source.ip` and user from detection rules. So [`repair`] rewrites the
//! text in one iterative pass (no recursion, so any depth is safe):
//!
//! - a lone surrogate escape becomes `\ufffd` (U+FFFD);
//! - a number beyond `f64` becomes a string of its text where the
//!   template maps the field as keyword or flattened (and in fields the
//!   mapping reads as text), else `null` (dropped) with a note; which field
//!   a number is in depends on the event's shape (envelope or bare record),
//!   so an event with such numbers is scanned twice, the first time to
//!   learn the shape;
//! - a subtree opening deeper than [`MAX_DEPTH`] is cut: replaced by the
//!   string [`CUT_MARKER`], so the document shows where.
//!
//! The repaired text is then mapped like any event; `error.message` says
//! what was changed and where, `event.original` keeps the event as
//! received, and the tag [`SALVAGED_TAG`](super::tags::SALVAGED_TAG) marks the document.

use std::fmt::Write as _;

use super::coerce::{kind, Kind};
use super::decode::{self, LogEvent};
use super::json::{self, Value};
use super::outcome::DropReason;
use crate::event::RawEvent;

/// The deepest nesting kept, counted in objects and arrays from the root.
/// Below `serde_json`'s limit (128), and low enough that `details` (three
/// levels down in an envelope, four in a `{"json":…}` wrapper) stays
/// within the template's `depth_limit` of 50 for flattened fields, which
/// would otherwise make Elasticsearch reject the whole document.
pub const MAX_DEPTH: usize = 48;

/// What stands in for a cut subtree.
pub const CUT_MARKER: &str = "[cut: nested too deep, see event.original]";

/// How many places of each kind of change `error.message` names.
const NAMED_PLACES: usize = 3;
/// How many path segments of a place are shown.
const SHOWN_SEGMENTS: usize = 6;
/// How many characters of a key are shown (so `error.message` stays small
/// whatever the keys).
const SHOWN_KEY_CHARS: usize = 64;

/// One step of a path from the root of the event.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

type Path = Vec<Segment>;

/// The repaired text of an event and what was changed.
#[derive(Debug, Default)]
pub struct Repair {
    /// The event as JSON `serde_json` reads.
    pub text: String,
    surrogates: Changes,
    /// Out-of-range numbers kept as strings.
    kept: Changes,
    /// Out-of-range numbers dropped (`null`).
    dropped: Changes,
    cuts: Changes,
}

/// A count of changes and the first few places.
#[derive(Debug, Default)]
struct Changes {
    count: usize,
    places: Vec<Path>,
}

impl Changes {
    fn push(&mut self, path: impl FnOnce() -> Path) {
        self.count += 1;
        if self.places.len() < NAMED_PLACES {
            self.places.push(path());
        }
    }
}

/// The outcome of an event `decode` refused for `reason`: `map` is given
/// the log read from the repaired text and a note saying what was
/// changed, else (when even that does not parse) the old probe's `log_id`,
/// type and date; `Err(reason)` when neither works. `map` is the
/// pipeline's usual filter → obfuscate → mapping, so salvaged events get
/// the same rules as the rest.
pub(crate) fn document<T>(
    raw: &RawEvent,
    reason: DropReason,
    map: impl for<'a> FnOnce(LogEvent<'a>, String) -> T,
) -> Result<T, DropReason> {
    if let Some(repair) = repair(&raw.bytes) {
        if let Some((log, changes)) = repair.decode() {
            let note = format!("the event could not be read in full ({reason}); {changes}");
            return Ok(map(log, note));
        }
    }
    match decode::salvage(&raw.bytes) {
        Some(log) => {
            let note = format!(
                "the event could not be read in full ({reason}); only its log_id, type and date are mapped"
            );
            Ok(map(log, note))
        }
        None => Err(reason),
    }
}

/// An open object or array of the scan.
#[derive(Debug)]
struct Open {
    object: bool,
    /// The current member's key (objects; decoded) or element index.
    key: Option<String>,
    index: usize,
}

/// Rewrites `bytes` (which must be UTF-8) so that `serde_json` reads it;
/// `None` when the text is not UTF-8 or the scan meets something that is
/// not JSON (the parse of the result catches the rest).
pub fn repair(bytes: &[u8]) -> Option<Repair> {
    let text = std::str::from_utf8(bytes).ok()?;
    // First as if every number went to a text field; when there are
    // numbers to settle, again once the shape is known.
    let first = scan(text, None)?;
    if first.kept.count == 0 {
        return Some(first);
    }
    let Ok(value) = json::parse(first.text.as_bytes()) else {
        return Some(first);
    };
    let prefix = log_prefix(&value);
    scan(text, Some(&prefix))
}

/// Where the log's own members are: under `{"json":…}` and the envelope's
/// `data`, as `decode` unwraps them.
fn log_prefix(value: &Value<'_>) -> Vec<&'static str> {
    let mut prefix = Vec::new();
    let mut log = value;
    if let Value::Object(members) = value {
        if let [(key, inner @ Value::Object(_))] = &members[..] {
            if key == "json" {
                prefix.push("json");
                log = inner;
            }
        }
    }
    if matches!(log.get("data"), Some(Value::Object(_))) {
        prefix.push("data");
    }
    prefix
}

/// Whether a number inside `open` takes text: outside the log's members
/// (the envelope's), or in a member that [`keeps_text`]. `prefix` is
/// where the log's members are (`None`: not known, take text).
fn takes_text(open: &[Open], prefix: Option<&[&str]>) -> bool {
    let Some(prefix) = prefix else {
        return true;
    };
    let under_log = open.len() > prefix.len()
        && prefix.iter().zip(open).all(|(expected, container)| {
            container.object && container.key.as_deref() == Some(*expected)
        });
    if !under_log {
        return true;
    }
    let field = &open[prefix.len()];
    match (&field.key, field.object) {
        (Some(key), true) => keeps_text(key),
        _ => true,
    }
}

/// Where the scan is: the path of keys and indexes to the innermost value.
fn path_of(open: &[Open]) -> Path {
    open.iter()
        .map(|container| match (&container.key, container.object) {
            (Some(key), true) => Segment::Key(key.clone()),
            _ => Segment::Index(container.index),
        })
        .collect()
}

/// One repair pass; `prefix` as for [`takes_text`].
fn scan(text: &str, prefix: Option<&[&str]>) -> Option<Repair> {
    let bytes = text.as_bytes();
    let mut repair = Repair {
        text: String::with_capacity(text.len() + 16),
        ..Repair::default()
    };
    let mut open: Vec<Open> = Vec::new();
    // Depth inside a cut subtree (0: not cutting).
    let mut cut_depth = 0usize;
    // Whether the next string of the innermost object is a key.
    let mut expect_key = false;
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' => index += 1,
            b'{' | b'[' => {
                index += 1;
                if cut_depth > 0 {
                    cut_depth += 1;
                } else if open.len() >= MAX_DEPTH {
                    repair.cuts.push(|| path_of(&open));
                    json::write_str(&mut repair.text, CUT_MARKER);
                    cut_depth = 1;
                } else {
                    repair.text.push(char::from(byte));
                    open.push(Open {
                        object: byte == b'{',
                        key: None,
                        index: 0,
                    });
                    expect_key = byte == b'{';
                }
            }
            b'}' | b']' => {
                index += 1;
                if cut_depth > 0 {
                    cut_depth -= 1;
                } else {
                    repair.text.push(char::from(byte));
                    open.pop();
                    expect_key = false;
                }
            }
            b',' => {
                index += 1;
                if cut_depth == 0 {
                    repair.text.push(',');
                    if let Some(container) = open.last_mut() {
                        container.index += 1;
                        expect_key = container.object;
                    }
                }
            }
            b':' => {
                index += 1;
                if cut_depth == 0 {
                    repair.text.push(':');
                    expect_key = false;
                }
            }
            b'"' => {
                let end = string_end(bytes, index)?;
                if cut_depth == 0 {
                    let start = repair.text.len();
                    let replaced = copy_string(&text[index..end], &mut repair.text);
                    if expect_key {
                        let key = serde_json::from_str::<String>(&repair.text[start..]).ok()?;
                        if let Some(container) = open.last_mut() {
                            container.key = Some(key);
                        }
                    }
                    for _ in 0..replaced {
                        repair.surrogates.push(|| path_of(&open));
                    }
                }
                index = end;
            }
            b'-' | b'0'..=b'9' => {
                let end = bytes[index..]
                    .iter()
                    .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .map_or(bytes.len(), |length| index + length);
                if cut_depth == 0 {
                    let number = &text[index..end];
                    if number.parse::<f64>().is_ok_and(f64::is_infinite) {
                        if takes_text(&open, prefix) {
                            repair.kept.push(|| path_of(&open));
                            json::write_str(&mut repair.text, number);
                        } else {
                            repair.dropped.push(|| path_of(&open));
                            repair.text.push_str("null");
                        }
                    } else {
                        repair.text.push_str(number);
                    }
                }
                index = end;
            }
            b't' | b'f' | b'n' => {
                let end = bytes[index..]
                    .iter()
                    .position(|b| !b.is_ascii_lowercase())
                    .map_or(bytes.len(), |length| index + length);
                if cut_depth == 0 {
                    repair.text.push_str(&text[index..end]);
                }
                index = end;
            }
            _ => return None,
        }
    }
    Some(repair)
}

/// The index just past the string starting at `start` (a `"`).
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut index = start + 1;
    while index < bytes.len() {
        match bytes[index] {
            b'"' => return Some(index + 1),
            b'\\' => index += 2,
            _ => index += 1,
        }
    }
    None
}

/// Copies the JSON string literal `literal` (quotes included) to `out`
/// with each lone surrogate escape replaced by `\ufffd`; returns how many
/// were replaced.
fn copy_string(literal: &str, out: &mut String) -> usize {
    let bytes = literal.as_bytes();
    let mut replaced = 0;
    let mut copied = 0;
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] != b'\\' {
            index += 1;
            continue;
        }
        let Some(unit) = escape_unit(bytes, index) else {
            // Any other escape: two bytes, copied as they are.
            index += 2;
            continue;
        };
        match unit {
            0xD800..=0xDBFF => {
                let paired = escape_unit(bytes, index + 6)
                    .is_some_and(|low| (0xDC00..=0xDFFF).contains(&low));
                if paired {
                    index += 12;
                } else {
                    out.push_str(&literal[copied..index]);
                    out.push_str("\\ufffd");
                    replaced += 1;
                    index += 6;
                    copied = index;
                }
            }
            0xDC00..=0xDFFF => {
                out.push_str(&literal[copied..index]);
                out.push_str("\\ufffd");
                replaced += 1;
                index += 6;
                copied = index;
            }
            _ => index += 6,
        }
    }
    out.push_str(&literal[copied.min(literal.len())..]);
    replaced
}

/// The code unit of a `\uXXXX` escape at `at`.
fn escape_unit(bytes: &[u8], at: usize) -> Option<u32> {
    if bytes.get(at) != Some(&b'\\') || bytes.get(at + 1) != Some(&b'u') {
        return None;
    }
    let hex = std::str::from_utf8(bytes.get(at + 2..at + 6)?).ok()?;
    u32::from_str_radix(hex, 16).ok()
}

impl Repair {
    /// Parses the repaired text into the event and says what changed.
    fn decode(&self) -> Option<(LogEvent<'_>, String)> {
        let value = json::parse(self.text.as_bytes()).ok()?;
        let log = decode::decode_value(value).ok()?;
        let cut =
            format!("subtree(s) nested deeper than {MAX_DEPTH} levels cut (see event.original)");
        let changes: Vec<String> = [
            (
                &self.surrogates,
                "lone surrogate escape(s) replaced with U+FFFD",
            ),
            (
                &self.kept,
                "number(s) beyond f64 kept as text (keyword/flattened fields)",
            ),
            (
                &self.dropped,
                "number(s) beyond f64 dropped (not a keyword/flattened field; see event.original)",
            ),
            (&self.cuts, cut.as_str()),
        ]
        .into_iter()
        .filter(|(changes, _)| changes.count > 0)
        .map(|(changes, what)| describe(changes, what))
        .collect();
        let summary = if changes.is_empty() {
            "salvaged as it is".to_owned()
        } else {
            format!("salvaged: {}", changes.join("; "))
        };
        Some((log, summary))
    }
}

/// Whether the log member `field` takes a number's text without changing
/// its type in the template: keyword, flattened and keyword-group fields,
/// and the members the mapping reads as text.
fn keeps_text(field: &str) -> bool {
    matches!(
        kind(field),
        Kind::Keyword | Kind::Flattened | Kind::KeywordGroup
    ) || matches!(
        field,
        "date" | "ip" | "log_id" | "type" | "user_agent" | "user_id" | "user_name"
    )
}

/// `"<count> <what> (`a.b`, `c`)"`.
fn describe(changes: &Changes, what: &str) -> String {
    let mut text = format!("{} {what}", changes.count);
    if !changes.places.is_empty() {
        text.push_str(" at ");
        for (index, path) in changes.places.iter().enumerate() {
            if index > 0 {
                text.push_str(", ");
            }
            text.push('`');
            for (position, segment) in path.iter().take(SHOWN_SEGMENTS).enumerate() {
                if position > 0 {
                    text.push('.');
                }
                match segment {
                    Segment::Key(key) => match key.char_indices().nth(SHOWN_KEY_CHARS) {
                        Some((end, _)) => {
                            text.push_str(&key[..end]);
                            text.push('…');
                        }
                        None => text.push_str(key),
                    },
                    Segment::Index(index) => {
                        let _ = write!(text, "{index}");
                    }
                }
            }
            if path.len() > SHOWN_SEGMENTS {
                let _ = write!(text, ".…({} levels)", path.len());
            }
            text.push('`');
        }
        if changes.count > changes.places.len() {
            text.push_str(", …");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::pipeline::tests::{check, error_message, field, map};

    const LOG_ID: &str = "90020240308043029321000000000000000000000000000000000002";

    /// A failed login (`fp`) as the log stream sends it, with `extra`
    /// members spliced in as raw JSON text.
    fn failed_login(user_name: &str, ip: &str, extra: &str) -> String {
        format!(
            r#"{{"log_id":"{LOG_ID}","data":{{"date":"2024-03-08T04:30:29.321Z","type":"fp","description":"Wrong email or password.","connection":"Username-Password-Authentication","client_id":"c1","client_name":"App","ip":"{ip}","user_agent":"Chrome 122.0.0 / Windows 10.0.0","user_id":"auth0|65eaa","user_name":"{user_name}","strategy":"auth0","strategy_type":"database",{extra}"log_id":"{LOG_ID}"}}}}"#
        )
    }

    #[track_caller]
    fn salvaged(document: &Value, event: &str) {
        check(
            document,
            &[
                ("event.original", json!(event)),
                (
                    "tags",
                    json!([
                        "preserve_original_event",
                        "auth0_ingest_salvaged",
                        "forwarded",
                        "auth0-logstream"
                    ]),
                ),
                ("event.id", json!(LOG_ID)),
                ("event.action", json!("incorrect-password")),
                ("@timestamp", json!("2024-03-08T04:30:29.321Z")),
                ("user_agent.name", json!("Chrome")),
                ("auth0.logs.data.client_name", json!("App")),
            ],
        );
        assert!(
            error_message(document)
                .starts_with("the event could not be read in full (invalid event: invalid JSON: "),
            "{}",
            error_message(document)
        );
    }

    #[track_caller]
    fn source_and_user_survive(document: &Value) {
        check(
            document,
            &[
                ("source.ip", json!("203.0.113.7")),
                ("source.geo.city_name", json!("Springfield")),
                ("source.as.number", json!(64500)),
                ("user.id", json!("auth0|65eaa")),
                ("user.email", json!("neo@example.com")),
                ("user.name", json!("neo")),
                ("user.domain", json!("example.com")),
            ],
        );
    }

    #[test]
    fn lone_surrogate_in_user_name() {
        let event = failed_login(r"neo\ud800@example.com", "203.0.113.7", "");
        let document = map(&event);
        salvaged(&document, &event);
        // U+FFFD is not a grok USERNAME character: no split, as Elastic.
        check(
            &document,
            &[
                ("source.ip", json!("203.0.113.7")),
                ("source.geo.city_name", json!("Springfield")),
                ("source.as.number", json!(64500)),
                ("user.id", json!("auth0|65eaa")),
                ("user.name", json!("neo\u{fffd}@example.com")),
                ("user.domain", Value::Null),
                ("user.email", json!("neo\u{fffd}@example.com")),
                (
                    "related.user",
                    json!(["auth0|65eaa", "neo\u{fffd}@example.com"]),
                ),
            ],
        );
        assert!(
            error_message(&document).ends_with(
                "salvaged: 1 lone surrogate escape(s) replaced with U+FFFD at `data.user_name`"
            ),
            "{}",
            error_message(&document)
        );
    }

    #[test]
    fn lone_surrogate_in_ip() {
        let event = failed_login("neo@example.com", r"203.0.113.7\udc00", "");
        let document = map(&event);
        salvaged(&document, &event);
        check(
            &document,
            &[
                ("source", Value::Null),
                ("user.id", json!("auth0|65eaa")),
                ("user.email", json!("neo@example.com")),
            ],
        );
        let text = error_message(&document);
        assert!(
            text.contains("`ip` `203.0.113.7\u{fffd}` is not an IP address")
                && text.contains("at `data.ip`"),
            "{text}"
        );
        // A Management API request's address still gives source.ip.
        let event = failed_login(
            "neo@example.com",
            r"\ud800",
            r#""details":{"request":{"ip":"203.0.113.7","method":"get"}},"#,
        );
        let document = map(&event);
        source_and_user_survive(&document);
        check(&document, &[("http.request.method", json!("GET"))]);
    }

    #[test]
    fn lone_surrogates_in_details_and_keys_next_to_a_valid_pair() {
        let event = failed_login(
            "neo@example.com",
            "203.0.113.7",
            r#""details":{"error":{"message":"bad \ud83d password \ud83d\ude00"},"k\udfff":[1,"\udbff"]},"#,
        );
        let document = map(&event);
        salvaged(&document, &event);
        source_and_user_survive(&document);
        check(
            &document,
            &[
                (
                    "auth0.logs.data.details.error.message",
                    json!("bad \u{fffd} password \u{1f600}"),
                ),
                ("auth0.logs.data.details.k\u{fffd}", json!([1, "\u{fffd}"])),
                ("log.level", json!("error")),
            ],
        );
        let text = error_message(&document);
        assert!(
            text.contains("3 lone surrogate escape(s) replaced with U+FFFD at `data.details.error.message`, `data.details.k\u{fffd}`, `data.details.k\u{fffd}.1`"),
            "{text}"
        );
    }

    #[test]
    fn numbers_beyond_f64_are_text_where_the_template_takes_text() {
        let event = failed_login(
            "neo@example.com",
            "203.0.113.7",
            r#""details":{"attempts":1e999,"list":[-1E+400,2]},"audience":1e999,"location_info":{"latitude":9e999},"is_mobile":1e999,"n":1e999,"extra":{"deep":[0,-1e999]},"#,
        );
        let document = map(&event);
        salvaged(&document, &event);
        source_and_user_survive(&document);
        check(
            &document,
            &[
                ("auth0.logs.data.details.attempts", json!("1e999")),
                ("auth0.logs.data.details.list", json!(["-1E+400", 2])),
                ("auth0.logs.data.audience", json!("1e999")),
                ("auth0.logs.data.location_info.latitude", json!("9e999")),
                ("auth0.logs.data.is_mobile", Value::Null),
                ("auth0.logs.data.n", Value::Null),
                ("auth0.logs.data.extra.deep", json!([0])),
            ],
        );
        let text = error_message(&document);
        assert!(
            text.contains("salvaged: 4 number(s) beyond f64 kept as text (keyword/flattened fields) at `data.details.attempts`, `data.details.list.0`, `data.audience`, …; 3 number(s) beyond f64 dropped (not a keyword/flattened field; see event.original) at `data.is_mobile`, `data.n`, `data.extra.deep.1`"),
            "{text}"
        );
        // A bare API record (no envelope) is settled the same way.
        let bare = r#"{"date":"2024-03-08T04:30:29.321Z","type":"fp","n":1e999,"scope":1e999,"user_id":"auth0|1"}"#;
        let document = map(bare);
        check(
            &document,
            &[
                ("auth0.logs.data.n", Value::Null),
                ("auth0.logs.data.scope", json!("1e999")),
                ("user.id", json!("auth0|1")),
            ],
        );
    }

    #[test]
    fn nesting_ten_thousand_deep_is_cut_and_the_rest_mapped() {
        for (depth, open, close) in [(10_000, "{\"a\":", "}"), (100_000, "[", "]")] {
            let deep = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            let event = failed_login(
                "neo@example.com",
                "203.0.113.7",
                &format!(r#""details":{{"error":"x","nested":{deep}}},"extra":{deep},"#),
            );
            let document = map(&event);
            salvaged(&document, &event);
            source_and_user_survive(&document);
            let text = error_message(&document);
            assert!(
                text.contains(&format!("2 subtree(s) nested deeper than {MAX_DEPTH} levels cut (see event.original) at `data.details.nested.")),
                "{text}"
            );
            // What is left stays within the template's flattened depth limit.
            fn depth_of(value: &Value) -> usize {
                match value {
                    Value::Object(members) => 1 + members.values().map(depth_of).max().unwrap_or(0),
                    Value::Array(elements) => 1 + elements.iter().map(depth_of).max().unwrap_or(0),
                    _ => 0,
                }
            }
            let details = field(&document, "auth0.logs.data.details").unwrap();
            assert_eq!(depth_of(details), MAX_DEPTH - 2, "{details}");
            let mut innermost = &details["nested"];
            while let Some(inner) = innermost.get("a").or(innermost.get(0)) {
                innermost = inner;
            }
            assert_eq!(innermost, &json!(CUT_MARKER));
        }
    }

    /// Regression (own review): every out-of-range number once copied its
    /// whole path, so long keys times many numbers was quadratic.
    #[test]
    fn many_numbers_under_long_keys_stay_linear() {
        let key = "k".repeat(4096);
        let numbers = vec!["1e999"; 20_000].join(",");
        let mut nested = format!("[{numbers}]");
        for _ in 0..40 {
            nested = format!(r#"{{"{key}":{nested}}}"#);
        }
        let event = failed_login(
            "neo@example.com",
            "203.0.113.7",
            &format!(r#""details":{nested},"unmapped":{nested},"#),
        );
        let document = map(&event);
        source_and_user_survive(&document);
        let text = error_message(&document);
        assert!(
            text.contains("20000 number(s) beyond f64 kept as text"),
            "{}",
            &text[..300]
        );
        assert!(
            text.contains("20000 number(s) beyond f64 dropped"),
            "{}",
            &text[..300]
        );
        assert!(text.len() < 8192, "{}", text.len());
    }

    #[test]
    fn repair_leaves_clean_json_alone_and_refuses_what_is_not_json() {
        let clean = r#"{"a":[1,-2.5e3,true,false,null,"x\"\\\u00e9\ud83d\ude00"],"b":{"c":{}}}"#;
        let repaired = repair(clean.as_bytes()).unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&repaired.text).unwrap(),
            serde_json::from_str::<Value>(clean).unwrap()
        );
        for bad in [&b"\xff"[..], b"{\"a\":x}", b"{\"a\":\"open", b"{#}"] {
            assert!(
                repair(bad).is_none_or(|repaired| repaired.decode().is_none()),
                "{bad:?}"
            );
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            /// Never a panic, whatever the text.
            #[test]
            fn repair_takes_any_text(text in "[\\[\\]{}\",:0-9eE.+\\-\\\\utfnrl a-d]{0,64}") {
                if let Some(repaired) = repair(text.as_bytes()) {
                    let _ = repaired.decode();
                }
            }

            /// Valid JSON with lone surrogates, huge numbers and deep
            /// nesting always becomes a document that `serde_json` reads.
            #[test]
            fn broken_values_always_become_documents(
                surrogate in "\\\\u[dD][89a-fA-F][0-9a-f]{2}",
                exponent in 309u32..2000,
                depth in 0usize..300,
                where_ in 0usize..3,
            ) {
                let bad = [
                    format!("\"x{surrogate}y\""),
                    format!("1e{exponent}"),
                    format!("{}0{}", "[".repeat(depth), "]".repeat(depth)),
                ];
                let extra = format!(r#""details":{{"v":{}}},"f":{},"#, bad[where_], bad[(where_ + 1) % 3]);
                let event = failed_login("neo@example.com", "203.0.113.7", &extra);
                let document = map(&event);
                prop_assert_eq!(field(&document, "source.ip"), Some(&json!("203.0.113.7")));
                prop_assert_eq!(field(&document, "user.id"), Some(&json!("auth0|65eaa")));
            }
        }
    }
}
