//! The free-tier counter of an account: claims on slots that stay exact across cluster slots, retries
//! and crashes.
//!
//! An account's counter for a month lives under the account's hash tag, so it may sit on another
//! cluster master than the thread whose step takes a slot, and no single script can update both. The
//! counter is therefore a set of conversations, not a number:
//!
//! - `slots` (a hash) maps each free-tier conversation id to the number of claims holding it; its
//!   length is the number of slots taken. Conversation ids are deterministic (a UUID v5 of thread,
//!   category and opening instant), so every attempt that would open the same conversation, on any
//!   replica and on every retry, claims the same field: a conversation is counted once however often
//!   it is claimed.
//! - A step that wants a slot claims it *before* its thread compare-and-set. `CLAIM` adds a field only
//!   while fewer than `limit` are taken, atomically, so the counter never passes the limit.
//! - Each claim also enters `pending` (a sorted set, scored by a lease deadline) under a token of its
//!   own. When the compare-and-set loses the race, the step gives its claim back (`RELEASE`) and starts
//!   over; the field goes when no claim holds it, so a conversation that a concurrent winner persisted
//!   keeps its slot. When the compare-and-set wins, the claim is confirmed (removed from `pending`,
//!   off the answer's path) and holds the slot for good; the thread also keeps a receipt for it.
//! - A claim whose holder died between claim and compare-and-set, or whose outcome it never learnt (a
//!   timeout), stays pending past its lease. Whoever next reads the counter and sees such a claim
//!   settles it with `FENCE` on the claim's thread: if the receipt exists the conversation was
//!   persisted and the claim is confirmed; if not, the thread's version is bumped first, so the holder's
//!   compare-and-set can never succeed any more, and the claim is released.
//!
//! So, once pending claims are settled, the slots taken are exactly the free-tier conversations that
//! threads persisted. A step that finds every slot taken while claims are still pending waits for them
//! to settle before it decides that the free tier is used up, so that no conversation is priced as
//! regular because of a claim that is then given back.

use std::hash::{BuildHasher, RandomState};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use hourglass_core::{AccountId, Month, ThreadKey};
use redis::Value;

use super::keys::{CounterKeys, ThreadKeys};
use super::scripts::{CLAIM, COUNT, FENCE, RELEASE};
use super::{Redis, int, millis, wall_clock_millis};
use crate::{Error, FREE_TIER_RETENTION};

/// A claim this process holds on a free-tier slot.
#[derive(Clone, Debug)]
pub(crate) struct Claim {
    pub(crate) keys: CounterKeys,
    pub(crate) conversation_id: String,
    /// The claim's member of the pending set: `<token> <conversation id> <business id> <customer id>`.
    member: String,
}

/// What `claim` found.
#[derive(Debug)]
pub(crate) enum Claimed {
    /// The slot is held for the conversation.
    Taken(Claim),
    /// Every slot is taken.
    Full {
        taken: u32,
        /// Claims not yet confirmed or released: while any remain, a slot may still come free.
        pending: i64,
        /// Pending claims past their lease, to settle.
        stale: i64,
    },
}

/// A counter as read for a snapshot.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Count {
    pub(crate) taken: u32,
    /// Pending claims past their lease, to settle before trusting `taken`.
    pub(crate) stale: i64,
}

impl Redis {
    /// Claims a free-tier slot of `thread`'s account in `month` for `conversation_id`, if fewer than
    /// `limit` are taken or the conversation already holds one.
    pub(crate) async fn claim(
        &self,
        thread: &ThreadKey,
        month: Month,
        conversation_id: &str,
        limit: u32,
    ) -> Result<Claimed, Error> {
        let keys = CounterKeys::new(&self.namespace, &thread.account(), month);
        let member = format!(
            "{} {conversation_id} {} {}",
            token(),
            thread.business_id,
            thread.customer_id
        );
        let now = wall_clock_millis();
        let reply = self
            .invoke(
                "free-tier claim",
                CLAIM
                    .key(&keys.slots)
                    .key(&keys.pending)
                    .arg(conversation_id)
                    .arg(&member)
                    .arg(now + millis(self.lease))
                    .arg(limit)
                    .arg(FREE_TIER_RETENTION.as_millis())
                    .arg(now),
            )
            .await?;
        let [claimed, taken, pending, stale] = fields::<4>("free-tier claim", reply)?;
        if int(&claimed)? == 1 {
            return Ok(Claimed::Taken(Claim {
                keys,
                conversation_id: conversation_id.to_owned(),
                member,
            }));
        }
        Ok(Claimed::Full {
            taken: count(&taken)?,
            pending: int(&pending)?,
            stale: int(&stale)?,
        })
    }

