//! What a webhook body says, item by item: each message, status, user preference or template change
//! becomes an [`Item`] with its path in the body and its [`Effect`] on Hourglass (or why it has none).
//! Pure: nothing here reads a store or the clock; `apply` does the writing.

use hourglass_core::{
    AccountId, BusinessId, ConsentEvent, ConsentKind, CustomerId, DeliveryStatus, Duration, EntryPoint,
    Event, Inbound, Instant, Message, MessageId, MessagingLimit, MetaPricing, MetaTier, Month, StatusReport,
    TemplateCategory, TemplateName, TemplateStatus, ThreadKey, validate_at,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::payload::{
    AccountUpdate, Change, Contact, Entry, InboundMessage, LimitUpdate, MessagesValue, Notification,
    QualityUpdate, Status, TemplateCategoryUpdate, TemplateStatusUpdate, UserPreference,
    UserPreferencesValue,
};
use crate::convert::Clock;

/// How long Meta pauses a template the first time its quality drops, and the second time.
pub(crate) const FIRST_PAUSE: Duration = Duration::hours(3);
const SECOND_PAUSE: Duration = Duration::hours(6);

/// One item of a body: where it is, and what it does.
#[derive(Debug)]
pub(crate) struct Item {
    /// Such as `entry[0].changes[1].value.statuses[0]`.
    pub path: String,
    /// The change's `field` when it is one Hourglass reads (`messages`, …), `other` for a field it
    /// does not, `unknown` for an item whose change could not be read that far: a closed set, for the
    /// metrics' labels.
    pub field: &'static str,
    pub what: What,
}

/// The `field` of an item read no further than its entry or change.
const UNKNOWN_FIELD: &str = "unknown";

#[derive(Debug)]
pub(crate) enum What {
    Apply(Effect),
    /// Nothing Hourglass uses, and why.
    Ignored(String),
    /// Malformed, and why.
    Invalid(String),
}

/// What an item changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Effect {
    /// An inbound message, recorded like `RecordMessage`.
    Inbound(hourglass_store::Entry),
    /// A consent event of a thread: a marketing stop or resume.
    Consent { thread: ThreadKey, event: ConsentEvent },
    /// Two ids of one customer of `thread`'s business: `alias` names `thread` from now on
    /// (docs/SPEC.md section 13.4).
    Link {
        thread: ThreadKey,
        alias: CustomerId,
        now: Instant,
    },
    /// The customer of `thread` now uses the id `to`; `thread`'s id is left with nothing.
    Move {
        thread: ThreadKey,
        to: CustomerId,
        now: Instant,
    },
    /// A delivery status of an outbound message, kept with its prediction; a failed one may also hold
    /// or stop marketing to the customer (131049, 131050: `consent`) or pause or disable the message's
    /// template (132015, 132016).
    Status {
        thread: ThreadKey,
        message_id: MessageId,
        report: StatusReport,
        consent: Option<ConsentEvent>,
        /// The server clock: the report is kept `DELIVERY_RETENTION` from it.
        now: Instant,
    },
    /// A template takes a status (and a category, when the update names one) at `at`.
    TemplateStatus {
        account: AccountId,
        template: TemplateName,
        status: TemplateStatus,
        category: Option<TemplateCategory>,
        /// For a pause of known length: how long it lasts.
        pause: Option<Duration>,
        at: Instant,
    },
    /// A template's category changes at `at`, its status staying as it is.
    TemplateCategory {
        account: AccountId,
        template: TemplateName,
        category: TemplateCategory,
        at: Instant,
    },
    /// Meta gives a template a quality score at `at`; no decision depends on it.
    TemplateQuality {
        account: AccountId,
        template: TemplateName,
        score: String,
        at: Instant,
    },
    /// Meta announces the account's volume tier of a market, category and month.
    MetaTier { account: AccountId, tier: MetaTier },
    /// The messaging limit of the account's portfolio changes at `at`.
    MessagingLimit {
        account: AccountId,
        limit: MessagingLimit,
        at: Instant,
    },
}

