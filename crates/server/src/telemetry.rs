//! Logging: one tracing subscriber for the process, filtered by `HOURGLASS_LOG` and written as plain
//! lines or JSON.

use anyhow::Context as _;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global tracing subscriber; call it once, from `main`.
pub fn init(log_format: LogFormat, log_filter: &str) -> anyhow::Result<()> {
    let env_filter =
        EnvFilter::try_new(log_filter).with_context(|| format!("parse log filter {log_filter:?}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stdout)
        // Colours only for a person at a terminal, never in files or log collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    let result = match log_format {
        LogFormat::Plain => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    result.map_err(|error| anyhow::anyhow!("install the tracing subscriber: {error}"))
}
