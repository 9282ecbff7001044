//! The only module that knows protobuf: requests become validated core values, and core answers become
//! responses.
//!
//! Every protobuf message is destructured exhaustively, so a field added to the API does not compile
//! until it is handled here. Validation errors are `hourglass_core::Error`s naming the API field at
//! fault, such as `message.template.category`.

use std::collections::BTreeMap;

use hourglass_core::{
    Answer, BusinessId, Category, Charge, ClientPlatform, Conversation, CustomerId, Decision, DenyReason,
    Duration, EntryPoint, Error, Event, Inbound, Instant, Message, MessageId, Money, Outbound, PricingModel,
    PricingType, Template, TemplateCategory, ThreadKey, ThreadView, Verdict, validate_at,
};
use hourglass_proto::v1 as pb;
use hourglass_store::Entry;

/// The server clock at the arrival of a request, and how far ahead of it an event time may lie.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    pub now: Instant,
    pub max_skew: Duration,
}

impl Clock {
    /// Reads the system clock.
    pub fn system(max_skew: Duration) -> Clock {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let millis = i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX);
        Clock {
            now: Instant::from_millis(millis),
            max_skew,
        }
    }
}

/// A validated `ListOpenConversations` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ListOpenConversations {
    pub thread: ThreadKey,
    pub at: Instant,
}

/// The API field names of an `OutboundMessage`, which appears as `message` in `Authorize` and as
/// `outbound` in `RecordMessage`.
struct OutboundFields {
    message: &'static str,
    kind: &'static str,
    name: &'static str,
    category: &'static str,
}

const AUTHORIZE_MESSAGE: OutboundFields = OutboundFields {
    message: "message",
    kind: "message.kind",
    name: "message.template.name",
    category: "message.template.category",
};
const RECORD_OUTBOUND: OutboundFields = OutboundFields {
    message: "outbound",
    kind: "outbound.kind",
    name: "outbound.template.name",
    category: "outbound.template.category",
};

/// Validates an `Authorize` request into the event to decide; an absent `at` is the server clock.
pub(crate) fn authorize_from_proto(request: pb::AuthorizeRequest, clock: Clock) -> Result<Event, Error> {
    let pb::AuthorizeRequest {
        business_id,
        customer_id,
        message,
        at,
    } = request;
    let thread = thread_from_proto(&business_id, &customer_id)?;
    let at = instant_from_proto(at, clock)?;
    let message = message.ok_or_else(|| {
        Error::invalid(
            AUTHORIZE_MESSAGE.message,
            "must be set: give a `free_form` or a `template` message",
        )
    })?;
    let message = Message::Outbound(outbound_from_proto(message, &AUTHORIZE_MESSAGE)?);
    Ok(Event { thread, at, message })
}

/// The most customers one `AuthorizeBatch` decides.
pub(crate) const MAX_BATCH_CUSTOMERS: usize = 10_000;

/// Validates an `AuthorizeBatch` request into one event per customer, in order.
pub(crate) fn authorize_batch_from_proto(
    request: pb::AuthorizeBatchRequest,
    clock: Clock,
) -> Result<Vec<Event>, Error> {
    let pb::AuthorizeBatchRequest {
        business_id,
        message,
        at,
        customer_ids,
    } = request;
    if customer_ids.is_empty() || customer_ids.len() > MAX_BATCH_CUSTOMERS {
        return Err(Error::invalid(
            "customer_ids",
            format!(
                "must hold 1 to {MAX_BATCH_CUSTOMERS} customers, not {}",
                customer_ids.len()
            ),
        ));
    }
    let at = instant_from_proto(at, clock)?;
    let message = message.ok_or_else(|| {
        Error::invalid(
            AUTHORIZE_MESSAGE.message,
            "must be set: give a `free_form` or a `template` message",
        )
    })?;
    let message = outbound_from_proto(message, &AUTHORIZE_MESSAGE)?;
    customer_ids
        .iter()
        .enumerate()
        .map(|(index, customer_id)| {
            let thread = thread_from_proto(&business_id, customer_id).map_err(|error| {
                if error.field == "customer_id" {
                    Error::invalid(
                        "customer_ids",
                        format!("customer {}: {}", index + 1, error.reason),
                    )
                } else {
                    error
                }
            })?;
            Ok(Event {
                thread,
                at,
                message: Message::Outbound(message.clone()),
            })
        })
        .collect()
}

