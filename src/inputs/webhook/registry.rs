//! The `max_connections` cap, with room made by closing the least useful
//! connection rather than making a new one wait.
//!
//! At the cap a new connection closes, in this order, the longest-idle
//! keep-alive connection, then one whose client does not read its responses,
//! then one lingering after an early answer, then the oldest whose request
//! head is still arriving after a grace second ([`super::tracker::Eviction`]).
//! Connections in the handler are never closed for room; only when every
//! connection is busy does a new one wait for a slot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::tracker::{Eviction, Tracker};

/// How often a connection waiting at the cap looks again for one to close
/// (a slow head passes its grace period without any event to wake on).
const RECHECK: Duration = Duration::from_millis(100);

/// The live connections.
#[derive(Debug)]
pub(super) struct Registry {
    max: usize,
    live: Mutex<Live>,
    freed: Notify,
}

#[derive(Debug, Default)]
struct Live {
    next_id: u64,
    trackers: HashMap<u64, Arc<Tracker>>,
}

/// A connection's place under the cap; freed on drop.
#[derive(Debug)]
pub(super) struct Slot {
    registry: Arc<Registry>,
    id: u64,
    pub tracker: Arc<Tracker>,
}

impl Registry {
    pub(super) fn new(max: usize) -> Arc<Registry> {
        Arc::new(Registry {
            max,
            live: Mutex::new(Live::default()),
            freed: Notify::new(),
        })
    }

    /// A slot for a new connection: at once below the cap, else by closing
    /// a connection per the eviction order, else when one ends. Returns
    /// the slot and the kind of connection closed for it, if any.
    pub(super) async fn admit(self: &Arc<Registry>) -> (Slot, Option<Eviction>) {
        loop {
            let freed = self.freed.notified();
            if let Some(admitted) = self.try_admit() {
                return admitted;
            }
            tokio::select! {
                () = freed => {}
                () = tokio::time::sleep(RECHECK) => {}
            }
        }
    }

    fn try_admit(self: &Arc<Registry>) -> Option<(Slot, Option<Eviction>)> {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let mut evicted = None;
        if live.trackers.len() >= self.max {
            let now = Instant::now();
            let (id, rank) = live
                .trackers
                .iter()
                .filter_map(|(id, tracker)| {
                    tracker
                        .eviction(now)
                        .map(|(rank, since)| ((rank, since), *id))
                })
                .min()
                .map(|((rank, _), id)| (id, rank))?;
            if let Some(victim) = live.trackers.remove(&id) {
                victim.kill.cancel();
            }
            evicted = Some(rank);
        }
        let id = live.next_id;
        live.next_id += 1;
        let tracker = Arc::new(Tracker::new());
        live.trackers.insert(id, Arc::clone(&tracker));
        Some((
            Slot {
                registry: Arc::clone(self),
                id,
                tracker,
            },
            evicted,
        ))
    }

    /// Connections holding a slot.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .trackers
            .len()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let removed = self
            .registry
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .trackers
            .remove(&self.id);
        if removed.is_some() {
            self.registry.freed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tracker::Phase;
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn at_the_cap_the_idle_connection_makes_room_not_the_busy_one() {
        let registry = Registry::new(2);
        let (busy, _) = registry.admit().await;
        busy.tracker.set_phase(Phase::Busy);
        let (idle, _) = registry.admit().await;
        idle.tracker.set_phase(Phase::Idle);
        let (_third, evicted) = registry.admit().await;
        assert_eq!(evicted, Some(Eviction::Idle));
        assert!(idle.tracker.kill.is_cancelled());
        assert!(!busy.tracker.kill.is_cancelled());
        assert_eq!(registry.len(), 2);
        drop(idle); // its task ends; the slot was already given away
        assert_eq!(registry.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_oldest_slow_head_goes_after_its_grace_and_busy_ones_wait() {
        let registry = Registry::new(2);
        let (old, _) = registry.admit().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (young, _) = registry.admit().await;
        // Both heads are within their grace second: the newcomer waits.
        let started = Instant::now();
        let (third, evicted) = registry.admit().await;
        assert_eq!(evicted, Some(Eviction::SlowHead));
        assert!(old.tracker.kill.is_cancelled());
        assert!(!young.tracker.kill.is_cancelled());
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(600) && waited < Duration::from_secs(10),
            "{waited:?}"
        );

        // All busy: a newcomer gets a slot only when one ends.
        young.tracker.set_phase(Phase::Busy);
        third.tracker.set_phase(Phase::Busy);
        let waiting = tokio::spawn({
            let registry = Arc::clone(&registry);
            async move { registry.admit().await.1 }
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!waiting.is_finished());
        drop(young);
        assert_eq!(waiting.await.unwrap(), None);
    }
}
