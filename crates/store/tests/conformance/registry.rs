//! The registry cases (docs/SPEC.md section 13), written once and run against every backend by
//! `store_conformance!`: versioned entries, template listings, and the guards the ledger applies from
//! what the registry holds.
//!
//! Each case takes a fresh fixture, opens its store(s) with it, and uses ids of its own (accounts,
//! portfolios and businesses are all named after `unique_business()`).

use std::sync::Arc;

use hourglass_core::{
    Account, AccountId, Answer, Business, BusinessId, Category, Charge, ConsentEvent, ConsentKind,
    ConsentLog, DenyReason, Duration, History, Instant, MarketingCap, Message, MessagingLimit, Outbound,
    Portfolio, PortfolioId, Template, TemplateCategory, TemplateName, TemplateState, TemplateStatus,
    ThreadKey, Verdict, Zone,
};
use hourglass_store::registry::{self, Entry, Key, Stored};
use hourglass_store::{Store, Version, ledger};

use crate::backends::Backend;
use crate::support::{Calls as _, Record, T0, minutes, mk_policy, mk_thread, money, record, unique_business};

/// The instant every registration of these cases takes effect from: well before `T0`.
const REGISTERED_AT: Instant = Instant::EPOCH;

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

/// Returns the reason of an answer to a denied outbound message, which must not be a duplicate.
#[track_caller]
fn denied(answer: &Answer) -> DenyReason {
    assert!(
        !answer.duplicate,
        "a denied message is never recorded: {answer:?}"
    );
    let decision = answer
        .decision
        .as_ref()
        .expect("an outbound message's answer carries a decision");
    match &decision.verdict {
        Verdict::Denied { reason, explanation } => {
            assert!(!explanation.is_empty(), "{decision:?}");
            *reason
        }
        Verdict::Allowed(charge) => panic!("expected a denied message, got {charge:?}"),
    }
}

async fn send(store: &Arc<dyn Store>, message: Record) -> Answer {
    must(store.record(&message, &mk_policy()).await)
}

/// Returns an account id no other case uses.
fn unique_account() -> AccountId {
    AccountId::new("account_id", unique_business().as_str()).expect("generated account ids are valid")
}

fn template_name(name: &str, language: &str) -> TemplateName {
    TemplateName::new(name, language).expect("test template names are valid")
}

/// Returns a template message named `name` in `language`, of the category the request gives.
fn named_template(
    thread: &ThreadKey,
    id: &str,
    at: Instant,
    name: &TemplateName,
    category: TemplateCategory,
) -> Record {
    let template = Template {
        name: name.name().to_owned(),
        language: name.language().to_owned(),
        category,
    };
    record(thread, id, at, Message::Outbound(Outbound::Template(template)))
}

/// The template `support::template` sends: `order_update` in `en_US`.
fn order_update() -> TemplateName {
    template_name("order_update", "en_US")
}

/// An account of its own portfolio, with no requirement and no cap.
fn mk_account(id: &AccountId) -> Account {
    Account {
        portfolio: PortfolioId::of_account(id),
        time_zone: Zone::UTC,
        currency: None,
        require_opt_in: false,
        require_registered_templates: false,
        marketing_cap: None,
        monthly_budget: None,
    }
}

fn template_state(status: TemplateStatus, category: TemplateCategory, at: Instant) -> TemplateState {
    TemplateState::new(status, category, None, at).expect("test template states are valid")
}

/// Puts `value` into the history under `key` from `at`, through `registry::update`, and returns the
/// entry as it now stands.
async fn put<T: Clone + PartialEq>(
    store: &dyn Store,
    key: &Key,
    at: Instant,
    value: T,
    wrap: fn(History<T>) -> Entry,
    unwrap: fn(Entry) -> Option<History<T>>,
) -> Entry {
    must(
        registry::update(store, key, |entry| {
            let mut history = match entry {
                None => History::default(),
                Some(entry) => unwrap(entry).unwrap_or_else(|| panic!("{key:?} holds another kind")),
            };
            let changed = history.put(at, value.clone());
            (wrap(history), changed)
        })
        .await,
    )
}

async fn put_account(store: &dyn Store, id: &AccountId, at: Instant, account: Account) -> Entry {
    put(
        store,
        &Key::Account(id.clone()),
        at,
        account,
        Entry::Account,
        |entry| match entry {
            Entry::Account(history) => Some(history),
            _ => None,
        },
    )
    .await
}

async fn put_business(store: &dyn Store, business: &BusinessId, account: &AccountId) -> Entry {
    let value = Business {
        account: account.clone(),
    };
    let key = Key::Business(business.clone());
    put(
        store,
        &key,
        REGISTERED_AT,
        value,
        Entry::Business,
        |entry| match entry {
            Entry::Business(history) => Some(history),
            _ => None,
        },
    )
    .await
}

