//! The guards of docs/SPEC.md section 7, rule by rule: each case sets up a registry, consent and a
//! thread, sends one message, and checks the whole verdict.

use crate::tests::{Timeline, at, template};
use crate::*;

const MARKETING: TemplateCategory = TemplateCategory::Marketing;
const UTILITY: TemplateCategory = TemplateCategory::Utility;

fn account() -> Account {
    Account {
        portfolio: PortfolioId::new("portfolio_id", "portfolio-1").unwrap(),
        time_zone: Zone::UTC,
        currency: None,
        require_opt_in: false,
        require_registered_templates: false,
        marketing_cap: None,
        monthly_budget: None,
    }
}

fn registered(account: Account) -> Registered {
    Registered {
        id: AccountId::new("account_id", "waba-1").unwrap(),
        account,
        messaging_limit: MessagingLimit::Unlimited,
    }
}

/// A template history from `(hours, status, category, paused until hours)`.
fn history(changes: &[(f64, TemplateStatus, TemplateCategory, Option<f64>)]) -> History<TemplateState> {
    History::from_changes(
        changes
            .iter()
            .map(|&(hours, status, category, until)| Change {
                effective_at: at(hours),
                value: TemplateState::new(status, category, until.map(at), at(hours)).unwrap(),
            })
            .collect(),
    )
}

fn consent(events: &[(f64, ConsentKind)]) -> ConsentLog {
    ConsentLog::from_events(
        events
            .iter()
            .map(|&(hours, kind)| ConsentEvent::new(kind, at(hours), "keyword STOP").unwrap())
            .collect(),
    )
}

/// What a case expects.
#[derive(Debug)]
enum Expect {
    /// Allowed, charged in this category.
    Allowed(Category),
    /// Denied for this reason, with an explanation that holds every one of these.
    Denied(DenyReason, &'static [&'static str]),
}

struct Case {
    name: &'static str,
    account: Option<Account>,
    template: Option<History<TemplateState>>,
    consent: ConsentLog,
    /// Customer messages, in hours.
    inbound: &'static [f64],
    /// Messages sent before, in hours.
    sent: Vec<(f64, Outbound)>,
    message: Outbound,
    hours: f64,
    expect: Expect,
}

impl Default for Case {
    fn default() -> Case {
        Case {
            name: "",
            account: Some(account()),
            template: None,
            consent: ConsentLog::default(),
            inbound: &[],
            sent: Vec::new(),
            message: template(MARKETING),
            hours: 1.0,
            expect: Expect::Allowed(Category::Marketing),
        }
    }
}

fn run(case: Case, shadow: &[Guard]) -> Decision {
    let mut timeline = Timeline::new();
    timeline.policy.shadow = shadow.iter().copied().collect();
    timeline.facts = Facts {
        account: case.account.map(registered),
        template: case.template,
        consent: case.consent,
    };
    for &hours in case.inbound {
        timeline.inbound(hours);
    }
    for (hours, message) in case.sent {
        let decision = timeline.outbound(hours, message);
        assert!(
            decision.is_allowed(),
            "{}: an earlier message was denied: {decision:?}",
            case.name
        );
    }
    timeline.outbound(case.hours, case.message)
}

#[track_caller]
fn check(case: Case) {
    check_shadowed(case, &[]);
}

#[track_caller]
fn check_shadowed(case: Case, shadow: &[Guard]) {
    let name = case.name;
    let expect = format!("{:?}", case.expect);
    let decision = match &case.expect {
        Expect::Allowed(category) => {
            let category = *category;
            let decision = run(case, shadow);
            let charge = decision
                .charge()
                .unwrap_or_else(|| panic!("{name}: denied: {decision:?}"));
            assert_eq!(charge.category, category, "{name}");
            decision
        }
        Expect::Denied(reason, words) => {
            let (reason, words) = (*reason, *words);
            let decision = run(case, shadow);
            let Verdict::Denied {
                reason: denied,
                explanation,
            } = &decision.verdict
            else {
                panic!("{name}: expected {expect}, allowed: {decision:?}");
            };
            assert_eq!(*denied, reason, "{name}: {explanation}");
            for word in words {
                assert!(
                    explanation.contains(word),
                    "{name}: {word:?} not in {explanation:?}"
                );
            }
            decision
        }
    };
    if shadow.is_empty() {
        assert_eq!(decision.shadow_deny_reason, None, "{name}");
    }
}

