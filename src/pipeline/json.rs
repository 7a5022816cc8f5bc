//! A borrowed JSON tree and a direct JSON writer: the pipeline's fast path.
//!
//! [`Value`] borrows strings from the input whenever they hold no escape,
//! keeps object members in input order (duplicates resolved as
//! `serde_json` does: the last one wins), and is read with `serde_json`'s
//! parser (so its recursion limit of 128 levels applies). Documents are
//! written straight into a `String` by [`Writer`] instead of being built as
//! a `serde_json::Value` first; integers are formatted with `itoa` (no
//! `fmt` machinery), strings escaped eight bytes at a time.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value borrowing from its input.
///
/// **Invariant:** a `Cow::Borrowed` string (value or key) needs no JSON
/// escaping. The parser guarantees it (it borrows only when the source text
/// has no escape sequence, and JSON forbids raw quotes, backslashes and
/// control characters in strings); code building values must only borrow
/// such text (e.g. constants) and use `Cow::Owned` otherwise. The writer
/// copies borrowed text without scanning it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as `serde_json` read it.
    Number(serde_json::Number),
    /// A string (unescaped).
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object; keys are unique.
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

/// Writes JSON into a `String`, placing commas itself.
#[derive(Debug)]
pub struct Writer<'o> {
    out: &'o mut String,
    /// Whether the next member or element needs a leading comma.
    comma: bool,
}

impl<'a> Value<'a> {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(members) => members
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value),
            _ => None,
        }
    }

    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// `null` or absent-like.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Elastic's "empty" sweep: removes, depth first, every `null`, `""`,
    /// empty array and empty object inside this value; returns whether the
    /// value itself is now empty (and should be removed by its parent).
    pub fn sweep(&mut self) -> bool {
        match self {
            Value::Null => true,
            Value::String(text) => text.is_empty(),
            Value::Bool(_) | Value::Number(_) => false,
            Value::Array(elements) => {
                elements.retain_mut(|element| !element.sweep());
                elements.is_empty()
            }
            Value::Object(members) => {
                members.retain_mut(|(_, value)| !value.sweep());
                members.is_empty()
            }
        }
    }

    /// The value as keyword text: strings as they are, numbers and booleans
    /// as their JSON text, anything else as compact JSON.
    pub fn to_keyword(&self) -> Cow<'_, str> {
        match self {
            Value::String(text) => Cow::Borrowed(text),
            other => {
                let mut out = String::new();
                write_value(&mut out, other);
                Cow::Owned(out)
            }
        }
    }
}

impl<'o> Writer<'o> {
    /// A writer appending to `out`, at the start of an object or array body.
    pub fn new(out: &'o mut String) -> Writer<'o> {
        Writer { out, comma: false }
    }

    fn separator(&mut self) {
        if self.comma {
            self.out.push(',');
        }
        self.comma = true;
    }

    /// Keys given to the writer's methods are field names written in our
    /// code (`"@timestamp"`, `"geo"`), which need no escaping; parsed keys
    /// go through [`Writer::member`].
    #[inline]
    fn key(&mut self, key: &str) {
        debug_assert!(
            !key.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20),
            "field name needs escaping: {key:?}"
        );
        self.separator();
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
    }

    /// `"key":"value"`.
    #[inline]
    pub fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        write_str(self.out, value);
    }

    /// `"key":<raw>`, where `raw` is already JSON.
    pub fn raw(&mut self, key: &str, raw: &str) {
        self.key(key);
        self.out.push_str(raw);
    }

    /// `"key":` followed by JSON that `write` appends.
    pub fn raw_with(&mut self, key: &str, write: impl FnOnce(&mut String)) {
        self.key(key);
        write(self.out);
    }

    /// `"key":<value>`.
    pub fn value(&mut self, key: &str, value: &Value<'_>) {
        self.key(key);
        write_value(self.out, value);
    }

    /// A member of a parsed object (its key may be borrowed, hence clean).
    // The Cow's variant is the point: borrowed keys are known clean.
    #[allow(clippy::ptr_arg)]
    pub fn member(&mut self, key: &Cow<'_, str>, value: &Value<'_>) {
        self.separator();
        write_cow(self.out, key);
        self.out.push(':');
        write_value(self.out, value);
    }

    /// `"key":<integer>`.
    pub fn i64(&mut self, key: &str, value: i64) {
        self.key(key);
        self.out.push_str(itoa::Buffer::new().format(value));
    }

    /// `"key":true|false`.
    pub fn bool(&mut self, key: &str, value: bool) {
        self.key(key);
        self.out.push_str(if value { "true" } else { "false" });
    }

    /// `"key":["a","b"]`.
    pub fn str_array<S: AsRef<str>>(&mut self, key: &str, values: &[S]) {
        self.key(key);
        write_array(self.out, values, |out, value| {
            write_str(out, value.as_ref())
        });
    }

    /// `"key":{…}` with members written by `body`.
    // Inlined: a document writes ~20 objects, each body a one-off closure.
    #[inline]
    pub fn object(&mut self, key: &str, body: impl FnOnce(&mut Writer<'_>)) {
        self.key(key);
        self.out.push('{');
        body(&mut Writer::new(self.out));
        self.out.push('}');
    }

    /// Appends members that are already JSON (`"a":1,"b":2`), as produced by
    /// a `Writer` over another string.
    pub fn members(&mut self, members: &str) {
        if members.is_empty() {
            return;
        }
        self.separator();
        self.out.push_str(members);
    }
}

