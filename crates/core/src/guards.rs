//! The policy guards of docs/SPEC.md section 7, checked in order before an outbound message is priced.
//! The first guard that fails denies the message; a guard in shadow (`Policy::shadow`) never denies, and
//! the first of its denials is reported beside the decision instead.

use std::collections::BTreeSet;
use std::fmt;

use crate::registry::{ConsentState, Facts, TemplateStatus};
use rust_decimal::Decimal;

use crate::{
    CUSTOMER_SERVICE_WINDOW, Claim, CounterKey, Counters, DenyReason, Instant, MESSAGING_LIMIT_WINDOW, Money,
    Outbound, Snapshot, Span, Template, TemplateCategory, ThreadKey,
};

/// A guard that can run in shadow (`--shadow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Guard {
    Template,
    OptOut,
    OptIn,
    MarketingStop,
    MarketingCap,
    MessagingLimit,
    Budget,
}

impl Guard {
    pub const ALL: [Guard; 7] = [
        Guard::Template,
        Guard::OptOut,
        Guard::OptIn,
        Guard::MarketingStop,
        Guard::MarketingCap,
        Guard::MessagingLimit,
        Guard::Budget,
    ];

    /// Returns the guard's name on the command line, as in `marketing-cap`.
    pub fn name(self) -> &'static str {
        match self {
            Guard::Template => "template",
            Guard::OptOut => "opt-out",
            Guard::OptIn => "opt-in",
            Guard::MarketingStop => "marketing-stop",
            Guard::MarketingCap => "marketing-cap",
            Guard::MessagingLimit => "messaging-limit",
            Guard::Budget => "budget",
        }
    }

    /// Parses a guard's name on the command line.
    pub fn from_name(name: &str) -> Option<Guard> {
        Guard::ALL.into_iter().find(|guard| guard.name() == name)
    }
}

impl fmt::Display for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The guards a deployment runs in shadow.
pub type Shadowed = BTreeSet<Guard>;

/// Why a guard denies a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Denial {
    pub reason: DenyReason,
    pub explanation: String,
}

/// What the guards decided about a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Checked {
    /// The message as it is priced, or why it is denied. A template takes the registry's category.
    pub verdict: Result<Outbound, Denial>,
    /// The first denial of a guard in shadow.
    pub shadow: Option<DenyReason>,
    /// The claims an allowed message takes on shared counters (the messaging limit's).
    pub claims: Vec<Claim>,
}

/// Checks guards 1 to 7 in order for `message` of `thread` at the decision instant `at`, with
/// `window_end` the end of the customer service window open at `at`, if one is.
pub(crate) fn check(
    shadowed: &Shadowed,
    snapshot: &Snapshot,
    thread: &ThreadKey,
    message: &Outbound,
    at: Instant,
    window_end: Option<Instant>,
) -> Checked {
    let facts = &snapshot.facts;
    let consent = facts.consent.state_at(at);
    let mut shadow = None;
    // Runs one guard: a denial of a guard in shadow is noted and passed over.
    let mut guard = |guard: Option<Guard>, denial: Option<Denial>| -> Result<(), Denial> {
        match (denial, guard) {
            (None, _) => Ok(()),
            (Some(denial), Some(guard)) if shadowed.contains(&guard) => {
                shadow.get_or_insert(denial.reason);
                Ok(())
            }
            (Some(denial), _) => Err(denial),
        }
    };
    let (message, template_denial) = template(facts, message, at);
    let mut claims = Vec::new();
    let verdict = (|| {
        guard(Some(Guard::Template), template_denial)?;
        guard(None, customer_service_window(&message, at, window_end))?;
        guard(Some(Guard::OptOut), opted_out(&consent, &message, window_end))?;
        guard(
            Some(Guard::OptIn),
            opt_in(facts, &consent, &message, at, window_end),
        )?;
        guard(Some(Guard::MarketingStop), marketing_stopped(&consent, &message))?;
        guard(
            Some(Guard::MarketingCap),
            marketing_cap(facts, &consent, snapshot, &message, at, window_end),
        )?;
        match messaging_limit(facts, snapshot, thread, at, window_end) {
            Reach::Free => {}
            Reach::Counts(claim) => claims.push(claim),
            Reach::Denied(denial) => guard(Some(Guard::MessagingLimit), Some(denial))?,
        }
        Ok(())
    })();
    Checked {
        verdict: verdict.map(|()| message),
        shadow,
        claims,
    }
}

