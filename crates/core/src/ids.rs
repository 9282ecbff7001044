//! Identifiers, validated once at the edge and trusted everywhere after.

use std::fmt;

use crate::Error;
use crate::error::Echo;

const MAX_ID_LEN: usize = 128;
const MAX_MESSAGE_ID_LEN: usize = 256;

/// A business phone number id (Meta's `phone_number_id`): the sender.
///
/// ASCII letters, digits, `-`, `_` and `.`, 1 to 128 characters, so that it is safe in storage keys.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BusinessId(String);

impl BusinessId {
    /// Validates a business id.
    pub fn new(raw: &str) -> Result<BusinessId, Error> {
        BusinessId::named("business_id", raw)
    }

    /// Validates a business id given in the field `field`.
    pub fn named(field: &'static str, raw: &str) -> Result<BusinessId, Error> {
        key_safe(field, raw).map(BusinessId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BusinessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A WhatsApp user: an E.164 number as 7 to 15 digits, the first not 0, without the leading `+`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CustomerId(String);

impl CustomerId {
    /// Validates a customer id; a leading `+` is accepted and dropped.
    pub fn new(raw: &str) -> Result<CustomerId, Error> {
        const FIELD: &str = "customer_id";
        let digits = raw.strip_prefix('+').unwrap_or(raw);
        if digits.is_empty() {
            return Err(Error::invalid(
                FIELD,
                "must not be empty: give an E.164 number such as 919800000001",
            ));
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(
                FIELD,
                format!(
                    "must be an E.164 number, digits only with an optional leading '+', got {}",
                    Echo(raw)
                ),
            ));
        }
        if !(7..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(Error::invalid(
                FIELD,
                format!(
                    "must be an E.164 number of 7 to 15 digits starting with a country code, got {}",
                    Echo(raw)
                ),
            ));
        }
        Ok(CustomerId(digits.to_owned()))
    }

    /// Returns the digits, without `+`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message id (Meta's `wamid`, or the gateway's own id), unique per business.
///
/// 1 to 256 bytes, no whitespace or control characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(String);

impl MessageId {
    /// Validates a message id.
    pub fn new(raw: &str) -> Result<MessageId, Error> {
        const FIELD: &str = "message_id";
        if raw.is_empty() {
            return Err(Error::invalid(FIELD, "must not be empty"));
        }
        if raw.len() > MAX_MESSAGE_ID_LEN {
            return Err(Error::invalid(
                FIELD,
                format!("must be at most {MAX_MESSAGE_ID_LEN} bytes"),
            ));
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::invalid(
                FIELD,
                "must not contain whitespace or control characters",
            ));
        }
        Ok(MessageId(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The WhatsApp Business Account a business belongs to: free tier and usage are counted per account.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

impl AccountId {
    /// Validates an account id (Meta's WhatsApp Business Account id) given in the field `field`.
    pub fn new(field: &'static str, raw: &str) -> Result<AccountId, Error> {
        key_safe(field, raw).map(AccountId)
    }

    /// Returns the account of a business that is not registered with one: the business itself.
    pub fn of_unregistered(business_id: &BusinessId) -> AccountId {
        AccountId(business_id.as_str().to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A business portfolio: it owns accounts, and its messaging limit counts across them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortfolioId(String);

impl PortfolioId {
    /// Validates a portfolio id given in the field `field`.
    pub fn new(field: &'static str, raw: &str) -> Result<PortfolioId, Error> {
        key_safe(field, raw).map(PortfolioId)
    }

    /// Returns the portfolio of an account that names none: the account itself.
    pub fn of_account(account: &AccountId) -> PortfolioId {
        PortfolioId(account.as_str().to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PortfolioId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Validates an id that becomes part of storage keys: ASCII letters, digits, `-`, `_` and `.`, 1 to
/// 128 characters.
fn key_safe(field: &'static str, raw: &str) -> Result<String, Error> {
    if raw.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if raw.len() > MAX_ID_LEN {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_ID_LEN} characters"),
        ));
    }
    if let Some(bad) = raw
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(Error::invalid(
            field,
            format!("may hold only ASCII letters, digits, '-', '_' and '.', found {bad:?}"),
        ));
    }
    Ok(raw.to_owned())
}

/// One (business, customer) pair: every window and conversation belongs to exactly one thread.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadKey {
    pub business_id: BusinessId,
    pub customer_id: CustomerId,
}

impl ThreadKey {
    /// Returns the account of this thread's business while it is not registered with one.
    pub fn unregistered_account(&self) -> AccountId {
        AccountId::of_unregistered(&self.business_id)
    }
}

impl fmt::Display for ThreadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.business_id, self.customer_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_ids_are_e164_digits() {
        assert_eq!(CustomerId::new("+919800000001").unwrap().as_str(), "919800000001");
        assert_eq!(CustomerId::new("919800000001").unwrap().as_str(), "919800000001");
        for bad in [
            "",
            "+",
            "91 98000",
            "91980000000a",
            "0919800000",
            "123456",
            "1234567890123456",
        ] {
            let error = CustomerId::new(bad).unwrap_err();
            assert_eq!(error.field, "customer_id", "{bad:?}");
        }
    }

    #[test]
    fn bad_customer_ids_are_echoed_short() {
        for bad in [
            "9".repeat(1_000_000),
            "\u{1}".repeat(1_000_000),
            "+1".repeat(500_000),
        ] {
            let error = CustomerId::new(&bad).unwrap_err();
            assert!(error.reason.len() < 1_000, "{} bytes", error.reason.len());
            assert!(
                error.reason.ends_with(&format!("({} bytes)", bad.len())),
                "{}",
                error.reason
            );
        }
    }

    #[test]
    fn business_ids_are_key_safe() {
        assert!(BusinessId::new("106540352242922").is_ok());
        assert!(BusinessId::new("acme-eu_1.test").is_ok());
        for bad in ["", "a b", "a:b", "a{b}", &"x".repeat(129)] {
            assert_eq!(BusinessId::new(bad).unwrap_err().field, "business_id", "{bad:?}");
        }
    }

    #[test]
    fn message_ids_reject_blank_and_control_characters() {
        assert!(MessageId::new("wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA").is_ok());
        for bad in ["", " ", "a b", "a\nb", &"x".repeat(257)] {
            assert_eq!(MessageId::new(bad).unwrap_err().field, "message_id", "{bad:?}");
        }
    }
}
