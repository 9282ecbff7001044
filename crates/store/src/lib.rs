//! The store of Hourglass: one `Store` trait, its backends (`MemoryStore`, `SledStore`, `RedisStore`),
//! and the `ledger`, which runs every step against any of them.
//!
//! The rules live in `hourglass_core::step`. A backend only persists and makes a step atomic: it reads a
//! versioned snapshot, takes and gives back claims on counters, and commits a step if the thread's
//! version still holds. The ledger runs read → step → claim → commit → retry, once, for every backend.

pub mod deliveries;
mod error;
mod format;
pub mod ledger;
pub mod links;
mod memory;
mod open;
mod redis;
pub mod registry;
mod reservations;
mod sled;

pub use self::redis::{DEFAULT_TIMEOUT, RedisOptions, RedisStore};
pub use self::sled::SledStore;
pub use error::Error;
pub use ledger::Entry;
pub use memory::MemoryStore;
pub use open::{OpenOptions, open, open_with};

use async_trait::async_trait;
use hourglass_core::{
    AccountId, Answer, Claim, CounterKey, CounterRead, Counters, Day, Instant, MessageId, MessageRef,
    Prediction, Snapshot, ThreadKey, ThreadState, UsageChange, UsageCounts, UsageRow,
};

/// A store of threads, answers and counters.
///
/// Every backend passes the conformance suite in `tests/conformance/`. None knows a rule: the limit of
/// a claim and every instant come from the caller.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the backend can serve requests now; readiness follows it.
    async fn check_connectivity(&self) -> Result<(), Error>;

    /// Reads what a step needs: the thread with its version, the stored answer of `plan.message_id`,
    /// and the counters of `plan.counters`.
    async fn read(&self, plan: &ReadPlan) -> Result<Read, Error>;

    /// Reads counters alone: the slots (or weights) taken of each (of a windowed counter, those live at the read's
    /// instant, and whether the read's slot is one of them).
    async fn read_counters(&self, reads: &[CounterRead]) -> Result<Counters, Error>;

    /// Takes `claim` for a step of `thread`: holds its slot if the slot is already taken or the weights
    /// taken plus `claim.weight` stay within `claim.limit` (on a counter of slots: fewer than
    /// `claim.limit` are taken; of a windowed counter: live at the start of the claim's window; a
    /// committed claim makes its slot live until the end of its window, or later when it already was).
    /// A held slot counts as taken for everyone until it is committed with the step
    /// or given back with `release`. The counter is kept at least until `keep_until`, counted on the
    /// server clock from `now`.
    async fn claim(
        &self,
        claim: &Claim,
        thread: &ThreadKey,
        now: Instant,
        keep_until: Instant,
    ) -> Result<Claimed, Error>;

    /// Gives back a hold whose step was not committed.
    async fn release(&self, hold: &Hold) -> Result<(), Error>;

    /// Returns whether `commit` takes a step's claims in its own atomic write (`Commit::claims`), so that
    /// the ledger need not `claim` before it: true where one write reaches the thread and every counter
    /// (a single Redis node, one round trip instead of two). A store that wraps another hands on the
    /// inner one's answer.
    fn claims_with_commit(&self) -> bool;

    /// Writes a step if the thread is still at `commit.version`: the thread's next state, the answer
    /// under the message id, and the holds' slots, all or nothing. The write is durable when this returns
    /// `Committed::Done`. On `Committed::Conflict` nothing is written and the holds are still held.
    ///
    /// A store whose `claims_with_commit` is true also takes `commit.claims` in the same atomic write,
    /// as `claim` would take each: on `Committed::Full` nothing is written. Any other store is given
    /// no claims, and refuses them (`Commit::without_claims`).
    ///
    /// With the step goes its prediction (`commit.prediction`), under `DeliveryKey::of`: in the same
    /// atomic write on a backend that can (memory, sled), right after the thread's on one that cannot
    /// (Redis, whose account and thread live on different nodes), and in every case before `Done`.
    /// With the prediction goes `commit.usage`, added to its usage row in the same atomic write as the
    /// prediction and only when the prediction was not there yet, so that a retry never counts twice.
    async fn commit(&self, commit: &Commit<'_>) -> Result<Committed, Error>;

    /// Reads delivery records: for each key, its prediction and Meta's report, each none when never
    /// written.
    async fn read_deliveries(&self, keys: &[DeliveryKey]) -> Result<Vec<DeliveryRaw>, Error>;

    /// Writes Meta's report of a message if it is still at `expected` (`Version(0)`: never written), and
    /// returns whether it did. The write is durable when this returns true; the record is kept at least
    /// until `keep_until` (server clock, counted from `now`). With the report goes `usage`, added to its
    /// usage row in the same atomic write, only when the report is written.
    async fn write_report(
        &self,
        key: &DeliveryKey,
        expected: Version,
        bytes: &[u8],
        now: Instant,
        keep_until: Instant,
        usage: Option<UsageWrite<'_>>,
    ) -> Result<bool, Error>;

    /// Reads an account's usage rows of the given days (of its zone), in no particular order. A row is
    /// the sum of every change added to it; a row never written is absent.
    async fn read_usage(
        &self,
        account: &AccountId,
        days: &[Day],
    ) -> Result<Vec<(UsageRow, UsageCounts)>, Error>;

    /// Lists an account's delivery records of one day in the order of their message (`MessageRef`
    /// written out), from after `after`, at most `limit`.
    async fn list_deliveries(
        &self,
        account: &AccountId,
        day: Day,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, DeliveryRaw)>, Error>;

    /// Reads registry entries (`registry::Key`): each as stored, with its version; none when never
    /// written.
    async fn read_entries(&self, keys: &[registry::Key]) -> Result<Vec<Option<registry::Raw>>, Error>;

    /// Writes a registry entry if it is still at `expected` (`Version(0)`: never written), and returns
    /// whether it did. The write is durable, and seen by every reader, when this returns true. An entry
    /// has no expiry.
    async fn write_entry(&self, key: &registry::Key, expected: Version, bytes: &[u8]) -> Result<bool, Error>;

    /// Reads the registry's generation: a number that only grows, advanced by every write of a cached
    /// kind of entry (`registry::Key::is_cached`) after the entry is written and before the write
    /// returns; 0 before the first. A replica's `registry::Cache` answers only for the generation it
    /// read its entries under.
    async fn registry_generation(&self) -> Result<registry::Generation, Error>;

    /// Advances the registry's generation, durably and seen by every reader when this returns
    /// (`registry::try_update` calls it after each write of a cached kind of entry).
    async fn advance_registry_generation(&self) -> Result<(), Error>;

    /// Returns this replica's cache of registry entries (`registry::Cache`), which the orchestration
    /// (`registry`, `ledger`) uses; a store that wraps another hands on the inner one's.
    fn registry_cache(&self) -> &registry::Cache;

    /// Lists an account's templates in the order of `registry::template_member`, from after `after`,
    /// at most `limit`: each as its member and its bytes.
    async fn list_templates(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, Error>;

    /// Deletes every thread, counter, answer, delivery record and usage row whose keep-until is at or before `now` (the server
    /// clock), and returns how many it deleted.
    ///
    /// Correctness never depends on sweeping: it only reclaims space, never before a later event could
    /// still need the state. Backends whose records expire on their own (Redis key TTLs) may delete
    /// nothing and return 0. `SledStore` also sweeps by itself in the background.
    async fn sweep(&self, now: Instant) -> Result<usize, Error>;
}

/// What to read for a step: computed by `hourglass_core::counters_read`, so that a store reads no more
/// than the decision can depend on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadPlan {
    pub thread: ThreadKey,
    /// The message id whose stored answer to read; none for a dry run or a listing.
    pub message_id: Option<MessageId>,
    pub counters: Vec<CounterRead>,
    /// Registry entries to read with the thread (`Read::entries`, in this order): those of the thread's
    /// own customer (`registry::Key::Consent`, `registry::Key::Link`), which a store keeps beside the
    /// thread (on Redis, under its hash tag) and reads in the same round; any other entry is read as
    /// `Store::read_entries` reads it.
    pub entries: Vec<registry::Key>,
    /// Whether to read the registry's generation with the rest (`Read::generation`), as
    /// `Store::registry_generation` reads it: a decision that guesses its facts from the replica's
    /// registry cache confirms them by it.
    pub generation: bool,
}