#[test]
fn guard_1_takes_only_approved_templates_from_the_registry() {
    use TemplateStatus::*;
    check(Case {
        name: "approved",
        template: Some(history(&[(0.0, Approved, MARKETING, None)])),
        ..Case::default()
    });
    check(Case {
        name: "paused with no end",
        template: Some(history(&[
            (0.0, Approved, MARKETING, None),
            (0.5, Paused, MARKETING, None),
        ])),
        expect: Expect::Denied(
            DenyReason::TemplatePaused,
            &["`tpl` (en)", "PAUSED since 2024-03-01T00:30:00.000Z", "132015"],
        ),
        ..Case::default()
    });
    check(Case {
        name: "paused until a later instant",
        template: Some(history(&[(0.5, Paused, MARKETING, Some(2.0))])),
        expect: Expect::Denied(
            DenyReason::TemplatePaused,
            &["until 2024-03-01T02:00:00.000Z", "wait"],
        ),
        ..Case::default()
    });
    check(Case {
        name: "a pause ends at its end, exactly",
        template: Some(history(&[(0.5, Paused, MARKETING, Some(2.0))])),
        hours: 2.0,
        ..Case::default()
    });
    check(Case {
        name: "disabled",
        template: Some(history(&[(0.0, Disabled, MARKETING, None)])),
        expect: Expect::Denied(DenyReason::TemplateDisabled, &["DISABLED", "132016"]),
        ..Case::default()
    });
    for status in [
        Pending,
        Rejected,
        InAppeal,
        PendingDeletion,
        Deleted,
        Archived,
        LimitExceeded,
    ] {
        check(Case {
            name: status.as_str(),
            template: Some(history(&[(0.0, status, MARKETING, None)])),
            expect: Expect::Denied(DenyReason::TemplateNotApproved, &["not APPROVED", "132001"]),
            ..Case::default()
        });
    }
    check(Case {
        name: "a change dated after the message does not apply yet",
        template: Some(history(&[
            (0.0, Approved, MARKETING, None),
            (1.5, Disabled, MARKETING, None),
        ])),
        ..Case::default()
    });
    check(Case {
        name: "unknown, registration not required",
        ..Case::default()
    });
    check(Case {
        name: "unknown, registration required",
        account: Some(Account {
            require_registered_templates: true,
            ..account()
        }),
        expect: Expect::Denied(
            DenyReason::TemplateNotApproved,
            &["not in the registry of account waba-1", "PutTemplate"],
        ),
        ..Case::default()
    });
    check(Case {
        name: "an unregistered business is not held to a registry",
        account: None,
        template: Some(history(&[(0.0, Disabled, MARKETING, None)])),
        ..Case::default()
    });
}

#[test]
fn guard_1_prices_at_the_registry_category_of_the_instant() {
    let recategorised = || {
        Some(history(&[
            (0.0, TemplateStatus::Approved, UTILITY, None),
            (5.0, TemplateStatus::Approved, MARKETING, None),
        ]))
    };
    check(Case {
        name: "the request says marketing, the registry utility",
        template: recategorised(),
        hours: 4.999,
        expect: Expect::Allowed(Category::Utility),
        ..Case::default()
    });
    check(Case {
        name: "re-categorised as marketing from 5 h",
        template: recategorised(),
        message: template(UTILITY),
        hours: 5.0,
        expect: Expect::Allowed(Category::Marketing),
        ..Case::default()
    });
    check(Case {
        name: "the registry's category decides the marketing stop too",
        template: recategorised(),
        message: template(UTILITY),
        consent: consent(&[(0.0, ConsentKind::MarketingStop)]),
        hours: 6.0,
        expect: Expect::Denied(DenyReason::MarketingStopped, &["131050"]),
        ..Case::default()
    });
}

