//! Delivery records in Redis: an account's records of one day in one hash, `hg:{a:<account>}:dlv:<day>`
//! (`YYYY-MM-DD`), with fields `p:<message>` (the prediction), `r:<message>` (Meta's report) and
//! `v:<message>` (the report's version), where `<message>` is a `MessageRef` written out; and a sorted
//! set `…:dlv:<day>:refs` of the day's messages, for listing in their order. Both carry the TTL of their
//! longest-kept record, and live under the account's tag, apart from the thread: the prediction is
//! written right after the thread's compare-and-set.
//!
//! An account's usage of one day of its zone is one more hash under the same tag,
//! `hg:{a:<account>}:use:<day>`, with a field `<row>|<count>` per count of each row
//! (`format::usage`), added to with `HINCRBY` by the script that writes what counts it: a prediction
//! (only when its field was absent, so a retry never counts twice) or a report (only when its
//! compare-and-swap holds). The scripts add the numbers the core computed and decide nothing. The hash
//! carries the TTL of its longest-kept row (`USAGE_RETENTION` from its latest write).

use std::sync::LazyLock;

use futures::future::try_join_all;
use std::collections::BTreeMap;

use hourglass_core::{AccountId, Day, Instant, UsageCounts, UsageRow};
use redis::Script;

use super::{Redis, int};
use crate::format::usage::{COUNTS, from_counts, nonzero_counts, parse_row, row_field};
use crate::{DeliveryKey, DeliveryRaw, Error, UsageWrite, Version};

/// Sets a key's TTL to at least `ARGV[n]` milliseconds; Lua shared by the scripts below.
const KEEP: &str = r"
local function keep(key, ttl)
  local left = redis.call('PTTL', key)
  if left < ttl then redis.call('PEXPIRE', key, ttl) end
end
";

/// Adds `ARGV[from]`, `ARGV[from + 1]`, … as field and increment pairs to the usage hash `KEYS[3]`,
/// kept at least `ARGV[from - 1]` milliseconds; nothing when there is no `KEYS[3]`.
const ADD_USAGE: &str = r"
local function add_usage(from)
  if not KEYS[3] then return end
  for i = from, #ARGV, 2 do
    redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1])
  end
  keep(KEYS[3], tonumber(ARGV[from - 1]))
end
";

/// Writes a prediction unless it is there already and lists its message, and, when it was new, adds to
/// its usage row. KEYS: day hash, day set, and the usage hash if any. ARGV: message, record, TTL, then
/// the usage hash's TTL and its field and increment pairs. Returns 1 when the prediction was new.
static PUT_PREDICTION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{KEEP}{ADD_USAGE}
local new = redis.call('HSETNX', KEYS[1], 'p:' .. ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
keep(KEYS[1], tonumber(ARGV[3]))
keep(KEYS[2], tonumber(ARGV[3]))
if new == 1 then add_usage(5) end
return new
"
    ))
});

/// Writes a report if it is still at the expected version, lists its message, and adds to its usage
/// row. KEYS: day hash, day set, and the usage hash if any. ARGV: message, expected version, record,
/// TTL, then the usage hash's TTL and its field and increment pairs. Returns 1 when written, else 0.
static WRITE_REPORT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{KEEP}{ADD_USAGE}
local version = tonumber(redis.call('HGET', KEYS[1], 'v:' .. ARGV[1])) or 0
if version ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'v:' .. ARGV[1], version + 1, 'r:' .. ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
keep(KEYS[1], tonumber(ARGV[4]))
keep(KEYS[2], tonumber(ARGV[4]))
add_usage(6)
return 1
"
    ))
});

impl Redis {
    fn day_key(&self, account: &AccountId, day: Day) -> String {
        format!("{}:{{a:{account}}}:dlv:{day}", self.namespace)
    }

    /// The hash of an account's usage rows of one day of its zone.
    pub(super) fn usage_key(&self, account: &AccountId, day: Day) -> String {
        format!("{}:{{a:{account}}}:use:{day}", self.namespace)
    }

    /// Adds a usage change's key and arguments to an invocation: the usage hash, its TTL, and each
    /// count's field and increment.
    fn with_usage(
        &self,
        invocation: &mut redis::ScriptInvocation<'_>,
        usage: Option<UsageWrite<'_>>,
        now: Instant,
    ) {
        let Some(usage) = usage else {
            return;
        };
        let row = &usage.change.row;
        let field = row_field(row);
        invocation
            .key(self.usage_key(&row.account, row.day))
            .arg(ttl(now, usage.keep_until));
        for (count, delta) in nonzero_counts(&usage.change.counts) {
            invocation.arg(format!("{field}|{count}")).arg(delta);
        }
    }

    /// Writes a step's prediction, after its thread's compare-and-set, and adds to its usage row when
    /// the prediction is new.
    pub(super) async fn put_prediction(
        &self,
        key: &DeliveryKey,
        record: &[u8],
        ttl_millis: i64,
        usage: Option<UsageWrite<'_>>,
        now: Instant,
    ) -> Result<(), Error> {
        let mut invocation = PUT_PREDICTION.prepare_invoke();
        self.with_prediction(&mut invocation, key, record, ttl_millis, usage, now);
        self.invoke("prediction write", &invocation).await.map(drop)
    }

