//! Tests of the rules, rule by rule, and property tests of their invariants.

use std::str::FromStr;

use proptest::prelude::*;
use rust_decimal::Decimal;

use crate::rules::record_inbound;
use crate::*;

const T0: i64 = 1_709_251_200_000; // 2024-03-01T00:00:00Z

pub(crate) fn at(hours: f64) -> Instant {
    Instant::from_millis(T0 + (hours * 3_600_000.0) as i64)
}

fn mk_row(market: &str, prefixes: &[&str], currency: &str, rates: [&str; 4]) -> RateRow {
    let [marketing, utility, authentication, service] = rates.map(|rate| Decimal::from_str(rate).unwrap());
    RateRow {
        market: market.to_owned(),
        prefixes: prefixes.iter().map(|prefix| (*prefix).to_owned()).collect(),
        currency: Currency::new(currency).unwrap(),
        effective_from: Instant::from_millis(1_685_577_600_000), // 2023-06-01
        marketing,
        utility,
        authentication,
        service,
    }
}

impl Policy {
    fn for_test() -> Policy {
        Policy::conversation_2023(
            RateCard::new(vec![
                mk_row("India", &["91"], "INR", ["0.8147", "0.3456", "0.3456", "0.3292"]),
                mk_row("Other", &[], "USD", ["0.0604", "0.0338", "0.0304", "0.0145"]),
            ])
            .unwrap(),
        )
    }
}

fn mk_thread() -> ThreadKey {
    ThreadKey {
        business_id: BusinessId::new("106540352242922").unwrap(),
        customer_id: CustomerId::new("919800000001").unwrap(),
    }
}

pub(crate) fn template(category: TemplateCategory) -> Outbound {
    Outbound::Template(Template {
        name: "tpl".to_owned(),
        language: "en".to_owned(),
        category,
    })
}

const MARKETING: TemplateCategory = TemplateCategory::Marketing;
const UTILITY: TemplateCategory = TemplateCategory::Utility;
const AUTHENTICATION: TemplateCategory = TemplateCategory::Authentication;

/// A thread driven through the rules the way a store drives it.
pub(crate) struct Timeline {
    pub(crate) policy: Policy,
    pub(crate) thread: ThreadKey,
    pub(crate) state: ThreadState,
    pub(crate) free_tier_used: u64,
    /// What the guards read: the registry and consent.
    pub(crate) facts: Facts,
}

impl Timeline {
    pub(crate) fn new() -> Timeline {
        Timeline {
            policy: Policy::for_test(),
            thread: mk_thread(),
            state: ThreadState::default(),
            free_tier_used: 0,
            facts: Facts::default(),
        }
    }

    pub(crate) fn inbound(&mut self, hours: f64) -> &mut Timeline {
        self.inbound_from(hours, EntryPoint::Organic, ClientPlatform::Unspecified)
    }

    fn inbound_from(
        &mut self,
        hours: f64,
        entry_point: EntryPoint,
        platform: ClientPlatform,
    ) -> &mut Timeline {
        let inbound = Inbound {
            entry_point,
            platform,
        };
        self.run(hours, Message::Inbound(inbound));
        self
    }

    pub(crate) fn outbound(&mut self, hours: f64, message: Outbound) -> Decision {
        let step = self.run(hours, Message::Outbound(message));
        step.answer.decision.expect("an outbound message has a decision")
    }

    /// Runs one step the way a store does: reads what `counters_read` names, and commits the write.
    fn run(&mut self, hours: f64, message: Message) -> Step {
        let event = Event {
            thread: self.thread.clone(),
            at: at(hours),
            message,
        };
        let counters = counters_read(&self.policy, &self.facts, &event, &self.state)
            .into_iter()
            .map(|read| (read.counter, self.free_tier_used))
            .collect();
        let snapshot = Snapshot {
            thread: self.state.clone(),
            prior: None,
            counters,
            facts: self.facts.clone(),
        };
        let step = step(&self.policy, &snapshot, &event);
        if let Some(write) = &step.write {
            self.state = write.thread.clone();
            self.free_tier_used += u64::try_from(write.claims.len()).expect("a few claims");
        }
        step
    }

    fn open_at(&self, hours: f64) -> Vec<Category> {
        let mut categories: Vec<Category> = view(&self.state, at(hours))
            .conversations
            .iter()
            .map(|conversation| conversation.category)
            .collect();
        categories.sort();
        categories
    }
}

