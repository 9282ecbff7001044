//! The one error of the core: a request that breaks a precondition, naming the field at fault.
//!
//! A denial is not an error: it is a `Decision` with `allowed` false.

use std::fmt;

/// The most characters of a bad value that an error message repeats.
pub const MAX_ECHO_CHARS: usize = 64;

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

/// Displays a bad input value inside an error message: quoted and escaped as `{:?}` does, and cut to
/// its first [`MAX_ECHO_CHARS`] characters followed by its length, such as `"12345…" (1048576 bytes)`.
///
/// Every message that repeats a value from a request goes through it, so that a megabyte of input never
/// becomes a megabyte of `grpc-message`, which clients refuse.
#[derive(Clone, Copy, Debug)]
pub struct Echo<'a>(pub &'a str);

impl fmt::Display for Echo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Echo(raw) = *self;
        match raw.char_indices().nth(MAX_ECHO_CHARS) {
            None => write!(f, "{raw:?}"),
            Some((cut_idx, _)) => write!(f, "{:?}… ({} bytes)", &raw[..cut_idx], raw.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_repeats_short_values_whole() {
        assert_eq!(Echo("91 98").to_string(), r#""91 98""#);
        assert_eq!(Echo("a\nb").to_string(), r#""a\nb""#);
        let exactly = "x".repeat(MAX_ECHO_CHARS);
        assert_eq!(Echo(&exactly).to_string(), format!("{exactly:?}"));
    }

    #[test]
    fn echo_cuts_long_values_and_names_their_length() {
        let long = "9".repeat(1_000_000);
        assert_eq!(
            Echo(&long).to_string(),
            format!("\"{}\"… (1000000 bytes)", "9".repeat(MAX_ECHO_CHARS))
        );
        // Control characters grow when escaped; the cut bounds them too.
        let control = "\u{1}".repeat(1_000_000);
        assert!(Echo(&control).to_string().len() < 10 * MAX_ECHO_CHARS + 32);
        // The cut falls between characters, never inside one.
        let accents = "é".repeat(100);
        assert!(
            Echo(&accents)
                .to_string()
                .starts_with(&format!("\"{}\"…", "é".repeat(MAX_ECHO_CHARS)))
        );
    }
}
