//! The full descriptors of entities the in-memory catalog holds elided (an API's
//! inline `definition` over `almanac_readmodel::ELIDE_BYTES`): fetched from
//! PostgreSQL when a request asks (`Loaders::full_record`), and kept in a cache bounded in bytes
//! (`graphql.descriptor_cache_bytes`), least recently used first out.
//!
//! Keyed by (ref, version): a version's descriptor never changes, so an entry is
//! never stale, and an entity that moved on is simply asked for under its new key
//! (the old entry ages out). One cache per server, shared by every request
//! (`AppState::descriptors`). Entries are the JSON text, weighed by its length
//! plus the key and a fixed overhead; a descriptor larger than the whole budget is
//! returned but not held. This module does not decide when a descriptor is elided
//! (the read model does), reads no database and parses no text (the caller does).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Bytes an entry costs besides its text and ref: the map's and the recency
/// index's slots, the `Arc` header.
const ENTRY_OVERHEAD: usize = 96;

/// Default budget: 64 MiB holds ~300 full 200 KB definitions.
pub const DEFAULT_BUDGET_BYTES: usize = 64 * 1024 * 1024;

type Key = (Arc<str>, i64);

struct Held {
    text: Arc<str>,
    weight: usize,
    /// Its slot in `Lru::recency`.
    tick: u64,
}

#[derive(Default)]
struct Lru {
    entries: HashMap<Key, Held>,
    /// Last use -> key, oldest first.
    recency: BTreeMap<u64, Key>,
    tick: u64,
    bytes: usize,
    peak: usize,
}

/// What the cache holds and has done, for `/metrics` and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub budget_bytes: usize,
    pub held_bytes: usize,
    /// The most it ever held (after each insertion's evictions).
    pub peak_bytes: usize,
    pub entries: usize,
    pub hits: u64,
    pub misses: u64,
}

/// A byte-budgeted LRU of full descriptor texts, keyed by (ref, version).
pub struct DescriptorCache {
    budget: usize,
    lru: Mutex<Lru>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for DescriptorCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DescriptorCache")
            .field("stats", &self.stats())
            .finish()
    }
}

impl DescriptorCache {
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            budget: budget_bytes,
            lru: Mutex::new(Lru::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn lru(&self) -> std::sync::MutexGuard<'_, Lru> {
        // The map is consistent after every statement that can panic: keep using it.
        self.lru.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The held text of `entity_ref` at `version`, marked as just used.
    pub fn get(&self, entity_ref: &str, version: i64) -> Option<Arc<str>> {
        let mut lru = self.lru();
        let lru = &mut *lru;
        let key: Key = (Arc::from(entity_ref), version);
        let found = lru.entries.get_mut(&key).map(|held| {
            lru.tick += 1;
            if let Some(key) = lru.recency.remove(&held.tick) {
                lru.recency.insert(lru.tick, key);
            }
            held.tick = lru.tick;
            held.text.clone()
        });
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Holds `text` as the descriptor of `entity_ref` at `version`, then drops the
    /// least recently used entries until the budget holds again. A text that alone
    /// exceeds the budget is not held.
    pub fn insert(&self, entity_ref: &str, version: i64, text: Arc<str>) {
        let weight = text.len() + entity_ref.len() + ENTRY_OVERHEAD;
        if weight > self.budget {
            return;
        }
        let mut lru = self.lru();
        let lru = &mut *lru;
        let key: Key = (Arc::from(entity_ref), version);
        lru.tick += 1;
        if let Some(old) = lru.entries.remove(&key) {
            lru.recency.remove(&old.tick);
            lru.bytes -= old.weight;
        }
        lru.recency.insert(lru.tick, key.clone());
        lru.entries.insert(
            key,
            Held {
                text,
                weight,
                tick: lru.tick,
            },
        );
        lru.bytes += weight;
        while lru.bytes > self.budget {
            let Some((_, oldest)) = lru.recency.pop_first() else {
                break;
            };
            if let Some(gone) = lru.entries.remove(&oldest) {
                lru.bytes -= gone.weight;
            }
        }
        lru.peak = lru.peak.max(lru.bytes);
    }

    pub fn stats(&self) -> CacheStats {
        let lru = self.lru();
        CacheStats {
            budget_bytes: self.budget,
            held_bytes: lru.bytes,
            peak_bytes: lru.peak,
            entries: lru.entries.len(),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

impl Default for DescriptorCache {
    fn default() -> Self {
        Self::new(DEFAULT_BUDGET_BYTES)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn text(bytes: usize) -> Arc<str> {
        Arc::from("x".repeat(bytes))
    }

    #[test]
    fn holds_within_its_budget_evicting_the_least_recently_used() {
        let weight = 1_000 + "a".len() + ENTRY_OVERHEAD;
        let cache = DescriptorCache::new(3 * weight);
        for name in ["a", "b", "c"] {
            cache.insert(name, 1, text(1_000));
        }
        assert_eq!(cache.stats().held_bytes, 3 * weight);
        // `a` used last: `b` is the oldest when `d` arrives.
        assert!(cache.get("a", 1).is_some());
        cache.insert("d", 1, text(1_000));
        assert!(cache.get("b", 1).is_none());
        assert!(cache.get("a", 1).is_some() && cache.get("c", 1).is_some());
        assert!(
            cache.get("a", 2).is_none(),
            "another version is another entry"
        );
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.held_bytes), (3, 3 * weight));
        assert_eq!(stats.peak_bytes, 3 * weight);
        assert_eq!((stats.hits, stats.misses), (3, 2));
    }

    #[test]
    fn a_text_over_the_whole_budget_is_not_held_and_reinserting_does_not_count_twice() {
        let cache = DescriptorCache::new(2_000);
        cache.insert("big", 1, text(5_000));
        assert_eq!(cache.stats().entries, 0);
        cache.insert("a", 1, text(500));
        cache.insert("a", 1, text(500));
        let stats = cache.stats();
        assert_eq!(stats.entries, 1);
        assert_eq!(stats.held_bytes, 500 + 1 + ENTRY_OVERHEAD);
    }
}
