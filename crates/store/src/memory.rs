//! `MemoryStore`: every record in one process's memory, behind one lock. For tests and trials; nothing
//! survives a restart.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use hourglass_core::{
    AccountId, Answer, Claim, CounterKey, CounterRead, Counters, Day, Instant, MessageId, RETENTION_GRACE,
    Reading, Snapshot, ThreadKey, ThreadState, UsageCounts, UsageRow,
};

use crate::format::delivery::PredictionRecord;
use crate::format::encode;
use crate::registry::{self, Raw};
use crate::reservations::Reservations;
use crate::{
    Claimed, Commit, Committed, DeliveryKey, DeliveryRaw, Error, Hold, Read, ReadPlan, Store, UsageWrite,
    Version,
};

/// A store in memory. One `std::sync::Mutex` guards the records: each call is short and never awaits
/// while holding it.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    reservations: Reservations,
    /// The registry's generation: one process holds the store, so a number in memory.
    generation: AtomicU64,
    cache: registry::Cache,
}

#[derive(Debug, Default)]
struct Inner {
    threads: HashMap<ThreadKey, Kept<(Version, ThreadState)>>,
    counters: HashMap<CounterKey, Kept<u64>>,
    /// Windowed counters: each slot with the instant (event time) its window ends.
    windows: HashMap<CounterKey, Kept<HashMap<String, Instant>>>,
    answers: HashMap<(ThreadKey, MessageId), Kept<Answer>>,
    /// Registry entries by `registry::Key::name`, in name order for listing.
    entries: BTreeMap<String, Raw>,
    /// Delivery records by account and day, each day's in the order of their message.
    deliveries: BTreeMap<(AccountId, Day), BTreeMap<String, Kept<DeliveryRaw>>>,
    /// Usage rows by account and day (of the account's zone).
    usage: BTreeMap<(AccountId, Day), HashMap<UsageRow, Kept<UsageCounts>>>,
}

/// A value and the server-clock instant until which it is kept; `Store::sweep` deletes it after.
#[derive(Debug)]
struct Kept<T> {
    value: T,
    keep_until: Instant,
}

