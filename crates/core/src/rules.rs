//! The rules of docs/SPEC.md sections 2 to 6 as functions over values: record an inbound message, decide an
//! outbound one, and describe a thread at an instant. No clock, no I/O: every instant is passed in.
//! `step` is the one way in for recording and dry runs; `view` describes a thread.

use uuid::Uuid;

use crate::guards::{self, Guard};
use crate::policy::Era;
use crate::registry::Facts;
use crate::step::{free_tier_counter, service_messages_counter};
use crate::thread::ResponseWindow;
use crate::tiers::{self, Ladder};
use crate::{
    Category, Charge, Claim, Conversation, Decision, Duration, Error, Inbound, Instant, MarketingCap, Money,
    Outbound, Policy, PricingModel, PricingType, RateRow, Snapshot, Span, ThreadKey, ThreadState, ThreadView,
    Verdict, Write,
};

/// The customer service window a customer message opens.
pub const CUSTOMER_SERVICE_WINDOW: Duration = Duration::hours(24);
/// The length of a conversation.
pub const CONVERSATION: Duration = Duration::hours(24);
/// The free-entry-point response window an entry-point message opens.
pub const RESPONSE_WINDOW: Duration = Duration::hours(24);
/// The length of a free entry point conversation.
pub const FREE_ENTRY_POINT_CONVERSATION: Duration = Duration::hours(72);

/// The namespace of conversation ids (UUID v5), so that every replica names a conversation alike.
const CONVERSATION_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a7e_93d4_4b0a_9c55_1d2e_8f3a_b7c1);

/// Checks an event time against the server clock: at most `max_skew` ahead of `now`.
pub fn validate_at(at: Instant, now: Instant, max_skew: Duration) -> Result<Instant, Error> {
    if at < Instant::EPOCH {
        return Err(Error::invalid(
            "at",
            format!("must not be before 1970-01-01, got {at}"),
        ));
    }
    if at > now.plus(max_skew) {
        return Err(Error::invalid(
            "at",
            format!(
                "{at} is more than {} s ahead of the server clock ({now})",
                max_skew.as_millis() / 1_000
            ),
        ));
    }
    Ok(at)
}

/// Returns the thread's state after an inbound message at `at`.
///
/// The message opens or widens the customer service window `[at, at+24h)` (a late message counts for
/// the time it was sent), and an entry-point message from a mobile client opens a response window.
pub(crate) fn record_inbound(state: &ThreadState, inbound: &Inbound, at: Instant) -> ThreadState {
    let mut next = state.clone();
    next.add_customer_service_span(Span::starting_at(at, CUSTOMER_SERVICE_WINDOW));
    if inbound.opens_response_window() {
        next.parts_mut().response_windows.push(ResponseWindow {
            span: Span::starting_at(at, RESPONSE_WINDOW),
            used: false,
        });
    }
    next.observe(at);
    next
}

