//! A replica's cache of the registry entries that decisions read (`Key::is_cached`: businesses,
//! accounts, portfolios and templates), each tagged with the registry's **generation** it was read
//! under.
//!
//! The generation is a number kept by the store (`Store::registry_generation`) that every write of a
//! cached kind of entry advances after the entry is written and before the write returns
//! (`registry::try_update`). An entry is cached with the generation that was read *before* the entry
//! was, and a cached entry answers only a request that read the same generation, after the request
//! began: a write that returned before then advanced the generation past every entry read before the
//! write, so no such entry matches, and an entry read after a generation read that saw the write's
//! advance was read after the write. So a cached answer is never older than a write that returned
//! before the request began, on any replica (docs/SPEC.md section 13).
//!
//! Bounded twice: by weight (each entry weighs one plus the changes its history holds, at most
//! `capacity` in all; beyond it, entries of an older generation or past their age go first, then the
//! least recently used) and by age (an entry is read again `max_age` after the generation read it was
//! tagged with, in case a writer died between its entry write and its generation advance: such a write
//! never returned, so nothing requires it seen, but it is seen within `max_age` all the same).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{Entry, Key};

/// The registry's generation, as `Store::registry_generation` reads it.
pub type Generation = u64;

/// How much a cache holds by default: this many changes of histories (a change decodes to a few
/// hundred bytes at most, so some 20 MB at worst).
pub const DEFAULT_CAPACITY: usize = 65_536;

/// How long a cached entry answers at most, counted from the generation read it is tagged with.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(5);

/// A generation as read, with when it was asked for: what entries read after it are tagged with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub generation: Generation,
    /// When the generation was asked for: an entry's age counts from here.
    pub asked_at: Instant,
}

/// A replica's cache of registry entries (see the module).
#[derive(Debug)]
pub struct Cache {
    capacity: usize,
    max_age: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Key, Cached>,
    /// The sum of the entries' weights.
    weight: usize,
    /// The latest generation this replica has read.
    latest: Option<Generation>,
    /// Counts uses, to tell the least recently used entries.
    clock: u64,
}

#[derive(Debug)]
struct Cached {
    generation: Generation,
    asked_at: Instant,
    /// None: the entry was never written.
    entry: Option<Arc<Entry>>,
    weight: usize,
    used: u64,
}

impl Default for Cache {
    fn default() -> Cache {
        Cache::new(DEFAULT_CAPACITY, DEFAULT_MAX_AGE)
    }
}

