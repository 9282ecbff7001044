//! The backends under test: each is a fixture that opens stores over its data.

use std::sync::Arc;

use async_trait::async_trait;
use hourglass_core::{AccountId, Day, Duration};
use hourglass_store::{MemoryStore, SledStore, Store};
use tempfile::TempDir;

/// A backend under test. Each case makes a new fixture, opens a store with it, and uses keys of its
/// own (a unique business id), so fixtures may share a server.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Opens a store over the fixture's data. A case drops one store before it opens the next.
    async fn open(&self) -> Arc<dyn Store>;

    /// Returns whether a store opened again sees what an earlier, dropped one wrote.
    fn durable(&self) -> bool;

    /// Returns whether `Store::sweep` deletes expired records. A sweeping backend gives each fixture
    /// stores of their own, since the sweeping case counts what a sweep deletes. A backend whose
    /// records expire on their own (Redis TTLs) says no: the case then checks only that a sweep
    /// deletes nothing and keeps live state.
    fn sweeps(&self) -> bool;

    /// Returns whether stores opened at once share their data, as replicas over one Redis do.
    fn shared(&self) -> bool {
        false
    }

    /// Returns the time to live of an account's usage of a day, on a backend whose records expire on
    /// their own; none elsewhere.
    async fn usage_ttl(&self, _account: &AccountId, _day: Day) -> Option<Duration> {
        None
    }
}

/// `MemoryStore`: every store it opens is a new, empty one.
pub struct Memory;

#[async_trait]
impl Backend for Memory {
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(MemoryStore::default())
    }

    fn durable(&self) -> bool {
        false
    }

    fn sweeps(&self) -> bool {
        true
    }
}

/// `SledStore` in a temporary directory of its own, deleted with the fixture.
pub struct Sled {
    dir: TempDir,
}

impl Sled {
    pub fn new() -> Sled {
        Sled {
            dir: tempfile::tempdir().expect("a temporary directory for sled"),
        }
    }
}

#[async_trait]
impl Backend for Sled {
    async fn open(&self) -> Arc<dyn Store> {
        let path = self.dir.path().join("hourglass.sled");
        Arc::new(SledStore::open(path).expect("sled opens in a temporary directory"))
    }

    fn durable(&self) -> bool {
        true
    }

    fn sweeps(&self) -> bool {
        true
    }
}
