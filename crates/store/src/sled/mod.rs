//! `SledStore`: the embedded store, a sled database on local disk, with durable acknowledged writes
//! and a background sweep of expired records.
//!
//! # Layout
//!
//! Four trees hold JSON records of `crate::format`, each carrying its keep-until instant (`keys` has
//! the key layout):
//!
//! - `threads`: key `business_id \0 customer_id`, a `ThreadRecord` carrying the thread's version;
//! - `counters`: key `scope \0 name` (`a:<account> \0 free:YYYY-MM`), a `CounterRecord`;
//! - `answers`: key `business_id \0 customer_id \0 message_id`, an `AnswerRecord`;
//! - `deliveries`: predictions and Meta's reports by account, day and message (`deliveries`);
//! - `usage`: usage rows by account, day of its zone and dimensions (`usage`);
//! - `expiry`: the sweep index (`sweep`).
//!
//! The default tree holds a format marker, so that a database of another program is never mistaken
//! for one of ours. Format 1 kept counters in a tree `free_tier` under `account \0 YYYY-MM` and answers
//! under `business_id \0 message_id`: opening moves the counters, and reads look at the old answer key
//! too, until those answers expire.
//!
//! # Failures
//!
//! sled cannot recover in place from a write its disk refused (a full disk, a read-only or immutable
//! directory), and a data directory deleted under an open database keeps taking writes into files that
//! are gone. So the store watches for both: the writer checks after every flush that the directory is
//! still the one it opened, and `check_connectivity` writes and flushes a probe record and checks the
//! directory too. The first failure latches: from then on every commit fails with `Error::Failed`, and
//! nothing is acknowledged that a restart could lose; the server turns NOT_SERVING and exits, so that
//! the orchestrator restarts it and sled reopens (and recovers) the database once the disk is back.
//!
//! # Concurrency
//!
//! Reads and claims run on the calling task; commits go to one writer thread (`writer`), which commits
//! every step waiting as one transaction and flushes once before answering any (group commit). Claims
//! are held in memory (`crate::reservations`): one process owns a sled database.

mod deliveries;
mod entries;
mod keys;
mod sweep;
#[cfg(test)]
mod tests;
mod usage;
mod writer;

use std::collections::HashMap;
use std::collections::hash_map::Entry as MapEntry;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration as StdDuration;

use ::sled::transaction::TransactionError;
use ::sled::{Db, Tree};
use async_trait::async_trait;
use hourglass_core::{
    AccountId, Claim, CounterKey, CounterRead, Counters, Day, Instant, MessageId, Month, Reading, Snapshot,
    ThreadKey, ThreadState, UsageCounts, UsageRow,
};
use tokio::task::JoinHandle;

use self::keys::{
    Kind, answer_key, counter_key, index_key, legacy_answer_key, slot_key, slots_prefix, thread_key,
};
use self::writer::Writer;
use crate::format::{AnswerRecord, CounterRecord, Record, ThreadRecord};
use crate::reservations::Reservations;
use crate::{
    Claimed, Commit, Committed, DeliveryKey, DeliveryRaw, Error, Hold, Read, ReadPlan, Store, UsageWrite,
    Version, registry,
};

/// The key of the record `check_connectivity` writes to prove the disk takes writes.
const PROBE_KEY: &[u8] = b"hourglass.probe";

/// The key of the format marker in the default tree, and its values.
const FORMAT_KEY: &[u8] = b"hourglass.format";
const FORMAT: &[u8] = b"hourglass-store/2";
const FORMAT_1: &[u8] = b"hourglass-store/1";

/// The store in a sled database on local disk: the default for a single machine.
///
/// Every commit goes to one writer thread, which commits the steps that are waiting as one sled
/// transaction over all trees and then flushes once, before any of them is answered: an acknowledged
/// write survives `kill -9`, and concurrent callers share both the transaction and the flush (group
/// commit). sled makes each transaction commit a write of its own to the log, so one transaction per
/// step would bound the store to a few thousand records a second however the flushes were grouped.
///
/// When opened inside a tokio runtime, the store sweeps expired records every `SWEEP_INTERVAL` in a
/// background task, which ends when the store is dropped. Outside a runtime nothing sweeps by itself:
/// call `Store::sweep`.
pub struct SledStore {
    inner: Arc<Inner>,
    reservations: Reservations,
    writer: Option<Writer>,
    sweeper: Option<JoinHandle<()>>,
    /// The registry's generation: one process owns the database, so a number in memory.
    generation: std::sync::atomic::AtomicU64,
    cache: registry::Cache,
}

