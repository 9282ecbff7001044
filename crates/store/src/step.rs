//! The decide-and-record step every backend runs inside its atomic unit, and the values it exchanges.

use hourglass_core::{
    Decision, Inbound, Instant, MessageId, Month, Outbound, Policy, ThreadKey, ThreadState, decide,
    record_inbound,
};

/// An inbound or outbound message to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageKind {
    Inbound(Inbound),
    Outbound(Outbound),
}

/// A message to record, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub message_id: MessageId,
    pub thread: ThreadKey,
    /// The event time.
    pub at: Instant,
    pub message: MessageKind,
    /// The server clock when the record arrives; retention is counted from it, never decisions.
    pub now: Instant,
}

/// What a store knows of a thread before deciding.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub state: ThreadState,
    /// Free-tier slots the thread's account has taken in the month of the decision.
    pub free_tier_used: u32,
}

/// The answer to `RecordMessage`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// The decision of an outbound message; none for an inbound one.
    pub decision: Option<Decision>,
    /// Whether the message id had been recorded before; the answer then repeats the first one.
    pub duplicate: bool,
}

/// What one step changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub answer: Answer,
    /// The thread's new state; none when nothing is recorded (a denied outbound message).
    pub next: Option<ThreadState>,
    /// The month of the account's free-tier counter to increment.
    pub free_tier_claim: Option<Month>,
}

/// Applies a message to a snapshot with the rules of `hourglass_core`.
pub fn apply(policy: &Policy, record: &Record, snapshot: &Snapshot) -> Step {
    match &record.message {
        MessageKind::Inbound(inbound) => Step {
            answer: Answer {
                decision: None,
                duplicate: false,
            },
            next: Some(record_inbound(&snapshot.state, inbound, record.at)),
            free_tier_claim: None,
        },
        MessageKind::Outbound(outbound) => {
            let outcome = decide(
                policy,
                &record.thread,
                &snapshot.state,
                outbound,
                record.at,
                snapshot.free_tier_used,
            );
            Step {
                answer: Answer {
                    decision: Some(outcome.decision),
                    duplicate: false,
                },
                next: outcome.next,
                free_tier_claim: outcome.free_tier_claim,
            }
        }
    }
}