/// Whose data an effect writes: an account's, or a business's (which belongs to the account it is
/// registered with).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Owner<'a> {
    Account(&'a AccountId),
    Business(&'a BusinessId),
}

impl Effect {
    pub(crate) fn owner(&self) -> Owner<'_> {
        match self {
            Effect::Inbound(entry) => Owner::Business(&entry.event.thread.business_id),
            Effect::Consent { thread, .. }
            | Effect::Link { thread, .. }
            | Effect::Move { thread, .. }
            | Effect::Status { thread, .. } => Owner::Business(&thread.business_id),
            Effect::TemplateStatus { account, .. }
            | Effect::TemplateCategory { account, .. }
            | Effect::TemplateQuality { account, .. }
            | Effect::MetaTier { account, .. }
            | Effect::MessagingLimit { account, .. } => Owner::Account(account),
        }
    }
}

/// A body that is not a webhook at all: nothing of it is applied.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("the payload is not JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("the payload is not a webhook body: {0}")]
    NotANotification(serde_json::Error),
    #[error("the payload's `object` is {0:?}, not \"whatsapp_business_account\"")]
    WrongObject(String),
}

/// Reads a body into its items, in the body's order.
pub(crate) fn items(payload: &[u8], clock: Clock) -> Result<Vec<Item>, BodyError> {
    let value: Value = serde_json::from_slice(payload).map_err(BodyError::NotJson)?;
    let notification: Notification = serde_json::from_value(value).map_err(BodyError::NotANotification)?;
    if notification.object != "whatsapp_business_account" {
        return Err(BodyError::WrongObject(notification.object));
    }
    let mut items = Vec::new();
    for (index, entry) in notification.entry.into_iter().enumerate() {
        let path = format!("entry[{index}]");
        match parse::<Entry>(entry) {
            Ok(entry) => read_entry(&path, entry, clock, &mut items),
            Err(reason) => items.push(invalid(path, reason)),
        }
    }
    Ok(items)
}

fn read_entry(path: &str, entry: Entry, clock: Clock, items: &mut Vec<Item>) {
    let account = AccountId::new("id", &entry.id.0);
    // Registry changes take effect at the entry's time, the server clock when it has none.
    let at = entry
        .time
        .map_or(clock.now, |time| Instant::from_millis(time.millis));
    for (index, change) in entry.changes.into_iter().enumerate() {
        let path = format!("{path}.changes[{index}]");
        let change = match parse::<Change>(change) {
            Ok(change) => change,
            Err(reason) => {
                items.push(invalid(path, reason));
                continue;
            }
        };
        let account = match &account {
            Ok(account) => account.clone(),
            Err(error) => {
                items.push(invalid(path, format!("entry id: {}", error.reason)));
                continue;
            }
        };
        let context = Context { account, at, clock };
        read_change(&path, change, &context, items);
    }
}

/// What every change of an entry shares.
struct Context {
    account: AccountId,
    /// The entry's time.
    at: Instant,
    clock: Clock,
}

fn read_change(path: &str, change: Change, context: &Context, items: &mut Vec<Item>) {
    let Change { field, value } = change;
    let first = items.len();
    read_field(path, &field, value, context, items);
    let known = KNOWN_FIELDS
        .iter()
        .find(|known| **known == field)
        .copied()
        .unwrap_or("other");
    for item in &mut items[first..] {
        item.field = known;
    }
}

/// The change fields Hourglass reads.
const KNOWN_FIELDS: [&str; 8] = [
    "messages",
    "user_preferences",
    "message_template_status_update",
    "template_category_update",
    "message_template_quality_update",
    "phone_number_quality_update",
    "business_capability_update",
    "account_update",
];

