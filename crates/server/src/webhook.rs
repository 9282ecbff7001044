//! `WebhookService` (docs/SPEC.md section 14): Meta's webhook bodies, as Meta posted them, applied to
//! what Hourglass knows. The same ingestion serves gRPC (`IngestWebhook`) and, with
//! `--webhook-listen`, Meta's own HTTP calls (`http`).
//!
//! A body goes: signature (`signature`) → items (`items`, pure: paths and effects) → each effect
//! written (`apply`, through the ledger and the registry) → counts. A body that is not a webhook is
//! refused whole; inside one, an odd item is named by its path and the rest is applied.

mod apply;
pub(crate) mod http;
mod items;
mod payload;
pub(crate) mod signature;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::Arc;

use hourglass_core::{Duration, Instant};
use hourglass_proto::v1 as pb;
use hourglass_proto::v1::webhook_service_server::WebhookService;
use hourglass_store::Store;
use tonic::{Request, Response, Status};

use crate::auth::Access;
use crate::convert::Clock;
use crate::error::{Error, to_status};
use crate::metrics;
use crate::service::{SharedPolicy, bounded, log_request};

use self::apply::Applied;
use self::items::{Owner, What};

/// The largest body taken, in bytes: Meta's bodies are a few kilobytes, batches a few hundred.
pub(crate) const MAX_PAYLOAD_BYTES: usize = 5 * 1024 * 1024;

/// Ingests webhook bodies into a store.
pub(crate) struct Ingestor {
    pub store: Arc<dyn Store>,
    pub policy: SharedPolicy,
    /// Meta's app secret: when set, every body must carry its signature.
    pub app_secret: Option<Vec<u8>>,
    pub max_clock_skew: Duration,
    pub store_timeout: std::time::Duration,
}

impl std::fmt::Debug for Ingestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingestor")
            .field("app_secret", &self.app_secret.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl Ingestor {
    /// Checks, reads and applies one body. Returns when every item is durably applied; an error of
    /// the store fails the whole body, which is then safe to send again.
    ///
    /// Every account and business the body names must be the caller's (`access`): otherwise nothing
    /// of it is applied.
    pub async fn ingest(
        &self,
        access: &Access,
        payload: &[u8],
        signature: Option<&str>,
    ) -> Result<pb::IngestWebhookResponse, Error> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(hourglass_core::Error::invalid(
                "payload",
                format!(
                    "is {} bytes, more than the {MAX_PAYLOAD_BYTES} a webhook body may be",
                    payload.len()
                ),
            )
            .into());
        }
        if let Some(secret) = &self.app_secret {
            signature::verify(secret, payload, signature).map_err(Error::Unauthenticated)?;
        }
        let clock = Clock::system(self.max_clock_skew);
        let items = items::items(payload, clock)
            .map_err(|error| hourglass_core::Error::invalid("payload", error.to_string()))?;
        self.check_access(access, &items, clock.now).await?;
        let policy = self.policy.current();
        let mut response = pb::IngestWebhookResponse::default();
        for item in items {
            let field = item.field;
            match item.what {
                What::Apply(effect) => {
                    let applied = bounded(
                        self.store_timeout,
                        apply::apply(self.store.as_ref(), &policy, &effect),
                    )
                    .await?;
                    match applied {
                        Applied::Changed => {
                            metrics::webhook_item(field, "applied");
                            response.applied += 1;
                        }
                        Applied::Duplicate => {
                            metrics::webhook_item(field, "duplicate");
                            response.duplicates += 1;
                        }
                        Applied::Refused(reason) => {
                            metrics::webhook_item(field, "refused");
                            response.errors.push(pb::WebhookItemError {
                                path: item.path,
                                reason,
                            });
                        }
                    }
                }
                What::Ignored(reason) => {
                    metrics::webhook_item(field, "ignored");
                    response.ignored += 1;
                    response.ignored_items.push(pb::WebhookItemNote {
                        path: item.path,
                        reason,
                    });
                }
                What::Invalid(reason) => {
                    metrics::webhook_item(field, "invalid");
                    response.errors.push(pb::WebhookItemError {
                        path: item.path,
                        reason,
                    });
                }
            }
        }
        tracing::info!(
            applied = response.applied,
            duplicates = response.duplicates,
            ignored = response.ignored,
            errors = response.errors.len(),
            "webhook ingested"
        );
        Ok(response)
    }
}

impl Ingestor {
    /// Checks that the caller may touch every account and business that `items` write to, each once.
    async fn check_access(&self, access: &Access, items: &[items::Item], now: Instant) -> Result<(), Error> {
        let mut checked = HashSet::new();
        for item in items {
            let What::Apply(effect) = &item.what else {
                continue;
            };
            let owner = effect.owner();
            if !checked.insert(owner) {
                continue;
            }
            match owner {
                Owner::Account(account) => access.account(account)?,
                Owner::Business(business) => {
                    access
                        .business(self.store.as_ref(), self.store_timeout, business, now)
                        .await?;
                }
            }
        }
        Ok(())
    }
}

/// The `hourglass.v1.WebhookService` implementation.
pub(crate) struct WebhookServer {
    ingestor: Arc<Ingestor>,
}

impl WebhookServer {
    pub fn new(ingestor: Arc<Ingestor>) -> WebhookServer {
        WebhookServer { ingestor }
    }
}

#[tonic::async_trait]
impl WebhookService for WebhookServer {
    #[tracing::instrument(name = "IngestWebhook", skip_all)]
    async fn ingest_webhook(
        &self,
        request: Request<pb::IngestWebhookRequest>,
    ) -> Result<Response<pb::IngestWebhookResponse>, Status> {
        let started = std::time::Instant::now();
        let access = Access::of(&request);
        let pb::IngestWebhookRequest { payload, signature } = request.into_inner();
        let signature = Some(signature.as_str()).filter(|signature| !signature.is_empty());
        let result = self
            .ingestor
            .ingest(&access, &payload, signature)
            .await
            .map(Response::new)
            .map_err(to_status);
        log_request("IngestWebhook", started, &result, |_| None);
        result
    }
}