/// Validates a `RecordMessage` request into the entry to record; an absent `at` is the server clock.
pub(crate) fn record_from_proto(request: pb::RecordMessageRequest, clock: Clock) -> Result<Entry, Error> {
    use pb::record_message_request::Direction;

    let pb::RecordMessageRequest {
        message_id,
        business_id,
        customer_id,
        at,
        direction,
    } = request;
    let message_id = MessageId::new(&message_id)?;
    let thread = thread_from_proto(&business_id, &customer_id)?;
    let at = instant_from_proto(at, clock)?;
    let message = match direction {
        Some(Direction::Inbound(inbound)) => Message::Inbound(inbound_from_proto(inbound)?),
        Some(Direction::Outbound(outbound)) => {
            Message::Outbound(outbound_from_proto(outbound, &RECORD_OUTBOUND)?)
        }
        None => {
            return Err(Error::invalid(
                "direction",
                "must be set: give an `inbound` or an `outbound` message",
            ));
        }
    };
    Ok(Entry {
        message_id,
        event: Event { thread, at, message },
        now: clock.now,
    })
}

/// Validates a `ListOpenConversations` request; an absent `at` is the server clock.
pub(crate) fn list_open_conversations_from_proto(
    request: pb::ListOpenConversationsRequest,
    clock: Clock,
) -> Result<ListOpenConversations, Error> {
    let pb::ListOpenConversationsRequest {
        business_id,
        customer_id,
        at,
    } = request;
    let thread = thread_from_proto(&business_id, &customer_id)?;
    let at = instant_from_proto(at, clock)?;
    Ok(ListOpenConversations { thread, at })
}

pub(crate) fn thread_from_proto(business_id: &str, customer_id: &str) -> Result<ThreadKey, Error> {
    Ok(ThreadKey {
        business_id: BusinessId::new(business_id)?,
        customer_id: CustomerId::new(customer_id)?,
    })
}

/// Converts the event time `at`, truncated to whole milliseconds, and checks it against the clock.
pub(crate) fn instant_from_proto(at: Option<prost_types::Timestamp>, clock: Clock) -> Result<Instant, Error> {
    match timestamp_from_proto("at", at)? {
        Some(at) => validate_at(at, clock.now, clock.max_skew),
        None => Ok(clock.now),
    }
}

/// Converts a timestamp of the field `field`, truncated to whole milliseconds; none when absent. Not
/// checked against the clock: a registry change may be announced for later.
pub(crate) fn timestamp_from_proto(
    field: &'static str,
    at: Option<prost_types::Timestamp>,
) -> Result<Option<Instant>, Error> {
    const MAX_SECONDS: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    let Some(prost_types::Timestamp { seconds, nanos }) = at else {
        return Ok(None);
    };
    if !(0..=MAX_SECONDS).contains(&seconds) {
        return Err(Error::invalid(
            field,
            format!("{seconds} s is out of range: it must lie in 1970-01-01 to 9999-12-31"),
        ));
    }
    if !(0..1_000_000_000).contains(&nanos) {
        return Err(Error::invalid(
            field,
            format!("nanos must lie in 0 to 999,999,999, got {nanos}"),
        ));
    }
    Ok(Some(Instant::from_millis(
        seconds * 1_000 + i64::from(nanos / 1_000_000),
    )))
}

fn outbound_from_proto(message: pb::OutboundMessage, fields: &OutboundFields) -> Result<Outbound, Error> {
    use pb::outbound_message::Kind;

    let pb::OutboundMessage { kind } = message;
    match kind {
        Some(Kind::FreeForm(pb::FreeForm {})) => Ok(Outbound::FreeForm),
        Some(Kind::Template(template)) => {
            let pb::Template {
                name,
                language,
                category,
            } = template;
            if name.trim().is_empty() {
                return Err(Error::invalid(fields.name, "must name the approved template"));
            }
            let category = template_category_from_proto(category, fields.category)?;
            Ok(Outbound::Template(Template {
                name,
                language,
                category,
            }))
        }
        None => Err(Error::invalid(
            fields.kind,
            "must be set: give `free_form` or `template`",
        )),
    }
}

pub(crate) fn template_category_from_proto(
    category: i32,
    field: &'static str,
) -> Result<TemplateCategory, Error> {
    match pb::Category::try_from(category) {
        Ok(pb::Category::Marketing) => Ok(TemplateCategory::Marketing),
        Ok(pb::Category::Utility) => Ok(TemplateCategory::Utility),
        Ok(pb::Category::Authentication) => Ok(TemplateCategory::Authentication),
        Ok(pb::Category::Unspecified) => Err(Error::invalid(
            field,
            "must be set: CATEGORY_MARKETING, CATEGORY_UTILITY or CATEGORY_AUTHENTICATION",
        )),
        Ok(other @ (pb::Category::Service | pb::Category::FreeEntryPoint)) => Err(Error::invalid(
            field,
            format!(
                "{} is a conversation category, not a template category: use CATEGORY_MARKETING, \
                 CATEGORY_UTILITY or CATEGORY_AUTHENTICATION",
                other.as_str_name()
            ),
        )),
        Err(_) => Err(Error::invalid(field, format!("unknown category {category}"))),
    }
}

