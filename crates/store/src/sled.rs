//! `SledStore`: the embedded store, a sled database on local disk, with durable acknowledged writes
//! and a background sweep of expired records.
//!
//! # Layout
//!
//! Four trees hold JSON records of `crate::record`, each carrying its keep-until instant:
//!
//! - `threads`: key `business_id \0 customer_id`, a `ThreadRecord`;
//! - `free_tier`: key `account \0 YYYY-MM`, a `CounterRecord`;
//! - `answers`: key `business_id \0 message_id`, an `AnswerRecord`;
//! - `expiry`: the sweep index, key `bucket (8 bytes) ++ kind (1 byte) ++ key` with an empty value,
//!   where `bucket` is the record's keep-until rounded up to the minute, in milliseconds as a
//!   big-endian integer with the sign bit flipped (so that keys sort by time), and `kind` is `t`, `c`
//!   or `a`. A record rewritten within the same minute of keep-until keeps its entry.
//!
//! The default tree holds a format marker, so that a database of another program is never mistaken
//! for one of ours. Every write keeps the index exact: when a record's bucket changes, it replaces the
//! record's old index entry in the same transaction.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak, mpsc};
use std::time::{Duration as StdDuration, SystemTime, UNIX_EPOCH};

use ::sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError, TransactionalTree,
    UnabortableTransactionError,
};
use ::sled::{Db, IVec, Transactional, Tree};
use async_trait::async_trait;
use hourglass_core::{
    AccountId, BusinessId, Duration, Instant, MessageId, Month, Policy, RETENTION_GRACE, ThreadKey,
    ThreadState, free_tier_month,
};
use serde::de::DeserializeOwned;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::record::{AnswerRecord, CounterRecord, ThreadRecord, decode, encode};
use crate::{Answer, Error, FREE_TIER_RETENTION, Record, Snapshot, Store, apply};

/// How many index entries one sweep transaction handles, so that no transaction holds sled's lock long.
const SWEEP_BATCH: usize = 256;

/// The key of the format marker in the default tree, and its value.
const FORMAT_KEY: &[u8] = b"hourglass.format";
const FORMAT: &[u8] = b"hourglass-store/1";

/// The store in a sled database on local disk: the default for a single machine.
///
/// Every `record` goes to one writer thread, which commits the steps that are waiting as one sled
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
    writer: Option<Writer>,
    sweeper: Option<JoinHandle<()>>,
}

/// The writer thread and the queue of steps it commits.
struct Writer {
    jobs: mpsc::Sender<Job>,
    thread: std::thread::JoinHandle<()>,
}

/// One step waiting for the writer.
struct Job {
    record: Record,
    /// An owned copy: cheap, since a `RateCard` shares its tables.
    policy: Policy,
    reply: oneshot::Sender<Result<Answer, Error>>,
}

/// The most steps one transaction commits.
const MAX_BATCH: usize = 256;

/// The database, shared with the blocking pool and (weakly) with the sweeper task.
struct Inner {
    // Fields drop in declaration order: every handle on the database closes before the temporary
    // directory of `for_test` is deleted.
    db: Db,
    threads: Tree,
    free_tier: Tree,
    answers: Tree,
    expiry: Tree,
    path: PathBuf,
    _temp_dir: Option<TempDir>,
}

/// The kinds of records in the sweep index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Thread,
    Counter,
    Answer,
}

impl SledStore {
    /// How often the background task of `SledStore::open` sweeps expired records.
    pub const SWEEP_INTERVAL: StdDuration = StdDuration::from_secs(60);

    /// Opens (or creates) the database in the directory `path`, and starts the background sweep when
    /// called inside a tokio runtime.
    ///
    /// Opening reads and may recover the database on disk: call it from `spawn_blocking` when a slow
    /// disk must not stall a runtime thread. A directory held by another process, or holding a sled
    /// database that is not Hourglass's, is an error.
    pub fn open(path: impl AsRef<Path>) -> Result<SledStore, Error> {
        SledStore::open_in(path.as_ref(), None)
    }