/// The database, shared with the writer thread, the blocking pool and (weakly) the sweeper task.
struct Inner {
    db: Db,
    threads: Tree,
    counters: Tree,
    answers: Tree,
    deliveries: Tree,
    usage: Tree,
    expiry: Tree,
    /// Registry entries by `registry::Key::name`: the version (8 bytes, big-endian), then the record.
    registry: Tree,
    path: PathBuf,
    /// Whether the database was opened in format 1, whose answers may still sit at their old keys.
    legacy_answers: bool,
    /// The data directory as opened, to tell when it is deleted or replaced.
    directory: Option<DirectoryId>,
    /// Why the store failed for good, once it has.
    failure: OnceLock<String>,
    /// The slots of the windowed counters read so far, as the `counters` tree holds them (`Windows`).
    windows: Windows,
}

/// The slots of windowed counters (`Claim::window`), by the counter's slot prefix, then slot key, with
/// the end of each slot's window: a reading counts the live slots here instead of scanning and decoding
/// every slot record of the counter (a portfolio's messaging limit counts every customer it reached in
/// 24 h, on every decision).
///
/// One process owns the database and every write of a slot goes through the writer, so the copy stays
/// the tree's: a counter is loaded from the tree at its first reading; the writer notes the slots of a
/// group once it is flushed, before it answers any step of it (and so before their holds are dropped);
/// a sweep that removed records forgets every counter, to be loaded again.
#[derive(Debug, Default)]
struct Windows(Mutex<HashMap<Vec<u8>, WindowSlots>>);

/// A windowed counter's slots: slot key → the end of the slot's window.
type WindowSlots = HashMap<Vec<u8>, Instant>;

/// What tells one directory from another: its device and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DirectoryId {
    device: u64,
    inode: u64,
}