impl ReadPlan {
    /// Returns a plan that reads the thread alone.
    pub fn thread(thread: &ThreadKey) -> ReadPlan {
        ReadPlan {
            thread: thread.clone(),
            message_id: None,
            counters: Vec::new(),
            entries: Vec::new(),
            generation: false,
        }
    }
}

/// The version of a thread: 0 for a thread never written, one more with every commit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub u64);

/// A snapshot as read, with the version of its thread.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Read {
    pub version: Version,
    pub snapshot: Snapshot,
    /// The entries of `ReadPlan::entries`, in its order: each as stored, none when never written.
    pub entries: Vec<Option<registry::Raw>>,
    /// The registry's generation, when the plan asked for it.
    pub generation: Option<registry::Generation>,
}

/// What `Store::claim` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claimed {
    /// The slot is held for the step.
    Held(Box<Hold>),
    /// Every slot is taken. With `unsettled`, some are held by steps not yet committed or given back,
    /// so a slot may still come free: wait and try again before deciding that the counter is full.
    Full { unsettled: bool },
}

/// A claim held by this process for a step not yet committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub claim: Claim,
    pub thread: ThreadKey,
    /// Tells this hold apart from every other of the same slot, across processes.
    pub token: String,
    /// How long the counter is kept after the commit (server clock).
    pub keep_until: Instant,
}

