//! `MeteredStore`: a `Store` that times every call of the store it wraps and counts its errors, so that
//! every store call the server makes (handlers, the ledger, the registry, health) is measured in one
//! place. The labels are the trait method's name and the error's kind.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant as Started;

use async_trait::async_trait;
use hourglass_core::{
    AccountId, Claim, CounterRead, Counters, Day, Instant, ThreadKey, UsageCounts, UsageRow,
};
use hourglass_store::{
    Claimed, Commit, Committed, DeliveryKey, DeliveryRaw, Error, Hold, Read, ReadPlan, Store, UsageWrite,
    Version, registry,
};

use super::{STORE_CALL_DURATION, STORE_ERRORS};

/// A store whose calls are timed (`hourglass_store_call_duration_seconds`) and whose errors are
/// counted (`hourglass_store_errors_total`), by operation.
pub(crate) struct MeteredStore {
    inner: Arc<dyn Store>,
}

impl MeteredStore {
    /// Wraps `inner`; the answers are `inner`'s, unchanged.
    pub fn wrap(inner: Arc<dyn Store>) -> Arc<dyn Store> {
        Arc::new(MeteredStore { inner })
    }
}

/// Awaits one store call and records it, or records it as cancelled when it is dropped unfinished (the
/// store timeout, the request's deadline, or the client gone).
async fn timed<T>(operation: &'static str, call: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    let mut pending = Pending {
        operation,
        started: Started::now(),
        done: false,
    };
    let result = call.await;
    pending.done = true;
    let outcome = match &result {
        Ok(_) => "ok",
        Err(error) => {
            ::metrics::counter!(STORE_ERRORS, "operation" => operation, "kind" => error_kind(error))
                .increment(1);
            "error"
        }
    };
    ::metrics::histogram!(STORE_CALL_DURATION, "operation" => operation, "outcome" => outcome)
        .record(pending.started.elapsed().as_secs_f64());
    result
}

/// A store call in flight.
struct Pending {
    operation: &'static str,
    started: Started,
    done: bool,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let operation = self.operation;
        ::metrics::counter!(STORE_ERRORS, "operation" => operation, "kind" => "cancelled").increment(1);
        ::metrics::histogram!(STORE_CALL_DURATION, "operation" => operation, "outcome" => "cancelled")
            .record(self.started.elapsed().as_secs_f64());
    }
}

/// Returns the label of a store error: its variant.
fn error_kind(error: &Error) -> &'static str {
    match error {
        Error::Unavailable { .. } => "unavailable",
        Error::Corrupt { .. } => "corrupt",
        Error::Config { .. } => "config",
        Error::Failed { .. } => "failed",
    }
}

#[async_trait]
impl Store for MeteredStore {
    async fn check_connectivity(&self) -> Result<(), Error> {
        timed("check_connectivity", self.inner.check_connectivity()).await
    }

    async fn read(&self, plan: &ReadPlan) -> Result<Read, Error> {
        timed("read", self.inner.read(plan)).await
    }

    async fn read_counters(&self, reads: &[CounterRead]) -> Result<Counters, Error> {
        timed("read_counters", self.inner.read_counters(reads)).await
    }

    async fn claim(
        &self,
        claim: &Claim,
        thread: &ThreadKey,
        now: Instant,
        keep_until: Instant,
    ) -> Result<Claimed, Error> {
        timed("claim", self.inner.claim(claim, thread, now, keep_until)).await
    }

    async fn release(&self, hold: &Hold) -> Result<(), Error> {
        timed("release", self.inner.release(hold)).await
    }

    fn claims_with_commit(&self) -> bool {
        self.inner.claims_with_commit()
    }

    async fn commit(&self, commit: &Commit<'_>) -> Result<Committed, Error> {
        timed("commit", self.inner.commit(commit)).await
    }

    async fn read_deliveries(&self, keys: &[DeliveryKey]) -> Result<Vec<DeliveryRaw>, Error> {
        timed("read_deliveries", self.inner.read_deliveries(keys)).await
    }

    async fn write_report(
        &self,
        key: &DeliveryKey,
        expected: Version,
        bytes: &[u8],
        now: Instant,
        keep_until: Instant,
        usage: Option<UsageWrite<'_>>,
    ) -> Result<bool, Error> {
        timed(
            "write_report",
            self.inner
                .write_report(key, expected, bytes, now, keep_until, usage),
        )
        .await
    }

    async fn read_usage(
        &self,
        account: &AccountId,
        days: &[Day],
    ) -> Result<Vec<(UsageRow, UsageCounts)>, Error> {
        timed("read_usage", self.inner.read_usage(account, days)).await
    }

    async fn list_deliveries(
        &self,
        account: &AccountId,
        day: Day,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, DeliveryRaw)>, Error> {
        timed(
            "list_deliveries",
            self.inner.list_deliveries(account, day, after, limit),
        )
        .await
    }

    async fn read_entries(&self, keys: &[registry::Key]) -> Result<Vec<Option<registry::Raw>>, Error> {
        timed("read_entries", self.inner.read_entries(keys)).await
    }

    async fn write_entry(&self, key: &registry::Key, expected: Version, bytes: &[u8]) -> Result<bool, Error> {
        timed("write_entry", self.inner.write_entry(key, expected, bytes)).await
    }

    async fn registry_generation(&self) -> Result<registry::Generation, Error> {
        timed("registry_generation", self.inner.registry_generation()).await
    }

    async fn advance_registry_generation(&self) -> Result<(), Error> {
        timed(
            "advance_registry_generation",
            self.inner.advance_registry_generation(),
        )
        .await
    }

    fn registry_cache(&self) -> &registry::Cache {
        self.inner.registry_cache()
    }

    async fn list_templates(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, Error> {
        timed("list_templates", self.inner.list_templates(account, after, limit)).await
    }

    async fn sweep(&self, now: Instant) -> Result<usize, Error> {
        timed("sweep", self.inner.sweep(now)).await
    }
}