/// Returns the messaging-limit counter of the message's portfolio, when it has a limit.
pub(crate) fn messaging_limit_counter(facts: &Facts) -> Option<CounterKey> {
    let registered = facts.account.as_ref()?;
    registered.messaging_limit.customers()?;
    Some(CounterKey::MessagingLimit {
        portfolio: registered.account.portfolio.clone(),
    })
}

/// What guard 7 makes of a message.
enum Reach {
    /// No limit applies: unregistered, unlimited, or inside a customer service window.
    Free,
    /// The message counts its customer for the next 24 h.
    Counts(Claim),
    Denied(Denial),
}

/// Returns the account's spend counter of the calendar month of `at`: its billable charges in its
/// billing currency. None for an unregistered business or an account with no billing currency, which
/// can have no budget (docs/SPEC.md section 15.3).
pub(crate) fn spend_counter(facts: &Facts, at: Instant) -> Option<CounterKey> {
    let registered = facts.account.as_ref()?;
    crate::budget::spend_counter(&registered.id, &registered.account, at)
}

/// What guard 8 makes of a charge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Spending {
    /// The claim that counts the charge in the account's spend of the month, held only within its
    /// budget; none when the charge does not count (free, or in another currency).
    pub claim: Option<Claim>,
    /// Why the budget denies the charge. The claim, if any, then has no limit, for a guard in shadow.
    pub denial: Option<Denial>,
}

/// Guard 8: an account with a monthly budget is charged at most its budget in a calendar month of its
/// zone. Every charge above zero in its billing currency counts in its spend, budget or not, so that a
/// budget set in the middle of a month counts what was spent before; a free message always passes.
/// Exact through the claim on the account's spend, a weighted counter: the charge's slot (`slot`)
/// weighs its price in nanos. Hourglass never converts currencies, so a charge in another currency
/// than a budget's is denied.
pub(crate) fn budget(
    facts: &Facts,
    counters: &Counters,
    price: &Money,
    at: Instant,
    slot: impl FnOnce() -> String,
) -> Spending {
    let none = Spending {
        claim: None,
        denial: None,
    };
    let (Some(registered), Some(counter)) = (&facts.account, spend_counter(facts, at)) else {
        return none;
    };
    if price.amount <= Decimal::ZERO {
        return none;
    }
    let budget = registered.account.monthly_budget;
    let Some(currency) = registered.account.currency else {
        return none;
    };
    if price.currency != currency {
        return Spending {
            claim: None,
            denial: budget.map(|budget| Denial {
                reason: DenyReason::BudgetExceeded,
                explanation: format!(
                    "account {} has a monthly budget of {budget}, and this message is priced {price}: the \
                     rate card has no {currency} rows for the customer's market, and Hourglass never \
                     converts currencies; add {currency} rows to the rate card, or lift the budget",
                    registered.id
                ),
            }),
        };
    }
    let weight = price.to_nanos().unwrap_or(u64::MAX);
    let limit = budget.map_or(Some(u64::MAX), |budget| budget.to_nanos());
    let spent = counters.used(&counter);
    let claim = |limit: u64| Claim {
        counter: counter.clone(),
        slot: slot(),
        limit,
        weight,
        window: None,
    };
    match (budget, limit) {
        (Some(budget), Some(limit)) if spent.saturating_add(weight) > limit => Spending {
            claim: Some(claim(u64::MAX)),
            denial: Some(Denial {
                reason: DenyReason::BudgetExceeded,
                explanation: format!(
                    "account {} has spent {} of its monthly budget of {budget} in {}, and this message \
                     costs {price}: sending it would exceed the budget; raise the budget, or wait for next \
                     month",
                    registered.id,
                    Money::from_nanos(currency, spent),
                    facts.time_zone().wall_clock(at).utc_month(),
                ),
            }),
        },
        (_, limit) => Spending {
            claim: Some(claim(limit.unwrap_or(u64::MAX))),
            denial: None,
        },
    }
}