fn inbound_from_proto(inbound: pb::Inbound) -> Result<Inbound, Error> {
    let pb::Inbound {
        entry_point,
        platform,
    } = inbound;
    let entry_point = match pb::EntryPoint::try_from(entry_point) {
        Ok(pb::EntryPoint::Unspecified | pb::EntryPoint::Organic) => EntryPoint::Organic,
        Ok(pb::EntryPoint::ClickToWhatsappAd) => EntryPoint::ClickToWhatsAppAd,
        Ok(pb::EntryPoint::PageCallToAction) => EntryPoint::PageCallToAction,
        Err(_) => {
            return Err(Error::invalid(
                "inbound.entry_point",
                format!("unknown entry point {entry_point}"),
            ));
        }
    };
    let platform = match pb::ClientPlatform::try_from(platform) {
        Ok(pb::ClientPlatform::Unspecified) => ClientPlatform::Unspecified,
        Ok(pb::ClientPlatform::Android) => ClientPlatform::Android,
        Ok(pb::ClientPlatform::Ios) => ClientPlatform::Ios,
        Ok(pb::ClientPlatform::Web) => ClientPlatform::Web,
        Ok(pb::ClientPlatform::Desktop) => ClientPlatform::Desktop,
        Err(_) => {
            return Err(Error::invalid(
                "inbound.platform",
                format!("unknown client platform {platform}"),
            ));
        }
    };
    Ok(Inbound {
        entry_point,
        platform,
    })
}

/// Converts a core value into its protobuf message.
pub(crate) trait ToProto {
    type Proto;

    fn to_proto(&self) -> Self::Proto;
}

impl ToProto for Decision {
    type Proto = pb::Decision;

    fn to_proto(&self) -> pb::Decision {
        let Decision {
            verdict,
            customer_service_window_expires_at,
            shadow_deny_reason,
        } = self;
        let customer_service_window_expires_at =
            customer_service_window_expires_at.as_ref().map(ToProto::to_proto);
        let shadow_deny_reason = shadow_deny_reason
            .map_or(pb::DenyReason::Unspecified, |reason| reason.to_proto())
            .into();
        match verdict {
            Verdict::Allowed(charge) => pb::Decision {
                allowed: true,
                deny_reason: pb::DenyReason::Unspecified.into(),
                meta_error_code: 0,
                explanation: String::new(),
                charge: Some(charge.to_proto()),
                customer_service_window_expires_at,
                shadow_deny_reason,
                decision_source: pb::DecisionSource::Store.into(),
            },
            Verdict::Denied { reason, explanation } => pb::Decision {
                allowed: false,
                deny_reason: reason.to_proto().into(),
                meta_error_code: reason.meta_error_code().unwrap_or(0),
                explanation: explanation.clone(),
                charge: None,
                customer_service_window_expires_at,
                shadow_deny_reason,
                decision_source: pb::DecisionSource::Store.into(),
            },
        }
    }
}

impl ToProto for DenyReason {
    type Proto = pb::DenyReason;

    fn to_proto(&self) -> pb::DenyReason {
        match self {
            DenyReason::TemplateNotApproved => pb::DenyReason::TemplateNotApproved,
            DenyReason::TemplatePaused => pb::DenyReason::TemplatePaused,
            DenyReason::TemplateDisabled => pb::DenyReason::TemplateDisabled,
            DenyReason::OutsideCustomerServiceWindow => pb::DenyReason::OutsideCustomerServiceWindow,
            DenyReason::CustomerOptedOut => pb::DenyReason::CustomerOptedOut,
            DenyReason::NoOptIn => pb::DenyReason::NoOptIn,
            DenyReason::MarketingStopped => pb::DenyReason::MarketingStopped,
            DenyReason::MarketingLimit => pb::DenyReason::MarketingLimit,
            DenyReason::MessagingLimit => pb::DenyReason::MessagingLimit,
            DenyReason::BudgetExceeded => pb::DenyReason::BudgetExceeded,
        }
    }
}

impl ToProto for Charge {
    type Proto = pb::Charge;

    fn to_proto(&self) -> pb::Charge {
        let Charge {
            pricing_model,
            pricing_type,
            billable,
            category,
            price,
            opens_conversation,
            conversation,
            tier,
        } = self;
        pb::Charge {
            pricing_model: pricing_model.to_proto().into(),
            pricing_type: pricing_type.to_proto().into(),
            billable: *billable,
            category: category.to_proto().into(),
            price: Some(price.to_proto()),
            opens_conversation: *opens_conversation,
            conversation: conversation.as_ref().map(ToProto::to_proto),
            tier: tier.unwrap_or(0),
        }
    }
}

impl ToProto for PricingModel {
    type Proto = pb::PricingModel;

    fn to_proto(&self) -> pb::PricingModel {
        match self {
            PricingModel::Conversation => pb::PricingModel::Conversation,
            PricingModel::PerMessage => pb::PricingModel::PerMessage,
        }
    }
}

