//! Estimates (docs/SPEC.md section 15.5): what a number of messages of one category would cost in one
//! market, under the deployment's pricing at an instant, before they are sent.
//!
//! An estimate prices every message as if it stood alone, which makes it an upper bound where Meta
//! bundles or frees messages by what was sent before: under conversation pricing each message opens a
//! conversation of its category (none falls in one already open), and no free tier or free service
//! message is assumed left. Volume tiers are crossed from where the portfolio's counts of the month
//! stand (section 15.2), read by the caller from the counters `estimate_reads` names.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use crate::policy::Era;
use crate::tiers::Ladder;
use crate::{
    Category, CounterRead, Counters, Currency, Error, Instant, Money, Policy, PricingModel, RateRow, Tier,
    TierOwner, Zone,
};

/// One line of an estimate: `count` messages of `category` to customers of `market`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EstimateLine {
    /// A market's name as the rate card writes it, such as `India` or `Rest of Africa`.
    pub market: String,
    pub category: Category,
    pub count: u64,
}

/// Part of a line priced at one rate: `count` messages from the `from`-th of the month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TierUse {
    pub from: u64,
    pub rate: Money,
    pub count: u64,
}

/// A line's price.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineEstimate {
    pub line: EstimateLine,
    pub pricing_model: PricingModel,
    /// The price of the line's first message.
    pub unit_price: Money,
    /// The rates the line's messages pay, in order; one for a flat rate.
    pub tiers: Vec<TierUse>,
    /// What the line costs: the sum of its messages' prices, exactly.
    pub cost: Money,
}

/// Whose month an estimate prices: the zone and billing currency of the account the messages count
/// for, and whose volume-tier counts they continue (its portfolio's; none: from the month's first
/// message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EstimateFor {
    pub zone: Zone,
    pub currency: Option<Currency>,
    pub owner: Option<TierOwner>,
}

impl Default for EstimateFor {
    fn default() -> EstimateFor {
        EstimateFor {
            zone: Zone::UTC,
            currency: None,
            owner: None,
        }
    }
}

/// Returns the counters an estimate of `lines` reads: the bounded tiers of every ladder a line climbs,
/// for the owner's month of `at`. A line that names no market of the card reads nothing (`estimate`
/// refuses it).
pub fn estimate_reads(
    policy: &Policy,
    whose: &EstimateFor,
    at: Instant,
    lines: &[EstimateLine],
) -> Vec<CounterRead> {
    let local = whose.zone.wall_clock(at);
    let mut reads: Vec<CounterRead> = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if let Ok(row) = line_row(policy, whose, local, index, line)
            && let Some(ladder) = ladder(policy, whose, local, row, line.category)
        {
            for counter in ladder.counters() {
                let read = CounterRead::from(counter);
                if !reads.contains(&read) {
                    reads.push(read);
                }
            }
        }
    }
    reads
}

/// Prices every line at `at`, in the zone of the account the messages count for, from the rows in its
/// billing currency where the card has them (else each market's default rows). A line that climbs a
/// volume ladder starts after the messages `counted` already holds for its owner, market, category and
/// month, and after the earlier lines of the same market and category. A market the rate card does not
/// have is an error naming the line.
pub fn estimate(
    policy: &Policy,
    whose: &EstimateFor,
    at: Instant,
    lines: &[EstimateLine],
    counted: &Counters,
) -> Result<Vec<LineEstimate>, Error> {
    let local = whose.zone.wall_clock(at);
    let era = policy.era_at(local);
    let mut earlier: BTreeMap<(String, Category), u64> = BTreeMap::new();
    lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            let row = line_row(policy, whose, local, index, line)?;
            let before =
                ladder(policy, whose, local, row, line.category).map_or(0, |ladder| ladder.counted(counted));
            let sent = earlier.entry((row.market.clone(), line.category)).or_default();
            let start = before.saturating_add(*sent);
            *sent = sent.saturating_add(line.count);
            Ok(price_line(policy, era, row, line, start))
        })
        .collect()
}

/// Returns the row a line is priced from: its market's in the billing currency where the card has
/// one, else the default row.
fn line_row<'a>(
    policy: &'a Policy,
    whose: &EstimateFor,
    local: Instant,
    index: usize,
    line: &EstimateLine,
) -> Result<&'a RateRow, Error> {
    let in_currency = whose
        .currency
        .and_then(|currency| policy.rate_card.market_rates_in(&line.market, local, currency));
    in_currency
        .or_else(|| policy.rate_card.market_rates(&line.market, local))
        .ok_or_else(|| {
            Error::invalid(
                "lines",
                format!(
                    "line {}: the rate card has no market {:?} (markets are named as the card names them, \
                     such as India or Rest of Africa)",
                    index + 1,
                    line.market
                ),
            )
        })
}

