//! Layout 2 of threads and answers: compact binary, `LAYOUT_2` then the record in postcard (serde's
//! data model as varints, with no field names and no tags but enum variant numbers).
//!
//! What makes it small, beside the absence of names: a thread's instants are differences from its
//! latest event (an answer's from zero), a difference or length that is a whole number of hours (the
//! 24 h and 72 h windows) is written in hours (`Delta`), a conversation id that is a UUID in its usual
//! lower-case text is its 16 bytes, and a price is its decimal mantissa and scale.
//!
//! Fields are never named, so the order of every field and of every enum's variants is the layout:
//! change nothing here, add a layout 3 instead. The golden files `testdata/*.v2.bin` pin it.
//! `ThreadWire` begins with the revision and the keep-until, which `ThreadHeader` reads alone.

use hourglass_core::{
    Answer, Charge, Conversation, Currency, CustomerId, Decision, Instant, Money, ResponseWindow, Span,
    ThreadParts, ThreadState, Verdict,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{CategoryV1, DenyReasonV1, PricingModelV1, PricingTypeV1};
use crate::Error;

/// The first byte of a layout 2 record. A JSON record (layout 1) begins with `{`.
pub(crate) const LAYOUT_2: u8 = 2;

const HOUR: i128 = 3_600_000;

/// A signed number of milliseconds, written as `2 × hours + 1` when it is whole hours and `2 × ms`
/// otherwise, so that the windows of 24 h and 72 h take one or two bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Delta(i128);

impl Serialize for Delta {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let ms = self.0;
        let packed = if ms % HOUR == 0 { ms / HOUR * 2 + 1 } else { ms * 2 };
        serializer.serialize_i128(packed)
    }
}

impl<'de> Deserialize<'de> for Delta {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Delta, D::Error> {
        let packed = i128::deserialize(deserializer)?;
        // A corrupt record may hold any number: one out of range saturates, and `instant` refuses it.
        let ms = if packed & 1 == 1 {
            ((packed - 1) / 2).saturating_mul(HOUR)
        } else {
            packed / 2
        };
        Ok(Delta(ms))
    }
}

/// The difference `to - from`, exact: both are `i64`.
fn delta(from: i64, to: Instant) -> Delta {
    Delta(i128::from(to.as_millis()) - i128::from(from))
}

/// The instant `delta` after `from`; one out of range is `Error::Corrupt`.
fn instant(what: &str, from: i64, delta: Delta) -> Result<Instant, Error> {
    i128::from(from)
        .checked_add(delta.0)
        .and_then(|millis| i64::try_from(millis).ok())
        .map(Instant::from_millis)
        .ok_or_else(|| Error::corrupt(format!("cannot decode {what}: an instant out of range")))
}

