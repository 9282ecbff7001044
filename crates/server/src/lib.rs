//! The gRPC edge of Hourglass: `hourglass.v1.PolicyService` over a store, with gRPC health and server
//! reflection, and the configuration and logging of the `hourglass` binary.
//!
//! # Layout
//!
//! - `config`: the clap `Config` and its validation.
//! - `rate_card`: rate card files and the shipped default card.
//! - `convert`: the only module that knows protobuf.
//! - `service`: the handlers: validate → store → core → `to_proto`.
//! - `error`: the one mapping from errors to `tonic::Status`.
//! - `health`: readiness that follows the store.
//! - `telemetry`: the tracing subscriber.
//!
//! [`run`] serves on a listener the caller has bound, until a shutdown future completes, so that tests
//! can bind port 0 and stop the server when they are done.

pub mod config;
mod convert;
mod error;
mod health;
pub mod rate_card;
mod service;
pub mod telemetry;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use hourglass_proto::v1::policy_service_server::PolicyServiceServer;
use hourglass_store::Store;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

pub use crate::config::Config;
use crate::config::PricingModelArg;
use crate::health::{StoreCheck, StoreWatch};
use crate::service::{PolicyServer, SharedPolicy};

/// How often the health task checks the store.
const HEALTH_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Serves Hourglass on `listener` until `shutdown` completes, then drains in-flight requests.
///
/// Validates `config` (the `listen` address is the caller's: it has bound `listener` already), opens
/// the store, reports NOT_SERVING until the store answers, and reloads the rate card on SIGHUP.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let policy = config.validate().context("validate configuration")?;
    let Config {
        listen: _,
        store: store_url,
        rate_card,
        pricing_model,
        max_clock_skew,
        store_timeout_ms,
        log_format: _,
        log_filter: _,
    } = config;
    let open_options = hourglass_store::OpenOptions {
        timeout: std::time::Duration::from_millis(store_timeout_ms),
    };
    let store = open_store(&store_url, open_options)
        .await
        .with_context(|| format!("open store {}", redact_store_url(&store_url)))?;
    let policy = SharedPolicy::new(policy);
    let _reload = AbortOnDrop(tokio::spawn(reload_on_sighup(
        policy.clone(),
        rate_card,
        pricing_model,
    )));
    let options = ServeOptions {
        max_clock_skew: hourglass_core::Duration::from_millis(
            i64::try_from(max_clock_skew.saturating_mul(1_000)).unwrap_or(i64::MAX),
        ),
        store_timeout: std::time::Duration::from_millis(store_timeout_ms),
        health_check_interval: HEALTH_CHECK_INTERVAL,
    };
    serve(store, &store_url, policy, options, listener, shutdown).await
}

/// Opens the store a URL names.
///
/// `hourglass_store::open_with` does not know the TLS schemes yet: `rediss://` and `rediss+cluster://`
/// open a `RedisStore` here, as `open_with` opens `redis://`.
async fn open_store(
    url: &str,
    options: hourglass_store::OpenOptions,
) -> Result<Arc<dyn Store>, hourglass_store::Error> {
    if !url.starts_with("rediss://") && !url.starts_with("rediss+cluster://") {
        return hourglass_store::open_with(url, options).await;
    }
    let hourglass_store::OpenOptions { timeout } = options;
    let store = hourglass_store::RedisStore::open(
        url,
        hourglass_store::RedisOptions {
            timeout,
            ..hourglass_store::RedisOptions::default()
        },
    )?;
    if let Err(error) = store.check_connectivity().await {
        tracing::warn!(%error, "Redis is not reachable yet; the store serves once it is");
    }
    Ok(Arc::new(store) as Arc<dyn Store>)
}

/// Waits for SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("ctrl-c received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// What `serve` needs besides the store and the policy.
#[derive(Clone, Copy, Debug)]
struct ServeOptions {
    max_clock_skew: hourglass_core::Duration,
    store_timeout: std::time::Duration,
    health_check_interval: std::time::Duration,
}

/// Serves the policy service, health and reflection over an open store.
async fn serve(
    store: Arc<dyn Store>,
    store_url: &str,
    policy: SharedPolicy,
    options: ServeOptions,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let ServeOptions {
        max_clock_skew,
        store_timeout,
        health_check_interval,
    } = options;
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let store_watch = StoreWatch::start(
        Arc::clone(&store),
        health_reporter,
        StoreCheck {
            interval: health_check_interval,
            timeout: store_timeout,
        },
    )
    .await;
    // Each version also describes the other, so that either lists every service the server has.
    let reflection_v1 = reflection()
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("build the reflection service")?;
    let reflection_v1alpha = reflection()
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .context("build the reflection service")?;
    let policy_service =
        PolicyServiceServer::new(PolicyServer::new(store, policy, max_clock_skew, store_timeout));

    let addr = listener.local_addr().context("read the listening address")?;
    tracing::info!(%addr, store = %redact_store_url(store_url), "hourglass listening");
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(policy_service)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), async move {
            shutdown.await;
            store_watch.stop().await;
            tracing::info!("not serving, draining connections");
        })
        .await
        .context("serve gRPC")?;
    tracing::info!("hourglass stopped");
    Ok(())
}

/// Returns a reflection builder that knows `hourglass.v1` and `grpc.health.v1`; the built service adds
/// its own version's descriptors.
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(hourglass_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

/// Reloads the rate card on every SIGHUP; a card that fails to load is logged and the previous one
/// stays in force.
async fn reload_on_sighup(policy: SharedPolicy, rate_card: Option<PathBuf>, pricing_model: PricingModelArg) {
    #[cfg(unix)]
    {
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(hangup) => hangup,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGHUP, the rate card will not be reloaded");
                return;
            }
        };
        let origin = rate_card.as_ref().map_or_else(
            || "(built-in default)".to_owned(),
            |path| path.display().to_string(),
        );
        while hangup.recv().await.is_some() {
            match rate_card::load(rate_card.as_deref()) {
                Ok(card) => {
                    policy.replace(config::load_policy(card, pricing_model));
                    tracing::info!(rate_card = %origin, "rate card reloaded");
                }
                Err(error) => {
                    tracing::error!(%error, "rate card not reloaded, the previous one stays in force")
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (policy, rate_card, pricing_model);
    }
}

/// Aborts a background task when dropped, so that it never outlives `run`.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Hides the credentials of a store URL (`redis://user:secret@host` → `redis://***@host`, and those of
/// every node of a cluster URL) for logs and messages.
pub(crate) fn redact_store_url(url: &str) -> Cow<'_, str> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Cow::Borrowed(url);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    if !authority.contains('@') {
        return Cow::Borrowed(url);
    }
    let nodes: Vec<&str> = authority
        .split(',')
        .map(|node| node.rsplit_once('@').map_or(node, |(_, address)| address))
        .collect();
    Cow::Owned(format!("{scheme}://***@{}{path}", nodes.join(",")))
}
