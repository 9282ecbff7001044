//! Counters shared by many threads: what a decision reads of them, and the claims a step takes on
//! their slots.
//!
//! A counter is a set of slots with a limit, such as an account's free-tier service conversations of one
//! month. A decision reads how much of the counter is used; a step that needs more names the slot it
//! takes (a deterministic id, so that every retry and every replica claims the same one), its weight and
//! the limit. The store takes the claim atomically, and only while the weights of the slots taken plus
//! the claim's stay within `limit`; the limit comes from here, never from the store.
//!
//! Most counters count slots (every weight is 1); an account's spend of a month (`CounterKey::Spend`)
//! weighs each slot by its price in nanos of the budget's currency.

use std::collections::BTreeMap;

use crate::{AccountId, BusinessId, Category, Duration, Instant, Month, PortfolioId, RETENTION_GRACE, Span};

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
    /// The messages charged at one bounded tier of a volume ladder (docs/SPEC.md section 15.2), per
    /// portfolio (or account, for one with no portfolio), market, category and calendar month: tier
    /// `tier` (0 for the first) holds at most as many slots as the tier is wide.
    VolumeTier {
        owner: TierOwner,
        market: String,
        category: Category,
        month: Month,
        tier: u32,
    },
    /// An account's billable spend of a calendar month in its billing currency, in nanos: a weighted
    /// counter, each slot (a message) weighing its price (guard 8, docs/SPEC.md section 15.3).
    Spend { account: AccountId, month: Month },
}

fn category_name(category: Category) -> &'static str {
    match category {
        Category::Marketing => "marketing",
        Category::Utility => "utility",
        Category::Authentication => "authentication",
        Category::Service => "service",
        Category::FreeEntryPoint => "free_entry_point",
    }
}

/// Whose messages a volume ladder counts: a portfolio's, or an account's when it has none (an
/// unregistered business counts as an account of its own).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TierOwner {
    Portfolio(PortfolioId),
    Account(AccountId),
}

impl CounterKey {
    /// Returns the scope the counter belongs to, such as `a:<account>`: counters of one scope may be
    /// kept together (Redis puts them under one hash tag).
    pub fn scope(&self) -> String {
        match self {
            CounterKey::FreeTier { account, .. } => format!("a:{account}"),
            CounterKey::MessagingLimit { portfolio } => format!("p:{portfolio}"),
            CounterKey::ServiceMessages { business, .. } => format!("r:{business}"),
            CounterKey::VolumeTier {
                owner: TierOwner::Portfolio(portfolio),
                ..
            } => format!("p:{portfolio}"),
            CounterKey::VolumeTier {
                owner: TierOwner::Account(account),
                ..
            }
            | CounterKey::Spend { account, .. } => format!("a:{account}"),
        }
    }

    /// Returns the counter's name within its scope, such as `free:2024-03`.
    pub fn name(&self) -> String {
        match self {
            CounterKey::FreeTier { month, .. } => format!("free:{month}"),
            CounterKey::MessagingLimit { .. } => "reach".to_owned(),
            CounterKey::ServiceMessages { month, .. } => format!("service:{month}"),
            // Market names hold spaces (`Rest of Africa`); a counter's name holds none.
            CounterKey::VolumeTier {
                market,
                category,
                month,
                tier,
                ..
            } => format!(
                "tier:{month}:{}:{}:{tier}",
                category_name(*category),
                market.replace(' ', "_")
            ),
            CounterKey::Spend { month, .. } => format!("spend:{month}"),
        }
    }

    /// True for a counter whose slots weigh what their claims say (`Claim::weight`); a counter of
    /// any other kind counts its slots.
    pub fn is_weighted(&self) -> bool {
        matches!(self, CounterKey::Spend { .. })
    }

    /// Returns how long the counter is kept after its last write.
    pub fn retention(&self) -> Duration {
        match self {
            CounterKey::FreeTier { .. }
            | CounterKey::ServiceMessages { .. }
            | CounterKey::VolumeTier { .. }
            | CounterKey::Spend { .. } => FREE_TIER_RETENTION,
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
    /// The claim holds only while the weights of the slots taken plus its own stay within `limit`
    /// (for a counter of slots: while fewer than `limit` are taken), or when the slot already is.
    pub limit: u64,
    /// What the slot weighs: 1 on a counter of slots, a price in nanos on a weighted counter.
    pub weight: u64,
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
    /// The weights of the slots taken: their number on a counter of slots (for a windowed counter,
    /// those live at the instant read).
    pub used: u64,
    /// For a windowed counter, whether the slot asked about is taken.
    pub has_slot: bool,
}

/// What a snapshot read of counters: the slots taken of each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters(BTreeMap<CounterKey, Reading>);

impl Counters {
    /// Returns the slots taken of `counter`; a counter not read counts as none taken. That is safe: a
    /// step that then claims a slot is refused by the store when the counter is full, and decides again.
    pub fn used(&self, counter: &CounterKey) -> u64 {
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

    /// Records a reading of `used` slots (or weight).
    pub fn insert(&mut self, counter: CounterKey, used: u64) {
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

    pub fn iter(&self) -> impl Iterator<Item = (&CounterKey, u64)> {
        self.0.iter().map(|(counter, reading)| (counter, reading.used))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(CounterKey, u64)> for Counters {
    fn from_iter<I: IntoIterator<Item = (CounterKey, u64)>>(readings: I) -> Counters {
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
