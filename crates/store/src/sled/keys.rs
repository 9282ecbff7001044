//! The keys of the sled trees, and of the sweep index that names them by keep-until.

use hourglass_core::{CounterKey, Duration, Instant, MessageId, ThreadKey};

/// The kinds of records, as the sweep index names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Thread,
    Counter,
    Answer,
    /// A part of a delivery record (`deliveries`).
    Delivery,
    /// A usage row (`usage`).
    Usage,
}

/// `business_id \0 customer_id`.
pub(super) fn thread_key(thread: &ThreadKey) -> Vec<u8> {
    join(&[thread.business_id.as_str(), thread.customer_id.as_str()])
}

/// `scope \0 name`, such as `a:106540352242922 \0 free:2024-03`.
pub(super) fn counter_key(counter: &CounterKey) -> Vec<u8> {
    join(&[&counter.scope(), &counter.name()])
}

/// `scope \0 name \0 slot`: one slot of a windowed counter, such as a customer a portfolio reached.
pub(super) fn slot_key(counter: &CounterKey, slot: &str) -> Vec<u8> {
    join(&[&counter.scope(), &counter.name(), slot])
}

/// `scope \0 name \0`: the prefix of every slot key of a windowed counter.
pub(super) fn slots_prefix(counter: &CounterKey) -> Vec<u8> {
    let mut prefix = counter_key(counter);
    prefix.push(0);
    prefix
}

/// `business_id \0 customer_id \0 message_id`: a message id is unique per thread.
pub(super) fn answer_key(thread: &ThreadKey, message_id: &MessageId) -> Vec<u8> {
    join(&[
        thread.business_id.as_str(),
        thread.customer_id.as_str(),
        message_id.as_str(),
    ])
}

/// `business_id \0 message_id`: where format 1 kept answers, per business. Read, never written, until
/// the last of them expires (`RETENTION_GRACE` after an upgrade).
pub(super) fn legacy_answer_key(thread: &ThreadKey, message_id: &MessageId) -> Vec<u8> {
    join(&[thread.business_id.as_str(), message_id.as_str()])
}

/// Joins key parts with NUL bytes, which no validated id contains.
fn join(parts: &[&str]) -> Vec<u8> {
    let mut key = Vec::with_capacity(parts.iter().map(|part| part.len() + 1).sum());
    for (n, part) in parts.iter().enumerate() {
        if n > 0 {
            key.push(0);
        }
        key.extend_from_slice(part.as_bytes());
    }
    key
}

/// The granularity of the sweep index, one sweep interval: an entry names the end of the minute that
/// holds its record's keep-until, so a record is still swept at the first sweep after it is due.
const INDEX_BUCKET: Duration = Duration::MINUTE;

/// Returns the end of the index bucket holding `instant`: `instant` rounded up to a whole bucket.
pub(super) fn index_bucket(instant: Instant) -> Instant {
    let (millis, bucket) = (instant.as_millis(), INDEX_BUCKET.as_millis());
    match millis.rem_euclid(bucket) {
        0 => instant,
        past => Instant::from_millis(millis.saturating_sub(past).saturating_add(bucket)),
    }
}

/// Returns the index key of a record: its keep-until's bucket, its kind and its key.
pub(super) fn index_key(keep_until: Instant, kind: Kind, key: &[u8]) -> Vec<u8> {
    let tag = match kind {
        Kind::Thread => b't',
        Kind::Counter => b'c',
        Kind::Answer => b'a',
        Kind::Delivery => b'd',
        Kind::Usage => b'u',
    };
    let mut index_key = Vec::with_capacity(9 + key.len());
    index_key.extend_from_slice(&instant_bytes(index_bucket(keep_until)));
    index_key.push(tag);
    index_key.extend_from_slice(key);
    index_key
}

/// Splits a sweep index key into its kind and the key of the record it names.
pub(super) fn parse_index_key(index_key: &[u8]) -> Option<(Kind, &[u8])> {
    let (&tag, key) = index_key.get(8..)?.split_first()?;
    let kind = match tag {
        b't' => Kind::Thread,
        b'c' => Kind::Counter,
        b'a' => Kind::Answer,
        b'd' => Kind::Delivery,
        b'u' => Kind::Usage,
        _ => return None,
    };
    Some((kind, key))
}

/// Encodes an instant so that byte order is time order: big-endian, with the sign bit flipped.
pub(super) fn instant_bytes(instant: Instant) -> [u8; 8] {
    ((instant.as_millis() as u64) ^ (1 << 63)).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2024-03-05T10:00:00Z.
    const T0: Instant = Instant::from_millis(1_709_632_800_000);

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
}
