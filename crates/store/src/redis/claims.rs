//! Claims on counters in Redis: slots held across cluster slots, replicas, retries and crashes. The
//! ledger (`crate::ledger`) says why counts stay exact; this is how Redis keeps its part.
//!
//! A counter lives under its scope's hash tag, so it may sit on another cluster master than the thread
//! whose step takes a slot, and no single script can update both. The counter is therefore a set of
//! slots, not a number:
//!
//! - `slots` (a hash) maps each slot id (a conversation id) to the number of claims holding it; its
//!   length is the number of slots taken. `CLAIM` adds a field only while fewer than the claim's limit
//!   are taken, atomically, so the counter never passes the limit, and a slot is counted once however
//!   often it is claimed.
//! - Each claim also enters `pending` (a sorted set, scored by a lease deadline) under a token of its
//!   own. When the thread's compare-and-set loses, the claim is given back (`RELEASE`); the field goes
//!   when no claim holds it. When it wins, the thread keeps a receipt of the slot, and the claim is
//!   confirmed (removed from `pending`, off the answer's path) and holds the slot for good.
//! - A claim whose holder died between claim and compare-and-set, or whose outcome it never learnt (a
//!   timeout), stays pending past its lease. Whoever next reads the counter and sees such a claim
//!   settles it with `FENCE` on the claim's thread: if the receipt exists the step was committed and
//!   the claim is confirmed; if not, the thread's version is bumped first, so the holder's
//!   compare-and-set can never succeed any more, and the claim is released.
//! - A reading counts settled slots only (`COUNT`): those a confirmed claim holds.
//!
//! On a single node none of this is needed for the common path: a script there may touch keys of
//! every tag, so the compare-and-set takes the step's claims itself (`Taking`, `CLAIM_LIB`), checking
//! each as `CLAIM` does before it writes anything; its slots are held by a committed step from the
//! start, never pending. `claim`, and so the pending set, stays for a cluster (and for a step whose
//! claims share a counter).

use std::hash::{BuildHasher, RandomState};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use hourglass_core::{Claim, CounterRead, Instant, RETENTION_GRACE, Reading, ThreadKey};
use redis::{ScriptInvocation, Value};

use super::keys::{CounterKeys, ThreadKeys};
use super::scripts::{CLAIM, COUNT, COUNT_WEIGHTED, COUNT_WINDOWED, FENCE, RELEASE, RELEASE_WEIGHTED};
use super::{Redis, int, millis, wall_clock_millis};
use crate::{Claimed, Error, Hold};

/// A counter as read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Count {
    /// Slots held by a confirmed claim (of a windowed counter: live ones), and whether the slot asked
    /// about is one of them.
    pub(crate) settled: Reading,
    /// Pending claims past their lease, to settle before trusting `settled`.
    pub(crate) stale: i64,
}

impl Redis {
    /// Takes `claim` for a step of `thread`: holds its slot if the slot is already taken or fewer than
    /// the claim's limit are. A counter found full is settled first when some of its claims are past
    /// their lease. The counter's TTL is `keep_until` less `now`, the entry's server clock.
    pub(crate) async fn claim(
        &self,
        claim: &Claim,
        thread: &ThreadKey,
        now: Instant,
        keep_until: Instant,
    ) -> Result<Claimed, Error> {
        let taking = Taking::new(&self.namespace, claim, now, keep_until)?;
        let token = token();
        let member = member(&token, &claim.slot, thread);
        let now = wall_clock_millis();
        let mut invocation = CLAIM.prepare_invoke();
        taking.add_to(&mut invocation);
        invocation.arg(&member).arg(now + millis(self.lease)).arg(now);
        let reply = self.invoke("counter claim", &invocation).await?;
        let (claimed, pending, stale) = match reply {
            Value::Array(values) if values.len() == 1 => (values[0].clone(), Value::Int(0), Value::Int(0)),
            reply => {
                let [claimed, pending, stale] = fields::<3>("counter claim", reply)?;
                (claimed, pending, stale)
            }
        };
        if int(&claimed)? == 1 {
            return Ok(Claimed::Held(Box::new(Hold {
                claim: claim.clone(),
                thread: thread.clone(),
                token,
                keep_until,
            })));
        }
        if int(&stale)? > 0 {
            self.settle(&CounterKeys::new(&self.namespace, &claim.counter))
                .await?;
        }
        Ok(Claimed::Full {
            unsettled: int(&pending)? > 0,
        })
    }

    /// Gives back a hold whose step was not committed. A claim no longer pending is left alone.
    pub(crate) async fn release(&self, hold: &Hold) -> Result<(), Error> {
        let keys = CounterKeys::new(&self.namespace, &hold.claim.counter);
        let member = member(&hold.token, &hold.claim.slot, &hold.thread);
        self.release_member(&keys, &hold.claim.slot, &member).await
    }

