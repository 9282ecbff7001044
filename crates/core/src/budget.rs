//! Budgets (guard 8, docs/SPEC.md section 15.3): what an account may still spend this month. The guard
//! itself is `guards::budget`; this is what `GetBudget` answers from the same counter.

use crate::{Account, AccountId, CounterKey, Instant, Money, Month};

/// An account's budget and spend in the calendar month of its zone that holds an instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BudgetStatus {
    pub month: Month,
    /// The month's first instant and the next month's, in the account's zone.
    pub start: Instant,
    pub end: Instant,
    /// None for an account with no budget.
    pub budget: Option<Money>,
    /// The month's billable charges in the account's billing currency, exactly: the sum of the prices
    /// of the messages guard 8 counted.
    pub spent: Money,
    /// What is left of the budget, zero once it is spent; none without a budget.
    pub remaining: Option<Money>,
}

/// Returns the counter of an account's spend in the month of `at`, in its zone; none for an account
/// with no billing currency, whose spend is not counted (it can have no budget).
pub fn spend_counter(id: &AccountId, account: &Account, at: Instant) -> Option<CounterKey> {
    account.currency?;
    Some(CounterKey::Spend {
        account: id.clone(),
        month: account.time_zone.wall_clock(at).utc_month(),
    })
}

impl BudgetStatus {
    /// Returns the status of `account` at `at`, whose spend counter (`spend_counter`) reads `spent`
    /// nanos; none for an account with no billing currency.
    pub fn new(account: &Account, at: Instant, spent: u64) -> Option<BudgetStatus> {
        let currency = account.currency?;
        let (start, end) = account.time_zone.period_of(at, true);
        let spent = Money::from_nanos(currency, spent);
        let remaining = account.monthly_budget.map(|budget| Money {
            currency,
            amount: (budget.amount - spent.amount).max(rust_decimal::Decimal::ZERO),
        });
        Some(BudgetStatus {
            month: account.time_zone.wall_clock(at).utc_month(),
            start,
            end,
            budget: account.monthly_budget,
            spent,
            remaining,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Currency, PortfolioId, Zone};

    fn account(currency: Option<&str>, budget: Option<&str>) -> Account {
        let currency = currency.map(|code| Currency::new(code).expect("a currency"));
        Account {
            portfolio: PortfolioId::new("portfolio_id", "p").expect("an id"),
            time_zone: Zone::new("time_zone", "Asia/Kolkata").expect("a zone"),
            currency,
            require_opt_in: false,
            require_registered_templates: false,
            marketing_cap: None,
            monthly_budget: budget.map(|amount| Money {
                currency: currency.expect("a budget has the billing currency"),
                amount: amount.parse().expect("a decimal"),
            }),
        }
    }

    #[test]
    fn the_month_is_the_zones_and_what_remains_never_goes_below_zero() {
        // 2026-10-31T20:00:00Z is 2026-11-01 01:30 in Kolkata.
        let at = Instant::from_millis(1_793_476_800_000);
        let status =
            BudgetStatus::new(&account(Some("INR"), Some("10")), at, 2_500_000_000).expect("a status");
        assert_eq!(
            status.month,
            Month {
                year: 2026,
                month: 11
            }
        );
        assert_eq!(
            status.start,
            Instant::from_millis(1_793_471_400_000),
            "2026-11-01 00:00 IST"
        );
        assert_eq!(status.spent.amount, "2.5".parse().expect("a decimal"));
        assert_eq!(
            status.remaining.expect("a budget").amount,
            "7.5".parse().expect("a decimal")
        );
        let over = BudgetStatus::new(&account(Some("INR"), Some("1")), at, 2_500_000_000).expect("a status");
        assert!(over.remaining.expect("a budget").amount.is_zero());
        let no_budget = BudgetStatus::new(&account(Some("INR"), None), at, 7).expect("a status");
        assert_eq!((no_budget.budget, no_budget.remaining), (None, None));
        assert_eq!(no_budget.spent.amount, "0.000000007".parse().expect("a decimal"));
        assert!(BudgetStatus::new(&account(None, None), at, 0).is_none());
        let id = AccountId::new("account_id", "a").expect("an id");
        assert_eq!(
            spend_counter(&id, &account(Some("INR"), None), at),
            Some(CounterKey::Spend {
                account: id.clone(),
                month: Month {
                    year: 2026,
                    month: 11
                }
            })
        );
    }

    #[test]
    fn guard_8_counts_charges_in_the_billing_currency_and_denies_past_the_budget() {
        use crate::registry::{Facts, Registered};
        use crate::{Counters, DenyReason, MessagingLimit};

        let id = AccountId::new("account_id", "a").expect("an id");
        let facts = |account: Account| Facts {
            account: Some(Registered {
                id: id.clone(),
                account,
                messaging_limit: MessagingLimit::default(),
            }),
            ..Facts::default()
        };
        let at = Instant::from_millis(1_793_476_800_000);
        let inr = |amount: &str| Money {
            currency: Currency::new("INR").expect("a currency"),
            amount: amount.parse().expect("a decimal"),
        };
        let budgeted = facts(account(Some("INR"), Some("1")));
        let counter = spend_counter(&id, &account(Some("INR"), None), at).expect("a counter");
        let mut counters = Counters::default();
        counters.insert(counter.clone(), 900_000_000);
        let slot = || "919800000001@0#0".to_owned();

        // 0.9 spent of 1: 0.1 fits exactly, 0.1000000001 does not, a free message always passes.
        let fits = crate::guards::budget(&budgeted, &counters, &inr("0.1"), at, slot);
        assert_eq!(fits.denial, None);
        let claim = fits.claim.expect("the charge counts");
        assert_eq!((claim.weight, claim.limit), (100_000_000, 1_000_000_000));
        let over = crate::guards::budget(&budgeted, &counters, &inr("0.100000001"), at, slot);
        let denial = over.denial.expect("denied");
        assert_eq!(denial.reason, DenyReason::BudgetExceeded);
        assert!(
            denial
                .explanation
                .contains("spent 0.9 INR of its monthly budget of 1 INR"),
            "{}",
            denial.explanation
        );
        assert_eq!(over.claim.expect("counted in shadow").limit, u64::MAX);
        let free = crate::guards::budget(&budgeted, &counters, &inr("0"), at, slot);
        assert_eq!((free.claim, free.denial), (None, None));

        // A charge in another currency is never converted: denied under a budget, uncounted without.
        let dollars = Money {
            currency: Currency::new("USD").expect("a currency"),
            amount: "0.01".parse().expect("a decimal"),
        };
        let foreign = crate::guards::budget(&budgeted, &counters, &dollars, at, slot);
        assert!(foreign.denial.expect("denied").explanation.contains("never"));
        let unbudgeted =
            crate::guards::budget(&facts(account(Some("INR"), None)), &counters, &dollars, at, slot);
        assert_eq!((unbudgeted.claim, unbudgeted.denial), (None, None));
        // Without a budget every charge in the currency still counts, with no limit.
        let counted =
            crate::guards::budget(&facts(account(Some("INR"), None)), &counters, &inr("5"), at, slot);
        assert_eq!(counted.claim.expect("counted").limit, u64::MAX);
    }
}
