//! One item of an intake request, and the request body the items make (a
//! JSON array).

use crate::outputs::batch::Slot;

/// One item of a request.
#[derive(Debug)]
pub(crate) struct Entry {
    slot: Slot,
    item: Vec<u8>,
}

impl Entry {
    /// The item `item` of the document `slot` tracks.
    pub(crate) fn new(slot: Slot, item: Vec<u8>) -> Entry {
        Entry { slot, item }
    }

    /// The item's JSON.
    pub(crate) fn item(&self) -> &[u8] {
        &self.item
    }
}

impl AsRef<Slot> for Entry {
    fn as_ref(&self) -> &Slot {
        &self.slot
    }
}

/// The body of a request: a JSON array of the items.
pub(crate) fn body<'a>(items: impl Iterator<Item = &'a [u8]>, capacity: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(capacity + 2);
    body.push(b'[');
    for (index, item) in items.enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item);
    }
    body.push(b']');
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_json_arrays() {
        let items: Vec<&[u8]> = vec![b"{\"a\":1}", b"{\"b\":2}"];
        let body = body(items.into_iter(), 16);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value, serde_json::json!([{"a":1},{"b":2}]));
        assert_eq!(super::body(std::iter::empty(), 0), b"[]");
    }
}