/// Returns the ladder a line climbs under per-message pricing, counted for the estimate's owner; none
/// without an owner, whose estimate starts from the month's first message.
fn ladder<'a>(
    policy: &'a Policy,
    whose: &EstimateFor,
    local: Instant,
    row: &'a RateRow,
    category: Category,
) -> Option<Ladder<'a>> {
    let owner = whose.owner.clone()?;
    matches!(policy.era_at(local), Era::PerMessage | Era::PerMessagePaidService)
        .then(|| Ladder::new(policy, owner, row, category, local.utc_month()))
        .flatten()
}

fn price_line(policy: &Policy, era: Era, row: &RateRow, line: &EstimateLine, start: u64) -> LineEstimate {
    let money = |amount: Decimal| Money {
        currency: row.currency,
        amount,
    };
    let pricing_model = match era {
        Era::ConversationWithFreeTier | Era::ConversationServiceFree => PricingModel::Conversation,
        Era::PerMessage | Era::PerMessagePaidService => PricingModel::PerMessage,
    };
    let flat = match (era, line.category) {
        (_, Category::FreeEntryPoint) => Decimal::ZERO,
        (Era::ConversationServiceFree | Era::PerMessage, Category::Service) => Decimal::ZERO,
        (_, category) => row.price(category).amount,
    };
    let ladder = match (pricing_model, line.category) {
        (PricingModel::PerMessage, Category::Utility) => policy
            .rate_card
            .tiers_of(row)
            .map(|tiers| tiers.utility.as_slice()),
        (PricingModel::PerMessage, Category::Authentication) => policy
            .rate_card
            .tiers_of(row)
            .map(|tiers| tiers.authentication.as_slice()),
        _ => None,
    }
    .filter(|ladder| !ladder.is_empty());
    let tiers = match ladder {
        Some(ladder) => cross(ladder, start, line.count),
        None => vec![(start.saturating_add(1), flat, line.count)],
    };
    let cost = tiers
        .iter()
        .map(|(_, rate, count)| rate * Decimal::from(*count))
        .sum::<Decimal>();
    LineEstimate {
        line: line.clone(),
        pricing_model,
        unit_price: money(tiers.first().map_or(flat, |(_, rate, _)| *rate)),
        tiers: tiers
            .into_iter()
            .filter(|(_, _, count)| *count > 0)
            .map(|(from, rate, count)| TierUse {
                from,
                rate: money(rate),
                count,
            })
            .collect(),
        cost: money(cost),
    }
}

