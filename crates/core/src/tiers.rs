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
}
