//! `RedisStore`: threads, answers and free-tier counters in Redis or Redis Cluster, shared by any number
//! of server replicas.
//!
//! # Keys
//!
//! Every key of a thread shares the hash tag `{b:<business>:c:<customer>}`, so one script touches one
//! cluster slot:
//!
//! | key | type | holds | TTL |
//! |---|---|---|---|
//! | `hg:{b:B:c:C}:thread` | hash | `v` (version), `s` (a `ThreadRecord`) | `ThreadState::retention()` |
//! | `hg:{b:B:c:C}:msg:<message id>` | string | the `AnswerRecord` | `RETENTION_GRACE` (72 h) |
//! | `hg:{b:B:c:C}:claim:<conversation id>` | string | receipt of a persisted free-tier conversation | `FREE_TIER_RETENTION` |
//! | `hg:{a:A}:free:<YYYY-MM>` | hash | free-tier conversation id → claims holding it | `FREE_TIER_RETENTION` |
//! | `hg:{a:A}:free:<YYYY-MM>:pending` | sorted set | unconfirmed claims by lease deadline | `FREE_TIER_RETENTION` |
//!
//! TTLs are counted from `Record::now`, and only ever grow: they reclaim memory and never decide
//! anything, since every stored instant is compared with the event time (SPEC.md section 2).
//!
//! **Idempotency is per thread.** Message ids are unique per business, but an answer keyed by business
//! and message id would live in another slot than the thread, outside the step's atomic unit. A retried
//! message carries the same business and customer, so the answer is kept under the thread's hash tag
//! and written in the same compare-and-set as the state: per (business, customer, message id), a message
//! is recorded once and a retry repeats the first answer, on a single node and in a cluster alike. The
//! same id sent for two different customers (a gateway bug) is recorded for each.
//!
//! # The step
//!
//! Rules are never written in Lua: each step runs `step::apply` in Rust, between two scripts that are
//! storage primitives only (optimistic concurrency):
//!
//! 1. `READ_THREAD` returns the thread's version and state and the answer of the message id, if any.
//! 2. `step::apply` decides. If the decision takes a free-tier slot, a claim is taken first on the
//!    account's counter (see `free_tier`, which explains why the count stays exact).
//! 3. `COMPARE_AND_SET` writes the state, the answer, the receipt and the TTLs if the version is still
//!    the one read. If another writer got there first, it returns the current version, state and answer
//!    instead, the claim (if any) is given back, and the step starts over from 2 with what it returned,
//!    up to `MAX_ATTEMPTS` times.
//!
//! Round trips: `load` takes one (the thread hash and the counter are read concurrently; a second when
//! the last outbound message is in a later month than `at`). `record` takes two (read, compare-and-set),
//! three when it takes a free-tier slot (read, claim, compare-and-set; the confirmation is sent after the
//! answer), plus one per lost race.
//!
//! # Failures
//!
//! Every command is bounded by the store timeout (`RedisOptions::timeout`, 500 ms by default) and fails
//! with `Error::Unavailable`. Connections are multiplexed and reconnect by themselves when Redis comes
//! back; `check_connectivity` sends `PING`.

mod connection;
mod free_tier;
mod keys;
mod scripts;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hourglass_core::{Instant, Policy, RETENTION_GRACE, ThreadKey, ThreadState, free_tier_month};
use redis::{Cmd, FromRedisValue, ScriptInvocation, Value};

use self::connection::Connection;
use self::free_tier::{Claim, Claimed, fields};
use self::keys::{CounterKeys, ThreadKeys};
use self::scripts::{COMPARE_AND_SET, READ_THREAD};
use crate::record::{AnswerRecord, ThreadRecord, decode, encode};
use crate::step::Step;
use crate::{Answer, Error, FREE_TIER_RETENTION, Record, Snapshot, Store, apply};

/// The store timeout when none is given: well under a second, far above a healthy Redis's latency.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

/// The prefix of every key when none is given.
pub const DEFAULT_NAMESPACE: &str = "hg";

/// How many times a step is tried before the store gives up with `Error::Unavailable`. Each lost race
/// means another writer of the thread succeeded, so `n` concurrent writers need at most `n` attempts;
/// waiting for pending free-tier claims to settle (a few milliseconds each) counts as an attempt too.
const MAX_ATTEMPTS: u32 = 256;

/// How long a free-tier claim may stay unconfirmed before a reader settles it.
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
}

/// A connection with its timeout and namespace: what every command needs.
#[derive(Clone, Debug)]
pub(crate) struct Redis {
    connection: Connection,
    timeout: Duration,
    namespace: Arc<str>,
    lease: Duration,
}

