//! The state of one thread: its customer service window, its free-entry-point response windows, and its
//! conversations, each with explicit instants so that no decision depends on when state is read.

use crate::{Category, Conversation, CustomerId, Duration, Instant, Span};

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
    /// How many service messages the thread sent under paid service pricing (from 2026-10-01): numbers
    /// each one's slot of its business's free service messages, so that two at one instant differ.
    pub service_messages: u64,
    /// How many messages of the thread took a slot of a volume tier or of their account's spend:
    /// numbers each one's slot, so that two at one instant differ.
    pub charged: u64,
    /// Set on the emptied thread of a customer id linked to another (docs/SPEC.md section 13.4): the
    /// id whose thread holds the customer now. No step runs on such a thread: the ledger goes there.
    pub moved_to: Option<CustomerId>,
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

    /// Returns the empty state of a thread whose customer is kept under `canonical` from now on.
    pub fn moved(canonical: CustomerId) -> ThreadState {
        ThreadState {
            parts: ThreadParts {
                moved_to: Some(canonical),
                ..ThreadParts::default()
            },
        }
    }

    /// Returns the id this thread's customer is kept under now, when it moved (`moved`).
    pub fn moved_to(&self) -> Option<&CustomerId> {
        self.parts.moved_to.as_ref()
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

    /// Returns the state of one customer known under two ids, from the states of both threads: every
    /// window, conversation and counted marketing template of either, each once. Merging the same
    /// state again changes nothing, so a merge may be retried.
    pub fn merge(&self, other: &ThreadState) -> ThreadState {
        let mut merged = self.clone();
        let (parts, theirs) = (&mut merged.parts, &other.parts);
        for window in &theirs.response_windows {
            match parts
                .response_windows
                .iter_mut()
                .find(|mine| mine.span == window.span)
            {
                Some(mine) => mine.used |= window.used,
                None => parts.response_windows.push(*window),
            }
        }
        parts.response_windows.sort_by_key(|window| window.span);
        for conversation in &theirs.conversations {
            if !parts.conversations.iter().any(|mine| mine.id == conversation.id) {
                parts.conversations.push(conversation.clone());
            }
        }
        parts
            .conversations
            .sort_by_key(|conversation| (conversation.opened_at, conversation.category));
        for span in &theirs.marketing_sent {
            if !parts.marketing_sent.contains(span) {
                parts.marketing_sent.push(*span);
            }
        }
        parts.marketing_sent.sort();
        parts.last_outbound_at = parts.last_outbound_at.max(theirs.last_outbound_at);
        parts.service_messages = parts.service_messages.max(theirs.service_messages);
        parts.charged = parts.charged.max(theirs.charged);
        parts.latest_event_at = parts.latest_event_at.max(theirs.latest_event_at);
        for span in &theirs.customer_service {
            merged.add_customer_service_span(*span);
        }
        merged
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PricingType;

    const T0: Instant = Instant::from_millis(1_780_000_000_000);

    fn hours(n: i64) -> Duration {
        Duration::hours(n)
    }

    fn conversation(id: &str, opened_at: Instant) -> Conversation {
        Conversation {
            id: id.to_owned(),
            category: Category::Marketing,
            opened_at,
            expires_at: opened_at.plus(hours(24)),
            closed_at: None,
            pricing_type: PricingType::Regular,
            billable: true,
        }
    }

    fn state(window: Span, conversations: Vec<Conversation>, latest: Instant) -> ThreadState {
        ThreadState::from_parts(ThreadParts {
            customer_service: vec![window],
            response_windows: Vec::new(),
            conversations,
            last_outbound_at: Some(latest),
            latest_event_at: Some(latest),
            marketing_sent: vec![Span::starting_at(latest, hours(24))],
            service_messages: 0,
            charged: 0,
            moved_to: None,
        })
    }

    #[test]
    fn merging_two_ids_threads_keeps_everything_of_both_once() {
        let phone = state(
            Span::starting_at(T0, hours(24)),
            vec![conversation("a", T0)],
            T0.plus(hours(1)),
        );
        let bsuid = state(
            Span::starting_at(T0.plus(hours(12)), hours(24)),
            vec![conversation("b", T0.plus(hours(2)))],
            T0.plus(hours(3)),
        );
        let merged = phone.merge(&bsuid);
        let parts = merged.parts();
        assert_eq!(
            parts.customer_service,
            [Span {
                start: T0,
                end: T0.plus(hours(36))
            }],
            "overlapping windows join"
        );
        assert_eq!(
            parts
                .conversations
                .iter()
                .map(|c| c.id.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(parts.latest_event_at, Some(T0.plus(hours(3))));
        assert_eq!(parts.last_outbound_at, Some(T0.plus(hours(3))));
        assert_eq!(parts.marketing_sent.len(), 2);
        assert_eq!(merged.merge(&bsuid), merged, "merging again changes nothing");
        assert_eq!(merged.merge(&phone), merged);
        assert_eq!(bsuid.merge(&phone).parts().conversations, parts.conversations);
        assert_eq!(ThreadState::default().merge(&phone), phone);
    }
}
