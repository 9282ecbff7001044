//! The conformance cases, written once and run against every backend by `store_conformance!`.
//!
//! Each case takes a fresh fixture, opens its store(s) with it, and uses a business of its own.

use std::sync::Arc;

use hourglass_core::{
    Answer, Category, Charge, CounterKey, DELIVERY_RETENTION, DenyReason, Duration, FREE_TIER_RETENTION,
    Instant, Month, PAID_SERVICE_FROM, Policy, PricingSchedule, PricingType, RETENTION_GRACE,
    TemplateCategory, USAGE_RETENTION, Verdict,
};
use hourglass_store::Store;
use rust_decimal::Decimal;

use crate::backends::Backend;
use crate::support::{
    Calls as _, Record, Snapshot, T0, free_form, inbound, minutes, mk_policy, mk_thread, money,
    new_other_thread, new_thread, template, unique_business,
};

/// Records a message, which must succeed.
#[track_caller]
fn must<T>(result: Result<T, hourglass_store::Error>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("the store failed: {error:?}"),
    }
}

/// Returns the charge of an answer to an allowed outbound message.
#[track_caller]
fn charge(answer: &Answer) -> &Charge {
    let decision = answer
        .decision
        .as_ref()
        .expect("an outbound message's answer carries a decision");
    decision
        .charge()
        .unwrap_or_else(|| panic!("expected an allowed message, got {decision:?}"))
}

async fn record(store: &Arc<dyn Store>, record: Record) -> Answer {
    must(store.record(&record, &mk_policy()).await)
}

async fn load(store: &Arc<dyn Store>, record: &Record) -> Snapshot {
    must(store.load(&record.event.thread, record.event.at).await)
}

pub async fn checks_connectivity_and_knows_no_thread_yet<B: Backend>(backend: B) {
    let store = backend.open().await;
    must(store.check_connectivity().await);
    let snapshot = must(store.load(&new_thread(), T0).await);
    assert_eq!(snapshot, Snapshot::default());
    assert!(must(store.load_thread(&new_thread()).await).is_empty());
}

pub async fn load_thread_reads_what_load_reads<B: Backend>(backend: B) {
    let store = backend.open().await;
    let thread = new_thread();
    record(&store, inbound(&thread, "in-1", T0)).await;
    record(&store, free_form(&thread, "out-1", T0.plus(minutes(1)))).await;
    let snapshot = must(store.load(&thread, T0.plus(minutes(2))).await);
    assert!(!snapshot.state.is_empty());
    assert_eq!(snapshot.free_tier_used, 1);
    assert_eq!(must(store.load_thread(&thread).await), snapshot.state);
}

pub async fn inbound_opens_the_window_and_a_reply_opens_a_free_tier_service_conversation<B: Backend>(
    backend: B,
) {
    let store = backend.open().await;
    let thread = new_thread();
    let day = Duration::hours(24);

    let answer = record(&store, inbound(&thread, "in-1", T0)).await;
    assert_eq!(
        answer,
        Answer {
            decision: None,
            duplicate: false
        }
    );
    let snapshot = must(store.load(&thread, T0).await);
    assert_eq!(snapshot.state.customer_service_window_end(T0), Some(T0.plus(day)));
    assert_eq!(snapshot.free_tier_used, 0);

    let at = T0.plus(minutes(1));
    let answer = record(&store, free_form(&thread, "out-1", at)).await;
    assert!(!answer.duplicate);
    let decision = answer
        .decision
        .as_ref()
        .expect("an outbound answer has a decision");
    assert_eq!(decision.customer_service_window_expires_at, Some(T0.plus(day)));
    let opened = charge(&answer);
    assert_eq!(
        (
            opened.category,
            opened.pricing_type,
            opened.billable,
            opened.opens_conversation
        ),
        (Category::Service, PricingType::FreeTier, true, true)
    );
    assert_eq!(opened.price, money("INR", "0"));
    let conversation = opened
        .conversation
        .clone()
        .expect("an opened conversation is named");
    assert_eq!(
        (conversation.opened_at, conversation.expires_at),
        (at, at.plus(day))
    );
    assert!(!conversation.id.is_empty());

    let snapshot = must(store.load(&thread, at).await);
    assert_eq!(snapshot.free_tier_used, 1);
    assert_eq!(
        snapshot.state.open_conversation(Category::Service, at),
        Some(&conversation)
    );

    // A second reply falls in the open conversation: no new conversation, no second free-tier slot.
    let answer = record(&store, free_form(&thread, "out-2", at.plus(minutes(2)))).await;
    let second = charge(&answer);
    assert!(!second.opens_conversation);
    assert_eq!(second.conversation.as_ref(), Some(&conversation));
    assert_eq!(second.price, money("INR", "0"));
    assert_eq!(must(store.load(&thread, at).await).free_tier_used, 1);
}

