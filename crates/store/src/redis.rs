//! `RedisStore`: threads, answers and counters in Redis or Redis Cluster, shared by any number of
//! server replicas.
//!
//! # Keys
//!
//! Every key of a thread shares the hash tag `{b:<business>:c:<customer>}`, so one script touches one
//! cluster slot; a counter lives under its scope's tag (`{a:<account>}`):
//!
//! | key | type | holds | TTL |
//! |---|---|---|---|
//! | `hg:{b:B:c:C}:thread` | hash | `v` (version), `s`, `s1`, … (a `ThreadRecord` in chunks of 64 bytes), `m<message id>` (its expiry and `AnswerRecord`) | until the thread's keep-until, at least each answer's `RETENTION_GRACE` (72 h) |
//! | `hg:{b:B:c:C}:msg:<message id>` | string | an `AnswerRecord` written before answers moved into the thread hash; read, never written | `RETENTION_GRACE` (72 h) |
//! | `hg:{b:B:c:C}:claim:<slot>` | string | receipt of a committed step's slot, claimed before its commit (a cluster) | the counter's retention |
//! | `hg:{a:A}:free:<YYYY-MM>` | hash | slot (conversation id) → claims holding it | `FREE_TIER_RETENTION` |
//! | `hg:{a:A}:free:<YYYY-MM>:pending` | sorted set | unconfirmed claims by lease deadline | `FREE_TIER_RETENTION` |
//! | `hg:{a:A}:dlv:<YYYY-MM-DD>` | hash | predictions and Meta's reports of the day's messages (`deliveries`) | `DELIVERY_RETENTION` |
//! | `hg:{a:A}:dlv:<YYYY-MM-DD>:refs` | sorted set | the day's messages, for listing | `DELIVERY_RETENTION` |
//! | `hg:registry:gen` | string | the registry's generation (`entries`), `INCR`ed after each write of a business, account, portfolio or template | none |
//!
//! TTLs are the ledger's keep-until instants less the server clock, and only ever grow: they reclaim
//! memory and never decide anything, since every stored instant is compared with the event time.
//!
//! **Idempotency is per thread**, as on every backend: the answer of a message id is kept in the
//! thread's hash, written in the same compare-and-set as the state, with its own expiry on the Redis
//! clock (`scripts::THREAD_LIB`): one key per thread instead of one per message, the most of the
//! memory an active thread saves.
//!
//! # The step
//!
//! The ledger runs the step in Rust between scripts that are storage primitives only (optimistic
//! concurrency): `read` runs `READ_THREAD` (version, state and the answer of the message id, and
//! the customer's link and consent, which live under the thread's hash tag; on a single node also
//! the registry's generation and the counters it needs), `claim` runs `CLAIM` on each counter
//! (`claims`), and `commit` runs `COMPARE_AND_SET`, which writes the state, the answer, the
//! receipts and the TTLs if the version is still the one read, and otherwise returns the current
//! version, state and answer, so that the retry does not read again. On a single node the ledger
//! claims nothing before (`claims_with_commit`): `commit` runs `COMPARE_AND_SET_ALL` instead, which
//! also takes the step's claims (all with the write, or none and nothing written) and writes its
//! prediction and usage row in the same script; a cluster claims before and sends the confirmations
//! and the prediction after, each to its own slot.
//!
//! Round trips: `Authorize` and `ListOpenConversations` take one (on a single node one script reads
//! the thread, the customer's link and consent, the registry's generation and the counters; a
//! cluster reads the counters and the generation from their own nodes at the same time); on a
//! single node `RecordMessage` takes two (read, compare-and-set), however many counters it claims;
//! on a cluster one more before the compare-and-set when it claims counter slots (all of a step's
//! together, `ledger::claim_all`), and an allowed outbound message one more after it (its
//! prediction, in the account's slot, beside the confirmation of its claims: the answer waits for
//! both, so that a read after it counts the slot). Each lost race costs one more. The registry's
//! facts cost none while the replica's cache holds them under the current generation
//! (`registry::Cache`: the generation is read in the first round), and up to three more reads once
//! per replica after a registry write.
//!
//! # Failures
//!
//! Every command is bounded by the store timeout (`RedisOptions::timeout`, 500 ms by default) and fails
//! with `Error::Unavailable`. Connections are multiplexed and reconnect by themselves when Redis comes
//! back; `check_connectivity` sends `PING`.
//!
//! A Redis that comes back empty (restarted without persistence, `FLUSHALL`, a failover to a replica
//! that had nothing) has forgotten every window, message id and count, so retried messages would be
//! billed again. `check_connectivity` therefore also reads a marker key, `<namespace>:marker`, which the
//! first check of a store writes when there is none and every later check expects to find unchanged. A
//! marker gone or replaced is `Error::Failed`, logged and reported by health, and the server restarts:
//! the loss is on record, and the store serves on from the emptied Redis after the restart. In a
//! cluster, the marker lives on one master: a master that loses its data alone goes unnoticed.