/// Returns `keep_until`, or the later instant that an existing value was already promised.
fn at_least<T>(existing: Option<&Kept<T>>, keep_until: Instant) -> Instant {
    existing.map_or(keep_until, |kept| kept.keep_until.max(keep_until))
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied commit: every commit checks first
        // and writes last, so a poisoned lock still guards consistent data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    /// Returns the delivery record of `key`, made empty when there is none, kept at least until
    /// `keep_until`.
    fn delivery(&mut self, key: &DeliveryKey, keep_until: Instant) -> &mut Kept<DeliveryRaw> {
        let record = self
            .deliveries
            .entry((key.account.clone(), key.day))
            .or_default()
            .entry(key.message.to_string())
            .or_insert_with(|| Kept {
                value: DeliveryRaw::default(),
                keep_until,
            });
        record.keep_until = record.keep_until.max(keep_until);
        record
    }

    /// Adds a change to its usage row, kept at least until the write's keep-until.
    fn add_usage(&mut self, usage: UsageWrite<'_>) {
        let row = &usage.change.row;
        let kept = self
            .usage
            .entry((row.account.clone(), row.day))
            .or_default()
            .entry(row.clone())
            .or_insert_with(|| Kept {
                value: UsageCounts::default(),
                keep_until: usage.keep_until,
            });
        kept.value.add(&usage.change.counts);
        kept.keep_until = kept.keep_until.max(usage.keep_until);
    }

    fn read(&self, plan: &ReadPlan) -> Read {
        let (version, thread) = self
            .threads
            .get(&plan.thread)
            .map(|kept| kept.value.clone())
            .unwrap_or_default();
        let prior = plan.message_id.as_ref().and_then(|message_id| {
            self.answers
                .get(&(plan.thread.clone(), message_id.clone()))
                .map(|kept| kept.value.clone())
        });
        Read {
            version,
            snapshot: Snapshot {
                thread,
                prior,
                counters: self.counters(&plan.counters),
                facts: Default::default(),
            },
            entries: plan
                .entries
                .iter()
                .map(|key| self.entries.get(&key.name()).cloned())
                .collect(),
            generation: None,
        }
    }

    fn counters(&self, reads: &[CounterRead]) -> Counters {
        reads
            .iter()
            .map(|read| (read.counter.clone(), self.reading(read)))
            .collect()
    }

    fn reading(&self, read: &CounterRead) -> Reading {
        let Some((at, slot)) = &read.window else {
            let used = self.counters.get(&read.counter).map_or(0, |kept| kept.value);
            return Reading {
                used,
                has_slot: false,
            };
        };
        let Some(slots) = self.windows.get(&read.counter) else {
            return Reading::default();
        };
        let live = |until: &Instant| until > at;
        Reading {
            used: u64::try_from(slots.value.values().filter(|until| live(until)).count()).unwrap_or(u64::MAX),
            has_slot: slots.value.get(slot).is_some_and(live),
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn check_connectivity(&self) -> Result<(), Error> {
        Ok(())
    }

    async fn read(&self, plan: &ReadPlan) -> Result<Read, Error> {
        let generation = plan.generation.then(|| self.generation.load(Ordering::SeqCst));
        Ok(Read {
            generation,
            ..self.lock().read(plan)
        })
    }

    async fn read_counters(&self, reads: &[CounterRead]) -> Result<Counters, Error> {
        Ok(self.lock().counters(reads))
    }

    async fn claim(
        &self,
        claim: &Claim,
        thread: &ThreadKey,
        _now: Instant,
        keep_until: Instant,
    ) -> Result<Claimed, Error> {
        self.reservations.claim(claim, thread, keep_until, || {
            Ok(self.lock().reading(&claim.read()))
        })
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
        {
            let mut inner = self.lock();
            let existing = inner.threads.get(commit.thread);
            let version = existing.map_or(Version(0), |kept| kept.value.0);
            if version != commit.version {
                let plan = ReadPlan {
                    message_id: Some(commit.message_id.clone()),
                    ..ReadPlan::thread(commit.thread)
                };
                return Ok(Committed::Conflict(Box::new(inner.read(&plan))));
            }
            let keep_until = at_least(existing, commit.thread_keep_until);
            let next = (Version(version.0 + 1), commit.next.clone());
            inner.threads.insert(
                commit.thread.clone(),
                Kept {
                    value: next,
                    keep_until,
                },
            );
            for hold in commit.holds {
                if let Some(window) = hold.claim.window {
                    let existing = inner.windows.get(&hold.claim.counter);
                    let keep_until = at_least(existing, hold.keep_until);
                    let mut slots = existing.map(|kept| kept.value.clone()).unwrap_or_default();
                    // Slots whose window ended before any event a late webhook could still bring.
                    let horizon = window.start.minus(RETENTION_GRACE);
                    slots.retain(|_, until| *until > horizon);
                    let until = slots.entry(hold.claim.slot.clone()).or_insert(window.end);
                    *until = (*until).max(window.end);
                    inner.windows.insert(
                        hold.claim.counter.clone(),
                        Kept {
                            value: slots,
                            keep_until,
                        },
                    );
                    continue;
                }
                let existing = inner.counters.get(&hold.claim.counter);
                let value = existing
                    .map_or(0, |kept| kept.value)
                    .saturating_add(hold.claim.weight);
                let keep_until = at_least(existing, hold.keep_until);
                inner
                    .counters
                    .insert(hold.claim.counter.clone(), Kept { value, keep_until });
            }
            let kept = Kept {
                value: commit.answer.clone(),
                keep_until: commit.answer_keep_until,
            };
            inner
                .answers
                .insert((commit.thread.clone(), commit.message_id.clone()), kept);
            if let Some(prediction) = commit.prediction {
                let key = DeliveryKey::of(prediction, commit.thread, commit.message_id);
                let bytes = encode(&PredictionRecord::from(prediction));
                let record = inner.delivery(&key, commit.prediction_keep_until);
                // A prediction is written once: a usage row counts it only then.
                let new = record.value.prediction.is_none();
                record.value.prediction = Some(bytes);
                if let (true, Some(usage)) = (new, commit.usage) {
                    inner.add_usage(usage);
                }
            }
        }
        // The slots are counted now: the holds can go.
        for hold in commit.holds {
            self.reservations.drop_hold(hold);
        }
        Ok(Committed::Done)
    }

    async fn read_deliveries(&self, keys: &[DeliveryKey]) -> Result<Vec<DeliveryRaw>, Error> {
        let inner = self.lock();
        Ok(keys
            .iter()
            .map(|key| {
                inner
                    .deliveries
                    .get(&(key.account.clone(), key.day))
                    .and_then(|day| day.get(&key.message.to_string()))
                    .map(|kept| kept.value.clone())
                    .unwrap_or_default()
            })
            .collect())
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
        let mut inner = self.lock();
        let record = inner.delivery(key, keep_until);
        let version = record
            .value
            .report
            .as_ref()
            .map_or(Version(0), |(version, _)| *version);
        if version != expected {
            return Ok(false);
        }
        record.value.report = Some((Version(version.0 + 1), bytes.to_vec()));
        if let Some(usage) = usage {
            inner.add_usage(usage);
        }
        Ok(true)
    }

    async fn read_usage(
        &self,
        account: &AccountId,
        days: &[Day],
    ) -> Result<Vec<(UsageRow, UsageCounts)>, Error> {
        let inner = self.lock();
        Ok(days
            .iter()
            .filter_map(|day| inner.usage.get(&(account.clone(), *day)))
            .flat_map(|rows| rows.iter().map(|(row, kept)| (row.clone(), kept.value)))
            .collect())
    }

    async fn list_deliveries(
        &self,
        account: &AccountId,
        day: Day,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, DeliveryRaw)>, Error> {
        let inner = self.lock();
        let Some(records) = inner.deliveries.get(&(account.clone(), day)) else {
            return Ok(Vec::new());
        };
        let start = after.map_or(Bound::Unbounded, |after| Bound::Excluded(after.to_owned()));
        Ok(records
            .range((start, Bound::Unbounded))
            .take(limit)
            .map(|(message, kept)| (message.clone(), kept.value.clone()))
            .collect())
    }

    async fn read_entries(&self, keys: &[registry::Key]) -> Result<Vec<Option<Raw>>, Error> {
        let inner = self.lock();
        Ok(keys
            .iter()
            .map(|key| inner.entries.get(&key.name()).cloned())
            .collect())
    }

    async fn registry_generation(&self) -> Result<registry::Generation, Error> {
        Ok(self.generation.load(Ordering::SeqCst))
    }

    async fn advance_registry_generation(&self) -> Result<(), Error> {
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn registry_cache(&self) -> &registry::Cache {
        &self.cache
    }

    async fn write_entry(&self, key: &registry::Key, expected: Version, bytes: &[u8]) -> Result<bool, Error> {
        let mut inner = self.lock();
        let name = key.name();
        let version = inner
            .entries
            .get(&name)
            .map_or(Version(0), |(version, _)| *version);
        if version != expected {
            return Ok(false);
        }
        inner
            .entries
            .insert(name, (Version(version.0 + 1), bytes.to_vec()));
        Ok(true)
    }

    async fn list_templates(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let prefix = registry::templates_prefix(account);
        let start = match after {
            Some(after) => Bound::Excluded(format!("{prefix}{after}")),
            None => Bound::Included(prefix.clone()),
        };
        let inner = self.lock();
        Ok(inner
            .entries
            .range((start, Bound::Unbounded))
            .take_while(|(name, _)| name.starts_with(&prefix))
            .take(limit)
            .map(|(name, (_, bytes))| (name[prefix.len()..].to_owned(), bytes.clone()))
            .collect())
    }

    async fn sweep(&self, now: Instant) -> Result<usize, Error> {
        let mut inner = self.lock();
        let count = |inner: &Inner| {
            inner.threads.len()
                + inner.counters.len()
                + inner.windows.len()
                + inner.answers.len()
                + inner.deliveries.values().map(BTreeMap::len).sum::<usize>()
                + inner.usage.values().map(HashMap::len).sum::<usize>()
        };
        let before = count(&inner);
        inner.threads.retain(|_, kept| kept.keep_until > now);
        inner.counters.retain(|_, kept| kept.keep_until > now);
        inner.windows.retain(|_, kept| kept.keep_until > now);
        inner.answers.retain(|_, kept| kept.keep_until > now);
        for records in inner.deliveries.values_mut() {
            records.retain(|_, kept| kept.keep_until > now);
        }
        inner.deliveries.retain(|_, records| !records.is_empty());
        for rows in inner.usage.values_mut() {
            rows.retain(|_, kept| kept.keep_until > now);
        }
        inner.usage.retain(|_, rows| !rows.is_empty());
        Ok(before - count(&inner))
    }
}
