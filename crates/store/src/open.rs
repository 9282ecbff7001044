//! Opens a store from its URL: `memory:`, `sled:PATH`, `redis://HOST:PORT`, `redis+cluster://H1:P1,H2:P2`.

use std::sync::Arc;

use crate::{Error, MemoryStore, Store};

/// Opens the store a URL names.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, Error> {
    let (scheme, _rest) = url.split_once(':').ok_or_else(|| Error::Config {
        message: format!("store URL {url:?} has no scheme: use memory:, sled:PATH, redis://HOST:PORT or redis+cluster://H1:P1,H2:P2"),
    })?;
    match scheme {
        "memory" => Ok(Arc::new(MemoryStore::default()) as Arc<dyn Store>),
        "sled" | "redis" | "redis+cluster" => Err(Error::Config {
            message: format!("the {scheme} backend is not built yet (store URL {url:?})"),
        }),
        _ => Err(Error::Config {
            message: format!(
                "unknown store scheme {scheme:?} in {url:?}: use memory:, sled:PATH, redis://HOST:PORT or redis+cluster://H1:P1,H2:P2"
            ),
        }),
    }
}
