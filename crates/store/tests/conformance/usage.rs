//! Conformance cases of usage: the per-day usage rows written with each new prediction and with a
//! report's first failure, exact under concurrency and retries, and kept longer than the predictions.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hourglass_core::{
    AccountId, Category, DELIVERY_RETENTION, DeliveryStatus, Dimension, Duration, Granularity, Instant,
    MessageId, Policy, StatusReport, TemplateCategory, ThreadKey, USAGE_RETENTION, Usage, UsagePoint, Zone,
};
use hourglass_store::deliveries;
use hourglass_store::{Error, Store};
use rust_decimal::Decimal;

use crate::backends::Backend;
use crate::support::{Calls as _, T0, minutes, mk_policy, mk_thread, template, unique_business};

#[track_caller]
fn must<T>(result: Result<T, Error>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("the store failed: {error:?}"),
    }
}

/// Reads an account's usage of `[start, end)` by UTC day and category.
async fn usage_of(store: &Arc<dyn Store>, account: &AccountId, start: Instant, end: Instant) -> Usage {
    let mut usage = Usage::new(Zone::UTC, Granularity::Daily, &[Dimension::Category]);
    must(deliveries::usage(store.as_ref(), account, start, end, &mut usage).await);
    usage
}

/// Sums every point of a usage.
fn total(usage: &Usage) -> UsagePoint {
    usage.points().fold(UsagePoint::default(), |mut sum, (_, point)| {
        sum.volume += point.volume;
        sum.failed += point.failed;
        sum.conversations += point.conversations;
        sum.cost += point.cost;
        sum
    })
}

/// The per-message policy of Meta's calendar over the cases' rate card.
fn per_message_policy() -> Policy {
    Policy::meta_calendar(mk_policy().rate_card.clone())
}

/// 2025-09-01T10:00:00Z: per-message pricing on Meta's calendar.
const PER_MESSAGE_T0: Instant = Instant::from_millis(1_756_720_800_000);

pub async fn usage_is_the_exact_sum_of_the_answered_prices_under_concurrency<B: Backend>(backend: B) {
    const CUSTOMERS: u32 = 12;
    const MESSAGES: u32 = 5;
    let first = backend.open().await;
    let replicas = if backend.shared() {
        vec![Arc::clone(&first), backend.open().await]
    } else {
        vec![Arc::clone(&first)]
    };
    let policy = Arc::new(mk_policy());
    let business = unique_business();
    let categories = [
        TemplateCategory::Marketing,
        TemplateCategory::Utility,
        TemplateCategory::Authentication,
    ];
    // Every message is recorded twice at once (a gateway's retry), on different replicas where there
    // are several; the messages of a customer span two UTC days.
    let mut tasks = Vec::new();
    for customer in 0..CUSTOMERS {
        let thread = mk_thread(&business, customer);
        for n in 0..MESSAGES {
            let at = T0.plus(minutes(i64::from(n * 211 + customer)));
            let category = categories[((customer + n) % 3) as usize];
            let record = template(&thread, &format!("use-{customer}-{n}"), at, category);
            for attempt in 0..2 {
                let store = Arc::clone(&replicas[(attempt + n as usize) % replicas.len()]);
                let (record, policy) = (record.clone(), Arc::clone(&policy));
                tasks.push(tokio::spawn(async move {
                    let answer = store.record(&record, &policy).await;
                    (record.message_id.clone(), record.event.at, answer)
                }));
            }
        }
    }
    let mut answered: BTreeMap<MessageId, (Instant, Category, Decimal)> = BTreeMap::new();
    for task in tasks {
        let (message_id, at, answer) = task.await.expect("record tasks do not panic");
        let charge = must(answer)
            .decision
            .and_then(|decision| decision.charge().cloned())
            .expect("templates are allowed");
        let priced = (at, charge.category, charge.price.amount);
        if let Some(earlier) = answered.insert(message_id, priced) {
            assert_eq!(earlier, priced, "a retry answers what the first attempt did");
        }
    }
    assert_eq!(answered.len(), (CUSTOMERS * MESSAGES) as usize);
    let mut expected: BTreeMap<(i64, Category), (u64, Decimal)> = BTreeMap::new();
    for (at, category, price) in answered.values() {
        let day = at.as_millis().div_euclid(Duration::DAY.as_millis());
        let entry = expected.entry((day, *category)).or_default();
        entry.0 += 1;
        entry.1 += price;
    }
    assert_eq!(
        expected.keys().map(|(day, _)| day).collect::<BTreeSet<_>>().len(),
        2,
        "the messages span two days"
    );

    for store in &replicas {
        let usage = usage_of(
            store,
            &business_account(&business_thread(&business)),
            T0.minus(Duration::DAY),
            T0.plus(Duration::hours(48)),
        )
        .await;
        let read: BTreeMap<(i64, Category), (u64, Decimal)> = usage
            .points()
            .map(|(key, point)| {
                let day = key.start.as_millis().div_euclid(Duration::DAY.as_millis());
                (
                    (day, key.category.expect("split by category")),
                    (point.volume, point.cost),
                )
            })
            .collect();
        assert_eq!(
            read, expected,
            "usage is the exact sum of the answered prices, by day and category, from every replica"
        );
        assert_eq!(total(&usage).failed, 0);
    }
}

