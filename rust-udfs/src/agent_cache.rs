//! A process-wide, bounded cache of parsed user agents, shared by every batch and thread.
//!
//! Matching an agent against uap-core's hundreds of rules is costly (docs/benchmarks.md, section
//! rust-udfs), but a service sees few distinct agents (eventsim: 30), so each is parsed once per
//! process rather than once per Arrow batch. The cache is split into shards, each a
//! `Mutex<HashMap>`, so that concurrent batches rarely wait on one another. A shard holds at most
//! [`SHARD_CAPACITY`] agents: when it is full it is emptied before the next insert (the agents in
//! use come back on their next lookup), so memory stays bounded whatever the input.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};

use foldhash::fast::FixedState;

/// Independent shards (a power of two).
const SHARDS: usize = 16;
/// The most agents one shard keeps; the cache keeps at most `SHARDS * SHARD_CAPACITY`.
pub const SHARD_CAPACITY: usize = 1024;
/// The longest agent that is cached: longer ones (rare, often junk) are parsed every time.
pub const MAX_KEY_BYTES: usize = 1024;

type Shard<V> = Mutex<HashMap<Box<str>, Arc<V>, FixedState>>;

/// Values of type `V` keyed by agent string.
pub struct AgentCache<V> {
    shards: [Shard<V>; SHARDS],
    hasher: FixedState,
}

impl<V> Default for AgentCache<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> AgentCache<V> {
    pub fn new() -> Self {
        AgentCache {
            shards: std::array::from_fn(|_| {
                Mutex::new(HashMap::with_hasher(FixedState::default()))
            }),
            hasher: FixedState::with_seed(0x5eed_1a6e),
        }
    }

    /// The value of `key`, computed by `make` (outside any lock) when it is not cached.
    pub fn get_or_insert_with(&self, key: &str, make: impl FnOnce() -> V) -> Arc<V> {
        if key.len() > MAX_KEY_BYTES {
            return Arc::new(make());
        }
        let shard = &self.shards[self.hasher.hash_one(key) as usize % SHARDS];
        // A panic while holding the lock cannot leave a map half-updated: ignore poisoning.
        let lock = || shard.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(value) = lock().get(key) {
            return Arc::clone(value);
        }
        let value = Arc::new(make());
        let mut map = lock();
        if map.len() >= SHARD_CAPACITY {
            map.clear();
        }
        Arc::clone(map.entry(key.into()).or_insert(value))
    }

    /// How many values are cached.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn computes_each_key_once() {
        let cache = AgentCache::new();
        let calls = AtomicUsize::new(0);
        for _ in 0..3 {
            for key in ["a", "b", "a"] {
                let value = cache.get_or_insert_with(key, || {
                    calls.fetch_add(1, Ordering::Relaxed);
                    key.to_uppercase()
                });
                assert_eq!(*value, key.to_uppercase());
            }
        }
        assert_eq!(calls.load(Ordering::Relaxed), 2);
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn stays_bounded() {
        let cache = AgentCache::new();
        for i in 0..(SHARDS * SHARD_CAPACITY * 3) {
            let key = format!("agent {i}");
            assert_eq!(*cache.get_or_insert_with(&key, || i), i);
        }
        assert!(cache.len() <= SHARDS * SHARD_CAPACITY, "{}", cache.len());
        let long = "x".repeat(MAX_KEY_BYTES + 1);
        assert_eq!(*cache.get_or_insert_with(&long, || 7), 7);
        assert!(!cache.is_empty());
    }

    #[test]
    fn is_shared_by_threads() {
        let cache = AgentCache::new();
        let calls = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for i in 0..1000 {
                        let key = format!("agent {}", i % 50);
                        let value = cache.get_or_insert_with(&key, || {
                            calls.fetch_add(1, Ordering::Relaxed);
                            key.clone()
                        });
                        assert_eq!(*value, key);
                    }
                });
            }
        });
        assert_eq!(cache.len(), 50);
        // Two threads may both parse an agent that neither found; never more than once each.
        assert!(calls.load(Ordering::Relaxed) <= 50 * 4);
    }
}
