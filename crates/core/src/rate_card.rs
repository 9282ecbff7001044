//! Rate cards: one dated row per market, found by the longest calling-code prefix of the customer.
//!
//! A card is data. The server parses the shipped default or an operator's file into a `RateCard`.

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;

use crate::{Category, Currency, CustomerId, Error, Instant, Money, Outbound};

/// The market every unknown calling code maps to.
pub const OTHER_MARKET: &str = "Other";

/// One row of a rate card: a market's prices per 24 h conversation from an instant on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateRow {
    pub market: String,
    /// Calling-code prefixes of the market as digits, such as `91` or `1809`; empty for `Other`.
    pub prefixes: Vec<String>,
    pub currency: Currency,
    pub effective_from: Instant,
    pub marketing: Decimal,
    pub utility: Decimal,
    pub authentication: Decimal,
    pub service: Decimal,
}

impl RateRow {
    /// Returns the price of one conversation (or message, under per-message pricing) of `category`;
    /// free entry point conversations cost nothing.
    pub fn price(&self, category: Category) -> Money {
        let amount = match category {
            Category::Marketing => self.marketing,
            Category::Utility => self.utility,
            Category::Authentication => self.authentication,
            Category::Service => self.service,
            Category::FreeEntryPoint => Decimal::ZERO,
        };
        Money {
            currency: self.currency,
            amount,
        }
    }

    /// Returns the per-message price of an outbound message: its template category's rate, or zero for
    /// a free-form message.
    pub fn price_of(&self, message: &Outbound) -> Money {
        match message {
            Outbound::FreeForm => Money::zero(self.currency),
            Outbound::Template(template) => self.price(Category::from(template.category)),
        }
    }
}

/// A validated rate card. Cloning it is cheap: the tables are shared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateCard {
    /// Each market's rows, sorted by `effective_from`.
    markets: Arc<BTreeMap<String, Vec<RateRow>>>,
    /// Calling-code prefix to market.
    prefixes: Arc<BTreeMap<String, String>>,
}

