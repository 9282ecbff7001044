//! Volume tiers (docs/SPEC.md section 15.2): a per-message rate card row may give utility and
//! authentication a ladder of rates by the number of charged messages of the month, counted per
//! portfolio, market and category. Each message pays the rate of the tier its own number falls in.
//!
//! Every bounded tier is a counter of its own (`CounterKey::VolumeTier`), holding at most as many
//! slots as the tier is wide; the last tier is unbounded and needs none. A message pays the first tier
//! with room, and claims a slot of it. A claim that finds the tier full makes the step decide again on
//! a fresh reading, so the message moves up a tier; a claim given back (its step lost a race) frees its
//! slot for the next message. So whatever the races, the number of messages charged at each bounded
//! tier is exactly its width once enough messages were sent, as with the free tier.

use rust_decimal::Decimal;

use crate::{
    Category, CounterKey, Counters, Facts, Instant, Money, Policy, RateRow, ThreadKey, Tier, TierOwner,
};

/// The ladder a message's price climbs: its row's tiers for its category, and whose counts they are.
#[derive(Clone, Debug)]
pub(crate) struct Ladder<'a> {
    owner: TierOwner,
    market: &'a str,
    category: Category,
    month: crate::Month,
    tiers: &'a [Tier],
}

/// Returns whether a row may give `category` a ladder: only utility and authentication have one.
fn has_ladder(category: Category) -> bool {
    matches!(category, Category::Utility | Category::Authentication)
}

/// Where on its ladder a message falls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rung {
    /// The tier's number, 1 for the first.
    pub(crate) number: u32,
    pub(crate) rate: Decimal,
    /// The tier's counter and width, none for the last (unbounded) tier.
    pub(crate) bounded: Option<(CounterKey, u64)>,
}

impl<'a> Ladder<'a> {
    /// Returns the ladder of a message of `category` priced from `row` at `instant`, for the thread's
    /// account; none when the row has no ladder for the category (only utility and authentication
    /// have one, under per-message pricing).
    pub(crate) fn of(
        policy: &'a Policy,
        facts: &Facts,
        thread: &ThreadKey,
        row: &'a RateRow,
        category: Category,
        instant: Instant,
    ) -> Option<Ladder<'a>> {
        // Checked first: most messages are of a category without a ladder, which needs no owner.
        if !has_ladder(category) {
            return None;
        }
        let owner = match &facts.account {
            Some(registered) => TierOwner::Portfolio(registered.account.portfolio.clone()),
            None => TierOwner::Account(thread.unregistered_account()),
        };
        Ladder::new(
            policy,
            owner,
            row,
            category,
            facts.time_zone().wall_clock(instant).utc_month(),
        )
    }

    /// Returns the ladder of `row` for `category`, counted for `owner` in `month`; none when the row
    /// has none for the category.
    pub(crate) fn new(
        policy: &'a Policy,
        owner: TierOwner,
        row: &'a RateRow,
        category: Category,
        month: crate::Month,
    ) -> Option<Ladder<'a>> {
        let tiers = policy.rate_card.tiers_of(row)?;
        let tiers = match category {
            Category::Utility => tiers.utility.as_slice(),
            Category::Authentication => tiers.authentication.as_slice(),
            _ => return None,
        };
        if tiers.is_empty() {
            return None;
        }
        Some(Ladder {
            owner,
            market: &row.market,
            category,
            month,
            tiers,
        })
    }

    /// Returns how many messages the bounded tiers hold, as `counters` read them: where the month's
    /// count stands (the last tier is not counted, so past the bounded ones it reads as their sum).
    pub(crate) fn counted(&self, counters: &Counters) -> u64 {
        self.counters()
            .map(|counter| counters.used(&counter))
            .fold(0, u64::saturating_add)
    }

    /// Returns the counter of the bounded tier `index` (0 for the first).
    fn counter(&self, index: usize) -> CounterKey {
        CounterKey::VolumeTier {
            owner: self.owner.clone(),
            market: self.market.to_owned(),
            category: self.category,
            month: self.month,
            tier: u32::try_from(index).unwrap_or(u32::MAX),
        }
    }

    /// Returns how many messages tier `index` holds; none for the last.
    fn width(&self, index: usize) -> Option<u64> {
        let next = self.tiers.get(index + 1)?;
        Some(next.from.max(1) - self.tiers[index].from.max(1))
    }

    /// Returns the counters of the bounded tiers: what a decision on this ladder reads.
    pub(crate) fn counters(&self) -> impl Iterator<Item = CounterKey> + '_ {
        (0..self.tiers.len().saturating_sub(1)).map(|index| self.counter(index))
    }

    /// Returns the first tier with room, as `counters` read them.
    pub(crate) fn rung(&self, counters: &Counters) -> Rung {
        let number = |index: usize| u32::try_from(index + 1).unwrap_or(u32::MAX);
        for (index, tier) in self.tiers.iter().enumerate() {
            let Some(width) = self.width(index) else {
                break;
            };
            let counter = self.counter(index);
            if counters.used(&counter) < width {
                return Rung {
                    number: number(index),
                    rate: tier.rate,
                    bounded: Some((counter, width)),
                };
            }
        }
        let last = self.tiers.len() - 1;
        Rung {
            number: number(last),
            rate: self.tiers[last].rate,
            bounded: None,
        }
    }
}

