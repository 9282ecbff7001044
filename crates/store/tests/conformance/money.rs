//! The money cases (docs/SPEC.md sections 15.2 and 15.3), written once and run against every backend
//! by `store_conformance!`: volume tiers and budgets stay exact when replicas race, as the free tiers do.

use std::collections::BTreeMap;
use std::sync::Arc;

use hourglass_core::{
    Account, AccountId, Answer, Business, Category, CounterKey, Currency, DenyReason, History, Instant,
    Money, Month, Policy, PortfolioId, PricingSchedule, RateCard, RateRow, TemplateCategory, TierOwner,
    Verdict, Zone,
};
use hourglass_store::registry::{self, Entry, Key};
use hourglass_store::{Error, Store};

use crate::backends::Backend;
use crate::support::{
    Calls as _, dec, free_form, inbound, minutes, mk_thread, money, template, unique_business,
};

#[track_caller]
fn must<T>(result: Result<T, Error>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("the store failed: {error:?}"),
    }
}

/// 2025-08-01T00:00:00Z: per-message pricing, service free.
const AUGUST_2025: Instant = Instant::from_millis(1_754_006_400_000);

/// A card with an India row in INR whose utility rate climbs a short ladder: messages 1 to 50 pay
/// 0.1150, 51 to 80 pay 0.1081, and from 81 on 0.1012.
fn tiered_policy() -> Policy {
    let india = RateRow {
        market: "India".to_owned(),
        prefixes: vec!["91".to_owned()],
        currency: Currency::new("INR").expect("a currency"),
        effective_from: Instant::EPOCH,
        marketing: dec("0.8147"),
        utility: dec("0.1150"),
        authentication: dec("0.1150"),
        service: dec("0.3292"),
    };
    let other = RateRow {
        market: "Other".to_owned(),
        prefixes: Vec::new(),
        currency: Currency::new("USD").expect("a currency"),
        ..india.clone()
    };
    let card = RateCard::builder()
        .card_row(
            india,
            true,
            vec![(1, dec("0.1150")), (51, dec("0.1081")), (81, dec("0.1012"))],
            Vec::new(),
        )
        .row(other)
        .build()
        .expect("the test card is valid");
    Policy {
        schedule: PricingSchedule::PerMessage2025,
        ..Policy::conversation_2023(card)
    }
}

/// Runs `records` over the replicas at once, each sent twice (a retry), and returns each message's
/// first answer in order.
async fn race(
    replicas: &[Arc<dyn Store>],
    policy: &Arc<Policy>,
    records: Vec<crate::support::Record>,
) -> Vec<Answer> {
    let mut tasks = Vec::new();
    for (n, record) in records.iter().enumerate() {
        for copy in 0..2 {
            let store = Arc::clone(&replicas[(n + copy) % replicas.len()]);
            let (policy, record) = (Arc::clone(policy), record.clone());
            tasks.push(tokio::spawn(async move { store.record(&record, &policy).await }));
        }
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(must(task.await.expect("record tasks do not panic")));
    }
    // A message is recorded once, and its allowed copies answer alike. A copy decided before the other
    // committed may be denied where the other was allowed (a denial records nothing), so the answer of
    // a message is that of its allowed copy, if it has one.
    answers
        .chunks(2)
        .map(|pair| {
            let [first, second] = pair else {
                unreachable!("answers come in pairs")
            };
            let allowed: Vec<&Answer> = pair
                .iter()
                .filter(|answer| {
                    answer
                        .decision
                        .as_ref()
                        .is_some_and(|decision| decision.is_allowed())
                })
                .collect();
            if let [one, other] = allowed[..] {
                assert_eq!(
                    one.decision, other.decision,
                    "a retry repeats its message's answer"
                );
                assert_ne!(
                    one.duplicate, other.duplicate,
                    "one copy is recorded, the other is its duplicate"
                );
            }
            allowed
                .first()
                .copied()
                .unwrap_or(if first.duplicate { second } else { first })
                .clone()
        })
        .collect()
}

fn replicas_of(first: &Arc<dyn Store>, second: Option<Arc<dyn Store>>) -> Vec<Arc<dyn Store>> {
    std::iter::once(Arc::clone(first)).chain(second).collect()
}

