//! Deliveries (docs/SPEC.md sections 14 and 15.4): what Hourglass predicted for each outbound message it
//! recorded, what Meta reported of it in its status webhooks, and how the two compare.
//!
//! A [`Prediction`] is written with the step that records an allowed outbound message; a [`Report`]
//! gathers Meta's statuses of one message in any order, each applied once; [`reconcile`] classifies the
//! pair, and [`DeliveryStats`] counts delivery and read rates.

use std::fmt;

use crate::time::Layout;
use crate::{
    AccountId, BusinessId, Category, Charge, CustomerId, Duration, Instant, MessageId, Money, Month,
    Outbound, PricingModel, PricingType, TemplateName, ThreadKey,
};

/// How long a delivery record is kept after its message: Meta reports a message's statuses within
/// 30 days (a phone that is off for weeks) and retries a webhook for 36 hours, and a month's bill is
/// laid beside Meta's in the month after.
pub const DELIVERY_RETENTION: Duration = Duration::from_millis(62 * Duration::DAY.as_millis());

/// How long an account's usage of a day (`UsageRow`) is kept after its latest message: 400 days, so
/// that a year's usage can be laid beside the year before's month by month (docs/SPEC.md section 15.1).
pub const USAGE_RETENTION: Duration = Duration::from_millis(400 * Duration::DAY.as_millis());

/// How many days before a status's own day its message may have been sent: a status older than this
/// is kept as unmatched.
pub const DELIVERY_LOOKBACK_DAYS: i64 = 31;

/// A calendar day: of UTC, the bucket delivery records are kept and listed by; or of an account's zone,
/// the day its usage is counted in (`Zone::day_of`). It is its number of days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(i64);

impl Day {
    /// Returns the UTC day holding `at`.
    pub fn of(at: Instant) -> Day {
        Day(at.as_millis().div_euclid(Duration::DAY.as_millis()))
    }

    /// Returns the day `n` days later (earlier when negative).
    pub fn plus_days(self, n: i64) -> Day {
        Day(self.0.saturating_add(n))
    }

    /// Returns the day of a calendar date.
    pub(crate) fn of_date(date: chrono::NaiveDate) -> Day {
        Day(date
            .signed_duration_since(chrono::NaiveDate::default())
            .num_days())
    }

    /// Returns the calendar date of the day.
    pub(crate) fn date(self) -> chrono::NaiveDate {
        chrono::NaiveDate::default()
            .checked_add_signed(chrono::TimeDelta::days(self.0))
            .unwrap_or_default()
    }

    /// Returns the first day of the day's calendar month.
    pub fn first_of_month(self) -> Day {
        use chrono::Datelike as _;
        let date = self.date();
        Day::of_date(date.with_day(1).unwrap_or(date))
    }

    /// Reads a day written `YYYY-MM-DD`; none when it is not one.
    pub fn parse(raw: &str) -> Option<Day> {
        chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
            .ok()
            .map(Day::of_date)
    }

    /// Returns the UTC instant the day begins (for a UTC day, when it begins).
    pub fn start(self) -> Instant {
        Instant::from_millis(self.0.saturating_mul(Duration::DAY.as_millis()))
    }
}

/// A day written out: `YYYY-MM-DD`.
static DAY: Layout = Layout::new("%Y-%m-%d");

impl fmt::Display for Day {
    /// `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.date().format_with_items(DAY.items()))
    }
}

/// An outbound message within its account's deliveries: the thread and the message id, written
/// `business/customer/message id` (business and customer ids hold no `/`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageRef {
    pub thread: ThreadKey,
    pub message_id: MessageId,
}

impl MessageRef {
    /// Reads a reference written by `Display`; none when it is not one.
    pub fn parse(raw: &str) -> Option<MessageRef> {
        let mut parts = raw.splitn(3, '/');
        let business = BusinessId::new(parts.next()?).ok()?;
        let customer = CustomerId::new(parts.next()?).ok()?;
        let message_id = MessageId::new(parts.next()?).ok()?;
        Some(MessageRef {
            thread: ThreadKey {
                business_id: business,
                customer_id: customer,
            },
            message_id,
        })
    }
}

