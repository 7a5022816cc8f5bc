//! A small bounded cache of recent lookups, shared between threads.
//!
//! Two generations: lookups go to the young map, then the old one (a hit
//! there is promoted); when the young map is full the old one is dropped and
//! the young one becomes old. That keeps recently used keys at a fraction of
//! an LRU's bookkeeping. A poisoned lock only disables caching.
//!
//! The maps hash with foldhash, seeded per process (keys are addresses and
//! user-agent strings, so SipHash's extra margin buys little here), and a
//! retired generation is dropped after the lock is released, so that freeing
//! thousands of entries never stalls other lookups.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use foldhash::fast::RandomState;

/// A two-generation cache of `capacity` to `2 × capacity` entries.
#[derive(Debug)]
pub struct Cache<K, V> {
    capacity: usize,
    generations: Mutex<Generations<K, V>>,
}

#[derive(Debug)]
struct Generations<K, V> {
    young: Map<K, V>,
    old: Map<K, V>,
}

type Map<K, V> = HashMap<K, Arc<V>, RandomState>;

impl<K: Hash + Eq, V> Cache<K, V> {
    /// A cache keeping at least the `capacity` most recent keys.
    pub fn new(capacity: usize) -> Cache<K, V> {
        Cache {
            capacity: capacity.max(1),
            generations: Mutex::new(Generations {
                young: Map::default(),
                old: Map::default(),
            }),
        }
    }

    /// The cached value of `key`, or `compute(key)` (then cached).
    pub fn get_or_insert<Q>(&self, key: &Q, compute: impl FnOnce(&Q) -> V) -> Arc<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Ok(mut generations) = self.generations.lock() {
            if let Some(value) = generations.young.get(key) {
                return Arc::clone(value);
            }
            if let Some(value) = generations.old.remove(key) {
                let retired = generations.insert(key.to_owned(), Arc::clone(&value), self.capacity);
                drop(generations);
                drop(retired);
                return value;
            }
        }
        let value = Arc::new(compute(key));
        let retired = match self.generations.lock() {
            Ok(mut generations) => {
                generations.insert(key.to_owned(), Arc::clone(&value), self.capacity)
            }
            Err(_) => None,
        };
        // The guard is gone: the retired generation is freed unlocked.
        drop(retired);
        value
    }

    /// Whether nothing is cached.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.generations
            .lock()
            .is_ok_and(|generations| generations.young.is_empty() && generations.old.is_empty())
    }
}

impl<K: Hash + Eq, V> Generations<K, V> {
    /// Inserts into the young generation, rotating when it is full; returns
    /// the retired old generation, for the caller to drop once unlocked.
    fn insert(&mut self, key: K, value: Arc<V>, capacity: usize) -> Option<Map<K, V>> {
        let retired = if self.young.len() >= capacity {
            let young = std::mem::take(&mut self.young);
            Some(std::mem::replace(&mut self.old, young))
        } else {
            None
        };
        self.young.insert(key, value);
        retired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_once_and_stays_bounded() {
        let cache: Cache<String, usize> = Cache::new(2);
        let mut calls = 0;
        for key in ["a", "b", "a", "a", "c", "d", "e"] {
            cache.get_or_insert(key, |key| {
                calls += 1;
                key.len()
            });
        }
        // a, b computed; a hit twice; c, d, e computed.
        assert_eq!(calls, 5);
        let generations = cache.generations.lock().unwrap();
        assert!(generations.young.len() + generations.old.len() <= 4);
    }

    /// Regression (review): the retired generation (thousands of entries)
    /// was freed while the lock was held.
    #[test]
    fn retired_generation_is_dropped_unlocked() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::OnceLock;

        static CACHE: OnceLock<Cache<u32, Probe>> = OnceLock::new();
        static DROPPED_LOCKED: AtomicUsize = AtomicUsize::new(0);
        static DROPPED: AtomicUsize = AtomicUsize::new(0);
        struct Probe;
        impl Drop for Probe {
            fn drop(&mut self) {
                DROPPED.fetch_add(1, Ordering::SeqCst);
                let cache = CACHE.get().unwrap();
                if cache.generations.try_lock().is_err() {
                    DROPPED_LOCKED.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        let cache = CACHE.get_or_init(|| Cache::new(2));
        for key in 0..10 {
            cache.get_or_insert(&key, |_| Probe);
        }
        // Through the promotion path too: 7 is old after 8, 9.
        cache.get_or_insert(&7, |_| Probe);
        cache.get_or_insert(&10, |_| Probe);
        assert!(DROPPED.load(Ordering::SeqCst) >= 6);
        assert_eq!(DROPPED_LOCKED.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn old_hits_are_promoted() {
        let cache: Cache<String, u32> = Cache::new(2);
        cache.get_or_insert("a", |_| 1);
        cache.get_or_insert("b", |_| 2);
        cache.get_or_insert("c", |_| 3); // a, b now old
        assert_eq!(*cache.get_or_insert("a", |_| 99), 1); // promoted
        cache.get_or_insert("d", |_| 4); // young full: {c, a} become old
        assert_eq!(*cache.get_or_insert("a", |_| 99), 1);
        assert_eq!(*cache.get_or_insert("b", |_| 22), 22); // b was dropped
    }
}