pub async fn templates_open_a_conversation_of_their_category<B: Backend>(backend: B) {
    let store = backend.open().await;

    // A US customer is priced by the `Other` row, in USD.
    let thread = new_other_thread();
    let prices = [
        (TemplateCategory::Marketing, Category::Marketing, "0.0604"),
        (TemplateCategory::Utility, Category::Utility, "0.0077"),
        (
            TemplateCategory::Authentication,
            Category::Authentication,
            "0.0077",
        ),
    ];
    for (n, (template_category, category, price)) in prices.into_iter().enumerate() {
        let answer = record(
            &store,
            template(&thread, &format!("tpl-{n}"), T0, template_category),
        )
        .await;
        let decision = answer
            .decision
            .as_ref()
            .expect("an outbound answer has a decision");
        assert_eq!(
            decision.customer_service_window_expires_at, None,
            "templates need no window"
        );
        let charge = charge(&answer);
        assert_eq!(
            (
                charge.category,
                charge.pricing_type,
                charge.billable,
                charge.opens_conversation
            ),
            (category, PricingType::Regular, true, true),
            "{template_category:?}"
        );
        assert_eq!(charge.price, money("USD", price), "{template_category:?}");
    }
    let snapshot = must(store.load(&thread, T0).await);
    assert_eq!(snapshot.state.open_conversations(T0).len(), 3);
    assert!(
        snapshot.state.customer_service_window_end(T0).is_none(),
        "templates open no window"
    );

    // A second marketing template within 24 hours falls in the open conversation, at no charge.
    let answer = record(
        &store,
        template(&thread, "tpl-3", T0.plus(minutes(5)), TemplateCategory::Marketing),
    )
    .await;
    let falls_in = charge(&answer);
    assert_eq!(
        (falls_in.category, falls_in.opens_conversation),
        (Category::Marketing, false)
    );
    assert_eq!(falls_in.price, money("USD", "0"));

    // An Indian customer pays the India row, in INR.
    let thread = new_thread();
    let answer = record(
        &store,
        template(&thread, "tpl-1", T0, TemplateCategory::Marketing),
    )
    .await;
    assert_eq!(charge(&answer).price, money("INR", "0.8147"));
}

pub async fn a_denied_free_form_message_records_nothing_and_leaves_its_id_free<B: Backend>(backend: B) {
    let store = backend.open().await;
    let thread = new_thread();

    let answer = record(&store, free_form(&thread, "out-1", T0)).await;
    assert!(!answer.duplicate);
    let decision = answer.decision.expect("an outbound answer has a decision");
    match &decision.verdict {
        Verdict::Denied { reason, explanation } => {
            assert_eq!(*reason, DenyReason::OutsideCustomerServiceWindow);
            assert_eq!(reason.meta_error_code(), Some(131_047));
            assert!(!explanation.is_empty());
        }
        Verdict::Allowed(charge) => panic!("a free-form message with no window was allowed: {charge:?}"),
    }
    assert_eq!(
        must(store.load(&thread, T0).await),
        Snapshot::default(),
        "a denial records nothing"
    );

    // Once the customer writes, the same id is decided afresh: it was never recorded.
    record(&store, inbound(&thread, "in-1", T0.plus(minutes(1)))).await;
    let retry = record(&store, free_form(&thread, "out-1", T0.plus(minutes(2)))).await;
    assert!(!retry.duplicate, "a denied id stays free");
    let charge = charge(&retry);
    assert_eq!(
        (charge.category, charge.opens_conversation),
        (Category::Service, true)
    );

    let again = record(&store, free_form(&thread, "out-1", T0.plus(minutes(3)))).await;
    assert!(again.duplicate, "the allowed retry is recorded");
}