/// Checks an allowed decision: the category it opens (or falls in), its expiry, pricing type and price.
#[track_caller]
fn check_allowed(
    decision: &Decision,
    opens: bool,
    category: Category,
    expires_hours: f64,
    pricing_type: PricingType,
    price: &str,
) {
    let charge = decision
        .charge()
        .unwrap_or_else(|| panic!("expected allowed, got {decision:?}"));
    let conversation = charge.conversation.as_ref().expect("a conversation");
    assert_eq!(
        charge.opens_conversation, opens,
        "opens_conversation in {charge:?}"
    );
    assert_eq!(conversation.category, category, "category in {charge:?}");
    assert_eq!(charge.category, category, "charge category in {charge:?}");
    assert_eq!(
        conversation.expires_at,
        at(expires_hours),
        "expires_at in {charge:?}"
    );
    assert_eq!(charge.pricing_type, pricing_type, "pricing_type in {charge:?}");
    assert_eq!(charge.price.to_string(), price, "price in {charge:?}");
}

#[track_caller]
fn check_denied_outside_window(decision: &Decision) {
    match &decision.verdict {
        Verdict::Denied { reason, explanation } => {
            assert_eq!(*reason, DenyReason::OutsideCustomerServiceWindow);
            assert_eq!(reason.meta_error_code(), Some(131_047));
            assert!(explanation.contains("template"), "{explanation}");
        }
        Verdict::Allowed(charge) => panic!("expected a denial, got {charge:?}"),
    }
    assert_eq!(decision.customer_service_window_expires_at, None);
}

#[test]
fn free_form_needs_a_customer_service_window() {
    let mut timeline = Timeline::new();
    check_denied_outside_window(&timeline.outbound(0.0, Outbound::FreeForm));
    assert!(timeline.state.is_empty(), "a denial records nothing");
}

#[test]
fn customer_service_window_is_half_open() {
    let mut timeline = Timeline::new();
    timeline.inbound(0.0);
    check_denied_outside_window(&timeline.outbound(24.0, Outbound::FreeForm));
    let decision = timeline.outbound(23.999, Outbound::FreeForm);
    assert_eq!(decision.customer_service_window_expires_at, Some(at(24.0)));
}

#[test]
fn customer_service_window_is_the_union_of_inbound_spans() {
    let mut timeline = Timeline::new();
    timeline.inbound(0.0).inbound(20.0);
    assert_eq!(
        view(&timeline.state, at(1.0)).customer_service_window_expires_at,
        Some(at(44.0))
    );
    // A late inbound message counts for the time it was sent and bridges a gap.
    let mut gap = Timeline::new();
    gap.inbound(0.0).inbound(30.0);
    assert_eq!(
        view(&gap.state, at(25.0)).customer_service_window_expires_at,
        None
    );
    gap.inbound(10.0);
    assert_eq!(
        view(&gap.state, at(25.0)).customer_service_window_expires_at,
        Some(at(54.0))
    );
    assert_eq!(
        view(&gap.state, at(0.0)).customer_service_window_expires_at,
        Some(at(54.0))
    );
}

#[test]
fn templates_neither_open_nor_extend_the_window() {
    let mut timeline = Timeline::new();
    timeline.outbound(0.0, template(MARKETING));
    check_denied_outside_window(&timeline.outbound(1.0, Outbound::FreeForm));
}

#[test]
fn reply_in_window_opens_service_at_free_tier() {
    let mut timeline = Timeline::new();
    timeline.inbound(0.0);
    let decision = timeline.outbound(1.0, Outbound::FreeForm);
    check_allowed(
        &decision,
        true,
        Category::Service,
        25.0,
        PricingType::FreeTier,
        "0 INR",
    );
    assert!(decision.charge().unwrap().billable);
    assert_eq!(decision.customer_service_window_expires_at, Some(at(24.0)));
    assert_eq!(timeline.free_tier_used, 1);
}

#[test]
fn free_tier_ends_after_the_thousandth_service_conversation() {
    let mut timeline = Timeline::new();
    timeline.free_tier_used = u64::from(FREE_TIER_CONVERSATIONS) - 1;
    timeline.inbound(0.0);
    check_allowed(
        &timeline.outbound(1.0, Outbound::FreeForm),
        true,
        Category::Service,
        25.0,
        PricingType::FreeTier,
        "0 INR",
    );
    timeline.inbound(30.0);
    check_allowed(
        &timeline.outbound(31.0, Outbound::FreeForm),
        true,
        Category::Service,
        55.0,
        PricingType::Regular,
        "0.3292 INR",
    );
}

