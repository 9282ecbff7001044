//! Registry entries in Redis: each a hash (`v`, the version; `d`, the record) under the hash tag of its
//! scope (`registry::Key::scope`), with no TTL. An account's templates are also listed in a sorted set
//! under the account's tag, so that a write and its listing entry are one script on one node.
//!
//! The registry's generation is a string key of its own, `<namespace>:registry:gen`, `INCR`ed after
//! each write of a cached kind of entry (`registry::try_update`). It is a command after the entry's
//! script, not part of it: in a cluster the two live in different slots. A replica reads it beside a
//! decision's first reads (`registry::generation`, beside the thread's).

use std::sync::LazyLock;

use futures::future::try_join_all;
use hourglass_core::AccountId;
use redis::{Script, Value};

use super::Redis;
use crate::registry::{self, Key, Raw};
use crate::{Error, Version};

/// Writes an entry if it is still at the expected version, and lists a template in its account.
///
/// KEYS: the entry's hash, and for a template the account's template set. ARGV: expected version (0
/// for an entry never written), record, template member. Returns 1 when written, else 0.
static WRITE_ENTRY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local version = tonumber(redis.call('HGET', KEYS[1], 'v')) or 0
if version ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', version + 1, 'd', ARGV[2])
if #KEYS > 1 then redis.call('ZADD', KEYS[2], 0, ARGV[3]) end
return 1
",
    )
});

impl Redis {
    pub(super) fn entry_key(&self, key: &Key) -> String {
        format!("{}:{{{}}}:reg:{}", self.namespace, key.scope(), key.name())
    }

    fn templates_key(&self, account: &AccountId) -> String {
        format!(
            "{}:{{{}}}:templates",
            self.namespace,
            Key::Account(account.clone()).scope()
        )
    }

    pub(super) fn generation_key(&self) -> String {
        format!("{}:registry:gen", self.namespace)
    }

    pub(super) async fn registry_generation(&self) -> Result<registry::Generation, Error> {
        let mut command = redis::cmd("GET");
        command.arg(self.generation_key());
        let reply: Option<u64> = self.query("registry generation read", &command).await?;
        Ok(reply.unwrap_or(0))
    }

    pub(super) async fn advance_registry_generation(&self) -> Result<(), Error> {
        let mut command = redis::cmd("INCR");
        command.arg(self.generation_key());
        self.query::<u64>("registry generation advance", &command).await?;
        Ok(())
    }

    async fn read_entry(&self, name: &str) -> Result<Option<Raw>, Error> {
        let mut command = redis::cmd("HMGET");
        command.arg(name).arg("v").arg("d");
        let reply: Vec<Option<Vec<u8>>> = self.query("registry read", &command).await?;
        match <[Option<Vec<u8>>; 2]>::try_from(reply) {
            Ok([version, record]) => raw(name, version, record),
            Err(other) => Err(Error::corrupt(format!(
                "unexpected reply to HMGET {name}: {other:?}"
            ))),
        }
    }

    /// Reads entries, each from its own node.
    pub(super) async fn read_entries(&self, keys: &[Key]) -> Result<Vec<Option<Raw>>, Error> {
        try_join_all(
            keys.iter()
                .map(|key| async move { self.read_entry(&self.entry_key(key)).await }),
        )
        .await
    }

    pub(super) async fn write_entry(
        &self,
        key: &Key,
        expected: Version,
        bytes: &[u8],
    ) -> Result<bool, Error> {
        let mut invocation = WRITE_ENTRY.key(self.entry_key(key));
        let member = match key {
            Key::Template(account, template) => {
                invocation.key(self.templates_key(account));
                registry::template_member(template)
            }
            _ => String::new(),
        };
        invocation
            .arg(i64::try_from(expected.0).unwrap_or(i64::MAX))
            .arg(bytes)
            .arg(member);
        let reply = self.invoke("registry write", &invocation).await?;
        Ok(matches!(reply, Value::Int(1)))
    }

    pub(super) async fn list_templates(
        &self,
        account: &AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let mut command = redis::cmd("ZRANGEBYLEX");
        command
            .arg(self.templates_key(account))
            .arg(after.map_or_else(|| "-".to_owned(), |after| format!("({after}")))
            .arg("+")
            .arg("LIMIT")
            .arg(0)
            .arg(limit);
        let members: Vec<String> = self.query("template listing", &command).await?;
        let prefix = registry::templates_prefix(account);
        let read = try_join_all(members.iter().map(|member| {
            let key = format!(
                "{}:{{{}}}:reg:{prefix}{member}",
                self.namespace,
                Key::Account(account.clone()).scope()
            );
            async move { self.read_entry(&key).await }
        }))
        .await?;
        Ok(members
            .into_iter()
            .zip(read)
            .filter_map(|(member, raw)| raw.map(|(_, bytes)| (member, bytes)))
            .collect())
    }
}

/// Returns an entry from its hash's `v` and `d` (`WRITE_ENTRY`), as `HMGET` reads them.
pub(super) fn raw(
    name: &str,
    version: Option<Vec<u8>>,
    record: Option<Vec<u8>>,
) -> Result<Option<Raw>, Error> {
    match (version, record) {
        (Some(version), Some(record)) => {
            let version = std::str::from_utf8(&version)
                .ok()
                .and_then(|version| version.parse().ok())
                .ok_or_else(|| Error::corrupt(format!("registry entry {name} has a bad version")))?;
            Ok(Some((Version(version), record)))
        }
        (None, None) => Ok(None),
        (version, record) => Err(Error::corrupt(format!(
            "registry entry {name} is half written: version {version:?}, record {record:?}"
        ))),
    }
}

/// Returns the registry's generation from its key's value as `GET` reads it (nil: never advanced, 0).
pub(super) fn generation(value: Value) -> Result<registry::Generation, Error> {
    match value {
        Value::Nil => Ok(0),
        value => redis::from_redis_value::<u64>(value)
            .map_err(|error| Error::corrupt(format!("the registry generation is not a number: {error}"))),
    }
}