async fn put_template(
    store: &dyn Store,
    account: &AccountId,
    name: &TemplateName,
    at: Instant,
    state: TemplateState,
) -> Entry {
    let key = Key::Template(account.clone(), name.clone());
    put(store, &key, at, state, Entry::Template, |entry| match entry {
        Entry::Template(history) => Some(history),
        _ => None,
    })
    .await
}

async fn record_consent(store: &dyn Store, thread: &ThreadKey, kind: ConsentKind, at: Instant) -> Entry {
    let event = ConsentEvent::new(kind, at, "conformance").expect("test consent events are valid");
    must(
        registry::update(store, &Key::Consent(thread.clone()), |entry| {
            let mut log = match entry {
                None => ConsentLog::default(),
                Some(Entry::Consent(log)) => log,
                Some(other) => panic!("consent of {thread} holds another kind: {other:?}"),
            };
            let changed = log.record(event.clone());
            (Entry::Consent(log), changed)
        })
        .await,
    )
}

/// Registers a new business with a new account (`account` given its id), and returns both ids.
async fn register(store: &dyn Store, account: impl FnOnce(&AccountId) -> Account) -> (BusinessId, AccountId) {
    let (business, id) = (unique_business(), unique_account());
    put_account(store, &id, REGISTERED_AT, account(&id)).await;
    put_business(store, &business, &id).await;
    (business, id)
}

async fn read_one(store: &dyn Store, key: &Key) -> Option<Stored> {
    must(registry::read(store, std::slice::from_ref(key)).await)
        .pop()
        .expect("a read answers every key")
}

pub async fn registry_entries_are_versioned_and_compare_and_set<B: Backend>(backend: B) {
    let store = backend.open().await;
    let store = store.as_ref();

    // The bytes of an entry are kept as they are written, whatever they hold.
    let raw = Key::Portfolio(PortfolioId::new("portfolio_id", unique_business().as_str()).expect("valid"));
    let (first, second) = (b"\x00first\xff".to_vec(), b"second".to_vec());
    assert!(must(store.write_entry(&raw, Version(0), &first).await));
    assert!(
        !must(store.write_entry(&raw, Version(0), &second).await),
        "a second write of a new entry loses"
    );
    assert!(
        !must(store.write_entry(&raw, Version(2), &second).await),
        "a write at a version not reached yet loses"
    );
    let read = must(store.read_entries(std::slice::from_ref(&raw)).await);
    assert_eq!(read, vec![Some((Version(1), first.clone()))]);
    assert!(must(store.write_entry(&raw, Version(1), &second).await));
    assert!(!must(store.write_entry(&raw, Version(1), &first).await));
    let read = must(store.read_entries(std::slice::from_ref(&raw)).await);
    assert_eq!(read, vec![Some((Version(2), second.clone()))]);

    // `registry::update` writes a change once: the same change again writes nothing.
    let id = unique_account();
    let key = Key::Account(id.clone());
    let account = mk_account(&id);
    let written = put_account(store, &id, T0, account.clone()).await;
    let Entry::Account(history) = &written else {
        panic!("an account update returns an account: {written:?}");
    };
    assert_eq!(history.at(T0), Some(&account));
    let stored = read_one(store, &key).await.expect("the account is written");
    assert_eq!(
        stored,
        Stored {
            version: Version(1),
            entry: written.clone()
        }
    );
    let again = put_account(store, &id, T0, account.clone()).await;
    assert_eq!(again, written);
    assert_eq!(
        read_one(store, &key).await.map(|stored| stored.version),
        Some(Version(1)),
        "an update that changes nothing writes nothing"
    );
    let capped = Account {
        marketing_cap: Some(MarketingCap::new(2, Duration::hours(24)).expect("a valid cap")),
        ..account.clone()
    };
    let later = put_account(store, &id, T0.plus(Duration::HOUR), capped.clone()).await;
    let stored = read_one(store, &key).await.expect("the account is written");
    assert_eq!(
        stored,
        Stored {
            version: Version(2),
            entry: later
        }
    );
    let Entry::Account(history) = stored.entry else {
        panic!("an account reads back as an account");
    };
    assert_eq!(history.at(T0), Some(&account));
    assert_eq!(history.at(T0.plus(Duration::HOUR)), Some(&capped));

    // Unknown keys read as none, beside known ones, each in its place.
    let thread = mk_thread(&unique_business(), 1);
    let keys = [
        Key::Account(unique_account()),
        key.clone(),
        Key::Template(id.clone(), order_update()),
        Key::Consent(thread.clone()),
        raw.clone(),
        Key::Business(unique_business()),
    ];
    let read = must(store.read_entries(&keys).await);
    let versions: Vec<_> = read
        .iter()
        .map(|raw| raw.as_ref().map(|(version, _)| *version))
        .collect();
    assert_eq!(
        versions,
        [None, Some(Version(2)), None, None, Some(Version(2)), None]
    );
    assert_eq!(must(registry::get(store, &keys[0]).await), None);
    assert_eq!(must(registry::get(store, &keys[3]).await), None);
    assert!(must(store.read_entries(&[]).await).is_empty());
}

