//! What the guards read (docs/SPEC.md section 13): accounts, portfolios, businesses, templates and
//! consent, as values that change at the instants they take effect.
//!
//! Each registry entry is a [`History`]: a write puts a value from its `effective_at`, and a decision
//! reads the value that held at its own instant, so a change announced for later (a template paused
//! for 3 h, a re-categorisation dated tomorrow) is decided correctly whenever it was written.

use std::fmt;

use chrono_tz::Tz;

use crate::error::Echo;
use crate::{
    AccountId, Currency, CustomerId, Day, Duration, Error, Instant, Money, PortfolioId, TemplateCategory,
};

/// The most changes a history keeps; older ones are forgotten first.
pub const MAX_CHANGES: usize = 256;

/// The longest window a marketing cap may count over.
pub const MAX_MARKETING_CAP_WINDOW: Duration = Duration::hours(30 * 24);

/// How long Meta asks a business to hold marketing to a customer after error 131049 ("wait at least
/// 24 hours").
pub const MARKETING_HOLD: Duration = Duration::hours(24);

/// The longest consent source kept.
const MAX_SOURCE_LEN: usize = 256;

/// A value that changes at instants: each change holds from its `effective_at` until the next one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct History<T> {
    /// Sorted by `effective_at`, at most one change per instant.
    changes: Vec<Change<T>>,
}

/// One change of a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change<T> {
    pub effective_at: Instant,
    pub value: T,
}

impl<T> Default for History<T> {
    fn default() -> History<T> {
        History { changes: Vec::new() }
    }
}

impl<T: Clone + PartialEq> History<T> {
    /// Restores a history from its changes, in any order; of two at one instant the later one stays.
    pub fn from_changes(changes: Vec<Change<T>>) -> History<T> {
        let mut history = History::default();
        for change in changes {
            history.put(change.effective_at, change.value);
        }
        history
    }

    pub fn changes(&self) -> &[Change<T>] {
        &self.changes
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Puts `value` from `effective_at`, replacing a change at the same instant. Returns false when the
    /// history already held exactly this change: writing it again changes nothing.
    pub fn put(&mut self, effective_at: Instant, value: T) -> bool {
        let position = self
            .changes
            .partition_point(|change| change.effective_at < effective_at);
        match self.changes.get_mut(position) {
            Some(change) if change.effective_at == effective_at => {
                if change.value == value {
                    return false;
                }
                change.value = value;
            }
            _ => self.changes.insert(position, Change { effective_at, value }),
        }
        if self.changes.len() > MAX_CHANGES {
            self.changes.remove(0);
        }
        true
    }

    /// Returns the change in force at `at`: the latest one effective at or before it.
    pub fn change_at(&self, at: Instant) -> Option<&Change<T>> {
        let position = self.changes.partition_point(|change| change.effective_at <= at);
        position.checked_sub(1).map(|index| &self.changes[index])
    }

    /// Returns the value in force at `at`.
    pub fn at(&self, at: Instant) -> Option<&T> {
        self.change_at(at).map(|change| &change.value)
    }

    /// Returns the latest change, whenever it takes effect.
    pub fn latest(&self) -> Option<&Change<T>> {
        self.changes.last()
    }
}

/// An IANA time zone, where an account's months and calendar dates begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Zone(Tz);

impl Default for Zone {
    fn default() -> Zone {
        Zone::UTC
    }
}

impl Zone {
    pub const UTC: Zone = Zone(Tz::UTC);

