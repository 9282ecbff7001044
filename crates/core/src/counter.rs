//! Counters shared by many threads: what a decision reads of them, and the claims a step takes on
//! their slots.
//!
//! A counter is a set of slots with a limit, such as an account's free-tier service conversations of one
//! month. A decision reads how many slots are taken; a step that needs one more names the slot it takes
//! (a deterministic id, so that every retry and every replica claims the same one) and the limit. The
//! store takes the claim atomically, and only while fewer than `limit` slots are taken; the limit comes
//! from here, never from the store.

use std::collections::BTreeMap;

use crate::{AccountId, BusinessId, Duration, Instant, Month, PortfolioId, RETENTION_GRACE, Span};

/// How long a free-tier counter is kept after its last write: past the end of any month that a late or
/// backfilled event could still reach.
pub const FREE_TIER_RETENTION: Duration = Duration::hours(62 * 24);

/// The moving window of a portfolio's messaging limit.
pub const MESSAGING_LIMIT_WINDOW: Duration = Duration::hours(24);

/// How long a messaging-limit counter is kept after its last write: its window, and late events after.
pub const MESSAGING_LIMIT_RETENTION: Duration =
    Duration::from_millis(MESSAGING_LIMIT_WINDOW.as_millis() + RETENTION_GRACE.as_millis());

/// A counter shared across threads.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CounterKey {
    /// The free-tier service conversations an account opened in a calendar month.
    FreeTier { account: AccountId, month: Month },
    /// The distinct customers a portfolio sent to outside a customer service window: a windowed
    /// counter, each slot (a customer) counting for 24 h from its latest such message.
    MessagingLimit { portfolio: PortfolioId },
    /// The free service messages a business phone number sent in a calendar month, from 2026-10-01.
    ServiceMessages { business: BusinessId, month: Month },
}

impl CounterKey {
    /// Returns the scope the counter belongs to, such as `a:<account>`: counters of one scope may be
    /// kept together (Redis puts them under one hash tag).
    pub fn scope(&self) -> String {
        match self {
            CounterKey::FreeTier { account, .. } => format!("a:{account}"),
            CounterKey::MessagingLimit { portfolio } => format!("p:{portfolio}"),
            CounterKey::ServiceMessages { business, .. } => format!("r:{business}"),
        }
    }

    /// Returns the counter's name within its scope, such as `free:2024-03`.
    pub fn name(&self) -> String {
        match self {
            CounterKey::FreeTier { month, .. } => format!("free:{month}"),
            CounterKey::MessagingLimit { .. } => "reach".to_owned(),
            CounterKey::ServiceMessages { month, .. } => format!("service:{month}"),
        }
    }

    /// Returns how long the counter is kept after its last write.
    pub fn retention(&self) -> Duration {
        match self {
            CounterKey::FreeTier { .. } | CounterKey::ServiceMessages { .. } => FREE_TIER_RETENTION,
            CounterKey::MessagingLimit { .. } => MESSAGING_LIMIT_RETENTION,
        }
    }
}

/// What a step reads of a counter: how many slots are taken, and for a windowed counter, at which
/// instant and whether one slot is among them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CounterRead {
    pub counter: CounterKey,
    /// For a windowed counter: count the slots live at this instant (whose window ends after it), and
    /// say whether this slot is one of them.
    pub window: Option<(Instant, String)>,
}

impl From<CounterKey> for CounterRead {
    fn from(counter: CounterKey) -> CounterRead {
        CounterRead {
            counter,
            window: None,
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
    /// For a windowed counter, the span the slot counts for: the claim counts slots live at its start,
    /// and the slot then stays live until the latest end any committed claim gave it. None for a
    /// counter whose slots count for good.
    pub window: Option<Span>,
}

impl Claim {
    /// Returns the reading the claim is decided on: the counter, and for a windowed counter the slots
    /// live at the window's start and whether the claim's slot is one of them.
    pub fn read(&self) -> CounterRead {
        CounterRead {
            counter: self.counter.clone(),
            window: self.window.map(|window| (window.start, self.slot.clone())),
        }
    }
}

/// A counter as read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// The slots taken (for a windowed counter, live at the instant read).
    pub used: u32,
    /// For a windowed counter, whether the slot asked about is taken.
    pub has_slot: bool,
}

/// What a snapshot read of counters: the slots taken of each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters(BTreeMap<CounterKey, Reading>);

impl Counters {
    /// Returns the slots taken of `counter`; a counter not read counts as none taken. That is safe: a
    /// step that then claims a slot is refused by the store when the counter is full, and decides again.
    pub fn used(&self, counter: &CounterKey) -> u32 {
        self.reading(counter).used
    }

    /// Returns the reading of `counter`; a counter not read reads as empty.
    pub fn reading(&self, counter: &CounterKey) -> Reading {
        self.0.get(counter).copied().unwrap_or_default()
    }

    /// Returns whether `counter` was read.
    pub fn has(&self, counter: &CounterKey) -> bool {
        self.0.contains_key(counter)
    }

    /// Records a reading of `used` slots.
    pub fn insert(&mut self, counter: CounterKey, used: u32) {
        self.0.insert(
            counter,
            Reading {
                used,
                has_slot: false,
            },
        );
    }

    /// Records a reading.
    pub fn insert_reading(&mut self, counter: CounterKey, reading: Reading) {
        self.0.insert(counter, reading);
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
        self.0.iter().map(|(counter, reading)| (counter, reading.used))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(CounterKey, u32)> for Counters {
    fn from_iter<I: IntoIterator<Item = (CounterKey, u32)>>(readings: I) -> Counters {
        Counters(
            readings
                .into_iter()
                .map(|(counter, used)| {
                    (
                        counter,
                        Reading {
                            used,
                            has_slot: false,
                        },
                    )
                })
                .collect(),
        )
    }
}

impl FromIterator<(CounterKey, Reading)> for Counters {
    fn from_iter<I: IntoIterator<Item = (CounterKey, Reading)>>(readings: I) -> Counters {
        Counters(readings.into_iter().collect())
    }
}
