//! The protobuf of `UsageService`'s answers.

use std::collections::BTreeMap;

use hourglass_core::{
    Category, CustomerId, Dimension, EstimateLine, Granularity, Instant, LineEstimate, MetaPricing, MetaTier,
    Money, Month, Policy, Prediction, Report, Usage,
};
use hourglass_proto::v1 as pb;
use hourglass_store::deliveries::{Delivery, Discrepancy, Reconciliation, StatsRow};

use crate::convert::ToProto;
use crate::error::Error;

impl ToProto for Reconciliation {
    type Proto = pb::GetReconciliationResponse;

    fn to_proto(&self) -> pb::GetReconciliationResponse {
        pb::GetReconciliationResponse {
            matched: self.matched,
            mismatched: self.mismatched,
            category_differs: self.category_differs,
            pricing_type_differs: self.pricing_type_differs,
            billable_differs: self.billable_differs,
            pending: self.pending,
            failed: self.failed,
            unmatched: self.unmatched,
            discrepancies: self.discrepancies.iter().map(ToProto::to_proto).collect(),
            meta_tiers: Vec::new(),
        }
    }
}

impl ToProto for Discrepancy {
    type Proto = pb::Discrepancy;

    fn to_proto(&self) -> pb::Discrepancy {
        let Delivery {
            message,
            prediction,
            report,
        } = &self.delivery;
        let differences = self.differences.unwrap_or_default();
        pb::Discrepancy {
            business_id: message.thread.business_id.as_str().to_owned(),
            customer_id: message.thread.customer_id.as_str().to_owned(),
            message_id: message.message_id.as_str().to_owned(),
            predicted: prediction.as_ref().map(ToProto::to_proto),
            reported: report.as_ref().map(ToProto::to_proto),
            category_differs: differences.category,
            pricing_type_differs: differences.pricing_type,
            billable_differs: differences.billable,
        }
    }
}

impl ToProto for Prediction {
    type Proto = pb::Prediction;

    fn to_proto(&self) -> pb::Prediction {
        let (template_name, template_language) = match &self.template {
            Some(template) => (template.name().to_owned(), template.language().to_owned()),
            None => (String::new(), String::new()),
        };
        pb::Prediction {
            at: Some(self.at.to_proto()),
            category: self.category.to_proto().into(),
            pricing_type: self.pricing_type.to_proto().into(),
            billable: self.billable,
            price: Some(self.price.to_proto()),
            template_name,
            template_language,
        }
    }
}

impl ToProto for Report {
    type Proto = pb::MetaReport;

    fn to_proto(&self) -> pb::MetaReport {
        let at = |at: Option<Instant>| at.map(|at| at.to_proto());
        let pricing = self
            .pricing
            .as_ref()
            .map(|(_, pricing)| pricing.clone())
            .unwrap_or_default();
        let MetaPricing {
            category,
            pricing_type,
            billable,
        } = pricing;
        pb::MetaReport {
            sent_at: at(self.sent),
            delivered_at: at(self.delivered),
            read_at: at(self.read),
            failed_at: at(self.failed),
            error_codes: self.errors.clone(),
            category: category.unwrap_or_default(),
            pricing_type: pricing_type.unwrap_or_default(),
            billable,
        }
    }
}

impl ToProto for StatsRow {
    type Proto = pb::DeliveryStatsRow;

    fn to_proto(&self) -> pb::DeliveryStatsRow {
        let (template_name, template_language) = match &self.template {
            Some(template) => (template.name().to_owned(), template.language().to_owned()),
            None => (String::new(), String::new()),
        };
        pb::DeliveryStatsRow {
            business_id: self.business.as_str().to_owned(),
            template_name,
            template_language,
            recorded: self.stats.recorded,
            sent: self.stats.sent,
            delivered: self.stats.delivered,
            read: self.stats.read,
            failed: self.stats.failed,
            delivery_rate: self.stats.delivery_rate(),
            read_rate: self.stats.read_rate(),
        }
    }
}

impl ToProto for MetaTier {
    type Proto = pb::MetaVolumeTier;

    fn to_proto(&self) -> pb::MetaVolumeTier {
        pb::MetaVolumeTier {
            market: self.market.clone(),
            category: self.category.clone(),
            effective_month: self.month.to_string(),
            tier: self.tier.clone(),
            updated_at: Some(self.updated_at.to_proto()),
            ..pb::MetaVolumeTier::default()
        }
    }
}

/// Returns whether the UTC month `month` shares an instant with `[start, end)`.
pub(super) fn month_overlaps(month: Month, start: Instant, end: Instant) -> bool {
    let (first, last) = (
        start.utc_month(),
        end.minus(hourglass_core::Duration::MILLISECOND).utc_month(),
    );
    first <= month && month <= last
}