#[test]
fn templates_open_their_own_category_once() {
    let mut timeline = Timeline::new();
    check_allowed(
        &timeline.outbound(0.0, template(MARKETING)),
        true,
        Category::Marketing,
        24.0,
        PricingType::Regular,
        "0.8147 INR",
    );
    check_allowed(
        &timeline.outbound(4.0, template(UTILITY)),
        true,
        Category::Utility,
        28.0,
        PricingType::Regular,
        "0.3456 INR",
    );
    check_allowed(
        &timeline.outbound(10.0, template(UTILITY)),
        false,
        Category::Utility,
        28.0,
        PricingType::Regular,
        "0 INR",
    );
    check_allowed(
        &timeline.outbound(11.0, template(AUTHENTICATION)),
        true,
        Category::Authentication,
        35.0,
        PricingType::Regular,
        "0.3456 INR",
    );
    assert_eq!(
        timeline.open_at(12.0),
        vec![Category::Marketing, Category::Utility, Category::Authentication]
    );
    assert_eq!(timeline.free_tier_used, 0, "the free tier never covers templates");
}

#[test]
fn expiry_is_exclusive() {
    let mut timeline = Timeline::new();
    timeline.outbound(0.0, template(MARKETING));
    check_allowed(
        &timeline.outbound(23.99, template(MARKETING)),
        false,
        Category::Marketing,
        24.0,
        PricingType::Regular,
        "0 INR",
    );
    check_allowed(
        &timeline.outbound(24.0, template(MARKETING)),
        true,
        Category::Marketing,
        48.0,
        PricingType::Regular,
        "0.8147 INR",
    );
    assert_eq!(timeline.open_at(24.0), vec![Category::Marketing]);
}

#[test]
fn a_template_never_opens_service() {
    let mut timeline = Timeline::new();
    timeline.inbound(0.0);
    check_allowed(
        &timeline.outbound(1.0, template(UTILITY)),
        true,
        Category::Utility,
        25.0,
        PricingType::Regular,
        "0.3456 INR",
    );
    // Free-form falls in the open utility conversation instead of opening service.
    check_allowed(
        &timeline.outbound(2.0, Outbound::FreeForm),
        false,
        Category::Utility,
        25.0,
        PricingType::Regular,
        "0 INR",
    );
    assert_eq!(timeline.open_at(2.0), vec![Category::Utility]);
}

#[test]
fn free_form_falls_in_the_oldest_open_conversation() {
    let mut timeline = Timeline::new();
    timeline.inbound(0.0);
    timeline.outbound(1.0, template(AUTHENTICATION));
    timeline.outbound(1.0, template(MARKETING));
    timeline.outbound(2.0, template(UTILITY));
    // Opened at the same instant: marketing comes before authentication.
    check_allowed(
        &timeline.outbound(3.0, Outbound::FreeForm),
        false,
        Category::Marketing,
        25.0,
        PricingType::Regular,
        "0 INR",
    );
}

#[test]
fn all_four_categories_can_be_open() {
    let mut timeline = Timeline::new();
    timeline.inbound(0.0);
    timeline.outbound(1.0, Outbound::FreeForm);
    timeline.outbound(2.0, template(MARKETING));
    timeline.outbound(3.0, template(UTILITY));
    timeline.outbound(4.0, template(AUTHENTICATION));
    assert_eq!(
        timeline.open_at(4.0),
        vec![
            Category::Marketing,
            Category::Utility,
            Category::Authentication,
            Category::Service
        ]
    );
    check_allowed(
        &timeline.outbound(5.0, Outbound::FreeForm),
        false,
        Category::Service,
        25.0,
        PricingType::FreeTier,
        "0 INR",
    );
}

#[test]
fn inbound_extends_the_window_not_the_conversation() {
    let mut timeline = Timeline::new();
    timeline.inbound(0.0);
    timeline.outbound(1.0, Outbound::FreeForm);
    timeline.inbound(20.0);
    assert_eq!(timeline.open_at(25.0), vec![]);
    check_allowed(
        &timeline.outbound(30.0, Outbound::FreeForm),
        true,
        Category::Service,
        54.0,
        PricingType::FreeTier,
        "0 INR",
    );
    assert_eq!(timeline.free_tier_used, 2);
}