fn read_field(path: &str, field: &str, value: Value, context: &Context, items: &mut Vec<Item>) {
    let value_path = format!("{path}.value");
    match field {
        "messages" => read_messages(&value_path, value, context, items),
        "user_preferences" => read_user_preferences(&value_path, value, context, items),
        // Meta has sent quality updates under this field too: they carry a quality score, no event.
        "message_template_status_update" if is_quality_update(&value) => {
            items.push(one(path, quality(value, context)));
        }
        "message_template_status_update" => {
            items.push(one(path, template_status(value, context)));
        }
        "template_category_update" => items.push(one(path, template_category(value, context))),
        "message_template_quality_update" => items.push(one(path, quality(value, context))),
        "phone_number_quality_update" | "business_capability_update" => {
            items.push(one(path, messaging_limit(value, context)));
        }
        "account_update" => items.push(one(path, account_update(value, context))),
        other => items.push(Item {
            path: path.to_owned(),
            field: UNKNOWN_FIELD,
            what: What::Ignored(format!("field {other:?} is not one Hourglass uses")),
        }),
    }
}

fn is_quality_update(value: &Value) -> bool {
    value.get("event").is_none()
        && (value.get("new_quality_score").is_some() || value.get("previous_quality_score").is_some())
}

/// A template's quality score: kept, with the template's name, at the entry's time.
fn quality(value: Value, context: &Context) -> Result<What, String> {
    let update = parse::<QualityUpdate>(value)?;
    let template = template_name(&update.message_template_name, &update.message_template_language)?;
    let score = update
        .new_quality_score
        .filter(|score| !score.trim().is_empty())
        .ok_or("new_quality_score: a quality update names no score")?;
    Ok(What::Apply(Effect::TemplateQuality {
        account: context.account.clone(),
        template,
        score: score.to_ascii_uppercase(),
        at: context.at,
    }))
}

/// An item from a result: its effect, or why it is invalid.
fn one(path: &str, result: Result<What, String>) -> Item {
    Item {
        path: path.to_owned(),
        field: UNKNOWN_FIELD,
        what: result.unwrap_or_else(What::Invalid),
    }
}

fn invalid(path: String, reason: String) -> Item {
    Item {
        path,
        field: UNKNOWN_FIELD,
        what: What::Invalid(reason),
    }
}

fn parse<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|error| error.to_string())
}

/// The business of a `messages` or `user_preferences` value: its `metadata.phone_number_id`.
fn business(metadata: Option<super::payload::Metadata>) -> Result<BusinessId, String> {
    let metadata = metadata.ok_or("has no metadata.phone_number_id: the business is unknown")?;
    BusinessId::named("metadata.phone_number_id", &metadata.phone_number_id.0)
        .map_err(|error| error.to_string())
}

/// The customer named by a phone number field or a BSUID field: the phone number when both are given.
fn customer(
    phone: Option<&str>,
    phone_field: &'static str,
    bsuid: Option<&str>,
    bsuid_field: &'static str,
) -> Result<CustomerId, String> {
    match (phone, bsuid) {
        (Some(phone), _) => CustomerId::named(phone_field, phone),
        (None, Some(bsuid)) => CustomerId::named(bsuid_field, bsuid),
        (None, None) => return Err(format!("has neither {phone_field} nor {bsuid_field}")),
    }
    .map_err(|error| error.to_string())
}

