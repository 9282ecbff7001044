//! Usage (docs/SPEC.md section 15.1): what an account's recorded messages cost, summed by period of its
//! time zone and by the dimensions asked, exactly: the sum of the prices Hourglass answered.
//!
//! It is kept as per-day aggregates, so that it outlives the predictions (`USAGE_RETENTION`, 400 days,
//! against `DELIVERY_RETENTION`'s 62): a `UsageRow` names one day of one account and one value of every
//! dimension, and holds `UsageCounts`. A store adds to a row what these functions compute, and nothing
//! else: `UsageChange::recorded` when a message's prediction is first written (with it, in one atomic
//! write, so a retry or a duplicate never counts twice), and `UsageChange::failed` when Meta's report of
//! it first turns failed (with the report's compare-and-swap). A message Meta reports failed is not
//! charged under per-message pricing, so its cost leaves the usage and its volume moves to `failed`; a
//! conversation already opened is not revised.
//!
//! A message's day is the calendar day of the account's zone at its instant, as the zone was then
//! (`Prediction::usage_day`): changing an account's zone does not move past usage. `Usage` sums rows
//! into the periods and dimensions asked.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::{
    AccountId, BusinessId, Category, Currency, Day, Instant, Prediction, PricingModel, PricingType, Report,
    Zone,
};

/// One usage aggregate: an account's messages of one day of its zone that share every dimension.
/// Another dimension (a volume tier, say) is one more field here, in the store's row encoding, and in
/// `Usage::add_row`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UsageRow {
    pub account: AccountId,
    /// The calendar day of the account's zone when the message was recorded.
    pub day: Day,
    /// The customer's market, as the rate card names it.
    pub market: String,
    pub category: Category,
    pub pricing_type: PricingType,
    pub business: BusinessId,
    pub pricing_model: PricingModel,
    pub currency: Currency,
    /// The volume tier the messages' price came from (`Charge::tier`); none off a ladder.
    pub tier: Option<u32>,
}

/// What a usage row counts, or what a change adds to it (then possibly negative).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageCounts {
    /// Messages charged (or free) as answered.
    pub volume: i64,
    /// Messages Meta reported failed under per-message pricing: not charged.
    pub failed: i64,
    /// Conversations the messages opened.
    pub conversations: i64,
    /// The sum of the answered prices of the volume (each to the nano, as answered).
    pub cost: Decimal,
}

impl UsageCounts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &UsageCounts) {
        self.volume += other.volume;
        self.failed += other.failed;
        self.conversations += other.conversations;
        self.cost += other.cost;
    }
}

/// What one write adds to one usage row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageChange {
    pub row: UsageRow,
    pub counts: UsageCounts,
}

impl UsageChange {
    /// Returns what a message's prediction adds to its row when it is first written: one message, the
    /// conversation it opens, and its answered price. None for a prediction with no usage day.
    pub fn recorded(business: &BusinessId, prediction: &Prediction) -> Option<UsageChange> {
        Some(UsageChange {
            row: UsageRow::of(business, prediction, prediction.usage_day?),
            counts: recorded_counts(prediction),
        })
    }

    /// Returns what Meta's report of a message changes in its row when it goes from `before` to
    /// `after`: under per-message pricing, the first failed status takes the message's volume,
    /// conversation and cost back and counts it failed. None for any other change, and for a
    /// prediction with no usage day.
    pub fn failed(
        business: &BusinessId,
        prediction: &Prediction,
        before: Option<&Report>,
        after: &Report,
    ) -> Option<UsageChange> {
        let first_failure = before.is_none_or(|before| before.failed.is_none()) && after.failed.is_some();
        let counts = failed_counts(prediction);
        (first_failure && counts != UsageCounts::default()).then_some(UsageChange {
            row: UsageRow::of(business, prediction, prediction.usage_day?),
            counts,
        })
    }
}