    async fn release_member(&self, keys: &CounterKeys, slot: &str, member: &str) -> Result<(), Error> {
        let mut invocation = match &keys.weights {
            Some(weights) => {
                let mut invocation = RELEASE_WEIGHTED.key(&keys.slots);
                invocation.key(&keys.pending).key(weights);
                invocation
            }
            None => {
                let mut invocation = RELEASE.key(&keys.slots);
                invocation.key(&keys.pending);
                if let Some(until) = &keys.until {
                    invocation.key(until);
                }
                invocation
            }
        };
        invocation.arg(slot).arg(member);
        self.invoke("counter release", &invocation).await.map(drop)
    }

    /// Confirms the holds of a committed step before its answer goes out, so that a read after the answer
    /// counts its slots (read your writes). A confirmation that fails leaves its claim pending; the
    /// next reader past the lease settles it, and the step stays committed.
    pub(crate) async fn confirm(&self, holds: &[Hold]) {
        let confirmations = holds.iter().map(|hold| {
            let (pending, member) = self.pending_member(hold);
            async move {
                let mut command = redis::cmd("ZREM");
                command.arg(&pending).arg(&member);
                if let Err(error) = self.query::<Value>("counter confirm", &command).await {
                    tracing::debug!(%error, "a claim stays pending until the next reader settles it");
                }
            }
        });
        futures::future::join_all(confirmations).await;
    }

    /// Returns a hold's pending set and its member there, which its confirmation removes.
    pub(crate) fn pending_member(&self, hold: &Hold) -> (String, String) {
        let keys = CounterKeys::new(&self.namespace, &hold.claim.counter);
        (keys.pending, member(&hold.token, &hold.claim.slot, &hold.thread))
    }

    /// Reads how many settled slots a counter has (of a windowed counter: live at the read's instant).
    pub(crate) async fn count(&self, read: &CounterRead) -> Result<Count, Error> {
        let asked = CountAsked::new(&self.namespace, read);
        let mut invocation = match asked.kind {
            CountKind::Windowed => COUNT_WINDOWED.key(&asked.keys[0]),
            CountKind::Weighted => COUNT_WEIGHTED.key(&asked.keys[0]),
            CountKind::Slots => COUNT.key(&asked.keys[0]),
        };
        invocation.key(&asked.keys[1]);
        if asked.kind != CountKind::Slots {
            invocation.key(&asked.keys[2]);
        }
        invocation.arg(wall_clock_millis());
        if asked.kind == CountKind::Windowed {
            invocation.arg(&asked.at).arg(&asked.slot);
        }
        let reply = self.invoke("counter read", &invocation).await?;
        asked.decode(fields::<3>("counter read", reply)?)
    }

    /// Reads a counter, settling first any claims left pending past their lease.
    pub(crate) async fn settled_reading(&self, read: &CounterRead) -> Result<Reading, Error> {
        let mut count = self.count(read).await?;
        if count.stale > 0 {
            self.settle(&CounterKeys::new(&self.namespace, &read.counter))
                .await?;
            count = self.count(read).await?;
        }
        Ok(count.settled)
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
        let members: Vec<String> = self.query("counter pending read", &command).await?;
        // Settling is rare (a holder died or timed out): one claim after the other keeps it simple.
        for member in members {
            self.settle_one(keys, member).await?;
        }
        Ok(())
    }

    async fn settle_one(&self, keys: &CounterKeys, member: String) -> Result<(), Error> {
        let mut parts = member.split(' ');
        let (Some(token), Some(slot), Some(business_id), Some(customer_id), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(Error::corrupt(format!(
                "malformed pending claim {member:?} in {}",
                keys.pending
            )));
        };
        let thread = ThreadKeys::from_parts(&self.namespace, business_id, customer_id);
        let reply = self
            .invoke(
                "counter fence",
                FENCE
                    .key(thread.thread())
                    .key(thread.receipt(slot, keys.receipt_token(token)))
                    .arg(hourglass_core::RETENTION_GRACE.as_millis()),
            )
            .await?;
        let persisted = int(&reply)? == 1;
        tracing::info!(slot, persisted, "settled a claim left pending past its lease");
        if persisted {
            let mut command = redis::cmd("ZREM");
            command.arg(&keys.pending).arg(&member);
            self.query::<Value>("counter confirm", &command).await.map(drop)
        } else {
            self.release_member(keys, slot, &member).await
        }
    }
}

/// Returns the member of a claim in a pending set: `<token> <slot> <business id> <customer id>`, so
/// that whoever settles it can find the thread's receipt. Slot ids, business and customer ids hold no
/// spaces.
fn member(token: &str, slot: &str, thread: &ThreadKey) -> String {
    format!("{token} {slot} {} {}", thread.business_id, thread.customer_id)
}