#[test]
fn free_entry_point_conversation_lasts_72_hours_and_is_free() {
    let mut timeline = Timeline::new();
    timeline.inbound_from(0.0, EntryPoint::ClickToWhatsAppAd, ClientPlatform::Android);
    assert_eq!(
        view(&timeline.state, at(1.0)).free_entry_point_deadline,
        Some(at(24.0))
    );
    let decision = timeline.outbound(12.0, template(UTILITY));
    check_allowed(
        &decision,
        true,
        Category::FreeEntryPoint,
        84.0,
        PricingType::FreeEntryPoint,
        "0 INR",
    );
    assert!(!decision.charge().unwrap().billable);
    assert_eq!(view(&timeline.state, at(13.0)).free_entry_point_deadline, None);
    check_allowed(
        &timeline.outbound(20.0, Outbound::FreeForm),
        false,
        Category::FreeEntryPoint,
        84.0,
        PricingType::FreeEntryPoint,
        "0 INR",
    );
    // The free entry point opens no customer service window.
    check_denied_outside_window(&timeline.outbound(25.0, Outbound::FreeForm));
    check_allowed(
        &timeline.outbound(30.0, template(MARKETING)),
        false,
        Category::FreeEntryPoint,
        84.0,
        PricingType::FreeEntryPoint,
        "0 INR",
    );
    assert_eq!(timeline.open_at(83.99), vec![Category::FreeEntryPoint]);
    assert_eq!(timeline.open_at(84.0), vec![]);
    check_allowed(
        &timeline.outbound(84.0, template(MARKETING)),
        true,
        Category::Marketing,
        108.0,
        PricingType::Regular,
        "0.8147 INR",
    );
}

#[test]
fn opening_a_free_entry_point_closes_the_others() {
    let mut timeline = Timeline::new();
    timeline.outbound(0.0, template(MARKETING));
    timeline.inbound_from(2.0, EntryPoint::ClickToWhatsAppAd, ClientPlatform::Unspecified);
    check_allowed(
        &timeline.outbound(3.0, Outbound::FreeForm),
        true,
        Category::FreeEntryPoint,
        75.0,
        PricingType::FreeEntryPoint,
        "0 INR",
    );
    assert_eq!(timeline.open_at(3.0), vec![Category::FreeEntryPoint]);
    check_allowed(
        &timeline.outbound(5.0, template(MARKETING)),
        false,
        Category::FreeEntryPoint,
        75.0,
        PricingType::FreeEntryPoint,
        "0 INR",
    );
}

#[test]
fn free_entry_point_deadline_is_24_hours_from_the_entry_point_message() {
    let mut timeline = Timeline::new();
    timeline.inbound_from(0.0, EntryPoint::PageCallToAction, ClientPlatform::Ios);
    timeline.inbound(20.0); // Organic messages do not move the clock.
    check_allowed(
        &timeline.outbound(24.0, Outbound::FreeForm),
        true,
        Category::Service,
        48.0,
        PricingType::FreeTier,
        "0 INR",
    );
}

#[test]
fn web_and_desktop_entry_points_open_no_response_window() {
    for platform in [ClientPlatform::Web, ClientPlatform::Desktop] {
        let mut timeline = Timeline::new();
        timeline.inbound_from(0.0, EntryPoint::ClickToWhatsAppAd, platform);
        assert_eq!(view(&timeline.state, at(1.0)).free_entry_point_deadline, None);
        check_allowed(
            &timeline.outbound(1.0, Outbound::FreeForm),
            true,
            Category::Service,
            25.0,
            PricingType::FreeTier,
            "0 INR",
        );
    }
}

