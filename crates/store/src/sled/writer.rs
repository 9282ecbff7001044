//! Group commit: one writer thread commits every step waiting as one sled transaction, flushes once,
//! and only then answers them all.

use std::path::Path;
use std::sync::{Arc, mpsc};

use ::sled::Transactional;
use ::sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionalTree,
    UnabortableTransactionError,
};
use hourglass_core::{Answer, Instant, MessageId, Snapshot, ThreadKey, ThreadState, UsageChange};
use tokio::sync::oneshot;

use super::deliveries::put_prediction;
use super::keys::{
    Kind, answer_key, counter_key, index_bucket, index_key, legacy_answer_key, slot_key, thread_key,
};
use super::usage::add_usage;
use super::{Inner, decode_at, from_transaction};
use crate::format::delivery::PredictionRecord;
use crate::format::{AnswerRecord, CounterRecord, ThreadHeader, ThreadRecord, encode};
use crate::{Commit, Committed, DeliveryKey, Error, Hold, Read, Version};

/// The most steps one transaction commits.
const MAX_BATCH: usize = 256;

/// The writer thread and the queue of commits it takes.
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
    thread: std::thread::JoinHandle<()>,
}

/// One commit waiting for the writer: owned copies of a `Commit`, with the answer already encoded.
pub(super) struct Job {
    thread: ThreadKey,
    version: Version,
    message_id: MessageId,
    next: ThreadState,
    answer: Vec<u8>,
    holds: Vec<Hold>,
    thread_keep_until: Instant,
    answer_keep_until: Instant,
    /// The step's prediction: its key, the encoded record, and its keep-until.
    prediction: Option<(DeliveryKey, Vec<u8>, Instant)>,
    /// What the prediction adds to its usage row when it is new, and the row's keep-until.
    usage: Option<(UsageChange, Instant)>,
    reply: oneshot::Sender<Result<Committed, Error>>,
}

impl Job {
    /// Returns the job of a commit, and where its result will arrive.
    pub(super) fn new(commit: &Commit<'_>) -> (Job, oneshot::Receiver<Result<Committed, Error>>) {
        let (reply, answered) = oneshot::channel();
        let job = Job {
            thread: commit.thread.clone(),
            version: commit.version,
            message_id: commit.message_id.clone(),
            next: commit.next.clone(),
            answer: AnswerRecord::new(commit.answer, Some(commit.answer_keep_until)).to_bytes(),
            holds: commit.holds.to_vec(),
            thread_keep_until: commit.thread_keep_until,
            answer_keep_until: commit.answer_keep_until,
            prediction: commit.prediction.map(|prediction| {
                (
                    DeliveryKey::of(prediction, commit.thread, commit.message_id),
                    encode(&PredictionRecord::from(prediction)),
                    commit.prediction_keep_until,
                )
            }),
            usage: commit.usage.map(|usage| (usage.change.clone(), usage.keep_until)),
            reply,
        };
        (job, answered)
    }
}

/// The error of a commit that the writer can no longer take.
pub(super) fn stopped() -> Error {
    Error::Unavailable {
        message: "the sled writer has stopped".to_owned(),
        source: None,
    }
}

impl Writer {
    pub(super) fn start(inner: Arc<Inner>) -> Result<Writer, Error> {
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("hourglass-sled-writer".to_owned())
            .spawn(move || write_loop(&inner, &queue))
            .map_err(|error| Error::unavailable("cannot start the sled writer thread", error))?;
        Ok(Writer { jobs, thread })
    }

