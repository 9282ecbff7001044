//! The gRPC edge of Hourglass: `hourglass.v1.PolicyService` over a store, with gRPC health and server
//! reflection, and the configuration and logging of the `hourglass` binary.
//!
//! # Layout
//!
//! - `config`: the clap `Config` and its validation.
//! - `auth`: bearer tokens of `--auth-file`, their roles, and the accounts each may touch.
//! - `rate_card`: rate card files and the shipped default card.
//! - `convert`: the only module that knows protobuf.
//! - `service`: the handlers: validate → store → core → `to_proto`.
//! - `error`: the one mapping from errors to `tonic::Status`.
//! - `health`: readiness that follows the store.
//! - `decision_log`: the decision log of `--decision-log` and `hourglass replay`.
//! - `metrics`: Prometheus metrics of `--metrics-listen`, with bounded labels only.
//! - `telemetry`: the tracing subscriber.
//! - `registry`: `RegistryService`, the facts the guards read.
//! - `webhook`: `WebhookService` and the HTTP endpoint of `--webhook-listen`: Meta's webhook bodies.
//! - `transport`: the HTTP/2 edge: accept backoff, TLS termination, idle connections, deadlines,
//!   content-type and message-size answers.
//! - `tls`: the certificate, key and client CA of the gRPC listener, and their reload on SIGHUP.
//! - `reload`: what SIGHUP reloads (rate card, TLS files, auth file), written once.
//!
//! [`run`] serves on a listener the caller has bound, until a shutdown future completes, so that tests
//! can bind port 0 and stop the server when they are done.

mod auth;
pub mod config;
mod convert;
pub mod decision_log;
mod error;
mod health;
mod metrics;
pub mod rate_card;
mod registry;
mod reload;
mod service;
pub mod telemetry;
pub mod tls;
mod transport;
mod usage;
mod webhook;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use hourglass_proto::v1::policy_service_server::PolicyServiceServer;
use hourglass_proto::v1::registry_service_server::RegistryServiceServer;
use hourglass_proto::v1::usage_service_server::UsageServiceServer;
use hourglass_proto::v1::webhook_service_server::WebhookServiceServer;
use hourglass_store::Store;
use tokio::net::TcpListener;

pub use crate::config::Config;
use crate::config::{ConnectionConfig, WhenStoreUnavailable};
use crate::health::{StoreCheck, StoreWatch};
use crate::service::{PolicyServer, SharedPolicy};
pub use crate::webhook::signature::sign as webhook_signature;

/// How often the health task checks the store.
const HEALTH_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Serves Hourglass on `listener` until `shutdown` completes, then drains in-flight requests.
///
/// Validates `config` (the `listen` address is the caller's: it has bound `listener` already), opens
/// the store, reports NOT_SERVING until the store answers, and reloads the rate card (and the TLS
/// certificate, key and client CA, when serving TLS, and the auth file) on SIGHUP.
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
        // In `policy`, from `validate`.
        pricing_model: _,
        shadow: _,
        max_clock_skew,
        store_timeout_ms,
        when_store_unavailable,
        log_format: _,
        log_filter: _,
        metrics_listen,
        connection,
        // Installed process-wide by `telemetry::init`, from `main`.
        log_privacy: _,
        webhook,
        tls,
        auth,
        decision_log,
        decision_log_clear_ids,
        command: _,
    } = config;
    let app_secret = webhook.app_secret().map_err(anyhow::Error::msg)?;
    let tls_files = tls.files().map_err(anyhow::Error::msg)?;
    let tls_accept = match &tls_files {
        Some(files) => Some(transport::TlsAccept {
            // Checked by `validate` already; read again, as a reload would.
            config: tls::SharedTls::new(tls::load(files).map_err(anyhow::Error::msg)?),
            handshake_timeout: tls.handshake_timeout(),
        }),
        None => None,
    };
    let tokens = match &auth.auth_file {
        // Checked by `validate` already; read again, as a reload would.
        Some(path) => Some(reload::Shared::new(auth::load(path).map_err(anyhow::Error::msg)?)),
        None => None,
    };
    let webhook_listener = match webhook.webhook_listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("bind --webhook-listen {addr}"))?,
        ),
        None => None,
    };
    let metrics = match metrics_listen {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("bind --metrics-listen {addr}"))?;
            let handle = metrics::install().context("install the metrics recorder")?;
            Some(MetricsEndpoint { listener, handle })
        }
        None => None,
    };
    let decision_log = match decision_log {
        Some(path) => {
            let ids = if decision_log_clear_ids {
                decision_log::Ids::Clear
            } else {
                decision_log::Ids::Hashed
            };
            Some(decision_log::Writer::start(&path, ids)?)
        }
        None => None,
    };
    let (decision_sink, decision_writer) = decision_log.unzip();
    let open_options = hourglass_store::OpenOptions {
        timeout: std::time::Duration::from_millis(store_timeout_ms),
    };
    let store = hourglass_store::open_with(&store_url, open_options)
        .await
        .with_context(|| format!("open store {}", redact_store_url(&store_url)))?;
    // Every store call is timed in one place, when metrics are kept.
    let store = match &metrics {
        Some(_) => metrics::MeteredStore::wrap(store),
        None => store,
    };
    let policy = SharedPolicy::new(policy);
    let _reload = AbortOnDrop(tokio::spawn(reload_on_sighup(
        policy.clone(),
        rate_card,
        decision_sink.clone(),
    )));
    let _reload_tls = match (&tls_accept, tls_files) {
        (Some(accept), Some(files)) => Some(AbortOnDrop(tokio::spawn(tls::reload_on_sighup(
            accept.config.clone(),
            files,
        )))),
        _ => None,
    };
    let _reload_auth = match (&tokens, auth.auth_file) {
        (Some(tokens), Some(path)) => Some(AbortOnDrop(tokio::spawn(auth::reload_on_sighup(
            tokens.clone(),
            path,
        )))),
        _ => None,
    };
    let options = ServeOptions {
        max_clock_skew: hourglass_core::Duration::from_millis(
            i64::try_from(max_clock_skew.saturating_mul(1_000)).unwrap_or(i64::MAX),
        ),
        store_timeout: std::time::Duration::from_millis(store_timeout_ms),
        when_store_unavailable,
        health_check_interval: HEALTH_CHECK_INTERVAL,
        connection,
        webhook: WebhookOptions {
            app_secret,
            verify_token: webhook.webhook_verify_token.map(|token| token.0),
            listener: webhook_listener,
        },
        metrics,
        tls: tls_accept,
        tokens,
        decision_log: decision_sink,
    };
    let served = serve(store, &store_url, policy, options, listener, shutdown).await;
    // After the last answer: what is queued is written and flushed.
    if let Some(writer) = decision_writer {
        writer.finish().await;
    }
    served
}