/// A thread as read for a step.
#[derive(Debug)]
struct ThreadRead {
    /// 0 for a thread never written.
    version: i64,
    state: ThreadState,
    /// The stored answer of the message id being recorded.
    answer: Option<Answer>,
}

/// What a compare-and-set did.
enum Written {
    Yes,
    /// Another writer changed the thread first: here it is now.
    Conflict(Box<ThreadRead>),
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
            },
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

    /// Shortens how long free-tier claims stay unconfirmed before they are settled, for tests of
    /// holders that die.
    #[cfg(test)]
    pub(crate) fn with_lease(mut self, lease: Duration) -> RedisStore {
        self.redis.lease = lease;
        self
    }

    /// Reads a thread, and the answer of `message_id` when given.
    async fn read_thread(&self, keys: &ThreadKeys, answer_key: &str) -> Result<ThreadRead, Error> {
        let thread_key = keys.thread();
        let reply = self
            .redis
            .invoke("thread read", READ_THREAD.key(&thread_key).key(answer_key))
            .await?;
        let [version, state, answer] = fields::<3>("thread read", reply)?;
        ThreadRead::decode(&thread_key, answer_key, version, state, answer)
    }

    /// Writes a step's outcome if the thread is still at `expected`.
    #[allow(clippy::too_many_arguments)]
    async fn compare_and_set(
        &self,
        keys: &ThreadKeys,
        answer_key: &str,
        expected: i64,
        next: &ThreadState,
        answer: &Answer,
        claim: Option<&Claim>,
        now: Instant,
    ) -> Result<Written, Error> {
        let thread_key = keys.thread();
        let latest = next.parts().latest_event_at.unwrap_or(now);
        let thread_ttl = next
            .retention()
            .as_millis()
            .saturating_add(latest.since(now).as_millis().max(0))
            .max(1);
        let mut invocation = COMPARE_AND_SET.key(&thread_key);
        invocation.key(answer_key);
        if let Some(claim) = claim {
            invocation.key(keys.receipt(&claim.conversation_id));
        }
        invocation
            .arg(expected)
            .arg(encode(&ThreadRecord::new(next, None)))
            .arg(encode(&AnswerRecord::new(answer, None)))
            .arg(thread_ttl)
            .arg(RETENTION_GRACE.as_millis())
            .arg(FREE_TIER_RETENTION.as_millis());
        let reply = self.redis.invoke("thread compare-and-set", &invocation).await?;
        let [written, version, state, answer] = fields::<4>("thread compare-and-set", reply)?;
        if int(&written)? == 1 {
            return Ok(Written::Yes);
        }
        ThreadRead::decode(&thread_key, answer_key, version, state, answer)
            .map(|read| Written::Conflict(Box::new(read)))
    }

    /// Runs one attempt's claim, if its step wants one. Returns the step to write and the claim held,
    /// or `None` when the counter is not settled yet and the attempt must start over.
    async fn claim_for(
        &self,
        record: &Record,
        policy: &Policy,
        read: &ThreadRead,
        step: Step,
        waits: &mut u32,
    ) -> Result<Option<(Step, Option<Claim>)>, Error> {
        let Some(month) = step.free_tier_claim else {
            return Ok(Some((step, None)));
        };
        let conversation_id = step
            .answer
            .decision
            .as_ref()
            .and_then(|decision| decision.charge())
            .and_then(|charge| charge.conversation.as_ref())
            .map(|conversation| conversation.id.clone())
            .ok_or_else(|| Error::corrupt("a step claims a free-tier slot without opening a conversation"))?;
        let claimed = self
            .redis
            .claim(
                &record.thread,
                month,
                &conversation_id,
                policy.free_tier_conversations,
            )
            .await?;
        match claimed {
            Claimed::Taken(claim) => Ok(Some((step, Some(claim)))),
            Claimed::Full {
                taken, pending: 0, ..
            } => {
                // Every slot is held by a persisted conversation: the free tier is used up.
                let snapshot = Snapshot {
                    state: read.state.clone(),
                    free_tier_used: taken,
                };
                let step = apply(policy, record, &snapshot);
                if step.free_tier_claim.is_some() {
                    return Err(Error::corrupt(format!(
                        "the free-tier counter of {} is full ({taken}) yet the rules still claim a slot",
                        record.thread.account()
                    )));
                }
                Ok(Some((step, None)))
            }
            Claimed::Full { stale, .. } => {
                // Some slots are held by claims that may still be given back: settle the dead ones,
                // wait for the live ones.
                if stale > 0 {
                    self.redis
                        .settle(&CounterKeys::new(
                            &self.redis.namespace,
                            &record.thread.account(),
                            month,
                        ))
                        .await?;
                } else {
                    *waits += 1;
                    tokio::time::sleep(Duration::from_millis(u64::from((*waits).min(50)))).await;
                }
                Ok(None)
            }
        }
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn check_connectivity(&self) -> Result<(), Error> {
        self.redis
            .query::<Value>("PING", &redis::cmd("PING"))
            .await
            .map(drop)
    }

    async fn load(&self, thread: &ThreadKey, at: Instant) -> Result<Snapshot, Error> {
        let keys = ThreadKeys::new(&self.redis.namespace, thread);
        let thread_key = keys.thread();
        let mut command = redis::cmd("HMGET");
        command.arg(&thread_key).arg("v").arg("s");
        let account = thread.account();
        let guessed_month = at.utc_month();
        // Both reads go out together: one round trip on a multiplexed connection, or to two nodes at
        // once in a cluster.
        let (fields, count) = tokio::join!(
            self.redis.query::<Vec<Value>>("thread read", &command),
            self.redis.count(&account, guessed_month)
        );
        let [_version, state] = <[Value; 2]>::try_from(fields?)
            .map_err(|reply| Error::corrupt(format!("unexpected reply to HMGET {thread_key}: {reply:?}")))?;
        let state = decode_state(&thread_key, state)?;
        let month = free_tier_month(&state, at);
        let count = count?;
        let free_tier_used = if month == guessed_month && count.stale == 0 {
            count.taken
        } else {
            self.redis.settled_count(&account, month).await?
        };
        Ok(Snapshot {
            state,
            free_tier_used,
        })
    }

    async fn load_thread(&self, thread: &ThreadKey) -> Result<ThreadState, Error> {
        let keys = ThreadKeys::new(&self.redis.namespace, thread);
        let thread_key = keys.thread();
        let mut command = redis::cmd("HGET");
        command.arg(&thread_key).arg("s");
        let state = self.redis.query::<Value>("thread read", &command).await?;
        decode_state(&thread_key, state)
    }

    async fn record(&self, record: &Record, policy: &Policy) -> Result<Answer, Error> {
        let keys = ThreadKeys::new(&self.redis.namespace, &record.thread);
        let answer_key = keys.answer(&record.message_id);
        let mut read = self.read_thread(&keys, &answer_key).await?;
        let mut waits = 0;
        for _ in 0..MAX_ATTEMPTS {
            if let Some(answer) = read.answer.take() {
                return Ok(Answer {
                    duplicate: true,
                    ..answer
                });
            }
            // The counter is read only when the decision depends on it: by the claim itself.
            let unclaimed = Snapshot {
                state: read.state.clone(),
                free_tier_used: 0,
            };
            let Some((step, claim)) = self
                .claim_for(
                    record,
                    policy,
                    &read,
                    apply(policy, record, &unclaimed),
                    &mut waits,
                )
                .await?
            else {
                read = self.read_thread(&keys, &answer_key).await?;
                continue;
            };
            let Some(next) = step.next else {
                // A denied outbound message records nothing.
                return Ok(step.answer);
            };
            let written = self
                .compare_and_set(
                    &keys,
                    &answer_key,
                    read.version,
                    &next,
                    &step.answer,
                    claim.as_ref(),
                    record.now,
                )
                .await?;
            match written {
                Written::Yes => {
                    if let Some(claim) = claim {
                        self.redis.confirm_in_background(claim);
                    }
                    return Ok(step.answer);
                }
                Written::Conflict(current) => {
                    if let Some(claim) = &claim {
                        self.redis.release(claim).await?;
                    }
                    read = *current;
                }
            }
        }
        Err(Error::Unavailable {
            message: format!(
                "thread {} is written by too many writers at once: gave up after {MAX_ATTEMPTS} attempts",
                record.thread
            ),
            source: None,
        })
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

impl ThreadRead {
    fn decode(
        thread_key: &str,
        answer_key: &str,
        version: Value,
        state: Value,
        answer: Value,
    ) -> Result<ThreadRead, Error> {
        let version = match version {
            Value::Nil => 0,
            version => int(&version)?,
        };
        let state = decode_state(thread_key, state)?;
        let answer = match answer {
            Value::Nil => None,
            Value::BulkString(bytes) => Some(decode::<AnswerRecord>(answer_key, &bytes)?.into_answer()?),
            other => return Err(Error::corrupt(format!("{answer_key} is not a string: {other:?}"))),
        };
        Ok(ThreadRead {
            version,
            state,
            answer,
        })
    }
}

/// Decodes a thread's state; a thread never written (or only fenced) is empty.
fn decode_state(thread_key: &str, state: Value) -> Result<ThreadState, Error> {
    match state {
        Value::Nil => Ok(ThreadState::default()),
        Value::BulkString(bytes) => Ok(decode::<ThreadRecord>(thread_key, &bytes)?.into_state()),
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
