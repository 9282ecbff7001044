//! Rate cards: dated rows per market, found by the longest calling-code prefix of the customer.
//!
//! A card is data. The server parses the shipped default or an operator's file into a `RateCard`.
//!
//! Beyond its rows, a card may carry, without changing `RateRow` (which other crates build with struct
//! literals):
//! - rows of one market in several currencies, one of them the market's **default** currency (the
//!   rows `rates_for` answers from; `rates_in` finds the rows of another currency);
//! - **prefix moves**: from a date on, a calling-code prefix belongs to another market (Zimbabwe
//!   `263` joins Rest of Africa on 2025-10-01; Hong Kong `852` leaves Rest of Asia Pacific for a
//!   market of its own on 2026-07-01), so the market of a customer depends on the instant;
//! - **volume tiers** of a row's utility and authentication rates (`tiers_of`), kept for the pricing
//!   of tiers (docs/SPEC.md section 15.2), which does not use them yet.

use std::collections::BTreeMap;
use std::sync::Arc;

use rust_decimal::Decimal;

use crate::{Category, Currency, CustomerId, Error, Instant, Money, Outbound};

/// The market every unknown calling code maps to.
pub const OTHER_MARKET: &str = "Other";

/// The longest calling-code prefix a card may use, in digits.
const MAX_PREFIX_DIGITS: usize = 8;

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

/// One step of a volume-tier ladder: from the `from`-th charged message of the month on (counted per
/// portfolio, market and category), each message pays `rate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tier {
    pub from: u64,
    pub rate: Decimal,
}

/// A row's volume-tier ladders (docs/SPEC.md section 15.2); an empty ladder means a flat rate.
///
/// Validated with the card, and priced under per-message pricing (`tiers.rs`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeTiers {
    pub utility: Vec<Tier>,
    pub authentication: Vec<Tier>,
}

impl VolumeTiers {
    /// True when neither category has a ladder.
    pub fn is_empty(&self) -> bool {
        self.utility.is_empty() && self.authentication.is_empty()
    }

    /// Checks one ladder: its first tier starts at message 0 or 1 and pays `base_rate` (the row's rate
    /// of the category), its lower bounds strictly increase and no rate is negative.
    pub fn check_ladder(ladder: &[Tier], base_rate: Decimal) -> Result<(), String> {
        let Some(first) = ladder.first() else {
            return Ok(());
        };
        if first.from > 1 {
            return Err(format!("the first tier must start at 0 or 1, not {}", first.from));
        }
        if first.rate != base_rate {
            return Err(format!(
                "the first tier's rate {} is not the row's rate {base_rate}",
                first.rate
            ));
        }
        for pair in ladder.windows(2) {
            if pair[1].from <= pair[0].from {
                return Err(format!(
                    "tier bounds must increase: {} comes after {}",
                    pair[1].from, pair[0].from
                ));
            }
        }
        if let Some(tier) = ladder
            .iter()
            .find(|tier| tier.rate.is_sign_negative() && !tier.rate.is_zero())
        {
            return Err(format!("the tier from {} has a negative rate", tier.from));
        }
        Ok(())
    }
}

/// A row as a card file gives it: the `RateRow`, whether its currency is its market's default, and
/// its volume tiers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardRow {
    pub row: RateRow,
    /// Marks the row's currency as its market's default (needed when a market has rows in several
    /// currencies; a market with one currency defaults to it).
    pub default: bool,
    pub tiers: VolumeTiers,
}

impl CardRow {
    /// A row with no default mark and no tiers.
    pub fn new(row: RateRow) -> CardRow {
        CardRow {
            row,
            default: false,
            tiers: VolumeTiers::default(),
        }
    }
}

/// A dated change of the market map: from `effective_from` on, each of `prefixes` belongs to `market`
/// (`Other` to take a prefix out of every market), whatever the rows' prefixes say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixMove {
    pub prefixes: Vec<String>,
    pub market: String,
    pub effective_from: Instant,
}

/// Collects rows and prefix moves for [`RateCard::builder`]; `build` validates them.
#[derive(Clone, Debug, Default)]
pub struct RateCardBuilder {
    rows: Vec<CardRow>,
    moves: Vec<PrefixMove>,
}

impl RateCardBuilder {
    /// Adds a row with no default mark and no tiers.
    pub fn row(&mut self, row: RateRow) -> &mut RateCardBuilder {
        self.rows.push(CardRow::new(row));
        self
    }