impl fmt::Display for MessageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.thread.business_id, self.thread.customer_id, self.message_id
        )
    }
}

/// What Hourglass predicted for an outbound message it recorded as allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prediction {
    /// The account the message counts for: the registered one at its instant, else the business's own.
    pub account: AccountId,
    /// The customer's market at the message's instant, as the rate card names it.
    pub market: String,
    pub at: Instant,
    /// The calendar day of the account's zone at `at`, as the zone was at the message (`Zone::day_of`):
    /// the day its usage is counted in (`UsageRow`), which a later change of zone does not move. None
    /// for a prediction written before usage was counted by day, which counts in no usage row.
    pub usage_day: Option<Day>,
    /// The template sent; none for a free-form message.
    pub template: Option<TemplateName>,
    pub category: Category,
    pub pricing_type: PricingType,
    pub billable: bool,
    pub price: Money,
    pub pricing_model: PricingModel,
    /// Whether the message opened a conversation (it is the one its conversation's price is on).
    pub opens_conversation: bool,
    /// The volume tier the price came from (`Charge::tier`).
    pub tier: Option<u32>,
}

impl Prediction {
    /// Returns the prediction of an allowed message: its charge, where and when it was sent.
    pub fn new(
        account: AccountId,
        market: String,
        at: Instant,
        usage_day: Day,
        message: &Outbound,
        charge: &Charge,
    ) -> Prediction {
        let template = match message {
            Outbound::Template(template) => TemplateName::new(&template.name, &template.language).ok(),
            Outbound::FreeForm => None,
        };
        Prediction {
            account,
            market,
            at,
            usage_day: Some(usage_day),
            template,
            category: charge.category,
            pricing_type: charge.pricing_type,
            billable: charge.billable,
            price: charge.price,
            pricing_model: charge.pricing_model,
            opens_conversation: charge.opens_conversation,
            tier: charge.tier,
        }
    }
}

/// A delivery status Meta reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeliveryStatus {
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryStatus {
    /// Reads Meta's `status` (`sent`, `delivered`, `read`, `failed`, in any case).
    pub fn parse(raw: &str) -> Option<DeliveryStatus> {
        match raw.to_ascii_lowercase().as_str() {
            "sent" => Some(DeliveryStatus::Sent),
            "delivered" => Some(DeliveryStatus::Delivered),
            "read" => Some(DeliveryStatus::Read),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// Meta's pricing of a message, as a status reports it: each field none when the status omits it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaPricing {
    /// Meta's `pricing.category` as sent, such as `marketing` or `authentication_international`.
    pub category: Option<String>,
    /// Meta's `pricing.type` as sent, such as `regular` or `free_customer_service`.
    pub pricing_type: Option<String>,
    pub billable: Option<bool>,
}

impl MetaPricing {
    /// Returns Hourglass's category for Meta's: `authentication_international` is authentication,
    /// `marketing_lite` marketing, and `referral_conversion` (a free entry point conversation) the free
    /// entry point. None for a category Hourglass does not know.
    pub fn category(&self) -> Option<Category> {
        let raw = self.category.as_deref()?.to_ascii_lowercase().replace('-', "_");
        match raw.as_str() {
            "marketing" | "marketing_lite" => Some(Category::Marketing),
            "utility" => Some(Category::Utility),
            "authentication" | "authentication_international" => Some(Category::Authentication),
            "service" => Some(Category::Service),
            "referral_conversion" | "free_entry_point" => Some(Category::FreeEntryPoint),
            _ => None,
        }
    }

    /// Returns Hourglass's pricing type for Meta's `type`; `referral_conversion` as a category also
    /// says the free entry point. None for a type Hourglass does not know, or none given.
    pub fn pricing_type(&self) -> Option<PricingType> {
        if let Some(raw) = &self.pricing_type {
            return match raw.to_ascii_lowercase().as_str() {
                "regular" => Some(PricingType::Regular),
                "free_customer_service" => Some(PricingType::FreeCustomerService),
                "free_entry_point" => Some(PricingType::FreeEntryPoint),
                "free_tier" => Some(PricingType::FreeTier),
                _ => None,
            };
        }
        (self.category() == Some(Category::FreeEntryPoint)).then_some(PricingType::FreeEntryPoint)
    }
}

/// One status of one message, as a webhook item says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusReport {
    pub status: DeliveryStatus,
    pub at: Instant,
    pub pricing: Option<MetaPricing>,
    /// The error codes of a failed status.
    pub errors: Vec<i64>,
}

/// What Meta reported of one message: the first instant of each status, the errors, and the pricing.
/// Statuses arrive in any order and more than once; the report depends only on which arrived.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub sent: Option<Instant>,
    pub delivered: Option<Instant>,
    pub read: Option<Instant>,
    pub failed: Option<Instant>,
    /// Every error code of a failed status, sorted, each once.
    pub errors: Vec<i64>,
    /// Meta's pricing, from the earliest status (sent, then delivered, then read) that carried one.
    pub pricing: Option<(DeliveryStatus, MetaPricing)>,
}