/// A ladder of one month as Hourglass counted it, to lay beside Meta's volume tier updates
/// (`account_update` `VOLUME_BASED_PRICING_TIER_UPDATE`, docs/SPEC.md section 15.2).
#[derive(Clone, Debug)]
pub struct MonthLadder<'a>(Ladder<'a>);

/// The tier a month's count stands in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountedTier {
    /// 1 for the first.
    pub number: u32,
    /// The tier's bounds as the card writes them; none above the last tier.
    pub from: u64,
    pub to: Option<u64>,
    /// The charged messages the bounded tiers hold.
    pub counted: u64,
}

impl CountedTier {
    /// Returns the tier as Meta writes one, `from:to` (`from:` for the last, unbounded tier).
    pub fn meta_form(&self) -> String {
        match self.to {
            Some(to) => format!("{}:{to}", self.from),
            None => format!("{}:", self.from),
        }
    }

    /// Returns whether Meta's tier (`25000001:50000000`) is this one: the same lower bound, a first
    /// tier written from 0 or from 1 alike. A tier Meta writes otherwise is not.
    pub fn is_metas(&self, metas: &str) -> bool {
        let Some(from) = metas
            .split(':')
            .next()
            .and_then(|from| from.trim().parse::<u64>().ok())
        else {
            return false;
        };
        from == self.from || (from <= 1 && self.from <= 1)
    }
}

impl<'a> MonthLadder<'a> {
    /// Returns the ladder of Meta's `region` (a market of the card, compared without regard to case,
    /// spaces or underscores: `REST_OF_AFRICA` is `Rest of Africa`) and `pricing_category` for `owner`
    /// in `month`, from the market's row in `currency` where the card has one, else its default row,
    /// as in force on the month's first day; none when the card has no such market or ladder.
    pub fn of(
        policy: &'a Policy,
        owner: TierOwner,
        region: &str,
        pricing_category: &str,
        month: crate::Month,
        currency: Option<crate::Currency>,
    ) -> Option<MonthLadder<'a>> {
        let key = |name: &str| name.to_ascii_uppercase().replace([' ', '_'], "");
        let market = policy
            .rate_card
            .markets()
            .find(|market| key(market) == key(region))?;
        let category = match pricing_category.to_ascii_uppercase().as_str() {
            "UTILITY" => Category::Utility,
            "AUTHENTICATION" | "AUTHENTICATION_INTERNATIONAL" => Category::Authentication,
            _ => return None,
        };
        let first_day = Instant::from_millis(
            chrono::NaiveDate::from_ymd_opt(month.year, month.month, 1)?
                .and_hms_opt(0, 0, 0)?
                .and_utc()
                .timestamp_millis(),
        );
        let row = currency
            .and_then(|currency| policy.rate_card.market_rates_in(market, first_day, currency))
            .or_else(|| policy.rate_card.market_rates(market, first_day))?;
        Ladder::new(policy, owner, row, category, month).map(MonthLadder)
    }

    /// Returns the counters the month's tier is read from.
    pub fn reads(&self) -> Vec<crate::CounterRead> {
        self.0.counters().map(crate::CounterRead::from).collect()
    }

    /// Returns the tier the month's count stands in, as `counters` read it: the tier of its latest
    /// message (the first tier before any; the last, unbounded one, which counts nothing, once the
    /// bounded ones are full).
    pub fn tier(&self, counters: &Counters) -> CountedTier {
        let counted = self.0.counted(counters);
        let tiers = self.0.tiers;
        let index = if self.0.rung(counters).bounded.is_none() {
            tiers.len() - 1
        } else {
            tiers
                .iter()
                .rposition(|tier| tier.from.max(1) <= counted.max(1))
                .unwrap_or(0)
        };
        CountedTier {
            number: u32::try_from(index + 1).unwrap_or(u32::MAX),
            from: tiers[index].from,
            to: tiers.get(index + 1).map(|next| next.from.saturating_sub(1)),
            counted,
        }
    }
}

