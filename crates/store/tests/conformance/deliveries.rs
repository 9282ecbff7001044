//! Conformance cases of deliveries: predictions written with their step, Meta's statuses kept per
//! message in any order and exactly once, and the reconciliation and rates read back.

use std::sync::Arc;

use hourglass_core::{
    AccountId, Category, DELIVERY_RETENTION, DeliveryStatus, Duration, Instant, MessageId, MetaPricing,
    PricingType, StatusReport, TemplateCategory, ThreadKey,
};
use hourglass_store::deliveries::{self, Reconciliation};
use hourglass_store::{Error, Store};

use crate::backends::Backend;
use crate::support::{
    Calls as _, T0, free_form, inbound, minutes, mk_policy, mk_thread, template, unique_business,
};

#[track_caller]
fn must<T>(result: Result<T, Error>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("the store failed: {error:?}"),
    }
}

fn status(status: DeliveryStatus, at: Instant, pricing: Option<(&str, &str, bool)>) -> StatusReport {
    StatusReport {
        status,
        at,
        pricing: pricing.map(|(category, pricing_type, billable)| MetaPricing {
            category: Some(category.to_owned()),
            pricing_type: Some(pricing_type.to_owned()),
            billable: Some(billable),
        }),
        errors: Vec::new(),
    }
}

async fn note(store: &Arc<dyn Store>, thread: &ThreadKey, id: &str, report: &StatusReport) -> bool {
    let message_id = MessageId::new(id).expect("a valid id");
    must(deliveries::note_status(store.as_ref(), thread, &message_id, report, report.at).await).changed
}

fn account_of(thread: &ThreadKey) -> AccountId {
    thread.unregistered_account()
}

async fn reconcile(store: &Arc<dyn Store>, thread: &ThreadKey) -> Reconciliation {
    let account = account_of(thread);
    must(
        deliveries::reconcile(
            store.as_ref(),
            &account,
            T0.minus(Duration::DAY),
            T0.plus(Duration::DAY),
        )
        .await,
    )
}

pub async fn predictions_are_written_with_their_step_and_statuses_reconcile<B: Backend>(backend: B) {
    let store = backend.open().await;
    let policy = mk_policy();
    let business = unique_business();
    let thread = mk_thread(&business, 1);
    // A template outside the window: a marketing conversation, billable.
    let sent = must(
        store
            .record(
                &template(&thread, "out-1", T0, TemplateCategory::Marketing),
                &policy,
            )
            .await,
    );
    assert!(!sent.duplicate);
    // A denied free-form message records nothing, so it predicts nothing.
    must(
        store
            .record(&free_form(&thread, "out-denied", T0.plus(minutes(1))), &policy)
            .await,
    );
    // A reply to another customer inside the window: a service conversation from the free tier.
    let other = mk_thread(&business, 2);
    must(
        store
            .record(&inbound(&other, "in-1", T0.plus(minutes(2))), &policy)
            .await,
    );
    must(
        store
            .record(&free_form(&other, "out-2", T0.plus(minutes(3))), &policy)
            .await,
    );
    // A retry of a recorded message writes no second prediction.
    assert!(
        must(
            store
                .record(
                    &template(&thread, "out-1", T0, TemplateCategory::Marketing),
                    &policy
                )
                .await
        )
        .duplicate
    );

    let summary = reconcile(&store, &thread).await;
    assert_eq!(
        summary.pending, 2,
        "two messages recorded, none reported: {summary:?}"
    );
    assert_eq!(
        summary.matched + summary.mismatched + summary.failed + summary.unmatched,
        0
    );

    // Meta agrees on the template, disagrees on the reply's billing, and reports a message never
    // recorded.
    assert!(
        note(
            &store,
            &thread,
            "out-1",
            &status(
                DeliveryStatus::Sent,
                T0.plus(minutes(5)),
                Some(("marketing", "regular", true))
            )
        )
        .await
    );
    assert!(
        note(
            &store,
            &other,
            "out-2",
            &status(
                DeliveryStatus::Delivered,
                T0.plus(minutes(5)),
                Some(("service", "free_customer_service", false))
            )
        )
        .await
    );
    assert!(
        note(
            &store,
            &thread,
            "out-unknown",
            &status(DeliveryStatus::Sent, T0.plus(minutes(6)), None)
        )
        .await
    );
    let summary = reconcile(&store, &thread).await;
    assert_eq!(
        (
            summary.matched,
            summary.mismatched,
            summary.pending,
            summary.unmatched
        ),
        (1, 1, 0, 1),
        "{summary:?}"
    );
    assert_eq!(
        (
            summary.category_differs,
            summary.pricing_type_differs,
            summary.billable_differs
        ),
        (0, 1, 1)
    );
    assert_eq!(summary.discrepancies.len(), 2);
    let mismatched = summary
        .discrepancies
        .iter()
        .find(|discrepancy| discrepancy.delivery.message.message_id.as_str() == "out-2")
        .expect("the mismatched reply is listed");
    let predicted = mismatched.delivery.prediction.as_ref().expect("a prediction");
    assert_eq!(
        (predicted.category, predicted.pricing_type, predicted.billable),
        (Category::Service, PricingType::FreeTier, true)
    );

    // A failed status of the template moves it from matched to failed.
    assert!(
        note(
            &store,
            &thread,
            "out-1",
            &status(DeliveryStatus::Failed, T0.plus(minutes(7)), None)
        )
        .await
    );
    let summary = reconcile(&store, &thread).await;
    assert_eq!((summary.matched, summary.failed), (0, 1), "{summary:?}");

    // Rates per template: the template failed, the free-form reply was delivered.
    let rows = must(
        deliveries::stats(
            store.as_ref(),
            &account_of(&thread),
            T0.minus(Duration::DAY),
            T0.plus(Duration::DAY),
        )
        .await,
    );
    let template_row = rows
        .iter()
        .find(|row| row.template.is_some())
        .expect("a template row");
    assert_eq!(
        (
            template_row.stats.recorded,
            template_row.stats.failed,
            template_row.stats.delivered
        ),
        (1, 1, 0)
    );
    let free_form_row = rows
        .iter()
        .find(|row| row.template.is_none())
        .expect("a row of free-form and unknown messages");
    assert_eq!(
        (
            free_form_row.stats.recorded,
            free_form_row.stats.sent,
            free_form_row.stats.delivered
        ),
        (1, 2, 1)
    );

    // A period that holds none of them reports nothing.
    let later = must(
        deliveries::reconcile(
            store.as_ref(),
            &account_of(&thread),
            T0.plus(Duration::DAY),
            T0.plus(Duration::hours(48)),
        )
        .await,
    );
    assert_eq!(later, Reconciliation::default());
}