impl Report {
    /// Applies a status, and returns whether the report changed: the same status twice changes it once.
    pub fn record(&mut self, report: &StatusReport) -> bool {
        let before = self.clone();
        let slot = match report.status {
            DeliveryStatus::Sent => &mut self.sent,
            DeliveryStatus::Delivered => &mut self.delivered,
            DeliveryStatus::Read => &mut self.read,
            DeliveryStatus::Failed => &mut self.failed,
        };
        *slot = Some(slot.map_or(report.at, |at| at.min(report.at)));
        for code in &report.errors {
            if let Err(place) = self.errors.binary_search(code) {
                self.errors.insert(place, *code);
            }
        }
        if let Some(pricing) = &report.pricing {
            let earlier = self
                .pricing
                .as_ref()
                .is_none_or(|(status, _)| report.status < *status);
            if earlier {
                self.pricing = Some((report.status, pricing.clone()));
            }
        }
        *self != before
    }

    /// Returns the furthest state the message reached: failed, else read, delivered, sent.
    pub fn state(&self) -> Option<DeliveryStatus> {
        if self.failed.is_some() {
            Some(DeliveryStatus::Failed)
        } else if self.read.is_some() {
            Some(DeliveryStatus::Read)
        } else if self.delivered.is_some() {
            Some(DeliveryStatus::Delivered)
        } else if self.sent.is_some() {
            Some(DeliveryStatus::Sent)
        } else {
            None
        }
    }

    /// Returns the earliest instant Meta reported anything of the message.
    pub fn first_at(&self) -> Option<Instant> {
        [self.sent, self.delivered, self.read, self.failed]
            .into_iter()
            .flatten()
            .min()
    }
}

/// Which predicted fields Meta's pricing contradicts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Differences {
    pub category: bool,
    pub pricing_type: bool,
    pub billable: bool,
}

/// How a recorded message and Meta's report of it compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Recorded, and Meta has not priced it yet.
    Pending,
    /// Meta's pricing agrees with the prediction.
    Matched,
    Mismatched(Differences),
    /// Meta reported it failed: not delivered, and under per-message pricing not charged.
    Failed,
    /// Meta reported a message Hourglass never recorded.
    Unmatched,
}

