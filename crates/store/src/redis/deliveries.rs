//! Delivery records in Redis: an account's records of one day in one hash, `hg:{a:<account>}:dlv:<day>`
//! (`YYYY-MM-DD`), with fields `p:<message>` (the prediction), `r:<message>` (Meta's report) and
//! `v:<message>` (the report's version), where `<message>` is a `MessageRef` written out; and a sorted
//! set `…:dlv:<day>:refs` of the day's messages, for listing in their order. Both carry the TTL of their
//! longest-kept record, and live under the account's tag, apart from the thread: the prediction is
//! written right after the thread's compare-and-set.

use std::sync::LazyLock;

use futures::future::try_join_all;
use hourglass_core::{AccountId, Day, Instant};
use redis::Script;

use super::{Redis, int};
use crate::{DeliveryKey, DeliveryRaw, Error, Version};

/// Sets a key's TTL to at least `ARGV[n]` milliseconds; Lua shared by the scripts below.
const KEEP: &str = r"
local function keep(key, ttl)
  local left = redis.call('PTTL', key)
  if left < ttl then redis.call('PEXPIRE', key, ttl) end
end
";

/// Writes a prediction and lists its message. KEYS: day hash, day set. ARGV: message, record, TTL.
static PUT_PREDICTION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{KEEP}
redis.call('HSET', KEYS[1], 'p:' .. ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
keep(KEYS[1], tonumber(ARGV[3]))
keep(KEYS[2], tonumber(ARGV[3]))
return 1
"
    ))
});

/// Writes a report if it is still at the expected version, and lists its message. KEYS: day hash, day
/// set. ARGV: message, expected version, record, TTL. Returns 1 when written, else 0.
static WRITE_REPORT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{KEEP}
local version = tonumber(redis.call('HGET', KEYS[1], 'v:' .. ARGV[1])) or 0
if version ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'v:' .. ARGV[1], version + 1, 'r:' .. ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
keep(KEYS[1], tonumber(ARGV[4]))
keep(KEYS[2], tonumber(ARGV[4]))
return 1
"
    ))
});

impl Redis {
    fn day_key(&self, account: &AccountId, day: Day) -> String {
        format!("{}:{{a:{account}}}:dlv:{day}", self.namespace)
    }

    /// Writes a step's prediction, after its thread's compare-and-set.
    pub(super) async fn put_prediction(
        &self,
        key: &DeliveryKey,
        record: &[u8],
        ttl_millis: i64,
    ) -> Result<(), Error> {
        let day = self.day_key(&key.account, key.day);
        let mut invocation = PUT_PREDICTION.key(&day);
        invocation
            .key(format!("{day}:refs"))
            .arg(key.message.to_string())
            .arg(record)
            .arg(ttl_millis);
        self.invoke("prediction write", &invocation).await.map(drop)
    }

    pub(super) async fn write_report(
        &self,
        key: &DeliveryKey,
        expected: Version,
        record: &[u8],
        ttl_millis: i64,
    ) -> Result<bool, Error> {
        let day = self.day_key(&key.account, key.day);
        let mut invocation = WRITE_REPORT.key(&day);
        invocation
            .key(format!("{day}:refs"))
            .arg(key.message.to_string())
            .arg(i64::try_from(expected.0).unwrap_or(i64::MAX))
            .arg(record)
            .arg(ttl_millis);
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
