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

/// A WhatsApp user (docs/SPEC.md section 13.4): a phone number, or a business-scoped user id.
///
/// A phone number is E.164 digits, 7 to 15, the first not 0, kept without the leading `+`. A BSUID is
/// an ISO 3166 alpha-2 country code, a period and 1 to 128 ASCII letters and digits
/// (`US.13491208655302741918`); a parent BSUID has `ENT.` after the country code
/// (`US.ENT.11815799212886844830`). Both are safe in storage keys.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CustomerId(String);

/// What a customer id is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CustomerKind<'a> {
    /// A phone number, as digits.
    Phone(&'a str),
    /// A business-scoped user id (parent or not), with its country code.
    Bsuid { country: &'a str, parent: bool },
}

impl CustomerId {
    /// Validates a customer id given in `customer_id`; a leading `+` of a phone number is dropped.
    pub fn new(raw: &str) -> Result<CustomerId, Error> {
        CustomerId::named("customer_id", raw)
    }

    /// Validates a customer id given in the field `field`.
    pub fn named(field: &'static str, raw: &str) -> Result<CustomerId, Error> {
        if raw.as_bytes().get(2) == Some(&b'.') {
            return CustomerId::bsuid(field, raw);
        }
        let digits = raw.strip_prefix('+').unwrap_or(raw);
        if digits.is_empty() {
            return Err(Error::invalid(
                field,
                "must not be empty: give an E.164 number such as 919800000001, or a BSUID such as \
                 US.13491208655302741918",
            ));
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(
                field,
                format!(
                    "must be an E.164 number (digits only, with an optional leading '+') or a BSUID \
                     (a country code, '.', letters and digits), got {}",
                    Echo(raw)
                ),
            ));
        }
        if !(7..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(Error::invalid(
                field,
                format!(
                    "must be an E.164 number of 7 to 15 digits starting with a country code, got {}",
                    Echo(raw)
                ),
            ));
        }
        Ok(CustomerId(digits.to_owned()))
    }

    fn bsuid(field: &'static str, raw: &str) -> Result<CustomerId, Error> {
        let (country, rest) = raw.split_at(2);
        let id = &rest[1..];
        let id = id.strip_prefix("ENT.").unwrap_or(id);
        if crate::country::calling_prefix(country).is_none() {
            return Err(Error::invalid(
                field,
                format!(
                    "{} is not a BSUID: it must begin with an ISO 3166 alpha-2 country code in capitals, \
                     such as US.13491208655302741918",
                    Echo(raw)
                ),
            ));
        }
        if id.is_empty() || id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::invalid(
                field,
                format!(
                    "{} is not a BSUID: after the country code (and `ENT.` for a parent BSUID) come 1 \
                     to {MAX_ID_LEN} ASCII letters and digits",
                    Echo(raw)
                ),
            ));
        }
        Ok(CustomerId(raw.to_owned()))
    }

    /// Returns the id as given (a phone number without `+`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns what the id is.
    pub fn kind(&self) -> CustomerKind<'_> {
        match self.0.as_bytes().get(2) {
            Some(b'.') => CustomerKind::Bsuid {
                country: &self.0[..2],
                parent: self.0[3..].starts_with("ENT."),
            },
            _ => CustomerKind::Phone(&self.0),
        }
    }

    /// Returns the calling-code digits the customer is priced by: the phone number itself, or for a
    /// BSUID the calling code of its country.
    pub fn calling_digits(&self) -> &str {
        match self.kind() {
            CustomerKind::Phone(digits) => digits,
            CustomerKind::Bsuid { country, .. } => {
                crate::country::calling_prefix(country).unwrap_or_default()
            }
        }
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
    fn customer_ids_may_be_bsuids() {
        let bsuid = CustomerId::new("US.13491208655302741918").unwrap();
        assert_eq!(
            bsuid.kind(),
            CustomerKind::Bsuid {
                country: "US",
                parent: false
            }
        );
        assert_eq!(bsuid.calling_digits(), "1");
        let parent = CustomerId::new("US.ENT.11815799212886844830").unwrap();
        assert_eq!(
            parent.kind(),
            CustomerKind::Bsuid {
                country: "US",
                parent: true
            }
        );
        assert_eq!(CustomerId::new("DO.42").unwrap().calling_digits(), "1809");
        assert_eq!(CustomerId::new("IN.abcDEF123").unwrap().calling_digits(), "91");
        assert_eq!(
            CustomerId::new("919800000001").unwrap().kind(),
            CustomerKind::Phone("919800000001")
        );
        let too_long = format!("US.{}", "7".repeat(129));
        for bad in [
            "us.123",
            "ZZ.123",
            "US.",
            "US.ENT.",
            "US.12-3",
            "US.12.3",
            "US.ENT.ENT.1",
            "U1.123",
            &too_long,
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