    /// Adds a prediction's keys (day hash, day set, and the usage hash if any) and arguments (message,
    /// record, TTL, then the usage hash's TTL and its field and increment pairs) to an invocation of
    /// `PUT_PREDICTION` or, after its own, of `COMPARE_AND_SET_ALL`.
    pub(super) fn with_prediction(
        &self,
        invocation: &mut redis::ScriptInvocation<'_>,
        key: &DeliveryKey,
        record: &[u8],
        ttl_millis: i64,
        usage: Option<UsageWrite<'_>>,
        now: Instant,
    ) {
        let day = self.day_key(&key.account, key.day);
        invocation
            .key(&day)
            .key(format!("{day}:refs"))
            .arg(key.message.to_string())
            .arg(record)
            .arg(ttl_millis);
        self.with_usage(invocation, usage, now);
    }

    pub(super) async fn write_report(
        &self,
        key: &DeliveryKey,
        expected: Version,
        record: &[u8],
        ttl_millis: i64,
        usage: Option<UsageWrite<'_>>,
        now: Instant,
    ) -> Result<bool, Error> {
        let day = self.day_key(&key.account, key.day);
        let mut invocation = WRITE_REPORT.key(&day);
        invocation
            .key(format!("{day}:refs"))
            .arg(key.message.to_string())
            .arg(i64::try_from(expected.0).unwrap_or(i64::MAX))
            .arg(record)
            .arg(ttl_millis);
        self.with_usage(&mut invocation, usage, now);
        let reply = self.invoke("report write", &invocation).await?;
        Ok(int(&reply)? == 1)
    }

    /// Reads records, concurrently: one round trip on a multiplexed connection.
    pub(super) async fn read_deliveries(&self, keys: &[DeliveryKey]) -> Result<Vec<DeliveryRaw>, Error> {
        try_join_all(keys.iter().map(|key| async move {
            let day = self.day_key(&key.account, key.day);
            let mut raws = self.read_day(&day, &[key.message.to_string()]).await?;
            Ok(raws.pop().unwrap_or_default())
        }))
        .await
    }

    pub(super) async fn list_deliveries(
        &self,
        account: &AccountId,
        day: Day,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, DeliveryRaw)>, Error> {
        let day = self.day_key(account, day);
        let mut command = redis::cmd("ZRANGEBYLEX");
        command
            .arg(format!("{day}:refs"))
            .arg(after.map_or_else(|| "-".to_owned(), |after| format!("({after}")))
            .arg("+")
            .arg("LIMIT")
            .arg(0)
            .arg(limit);
        let messages: Vec<String> = self.query("delivery listing", &command).await?;
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let raws = self.read_day(&day, &messages).await?;
        Ok(messages.into_iter().zip(raws).collect())
    }

    /// Reads an account's usage rows of some days: one `HGETALL` per day, sent together.
    pub(super) async fn read_usage(
        &self,
        account: &AccountId,
        days: &[Day],
    ) -> Result<Vec<(UsageRow, UsageCounts)>, Error> {
        let read = try_join_all(days.iter().map(|day| async move {
            let mut command = redis::cmd("HGETALL");
            command.arg(self.usage_key(account, *day));
            let fields: Vec<(String, i64)> = self.query("usage read", &command).await?;
            Ok::<_, Error>((*day, fields))
        }))
        .await?;
        let mut rows = Vec::new();
        for (day, fields) in read {
            let mut counts: BTreeMap<String, [i64; 5]> = BTreeMap::new();
            for (field, value) in fields {
                let place = field
                    .rsplit_once('|')
                    .and_then(|(row, count)| Some((row, COUNTS.iter().position(|name| *name == count)?)));
                let Some((row, place)) = place else {
                    return Err(Error::corrupt(format!(
                        "usage field {field:?} of {account}/{day} names no count"
                    )));
                };
                counts.entry(row.to_owned()).or_default()[place] = value;
            }
            for (row, values) in counts {
                rows.push((parse_row(account, day, &row)?, from_counts(values)));
            }
        }
        Ok(rows)
    }

    /// Reads the records of `messages` in one day's hash, with one `HMGET`.
    async fn read_day(&self, day: &str, messages: &[String]) -> Result<Vec<DeliveryRaw>, Error> {
        let mut command = redis::cmd("HMGET");
        command.arg(day);
        for message in messages {
            command
                .arg(format!("p:{message}"))
                .arg(format!("v:{message}"))
                .arg(format!("r:{message}"));
        }
        let reply: Vec<Option<Vec<u8>>> = self.query("delivery read", &command).await?;
        if reply.len() != 3 * messages.len() {
            return Err(Error::corrupt(format!(
                "unexpected reply to HMGET {day}: {reply:?}"
            )));
        }
        reply
            .chunks_exact(3)
            .map(|fields| {
                let report = match (&fields[1], &fields[2]) {
                    (Some(version), Some(record)) => {
                        let version = std::str::from_utf8(version)
                            .ok()
                            .and_then(|version| version.parse().ok())
                            .ok_or_else(|| Error::corrupt(format!("a report in {day} has a bad version")))?;
                        Some((Version(version), record.clone()))
                    }
                    _ => None,
                };
                Ok(DeliveryRaw {
                    prediction: fields[0].clone(),
                    report,
                })
            })
            .collect()
    }
}

/// Returns the TTL of a record kept until `keep_until`, from `now`.
pub(super) fn ttl(now: Instant, keep_until: Instant) -> i64 {
    keep_until.since(now).as_millis().max(1)
}