    /// Opens a store in a new temporary directory, which is deleted when the store is dropped.
    pub fn for_test() -> Result<SledStore, Error> {
        let dir = tempfile::tempdir()
            .map_err(|error| Error::unavailable("cannot create a temporary directory for sled", error))?;
        let path = dir.path().join("hourglass.sled");
        SledStore::open_in(&path, Some(dir))
    }

    /// Returns the directory of the database.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn open_in(path: &Path, temp_dir: Option<TempDir>) -> Result<SledStore, Error> {
        let db = ::sled::Config::new().path(path).open().map_err(|error| {
            Error::unavailable(
                format!("cannot open the sled database at {}", path.display()),
                error,
            )
        })?;
        check_format(&db, path)?;
        let tree = |name: &str| db.open_tree(name).map_err(from_sled);
        let inner = Arc::new(Inner {
            threads: tree("threads")?,
            free_tier: tree("free_tier")?,
            answers: tree("answers")?,
            expiry: tree("expiry")?,
            db,
            path: path.to_owned(),
            _temp_dir: temp_dir,
        });
        let (jobs, queue) = mpsc::channel();
        let thread = {
            let inner = Arc::clone(&inner);
            std::thread::Builder::new()
                .name("hourglass-sled-writer".to_owned())
                .spawn(move || write_loop(&inner, &queue))
                .map_err(|error| Error::unavailable("cannot start the sled writer thread", error))?
        };
        let sweeper = tokio::runtime::Handle::try_current()
            .ok()
            .map(|runtime| runtime.spawn(sweep_periodically(Arc::downgrade(&inner))));
        Ok(SledStore {
            inner,
            writer: Some(Writer { jobs, thread }),
            sweeper,
        })
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        if let Some(sweeper) = &self.sweeper {
            sweeper.abort();
        }
        // Closing the queue ends the writer after the steps already queued; joining it releases its
        // handle on the database, so that the same path can be opened again at once.
        if let Some(Writer { jobs, thread }) = self.writer.take() {
            drop(jobs);
            if thread.join().is_err() {
                tracing::error!(path = %self.inner.path.display(), "the sled writer thread panicked");
            }
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
        match self.inner.db.get(FORMAT_KEY) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(Error::corrupt(format!(
                "the sled database at {} lost its format marker",
                self.inner.path.display()
            ))),
            Err(error) => Err(from_sled(error)),
        }
    }

    // `load` and the transaction of `record` run on the calling task: they touch a handful of keys
    // that sled serves from its page cache in microseconds, far under the 500 µs a task may block,
    // and a hop to the blocking pool would cost more than the work itself. Only the flush waits.
    async fn load(&self, thread: &ThreadKey, at: Instant) -> Result<Snapshot, Error> {
        self.inner.load(thread, at)
    }

    async fn load_thread(&self, thread: &ThreadKey) -> Result<ThreadState, Error> {
        self.inner.load_thread(thread)
    }

    async fn record(&self, record: &Record, policy: &Policy) -> Result<Answer, Error> {
        let stopped = || Error::Unavailable {
            message: "the sled writer has stopped".to_owned(),
            source: None,
        };
        let (reply, answer) = oneshot::channel();
        let job = Job {
            record: record.clone(),
            policy: policy.clone(),
            reply,
        };
        let writer = self.writer.as_ref().ok_or_else(stopped)?;
        writer.jobs.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    async fn sweep(&self, now: Instant) -> Result<usize, Error> {
        let inner = Arc::clone(&self.inner);
        blocking(move || inner.sweep(now)).await
    }
}

impl Inner {
    fn load_thread(&self, thread: &ThreadKey) -> Result<ThreadState, Error> {
        let key = thread_key(thread);
        match self.threads.get(&key).map_err(from_sled)? {
            Some(bytes) => Ok(decode_at::<ThreadRecord>("thread", &key, &bytes)?.into_state()),
            None => Ok(ThreadState::default()),
        }
    }