impl DirectoryId {
    #[cfg(unix)]
    fn of(path: &Path) -> std::io::Result<DirectoryId> {
        use std::os::unix::fs::MetadataExt as _;
        let metadata = std::fs::metadata(path)?;
        Ok(DirectoryId {
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }

    #[cfg(not(unix))]
    fn of(path: &Path) -> std::io::Result<DirectoryId> {
        std::fs::metadata(path).map(|_| DirectoryId { device: 0, inode: 0 })
    }
}

impl SledStore {
    /// How often the background task of `SledStore::open` sweeps expired records.
    pub const SWEEP_INTERVAL: StdDuration = StdDuration::from_secs(60);

    /// Opens (or creates) the database in the directory `path`, and starts the background sweep when
    /// called inside a tokio runtime.
    ///
    /// Opening reads and may recover the database on disk: call it from `spawn_blocking` when a slow
    /// disk must not stall a runtime thread. A directory held by another process (after waiting up to
    /// `LOCK_WAIT` for its lock), or holding a sled database that is not Hourglass's, is an error.
    pub fn open(path: impl AsRef<Path>) -> Result<SledStore, Error> {
        let path = path.as_ref();
        let db = open_db(path).map_err(|error| {
            Error::unavailable(
                format!("cannot open the sled database at {}", path.display()),
                error,
            )
        })?;
        let format = check_format(&db, path)?;
        let tree = |name: &str| db.open_tree(name).map_err(from_sled);
        let inner = Arc::new(Inner {
            threads: tree("threads")?,
            counters: tree("counters")?,
            answers: tree("answers")?,
            deliveries: tree("deliveries")?,
            usage: tree("usage")?,
            expiry: tree("expiry")?,
            registry: tree("registry")?,
            db,
            path: path.to_owned(),
            legacy_answers: format == FORMAT_1,
            directory: DirectoryId::of(path).ok(),
            failure: OnceLock::new(),
            windows: Windows::default(),
        });
        if format == FORMAT_1 {
            inner.migrate_from_format_1()?;
        }
        let writer = Writer::start(Arc::clone(&inner))?;
        let sweeper = tokio::runtime::Handle::try_current()
            .ok()
            .map(|runtime| runtime.spawn(sweep::sweep_periodically(Arc::downgrade(&inner))));
        Ok(SledStore {
            inner,
            reservations: Reservations::default(),
            writer: Some(writer),
            sweeper,
            generation: std::sync::atomic::AtomicU64::new(0),
            cache: registry::Cache::default(),
        })
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        if let Some(sweeper) = &self.sweeper {
            sweeper.abort();
        }
        // Stopping the writer lets it finish the commits already queued; joining it releases its
        // handle on the database, so that the same path can be opened again at once.
        if let Some(writer) = self.writer.take() {
            writer.stop(&self.inner.path);
        }
    }
}

impl fmt::Debug for SledStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledStore")
            .field("path", &self.inner.path)
            .field("sweeps_in_background", &self.sweeper.is_some())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Store for SledStore {
    async fn check_connectivity(&self) -> Result<(), Error> {
        let inner = Arc::clone(&self.inner);
        blocking(move || inner.check()).await
    }

    // Reads and claims run on the calling task: they touch a handful of keys that sled serves from its
    // page cache in microseconds, far under the 500 µs a task may block, and a hop to the blocking pool
    // would cost more than the work itself. Only commits wait, for the writer's flush.
    async fn read(&self, plan: &ReadPlan) -> Result<Read, Error> {
        let generation = plan
            .generation
            .then(|| self.generation.load(std::sync::atomic::Ordering::SeqCst));
        Ok(Read {
            generation,
            ..self.inner.read(plan)?
        })
    }

    async fn read_counters(&self, reads: &[CounterRead]) -> Result<Counters, Error> {
        reads
            .iter()
            .map(|read| Ok((read.counter.clone(), self.inner.reading(read)?)))
            .collect()
    }

    async fn claim(
        &self,
        claim: &Claim,
        thread: &ThreadKey,
        _now: Instant,
        keep_until: Instant,
    ) -> Result<Claimed, Error> {
        self.reservations
            .claim(claim, thread, keep_until, || self.inner.reading(&claim.read()))
    }

    async fn release(&self, hold: &Hold) -> Result<(), Error> {
        self.reservations.drop_hold(hold);
        Ok(())
    }

    fn claims_with_commit(&self) -> bool {
        false
    }

    async fn commit(&self, commit: &Commit<'_>) -> Result<Committed, Error> {
        commit.without_claims()?;
        let writer = self.writer.as_ref().ok_or_else(writer::stopped)?;
        let committed = writer.commit(commit).await?;
        if committed == Committed::Done {
            // The slots are counted in the committed counters now: the holds can go.
            for hold in commit.holds {
                self.reservations.drop_hold(hold);
            }
        }
        Ok(committed)
    }

    async fn read_deliveries(&self, keys: &[DeliveryKey]) -> Result<Vec<DeliveryRaw>, Error> {
        self.inner.read_deliveries(keys)
    }

    async fn write_report(
        &self,
        key: &DeliveryKey,
        expected: Version,
        bytes: &[u8],
        _now: Instant,
        keep_until: Instant,
        usage: Option<UsageWrite<'_>>,
    ) -> Result<bool, Error> {
        let inner = Arc::clone(&self.inner);
        let (key, bytes) = (key.clone(), bytes.to_vec());
        let usage = usage.map(|usage| (usage.change.clone(), usage.keep_until));
        blocking(move || match usage {
            Some((change, usage_keep_until)) => {
                inner.write_report_with_usage(&key, expected, &bytes, keep_until, &change, usage_keep_until)
            }
            None => inner.write_report(&key, expected, &bytes, keep_until),
        })
        .await
    }

    async fn read_usage(
        &self,
        account: &AccountId,
        days: &[Day],
    ) -> Result<Vec<(UsageRow, UsageCounts)>, Error> {
        self.inner.read_usage(account, days)
    }

    async fn list_deliveries(
        &self,
        account: &AccountId,
        day: Day,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, DeliveryRaw)>, Error> {
        self.inner.list_deliveries(account, day, after, limit)
    }

    async fn read_entries(&self, keys: &[registry::Key]) -> Result<Vec<Option<registry::Raw>>, Error> {
        self.inner.read_entries(keys)
    }

    async fn registry_generation(&self) -> Result<registry::Generation, Error> {
        Ok(self.generation.load(std::sync::atomic::Ordering::SeqCst))
    }

    async fn advance_registry_generation(&self) -> Result<(), Error> {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    fn registry_cache(&self) -> &registry::Cache {
        &self.cache
    }

    async fn write_entry(&self, key: &registry::Key, expected: Version, bytes: &[u8]) -> Result<bool, Error> {
        let inner = Arc::clone(&self.inner);
        let (name, bytes) = (key.name(), bytes.to_vec());
        blocking(move || inner.write_entry(&name, expected, &bytes)).await
    }

    async fn list_templates(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, Error> {
        self.inner.list_templates(account, after, limit)
    }

    async fn sweep(&self, now: Instant) -> Result<usize, Error> {
        let inner = Arc::clone(&self.inner);
        blocking(move || inner.sweep(now)).await
    }
}

impl Inner {
    /// Checks that the store can take writes: not failed, its directory still the one it opened, its
    /// format marker in place, and a probe record written and flushed.
    fn check(&self) -> Result<(), Error> {
        self.check_failure()?;
        self.check_directory()?;
        match self.db.get(FORMAT_KEY).map_err(from_sled)? {
            Some(_) => {}
            None => {
                return Err(Error::corrupt(format!(
                    "the sled database at {} lost its format marker",
                    self.path.display()
                )));
            }
        }
        let probe = self
            .db
            .insert(PROBE_KEY, &b"ok"[..])
            .and_then(|_| self.db.flush());
        probe
            .map(drop)
            .map_err(|error| self.fail(format!("a write failed: {error}")))
    }

    /// Returns the failure that latched, if any.
    fn check_failure(&self) -> Result<(), Error> {
        match self.failure.get() {
            Some(message) => Err(Error::Failed {
                message: message.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Fails the store for good when its data directory is gone or is another directory now.
    fn check_directory(&self) -> Result<(), Error> {
        let Some(opened) = self.directory else {
            return Ok(());
        };
        match DirectoryId::of(&self.path) {
            Ok(now) if now == opened => Ok(()),
            Ok(_) => Err(self.fail("the data directory was replaced by another one".to_owned())),
            Err(error) => Err(self.fail(format!("the data directory cannot be read: {error}"))),
        }
    }

    /// Latches a failure and returns it as an error; the first failure is the one kept.
    fn fail(&self, problem: String) -> Error {
        let message = format!(
            "the sled database at {}: {problem}; nothing more is written, restart the server",
            self.path.display()
        );
        if self.failure.set(message.clone()).is_ok() {
            tracing::error!(%message, "the sled store failed");
        }
        Error::Failed {
            message: self.failure.get().cloned().unwrap_or(message),
        }
    }

    fn read(&self, plan: &ReadPlan) -> Result<Read, Error> {
        let (version, thread) = self.read_thread(&plan.thread)?;
        let prior = match &plan.message_id {
            Some(message_id) => self.read_answer(&plan.thread, message_id)?,
            None => None,
        };
        let counters = plan
            .counters
            .iter()
            .map(|read| Ok((read.counter.clone(), self.reading(read)?)))
            .collect::<Result<_, Error>>()?;
        Ok(Read {
            version,
            snapshot: Snapshot {
                thread,
                prior,
                counters,
                facts: Default::default(),
            },
            entries: self.read_entries(&plan.entries)?,
            generation: None,
        })
    }

    fn read_thread(&self, thread: &ThreadKey) -> Result<(Version, ThreadState), Error> {
        let key = thread_key(thread);
        match self.threads.get(&key).map_err(from_sled)? {
            Some(bytes) => {
                let stored = decode_at::<ThreadRecord>("thread", &key, &bytes)?;
                Ok((stored.version(), stored.into_state()))
            }
            None => Ok((Version(0), ThreadState::default())),
        }
    }

    fn read_answer(
        &self,
        thread: &ThreadKey,
        message_id: &MessageId,
    ) -> Result<Option<hourglass_core::Answer>, Error> {
        let legacy = self.legacy_answers.then(|| legacy_answer_key(thread, message_id));
        for key in std::iter::once(answer_key(thread, message_id)).chain(legacy) {
            if let Some(bytes) = self.answers.get(&key).map_err(from_sled)? {
                return decode_at::<AnswerRecord>("answer", &key, &bytes)?
                    .into_answer()
                    .map(Some);
            }
        }
        Ok(None)
    }

    /// Returns the committed reading of a counter. A windowed counter's slots are records of their own
    /// (`keys::slot_key`), scanned to count those live at the read's instant: at most the portfolio's
    /// limit of customers are live at once, and expired ones are swept.
    fn reading(&self, read: &CounterRead) -> Result<Reading, Error> {
        let Some((at, slot)) = &read.window else {
            return Ok(Reading {
                used: self.count(&read.counter)?,
                has_slot: false,
            });
        };
        let asked = slot_key(&read.counter, slot);
        let mut windows = self.windows.0.lock().unwrap_or_else(PoisonError::into_inner);
        let slots = match windows.entry(slots_prefix(&read.counter)) {
            MapEntry::Occupied(entry) => entry.into_mut(),
            MapEntry::Vacant(entry) => {
                let loaded = self.load_window(entry.key())?;
                entry.insert(loaded)
            }
        };
        let live = slots.values().filter(|until| **until > *at).count();
        Ok(Reading {
            used: u64::try_from(live).unwrap_or(u64::MAX),
            has_slot: slots.get(&asked).is_some_and(|until| until > at),
        })
    }

    /// Reads every slot of a windowed counter from the tree, with the end of its window.
    fn load_window(&self, prefix: &[u8]) -> Result<WindowSlots, Error> {
        let mut slots = HashMap::new();
        for item in self.counters.scan_prefix(prefix) {
            let (key, bytes) = item.map_err(from_sled)?;
            if let Some(until) = decode_at::<CounterRecord>("counter slot", &key, &bytes)?.until() {
                slots.insert(key.to_vec(), until);
            }
        }
        Ok(slots)
    }

    /// Notes the windowed slots of a committed step, as the writer wrote them: each slot's window ends
    /// at the later of its stored end and the claim's.
    fn note_slots(&self, holds: &[Hold]) {
        let mut windows = self.windows.0.lock().unwrap_or_else(PoisonError::into_inner);
        for hold in holds {
            let Some(window) = hold.claim.window else {
                continue;
            };
            // A counter not loaded yet is read from the tree, which holds the slot already.
            if let Some(slots) = windows.get_mut(&slots_prefix(&hold.claim.counter)) {
                let until = slots
                    .entry(slot_key(&hold.claim.counter, &hold.claim.slot))
                    .or_insert(window.end);
                *until = (*until).max(window.end);
            }
        }
    }

    /// Forgets every windowed counter, after a sweep removed records: each is loaded again.
    fn forget_windows(&self) {
        self.windows
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Returns the committed slots of a counter.
    fn count(&self, counter: &CounterKey) -> Result<u64, Error> {
        let key = counter_key(counter);
        match self.counters.get(&key).map_err(from_sled)? {
            Some(bytes) => Ok(decode_at::<CounterRecord>("counter", &key, &bytes)?.used()),
            None => Ok(0),
        }
    }

    /// Moves the free-tier counters of format 1 (tree `free_tier`, key `account \0 YYYY-MM`) into the
    /// `counters` tree, and marks the database as format 2. Each counter is inserted before it is
    /// removed, so a crash halfway leaves a database that the next open migrates again.
    fn migrate_from_format_1(&self) -> Result<(), Error> {
        let old = self.db.open_tree("free_tier").map_err(from_sled)?;
        let mut moved = 0;
        for entry in old.iter() {
            let (key, bytes) = entry.map_err(from_sled)?;
            let parsed = std::str::from_utf8(&key).ok().and_then(|key| {
                let (account, month) = key.split_once('\0')?;
                let (year, month) = month.split_once('-')?;
                let month = Month {
                    year: year.parse().ok()?,
                    month: month.parse().ok()?,
                };
                Some(CounterKey::FreeTier {
                    account: hourglass_core::AccountId::of_unregistered(
                        &hourglass_core::BusinessId::new(account).ok()?,
                    ),
                    month,
                })
            });
            let Some(counter) = parsed else {
                return Err(Error::corrupt(format!(
                    "cannot migrate the free-tier counter at key {:?}",
                    String::from_utf8_lossy(&key)
                )));
            };
            let record = decode_at::<CounterRecord>("free-tier counter", &key, &bytes)?;
            let new_key = counter_key(&counter);
            self.counters.insert(&new_key, bytes).map_err(from_sled)?;
            if let Some(keep_until) = record.keep_until() {
                let entry = index_key(keep_until, Kind::Counter, &new_key);
                self.expiry.insert(entry, Vec::new()).map_err(from_sled)?;
            }
            old.remove(&key).map_err(from_sled)?;
            moved += 1;
        }
        self.db.insert(FORMAT_KEY, FORMAT).map_err(from_sled)?;
        self.db.flush().map_err(from_sled)?;
        self.db.drop_tree("free_tier").map_err(from_sled)?;
        tracing::info!(moved, path = %self.path.display(), "migrated the sled store to format 2");
        Ok(())
    }
}

/// How long opening waits for the database's lock before it calls the database held.
const LOCK_WAIT: StdDuration = StdDuration::from_secs(1);

/// Opens the sled database at `path`, waiting up to `LOCK_WAIT` for its lock.
///
/// No background flusher: every write this store acknowledges is flushed before it is (group commit,
/// registry and report writes). sled's own thread pool may still hold the database's lock for a moment
/// after a store is dropped (a buffer written out to the log), so that opening the same path again at
/// once can find it held; a lock held by another process stays held, and opening fails after the wait.
fn open_db(path: &Path) -> ::sled::Result<Db> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match ::sled::Config::new().path(path).flush_every_ms(None).open() {
            Err(::sled::Error::Io(error))
                if error.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(StdDuration::from_millis(10));
            }
            opened => return opened,
        }
    }
}

/// Runs a short synchronous sled call on tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| Error::unavailable("a sled call on the blocking pool failed", error))?
}

/// Checks the format marker of a database, writing it into a new one, and returns it.
fn check_format(db: &Db, path: &Path) -> Result<&'static [u8], Error> {
    match db.get(FORMAT_KEY).map_err(from_sled)? {
        Some(format) if format == FORMAT => Ok(FORMAT),
        Some(format) if format == FORMAT_1 => Ok(FORMAT_1),
        Some(format) => Err(Error::Config {
            message: format!(
                "the sled database at {} has format {:?}, not {:?}",
                path.display(),
                String::from_utf8_lossy(&format),
                String::from_utf8_lossy(FORMAT)
            ),
        }),
        // A new database has the default tree only, and it is empty.
        None if db.tree_names().len() > 1 || !db.is_empty() => Err(Error::Config {
            message: format!(
                "the sled database at {} is not an Hourglass store",
                path.display()
            ),
        }),
        None => {
            db.insert(FORMAT_KEY, FORMAT).map_err(from_sled)?;
            db.flush().map_err(from_sled)?;
            Ok(FORMAT)
        }
    }
}

/// Decodes a record read at `key`, naming the key in the error.
fn decode_at<T: Record>(what: &str, key: &[u8], bytes: &[u8]) -> Result<T, Error> {
    T::from_bytes(what, bytes).map_err(|error| match error {
        Error::Corrupt { message } => Error::corrupt(format!(
            "{message} (key {:?})",
            String::from_utf8_lossy(key).replace('\0', "/")
        )),
        other => other,
    })
}

fn from_sled(error: ::sled::Error) -> Error {
    match error {
        ::sled::Error::Corruption { .. } => {
            Error::corrupt(format!("sled found corrupt data on disk: {error}"))
        }
        other => Error::unavailable("sled failed", other),
    }
}

fn from_transaction(error: TransactionError<Error>) -> Error {
    match error {
        TransactionError::Abort(error) => error,
        TransactionError::Storage(error) => from_sled(error),
    }
}