impl Cache {
    /// Returns an empty cache of at most `capacity` changes of histories, whose entries answer for at
    /// most `max_age`.
    pub fn new(capacity: usize, max_age: Duration) -> Cache {
        Cache {
            capacity,
            max_age,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes a generation read from the store.
    pub fn observe(&self, generation: Generation) {
        let mut inner = self.lock();
        inner.latest = Some(inner.latest.map_or(generation, |latest| latest.max(generation)));
    }

    /// Returns the latest generation this replica has read, if any: the one to guess entries by
    /// before a request has read the generation itself.
    pub fn latest(&self) -> Option<Generation> {
        self.lock().latest
    }

    /// Returns the entry cached under `key` for `generation` (`Some(None)`: cached as never written),
    /// or none when it is not cached, was cached under another generation, or is older than the
    /// cache's age at `now`.
    pub fn get(&self, key: &Key, generation: Generation, now: Instant) -> Option<Option<Arc<Entry>>> {
        let mut inner = self.lock();
        inner.clock += 1;
        let clock = inner.clock;
        let cached = inner.entries.get_mut(key)?;
        if cached.generation != generation || now.saturating_duration_since(cached.asked_at) >= self.max_age {
            return None;
        }
        cached.used = clock;
        Some(cached.entry.clone())
    }

    /// Caches `entry` (none: never written) under `key`, read after the generation read of `stamp`.
    /// An entry of an older generation than one already cached or read is not kept, nor one heavier
    /// than the whole cache.
    pub fn insert(&self, key: Key, stamp: Stamp, entry: Option<Arc<Entry>>) {
        let weight = 1 + entry.as_deref().map_or(0, changes);
        if weight > self.capacity {
            return;
        }
        let mut inner = self.lock();
        if inner.latest.is_some_and(|latest| stamp.generation < latest) {
            return;
        }
        if let Some(cached) = inner.entries.get(&key)
            && (cached.generation, cached.asked_at) > (stamp.generation, stamp.asked_at)
        {
            return;
        }
        inner.clock += 1;
        let cached = Cached {
            generation: stamp.generation,
            asked_at: stamp.asked_at,
            entry,
            weight,
            used: inner.clock,
        };
        if let Some(replaced) = inner.entries.insert(key, cached) {
            inner.weight -= replaced.weight;
        }
        inner.weight += weight;
        if inner.weight > self.capacity {
            self.evict(&mut inner, stamp.asked_at.max(Instant::now()));
        }
    }

    /// Brings the weight down to three quarters of the capacity (so that evictions are rare): entries
    /// no request can use first, then the least recently used.
    fn evict(&self, inner: &mut Inner, now: Instant) {
        let latest = inner.latest;
        let max_age = self.max_age;
        let before = inner.entries.len();
        inner.entries.retain(|_, cached| {
            Some(cached.generation) >= latest && now.saturating_duration_since(cached.asked_at) < max_age
        });
        if inner.entries.len() != before {
            inner.weight = inner.entries.values().map(|cached| cached.weight).sum();
        }
        let target = self.capacity / 4 * 3;
        if inner.weight <= target {
            return;
        }
        let mut by_use: Vec<(u64, Key)> = inner
            .entries
            .iter()
            .map(|(key, cached)| (cached.used, key.clone()))
            .collect();
        by_use.sort_unstable_by_key(|(used, _)| *used);
        for (_, key) in by_use {
            if inner.weight <= target {
                break;
            }
            if let Some(removed) = inner.entries.remove(&key) {
                inner.weight -= removed.weight;
            }
        }
    }

    /// Returns how many entries the cache holds, and their weight.
    #[cfg(test)]
    fn size(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.entries.len(), inner.weight)
    }
}

/// Returns how many changes an entry holds.
fn changes(entry: &Entry) -> usize {
    match entry {
        Entry::Account(history) => history.changes().len(),
        Entry::Portfolio(history) => history.changes().len(),
        Entry::Business(history) => history.changes().len(),
        Entry::Template(history) => history.changes().len(),
        Entry::Quality(history) => history.changes().len(),
        Entry::Consent(_) | Entry::Link(_) | Entry::MetaTiers(_) => 1,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use hourglass_core::{AccountId, Business, BusinessId, History};

    use super::{Cache, Stamp};
    use crate::registry::{Entry, Key};

    fn business(n: usize) -> Key {
        Key::Business(BusinessId::new(&format!("pn-{n}")).unwrap())
    }

    /// A business entry of `changes` changes.
    fn entry(changes: usize) -> Option<Arc<Entry>> {
        let mut history = History::default();
        for change in 0..changes {
            let account = AccountId::new("account_id", &format!("waba-{change}")).unwrap();
            history.put(
                hourglass_core::Instant::from_millis(i64::try_from(change).unwrap()),
                Business { account },
            );
        }
        Some(Arc::new(Entry::Business(history)))
    }

    fn stamp(generation: u64, asked_at: Instant) -> Stamp {
        Stamp { generation, asked_at }
    }

    #[test]
    fn an_entry_answers_only_its_own_generation() {
        let cache = Cache::new(100, Duration::from_secs(5));
        let now = Instant::now();
        cache.observe(3);
        cache.insert(business(1), stamp(3, now), entry(1));
        cache.insert(business(2), stamp(3, now), None);
        assert_eq!(cache.get(&business(1), 3, now), Some(entry(1)));
        assert_eq!(
            cache.get(&business(2), 3, now),
            Some(None),
            "cached as never written"
        );
        assert_eq!(cache.get(&business(1), 4, now), None, "a later generation misses");
        assert_eq!(cache.get(&business(1), 2, now), None, "an earlier one too");
        assert_eq!(cache.get(&business(3), 3, now), None, "never cached");
    }

    #[test]
    fn an_older_generation_is_never_cached_over_a_newer_one() {
        let cache = Cache::new(100, Duration::from_secs(5));
        let now = Instant::now();
        cache.observe(5);
        cache.insert(business(1), stamp(4, now), entry(1));
        assert_eq!(
            cache.get(&business(1), 4, now),
            None,
            "older than the latest generation read"
        );
        cache.insert(business(1), stamp(5, now), entry(2));
        cache.observe(4);
        assert_eq!(cache.latest(), Some(5), "the latest generation only grows");
        cache.insert(
            business(1),
            stamp(5, now.checked_sub(Duration::from_millis(1)).unwrap()),
            entry(3),
        );
        assert_eq!(
            cache.get(&business(1), 5, now),
            Some(entry(2)),
            "a read asked for earlier loses"
        );
    }

    #[test]
    fn an_entry_answers_for_its_age_at_most() {
        let max_age = Duration::from_secs(5);
        let cache = Cache::new(100, max_age);
        let asked_at = Instant::now();
        cache.observe(1);
        cache.insert(business(1), stamp(1, asked_at), entry(1));
        let almost = asked_at + max_age - Duration::from_millis(1);
        assert_eq!(cache.get(&business(1), 1, almost), Some(entry(1)));
        assert_eq!(
            cache.get(&business(1), 1, asked_at + max_age),
            None,
            "read again past its age"
        );
    }

    #[test]
    fn the_weight_stays_within_the_capacity_and_the_least_recently_used_go_first() {
        let cache = Cache::new(40, Duration::from_secs(60));
        let now = Instant::now();
        cache.observe(1);
        // Each weighs two: one and its one change.
        for n in 0..10 {
            cache.insert(business(n), stamp(1, now), entry(1));
        }
        assert_eq!(cache.size(), (10, 20));
        // Use the first ones, so that the later ones are the least recently used.
        for n in 0..5 {
            assert!(cache.get(&business(n), 1, now).is_some());
        }
        for n in 10..=20 {
            cache.insert(business(n), stamp(1, now), entry(1));
            let (_, weight) = cache.size();
            assert!(weight <= 40, "weight {weight} over the capacity");
        }
        for n in 5..10 {
            assert_eq!(
                cache.get(&business(n), 1, now),
                None,
                "business {n} was the least recently used"
            );
        }
        for n in (1..5).chain(10..=20) {
            assert!(
                cache.get(&business(n), 1, now).is_some(),
                "business {n} was used lately"
            );
        }

        // An entry heavier than the whole cache is not kept.
        cache.insert(business(99), stamp(1, now), entry(40));
        assert_eq!(cache.get(&business(99), 1, now), None);
        // A stale generation's entries go first.
        cache.observe(2);
        for n in 100..118 {
            cache.insert(business(n), stamp(2, now), entry(1));
        }
        assert!((100..118).all(|n| cache.get(&business(n), 2, now).is_some()));
        assert!(cache.size().1 <= 40);
    }
}