/// Concurrent updates of one entry never lose one another: every change is kept, each in one write.
pub async fn concurrent_registry_updates_are_all_kept<B: Backend>(backend: B) {
    const WRITERS: usize = 16;
    let store = backend.open().await;
    let thread = mk_thread(&unique_business(), 1);
    let tasks: Vec<_> = (0..WRITERS)
        .map(|n| {
            let (store, thread) = (Arc::clone(&store), thread.clone());
            let at = T0.plus(minutes(i64::try_from(n).expect("few writers")));
            tokio::spawn(async move { record_consent(store.as_ref(), &thread, ConsentKind::OptIn, at).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("update tasks do not panic");
    }
    let stored = read_one(store.as_ref(), &Key::Consent(thread.clone()))
        .await
        .expect("the consent is written");
    assert_eq!(stored.version, Version(WRITERS as u64), "one write per change");
    let Entry::Consent(log) = stored.entry else {
        panic!("consent reads back as consent");
    };
    let instants: Vec<_> = log.events().iter().map(|event| event.at).collect();
    let expected: Vec<_> = (0..WRITERS)
        .map(|n| T0.plus(minutes(i64::try_from(n).expect("few writers"))))
        .collect();
    assert_eq!(instants, expected);
}

pub async fn templates_are_listed_in_order_and_paged<B: Backend>(backend: B) {
    let store = backend.open().await;
    let store = store.as_ref();
    let account = unique_account();
    // Accounts whose names sort right before and right after this one's.
    let before = AccountId::new("account_id", &format!("{account}-b")).expect("a valid account id");
    let after = AccountId::new("account_id", &format!("{account}0")).expect("a valid account id");

    let states = [
        (
            template_name("b", "en"),
            TemplateStatus::Approved,
            TemplateCategory::Utility,
        ),
        (
            template_name("a_b", "en"),
            TemplateStatus::Paused,
            TemplateCategory::Marketing,
        ),
        (
            template_name("a", "en_US"),
            TemplateStatus::Approved,
            TemplateCategory::Marketing,
        ),
        (
            template_name("a1", "en"),
            TemplateStatus::Rejected,
            TemplateCategory::Authentication,
        ),
        (
            template_name("a", "en"),
            TemplateStatus::Disabled,
            TemplateCategory::Utility,
        ),
    ];
    let mut expected = Vec::new();
    for (n, (name, status, category)) in states.into_iter().enumerate() {
        let at = T0.plus(minutes(i64::try_from(n).expect("few templates")));
        let Entry::Template(history) =
            put_template(store, &account, &name, at, template_state(status, category, at)).await
        else {
            panic!("a template update returns a template");
        };
        expected.push((name, history));
    }
    for other in [&before, &after] {
        for name in [
            template_name("a", "en"),
            template_name("a0", "en"),
            template_name("c", "en"),
        ] {
            let state = template_state(TemplateStatus::Approved, TemplateCategory::Utility, T0);
            put_template(store, other, &name, T0, state).await;
        }
    }
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<_> = expected
        .iter()
        .map(|(name, _)| (name.name().to_owned(), name.language().to_owned()))
        .collect();
    let owned = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, language)| ((*name).to_owned(), (*language).to_owned()))
            .collect()
    };
    assert_eq!(
        names,
        owned(&[
            ("a", "en"),
            ("a", "en_US"),
            ("a1", "en"),
            ("a_b", "en"),
            ("b", "en")
        ]),
        "(name, language) order"
    );

    let all = must(registry::templates(store, &account, None, 100).await);
    assert_eq!(all, expected, "one page holds them all, in order");

    // Pages of two, each from after the last of the one before: nothing skipped nor repeated.
    let mut pages = Vec::new();
    let mut from: Option<TemplateName> = None;
    loop {
        let page = must(registry::templates(store, &account, from.as_ref(), 2).await);
        if page.is_empty() {
            break;
        }
        assert!(pages.len() < expected.len(), "paging never ends: {pages:?}");
        from = page.last().map(|(name, _)| name.clone());
        pages.push(page);
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    assert_eq!(pages.concat(), expected);

    // From after a name the account does not hold.
    let between = must(registry::templates(store, &account, Some(&template_name("a", "en_GB")), 100).await);
    assert_eq!(between, expected[1..].to_vec());
    let between = must(registry::templates(store, &account, Some(&template_name("a0", "zz")), 2).await);
    assert_eq!(between, expected[2..4].to_vec());
    let past = must(registry::templates(store, &account, Some(&template_name("z", "en")), 100).await);
    assert!(past.is_empty(), "{past:?}");
    let none = must(registry::templates(store, &account, None, 0).await);
    assert!(none.is_empty(), "a limit of 0 lists nothing: {none:?}");

    // The other accounts list only their own.
    for other in [&before, &after] {
        let listed: Vec<_> = must(registry::templates(store, other, None, 100).await)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            listed,
            [
                template_name("a", "en"),
                template_name("a0", "en"),
                template_name("c", "en")
            ]
        );
    }
    let unknown = must(registry::templates(store, &unique_account(), None, 100).await);
    assert!(unknown.is_empty());
}