/// Guard 7: a portfolio with a messaging limit L reaches at most L distinct customers outside a
/// customer service window in any moving 24 h. A customer already reached in `(at-24h, at]` may get
/// more; a new one only while fewer than L are. Exact through the claim on the portfolio's counter.
fn messaging_limit(
    facts: &Facts,
    snapshot: &Snapshot,
    thread: &ThreadKey,
    at: Instant,
    window_end: Option<Instant>,
) -> Reach {
    let (Some(counter), None) = (messaging_limit_counter(facts), window_end) else {
        return Reach::Free;
    };
    let Some(limit) = facts
        .account
        .as_ref()
        .and_then(|registered| registered.messaging_limit.customers())
    else {
        return Reach::Free;
    };
    let reading = snapshot.counters.reading(&counter);
    if reading.has_slot || reading.used < u64::from(limit) {
        return Reach::Counts(Claim {
            counter,
            slot: thread.customer_id.as_str().to_owned(),
            limit: u64::from(limit),
            weight: 1,
            window: Some(Span::starting_at(at, MESSAGING_LIMIT_WINDOW)),
        });
    }
    let CounterKey::MessagingLimit { portfolio } = &counter else {
        return Reach::Free;
    };
    Reach::Denied(Denial {
        reason: DenyReason::MessagingLimit,
        explanation: format!(
            "portfolio {portfolio} has reached its messaging limit: {} distinct customers got a message \
             outside a customer service window in the 24 h up to {at}, and its limit is {limit}; this \
             customer is not among them, so wait until one leaves the window, or answer only customers \
             who write first",
            reading.used
        ),
    })
}

/// Returns the category `template` prices a template in (guard 1), without checking its status: the
/// registry's where the business is registered and its account has the template at `at`, else the
/// category the request gives.
pub(crate) fn template_category(facts: &Facts, template: &Template, at: Instant) -> TemplateCategory {
    if facts.account.is_none() {
        return template.category;
    }
    facts
        .template
        .as_ref()
        .and_then(|history| history.change_at(at))
        .map_or(template.category, |change| change.value.category)
}

/// Guard 1: a registered business's template must be approved in its account's registry at `at`, and
/// takes the registry's category. Returns the message as it is priced, and the denial if any.
pub(crate) fn template(facts: &Facts, message: &Outbound, at: Instant) -> (Outbound, Option<Denial>) {
    let Outbound::Template(template) = message else {
        return (message.clone(), None);
    };
    let Some(registered) = &facts.account else {
        // An unregistered business's templates are taken as approved in the category the request gives.
        return (message.clone(), None);
    };
    let name = format!("`{}` ({})", template.name, template.language);
    let change = facts.template.as_ref().and_then(|history| history.change_at(at));
    let Some(change) = change else {
        if registered.account.require_registered_templates {
            let denial = Denial {
                reason: DenyReason::TemplateNotApproved,
                explanation: format!(
                    "template {name} is not in the registry of account {} at {at}, and the account sends \
                     only registered templates (Meta error 132001: template does not exist); register \
                     it with PutTemplate or send an approved one",
                    registered.id
                ),
            };
            return (message.clone(), Some(denial));
        }
        return (message.clone(), None);
    };
    let state = &change.value;
    let priced = Outbound::Template(Template {
        category: state.category,
        ..template.clone()
    });
    let since = change.effective_at;
    let denial = match state.status {
        TemplateStatus::Approved => None,
        TemplateStatus::Paused if state.paused_until.is_some_and(|until| until <= at) => None,
        TemplateStatus::Paused => Some(Denial {
            reason: DenyReason::TemplatePaused,
            explanation: match state.paused_until {
                Some(until) => format!(
                    "template {name} is PAUSED since {since} until {until} after a quality drop (Meta \
                     error 132015); wait until then or send another template"
                ),
                None => format!(
                    "template {name} is PAUSED since {since} after a quality drop, until Meta changes its \
                     status (Meta error 132015); send another template"
                ),
            },
        }),
        TemplateStatus::Disabled => Some(Denial {
            reason: DenyReason::TemplateDisabled,
            explanation: format!(
                "template {name} is DISABLED since {since} for low quality (Meta error 132016); it cannot \
                 be sent again: send another template"
            ),
        }),
        status => Some(Denial {
            reason: DenyReason::TemplateNotApproved,
            explanation: format!(
                "template {name} is {} since {since}, not APPROVED (Meta error 132001); send an approved \
                 template",
                status.as_str()
            ),
        }),
    };
    (priced, denial)
}

/// Guard 2: a free-form message needs an open customer service window.
fn customer_service_window(message: &Outbound, at: Instant, window_end: Option<Instant>) -> Option<Denial> {
    if !matches!(message, Outbound::FreeForm) || window_end.is_some() {
        return None;
    }
    Some(Denial {
        reason: DenyReason::OutsideCustomerServiceWindow,
        explanation: format!(
            "no customer service window is open at {at}: the customer has not written in the last 24 \
             hours, so a free-form message would fail with Meta error 131047 (re-engagement message); \
             send an approved template instead"
        ),
    })
}

