//! The stored format: versioned serde mirrors of the core's thread state, answers and counters.
//!
//! `hourglass_core` derives no serde, so that the rules never depend on how they are stored. Threads
//! and answers are written in layout 2, compact binary (`binary.rs`: a first byte `2`, then postcard);
//! layout 1, JSON (first byte `{`), is still read, so that databases and Redis data written before keep
//! working, and a record is rewritten in layout 2 by the next step that writes it. Counters, registry
//! entries, predictions and reports are JSON. Every JSON record carries a `"version"` tag; a new
//! layout adds a variant next to the others and a golden file under `testdata/`, and old records keep
//! decoding. Instants are whole milliseconds since the Unix epoch, money is a decimal string with its
//! currency code (in layout 2, its mantissa and scale), and enum values are spelled as in the API
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

/// A thread's state as stored: layout 1 (JSON), read only, or layout 2 (binary), which `new` makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ThreadRecord {
    V1(ThreadV1),
    V2(ThreadV2),
}

/// Layout 1 of a thread as its JSON is tagged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version")]
enum ThreadJson {
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

/// The answer to a recorded message as stored, so that a duplicate can repeat it: layout 1 (JSON), read
/// only, or layout 2 (binary), which `new` makes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerRecord {
    V1(AnswerV1),
    V2(AnswerV2),
}

/// Layout 1 of an answer as its JSON is tagged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version")]
enum AnswerJson {
    #[serde(rename = "1")]
    V1(AnswerV1),
}

/// Layout 2 of a thread record (`binary.rs`): the thread's version, keep-until and state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadV2 {
    revision: u64,
    keep_until: Option<i64>,
    state: ThreadState,
}

/// Layout 2 of an answer record (`binary.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerV2 {
    keep_until: Option<i64>,
    answer: Answer,
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

/// Encodes a JSON record (a counter, a registry entry, a prediction, a report) as compact JSON, the
/// bytes a backend stores. Threads and answers have their own `to_bytes`.
pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    // The records hold strings, integers, booleans and enums with string names only: serialising them
    // into memory cannot fail.
    serde_json::to_vec(record).expect("store records always serialise to JSON")
}

/// Decodes a JSON record that a backend read back; `what` names it in the error (for example the key).
pub fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|error| Error::corrupt(format!("cannot decode {what}: {error}")))
}

/// A kind of record as a backend reads it back from the bytes it stored; `what` names it in the error
/// (for example the key).
pub trait Record: Sized {
    fn from_bytes(what: &str, bytes: &[u8]) -> Result<Self, Error>;
}

/// The layouts a thread or an answer may be stored in, told by the first byte.
enum Layout {
    /// Layout 1: JSON, an object.
    Json,
    /// Layout 2: `binary::LAYOUT_2`, then postcard.
    Binary,
}

fn layout(what: &str, bytes: &[u8]) -> Result<Layout, Error> {
    match bytes.first() {
        Some(b'{') => Ok(Layout::Json),
        Some(&binary::LAYOUT_2) => Ok(Layout::Binary),
        Some(other) => Err(Error::corrupt(format!(
            "cannot decode {what}: unknown layout (first byte {other:#04x})"
        ))),
        None => Err(Error::corrupt(format!("cannot decode {what}: no bytes"))),
    }
}

/// What a writer needs of a stored thread to commit over it, read without decoding the state: its
/// version and keep-until. Every JSON layout of a thread has both fields under these names, and
/// layout 2 begins with them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadHeader {
    revision: u64,
    keep_until: Option<i64>,
}

#[derive(Deserialize)]
struct JsonHeader {
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

impl Record for ThreadHeader {
    fn from_bytes(what: &str, bytes: &[u8]) -> Result<ThreadHeader, Error> {
        let (revision, keep_until) = match layout(what, bytes)? {
            Layout::Json => {
                let header: JsonHeader = decode(what, bytes)?;
                (header.revision, header.keep_until)
            }
            Layout::Binary => binary::thread_header(what, bytes)?,
        };
        Ok(ThreadHeader { revision, keep_until })
    }
}

impl Record for ThreadRecord {
    fn from_bytes(what: &str, bytes: &[u8]) -> Result<ThreadRecord, Error> {
        match layout(what, bytes)? {
            Layout::Json => {
                let ThreadJson::V1(v1) = decode(what, bytes)?;
                Ok(ThreadRecord::V1(v1))
            }
            Layout::Binary => {
                let (revision, keep_until, state) = binary::decode_thread(what, bytes)?;
                Ok(ThreadRecord::V2(ThreadV2 {
                    revision,
                    keep_until,
                    state,
                }))
            }
        }
    }
}

impl Record for AnswerRecord {
    fn from_bytes(what: &str, bytes: &[u8]) -> Result<AnswerRecord, Error> {
        match layout(what, bytes)? {
            Layout::Json => {
                let AnswerJson::V1(v1) = decode(what, bytes)?;
                Ok(AnswerRecord::V1(v1))
            }
            Layout::Binary => {
                let (keep_until, answer) = binary::decode_answer(what, bytes)?;
                Ok(AnswerRecord::V2(AnswerV2 { keep_until, answer }))
            }
        }
    }
}

impl Record for CounterRecord {
    fn from_bytes(what: &str, bytes: &[u8]) -> Result<CounterRecord, Error> {
        decode(what, bytes)
    }
}

fn is_zero(revision: &u64) -> bool {
    *revision == 0
}

impl ThreadRecord {
    /// Returns the current layout of a thread's record. `version` is kept in the record unless it is
    /// `Version(0)`; a backend that keeps versions elsewhere passes that.
    pub fn new(state: &ThreadState, version: Version, keep_until: Option<Instant>) -> ThreadRecord {
        ThreadRecord::V2(ThreadV2 {
            revision: version.0,
            keep_until: keep_until.map(Instant::as_millis),
            state: state.clone(),
        })
    }