#[test]
fn a_later_entry_point_opens_a_new_free_entry_point_after_the_first_expires() {
    let mut timeline = Timeline::new();
    timeline.inbound_from(0.0, EntryPoint::ClickToWhatsAppAd, ClientPlatform::Android);
    timeline.outbound(1.0, Outbound::FreeForm); // FEP [1h, 73h).
    timeline.inbound_from(60.0, EntryPoint::ClickToWhatsAppAd, ClientPlatform::Android); // No second FEP.
    check_allowed(
        &timeline.outbound(61.0, Outbound::FreeForm),
        false,
        Category::FreeEntryPoint,
        73.0,
        PricingType::FreeEntryPoint,
        "0 INR",
    );
    // The window of 60h is still unused at 73h: the first reply then opens a new FEP.
    check_allowed(
        &timeline.outbound(73.0, Outbound::FreeForm),
        true,
        Category::FreeEntryPoint,
        145.0,
        PricingType::FreeEntryPoint,
        "0 INR",
    );
}

#[test]
fn late_outbound_is_decided_at_the_last_outbound_instant() {
    let mut timeline = Timeline::new();
    timeline.outbound(10.0, template(MARKETING));
    // A marketing template with an earlier time falls in the same conversation: no overlap.
    check_allowed(
        &timeline.outbound(5.0, template(MARKETING)),
        false,
        Category::Marketing,
        34.0,
        PricingType::Regular,
        "0 INR",
    );
}

#[test]
fn zero_prices_carry_the_market_currency() {
    let mut timeline = Timeline::new();
    timeline.thread.customer_id = CustomerId::new("+4915123456789").unwrap();
    timeline.inbound(0.0);
    let decision = timeline.outbound(1.0, Outbound::FreeForm);
    assert_eq!(decision.charge().unwrap().price.to_string(), "0 USD");
}

#[test]
fn dry_runs_leave_new_conversation_ids_empty() {
    let mut timeline = Timeline::new();
    let decision = timeline.outbound(0.0, template(MARKETING));
    let id = decision
        .charge()
        .unwrap()
        .conversation
        .as_ref()
        .unwrap()
        .id
        .clone();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let dry_run = decision.clone().into_dry_run();
    assert_eq!(dry_run.charge().unwrap().conversation.as_ref().unwrap().id, "");
    // A message that falls in an existing conversation names it, even in a dry run.
    let second = timeline.outbound(1.0, template(MARKETING)).into_dry_run();
    assert_eq!(second.charge().unwrap().conversation.as_ref().unwrap().id, id);
}

#[test]
fn per_message_pricing_charges_templates_and_frees_service() {
    let mut timeline = Timeline::new();
    timeline.policy.schedule = PricingSchedule::PerMessage2025;
    timeline.inbound(0.0);
    let free_form = timeline.outbound(1.0, Outbound::FreeForm);
    let charge = free_form.charge().unwrap();
    assert_eq!(
        (charge.pricing_model, charge.pricing_type, charge.billable),
        (PricingModel::PerMessage, PricingType::FreeCustomerService, false)
    );
    let utility = timeline.outbound(2.0, template(UTILITY));
    assert_eq!(
        utility.charge().unwrap().pricing_type,
        PricingType::FreeCustomerService
    );
    let marketing = timeline.outbound(3.0, template(MARKETING));
    assert_eq!(marketing.charge().unwrap().price.to_string(), "0.8147 INR");
    let marketing_again = timeline.outbound(4.0, template(MARKETING));
    assert_eq!(
        marketing_again.charge().unwrap().price.to_string(),
        "0.8147 INR",
        "no 24 h bundling"
    );
    let utility_outside = timeline.outbound(30.0, template(UTILITY));
    assert_eq!(utility_outside.charge().unwrap().price.to_string(), "0.3456 INR");
    assert_eq!(timeline.open_at(30.0), vec![]);
}

#[test]
fn meta_calendar_switches_models_by_date() {
    let policy = Policy {
        schedule: PricingSchedule::MetaCalendar,
        ..Policy::for_test()
    };
    let thread = mk_thread();
    let inbound = Inbound::default();
    let reply_at = |instant: Instant| {
        let state = record_inbound(&ThreadState::default(), &inbound, instant);
        let event = Event {
            thread: thread.clone(),
            at: instant,
            message: Message::Outbound(Outbound::FreeForm),
        };
        let snapshot = Snapshot {
            thread: state,
            ..Snapshot::default()
        };
        step(&policy, &snapshot, &event)
            .answer
            .decision
            .and_then(|decision| decision.charge().cloned())
            .unwrap()
    };
    let june_2024 = reply_at(Instant::from_millis(1_717_200_000_000));
    assert_eq!(june_2024.pricing_type, PricingType::FreeTier);
    let december_2024 = reply_at(SERVICE_FREE_FROM);
    assert_eq!(
        (december_2024.pricing_type, december_2024.billable),
        (PricingType::FreeCustomerService, false)
    );
    let august_2025 = reply_at(PER_MESSAGE_FROM);
    assert_eq!(august_2025.pricing_model, PricingModel::PerMessage);
}