    fn load(&self, thread: &ThreadKey, at: Instant) -> Result<Snapshot, Error> {
        let state = self.load_thread(thread)?;
        let key = counter_key(&thread.account(), free_tier_month(&state, at));
        let free_tier_used = match self.free_tier.get(&key).map_err(from_sled)? {
            Some(bytes) => decode_at::<CounterRecord>("free-tier counter", &key, &bytes)?.used(),
            None => 0,
        };
        Ok(Snapshot {
            state,
            free_tier_used,
        })
    }

    /// Runs the steps of `jobs` in order in one transaction, so that each sees the writes of those
    /// before it. When the transaction fails (a corrupt record, say), each step is retried in a
    /// transaction of its own, so that one bad step fails alone.
    fn record_batch(&self, jobs: &[Job]) -> Vec<Result<Answer, Error>> {
        let trees = (&self.threads, &self.free_tier, &self.answers, &self.expiry);
        let together = trees.transaction(|trees| {
            jobs.iter()
                .map(|job| step_in(trees, &job.record, &job.policy))
                .collect::<Result<Vec<_>, _>>()
        });
        match together {
            Ok(answers) => answers.into_iter().map(Ok).collect(),
            Err(error) if jobs.len() == 1 => vec![Err(from_transaction(error))],
            Err(_) => jobs
                .iter()
                .map(|job| self.record(&job.record, &job.policy))
                .collect(),
        }
    }

    /// Runs one decide-and-record step in a transaction of its own.
    fn record(&self, record: &Record, policy: &Policy) -> Result<Answer, Error> {
        let trees = (&self.threads, &self.free_tier, &self.answers, &self.expiry);
        trees
            .transaction(|trees| step_in(trees, record, policy))
            .map_err(from_transaction)
    }

    /// Deletes the records whose keep-until is at or before `now`, a batch of index entries per
    /// transaction, and returns how many it deleted.
    fn sweep(&self, now: Instant) -> Result<usize, Error> {
        // Every record due has its entry in a bucket at or before `now`'s; the last such bucket may
        // also hold entries of records not yet due, which stay, so the scan moves on past each batch.
        let end = instant_bytes(index_bucket(now).plus(Duration::MILLISECOND));
        let mut start = Vec::new();
        let mut removed = 0;
        loop {
            let batch: Vec<IVec> = self
                .expiry
                .range(start.as_slice()..&end[..])
                .keys()
                .take(SWEEP_BATCH)
                .collect::<Result<_, _>>()
                .map_err(from_sled)?;
            let Some(last) = batch.last() else {
                return Ok(removed);
            };
            // The smallest key after `last`.
            start = last.to_vec();
            start.push(0);
            removed += self.sweep_batch(now, &batch)?;
        }
    }

    /// Removes each record that an index entry of `batch` names whose own keep-until is at or before
    /// `now`, with its entry. A record that a later write kept longer stays, and so does its entry when
    /// it is still the record's own (same bucket); an entry whose record is gone, or now lives in
    /// another bucket, is dropped. A corrupt record stays, for an operator to inspect, and is logged.
    fn sweep_batch(&self, now: Instant, batch: &[IVec]) -> Result<usize, Error> {
        let trees = (&self.threads, &self.free_tier, &self.answers, &self.expiry);
        let result = trees.transaction(|(threads, free_tier, answers, expiry)| {
            let mut removed = 0;
            for index_key in batch {
                let Some((kind, key)) = parse_index_key(index_key) else {
                    tracing::warn!(key = ?index_key, "dropped a malformed entry of the sled sweep index");
                    expiry.remove(index_key.clone())?;
                    continue;
                };
                let tree = match kind {
                    Kind::Thread => threads,
                    Kind::Counter => free_tier,
                    Kind::Answer => answers,
                };
                let Some(bytes) = tree.get(key)? else {
                    expiry.remove(index_key.clone())?;
                    continue;
                };
                let keep_until = match kind {
                    Kind::Thread => {
                        decode_at::<ThreadRecord>("thread", key, &bytes).map(|stored| stored.keep_until())
                    }
                    Kind::Counter => decode_at::<CounterRecord>("free-tier counter", key, &bytes)
                        .map(|stored| stored.keep_until()),
                    Kind::Answer => {
                        decode_at::<AnswerRecord>("answer", key, &bytes).map(|stored| stored.keep_until())
                    }
                };
                match keep_until {
                    Ok(Some(keep_until)) if keep_until <= now => {
                        tree.remove(key)?;
                        expiry.remove(index_key.clone())?;
                        removed += 1;
                    }
                    Ok(Some(keep_until)) if index_key[..8] == instant_bytes(index_bucket(keep_until)) => {}
                    Ok(_) => {
                        expiry.remove(index_key.clone())?;
                    }
                    Err(error) => {
                        tracing::warn!(%error, "left a corrupt record in place while sweeping");
                        expiry.remove(index_key.clone())?;
                    }
                }
            }
            Ok::<_, ConflictableTransactionError<Error>>(removed)
        });
        result.map_err(from_transaction)
    }
}

