//! Campaigns (docs/SPEC.md section 15.5, `AuthorizeBatch`): one message to many customers, each decided
//! as if the ones before it in the list were sent. A batch is a dry run: what the earlier messages would
//! take of the shared counters (the free tier, the free service messages, a portfolio's messaging limit)
//! is kept here, in `Spent`, and laid over the counters each later decision reads.

use std::collections::{BTreeMap, BTreeSet};

use crate::{Claim, CounterKey, Counters, Reading};

/// What the earlier decisions of a batch took of the shared counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Spent {
    /// Slots taken of counters whose slots count for good, by counter, with their weights.
    taken: BTreeMap<CounterKey, BTreeMap<String, u64>>,
    /// Slots of windowed counters that were not live when read, by counter: they are live now.
    windowed: BTreeMap<CounterKey, BTreeSet<String>>,
}

impl Spent {
    /// Lays what was spent over `counters` as read for a decision: each counter counts the slots the
    /// earlier decisions took, and a windowed counter's slot asked about (`slot`, for the counters
    /// whose read named one) is taken when an earlier decision took it.
    pub fn lay_over(&self, counters: &mut Counters, slot: impl Fn(&CounterKey) -> Option<String>) {
        let read: Vec<(CounterKey, Reading)> = counters
            .iter()
            .map(|(counter, _)| (counter.clone(), counters.reading(counter)))
            .collect();
        for (counter, mut reading) in read {
            if let Some(slots) = self.taken.get(&counter) {
                let weight = slots
                    .values()
                    .fold(0_u64, |sum, weight| sum.saturating_add(*weight));
                reading.used = reading.used.saturating_add(weight);
            }
            if let Some(slots) = self.windowed.get(&counter) {
                reading.used = reading.used.saturating_add(len(slots));
                if slot(&counter).is_some_and(|slot| slots.contains(&slot)) {
                    reading.has_slot = true;
                }
            }
            counters.insert_reading(counter, reading);
        }
    }

    /// Records the claims of a decision taken on `counters` (as laid over): each slot is spent once.
    pub fn record(&mut self, claims: &[Claim], counters: &Counters) {
        for claim in claims {
            if claim.window.is_some() {
                if !counters.reading(&claim.counter).has_slot {
                    self.windowed
                        .entry(claim.counter.clone())
                        .or_default()
                        .insert(claim.slot.clone());
                }
            } else {
                self.taken
                    .entry(claim.counter.clone())
                    .or_default()
                    .insert(claim.slot.clone(), claim.weight);
            }
        }
    }
}

fn len(slots: &BTreeSet<String>) -> u64 {
    u64::try_from(slots.len()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Instant, PortfolioId, Span};

    #[test]
    fn earlier_claims_count_for_later_decisions() {
        let limit = CounterKey::MessagingLimit {
            portfolio: PortfolioId::new("portfolio_id", "p-1").unwrap(),
        };
        let window = Span {
            start: Instant::EPOCH,
            end: Instant::from_millis(86_400_000),
        };
        let claim = |slot: &str| Claim {
            counter: limit.clone(),
            slot: slot.to_owned(),
            limit: 2,
            weight: 1,
            window: Some(window),
        };
        let mut spent = Spent::default();
        let mut read = Counters::default();
        read.insert_reading(
            limit.clone(),
            Reading {
                used: 1,
                has_slot: false,
            },
        );
        spent.lay_over(&mut read, |_| Some("a".to_owned()));
        assert_eq!(
            read.reading(&limit),
            Reading {
                used: 1,
                has_slot: false
            }
        );
        spent.record(&[claim("a")], &read);

        // The next customer sees a's slot taken; a again sees its own slot.
        let mut next = Counters::default();
        next.insert_reading(
            limit.clone(),
            Reading {
                used: 1,
                has_slot: false,
            },
        );
        spent.lay_over(&mut next, |_| Some("b".to_owned()));
        assert_eq!(
            next.reading(&limit),
            Reading {
                used: 2,
                has_slot: false
            }
        );
        let mut again = Counters::default();
        again.insert_reading(
            limit.clone(),
            Reading {
                used: 1,
                has_slot: false,
            },
        );
        spent.lay_over(&mut again, |_| Some("a".to_owned()));
        assert_eq!(
            again.reading(&limit),
            Reading {
                used: 2,
                has_slot: true
            }
        );

        // A slot already live when read is not spent again.
        let mut live = Counters::default();
        live.insert_reading(
            limit.clone(),
            Reading {
                used: 1,
                has_slot: true,
            },
        );
        spent.record(&[claim("c")], &live);
        let mut after = Counters::default();
        after.insert_reading(
            limit.clone(),
            Reading {
                used: 1,
                has_slot: false,
            },
        );
        spent.lay_over(&mut after, |_| None);
        assert_eq!(after.used(&limit), 2);
    }
}
