//! Readiness through `grpc.health.v1.Health`: the server (`""`) and `hourglass.v1.PolicyService` are
//! SERVING exactly while the store answers `check_connectivity`.
//!
//! Both start NOT_SERVING. A background task checks the store at once and then periodically, and flips
//! both statuses when the store fails or recovers. On shutdown they turn NOT_SERVING before the server
//! drains its connections, so that load balancers stop sending requests first.
//!
//! A store that failed for good (`hourglass_store::Error::Failed`: a sled disk that refused a write, a
//! Redis that lost its data) cannot recover while the process runs: the watch turns NOT_SERVING and
//! reports the failure (`StoreWatch::failure`), and the server shuts down with an error, so that the
//! orchestrator restarts it.

use std::sync::Arc;

use hourglass_proto::v1::policy_service_server::SERVICE_NAME as POLICY;
use hourglass_proto::v1::registry_service_server::SERVICE_NAME as REGISTRY;
use hourglass_proto::v1::usage_service_server::SERVICE_NAME as USAGE;
use hourglass_proto::v1::webhook_service_server::SERVICE_NAME as WEBHOOK;
use hourglass_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// The services whose status follows the store: the whole server, and each service of `hourglass.v1`.
const SERVICES: [&str; 5] = ["", POLICY, REGISTRY, USAGE, WEBHOOK];

/// How the store is watched.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StoreCheck {
    /// The time between two checks.
    pub interval: std::time::Duration,
    /// How long one check may take before the store counts as failed.
    pub timeout: std::time::Duration,
}

/// The background task that keeps the health statuses in line with the store; dropping it stops it.
#[derive(Debug)]
pub(crate) struct StoreWatch {
    reporter: HealthReporter,
    task: JoinHandle<()>,
    failure: watch::Receiver<Option<String>>,
}

impl StoreWatch {
    /// Sets every status to NOT_SERVING and starts watching the store, whose first check runs at once.
    pub async fn start(store: Arc<dyn Store>, reporter: HealthReporter, check: StoreCheck) -> StoreWatch {
        set_status(&reporter, ServingStatus::NotServing).await;
        let (failed, failure) = watch::channel(None);
        let task = tokio::spawn(watch_store(store, reporter.clone(), check, failed));
        StoreWatch {
            reporter,
            task,
            failure,
        }
    }

    /// Returns what says whether the store failed for good, and why.
    pub fn failure(&self) -> watch::Receiver<Option<String>> {
        self.failure.clone()
    }

    /// Stops watching and sets every status to NOT_SERVING, for good.
    pub async fn stop(self) {
        // Stop the task first, or a check in flight could turn the statuses back to SERVING.
        self.task.abort();
        set_status(&self.reporter, ServingStatus::NotServing).await;
    }
}

impl Drop for StoreWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn watch_store(
    store: Arc<dyn Store>,
    reporter: HealthReporter,
    check: StoreCheck,
    failed: watch::Sender<Option<String>>,
) {
    let mut ticker = tokio::time::interval(check.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut serving: Option<bool> = None;
    loop {
        ticker.tick().await;
        let problem = match tokio::time::timeout(check.timeout, store.check_connectivity()).await {
            Ok(Ok(())) => None,
            Ok(Err(error @ hourglass_store::Error::Failed { .. })) => {
                set_status(&reporter, ServingStatus::NotServing).await;
                tracing::error!(%error, "store failed for good, not serving");
                failed.send_replace(Some(error.to_string()));
                return;
            }
            Ok(Err(error)) => Some(error.to_string()),
            Err(_elapsed) => Some(format!("no answer within {} ms", check.timeout.as_millis())),
        };
        match (problem, serving) {
            (None, Some(true)) => {}
            (None, _) => {
                set_status(&reporter, ServingStatus::Serving).await;
                tracing::info!("store reachable, serving");
                serving = Some(true);
            }
            (Some(problem), None | Some(true)) => {
                set_status(&reporter, ServingStatus::NotServing).await;
                tracing::error!(%problem, "store unreachable, not serving");
                serving = Some(false);
            }
            (Some(problem), Some(false)) => tracing::debug!(%problem, "store still unreachable"),
        }
    }
}

async fn set_status(reporter: &HealthReporter, status: ServingStatus) {
    crate::metrics::serving(status == ServingStatus::Serving);
    for service in SERVICES {
        reporter.set_service_status(service, status).await;
    }
}
