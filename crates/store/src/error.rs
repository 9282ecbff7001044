//! The one error of every store backend, with variants the server can act on.

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The backend cannot be reached or did not answer in time; the call may be retried.
    #[error("store unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Stored data could not be read back: a bug or a foreign writer.
    #[error("stored data is corrupt: {message}")]
    Corrupt { message: String },
    /// The store was configured wrongly (bad URL, missing backend).
    #[error("store misconfigured: {message}")]
    Config { message: String },
    /// The store failed in a way it cannot recover from while the process runs (a sled database whose
    /// disk refused a write, or whose directory disappeared): it refuses every write from then on, and
    /// the process must restart to serve again.
    #[error("store failed, restart required: {message}")]
    Failed { message: String },
}

impl Error {
    /// Wraps a backend error that makes the store unreachable.
    pub fn unavailable(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Error {
        Error::Unavailable {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub fn corrupt(message: impl Into<String>) -> Error {
        Error::Corrupt {
            message: message.into(),
        }
    }
}
