//! Usage (docs/SPEC.md section 15.1): what an account's recorded messages cost, summed by period of its
//! time zone and by the dimensions asked, exactly: the sum of the prices Hourglass answered.
//!
//! It is read from the predictions each allowed step writes (`delivery.rs`), beside Meta's reports: a
//! message Meta reports failed is not charged under per-message pricing, so its cost leaves the usage
//! and its volume moves to `failed`; a conversation already opened is not revised.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::{BusinessId, Category, Currency, Instant, Prediction, PricingModel, PricingType, Report, Zone};

/// How usage is split in time: days or months of the account's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Granularity {
    Daily,
    Monthly,
}

/// What usage may be grouped by, besides its period and currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dimension {
    Market,
    Category,
    PricingType,
    Business,
}

/// One group of usage: its period `[start, end)`, the values of the dimensions asked (none for the
/// others), and the currency its cost is in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UsageKey {
    pub start: Instant,
    pub end: Instant,
    pub market: Option<String>,
    pub category: Option<Category>,
    pub pricing_type: Option<PricingType>,
    pub business: Option<BusinessId>,
    pub currency: Currency,
}

/// What one group holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsagePoint {
    /// Messages charged (or free) as answered.
    pub volume: u64,
    /// Messages Meta reported failed under per-message pricing: not charged.
    pub failed: u64,
    /// Conversations the messages opened.
    pub conversations: u64,
    /// The sum of the answered prices of the volume.
    pub cost: Decimal,
}

/// Usage being summed.
#[derive(Clone, Debug)]
pub struct Usage {
    zone: Zone,
    granularity: Granularity,
    dimensions: Vec<Dimension>,
    points: BTreeMap<UsageKey, UsagePoint>,
}

impl Usage {
    pub fn new(zone: Zone, granularity: Granularity, dimensions: &[Dimension]) -> Usage {
        Usage {
            zone,
            granularity,
            dimensions: dimensions.to_vec(),
            points: BTreeMap::new(),
        }
    }

    /// Counts one recorded message of `business`, with Meta's report of it if there is one.
    pub fn add(&mut self, business: &BusinessId, prediction: &Prediction, report: Option<&Report>) {
        let (start, end) = self
            .zone
            .period_of(prediction.at, self.granularity == Granularity::Monthly);
        let by = |dimension| self.dimensions.contains(&dimension);
        let key = UsageKey {
            start,
            end,
            market: by(Dimension::Market).then(|| prediction.market.clone()),
            category: by(Dimension::Category).then_some(prediction.category),
            pricing_type: by(Dimension::PricingType).then_some(prediction.pricing_type),
            business: by(Dimension::Business).then(|| business.clone()),
            currency: prediction.price.currency,
        };
        let point = self.points.entry(key).or_default();
        let failed = report.is_some_and(|report| report.failed.is_some());
        if failed && prediction.pricing_model == PricingModel::PerMessage {
            point.failed += 1;
            return;
        }
        point.volume += 1;
        point.conversations += u64::from(prediction.opens_conversation);
        point.cost += prediction.price.amount;
    }

    /// Returns the groups, by period, then dimension values, then currency.
    pub fn points(&self) -> impl Iterator<Item = (&UsageKey, &UsagePoint)> {
        self.points.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AccountId, Money};
    use std::str::FromStr;

    fn prediction(at: i64, market: &str, category: Category, price: &str, model: PricingModel) -> Prediction {
        Prediction {
            account: AccountId::new("account_id", "waba-1").unwrap(),
            market: market.to_owned(),
            at: Instant::from_millis(at),
            template: None,
            category,
            pricing_type: PricingType::Regular,
            billable: true,
            price: Money {
                currency: Currency::new("INR").unwrap(),
                amount: Decimal::from_str(price).unwrap(),
            },
            pricing_model: model,
            opens_conversation: model == PricingModel::Conversation,
        }
    }

    /// 2026-11-30T20:00:00Z: still November in UTC, already December in Kolkata.
    const LATE_NOVEMBER: i64 = 1_796_068_800_000;

    #[test]
    fn usage_sums_exactly_by_period_of_the_zone_and_dimension() {
        let business = BusinessId::new("106540352242922").unwrap();
        let kolkata = Zone::new("time_zone", "Asia/Kolkata").unwrap();
        let mut usage = Usage::new(kolkata, Granularity::Monthly, &[Dimension::Category]);
        let marketing = prediction(
            LATE_NOVEMBER,
            "India",
            Category::Marketing,
            "0.8631",
            PricingModel::PerMessage,
        );
        let utility = prediction(
            LATE_NOVEMBER,
            "India",
            Category::Utility,
            "0.1150",
            PricingModel::PerMessage,
        );
        usage.add(&business, &marketing, None);
        usage.add(&business, &marketing, None);
        usage.add(&business, &utility, None);
        let failed = Report {
            failed: Some(Instant::from_millis(LATE_NOVEMBER)),
            ..Report::default()
        };
        usage.add(&business, &marketing, Some(&failed));
        let points: Vec<(String, Option<Category>, u64, u64, String)> = usage
            .points()
            .map(|(key, point)| {
                (
                    key.start.to_string(),
                    key.category,
                    point.volume,
                    point.failed,
                    point.cost.to_string(),
                )
            })
            .collect();
        assert_eq!(
            points,
            [
                (
                    "2026-11-30T18:30:00.000Z".to_owned(),
                    Some(Category::Marketing),
                    2,
                    1,
                    "1.7262".to_owned()
                ),
                (
                    "2026-11-30T18:30:00.000Z".to_owned(),
                    Some(Category::Utility),
                    1,
                    0,
                    "0.1150".to_owned()
                ),
            ],
            "December in Kolkata; the failed marketing message is not charged"
        );
        // A conversation once opened is not revised by a failure.
        let mut conversations = Usage::new(Zone::UTC, Granularity::Daily, &[]);
        let opened = prediction(
            LATE_NOVEMBER,
            "India",
            Category::Marketing,
            "0.8147",
            PricingModel::Conversation,
        );
        conversations.add(&business, &opened, Some(&failed));
        let (key, point) = conversations.points().next().unwrap();
        assert_eq!((point.volume, point.conversations, point.failed), (1, 1, 0));
        assert_eq!(key.start.to_string(), "2026-11-30T00:00:00.000Z");
        assert_eq!(key.end.to_string(), "2026-12-01T00:00:00.000Z");
    }
}