#[test]
fn validate_at_rejects_the_future_beyond_the_skew() {
    let now = at(0.0);
    let skew = Duration::MINUTE.as_millis() * 5;
    assert!(
        validate_at(
            now.plus(Duration::from_millis(skew)),
            now,
            Duration::from_millis(skew)
        )
        .is_ok()
    );
    let error = validate_at(
        now.plus(Duration::from_millis(skew + 1)),
        now,
        Duration::from_millis(skew),
    )
    .unwrap_err();
    assert_eq!(error.field, "at");
    assert!(
        validate_at(at(-10_000.0), now, Duration::from_millis(skew)).is_ok(),
        "the past is accepted"
    );
}

#[test]
fn retention_covers_the_last_window_plus_grace() {
    let mut timeline = Timeline::new();
    timeline.inbound_from(0.0, EntryPoint::ClickToWhatsAppAd, ClientPlatform::Android);
    timeline.outbound(1.0, Outbound::FreeForm); // FEP until 73h, latest event at 1h.
    assert_eq!(
        timeline.state.retention(),
        Duration::from_millis(Duration::hours(72).as_millis() + RETENTION_GRACE.as_millis())
    );
}

#[test]
fn old_history_is_forgotten() {
    let mut timeline = Timeline::new();
    timeline.inbound(0.0);
    timeline.outbound(1.0, template(MARKETING));
    timeline.inbound(24.0 * 30.0);
    let parts = timeline.state.parts();
    assert_eq!(parts.conversations.len(), 0);
    assert_eq!(parts.customer_service.len(), 1);
}

// Property tests: random timelines keep the invariants of docs/SPEC.md section 4.

#[derive(Clone, Debug)]
enum TestEvent {
    Inbound {
        minutes: i64,
        entry_point: EntryPoint,
        platform: ClientPlatform,
    },
    Outbound {
        minutes: i64,
        message: Outbound,
    },
}

fn arb_event() -> impl Strategy<Value = TestEvent> {
    let minutes = 0..(6 * 24 * 60i64);
    let entry_point = prop_oneof![
        Just(EntryPoint::Organic),
        Just(EntryPoint::ClickToWhatsAppAd),
        Just(EntryPoint::PageCallToAction)
    ];
    let platform = prop_oneof![
        Just(ClientPlatform::Unspecified),
        Just(ClientPlatform::Android),
        Just(ClientPlatform::Web)
    ];
    let message = prop_oneof![
        Just(Outbound::FreeForm),
        Just(template(MARKETING)),
        Just(template(UTILITY)),
        Just(template(AUTHENTICATION)),
    ];
    prop_oneof![
        (minutes.clone(), entry_point, platform).prop_map(|(minutes, entry_point, platform)| {
            TestEvent::Inbound {
                minutes,
                entry_point,
                platform,
            }
        }),
        (minutes, message).prop_map(|(minutes, message)| TestEvent::Outbound { minutes, message }),
    ]
}

fn minutes(minutes: i64) -> Instant {
    Instant::from_millis(T0 + minutes * 60_000)
}

