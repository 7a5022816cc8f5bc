//! A window of recently delivered `log_id`s, so an Auth0 redelivery (or the
//! same event from the webhook and the poller) does not become a second
//! line in the file output. Elasticsearch needs no help (`_id` = `log_id`
//! makes a repeat a 409); the file output does. The window is in memory and
//! bounded: it catches the retries that follow a failed POST within
//! minutes, not a re-stream days later.
//!
//! It keeps a 128-bit digest of each id (the first half of its SHA-256),
//! never the id itself, so its memory is a function of its entry count
//! alone (about 40 bytes an entry) whatever the senders put in a `log_id`.
//! SHA-256 (ring, already in the tree for TLS; SHA-NI makes a short id a
//! few tens of nanoseconds) keeps collisions out of reach even for ids
//! chosen to collide: a collision would skip an event.

use std::collections::{HashSet, VecDeque};

use foldhash::fast::RandomState;

use crate::event::LogId;

/// The digest kept per id.
type Digest = u128;

/// The digests of the last `capacity` distinct `log_id`s.
#[derive(Debug)]
pub struct Window {
    capacity: usize,
    /// foldhash, seeded per process: cheap on keys that are already digests.
    seen: HashSet<Digest, RandomState>,
    order: VecDeque<Digest>,
}

impl Window {
    /// A window remembering `capacity` ids.
    pub fn new(capacity: usize) -> Window {
        Window {
            capacity,
            seen: HashSet::with_capacity_and_hasher(capacity.min(1 << 20), RandomState::default()),
            order: VecDeque::with_capacity(capacity.min(1 << 20)),
        }
    }

    /// Records `id`; `false` if it was already in the window (a duplicate).
    pub fn insert(&mut self, id: &LogId) -> bool {
        if self.capacity == 0 {
            return true;
        }
        let digest = digest(&id.0);
        if self.seen.contains(&digest) {
            return false;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        self.seen.insert(digest);
        self.order.push_back(digest);
        true
    }
}

fn digest(id: &str) -> Digest {
    let hash = ring::digest::digest(&ring::digest::SHA256, id.as_bytes());
    let mut half = [0u8; 16];
    half.copy_from_slice(&hash.as_ref()[..16]);
    u128::from_le_bytes(half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_last_capacity_ids() {
        let id = |n: u32| LogId(n.to_string());
        let mut window = Window::new(2);
        assert!(window.insert(&id(1)));
        assert!(!window.insert(&id(1)));
        assert!(window.insert(&id(2)));
        assert!(window.insert(&id(3)));
        assert!(window.insert(&id(1)), "1 was evicted by 3");
        assert!(!window.insert(&id(3)));
        let mut off = Window::new(0);
        assert!(off.insert(&id(1)) && off.insert(&id(1)));
    }

    #[test]
    fn long_ids_cost_a_digest_and_still_match_exactly() {
        let long = |last: char| LogId(format!("{}{last}", "9".repeat(1 << 20)));
        let mut window = Window::new(4);
        assert!(window.insert(&long('a')));
        assert!(window.insert(&long('b')), "ids differing in the last byte");
        assert!(!window.insert(&long('a')));
        assert_eq!(window.seen.len(), 2);
        // Each entry holds a digest, not the 1 MiB id.
        assert_eq!(std::mem::size_of::<Digest>(), 16);
    }
}