/// A step to write, if the thread is still at `version`.
#[derive(Clone, Copy, Debug)]
pub struct Commit<'a> {
    pub thread: &'a ThreadKey,
    pub version: Version,
    pub message_id: &'a MessageId,
    pub next: &'a ThreadState,
    pub answer: &'a Answer,
    pub holds: &'a [Hold],
    /// Claims to take with the write, only for a store whose `claims_with_commit` is true: each as
    /// `Store::claim` takes it, of distinct counters, its counter kept for the counter's retention
    /// (`CounterKey::retention`) from `now`.
    pub claims: &'a [Claim],
    /// The server clock at the write.
    pub now: Instant,
    /// Keep the thread at least until this instant (server clock); a later write only moves it later.
    pub thread_keep_until: Instant,
    /// Keep the answer at least until this instant (server clock).
    pub answer_keep_until: Instant,
    /// What an allowed outbound message is predicted to cost, for reconciliation.
    pub prediction: Option<&'a Prediction>,
    /// Keep the prediction at least until this instant (server clock).
    pub prediction_keep_until: Instant,
    /// What the prediction adds to its account's usage, when it is new.
    pub usage: Option<UsageWrite<'a>>,
}

impl Commit<'_> {
    /// Refuses claims to take with the write, for a store that cannot take them there
    /// (`Store::claims_with_commit`).
    pub fn without_claims(&self) -> Result<(), Error> {
        match self.claims {
            [] => Ok(()),
            _ => Err(Error::Config {
                message: "this store takes claims before the commit, not with it".to_owned(),
            }),
        }
    }
}

/// An addition to a usage row, computed by the core (`UsageChange`), with how long to keep the row.
#[derive(Clone, Copy, Debug)]
pub struct UsageWrite<'a> {
    pub change: &'a UsageChange,
    /// Keep the row at least until this instant (server clock); a later write only moves it later.
    pub keep_until: Instant,
}

/// Where a delivery record lives: its account, the UTC day of its message, and the message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeliveryKey {
    pub account: AccountId,
    pub day: Day,
    pub message: MessageRef,
}

impl DeliveryKey {
    /// Returns the key of a prediction for a message of `thread`.
    pub fn of(prediction: &Prediction, thread: &ThreadKey, message_id: &MessageId) -> DeliveryKey {
        DeliveryKey {
            account: prediction.account.clone(),
            day: Day::of(prediction.at),
            message: MessageRef {
                thread: thread.clone(),
                message_id: message_id.clone(),
            },
        }
    }
}

/// A delivery record's bytes as a backend keeps them: the prediction, written once with its message's
/// step, and Meta's report, with the version a write must find to replace it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryRaw {
    pub prediction: Option<Vec<u8>>,
    pub report: Option<(Version, Vec<u8>)>,
}

impl DeliveryRaw {
    /// Returns whether neither part was ever written.
    pub fn is_empty(&self) -> bool {
        self.prediction.is_none() && self.report.is_none()
    }
}

/// What `Store::commit` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Committed {
    Done,
    /// Another writer changed the thread first. Here is the thread and the stored answer of the message
    /// id as they are now, without counters, so that a retry need not read them again.
    Conflict(Box<Read>),
    /// A claim of `Commit::claims` found its counter full (`Claimed::Full`, with what `unsettled`
    /// says there): nothing is written.
    Full {
        counter: CounterKey,
        unsettled: bool,
    },
}
