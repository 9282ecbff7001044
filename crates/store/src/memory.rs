//! `MemoryStore`: every record in one process's memory, behind one lock. For tests and trials; nothing
//! survives a restart.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use hourglass_core::{AccountId, BusinessId, Instant, MessageId, Month, Policy, ThreadKey, ThreadState, free_tier_month};

use crate::{Answer, Error, Record, Snapshot, Store, apply};

/// A store in memory. One `std::sync::Mutex` guards everything: each step is short and never awaits
/// while holding it, which makes every step atomic across threads and accounts alike.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    threads: HashMap<ThreadKey, ThreadState>,
    free_tier: HashMap<(AccountId, Month), u32>,
    answers: HashMap<(BusinessId, MessageId), Answer>,
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied step: every step computes first
        // and writes last, so a poisoned lock still guards consistent data.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Inner {
    fn snapshot(&self, thread: &ThreadKey, at: Instant) -> Snapshot {
        let state = self.threads.get(thread).cloned().unwrap_or_default();
        let month = free_tier_month(&state, at);
        let free_tier_used = self.free_tier.get(&(thread.account(), month)).copied().unwrap_or(0);
        Snapshot { state, free_tier_used }
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

    async fn record(&self, record: &Record, policy: &Policy) -> Result<Answer, Error> {
        let mut inner = self.lock();
        let answer_key = (record.thread.business_id.clone(), record.message_id.clone());
        if let Some(answer) = inner.answers.get(&answer_key) {
            return Ok(Answer { duplicate: true, ..answer.clone() });
        }
        let snapshot = inner.snapshot(&record.thread, record.at);
        let step = apply(policy, record, &snapshot);
        let Some(next) = step.next else {
            return Ok(step.answer);
        };
        if let Some(month) = step.free_tier_claim {
            *inner.free_tier.entry((record.thread.account(), month)).or_default() += 1;
        }
        inner.threads.insert(record.thread.clone(), next);
        inner.answers.insert(answer_key, step.answer.clone());
        Ok(step.answer)
    }
}