/// Reads an estimate's line: its market (by name, or the market of its customer at `local`), category
/// and count. `index` numbers the line in errors.
pub(super) fn estimate_line(
    line: &pb::EstimateLine,
    index: usize,
    policy: &Policy,
    local: Instant,
) -> Result<EstimateLine, Error> {
    let invalid = |reason: String| -> Error {
        hourglass_core::Error::invalid("lines", format!("line {}: {reason}", index + 1)).into()
    };
    let market = match (line.market.is_empty(), line.customer_id.is_empty()) {
        (false, true) => line.market.clone(),
        (true, false) => {
            let customer = CustomerId::new(&line.customer_id).map_err(|error| invalid(error.reason))?;
            policy.rate_card.market_at(&customer, local).to_owned()
        }
        _ => return Err(invalid("give either `market` or `customer_id`".to_owned())),
    };
    let category = match pb::Category::try_from(line.category) {
        Ok(pb::Category::Marketing) => Category::Marketing,
        Ok(pb::Category::Utility) => Category::Utility,
        Ok(pb::Category::Authentication) => Category::Authentication,
        Ok(pb::Category::Service) => Category::Service,
        _ => {
            return Err(invalid(
                "`category` must be CATEGORY_MARKETING, CATEGORY_UTILITY, CATEGORY_AUTHENTICATION or \
                 CATEGORY_SERVICE"
                    .to_owned(),
            ));
        }
    };
    Ok(EstimateLine {
        market,
        category,
        count: line.count,
    })
}

/// The answer to `EstimateCost`: every line, and the totals per currency.
pub(super) fn estimate_to_proto(estimates: &[LineEstimate]) -> pb::EstimateCostResponse {
    let mut totals: BTreeMap<String, Money> = BTreeMap::new();
    for estimate in estimates {
        let total = totals
            .entry(estimate.cost.currency.to_string())
            .or_insert_with(|| Money::zero(estimate.cost.currency));
        total.amount += estimate.cost.amount;
    }
    let totals: Vec<pb::Money> = totals.values().map(ToProto::to_proto).collect();
    pb::EstimateCostResponse {
        lines: estimates
            .iter()
            .map(|estimate| pb::LineEstimate {
                market: estimate.line.market.clone(),
                category: estimate.line.category.to_proto().into(),
                count: estimate.line.count,
                pricing_model: estimate.pricing_model.to_proto().into(),
                unit_price: Some(estimate.unit_price.to_proto()),
                tiers: estimate
                    .tiers
                    .iter()
                    .map(|tier| pb::TierUse {
                        from: tier.from,
                        rate: Some(tier.rate.to_proto()),
                        count: tier.count,
                    })
                    .collect(),
                cost: Some(estimate.cost.to_proto()),
            })
            .collect(),
        total: (totals.len() == 1).then(|| totals[0].clone()),
        totals,
    }
}

pub(super) fn granularity_from_proto(granularity: i32) -> Result<Granularity, Error> {
    match pb::UsageGranularity::try_from(granularity) {
        Ok(pb::UsageGranularity::Daily) => Ok(Granularity::Daily),
        Ok(pb::UsageGranularity::Monthly) => Ok(Granularity::Monthly),
        _ => Err(hourglass_core::Error::invalid(
            "granularity",
            "must be USAGE_GRANULARITY_DAILY or USAGE_GRANULARITY_MONTHLY",
        )
        .into()),
    }
}

pub(super) fn dimension_from_proto(dimension: i32) -> Result<Dimension, Error> {
    match pb::UsageDimension::try_from(dimension) {
        Ok(pb::UsageDimension::Market) => Ok(Dimension::Market),
        Ok(pb::UsageDimension::Category) => Ok(Dimension::Category),
        Ok(pb::UsageDimension::PricingType) => Ok(Dimension::PricingType),
        Ok(pb::UsageDimension::Business) => Ok(Dimension::Business),
        Ok(pb::UsageDimension::Tier) => Ok(Dimension::Tier),
        _ => Err(hourglass_core::Error::invalid(
            "dimensions",
            "each must be USAGE_DIMENSION_MARKET, _CATEGORY, _PRICING_TYPE, _BUSINESS or _TIER",
        )
        .into()),
    }
}

pub(super) fn usage_to_proto(usage: &Usage) -> pb::GetUsageResponse {
    pb::GetUsageResponse {
        data_points: usage
            .points()
            .map(|(key, point)| pb::UsageDataPoint {
                start: Some(key.start.to_proto()),
                end: Some(key.end.to_proto()),
                market: key.market.clone().unwrap_or_default(),
                category: key.category.map_or(0, |category| category.to_proto().into()),
                pricing_type: key
                    .pricing_type
                    .map_or(0, |pricing_type| pricing_type.to_proto().into()),
                business_id: key
                    .business
                    .as_ref()
                    .map(|business| business.as_str().to_owned())
                    .unwrap_or_default(),
                tier: key.tier.unwrap_or(0),
                volume: point.volume,
                failed: point.failed,
                conversations: point.conversations,
                cost: Some(
                    Money {
                        currency: key.currency,
                        amount: point.cost,
                    }
                    .to_proto(),
                ),
            })
            .collect(),
    }
}

/// Converts an account's budget status for `GetBudget`.
pub(super) fn budget_to_proto(status: &hourglass_core::BudgetStatus) -> pb::GetBudgetResponse {
    pb::GetBudgetResponse {
        month_start: Some(status.start.to_proto()),
        month_end: Some(status.end.to_proto()),
        budget: status.budget.as_ref().map(ToProto::to_proto),
        spent: Some(status.spent.to_proto()),
        remaining: status.remaining.as_ref().map(ToProto::to_proto),
    }
}