/// Compares a prediction with Meta's report of the same message. Meta's category and type are
/// compared only when Meta gives them; a free entry point conversation agrees with any category Meta
/// names it by, since Meta prices per message inside it. None when there is neither.
pub fn reconcile(prediction: Option<&Prediction>, report: Option<&Report>) -> Option<Outcome> {
    let Some(prediction) = prediction else {
        return report.map(|_| Outcome::Unmatched);
    };
    let Some(report) = report else {
        return Some(Outcome::Pending);
    };
    if report.failed.is_some() {
        return Some(Outcome::Failed);
    }
    let Some((_, pricing)) = &report.pricing else {
        return Some(Outcome::Pending);
    };
    let reported_type = pricing.pricing_type();
    let free_entry_point = prediction.pricing_type == PricingType::FreeEntryPoint
        && reported_type == Some(PricingType::FreeEntryPoint);
    let differences = Differences {
        category: pricing.category.is_some()
            && !free_entry_point
            && pricing.category() != Some(prediction.category),
        pricing_type: pricing.pricing_type.is_some() && reported_type != Some(prediction.pricing_type),
        billable: pricing
            .billable
            .is_some_and(|billable| billable != prediction.billable),
    };
    Some(if differences == Differences::default() {
        Outcome::Matched
    } else {
        Outcome::Mismatched(differences)
    })
}

/// Meta's volume tier of a portfolio for one market, category and month, as an `account_update`
/// webhook announced it (docs/SPEC.md section 14), kept for reconciliation with Hourglass's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaTier {
    /// Meta's `region`, as written (compared without regard to case).
    pub market: String,
    /// Meta's `pricing_category`, upper case (`UTILITY`, `AUTHENTICATION`).
    pub category: String,
    pub month: Month,
    /// Meta's tier as written, such as `25000001:50000000`.
    pub tier: String,
    /// Meta's `tier_update_time`.
    pub updated_at: Instant,
}

impl MetaTier {
    /// Returns whether `other` names the same market, category and month.
    pub fn same_slot(&self, other: &MetaTier) -> bool {
        self.market.eq_ignore_ascii_case(&other.market)
            && self.category == other.category
            && self.month == other.month
    }
}

/// Meta's tiers of an account, one per market, category and month.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaTiers {
    tiers: Vec<MetaTier>,
}

impl MetaTiers {
    pub fn from_tiers(tiers: Vec<MetaTier>) -> MetaTiers {
        let mut all = MetaTiers::default();
        for tier in tiers {
            all.record(tier);
        }
        all
    }

    pub fn tiers(&self) -> &[MetaTier] {
        &self.tiers
    }

    /// Keeps an update, and returns whether it changed anything: of two updates of one market,
    /// category and month, the one with the earlier `tier_update_time` counts, as Meta says of its
    /// duplicates.
    pub fn record(&mut self, tier: MetaTier) -> bool {
        match self.tiers.iter_mut().find(|kept| kept.same_slot(&tier)) {
            Some(kept) if tier.updated_at < kept.updated_at => {
                *kept = tier;
                true
            }
            Some(_) => false,
            None => {
                self.tiers.push(tier);
                self.tiers.sort_by(|a, b| {
                    (a.month, &a.market, &a.category).cmp(&(b.month, &b.market, &b.category))
                });
                true
            }
        }
    }
}

/// Delivery counts of a set of messages, for delivery and read rates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Outbound messages Hourglass recorded.
    pub recorded: u64,
    /// Messages Meta reported sent, delivered or read (a later status implies the earlier ones).
    pub sent: u64,
    /// Messages Meta reported delivered or read.
    pub delivered: u64,
    pub read: u64,
    pub failed: u64,
}

impl DeliveryStats {
    /// Counts one message: recorded when it has a prediction, and the furthest state Meta reported.
    pub fn count(&mut self, recorded: bool, report: Option<&Report>) {
        self.recorded += u64::from(recorded);
        match report.and_then(Report::state) {
            Some(DeliveryStatus::Failed) => self.failed += 1,
            Some(DeliveryStatus::Read) => {
                self.sent += 1;
                self.delivered += 1;
                self.read += 1;
            }
            Some(DeliveryStatus::Delivered) => {
                self.sent += 1;
                self.delivered += 1;
            }
            Some(DeliveryStatus::Sent) => self.sent += 1,
            None => {}
        }
    }

