//! Conformance cases of customer identity: a phone number and a BSUID linked as one customer name one
//! thread on every backend, what was recorded under either is kept, and a link made while messages
//! are being recorded loses none of them.

use std::sync::Arc;

use hourglass_core::{CustomerId, DenyReason, Duration, TemplateCategory, ThreadKey, Verdict};
use hourglass_store::{Error, ledger, links};

use crate::backends::Backend;
use crate::support::{Calls as _, T0, free_form, inbound, minutes, mk_policy, template, unique_business};

#[track_caller]
fn must<T>(result: Result<T, Error>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("the store failed: {error:?}"),
    }
}

fn pair() -> (ThreadKey, ThreadKey) {
    let business = unique_business();
    let thread = |id: &str| ThreadKey {
        business_id: business.clone(),
        customer_id: CustomerId::new(id).expect("a valid id"),
    };
    (thread("919800000001"), thread("IN.13491208655302741918"))
}

fn denied_reason(verdict: &Verdict) -> Option<DenyReason> {
    match verdict {
        Verdict::Denied { reason, .. } => Some(*reason),
        Verdict::Allowed(_) => None,
    }
}

pub async fn linked_ids_name_one_thread<B: Backend>(backend: B) {
    let store = backend.open().await;
    let policy = mk_policy();
    let (phone, bsuid) = pair();
    // The customer writes from the BSUID; the business sent a template to the phone number before.
    must(
        store
            .record(
                &template(&phone, "out-1", T0, TemplateCategory::Marketing),
                &policy,
            )
            .await,
    );
    must(
        store
            .record(&inbound(&bsuid, "in-1", T0.plus(minutes(1))), &policy)
            .await,
    );
    let reply = free_form(&phone, "out-2", T0.plus(minutes(2)));
    let answer = must(store.record(&reply, &policy).await);
    let decision = answer.decision.expect("a decision");
    assert_eq!(
        denied_reason(&decision.verdict),
        Some(DenyReason::OutsideCustomerServiceWindow),
        "two threads before the link"
    );

    let business = &phone.business_id;
    assert!(must(
        links::link(
            store.as_ref(),
            business,
            &phone.customer_id,
            &bsuid.customer_id,
            T0
        )
        .await
    ));
    assert!(
        !must(
            links::link(
                store.as_ref(),
                business,
                &phone.customer_id,
                &bsuid.customer_id,
                T0
            )
            .await
        ),
        "linking again changes nothing"
    );
    assert_eq!(must(links::resolve(store.as_ref(), &bsuid).await), phone);
    assert_eq!(must(links::resolve(store.as_ref(), &phone).await), phone);

    // Either id now sees the window the BSUID opened and the conversation the phone number's template
    // opened.
    for (thread, id) in [(&phone, "out-3"), (&bsuid, "out-4")] {
        let answer = must(
            store
                .record(&free_form(thread, id, T0.plus(minutes(3))), &policy)
                .await,
        );
        let decision = answer.decision.expect("a decision");
        assert!(decision.is_allowed(), "{id}: {decision:?}");
        let conversation = decision
            .charge()
            .and_then(|charge| charge.conversation.clone())
            .expect("a conversation");
        assert_eq!(
            conversation.opened_at, T0,
            "{id} falls in the template's conversation"
        );
    }
    let by_phone = must(store.load_thread(&phone).await);
    assert_eq!(must(store.load_thread(&bsuid).await), by_phone);
    assert!(
        by_phone
            .customer_service_window_end(T0.plus(minutes(3)))
            .is_some()
    );

    // A message recorded under the BSUID before the link is still a duplicate when retried under it.
    let retry = must(
        store
            .record(&inbound(&bsuid, "in-1", T0.plus(minutes(1))), &policy)
            .await,
    );
    assert!(retry.duplicate);
    // An authorization under either id reads the one thread.
    let event = free_form(&bsuid, "unused", T0.plus(minutes(4))).event;
    assert!(must(ledger::authorize(store.as_ref(), &policy, &event).await).is_allowed());
}