    /// Returns the bytes a backend stores: JSON for layout 1, binary for layout 2.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            ThreadRecord::V1(v1) => encode(&ThreadJson::V1(v1.clone())),
            ThreadRecord::V2(v2) => binary::encode_thread(&v2.state, v2.revision, v2.keep_until),
        }
    }

    /// Returns the instant after which the record may be swept, if it carries one.
    pub fn keep_until(&self) -> Option<Instant> {
        match self {
            ThreadRecord::V1(v1) => v1.keep_until.map(Instant::from_millis),
            ThreadRecord::V2(v2) => v2.keep_until.map(Instant::from_millis),
        }
    }

    /// Returns the version the record carries (`Version(0)` when it carries none).
    pub fn version(&self) -> Version {
        match self {
            ThreadRecord::V1(v1) => Version(v1.revision),
            ThreadRecord::V2(v2) => Version(v2.revision),
        }
    }

    /// Returns the thread's state.
    pub fn into_state(self) -> ThreadState {
        match self {
            ThreadRecord::V1(v1) => v1.into_state(),
            ThreadRecord::V2(v2) => v2.state,
        }
    }
}

impl ThreadV1 {
    /// Returns the layout 1 record of a state, as versions before layout 2 wrote it.
    #[cfg(test)]
    fn new(state: &ThreadState, version: Version, keep_until: Option<Instant>) -> ThreadV1 {
        let parts = state.parts();
        ThreadV1 {
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
        }
    }

    fn into_state(self) -> ThreadState {
        ThreadState::from_parts(ThreadParts {
            customer_service: self.customer_service.into_iter().map(Span::from).collect(),
            response_windows: self
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
            conversations: self.conversations.into_iter().map(Conversation::from).collect(),
            last_outbound_at: self.last_outbound_at.map(Instant::from_millis),
            latest_event_at: self.latest_event_at.map(Instant::from_millis),
            marketing_sent: self.marketing_sent.into_iter().map(Span::from).collect(),
            service_messages: self.service_messages,
            charged: self.charged,
            // A stored id was valid when it was written; one that no longer is leads nowhere.
            moved_to: self.moved_to.and_then(|id| CustomerId::new(&id).ok()),
        })
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
    /// Returns the current layout of an answer's record. The duplicate flag is not kept.
    pub fn new(answer: &Answer, keep_until: Option<Instant>) -> AnswerRecord {
        AnswerRecord::V2(AnswerV2 {
            keep_until: keep_until.map(Instant::as_millis),
            answer: Answer {
                decision: answer.decision.clone(),
                duplicate: false,
            },
        })
    }

    /// Returns the bytes a backend stores: JSON for layout 1, binary for layout 2.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            AnswerRecord::V1(v1) => encode(&AnswerJson::V1(v1.clone())),
            AnswerRecord::V2(v2) => binary::encode_answer(v2.answer.decision.as_ref(), v2.keep_until),
        }
    }

    /// Returns the instant after which the record may be swept, if it carries one.
    pub fn keep_until(&self) -> Option<Instant> {
        match self {
            AnswerRecord::V1(v1) => v1.keep_until.map(Instant::from_millis),
            AnswerRecord::V2(v2) => v2.keep_until.map(Instant::from_millis),
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
            AnswerRecord::V2(v2) => Ok(v2.answer),
        }
    }
}

impl AnswerV1 {
    /// Returns the layout 1 record of an answer, as versions before layout 2 wrote it.
    #[cfg(test)]
    fn new(answer: &Answer, keep_until: Option<Instant>) -> AnswerV1 {
        AnswerV1 {
            keep_until: keep_until.map(Instant::as_millis),
            decision: answer.decision.as_ref().map(DecisionV1::from),
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

mod binary;
pub mod delivery;
pub mod registry;
#[cfg(test)]
mod tests;
pub mod usage;