/// Raises the soft limit on open file descriptors to the hard limit, and logs the limit in force.
///
/// Every connection holds a descriptor, and a soft limit of 1,024 (a common default) would stop the
/// server far below what the system allows it. Call it once, from `main`: it changes the whole process.
pub fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open file limit raised to the hard limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open file limit"),
    }
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
#[derive(Debug)]
struct ServeOptions {
    max_clock_skew: hourglass_core::Duration,
    store_timeout: std::time::Duration,
    when_store_unavailable: WhenStoreUnavailable,
    health_check_interval: std::time::Duration,
    connection: ConnectionConfig,
    webhook: WebhookOptions,
    /// Bound for `--metrics-listen`; none: no metrics are kept.
    metrics: Option<MetricsEndpoint>,
    /// With `--tls-cert`: the TLS the gRPC listener terminates; none: plaintext (h2c).
    tls: Option<transport::TlsAccept>,
    /// With `--auth-file`: the tokens every call but health and reflection needs; none: no token.
    tokens: Option<auth::SharedTokens>,
    /// With `--decision-log`: where the handlers send its lines.
    decision_log: Option<decision_log::Sink>,
}

/// The metrics endpoint: its listener and the recorder it renders.
struct MetricsEndpoint {
    listener: TcpListener,
    handle: metrics_exporter_prometheus::PrometheusHandle,
}

impl std::fmt::Debug for MetricsEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsEndpoint")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

/// How webhooks are taken: the app secret bodies must be signed with, and the HTTP endpoint.
#[derive(Default)]
struct WebhookOptions {
    app_secret: Option<Vec<u8>>,
    verify_token: Option<String>,
    /// Bound for `--webhook-listen`; none: webhooks come over gRPC only.
    listener: Option<TcpListener>,
}