/// A read plan's entries come back with the thread, in the plan's order, as `read_entries` reads
/// them: those of the thread's customer (kept beside the thread on Redis), another customer's, and
/// entries of other scopes, written or not.
pub async fn a_read_plan_brings_its_entries_in_order<B: Backend>(backend: B) {
    let store = backend.open().await;
    let store = store.as_ref();
    let business = unique_business();
    let (thread, other) = (mk_thread(&business, 1), mk_thread(&business, 2));
    let portfolio = Key::Portfolio(PortfolioId::new("portfolio_id", business.as_str()).expect("valid"));
    let written = [
        (Key::Consent(thread.clone()), b"consent".to_vec()),
        (Key::Link(other.clone()), b"other's link".to_vec()),
        (portfolio.clone(), b"portfolio".to_vec()),
    ];
    for (key, bytes) in &written {
        assert!(must(store.write_entry(key, Version(0), bytes).await));
    }
    let keys = vec![
        portfolio,
        Key::Link(thread.clone()),
        Key::Consent(thread.clone()),
        Key::Consent(other.clone()),
        Key::Link(other),
    ];
    for message_id in [None, Some(hourglass_core::MessageId::new("m-1").expect("valid"))] {
        let plan = hourglass_store::ReadPlan {
            message_id,
            entries: keys.clone(),
            ..hourglass_store::ReadPlan::thread(&thread)
        };
        let read = must(store.read(&plan).await);
        assert_eq!(read.entries, must(store.read_entries(&keys).await));
        assert_eq!(
            read.entries,
            vec![
                Some((Version(1), b"portfolio".to_vec())),
                None,
                Some((Version(1), b"consent".to_vec())),
                None,
                Some((Version(1), b"other's link".to_vec())),
            ]
        );
        assert_eq!(read.version, Version(0), "the thread was never written");
    }
    let plain = must(store.read(&hourglass_store::ReadPlan::thread(&thread)).await);
    assert!(plain.entries.is_empty(), "no entry asked, none read");
    assert_eq!(plain.generation, None, "no generation asked, none read");

    // The registry's generation comes with the read when asked for, as `registry_generation` reads it.
    let plan = hourglass_store::ReadPlan {
        generation: true,
        entries: keys,
        ..hourglass_store::ReadPlan::thread(&thread)
    };
    let before = must(store.registry_generation().await);
    assert_eq!(must(store.read(&plan).await).generation, Some(before));
    must(store.advance_registry_generation().await);
    let read = must(store.read(&plan).await);
    assert_eq!(read.generation, Some(before + 1));
    assert_eq!(read.entries.len(), 5);
}

pub async fn registry_survives_reopening_a_durable_store<B: Backend>(backend: B) {
    let (business, account) = (unique_business(), unique_account());
    let thread = mk_thread(&business, 1);
    let keys = [
        Key::Account(account.clone()),
        Key::Business(business.clone()),
        Key::Template(account.clone(), order_update()),
        Key::Consent(thread.clone()),
    ];
    let (written, listed) = {
        let store = backend.open().await;
        let store = store.as_ref();
        put_account(store, &account, REGISTERED_AT, mk_account(&account)).await;
        put_business(store, &business, &account).await;
        let state = template_state(TemplateStatus::Approved, TemplateCategory::Utility, T0);
        put_template(store, &account, &order_update(), T0, state).await;
        record_consent(store, &thread, ConsentKind::OptIn, T0).await;
        let written = must(registry::read(store, &keys).await);
        assert!(written.iter().all(Option::is_some), "{written:?}");
        (
            written,
            must(registry::templates(store, &account, None, 10).await),
        )
    };
    assert_eq!(listed.len(), 1);

    let store = backend.open().await;
    let store = store.as_ref();
    let reopened = must(registry::read(store, &keys).await);
    let relisted = must(registry::templates(store, &account, None, 10).await);
    if backend.durable() {
        assert_eq!(reopened, written);
        assert_eq!(relisted, listed);
    } else {
        assert!(
            reopened.iter().all(Option::is_none),
            "a store that is not durable starts empty: {reopened:?}"
        );
        assert!(relisted.is_empty());
    }
}

