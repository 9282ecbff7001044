//! The step: the whole decision about one event, as one pure function from what is known to what to
//! write.
//!
//! A store reads a [`Snapshot`] (the thread, the stored answer of the message id, and the counters that
//! [`counters_read`] names), [`step`] returns a [`Step`] (the answer, and the thread's next state with
//! the claims on shared counters it needs), and the store commits it atomically. A dry run is the same
//! `step` without the commit.

use crate::guards;
use crate::policy::Era;
use crate::rules::{self, decide, record_inbound};
use crate::tiers::Ladder;
use crate::{
    Category, Claim, CounterKey, CounterRead, Counters, Decision, Error, Facts, Inbound, Instant, Outbound,
    Policy, Prediction, ThreadKey, ThreadState,
};

/// A message from the customer or from the business.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Inbound(Inbound),
    Outbound(Outbound),
}

/// A message of a thread at an instant: what a step decides about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub thread: ThreadKey,
    /// The event time, validated (`validate_at`).
    pub at: Instant,
    pub message: Message,
}

/// Everything a step reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub thread: ThreadState,
    /// The answer already recorded for the event's message id, if any.
    pub prior: Option<Answer>,
    /// The counters that `counters_read` names for the event and this thread.
    pub counters: Counters,
    /// What the guards read of the registry and of consent.
    pub facts: Facts,
}

/// The answer to a recorded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The decision of an outbound message; none for an inbound one.
    pub decision: Option<Decision>,
    /// Whether the message id had been recorded before; the answer then repeats the first one.
    pub duplicate: bool,
}

/// Everything a step writes: its answer, and what to persist with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub answer: Answer,
    /// None when nothing is recorded: a duplicate, or a denied outbound message.
    pub write: Option<Write>,
}

/// What a recorded step persists, atomically with its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The thread's next state.
    pub thread: ThreadState,
    /// The slots the step takes on shared counters. The step holds only if every claim does.
    pub claims: Vec<Claim>,
    /// What an allowed outbound message is predicted to cost, kept for reconciliation with what Meta
    /// reports (`delivery.rs`); none for an inbound message.
    pub prediction: Option<Prediction>,
}

/// Checks that `event` can be priced: an outbound message at an instant before the rate card's first
/// row would otherwise be priced at rates that were not yet in force. Inbound messages are never
/// priced, so any instant will do for them.
pub fn check_priced(policy: &Policy, event: &Event) -> Result<(), Error> {
    let first = policy.rate_card.first_effective_from();
    match &event.message {
        Message::Outbound(_) if event.at < first => Err(Error::invalid(
            "at",
            format!(
                "{} is before {first}, the first instant the rate card prices: an outbound message must \
                 be at or after it",
                event.at
            ),
        )),
        Message::Outbound(_) | Message::Inbound(_) => Ok(()),
    }
}

/// Returns the counters a step for `event` reads, given the thread's current state.
///
/// A store reads them with the thread. It cannot know the thread before it reads it, so it may first
/// ask with an empty state (which decides at the event's own instant) and read what is missing after:
/// a decision reads a counter only if this names it.
pub fn counters_read(
    policy: &Policy,
    facts: &Facts,
    event: &Event,
    thread: &ThreadState,
) -> Vec<CounterRead> {
    let Message::Outbound(message) = &event.message else {
        return Vec::new();
    };
    let instant = thread.decision_instant(event.at);
    let local = facts.time_zone().wall_clock(instant);
    let era = policy.era_at(local);
    let mut reads = Vec::new();
    // Only a free-form message can open a service conversation, the one kind the free tier counts, or
    // be a service message, the one kind the free service messages count.
    if matches!(message, Outbound::FreeForm) {
        match era {
            Era::ConversationWithFreeTier => {
                reads.push(free_tier_counter(facts, &event.thread, instant).into());
            }
            Era::PerMessagePaidService => {
                reads.push(service_messages_counter(facts, &event.thread, instant).into());
            }
            Era::ConversationServiceFree | Era::PerMessage => {}
        }
    }
    // A charge in the account's billing currency counts in its spend (guard 8), unless the message
    // cannot be charged: a free-form message where service is free.
    let free = matches!(message, Outbound::FreeForm)
        && matches!(era, Era::ConversationServiceFree | Era::PerMessage);
    if let Some(counter) = guards::spend_counter(facts, instant)
        && !free
    {
        reads.push(counter.into());
    }
    // A template of a category with a volume ladder reads the ladder's bounded tiers, with the category
    // the registry gives it (guard 1). Only utility and authentication have ladders: the rate card is
    // looked up for those alone.
    if matches!(era, Era::PerMessage | Era::PerMessagePaidService)
        && let Outbound::Template(template) = message
        && let category = Category::from(guards::template_category(facts, template, instant))
        && matches!(category, Category::Utility | Category::Authentication)
    {
        let row = rules::rates(policy, facts, &event.thread, local);
        if let Some(ladder) = Ladder::of(policy, facts, &event.thread, row, category, instant) {
            reads.extend(ladder.counters().map(CounterRead::from));
        }
    }
    // Only a message outside a customer service window counts for the messaging limit.
    if let Some(counter) = guards::messaging_limit_counter(facts)
        && thread.customer_service_window_end(instant).is_none()
    {
        reads.push(CounterRead {
            counter,
            window: Some((instant, event.thread.customer_id.as_str().to_owned())),
        });
    }
    reads
}

