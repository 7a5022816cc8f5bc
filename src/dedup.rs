//! A window of recently delivered `log_id`s, so an Auth0 redelivery (or the
//! same event from the webhook and the poller) does not become a second
//! line in the file output. Elasticsearch needs no help (`_id` = `log_id`
//! makes a repeat a 409); the file output does. The window is in memory and
//! bounded: it catches the retries that follow a failed POST within
//! minutes, not a re-stream days later.

use std::collections::{HashSet, VecDeque};

use foldhash::fast::RandomState;
use std::sync::Arc;

use crate::event::LogId;

/// The `log_id`s of the last `capacity` distinct events.
#[derive(Debug)]
pub struct Window {
    capacity: usize,
    /// foldhash, seeded per process: the ids come from authenticated
    /// senders, and SipHash cost a few percent of the agent's CPU.
    seen: HashSet<Arc<str>, RandomState>,
    order: VecDeque<Arc<str>>,
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
        if self.capacity == 0 || self.seen.contains(id.0.as_str()) {
            return self.capacity == 0;
        }
        if self.order.len() == self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        let id: Arc<str> = Arc::from(id.0.as_str());
        self.seen.insert(Arc::clone(&id));
        self.order.push_back(id);
        true
    }
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
}
