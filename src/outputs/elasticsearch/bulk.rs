//! Bulk request bodies: for each document a `create` action line with its
//! `_id` (the `log_id`; none when the event has no id, and Elasticsearch
//! assigns one) and the document line, newline-terminated (NDJSON).
//!
//! The target index is in the request path (`/<index>/_bulk`), so action
//! lines stay short: `{"create":{"_id":"90020261121…"}}`.

use crate::event::Document;

/// The action line of a document without `_id`.
const CREATE: &[u8] = b"{\"create\":{}}\n";
/// Around the `_id` of a document with one.
const CREATE_ID_OPEN: &[u8] = b"{\"create\":{\"_id\":";
const CREATE_ID_CLOSE: &[u8] = b"}}\n";

/// Appends the action and document lines of `document` to `out`.
pub fn encode(out: &mut Vec<u8>, document: &Document) {
    match &document.id {
        Some(id) => {
            out.extend_from_slice(CREATE_ID_OPEN);
            write_json_string(out, &id.0);
            out.extend_from_slice(CREATE_ID_CLOSE);
        }
        None => out.extend_from_slice(CREATE),
    }
    out.extend_from_slice(document.json.as_bytes());
    out.push(b'\n');
}

/// The bytes [`encode`] appends for `document`, up to `_id` escapes (an
/// estimate for batch sizing; Auth0 ids need none).
pub fn encoded_len(document: &Document) -> usize {
    let action = match &document.id {
        Some(id) => CREATE_ID_OPEN.len() + id.0.len() + 2 + CREATE_ID_CLOSE.len(),
        None => CREATE.len(),
    };
    action + document.json.len() + 1
}

/// A body holding every document of `documents`, in order.
pub fn body<'a>(documents: impl IntoIterator<Item = &'a Document>) -> Vec<u8> {
    let mut out = Vec::new();
    for document in documents {
        encode(&mut out, document);
    }
    out
}

/// Writes `text` as a JSON string. Auth0 `log_id`s are ASCII digits and
/// letters, so the fast path copies; anything else goes through serde_json.
fn write_json_string(out: &mut Vec<u8>, text: &str) {
    let plain = text
        .bytes()
        .all(|byte| byte >= 0x20 && byte != b'"' && byte != b'\\' && byte < 0x7f);
    if plain {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Serializing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::LogId;

    fn document(id: Option<&str>, json: &str) -> Document {
        Document {
            id: id.map(|id| LogId(id.to_owned())),
            json: json.to_owned(),
        }
    }

    #[test]
    fn bodies_are_create_actions_with_the_log_id() {
        let documents = [
            document(Some("900201"), "{\"a\":1}"),
            document(None, "{\"b\":2}"),
            document(Some("we\"ird\n"), "{}"),
        ];
        let body = body(&documents);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "{\"create\":{\"_id\":\"900201\"}}\n{\"a\":1}\n\
             {\"create\":{}}\n{\"b\":2}\n\
             {\"create\":{\"_id\":\"we\\\"ird\\n\"}}\n{}\n"
        );
    }

    #[test]
    fn encoded_len_is_exact_for_plain_ids() {
        for document in [
            document(Some("900201abc"), "{\"a\":1}"),
            document(None, "{}"),
        ] {
            let mut out = Vec::new();
            encode(&mut out, &document);
            assert_eq!(out.len(), encoded_len(&document));
        }
    }

    #[test]
    fn every_body_line_is_json() {
        let documents = [document(Some("\u{1}\u{7f}é"), "{\"a\":1}")];
        let body = body(&documents);
        for line in body
            .split(|&byte| byte == b'\n')
            .filter(|line| !line.is_empty())
        {
            serde_json::from_slice::<serde_json::Value>(line).unwrap();
        }
    }
}
