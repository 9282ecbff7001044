//! The state of one thread: its customer service window, its free-entry-point response windows, and its
//! conversations, each with explicit instants so that no decision depends on when state is read.

use crate::{Category, Conversation, Duration, Instant, Span};

/// How long after the latest event of a thread the state is kept beyond the windows it holds: late
/// webhooks are retried for up to 36 hours, and message ids are kept for at least 72 hours.
pub const RETENTION_GRACE: Duration = Duration::hours(72);

/// How far behind the latest event expired windows and conversations are kept, so that
/// `ListOpenConversations` can still answer for the recent past.
pub const HISTORY: Duration = Duration::hours(7 * 24);

/// A free-entry-point response window, opened by an entry-point message from a mobile client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResponseWindow {
    pub span: Span,
    /// Whether a free entry point conversation has been opened from it.
    pub used: bool,
}

/// The persisted parts of a thread's state, for stores to save and restore.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadParts {
    /// Stretches of the customer service window.
    pub customer_service: Vec<Span>,
    pub response_windows: Vec<ResponseWindow>,
    pub conversations: Vec<Conversation>,
    /// The decision instant of the latest outbound message recorded.
    pub last_outbound_at: Option<Instant>,
    /// The latest instant of any recorded event.
    pub latest_event_at: Option<Instant>,
    /// Marketing templates sent outside a customer service window while the account had a marketing
    /// cap: each from its sending to the end of the cap's window then.
    pub marketing_sent: Vec<Span>,
}

/// A thread's state. The customer service window is kept as sorted, disjoint, non-touching spans.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadState {
    parts: ThreadParts,
}

impl ThreadState {
    /// Restores a state from its parts, putting the window spans back in canonical form.
    pub fn from_parts(mut parts: ThreadParts) -> ThreadState {
        let spans = std::mem::take(&mut parts.customer_service);
        let mut state = ThreadState { parts };
        for span in spans {
            state.add_customer_service_span(span);
        }
        state
    }

    pub fn parts(&self) -> &ThreadParts {
        &self.parts
    }

    /// Returns whether nothing was ever recorded.
    pub fn is_empty(&self) -> bool {
        self.parts.latest_event_at.is_none()
    }

    /// Returns the instant at which an outbound message with event time `at` is decided: outbound
    /// messages of a thread are decided in the order they are recorded, so never before the last one.
    pub fn decision_instant(&self, at: Instant) -> Instant {
        self.parts.last_outbound_at.map_or(at, |last| last.max(at))
    }

    /// Returns the end of the contiguous stretch of the customer service window containing `at`.
    pub fn customer_service_window_end(&self, at: Instant) -> Option<Instant> {
        self.parts
            .customer_service
            .iter()
            .find(|span| span.contains(at))
            .map(|span| span.end)
    }

    /// Returns the conversations open at `at`, oldest first (ties by category).
    pub fn open_conversations(&self, at: Instant) -> Vec<&Conversation> {
        let mut open: Vec<&Conversation> = self
            .parts
            .conversations
            .iter()
            .filter(|conversation| conversation.is_open_at(at))
            .collect();
        open.sort_by_key(|conversation| (conversation.opened_at, conversation.category));
        open
    }

    /// Returns the open conversation of `category` at `at`.
    pub fn open_conversation(&self, category: Category, at: Instant) -> Option<&Conversation> {
        self.parts
            .conversations
            .iter()
            .find(|conversation| conversation.category == category && conversation.is_open_at(at))
    }

    /// Returns the end of the latest unused response window open at `at`.
    pub fn unused_response_window_end(&self, at: Instant) -> Option<Instant> {
        self.parts
            .response_windows
            .iter()
            .filter(|window| !window.used && window.span.contains(at))
            .map(|window| window.span.end)
            .max()
    }

    /// Returns when the marketing templates counted by a cap of `window` at `at` were sent: those sent
    /// in `(at - window, at]`.
    pub fn marketing_sent_within(&self, at: Instant, window: Duration) -> Vec<Instant> {
        let after = at.minus(window);
        self.parts
            .marketing_sent
            .iter()
            .map(|span| span.start)
            .filter(|&sent| after < sent && sent <= at)
            .collect()
    }

    /// Returns how long after its latest event this state is still needed: until the last window or
    /// conversation it holds ends, plus `RETENTION_GRACE`. Stores turn this into a TTL or a sweep time.
    pub fn retention(&self) -> Duration {
        let Some(latest_event_at) = self.parts.latest_event_at else {
            return RETENTION_GRACE;
        };
        let last_end = self
            .parts
            .customer_service
            .iter()
            .map(|span| span.end)
            .chain(self.parts.response_windows.iter().map(|window| window.span.end))
            .chain(self.parts.conversations.iter().map(Conversation::ends_at))
            .chain(self.parts.marketing_sent.iter().map(|span| span.end))
            .max()
            .unwrap_or(latest_event_at);
        Duration::from_millis(
            last_end.since(latest_event_at).as_millis().max(0) + RETENTION_GRACE.as_millis(),
        )
    }

    pub(crate) fn parts_mut(&mut self) -> &mut ThreadParts {
        &mut self.parts
    }

    /// Adds a span to the customer service window, merging it with every span it overlaps or touches.
    pub(crate) fn add_customer_service_span(&mut self, mut span: Span) {
        let spans = &mut self.parts.customer_service;
        spans.retain(|other| {
            let joins = other.start <= span.end && span.start <= other.end;
            if joins {
                span = Span {
                    start: span.start.min(other.start),
                    end: span.end.max(other.end),
                };
            }
            !joins
        });
        let position = spans.partition_point(|other| other.start < span.start);
        spans.insert(position, span);
    }

    /// Notes that an event happened at `at`, and forgets what ended more than `HISTORY` before the
    /// latest event, so that a long-lived thread's state stays small.
    pub(crate) fn observe(&mut self, at: Instant) {
        let parts = &mut self.parts;
        let latest = parts.latest_event_at.map_or(at, |latest| latest.max(at));
        parts.latest_event_at = Some(latest);
        let horizon = latest.minus(HISTORY);
        parts.customer_service.retain(|span| span.end > horizon);
        parts.response_windows.retain(|window| window.span.end > horizon);
        parts
            .conversations
            .retain(|conversation| conversation.ends_at() > horizon);
        parts.marketing_sent.retain(|span| span.end > horizon);
    }
}
