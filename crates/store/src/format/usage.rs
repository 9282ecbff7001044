//! The stored format of usage rows (`UsageRow`, `UsageCounts`).
//!
//! A row's account and day are in the key of every backend; the other dimensions are written as one
//! string, the row's **field**: `market|category|pricing type|business|pricing model|currency`, each a
//! short code, with `%` and `|` of the market escaped as `%25` and `%7C`, then `|tier` for a price
//! from a volume tier. A new dimension is one more part at the end: a field with fewer parts reads as
//! the new dimension's default.
//!
//! Counts are kept as whole integers, so that Redis can add them with `HINCRBY`: `v` volume, `f`
//! failed, `c` conversations, and the cost as `u` whole units and `n` nanos of the same sign (each
//! price is answered to the nano), which keeps a day's cost exact far beyond what one 64-bit integer
//! of nanos holds. A count that a change leaves unchanged is not written.

use hourglass_core::{
    AccountId, BusinessId, Category, Currency, Day, PricingModel, PricingType, UsageCounts, UsageRow,
};
use rust_decimal::Decimal;

use crate::Error;

/// The names of the counts of a row, in the order `counts` gives them.
pub const COUNTS: [&str; 5] = ["v", "f", "c", "u", "n"];

/// Returns a row's field: every dimension but its account and day.
pub fn row_field(row: &UsageRow) -> String {
    let market = row.market.replace('%', "%25").replace('|', "%7C");
    let category = match row.category {
        Category::Marketing => "mk",
        Category::Utility => "ut",
        Category::Authentication => "au",
        Category::Service => "sv",
        Category::FreeEntryPoint => "fe",
    };
    let pricing_type = match row.pricing_type {
        PricingType::Regular => "r",
        PricingType::FreeTier => "ft",
        PricingType::FreeEntryPoint => "fe",
        PricingType::FreeCustomerService => "fc",
    };
    let model = match row.pricing_model {
        PricingModel::PerMessage => "pm",
        PricingModel::Conversation => "cv",
    };
    let tier = row.tier.map(|tier| format!("|{tier}")).unwrap_or_default();
    format!(
        "{market}|{category}|{pricing_type}|{}|{model}|{}{tier}",
        row.business, row.currency
    )
}

/// Reads a row's field, kept under `account` and `day`.
pub fn parse_row(account: &AccountId, day: Day, field: &str) -> Result<UsageRow, Error> {
    let corrupt = || Error::corrupt(format!("usage row {account}/{day}/{field:?} is malformed"));
    let parts: Vec<&str> = field.split('|').collect();
    let [
        market,
        category,
        pricing_type,
        business,
        model,
        currency,
        ref rest @ ..,
    ] = parts[..]
    else {
        return Err(corrupt());
    };
    let tier = match rest.first() {
        Some(tier) => Some(tier.parse::<u32>().map_err(|_| corrupt())?),
        None => None,
    };
    let category = match category {
        "mk" => Category::Marketing,
        "ut" => Category::Utility,
        "au" => Category::Authentication,
        "sv" => Category::Service,
        "fe" => Category::FreeEntryPoint,
        _ => return Err(corrupt()),
    };
    let pricing_type = match pricing_type {
        "r" => PricingType::Regular,
        "ft" => PricingType::FreeTier,
        "fe" => PricingType::FreeEntryPoint,
        "fc" => PricingType::FreeCustomerService,
        _ => return Err(corrupt()),
    };
    let pricing_model = match model {
        "pm" => PricingModel::PerMessage,
        "cv" => PricingModel::Conversation,
        _ => return Err(corrupt()),
    };
    Ok(UsageRow {
        account: account.clone(),
        day,
        market: market.replace("%7C", "|").replace("%25", "%"),
        category,
        pricing_type,
        business: BusinessId::new(business).map_err(|_| corrupt())?,
        pricing_model,
        currency: Currency::new(currency).map_err(|_| corrupt())?,
        tier,
    })
}