/// Commits queued steps until the queue closes: takes every step waiting (up to `MAX_BATCH`), runs
/// them in one transaction, flushes once, then answers each.
fn write_loop(inner: &Inner, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        jobs.extend(queue.try_iter().take(MAX_BATCH - 1));
        let answers = inner.record_batch(&jobs);
        // A duplicate or a denial waits for the flush too: the answer it read may belong to a write
        // that is not yet on disk.
        let flushed = inner.db.flush();
        for (job, answer) in jobs.into_iter().zip(answers) {
            let answer = match &flushed {
                Ok(_) => answer,
                Err(error) => Err(Error::Unavailable {
                    message: format!("cannot flush the sled database: {error}"),
                    source: None,
                }),
            };
            // The caller may have given up (a timeout); its step is recorded all the same.
            let _ = job.reply.send(answer);
        }
    }
}

/// Sweeps `inner` every `SWEEP_INTERVAL` until the store is dropped. The first sweep waits a full
/// interval, so that opening a store never races a sweep.
async fn sweep_periodically(inner: Weak<Inner>) {
    let every = SledStore::SWEEP_INTERVAL;
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let path = inner.path.clone();
        match blocking(move || inner.sweep(system_now())).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, path = %path.display(), "swept expired records"),
            Err(error) => tracing::warn!(%error, path = %path.display(), "sweeping expired records failed"),
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

/// Checks the format marker of a database, writing it into a new one.
fn check_format(db: &Db, path: &Path) -> Result<(), Error> {
    match db.get(FORMAT_KEY).map_err(from_sled)? {
        Some(format) if format == FORMAT => Ok(()),
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
            Ok(())
        }
    }
}

/// Runs one decide-and-record step through the trees of a transaction: returns the stored answer of
/// a message id already recorded, else decides with `step::apply` and writes the new state, the
/// free-tier claim, the answer and their sweep index entries. A denied outbound message writes
/// nothing. sled may run a transaction's closure again on a conflict, so this only reads and writes
/// through the transaction.
fn step_in(
    (threads, free_tier, answers, expiry): &(
        TransactionalTree,
        TransactionalTree,
        TransactionalTree,
        TransactionalTree,
    ),
    record: &Record,
    policy: &Policy,
) -> ConflictableTransactionResult<Answer, Error> {
    let thread_key = thread_key(&record.thread);
    let answer_key = answer_key(&record.thread.business_id, &record.message_id);
    let account = record.thread.account();
    if let Some(bytes) = answers.get(&answer_key)? {
        let stored = decode_at::<AnswerRecord>("answer", &answer_key, &bytes).map_err(abort)?;
        let answer = stored.into_answer().map_err(abort)?;
        return Ok(Answer {
            duplicate: true,
            ..answer
        });
    }
    let (state, thread_kept) = match threads.get(&thread_key)? {
        Some(bytes) => {
            let stored = decode_at::<ThreadRecord>("thread", &thread_key, &bytes).map_err(abort)?;
            let keep_until = stored.keep_until();
            (stored.into_state(), keep_until)
        }
        None => (ThreadState::default(), None),
    };
    let month = free_tier_month(&state, record.at);
    let (used, counter_kept) = read_counter(free_tier, &counter_key(&account, month))?;
    let step = apply(
        policy,
        record,
        &Snapshot {
            state,
            free_tier_used: used,
        },
    );
    let Some(next) = step.next else {
        return Ok(step.answer);
    };

    let keep_until = later(thread_kept, record.now.plus(next.retention()));
    threads.insert(
        thread_key.as_slice(),
        encode(&ThreadRecord::new(&next, Some(keep_until))),
    )?;
    reindex(expiry, Kind::Thread, &thread_key, thread_kept, keep_until)?;
    if let Some(claim) = step.free_tier_claim {
        let key = counter_key(&account, claim);
        let (used, kept) = if claim == month {
            (used, counter_kept)
        } else {
            read_counter(free_tier, &key)?
        };
        let keep_until = later(kept, record.now.plus(FREE_TIER_RETENTION));
        free_tier.insert(
            key.as_slice(),
            encode(&CounterRecord::new(used.saturating_add(1), Some(keep_until))),
        )?;
        reindex(expiry, Kind::Counter, &key, kept, keep_until)?;
    }
    let keep_until = record.now.plus(RETENTION_GRACE);
    answers.insert(
        answer_key.as_slice(),
        encode(&AnswerRecord::new(&step.answer, Some(keep_until))),
    )?;
    reindex(expiry, Kind::Answer, &answer_key, None, keep_until)?;
    Ok(step.answer)
}

