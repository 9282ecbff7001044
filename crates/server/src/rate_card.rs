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
use toml::Spanned;

/// The rate card shipped with Hourglass: Meta's rates from 2023-06-01 as reported by resellers, with
/// every market of Meta's country table (see the file's comments for sources and gaps).
pub const DEFAULT_RATE_CARD: &str = include_str!("../ratecards/default.toml");

/// The largest rate card file, in bytes. The shipped card, with every market and its dated rows, is
/// about 40 KB; Meta's cards in several currencies stay far below a megabyte.
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
    #[error("rate card {origin}, prefix move {move_number}: {reason}")]
    Move {
        origin: String,
        move_number: usize,
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

/// Parses a rate card from TOML; `origin` names it in errors, which give the line and field at fault.
pub fn parse(text: &str, origin: &str) -> Result<RateCard, Error> {
    let file: RateCardFile = toml::from_str(text).map_err(|error| Error::Syntax {
        origin: origin.to_owned(),
        message: describe_toml_error(text, &error),
    })?;
    let RateCardFile { rates, prefix_moves } = file;
    let mut builder = RateCard::builder();
    for (row_idx, row) in rates.into_iter().enumerate() {
        let market = row.market.clone();
        let row_error = |reason| Error::Row {
            origin: origin.to_owned(),
            row_number: row_idx + 1,
            market: market.clone(),
            reason,
        };
        let default = row.default;
        let utility_tiers = to_tiers(text, "utility_tiers", row.utility_tiers.as_ref()).map_err(row_error)?;
        let authentication_tiers =
            to_tiers(text, "authentication_tiers", row.authentication_tiers.as_ref()).map_err(row_error)?;
        let rate_row = to_rate_row(text, row).map_err(row_error)?;
        builder.card_row(rate_row, default, utility_tiers, authentication_tiers);
    }
    for (move_idx, prefix_move) in prefix_moves.into_iter().enumerate() {
        let PrefixMoveFile {
            prefixes,
            market,
            effective_from,
        } = prefix_move;
        let effective_from = to_instant(text, &effective_from).map_err(|reason| Error::Move {
            origin: origin.to_owned(),
            move_number: move_idx + 1,
            reason,
        })?;
        builder.prefix_move(prefixes, market, effective_from);
    }
    builder.build().map_err(|error| Error::Card {
        origin: origin.to_owned(),
        reason: error.reason,
    })
}

/// A rate card file: one `[[rates]]` table per market, currency and effective date, and one
/// `[[prefix_moves]]` table per dated change of the market map.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateCardFile {
    rates: Vec<RateRowFile>,
    #[serde(default)]
    prefix_moves: Vec<PrefixMoveFile>,
}

/// One `[[rates]]` table, as written; the fields that can be wrong after parsing keep their place in
/// the file, so that an error names its line.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateRowFile {
    market: String,
    #[serde(default)]
    prefixes: Vec<String>,
    currency: Spanned<String>,
    #[serde(default)]
    default: bool,
    effective_from: Spanned<toml::value::Datetime>,
    marketing: Spanned<String>,
    utility: Spanned<String>,
    authentication: Spanned<String>,
    service: Spanned<String>,
    #[serde(default)]
    utility_tiers: Option<Spanned<Vec<TierFile>>>,
    #[serde(default)]
    authentication_tiers: Option<Spanned<Vec<TierFile>>>,
}

/// One tier of a ladder: `{ from = 750001, rate = "0.1081" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TierFile {
    from: u64,
    rate: String,
}

/// One `[[prefix_moves]]` table: from `effective_from` on, `prefixes` belong to `market`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrefixMoveFile {
    prefixes: Vec<String>,
    market: String,
    effective_from: Spanned<toml::value::Datetime>,
}

