//! The errors of a request, and the one function that turns them into a gRPC `Status`.

use tonic::Status;

/// The longest message an `INVALID_ARGUMENT` carries, in bytes. Core messages already cut the values
/// they repeat (`hourglass_core`'s `Echo`); this bounds whatever else a message might grow by.
const MAX_INVALID_MESSAGE_BYTES: usize = 1_024;

/// Why a request failed. A denial is not an error: it is a `Decision`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The request breaks a precondition; the message names the field.
    #[error(transparent)]
    Invalid(#[from] hourglass_core::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] hourglass_store::Error),
    /// What the request names was never written, such as a `GetAccount` of an unknown account.
    #[error("{0}")]
    NotFound(String),
    /// The store did not answer within the store timeout.
    #[error("the store did not answer within {timeout_ms} ms")]
    StoreTimeout { timeout_ms: u128 },
    /// The request's credentials are missing or wrong, such as a webhook's signature.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller's token may not touch what the request names (`--auth-file`); the message never
    /// says whether it exists.
    #[error("{0}")]
    PermissionDenied(String),
}

impl Error {
    /// Returns whether the store could not be reached: it timed out or said it is unavailable (not a
    /// store that failed for good, nor corrupt data).
    pub(crate) fn is_store_unavailable(&self) -> bool {
        matches!(
            self,
            Error::StoreTimeout { .. } | Error::Store(hourglass_store::Error::Unavailable { .. })
        )
    }
}

/// Maps an error to the status the client sees, and logs what an operator must know. Internal causes
/// stay in the log: the client only learns the kind of failure.
pub(crate) fn to_status(error: Error) -> Status {
    match error {
        Error::Invalid(error) => {
            // The field names what was wrong; the value itself stays out of the log.
            tracing::info!(field = error.field, "request rejected");
            Status::invalid_argument(truncate(error.to_string(), MAX_INVALID_MESSAGE_BYTES))
        }
        Error::NotFound(message) => Status::not_found(truncate(message, MAX_INVALID_MESSAGE_BYTES)),
        Error::Unauthenticated(message) => {
            tracing::info!("request refused: {message}");
            Status::unauthenticated(message)
        }
        Error::PermissionDenied(message) => Status::permission_denied(message),
        Error::StoreTimeout { timeout_ms } => {
            tracing::warn!(timeout_ms, "store call timed out");
            Status::unavailable(format!(
                "the store did not answer within {timeout_ms} ms, retry later"
            ))
        }
        Error::Store(error @ hourglass_store::Error::Unavailable { .. }) => {
            tracing::warn!(error = %scrubbed(&error), "store unavailable");
            Status::unavailable("the store is unavailable, retry later")
        }
        Error::Store(error @ hourglass_store::Error::Failed { .. }) => {
            tracing::error!(error = %scrubbed(&error), "store failed, a restart is required");
            Status::unavailable("the store failed and this server is restarting, retry later")
        }
        Error::Store(
            error @ (hourglass_store::Error::Corrupt { .. } | hourglass_store::Error::Config { .. }),
        ) => {
            tracing::error!(error = %scrubbed(&error), "store failed");
            Status::internal("internal store error")
        }
    }
}

/// Cuts `message` to at most `max_bytes` bytes, on a character boundary, marking the cut with `…`.
fn truncate(mut message: String, max_bytes: usize) -> String {
    if message.len() <= max_bytes {
        return message;
    }
    let mut cut_idx = max_bytes.saturating_sub('…'.len_utf8());
    while !message.is_char_boundary(cut_idx) {
        cut_idx -= 1;
    }
    message.truncate(cut_idx);
    message.push('…');
    message
}

/// Returns an error's chain for a log line, its phone numbers hashed: a store's message may name the
/// key of a thread, which holds the customer's number.
fn scrubbed(error: &(dyn std::error::Error + 'static)) -> String {
    crate::telemetry::scrub_numbers(&DisplayChain(error).to_string()).into_owned()
}

/// Displays an error with its chain of sources, `outer: inner: innermost`.
struct DisplayChain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_keeps_short_messages_and_cuts_long_ones_on_a_character() {
        assert_eq!(truncate("short".to_owned(), 10), "short");
        let cut = truncate("é".repeat(1_000), 101);
        assert!(cut.len() <= 101, "{}", cut.len());
        assert!(cut.ends_with('…'));
        let status = to_status(Error::Invalid(hourglass_core::Error::invalid(
            "customer_id",
            "x".repeat(5_000),
        )));
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().len() <= MAX_INVALID_MESSAGE_BYTES);
    }
}