/// Splits `count` messages, numbered from `start + 1`, over a ladder: each tier takes the messages
/// from its lower bound to the next tier's.
fn cross(ladder: &[Tier], start: u64, count: u64) -> Vec<(u64, Decimal, u64)> {
    let end = start.saturating_add(count);
    let mut split = Vec::with_capacity(ladder.len());
    for (index, tier) in ladder.iter().enumerate() {
        let first = tier.from.max(1).max(start.saturating_add(1));
        let next = ladder.get(index + 1).map_or(u64::MAX, |next| next.from.max(1));
        if first > end {
            break;
        }
        if first >= next {
            continue;
        }
        let last = end.min(next.saturating_sub(1));
        split.push((first, tier.rate, last - first + 1));
    }
    split
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Currency, PricingSchedule, RateCard, RateRow, VolumeTiers};
    use std::str::FromStr;

    fn dec(literal: &str) -> Decimal {
        Decimal::from_str(literal).expect("a decimal")
    }

    fn row(market: &str, prefixes: &[&str], currency: &str, rates: [&str; 4]) -> RateRow {
        RateRow {
            market: market.to_owned(),
            prefixes: prefixes.iter().map(|prefix| (*prefix).to_owned()).collect(),
            currency: Currency::new(currency).expect("a currency"),
            effective_from: Instant::EPOCH,
            marketing: dec(rates[0]),
            utility: dec(rates[1]),
            authentication: dec(rates[2]),
            service: dec(rates[3]),
        }
    }

    fn policy(schedule: PricingSchedule) -> Policy {
        let india = row("India", &["91"], "INR", ["0.8631", "0.1150", "0.1150", "0.1150"]);
        let card = RateCard::builder()
            .card_row(
                india,
                true,
                Vec::new(),
                vec![
                    (1, dec("0.1150")),
                    (750_001, dec("0.1081")),
                    (15_000_001, dec("0.1012")),
                ],
            )
            .row(row("Other", &[], "USD", ["0.0604", "0.0077", "0.0077", "0.0077"]))
            .build()
            .expect("a card");
        Policy {
            schedule,
            ..Policy::conversation_2023(card)
        }
    }

    fn line(market: &str, category: Category, count: u64) -> EstimateLine {
        EstimateLine {
            market: market.to_owned(),
            category,
            count,
        }
    }

    const AT: Instant = Instant::from_millis(1_800_000_000_000); // 2027-01-15

    #[test]
    fn a_line_crosses_the_tiers_of_its_ladder_at_the_exact_message() {
        let policy = policy(PricingSchedule::MetaCalendar);
        let [estimate] = estimate(
            &policy,
            &EstimateFor::default(),
            AT,
            &[line("India", Category::Authentication, 750_001)],
            &Counters::default(),
        )
        .expect("an estimate")
        .try_into()
        .expect("one line");
        assert_eq!(estimate.pricing_model, PricingModel::PerMessage);
        let split: Vec<(u64, String, u64)> = estimate
            .tiers
            .iter()
            .map(|tier| (tier.from, tier.rate.to_string(), tier.count))
            .collect();
        assert_eq!(
            split,
            [
                (1, "0.115 INR".to_owned(), 750_000),
                (750_001, "0.1081 INR".to_owned(), 1)
            ]
        );
        assert_eq!(estimate.cost.to_string(), "86250.1081 INR");
        assert_eq!(estimate.unit_price.to_string(), "0.115 INR");
    }

    #[test]
    fn an_estimate_continues_the_portfolios_count_of_the_month() {
        let policy = policy(PricingSchedule::MetaCalendar);
        let whose = EstimateFor {
            owner: Some(TierOwner::Portfolio(
                crate::PortfolioId::new("portfolio_id", "p-1").expect("an id"),
            )),
            ..EstimateFor::default()
        };
        let lines = [
            line("India", Category::Authentication, 3),
            line("India", Category::Authentication, 2),
            line("India", Category::Marketing, 1),
        ];
        let reads = estimate_reads(&policy, &whose, AT, &lines);
        assert_eq!(
            reads.len(),
            2,
            "the two bounded tiers of India's ladder, read once: {reads:?}"
        );
        // 749,999 sent this month: the next is the last of tier 1, then tier 2.
        let mut counted = Counters::default();
        counted.insert(reads[0].counter.clone(), 749_999);
        let estimates = estimate(&policy, &whose, AT, &lines, &counted).expect("an estimate");
        let split = |estimate: &LineEstimate| -> Vec<(u64, u64)> {
            estimate
                .tiers
                .iter()
                .map(|tier| (tier.from, tier.count))
                .collect()
        };
        assert_eq!(split(&estimates[0]), [(750_000, 1), (750_001, 2)]);
        assert_eq!(
            split(&estimates[1]),
            [(750_003, 2)],
            "a second line continues the first"
        );
        assert_eq!(estimates[0].cost.to_string(), "0.3312 INR");
        assert_eq!(estimates[2].tiers.len(), 1, "marketing climbs no ladder");
        // Without an owner the month starts from its first message.
        let fresh =
            estimate(&policy, &EstimateFor::default(), AT, &lines[..1], &counted).expect("an estimate");
        assert_eq!(split(&fresh[0]), [(1, 3)]);
    }

    #[test]
    fn each_era_prices_its_own_way() {
        let service = |schedule| {
            estimate(
                &policy(schedule),
                &EstimateFor::default(),
                AT,
                &[line("Other", Category::Service, 10)],
                &Counters::default(),
            )
            .expect("an estimate")[0]
                .cost
                .to_string()
        };
        assert_eq!(service(PricingSchedule::PerMessage2025), "0 USD");
        assert_eq!(service(PricingSchedule::PerMessage2026), "0.077 USD");
        assert_eq!(service(PricingSchedule::Conversation2023), "0.077 USD");
        let marketing = estimate(
            &policy(PricingSchedule::Conversation2023),
            &EstimateFor::default(),
            AT,
            &[line("India", Category::Marketing, 3)],
            &Counters::default(),
        )
        .expect("an estimate");
        assert_eq!(marketing[0].pricing_model, PricingModel::Conversation);
        assert_eq!(marketing[0].cost.to_string(), "2.5893 INR");
        assert!(VolumeTiers::default().is_empty());
    }

    #[test]
    fn an_unknown_market_names_its_line() {
        let error = estimate(
            &policy(PricingSchedule::MetaCalendar),
            &EstimateFor::default(),
            AT,
            &[
                line("India", Category::Utility, 1),
                line("Atlantis", Category::Utility, 1),
            ],
            &Counters::default(),
        )
        .expect_err("no such market");
        assert_eq!(error.field, "lines");
        assert!(error.reason.contains("line 2"), "{error:?}");
    }
}