/// Reads a free-tier counter inside a transaction: the slots taken, and its keep-until.
fn read_counter(
    free_tier: &TransactionalTree,
    key: &[u8],
) -> ConflictableTransactionResult<(u32, Option<Instant>), Error> {
    match free_tier.get(key)? {
        Some(bytes) => {
            let stored = decode_at::<CounterRecord>("free-tier counter", key, &bytes).map_err(abort)?;
            Ok((stored.used(), stored.keep_until()))
        }
        None => Ok((0, None)),
    }
}

/// Moves a record's sweep index entry from `old` to `new`: only when the bucket changes, so that a
/// thread written many times a minute touches the index at most once a minute.
fn reindex(
    expiry: &TransactionalTree,
    kind: Kind,
    key: &[u8],
    old: Option<Instant>,
    new: Instant,
) -> Result<(), UnabortableTransactionError> {
    if old.map(index_bucket) == Some(index_bucket(new)) {
        return Ok(());
    }
    if let Some(old) = old {
        expiry.remove(index_key(old, kind, key))?;
    }
    expiry.insert(index_key(new, kind, key), Vec::new())?;
    Ok(())
}

/// Returns `keep_until`, or the later instant a record was already promised.
fn later(kept: Option<Instant>, keep_until: Instant) -> Instant {
    kept.map_or(keep_until, |kept| kept.max(keep_until))
}

fn thread_key(thread: &ThreadKey) -> Vec<u8> {
    join(thread.business_id.as_str(), thread.customer_id.as_str())
}

fn counter_key(account: &AccountId, month: Month) -> Vec<u8> {
    join(account.as_str(), &month.to_string())
}

fn answer_key(business_id: &BusinessId, message_id: &MessageId) -> Vec<u8> {
    join(business_id.as_str(), message_id.as_str())
}

/// Joins two key parts with a NUL byte, which no validated id contains.
fn join(first: &str, second: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(first.len() + 1 + second.len());
    key.extend_from_slice(first.as_bytes());
    key.push(0);
    key.extend_from_slice(second.as_bytes());
    key
}

/// The granularity of the sweep index, one sweep interval: an entry names the end of the minute that
/// holds its record's keep-until, so a record is still swept at the first sweep after it is due.
const INDEX_BUCKET: Duration = Duration::MINUTE;

/// Returns the end of the index bucket holding `instant`: `instant` rounded up to a whole bucket.
fn index_bucket(instant: Instant) -> Instant {
    let (millis, bucket) = (instant.as_millis(), INDEX_BUCKET.as_millis());
    match millis.rem_euclid(bucket) {
        0 => instant,
        past => Instant::from_millis(millis.saturating_sub(past).saturating_add(bucket)),
    }
}

