//! A small bounded cache of recent lookups, shared between threads.
//!
//! Two generations: lookups go to the young map, then the old one (a hit
//! there is promoted); when the young map is full the old one is dropped and
//! the young one becomes old. That keeps recently used keys at a fraction of
//! an LRU's bookkeeping. A poisoned lock only disables caching.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// A two-generation cache of `capacity` to `2 × capacity` entries.
#[derive(Debug)]
pub struct Cache<K, V> {
    capacity: usize,
    generations: Mutex<Generations<K, V>>,
}

#[derive(Debug)]
struct Generations<K, V> {
    young: HashMap<K, Arc<V>>,
    old: HashMap<K, Arc<V>>,
}

impl<K: Hash + Eq, V> Cache<K, V> {
    /// A cache keeping at least the `capacity` most recent keys.
    pub fn new(capacity: usize) -> Cache<K, V> {
        Cache {
            capacity: capacity.max(1),
            generations: Mutex::new(Generations {
                young: HashMap::new(),
                old: HashMap::new(),
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
                generations.insert(key.to_owned(), Arc::clone(&value), self.capacity);
                return value;
            }
        }
        let value = Arc::new(compute(key));
        if let Ok(mut generations) = self.generations.lock() {
            generations.insert(key.to_owned(), Arc::clone(&value), self.capacity);
        }
        value
    }
}

impl<K: Hash + Eq, V> Generations<K, V> {
    fn insert(&mut self, key: K, value: Arc<V>, capacity: usize) {
        if self.young.len() >= capacity {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(key, value);
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