pub async fn a_paused_template_is_denied_and_recorded_nothing<B: Backend>(backend: B) {
    let store = backend.open().await;
    let (business, account) = register(store.as_ref(), mk_account).await;
    let thread = mk_thread(&business, 1);
    let paused_at = T0.minus(Duration::HOUR);
    let state = template_state(TemplateStatus::Paused, TemplateCategory::Marketing, paused_at);
    put_template(store.as_ref(), &account, &order_update(), paused_at, state).await;

    let message = crate::support::template(&thread, "tpl-1", T0, TemplateCategory::Marketing);
    let answer = send(&store, message).await;
    let reason = denied(&answer);
    assert_eq!(reason, DenyReason::TemplatePaused, "{answer:?}");
    assert_eq!(reason.meta_error_code(), Some(132_015));
    assert!(
        must(store.load_thread(&thread).await).is_empty(),
        "a denial records nothing"
    );
    let dry = must(
        ledger::authorize(
            store.as_ref(),
            &mk_policy(),
            &crate::support::template(&thread, "tpl-1", T0, TemplateCategory::Marketing).event,
        )
        .await,
    );
    assert!(!dry.is_allowed(), "authorize decides as record does: {dry:?}");

    // Approved from a later change: the same id, never recorded, is decided afresh.
    let approved_at = T0.plus(minutes(1));
    let state = template_state(TemplateStatus::Approved, TemplateCategory::Marketing, approved_at);
    put_template(store.as_ref(), &account, &order_update(), approved_at, state).await;
    let at = T0.plus(minutes(2));
    let answer = send(
        &store,
        crate::support::template(&thread, "tpl-1", at, TemplateCategory::Marketing),
    )
    .await;
    assert!(!answer.duplicate, "a denied id stays free: {answer:?}");
    let allowed = charge(&answer);
    assert_eq!(
        (allowed.category, allowed.opens_conversation),
        (Category::Marketing, true)
    );
    assert!(!must(store.load_thread(&thread).await).is_empty());

    // The pause still holds for a message decided before the approval (another thread, same account).
    let other = mk_thread(&business, 2);
    let answer = send(
        &store,
        crate::support::template(&other, "tpl-1", T0, TemplateCategory::Marketing),
    )
    .await;
    assert_eq!(denied(&answer), DenyReason::TemplatePaused);
}

pub async fn consent_guards_apply_through_the_store<B: Backend>(backend: B) {
    let store = backend.open().await;
    let (business, _) = register(store.as_ref(), mk_account).await;

    // A marketing stop holds back marketing templates only, until a resume.
    let stopped = mk_thread(&business, 1);
    record_consent(
        store.as_ref(),
        &stopped,
        ConsentKind::MarketingStop,
        T0.minus(Duration::HOUR),
    )
    .await;
    let answer = send(
        &store,
        crate::support::template(&stopped, "mkt-1", T0, TemplateCategory::Marketing),
    )
    .await;
    let reason = denied(&answer);
    assert_eq!(reason, DenyReason::MarketingStopped, "{answer:?}");
    assert_eq!(reason.meta_error_code(), Some(131_050));
    assert!(must(store.load_thread(&stopped).await).is_empty());
    let answer = send(
        &store,
        crate::support::template(&stopped, "utl-1", T0, TemplateCategory::Utility),
    )
    .await;
    assert_eq!(charge(&answer).category, Category::Utility);
    record_consent(
        store.as_ref(),
        &stopped,
        ConsentKind::MarketingResume,
        T0.plus(minutes(5)),
    )
    .await;
    let answer = send(
        &store,
        crate::support::template(
            &stopped,
            "mkt-1",
            T0.plus(minutes(10)),
            TemplateCategory::Marketing,
        ),
    )
    .await;
    assert!(!answer.duplicate);
    assert_eq!(charge(&answer).category, Category::Marketing);

    // Consent is per thread: another customer of the business is not stopped.
    let other = mk_thread(&business, 2);
    let answer = send(
        &store,
        crate::support::template(&other, "mkt-1", T0, TemplateCategory::Marketing),
    )
    .await;
    assert_eq!(charge(&answer).category, Category::Marketing);

    // An opt-out holds back every template, of a registered business or not.
    for business in [business.clone(), unique_business()] {
        let opted_out = mk_thread(&business, 3);
        record_consent(
            store.as_ref(),
            &opted_out,
            ConsentKind::OptOut,
            T0.minus(Duration::HOUR),
        )
        .await;
        for category in [TemplateCategory::Utility, TemplateCategory::Marketing] {
            let answer = send(
                &store,
                crate::support::template(&opted_out, &format!("{category:?}"), T0, category),
            )
            .await;
            assert_eq!(
                denied(&answer),
                DenyReason::CustomerOptedOut,
                "{business} {category:?}"
            );
        }
        assert!(must(store.load_thread(&opted_out).await).is_empty());
    }

    // A campaign reads each customer's own consent: every answer of a batch is the single call's.
    let policy = mk_policy();
    let stopped = mk_thread(&business, 4);
    record_consent(
        store.as_ref(),
        &stopped,
        ConsentKind::MarketingStop,
        T0.minus(Duration::HOUR),
    )
    .await;
    let events: Vec<_> = [stopped, other, mk_thread(&business, 3)]
        .iter()
        .map(|thread| crate::support::template(thread, "campaign", T0, TemplateCategory::Marketing).event)
        .collect();
    let batch = must(ledger::authorize_batch(store.as_ref(), &policy, &events).await);
    for (event, decision) in events.iter().zip(&batch) {
        let single = must(ledger::authorize(store.as_ref(), &policy, event).await);
        assert_eq!(decision, &single, "{}", event.thread);
    }
    let reasons: Vec<_> = batch
        .iter()
        .map(|decision| match &decision.verdict {
            Verdict::Denied { reason, .. } => Some(*reason),
            Verdict::Allowed(_) => None,
        })
        .collect();
    assert_eq!(
        reasons,
        [
            Some(DenyReason::MarketingStopped),
            None,
            Some(DenyReason::CustomerOptedOut)
        ]
    );
}