    /// Gives back a claim whose step did not persist its conversation.
    pub(crate) async fn release(&self, claim: &Claim) -> Result<(), Error> {
        let reply = self
            .invoke(
                "free-tier release",
                RELEASE
                    .key(&claim.keys.slots)
                    .key(&claim.keys.pending)
                    .arg(&claim.conversation_id)
                    .arg(&claim.member),
            )
            .await;
        reply.map(drop)
    }

    /// Confirms a claim whose conversation is persisted, in the background: the answer does not wait
    /// for it, and a claim left pending (this fails, the process stops) is settled by the next reader.
    pub(crate) fn confirm_in_background(&self, claim: Claim) {
        let redis = self.clone();
        tokio::spawn(async move {
            let mut command = redis::cmd("ZREM");
            command.arg(&claim.keys.pending).arg(&claim.member);
            if let Err(error) = redis.query::<Value>("free-tier confirm", &command).await {
                tracing::debug!(%error, "a free-tier claim stays pending until the next reader settles it");
            }
        });
    }

    /// Reads how many free-tier slots `account` has taken in `month`.
    pub(crate) async fn count(&self, account: &AccountId, month: Month) -> Result<Count, Error> {
        let keys = CounterKeys::new(&self.namespace, account, month);
        let reply = self
            .invoke(
                "free-tier read",
                COUNT.key(&keys.slots).key(&keys.pending).arg(wall_clock_millis()),
            )
            .await?;
        let [taken, stale] = fields::<2>("free-tier read", reply)?;
        Ok(Count {
            taken: count(&taken)?,
            stale: int(&stale)?,
        })
    }

    /// Reads a counter, settling first any claims left pending past their lease.
    pub(crate) async fn settled_count(&self, account: &AccountId, month: Month) -> Result<u32, Error> {
        let mut count = self.count(account, month).await?;
        if count.stale > 0 {
            self.settle(&CounterKeys::new(&self.namespace, account, month))
                .await?;
            count = self.count(account, month).await?;
        }
        Ok(count.taken)
    }

    /// Settles the claims of a counter that are pending past their lease: confirmed when their thread
    /// persisted the conversation, else fenced off their thread and released.
    pub(crate) async fn settle(&self, keys: &CounterKeys) -> Result<(), Error> {
        let mut command = redis::cmd("ZRANGE");
        command
            .arg(&keys.pending)
            .arg("-inf")
            .arg(wall_clock_millis())
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(256);
        let members: Vec<String> = self.query("free-tier pending read", &command).await?;
        // Settling is rare (a holder died or timed out): one claim after the other keeps it simple.
        for member in members {
            self.settle_one(keys, member).await?;
        }
        Ok(())
    }

    async fn settle_one(&self, keys: &CounterKeys, member: String) -> Result<(), Error> {
        let mut parts = member.split(' ');
        let (Some(_token), Some(conversation_id), Some(business_id), Some(customer_id), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(Error::corrupt(format!(
                "malformed pending free-tier claim {member:?} in {}",
                keys.pending
            )));
        };
        let thread = ThreadKeys::from_parts(&self.namespace, business_id, customer_id);
        let reply = self
            .invoke(
                "free-tier fence",
                FENCE
                    .key(thread.thread())
                    .key(thread.receipt(conversation_id))
                    .arg(hourglass_core::RETENTION_GRACE.as_millis()),
            )
            .await?;
        let persisted = int(&reply)? == 1;
        tracing::info!(%member, persisted, "settled a free-tier claim left pending past its lease");
        let claim = Claim {
            keys: keys.clone(),
            conversation_id: conversation_id.to_owned(),
            member,
        };
        if persisted {
            let mut command = redis::cmd("ZREM");
            command.arg(&claim.keys.pending).arg(&claim.member);
            self.query::<Value>("free-tier confirm", &command).await.map(drop)
        } else {
            self.release(&claim).await
        }
    }
}

/// Returns a token unique to this claim across processes and replicas.
fn token() -> String {
    static SEED: LazyLock<u64> = LazyLock::new(|| RandomState::new().hash_one(std::process::id()));
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{:016x}{:x}", *SEED, COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Splits a script's array reply into `N` values.
pub(crate) fn fields<const N: usize>(what: &str, reply: Value) -> Result<[Value; N], Error> {
    let bad = |reply: &dyn std::fmt::Debug| {
        Error::corrupt(format!("unexpected reply to the {what} script: {reply:?}"))
    };
    match reply {
        Value::Array(values) => <[Value; N]>::try_from(values).map_err(|values| bad(&values)),
        other => Err(bad(&other)),
    }
}

fn count(value: &Value) -> Result<u32, Error> {
    u32::try_from(int(value)?)
        .map_err(|_| Error::corrupt(format!("a free-tier count out of range: {value:?}")))
}