fn read_messages(path: &str, value: Value, context: &Context, items: &mut Vec<Item>) {
    let value = match parse::<MessagesValue>(value) {
        Ok(value) => value,
        Err(reason) => return items.push(invalid(path.to_owned(), reason)),
    };
    let business = business(value.metadata);
    let mut any = false;
    for (index, contact) in value.contacts.into_iter().enumerate() {
        if let Ok(Contact {
            wa_id: Some(phone),
            user_id: Some(bsuid),
        }) = parse::<Contact>(contact)
        {
            any = true;
            let what = business.clone().and_then(|business| {
                let phone = CustomerId::named("wa_id", &phone).map_err(|error| error.to_string())?;
                let bsuid = CustomerId::named("user_id", &bsuid).map_err(|error| error.to_string())?;
                Ok(What::Apply(Effect::Link {
                    thread: ThreadKey {
                        business_id: business,
                        customer_id: phone,
                    },
                    alias: bsuid,
                    now: context.clock.now,
                }))
            });
            items.push(one(&format!("{path}.contacts[{index}]"), what));
        }
    }
    for (index, message) in value.messages.into_iter().enumerate() {
        any = true;
        let path = format!("{path}.messages[{index}]");
        let what = business
            .clone()
            .and_then(|business| inbound(message, business, context.clock));
        items.push(one(&path, what));
    }
    for (index, status) in value.statuses.into_iter().enumerate() {
        any = true;
        let path = format!("{path}.statuses[{index}]");
        let what = business
            .clone()
            .and_then(|business| status_effect(status, business, context.clock));
        items.push(one(&path, what));
    }
    if !any {
        items.push(Item {
            path: path.to_owned(),
            field: UNKNOWN_FIELD,
            what: What::Ignored("a messages value with no messages and no statuses".to_owned()),
        });
    }
}

fn inbound(message: Value, business: BusinessId, clock: Clock) -> Result<What, String> {
    let message = parse::<InboundMessage>(message)?;
    if message.kind.as_deref() == Some("system") || message.system.is_some() {
        return system(message, business, clock);
    }
    let message_id = MessageId::new(&message.id).map_err(|error| format!("id: {}", error.reason))?;
    let customer_id = customer(
        message.from.as_deref(),
        "from",
        message.from_user_id.as_deref(),
        "from_user_id",
    )?;
    let at = validate_at(
        Instant::from_millis(message.timestamp.millis),
        clock.now,
        clock.max_skew,
    )
    .map_err(|error| format!("timestamp: {}", error.reason))?;
    let entry_point = match message
        .referral
        .and_then(|referral| referral.source_type)
        .as_deref()
    {
        Some("ad") => EntryPoint::ClickToWhatsAppAd,
        Some("post") => EntryPoint::PageCallToAction,
        _ => EntryPoint::Organic,
    };
    Ok(What::Apply(Effect::Inbound(hourglass_store::Entry {
        message_id,
        event: Event {
            thread: ThreadKey {
                business_id: business,
                customer_id,
            },
            at,
            message: Message::Inbound(Inbound {
                entry_point,
                platform: Default::default(),
            }),
        },
        now: clock.now,
    })))
}

/// A system message: the customer changed number (`user_changed_number`: `from` the old one,
/// `system.wa_id` the new one) or BSUID (`user_changed_user_id`: `system.user_id` the new one, `from` the
/// phone number, or the old BSUID in `system.previous_user_id` or `from_user_id`).
fn system(message: InboundMessage, business: BusinessId, clock: Clock) -> Result<What, String> {
    let system = message.system.ok_or("a system message without `system`")?;
    let kind = system.kind.unwrap_or_default();
    let thread = |customer_id| ThreadKey {
        business_id: business.clone(),
        customer_id,
    };
    match kind.as_str() {
        "user_changed_number" => {
            let to = system
                .wa_id
                .ok_or("system.wa_id: a user_changed_number message names no new number")?;
            let to = CustomerId::named("system.wa_id", &to).map_err(|error| error.to_string())?;
            let from = customer(message.from.as_deref(), "from", None, "from_user_id")?;
            Ok(What::Apply(Effect::Move {
                thread: thread(from),
                to,
                now: clock.now,
            }))
        }
        "user_changed_user_id" => {
            let to = system
                .user_id
                .ok_or("system.user_id: a user_changed_user_id message names no new BSUID")?;
            let to = CustomerId::named("system.user_id", &to).map_err(|error| error.to_string())?;
            // The old BSUID: `system.previous_user_id` (Meta's shape since August 2026), or the sender.
            let old = match (&system.previous_user_id, &message.from_user_id) {
                (Some(old), _) => Some(("system.previous_user_id", old.as_str())),
                (None, Some(old)) => Some(("from_user_id", old.as_str())),
                (None, None) => None,
            };
            match (message.from.as_deref(), old) {
                // The phone number stays the customer's id; the new BSUID leads to it.
                (Some(phone), _) => Ok(What::Apply(Effect::Link {
                    thread: thread(CustomerId::named("from", phone).map_err(|error| error.to_string())?),
                    alias: to,
                    now: clock.now,
                })),
                // No phone number: the new BSUID leads where the old one does (its phone number's
                // thread, or the old BSUID's own for a customer known by BSUIDs only).
                (None, Some((field, old))) => Ok(What::Apply(Effect::Link {
                    thread: thread(CustomerId::named(field, old).map_err(|error| error.to_string())?),
                    alias: to,
                    now: clock.now,
                })),
                (None, None) => Err("has neither from, system.previous_user_id nor from_user_id: \
                                     whose BSUID changed is unknown"
                    .to_owned()),
            }
        }
        other => Ok(What::Ignored(format!(
            "system message {other:?} is not one Hourglass uses"
        ))),
    }
}