pub async fn the_marketing_cap_is_exact_under_concurrency<B: Backend>(backend: B) {
    const MESSAGES: usize = 32;
    const CAP: usize = 3;
    let window = Duration::hours(24);
    let store = backend.open().await;
    let (business, _) = register(store.as_ref(), |id| Account {
        marketing_cap: Some(MarketingCap::new(CAP as u32, window).expect("a valid cap")),
        ..mk_account(id)
    })
    .await;
    let thread = mk_thread(&business, 1);
    let policy = Arc::new(mk_policy());
    let tasks: Vec<_> = (0..MESSAGES)
        .map(|n| {
            let (store, policy) = (Arc::clone(&store), Arc::clone(&policy));
            let message =
                crate::support::template(&thread, &format!("mkt-{n}"), T0, TemplateCategory::Marketing);
            tokio::spawn(async move { store.record(&message, &policy).await })
        })
        .collect();
    let mut answers = Vec::with_capacity(MESSAGES);
    for task in tasks {
        answers.push(must(task.await.expect("record tasks do not panic")));
    }

    assert!(answers.iter().all(|answer| !answer.duplicate), "{answers:?}");
    let allowed: Vec<usize> = (0..MESSAGES)
        .filter(|&n| answers[n].decision.as_ref().is_some_and(|d| d.is_allowed()))
        .collect();
    assert_eq!(allowed.len(), CAP, "{answers:?}");
    for (n, answer) in answers.iter().enumerate() {
        if allowed.contains(&n) {
            assert_eq!(charge(answer).category, Category::Marketing);
        } else {
            let reason = denied(answer);
            assert_eq!(reason, DenyReason::MarketingLimit, "{answer:?}");
            assert_eq!(reason.meta_error_code(), Some(131_049));
        }
    }
    let opened = allowed
        .iter()
        .filter(|&&n| charge(&answers[n]).opens_conversation)
        .count();
    assert_eq!(opened, 1, "the allowed ones share one conversation");
    let state = must(store.load_thread(&thread).await);
    assert_eq!(state.marketing_sent_within(T0, window).len(), CAP);

    // A retry of an allowed id is its answer again; the count stays.
    let retried = allowed[0];
    let again = send(
        &store,
        crate::support::template(
            &thread,
            &format!("mkt-{retried}"),
            T0,
            TemplateCategory::Marketing,
        ),
    )
    .await;
    assert_eq!(
        again,
        Answer {
            duplicate: true,
            ..answers[retried].clone()
        }
    );
    assert_eq!(
        must(store.load_thread(&thread).await),
        state,
        "a duplicate changes nothing"
    );
    let fourth = send(
        &store,
        crate::support::template(
            &thread,
            "mkt-new",
            T0.plus(minutes(1)),
            TemplateCategory::Marketing,
        ),
    )
    .await;
    assert_eq!(denied(&fourth), DenyReason::MarketingLimit);
    assert_eq!(
        must(store.load_thread(&thread).await)
            .marketing_sent_within(T0.plus(minutes(1)), window)
            .len(),
        CAP
    );
}

pub async fn the_registry_category_prices_the_message<B: Backend>(backend: B) {
    let store = backend.open().await;
    let (business, account) = register(store.as_ref(), mk_account).await;
    let name = template_name("shipping_notice", "en");
    let state = template_state(TemplateStatus::Approved, TemplateCategory::Utility, REGISTERED_AT);
    put_template(store.as_ref(), &account, &name, REGISTERED_AT, state).await;
    let thread = mk_thread(&business, 1);

    let message = named_template(&thread, "tpl-1", T0, &name, TemplateCategory::Marketing);
    let dry = must(ledger::authorize(store.as_ref(), &mk_policy(), &message.event).await);
    assert_eq!(
        dry.charge().map(|charge| charge.category),
        Some(Category::Utility),
        "{dry:?}"
    );
    let answer = send(&store, message).await;
    let priced = charge(&answer);
    assert_eq!(
        (priced.category, priced.opens_conversation),
        (Category::Utility, true)
    );
    assert_eq!(priced.price, money("INR", "0.3456"), "the India utility rate");
    let state = must(store.load_thread(&thread).await);
    assert!(state.open_conversation(Category::Utility, T0).is_some());
    assert!(state.open_conversation(Category::Marketing, T0).is_none());

    // A template the account does not know keeps the request's category.
    let answer = send(
        &store,
        named_template(
            &thread,
            "tpl-2",
            T0,
            &template_name("unknown_one", "en"),
            TemplateCategory::Marketing,
        ),
    )
    .await;
    assert_eq!(charge(&answer).category, Category::Marketing);
}

