//! Bulk request bodies: for each document a `create` action line with its
//! `_id` and the document line, newline-terminated (NDJSON).
//!
//! The `_id` is the `log_id`. A document without one gets
//! `sha256-<hex of the SHA-256 of its JSON>` ([`content_id`]): documents are
//! built deterministically from the spooled event, so a retried or
//! redelivered request gives the same `_id`, a `409`, and never a second
//! copy (with no `_id`, Elasticsearch would assign a fresh one each time).
//!
//! The target index is in the request path (`/<index>/_bulk`), so action
//! lines stay short: `{"create":{"_id":"90020261121…"}}`.

use crate::event::Document;

/// Around the `_id` of a document.
const CREATE_ID_OPEN: &[u8] = b"{\"create\":{\"_id\":";
const CREATE_ID_CLOSE: &[u8] = b"}}\n";
/// The length of a [`content_id`]: `sha256-` and 64 hex digits.
const CONTENT_ID_LEN: usize = "sha256-".len() + 64;

/// Appends the action and document lines of `document` to `out`.
pub fn encode(out: &mut Vec<u8>, document: &Document) {
    out.extend_from_slice(CREATE_ID_OPEN);
    match &document.id {
        Some(id) => write_json_string(out, &id.0),
        None => {
            out.push(b'"');
            out.extend_from_slice(content_id(&document.json).as_bytes());
            out.push(b'"');
        }
    }
    out.extend_from_slice(CREATE_ID_CLOSE);
    out.extend_from_slice(document.json.as_bytes());
    out.push(b'\n');
}

/// The `_id` of a document without a `log_id`: `sha256-` and the hex
/// SHA-256 of its JSON, the same for every retry of the same document.
pub fn content_id(json: &str) -> String {
    crate::event::sha256_id(json.as_bytes())
}

/// The bytes [`encode`] appends for `document`, up to `_id` escapes (an
/// estimate for batch sizing; Auth0 ids need none).
pub fn encoded_len(document: &Document) -> usize {
    let id = document.id.as_ref().map_or(CONTENT_ID_LEN, |id| id.0.len());
    CREATE_ID_OPEN.len() + id + 2 + CREATE_ID_CLOSE.len() + document.json.len() + 1
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
             {\"create\":{\"_id\":\"sha256-0ab1a6d394cd30195f0642b67ae1180c375ffadf5dd7f39c390668b5fdb6da93\"}}\n{\"b\":2}\n\
             {\"create\":{\"_id\":\"we\\\"ird\\n\"}}\n{}\n"
        );
    }

    #[test]
    fn a_document_without_log_id_gets_the_same_content_id_every_time() {
        // SHA-256 of `{"b":2}`, checked with `printf '{"b":2}' | sha256sum`.
        let id = content_id("{\"b\":2}");
        assert_eq!(id.len(), CONTENT_ID_LEN);
        assert_eq!(
            id,
            "sha256-0ab1a6d394cd30195f0642b67ae1180c375ffadf5dd7f39c390668b5fdb6da93"
        );
        assert_ne!(id, content_id("{\"b\":3}"));
        let first = body(&[document(None, "{\"b\":2}")]);
        let second = body(&[document(None, "{\"b\":2}")]);
        assert_eq!(first, second, "a retry sends the same `_id`");
        let action: serde_json::Value =
            serde_json::from_slice(first.split(|&byte| byte == b'\n').next().unwrap()).unwrap();
        assert_eq!(action["create"]["_id"], id.as_str());
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
