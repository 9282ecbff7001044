//! Usage rows in sled: one tree, `usage`, keyed `account \0 day \0 field`, where `day` is the day's
//! number as `keys::instant_bytes` writes its first instant in UTC (so an account's days sort in time
//! order) and `field` the row's other dimensions (`format::usage::row_field`). Each value is the row's
//! keep-until (8 bytes, big-endian) and its counts (`format::usage::encode_counts`). A row is changed
//! only inside a transaction that writes what counts it: a new prediction (the writer's) or a report
//! (`write_report`); the sweep index names it (kind `u`).

use ::sled::IVec;
use ::sled::Transactional;
use ::sled::transaction::{ConflictableTransactionError, ConflictableTransactionResult, TransactionalTree};
use hourglass_core::{AccountId, Day, Instant, UsageChange, UsageCounts, UsageRow};

use super::deliveries::{REPORT, part_key, split, value};
use super::keys::{Kind, index_key, instant_bytes};
use super::{Inner, from_sled, from_transaction};
use crate::format::usage::{decode_counts, encode_counts, parse_row, row_field};
use crate::{DeliveryKey, Error, Version};

/// `account \0 day \0`: the prefix of an account's rows of one day.
fn day_prefix(account: &AccountId, day: Day) -> Vec<u8> {
    let mut key = Vec::with_capacity(account.as_str().len() + 10);
    key.extend_from_slice(account.as_str().as_bytes());
    key.push(0);
    key.extend_from_slice(&instant_bytes(day.start()));
    key.push(0);
    key
}

fn row_key(row: &UsageRow) -> Vec<u8> {
    let mut key = day_prefix(&row.account, row.day);
    key.extend_from_slice(row_field(row).as_bytes());
    key
}

/// Splits a stored row into its keep-until and counts.
fn split_row(key: &[u8], value: &[u8]) -> Result<(Instant, UsageCounts), Error> {
    let name = format!("usage row {:?}", String::from_utf8_lossy(key));
    let (keep_until, counts) = value
        .split_first_chunk::<8>()
        .ok_or_else(|| Error::corrupt(format!("{name} is shorter than its header")))?;
    Ok((
        Instant::from_millis(i64::from_be_bytes(*keep_until)),
        decode_counts(&name, counts)?,
    ))
}

/// Returns a stored row's keep-until, for the sweep.
pub(super) fn keep_until(key: &[u8], value: &[u8]) -> Result<Instant, Error> {
    split_row(key, value).map(|(keep_until, _)| keep_until)
}

/// Adds a change to its row inside a transaction, with the row's sweep index entry.
pub(super) fn add_usage(
    usage: &TransactionalTree,
    expiry: &TransactionalTree,
    change: &UsageChange,
    keep_until: Instant,
) -> ConflictableTransactionResult<(), Error> {
    let key = row_key(&change.row);
    let (kept, mut counts) = match usage.get(&key)? {
        Some(stored) => {
            let (kept, counts) = split_row(&key, &stored).map_err(ConflictableTransactionError::Abort)?;
            (Some(kept), counts)
        }
        None => (None, UsageCounts::default()),
    };
    counts.add(&change.counts);
    let keep_until = kept.map_or(keep_until, |kept| kept.max(keep_until));
    let mut stored = keep_until.as_millis().to_be_bytes().to_vec();
    stored.extend_from_slice(&encode_counts(&counts));
    usage.insert(key.as_slice(), stored)?;
    super::writer::reindex(expiry, Kind::Usage, &key, kept, keep_until)?;
    Ok(())
}

impl Inner {
    /// Writes a report if it is still at `expected`, and adds `change` to its usage row, in one
    /// transaction; then flushes. Blocks on the disk.
    pub(super) fn write_report_with_usage(
        &self,
        key: &DeliveryKey,
        expected: Version,
        record: &[u8],
        keep_until: Instant,
        change: &UsageChange,
        usage_keep_until: Instant,
    ) -> Result<bool, Error> {
        self.check_failure()?;
        let key = part_key(key, REPORT);
        let trees = (&self.deliveries, &self.usage, &self.expiry);
        let written = trees
            .transaction(|(deliveries, usage, expiry)| {
                let (version, keep_until) = match deliveries.get(&key)? {
                    Some(stored) => {
                        let (kept, version, _) =
                            split(&key, &stored).map_err(ConflictableTransactionError::Abort)?;
                        (version, kept.max(keep_until))
                    }
                    None => (Version(0), keep_until),
                };
                if version != expected {
                    return Ok(false);
                }
                expiry.insert(index_key(keep_until, Kind::Delivery, &key), Vec::new())?;
                deliveries.insert(key.as_slice(), value(keep_until, Version(version.0 + 1), record))?;
                add_usage(usage, expiry, change, usage_keep_until)?;
                Ok(true)
            })
            .map_err(|error| match from_transaction(error) {
                Error::Unavailable { message, .. } => self.fail(format!("a write failed: {message}")),
                other => other,
            })?;
        if written {
            self.db
                .flush()
                .map_err(|error| self.fail(format!("a flush failed: {error}")))?;
            self.check_directory()?;
        }
        Ok(written)
    }

    pub(super) fn read_usage(
        &self,
        account: &AccountId,
        days: &[Day],
    ) -> Result<Vec<(UsageRow, UsageCounts)>, Error> {
        let mut rows = Vec::new();
        for day in days {
            let prefix = day_prefix(account, *day);
            for item in self.usage.scan_prefix(&prefix) {
                let (key, stored): (IVec, IVec) = item.map_err(from_sled)?;
                let field = std::str::from_utf8(&key[prefix.len()..]).map_err(|_| {
                    Error::corrupt(format!(
                        "usage key {:?} is not UTF-8",
                        String::from_utf8_lossy(&key)
                    ))
                })?;
                let (_, counts) = split_row(&key, &stored)?;
                rows.push((parse_row(account, *day, field)?, counts));
            }
        }
        Ok(rows)
    }
}
