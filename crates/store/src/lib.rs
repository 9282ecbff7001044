//! The store of Hourglass: one `Store` trait and its backends (`MemoryStore`, `SledStore`,
//! `RedisStore`).
//!
//! Stores persist thread state, free-tier counters and idempotency records, and make each thread's
//! decide-and-record step atomic. They hold no rules: every step runs `step::apply`, which calls
//! `hourglass_core`.

mod error;
mod memory;
mod open;
pub mod record;
mod redis;
#[doc(hidden)]
pub mod redis_harness;
mod sled;
mod step;

pub use self::redis::{DEFAULT_TIMEOUT, RedisOptions, RedisStore};
pub use self::sled::SledStore;
pub use error::Error;
pub use memory::MemoryStore;
pub use open::open;
pub use open::{OpenOptions, open_with};
pub use step::{Answer, MessageKind, Record, Snapshot, apply};

use async_trait::async_trait;
use hourglass_core::{Instant, Policy, ThreadKey, ThreadState};

/// How long free-tier counters are kept after their last write: past the end of any month that a
/// late or backfilled event could still reach.
pub const FREE_TIER_RETENTION: hourglass_core::Duration = hourglass_core::Duration::hours(62 * 24);

/// A store of threads, free-tier counters and idempotency records.
///
/// Every backend passes the conformance suite in `tests/conformance/`.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the backend can serve requests now; readiness follows it.
    async fn check_connectivity(&self) -> Result<(), Error>;

    /// Loads a thread's state, and the free-tier usage of its account in the month that a decision at
    /// `at` would read (`hourglass_core::free_tier_month`).
    async fn load(&self, thread: &ThreadKey, at: Instant) -> Result<Snapshot, Error>;

    /// Loads a thread's state only: what `load` returns without reading the free-tier counter, for
    /// answers that cannot depend on it (`hourglass_core::reads_free_tier`, and listings).
    async fn load_thread(&self, thread: &ThreadKey) -> Result<ThreadState, Error>;

    /// Records a message in one atomic step per thread: returns the stored answer when the message id
    /// is already recorded (marked duplicate), else decides with `step::apply`, and persists the new
    /// state, the free-tier claim and the answer together. A denied outbound message records nothing.
    /// The write is durable when this returns.
    ///
    /// Each record is kept at least until a keep-until instant on the server clock, counted from
    /// `record.now`: a thread for `ThreadState::retention()`, an answer for `RETENTION_GRACE`, a
    /// free-tier counter for `FREE_TIER_RETENTION`. A later write only ever moves it later.
    async fn record(&self, record: &Record, policy: &Policy) -> Result<Answer, Error>;

    /// Deletes every thread, free-tier counter and answer whose keep-until is at or before `now` (the
    /// server clock), and returns how many it deleted.
    ///
    /// Correctness never depends on sweeping: it only reclaims space, never before a later event could
    /// still need the state. Backends whose records expire on their own (Redis key TTLs) may delete
    /// nothing and return 0. `SledStore` also sweeps by itself in the background.
    async fn sweep(&self, now: Instant) -> Result<usize, Error>;
}