pub async fn volume_tiers_are_exact_across_a_boundary_under_concurrency<B: Backend>(backend: B) {
    const CUSTOMERS: u32 = 50;
    const PER_CUSTOMER: u32 = 2;
    let first = backend.open().await;
    let second = if backend.shared() {
        Some(backend.open().await)
    } else {
        None
    };
    let replicas = replicas_of(&first, second);
    let policy = Arc::new(tiered_policy());
    let business = unique_business();
    // Two utility templates per customer at one instant, so that two steps of one thread race too and
    // one of them gives its slot back and decides again.
    let records = (0..CUSTOMERS)
        .flat_map(|n| {
            let business = business.clone();
            (0..PER_CUSTOMER).map(move |k| {
                template(
                    &mk_thread(&business, n),
                    &format!("u-{n}-{k}"),
                    AUGUST_2025.plus(minutes(1)),
                    TemplateCategory::Utility,
                )
            })
        })
        .collect();
    let answers = race(&replicas, &policy, records).await;
    let mut by_tier: BTreeMap<Option<u32>, (usize, Money)> = BTreeMap::new();
    for answer in &answers {
        let Some(Verdict::Allowed(charge)) = answer.decision.as_ref().map(|decision| &decision.verdict)
        else {
            panic!("every utility template is allowed: {answer:?}");
        };
        let entry = by_tier.entry(charge.tier).or_insert((0, charge.price));
        entry.0 += 1;
        assert_eq!(entry.1, charge.price, "one rate per tier");
    }
    let expected = BTreeMap::from([
        (Some(1), (50, money("INR", "0.1150"))),
        (Some(2), (30, money("INR", "0.1081"))),
        (Some(3), (20, money("INR", "0.1012"))),
    ]);
    assert_eq!(by_tier, expected);
    let month = Month { year: 2025, month: 8 };
    let tier = |tier: u32| CounterKey::VolumeTier {
        owner: TierOwner::Account(mk_thread(&business, 0).unregistered_account()),
        market: "India".to_owned(),
        category: Category::Utility,
        month,
        tier,
    };
    let read = must(first.read_counters(&[tier(0).into(), tier(1).into()]).await);
    assert_eq!((read.used(&tier(0)), read.used(&tier(1))), (50, 30));
}

/// Registers a business with a new account of its own portfolio, billed in INR with `budget`.
async fn register(store: &dyn Store, budget: Option<Money>) -> (hourglass_core::BusinessId, AccountId) {
    let business = unique_business();
    let account = AccountId::new("account_id", business.as_str()).expect("a valid id");
    let settings = Account {
        portfolio: PortfolioId::of_account(&account),
        time_zone: Zone::UTC,
        currency: Some(Currency::new("INR").expect("a currency")),
        require_opt_in: false,
        require_registered_templates: false,
        marketing_cap: None,
        monthly_budget: budget,
    };
    let mut history = History::default();
    history.put(Instant::EPOCH, settings);
    must(
        registry::update(store, &Key::Account(account.clone()), |_| {
            (Entry::Account(history.clone()), true)
        })
        .await,
    );
    let mut owner = History::default();
    owner.put(
        Instant::EPOCH,
        Business {
            account: account.clone(),
        },
    );
    must(
        registry::update(store, &Key::Business(business.clone()), |_| {
            (Entry::Business(owner.clone()), true)
        })
        .await,
    );
    (business, account)
}

pub async fn a_budget_is_never_exceeded_under_concurrency<B: Backend>(backend: B) {
    const CUSTOMERS: u32 = 30;
    const AFFORDABLE: usize = 10;
    let first = backend.open().await;
    let second = if backend.shared() {
        Some(backend.open().await)
    } else {
        None
    };
    let replicas = replicas_of(&first, second);
    let policy = Arc::new(tiered_policy());
    // Ten marketing templates at 0.8147 INR fit the budget exactly; the eleventh does not.
    let (business, account) = register(first.as_ref(), Some(money("INR", "8.147"))).await;
    let at = AUGUST_2025.plus(minutes(1));
    let records = (0..CUSTOMERS)
        .map(|n| {
            template(
                &mk_thread(&business, n),
                &format!("m-{n}"),
                at,
                TemplateCategory::Marketing,
            )
        })
        .collect();
    let answers = race(&replicas, &policy, records).await;
    let allowed = answers
        .iter()
        .filter(|answer| {
            answer
                .decision
                .as_ref()
                .is_some_and(|decision| decision.is_allowed())
        })
        .count();
    assert_eq!(allowed, AFFORDABLE, "the budget pays for exactly ten");
    for answer in &answers {
        if let Some(Verdict::Denied { reason, explanation }) = answer.decision.as_ref().map(|d| &d.verdict) {
            assert_eq!(*reason, DenyReason::BudgetExceeded);
            assert!(explanation.contains("8.147 INR"), "{explanation}");
        }
    }
    let spend = CounterKey::Spend {
        account: account.clone(),
        month: Month { year: 2025, month: 8 },
    };
    let read = must(first.read_counters(&[spend.clone().into()]).await);
    assert_eq!(
        read.used(&spend),
        8_147_000_000,
        "the spend is the ten prices, to the nano"
    );

    // A free message passes a spent budget: a free-form reply inside the customer service window.
    let thread = mk_thread(&business, CUSTOMERS + 1);
    must(first.record(&inbound(&thread, "in", at), &policy).await);
    let reply = must(
        first
            .record(&free_form(&thread, "reply", at.plus(minutes(1))), &policy)
            .await,
    );
    assert!(
        reply
            .decision
            .as_ref()
            .is_some_and(|decision| decision.is_allowed()),
        "{reply:?}"
    );
}
