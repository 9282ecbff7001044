//! Meta's webhook bodies as serde types, following the shapes Meta documents for the WhatsApp Business
//! Platform (the webhook reference of each `field`). Every type ignores fields it does not name, and
//! every list is read item by item (`Vec<Value>`, then each item on its own), so that one odd item is
//! reported by its path and never stops the rest of the body.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The body: `{"object": "whatsapp_business_account", "entry": [...]}`.
#[derive(Debug, Deserialize)]
pub(super) struct Notification {
    pub object: String,
    #[serde(default)]
    pub entry: Vec<Value>,
}

/// `entry[]`: one WhatsApp Business Account (`id`) and its changes.
#[derive(Debug, Deserialize)]
pub(super) struct Entry {
    pub id: Id,
    pub time: Option<Timestamp>,
    #[serde(default)]
    pub changes: Vec<Value>,
}

/// `entry[].changes[]`: a `field` and its `value`, whose shape depends on the field.
#[derive(Debug, Deserialize)]
pub(super) struct Change {
    pub field: String,
    #[serde(default)]
    pub value: Value,
}

/// An id Meta writes as a string (`"102290129340398"`) or, in some examples, as a number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Id(pub String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Id, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u64),
        }
        Ok(Id(match Raw::deserialize(deserializer)? {
            Raw::Text(text) => text,
            Raw::Number(number) => number.to_string(),
        }))
    }
}

/// A Unix timestamp, as Meta writes it: seconds, as a string (`"1750275992"`) or a number; a number too
/// large to be seconds (from 10^11 on, the year 5138) is taken as milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Timestamp {
    pub millis: i64,
}

/// From this value on a timestamp is milliseconds: as seconds it would lie past the year 5000.
const MILLISECONDS_FROM: i64 = 100_000_000_000;

impl Timestamp {
    fn from_number(number: i64) -> Option<Timestamp> {
        if number < 0 {
            return None;
        }
        let millis = if number >= MILLISECONDS_FROM {
            number
        } else {
            number * 1_000
        };
        Some(Timestamp { millis })
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Float(f64),
            Text(String),
        }
        let number = match Raw::deserialize(deserializer)? {
            Raw::Number(number) => Some(number),
            // Whole seconds written as 1750275992.0; a fraction is dropped.
            #[allow(clippy::cast_possible_truncation)]
            Raw::Float(float) if float.is_finite() && float.abs() < 1e15 => Some(float as i64),
            Raw::Float(_) => None,
            Raw::Text(text) => text.trim().parse::<i64>().ok(),
        };
        number.and_then(Timestamp::from_number).ok_or_else(|| {
            serde::de::Error::custom(
                "a timestamp must be Unix seconds (or milliseconds), as a number or a string of digits",
            )
        })
    }
}

/// `value.metadata` of the `messages` and `user_preferences` fields.
#[derive(Debug, Deserialize)]
pub(super) struct Metadata {
    pub phone_number_id: Id,
}

/// The `value` of the `messages` field: inbound messages, statuses, or both, with the contacts.
#[derive(Debug, Deserialize)]
pub(super) struct MessagesValue {
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub contacts: Vec<Value>,
    #[serde(default)]
    pub messages: Vec<Value>,
    #[serde(default)]
    pub statuses: Vec<Value>,
}

/// `value.contacts[]`: a customer's ids; `user_id` (a BSUID) since 2026.
#[derive(Debug, Deserialize)]
pub(super) struct Contact {
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
}

/// `value.messages[]`: a message from the customer.
#[derive(Debug, Deserialize)]
pub(super) struct InboundMessage {
    pub id: String,
    pub from: Option<String>,
    pub from_user_id: Option<String>,
    pub timestamp: Timestamp,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub referral: Option<Referral>,
    pub system: Option<System>,
}

/// `messages[].referral`: the ad or post the customer came from.
#[derive(Debug, Deserialize)]
pub(super) struct Referral {
    pub source_type: Option<String>,
}

/// `messages[].system`: a change of the customer's number or user id.
#[derive(Debug, Deserialize)]
pub(super) struct System {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// For `user_changed_number`: the new number.
    pub wa_id: Option<String>,
    /// For `user_changed_user_id`: the new BSUID.
    pub user_id: Option<String>,
    /// For `user_changed_user_id` since August 2026: the old BSUID (such a message names no phone
    /// number).
    pub previous_user_id: Option<String>,
}