/// Guard 3: a customer who opted out gets nothing, except answers inside a customer service window
/// opened by a message written after the opt-out: a customer who writes again may be answered.
fn opted_out(consent: &ConsentState, message: &Outbound, window_end: Option<Instant>) -> Option<Denial> {
    let opt_out = consent.opted_out.as_ref()?;
    // The latest customer message of the open window was sent 24 h before the window ends.
    let written_since = window_end.is_some_and(|end| end.minus(CUSTOMER_SERVICE_WINDOW) > opt_out.at);
    if written_since {
        return None;
    }
    let explanation = match message {
        Outbound::FreeForm => format!(
            "the customer opted out ({opt_out}) and has not written since; answer only after the customer \
             writes again, or record an opt-in"
        ),
        Outbound::Template(_) => format!(
            "the customer opted out ({opt_out}); no template may be sent until an opt-in is recorded, \
             or the customer writes again"
        ),
    };
    Some(Denial {
        reason: DenyReason::CustomerOptedOut,
        explanation,
    })
}

/// Guard 4: when the account requires opt-in, a template outside a customer service window needs one.
fn opt_in(
    facts: &Facts,
    consent: &ConsentState,
    message: &Outbound,
    at: Instant,
    window_end: Option<Instant>,
) -> Option<Denial> {
    let registered = facts.account.as_ref()?;
    if !registered.account.require_opt_in
        || !matches!(message, Outbound::Template(_))
        || window_end.is_some()
        || consent.opted_in.is_some()
    {
        return None;
    }
    Some(Denial {
        reason: DenyReason::NoOptIn,
        explanation: format!(
            "account {} requires opt-in for templates outside a customer service window, and no opt-in of \
             this customer is recorded at or before {at}; record the customer's opt-in with RecordConsent \
             first",
            registered.id
        ),
    })
}

/// Guard 5: a customer who stopped marketing gets no marketing template until a later resume.
fn marketing_stopped(consent: &ConsentState, message: &Outbound) -> Option<Denial> {
    let stop = consent.marketing_stopped.as_ref()?;
    if !is_marketing(message) {
        return None;
    }
    Some(Denial {
        reason: DenyReason::MarketingStopped,
        explanation: format!(
            "the customer stopped marketing messages from this business ({stop}), so Meta would fail this \
             with error 131050; send no marketing template until the customer resumes"
        ),
    })
}

/// Guard 6: at most the account's cap of marketing templates to one customer in any window, counting
/// only those sent outside a customer service window.
/// Meta's hold after error 131049 applies whatever the account's cap, inside a window too.
fn marketing_cap(
    facts: &Facts,
    consent: &ConsentState,
    snapshot: &Snapshot,
    message: &Outbound,
    at: Instant,
    window_end: Option<Instant>,
) -> Option<Denial> {
    if let Some(hold) = &consent.marketing_held
        && is_marketing(message)
    {
        return Some(Denial {
            reason: DenyReason::MarketingLimit,
            explanation: format!(
                "Meta failed a marketing message to this customer with error 131049 (the per-user \
                 marketing limit) at {}, and asks to wait at least 24 hours: send no marketing template \
                 before {}",
                hold.at,
                hold.at.plus(crate::registry::MARKETING_HOLD),
            ),
        });
    }
    let cap = facts.account.as_ref()?.account.marketing_cap?;
    if !is_marketing(message) || window_end.is_some() {
        return None;
    }
    let counted = snapshot.thread.marketing_sent_within(at, cap.window);
    if counted.len() < cap.count as usize {
        return None;
    }
    let oldest = counted.iter().min().copied().unwrap_or(at);
    Some(Denial {
        reason: DenyReason::MarketingLimit,
        explanation: format!(
            "{} marketing templates already went to this customer in the {} up to {at}, and the \
             account's cap is {} per {}; the oldest counted (sent at {oldest}) leaves the window at {}: \
             send then, or inside a customer service window",
            counted.len(),
            cap.window,
            cap.count,
            cap.window,
            oldest.plus(cap.window),
        ),
    })
}

fn is_marketing(message: &Outbound) -> bool {
    matches!(
        message,
        Outbound::Template(Template {
            category: TemplateCategory::Marketing,
            ..
        })
    )
}

#[cfg(test)]
mod tests;

/// Returns whether a priced message counts for the marketing cap: a marketing template outside a
/// customer service window.
pub(crate) fn counts_for_marketing_cap(message: &Outbound, window_end: Option<Instant>) -> bool {
    is_marketing(message) && window_end.is_none()
}