/// A message id is unique per thread (business and customer) on every backend: the same id sent for
/// another customer of the business is that customer's own message, decided and recorded for it,
/// never answered with the first customer's decision.
pub async fn a_message_id_is_unique_per_thread<B: Backend>(backend: B) {
    let store = backend.open().await;
    let business = unique_business();
    let (first, second) = (mk_thread(&business, 1), mk_thread(&business, 2));
    record(&store, inbound(&first, "in-1", T0)).await;
    let allowed = record(&store, free_form(&first, "out-1", T0.plus(minutes(1)))).await;
    assert!(charge(&allowed).opens_conversation);

    // The second customer never wrote: the same id is denied for it, not repeated as a duplicate.
    let denied = record(&store, free_form(&second, "out-1", T0.plus(minutes(2)))).await;
    assert!(!denied.duplicate, "{denied:?}");
    let decision = denied.decision.expect("an outbound answer has a decision");
    assert!(!decision.is_allowed(), "{decision:?}");

    // An inbound id reused for the second customer opens its window.
    let reused = record(&store, inbound(&second, "in-1", T0.plus(minutes(3)))).await;
    assert!(!reused.duplicate);
    assert_eq!(
        must(store.load_thread(&second).await).customer_service_window_end(T0.plus(minutes(3))),
        Some(T0.plus(minutes(3)).plus(Duration::hours(24)))
    );
    // And each thread still repeats its own answers.
    let again = record(&store, free_form(&first, "out-1", T0.plus(minutes(4)))).await;
    assert_eq!(
        again,
        Answer {
            duplicate: true,
            ..allowed
        }
    );
}

pub async fn the_same_id_twice_has_the_effect_of_one<B: Backend>(backend: B) {
    let store = backend.open().await;
    let thread = new_thread();

    let first = record(&store, inbound(&thread, "in-1", T0)).await;
    let second = record(&store, inbound(&thread, "in-1", T0.plus(minutes(5)))).await;
    assert_eq!(
        second,
        Answer {
            duplicate: true,
            ..first
        }
    );
    let snapshot = must(store.load(&thread, T0).await);
    assert_eq!(
        snapshot.state.customer_service_window_end(T0),
        Some(T0.plus(Duration::hours(24))),
        "the duplicate inbound message did not move the window"
    );

    let at = T0.plus(minutes(1));
    let first = record(&store, free_form(&thread, "out-1", at)).await;
    let before = load(&store, &free_form(&thread, "out-1", at)).await;
    assert_eq!(before.free_tier_used, 1);

    // The repeat is answered from the first answer, even when it claims another time or message.
    let repeat = record(&store, free_form(&thread, "out-1", at.plus(minutes(1)))).await;
    assert_eq!(
        repeat,
        Answer {
            duplicate: true,
            ..first.clone()
        }
    );
    let repeat = record(
        &store,
        template(&thread, "out-1", at, TemplateCategory::Marketing),
    )
    .await;
    assert_eq!(
        repeat,
        Answer {
            duplicate: true,
            ..first
        }
    );
    assert_eq!(
        load(&store, &free_form(&thread, "out-1", at)).await,
        before,
        "state changed once"
    );

    // Ids are per business: another business may use the same id.
    let other = mk_thread(&unique_business(), 1);
    let answer = record(&store, inbound(&other, "in-1", T0)).await;
    assert!(!answer.duplicate);
}

pub async fn state_survives_reopening_a_durable_store<B: Backend>(backend: B) {
    let thread = new_thread();
    let message = template(&thread, "tpl-1", T0.plus(minutes(1)), TemplateCategory::Utility);
    let (first, written) = {
        let store = backend.open().await;
        record(&store, inbound(&thread, "in-1", T0)).await;
        record(&store, free_form(&thread, "out-1", T0.plus(minutes(1)))).await;
        let first = record(&store, message.clone()).await;
        (first, load(&store, &message).await)
    };
    assert_eq!(written.free_tier_used, 1);

    let store = backend.open().await;
    let reopened = load(&store, &message).await;
    let again = record(&store, message.clone()).await;
    if backend.durable() {
        assert_eq!(reopened, written);
        assert_eq!(
            again,
            Answer {
                duplicate: true,
                ..first
            }
        );
    } else {
        assert_eq!(
            reopened,
            Snapshot::default(),
            "a store that is not durable starts empty"
        );
        assert!(!again.duplicate);
    }
}