mod claims;
mod connection;
mod deliveries;
mod entries;
mod keys;
mod scripts;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::try_join_all;
use hourglass_core::{
    AccountId, Claim, CounterRead, Counters, Day, Instant, MessageId, Snapshot, ThreadKey, ThreadState,
    UsageCounts, UsageRow,
};
use redis::{Cmd, FromRedisValue, ScriptInvocation, Value};

use self::claims::{Count, CountAsked, CountKind, Taking, fields};
use self::connection::Connection;
use self::keys::{CounterKeys, ThreadKeys};
use self::scripts::{COMPARE_AND_SET, COMPARE_AND_SET_ALL, MARKER, READ_THREAD};
use crate::format::delivery::PredictionRecord;
use crate::format::{AnswerRecord, Record, ThreadRecord, encode};
use crate::{
    Claimed, Commit, Committed, DeliveryKey, DeliveryRaw, Error, Hold, Read, ReadPlan, Store, UsageWrite,
    Version, registry,
};

/// The store timeout when none is given: well under a second, far above a healthy Redis's latency.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

/// The prefix of every key when none is given.
pub const DEFAULT_NAMESPACE: &str = "hg";

/// How long a claim may stay unconfirmed before a reader settles it.
const CLAIM_LEASE: Duration = Duration::from_secs(5);

/// How a `RedisStore` connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisOptions {
    /// The longest any one Redis command may take before the call fails with `Error::Unavailable`.
    pub timeout: Duration,
    /// The first part of every key (`hg` by default); tests use a fresh one each. No braces.
    pub namespace: String,
}

impl Default for RedisOptions {
    fn default() -> RedisOptions {
        RedisOptions {
            timeout: DEFAULT_TIMEOUT,
            namespace: DEFAULT_NAMESPACE.to_owned(),
        }
    }
}

/// A store in Redis (`redis://HOST:PORT[/DB]`) or Redis Cluster (`redis+cluster://H1:P1,H2:P2,...`).
#[derive(Clone, Debug)]
pub struct RedisStore {
    redis: Redis,
    /// This replica's cache of registry entries, shared by the store's clones.
    cache: Arc<registry::Cache>,
}

/// A connection with its timeout and namespace: what every command needs.
#[derive(Clone, Debug)]
pub(crate) struct Redis {
    connection: Connection,
    timeout: Duration,
    namespace: Arc<str>,
    lease: Duration,
    /// The marker this store found or wrote at its first check.
    marker: Arc<Mutex<Option<String>>>,
}

impl RedisStore {
    /// Sets up a store for a `redis://` or `redis+cluster://` URL. Connections are made on first use, so
    /// this succeeds while Redis is down; `check_connectivity` tells whether it is up.
    pub fn open(url: &str, options: RedisOptions) -> Result<RedisStore, Error> {
        let RedisOptions { timeout, namespace } = options;
        if namespace.is_empty() || namespace.contains(['{', '}']) {
            return Err(Error::Config {
                message: format!("Redis key namespace {namespace:?} must be non-empty and hold no braces"),
            });
        }
        if timeout.is_zero() {
            return Err(Error::Config {
                message: "the Redis store timeout must be more than zero".to_owned(),
            });
        }
        let connection = Connection::open(url, timeout)?;
        Ok(RedisStore {
            redis: Redis {
                connection,
                timeout,
                namespace: namespace.into(),
                lease: CLAIM_LEASE,
                marker: Arc::default(),
            },
            cache: Arc::default(),
        })
    }

    /// Returns the store timeout.
    pub fn timeout(&self) -> Duration {
        self.redis.timeout
    }

    /// Returns the key namespace.
    pub fn namespace(&self) -> &str {
        &self.redis.namespace
    }