impl ToProto for PricingType {
    type Proto = pb::PricingType;

    fn to_proto(&self) -> pb::PricingType {
        match self {
            PricingType::Regular => pb::PricingType::Regular,
            PricingType::FreeTier => pb::PricingType::FreeTier,
            PricingType::FreeEntryPoint => pb::PricingType::FreeEntryPoint,
            PricingType::FreeCustomerService => pb::PricingType::FreeCustomerService,
        }
    }
}

impl ToProto for Category {
    type Proto = pb::Category;

    fn to_proto(&self) -> pb::Category {
        match self {
            Category::Marketing => pb::Category::Marketing,
            Category::Utility => pb::Category::Utility,
            Category::Authentication => pb::Category::Authentication,
            Category::Service => pb::Category::Service,
            Category::FreeEntryPoint => pb::Category::FreeEntryPoint,
        }
    }
}

impl ToProto for Money {
    type Proto = pb::Money;

    fn to_proto(&self) -> pb::Money {
        let (units, nanos) = self.units_and_nanos();
        pb::Money {
            currency_code: self.currency.as_str().to_owned(),
            units,
            nanos,
        }
    }
}

impl ToProto for Conversation {
    type Proto = pb::Conversation;

    fn to_proto(&self) -> pb::Conversation {
        // `closed_at` and the billing fields stay inside: the API describes a conversation by its span,
        // and a charge carries the billing fields itself.
        let Conversation {
            id,
            category,
            opened_at,
            expires_at,
            closed_at: _,
            pricing_type: _,
            billable: _,
        } = self;
        pb::Conversation {
            id: id.clone(),
            category: category.to_proto().into(),
            opened_at: Some(opened_at.to_proto()),
            expires_at: Some(expires_at.to_proto()),
        }
    }
}

impl ToProto for Instant {
    type Proto = prost_types::Timestamp;

    fn to_proto(&self) -> prost_types::Timestamp {
        let millis = self.as_millis();
        let nanos = millis.rem_euclid(1_000) * 1_000_000;
        prost_types::Timestamp {
            seconds: millis.div_euclid(1_000),
            nanos: i32::try_from(nanos).expect("a millisecond remainder in nanos is below 10^9"),
        }
    }
}

impl ToProto for ThreadView {
    type Proto = pb::ListOpenConversationsResponse;

    fn to_proto(&self) -> pb::ListOpenConversationsResponse {
        let ThreadView {
            conversations,
            customer_service_window_expires_at,
            free_entry_point_deadline,
        } = self;
        pb::ListOpenConversationsResponse {
            conversations: conversations.iter().map(ToProto::to_proto).collect(),
            customer_service_window_expires_at: customer_service_window_expires_at
                .as_ref()
                .map(ToProto::to_proto),
            free_entry_point_deadline: free_entry_point_deadline.as_ref().map(ToProto::to_proto),
        }
    }
}

impl ToProto for Answer {
    type Proto = pb::RecordMessageResponse;

    fn to_proto(&self) -> pb::RecordMessageResponse {
        let Answer { decision, duplicate } = self;
        pb::RecordMessageResponse {
            decision: decision.as_ref().map(ToProto::to_proto),
            duplicate: *duplicate,
        }
    }
}

#[cfg(test)]
mod tests;

/// The answer to `AuthorizeBatch`: each customer's decision in order, and the totals.
pub(crate) fn batch_to_proto(events: &[Event], decisions: &[Decision]) -> pb::AuthorizeBatchResponse {
    let mut allowed = 0;
    let mut denied: BTreeMap<i32, u32> = BTreeMap::new();
    let mut costs: BTreeMap<String, Money> = BTreeMap::new();
    for decision in decisions {
        match &decision.verdict {
            Verdict::Allowed(charge) => {
                allowed += 1;
                let cost = costs
                    .entry(charge.price.currency.to_string())
                    .or_insert_with(|| Money::zero(charge.price.currency));
                cost.amount += charge.price.amount;
            }
            Verdict::Denied { reason, .. } => *denied.entry(reason.to_proto() as i32).or_default() += 1,
        }
    }
    let total_costs: Vec<pb::Money> = costs.values().map(ToProto::to_proto).collect();
    pb::AuthorizeBatchResponse {
        results: events
            .iter()
            .zip(decisions)
            .map(|(event, decision)| pb::BatchResult {
                customer_id: event.thread.customer_id.as_str().to_owned(),
                decision: Some(decision.to_proto()),
            })
            .collect(),
        allowed,
        denied: denied
            .into_iter()
            .map(|(reason, count)| pb::DenyCount { reason, count })
            .collect(),
        total_cost: (total_costs.len() == 1).then(|| total_costs[0].clone()),
        total_costs,
    }
}
