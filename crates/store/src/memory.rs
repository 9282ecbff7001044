//! `MemoryStore`: every record in one process's memory, behind one lock. For tests and trials; nothing
//! survives a restart.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use hourglass_core::{
    AccountId, BusinessId, Instant, MessageId, Month, Policy, RETENTION_GRACE, ThreadKey, ThreadState,
    free_tier_month,
};

use crate::{Answer, Error, FREE_TIER_RETENTION, Record, Snapshot, Store, apply};

/// A store in memory. One `std::sync::Mutex` guards everything: each step is short and never awaits
/// while holding it, which makes every step atomic across threads and accounts alike.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    threads: HashMap<ThreadKey, Kept<ThreadState>>,
    free_tier: HashMap<(AccountId, Month), Kept<u32>>,
    answers: HashMap<(BusinessId, MessageId), Kept<Answer>>,
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
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied step: every step computes first
        // and writes last, so a poisoned lock still guards consistent data.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Inner {
    fn snapshot(&self, thread: &ThreadKey, at: Instant) -> Snapshot {
        let state = self
            .threads
            .get(thread)
            .map(|kept| kept.value.clone())
            .unwrap_or_default();
        let month = free_tier_month(&state, at);
        let free_tier_used = self
            .free_tier
            .get(&(thread.account(), month))
            .map_or(0, |kept| kept.value);
        Snapshot {
            state,
            free_tier_used,
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn check_connectivity(&self) -> Result<(), Error> {
        Ok(())
    }

    async fn load(&self, thread: &ThreadKey, at: Instant) -> Result<Snapshot, Error> {
        Ok(self.lock().snapshot(thread, at))
    }

    async fn load_thread(&self, thread: &ThreadKey) -> Result<ThreadState, Error> {
        Ok(self
            .lock()
            .threads
            .get(thread)
            .map(|kept| kept.value.clone())
            .unwrap_or_default())
    }

    async fn record(&self, record: &Record, policy: &Policy) -> Result<Answer, Error> {
        let mut inner = self.lock();
        let answer_key = (record.thread.business_id.clone(), record.message_id.clone());
        if let Some(kept) = inner.answers.get(&answer_key) {
            return Ok(Answer {
                duplicate: true,
                ..kept.value.clone()
            });
        }
        let snapshot = inner.snapshot(&record.thread, record.at);
        let step = apply(policy, record, &snapshot);
        let Some(next) = step.next else {
            return Ok(step.answer);
        };
        if let Some(month) = step.free_tier_claim {
            let key = (record.thread.account(), month);
            let existing = inner.free_tier.get(&key);
            let value = existing.map_or(0, |kept| kept.value) + 1;
            let keep_until = at_least(existing, record.now.plus(FREE_TIER_RETENTION));
            inner.free_tier.insert(key, Kept { value, keep_until });
        }
        let keep_until = at_least(
            inner.threads.get(&record.thread),
            record.now.plus(next.retention()),
        );
        inner.threads.insert(
            record.thread.clone(),
            Kept {
                value: next,
                keep_until,
            },
        );
        let kept = Kept {
            value: step.answer.clone(),
            keep_until: record.now.plus(RETENTION_GRACE),
        };
        inner.answers.insert(answer_key, kept);
        Ok(step.answer)
    }

    async fn sweep(&self, now: Instant) -> Result<usize, Error> {
        let mut inner = self.lock();
        let before = inner.threads.len() + inner.free_tier.len() + inner.answers.len();
        inner.threads.retain(|_, kept| kept.keep_until > now);
        inner.free_tier.retain(|_, kept| kept.keep_until > now);
        inner.answers.retain(|_, kept| kept.keep_until > now);
        Ok(before - (inner.threads.len() + inner.free_tier.len() + inner.answers.len()))
    }
}