    /// Parses an IANA time zone name such as `Asia/Kolkata`; an empty name is UTC.
    pub fn new(field: &'static str, name: &str) -> Result<Zone, Error> {
        if name.is_empty() {
            return Ok(Zone::UTC);
        }
        name.parse::<Tz>().map(Zone).map_err(|_| {
            Error::invalid(
                field,
                format!(
                    "{} is not an IANA time zone name such as Asia/Kolkata or America/Sao_Paulo",
                    Echo(name)
                ),
            )
        })
    }

    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// Returns the wall-clock time of `at` in this zone, written as if it were UTC. A date has begun
    /// in this zone at `at` when its 00:00 UTC is at or before this instant, so calendar rules (months,
    /// pricing eras, rate-card dates) compare dates with it.
    pub fn wall_clock(&self, at: Instant) -> Instant {
        let local = at.to_date_time().with_timezone(&self.0).naive_local();
        Instant::from_millis(local.and_utc().timestamp_millis())
    }

    /// Returns the calendar day (or, with `monthly`, the month) of this zone that holds `at`, as the
    /// instants it begins and ends: `[start, end)`.
    pub fn period_of(&self, at: Instant, monthly: bool) -> (Instant, Instant) {
        self.period_of_day(self.day_of(at), monthly)
    }

    /// Returns the calendar date of this zone that holds `at`, named as a `Day` (its number of days
    /// since 1970-01-01, printed `YYYY-MM-DD`).
    pub fn day_of(&self, at: Instant) -> Day {
        Day::of_date(at.to_date_time().with_timezone(&self.0).date_naive())
    }

