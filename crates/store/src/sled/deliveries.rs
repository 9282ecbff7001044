//! Delivery records in sled: one tree, `deliveries`, keyed `account \0 day \0 message \0 part`, where
//! `day` is the day's first instant as `keys::instant_bytes` writes it (so an account's days sort in
//! time order), `message` a `MessageRef` written out, and `part` `p` (the prediction, written by the
//! writer with its step) or `r` (Meta's report, written by compare-and-swap and flushed). Each value is
//! the record's keep-until and version (8 bytes each, big-endian) and then the record; the sweep index
//! names both parts (kind `d`).

use ::sled::IVec;
use ::sled::transaction::{TransactionalTree, UnabortableTransactionError};
use hourglass_core::{AccountId, Day, Instant};

use super::keys::{Kind, index_key, instant_bytes};
use super::{Inner, from_sled};
use crate::{DeliveryKey, DeliveryRaw, Error, Version};

const PREDICTION: u8 = b'p';
pub(super) const REPORT: u8 = b'r';

/// `account \0 day \0`: the prefix of an account's records of one day.
fn day_prefix(account: &AccountId, day: Day) -> Vec<u8> {
    let mut key = Vec::with_capacity(account.as_str().len() + 10);
    key.extend_from_slice(account.as_str().as_bytes());
    key.push(0);
    key.extend_from_slice(&instant_bytes(day.start()));
    key.push(0);
    key
}

pub(super) fn part_key(key: &DeliveryKey, part: u8) -> Vec<u8> {
    let mut bytes = day_prefix(&key.account, key.day);
    bytes.extend_from_slice(key.message.to_string().as_bytes());
    bytes.push(0);
    bytes.push(part);
    bytes
}

/// A value: keep-until, version, record.
pub(super) fn value(keep_until: Instant, version: Version, record: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(16 + record.len());
    value.extend_from_slice(&keep_until.as_millis().to_be_bytes());
    value.extend_from_slice(&version.0.to_be_bytes());
    value.extend_from_slice(record);
    value
}

/// Splits a value into its keep-until, version and record.
pub(super) fn split(key: &[u8], value: &[u8]) -> Result<(Instant, Version, Vec<u8>), Error> {
    let corrupt = || {
        Error::corrupt(format!(
            "delivery record {:?} is shorter than its header",
            String::from_utf8_lossy(key)
        ))
    };
    let (keep_until, rest) = value.split_first_chunk::<8>().ok_or_else(corrupt)?;
    let (version, record) = rest.split_first_chunk::<8>().ok_or_else(corrupt)?;
    Ok((
        Instant::from_millis(i64::from_be_bytes(*keep_until)),
        Version(u64::from_be_bytes(*version)),
        record.to_vec(),
    ))
}

/// Returns a stored delivery record's keep-until, for the sweep.
pub(super) fn keep_until(key: &[u8], value: &[u8]) -> Result<Instant, Error> {
    split(key, value).map(|(keep_until, _, _)| keep_until)
}

/// Writes a prediction inside the writer's transaction, with its sweep index entry, and returns
/// whether it is new. A prediction is the same for every retry of its step, so writing it again
/// changes only how long it is kept.
pub(super) fn put_prediction(
    deliveries: &TransactionalTree,
    expiry: &TransactionalTree,
    key: &DeliveryKey,
    record: &[u8],
    keep_until: Instant,
) -> Result<bool, UnabortableTransactionError> {
    let key = part_key(key, PREDICTION);
    let kept = deliveries
        .get(&key)?
        .and_then(|stored| split(&key, &stored).ok())
        .map(|(kept, _, _)| kept);
    let keep_until = kept.map_or(keep_until, |kept| kept.max(keep_until));
    deliveries.insert(key.as_slice(), value(keep_until, Version(0), record))?;
    if kept != Some(keep_until) {
        expiry.insert(index_key(keep_until, Kind::Delivery, &key), Vec::new())?;
    }
    Ok(kept.is_none())
}

impl Inner {
    pub(super) fn read_deliveries(&self, keys: &[DeliveryKey]) -> Result<Vec<DeliveryRaw>, Error> {
        keys.iter()
            .map(|key| {
                let read = |part| -> Result<Option<(Version, Vec<u8>)>, Error> {
                    let key = part_key(key, part);
                    match self.deliveries.get(&key).map_err(from_sled)? {
                        Some(value) => {
                            split(&key, &value).map(|(_, version, record)| Some((version, record)))
                        }
                        None => Ok(None),
                    }
                };
                Ok(DeliveryRaw {
                    prediction: read(PREDICTION)?.map(|(_, record)| record),
                    report: read(REPORT)?,
                })
            })
            .collect()
    }

    /// Writes a report if it is still at `expected`, and flushes. Blocks on the disk.
    pub(super) fn write_report(
        &self,
        key: &DeliveryKey,
        expected: Version,
        record: &[u8],
        keep_until: Instant,
    ) -> Result<bool, Error> {
        self.check_failure()?;
        let key = part_key(key, REPORT);
        let current = self.deliveries.get(&key).map_err(from_sled)?;
        let (version, keep_until) = match &current {
            Some(stored) => {
                let (kept, version, _) = split(&key, stored)?;
                (version, kept.max(keep_until))
            }
            None => (Version(0), keep_until),
        };
        if version != expected {
            return Ok(false);
        }
        // The index entry goes first: a sweep drops an entry whose record lives in another bucket, so
        // one left by a lost race costs nothing.
        self.expiry
            .insert(index_key(keep_until, Kind::Delivery, &key), Vec::new())
            .map_err(|error| self.fail(format!("a write failed: {error}")))?;
        let next = value(keep_until, Version(version.0 + 1), record);
        self.swap_durably(&self.deliveries, &key, current, next)
    }

    pub(super) fn list_deliveries(
        &self,
        account: &AccountId,
        day: Day,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, DeliveryRaw)>, Error> {
        let prefix = day_prefix(account, day);
        let mut start = prefix.clone();
        if let Some(after) = after {
            // Past every part of `after`: its parts are `after \0 p` and `after \0 r`.
            start.extend_from_slice(after.as_bytes());
            start.push(1);
        }
        let mut listed: Vec<(String, DeliveryRaw)> = Vec::new();
        for item in self.deliveries.range::<Vec<u8>, _>(start..) {
            let (key, stored): (IVec, IVec) = item.map_err(from_sled)?;
            let Some(rest) = key.strip_prefix(prefix.as_slice()) else {
                break;
            };
            let Some((&part, message)) = rest
                .split_last()
                .and_then(|(part, rest)| rest.strip_suffix(&[0]).map(|message| (part, message)))
            else {
                return Err(Error::corrupt(format!(
                    "malformed delivery key {:?}",
                    String::from_utf8_lossy(&key)
                )));
            };
            let message = String::from_utf8_lossy(message).into_owned();
            if listed.last().is_none_or(|(last, _)| *last != message) {
                if listed.len() >= limit {
                    break;
                }
                listed.push((message, DeliveryRaw::default()));
            }
            let (_, version, record) = split(&key, &stored)?;
            let raw = &mut listed.last_mut().expect("pushed above").1;
            match part {
                PREDICTION => raw.prediction = Some(record),
                REPORT => raw.report = Some((version, record)),
                _ => {
                    return Err(Error::corrupt(format!(
                        "delivery key {:?} names no part",
                        String::from_utf8_lossy(&key)
                    )));
                }
            }
        }
        Ok(listed)
    }
}