    /// Adds a row; `default` marks its currency as its market's default, and the ladders are
    /// `(from, rate)` pairs (see [`Tier`]), empty for a flat rate.
    pub fn card_row(
        &mut self,
        row: RateRow,
        default: bool,
        utility_tiers: Vec<(u64, Decimal)>,
        authentication_tiers: Vec<(u64, Decimal)>,
    ) -> &mut RateCardBuilder {
        let ladder = |tiers: Vec<(u64, Decimal)>| {
            tiers
                .into_iter()
                .map(|(from, rate)| Tier { from, rate })
                .collect()
        };
        self.rows.push(CardRow {
            row,
            default,
            tiers: VolumeTiers {
                utility: ladder(utility_tiers),
                authentication: ladder(authentication_tiers),
            },
        });
        self
    }

    /// Adds a dated prefix move (see [`PrefixMove`]).
    pub fn prefix_move(
        &mut self,
        prefixes: Vec<String>,
        market: String,
        effective_from: Instant,
    ) -> &mut RateCardBuilder {
        self.moves.push(PrefixMove {
            prefixes,
            market,
            effective_from,
        });
        self
    }

    /// Validates the rows and moves into a card (see [`RateCard::builder`]).
    pub fn build(&self) -> Result<RateCard, Error> {
        RateCard::from_parts(self.rows.clone(), self.moves.clone())
    }
}

/// The rows of one market.
#[derive(Clone, Debug, PartialEq, Eq)]
struct MarketRows {
    /// The currency `rates_for` answers in.
    default_currency: Currency,
    /// Rows per currency, each list sorted by `effective_from`.
    by_currency: BTreeMap<Currency, Vec<RateRow>>,
}

/// A validated rate card. Cloning it is cheap: the tables are shared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateCard {
    markets: Arc<BTreeMap<String, MarketRows>>,
    /// Calling-code prefix to market, from the rows' prefixes.
    prefixes: Arc<BTreeMap<String, String>>,
    /// Calling-code prefix to its dated markets, sorted by instant; they override `prefixes`.
    moves: Arc<BTreeMap<String, Vec<(Instant, String)>>>,
    /// Volume tiers by (market, currency, effective_from), for rows that have some.
    tiers: Arc<BTreeMap<(String, Currency, Instant), VolumeTiers>>,
    /// The length of the longest prefix of `prefixes` and `moves`, in digits: no longer one matches.
    longest_prefix: usize,
    /// The first `effective_from` of any row (`first_effective_from`), which every decision checks.
    first_effective_from: Instant,
}

const FIELD: &str = "rate_card";

fn check_prefix(market: &str, prefix: &str) -> Result<(), Error> {
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(
            FIELD,
            format!("market `{market}` has prefix {prefix:?}, which is not digits"),
        ));
    }
    Ok(())
}

impl RateCard {
    /// Validates rows into a card: it needs an `Other` market, non-negative rates, digit prefixes, each
    /// prefix in one market only, and one currency per market.
    pub fn new(rows: Vec<RateRow>) -> Result<RateCard, Error> {
        RateCard::from_parts(rows.into_iter().map(CardRow::new).collect(), Vec::new())
    }

    /// Returns a builder of a card with default marks, volume tiers and dated prefix moves.
    pub fn builder() -> RateCardBuilder {
        RateCardBuilder::default()
    }