    /// Returns the calendar date `day` of this zone (or, with `monthly`, its month) as the instants it
    /// begins and ends in this zone: `[start, end)`.
    pub fn period_of_day(&self, day: Day, monthly: bool) -> (Instant, Instant) {
        use chrono::{Datelike as _, Days, Months, TimeZone as _};

        let date = day.date();
        let first = if monthly {
            date.with_day(1).unwrap_or(date)
        } else {
            date
        };
        let next = if monthly {
            first.checked_add_months(Months::new(1))
        } else {
            first.checked_add_days(Days::new(1))
        }
        .unwrap_or(first);
        // Midnight may not exist where a clock jumps forward at it: the period then begins at the first
        // instant of its day that does.
        let begins = |day: chrono::NaiveDate| {
            (0..24)
                .find_map(|hour| {
                    self.0
                        .from_local_datetime(&day.and_hms_opt(hour, 0, 0)?)
                        .earliest()
                })
                .map_or_else(
                    || {
                        Instant::from_millis(
                            day.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_millis(),
                        )
                    },
                    |start| Instant::from_millis(start.timestamp_millis()),
                )
        };
        (begins(first), begins(next))
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A cap on marketing templates per customer: at most `count` in any window of `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MarketingCap {
    pub count: u32,
    pub window: Duration,
}

impl MarketingCap {
    /// Validates a cap: at least one message, over a window longer than zero and at most 30 days.
    pub fn new(count: u32, window: Duration) -> Result<MarketingCap, Error> {
        if count == 0 {
            return Err(Error::invalid(
                "marketing_cap.count",
                "must be at least 1; leave `marketing_cap` out for no cap",
            ));
        }
        if window.as_millis() <= 0 {
            return Err(Error::invalid("marketing_cap.window", "must be longer than zero"));
        }
        if window > MAX_MARKETING_CAP_WINDOW {
            return Err(Error::invalid("marketing_cap.window", "must be at most 30 days"));
        }
        Ok(MarketingCap { count, window })
    }
}

/// The messaging limit of a portfolio: distinct customers it may reach outside a customer service
/// window in any moving 24 h.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MessagingLimit {
    Customers250,
    Customers2K,
    Customers10K,
    Customers100K,
    #[default]
    Unlimited,
}

impl MessagingLimit {
    /// Returns the number of customers, none when unlimited.
    pub fn customers(self) -> Option<u32> {
        match self {
            MessagingLimit::Customers250 => Some(250),
            MessagingLimit::Customers2K => Some(2_000),
            MessagingLimit::Customers10K => Some(10_000),
            MessagingLimit::Customers100K => Some(100_000),
            MessagingLimit::Unlimited => None,
        }
    }
}

/// A WhatsApp Business Account's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub portfolio: PortfolioId,
    pub time_zone: Zone,
    /// The billing currency; none: each market's default row.
    pub currency: Option<Currency>,
    pub require_opt_in: bool,
    pub require_registered_templates: bool,
    pub marketing_cap: Option<MarketingCap>,
    pub monthly_budget: Option<Money>,
}

impl Account {
    /// Validates a monthly budget of an account billed in `currency`: zero or more, in the billing
    /// currency (docs/SPEC.md section 15.3: Hourglass never converts currencies).
    pub fn check_budget(budget: &Money, currency: Option<Currency>) -> Result<(), Error> {
        if budget.amount.is_sign_negative() && !budget.amount.is_zero() {
            return Err(Error::invalid("monthly_budget", "must not be negative"));
        }
        match currency {
            None => Err(Error::invalid(
                "monthly_budget",
                format!(
                    "a budget needs the account's billing currency: set currency to {}",
                    budget.currency
                ),
            )),
            Some(currency) if currency != budget.currency => Err(Error::invalid(
                "monthly_budget.currency_code",
                format!(
                    "must be the account's billing currency {currency}, got {}: Hourglass never converts \
                     currencies",
                    budget.currency
                ),
            )),
            Some(_) => Ok(()),
        }
    }
}

/// A business portfolio's settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Portfolio {
    pub messaging_limit: MessagingLimit,
}

/// A business phone number's registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Business {
    pub account: AccountId,
}

/// A template's review status, as Meta reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TemplateStatus {
    Approved,
    Pending,
    Rejected,
    Paused,
    Disabled,
    InAppeal,
    PendingDeletion,
    Deleted,
    Archived,
    LimitExceeded,
}

impl TemplateStatus {
    /// Returns Meta's name of the status, as in `APPROVED`.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateStatus::Approved => "APPROVED",
            TemplateStatus::Pending => "PENDING",
            TemplateStatus::Rejected => "REJECTED",
            TemplateStatus::Paused => "PAUSED",
            TemplateStatus::Disabled => "DISABLED",
            TemplateStatus::InAppeal => "IN_APPEAL",
            TemplateStatus::PendingDeletion => "PENDING_DELETION",
            TemplateStatus::Deleted => "DELETED",
            TemplateStatus::Archived => "ARCHIVED",
            TemplateStatus::LimitExceeded => "LIMIT_EXCEEDED",
        }
    }
}

/// A template as it stands from one change on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateState {
    pub status: TemplateStatus,
    pub category: TemplateCategory,
    /// For a paused template, when the pause ends; none: until a later change.
    pub paused_until: Option<Instant>,
}

impl TemplateState {
    /// Validates a state that takes effect at `effective_at`.
    pub fn new(
        status: TemplateStatus,
        category: TemplateCategory,
        paused_until: Option<Instant>,
        effective_at: Instant,
    ) -> Result<TemplateState, Error> {
        if let Some(until) = paused_until {
            if status != TemplateStatus::Paused {
                return Err(Error::invalid(
                    "paused_until",
                    format!("is only for a PAUSED template, not {}", status.as_str()),
                ));
            }
            if until <= effective_at {
                return Err(Error::invalid(
                    "paused_until",
                    format!("{until} must be after effective_at ({effective_at})"),
                ));
            }
        }
        Ok(TemplateState {
            status,
            category,
            paused_until,
        })
    }
}

/// A template's identity in its account: name and language.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TemplateName {
    name: String,
    language: String,
}

impl TemplateName {
    /// Validates a template's name (Meta's rule: lowercase letters, digits and `_`, at most 512) and
    /// language code (such as `en`, `en_US`, `pt_BR`).
    pub fn new(name: &str, language: &str) -> Result<TemplateName, Error> {
        if name.is_empty() {
            return Err(Error::invalid("name", "must not be empty"));
        }
        if name.len() > 512
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(Error::invalid(
                "name",
                format!(
                    "{} is not a template name: at most 512 lowercase letters, digits and '_'",
                    Echo(name)
                ),
            ));
        }
        if language.is_empty() {
            return Err(Error::invalid(
                "language",
                "must name the template's language, such as en or pt_BR",
            ));
        }
        if language.len() > 16
            || !language
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Error::invalid(
                "language",
                format!("{} is not a language code such as en or pt_BR", Echo(language)),
            ));
        }
        Ok(TemplateName {
            name: name.to_owned(),
            language: language.to_owned(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn language(&self) -> &str {
        &self.language
    }
}

impl fmt::Display for TemplateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` ({})", self.name, self.language)
    }
}

/// A kind of consent event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConsentKind {
    OptIn,
    OptOut,
    MarketingStop,
    MarketingResume,
    /// Meta failed a message with 131049 (the per-user marketing limit): no marketing template for
    /// `MARKETING_HOLD` from the event.
    MarketingHold,
}

