//! Rate card files: the TOML format operators write, the default card shipped inside the binary, and
//! their conversion into `hourglass_core::RateCard`.
//!
//! Amounts are decimal strings parsed with `rust_decimal`, never floats, so that `"0.8147"` stays
//! exactly 0.8147. The format is documented in `ratecards/default.toml`.

use std::io::Read as _;
use std::path::Path;
use std::str::FromStr;

use hourglass_core::{Currency, Instant, RateCard, RateRow};
use rust_decimal::Decimal;
use serde::Deserialize;

/// The rate card shipped with Hourglass: Meta's June 2023 rates as reported by resellers.
pub const DEFAULT_RATE_CARD: &str = include_str!("../ratecards/default.toml");

/// The largest rate card file, in bytes. The shipped card is 2.5 KB; one with every market and many
/// effective dates stays far below a megabyte.
pub const MAX_RATE_CARD_BYTES: u64 = 1024 * 1024;

/// The most decimal places a rate may have: `google.type.Money` carries nanos.
const MAX_DECIMAL_PLACES: u32 = 9;

/// A rate card that cannot be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read rate card {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("rate card {path} is not a regular file (a FIFO or a device would block the reload)")]
    NotAFile { path: String },
    #[error("rate card {path} is larger than {MAX_RATE_CARD_BYTES} bytes")]
    TooLarge { path: String },
    #[error("rate card {origin} is not valid TOML for a rate card: {message}")]
    Syntax { origin: String, message: String },
    #[error("rate card {origin}, row {row_number} (market {market:?}): {reason}")]
    Row {
        origin: String,
        row_number: usize,
        market: String,
        reason: String,
    },
    #[error("rate card {origin}: {reason}")]
    Card { origin: String, reason: String },
}

/// Returns the default card, or the card in the file at `path` when one is given.
///
/// Reads only a regular file of at most [`MAX_RATE_CARD_BYTES`]. The read blocks the thread: call it
/// off the async runtime (`reload_on_sighup` uses `spawn_blocking`).
pub fn load(path: Option<&Path>) -> Result<RateCard, Error> {
    match path {
        None => parse(DEFAULT_RATE_CARD, "(built-in default)"),
        Some(path) => {
            let text = read_card(path)?;
            parse(&text, &path.display().to_string())
        }
    }
}

/// Reads a rate card file: a regular file only, so that a FIFO put in its place cannot block the read
/// forever, and no more than [`MAX_RATE_CARD_BYTES`].
fn read_card(path: &Path) -> Result<String, Error> {
    let shown = || path.display().to_string();
    let read_error = |source| Error::Read {
        path: shown(),
        source,
    };
    // `stat` does not block on a FIFO, where `open` would wait for a writer.
    let metadata = std::fs::metadata(path).map_err(read_error)?;
    if !metadata.is_file() {
        return Err(Error::NotAFile { path: shown() });
    }
    if metadata.len() > MAX_RATE_CARD_BYTES {
        return Err(Error::TooLarge { path: shown() });
    }
    let file = std::fs::File::open(path).map_err(read_error)?;
    // The path may name another file since the `stat`: check what was opened, and bound the read.
    if !file.metadata().map_err(read_error)?.is_file() {
        return Err(Error::NotAFile { path: shown() });
    }
    let mut text = String::new();
    file.take(MAX_RATE_CARD_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    if u64::try_from(text.len()).unwrap_or(u64::MAX) > MAX_RATE_CARD_BYTES {
        return Err(Error::TooLarge { path: shown() });
    }
    Ok(text)
}

/// Parses a rate card from TOML; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<RateCard, Error> {
    let file: RateCardFile = toml::from_str(text).map_err(|error| Error::Syntax {
        origin: origin.to_owned(),
        message: describe_toml_error(text, &error),
    })?;
    let RateCardFile { rates } = file;
    let rows = rates
        .into_iter()
        .enumerate()
        .map(|(row_idx, row)| {
            let market = row.market.clone();
            to_rate_row(row).map_err(|reason| Error::Row {
                origin: origin.to_owned(),
                row_number: row_idx + 1,
                market,
                reason,
            })
        })
        .collect::<Result<Vec<RateRow>, Error>>()?;
    RateCard::new(rows).map_err(|error| Error::Card {
        origin: origin.to_owned(),
        reason: error.reason,
    })
}

/// A rate card file: one `[[rates]]` table per market and effective date.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateCardFile {
    rates: Vec<RateRowFile>,
}

/// One `[[rates]]` table, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateRowFile {
    market: String,
    #[serde(default)]
    prefixes: Vec<String>,
    currency: String,
    effective_from: toml::value::Datetime,
    marketing: String,
    utility: String,
    authentication: String,
    service: String,
}

/// Returns the message of a TOML error with the line it points at, such as
/// ``line 6 (`marketing = 0.0604`): invalid type: floating point `0.0604`, expected a string``.
fn describe_toml_error(text: &str, error: &toml::de::Error) -> String {
    let Some(span) = error.span() else {
        return error.message().to_owned();
    };
    let line_number = text
        .get(..span.start)
        .map_or(1, |before| before.matches('\n').count() + 1);
    let line = text.lines().nth(line_number - 1).unwrap_or_default().trim();
    format!("line {line_number} (`{line}`): {}", error.message())
}

fn to_rate_row(row: RateRowFile) -> Result<RateRow, String> {
    let RateRowFile {
        market,
        prefixes,
        currency,
        effective_from,
        marketing,
        utility,
        authentication,
        service,
    } = row;
    let currency = Currency::new(&currency).map_err(|error| format!("`currency` {}", error.reason))?;
    Ok(RateRow {
        market,
        prefixes,
        currency,
        effective_from: to_instant(&effective_from)?,
        marketing: to_rate("marketing", &marketing)?,
        utility: to_rate("utility", &utility)?,
        authentication: to_rate("authentication", &authentication)?,
        service: to_rate("service", &service)?,
    })
}

fn to_instant(effective_from: &toml::value::Datetime) -> Result<Instant, String> {
    let text = effective_from.to_string();
    if effective_from.date.is_none() || effective_from.time.is_none() || effective_from.offset.is_none() {
        return Err(format!(
            "`effective_from` must be a date, time and offset such as 2023-06-01T00:00:00Z, got {text}"
        ));
    }
    let date_time = chrono::DateTime::parse_from_rfc3339(&text)
        .map_err(|error| format!("`effective_from` {text} is not a valid instant: {error}"))?;
    Ok(Instant::from_millis(date_time.timestamp_millis()))
}

fn to_rate(name: &str, text: &str) -> Result<Decimal, String> {
    let rate = Decimal::from_str(text.trim()).map_err(|error| {
        format!("`{name}` must be a decimal string such as \"0.8147\", got {text:?}: {error}")
    })?;
    if rate.scale() > MAX_DECIMAL_PLACES {
        return Err(format!(
            "`{name}` has more than {MAX_DECIMAL_PLACES} decimal places: {text:?}"
        ));
    }
    if rate.is_sign_negative() && !rate.is_zero() {
        return Err(format!("`{name}` must not be negative, got {text:?}"));
    }
    Ok(rate)
}

#[cfg(test)]
mod tests;
