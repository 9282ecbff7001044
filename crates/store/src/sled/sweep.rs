//! The sweep of expired records, by the sweep index `expiry`: key `bucket (8 bytes) ++ kind (1 byte) ++
//! key` with an empty value, where `bucket` is the record's keep-until rounded up to the minute, in
//! milliseconds as a big-endian integer with the sign bit flipped (so that keys sort by time), and
//! `kind` is `t`, `c`, `a`, `d` or `u`. A record rewritten within the same minute of keep-until keeps its entry.
//! Every write keeps the index exact: when a record's bucket changes, it replaces the record's old entry
//! in the same transaction.

use std::sync::Weak;
use std::time::{SystemTime, UNIX_EPOCH};

use ::sled::transaction::ConflictableTransactionError;
use ::sled::{IVec, Transactional};
use hourglass_core::{Duration, Instant};

use super::keys::{Kind, index_bucket, instant_bytes, parse_index_key};
use super::{Inner, SledStore, blocking, decode_at, from_sled, from_transaction};
use crate::Error;
use crate::format::{AnswerRecord, CounterRecord, ThreadRecord};

/// How many index entries one sweep transaction handles, so that no transaction holds sled's lock long.
const SWEEP_BATCH: usize = 256;

impl Inner {
    /// Deletes the records whose keep-until is at or before `now`, a batch of index entries per
    /// transaction, and returns how many it deleted.
    pub(super) fn sweep(&self, now: Instant) -> Result<usize, Error> {
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
            let swept = self.sweep_batch(now, &batch)?;
            if swept > 0 {
                // Some may have been slots of windowed counters.
                self.forget_windows();
            }
            removed += swept;
        }
    }

    /// Removes each record that an index entry of `batch` names whose own keep-until is at or before
    /// `now`, with its entry. A record that a later write kept longer stays, and so does its entry when
    /// it is still the record's own (same bucket); an entry whose record is gone, or now lives in
    /// another bucket, is dropped. A corrupt record stays, for an operator to inspect, and is logged.
    fn sweep_batch(&self, now: Instant, batch: &[IVec]) -> Result<usize, Error> {
        let trees = (
            &self.threads,
            &self.counters,
            &self.answers,
            &self.deliveries,
            &self.usage,
            &self.expiry,
        );
        let result = trees.transaction(|(threads, counters, answers, deliveries, usage, expiry)| {
            let mut removed = 0;
            for index_key in batch {
                let Some((kind, key)) = parse_index_key(index_key) else {
                    tracing::warn!(key = ?index_key, "dropped a malformed entry of the sled sweep index");
                    expiry.remove(index_key.clone())?;
                    continue;
                };
                let tree = match kind {
                    Kind::Thread => threads,
                    Kind::Counter => counters,
                    Kind::Answer => answers,
                    Kind::Delivery => deliveries,
                    Kind::Usage => usage,
                };
                let Some(bytes) = tree.get(key)? else {
                    expiry.remove(index_key.clone())?;
                    continue;
                };
                let keep_until = match kind {
                    Kind::Thread => {
                        decode_at::<ThreadRecord>("thread", key, &bytes).map(|stored| stored.keep_until())
                    }
                    Kind::Counter => {
                        decode_at::<CounterRecord>("counter", key, &bytes).map(|stored| stored.keep_until())
                    }
                    Kind::Answer => {
                        decode_at::<AnswerRecord>("answer", key, &bytes).map(|stored| stored.keep_until())
                    }
                    Kind::Delivery => super::deliveries::keep_until(key, &bytes).map(Some),
                    Kind::Usage => super::usage::keep_until(key, &bytes).map(Some),
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

/// Sweeps `inner` every `SWEEP_INTERVAL` until the store is dropped. The first sweep waits a full
/// interval, so that opening a store never races a sweep.
pub(super) async fn sweep_periodically(inner: Weak<Inner>) {
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

/// Returns the server clock as an instant.
fn system_now() -> Instant {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    Instant::from_millis(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
}
