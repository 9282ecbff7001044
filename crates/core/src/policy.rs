//! The deployment's pricing policy: the rate card, the pricing model, and the free tier.

use crate::{Instant, RateCard, Shadowed};

/// The free tier of the June 2023 model: service conversations per account and calendar month.
pub const FREE_TIER_CONVERSATIONS: u32 = 1_000;

/// 2024-11-01T00:00:00Z: Meta makes service conversations free for all and ends the free tier.
pub const SERVICE_FREE_FROM: Instant = Instant::from_millis(1_730_419_200_000);

/// 2025-07-01T00:00:00Z: Meta moves to per-message pricing.
pub const PER_MESSAGE_FROM: Instant = Instant::from_millis(1_751_328_000_000);

/// 2026-10-01T00:00:00Z: Meta charges service messages past the free ones of a month, and utility
/// templates inside a customer service window.
pub const PAID_SERVICE_FROM: Instant = Instant::from_millis(1_790_812_800_000);

/// The free service messages of each business phone number and calendar month, from 2026-10-01.
pub const FREE_SERVICE_MESSAGES: u32 = 1_000;

/// Which pricing eras a deployment follows (the `--pricing-model` flag): Meta's calendar, or one era
/// pinned whatever the date. Each decision then prices under the era of its instant (`Era`), and a
/// charge says which `PricingModel` it was priced under.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PricingSchedule {
    /// Following Meta's calendar by the date of each decision, in its account's zone.
    #[default]
    MetaCalendar,
    /// Pinned to the conversation model of June 1, 2023, free tier included, whatever the date.
    Conversation2023,
    /// Pinned to per-message pricing of July 1, 2025 (service messages free).
    PerMessage2025,
    /// Pinned to per-message pricing of October 1, 2026 (paid service messages).
    PerMessage2026,
}

/// The rules of pricing that apply at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Era {
    /// Conversation pricing; the first service conversations of a month are free tier.
    ConversationWithFreeTier,
    /// Conversation pricing; every service conversation is free (November 2024 to June 2025).
    ConversationServiceFree,
    /// Per-message pricing; service messages free, and utility templates inside a customer service
    /// window (July 2025 to September 2026).
    PerMessage,
    /// Per-message pricing with paid service messages past each business's free ones of the month, and
    /// utility templates charged inside a window too (from October 2026).
    PerMessagePaidService,
}

/// The pricing policy of a deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub rate_card: RateCard,
    pub schedule: PricingSchedule,
    /// Free-tier service conversations per account and calendar month.
    pub free_tier_conversations: u32,
    /// Free service messages per business and calendar month, from 2026-10-01.
    pub free_service_messages: u32,
    /// The guards that run in shadow: they report what they would deny, and deny nothing.
    pub shadow: Shadowed,
}

impl Policy {
    /// Returns the policy pinned to the June 2023 model with its free tier, as the product was first
    /// specified.
    pub fn conversation_2023(rate_card: RateCard) -> Policy {
        Policy {
            rate_card,
            schedule: PricingSchedule::Conversation2023,
            free_tier_conversations: FREE_TIER_CONVERSATIONS,
            free_service_messages: FREE_SERVICE_MESSAGES,
            shadow: Shadowed::new(),
        }
    }

    /// Returns the policy that follows Meta's calendar, the default deployment's.
    pub fn meta_calendar(rate_card: RateCard) -> Policy {
        Policy {
            schedule: PricingSchedule::MetaCalendar,
            ..Policy::conversation_2023(rate_card)
        }
    }

    /// Returns the era of a decision whose wall-clock time in its account's zone is `local`
    /// (`Zone::wall_clock`): Meta changed models at 00:00 in each account's zone.
    pub(crate) fn era_at(&self, local: Instant) -> Era {
        let at = local;
        match self.schedule {
            PricingSchedule::Conversation2023 => Era::ConversationWithFreeTier,
            PricingSchedule::PerMessage2025 => Era::PerMessage,
            PricingSchedule::PerMessage2026 => Era::PerMessagePaidService,
            PricingSchedule::MetaCalendar if at < SERVICE_FREE_FROM => Era::ConversationWithFreeTier,
            PricingSchedule::MetaCalendar if at < PER_MESSAGE_FROM => Era::ConversationServiceFree,
            PricingSchedule::MetaCalendar if at < PAID_SERVICE_FROM => Era::PerMessage,
            PricingSchedule::MetaCalendar => Era::PerMessagePaidService,
        }
    }
}