    /// Delivered over sent and failed: the share of messages Meta tried that reached the customer.
    pub fn delivery_rate(&self) -> f64 {
        ratio(self.delivered, self.sent + self.failed)
    }

    /// Read over delivered.
    pub fn read_rate(&self) -> f64 {
        ratio(self.read, self.delivered)
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Currency, PricingModel};

    const T0: Instant = Instant::from_millis(1_780_000_000_000);

    fn prediction(category: Category, pricing_type: PricingType, billable: bool) -> Prediction {
        let charge = Charge {
            pricing_model: PricingModel::PerMessage,
            pricing_type,
            billable,
            category,
            price: Money::zero(Currency::new("USD").expect("a currency")),
            opens_conversation: false,
            conversation: None,
            tier: None,
        };
        Prediction::new(
            AccountId::new("account_id", "1").expect("an id"),
            "India".to_owned(),
            T0,
            Day::of(T0),
            &Outbound::FreeForm,
            &charge,
        )
    }

    fn status(status: DeliveryStatus, seconds: i64, pricing: Option<(&str, &str, bool)>) -> StatusReport {
        StatusReport {
            status,
            at: T0.plus(Duration::from_millis(seconds * 1_000)),
            pricing: pricing.map(|(category, pricing_type, billable)| MetaPricing {
                category: Some(category.to_owned()),
                pricing_type: Some(pricing_type.to_owned()),
                billable: Some(billable),
            }),
            errors: Vec::new(),
        }
    }

    #[test]
    fn statuses_in_any_order_and_repeated_give_one_report() {
        let statuses = [
            status(DeliveryStatus::Sent, 1, Some(("marketing", "regular", true))),
            status(DeliveryStatus::Delivered, 2, Some(("marketing", "regular", true))),
            status(DeliveryStatus::Read, 3, None),
        ];
        let mut forward = Report::default();
        for report in &statuses {
            assert!(forward.record(report), "a new status changes the report");
        }
        assert!(
            !forward.record(&statuses[1]),
            "the same status again changes nothing"
        );
        let mut backward = Report::default();
        for report in statuses.iter().rev() {
            backward.record(report);
        }
        assert_eq!(forward, backward);
        assert_eq!(forward.state(), Some(DeliveryStatus::Read));
        assert_eq!(
            forward.pricing.as_ref().map(|(status, _)| *status),
            Some(DeliveryStatus::Sent)
        );
        assert_eq!(forward.first_at(), Some(T0.plus(Duration::SECOND)));
    }

