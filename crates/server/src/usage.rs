//! `UsageService`, the gRPC handlers of docs/SPEC.md section 15 built so far: the reconciliation of
//! Hourglass's predictions with Meta's statuses (15.4), and delivery and read rates. Each validates its
//! request, reads the account's deliveries through `hourglass_store::deliveries`, and converts.

mod convert;

use std::sync::Arc;

use hourglass_core::{
    Account, AccountId, BudgetStatus, Counters, Duration, EstimateFor, Instant, MetaTier, MonthLadder,
    TierOwner, Usage, Zone,
};
use hourglass_proto::v1 as pb;
use hourglass_proto::v1::usage_service_server::UsageService;
use hourglass_store::Store;
use hourglass_store::deliveries;
use hourglass_store::registry::{self, Entry, Key};
use tonic::{Request, Response, Status};

use crate::auth::Access;
use crate::convert::{Clock, ToProto, timestamp_from_proto};
use crate::error::{Error, to_status};
use crate::service::{SharedPolicy, bounded, log_request};

/// The longest period one call reads: a quarter, so that one call reads a bounded number of days.
const MAX_PERIOD: Duration = Duration::from_millis(93 * Duration::DAY.as_millis());

/// The most lines one `EstimateCost` prices.
const MAX_ESTIMATE_LINES: usize = 1_000;

/// The `hourglass.v1.UsageService` implementation over a store.
pub(crate) struct UsageServer {
    store: Arc<dyn Store>,
    policy: SharedPolicy,
    max_clock_skew: Duration,
    /// Longer than one store call: a period is read a page at a time.
    timeout: std::time::Duration,
}

impl UsageServer {
    pub fn new(
        store: Arc<dyn Store>,
        policy: SharedPolicy,
        max_clock_skew: Duration,
        store_timeout: std::time::Duration,
    ) -> UsageServer {
        UsageServer {
            store,
            policy,
            max_clock_skew,
            timeout: store_timeout.saturating_mul(20),
        }
    }

    /// Sums an account's usage for `GetUsage`.
    async fn usage(
        &self,
        access: Access,
        request: pb::GetUsageRequest,
    ) -> Result<pb::GetUsageResponse, Error> {
        let (account, start, end) = period(&request.account_id, request.start, request.end)?;
        access.account(&account)?;
        let granularity = convert::granularity_from_proto(request.granularity)?;
        let dimensions = request
            .dimensions
            .iter()
            .map(|dimension| convert::dimension_from_proto(*dimension))
            .collect::<Result<Vec<_>, Error>>()?;
        let zone = self
            .account_at(&account, start)
            .await?
            .map_or(Zone::UTC, |account| account.time_zone);
        // The period is read by whole days of this zone, and each row keeps the day of the zone the
        // account had when its messages were recorded.
        let mut usage = Usage::new(zone, granularity, &dimensions);
        bounded(
            self.timeout,
            deliveries::usage(self.store.as_ref(), &account, start, end, &mut usage),
        )
        .await?;
        Ok(convert::usage_to_proto(&usage))
    }

    /// Returns an account's settings at `at` (its first ones when `at` is earlier); none for an account
    /// that is not registered (a business of its own, in UTC).
    async fn account_at(&self, account: &AccountId, at: Instant) -> Result<Option<Account>, Error> {
        let entry = bounded(
            self.timeout,
            registry::get(self.store.as_ref(), &Key::Account(account.clone())),
        )
        .await?;
        Ok(match entry {
            Some(Entry::Account(history)) => history
                .at(at)
                .or_else(|| history.changes().first().map(|change| &change.value))
                .cloned(),
            _ => None,
        })
    }

    /// Reads an account's budget and its spend of a month for `GetBudget`.
    async fn budget(
        &self,
        access: Access,
        request: pb::GetBudgetRequest,
    ) -> Result<pb::GetBudgetResponse, Error> {
        let clock = Clock::system(self.max_clock_skew);
        let account = AccountId::new("account_id", &request.account_id)?;
        access.account(&account)?;
        let at = timestamp_from_proto("at", request.at)?.unwrap_or(clock.now);
        let Some(settings) = self.account_at(&account, at).await? else {
            return Err(Error::NotFound(format!("account `{account}` is not registered")));
        };
        let Some(counter) = hourglass_core::spend_counter(&account, &settings, at) else {
            return Err(hourglass_core::Error::invalid(
                "account_id",
                format!("account `{account}` has no billing currency, so no budget: set its currency first"),
            )
            .into());
        };
        let read = bounded(self.timeout, self.store.read_counters(&[counter.clone().into()])).await?;
        let status = BudgetStatus::new(&settings, at, read.used(&counter))
            .ok_or_else(|| Error::NotFound(format!("account `{account}` has no billing currency")))?;
        Ok(convert::budget_to_proto(&status))
    }

