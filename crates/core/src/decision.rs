//! Answers: decisions, deny reasons, charges and the conversations they name.

use crate::{Category, Instant, Money};

/// Why an outbound message may not be sent. A denial is an answer, not an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DenyReason {
    /// The template is unknown to a registry that requires it, or not approved.
    TemplateNotApproved,
    TemplatePaused,
    TemplateDisabled,
    OutsideCustomerServiceWindow,
    CustomerOptedOut,
    NoOptIn,
    MarketingStopped,
    /// The account's per-customer marketing cap, or Meta's hold after error 131049.
    MarketingLimit,
    /// The portfolio's messaging limit: distinct customers outside a customer service window in 24 h.
    MessagingLimit,
    BudgetExceeded,
}

impl DenyReason {
    /// Returns the error code Meta's Cloud API gives for the same case, if it has one.
    pub fn meta_error_code(self) -> Option<i32> {
        match self {
            DenyReason::TemplateNotApproved => Some(132_001),
            DenyReason::TemplatePaused => Some(132_015),
            DenyReason::TemplateDisabled => Some(132_016),
            DenyReason::OutsideCustomerServiceWindow => Some(131_047),
            DenyReason::MarketingStopped => Some(131_050),
            DenyReason::MarketingLimit => Some(131_049),
            DenyReason::CustomerOptedOut
            | DenyReason::NoOptIn
            | DenyReason::MessagingLimit
            | DenyReason::BudgetExceeded => None,
        }
    }
}

/// The pricing model a charge was computed under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PricingModel {
    /// Conversation-based pricing, the model of June 1, 2023.
    Conversation,
    /// Per-message pricing, the model of July 1, 2025.
    PerMessage,
}

/// How a charge is priced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PricingType {
    Regular,
    FreeTier,
    FreeEntryPoint,
    FreeCustomerService,
}

/// A conversation: a fixed span opened by an outbound message, and what it is billed as.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Conversation {
    /// Deterministic for a thread, category and opening instant; empty in a dry run's answer for a
    /// conversation that does not exist yet.
    pub id: String,
    pub category: Category,
    pub opened_at: Instant,
    pub expires_at: Instant,
    /// Set when a free-entry-point conversation closed this one early; it then ends here.
    pub closed_at: Option<Instant>,
    pub pricing_type: PricingType,
    pub billable: bool,
}

impl Conversation {
    /// Returns the instant it stops being open: its expiry, or the instant it was closed.
    pub fn ends_at(&self) -> Instant {
        self.closed_at
            .map_or(self.expires_at, |closed_at| closed_at.min(self.expires_at))
    }

    /// Returns whether it is open at `at`: `[opened_at, ends_at)`.
    pub fn is_open_at(&self, at: Instant) -> bool {
        self.opened_at <= at && at < self.ends_at()
    }
}

/// What an allowed outbound message costs, and the conversation it opens or falls in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Charge {
    pub pricing_model: PricingModel,
    /// The pricing type of the conversation the message opens or falls in.
    pub pricing_type: PricingType,
    pub billable: bool,
    /// The category of the conversation the message opens or falls in (or of the message, when it
    /// falls in none under per-message pricing).
    pub category: Category,
    /// What this message adds to the bill: the conversation's price when it opens one, else zero in the
    /// currency of the customer's market.
    pub price: Money,
    pub opens_conversation: bool,
    /// The conversation the message opens or falls in; none under per-message pricing outside a free
    /// entry point conversation.
    pub conversation: Option<Conversation>,
    /// The volume tier the price comes from (1 for a ladder's first, docs/SPEC.md section 15.2); none
    /// when the message's rate card row has no ladder for it, or it is not charged.
    pub tier: Option<u32>,
}

/// Whether an outbound message may be sent, and why not.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    Allowed(Charge),
    Denied { reason: DenyReason, explanation: String },
}

/// The answer to an outbound message.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Decision {
    pub verdict: Verdict,
    /// The end of the contiguous customer service window containing the decision instant; none when
    /// the window is closed.
    pub customer_service_window_expires_at: Option<Instant>,
    /// What the first guard in shadow that failed would have denied; the verdict ignores it.
    pub shadow_deny_reason: Option<DenyReason>,
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self.verdict, Verdict::Allowed(_))
    }

    /// Returns the charge of an allowed message.
    pub fn charge(&self) -> Option<&Charge> {
        match &self.verdict {
            Verdict::Allowed(charge) => Some(charge),
            Verdict::Denied { .. } => None,
        }
    }

    /// Returns the answer a dry run gives: a conversation that the message would open does not exist
    /// yet, so its id is left empty.
    pub fn into_dry_run(mut self) -> Decision {
        if let Verdict::Allowed(Charge {
            opens_conversation: true,
            conversation: Some(conversation),
            ..
        }) = &mut self.verdict
        {
            conversation.id.clear();
        }
        self
    }
}

/// What a thread looks like at an instant, for `ListOpenConversations`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadView {
    /// The conversations open at the instant, oldest first.
    pub conversations: Vec<Conversation>,
    pub customer_service_window_expires_at: Option<Instant>,
    /// The end of the latest unused free-entry-point response window open at the instant; none while a
    /// free entry point conversation is open.
    pub free_entry_point_deadline: Option<Instant>,
}