#[derive(Serialize, Deserialize)]
struct ThreadWire {
    revision: u64,
    keep_until: Option<i64>,
    /// The base of every other instant of the thread (0 when there is none).
    latest_event_at: Option<i64>,
    customer_service: Vec<SpanWire>,
    response_windows: Vec<WindowWire>,
    conversations: Vec<ConversationWire>,
    last_outbound_at: Option<Delta>,
    marketing_sent: Vec<SpanWire>,
    service_messages: u64,
    charged: u64,
    moved_to: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct SpanWire {
    start: Delta,
    length: Delta,
}

#[derive(Serialize, Deserialize)]
struct WindowWire {
    span: SpanWire,
    used: bool,
}

#[derive(Serialize, Deserialize)]
struct ConversationWire {
    id: IdWire,
    category: CategoryV1,
    pricing_type: PricingTypeV1,
    billable: bool,
    opened_at: Delta,
    /// `expires_at - opened_at`.
    length: Delta,
    /// `closed_at - opened_at`.
    closed_after: Option<Delta>,
}

#[derive(Serialize, Deserialize)]
enum IdWire {
    /// A UUID whose text is the usual lower-case hyphenated form (the ids the core makes).
    Uuid([u8; 16]),
    Text(String),
}

#[derive(Serialize, Deserialize)]
struct AnswerWire {
    keep_until: Option<i64>,
    decision: Option<DecisionWire>,
}

#[derive(Serialize, Deserialize)]
struct DecisionWire {
    verdict: VerdictWire,
    customer_service_window_expires_at: Option<i64>,
    shadow_deny_reason: Option<DenyReasonV1>,
}

#[derive(Serialize, Deserialize)]
enum VerdictWire {
    Allowed(ChargeWire),
    Denied {
        reason: DenyReasonV1,
        explanation: String,
    },
}

#[derive(Serialize, Deserialize)]
struct ChargeWire {
    pricing_model: PricingModelV1,
    pricing_type: PricingTypeV1,
    billable: bool,
    category: CategoryV1,
    price: MoneyWire,
    opens_conversation: bool,
    /// Its instants counted from zero.
    conversation: Option<ConversationWire>,
    tier: Option<u32>,
}

#[derive(Serialize, Deserialize)]
struct MoneyWire {
    mantissa: i128,
    scale: u32,
    currency: String,
}

fn to_bytes<T: Serialize>(record: &T) -> Vec<u8> {
    let mut bytes = vec![LAYOUT_2];
    // Integers, strings, byte arrays and enums of a fixed set: postcard cannot fail on them in memory.
    bytes.extend(postcard::to_allocvec(record).expect("store records always serialise"));
    bytes
}

fn from_bytes<'a, T: Deserialize<'a>>(what: &str, bytes: &'a [u8]) -> Result<T, Error> {
    let rest = bytes.get(1..).unwrap_or_default();
    match postcard::take_from_bytes::<T>(rest) {
        Ok((record, [])) => Ok(record),
        Ok((_, trailing)) => Err(Error::corrupt(format!(
            "cannot decode {what}: {} bytes after the record",
            trailing.len()
        ))),
        Err(error) => Err(Error::corrupt(format!("cannot decode {what}: {error}"))),
    }
}

/// Encodes a thread's state with its revision and keep-until.
pub(crate) fn encode_thread(state: &ThreadState, revision: u64, keep_until: Option<i64>) -> Vec<u8> {
    let parts = state.parts();
    let base = parts.latest_event_at.map_or(0, Instant::as_millis);
    let span = |span: &Span| SpanWire {
        start: delta(base, span.start),
        length: delta(span.start.as_millis(), span.end),
    };
    to_bytes(&ThreadWire {
        revision,
        keep_until,
        latest_event_at: parts.latest_event_at.map(Instant::as_millis),
        customer_service: parts.customer_service.iter().map(span).collect(),
        response_windows: parts
            .response_windows
            .iter()
            .map(|window| WindowWire {
                span: span(&window.span),
                used: window.used,
            })
            .collect(),
        conversations: parts
            .conversations
            .iter()
            .map(|conversation| conversation_wire(base, conversation))
            .collect(),
        last_outbound_at: parts.last_outbound_at.map(|at| delta(base, at)),
        marketing_sent: parts.marketing_sent.iter().map(span).collect(),
        service_messages: parts.service_messages,
        charged: parts.charged,
        moved_to: parts.moved_to.as_ref().map(|id| id.as_str().to_owned()),
    })
}

/// The first fields of a layout 2 thread: its revision and keep-until, read without the rest.
pub(crate) fn thread_header(what: &str, bytes: &[u8]) -> Result<(u64, Option<i64>), Error> {
    let rest = bytes.get(1..).unwrap_or_default();
    postcard::take_from_bytes::<(u64, Option<i64>)>(rest)
        .map(|(header, _)| header)
        .map_err(|error| Error::corrupt(format!("cannot decode {what}: {error}")))
}

/// Decodes a layout 2 thread: its revision, keep-until and state.
pub(crate) fn decode_thread(what: &str, bytes: &[u8]) -> Result<(u64, Option<i64>, ThreadState), Error> {
    let wire: ThreadWire = from_bytes(what, bytes)?;
    let base = wire.latest_event_at.unwrap_or(0);
    let span = |span: SpanWire| -> Result<Span, Error> {
        let start = instant(what, base, span.start)?;
        Ok(Span {
            start,
            end: instant(what, start.as_millis(), span.length)?,
        })
    };
    let parts = ThreadParts {
        customer_service: wire
            .customer_service
            .into_iter()
            .map(span)
            .collect::<Result<_, _>>()?,
        response_windows: wire
            .response_windows
            .into_iter()
            .map(|window| {
                Ok(ResponseWindow {
                    span: span(window.span)?,
                    used: window.used,
                })
            })
            .collect::<Result<_, Error>>()?,
        conversations: wire
            .conversations
            .into_iter()
            .map(|conversation| conversation_from_wire(what, base, conversation))
            .collect::<Result<_, _>>()?,
        last_outbound_at: wire
            .last_outbound_at
            .map(|at| instant(what, base, at))
            .transpose()?,
        latest_event_at: wire.latest_event_at.map(Instant::from_millis),
        marketing_sent: wire
            .marketing_sent
            .into_iter()
            .map(span)
            .collect::<Result<_, _>>()?,
        service_messages: wire.service_messages,
        charged: wire.charged,
        // A stored id was valid when it was written; one that no longer is leads nowhere.
        moved_to: wire.moved_to.and_then(|id| CustomerId::new(&id).ok()),
    };
    Ok((wire.revision, wire.keep_until, ThreadState::from_parts(parts)))
}

/// Encodes an answer's decision with its keep-until.
pub(crate) fn encode_answer(decision: Option<&Decision>, keep_until: Option<i64>) -> Vec<u8> {
    to_bytes(&AnswerWire {
        keep_until,
        decision: decision.map(decision_wire),
    })
}

/// Decodes a layout 2 answer: its keep-until and decision.
pub(crate) fn decode_answer(what: &str, bytes: &[u8]) -> Result<(Option<i64>, Answer), Error> {
    let wire: AnswerWire = from_bytes(what, bytes)?;
    let decision = wire
        .decision
        .map(|decision| decision_from_wire(what, decision))
        .transpose()?;
    Ok((
        wire.keep_until,
        Answer {
            decision,
            duplicate: false,
        },
    ))
}

fn conversation_wire(base: i64, conversation: &Conversation) -> ConversationWire {
    let id = match uuid::Uuid::try_parse(&conversation.id) {
        Ok(uuid) if uuid.hyphenated().to_string() == conversation.id => IdWire::Uuid(uuid.into_bytes()),
        _ => IdWire::Text(conversation.id.clone()),
    };
    let opened = conversation.opened_at.as_millis();
    ConversationWire {
        id,
        category: conversation.category.into(),
        pricing_type: conversation.pricing_type.into(),
        billable: conversation.billable,
        opened_at: delta(base, conversation.opened_at),
        length: delta(opened, conversation.expires_at),
        closed_after: conversation.closed_at.map(|at| delta(opened, at)),
    }
}

fn conversation_from_wire(what: &str, base: i64, wire: ConversationWire) -> Result<Conversation, Error> {
    let opened_at = instant(what, base, wire.opened_at)?;
    let opened = opened_at.as_millis();
    Ok(Conversation {
        id: match wire.id {
            IdWire::Uuid(bytes) => uuid::Uuid::from_bytes(bytes).hyphenated().to_string(),
            IdWire::Text(id) => id,
        },
        category: wire.category.into(),
        opened_at,
        expires_at: instant(what, opened, wire.length)?,
        closed_at: wire
            .closed_after
            .map(|after| instant(what, opened, after))
            .transpose()?,
        pricing_type: wire.pricing_type.into(),
        billable: wire.billable,
    })
}

fn decision_wire(decision: &Decision) -> DecisionWire {
    let verdict = match &decision.verdict {
        Verdict::Allowed(charge) => VerdictWire::Allowed(charge_wire(charge)),
        Verdict::Denied { reason, explanation } => VerdictWire::Denied {
            reason: (*reason).into(),
            explanation: explanation.clone(),
        },
    };
    DecisionWire {
        verdict,
        customer_service_window_expires_at: decision
            .customer_service_window_expires_at
            .map(Instant::as_millis),
        shadow_deny_reason: decision.shadow_deny_reason.map(DenyReasonV1::from),
    }
}

fn decision_from_wire(what: &str, wire: DecisionWire) -> Result<Decision, Error> {
    let verdict = match wire.verdict {
        VerdictWire::Allowed(charge) => Verdict::Allowed(charge_from_wire(what, charge)?),
        VerdictWire::Denied { reason, explanation } => Verdict::Denied {
            reason: reason.into(),
            explanation,
        },
    };
    Ok(Decision {
        verdict,
        customer_service_window_expires_at: wire.customer_service_window_expires_at.map(Instant::from_millis),
        shadow_deny_reason: wire.shadow_deny_reason.map(Into::into),
    })
}

fn charge_wire(charge: &Charge) -> ChargeWire {
    ChargeWire {
        pricing_model: charge.pricing_model.into(),
        pricing_type: charge.pricing_type.into(),
        billable: charge.billable,
        category: charge.category.into(),
        price: MoneyWire {
            mantissa: charge.price.amount.mantissa(),
            scale: charge.price.amount.scale(),
            currency: charge.price.currency.to_string(),
        },
        opens_conversation: charge.opens_conversation,
        conversation: charge
            .conversation
            .as_ref()
            .map(|conversation| conversation_wire(0, conversation)),
        tier: charge.tier,
    }
}

fn charge_from_wire(what: &str, wire: ChargeWire) -> Result<Charge, Error> {
    let currency = Currency::new(&wire.price.currency)
        .map_err(|error| Error::corrupt(format!("{what}: stored price has a bad currency: {error}")))?;
    let amount = Decimal::try_from_i128_with_scale(wire.price.mantissa, wire.price.scale)
        .map_err(|error| Error::corrupt(format!("{what}: stored price has a bad amount: {error}")))?;
    Ok(Charge {
        pricing_model: wire.pricing_model.into(),
        pricing_type: wire.pricing_type.into(),
        billable: wire.billable,
        category: wire.category.into(),
        price: Money { currency, amount },
        opens_conversation: wire.opens_conversation,
        conversation: wire
            .conversation
            .map(|conversation| conversation_from_wire(what, 0, conversation))
            .transpose()?,
        tier: wire.tier,
    })
}