    /// Shortens how long claims stay unconfirmed before they are settled, for tests of holders that
    /// die.
    #[cfg(test)]
    pub(crate) fn with_lease(mut self, lease: Duration) -> RedisStore {
        self.redis.lease = lease;
        self
    }

    /// Checks that Redis still holds what this store saw at its first check (see "Failures").
    async fn check_marker(&self) -> Result<(), Error> {
        let key = format!("{}:marker", self.redis.namespace);
        let known = self
            .redis
            .marker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        // Always a new value: a store that finds the marker gone writes one that no other store knows,
        // so that every store that knew the old one notices too.
        let candidate = format!(
            "written {} by process {} ({})",
            claims::wall_clock_rfc3339(),
            std::process::id(),
            claims::token()
        );
        let reply = self
            .redis
            .invoke("marker check", MARKER.key(&key).arg(&candidate))
            .await?;
        let [found, value] = fields::<2>("marker check", reply)?;
        let value: String = redis::from_redis_value_ref(&value)
            .map_err(|error| Error::corrupt(format!("{key} is not a string: {error}")))?;
        match known {
            None => {
                *self.redis.marker.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
                Ok(())
            }
            Some(known) if int(&found)? == 1 && value == known => Ok(()),
            Some(known) => Err(Error::Failed {
                message: format!(
                    "Redis lost its data: the marker {key} ({known}) is gone or replaced ({value}); \
                     windows, message ids and counts recorded before are forgotten, so retried messages \
                     may be decided and billed again"
                ),
            }),
        }
    }