    /// Validates rows and dated prefix moves into a card. Beyond what [`RateCard::new`] checks, a
    /// market may have rows in several currencies if the rows of exactly one of them are marked
    /// `default`; no two rows share market, currency and `effective_from`; tier ladders are valid
    /// ([`VolumeTiers::check_ladder`]); and a prefix moves to a market that exists and has a row in
    /// its default currency in force when the move takes effect.
    fn from_parts(rows: Vec<CardRow>, moves: Vec<PrefixMove>) -> Result<RateCard, Error> {
        let mut by_market: BTreeMap<String, BTreeMap<Currency, Vec<RateRow>>> = BTreeMap::new();
        let mut defaults: BTreeMap<String, Currency> = BTreeMap::new();
        let mut prefixes: BTreeMap<String, String> = BTreeMap::new();
        let mut tiers: BTreeMap<(String, Currency, Instant), VolumeTiers> = BTreeMap::new();
        for CardRow {
            row,
            default,
            tiers: row_tiers,
        } in rows
        {
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
                check_prefix(&row.market, prefix)?;
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
            for (name, ladder, base) in [
                ("utility", &row_tiers.utility, row.utility),
                ("authentication", &row_tiers.authentication, row.authentication),
            ] {
                VolumeTiers::check_ladder(ladder, base).map_err(|reason| {
                    Error::invalid(
                        FIELD,
                        format!(
                            "market `{}` ({} from {}): {name} tiers: {reason}",
                            row.market, row.currency, row.effective_from
                        ),
                    )
                })?;
            }
            if default {
                match defaults.get(&row.market) {
                    Some(currency) if *currency != row.currency => {
                        return Err(Error::invalid(
                            FIELD,
                            format!(
                                "market `{}` marks rows in both {currency} and {} as its default",
                                row.market, row.currency
                            ),
                        ));
                    }
                    _ => {
                        defaults.insert(row.market.clone(), row.currency);
                    }
                }
            }
            let same_currency = by_market
                .entry(row.market.clone())
                .or_default()
                .entry(row.currency)
                .or_default();
            if same_currency
                .iter()
                .any(|other| other.effective_from == row.effective_from)
            {
                return Err(Error::invalid(
                    FIELD,
                    format!(
                        "market `{}` has two rows in {} from {}",
                        row.market, row.currency, row.effective_from
                    ),
                ));
            }
            if !row_tiers.is_empty() {
                tiers.insert((row.market.clone(), row.currency, row.effective_from), row_tiers);
            }
            same_currency.push(row);
        }
        if !by_market.contains_key(OTHER_MARKET) {
            return Err(Error::invalid(
                FIELD,
                format!("needs a row for the market `{OTHER_MARKET}`"),
            ));
        }
        let mut markets = BTreeMap::new();
        for (market, mut by_currency) in by_market {
            let default_currency = match defaults.get(&market) {
                Some(currency) => *currency,
                None => {
                    let mut currencies = by_currency.keys();
                    match (currencies.next(), currencies.next()) {
                        (Some(only), None) => *only,
                        (Some(first), Some(second)) => {
                            return Err(Error::invalid(
                                FIELD,
                                format!(
                                    "market `{market}` has rows in {first} and in {second}: mark the rows of its default currency `default = true`"
                                ),
                            ));
                        }
                        (None, _) => unreachable!("a market is created with a row"),
                    }
                }
            };
            for rows in by_currency.values_mut() {
                rows.sort_by_key(|row| row.effective_from);
            }
            markets.insert(
                market,
                MarketRows {
                    default_currency,
                    by_currency,
                },
            );
        }
        let mut dated: BTreeMap<String, Vec<(Instant, String)>> = BTreeMap::new();
        for PrefixMove {
            prefixes: moved,
            market,
            effective_from,
        } in moves
        {
            let Some(rows) = markets.get(&market) else {
                return Err(Error::invalid(
                    FIELD,
                    format!("prefixes {moved:?} move to `{market}`, which has no rows"),
                ));
            };
            let in_force = rows
                .by_currency
                .get(&rows.default_currency)
                .is_some_and(|rows| rows.iter().any(|row| row.effective_from <= effective_from));
            if !in_force {
                return Err(Error::invalid(
                    FIELD,
                    format!(
                        "prefixes {moved:?} move to `{market}` from {effective_from}, before its first row"
                    ),
                ));
            }
            if moved.is_empty() {
                return Err(Error::invalid(
                    FIELD,
                    format!("a move to `{market}` has no prefixes"),
                ));
            }
            for prefix in moved {
                check_prefix(&market, &prefix)?;
                let entries = dated.entry(prefix.clone()).or_default();
                if entries.iter().any(|(from, _)| *from == effective_from) {
                    return Err(Error::invalid(
                        FIELD,
                        format!("prefix {prefix} moves twice on {effective_from}"),
                    ));
                }
                entries.push((effective_from, market.clone()));
            }
        }
        for entries in dated.values_mut() {
            entries.sort_by_key(|(from, _)| *from);
        }
        let longest_prefix = prefixes
            .keys()
            .chain(dated.keys())
            .map(String::len)
            .max()
            .unwrap_or(0);
        let mut card = RateCard {
            markets: Arc::new(markets),
            prefixes: Arc::new(prefixes),
            moves: Arc::new(dated),
            tiers: Arc::new(tiers),
            longest_prefix,
            first_effective_from: Instant::EPOCH,
        };
        card.first_effective_from = card
            .rows()
            .map(|row| row.effective_from)
            .min()
            .unwrap_or(Instant::EPOCH);
        Ok(card)
    }

    /// Returns the market of a customer in the card's latest market map (every dated prefix move
    /// applied): the longest calling-code prefix matching its number (or, for a BSUID, its country's
    /// calling code), else `Other`. Pricing uses [`RateCard::market_at`].
    pub fn market_of(&self, customer_id: &CustomerId) -> &str {
        self.market_at(customer_id, Instant::from_millis(i64::MAX))
    }

