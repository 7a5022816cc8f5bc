//! A small direct-mapped memo of recent HMAC results.
//!
//! An HMAC-SHA-256 costs about 0.2 µs and a management event carries
//! several personal values, while users and administrators recur in a
//! stream. A general cache (a hash map of owned strings) costs as much as
//! the HMAC on a miss once it outgrows the CPU caches, so this memo is a
//! fixed array of [`SLOTS`] slots of 64 bytes (64 KiB, L2-sized) holding
//! short values inline: a value's slot is chosen by its hash (foldhash,
//! seeded per process), a hit needs an exact byte comparison, and a miss
//! overwrites the slot. Values longer than [`KEY_BYTES`] are not memoised.
//! Bounded by construction; its contents are never shown.

use std::hash::BuildHasher;
use std::sync::Mutex;

use foldhash::fast::RandomState;

/// Slots in the memo.
pub const SLOTS: usize = 1024;
/// Longest value memoised (with its length byte and 16-byte tag, a slot is
/// 63 bytes).
pub const KEY_BYTES: usize = 46;
/// The remembered output: the first 16 bytes of the HMAC.
pub type Tag = [u8; 16];

/// The memo.
pub struct Memo {
    slots: Mutex<Box<[Slot]>>,
    hasher: RandomState,
}

#[derive(Clone, Copy)]
struct Slot {
    /// The key's length; [`EMPTY`] when the slot is unused.
    len: u8,
    key: [u8; KEY_BYTES],
    tag: Tag,
}

/// `Slot::len` of an unused slot (longer than any key).
const EMPTY: u8 = u8::MAX;

impl Memo {
    /// An empty memo.
    pub fn new() -> Memo {
        let empty = Slot {
            len: EMPTY,
            key: [0; KEY_BYTES],
            tag: [0; 16],
        };
        Memo {
            slots: Mutex::new(vec![empty; SLOTS].into_boxed_slice()),
            hasher: RandomState::default(),
        }
    }

    /// The remembered tag of `value`, or `compute(value)` (then remembered
    /// when short enough). A poisoned lock only disables the memo.
    pub fn tag(&self, value: &[u8], compute: impl FnOnce(&[u8]) -> Tag) -> Tag {
        let Ok(len) = u8::try_from(value.len()) else {
            return compute(value);
        };
        if value.len() > KEY_BYTES {
            return compute(value);
        }
        // The modulo keeps the index in range whatever the hash.
        let index = (self.hasher.hash_one(value) % SLOTS as u64) as usize;
        if let Ok(slots) = self.slots.lock() {
            if let Some(slot) = slots.get(index) {
                if slot.len == len && slot.key.get(..value.len()) == Some(value) {
                    return slot.tag;
                }
            }
        }
        let tag = compute(value);
        if let Ok(mut slots) = self.slots.lock() {
            if let Some(slot) = slots.get_mut(index) {
                slot.len = len;
                slot.key[..value.len()].copy_from_slice(value);
                slot.tag = tag;
            }
        }
        tag
    }
}

impl Default for Memo {
    fn default() -> Memo {
        Memo::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_exact_values_only_and_stays_bounded() {
        let memo = Memo::new();
        let mut computed = 0;
        let mut tag_of = |value: &[u8]| {
            memo.tag(value, |value| {
                computed += 1;
                let mut tag = [0; 16];
                tag[0] = value.len() as u8;
                tag[1] = value.first().copied().unwrap_or(0);
                tag
            })
        };
        let first = tag_of(b"alice@example.com");
        assert_eq!(tag_of(b"alice@example.com"), first);
        // A prefix, or another value, is never taken for a remembered one.
        assert_ne!(tag_of(b"alice@example.co"), first);
        assert_eq!(tag_of(&[b'a'; KEY_BYTES]), tag_of(&[b'a'; KEY_BYTES]));
        // Longer values are computed every time.
        tag_of(&[b'b'; KEY_BYTES + 1]);
        tag_of(&[b'b'; KEY_BYTES + 1]);
        tag_of(&[b'c'; 300]);
        // Many values: slots are overwritten, the size never changes.
        for n in 0..4 * SLOTS {
            tag_of(format!("user{n}").as_bytes());
        }
        assert_eq!(computed, 1 + 1 + 1 + 2 + 1 + 4 * SLOTS);
        assert_eq!(memo.slots.lock().unwrap().len(), SLOTS);
        assert_eq!(std::mem::size_of::<Slot>(), 63);
    }
}