pub async fn a_link_made_while_recording_loses_nothing<B: Backend>(backend: B) {
    const INBOUND: i64 = 5;
    const TEMPLATES: usize = 40;
    let first = backend.open().await;
    let replicas = if backend.shared() {
        vec![Arc::clone(&first), backend.open().await]
    } else {
        vec![Arc::clone(&first)]
    };
    let policy = Arc::new(mk_policy());
    let (phone, bsuid) = pair();
    // Inbound messages a day and a quarter apart, each opening a window of its own, and templates in
    // between, all under the BSUID, while another task links it to the phone number.
    let inbound_at = |n: i64| T0.plus(Duration::hours(30 * n));
    let mut tasks = Vec::new();
    for n in 0..INBOUND {
        let store = Arc::clone(&replicas[n as usize % replicas.len()]);
        let (policy, message) = (
            Arc::clone(&policy),
            inbound(&bsuid, &format!("in-{n}"), inbound_at(n)),
        );
        tasks.push(tokio::spawn(async move {
            store.record(&message, &policy).await.map(drop)
        }));
    }
    for n in 0..TEMPLATES {
        let store = Arc::clone(&replicas[n % replicas.len()]);
        let at = T0.plus(Duration::from_millis(i64::try_from(n).expect("small") * 10_000));
        let (policy, message) = (
            Arc::clone(&policy),
            template(&bsuid, &format!("out-{n}"), at, TemplateCategory::Utility),
        );
        tasks.push(tokio::spawn(async move {
            store.record(&message, &policy).await.map(drop)
        }));
    }
    {
        let store = Arc::clone(&replicas[replicas.len() - 1]);
        let (business, canonical, alias) = (
            phone.business_id.clone(),
            phone.customer_id.clone(),
            bsuid.customer_id.clone(),
        );
        tasks.push(tokio::spawn(async move {
            links::link(store.as_ref(), &business, &canonical, &alias, T0)
                .await
                .map(drop)
        }));
    }
    for task in tasks {
        must(task.await.expect("tasks do not panic"));
    }
    let state = must(first.load_thread(&phone).await);
    for n in 0..INBOUND {
        let within = inbound_at(n).plus(minutes(1));
        assert!(
            state.customer_service_window_end(within).is_some(),
            "the window of in-{n} is in the linked thread: {state:?}"
        );
    }
    // Every message answers as recorded when retried under the id it was sent with.
    for n in 0..TEMPLATES {
        let at = T0.plus(Duration::from_millis(i64::try_from(n).expect("small") * 10_000));
        let retry = must(
            first
                .record(
                    &template(&bsuid, &format!("out-{n}"), at, TemplateCategory::Utility),
                    &policy,
                )
                .await,
        );
        assert!(retry.duplicate, "out-{n} was recorded once");
    }
    assert_eq!(must(first.load_thread(&bsuid).await), state);
}

pub async fn a_number_change_moves_the_customer<B: Backend>(backend: B) {
    let store = backend.open().await;
    let policy = mk_policy();
    let (old, bsuid) = pair();
    let new = ThreadKey {
        customer_id: CustomerId::new("919800000002").expect("a valid id"),
        ..old.clone()
    };
    let business = &old.business_id;
    must(links::link(store.as_ref(), business, &old.customer_id, &bsuid.customer_id, T0).await);
    must(store.record(&inbound(&old, "in-1", T0), &policy).await);
    assert!(must(
        links::move_customer(store.as_ref(), business, &old.customer_id, &new.customer_id, T0).await
    ));
    assert!(
        !must(links::move_customer(store.as_ref(), business, &old.customer_id, &new.customer_id, T0).await),
        "moving again changes nothing"
    );
    // The customer's window and BSUID follow them to the new number; the old number is left empty.
    let moved = must(store.load_thread(&new).await);
    assert!(moved.customer_service_window_end(T0.plus(minutes(1))).is_some());
    assert_eq!(must(links::resolve(store.as_ref(), &bsuid).await), new);
    assert!(must(store.load_thread(&old).await).is_empty());
    let stranger = must(
        store
            .record(&free_form(&old, "out-1", T0.plus(minutes(2))), &policy)
            .await,
    );
    assert!(
        !stranger.decision.expect("a decision").is_allowed(),
        "the old number has no window"
    );
}