/// Returns the price of a message at `rung`, in the row's currency.
pub(crate) fn price(row: &RateRow, rung: &Rung) -> Money {
    Money {
        currency: row.currency,
        amount: rung.rate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BusinessId, Currency, CustomerId, PricingSchedule, RateCard};
    use std::str::FromStr;

    fn dec(literal: &str) -> Decimal {
        Decimal::from_str(literal).expect("a decimal")
    }

    fn policy() -> Policy {
        let row = |market: &str, prefixes: &[&str], currency: &str| RateRow {
            market: market.to_owned(),
            prefixes: prefixes.iter().map(|prefix| (*prefix).to_owned()).collect(),
            currency: Currency::new(currency).expect("a currency"),
            effective_from: Instant::EPOCH,
            marketing: dec("0.0100"),
            utility: dec("0.0100"),
            authentication: dec("0.0100"),
            service: dec("0.0100"),
        };
        let card = RateCard::builder()
            .card_row(
                row("Pakistan", &["92"], "USD"),
                true,
                vec![
                    (1, dec("0.0100")),
                    (150_001, dec("0.0095")),
                    (1_000_001, dec("0.0090")),
                ],
                Vec::new(),
            )
            .row(row("Other", &[], "USD"))
            .build()
            .expect("a card");
        Policy {
            schedule: PricingSchedule::PerMessage2026,
            ..Policy::conversation_2023(card)
        }
    }

    #[test]
    fn each_message_pays_the_tier_its_own_number_falls_in() {
        let policy = policy();
        let thread = ThreadKey {
            business_id: BusinessId::new("1").expect("an id"),
            customer_id: CustomerId::new("923000000001").expect("an id"),
        };
        let facts = Facts::default();
        let row = policy.rate_card.rates_for(&thread.customer_id, Instant::EPOCH);
        let ladder = Ladder::of(&policy, &facts, &thread, row, Category::Utility, Instant::EPOCH)
            .expect("utility has a ladder");
        assert!(Ladder::of(&policy, &facts, &thread, row, Category::Marketing, Instant::EPOCH).is_none());
        let counters: Vec<CounterKey> = ladder.counters().collect();
        assert_eq!(counters.len(), 2, "the last tier is unbounded and counts nothing");
        let at = |first: u64, second: u64| {
            let mut read = Counters::default();
            read.insert(counters[0].clone(), first);
            read.insert(counters[1].clone(), second);
            ladder.rung(&read)
        };
        // The 150,000th message is on tier 1, the 150,001st on tier 2 (150,000 wide, then 850,000).
        assert_eq!(at(149_999, 0).number, 1);
        assert_eq!(at(149_999, 0).bounded, Some((counters[0].clone(), 150_000)));
        assert_eq!(at(150_000, 0).number, 2);
        assert_eq!(at(150_000, 0).rate, dec("0.0095"));
        assert_eq!(at(150_000, 849_999).bounded, Some((counters[1].clone(), 850_000)));
        let last = at(150_000, 850_000);
        assert_eq!((last.number, last.rate, last.bounded), (3, dec("0.0090"), None));
        // A slot given back on tier 1 is taken again before tier 2 grows.
        assert_eq!(at(149_999, 10).number, 1);
    }

    #[test]
    fn a_months_count_is_laid_beside_metas_tier() {
        let policy = policy();
        let owner = TierOwner::Portfolio(crate::PortfolioId::new("portfolio_id", "p").expect("an id"));
        let month = crate::Month {
            year: 2026,
            month: 11,
        };
        let ladder = MonthLadder::of(&policy, owner.clone(), "PAKISTAN", "UTILITY", month, None)
            .expect("Pakistan's utility ladder");
        assert!(MonthLadder::of(&policy, owner.clone(), "PAKISTAN", "MARKETING", month, None).is_none());
        assert!(MonthLadder::of(&policy, owner, "ATLANTIS", "UTILITY", month, None).is_none());
        let reads = ladder.reads();
        let tier = |first: u64, second: u64| {
            let mut counters = Counters::default();
            counters.insert(reads[0].counter.clone(), first);
            counters.insert(reads[1].counter.clone(), second);
            ladder.tier(&counters)
        };
        assert_eq!(tier(0, 0).meta_form(), "1:150000");
        assert!(tier(0, 0).is_metas("0:150000"));
        let second = tier(150_000, 1);
        assert_eq!(
            (second.number, second.meta_form(), second.counted),
            (2, "150001:1000000".to_owned(), 150_001)
        );
        assert!(second.is_metas("150001:1000000"));
        assert!(!second.is_metas("1:150000"));
        assert!(!second.is_metas("not a tier"));
        assert_eq!(tier(150_000, 850_000).meta_form(), "1000001:");
    }
}