/// Returns the message of a TOML error with the line it points at, such as
/// ``line 6 (`marketing = 0.0604`): invalid type: floating point `0.0604`, expected a string``.
fn describe_toml_error(text: &str, error: &toml::de::Error) -> String {
    let Some(span) = error.span() else {
        return error.message().to_owned();
    };
    format!("{}: {}", at_line(text, span.start), error.message())
}

/// Names the line of `text` holding byte `offset`, such as ``line 6 (`marketing = 0.0604`)``.
fn at_line(text: &str, offset: usize) -> String {
    let line_number = text
        .get(..offset)
        .map_or(1, |before| before.matches('\n').count() + 1);
    let line = text.lines().nth(line_number - 1).unwrap_or_default().trim();
    format!("line {line_number} (`{line}`)")
}

/// Prefixes `reason` with the line of a field.
fn located<T>(text: &str, field: &Spanned<T>, reason: String) -> String {
    format!("{}: {reason}", at_line(text, field.span().start))
}

fn to_rate_row(text: &str, row: RateRowFile) -> Result<RateRow, String> {
    let RateRowFile {
        market,
        prefixes,
        currency,
        effective_from,
        marketing,
        utility,
        authentication,
        service,
        ..
    } = row;
    let currency = Currency::new(currency.get_ref())
        .map_err(|error| located(text, &currency, format!("`currency` {}", error.reason)))?;
    Ok(RateRow {
        market,
        prefixes,
        currency,
        effective_from: to_instant(text, &effective_from)?,
        marketing: to_rate(text, "marketing", &marketing)?,
        utility: to_rate(text, "utility", &utility)?,
        authentication: to_rate(text, "authentication", &authentication)?,
        service: to_rate(text, "service", &service)?,
    })
}

/// Parses a ladder and checks it on its own (the card checks its first rate against the row's).
fn to_tiers(
    text: &str,
    name: &str,
    ladder: Option<&Spanned<Vec<TierFile>>>,
) -> Result<Vec<(u64, Decimal)>, String> {
    let Some(ladder) = ladder else {
        return Ok(Vec::new());
    };
    let mut tiers = Vec::with_capacity(ladder.get_ref().len());
    for tier in ladder.get_ref() {
        let rate = parse_rate(&format!("{name}` tier `rate"), &tier.rate)
            .map_err(|reason| located(text, ladder, reason))?;
        tiers.push((tier.from, rate));
    }
    if tiers.is_empty() {
        return Err(located(text, ladder, format!("`{name}` has no tiers")));
    }
    if tiers[0].0 > 1 {
        return Err(located(
            text,
            ladder,
            format!("`{name}` must start at 0 or 1, not {}", tiers[0].0),
        ));
    }
    if let Some(pair) = tiers.windows(2).find(|pair| pair[1].0 <= pair[0].0) {
        return Err(located(
            text,
            ladder,
            format!(
                "`{name}` bounds must increase: {} comes after {}",
                pair[1].0, pair[0].0
            ),
        ));
    }
    Ok(tiers)
}

fn to_instant(text: &str, effective_from: &Spanned<toml::value::Datetime>) -> Result<Instant, String> {
    let value = effective_from.get_ref();
    let text_value = value.to_string();
    if value.date.is_none() || value.time.is_none() || value.offset.is_none() {
        return Err(located(
            text,
            effective_from,
            format!(
                "`effective_from` must be a date, time and offset such as 2023-06-01T00:00:00Z, got {text_value}"
            ),
        ));
    }
    let date_time = chrono::DateTime::parse_from_rfc3339(&text_value).map_err(|error| {
        located(
            text,
            effective_from,
            format!("`effective_from` {text_value} is not a valid instant: {error}"),
        )
    })?;
    Ok(Instant::from_millis(date_time.timestamp_millis()))
}

fn to_rate(text: &str, name: &str, value: &Spanned<String>) -> Result<Decimal, String> {
    parse_rate(name, value.get_ref()).map_err(|reason| located(text, value, reason))
}

fn parse_rate(name: &str, text: &str) -> Result<Decimal, String> {
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
