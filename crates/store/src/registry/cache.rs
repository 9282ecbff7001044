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
//! `capacity` in all), which `quick_cache` keeps with its scan-resistant eviction, and by age (an entry
//! is read again `max_age` after the generation read it was tagged with, in case a writer died between
//! its entry write and its generation advance: such a write never returned, so nothing requires it
//! seen, but it is seen within `max_age` all the same).
//!
//! Keeping the newer of two reads of one entry is a look then an insert, not one atomic step: two
//! requests that race may leave the older read cached. That costs a read, never freshness, since a
//! cached entry answers only its own generation and age.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
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
pub struct Cache {
    max_age: Duration,
    entries: quick_cache::sync::Cache<Key, Cached, ByChanges>,
    /// One more than the latest generation this replica has read; 0 before any.
    latest: AtomicU64,
}

#[derive(Clone, Debug)]
struct Cached {
    stamp: Stamp,
    /// None: the entry was never written.
    entry: Option<Arc<Entry>>,
}

/// Weighs a cached entry as one plus the changes its history holds.
#[derive(Clone, Copy, Debug)]
struct ByChanges;

impl quick_cache::Weighter<Key, Cached> for ByChanges {
    fn weight(&self, _: &Key, cached: &Cached) -> u64 {
        1 + cached.entry.as_deref().map_or(0, changes) as u64
    }
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("max_age", &self.max_age)
            .field("entries", &self.entries.len())
            .field("weight", &self.entries.weight())
            .field("latest", &self.latest())
            .finish()
    }
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
            max_age,
            entries: quick_cache::sync::Cache::with_weighter(capacity, capacity as u64, ByChanges),
            latest: AtomicU64::new(0),
        }
    }

    /// Notes a generation read from the store.
    pub fn observe(&self, generation: Generation) {
        self.latest
            .fetch_max(generation.saturating_add(1), Ordering::Relaxed);
    }

    /// Returns the latest generation this replica has read, if any: the one to guess entries by
    /// before a request has read the generation itself.
    pub fn latest(&self) -> Option<Generation> {
        self.latest.load(Ordering::Relaxed).checked_sub(1)
    }

    /// Returns the entry cached under `key` for `generation` (`Some(None)`: cached as never written),
    /// or none when it is not cached, was cached under another generation, or is older than the
    /// cache's age at `now`.
    pub fn get(&self, key: &Key, generation: Generation, now: Instant) -> Option<Option<Arc<Entry>>> {
        let cached = self.entries.get(key)?;
        if cached.stamp.generation != generation
            || now.saturating_duration_since(cached.stamp.asked_at) >= self.max_age
        {
            return None;
        }
        Some(cached.entry)
    }

    /// Caches `entry` (none: never written) under `key`, read after the generation read of `stamp`.
    /// An entry of an older generation than one already cached or read is not kept, nor (by
    /// `quick_cache`) one heavier than the cache can hold.
    pub fn insert(&self, key: Key, stamp: Stamp, entry: Option<Arc<Entry>>) {
        if self.latest().is_some_and(|latest| stamp.generation < latest) {
            return;
        }
        if let Some(cached) = self.entries.peek(&key)
            && (cached.stamp.generation, cached.stamp.asked_at) > (stamp.generation, stamp.asked_at)
        {
            return;
        }
        self.entries.insert(key, Cached { stamp, entry });
    }

    /// Returns how many entries the cache holds, and their weight.
    #[cfg(test)]
    fn size(&self) -> (usize, u64) {
        (self.entries.len(), self.entries.weight())
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
    fn the_weight_stays_within_the_capacity_and_entries_in_use_survive_a_scan() {
        let cache = Cache::new(40, Duration::from_secs(60));
        let now = Instant::now();
        cache.observe(1);
        // Each weighs two: one and its one change.
        for n in 0..10 {
            cache.insert(business(n), stamp(1, now), entry(1));
        }
        assert_eq!(cache.size(), (10, 20));
        // Five are in use, read again and again, while a hundred others are read once each.
        for n in 10..110 {
            for used in 0..5 {
                assert!(
                    cache.get(&business(used), 1, now).is_some(),
                    "business {used} in use was evicted by the scan at {n}"
                );
            }
            cache.insert(business(n), stamp(1, now), entry(1));
            let (_, weight) = cache.size();
            assert!(weight <= 40, "weight {weight} over the capacity");
        }
        assert!(
            cache.get(&business(109), 1, now).is_some(),
            "the entry read last is cached"
        );

        // An entry heavier than the whole cache is not kept.
        cache.insert(business(999), stamp(1, now), entry(40));
        assert_eq!(cache.get(&business(999), 1, now), None);
        assert!(cache.size().1 <= 40);
    }
}
