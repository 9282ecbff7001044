//! The Redis keys of a thread and of a counter, each group under one hash tag.
//!
//! Business ids hold only ASCII letters, digits, `-`, `_` and `.`, customer ids only digits, letters and `.` (a BSUID), and the
//! namespace no braces, so the first `{...}` of every key is the tag below, whatever a message id holds.

use hourglass_core::{CounterKey, MessageId, ThreadKey};

/// The keys of one thread, all in the slot of `{b:<business>:c:<customer>}`.
#[derive(Clone, Debug)]
pub(crate) struct ThreadKeys {
    /// `<namespace>:{b:<business>:c:<customer>}:`
    prefix: String,
}

impl ThreadKeys {
    pub(crate) fn new(namespace: &str, thread: &ThreadKey) -> ThreadKeys {
        ThreadKeys::from_parts(
            namespace,
            thread.business_id.as_str(),
            thread.customer_id.as_str(),
        )
    }

    pub(crate) fn from_parts(namespace: &str, business_id: &str, customer_id: &str) -> ThreadKeys {
        ThreadKeys {
            prefix: format!("{namespace}:{{b:{business_id}:c:{customer_id}}}:"),
        }
    }

    /// A hash: `v`, the version, bumped by every write; the state as a `ThreadRecord`, in chunks
    /// (`s`, `s1`, …); and the answers of the thread's recent messages (`answer_field`). The scripts
    /// (`scripts::THREAD_LIB`) own its layout.
    pub(crate) fn thread(&self) -> String {
        format!("{}thread", self.prefix)
    }

    /// The field of the thread hash that holds the `AnswerRecord` of a recorded message, for
    /// duplicates to repeat (after its expiry on the Redis clock). No other field of the hash begins
    /// with `m`.
    pub(crate) fn answer_field(message_id: &MessageId) -> String {
        format!("m{}", message_id.as_str())
    }

    /// A string: the `AnswerRecord` of a message recorded before answers moved into the thread hash,
    /// still read until it expires (72 h after it was written).
    pub(crate) fn legacy_answer(&self, message_id: &MessageId) -> String {
        format!("{}msg:{}", self.prefix, message_id.as_str())
    }

    /// A string: present when the thread has committed the step that holds slot `slot`. A windowed
    /// counter's slot (a customer) is claimed again by later steps of the same thread, so its receipt
    /// also names the claim's token.
    pub(crate) fn receipt(&self, slot: &str, token: Option<&str>) -> String {
        match token {
            Some(token) => format!("{}claim:{slot}:{token}", self.prefix),
            None => format!("{}claim:{slot}", self.prefix),
        }
    }
}

/// The keys of one counter, in the slot of its scope: `{a:<account>}` for the free tier.
#[derive(Clone, Debug)]
pub(crate) struct CounterKeys {
    /// A hash: slot id to the number of claims that hold it; its length is the slots taken.
    pub(crate) slots: String,
    /// A sorted set: claims not yet known to be persisted or abandoned, scored by lease deadline.
    pub(crate) pending: String,
    /// For a windowed counter, a sorted set: each slot scored by the instant (event time) its window
    /// ends.
    pub(crate) until: Option<String>,
    /// For a weighted counter, a hash: each slot's weight, and their sum in the field `=total`.
    pub(crate) weights: Option<String>,
}

impl CounterKeys {
    pub(crate) fn new(namespace: &str, counter: &CounterKey) -> CounterKeys {
        let slots = format!("{namespace}:{{{}}}:{}", counter.scope(), counter.name());
        let pending = format!("{slots}:pending");
        let until = matches!(counter, CounterKey::MessagingLimit { .. }).then(|| format!("{slots}:until"));
        let weights = counter.is_weighted().then(|| format!("{slots}:w"));
        CounterKeys {
            slots,
            pending,
            until,
            weights,
        }
    }

    /// Returns the token a receipt of this counter's claim names, if its receipts name one.
    pub(crate) fn receipt_token<'a>(&self, token: &'a str) -> Option<&'a str> {
        self.until.as_ref().map(|_| token)
    }
}

#[cfg(test)]
mod tests {
    use hourglass_core::{BusinessId, CustomerId, Month};

    use super::*;

    #[test]
    fn keys_of_a_thread_share_one_hash_tag() {
        let thread = ThreadKey {
            business_id: BusinessId::new("106540352242922").unwrap(),
            customer_id: CustomerId::new("+919800000001").unwrap(),
        };
        let keys = ThreadKeys::new("hg", &thread);
        assert_eq!(keys.thread(), "hg:{b:106540352242922:c:919800000001}:thread");
        assert_eq!(
            keys.legacy_answer(&MessageId::new("wamid.{x}").unwrap()),
            "hg:{b:106540352242922:c:919800000001}:msg:wamid.{x}"
        );
        assert_eq!(
            ThreadKeys::answer_field(&MessageId::new("wamid.{x}").unwrap()),
            "mwamid.{x}"
        );
        assert_eq!(
            keys.receipt("c0ffee", None),
            "hg:{b:106540352242922:c:919800000001}:claim:c0ffee"
        );
        let free_tier = CounterKey::FreeTier {
            account: thread.unregistered_account(),
            month: Month { year: 2024, month: 3 },
        };
        let counter = CounterKeys::new("hg", &free_tier);
        assert_eq!(counter.slots, "hg:{a:106540352242922}:free:2024-03");
        assert_eq!(counter.pending, "hg:{a:106540352242922}:free:2024-03:pending");
    }
}