/// `value.statuses[]`: the delivery status of an outbound message.
#[derive(Debug, Deserialize)]
pub(super) struct Status {
    pub id: String,
    pub status: String,
    pub timestamp: Timestamp,
    pub recipient_id: Option<String>,
    pub recipient_user_id: Option<String>,
    #[serde(default)]
    pub errors: Vec<StatusError>,
    /// Meta's pricing of the message; older bodies have `conversation` and `pricing` with
    /// `pricing_model` `CBP`, newer ones `PMP` and a `type`.
    pub pricing: Option<Pricing>,
}

/// `statuses[].pricing`: `category`, `type` and `billable`, each optional.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Pricing {
    pub category: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub billable: Option<bool>,
}

/// `statuses[].errors[]`.
#[derive(Debug, Deserialize)]
pub(super) struct StatusError {
    pub code: i64,
}

/// The `value` of the `user_preferences` field.
#[derive(Debug, Deserialize)]
pub(super) struct UserPreferencesValue {
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub user_preferences: Vec<Value>,
}

/// `value.user_preferences[]`: a customer stopped or resumed a category of messages.
#[derive(Debug, Deserialize)]
pub(super) struct UserPreference {
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
    pub category: String,
    pub value: String,
    pub timestamp: Timestamp,
}

/// The `value` of `message_template_status_update`.
#[derive(Debug, Deserialize)]
pub(super) struct TemplateStatusUpdate {
    pub event: String,
    pub message_template_name: String,
    pub message_template_language: String,
    pub message_template_category: Option<String>,
    pub other_info: Option<OtherInfo>,
}

/// `other_info` of a template status update: `FIRST_PAUSE` or `SECOND_PAUSE` for a pause.
#[derive(Debug, Deserialize)]
pub(super) struct OtherInfo {
    pub title: Option<String>,
}

/// The `value` of `template_category_update`: a change made (`previous_category` → `new_category`) or
/// announced (`correct_category` from `category_update_timestamp`).
#[derive(Debug, Deserialize)]
pub(super) struct TemplateCategoryUpdate {
    pub message_template_name: String,
    pub message_template_language: String,
    pub new_category: Option<String>,
    pub correct_category: Option<String>,
    pub category_update_timestamp: Option<Timestamp>,
}

/// The `value` of `message_template_quality_update` (sometimes sent under
/// `message_template_status_update`).
#[derive(Debug, Deserialize)]
pub(super) struct QualityUpdate {
    pub message_template_name: String,
    pub message_template_language: String,
    pub new_quality_score: Option<String>,
}

/// The `value` of `account_update`: an `event`, and for `VOLUME_BASED_PRICING_TIER_UPDATE` the tier.
#[derive(Debug, Deserialize)]
pub(super) struct AccountUpdate {
    pub event: Option<String>,
    pub volume_tier_info: Option<VolumeTierInfo>,
}

/// `account_update` `value.volume_tier_info`: Meta's tier of a market and category for a month.
#[derive(Debug, Deserialize)]
pub(super) struct VolumeTierInfo {
    pub tier_update_time: Timestamp,
    pub pricing_category: String,
    pub tier: String,
    /// `YYYY-MM`.
    pub effective_month: String,
    pub region: String,
}

/// The `value` of `phone_number_quality_update` and `business_capability_update`: the messaging limit
/// as `max_daily_conversations_per_business` (or the older `current_limit`), a tier name such as
/// `TIER_2K` or a number.
#[derive(Debug, Deserialize)]
pub(super) struct LimitUpdate {
    pub max_daily_conversations_per_business: Option<Value>,
    pub current_limit: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_seconds_or_milliseconds_as_numbers_or_strings() {
        let parse = |json: &str| serde_json::from_str::<Timestamp>(json).map(|at| at.millis);
        assert_eq!(parse("1750275992").unwrap(), 1_750_275_992_000);
        assert_eq!(parse("\"1750275992\"").unwrap(), 1_750_275_992_000);
        assert_eq!(parse("1750275992123").unwrap(), 1_750_275_992_123);
        assert_eq!(parse("\"1750275992123\"").unwrap(), 1_750_275_992_123);
        assert_eq!(parse("1750275992.0").unwrap(), 1_750_275_992_000);
        for bad in ["\"soon\"", "-5", "null", "\"\"", "{}"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_are_strings_or_numbers() {
        assert_eq!(serde_json::from_str::<Id>("\"42\"").unwrap(), Id("42".to_owned()));
        assert_eq!(serde_json::from_str::<Id>("42").unwrap(), Id("42".to_owned()));
    }
}