/// Returns a token unique to this claim across processes and replicas.
pub(crate) fn token() -> String {
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

fn count(value: &Value) -> Result<u64, Error> {
    u64::try_from(int(value)?).map_err(|_| Error::corrupt(format!("a counter out of range: {value:?}")))
}

/// Returns a weighted counter's settled weight: its total less the weights of its unsettled slots, all
/// decimal strings, computed in 64-bit integers.
fn settled_weight(total: &Value, unsettled: &Value) -> Result<u64, Error> {
    let weight = |value: &Value| -> Result<u64, Error> {
        let bad = || Error::corrupt(format!("a weight out of range: {value:?}"));
        match value {
            Value::BulkString(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|text| text.parse::<u64>().ok())
                .ok_or_else(bad),
            Value::Int(number) => u64::try_from(*number).map_err(|_| bad()),
            _ => Err(bad()),
        }
    };
    let pending = match unsettled {
        Value::Array(values) => values.iter().try_fold(0_u64, |sum, value| {
            Ok::<_, Error>(sum.saturating_add(weight(value)?))
        })?,
        _ => 0,
    };
    Ok(weight(total)?.saturating_sub(pending))
}

/// Returns the server clock as an RFC 3339 instant, for the marker's value.
pub(crate) fn wall_clock_rfc3339() -> String {
    hourglass_core::Instant::from_millis(wall_clock_millis()).to_string()
}

/// Which of `COUNT_LIB`'s readings a counter takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CountKind {
    Slots,
    Windowed,
    Weighted,
}

/// How one counter is read (`scripts::COUNT_LIB`): by its own script, or inside the thread's read on a
/// single node (`READ_THREAD`).
pub(crate) struct CountAsked {
    pub(crate) kind: CountKind,
    /// The slots hash, the pending set, and the until set or the weights hash (for a plain counter,
    /// the pending set again, unread).
    pub(crate) keys: [String; 3],
    /// The instant and the slot asked about, of a windowed read; empty otherwise.
    pub(crate) at: String,
    pub(crate) slot: String,
}

impl CountAsked {
    pub(crate) fn new(namespace: &str, read: &CounterRead) -> CountAsked {
        let keys = CounterKeys::new(namespace, &read.counter);
        match (&read.window, keys.until, keys.weights) {
            (Some((at, slot)), Some(until), _) => CountAsked {
                kind: CountKind::Windowed,
                keys: [keys.slots, keys.pending, until],
                at: at.as_millis().to_string(),
                slot: slot.to_string(),
            },
            (None, None, Some(weights)) => CountAsked {
                kind: CountKind::Weighted,
                keys: [keys.slots, keys.pending, weights],
                at: String::new(),
                slot: String::new(),
            },
            _ => CountAsked {
                kind: CountKind::Slots,
                keys: [keys.slots, keys.pending.clone(), keys.pending],
                at: String::new(),
                slot: String::new(),
            },
        }
    }

    /// Returns the count a reading's three values say.
    pub(crate) fn decode(&self, [first, second, third]: [Value; 3]) -> Result<Count, Error> {
        let (settled, stale) = match self.kind {
            CountKind::Windowed => (
                Reading {
                    used: count(&first)?,
                    has_slot: int(&third)? == 1,
                },
                second,
            ),
            CountKind::Weighted => (
                Reading {
                    used: settled_weight(&first, &second)?,
                    has_slot: false,
                },
                third,
            ),
            CountKind::Slots => (
                Reading {
                    used: count(&first)?,
                    has_slot: false,
                },
                second,
            ),
        };
        Ok(Count {
            settled,
            stale: int(&stale)?,
        })
    }
}

/// How one claim is taken (`scripts::CLAIM_LIB`): by `CLAIM`, or inside the compare-and-set on a
/// single node (`scripts::COMPARE_AND_SET_ALL`), with the same three keys and eight values.
pub(crate) struct Taking {
    /// The slots hash, the pending set, and the until set or the weights hash (for a counter of
    /// slots, the pending set again, unread).
    keys: [String; 3],
    /// The kind (`c`, `w` or `g`), slot, limit, weight, window start, window end, forget-before and
    /// TTL (milliseconds).
    args: [String; 8],
}

impl Taking {
    /// Returns how `claim` is taken, its counter kept until `keep_until` (server clock, from `now`).
    pub(crate) fn new(
        namespace: &str,
        claim: &Claim,
        now: Instant,
        keep_until: Instant,
    ) -> Result<Taking, Error> {
        let keys = CounterKeys::new(namespace, &claim.counter);
        let (kind, third) = match (claim.window, keys.until, keys.weights) {
            (Some(_), Some(until), None) => ("w", until),
            (None, None, Some(weights)) => ("g", weights),
            (None, None, None) => ("c", keys.pending.clone()),
            _ => {
                return Err(Error::Config {
                    message: format!("a claim on {:?} with the wrong kind of window", claim.counter),
                });
            }
        };
        let window = |at: fn(&hourglass_core::Span) -> Instant| {
            claim
                .window
                .as_ref()
                .map_or_else(String::new, |window| at(window).as_millis().to_string())
        };
        Ok(Taking {
            keys: [keys.slots, keys.pending, third],
            args: [
                kind.to_owned(),
                claim.slot.clone(),
                claim.limit.to_string(),
                claim.weight.to_string(),
                window(|window| window.start),
                window(|window| window.end),
                window(|window| window.start.minus(RETENTION_GRACE)),
                keep_until.since(now).as_millis().max(1).to_string(),
            ],
        })
    }

    /// Adds the claim's keys and values to a script's.
    pub(crate) fn add_to(&self, invocation: &mut ScriptInvocation<'_>) {
        for key in &self.keys {
            invocation.key(key);
        }
        for arg in &self.args {
            invocation.arg(arg);
        }
    }
}
