//! The one error of the core: a request that breaks a precondition, naming the field at fault.
//!
//! A denial is not an error: it is a `Decision` with `allowed` false.

/// An invalid input, named by its API field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{field}`: {reason}")]
pub struct Error {
    /// The API field at fault, such as `customer_id` or `message.template.category`.
    pub field: &'static str,
    /// What is wrong with it, in lowercase with no final period.
    pub reason: String,
}

impl Error {
    /// Returns an error for `field`.
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
        Error {
            field,
            reason: reason.into(),
        }
    }
}