    /// Lays Meta's volume tier updates beside the tiers Hourglass counted for the account's portfolio
    /// (docs/SPEC.md section 15.2), read in one call.
    async fn compare_tiers(
        &self,
        account: &AccountId,
        at: Instant,
        metas: &[&MetaTier],
    ) -> Result<Vec<pb::MetaVolumeTier>, Error> {
        let settings = self.account_at(account, at).await?;
        let owner = match &settings {
            Some(settings) => TierOwner::Portfolio(settings.portfolio.clone()),
            None => TierOwner::Account(account.clone()),
        };
        let currency = settings.as_ref().and_then(|settings| settings.currency);
        let policy = self.policy.current();
        let ladders: Vec<Option<MonthLadder<'_>>> = metas
            .iter()
            .map(|meta| {
                MonthLadder::of(
                    &policy,
                    owner.clone(),
                    &meta.market,
                    &meta.category,
                    meta.month,
                    currency,
                )
            })
            .collect();
        let reads: Vec<_> = ladders.iter().flatten().flat_map(MonthLadder::reads).collect();
        let counted = if reads.is_empty() {
            Counters::default()
        } else {
            bounded(self.timeout, self.store.read_counters(&reads)).await?
        };
        Ok(metas
            .iter()
            .zip(&ladders)
            .map(|(meta, ladder)| {
                let mut proto = meta.to_proto();
                if let Some(ladder) = ladder {
                    let tier = ladder.tier(&counted);
                    proto.hourglass_tier = tier.meta_form();
                    proto.hourglass_count = tier.counted;
                    proto.matches = tier.is_metas(&meta.tier);
                }
                proto
            })
            .collect())
    }

    /// Prices an `EstimateCost` request under the policy in force.
    async fn estimate(
        &self,
        access: Access,
        request: pb::EstimateCostRequest,
    ) -> Result<pb::EstimateCostResponse, Error> {
        let clock = Clock::system(self.max_clock_skew);
        let at = timestamp_from_proto("at", request.at)?.unwrap_or(clock.now);
        if request.lines.is_empty() || request.lines.len() > MAX_ESTIMATE_LINES {
            return Err(hourglass_core::Error::invalid(
                "lines",
                format!(
                    "must hold 1 to {MAX_ESTIMATE_LINES} lines, not {}",
                    request.lines.len()
                ),
            )
            .into());
        }
        let whose = if request.account_id.is_empty() {
            EstimateFor::default()
        } else {
            let account = AccountId::new("account_id", &request.account_id)?;
            access.account(&account)?;
            match self.account_at(&account, at).await? {
                Some(settings) => EstimateFor {
                    zone: settings.time_zone,
                    currency: settings.currency,
                    owner: Some(TierOwner::Portfolio(settings.portfolio)),
                },
                None => return Err(Error::NotFound(format!("account `{account}` is not registered"))),
            }
        };
        let policy = self.policy.current();
        let local = whose.zone.wall_clock(at);
        let lines = request
            .lines
            .iter()
            .enumerate()
            .map(|(index, line)| convert::estimate_line(line, index, &policy, local))
            .collect::<Result<Vec<_>, Error>>()?;
        // Ladders continue from the portfolio's counts of the month.
        let reads = hourglass_core::estimate_reads(&policy, &whose, at, &lines);
        let counted = if reads.is_empty() {
            Counters::default()
        } else {
            bounded(self.timeout, self.store.read_counters(&reads)).await?
        };
        let estimates = hourglass_core::estimate(&policy, &whose, at, &lines, &counted)?;
        Ok(convert::estimate_to_proto(&estimates))
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
        let access = Access::of(&request);
        let request = request.into_inner();
        let result = async {
            let (account, start, end) = period(&request.account_id, request.start, request.end)?;
            access.account(&account)?;
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
                let metas: Vec<&MetaTier> = tiers
                    .tiers()
                    .iter()
                    .filter(|tier| convert::month_overlaps(tier.month, start, end))
                    .collect();
                response.meta_tiers = self.compare_tiers(&account, start, &metas).await?;
            }
            Ok::<_, Error>(Response::new(response))
        }
        .await
        .map_err(to_status);
        log_request("GetReconciliation", started, &result, |_| None);
        result
    }

    #[tracing::instrument(name = "EstimateCost", skip_all)]
    async fn estimate_cost(
        &self,
        request: Request<pb::EstimateCostRequest>,
    ) -> Result<Response<pb::EstimateCostResponse>, Status> {
        let started = std::time::Instant::now();
        let result = self
            .estimate(Access::of(&request), request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status);
        log_request("EstimateCost", started, &result, |_| None);
        result
    }

    #[tracing::instrument(name = "GetUsage", skip_all)]
    async fn get_usage(
        &self,
        request: Request<pb::GetUsageRequest>,
    ) -> Result<Response<pb::GetUsageResponse>, Status> {
        let started = std::time::Instant::now();
        let result = self
            .usage(Access::of(&request), request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status);
        log_request("GetUsage", started, &result, |_| None);
        result
    }

    #[tracing::instrument(name = "GetBudget", skip_all)]
    async fn get_budget(
        &self,
        request: Request<pb::GetBudgetRequest>,
    ) -> Result<Response<pb::GetBudgetResponse>, Status> {
        let started = std::time::Instant::now();
        let result = self
            .budget(Access::of(&request), request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status);
        log_request("GetBudget", started, &result, |_| None);
        result
    }

    #[tracing::instrument(name = "GetDeliveryStats", skip_all)]
    async fn get_delivery_stats(
        &self,
        request: Request<pb::GetDeliveryStatsRequest>,
    ) -> Result<Response<pb::GetDeliveryStatsResponse>, Status> {
        let started = std::time::Instant::now();
        let access = Access::of(&request);
        let request = request.into_inner();
        let result = async {
            let (account, start, end) = period(&request.account_id, request.start, request.end)?;
            access.account(&account)?;
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