impl std::fmt::Debug for WebhookOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookOptions")
            .field("app_secret", &self.app_secret.as_ref().map(|_| "***"))
            .field("verify_token", &self.verify_token.as_ref().map(|_| "***"))
            .field("listener", &self.listener)
            .finish()
    }
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
        when_store_unavailable,
        health_check_interval,
        connection,
        webhook,
        metrics,
        tls,
        tokens,
        decision_log,
    } = options;
    let ConnectionConfig {
        max_concurrent_streams,
        request_timeout_ms,
        idle_timeout,
        http2_keepalive_interval,
        http2_keepalive_timeout,
        http2_max_header_list_bytes,
        http2_max_pending_resets,
        max_message_bytes,
        tcp_keepalive,
    } = connection;
    let max_message_bytes = usize::try_from(max_message_bytes).unwrap_or(usize::MAX);
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
    let registry_service = RegistryServiceServer::new(registry::RegistryServer::new(
        Arc::clone(&store),
        max_clock_skew,
        store_timeout,
    ))
    .max_decoding_message_size(max_message_bytes);
    let ingestor = Arc::new(webhook::Ingestor {
        store: Arc::clone(&store),
        policy: policy.clone(),
        app_secret: webhook.app_secret,
        max_clock_skew,
        store_timeout,
    });
    // A webhook body may be larger than other requests: room for the largest body and its framing.
    let webhook_service = WebhookServiceServer::new(webhook::WebhookServer::new(Arc::clone(&ingestor)))
        .max_decoding_message_size(max_message_bytes.max(webhook::MAX_PAYLOAD_BYTES + 1024));
    let usage_service = UsageServiceServer::new(usage::UsageServer::new(
        Arc::clone(&store),
        policy.clone(),
        max_clock_skew,
        store_timeout,
    ))
    .max_decoding_message_size(max_message_bytes);
    let policy_service = PolicyServiceServer::new(PolicyServer::new(
        store,
        policy,
        max_clock_skew,
        store_timeout,
        when_store_unavailable,
        decision_log,
    ))
    .max_decoding_message_size(max_message_bytes);
    let health_service = health_service.max_decoding_message_size(max_message_bytes);
    let reflection_v1 = reflection_v1.max_decoding_message_size(max_message_bytes);
    let reflection_v1alpha = reflection_v1alpha.max_decoding_message_size(max_message_bytes);
    let addr = listener.local_addr().context("read the listening address")?;
    let incoming = transport::Incoming::new(
        listener,
        std::time::Duration::from_secs(idle_timeout),
        std::time::Duration::from_secs(tcp_keepalive),
    );
    let (incoming, security) = match tls {
        Some(tls) => (incoming.with_tls(tls), "tls"),
        None => (incoming, "plaintext"),
    };

    let credentials = if tokens.is_some() { "tokens" } else { "none" };
    tracing::info!(%addr, store = %redact_store_url(store_url), %security, %credentials, "hourglass listening");
    // One shutdown for both servers: the gRPC one below and the webhook endpoint.
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    let webhook_http = match webhook.listener {
        Some(listener) => {
            let webhook_addr = listener.local_addr().context("read the webhook address")?;
            let router = webhook::http::router(webhook::http::Endpoint {
                ingestor,
                verify_token: webhook.verify_token,
            });
            let mut stopping = stopping.clone();
            tracing::info!(%webhook_addr, "webhook endpoint listening");
            Some(tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stopping.wait_for(|stopping| *stopping).await;
                    })
                    .await
            }))
        }
        None => None,
    };
    let metrics_http = match metrics {
        Some(MetricsEndpoint { listener, handle }) => {
            let metrics_addr = listener.local_addr().context("read the metrics address")?;
            tracing::info!(%metrics_addr, "metrics endpoint listening");
            Some(tokio::spawn(metrics::serve(listener, handle, stopping.clone())))
        }
        None => None,
    };
    let mut store_failed = store_watch.failure();
    let failure = store_watch.failure();
    // The request timeout is `EdgeLayer`'s, not tonic's `timeout`, which answers CANCELLED.
    tonic::transport::Server::builder()
        .max_concurrent_streams(max_concurrent_streams)
        .http2_max_header_list_size(http2_max_header_list_bytes)
        .http2_max_pending_accept_reset_streams(Some(
            usize::try_from(http2_max_pending_resets).unwrap_or(usize::MAX),
        ))
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(http2_keepalive_interval)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(http2_keepalive_timeout)))
        // Outermost, so that every call is counted with the code it was answered, the edge's included.
        .layer(metrics::RpcLayer)
        .layer(transport::EdgeLayer {
            request_timeout: std::time::Duration::from_millis(request_timeout_ms),
        })
        .layer(auth::AuthLayer { tokens })
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(policy_service)
        .add_service(registry_service)
        .add_service(usage_service)
        .add_service(webhook_service)
        .serve_with_incoming_shutdown(incoming, async move {
            tokio::select! {
                () = shutdown => {}
                _ = store_failed.wait_for(Option::is_some) => {
                    tracing::error!("the store failed for good: stopping, so that the server restarts");
                }
            }
            let _ = stopping_tx.send(true);
            store_watch.stop().await;
            tracing::info!("not serving, draining connections");
        })
        .await
        .context("serve gRPC")?;
    if let Some(webhook_http) = webhook_http {
        webhook_http
            .await
            .context("the webhook endpoint panicked")?
            .context("serve the webhook endpoint")?;
    }
    if let Some(metrics_http) = metrics_http {
        metrics_http
            .await
            .context("the metrics endpoint panicked")?
            .context("serve the metrics endpoint")?;
    }
    if let Some(problem) = failure.borrow().clone() {
        anyhow::bail!("stopped because the store failed: {problem}");
    }
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
async fn reload_on_sighup(
    policy: SharedPolicy,
    rate_card: Option<PathBuf>,
    decision_log: Option<decision_log::Sink>,
) {
    let origin = rate_card.as_ref().map_or_else(
        || "(built-in default)".to_owned(),
        |path| path.display().to_string(),
    );
    reload::Reload::new(
        "rate card",
        origin,
        move || rate_card::load(rate_card.as_deref()),
        move |card| {
            let current = policy.current();
            policy.replace(hourglass_core::Policy {
                rate_card: card,
                ..(*current).clone()
            });
            if let Some(decision_log) = &decision_log {
                decision_log.rate_card_reloaded();
            }
        },
        metrics::rate_card_reload,
    )
    .on_sighup()
    .await;
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