    /// Hands a commit to the writer and waits until it is committed and flushed, or refused.
    pub(super) async fn commit(&self, commit: &Commit<'_>) -> Result<Committed, Error> {
        let (job, answer) = Job::new(commit);
        self.jobs.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Closes the queue, lets the writer finish the commits already queued, and joins it.
    pub(super) fn stop(self, path: &Path) {
        drop(self.jobs);
        if self.thread.join().is_err() {
            tracing::error!(path = %path.display(), "the sled writer thread panicked");
        }
    }
}

/// Commits queued steps until the queue closes: takes every step waiting (up to `MAX_BATCH`), commits
/// them in one transaction, flushes once, then answers each.
///
/// Once the store has failed (`Inner::fail`), nothing more is written: every job is refused. A failed
/// flush, or a directory that is gone after the flush, fails the store and refuses the whole batch, so
/// that no write is acknowledged that a restart could lose.
fn write_loop(inner: &Inner, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        jobs.extend(queue.try_iter().take(MAX_BATCH - 1));
        if let Some(message) = inner.failure.get() {
            for job in jobs {
                let _ = job.reply.send(Err(Error::Failed {
                    message: message.clone(),
                }));
            }
            continue;
        }
        let results = inner.commit_batch(&jobs);
        // A conflict waits for the flush too: the state it returns may belong to a write that is not
        // yet on disk.
        let flushed = match inner.db.flush() {
            Ok(_) => inner.check_directory(),
            Err(error) => Err(inner.fail(format!("a flush failed: {error}"))),
        };
        let failed = match flushed {
            Ok(()) => None,
            Err(Error::Failed { message }) => Some(message),
            Err(other) => Some(other.to_string()),
        };
        for (job, result) in jobs.into_iter().zip(results) {
            if failed.is_none() && matches!(result, Ok(Committed::Done)) {
                inner.note_slots(&job.holds);
            }
            let result = match &failed {
                None => result.map_err(|error| inner.fail_on_storage(error)),
                Some(message) => Err(Error::Failed {
                    message: message.clone(),
                }),
            };
            // The caller may have given up (a timeout); its step is committed all the same.
            let _ = job.reply.send(result);
        }
    }
}

impl Inner {
    /// Fails the store when a commit's error came from the disk, not from the data: sled does not
    /// recover from those in place.
    fn fail_on_storage(&self, error: Error) -> Error {
        match error {
            Error::Unavailable { message, .. } => self.fail(format!("a write failed: {message}")),
            other => other,
        }
    }
}

/// The trees a commit writes: threads, counters, answers, deliveries, usage, and the sweep index.
type Trees = (
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
    TransactionalTree,
);

impl Inner {
    /// Commits the jobs in order in one transaction, so that each sees the writes of those before it.
    /// When the transaction fails (a corrupt record, say), each job is tried in a transaction of its
    /// own, so that one bad job fails alone.
    pub(super) fn commit_batch(&self, jobs: &[Job]) -> Vec<Result<Committed, Error>> {
        let trees = (
            &self.threads,
            &self.counters,
            &self.answers,
            &self.deliveries,
            &self.usage,
            &self.expiry,
        );
        let together = trees.transaction(|trees| {
            jobs.iter()
                .map(|job| self.commit_in(trees, job))
                .collect::<Result<Vec<_>, _>>()
        });
        match together {
            Ok(results) => results.into_iter().map(Ok).collect(),
            Err(error) if jobs.len() == 1 => vec![Err(from_transaction(error))],
            Err(_) => jobs
                .iter()
                .map(|job| {
                    trees
                        .transaction(|trees| self.commit_in(trees, job))
                        .map_err(from_transaction)
                })
                .collect(),
        }
    }