/// Decides `event` over `snapshot`: the answer, and what to write.
///
/// A message id already answered gets that answer again, marked duplicate, and writes nothing. The
/// answer is the same whether the caller commits the step or only asks (`Decision::into_dry_run`).
pub fn step(policy: &Policy, snapshot: &Snapshot, event: &Event) -> Step {
    let mut step = dry_step(policy, snapshot, event);
    if let (Message::Outbound(outbound), Some(write), Some(charge)) = (
        &event.message,
        &mut step.write,
        step.answer.decision.as_ref().and_then(Decision::charge),
    ) {
        let account = match &snapshot.facts.account {
            Some(registered) => registered.id.clone(),
            None => event.thread.unregistered_account(),
        };
        let local = snapshot.facts.time_zone().wall_clock(event.at);
        let market = policy
            .rate_card
            .market_at(&event.thread.customer_id, local)
            .to_owned();
        // Usage counts the message in the day of the account's zone as it is now, at the message; a
        // later change of zone does not move it.
        let usage_day = snapshot.facts.time_zone().day_of(event.at);
        write.prediction = Some(Prediction::new(
            account, market, event.at, usage_day, outbound, charge,
        ));
    }
    step
}

/// Decides `event` over `snapshot` as [`step`] does, without the prediction of what an allowed
/// outbound message costs (`Write::prediction`, none here): what a dry run needs (`Authorize`,
/// `AuthorizeBatch`), which records nothing. The answer, the next state and the claims are `step`'s.
pub fn dry_step(policy: &Policy, snapshot: &Snapshot, event: &Event) -> Step {
    if let Some(prior) = &snapshot.prior {
        return Step {
            answer: Answer {
                duplicate: true,
                ..prior.clone()
            },
            write: None,
        };
    }
    match &event.message {
        Message::Inbound(inbound) => Step {
            answer: Answer {
                decision: None,
                duplicate: false,
            },
            write: Some(Write {
                thread: record_inbound(&snapshot.thread, inbound, event.at),
                claims: Vec::new(),
                prediction: None,
            }),
        },
        Message::Outbound(outbound) => {
            let (decision, write) = decide(policy, snapshot, &event.thread, outbound, event.at);
            Step {
                answer: Answer {
                    decision: Some(decision),
                    duplicate: false,
                },
                write,
            }
        }
    }
}

/// Returns the counter of free service messages a service message sent at `instant` counts against:
/// its business phone number's, for the calendar month of `instant` in the account's zone.
pub(crate) fn service_messages_counter(facts: &Facts, thread: &ThreadKey, instant: Instant) -> CounterKey {
    CounterKey::ServiceMessages {
        business: thread.business_id.clone(),
        month: facts.time_zone().wall_clock(instant).utc_month(),
    }
}

/// Returns the free-tier counter a service conversation opened at `instant` counts against: the
/// account's, for the calendar month of `instant` in the account's zone.
pub(crate) fn free_tier_counter(facts: &Facts, thread: &ThreadKey, instant: Instant) -> CounterKey {
    let account = match &facts.account {
        Some(registered) => registered.id.clone(),
        None => thread.unregistered_account(),
    };
    CounterKey::FreeTier {
        account,
        month: facts.time_zone().wall_clock(instant).utc_month(),
    }
}