impl ConsentKind {
    fn as_str(self) -> &'static str {
        match self {
            ConsentKind::OptIn => "opt-in",
            ConsentKind::OptOut => "opt-out",
            ConsentKind::MarketingStop => "marketing stop",
            ConsentKind::MarketingResume => "marketing resume",
            ConsentKind::MarketingHold => "marketing hold after Meta error 131049",
        }
    }
}

/// One consent event of a thread.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ConsentEvent {
    pub kind: ConsentKind,
    pub at: Instant,
    /// Where it came from, such as `keyword STOP` or `meta user_preferences`.
    pub source: String,
}

impl ConsentEvent {
    /// Validates an event; the source is free text of at most 256 bytes.
    pub fn new(kind: ConsentKind, at: Instant, source: &str) -> Result<ConsentEvent, Error> {
        if source.len() > MAX_SOURCE_LEN {
            return Err(Error::invalid(
                "source",
                format!("must be at most {MAX_SOURCE_LEN} bytes"),
            ));
        }
        Ok(ConsentEvent {
            kind,
            at,
            source: source.to_owned(),
        })
    }
}

impl fmt::Display for ConsentEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.kind.as_str(), self.at)?;
        if !self.source.is_empty() {
            write!(f, " (source: {})", self.source)?;
        }
        Ok(())
    }
}

/// A thread's consent events, applied by their instants: late ones take their place in time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsentLog {
    /// Sorted by `at`; of events at one instant, the one recorded last comes last.
    events: Vec<ConsentEvent>,
}

/// The consent of a thread at an instant: each flag with the event that set it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsentState {
    pub opted_in: Option<ConsentEvent>,
    pub opted_out: Option<ConsentEvent>,
    pub marketing_stopped: Option<ConsentEvent>,
    /// The latest 131049 hold still in force: marketing waits until its `at` plus `MARKETING_HOLD`.
    pub marketing_held: Option<ConsentEvent>,
}

impl ConsentLog {
    pub fn from_events(events: Vec<ConsentEvent>) -> ConsentLog {
        let mut log = ConsentLog::default();
        for event in events {
            log.record(event);
        }
        log
    }

    pub fn events(&self) -> &[ConsentEvent] {
        &self.events
    }

    /// Records every event of `other` (another id's log of the same customer), and returns whether any
    /// was new.
    pub fn merge(&mut self, other: &ConsentLog) -> bool {
        let mut changed = false;
        for event in &other.events {
            changed |= self.record(event.clone());
        }
        changed
    }

    /// Records an event. Returns false when the same event is already recorded: recording it again
    /// changes nothing.
    pub fn record(&mut self, event: ConsentEvent) -> bool {
        if self.events.contains(&event) {
            return false;
        }
        let position = self.events.partition_point(|other| other.at <= event.at);
        self.events.insert(position, event);
        if self.events.len() > MAX_CHANGES {
            self.events.remove(0);
        }
        true
    }

