//! The stored format: versioned serde mirrors of the core's thread state, answers and counters, encoded
//! as JSON.
//!
//! `hourglass_core` derives no serde, so that the rules never depend on how they are stored. Every
//! record carries a `"version"` tag; a new layout adds a variant next to `V1` and a golden file under
//! `testdata/`, and old records keep decoding. Instants are whole milliseconds since the Unix epoch,
//! money is a decimal string with its currency code, and enum values are spelled as in the API
//! (`MARKETING`, `FREE_TIER`). `keep_until` is the server-clock instant after which a sweeping backend
//! may delete the record; backends that expire records by TTL leave it out.

use std::str::FromStr;

use hourglass_core::{
    Answer, Category, Charge, Conversation, Currency, CustomerId, Decision, DenyReason, Instant, Money,
    PricingModel, PricingType, ResponseWindow, Span, ThreadParts, ThreadState, Verdict,
};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Error, Version};

/// A thread's state as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version")]
pub enum ThreadRecord {
    #[serde(rename = "1")]
    V1(ThreadV1),
}

/// A free-tier counter as stored: the slots an account has taken in one calendar month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version")]
pub enum CounterRecord {
    #[serde(rename = "1")]
    V1(CounterV1),
}

/// The answer to a recorded message as stored, so that a duplicate can repeat it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version")]
pub enum AnswerRecord {
    #[serde(rename = "1")]
    V1(AnswerV1),
}

/// Version 1 of a thread record: the fields of `ThreadParts`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadV1 {
    /// The thread's `Version`, for backends that keep it in the record (sled); 0 is left out.
    #[serde(default, skip_serializing_if = "is_zero")]
    revision: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keep_until: Option<i64>,
    /// Stretches of the customer service window, `[start, end)`.
    customer_service: Vec<SpanV1>,
    response_windows: Vec<ResponseWindowV1>,
    conversations: Vec<ConversationV1>,
    #[serde(default)]
    last_outbound_at: Option<i64>,
    #[serde(default)]
    latest_event_at: Option<i64>,
    /// Marketing templates counted by a marketing cap, each `[sent, end of the cap's window)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    marketing_sent: Vec<SpanV1>,
    /// Service messages sent under paid service pricing (`ThreadParts::service_messages`).
    #[serde(default, skip_serializing_if = "is_zero")]
    service_messages: u64,
    /// Messages that took a slot of a volume tier or of the account's spend (`ThreadParts::charged`).
    #[serde(default, skip_serializing_if = "is_zero")]
    charged: u64,
    /// The customer id a linked id's emptied thread leads to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    moved_to: Option<String>,
}

/// Version 1 of a free-tier counter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterV1 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keep_until: Option<i64>,
    used: u64,
    /// For one slot of a windowed counter (a backend that keeps each slot as a record): the event-time
    /// instant its window ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    until: Option<i64>,
}

