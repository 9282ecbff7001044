//! Exact money: a currency and a decimal amount. Never a float.

use std::fmt;

use rust_decimal::Decimal;

use crate::Error;

/// An ISO 4217 currency code: three ASCII capital letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Validates a currency code such as `INR` or `USD`.
    pub fn new(code: &str) -> Result<Currency, Error> {
        match code.as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Currency([a, b, c])),
            _ => Err(Error::invalid(
                "currency",
                format!("must be three capital letters, got {code:?}"),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        // The constructor admits ASCII capitals only.
        std::str::from_utf8(&self.0).expect("currency codes are ASCII")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An exact amount in a currency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Money {
    pub currency: Currency,
    pub amount: Decimal,
}

impl Money {
    /// Returns zero in `currency`.
    pub fn zero(currency: Currency) -> Money {
        Money {
            currency,
            amount: Decimal::ZERO,
        }
    }

    /// Returns the amount in nanos (10^-9 units), rounded to the nearest nano: what a weighted counter
    /// counts (`CounterKey::Spend`). None for a negative amount or one beyond 2^64 nanos.
    pub fn to_nanos(&self) -> Option<u64> {
        use rust_decimal::prelude::ToPrimitive as _;
        (self.amount * Decimal::from(1_000_000_000_u64)).round().to_u64()
    }

    /// Returns `nanos` (10^-9 units) of `currency`.
    pub fn from_nanos(currency: Currency, nanos: u64) -> Money {
        Money {
            currency,
            amount: Decimal::from_i128_with_scale(i128::from(nanos), 9).normalize(),
        }
    }

    /// Splits the amount into whole units and nanos (10^-9 units) of the same sign, as
    /// `google.type.Money` carries it; digits beyond the ninth decimal place are dropped.
    pub fn units_and_nanos(&self) -> (i64, i32) {
        let amount = self.amount.trunc_with_scale(9);
        let units = amount.trunc();
        let nanos = (amount - units) * Decimal::from(1_000_000_000);
        (
            i64::try_from(units).unwrap_or(i64::MAX),
            i32::try_from(nanos).unwrap_or(0),
        )
    }

    /// Builds an amount from units and nanos; both must have the same sign, and nanos lie in ±999,999,999.
    pub fn from_units_and_nanos(currency: Currency, units: i64, nanos: i32) -> Result<Money, Error> {
        if nanos.unsigned_abs() > 999_999_999 || (units > 0 && nanos < 0) || (units < 0 && nanos > 0) {
            return Err(Error::invalid(
                "nanos",
                "must lie in ±999,999,999 with the sign of units",
            ));
        }
        let amount = Decimal::from(units) + Decimal::new(i64::from(nanos), 9);
        Ok(Money {
            currency,
            amount: amount.normalize(),
        })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount.normalize(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn inr(amount: &str) -> Money {
        Money {
            currency: Currency::new("INR").unwrap(),
            amount: Decimal::from_str(amount).unwrap(),
        }
    }

    #[test]
    fn splits_into_units_and_nanos() {
        assert_eq!(inr("0.8147").units_and_nanos(), (0, 814_700_000));
        assert_eq!(inr("12.5").units_and_nanos(), (12, 500_000_000));
        assert_eq!(inr("-1.25").units_and_nanos(), (-1, -250_000_000));
        assert_eq!(inr("0").units_and_nanos(), (0, 0));
    }

    #[test]
    fn round_trips_units_and_nanos() {
        let money = inr("0.3292");
        let (units, nanos) = money.units_and_nanos();
        assert_eq!(
            Money::from_units_and_nanos(money.currency, units, nanos).unwrap(),
            money
        );
        assert!(Money::from_units_and_nanos(money.currency, 1, -1).is_err());
    }

    #[test]
    fn currencies_are_three_capitals() {
        assert!(Currency::new("USD").is_ok());
        for bad in ["", "usd", "US", "USDX", "U$D"] {
            assert!(Currency::new(bad).is_err(), "{bad:?}");
        }
    }
}
