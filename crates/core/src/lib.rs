//! The pure rules of Hourglass: Meta's customer service window, conversations, free entry points,
//! pricing and free tier, as functions over values.
//!
//! This crate has no async, no clock, no I/O and no logging: callers pass every instant in. A denial is
//! a `Decision`, not an `Err`; `Error` is for input that breaks a precondition.
//!
//! The centre is [`step`]: from a [`Snapshot`] of what is known (a thread, the stored answer of the
//! message id, the counters [`counters_read`] names) and an [`Event`], it returns the [`Step`] to write
//! (the answer, the thread's next state, and the claims on shared counters). Stores commit it
//! atomically; a dry run is the same step without the commit. [`view`] describes a thread.

mod batch;
mod budget;
mod counter;
mod country;
mod decision;
mod delivery;
mod error;
mod estimate;
mod guards;
mod ids;
mod message;
mod money;
mod policy;
mod rate_card;
mod registry;
mod rules;
mod step;
mod thread;
mod tiers;
mod time;
mod usage;

#[cfg(test)]
mod tests;

pub use batch::Spent;
pub use budget::{BudgetStatus, spend_counter};
pub use counter::{
    Claim, CounterKey, CounterRead, Counters, FREE_TIER_RETENTION, MESSAGING_LIMIT_RETENTION,
    MESSAGING_LIMIT_WINDOW, Reading, TierOwner,
};
pub use decision::{
    Charge, Conversation, Decision, DenyReason, PricingModel, PricingType, ThreadView, Verdict,
};
pub use delivery::{
    DELIVERY_LOOKBACK_DAYS, DELIVERY_RETENTION, Day, DeliveryStats, DeliveryStatus, Differences, MessageRef,
    MetaPricing, MetaTier, MetaTiers, Outcome, Prediction, Report, StatusReport, USAGE_RETENTION, reconcile,
};
pub use error::Error;
pub use estimate::{EstimateFor, EstimateLine, LineEstimate, TierUse, estimate, estimate_reads};
pub use guards::{Guard, Shadowed};
pub use ids::{AccountId, BusinessId, CustomerId, CustomerKind, MessageId, PortfolioId, ThreadKey};
pub use message::{Category, ClientPlatform, EntryPoint, Inbound, Outbound, Template, TemplateCategory};
pub use money::{Currency, Money};
pub use policy::{
    FREE_SERVICE_MESSAGES, FREE_TIER_CONVERSATIONS, PAID_SERVICE_FROM, PER_MESSAGE_FROM, Policy,
    PricingSchedule, SERVICE_FREE_FROM,
};
pub use rate_card::{OTHER_MARKET, RateCard, RateRow, Tier, VolumeTiers};
pub use registry::{
    Account, Business, Change, ConsentEvent, ConsentKind, ConsentLog, ConsentState, CustomerLink, Facts,
    History, MAX_CHANGES, MAX_MARKETING_CAP_WINDOW, MarketingCap, MessagingLimit, Portfolio, Registered,
    TemplateName, TemplateState, TemplateStatus, Zone,
};
pub use rules::{
    CONVERSATION, CUSTOMER_SERVICE_WINDOW, FREE_ENTRY_POINT_CONVERSATION, RESPONSE_WINDOW, validate_at, view,
};
pub use step::{Answer, Event, Message, Snapshot, Step, Write, check_priced, counters_read, dry_step, step};
pub use thread::{HISTORY, RETENTION_GRACE, ResponseWindow, ThreadParts, ThreadState};
pub use tiers::{CountedTier, MonthLadder};
pub use time::{Duration, Instant, Month, Span};
pub use usage::{Dimension, Granularity, Usage, UsageChange, UsageCounts, UsageKey, UsagePoint, UsageRow};
