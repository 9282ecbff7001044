//! What SIGHUP reloads: the rate card, the TLS files and the auth file, each a value replaced whole
//! ([`Shared`]) by one loop written once ([`on_sighup`]).
//!
//! A reload reads its files on the blocking pool (a file system can hang), bounded by
//! `READ_TIMEOUT`; a read that outlives it holds its blocking thread, and no other read of the same
//! files starts until it ends, so that a stuck file system holds one thread, not one per SIGHUP. A
//! file that fails to load is logged and the value in force stays.

use std::fmt::Display;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

/// How long a reload may read its files before it is given up.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A value in force, replaced whole by a reload: a request or a handshake takes the `Arc` once and
/// keeps it, so that a reload never changes it halfway through. The lock is held only to clone or swap
/// the `Arc`, never across an await.
#[derive(Debug)]
pub(crate) struct Shared<T>(Arc<RwLock<Arc<T>>>);

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Shared<T> {
        Shared(Arc::clone(&self.0))
    }
}

impl<T> Shared<T> {
    pub fn new(value: impl Into<Arc<T>>) -> Shared<T> {
        Shared(Arc::new(RwLock::new(value.into())))
    }

    /// Returns the value in force now.
    pub fn current(&self) -> Arc<T> {
        // Holders of the lock only clone or assign an `Arc`, which cannot leave it half-written.
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `value` in force for every request that starts from now on.
    pub fn replace(&self, value: impl Into<Arc<T>>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = value.into();
    }
}

/// What one reload loop reads and where it puts it.
pub(crate) struct Reload<T, L, A> {
    /// What is reloaded, for the logs: `rate card`, `TLS certificate`, `auth file`.
    pub what: &'static str,
    /// Where it is read from, for the logs.
    pub origin: String,
    /// Reads the files; runs on the blocking pool.
    pub load: L,
    /// Puts a value that loaded in force.
    pub apply: A,
    /// Counts a reload's outcome in the metrics.
    pub outcome: fn(bool),
    _value: std::marker::PhantomData<fn() -> T>,
}

impl<T, E, L, A> Reload<T, L, A>
where
    T: Send + 'static,
    E: Display + Send + 'static,
    L: Fn() -> Result<T, E> + Clone + Send + 'static,
    A: FnMut(T),
{
    pub fn new(what: &'static str, origin: String, load: L, apply: A, outcome: fn(bool)) -> Self {
        Reload {
            what,
            origin,
            load,
            apply,
            outcome,
            _value: std::marker::PhantomData,
        }
    }

    /// Reloads on every SIGHUP until the task is aborted.
    pub async fn on_sighup(mut self) {
        #[cfg(unix)]
        {
            let what = self.what;
            let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                Ok(hangup) => hangup,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for SIGHUP, the {what} will not be reloaded");
                    return;
                }
            };
            let mut stuck: Option<tokio::task::JoinHandle<Result<T, E>>> = None;
            while hangup.recv().await.is_some() {
                if stuck.as_ref().is_some_and(|read| !read.is_finished()) {
                    (self.outcome)(false);
                    tracing::error!(origin = %self.origin, "{what} not reloaded: the previous read has not ended");
                    continue;
                }
                let mut read = tokio::task::spawn_blocking(self.load.clone());
                match tokio::time::timeout(READ_TIMEOUT, &mut read).await {
                    Ok(Ok(Ok(value))) => {
                        (self.apply)(value);
                        (self.outcome)(true);
                        tracing::info!(origin = %self.origin, "{what} reloaded");
                    }
                    Ok(Ok(Err(error))) => {
                        (self.outcome)(false);
                        tracing::error!(%error, "{what} not reloaded, the previous one stays in force");
                    }
                    Ok(Err(error)) => {
                        (self.outcome)(false);
                        tracing::error!(%error, "{what} not reloaded: its read failed, the previous one stays in force");
                    }
                    Err(_elapsed) => {
                        (self.outcome)(false);
                        tracing::error!(
                            origin = %self.origin,
                            timeout_s = READ_TIMEOUT.as_secs(),
                            "{what} not reloaded: reading it timed out, the previous one stays in force"
                        );
                        stuck = Some(read);
                    }
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = self;
        }
    }
}