fn status_effect(status: Value, business: BusinessId, clock: Clock) -> Result<What, String> {
    let status = parse::<Status>(status)?;
    let customer_id = customer(
        status.recipient_id.as_deref(),
        "recipient_id",
        status.recipient_user_id.as_deref(),
        "recipient_user_id",
    )?;
    let message_id = MessageId::new(&status.id).map_err(|error| format!("id: {}", error.reason))?;
    let Some(kind) = DeliveryStatus::parse(&status.status) else {
        return Ok(What::Ignored(format!(
            "status {:?} is not sent, delivered, read or failed",
            status.status
        )));
    };
    let thread = ThreadKey {
        business_id: business,
        customer_id,
    };
    let at = Instant::from_millis(status.timestamp.millis);
    let errors: Vec<i64> = status.errors.iter().map(|error| error.code).collect();
    let consent = match kind {
        DeliveryStatus::Failed if errors.contains(&131_049) => Some((ConsentKind::MarketingHold, 131_049)),
        DeliveryStatus::Failed if errors.contains(&131_050) => Some((ConsentKind::MarketingStop, 131_050)),
        _ => None,
    }
    .map(|(kind, code)| {
        let source = format!("meta status failed {code} of {}", status.id);
        ConsentEvent::new(kind, at, &source).map_err(|error| error.to_string())
    })
    .transpose()?;
    let pricing = status.pricing.map(|pricing| MetaPricing {
        category: pricing.category,
        pricing_type: pricing.kind,
        billable: pricing.billable,
    });
    Ok(What::Apply(Effect::Status {
        thread,
        message_id,
        report: StatusReport {
            status: kind,
            at,
            pricing,
            errors,
        },
        consent,
        now: clock.now,
    }))
}

fn read_user_preferences(path: &str, value: Value, context: &Context, items: &mut Vec<Item>) {
    let _ = context;
    let value = match parse::<UserPreferencesValue>(value) {
        Ok(value) => value,
        Err(reason) => return items.push(invalid(path.to_owned(), reason)),
    };
    let business = business(value.metadata);
    if value.user_preferences.is_empty() {
        items.push(Item {
            path: path.to_owned(),
            field: UNKNOWN_FIELD,
            what: What::Ignored("a user_preferences value with no preferences".to_owned()),
        });
    }
    for (index, preference) in value.user_preferences.into_iter().enumerate() {
        let path = format!("{path}.user_preferences[{index}]");
        let what = business
            .clone()
            .and_then(|business| user_preference(preference, business));
        items.push(one(&path, what));
    }
}

