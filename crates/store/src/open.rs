//! Opens a store from its URL: `memory:`, `sled:PATH`, `redis://HOST:PORT`, `redis+cluster://H1:P1,H2:P2`.

use std::sync::Arc;
use std::time::Duration;

use crate::{DEFAULT_TIMEOUT, Error, MemoryStore, RedisOptions, RedisStore, SledStore, Store};

/// How to open a store, beyond its URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenOptions {
    /// The longest one command to a networked store (Redis) may take before the call fails with
    /// `Error::Unavailable`.
    pub timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions {
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Opens the store a URL names, with default options.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, Error> {
    open_with(url, OpenOptions::default()).await
}

/// Opens the store a URL names.
///
/// `sled:PATH` opens (or creates) the sled database in the directory `PATH` (`sled:///var/lib/x` and
/// `sled:/var/lib/x` name the same directory) and, inside a tokio runtime, starts its background sweep.
///
/// `redis://HOST:PORT[/DB]` and `redis+cluster://H1:P1,H2:P2,...` connect on first use: the store opens
/// while Redis is down (with a warning), reports it through `check_connectivity`, and serves once Redis
/// is up.
pub async fn open_with(url: &str, options: OpenOptions) -> Result<Arc<dyn Store>, Error> {
    let (scheme, rest) = url.split_once(':').ok_or_else(|| Error::Config {
        message: format!("store URL {url:?} has no scheme: use memory:, sled:PATH, redis://HOST:PORT, rediss://HOST:PORT (TLS) or redis+cluster://H1:P1,H2:P2"),
    })?;
    match scheme {
        "memory" => Ok(Arc::new(MemoryStore::default()) as Arc<dyn Store>),
        "sled" => {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(Error::Config {
                    message: format!(
                        "store URL {url:?} names no directory: use sled:PATH, such as sled:data/hourglass"
                    ),
                });
            }
            let path = path.to_owned();
            // Opening reads and may recover the database: keep it off the runtime's worker threads.
            let store = tokio::task::spawn_blocking(move || SledStore::open(path))
                .await
                .map_err(|error| Error::unavailable("opening the sled database failed", error))??;
            Ok(Arc::new(store) as Arc<dyn Store>)
        }
        "redis" | "redis+cluster" | "rediss" | "rediss+cluster" => {
            let store = RedisStore::open(
                url,
                RedisOptions {
                    timeout: options.timeout,
                    ..RedisOptions::default()
                },
            )?;
            if let Err(error) = store.check_connectivity().await {
                tracing::warn!(%error, "Redis is not reachable yet; the store serves once it is");
            }
            Ok(Arc::new(store) as Arc<dyn Store>)
        }
        _ => Err(Error::Config {
            message: format!(
                "unknown store scheme {scheme:?} in {url:?}: use memory:, sled:PATH, redis://HOST:PORT, rediss://HOST:PORT (TLS) or redis+cluster://H1:P1,H2:P2"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sled_urls_open_a_sled_store() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("hourglass.sled");
        for url in [
            format!("sled:{}", path.display()),
            format!("sled://{}", path.display()),
        ] {
            let store = open(&url)
                .await
                .unwrap_or_else(|error| panic!("{url} does not open: {error}"));
            store
                .check_connectivity()
                .await
                .expect("a fresh sled store is ready");
        }
        assert!(path.is_dir(), "both URLs name the same directory");
    }

    #[tokio::test]
    async fn bad_urls_are_config_errors() {
        for url in ["sled:", "sled://", "hourglass", "ftp://example.com"] {
            match open(url).await {
                Err(Error::Config { .. }) => {}
                Err(other) => panic!("{url}: expected a config error, got {other:?}"),
                Ok(_) => panic!("{url}: opened"),
            }
        }
    }
}