impl UsageRow {
    /// Returns the row of a message of `business` predicted as `prediction`, counted in `day`.
    fn of(business: &BusinessId, prediction: &Prediction, day: Day) -> UsageRow {
        UsageRow {
            account: prediction.account.clone(),
            day,
            market: prediction.market.clone(),
            category: prediction.category,
            pricing_type: prediction.pricing_type,
            business: business.clone(),
            pricing_model: prediction.pricing_model,
            currency: prediction.price.currency,
            tier: prediction.tier,
        }
    }
}

/// A recorded message: its volume, its conversation and its price as answered (to the nano).
fn recorded_counts(prediction: &Prediction) -> UsageCounts {
    UsageCounts {
        volume: 1,
        failed: 0,
        conversations: i64::from(prediction.opens_conversation),
        cost: to_the_nano(prediction.price.amount),
    }
}

/// Returns an amount as it is answered: to the nano, digits past the ninth decimal place dropped.
fn to_the_nano(amount: Decimal) -> Decimal {
    if amount.scale() > 9 {
        amount.trunc_with_scale(9)
    } else {
        amount
    }
}

/// A failure: under per-message pricing the message is not charged, so what it added leaves and it
/// counts failed; under the conversation model a conversation once opened is not revised (nothing).
fn failed_counts(prediction: &Prediction) -> UsageCounts {
    if prediction.pricing_model != PricingModel::PerMessage {
        return UsageCounts::default();
    }
    let recorded = recorded_counts(prediction);
    UsageCounts {
        volume: -recorded.volume,
        failed: 1,
        conversations: -recorded.conversations,
        cost: -recorded.cost,
    }
}

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
    /// The volume tier of the price (docs/SPEC.md section 15.2).
    Tier,
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
    /// With `Dimension::Tier`: the tier, none for messages priced off a ladder.
    pub tier: Option<u32>,
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

    /// Counts one recorded message of `business`, with Meta's report of it if there is one, as its
    /// rows count it: what its prediction added, and what a failed report changed. A prediction with
    /// no usage day counts in the day of this zone.
    pub fn add(&mut self, business: &BusinessId, prediction: &Prediction, report: Option<&Report>) {
        let prediction = Prediction {
            usage_day: Some(
                prediction
                    .usage_day
                    .unwrap_or_else(|| self.zone.day_of(prediction.at)),
            ),
            ..prediction.clone()
        };
        let changes = UsageChange::recorded(business, &prediction)
            .into_iter()
            .chain(report.and_then(|report| UsageChange::failed(business, &prediction, None, report)));
        let mut row = None;
        let mut counts = UsageCounts::default();
        for change in changes {
            counts.add(&change.counts);
            row = Some(change.row);
        }
        if let Some(row) = row {
            self.add_row(&row, &counts);
        }
    }

    /// Adds one usage row to its group: the period of this zone holding its day, and the values of
    /// the dimensions asked.
    pub fn add_row(&mut self, row: &UsageRow, counts: &UsageCounts) {
        let (start, end) = self
            .zone
            .period_of_day(row.day, self.granularity == Granularity::Monthly);
        let by = |dimension| self.dimensions.contains(&dimension);
        let key = UsageKey {
            start,
            end,
            market: by(Dimension::Market).then(|| row.market.clone()),
            category: by(Dimension::Category).then_some(row.category),
            pricing_type: by(Dimension::PricingType).then_some(row.pricing_type),
            business: by(Dimension::Business).then(|| row.business.clone()),
            tier: if by(Dimension::Tier) { row.tier } else { None },
            currency: row.currency,
        };
        let point = self.points.entry(key).or_default();
        let count = |total: u64, delta: i64| total.saturating_add_signed(delta);
        point.volume = count(point.volume, counts.volume);
        point.failed = count(point.failed, counts.failed);
        point.conversations = count(point.conversations, counts.conversations);
        point.cost += counts.cost;
    }

    /// Returns the days of this zone a period `[start, end)` touches, in order: the days whose rows
    /// `add_row` is given for it.
    pub fn days(&self, start: Instant, end: Instant) -> Vec<Day> {
        let mut days = Vec::new();
        if end <= start {
            return days;
        }
        let (first, last) = (
            self.zone.day_of(start),
            self.zone.day_of(end.minus(crate::Duration::MILLISECOND)),
        );
        let mut day = first;
        while day <= last {
            days.push(day);
            day = day.plus_days(1);
        }
        days
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
            usage_day: None,
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
            tier: None,
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

    #[test]
    fn changes_count_a_message_once_and_its_first_failure_once() {
        let business = BusinessId::new("106540352242922").unwrap();
        let kolkata = Zone::new("time_zone", "Asia/Kolkata").unwrap();
        let mut message = prediction(
            LATE_NOVEMBER,
            "India",
            Category::Marketing,
            "0.86311111119",
            PricingModel::PerMessage,
        );
        assert_eq!(
            UsageChange::recorded(&business, &message),
            None,
            "no usage day: no row"
        );
        message.usage_day = Some(kolkata.day_of(message.at));
        let recorded = UsageChange::recorded(&business, &message).unwrap();
        assert_eq!(recorded.row.day.to_string(), "2026-12-01", "the day of the zone");
        assert_eq!(
            recorded.counts,
            UsageCounts {
                volume: 1,
                failed: 0,
                conversations: 0,
                cost: Decimal::from_str("0.863111111").unwrap(),
            },
            "the price as answered, to the nano"
        );
        let sent = Report {
            sent: Some(Instant::from_millis(LATE_NOVEMBER)),
            ..Report::default()
        };
        let failed = Report {
            failed: Some(Instant::from_millis(LATE_NOVEMBER)),
            ..sent.clone()
        };
        let failure = UsageChange::failed(&business, &message, Some(&sent), &failed).unwrap();
        assert_eq!(failure.row, recorded.row);
        let mut counts = recorded.counts;
        counts.add(&failure.counts);
        assert_eq!(
            counts,
            UsageCounts {
                volume: 0,
                failed: 1,
                conversations: 0,
                cost: Decimal::ZERO,
            }
        );
        assert_eq!(
            UsageChange::failed(&business, &message, Some(&failed), &failed),
            None,
            "a report already failed changes nothing"
        );
        assert_eq!(UsageChange::failed(&business, &message, None, &sent), None);
        let opened = Prediction {
            pricing_model: PricingModel::Conversation,
            opens_conversation: true,
            ..message
        };
        assert_eq!(
            UsageChange::failed(&business, &opened, None, &failed),
            None,
            "a conversation once opened is not revised"
        );
        assert_eq!(
            UsageChange::recorded(&business, &opened)
                .unwrap()
                .counts
                .conversations,
            1
        );
    }

    #[test]
    fn rows_are_summed_into_periods_of_the_zone() {
        let business = BusinessId::new("106540352242922").unwrap();
        let kolkata = Zone::new("time_zone", "Asia/Kolkata").unwrap();
        let mut message = prediction(
            LATE_NOVEMBER,
            "India",
            Category::Utility,
            "0.1150",
            PricingModel::PerMessage,
        );
        message.usage_day = Some(kolkata.day_of(message.at));
        let change = UsageChange::recorded(&business, &message).unwrap();
        let mut usage = Usage::new(kolkata, Granularity::Monthly, &[Dimension::Business]);
        usage.add_row(&change.row, &change.counts);
        usage.add_row(&change.row, &change.counts);
        let (key, point) = usage.points().next().unwrap();
        assert_eq!(key.start.to_string(), "2026-11-30T18:30:00.000Z");
        assert_eq!(key.end.to_string(), "2026-12-31T18:30:00.000Z");
        assert_eq!(key.business.as_ref(), Some(&business));
        assert_eq!((point.volume, point.cost.to_string()), (2, "0.2300".to_owned()));
        let days = usage.days(
            Instant::from_millis(LATE_NOVEMBER),
            Instant::from_millis(LATE_NOVEMBER + 86_400_000),
        );
        let days: Vec<String> = days.iter().map(ToString::to_string).collect();
        assert_eq!(days, ["2026-12-01", "2026-12-02"], "every day the period touches");
        assert_eq!(Day::parse("2026-12-01"), Some(kolkata.day_of(message.at)));
    }
}