pub async fn sweeping_removes_expired_records_and_keeps_live_ones<B: Backend>(backend: B) {
    let store = backend.open().await;
    let thread = new_thread();
    let replied_at = T0.plus(minutes(1));
    record(&store, inbound(&thread, "in-1", T0)).await;
    record(&store, free_form(&thread, "out-1", replied_at)).await;
    let written = must(store.load(&thread, replied_at).await);
    assert_eq!(written.free_tier_used, 1);

    // Nothing expires within the hour.
    let removed = must(store.sweep(T0.plus(Duration::HOUR)).await);
    assert_eq!(must(store.load(&thread, replied_at).await), written);
    if !backend.sweeps() {
        assert_eq!(removed, 0);
        return;
    }
    assert_eq!(removed, 0);

    // Answers are kept for `RETENTION_GRACE` after they were recorded (the server clock reads the
    // event time in these records), one millisecond less keeps them both.
    let answers_expire = replied_at.plus(RETENTION_GRACE);
    assert_eq!(
        must(store.sweep(answers_expire.minus(Duration::MILLISECOND)).await),
        1,
        "the inbound answer"
    );
    assert_eq!(must(store.sweep(answers_expire).await), 1, "the outbound answer");
    assert_eq!(
        must(store.load(&thread, replied_at).await),
        written,
        "the thread outlives its answers"
    );
    let retry = record(&store, inbound(&thread, "in-1", T0)).await;
    assert!(!retry.duplicate, "a swept id is forgotten");

    // The thread is kept for its retention after its latest write: its conversation ends a day after
    // the reply, plus `RETENTION_GRACE`. The retried inbound write above moved nothing later.
    let retention = must(store.load(&thread, replied_at).await).state.retention();
    assert_eq!(retention, Duration::hours(24 + 72));
    let thread_expires = replied_at.plus(retention);
    assert_eq!(
        must(store.sweep(thread_expires.minus(Duration::MILLISECOND)).await),
        1,
        "the retry's answer"
    );
    assert_eq!(must(store.sweep(thread_expires).await), 1, "the thread");
    let swept = must(store.load(&thread, replied_at).await);
    assert!(swept.state.is_empty(), "the swept thread reads back as empty");
    assert_eq!(
        swept.free_tier_used, 1,
        "the free-tier counter outlives the thread"
    );

    // The counter is kept for `FREE_TIER_RETENTION` after its last write, and the reply's prediction
    // for `DELIVERY_RETENTION`, as long.
    assert_eq!(FREE_TIER_RETENTION, DELIVERY_RETENTION);
    let counter_expires = replied_at.plus(FREE_TIER_RETENTION);
    assert_eq!(
        must(store.sweep(counter_expires.minus(Duration::MILLISECOND)).await),
        0
    );
    assert_eq!(
        must(store.sweep(counter_expires).await),
        2,
        "the counter and the reply's prediction"
    );
    assert_eq!(must(store.load(&thread, replied_at).await), Snapshot::default());
    // The reply's usage row is kept for `USAGE_RETENTION`, longer.
    let usage_expires = replied_at.plus(USAGE_RETENTION);
    assert_eq!(
        must(store.sweep(usage_expires.minus(Duration::MILLISECOND)).await),
        0
    );
    assert_eq!(must(store.sweep(usage_expires).await), 1, "the reply's usage row");
    assert_eq!(
        must(
            store
                .sweep(counter_expires.plus(Duration::hours(24 * 365 * 10)))
                .await
        ),
        0,
        "nothing is left"
    );
}

pub async fn concurrent_templates_for_one_thread_open_one_conversation<B: Backend>(backend: B) {
    const MESSAGES: usize = 64;
    let store = backend.open().await;
    let policy = Arc::new(mk_policy());
    let thread = new_thread();
    let tasks: Vec<_> = (0..MESSAGES)
        .map(|n| {
            let (store, policy) = (Arc::clone(&store), Arc::clone(&policy));
            let message = template(&thread, &format!("mkt-{n}"), T0, TemplateCategory::Marketing);
            tokio::spawn(async move { store.record(&message, &policy).await })
        })
        .collect();
    let mut answers = Vec::with_capacity(MESSAGES);
    for task in tasks {
        answers.push(must(task.await.expect("record tasks do not panic")));
    }

    assert!(answers.iter().all(|answer| !answer.duplicate));
    let charges: Vec<&Charge> = answers.iter().map(charge).collect();
    assert_eq!(
        charges.iter().filter(|charge| charge.opens_conversation).count(),
        1
    );
    let conversation = charges[0]
        .conversation
        .as_ref()
        .expect("every message names its conversation");
    assert!(
        charges
            .iter()
            .all(|charge| charge.conversation.as_ref() == Some(conversation))
    );
    let billed: Decimal = charges.iter().map(|charge| charge.price.amount).sum();
    assert_eq!(billed, Decimal::new(8147, 4), "the conversation is billed once");

    let snapshot = must(store.load(&thread, T0).await);
    assert_eq!(snapshot.state.parts().conversations.len(), 1);
}

