//! The Redis backends under test: a single node and a three-master cluster, started by the harness
//! of `hourglass_testkit::redis` (or named by `HOURGLASS_TEST_REDIS_URL` and
//! `HOURGLASS_TEST_REDIS_CLUSTER_URL`), shared by every case, each fixture under a key namespace of its
//! own.

use std::sync::Arc;

use async_trait::async_trait;
use hourglass_core::{AccountId, Day, Duration};
use hourglass_store::{RedisOptions, RedisStore, Store};
use hourglass_testkit::redis::{TEST_TIMEOUT, cli_on, cluster_url, single_node_url, test_namespace};

use crate::backends::Backend;

/// `RedisStore` on a shared server, under a fresh namespace: stores it opens again see what earlier
/// ones wrote there.
pub struct Redis {
    url: String,
    options: RedisOptions,
}

fn test_options() -> RedisOptions {
    RedisOptions {
        namespace: test_namespace(),
        timeout: TEST_TIMEOUT,
    }
}

impl Redis {
    /// Returns a fixture on the shared single node, or `None` when the Redis tests are skipped.
    pub fn single() -> Option<Redis> {
        single_node_url().map(|url| Redis {
            url,
            options: test_options(),
        })
    }

    /// Returns a fixture on the shared three-master cluster, or `None` when the Redis tests are
    /// skipped.
    pub fn cluster() -> Option<Redis> {
        cluster_url().map(|url| Redis {
            url,
            options: test_options(),
        })
    }
}

#[async_trait]
impl Backend for Redis {
    async fn open(&self) -> Arc<dyn Store> {
        let store = RedisStore::open(&self.url, self.options.clone())
            .unwrap_or_else(|error| panic!("a Redis store opens on {}: {error}", self.url));
        Arc::new(store)
    }

    fn durable(&self) -> bool {
        true
    }

    fn sweeps(&self) -> bool {
        false
    }

    fn shared(&self) -> bool {
        true
    }

    async fn usage_ttl(&self, account: &AccountId, day: Day) -> Option<Duration> {
        let key = format!("{}:{{a:{account}}}:use:{day}", self.options.namespace);
        // Any node will do: `-c` follows the cluster's redirection to the key's master.
        let node = self
            .url
            .split("://")
            .nth(1)?
            .split(',')
            .next()?
            .trim_end_matches('/')
            .to_owned();
        let (host, port) = node.rsplit_once(':')?;
        let port: u16 = port.parse().ok()?;
        let reply = cli_on(host, port, &["-c", "PTTL", &key]).ok()?;
        let millis: i64 = reply.trim().parse().ok()?;
        (millis > 0).then(|| Duration::from_millis(millis))
    }
}