fn user_preference(preference: Value, business: BusinessId) -> Result<What, String> {
    let preference = parse::<UserPreference>(preference)?;
    if preference.category != "marketing_messages" {
        return Ok(What::Ignored(format!(
            "preference category {:?} is not one Hourglass uses",
            preference.category
        )));
    }
    let kind = match preference.value.to_ascii_lowercase().as_str() {
        "stop" => ConsentKind::MarketingStop,
        "resume" => ConsentKind::MarketingResume,
        other => return Err(format!("value {other:?} is neither \"stop\" nor \"resume\"")),
    };
    let customer_id = customer(
        preference.wa_id.as_deref(),
        "wa_id",
        preference.user_id.as_deref(),
        "user_id",
    )?;
    let at = Instant::from_millis(preference.timestamp.millis);
    let event = ConsentEvent::new(kind, at, "meta user_preferences").map_err(|error| error.to_string())?;
    Ok(What::Apply(Effect::Consent {
        thread: ThreadKey {
            business_id: business,
            customer_id,
        },
        event,
    }))
}

fn template_name(name: &str, language: &str) -> Result<TemplateName, String> {
    TemplateName::new(name, language).map_err(|error| {
        let field = match error.field {
            "name" => "message_template_name",
            _ => "message_template_language",
        };
        format!("{field}: {}", error.reason)
    })
}

fn category(field: &str, raw: &str) -> Result<TemplateCategory, String> {
    match raw.to_ascii_uppercase().as_str() {
        "MARKETING" => Ok(TemplateCategory::Marketing),
        "UTILITY" => Ok(TemplateCategory::Utility),
        "AUTHENTICATION" => Ok(TemplateCategory::Authentication),
        _ => Err(format!(
            "{field}: {raw:?} is not MARKETING, UTILITY or AUTHENTICATION"
        )),
    }
}

fn template_status(value: Value, context: &Context) -> Result<What, String> {
    let update = parse::<TemplateStatusUpdate>(value)?;
    let template = template_name(&update.message_template_name, &update.message_template_language)?;
    let status = match update.event.to_ascii_uppercase().as_str() {
        "APPROVED" | "REINSTATED" => TemplateStatus::Approved,
        "PENDING" => TemplateStatus::Pending,
        "REJECTED" => TemplateStatus::Rejected,
        "PAUSED" => TemplateStatus::Paused,
        "DISABLED" => TemplateStatus::Disabled,
        "IN_APPEAL" => TemplateStatus::InAppeal,
        "PENDING_DELETION" => TemplateStatus::PendingDeletion,
        "DELETED" => TemplateStatus::Deleted,
        "ARCHIVED" => TemplateStatus::Archived,
        "LIMIT_EXCEEDED" => TemplateStatus::LimitExceeded,
        "FLAGGED" => {
            return Ok(What::Ignored(
                "a FLAGGED template may still be sent: nothing changes until Meta pauses it".to_owned(),
            ));
        }
        other => {
            return Err(format!(
                "event: {other:?} is not a template status Hourglass knows"
            ));
        }
    };
    let category = update
        .message_template_category
        .as_deref()
        .map(|raw| category("message_template_category", raw))
        .transpose()?;
    let pause = match (status, update.other_info.and_then(|info| info.title).as_deref()) {
        (TemplateStatus::Paused, Some("FIRST_PAUSE")) => Some(FIRST_PAUSE),
        (TemplateStatus::Paused, Some("SECOND_PAUSE")) => Some(SECOND_PAUSE),
        _ => None,
    };
    Ok(What::Apply(Effect::TemplateStatus {
        account: context.account.clone(),
        template,
        status,
        category,
        pause,
        at: context.at,
    }))
}