    /// Reads a thread's version and state, the answer of the plan's message id, the plan's entries (in
    /// the same script those under the thread's hash tag, its customer's; the others beside it) and the
    /// generation if asked; on a `single_node`, where a script may touch keys of any hash tag, the
    /// generation and the counts of the plan's counters inside the same script (returned apart, to be
    /// settled by the caller), else the generation beside it and no count.
    async fn read_thread(&self, plan: &ReadPlan, single_node: bool) -> Result<(Read, Vec<Count>), Error> {
        let counters: &[CounterRead] = if single_node { &plan.counters } else { &[] };
        let keys = ThreadKeys::new(&self.redis.namespace, &plan.thread);
        let thread_key = keys.thread();
        let mut invocation = READ_THREAD.key(&thread_key);
        let answer = match &plan.message_id {
            Some(message_id) => {
                invocation
                    .key(keys.legacy_answer(message_id))
                    .arg(ThreadKeys::answer_field(message_id));
                answer_name(&thread_key, message_id)
            }
            // No answer to read: the thread's own key stands in for the legacy answer's, unread.
            None => {
                invocation.key(&thread_key).arg("");
                String::new()
            }
        };
        let (beside, apart): (Vec<_>, Vec<_>) = plan
            .entries
            .iter()
            .enumerate()
            .partition(|(_, key)| key.customer() == Some(&plan.thread));
        let names: Vec<String> = beside.iter().map(|(_, key)| self.redis.entry_key(key)).collect();
        for name in &names {
            invocation.key(name);
        }
        invocation.arg(names.len()).arg(wall_clock_millis());
        // A single node reads the generation in the same script; a cluster keeps it in a slot of its
        // own, read beside.
        let generation_inside = plan.generation && single_node;
        if generation_inside {
            invocation.key(self.redis.generation_key());
        }
        invocation.arg(if generation_inside { "1" } else { "0" });
        let asked: Vec<CountAsked> = counters
            .iter()
            .map(|read| CountAsked::new(&self.redis.namespace, read))
            .collect();
        for count in &asked {
            for key in &count.keys {
                invocation.key(key);
            }
            let kind = match count.kind {
                CountKind::Slots => "c",
                CountKind::Windowed => "w",
                CountKind::Weighted => "g",
            };
            invocation.arg(kind).arg(&count.at).arg(&count.slot);
        }
        let apart_keys: Vec<registry::Key> = apart.iter().map(|(_, key)| (*key).clone()).collect();
        let generation_apart = async {
            match plan.generation && !generation_inside {
                true => self.redis.registry_generation().await.map(Some),
                false => Ok(None),
            }
        };
        let (reply, apart_read, generation) = tokio::join!(
            self.redis.invoke("thread read", &invocation),
            self.redis.read_entries(&apart_keys),
            generation_apart
        );
        let bad = |reply: &dyn std::fmt::Debug| {
            Error::corrupt(format!("unexpected reply to the thread read script: {reply:?}"))
        };
        let Value::Array(values) = reply? else {
            return Err(bad(&"not an array"));
        };
        if values.len() != 3 + 2 * names.len() + usize::from(generation_inside) + 3 * asked.len() {
            return Err(bad(&values));
        }
        let mut values = values.into_iter();
        let mut next = || values.next().unwrap_or(Value::Nil);
        let (version, state, prior) = (next(), next(), next());
        let mut read = decode_read(&thread_key, &answer, version, state, prior)?;
        read.entries = vec![None; plan.entries.len()];
        for ((index, _), name) in beside.iter().zip(&names) {
            let (version, record) = (bulk(name, next())?, bulk(name, next())?);
            read.entries[*index] = entries::raw(name, version, record)?;
        }
        for ((index, _), raw) in apart.iter().zip(apart_read?) {
            read.entries[*index] = raw;
        }
        read.generation = match generation_inside {
            true => Some(entries::generation(next())?),
            false => generation?,
        };
        let counts = asked
            .iter()
            .map(|count| count.decode([next(), next(), next()]))
            .collect::<Result<_, Error>>()?;
        Ok((read, counts))
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn check_connectivity(&self) -> Result<(), Error> {
        self.redis.query::<Value>("PING", &redis::cmd("PING")).await?;
        self.check_marker().await
    }

    async fn read(&self, plan: &ReadPlan) -> Result<Read, Error> {
        // A cluster reads the thread and the counters together, from several nodes at once; a single
        // node counts inside the thread's script: one command. A count with claims pending past their
        // lease is read again after they are settled (`settled_reading`), which is rare.
        if self.redis.connection.is_cluster() {
            let (read, counters) =
                tokio::join!(self.read_thread(plan, false), self.read_counters(&plan.counters));
            let (mut read, _) = read?;
            read.snapshot.counters = counters?;
            return Ok(read);
        }
        let (mut read, counts) = self.read_thread(plan, true).await?;
        let mut counters = Vec::with_capacity(counts.len());
        for (counter, count) in plan.counters.iter().zip(counts) {
            let reading = if count.stale > 0 {
                self.redis.settled_reading(counter).await?
            } else {
                count.settled
            };
            counters.push((counter.counter.clone(), reading));
        }
        read.snapshot.counters = counters.into_iter().collect();
        Ok(read)
    }

    async fn read_counters(&self, reads: &[CounterRead]) -> Result<Counters, Error> {
        let readings = try_join_all(reads.iter().map(|read| async move {
            Ok::<_, Error>((read.counter.clone(), self.redis.settled_reading(read).await?))
        }))
        .await?;
        Ok(readings.into_iter().collect())
    }

    async fn claim(
        &self,
        claim: &Claim,
        thread: &ThreadKey,
        now: Instant,
        keep_until: Instant,
    ) -> Result<Claimed, Error> {
        self.redis.claim(claim, thread, now, keep_until).await
    }

    async fn release(&self, hold: &Hold) -> Result<(), Error> {
        self.redis.release(hold).await
    }

    fn claims_with_commit(&self) -> bool {
        // A single node takes them in the compare-and-set; a cluster keeps counters on other nodes.
        !self.redis.connection.is_cluster()
    }

    async fn commit(&self, commit: &Commit<'_>) -> Result<Committed, Error> {
        let keys = ThreadKeys::new(&self.redis.namespace, commit.thread);
        let thread_key = keys.thread();
        let answer_key = answer_name(&thread_key, commit.message_id);
        let ttl = |keep_until: Instant| keep_until.since(commit.now).as_millis().max(1);
        let receipt_ttl = commit
            .holds
            .iter()
            .map(|hold| ttl(hold.keep_until))
            .max()
            .unwrap_or(1);
        // A single node takes the confirmations and the prediction in the same script; a cluster
        // keeps them in their own slots, written after.
        let all_at_once = self.claims_with_commit();
        if !all_at_once {
            commit.without_claims()?;
        }
        let mut invocation = if all_at_once {
            COMPARE_AND_SET_ALL.key(&thread_key)
        } else {
            COMPARE_AND_SET.key(&thread_key)
        };
        invocation.key(keys.legacy_answer(commit.message_id));
        for hold in commit.holds {
            let counter = CounterKeys::new(&self.redis.namespace, &hold.claim.counter);
            invocation.key(keys.receipt(&hold.claim.slot, counter.receipt_token(&hold.token)));
        }
        invocation
            .arg(i64::try_from(commit.version.0).unwrap_or(i64::MAX))
            .arg(ThreadRecord::new(commit.next, Version(0), None).to_bytes())
            .arg(AnswerRecord::new(commit.answer, None).to_bytes())
            .arg(ttl(commit.thread_keep_until))
            .arg(ttl(commit.answer_keep_until))
            .arg(receipt_ttl)
            .arg(ThreadKeys::answer_field(commit.message_id));
        if all_at_once {
            invocation.arg(commit.holds.len());
            for hold in commit.holds {
                let (pending, member) = self.redis.pending_member(hold);
                invocation.key(pending).arg(member);
            }
            let takings = commit
                .claims
                .iter()
                .map(|claim| {
                    let keep_until = commit.now.plus(claim.counter.retention());
                    Taking::new(&self.redis.namespace, claim, commit.now, keep_until)
                })
                .collect::<Result<Vec<_>, Error>>()?;
            invocation.arg(takings.len()).arg(wall_clock_millis());
            for taking in &takings {
                taking.add_to(&mut invocation);
            }
            match commit.prediction {
                Some(prediction) => {
                    let key = DeliveryKey::of(prediction, commit.thread, commit.message_id);
                    let record = encode(&PredictionRecord::from(prediction));
                    let ttl = deliveries::ttl(commit.now, commit.prediction_keep_until);
                    invocation.arg(1);
                    self.redis
                        .with_prediction(&mut invocation, &key, &record, ttl, commit.usage, commit.now);
                }
                None => {
                    invocation.arg(0);
                }
            }
        }
        let reply = self.redis.invoke("thread compare-and-set", &invocation).await?;
        let [written, version, state, answer] = fields::<4>("thread compare-and-set", reply)?;
        let written = int(&written)?;
        if written == 2 {
            // `version` names the claim (from 1) that found no room; `state` and `answer` its
            // counter's pending claims, and those past their lease, which are settled first.
            let index = usize::try_from(int(&version)? - 1).ok();
            let Some(claim) = index.and_then(|index| commit.claims.get(index)) else {
                return Err(Error::corrupt(format!(
                    "the compare-and-set named claim {version:?} of {}",
                    commit.claims.len()
                )));
            };
            if int(&answer)? > 0 {
                self.redis
                    .settle(&CounterKeys::new(&self.redis.namespace, &claim.counter))
                    .await?;
            }
            return Ok(Committed::Full {
                counter: claim.counter.clone(),
                unsettled: int(&state)? > 0,
            });
        }
        if written == 1 {
            if all_at_once {
                return Ok(Committed::Done);
            }
            let prediction = async {
                let Some(prediction) = commit.prediction else {
                    return Ok(());
                };
                let key = DeliveryKey::of(prediction, commit.thread, commit.message_id);
                let record = encode(&PredictionRecord::from(prediction));
                let ttl = deliveries::ttl(commit.now, commit.prediction_keep_until);
                self.redis
                    .put_prediction(&key, &record, ttl, commit.usage, commit.now)
                    .await
            };
            let ((), written) = tokio::join!(self.redis.confirm(commit.holds), prediction);
            if let Err(error) = written {
                // The step is committed: its answer stands. Without its prediction the message is
                // missing from reconciliation, and Meta's statuses of it show as unmatched.
                tracing::warn!(%error, "a recorded message's prediction was not written");
            }
            return Ok(Committed::Done);
        }
        decode_read(&thread_key, &answer_key, version, state, answer)
            .map(|read| Committed::Conflict(Box::new(read)))
    }

    async fn read_deliveries(&self, keys: &[DeliveryKey]) -> Result<Vec<DeliveryRaw>, Error> {
        self.redis.read_deliveries(keys).await
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
        let ttl = deliveries::ttl(now, keep_until);
        self.redis
            .write_report(key, expected, bytes, ttl, usage, now)
            .await
    }

    async fn read_usage(
        &self,
        account: &AccountId,
        days: &[Day],
    ) -> Result<Vec<(UsageRow, UsageCounts)>, Error> {
        self.redis.read_usage(account, days).await
    }

    async fn list_deliveries(
        &self,
        account: &AccountId,
        day: Day,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, DeliveryRaw)>, Error> {
        self.redis.list_deliveries(account, day, after, limit).await
    }

    async fn read_entries(&self, keys: &[registry::Key]) -> Result<Vec<Option<registry::Raw>>, Error> {
        self.redis.read_entries(keys).await
    }

    async fn registry_generation(&self) -> Result<registry::Generation, Error> {
        self.redis.registry_generation().await
    }

    async fn advance_registry_generation(&self) -> Result<(), Error> {
        self.redis.advance_registry_generation().await
    }

    fn registry_cache(&self) -> &registry::Cache {
        &self.cache
    }

    async fn write_entry(&self, key: &registry::Key, expected: Version, bytes: &[u8]) -> Result<bool, Error> {
        self.redis.write_entry(key, expected, bytes).await
    }

    async fn list_templates(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, Error> {
        self.redis.list_templates(account, after, limit).await
    }

    async fn sweep(&self, _now: Instant) -> Result<usize, Error> {
        // Every key carries a TTL that follows what it holds: Redis reclaims them by itself.
        Ok(0)
    }
}

impl Redis {
    /// Sends a command, bounded by the store timeout.
    pub(crate) async fn query<T: FromRedisValue>(&self, what: &str, command: &Cmd) -> Result<T, Error> {
        let mut connection = self.connection.clone();
        self.bounded(what, command.query_async(&mut connection)).await
    }

    /// Runs a script (`EVALSHA`, loading it first if the server lacks it), bounded by the store timeout.
    pub(crate) async fn invoke(&self, what: &str, invocation: &ScriptInvocation<'_>) -> Result<Value, Error> {
        let mut connection = self.connection.clone();
        self.bounded(what, invocation.invoke_async(&mut connection)).await
    }

    async fn bounded<T>(
        &self,
        what: &str,
        future: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout(self.timeout, future).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(Error::unavailable(format!("redis {what} failed: {error}"), error)),
            Err(_elapsed) => Err(Error::Unavailable {
                message: format!(
                    "redis {what} did not answer within {} ms",
                    self.timeout.as_millis()
                ),
                source: None,
            }),
        }
    }
}

/// Names the answer of a message id in errors: a field of the thread hash, or its legacy key.
fn answer_name(thread_key: &str, message_id: &MessageId) -> String {
    format!("the answer of {} in {thread_key}", message_id.as_str())
}

/// Decodes a thread as a script returned it: its version, state, and the answer of a message id.
fn decode_read(
    thread_key: &str,
    answer_key: &str,
    version: Value,
    state: Value,
    answer: Value,
) -> Result<Read, Error> {
    let version = match version {
        Value::Nil => 0,
        version => u64::try_from(int(&version)?)
            .map_err(|_| Error::corrupt(format!("{thread_key} has a negative version")))?,
    };
    let prior = match answer {
        Value::Nil => None,
        Value::BulkString(bytes) => Some(AnswerRecord::from_bytes(answer_key, &bytes)?.into_answer()?),
        other => return Err(Error::corrupt(format!("{answer_key} is not a string: {other:?}"))),
    };
    Ok(Read {
        version: Version(version),
        snapshot: Snapshot {
            thread: decode_state(thread_key, state)?,
            prior,
            counters: Counters::default(),
            facts: Default::default(),
        },
        entries: Vec::new(),
        generation: None,
    })
}

/// Decodes a thread's state; a thread never written (or only fenced) is empty.
fn decode_state(thread_key: &str, state: Value) -> Result<ThreadState, Error> {
    match state {
        Value::Nil => Ok(ThreadState::default()),
        Value::BulkString(bytes) => Ok(ThreadRecord::from_bytes(thread_key, &bytes)?.into_state()),
        other => Err(Error::corrupt(format!(
            "the state in {thread_key} is not a string: {other:?}"
        ))),
    }
}

/// Reads an integer reply (or a string holding one).
pub(crate) fn int(value: &Value) -> Result<i64, Error> {
    redis::from_redis_value_ref::<i64>(value)
        .map_err(|error| Error::corrupt(format!("expected an integer from Redis, got {value:?}: {error}")))
}

/// Returns a duration in whole milliseconds.
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Returns the server clock in milliseconds since the Unix epoch: for claim leases only, never for
/// decisions.
pub(crate) fn wall_clock_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Returns a reply's bulk string, none for nil.
fn bulk(name: &str, value: Value) -> Result<Option<Vec<u8>>, Error> {
    match value {
        Value::Nil => Ok(None),
        Value::BulkString(bytes) => Ok(Some(bytes)),
        other => Err(Error::corrupt(format!("{name} is not a string: {other:?}"))),
    }
}