/// Version 1 of an answer: the decision of an outbound message, none for an inbound one. Whether an
/// answer is a duplicate is not stored: a stored answer is always the first one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerV1 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    keep_until: Option<i64>,
    decision: Option<DecisionV1>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct SpanV1 {
    start: i64,
    end: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct ResponseWindowV1 {
    start: i64,
    end: i64,
    used: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct ConversationV1 {
    id: String,
    category: CategoryV1,
    opened_at: i64,
    expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    closed_at: Option<i64>,
    pricing_type: PricingTypeV1,
    billable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct DecisionV1 {
    verdict: VerdictV1,
    customer_service_window_expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shadow_deny_reason: Option<DenyReasonV1>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE")]
enum VerdictV1 {
    Allowed {
        charge: ChargeV1,
    },
    Denied {
        reason: DenyReasonV1,
        explanation: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct ChargeV1 {
    pricing_model: PricingModelV1,
    pricing_type: PricingTypeV1,
    billable: bool,
    category: CategoryV1,
    price: MoneyV1,
    opens_conversation: bool,
    conversation: Option<ConversationV1>,
    /// The volume tier the price comes from (`Charge::tier`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tier: Option<u32>,
}

/// An exact amount: `amount` is a decimal string such as `"0.8147"`, never a float.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct MoneyV1 {
    amount: String,
    currency: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum CategoryV1 {
    Marketing,
    Utility,
    Authentication,
    Service,
    FreeEntryPoint,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum PricingTypeV1 {
    Regular,
    FreeTier,
    FreeEntryPoint,
    FreeCustomerService,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum PricingModelV1 {
    Conversation,
    PerMessage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum DenyReasonV1 {
    TemplateNotApproved,
    TemplatePaused,
    TemplateDisabled,
    OutsideCustomerServiceWindow,
    CustomerOptedOut,
    NoOptIn,
    MarketingStopped,
    MarketingLimit,
    MessagingLimit,
    BudgetExceeded,
}

/// Encodes a record as compact JSON, the bytes a backend stores.
pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    // The records hold strings, integers, booleans and enums with string names only: serialising them
    // into memory cannot fail.
    serde_json::to_vec(record).expect("store records always serialise to JSON")
}

/// Decodes a record that a backend read back; `what` names it in the error (for example the key).
pub fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|error| Error::corrupt(format!("cannot decode {what}: {error}")))
}

/// What a writer needs of a stored thread to commit over it, read without decoding the state: its
/// version and keep-until. Every layout of `ThreadRecord` has both fields under these names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub struct ThreadHeader {
    #[serde(default)]
    revision: u64,
    #[serde(default)]
    keep_until: Option<i64>,
}

impl ThreadHeader {
    pub fn version(&self) -> Version {
        Version(self.revision)
    }

    pub fn keep_until(&self) -> Option<Instant> {
        self.keep_until.map(Instant::from_millis)
    }
}

fn is_zero(revision: &u64) -> bool {
    *revision == 0
}

impl ThreadRecord {
    /// Returns the current version of a thread's record. `version` is kept in the record unless it is
    /// `Version(0)`; a backend that keeps versions elsewhere passes that.
    pub fn new(state: &ThreadState, version: Version, keep_until: Option<Instant>) -> ThreadRecord {
        let parts = state.parts();
        ThreadRecord::V1(ThreadV1 {
            revision: version.0,
            keep_until: keep_until.map(Instant::as_millis),
            customer_service: parts
                .customer_service
                .iter()
                .map(|span| SpanV1::from(*span))
                .collect(),
            response_windows: parts
                .response_windows
                .iter()
                .map(|window| ResponseWindowV1 {
                    start: window.span.start.as_millis(),
                    end: window.span.end.as_millis(),
                    used: window.used,
                })
                .collect(),
            conversations: parts.conversations.iter().map(ConversationV1::from).collect(),
            last_outbound_at: parts.last_outbound_at.map(Instant::as_millis),
            latest_event_at: parts.latest_event_at.map(Instant::as_millis),
            marketing_sent: parts
                .marketing_sent
                .iter()
                .map(|span| SpanV1::from(*span))
                .collect(),
            service_messages: parts.service_messages,
            charged: parts.charged,
            moved_to: parts.moved_to.as_ref().map(|id| id.as_str().to_owned()),
        })
    }

    /// Returns the instant after which the record may be swept, if it carries one.
    pub fn keep_until(&self) -> Option<Instant> {
        match self {
            ThreadRecord::V1(v1) => v1.keep_until.map(Instant::from_millis),
        }
    }

    /// Returns the version the record carries (`Version(0)` when it carries none).
    pub fn version(&self) -> Version {
        match self {
            ThreadRecord::V1(v1) => Version(v1.revision),
        }
    }

    /// Returns the thread's state.
    pub fn into_state(self) -> ThreadState {
        match self {
            ThreadRecord::V1(v1) => ThreadState::from_parts(ThreadParts {
                customer_service: v1.customer_service.into_iter().map(Span::from).collect(),
                response_windows: v1
                    .response_windows
                    .into_iter()
                    .map(|window| ResponseWindow {
                        span: Span {
                            start: Instant::from_millis(window.start),
                            end: Instant::from_millis(window.end),
                        },
                        used: window.used,
                    })
                    .collect(),
                conversations: v1.conversations.into_iter().map(Conversation::from).collect(),
                last_outbound_at: v1.last_outbound_at.map(Instant::from_millis),
                latest_event_at: v1.latest_event_at.map(Instant::from_millis),
                marketing_sent: v1.marketing_sent.into_iter().map(Span::from).collect(),
                service_messages: v1.service_messages,
                charged: v1.charged,
                // A stored id was valid when it was written; one that no longer is leads nowhere.
                moved_to: v1.moved_to.and_then(|id| CustomerId::new(&id).ok()),
            }),
        }
    }
}

impl CounterRecord {
    /// Returns the current version of a counter's record.
    pub fn new(used: u64, keep_until: Option<Instant>) -> CounterRecord {
        CounterRecord::V1(CounterV1 {
            keep_until: keep_until.map(Instant::as_millis),
            used,
            until: None,
        })
    }

    /// Returns the record of one slot of a windowed counter, live until `until` (event time).
    pub fn slot(until: Instant, keep_until: Option<Instant>) -> CounterRecord {
        CounterRecord::V1(CounterV1 {
            keep_until: keep_until.map(Instant::as_millis),
            used: 1,
            until: Some(until.as_millis()),
        })
    }

    /// Returns when a windowed counter's slot stops being live; none for a whole counter's record.
    pub fn until(&self) -> Option<Instant> {
        match self {
            CounterRecord::V1(v1) => v1.until.map(Instant::from_millis),
        }
    }

    /// Returns the instant after which the record may be swept, if it carries one.
    pub fn keep_until(&self) -> Option<Instant> {
        match self {
            CounterRecord::V1(v1) => v1.keep_until.map(Instant::from_millis),
        }
    }

    /// Returns how many slots are taken.
    pub fn used(&self) -> u64 {
        match self {
            CounterRecord::V1(v1) => v1.used,
        }
    }
}

impl AnswerRecord {
    /// Returns the current version of an answer's record. The duplicate flag is not kept.
    pub fn new(answer: &Answer, keep_until: Option<Instant>) -> AnswerRecord {
        AnswerRecord::V1(AnswerV1 {
            keep_until: keep_until.map(Instant::as_millis),
            decision: answer.decision.as_ref().map(DecisionV1::from),
        })
    }

    /// Returns the instant after which the record may be swept, if it carries one.
    pub fn keep_until(&self) -> Option<Instant> {
        match self {
            AnswerRecord::V1(v1) => v1.keep_until.map(Instant::from_millis),
        }
    }

    /// Returns the stored answer, not marked duplicate; a malformed amount or currency is
    /// `Error::Corrupt`.
    pub fn into_answer(self) -> Result<Answer, Error> {
        match self {
            AnswerRecord::V1(v1) => {
                let decision = v1.decision.map(Decision::try_from).transpose()?;
                Ok(Answer {
                    decision,
                    duplicate: false,
                })
            }
        }
    }
}

impl From<Span> for SpanV1 {
    fn from(span: Span) -> SpanV1 {
        SpanV1 {
            start: span.start.as_millis(),
            end: span.end.as_millis(),
        }
    }
}

impl From<SpanV1> for Span {
    fn from(span: SpanV1) -> Span {
        Span {
            start: Instant::from_millis(span.start),
            end: Instant::from_millis(span.end),
        }
    }
}

impl From<&Conversation> for ConversationV1 {
    fn from(conversation: &Conversation) -> ConversationV1 {
        ConversationV1 {
            id: conversation.id.clone(),
            category: conversation.category.into(),
            opened_at: conversation.opened_at.as_millis(),
            expires_at: conversation.expires_at.as_millis(),
            closed_at: conversation.closed_at.map(Instant::as_millis),
            pricing_type: conversation.pricing_type.into(),
            billable: conversation.billable,
        }
    }
}

impl From<ConversationV1> for Conversation {
    fn from(conversation: ConversationV1) -> Conversation {
        Conversation {
            id: conversation.id,
            category: conversation.category.into(),
            opened_at: Instant::from_millis(conversation.opened_at),
            expires_at: Instant::from_millis(conversation.expires_at),
            closed_at: conversation.closed_at.map(Instant::from_millis),
            pricing_type: conversation.pricing_type.into(),
            billable: conversation.billable,
        }
    }
}

impl From<&Decision> for DecisionV1 {
    fn from(decision: &Decision) -> DecisionV1 {
        let verdict = match &decision.verdict {
            Verdict::Allowed(charge) => VerdictV1::Allowed {
                charge: ChargeV1::from(charge),
            },
            Verdict::Denied { reason, explanation } => VerdictV1::Denied {
                reason: (*reason).into(),
                explanation: explanation.clone(),
            },
        };
        DecisionV1 {
            verdict,
            customer_service_window_expires_at: decision
                .customer_service_window_expires_at
                .map(Instant::as_millis),
            shadow_deny_reason: decision.shadow_deny_reason.map(DenyReasonV1::from),
        }
    }
}

impl TryFrom<DecisionV1> for Decision {
    type Error = Error;

    fn try_from(decision: DecisionV1) -> Result<Decision, Error> {
        let verdict = match decision.verdict {
            VerdictV1::Allowed { charge } => Verdict::Allowed(Charge::try_from(charge)?),
            VerdictV1::Denied { reason, explanation } => Verdict::Denied {
                reason: reason.into(),
                explanation,
            },
        };
        Ok(Decision {
            verdict,
            customer_service_window_expires_at: decision
                .customer_service_window_expires_at
                .map(Instant::from_millis),
            shadow_deny_reason: decision.shadow_deny_reason.map(DenyReason::from),
        })
    }
}

impl From<&Charge> for ChargeV1 {
    fn from(charge: &Charge) -> ChargeV1 {
        ChargeV1 {
            pricing_model: charge.pricing_model.into(),
            pricing_type: charge.pricing_type.into(),
            billable: charge.billable,
            category: charge.category.into(),
            price: MoneyV1::from(&charge.price),
            opens_conversation: charge.opens_conversation,
            conversation: charge.conversation.as_ref().map(ConversationV1::from),
            tier: charge.tier,
        }
    }
}

impl TryFrom<ChargeV1> for Charge {
    type Error = Error;

    fn try_from(charge: ChargeV1) -> Result<Charge, Error> {
        Ok(Charge {
            pricing_model: charge.pricing_model.into(),
            pricing_type: charge.pricing_type.into(),
            billable: charge.billable,
            category: charge.category.into(),
            price: Money::try_from(charge.price)?,
            opens_conversation: charge.opens_conversation,
            conversation: charge.conversation.map(Conversation::from),
            tier: charge.tier,
        })
    }
}

impl From<&Money> for MoneyV1 {
    fn from(money: &Money) -> MoneyV1 {
        MoneyV1 {
            amount: money.amount.to_string(),
            currency: money.currency.to_string(),
        }
    }
}

impl TryFrom<MoneyV1> for Money {
    type Error = Error;

    fn try_from(money: MoneyV1) -> Result<Money, Error> {
        let currency = Currency::new(&money.currency)
            .map_err(|error| Error::corrupt(format!("stored price has a bad currency: {error}")))?;
        let amount = Decimal::from_str(&money.amount).map_err(|error| {
            Error::corrupt(format!(
                "stored price has a bad amount {:?}: {error}",
                money.amount
            ))
        })?;
        Ok(Money { currency, amount })
    }
}

/// Writes a pair of `From` conversions between a core enum and its stored mirror, variant by variant.
macro_rules! mirror_enum {
    ($core:ident <=> $stored:ident { $($variant:ident),* $(,)? }) => {
        impl From<$core> for $stored {
            fn from(value: $core) -> $stored {
                match value {
                    $($core::$variant => $stored::$variant,)*
                }
            }
        }

        impl From<$stored> for $core {
            fn from(value: $stored) -> $core {
                match value {
                    $($stored::$variant => $core::$variant,)*
                }
            }
        }
    };
}

mirror_enum!(Category <=> CategoryV1 { Marketing, Utility, Authentication, Service, FreeEntryPoint });
mirror_enum!(PricingType <=> PricingTypeV1 { Regular, FreeTier, FreeEntryPoint, FreeCustomerService });
mirror_enum!(PricingModel <=> PricingModelV1 { Conversation, PerMessage });
mirror_enum!(DenyReason <=> DenyReasonV1 {
    TemplateNotApproved,
    TemplatePaused,
    TemplateDisabled,
    OutsideCustomerServiceWindow,
    CustomerOptedOut,
    NoOptIn,
    MarketingStopped,
    MarketingLimit,
    MessagingLimit,
    BudgetExceeded,
});

pub mod delivery;
pub mod registry;
#[cfg(test)]
mod tests;
pub mod usage;