/// Decides an outbound message at `at` for a thread in `snapshot`: the decision, and what recording it
/// writes (none when it is denied, which records nothing).
pub(crate) fn decide(
    policy: &Policy,
    snapshot: &Snapshot,
    thread: &ThreadKey,
    message: &Outbound,
    at: Instant,
) -> (Decision, Option<Write>) {
    let state = &snapshot.thread;
    let instant = state.decision_instant(at);
    let window_end = state.customer_service_window_end(instant);
    let checked = guards::check(&policy.shadow, snapshot, thread, message, instant, window_end);
    let shadow_deny_reason = checked.shadow;
    let checked_claims = checked.claims;
    let message = match checked.verdict {
        Ok(message) => message,
        Err(denial) => {
            let decision = Decision {
                verdict: Verdict::Denied {
                    reason: denial.reason,
                    explanation: denial.explanation,
                },
                customer_service_window_expires_at: window_end,
                shadow_deny_reason,
            };
            return (decision, None);
        }
    };
    let message = &message;

    // Calendar rules (eras, rate-card dates, the free tier's month) follow the account's zone.
    let local = snapshot.facts.time_zone().wall_clock(instant);
    let era = policy.era_at(local);
    let pricing_model = match era {
        Era::ConversationWithFreeTier | Era::ConversationServiceFree => PricingModel::Conversation,
        Era::PerMessage | Era::PerMessagePaidService => PricingModel::PerMessage,
    };
    let rates = rates(policy, &snapshot.facts, thread, local);
    let zero = Money::zero(rates.currency);
    let mut next = state.clone();
    next.parts_mut().last_outbound_at = Some(instant);
    if let Some(cap) = marketing_cap(snapshot)
        && guards::counts_for_marketing_cap(message, window_end)
    {
        next.parts_mut()
            .marketing_sent
            .push(Span::starting_at(instant, cap.window));
    }
    // Named only for a free-form message that may open a conversation in the free tier.
    let free_tier = || free_tier_counter(&snapshot.facts, thread, instant);
    let mut claims = checked_claims;

    let charge = if let Some(free_entry_point) = state.open_conversation(Category::FreeEntryPoint, instant) {
        attribute(pricing_model, free_entry_point, zero)
    } else if state.unused_response_window_end(instant).is_some() {
        open_free_entry_point(&mut next, thread, instant, pricing_model, zero)
    } else {
        match (era, message) {
            (Era::PerMessage, _) => {
                charge_per_message(message, window_end.is_some(), rates.price_of(message), zero)
            }
            // Templates pay their rate inside a window too; a service message is free while its business
            // has free ones left this month, each taking a slot named by its thread, instant and number.
            (Era::PerMessagePaidService, Outbound::Template(_)) => {
                charge_per_message(message, false, rates.price_of(message), zero)
            }
            (Era::PerMessagePaidService, Outbound::FreeForm) => {
                let counter = service_messages_counter(&snapshot.facts, thread, instant);
                let ordinal = state.parts().service_messages;
                next.parts_mut().service_messages = ordinal + 1;
                if snapshot.counters.used(&counter) < u64::from(policy.free_service_messages) {
                    claims.push(Claim {
                        counter,
                        slot: format!("{}@{}#{ordinal}", thread.customer_id, instant.as_millis()),
                        limit: u64::from(policy.free_service_messages),
                        weight: 1,
                        window: None,
                    });
                    charge_per_message(message, true, zero, zero)
                } else {
                    service_message(rates.price(Category::Service))
                }
            }
            (_, Outbound::Template(template)) => {
                let category = Category::from(template.category);
                match state.open_conversation(category, instant) {
                    Some(conversation) => attribute(pricing_model, conversation, zero),
                    None => {
                        let price = rates.price(category);
                        open(
                            &mut next,
                            thread,
                            category,
                            instant,
                            PricingType::Regular,
                            true,
                            price,
                        )
                    }
                }
            }
            (_, Outbound::FreeForm) => match state.open_conversations(instant).first() {
                Some(oldest) => attribute(pricing_model, oldest, zero),
                None if era == Era::ConversationServiceFree => open(
                    &mut next,
                    thread,
                    Category::Service,
                    instant,
                    PricingType::FreeCustomerService,
                    false,
                    zero,
                ),
                None if snapshot.counters.used(&free_tier()) < u64::from(policy.free_tier_conversations) => {
                    let charge = open(
                        &mut next,
                        thread,
                        Category::Service,
                        instant,
                        PricingType::FreeTier,
                        true,
                        zero,
                    );
                    if let Some(conversation) = &charge.conversation {
                        claims.push(Claim {
                            counter: free_tier(),
                            slot: conversation.id.clone(),
                            limit: u64::from(policy.free_tier_conversations),
                            weight: 1,
                            window: None,
                        });
                    }
                    charge
                }
                None => {
                    let price = rates.price(Category::Service);
                    open(
                        &mut next,
                        thread,
                        Category::Service,
                        instant,
                        PricingType::Regular,
                        true,
                        price,
                    )
                }
            },
        }
    };
    // A charged message's number in the thread names its slots of volume tiers and of the spend.
    let ordinal = state.parts().charged;
    let slot = || format!("{}@{}#{ordinal}", thread.customer_id, instant.as_millis());
    let mut charge = charge;
    let mut counted = false;
    if charge.pricing_model == PricingModel::PerMessage
        && charge.billable
        && let Some(ladder) = Ladder::of(policy, &snapshot.facts, thread, rates, charge.category, instant)
    {
        let rung = ladder.rung(&snapshot.counters);
        charge.price = tiers::price(rates, &rung);
        charge.tier = Some(rung.number);
        if let Some((counter, width)) = rung.bounded {
            claims.push(Claim {
                counter,
                slot: slot(),
                limit: width,
                weight: 1,
                window: None,
            });
            counted = true;
        }
    }
    let mut shadow_deny_reason = shadow_deny_reason;
    let spending = guards::budget(&snapshot.facts, &snapshot.counters, &charge.price, instant, slot);
    if let Some(denial) = spending.denial {
        if !policy.shadow.contains(&Guard::Budget) {
            let decision = Decision {
                verdict: Verdict::Denied {
                    reason: denial.reason,
                    explanation: denial.explanation,
                },
                customer_service_window_expires_at: window_end,
                shadow_deny_reason,
            };
            return (decision, None);
        }
        shadow_deny_reason.get_or_insert(denial.reason);
    }
    if let Some(claim) = spending.claim {
        claims.push(claim);
        counted = true;
    }
    if counted {
        next.parts_mut().charged = ordinal + 1;
    }
    next.observe(instant);
    let decision = Decision {
        verdict: Verdict::Allowed(charge),
        customer_service_window_expires_at: window_end,
        shadow_deny_reason,
    };
    (
        decision,
        Some(Write {
            thread: next,
            claims,
            prediction: None,
        }),
    )
}

/// Returns the rate card row a message to the thread's customer is priced from at `local` (the wall
/// clock of the account's zone): an account with a billing currency is priced from its market's rows
/// in that currency, where the card has them; else, and for a business with no account, from the
/// market's default rows.
pub(crate) fn rates<'a>(
    policy: &'a Policy,
    facts: &Facts,
    thread: &ThreadKey,
    local: Instant,
) -> &'a RateRow {
    facts
        .account
        .as_ref()
        .and_then(|registered| registered.account.currency)
        .and_then(|currency| policy.rate_card.rates_in(&thread.customer_id, local, currency))
        .unwrap_or_else(|| policy.rate_card.rates_for(&thread.customer_id, local))
}