proptest! {
    #[test]
    fn invariants_hold_on_random_timelines(mut events in proptest::collection::vec(arb_event(), 1..40), sorted in any::<bool>()) {
        if sorted {
            events.sort_by_key(|event| match event { TestEvent::Inbound { minutes, .. } | TestEvent::Outbound { minutes, .. } => *minutes });
        }
        let policy = Policy::for_test();
        let thread = mk_thread();
        let mut state = ThreadState::default();
        let mut free_tier_used: u64 = 0;
        for event in &events {
            match event {
                TestEvent::Inbound { minutes: m, entry_point, platform } => {
                    let event = Event {
                        thread: thread.clone(),
                        at: minutes(*m),
                        message: Message::Inbound(Inbound { entry_point: *entry_point, platform: *platform }),
                    };
                    prop_assert!(counters_read(&policy, &Facts::default(), &event, &state).is_empty());
                    let snapshot = Snapshot { thread: state.clone(), ..Snapshot::default() };
                    state = step(&policy, &snapshot, &event).write.expect("inbound messages are recorded").thread;
                }
                TestEvent::Outbound { minutes: m, message } => {
                    let event = Event { thread: thread.clone(), at: minutes(*m), message: Message::Outbound(message.clone()) };
                    let read = counters_read(&policy, &Facts::default(), &event, &state);
                    let snapshot = Snapshot {
                        thread: state.clone(),
                        prior: None,
                        counters: read.iter().map(|read| (read.counter.clone(), free_tier_used)).collect(),
                        facts: Facts::default(),
                    };
                    let outcome = step(&policy, &snapshot, &event);
                    let decision = outcome.answer.decision.clone().expect("outbound messages are decided");
                    // A dry run of the same state gives the same answer, the new conversation's id aside,
                    // and counters that `counters_read` does not name change nothing.
                    let again = step(&policy, &snapshot, &event);
                    prop_assert_eq!(again.answer.decision.map(Decision::into_dry_run), Some(decision.clone().into_dry_run()));
                    // A dry step is the step without its prediction.
                    let mut unpredicted = outcome.clone();
                    if let Some(write) = &mut unpredicted.write {
                        write.prediction = None;
                    }
                    prop_assert_eq!(dry_step(&policy, &snapshot, &event), unpredicted);
                    let mut unread = snapshot.clone();
                    for month in [minutes(*m).utc_month(), state.decision_instant(minutes(*m)).utc_month()] {
                        let counter = CounterKey::FreeTier { account: thread.unregistered_account(), month };
                        if !read.iter().any(|read| read.counter == counter) {
                            unread.counters.insert(counter, u64::MAX);
                        }
                    }
                    prop_assert_eq!(step(&policy, &unread, &event), outcome.clone());
                    prop_assert_eq!(outcome.write.is_none(), !decision.is_allowed(), "denials record nothing");
                    if let Some(charge) = decision.charge() {
                        prop_assert!(charge.price.amount >= Decimal::ZERO);
                        if !charge.opens_conversation {
                            prop_assert_eq!(charge.price.amount, Decimal::ZERO, "only an opening message adds to the bill");
                        }
                    }
                    if let Some(write) = outcome.write {
                        for claim in &write.claims {
                            prop_assert!(read.iter().any(|read| read.counter == claim.counter), "a claim on a counter the step did not read");
                        }
                        free_tier_used += u64::try_from(write.claims.len()).expect("a few claims");
                        state = write.thread;
                    }
                }
            }
            // At every instant: at most one open conversation per category, and nothing else while a
            // free entry point conversation is open.
            for probe in (0..(7 * 24 * 60)).step_by(30) {
                let open = view(&state, minutes(probe)).conversations;
                let mut categories: Vec<Category> = open.iter().map(|conversation| conversation.category).collect();
                categories.sort();
                let n_categories = categories.len();
                categories.dedup();
                prop_assert_eq!(categories.len(), n_categories, "two open conversations of one category at {}", probe);
                if categories.contains(&Category::FreeEntryPoint) {
                    prop_assert_eq!(n_categories, 1, "another conversation open beside the free entry point at {}", probe);
                }
            }
        }
    }
}

#[test]
fn outbound_messages_before_the_first_rate_card_are_refused() {
    // Both rows from 2023-06-01T00:00:00Z.
    let card = RateCard::new(vec![
        mk_row("India", &["91"], "INR", ["0.8147", "0.3456", "0.3456", "0.3292"]),
        mk_row("Other", &[], "USD", ["0.0604", "0.0338", "0.0304", "0.0145"]),
    ])
    .unwrap();
    let policy = Policy::conversation_2023(card);
    let event = |millis: i64, message: Message| Event {
        thread: mk_thread(),
        at: Instant::from_millis(millis),
        message,
    };
    let may_31 = 1_685_577_599_999;
    let error = check_priced(&policy, &event(may_31, Message::Outbound(Outbound::FreeForm))).unwrap_err();
    assert_eq!(error.field, "at");
    assert!(error.reason.contains("2023-06-01T00:00:00"), "{}", error.reason);
    assert!(
        check_priced(
            &policy,
            &event(may_31 + 1, Message::Outbound(template(MARKETING)))
        )
        .is_ok()
    );
    assert!(check_priced(&policy, &event(may_31, Message::Inbound(Inbound::default()))).is_ok());
}
