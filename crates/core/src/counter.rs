//! Counters shared by many threads: what a decision reads of them, and the claims a step takes on
//! their slots.
//!
//! A counter is a set of slots with a limit, such as an account's free-tier service conversations of one
//! month. A decision reads how many slots are taken; a step that needs one more names the slot it takes
//! (a deterministic id, so that every retry and every replica claims the same one) and the limit. The
//! store takes the claim atomically, and only while fewer than `limit` slots are taken; the limit comes
//! from here, never from the store.

use std::collections::BTreeMap;

use crate::{AccountId, Duration, Month};

/// How long a free-tier counter is kept after its last write: past the end of any month that a late or
/// backfilled event could still reach.
pub const FREE_TIER_RETENTION: Duration = Duration::hours(62 * 24);

/// A counter shared across threads.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CounterKey {
    /// The free-tier service conversations an account opened in a calendar month.
    FreeTier { account: AccountId, month: Month },
}

impl CounterKey {
    /// Returns the scope the counter belongs to, such as `a:<account>`: counters of one scope may be
    /// kept together (Redis puts them under one hash tag).
    pub fn scope(&self) -> String {
        match self {
            CounterKey::FreeTier { account, .. } => format!("a:{account}"),
        }
    }

    /// Returns the counter's name within its scope, such as `free:2024-03`.
    pub fn name(&self) -> String {
        match self {
            CounterKey::FreeTier { month, .. } => format!("free:{month}"),
        }
    }

    /// Returns how long the counter is kept after its last write.
    pub fn retention(&self) -> Duration {
        match self {
            CounterKey::FreeTier { .. } => FREE_TIER_RETENTION,
        }
    }
}

/// A step's claim on one slot of a counter.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Claim {
    pub counter: CounterKey,
    /// The slot: a deterministic id (a conversation id), so that a retry claims the same slot and a
    /// slot already taken is never counted twice.
    pub slot: String,
    /// The claim holds only while fewer than `limit` slots are taken, or the slot already is.
    pub limit: u32,
}

/// What a snapshot read of counters: the slots taken of each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters(BTreeMap<CounterKey, u32>);

impl Counters {
    /// Returns the slots taken of `counter`; a counter not read counts as none taken. That is safe: a
    /// step that then claims a slot is refused by the store when the counter is full, and decides again.
    pub fn used(&self, counter: &CounterKey) -> u32 {
        self.0.get(counter).copied().unwrap_or(0)
    }

    /// Returns whether `counter` was read.
    pub fn has(&self, counter: &CounterKey) -> bool {
        self.0.contains_key(counter)
    }

    /// Records a reading.
    pub fn insert(&mut self, counter: CounterKey, used: u32) {
        self.0.insert(counter, used);
    }

    /// Forgets a reading, so that it is read again.
    pub fn forget(&mut self, counter: &CounterKey) {
        self.0.remove(counter);
    }

    /// Adds every reading of `other`.
    pub fn extend(&mut self, other: Counters) {
        self.0.extend(other.0);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&CounterKey, u32)> {
        self.0.iter().map(|(counter, used)| (counter, *used))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(CounterKey, u32)> for Counters {
    fn from_iter<I: IntoIterator<Item = (CounterKey, u32)>>(readings: I) -> Counters {
        Counters(readings.into_iter().collect())
    }
}
