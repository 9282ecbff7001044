//! `UsageService`, the gRPC handlers of docs/SPEC.md section 15 built so far: the reconciliation of
//! Hourglass's predictions with Meta's statuses (15.4), and delivery and read rates. Each validates its
//! request, reads the account's deliveries through `hourglass_store::deliveries`, and converts.

mod convert;

use std::sync::Arc;

use hourglass_core::{AccountId, Duration, Instant};
use hourglass_proto::v1 as pb;
use hourglass_proto::v1::usage_service_server::UsageService;
use hourglass_store::Store;
use hourglass_store::deliveries;
use hourglass_store::registry::{self, Entry, Key};
use tonic::{Request, Response, Status};

use crate::convert::{ToProto, timestamp_from_proto};
use crate::error::{Error, to_status};
use crate::service::{bounded, log_request};

/// The longest period one call reads: a quarter, so that one call reads a bounded number of days.
const MAX_PERIOD: Duration = Duration::from_millis(93 * Duration::DAY.as_millis());

/// The `hourglass.v1.UsageService` implementation over a store.
pub(crate) struct UsageServer {
    store: Arc<dyn Store>,
    /// Longer than one store call: a period is read a page at a time.
    timeout: std::time::Duration,
}

impl UsageServer {
    pub fn new(store: Arc<dyn Store>, store_timeout: std::time::Duration) -> UsageServer {
        UsageServer {
            store,
            timeout: store_timeout.saturating_mul(20),
        }
    }
}

/// Validates an account and a period `[start, end)`.
fn period(
    account_id: &str,
    start: Option<prost_types::Timestamp>,
    end: Option<prost_types::Timestamp>,
) -> Result<(AccountId, Instant, Instant), Error> {
    let account = AccountId::new("account_id", account_id)?;
    let start = timestamp_from_proto("start", start)?
        .ok_or_else(|| hourglass_core::Error::invalid("start", "is required: the period's first instant"))?;
    let end = timestamp_from_proto("end", end)?
        .ok_or_else(|| hourglass_core::Error::invalid("end", "is required: the instant after the period"))?;
    if end <= start {
        return Err(
            hourglass_core::Error::invalid("end", format!("{end} is not after start {start}")).into(),
        );
    }
    if end.since(start) > MAX_PERIOD {
        return Err(hourglass_core::Error::invalid(
            "end",
            format!(
                "the period from {start} to {end} is longer than 93 days: ask for it a quarter at a time"
            ),
        )
        .into());
    }
    Ok((account, start, end))
}

#[tonic::async_trait]
impl UsageService for UsageServer {
    #[tracing::instrument(name = "GetReconciliation", skip_all)]
    async fn get_reconciliation(
        &self,
        request: Request<pb::GetReconciliationRequest>,
    ) -> Result<Response<pb::GetReconciliationResponse>, Status> {
        let started = std::time::Instant::now();
        let request = request.into_inner();
        let result = async {
            let (account, start, end) = period(&request.account_id, request.start, request.end)?;
            let tiers_key = Key::MetaTiers(account.clone());
            let (summary, tiers) = bounded(self.timeout, async {
                tokio::try_join!(
                    deliveries::reconcile(self.store.as_ref(), &account, start, end),
                    registry::get(self.store.as_ref(), &tiers_key),
                )
            })
            .await?;
            let mut response = summary.to_proto();
            if let Some(Entry::MetaTiers(tiers)) = tiers {
                response.meta_tiers = tiers
                    .tiers()
                    .iter()
                    .filter(|tier| convert::month_overlaps(tier.month, start, end))
                    .map(ToProto::to_proto)
                    .collect();
            }
            Ok::<_, Error>(Response::new(response))
        }
        .await
        .map_err(to_status);
        log_request("GetReconciliation", started, &result, |_| None);
        result
    }

    #[tracing::instrument(name = "GetDeliveryStats", skip_all)]
    async fn get_delivery_stats(
        &self,
        request: Request<pb::GetDeliveryStatsRequest>,
    ) -> Result<Response<pb::GetDeliveryStatsResponse>, Status> {
        let started = std::time::Instant::now();
        let request = request.into_inner();
        let result = async {
            let (account, start, end) = period(&request.account_id, request.start, request.end)?;
            let rows = bounded(
                self.timeout,
                deliveries::stats(self.store.as_ref(), &account, start, end),
            )
            .await?;
            Ok::<_, Error>(Response::new(pb::GetDeliveryStatsResponse {
                rows: rows.iter().map(ToProto::to_proto).collect(),
            }))
        }
        .await
        .map_err(to_status);
        log_request("GetDeliveryStats", started, &result, |_| None);
        result
    }
}