    #[test]
    fn a_read_status_alone_counts_as_sent_and_delivered() {
        let mut report = Report::default();
        report.record(&status(DeliveryStatus::Read, 5, None));
        let mut stats = DeliveryStats::default();
        stats.count(true, Some(&report));
        stats.count(true, None);
        assert_eq!(
            stats,
            DeliveryStats {
                recorded: 2,
                sent: 1,
                delivered: 1,
                read: 1,
                failed: 0
            }
        );
        assert!((stats.delivery_rate() - 1.0).abs() < f64::EPSILON);
        assert!((stats.read_rate() - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn reconcile_compares_what_meta_says() {
        let predicted = prediction(Category::Marketing, PricingType::Regular, true);
        assert_eq!(reconcile(Some(&predicted), None), Some(Outcome::Pending));
        assert_eq!(reconcile(None, None), None);
        let mut report = Report::default();
        report.record(&status(DeliveryStatus::Sent, 1, None));
        assert_eq!(reconcile(Some(&predicted), Some(&report)), Some(Outcome::Pending));
        assert_eq!(reconcile(None, Some(&report)), Some(Outcome::Unmatched));
        report.record(&status(
            DeliveryStatus::Delivered,
            2,
            Some(("marketing", "regular", true)),
        ));
        assert_eq!(reconcile(Some(&predicted), Some(&report)), Some(Outcome::Matched));

        let mut other = Report::default();
        other.record(&status(
            DeliveryStatus::Sent,
            1,
            Some(("utility", "free_customer_service", false)),
        ));
        assert_eq!(
            reconcile(Some(&predicted), Some(&other)),
            Some(Outcome::Mismatched(Differences {
                category: true,
                pricing_type: true,
                billable: true
            }))
        );
        other.record(&status(DeliveryStatus::Failed, 3, None));
        assert_eq!(reconcile(Some(&predicted), Some(&other)), Some(Outcome::Failed));
    }

    #[test]
    fn meta_names_map_to_hourglass_categories() {
        let authentication = prediction(Category::Authentication, PricingType::Regular, true);
        let mut report = Report::default();
        report.record(&status(
            DeliveryStatus::Sent,
            1,
            Some(("authentication-international", "regular", true)),
        ));
        assert_eq!(
            reconcile(Some(&authentication), Some(&report)),
            Some(Outcome::Matched)
        );

        let entry_point = prediction(Category::FreeEntryPoint, PricingType::FreeEntryPoint, false);
        let mut report = Report::default();
        report.record(&status(
            DeliveryStatus::Sent,
            1,
            Some(("marketing", "free_entry_point", false)),
        ));
        assert_eq!(
            reconcile(Some(&entry_point), Some(&report)),
            Some(Outcome::Matched)
        );

        // The conversation model's payloads carry no type: only the category and billable compare.
        let conversation = MetaPricing {
            category: Some("referral_conversion".to_owned()),
            pricing_type: None,
            billable: Some(false),
        };
        assert_eq!(conversation.pricing_type(), Some(PricingType::FreeEntryPoint));
        let mut report = Report::default();
        report.record(&StatusReport {
            pricing: Some(conversation),
            ..status(DeliveryStatus::Sent, 1, None)
        });
        assert_eq!(
            reconcile(Some(&entry_point), Some(&report)),
            Some(Outcome::Matched)
        );
    }

    #[test]
    fn of_two_tier_updates_the_earlier_counts() {
        let tier = |market: &str, tier: &str, seconds: i64| MetaTier {
            market: market.to_owned(),
            category: "UTILITY".to_owned(),
            month: Month {
                year: 2025,
                month: 11,
            },
            tier: tier.to_owned(),
            updated_at: Instant::from_millis(seconds * 1_000),
        };
        let mut tiers = MetaTiers::default();
        assert!(tiers.record(tier("India", "25000001:50000000", 20)));
        assert!(
            !tiers.record(tier("INDIA", "1:25000000", 30)),
            "a later duplicate does not count"
        );
        assert!(
            !tiers.record(tier("India", "25000001:50000000", 20)),
            "the same again changes nothing"
        );
        assert!(
            tiers.record(tier("india", "1:25000000", 10)),
            "an earlier duplicate does"
        );
        assert_eq!(tiers.tiers().len(), 1);
        assert_eq!(tiers.tiers()[0].tier, "1:25000000");
        assert!(tiers.record(tier("Brazil", "1:25000000", 10)));
        assert_eq!(tiers.tiers().len(), 2);
    }

    #[test]
    fn days_and_refs_read_back() {
        let day = Day::of(T0);
        assert!(day.start() <= T0 && T0 < day.plus_days(1).start());
        assert_eq!(
            Day::of(Instant::from_millis(-1)),
            Day::of(Instant::EPOCH).plus_days(-1)
        );
        assert_eq!(day.to_string(), "2026-05-28");
        let reference = MessageRef {
            thread: ThreadKey {
                business_id: BusinessId::new("106540352242922").expect("an id"),
                customer_id: CustomerId::new("US.13491208655302741918").expect("a BSUID"),
            },
            message_id: MessageId::new("wamid.HBgL/x+y=").expect("an id"),
        };
        assert_eq!(MessageRef::parse(&reference.to_string()), Some(reference));
        assert_eq!(MessageRef::parse("no-slashes"), None);
    }
}