/// Returns the counts as integers, in the order of `COUNTS`.
pub fn counts(counts: &UsageCounts) -> [i64; 5] {
    let cost = if counts.cost.scale() > 9 {
        counts.cost.trunc_with_scale(9)
    } else {
        counts.cost
    };
    let units = cost.trunc();
    let nanos = (cost - units) * Decimal::from(1_000_000_000);
    [
        counts.volume,
        counts.failed,
        counts.conversations,
        i64::try_from(units).unwrap_or(i64::MAX),
        i64::try_from(nanos).unwrap_or(0),
    ]
}

/// Returns the counts that are not zero, by name: what a change adds.
pub fn nonzero_counts(change: &UsageCounts) -> Vec<(&'static str, i64)> {
    COUNTS
        .into_iter()
        .zip(counts(change))
        .filter(|(_, value)| *value != 0)
        .collect()
}

/// Reads counts as integers in the order of `COUNTS`.
pub fn from_counts([volume, failed, conversations, units, nanos]: [i64; 5]) -> UsageCounts {
    UsageCounts {
        volume,
        failed,
        conversations,
        cost: Decimal::from(units) + Decimal::new(nanos, 9),
    }
}

/// Encodes counts for a backend that keeps them as bytes: the five integers, big-endian.
pub fn encode_counts(value: &UsageCounts) -> Vec<u8> {
    counts(value)
        .iter()
        .flat_map(|count| count.to_be_bytes())
        .collect()
}

/// Decodes counts written by `encode_counts`.
pub fn decode_counts(name: &str, bytes: &[u8]) -> Result<UsageCounts, Error> {
    if bytes.len() != 40 {
        return Err(Error::corrupt(format!(
            "{name} holds {} bytes, not 40",
            bytes.len()
        )));
    }
    let mut values = [0; 5];
    for (value, chunk) in values.iter_mut().zip(bytes.chunks_exact(8)) {
        *value = i64::from_be_bytes(chunk.try_into().unwrap_or_default());
    }
    Ok(from_counts(values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn rows_and_counts_round_trip() {
        let row = UsageRow {
            account: AccountId::new("account", "waba-1").unwrap(),
            day: Day::parse("2026-12-01").unwrap(),
            market: "Rest of 100% | Africa".to_owned(),
            category: Category::Authentication,
            pricing_type: PricingType::FreeCustomerService,
            business: BusinessId::new("106540352242922").unwrap(),
            pricing_model: PricingModel::PerMessage,
            currency: Currency::new("INR").unwrap(),
            tier: None,
        };
        let field = row_field(&row);
        assert_eq!(field, "Rest of 100%25 %7C Africa|au|fc|106540352242922|pm|INR");
        assert_eq!(parse_row(&row.account, row.day, &field).unwrap(), row);
        let tiered = UsageRow {
            tier: Some(2),
            ..row.clone()
        };
        let field = row_field(&tiered);
        assert_eq!(field, "Rest of 100%25 %7C Africa|au|fc|106540352242922|pm|INR|2");
        assert_eq!(parse_row(&row.account, row.day, &field).unwrap(), tiered);
        assert!(parse_row(&row.account, row.day, "India|ut|r|1|pm|INR|x").is_err());
        assert!(parse_row(&row.account, row.day, "India|xx|r|1|pm|INR").is_err());
        let value = UsageCounts {
            volume: 3,
            failed: 1,
            conversations: 0,
            cost: Decimal::from_str("-12.345678912").unwrap(),
        };
        assert_eq!(counts(&value), [3, 1, 0, -12, -345_678_912]);
        assert_eq!(decode_counts("row", &encode_counts(&value)).unwrap(), value);
        assert_eq!(
            nonzero_counts(&value),
            [("v", 3), ("f", 1), ("u", -12), ("n", -345_678_912)]
        );
    }
}