pub async fn statuses_apply_once_in_any_order_and_under_concurrency<B: Backend>(backend: B) {
    const MESSAGES: u32 = 20;
    let first = backend.open().await;
    let replicas = if backend.shared() {
        vec![Arc::clone(&first), backend.open().await]
    } else {
        vec![Arc::clone(&first)]
    };
    let policy = mk_policy();
    let business = unique_business();
    let thread = mk_thread(&business, 1);
    for n in 0..MESSAGES {
        let at = T0.plus(minutes(i64::from(n)));
        must(
            first
                .record(
                    &template(&thread, &format!("out-{n}"), at, TemplateCategory::Utility),
                    &policy,
                )
                .await,
        );
    }
    // Every message gets sent, delivered and read, each status twice, read first, all at once, spread
    // over the replicas.
    let mut tasks = Vec::new();
    for n in 0..MESSAGES {
        let at = T0.plus(minutes(i64::from(n) + 1));
        for (k, (kind, offset)) in [
            (DeliveryStatus::Read, 3),
            (DeliveryStatus::Delivered, 2),
            (DeliveryStatus::Sent, 1),
        ]
        .into_iter()
        .cycle()
        .take(6)
        .enumerate()
        {
            let store = Arc::clone(&replicas[k % replicas.len()]);
            let thread = thread.clone();
            let report = status(
                kind,
                at.plus(Duration::from_millis(offset)),
                Some(("utility", "regular", true)),
            );
            tasks.push(tokio::spawn(async move {
                let message_id = MessageId::new(&format!("out-{n}")).expect("a valid id");
                deliveries::note_status(store.as_ref(), &thread, &message_id, &report, report.at).await
            }));
        }
    }
    let mut changed = 0;
    for task in tasks {
        changed += u32::from(must(task.await.expect("status tasks do not panic")).changed);
    }
    assert_eq!(changed, 3 * MESSAGES, "each status changes its report once");
    let summary = reconcile(&first, &thread).await;
    assert_eq!(summary.matched, u64::from(MESSAGES), "{summary:?}");
    let rows =
        must(deliveries::stats(first.as_ref(), &account_of(&thread), T0, T0.plus(Duration::DAY)).await);
    assert_eq!(rows.len(), 1);
    let stats = rows[0].stats;
    assert_eq!(
        (stats.recorded, stats.sent, stats.delivered, stats.read),
        (20, 20, 20, 20)
    );
}

pub async fn deliveries_are_kept_for_their_retention<B: Backend>(backend: B) {
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
    assert!(note(&store, &thread, "out-1", &status(DeliveryStatus::Sent, T0, None)).await);
    must(
        store
            .sweep(T0.plus(DELIVERY_RETENTION).minus(Duration::MILLISECOND))
            .await,
    );
    assert_eq!(
        reconcile(&store, &thread).await.pending,
        1,
        "kept until its retention ends"
    );
    if !backend.sweeps() {
        return;
    }
    must(store.sweep(T0.plus(DELIVERY_RETENTION)).await);
    assert_eq!(
        reconcile(&store, &thread).await,
        Reconciliation::default(),
        "swept after"
    );
}
