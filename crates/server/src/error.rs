//! The errors of a request, and the one function that turns them into a gRPC `Status`.

use tonic::Status;

/// Why a request failed. A denial is not an error: it is a `Decision`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The request breaks a precondition; the message names the field.
    #[error(transparent)]
    Invalid(#[from] hourglass_core::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] hourglass_store::Error),
    /// The store did not answer within the store timeout.
    #[error("the store did not answer within {timeout_ms} ms")]
    StoreTimeout { timeout_ms: u128 },
}

/// Maps an error to the status the client sees, and logs what an operator must know. Internal causes
/// stay in the log: the client only learns the kind of failure.
pub(crate) fn to_status(error: Error) -> Status {
    match error {
        Error::Invalid(error) => Status::invalid_argument(error.to_string()),
        Error::StoreTimeout { timeout_ms } => {
            tracing::warn!(timeout_ms, "store call timed out");
            Status::unavailable(format!(
                "the store did not answer within {timeout_ms} ms, retry later"
            ))
        }
        Error::Store(error @ hourglass_store::Error::Unavailable { .. }) => {
            tracing::warn!(error = %DisplayChain(&error), "store unavailable");
            Status::unavailable("the store is unavailable, retry later")
        }
        Error::Store(error @ hourglass_store::Error::Failed { .. }) => {
            tracing::error!(error = %DisplayChain(&error), "store failed, a restart is required");
            Status::unavailable("the store failed and this server is restarting, retry later")
        }
        Error::Store(
            error @ (hourglass_store::Error::Corrupt { .. } | hourglass_store::Error::Config { .. }),
        ) => {
            tracing::error!(error = %DisplayChain(&error), "store failed");
            Status::internal("internal store error")
        }
    }
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