/// Returns the index key of a record: its keep-until's bucket, its kind and its key.
fn index_key(keep_until: Instant, kind: Kind, key: &[u8]) -> Vec<u8> {
    let tag = match kind {
        Kind::Thread => b't',
        Kind::Counter => b'c',
        Kind::Answer => b'a',
    };
    let mut index_key = Vec::with_capacity(9 + key.len());
    index_key.extend_from_slice(&instant_bytes(index_bucket(keep_until)));
    index_key.push(tag);
    index_key.extend_from_slice(key);
    index_key
}

/// Splits a sweep index key into its kind and the key of the record it names.
fn parse_index_key(index_key: &[u8]) -> Option<(Kind, &[u8])> {
    let (&tag, key) = index_key.get(8..)?.split_first()?;
    let kind = match tag {
        b't' => Kind::Thread,
        b'c' => Kind::Counter,
        b'a' => Kind::Answer,
        _ => return None,
    };
    Some((kind, key))
}

/// Encodes an instant so that byte order is time order: big-endian, with the sign bit flipped.
fn instant_bytes(instant: Instant) -> [u8; 8] {
    ((instant.as_millis() as u64) ^ (1 << 63)).to_be_bytes()
}

/// Returns the server clock as an instant.
fn system_now() -> Instant {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Instant::from_millis(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
}

/// Decodes a record read at `key`, naming the key in the error.
fn decode_at<T: DeserializeOwned>(what: &str, key: &[u8], bytes: &[u8]) -> Result<T, Error> {
    decode(what, bytes).map_err(|error| match error {
        Error::Corrupt { message } => Error::corrupt(format!(
            "{message} (key {:?})",
            String::from_utf8_lossy(key).replace('\0', "/")
        )),
        other => other,
    })
}

fn abort(error: Error) -> ConflictableTransactionError<Error> {
    ConflictableTransactionError::Abort(error)
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

#[cfg(test)]
mod tests {
    use hourglass_core::{CustomerId, Inbound};

    use super::*;
    use crate::MessageKind;

    /// 2024-03-05T10:00:00Z.
    const T0: Instant = Instant::from_millis(1_709_632_800_000);

    fn thread() -> ThreadKey {
        ThreadKey {
            business_id: BusinessId::new("106540352242922").expect("a valid business id"),
            customer_id: CustomerId::new("919800000001").expect("a valid customer id"),
        }
    }

    fn record(id: &str, message: MessageKind) -> Record {
        let message_id = MessageId::new(id).expect("a valid message id");
        Record {
            message_id,
            thread: thread(),
            at: T0,
            message,
            now: T0,
        }
    }

    fn inbound(id: &str) -> Record {
        record(id, MessageKind::Inbound(Inbound::default()))
    }

    fn policy() -> Policy {
        let row = hourglass_core::RateRow {
            market: hourglass_core::OTHER_MARKET.to_owned(),
            prefixes: Vec::new(),
            currency: hourglass_core::Currency::new("USD").expect("a valid currency"),
            effective_from: Instant::EPOCH,
            marketing: rust_decimal::Decimal::ONE,
            utility: rust_decimal::Decimal::ONE,
            authentication: rust_decimal::Decimal::ONE,
            service: rust_decimal::Decimal::ONE,
        };
        Policy::conversation_2023(hourglass_core::RateCard::new(vec![row]).expect("a valid rate card"))
    }

    #[track_caller]
    fn check_corrupt<T: fmt::Debug>(result: Result<T, Error>, needle: &str) {
        match result {
            Err(Error::Corrupt { message }) => {
                assert!(message.contains(needle), "{message:?} lacks {needle:?}")
            }
            other => panic!("expected Error::Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn index_buckets_round_up_to_the_minute() {
        let minute = Duration::MINUTE.as_millis();
        assert_eq!(index_bucket(T0), T0, "a whole minute is its own bucket");
        assert_eq!(
            index_bucket(T0.plus(Duration::MILLISECOND)),
            T0.plus(Duration::MINUTE)
        );
        assert_eq!(
            index_bucket(Instant::from_millis(T0.as_millis() + minute - 1)),
            T0.plus(Duration::MINUTE)
        );
        assert_eq!(index_bucket(Instant::from_millis(-1)), Instant::EPOCH);
    }

    #[test]
    fn index_keys_sort_by_time() {
        // One instant per index bucket (a minute), so that every key differs in its time part.
        let instants = [i64::MIN, -120_000, 0, 1, 1_709_632_800_000, i64::MAX].map(Instant::from_millis);
        let keys: Vec<Vec<u8>> = instants
            .iter()
            .map(|at| index_key(*at, Kind::Answer, b"b\0m"))
            .collect();
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(parse_index_key(&keys[4]), Some((Kind::Answer, &b"b\0m"[..])));
        assert_eq!(parse_index_key(b"short"), None);
        assert_eq!(parse_index_key(b"12345678xkey"), None, "an unknown kind");
    }

    #[tokio::test]
    async fn corrupt_records_are_errors() {
        let store = SledStore::for_test().expect("sled opens");
        let policy = policy();
        store
            .inner
            .threads
            .insert(thread_key(&thread()), &b"{not json"[..])
            .expect("sled writes");
        check_corrupt(store.load(&thread(), T0).await, "106540352242922/919800000001");
        check_corrupt(
            store.record(&inbound("in-1"), &policy).await,
            "cannot decode thread",
        );

        let answer_key = answer_key(
            &thread().business_id,
            &MessageId::new("in-2").expect("a valid id"),
        );
        store
            .inner
            .answers
            .insert(answer_key, &br#"{"version":"9"}"#[..])
            .expect("sled writes");
        check_corrupt(store.record(&inbound("in-2"), &policy).await, "unknown variant");
    }

    #[tokio::test]
    async fn foreign_and_held_databases_are_refused() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let foreign = dir.path().join("foreign");
        {
            let db = ::sled::open(&foreign).expect("sled opens");
            db.insert(b"someone", &b"else"[..]).expect("sled writes");
            db.flush().expect("sled flushes");
        }
        match SledStore::open(&foreign) {
            Err(Error::Config { message }) => {
                assert!(message.contains("not an Hourglass store"), "{message}")
            }
            other => panic!("expected a config error, got {other:?}"),
        }

        let ours = dir.path().join("ours");
        let store = SledStore::open(&ours).expect("sled opens");
        store.check_connectivity().await.expect("a fresh store is ready");
        match SledStore::open(&ours) {
            Err(Error::Unavailable { message, .. }) => assert!(message.contains("cannot open"), "{message}"),
            other => panic!("a held database opened twice: {other:?}"),
        }
        drop(store);
        SledStore::open(&ours).expect("a dropped store releases its database");
    }

    #[tokio::test]
    async fn sweeping_drops_stale_index_entries_and_keeps_corrupt_records() {
        let store = SledStore::for_test().expect("sled opens");
        let inner = &store.inner;
        let stale = index_key(T0, Kind::Thread, b"nobody\0919800000009");
        let corrupt_key = thread_key(&thread());
        inner.expiry.insert(stale, Vec::new()).expect("sled writes");
        inner.expiry.insert(&b"bad"[..], Vec::new()).expect("sled writes");
        inner
            .expiry
            .insert(index_key(T0, Kind::Thread, &corrupt_key), Vec::new())
            .expect("sled writes");
        inner
            .threads
            .insert(corrupt_key.as_slice(), &b"garbage"[..])
            .expect("sled writes");

        assert_eq!(
            store.sweep(T0).await.expect("sweeping skips what it cannot read"),
            0
        );
        assert!(inner.expiry.is_empty(), "every entry due is gone from the index");
        assert!(
            inner.threads.contains_key(&corrupt_key).expect("sled reads"),
            "the corrupt record stays"
        );
    }

    #[tokio::test]
    async fn sweeping_respects_later_keep_until() {
        let store = SledStore::for_test().expect("sled opens");
        let policy = policy();
        store.record(&inbound("in-1"), &policy).await.expect("records");
        let later = Record {
            now: T0.plus(Duration::hours(10)),
            ..inbound("in-2")
        };
        store.record(&later, &policy).await.expect("records");
        // Two answers and one thread: the second write moved the thread's index entry.
        assert_eq!(store.inner.expiry.len(), 3);
        let first_thread_expiry = T0.plus(Duration::hours(24 + 72));
        assert_eq!(
            store.sweep(first_thread_expiry).await.expect("sweeps"),
            2,
            "both answers"
        );
        assert!(!store.load(&thread(), T0).await.expect("loads").state.is_empty());
        let second_thread_expiry = first_thread_expiry.plus(Duration::hours(10));
        assert_eq!(
            store
                .sweep(second_thread_expiry.minus(Duration::MILLISECOND))
                .await
                .expect("sweeps"),
            0
        );
        assert_eq!(
            store.sweep(second_thread_expiry).await.expect("sweeps"),
            1,
            "the thread"
        );
        assert!(store.inner.expiry.is_empty() && store.inner.threads.is_empty());
    }

    #[test]
    fn one_batch_sees_its_own_writes() {
        let store = SledStore::for_test().expect("sled opens");
        let policy = policy();
        let template = || {
            MessageKind::Outbound(hourglass_core::Outbound::Template(hourglass_core::Template {
                name: "tpl_marketing".to_owned(),
                language: "en".to_owned(),
                category: hourglass_core::TemplateCategory::Marketing,
            }))
        };
        let jobs: Vec<Job> = [
            record("m-1", template()),
            record("m-2", template()),
            record("m-1", template()),
        ]
        .into_iter()
        .map(|record| Job {
            record,
            policy: policy.clone(),
            reply: oneshot::channel().0,
        })
        .collect();
        let answers: Vec<Answer> = store
            .inner
            .record_batch(&jobs)
            .into_iter()
            .map(|answer| answer.expect("records"))
            .collect();
        let opens: Vec<bool> = answers
            .iter()
            .map(|answer| {
                let charge = answer
                    .decision
                    .as_ref()
                    .and_then(hourglass_core::Decision::charge);
                charge.is_some_and(|charge| charge.opens_conversation)
            })
            .collect();
        // The second step sees the conversation the first opened; the third repeats the first's answer.
        assert_eq!(opens, vec![true, false, true]);
        assert_eq!(
            answers.iter().map(|answer| answer.duplicate).collect::<Vec<_>>(),
            vec![false, false, true]
        );
        assert_eq!(answers[2].decision, answers[0].decision);
    }

    #[tokio::test(start_paused = true)]
    async fn the_background_sweep_runs_every_interval_and_ends_with_the_store() {
        let mut store = SledStore::for_test().expect("sled opens");
        let policy = policy();
        // Recorded in 2024, so that the wall clock is past every keep-until. The step runs here,
        // without awaiting: an await on sled's flush would let the paused clock jump to the sweep.
        store.inner.record(&inbound("in-1"), &policy).expect("records");
        assert_eq!((store.inner.threads.len(), store.inner.answers.len()), (1, 1));

        tokio::time::sleep(SledStore::SWEEP_INTERVAL / 2).await;
        assert_eq!(store.inner.answers.len(), 1, "no sweep before the first interval");
        tokio::time::sleep(SledStore::SWEEP_INTERVAL).await;
        for _ in 0..100 {
            if store.inner.threads.is_empty() {
                break;
            }
            tokio::time::sleep(StdDuration::from_millis(10)).await;
        }
        assert!(
            store.inner.threads.is_empty() && store.inner.answers.is_empty(),
            "the background sweep ran"
        );

        // Without the abort of `Drop`, the task still ends at its next tick: it holds a weak reference.
        let sweeper = store
            .sweeper
            .take()
            .expect("a runtime is present, so the store sweeps");
        drop(store);
        tokio::time::sleep(SledStore::SWEEP_INTERVAL * 2).await;
        assert!(
            sweeper.is_finished(),
            "the sweeper ends once the store is dropped"
        );
    }
}