fn template_category(value: Value, context: &Context) -> Result<What, String> {
    let update = parse::<TemplateCategoryUpdate>(value)?;
    let template = template_name(&update.message_template_name, &update.message_template_language)?;
    // An announcement names the category the template has now in `new_category` and the one it
    // will have in `correct_category`, from `category_update_timestamp`.
    let (category, at) = match (update.correct_category, update.new_category) {
        (Some(correct), _) => {
            let at = update
                .category_update_timestamp
                .map_or(context.at, |at| Instant::from_millis(at.millis));
            (category("correct_category", &correct)?, at)
        }
        (None, Some(new)) => (category("new_category", &new)?, context.at),
        (None, None) => return Err("has neither new_category nor correct_category".to_owned()),
    };
    Ok(What::Apply(Effect::TemplateCategory {
        account: context.account.clone(),
        template,
        category,
        at,
    }))
}

fn account_update(value: Value, context: &Context) -> Result<What, String> {
    let update = parse::<AccountUpdate>(value)?;
    match update.event.as_deref() {
        Some("VOLUME_BASED_PRICING_TIER_UPDATE") => {}
        Some(event) => {
            return Ok(What::Ignored(format!(
                "account_update event {event:?} is not one Hourglass uses"
            )));
        }
        None => return Ok(What::Ignored("an account_update without an event".to_owned())),
    }
    let info = update
        .volume_tier_info
        .ok_or("volume_tier_info: a tier update names no tier")?;
    let month = info
        .effective_month
        .split_once('-')
        .and_then(|(year, month)| {
            Some(Month {
                year: year.parse().ok()?,
                month: month.parse().ok().filter(|month| (1..=12).contains(month))?,
            })
        })
        .ok_or_else(|| {
            format!(
                "volume_tier_info.effective_month: {:?} is not a month such as 2025-11",
                info.effective_month
            )
        })?;
    if info.region.trim().is_empty() {
        return Err("volume_tier_info.region: must name a market".to_owned());
    }
    Ok(What::Apply(Effect::MetaTier {
        account: context.account.clone(),
        tier: MetaTier {
            market: info.region,
            category: info.pricing_category.to_ascii_uppercase(),
            month,
            tier: info.tier,
            updated_at: Instant::from_millis(info.tier_update_time.millis),
        },
    }))
}

fn messaging_limit(value: Value, context: &Context) -> Result<What, String> {
    let update = parse::<LimitUpdate>(value)?;
    let (field, raw) = match (update.max_daily_conversations_per_business, update.current_limit) {
        (Some(raw), _) => ("max_daily_conversations_per_business", raw),
        (None, Some(raw)) => ("current_limit", raw),
        (None, None) => {
            return Ok(What::Ignored(
                "names no messaging limit (no max_daily_conversations_per_business or current_limit)"
                    .to_owned(),
            ));
        }
    };
    let limit = limit(&raw).ok_or_else(|| {
        format!(
            "{field}: {raw} is not a messaging limit (TIER_250, TIER_2K, TIER_10K, TIER_100K, TIER_UNLIMITED)"
        )
    })?;
    Ok(What::Apply(Effect::MessagingLimit {
        account: context.account.clone(),
        limit,
        at: context.at,
    }))
}

/// Reads a messaging limit written as Meta's tier name or as a number of customers. `TIER_1K` is from
/// before October 2025, when Meta moved every 1K portfolio to 2K.
fn limit(raw: &Value) -> Option<MessagingLimit> {
    let number = match raw {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => match text.to_ascii_uppercase().as_str() {
            "TIER_250" => Some(250),
            "TIER_1K" | "TIER_2K" => Some(2_000),
            "TIER_10K" => Some(10_000),
            "TIER_100K" => Some(100_000),
            "TIER_UNLIMITED" | "UNLIMITED" => return Some(MessagingLimit::Unlimited),
            digits => digits.parse::<u64>().ok(),
        },
        _ => None,
    }?;
    match number {
        250 => Some(MessagingLimit::Customers250),
        1_000 | 2_000 => Some(MessagingLimit::Customers2K),
        10_000 => Some(MessagingLimit::Customers10K),
        100_000 => Some(MessagingLimit::Customers100K),
        _ => None,
    }
}