/// Writes `value` as compact JSON.
pub fn write_value(out: &mut String, value: &Value<'_>) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => write_number(out, number),
        Value::String(text) => write_cow(out, text),
        Value::Array(elements) => write_array(out, elements, write_value),
        Value::Object(members) => {
            write_object(out, members, |out, _, value| write_value(out, value))
        }
    }
}

/// Writes `[…]`, each of `items` written by `write_item`.
#[inline]
pub fn write_array<T>(out: &mut String, items: &[T], mut write_item: impl FnMut(&mut String, &T)) {
    out.push('[');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_item(out, item);
    }
    out.push(']');
}

/// Writes `{…}` of an object's `members`, each value written by
/// `write_member` (given the key too).
#[inline]
pub fn write_object(
    out: &mut String,
    members: &[(Cow<'_, str>, Value<'_>)],
    mut write_member: impl FnMut(&mut String, &str, &Value<'_>),
) {
    out.push('{');
    for (index, (key, value)) in members.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_cow(out, key);
        out.push(':');
        write_member(out, key, value);
    }
    out.push('}');
}

/// Writes a string of a [`Value`]: borrowed text is clean (see the type's
/// invariant) and copied as it is.
// The Cow's variant is the point: borrowed text is known clean.
#[allow(clippy::ptr_arg)]
fn write_cow(out: &mut String, text: &Cow<'_, str>) {
    match text {
        Cow::Borrowed(clean) => {
            debug_assert!(
                !clean.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20),
                "borrowed JSON text needs escaping: {clean:?}"
            );
            out.push('"');
            out.push_str(clean);
            out.push('"');
        }
        Cow::Owned(text) => write_str(out, text),
    }
}

/// Writes a number as `serde_json` does.
pub fn write_number(out: &mut String, number: &serde_json::Number) {
    if let Some(value) = number.as_u64() {
        out.push_str(itoa::Buffer::new().format(value));
    } else if let Some(value) = number.as_i64() {
        out.push_str(itoa::Buffer::new().format(value));
    } else {
        // Floats are rare here; serde_json's own text keeps us identical to it.
        out.push_str(&number.to_string());
    }
}

/// Writes a JSON string literal, escaping as `serde_json` does.
pub fn write_str(out: &mut String, text: &str) {
    out.push('"');
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut index = 0;
    while index < bytes.len() {
        // Skip eight clean bytes at a time (no quote, backslash or control).
        if let Some(chunk) = bytes.get(index..index + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            if !needs_escape(u64::from_le_bytes(word)) {
                index += 8;
                continue;
            }
        }
        let byte = bytes[index];
        let escape: &str = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => {
                index += 1;
                continue;
            }
        };
        // Every byte matched above is ASCII, so these are char boundaries.
        out.push_str(&text[start..index]);
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(escape);
        }
        index += 1;
        start = index;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

/// Whether any byte of `word` is `"`, `\\` or below 0x20 (SWAR: a zero byte
/// test on `word ^ pattern`, and a borrow test for `< 0x20`).
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |value: u64| value.wrapping_sub(ONES) & !value & HIGHS != 0;
    has_zero(word ^ (ONES * u64::from(b'"')))
        || has_zero(word ^ (ONES * u64::from(b'\\')))
        || word.wrapping_sub(ONES * 0x20) & !word & HIGHS != 0
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Parses one JSON value. The input is checked as UTF-8 once, up front
/// (cheaper than `from_slice`'s check of every string).
pub fn parse(bytes: &[u8]) -> Result<Value<'_>, ParseError> {
    let text = std::str::from_utf8(bytes).map_err(ParseError::Utf8)?;
    serde_json::from_str(text).map_err(ParseError::Json)
}