/// Returns the marketing cap of the message's account, if it has one.
fn marketing_cap(snapshot: &Snapshot) -> Option<MarketingCap> {
    snapshot.facts.account.as_ref()?.account.marketing_cap
}

/// Describes a thread at `at`: its open conversations, its customer service window, and the deadline
/// of an unused free-entry-point response window.
pub fn view(state: &ThreadState, at: Instant) -> ThreadView {
    let conversations: Vec<Conversation> = state.open_conversations(at).into_iter().cloned().collect();
    let free_entry_point_open = conversations
        .iter()
        .any(|conversation| conversation.category == Category::FreeEntryPoint);
    ThreadView {
        customer_service_window_expires_at: state.customer_service_window_end(at),
        free_entry_point_deadline: if free_entry_point_open {
            None
        } else {
            state.unused_response_window_end(at)
        },
        conversations,
    }
}

/// Returns the charge of a message that falls in an open conversation: nothing added to the bill, and
/// the conversation's category, pricing type and billability, as Meta's status webhooks report them.
fn attribute(pricing_model: PricingModel, conversation: &Conversation, zero: Money) -> Charge {
    Charge {
        pricing_model,
        pricing_type: conversation.pricing_type,
        billable: conversation.billable,
        category: conversation.category,
        price: zero,
        opens_conversation: false,
        conversation: Some(conversation.clone()),
        tier: None,
    }
}

/// Opens a conversation of `category` at `at` in `next` and returns its charge.
fn open(
    next: &mut ThreadState,
    thread: &ThreadKey,
    category: Category,
    at: Instant,
    pricing_type: PricingType,
    billable: bool,
    price: Money,
) -> Charge {
    let length = if category == Category::FreeEntryPoint {
        FREE_ENTRY_POINT_CONVERSATION
    } else {
        CONVERSATION
    };
    let conversation = Conversation {
        id: conversation_id(thread, category, at),
        category,
        opened_at: at,
        expires_at: at.plus(length),
        closed_at: None,
        pricing_type,
        billable,
    };
    next.parts_mut().conversations.push(conversation.clone());
    Charge {
        pricing_model: PricingModel::Conversation,
        pricing_type,
        billable,
        category,
        price,
        opens_conversation: true,
        conversation: Some(conversation),
        tier: None,
    }
}

/// Opens the free entry point conversation at `at`: it uses every unused response window open at `at`,
/// and closes every other open conversation there (their charges stand).
fn open_free_entry_point(
    next: &mut ThreadState,
    thread: &ThreadKey,
    at: Instant,
    pricing_model: PricingModel,
    zero: Money,
) -> Charge {
    let parts = next.parts_mut();
    for window in parts
        .response_windows
        .iter_mut()
        .filter(|window| window.span.contains(at))
    {
        window.used = true;
    }
    for conversation in parts
        .conversations
        .iter_mut()
        .filter(|conversation| conversation.is_open_at(at))
    {
        conversation.closed_at = Some(at);
    }
    let charge = open(
        next,
        thread,
        Category::FreeEntryPoint,
        at,
        PricingType::FreeEntryPoint,
        false,
        zero,
    );
    Charge {
        pricing_model,
        ..charge
    }
}

/// Returns the charge of a message under per-message pricing outside a free entry point conversation:
/// templates pay their category's rate, except utility templates inside an open customer service
/// window; non-template messages are free.
fn charge_per_message(message: &Outbound, window_open: bool, price: Money, zero: Money) -> Charge {
    let (category, pricing_type, billable, price) = match message {
        Outbound::FreeForm => (Category::Service, PricingType::FreeCustomerService, false, zero),
        Outbound::Template(template) => match Category::from(template.category) {
            Category::Utility if window_open => {
                (Category::Utility, PricingType::FreeCustomerService, false, zero)
            }
            category => (category, PricingType::Regular, true, price),
        },
    };
    Charge {
        pricing_model: PricingModel::PerMessage,
        pricing_type,
        billable,
        category,
        price,
        opens_conversation: false,
        conversation: None,
        tier: None,
    }
}

/// Returns the charge of a service message past its business's free ones of the month: the market's
/// service rate.
fn service_message(price: Money) -> Charge {
    Charge {
        pricing_model: PricingModel::PerMessage,
        pricing_type: PricingType::Regular,
        billable: true,
        category: Category::Service,
        price,
        opens_conversation: false,
        conversation: None,
        tier: None,
    }
}

/// Returns the id of the conversation of `category` that a thread opens at `at`: a UUID v5, the same
/// on every replica and on every retry.
fn conversation_id(thread: &ThreadKey, category: Category, at: Instant) -> String {
    let name = format!(
        "{}/{}/{:?}/{}",
        thread.business_id,
        thread.customer_id,
        category,
        at.as_millis()
    );
    Uuid::new_v5(&CONVERSATION_ID_NAMESPACE, name.as_bytes()).to_string()
}
