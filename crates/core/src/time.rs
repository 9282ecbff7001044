//! Instants and durations of the rules: milliseconds since the Unix epoch, UTC, and half-open spans.

use std::fmt;
use std::sync::OnceLock;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Datelike, Utc};

/// An instant, in whole milliseconds since the Unix epoch (UTC).
///
/// The service works to the millisecond; finer timestamps from the API are truncated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(i64);

/// A length of time in whole milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(i64);

impl Duration {
    pub const MILLISECOND: Duration = Duration(1);
    pub const SECOND: Duration = Duration(1_000);
    pub const MINUTE: Duration = Duration(60 * 1_000);
    pub const HOUR: Duration = Duration(3_600 * 1_000);
    pub const DAY: Duration = Duration(24 * 3_600 * 1_000);

    /// Returns a duration of `millis` milliseconds.
    pub const fn from_millis(millis: i64) -> Duration {
        Duration(millis)
    }

    /// Returns `n` hours.
    pub const fn hours(n: i64) -> Duration {
        Duration(n * Duration::HOUR.0)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Duration {
    /// Writes the duration in the largest unit that divides it: `24 h`, `90 min`, `45 s`, `250 ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [
            (Duration::HOUR, "h"),
            (Duration::MINUTE, "min"),
            (Duration::SECOND, "s"),
        ];
        for (unit, name) in units {
            if self.0 != 0 && self.0 % unit.0 == 0 {
                return write!(f, "{} {name}", self.0 / unit.0);
            }
        }
        write!(f, "{} ms", self.0)
    }
}

impl Instant {
    /// The earliest instant the API accepts: 1970-01-01T00:00:00Z.
    pub const EPOCH: Instant = Instant(0);

    /// Returns the instant `millis` milliseconds after the Unix epoch.
    pub const fn from_millis(millis: i64) -> Instant {
        Instant(millis)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Returns the instant `duration` later, saturating at the end of time.
    pub fn plus(self, duration: Duration) -> Instant {
        Instant(self.0.saturating_add(duration.0))
    }

    /// Returns the instant `duration` earlier, saturating at the beginning of time.
    pub fn minus(self, duration: Duration) -> Instant {
        Instant(self.0.saturating_sub(duration.0))
    }

    /// Returns the time from `earlier` to `self`, negative when `earlier` is later.
    pub fn since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }

    /// Returns the calendar month (UTC) that contains this instant.
    pub fn utc_month(self) -> Month {
        let date_time = self.to_date_time();
        Month {
            year: date_time.year(),
            month: date_time.month(),
        }
    }

    pub(crate) fn to_date_time(self) -> DateTime<Utc> {
        // Every i64 millisecond count that the API can carry lies within chrono's range (±262,000
        // years); instants beyond it are clamped rather than trusted.
        DateTime::from_timestamp_millis(self.0).unwrap_or(if self.0 < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
    }
}

/// Items of a chrono format, parsed once: `format` parses its string again on every call, which cost
/// a recorded message some 4,600 instructions for each instant or day it wrote out.
pub(crate) struct Layout {
    format: &'static str,
    items: OnceLock<Vec<Item<'static>>>,
}

impl Layout {
    pub(crate) const fn new(format: &'static str) -> Layout {
        Layout {
            format,
            items: OnceLock::new(),
        }
    }

    pub(crate) fn items(&self) -> std::slice::Iter<'_, Item<'static>> {
        self.items
            .get_or_init(|| StrftimeItems::new(self.format).collect())
            .iter()
    }
}

/// RFC 3339 in UTC, to the millisecond.
static RFC3339_MILLIS: Layout = Layout::new("%Y-%m-%dT%H:%M:%S%.3fZ");

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            self.to_date_time().format_with_items(RFC3339_MILLIS.items())
        )
    }
}

/// A calendar month, the period of the free tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// A half-open span of time `[start, end)`: `end` itself is outside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub start: Instant,
    pub end: Instant,
}

impl Span {
    /// Returns the span `[start, start + length)`.
    pub fn starting_at(start: Instant, length: Duration) -> Span {
        Span {
            start,
            end: start.plus(length),
        }
    }

    /// Returns whether `at` lies in `[start, end)`.
    pub fn contains(&self, at: Instant) -> bool {
        self.start <= at && at < self.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_half_open() {
        let span = Span::starting_at(Instant::from_millis(1_000), Duration::SECOND);
        assert!(!span.contains(Instant::from_millis(999)));
        assert!(span.contains(Instant::from_millis(1_000)));
        assert!(span.contains(Instant::from_millis(1_999)));
        assert!(!span.contains(Instant::from_millis(2_000)));
    }

    #[test]
    fn months_are_utc_calendar_months() {
        // 2024-02-29T23:59:59.999Z and 2024-03-01T00:00:00Z.
        let last_of_february = Instant::from_millis(1_709_251_199_999);
        assert_eq!(last_of_february.utc_month(), Month { year: 2024, month: 2 });
        assert_eq!(
            last_of_february.plus(Duration::MILLISECOND).utc_month(),
            Month { year: 2024, month: 3 }
        );
        assert_eq!(Month { year: 2024, month: 3 }.to_string(), "2024-03");
    }

    #[test]
    fn instants_display_as_rfc3339_millis() {
        assert_eq!(
            Instant::from_millis(1_709_251_199_999).to_string(),
            "2024-02-29T23:59:59.999Z"
        );
    }
}