    /// Returns the consent at `at`: the latest opt-in or opt-out, the latest marketing stop or resume,
    /// at or before `at`, and the latest marketing hold whose 24 h include `at`.
    pub fn state_at(&self, at: Instant) -> ConsentState {
        let known = self.events.iter().take_while(|event| event.at <= at);
        let mut state = ConsentState::default();
        for event in known {
            match event.kind {
                ConsentKind::OptIn => {
                    state.opted_in = Some(event.clone());
                    state.opted_out = None;
                }
                ConsentKind::OptOut => {
                    state.opted_out = Some(event.clone());
                    state.opted_in = None;
                }
                ConsentKind::MarketingStop => state.marketing_stopped = Some(event.clone()),
                ConsentKind::MarketingResume => state.marketing_stopped = None,
                ConsentKind::MarketingHold => {
                    if at < event.at.plus(MARKETING_HOLD) {
                        state.marketing_held = Some(event.clone());
                    }
                }
            }
        }
        state
    }
}

/// What the guards know of an outbound message's business and customer, read with its thread.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The account the business is registered with at the event; none for an unregistered business.
    pub account: Option<Registered>,
    /// The template's history in the account's registry; none when the account does not know it (or
    /// the message is not a template, or the business is not registered).
    pub template: Option<History<TemplateState>>,
    pub consent: ConsentLog,
}

/// How one of a business's customer ids relates to the other ids of the same person
/// (docs/SPEC.md section 13.4): a phone number and a BSUID that Meta, or the gateway, said are one
/// customer name one thread, kept under the phone number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerLink {
    /// The id whose thread holds this customer's state, when this id leads to another one.
    pub canonical: Option<CustomerId>,
    /// The ids that lead to this one.
    pub aliases: Vec<CustomerId>,
    /// The id this one's customer moved to (a new phone number): what was recorded here is there now.
    /// It does not lead there: the old number may belong to somebody else.
    pub moved_to: Option<CustomerId>,
}

impl CustomerLink {
    /// Returns the id a request for `id` is kept under.
    pub fn resolve<'a>(&'a self, id: &'a CustomerId) -> &'a CustomerId {
        self.canonical.as_ref().unwrap_or(id)
    }
}

/// A registered business's account, with its portfolio's messaging limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registered {
    pub id: AccountId,
    pub account: Account,
    pub messaging_limit: MessagingLimit,
}