/// Why bytes are not a JSON value.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// Not JSON.
    #[error("invalid JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// Not UTF-8.
    #[error("invalid UTF-8: {0}")]
    Utf8(#[source] std::str::Utf8Error),
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        write_value(&mut out, self);
        formatter.write_str(&out)
    }
}

impl<'de> Deserialize<'de> for Value<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

/// An object key that borrows when it can.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string key")
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(value)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(value)))
    }
}

/// Objects this small are checked for duplicate keys by a linear scan.
const LINEAR_DEDUP: usize = 16;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value<'de>, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value<'de>, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value<'de>, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value<'de>, E> {
        Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_borrowed_str<E>(self, value: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Borrowed(value)))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(value)))
    }

    fn visit_unit<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value<'de>, D::Error> {
        Deserialize::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value<'de>, A::Error> {
        let mut elements = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(element) = seq.next_element()? {
            elements.push(element);
        }
        Ok(Value::Array(elements))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value<'de>, A::Error> {
        let mut members: Vec<(Cow<'de, str>, Value<'de>)> = Vec::with_capacity(8);
        let mut index: Option<HashMap<Cow<'de, str>, usize>> = None;
        while let Some(Key(key)) = map.next_key()? {
            let value: Value<'de> = map.next_value()?;
            let existing = match &index {
                Some(index) => index.get(&key).copied(),
                None => members.iter().position(|(name, _)| *name == key),
            };
            if let Some(position) = existing {
                members[position].1 = value;
                continue;
            }
            if let Some(index) = &mut index {
                index.insert(key.clone(), members.len());
            }
            members.push((key, value));
            if index.is_none() && members.len() > LINEAR_DEDUP {
                index = Some(
                    members
                        .iter()
                        .enumerate()
                        .map(|(position, (name, _))| (name.clone(), position))
                        .collect(),
                );
            }
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        parse(text.as_bytes()).unwrap().to_string()
    }

    #[test]
    fn writes_what_serde_json_writes() {
        for text in [
            r#"{"a":[1,-2,1.5,1e300,true,null,"x\"y\\z\n\u0001é"],"b":{}}"#,
            r#"1.743012420759E12"#,
            r#"[18446744073709551615,-9223372036854775808,0.1]"#,
        ] {
            let expected = serde_json::from_str::<serde_json::Value>(text)
                .unwrap()
                .to_string();
            assert_eq!(round_trip(text), expected, "{text}");
        }
    }

    #[test]
    fn escapes_every_position_and_length() {
        for length in 0..20 {
            for position in 0..length {
                for special in ['"', '\\', '\n', '\u{1}', '\u{1f}', 'é', '\u{7f}', ' '] {
                    let mut text: String = "a".repeat(length);
                    text.replace_range(position..=position, &special.to_string());
                    let mut out = String::new();
                    write_str(&mut out, &text);
                    assert_eq!(out, serde_json::to_string(&text).unwrap(), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_in_first_position() {
        assert_eq!(round_trip(r#"{"a":1,"b":2,"a":3}"#), r#"{"a":3,"b":2}"#);
        let many: Vec<String> = (0..40).map(|n| format!("\"k{}\":{n}", n % 20)).collect();
        let parsed = round_trip(&format!("{{{}}}", many.join(",")));
        let expected: Vec<String> = (0..20).map(|n| format!("\"k{n}\":{}", n + 20)).collect();
        assert_eq!(parsed, format!("{{{}}}", expected.join(",")));
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let value = parse(br#"{"plain":"abc","escaped":"a\nb"}"#).unwrap();
        assert!(matches!(
            value.get("plain"),
            Some(Value::String(Cow::Borrowed("abc")))
        ));
        assert!(matches!(
            value.get("escaped"),
            Some(Value::String(Cow::Owned(_)))
        ));
    }

    #[test]
    fn sweep_removes_empty_values_depth_first() {
        let mut value = parse(
            br#"{"a":null,"b":"","c":[],"d":{"e":{}},"f":[null,"",{"g":[]},0,"x"],"h":false}"#,
        )
        .unwrap();
        assert!(!value.sweep());
        assert_eq!(value.to_string(), r#"{"f":[0,"x"],"h":false}"#);
        let mut empty = parse(br#"{"a":{"b":[null]}}"#).unwrap();
        assert!(empty.sweep());
    }

    #[test]
    fn keyword_text_of_non_strings() {
        let value = parse(br#"[1,true,{"a":1},"s"]"#).unwrap();
        let Value::Array(elements) = value else {
            panic!("not an array")
        };
        let keywords: Vec<_> = elements
            .iter()
            .map(|e| e.to_keyword().into_owned())
            .collect();
        assert_eq!(keywords, ["1", "true", r#"{"a":1}"#, "s"]);
    }
}