impl RateCard {
    /// Validates rows into a card: it needs an `Other` market, non-negative rates, digit prefixes, each
    /// prefix in one market only, and one currency per market.
    pub fn new(rows: Vec<RateRow>) -> Result<RateCard, Error> {
        const FIELD: &str = "rate_card";
        let mut markets: BTreeMap<String, Vec<RateRow>> = BTreeMap::new();
        let mut prefixes: BTreeMap<String, String> = BTreeMap::new();
        for row in rows {
            if row.market.trim().is_empty() {
                return Err(Error::invalid(FIELD, "a row has an empty market name"));
            }
            for rate in [row.marketing, row.utility, row.authentication, row.service] {
                if rate.is_sign_negative() {
                    return Err(Error::invalid(
                        FIELD,
                        format!("market `{}` has a negative rate", row.market),
                    ));
                }
            }
            for prefix in &row.prefixes {
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Error::invalid(
                        FIELD,
                        format!(
                            "market `{}` has prefix {prefix:?}, which is not digits",
                            row.market
                        ),
                    ));
                }
                match prefixes.get(prefix) {
                    Some(market) if market != &row.market => {
                        return Err(Error::invalid(
                            FIELD,
                            format!("prefix {prefix} belongs to both `{market}` and `{}`", row.market),
                        ));
                    }
                    _ => {
                        prefixes.insert(prefix.clone(), row.market.clone());
                    }
                }
            }
            let market_rows = markets.entry(row.market.clone()).or_default();
            if let Some(first) = market_rows.first()
                && first.currency != row.currency
            {
                return Err(Error::invalid(
                    FIELD,
                    format!(
                        "market `{}` has rows in {} and in {}",
                        row.market, first.currency, row.currency
                    ),
                ));
            }
            market_rows.push(row);
        }
        if !markets.contains_key(OTHER_MARKET) {
            return Err(Error::invalid(
                FIELD,
                format!("needs a row for the market `{OTHER_MARKET}`"),
            ));
        }
        for market_rows in markets.values_mut() {
            market_rows.sort_by_key(|row| row.effective_from);
        }
        Ok(RateCard {
            markets: Arc::new(markets),
            prefixes: Arc::new(prefixes),
        })
    }

    /// Returns the market of a customer: the longest calling-code prefix matching its number (or, for
    /// a BSUID, its country's calling code), else `Other`.
    pub fn market_of(&self, customer_id: &CustomerId) -> &str {
        let digits = customer_id.calling_digits();
        (1..=digits.len().min(8))
            .rev()
            .find_map(|len| self.prefixes.get(&digits[..len]))
            .map_or(OTHER_MARKET, String::as_str)
    }

    /// Returns the row in force at `at` for the customer's market: the latest one effective at `at`,
    /// or the earliest one when `at` predates them all.
    pub fn rates_for(&self, customer_id: &CustomerId, at: Instant) -> &RateRow {
        let market_rows = self
            .markets
            .get(self.market_of(customer_id))
            .or_else(|| self.markets.get(OTHER_MARKET))
            .expect("the constructor requires an `Other` market");
        market_rows
            .iter()
            .rev()
            .find(|row| row.effective_from <= at)
            .or_else(|| market_rows.first())
            .expect("every market has at least one row")
    }

    /// Returns every row, market by market.
    /// Returns the earliest instant the card prices: the first `effective_from` of any row.
    pub fn first_effective_from(&self) -> Instant {
        self.rows()
            .map(|row| row.effective_from)
            .min()
            .unwrap_or(Instant::EPOCH)
    }

    pub fn rows(&self) -> impl Iterator<Item = &RateRow> {
        self.markets.values().flatten()
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn mk_row(
        market: &str,
        prefixes: &[&str],
        currency: &str,
        effective_from: i64,
        marketing: &str,
    ) -> RateRow {
        RateRow {
            market: market.to_owned(),
            prefixes: prefixes.iter().map(|prefix| (*prefix).to_owned()).collect(),
            currency: Currency::new(currency).unwrap(),
            effective_from: Instant::from_millis(effective_from),
            marketing: Decimal::from_str(marketing).unwrap(),
            utility: Decimal::ONE,
            authentication: Decimal::ONE,
            service: Decimal::ONE,
        }
    }

    fn customer(digits: &str) -> CustomerId {
        CustomerId::new(digits).unwrap()
    }

    #[test]
    fn longest_prefix_wins() {
        let card = RateCard::new(vec![
            mk_row("North America", &["1"], "USD", 0, "0.025"),
            mk_row("Rest of Latin America", &["1809", "1876"], "USD", 0, "0.074"),
            mk_row("India", &["91"], "INR", 0, "0.8147"),
            mk_row("Other", &[], "USD", 0, "0.0604"),
        ])
        .unwrap();
        assert_eq!(card.market_of(&customer("14155550100")), "North America");
        assert_eq!(card.market_of(&customer("18095550100")), "Rest of Latin America");
        assert_eq!(card.market_of(&customer("18765550100")), "Rest of Latin America");
        assert_eq!(card.market_of(&customer("919800000001")), "India");
        assert_eq!(card.market_of(&customer("9998000000")), "Other");
        assert_eq!(
            card.rates_for(&customer("919800000001"), Instant::EPOCH)
                .price(Category::Marketing)
                .to_string(),
            "0.8147 INR"
        );
    }

    #[test]
    fn the_row_in_force_is_the_latest_effective_one() {
        let card = RateCard::new(vec![
            mk_row("Other", &[], "USD", 1_000, "0.1"),
            mk_row("Other", &[], "USD", 2_000, "0.2"),
        ])
        .unwrap();
        let other = customer("9998000000");
        let marketing_at = |millis| {
            card.rates_for(&other, Instant::from_millis(millis))
                .marketing
                .to_string()
        };
        assert_eq!(marketing_at(500), "0.1");
        assert_eq!(marketing_at(1_999), "0.1");
        assert_eq!(marketing_at(2_000), "0.2");
    }

    #[test]
    fn rejects_inconsistent_cards() {
        assert!(
            RateCard::new(vec![mk_row("India", &["91"], "INR", 0, "1")]).is_err(),
            "no Other"
        );
        assert!(
            RateCard::new(vec![
                mk_row("Other", &[], "USD", 0, "1"),
                mk_row("A", &["9x"], "USD", 0, "1")
            ])
            .is_err(),
            "prefix not digits"
        );
        assert!(
            RateCard::new(vec![mk_row("Other", &[], "USD", 0, "-1")]).is_err(),
            "negative rate"
        );
        assert!(
            RateCard::new(vec![
                mk_row("Other", &[], "USD", 0, "1"),
                mk_row("A", &["44"], "USD", 0, "1"),
                mk_row("B", &["44"], "USD", 0, "1"),
            ])
            .is_err(),
            "prefix in two markets"
        );
    }
}