impl Facts {
    /// Returns the account's time zone, UTC for an unregistered business.
    pub fn time_zone(&self) -> Zone {
        self.account
            .as_ref()
            .map_or(Zone::UTC, |registered| registered.account.time_zone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: i64) -> Instant {
        Instant::from_millis(millis)
    }

    #[test]
    fn a_history_answers_the_change_in_force() {
        let mut history = History::default();
        assert!(history.put(at(20), "b"));
        assert!(history.put(at(10), "a"));
        assert!(!history.put(at(10), "a"), "the same change twice changes nothing");
        assert_eq!(history.at(at(9)), None);
        assert_eq!(history.at(at(10)), Some(&"a"));
        assert_eq!(history.at(at(19)), Some(&"a"));
        assert_eq!(history.at(at(20)), Some(&"b"));
        assert!(
            history.put(at(20), "c"),
            "a change at the same instant replaces it"
        );
        assert_eq!(history.at(at(25)), Some(&"c"));
        assert_eq!(history.changes().len(), 2);
    }

    #[test]
    fn a_history_keeps_its_latest_changes() {
        let mut history = History::default();
        for i in 0..(MAX_CHANGES as i64 + 10) {
            history.put(at(i), i);
        }
        assert_eq!(history.changes().len(), MAX_CHANGES);
        assert_eq!(
            history.latest().map(|change| change.value),
            Some(MAX_CHANGES as i64 + 9)
        );
    }

    #[test]
    fn zones_put_dates_where_they_begin() {
        let kolkata = Zone::new("time_zone", "Asia/Kolkata").unwrap();
        // 2024-02-29T18:30:00Z is 2024-03-01T00:00 in Kolkata (UTC+05:30).
        let instant = at(1_709_231_400_000);
        assert_eq!(kolkata.wall_clock(instant).utc_month().to_string(), "2024-03");
        assert_eq!(Zone::UTC.wall_clock(instant).utc_month().to_string(), "2024-02");
        let sao_paulo = Zone::new("time_zone", "America/Sao_Paulo").unwrap();
        assert_eq!(
            sao_paulo.wall_clock(instant),
            at(1_709_231_400_000 - 3 * 3_600_000)
        );
        assert_eq!(Zone::new("time_zone", "").unwrap(), Zone::UTC);
        for bad in ["Mars/Olympus", "+05:30", "IST5", "asia/kolkata "] {
            assert_eq!(
                Zone::new("time_zone", bad).unwrap_err().field,
                "time_zone",
                "{bad}"
            );
        }
    }

    #[test]
    fn consent_applies_events_by_their_instants() {
        let event = |kind, millis| ConsentEvent::new(kind, at(millis), "test").unwrap();
        let mut log = ConsentLog::default();
        assert!(log.record(event(ConsentKind::OptOut, 20)));
        assert!(
            log.record(event(ConsentKind::OptIn, 10)),
            "a late opt-in takes its place"
        );
        assert!(!log.record(event(ConsentKind::OptIn, 10)));
        assert_eq!(log.state_at(at(15)).opted_in, Some(event(ConsentKind::OptIn, 10)));
        assert_eq!(log.state_at(at(20)).opted_in, None);
        assert_eq!(
            log.state_at(at(20)).opted_out,
            Some(event(ConsentKind::OptOut, 20))
        );
        log.record(event(ConsentKind::MarketingStop, 30));
        log.record(event(ConsentKind::MarketingResume, 40));
        assert!(log.state_at(at(35)).marketing_stopped.is_some());
        assert!(log.state_at(at(40)).marketing_stopped.is_none());
        assert_eq!(log.state_at(at(5)), ConsentState::default());
        let day = MARKETING_HOLD.as_millis();
        log.record(event(ConsentKind::MarketingHold, 50));
        assert!(log.state_at(at(49)).marketing_held.is_none());
        assert_eq!(
            log.state_at(at(50 + day - 1)).marketing_held,
            Some(event(ConsentKind::MarketingHold, 50))
        );
        assert!(
            log.state_at(at(50 + day)).marketing_held.is_none(),
            "a hold lasts 24 h"
        );
    }

    #[test]
    fn bad_registry_values_name_their_field() {
        assert_eq!(
            MarketingCap::new(0, Duration::hours(24)).unwrap_err().field,
            "marketing_cap.count"
        );
        assert_eq!(
            MarketingCap::new(2, Duration::from_millis(0)).unwrap_err().field,
            "marketing_cap.window"
        );
        assert_eq!(
            MarketingCap::new(2, Duration::hours(31 * 24)).unwrap_err().field,
            "marketing_cap.window"
        );
        assert_eq!(
            TemplateName::new("order_update", "").unwrap_err().field,
            "language"
        );
        assert_eq!(TemplateName::new("", "en").unwrap_err().field, "name");
        assert_eq!(TemplateName::new("Order Update", "en").unwrap_err().field, "name");
        assert!(TemplateName::new("order_update_2", "pt_BR").is_ok());
        let paused = TemplateState::new(
            TemplateStatus::Approved,
            TemplateCategory::Utility,
            Some(at(10)),
            at(0),
        );
        assert_eq!(paused.unwrap_err().field, "paused_until");
        let backwards = TemplateState::new(
            TemplateStatus::Paused,
            TemplateCategory::Utility,
            Some(at(10)),
            at(10),
        );
        assert_eq!(backwards.unwrap_err().field, "paused_until");
    }
}
