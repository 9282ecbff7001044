//! The stored format of delivery records: a message's `Prediction`, written once with its step, and
//! Meta's `Report` of it, changed by every new status. Versioned like every record.

use hourglass_core::{
    AccountId, Day, DeliveryStatus, Instant, MetaPricing, Prediction, Report, TemplateName,
};
use serde::{Deserialize, Serialize};

use super::{CategoryV1, MoneyV1, PricingModelV1, PricingTypeV1};
use crate::Error;

/// A prediction as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version")]
pub enum PredictionRecord {
    #[serde(rename = "1")]
    V1(PredictionV1),
}

/// Meta's report of a message as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version")]
pub enum ReportRecord {
    #[serde(rename = "1")]
    V1(ReportV1),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredictionV1 {
    account: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    market: String,
    at: i64,
    /// The day of the account's zone its usage counts in, `YYYY-MM-DD`; none before usage was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    usage_day: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    template: Option<TemplateV1>,
    category: CategoryV1,
    pricing_type: PricingTypeV1,
    billable: bool,
    price: MoneyV1,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pricing_model: Option<PricingModelV1>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    opens_conversation: bool,
    /// The volume tier of the price (`Charge::tier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tier: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct TemplateV1 {
    name: String,
    language: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportV1 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sent: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delivered: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    read: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failed: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    errors: Vec<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pricing: Option<PricingV1>,
}

/// Meta's pricing as it came, with the status that carried it (`sent`, `delivered`, `read`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct PricingV1 {
    from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pricing_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    billable: Option<bool>,
}

impl From<&Prediction> for PredictionRecord {
    fn from(prediction: &Prediction) -> PredictionRecord {
        PredictionRecord::V1(PredictionV1 {
            account: prediction.account.as_str().to_owned(),
            market: prediction.market.clone(),
            at: prediction.at.as_millis(),
            usage_day: prediction.usage_day.map(|day| day.to_string()),
            template: prediction.template.as_ref().map(|template| TemplateV1 {
                name: template.name().to_owned(),
                language: template.language().to_owned(),
            }),
            category: prediction.category.into(),
            pricing_type: prediction.pricing_type.into(),
            billable: prediction.billable,
            price: MoneyV1::from(&prediction.price),
            pricing_model: Some(prediction.pricing_model.into()),
            opens_conversation: prediction.opens_conversation,
            tier: prediction.tier,
        })
    }
}

impl TryFrom<PredictionRecord> for Prediction {
    type Error = Error;

    fn try_from(record: PredictionRecord) -> Result<Prediction, Error> {
        let PredictionRecord::V1(v1) = record;
        let corrupt = |what: &str, error: hourglass_core::Error| {
            Error::corrupt(format!("stored prediction has a bad {what}: {error}"))
        };
        Ok(Prediction {
            account: AccountId::new("account", &v1.account).map_err(|error| corrupt("account", error))?,
            market: v1.market,
            at: Instant::from_millis(v1.at),
            usage_day: v1
                .usage_day
                .map(|day| {
                    Day::parse(&day).ok_or_else(|| {
                        Error::corrupt(format!("stored prediction has a bad usage day {day:?}"))
                    })
                })
                .transpose()?,
            template: v1
                .template
                .map(|template| TemplateName::new(&template.name, &template.language))
                .transpose()
                .map_err(|error| corrupt("template", error))?,
            category: v1.category.into(),
            pricing_type: v1.pricing_type.into(),
            billable: v1.billable,
            price: v1.price.try_into()?,
            // Predictions written before these fields: a conversation's price was on the message that
            // opened it, and per-message ones opened none.
            pricing_model: v1.pricing_model.map_or(
                if v1.opens_conversation {
                    hourglass_core::PricingModel::Conversation
                } else {
                    hourglass_core::PricingModel::PerMessage
                },
                Into::into,
            ),
            opens_conversation: v1.opens_conversation,
            tier: v1.tier,
        })
    }
}

impl From<&Report> for ReportRecord {
    fn from(report: &Report) -> ReportRecord {
        let millis = |at: Option<Instant>| at.map(Instant::as_millis);
        ReportRecord::V1(ReportV1 {
            sent: millis(report.sent),
            delivered: millis(report.delivered),
            read: millis(report.read),
            failed: millis(report.failed),
            errors: report.errors.clone(),
            pricing: report.pricing.as_ref().map(|(from, pricing)| PricingV1 {
                from: from.as_str().to_owned(),
                category: pricing.category.clone(),
                pricing_type: pricing.pricing_type.clone(),
                billable: pricing.billable,
            }),
        })
    }
}

impl TryFrom<ReportRecord> for Report {
    type Error = Error;

    fn try_from(record: ReportRecord) -> Result<Report, Error> {
        let ReportRecord::V1(v1) = record;
        let instant = |millis: Option<i64>| millis.map(Instant::from_millis);
        let pricing = match v1.pricing {
            Some(pricing) => {
                let from = DeliveryStatus::parse(&pricing.from).ok_or_else(|| {
                    Error::corrupt(format!("stored report has a bad status {:?}", pricing.from))
                })?;
                Some((
                    from,
                    MetaPricing {
                        category: pricing.category,
                        pricing_type: pricing.pricing_type,
                        billable: pricing.billable,
                    },
                ))
            }
            None => None,
        };
        Ok(Report {
            sent: instant(v1.sent),
            delivered: instant(v1.delivered),
            read: instant(v1.read),
            failed: instant(v1.failed),
            errors: v1.errors,
            pricing,
        })
    }
}