#[test]
fn the_category_a_template_is_priced_in_is_the_one_guard_1_gives_it() {
    use TemplateStatus::{Approved, Disabled, Paused};
    let histories = [
        None,
        Some(history(&[(0.0, Approved, UTILITY, None)])),
        Some(history(&[
            (0.0, Approved, UTILITY, None),
            (5.0, Disabled, MARKETING, None),
        ])),
        Some(history(&[(1.0, Paused, UTILITY, Some(3.0))])),
    ];
    for account in [None, Some(registered(account()))] {
        for require_registered_templates in [false, true] {
            for template_history in &histories {
                let facts = Facts {
                    account: account.clone().map(|mut registered| {
                        registered.account.require_registered_templates = require_registered_templates;
                        registered
                    }),
                    template: template_history.clone(),
                    ..Facts::default()
                };
                for hours in [0.0, 0.5, 2.0, 4.999, 5.0, 9.0] {
                    for category in [MARKETING, UTILITY, TemplateCategory::Authentication] {
                        let message = template(category);
                        let Outbound::Template(requested) = &message else {
                            unreachable!("a template")
                        };
                        let (priced, _) = super::template(&facts, &message, at(hours));
                        let Outbound::Template(priced) = priced else {
                            panic!("guard 1 keeps a template a template")
                        };
                        assert_eq!(
                            super::template_category(&facts, requested, at(hours)),
                            priced.category,
                            "{facts:?} at {hours} h, asked {category:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn guard_2_wants_a_window_for_free_form_after_the_template_guard() {
    check(Case {
        name: "free-form outside a window",
        message: Outbound::FreeForm,
        expect: Expect::Denied(DenyReason::OutsideCustomerServiceWindow, &["131047"]),
        ..Case::default()
    });
    check(Case {
        name: "the window guard comes before the opt-out",
        message: Outbound::FreeForm,
        consent: consent(&[(0.0, ConsentKind::OptOut)]),
        expect: Expect::Denied(DenyReason::OutsideCustomerServiceWindow, &[]),
        ..Case::default()
    });
    check(Case {
        name: "the template guard comes before the opt-out",
        template: Some(history(&[(0.0, TemplateStatus::Paused, MARKETING, None)])),
        consent: consent(&[(0.0, ConsentKind::OptOut)]),
        expect: Expect::Denied(DenyReason::TemplatePaused, &[]),
        ..Case::default()
    });
}

#[test]
fn guard_3_holds_back_an_opted_out_customer_until_they_write_again() {
    check(Case {
        name: "a template after an opt-out",
        consent: consent(&[(0.5, ConsentKind::OptOut)]),
        expect: Expect::Denied(
            DenyReason::CustomerOptedOut,
            &["opt-out at 2024-03-01T00:30:00.000Z", "keyword STOP"],
        ),
        ..Case::default()
    });
    check(Case {
        name: "an unregistered business is held to opt-outs too",
        account: None,
        consent: consent(&[(0.5, ConsentKind::OptOut)]),
        expect: Expect::Denied(DenyReason::CustomerOptedOut, &[]),
        ..Case::default()
    });
    check(Case {
        name: "free-form in a window the customer opened before the opt-out",
        inbound: &[0.0],
        consent: consent(&[(0.5, ConsentKind::OptOut)]),
        message: Outbound::FreeForm,
        expect: Expect::Denied(DenyReason::CustomerOptedOut, &["has not written since"]),
        ..Case::default()
    });
    check(Case {
        name: "free-form after the customer wrote again",
        inbound: &[0.0, 0.75],
        consent: consent(&[(0.5, ConsentKind::OptOut)]),
        message: Outbound::FreeForm,
        expect: Expect::Allowed(Category::Service),
        ..Case::default()
    });
    check(Case {
        name: "a template after the customer wrote again",
        inbound: &[0.75],
        consent: consent(&[(0.5, ConsentKind::OptOut)]),
        ..Case::default()
    });
    check(Case {
        name: "a later opt-in lifts it",
        consent: consent(&[(0.25, ConsentKind::OptOut), (0.5, ConsentKind::OptIn)]),
        ..Case::default()
    });
    check(Case {
        name: "an opt-out recorded for a later instant does not apply yet",
        consent: consent(&[(2.0, ConsentKind::OptOut)]),
        ..Case::default()
    });
}

#[test]
fn guard_4_wants_an_opt_in_outside_a_window_when_the_account_asks() {
    let requiring = || {
        Some(Account {
            require_opt_in: true,
            ..account()
        })
    };
    check(Case {
        name: "no opt-in",
        account: requiring(),
        expect: Expect::Denied(
            DenyReason::NoOptIn,
            &["account waba-1 requires opt-in", "RecordConsent"],
        ),
        ..Case::default()
    });
    check(Case {
        name: "an opt-in at the instant itself",
        account: requiring(),
        consent: consent(&[(1.0, ConsentKind::OptIn)]),
        ..Case::default()
    });
    check(Case {
        name: "an opt-in after the message",
        account: requiring(),
        consent: consent(&[(1.001, ConsentKind::OptIn)]),
        expect: Expect::Denied(DenyReason::NoOptIn, &[]),
        ..Case::default()
    });
    check(Case {
        name: "inside a window no opt-in is needed",
        account: requiring(),
        inbound: &[0.5],
        ..Case::default()
    });
    check(Case {
        name: "an account that does not ask",
        ..Case::default()
    });
}

#[test]
fn guard_5_stops_marketing_until_a_resume() {
    let stopped = || consent(&[(0.0, ConsentKind::MarketingStop)]);
    check(Case {
        name: "a marketing template after a stop",
        consent: stopped(),
        expect: Expect::Denied(DenyReason::MarketingStopped, &["marketing stop at", "131050"]),
        ..Case::default()
    });
    check(Case {
        name: "a stop holds inside a window too",
        consent: stopped(),
        inbound: &[0.5],
        expect: Expect::Denied(DenyReason::MarketingStopped, &[]),
        ..Case::default()
    });
    check(Case {
        name: "utility after a stop",
        consent: stopped(),
        message: template(UTILITY),
        expect: Expect::Allowed(Category::Utility),
        ..Case::default()
    });
    check(Case {
        name: "after a resume",
        consent: consent(&[
            (0.0, ConsentKind::MarketingStop),
            (0.5, ConsentKind::MarketingResume),
        ]),
        ..Case::default()
    });
}

#[test]
fn guard_6_caps_marketing_per_customer_over_a_rolling_window() {
    let capped = || {
        Some(Account {
            marketing_cap: Some(MarketingCap::new(2, Duration::hours(24)).unwrap()),
            ..account()
        })
    };
    let two_sent = || vec![(0.0, template(MARKETING)), (1.0, template(MARKETING))];
    check(Case {
        name: "a third within the window",
        account: capped(),
        sent: two_sent(),
        hours: 23.999,
        expect: Expect::Denied(
            DenyReason::MarketingLimit,
            &[
                "2 marketing templates",
                "cap is 2 per 24 h",
                "sent at 2024-03-01T00:00:00.000Z",
                "leaves the window at 2024-03-02T00:00:00.000Z",
            ],
        ),
        ..Case::default()
    });
    check(Case {
        name: "the oldest has left the window, exactly",
        account: capped(),
        sent: two_sent(),
        hours: 24.0,
        ..Case::default()
    });
    check(Case {
        name: "utility templates are not capped",
        account: capped(),
        sent: two_sent(),
        message: template(UTILITY),
        hours: 2.0,
        expect: Expect::Allowed(Category::Utility),
        ..Case::default()
    });
    check(Case {
        name: "templates inside a window are neither counted nor capped",
        account: capped(),
        inbound: &[0.0],
        sent: vec![
            (0.5, template(MARKETING)),
            (1.0, template(MARKETING)),
            (2.0, template(MARKETING)),
        ],
        hours: 3.0,
        ..Case::default()
    });
    check(Case {
        name: "marketing sent inside a window leaves the count at zero outside it",
        account: capped(),
        inbound: &[0.0],
        sent: vec![(0.5, template(MARKETING)), (1.0, template(MARKETING))],
        hours: 25.0,
        ..Case::default()
    });
}

#[test]
fn a_guard_in_shadow_reports_and_lets_pass() {
    let paused = || Some(history(&[(0.0, TemplateStatus::Paused, MARKETING, None)]));
    let decision = {
        let case = Case {
            name: "a paused template in shadow",
            template: paused(),
            ..Case::default()
        };
        run(case, &[Guard::Template])
    };
    assert!(decision.is_allowed(), "{decision:?}");
    assert_eq!(decision.shadow_deny_reason, Some(DenyReason::TemplatePaused));
    check_shadowed(
        Case {
            name: "an enforced guard after a shadowed one still denies",
            template: paused(),
            consent: consent(&[(0.0, ConsentKind::OptOut)]),
            expect: Expect::Denied(DenyReason::CustomerOptedOut, &[]),
            ..Case::default()
        },
        &[Guard::Template],
    );
    let decision = run(
        Case {
            template: paused(),
            consent: consent(&[(0.0, ConsentKind::OptOut)]),
            ..Case::default()
        },
        &[Guard::Template],
    );
    assert_eq!(decision.shadow_deny_reason, Some(DenyReason::TemplatePaused));
    let decision = run(
        Case {
            consent: consent(&[(0.0, ConsentKind::OptOut)]),
            ..Case::default()
        },
        &[Guard::OptOut, Guard::MarketingStop],
    );
    assert!(decision.is_allowed());
    assert_eq!(decision.shadow_deny_reason, Some(DenyReason::CustomerOptedOut));
    for guard in Guard::ALL {
        assert_eq!(Guard::from_name(guard.name()), Some(guard));
    }
}

#[test]
fn calendar_rules_follow_the_account_zone() {
    let kolkata = Account {
        time_zone: Zone::new("time_zone", "Asia/Kolkata").unwrap(),
        ..account()
    };
    // -3 h is 2024-02-29T21:00Z, already 2024-03-01 02:30 in Kolkata.
    let event = Event {
        thread: Timeline::new().thread,
        at: at(-3.0),
        message: Message::Outbound(Outbound::FreeForm),
    };
    let months = |facts: &Facts| -> Vec<String> {
        let policy = Timeline::new().policy;
        counters_read(&policy, facts, &event, &ThreadState::default())
            .iter()
            .map(|read| match &read.counter {
                CounterKey::FreeTier { account, month } => format!("{account} {month}"),
                CounterKey::MessagingLimit { portfolio } => format!("limit {portfolio}"),
                CounterKey::ServiceMessages { business, month } => format!("service {business} {month}"),
                other => format!("{other:?}"),
            })
            .collect()
    };
    let facts = Facts {
        account: Some(registered(kolkata.clone())),
        ..Facts::default()
    };
    assert_eq!(months(&facts), ["waba-1 2024-03"]);
    assert_eq!(months(&Facts::default()), ["106540352242922 2024-02"]);

    // Meta made service conversations free at 2024-11-01 00:00 in each account's zone:
    // 2024-10-31T20:00Z is already November in Kolkata, still October in UTC.
    let hours = (1_730_404_800_000 - at(0.0).as_millis()) as f64 / 3_600_000.0;
    let decide = |account: Option<Account>| {
        let mut timeline = Timeline::new();
        timeline.policy.schedule = PricingSchedule::MetaCalendar;
        timeline.facts.account = account.map(registered);
        timeline.inbound(hours - 1.0);
        timeline.outbound(hours, Outbound::FreeForm)
    };
    let in_kolkata = decide(Some(kolkata));
    assert_eq!(
        in_kolkata.charge().map(|charge| charge.pricing_type),
        Some(PricingType::FreeCustomerService)
    );
    let in_utc = decide(None);
    assert_eq!(
        in_utc.charge().map(|charge| charge.pricing_type),
        Some(PricingType::FreeTier)
    );
}

#[test]
fn guard_7_limits_the_customers_a_portfolio_reaches_outside_a_window() {
    let limited = |limit| Registered {
        messaging_limit: limit,
        ..registered(account())
    };
    let counter = CounterKey::MessagingLimit {
        portfolio: PortfolioId::new("portfolio_id", "portfolio-1").unwrap(),
    };
    let thread = Timeline::new().thread;
    let decide = |registered: Option<Registered>, used: u32, has_slot: bool, inbound: bool| {
        let mut timeline = Timeline::new();
        if inbound {
            timeline.inbound(0.5);
        }
        let facts = Facts {
            account: registered,
            ..Facts::default()
        };
        let event = Event {
            thread: thread.clone(),
            at: at(1.0),
            message: Message::Outbound(template(UTILITY)),
        };
        let reads = counters_read(&timeline.policy, &facts, &event, &timeline.state);
        let snapshot = Snapshot {
            thread: timeline.state.clone(),
            counters: reads
                .iter()
                .map(|read| {
                    (
                        read.counter.clone(),
                        Reading {
                            used: u64::from(used),
                            has_slot,
                        },
                    )
                })
                .collect(),
            facts,
            ..Snapshot::default()
        };
        (reads, step(&timeline.policy, &snapshot, &event))
    };
    let limit_claims = |step: &Step| -> Vec<Claim> {
        step.write
            .as_ref()
            .map(|write| {
                write
                    .claims
                    .iter()
                    .filter(|claim| claim.counter == counter)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };

    // Below the limit: allowed, and the customer counts for 24 h from the message.
    let (reads, below) = decide(Some(limited(MessagingLimit::Customers250)), 249, false, false);
    assert_eq!(
        reads,
        [CounterRead {
            counter: counter.clone(),
            window: Some((at(1.0), thread.customer_id.as_str().to_owned())),
        }]
    );
    assert!(below.answer.decision.as_ref().unwrap().is_allowed());
    assert_eq!(
        limit_claims(&below),
        [Claim {
            counter: counter.clone(),
            slot: thread.customer_id.as_str().to_owned(),
            limit: 250,
            weight: 1,
            window: Some(Span::starting_at(at(1.0), Duration::hours(24))),
        }]
    );

    // At the limit: a new customer is denied and counts for nothing.
    let (_, full) = decide(Some(limited(MessagingLimit::Customers250)), 250, false, false);
    let decision = full.answer.decision.clone().unwrap();
    let Verdict::Denied { reason, explanation } = &decision.verdict else {
        panic!("allowed at the limit: {decision:?}");
    };
    assert_eq!(*reason, DenyReason::MessagingLimit);
    assert!(explanation.contains("portfolio portfolio-1"), "{explanation}");
    assert!(explanation.contains("250 distinct customers"), "{explanation}");
    assert!(full.write.is_none());

    // At the limit, a customer already reached in the window may get more.
    let (_, again) = decide(Some(limited(MessagingLimit::Customers250)), 250, true, false);
    assert!(again.answer.decision.as_ref().unwrap().is_allowed());
    assert_eq!(limit_claims(&again).len(), 1);

    // Inside a customer service window, unlimited, or unregistered: not read, not counted.
    for (registered, inbound) in [
        (Some(limited(MessagingLimit::Customers250)), true),
        (Some(limited(MessagingLimit::Unlimited)), false),
        (None, false),
    ] {
        let (reads, free) = decide(registered, u32::MAX, false, inbound);
        assert!(reads.is_empty(), "{reads:?}");
        assert!(free.answer.decision.as_ref().unwrap().is_allowed());
        assert!(limit_claims(&free).is_empty());
    }

    // In shadow, the guard at its limit lets the message pass, reports it, and takes no slot.
    let mut shadowed = Timeline::new();
    shadowed.policy.shadow = [Guard::MessagingLimit].into_iter().collect();
    let facts = Facts {
        account: Some(limited(MessagingLimit::Customers250)),
        ..Facts::default()
    };
    let event = Event {
        thread: thread.clone(),
        at: at(1.0),
        message: Message::Outbound(template(UTILITY)),
    };
    let snapshot = Snapshot {
        counters: [(
            counter.clone(),
            Reading {
                used: 250,
                has_slot: false,
            },
        )]
        .into_iter()
        .collect(),
        facts,
        ..Snapshot::default()
    };
    let passed = step(&shadowed.policy, &snapshot, &event);
    let decision = passed.answer.decision.clone().unwrap();
    assert!(decision.is_allowed());
    assert_eq!(decision.shadow_deny_reason, Some(DenyReason::MessagingLimit));
    assert!(limit_claims(&passed).is_empty());
}

/// Steps one outbound message at `instant` in a thread whose customer wrote a minute before, reading
/// every counter as `used`; returns the charge and the claims.
fn paid_service_step(
    schedule: PricingSchedule,
    facts: &Facts,
    instant: Instant,
    used: u32,
    message: Outbound,
) -> (crate::Charge, Vec<crate::Claim>) {
    let mut timeline = Timeline::new();
    timeline.policy.schedule = schedule;
    let thread = timeline.thread.clone();
    let state = crate::rules::record_inbound(
        &ThreadState::default(),
        &Inbound::default(),
        instant.minus(Duration::MINUTE),
    );
    let event = Event {
        thread,
        at: instant,
        message: Message::Outbound(message),
    };
    let counters = counters_read(&timeline.policy, facts, &event, &state)
        .into_iter()
        .map(|read| (read.counter, u64::from(used)))
        .collect();
    let snapshot = Snapshot {
        thread: state,
        prior: None,
        counters,
        facts: facts.clone(),
    };
    let step = crate::step(&timeline.policy, &snapshot, &event);
    let charge = step
        .answer
        .decision
        .and_then(|decision| decision.charge().cloned())
        .expect("an allowed message");
    let claims = step.write.map(|write| write.claims).unwrap_or_default();
    (charge, claims)
}

#[test]
fn from_october_2026_service_messages_past_the_free_ones_and_utility_in_a_window_are_charged() {
    let utc = Facts::default();
    let before = PAID_SERVICE_FROM.minus(Duration::MILLISECOND);
    let calendar = PricingSchedule::MetaCalendar;
    let (charge, claims) = paid_service_step(calendar, &utc, before, 5_000, Outbound::FreeForm);
    assert_eq!(
        (charge.pricing_type, charge.billable, claims.len()),
        (PricingType::FreeCustomerService, false, 0),
        "service messages are free until 2026-10-01, and counted nowhere"
    );
    let utility = || {
        Outbound::Template(crate::Template {
            name: "order_update".to_owned(),
            language: "en".to_owned(),
            category: TemplateCategory::Utility,
        })
    };
    let (charge, _) = paid_service_step(calendar, &utc, before, 0, utility());
    assert_eq!(charge.pricing_type, PricingType::FreeCustomerService);

    // From 00:00 on 2026-10-01, the first 1,000 of a business's month are free and each takes a slot.
    let (charge, claims) = paid_service_step(calendar, &utc, PAID_SERVICE_FROM, 999, Outbound::FreeForm);
    assert_eq!(
        (
            charge.category,
            charge.pricing_type,
            charge.billable,
            charge.price.to_string()
        ),
        (
            Category::Service,
            PricingType::FreeCustomerService,
            false,
            "0 INR".to_owned()
        )
    );
    let [claim] = claims.as_slice() else {
        panic!("one claim: {claims:?}")
    };
    assert_eq!(claim.limit, u64::from(FREE_SERVICE_MESSAGES));
    assert_eq!(
        claim.counter,
        CounterKey::ServiceMessages {
            business: Timeline::new().thread.business_id,
            month: crate::Month {
                year: 2026,
                month: 10
            },
        }
    );
    // The 1,001st pays the market's service rate.
    let (charge, claims) = paid_service_step(calendar, &utc, PAID_SERVICE_FROM, 1_000, Outbound::FreeForm);
    assert_eq!(
        (charge.pricing_type, charge.billable, charge.price.to_string()),
        (PricingType::Regular, true, "0.3292 INR".to_owned())
    );
    assert!(claims.is_empty());
    // A utility template inside the window is charged like any.
    let (charge, _) = paid_service_step(calendar, &utc, PAID_SERVICE_FROM, 0, utility());
    assert_eq!(
        (charge.pricing_type, charge.billable, charge.price.to_string()),
        (PricingType::Regular, true, "0.3456 INR".to_owned())
    );
    // Pinned eras ignore the date.
    let (charge, _) = paid_service_step(
        PricingSchedule::PerMessage2025,
        &utc,
        PAID_SERVICE_FROM,
        0,
        utility(),
    );
    assert_eq!(charge.pricing_type, PricingType::FreeCustomerService);
    let (charge, claims) = paid_service_step(
        PricingSchedule::PerMessage2026,
        &utc,
        before,
        0,
        Outbound::FreeForm,
    );
    assert_eq!(
        (charge.pricing_type, claims.len()),
        (PricingType::FreeCustomerService, 1)
    );

    // The era begins at 00:00 in the account's zone: 2026-09-30T18:30Z is October in Kolkata.
    let kolkata = Facts {
        account: Some(registered(Account {
            time_zone: Zone::new("time_zone", "Asia/Kolkata").unwrap(),
            ..account()
        })),
        ..Facts::default()
    };
    let kolkata_midnight = PAID_SERVICE_FROM.minus(Duration::from_millis(330 * 60_000));
    let (charge, _) = paid_service_step(calendar, &kolkata, kolkata_midnight, 1_000, Outbound::FreeForm);
    assert_eq!(charge.pricing_type, PricingType::Regular, "October in Kolkata");
    let (charge, _) = paid_service_step(calendar, &utc, kolkata_midnight, 1_000, Outbound::FreeForm);
    assert_eq!(
        charge.pricing_type,
        PricingType::FreeCustomerService,
        "September in UTC"
    );
}

#[test]
fn two_service_messages_of_one_thread_take_two_slots_and_a_retry_the_same() {
    let mut timeline = Timeline::new();
    timeline.policy.schedule = PricingSchedule::PerMessage2026;
    timeline.inbound(0.0);
    let slot_of = |timeline: &Timeline| {
        let event = Event {
            thread: timeline.thread.clone(),
            at: at(1.0),
            message: Message::Outbound(Outbound::FreeForm),
        };
        let snapshot = Snapshot {
            thread: timeline.state.clone(),
            ..Snapshot::default()
        };
        let step = crate::step(&timeline.policy, &snapshot, &event);
        step.write.expect("recorded").claims[0].slot.clone()
    };
    let first = slot_of(&timeline);
    assert_eq!(
        slot_of(&timeline),
        first,
        "a retry on the same state claims the same slot"
    );
    timeline.outbound(1.0, Outbound::FreeForm);
    let second = slot_of(&timeline);
    assert_ne!(
        second, first,
        "the next message at the same instant takes another slot"
    );
}

#[test]
fn an_account_with_a_billing_currency_is_priced_from_its_rows() {
    let rate = |literal: &str| rust_decimal::Decimal::from_str_exact(literal).unwrap();
    let row = |currency: &str, marketing: &str| crate::RateRow {
        market: "India".to_owned(),
        prefixes: vec!["91".to_owned()],
        currency: crate::Currency::new(currency).unwrap(),
        effective_from: Instant::EPOCH,
        marketing: rate(marketing),
        utility: rate("0.1"),
        authentication: rate("0.1"),
        service: rate("0.1"),
    };
    let other = crate::RateRow {
        market: crate::OTHER_MARKET.to_owned(),
        prefixes: Vec::new(),
        ..row("USD", "0.0604")
    };
    let card = crate::RateCard::builder()
        .card_row(row("INR", "0.8631"), true, Vec::new(), Vec::new())
        .row(row("USD", "0.0107"))
        .row(other)
        .build()
        .unwrap();
    let price = |currency: Option<&str>| {
        let mut timeline = Timeline::new();
        timeline.policy.rate_card = card.clone();
        timeline.facts.account = currency.map(|currency| {
            registered(Account {
                currency: Some(crate::Currency::new(currency).unwrap()),
                ..account()
            })
        });
        timeline
            .outbound(1.0, template(TemplateCategory::Marketing))
            .charge()
            .map(|charge| charge.price.to_string())
            .unwrap()
    };
    assert_eq!(price(None), "0.8631 INR", "no account: the market's default rows");
    assert_eq!(price(Some("USD")), "0.0107 USD", "a USD account: the USD rows");
    assert_eq!(price(Some("EUR")), "0.8631 INR", "no EUR rows: the default");
}