pub async fn the_messaging_limit_is_exact_under_concurrency_across_replicas<B: Backend>(backend: B) {
    const CUSTOMERS: u32 = 300;
    const LIMIT: usize = 250;
    const IN_FLIGHT: usize = 64;
    let first = backend.open().await;
    // Two replicas where the backend's stores share their data (Redis), else one store.
    let replicas = if backend.shared() {
        vec![Arc::clone(&first), backend.open().await]
    } else {
        vec![Arc::clone(&first)]
    };
    let (business, account) = register(first.as_ref(), mk_account).await;
    let portfolio = PortfolioId::of_account(&account);
    must(
        registry::update(first.as_ref(), &Key::Portfolio(portfolio.clone()), |_| {
            let mut history = History::default();
            history.put(
                REGISTERED_AT,
                Portfolio {
                    messaging_limit: MessagingLimit::Customers250,
                },
            );
            (Entry::Portfolio(history), true)
        })
        .await,
    );
    let policy = Arc::new(mk_policy());
    let semaphore = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let tasks: Vec<_> = (0..CUSTOMERS)
        .map(|n| {
            let store = Arc::clone(&replicas[n as usize % replicas.len()]);
            let (policy, semaphore) = (Arc::clone(&policy), Arc::clone(&semaphore));
            let message = crate::support::template(
                &mk_thread(&business, n),
                &format!("reach-{n}"),
                T0,
                TemplateCategory::Utility,
            );
            tokio::spawn(async move {
                let _permit = semaphore.acquire().await.expect("the semaphore stays open");
                store.record(&message, &policy).await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(CUSTOMERS as usize);
    for task in tasks {
        answers.push(must(task.await.expect("record tasks do not panic")));
    }
    let allowed: Vec<u32> = (0..CUSTOMERS)
        .filter(|&n| {
            answers[n as usize]
                .decision
                .as_ref()
                .is_some_and(|d| d.is_allowed())
        })
        .collect();
    assert_eq!(allowed.len(), LIMIT, "exactly the limit of customers is reached");
    for (n, answer) in answers.iter().enumerate() {
        if !allowed.contains(&(n as u32)) {
            assert_eq!(denied(answer), DenyReason::MessagingLimit, "{answer:?}");
        }
    }
    let refused = (0..CUSTOMERS)
        .find(|n| !allowed.contains(n))
        .expect("some customer was refused");

    // A retry of an allowed message repeats its answer and counts nothing more.
    let retried = allowed[0];
    let again = send(
        &first,
        crate::support::template(
            &mk_thread(&business, retried),
            &format!("reach-{retried}"),
            T0,
            TemplateCategory::Utility,
        ),
    )
    .await;
    assert!(again.duplicate, "{again:?}");
    let later = T0.plus(minutes(60));
    let answer = send(
        &first,
        crate::support::template(
            &mk_thread(&business, refused),
            "reach-late",
            later,
            TemplateCategory::Utility,
        ),
    )
    .await;
    assert_eq!(
        denied(&answer),
        DenyReason::MessagingLimit,
        "the limit still holds an hour later"
    );

    // A customer already reached may get more; a new one may come once the window has moved on.
    let answer = send(
        &first,
        crate::support::template(
            &mk_thread(&business, retried),
            "reach-more",
            later,
            TemplateCategory::Utility,
        ),
    )
    .await;
    assert!(
        answer.decision.as_ref().is_some_and(|d| d.is_allowed()),
        "{answer:?}"
    );
    let answer = send(
        &first,
        crate::support::template(
            &mk_thread(&business, refused),
            "reach-next-day",
            T0.plus(Duration::hours(24)),
            TemplateCategory::Utility,
        ),
    )
    .await;
    assert!(
        answer.decision.as_ref().is_some_and(|d| d.is_allowed()),
        "24 h after the first messages their customers have left the window: {answer:?}"
    );
}

/// docs/SPEC.md section 13: a registry write "is durable and seen by every replica when it returns".
/// Replica A decides (and caches what the registry says of the business), replica B changes the
/// registry, and A's very next decision, by `Authorize`, `AuthorizeBatch` or `RecordMessage`, follows
/// the change: a template paused and approved again, an account that comes to require opt-in, a budget
/// set to nothing, a business moved to another account. Two stores over one server where the backend's
/// stores share their data (Redis), else one store.
pub async fn a_registry_write_is_seen_by_the_next_decision_of_every_replica<B: Backend>(backend: B) {
    let a = backend.open().await;
    let b = if backend.shared() {
        backend.open().await
    } else {
        Arc::clone(&a)
    };
    let (business, account) = register(b.as_ref(), mk_account).await;
    let approved = |at| template_state(TemplateStatus::Approved, TemplateCategory::Marketing, at);
    put_template(
        b.as_ref(),
        &account,
        &order_update(),
        REGISTERED_AT,
        approved(REGISTERED_AT),
    )
    .await;
    let policy = mk_policy();
    let mut customer = 0;
    // A's decisions at `at`, each on a thread of its own: authorize, a batch of one, and a record.
    let mut decide = async |step: &str, at: Instant| -> Vec<Option<DenyReason>> {
        let mut reasons = Vec::new();
        for call in ["authorize", "batch", "record"] {
            customer += 1;
            let message = crate::support::template(
                &mk_thread(&business, customer),
                &format!("{step}-{call}"),
                at,
                TemplateCategory::Marketing,
            );
            let decision = match call {
                "authorize" => must(ledger::authorize(a.as_ref(), &policy, &message.event).await),
                "batch" => must(
                    ledger::authorize_batch(a.as_ref(), &policy, std::slice::from_ref(&message.event)).await,
                )
                .pop()
                .expect("a decision per customer"),
                _ => send(&a, message)
                    .await
                    .decision
                    .expect("an outbound message's answer carries a decision"),
            };
            reasons.push(match decision.verdict {
                Verdict::Allowed(_) => None,
                Verdict::Denied { reason, .. } => Some(reason),
            });
        }
        reasons
    };
    let allowed = vec![None; 3];
    let denied = |reason| vec![Some(reason); 3];
    let outbound = Outbound::Template(Template {
        name: "order_update".to_owned(),
        language: "en_US".to_owned(),
        category: TemplateCategory::Marketing,
    });
    let cached = |at| registry::cached_facts(a.as_ref(), &business, Some(&outbound), at).is_some();

    // A decides twice: the second from what it cached.
    assert_eq!(decide("first", T0).await, allowed);
    assert!(cached(T0), "A caches what the registry says of the business");
    assert_eq!(decide("cached", T0).await, allowed);

    // Each change takes effect a minute after the one before, and A decides half a minute after it.
    let mut at = T0;
    let mut next = || {
        at = at.plus(minutes(1));
        (at, at.plus(Duration::from_millis(30_000)))
    };

    let (effective, decided) = next();
    let paused = template_state(TemplateStatus::Paused, TemplateCategory::Marketing, effective);
    put_template(b.as_ref(), &account, &order_update(), effective, paused).await;
    assert_eq!(
        decide("paused", decided).await,
        denied(DenyReason::TemplatePaused)
    );

    let (effective, decided) = next();
    put_template(
        b.as_ref(),
        &account,
        &order_update(),
        effective,
        approved(effective),
    )
    .await;
    assert_eq!(decide("approved", decided).await, allowed);
    assert!(cached(decided));

    let (effective, decided) = next();
    let opt_in = Account {
        require_opt_in: true,
        ..mk_account(&account)
    };
    put_account(b.as_ref(), &account, effective, opt_in).await;
    assert_eq!(decide("opt-in", decided).await, denied(DenyReason::NoOptIn));

    let (effective, decided) = next();
    let budget = Account {
        currency: Some(hourglass_core::Currency::new("INR").expect("INR is a currency")),
        monthly_budget: Some(crate::support::money("INR", "0")),
        ..mk_account(&account)
    };
    put_account(b.as_ref(), &account, effective, budget).await;
    assert_eq!(
        decide("budget", decided).await,
        denied(DenyReason::BudgetExceeded)
    );

    let (effective, decided) = next();
    put_account(b.as_ref(), &account, effective, mk_account(&account)).await;
    assert_eq!(decide("unlimited", decided).await, allowed);
    assert!(cached(decided));

    // Moved to another account, where the template is paused.
    let (effective, decided) = next();
    let other = unique_account();
    put_account(b.as_ref(), &other, REGISTERED_AT, mk_account(&other)).await;
    let paused = template_state(TemplateStatus::Paused, TemplateCategory::Marketing, REGISTERED_AT);
    put_template(b.as_ref(), &other, &order_update(), REGISTERED_AT, paused).await;
    assert_eq!(
        decide("before-move", decided).await,
        allowed,
        "the move is still to come"
    );
    put(
        b.as_ref(),
        &Key::Business(business.clone()),
        effective,
        Business { account: other },
        Entry::Business,
        |entry| match entry {
            Entry::Business(history) => Some(history),
            _ => None,
        },
    )
    .await;
    assert_eq!(decide("moved", decided).await, denied(DenyReason::TemplatePaused));
}