pub async fn usage_outlives_the_predictions<B: Backend>(backend: B) {
    let store = backend.open().await;
    let policy = mk_policy();
    let thread = mk_thread(&unique_business(), 1);
    must(
        store
            .record(
                &template(&thread, "out-1", T0, TemplateCategory::Marketing),
                &policy,
            )
            .await,
    );
    let account = business_account(&thread);
    let (start, end) = (T0.minus(Duration::DAY), T0.plus(Duration::DAY));
    let read = |store: Arc<dyn Store>, account: AccountId| async move {
        (
            total(&usage_of(&store, &account, start, end).await),
            must(deliveries::reconcile(store.as_ref(), &account, start, end).await).pending,
        )
    };
    let (usage, pending) = read(Arc::clone(&store), account.clone()).await;
    assert_eq!((usage.volume, usage.conversations, pending), (1, 1, 1));
    assert_eq!(usage.cost, Decimal::new(8147, 4));
    if !backend.sweeps() {
        // Records expire on their own: the usage row is kept far longer than the prediction.
        let ttl = backend
            .usage_ttl(&account, hourglass_core::Zone::UTC.day_of(T0))
            .await
            .expect("the usage row has a TTL");
        assert!(ttl > DELIVERY_RETENTION, "{ttl}");
        assert!(ttl <= USAGE_RETENTION, "{ttl}");
        return;
    }
    must(store.sweep(T0.plus(Duration::hours(100 * 24))).await);
    let (usage, pending) = read(Arc::clone(&store), account.clone()).await;
    assert_eq!(pending, 0, "the prediction is swept after its retention");
    assert_eq!(
        (usage.volume, usage.cost),
        (1, Decimal::new(8147, 4)),
        "the usage is still there"
    );
    must(store.sweep(T0.plus(Duration::hours(401 * 24))).await);
    let (usage, _) = read(Arc::clone(&store), account).await;
    assert_eq!(usage, UsagePoint::default(), "swept after its own retention");
}

pub async fn a_failed_status_moves_usage_once<B: Backend>(backend: B) {
    let first = backend.open().await;
    let replicas = if backend.shared() {
        vec![Arc::clone(&first), backend.open().await]
    } else {
        vec![Arc::clone(&first)]
    };
    let policy = per_message_policy();
    let thread = mk_thread(&unique_business(), 1);
    for (n, category) in [TemplateCategory::Marketing, TemplateCategory::Utility]
        .into_iter()
        .enumerate()
    {
        must(
            first
                .record(
                    &template(
                        &thread,
                        &format!("out-{n}"),
                        PER_MESSAGE_T0.plus(minutes(n as i64)),
                        category,
                    ),
                    &policy,
                )
                .await,
        );
    }
    let account = business_account(&thread);
    let (start, end) = (PER_MESSAGE_T0, PER_MESSAGE_T0.plus(Duration::DAY));
    let before = total(&usage_of(&first, &account, start, end).await);
    assert_eq!((before.volume, before.failed), (2, 0));
    assert_eq!(before.cost, Decimal::new(8147 + 3456, 4));
    // Meta reports the marketing message failed, twice at once on each replica, then sent.
    let failed = StatusReport {
        status: DeliveryStatus::Failed,
        at: PER_MESSAGE_T0.plus(minutes(5)),
        pricing: None,
        errors: vec![131_026],
    };
    let sent = StatusReport {
        status: DeliveryStatus::Sent,
        at: PER_MESSAGE_T0.plus(minutes(4)),
        ..failed.clone()
    };
    let mut tasks = Vec::new();
    for k in 0..4 {
        let store = Arc::clone(&replicas[k % replicas.len()]);
        let (thread, failed) = (thread.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let message_id = MessageId::new("out-0").expect("a valid id");
            deliveries::note_status(store.as_ref(), &thread, &message_id, &failed, failed.at).await
        }));
    }
    let mut changed = 0;
    for task in tasks {
        changed += u32::from(must(task.await.expect("status tasks do not panic")).changed);
    }
    assert_eq!(changed, 1, "the failed status applies once");
    let message_id = MessageId::new("out-0").expect("a valid id");
    must(deliveries::note_status(first.as_ref(), &thread, &message_id, &sent, sent.at).await);
    for store in &replicas {
        let after = total(&usage_of(store, &account, start, end).await);
        assert_eq!(
            (after.volume, after.failed, after.cost),
            (1, 1, Decimal::new(3456, 4)),
            "the failed message left the volume and the cost once"
        );
    }
}

fn business_thread(business: &hourglass_core::BusinessId) -> ThreadKey {
    mk_thread(business, 0)
}

fn business_account(thread: &ThreadKey) -> AccountId {
    thread.unregistered_account()
}