pub async fn the_free_tier_is_exact_under_concurrency<B: Backend>(backend: B) {
    const CUSTOMERS: u32 = 1_100;
    let store = backend.open().await;
    let policy = Arc::new(mk_policy());
    let business = unique_business();
    let tasks: Vec<_> = (0..CUSTOMERS)
        .map(|n| {
            let (store, policy) = (Arc::clone(&store), Arc::clone(&policy));
            let thread = mk_thread(&business, n);
            tokio::spawn(async move {
                store
                    .record(&inbound(&thread, &format!("in-{n}"), T0), &policy)
                    .await?;
                store
                    .record(
                        &free_form(&thread, &format!("out-{n}"), T0.plus(minutes(1))),
                        &policy,
                    )
                    .await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(tasks.len());
    for task in tasks {
        answers.push(must(task.await.expect("record tasks do not panic")));
    }

    let charges: Vec<&Charge> = answers.iter().map(charge).collect();
    assert!(
        charges
            .iter()
            .all(|charge| charge.opens_conversation && charge.category == Category::Service)
    );
    let count = |pricing_type| {
        charges
            .iter()
            .filter(|charge| charge.pricing_type == pricing_type)
            .count()
    };
    assert_eq!(
        (count(PricingType::FreeTier), count(PricingType::Regular)),
        (1_000, 100)
    );
    for charge in &charges {
        let price = if charge.pricing_type == PricingType::FreeTier {
            "0"
        } else {
            "0.3292"
        };
        assert_eq!(charge.price, money("INR", price));
    }
    let snapshot = must(store.load(&mk_thread(&business, 0), T0.plus(minutes(1))).await);
    assert_eq!(snapshot.free_tier_used, 1_000);
}

/// 2026-10-01T10:00:00Z, in the era of paid service messages.
const T0_2026: Instant = Instant::from_millis(PAID_SERVICE_FROM.as_millis() + 10 * 3_600_000);

/// From 2026-10-01 the first free service messages of a business's month are exact across threads,
/// messages of one thread at one instant, retries and replicas.
pub async fn free_service_messages_are_exact_under_concurrency<B: Backend>(backend: B) {
    const CUSTOMERS: u32 = 40;
    const PER_CUSTOMER: u32 = 3;
    const FREE: u32 = 100;
    let first = backend.open().await;
    let replicas = if backend.shared() {
        vec![Arc::clone(&first), backend.open().await]
    } else {
        vec![Arc::clone(&first)]
    };
    let policy = Arc::new(Policy {
        schedule: PricingSchedule::PerMessage2026,
        free_service_messages: FREE,
        ..mk_policy()
    });
    let business = unique_business();
    let october = T0_2026;
    for n in 0..CUSTOMERS {
        must(
            first
                .record(
                    &inbound(&mk_thread(&business, n), &format!("in-{n}"), october),
                    &policy,
                )
                .await,
        );
    }
    // Three replies per customer at one instant, each sent twice (a retry), all at once.
    let mut tasks = Vec::new();
    for n in 0..CUSTOMERS {
        for k in 0..PER_CUSTOMER * 2 {
            let store = Arc::clone(&replicas[(n + k) as usize % replicas.len()]);
            let policy = Arc::clone(&policy);
            let message = free_form(
                &mk_thread(&business, n),
                &format!("out-{n}-{}", k % PER_CUSTOMER),
                october.plus(minutes(1)),
            );
            tasks.push(tokio::spawn(async move { store.record(&message, &policy).await }));
        }
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(must(task.await.expect("record tasks do not panic")));
    }
    let firsts: Vec<&Answer> = answers.iter().filter(|answer| !answer.duplicate).collect();
    assert_eq!(
        firsts.len(),
        (CUSTOMERS * PER_CUSTOMER) as usize,
        "every message recorded once"
    );
    let free = firsts
        .iter()
        .filter(|answer| charge(answer).pricing_type == PricingType::FreeCustomerService)
        .count();
    let paid = firsts
        .iter()
        .filter(|answer| {
            let charge = charge(answer);
            charge.pricing_type == PricingType::Regular && charge.price == money("INR", "0.3292")
        })
        .count();
    assert_eq!(
        (free, paid),
        (FREE as usize, (CUSTOMERS * PER_CUSTOMER - FREE) as usize)
    );
    // Every retry repeats its message's first answer.
    for answer in answers.iter().filter(|answer| answer.duplicate) {
        assert!(matches!(
            charge(answer).pricing_type,
            PricingType::FreeCustomerService | PricingType::Regular
        ));
    }
    let counter = CounterKey::ServiceMessages {
        business: business.clone(),
        month: Month {
            year: 2026,
            month: 10,
        },
    };
    let used = must(first.read_counters(&[counter.clone().into()]).await).used(&counter);
    assert_eq!(used, u64::from(FREE));
}