    /// Commits one job through the trees of a transaction, if its thread is still at the version it
    /// read: the thread, the counters of its holds, the answer and their sweep index entries. sled may
    /// run a transaction's closure again on a conflict, so this only reads and writes through it.
    fn commit_in(
        &self,
        (threads, counters, answers, deliveries, usage, expiry): &Trees,
        job: &Job,
    ) -> ConflictableTransactionResult<Committed, Error> {
        let thread_key = thread_key(&job.thread);
        // The writer is the store's bottleneck: it reads only the header of the stored thread, and
        // decodes the whole record only on a conflict.
        let stored = threads.get(&thread_key)?;
        let header = match &stored {
            Some(bytes) => Some(decode_at::<ThreadHeader>("thread", &thread_key, bytes).map_err(abort)?),
            None => None,
        };
        let version = header.as_ref().map_or(Version(0), ThreadHeader::version);
        if version != job.version {
            let thread = match &stored {
                Some(bytes) => decode_at::<ThreadRecord>("thread", &thread_key, bytes)
                    .map_err(abort)?
                    .into_state(),
                None => ThreadState::default(),
            };
            let prior = self.prior_in(answers, &job.thread, &job.message_id)?;
            let read = Read {
                version,
                snapshot: Snapshot {
                    thread,
                    prior,
                    counters: hourglass_core::Counters::default(),
                    facts: Default::default(),
                },
                entries: Vec::new(),
                generation: None,
            };
            return Ok(Committed::Conflict(Box::new(read)));
        }

        let kept = header.as_ref().and_then(ThreadHeader::keep_until);
        let keep_until = later(kept, job.thread_keep_until);
        let next = ThreadRecord::new(&job.next, Version(version.0 + 1), Some(keep_until));
        threads.insert(thread_key.as_slice(), next.to_bytes())?;
        reindex(expiry, Kind::Thread, &thread_key, kept, keep_until)?;
        for hold in &job.holds {
            if let Some(window) = hold.claim.window {
                let key = slot_key(&hold.claim.counter, &hold.claim.slot);
                let (until, kept) = match counters.get(&key)? {
                    Some(bytes) => {
                        let stored =
                            decode_at::<CounterRecord>("counter slot", &key, &bytes).map_err(abort)?;
                        (stored.until(), stored.keep_until())
                    }
                    None => (None, None),
                };
                let until = until.map_or(window.end, |until| until.max(window.end));
                let keep_until = later(kept, hold.keep_until);
                counters.insert(
                    key.as_slice(),
                    encode(&CounterRecord::slot(until, Some(keep_until))),
                )?;
                reindex(expiry, Kind::Counter, &key, kept, keep_until)?;
                continue;
            }
            let key = counter_key(&hold.claim.counter);
            let (used, kept) = match counters.get(&key)? {
                Some(bytes) => {
                    let stored = decode_at::<CounterRecord>("counter", &key, &bytes).map_err(abort)?;
                    (stored.used(), stored.keep_until())
                }
                None => (0, None),
            };
            let keep_until = later(kept, hold.keep_until);
            let record = CounterRecord::new(used.saturating_add(hold.claim.weight), Some(keep_until));
            counters.insert(key.as_slice(), encode(&record))?;
            reindex(expiry, Kind::Counter, &key, kept, keep_until)?;
        }
        let answer_key = answer_key(&job.thread, &job.message_id);
        answers.insert(answer_key.as_slice(), job.answer.as_slice())?;
        reindex(expiry, Kind::Answer, &answer_key, None, job.answer_keep_until)?;
        if let Some((key, record, keep_until)) = &job.prediction {
            let new = put_prediction(deliveries, expiry, key, record, *keep_until)?;
            // A usage row counts a prediction once: when it is first written.
            if let (true, Some((change, keep_until))) = (new, &job.usage) {
                add_usage(usage, expiry, change, *keep_until)?;
            }
        }
        Ok(Committed::Done)
    }

    /// Reads the stored answer of a message id inside a transaction.
    fn prior_in(
        &self,
        answers: &TransactionalTree,
        thread: &ThreadKey,
        message_id: &MessageId,
    ) -> ConflictableTransactionResult<Option<Answer>, Error> {
        let legacy = self.legacy_answers.then(|| legacy_answer_key(thread, message_id));
        for key in std::iter::once(answer_key(thread, message_id)).chain(legacy) {
            if let Some(bytes) = answers.get(&key)? {
                let stored = decode_at::<AnswerRecord>("answer", &key, &bytes).map_err(abort)?;
                return stored.into_answer().map(Some).map_err(abort);
            }
        }
        Ok(None)
    }
}

/// Moves a record's sweep index entry from `old` to `new`: only when the bucket changes, so that a
/// thread written many times a minute touches the index at most once a minute.
pub(super) fn reindex(
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

fn abort(error: Error) -> ConflictableTransactionError<Error> {
    ConflictableTransactionError::Abort(error)
}