    /// Returns the market of a customer at `at`: the longest calling-code prefix matching its number
    /// (or, for a BSUID, its country's calling code) in the market map in force at `at`, else `Other`.
    pub fn market_at(&self, customer_id: &CustomerId, at: Instant) -> &str {
        let digits = customer_id.calling_digits();
        // Each length is two map lookups: only those some prefix of the card has are tried.
        (1..=digits.len().min(MAX_PREFIX_DIGITS).min(self.longest_prefix))
            .rev()
            .find_map(|len| self.market_of_prefix(&digits[..len], at))
            .unwrap_or(OTHER_MARKET)
    }

    fn market_of_prefix(&self, prefix: &str, at: Instant) -> Option<&str> {
        let moved = self.moves.get(prefix).and_then(|entries| {
            entries
                .iter()
                .rev()
                .find(|(from, _)| *from <= at)
                .map(|(_, market)| market.as_str())
        });
        moved.or_else(|| self.prefixes.get(prefix).map(String::as_str))
    }

    fn market_rows(&self, customer_id: &CustomerId, at: Instant) -> &MarketRows {
        self.markets
            .get(self.market_at(customer_id, at))
            .or_else(|| self.markets.get(OTHER_MARKET))
            .expect("the constructor requires an `Other` market")
    }

    /// Returns the row in force at `at` for the customer's market at `at`, in the market's default
    /// currency: the latest one effective at `at`, or the earliest one when `at` predates them all.
    pub fn rates_for(&self, customer_id: &CustomerId, at: Instant) -> &RateRow {
        let market = self.market_rows(customer_id, at);
        let rows = market
            .by_currency
            .get(&market.default_currency)
            .expect("a market has rows in its default currency");
        in_force(rows, at).expect("every market has at least one row")
    }

    /// Returns the row in force at `at` for the customer's market at `at` in `currency` (the latest
    /// one effective at `at`, or the earliest one when `at` predates them all), or `None` when the
    /// market has no row in that currency.
    pub fn rates_in(&self, customer_id: &CustomerId, at: Instant, currency: Currency) -> Option<&RateRow> {
        let market = self.market_rows(customer_id, at);
        market
            .by_currency
            .get(&currency)
            .and_then(|rows| in_force(rows, at))
    }

    /// Returns the row of `market` (by name, as the card writes it) in force at `at` in its default
    /// currency, or `None` for a market the card does not have.
    pub fn market_rates(&self, market: &str, at: Instant) -> Option<&RateRow> {
        let rows = self.markets.get(market)?;
        rows.by_currency
            .get(&rows.default_currency)
            .and_then(|rows| in_force(rows, at))
    }

    /// Returns the row of `market` in force at `at` in `currency`, or `None` when the card has no row of
    /// the market in that currency.
    pub fn market_rates_in(&self, market: &str, at: Instant, currency: Currency) -> Option<&RateRow> {
        self.markets
            .get(market)?
            .by_currency
            .get(&currency)
            .and_then(|rows| in_force(rows, at))
    }

    /// Returns the names of the card's markets, in order.
    pub fn markets(&self) -> impl Iterator<Item = &str> {
        self.markets.keys().map(String::as_str)
    }

    /// Returns the default currency of `market`, or `None` for a market the card does not have.
    pub fn default_currency(&self, market: &str) -> Option<Currency> {
        self.markets.get(market).map(|rows| rows.default_currency)
    }

    /// Returns the currencies `market` has rows in, default or not.
    pub fn currencies(&self, market: &str) -> Vec<Currency> {
        self.markets
            .get(market)
            .map(|rows| rows.by_currency.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Returns the volume tiers of a row of this card, or `None` when it has none.
    pub fn tiers_of(&self, row: &RateRow) -> Option<&VolumeTiers> {
        self.tiers
            .get(&(row.market.clone(), row.currency, row.effective_from))
    }

    /// Returns the earliest instant the card prices: the first `effective_from` of any row.
    pub fn first_effective_from(&self) -> Instant {
        self.first_effective_from
    }

    /// Returns every row, market by market and, within a market, currency by currency.
    pub fn rows(&self) -> impl Iterator<Item = &RateRow> {
        self.markets
            .values()
            .flat_map(|market| market.by_currency.values().flatten())
    }
}

/// The latest row effective at `at`, or the earliest one; `rows` is sorted by `effective_from`.
fn in_force(rows: &[RateRow], at: Instant) -> Option<&RateRow> {
    rows.iter()
        .rev()
        .find(|row| row.effective_from <= at)
        .or_else(|| rows.first())
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
