//! Writes an item's effect through the ledger and the registry, and says whether it changed anything.
//!
//! Every effect is idempotent by construction, so applying a body twice (Meta retries for 36 h, in
//! batches that differ) has the effect of once: an inbound message is deduplicated by its id in its
//! thread's atomic step, and a registry change is a value at an instant, written by compare-and-swap,
//! that changes nothing when the entry already holds it. Items of a body may come in any order: the
//! registry orders changes by their instants and the ledger takes late messages in their place.

use hourglass_core::{
    AccountId, ConsentEvent, ConsentLog, Duration, History, Instant, MetaTiers, Policy, Portfolio,
    PortfolioId, TemplateCategory, TemplateName, TemplateState, TemplateStatus, ThreadKey,
};
use hourglass_store::registry::{self, Entry, Key};
use hourglass_store::{Error, Store, deliveries, ledger, links};

use super::items::{Effect, FIRST_PAUSE};

/// What applying an effect did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Applied {
    Changed,
    /// Already applied before: nothing changed.
    Duplicate,
    /// Could not be applied, and why; nothing was written.
    Refused(String),
}

impl Applied {
    fn from_changed(changed: bool) -> Applied {
        if changed {
            Applied::Changed
        } else {
            Applied::Duplicate
        }
    }
}

/// Applies one effect; an `Err` is the store's, and the body may be retried whole.
pub(crate) async fn apply(store: &dyn Store, policy: &Policy, effect: &Effect) -> Result<Applied, Error> {
    match effect {
        Effect::Inbound(entry) => {
            let answer = ledger::record(store, policy, entry).await?;
            Ok(Applied::from_changed(!answer.duplicate))
        }
        Effect::Consent { thread, event } => Ok(outcome(record_consent(store, thread, event).await?)),
        Effect::Link { thread, alias, now } => {
            let linked = links::link(store, &thread.business_id, &thread.customer_id, alias, *now).await?;
            Ok(Applied::from_changed(linked))
        }
        Effect::Move { thread, to, now } => {
            let moved =
                links::move_customer(store, &thread.business_id, &thread.customer_id, to, *now).await?;
            Ok(Applied::from_changed(moved))
        }
        Effect::TemplateQuality {
            account,
            template,
            score,
            at,
        } => {
            let key = Key::TemplateQuality(account.clone(), template.clone());
            let updated = registry::try_update(store, &key, |current| {
                let mut history = match current {
                    Some(Entry::Quality(history)) => history,
                    _ => History::default(),
                };
                let changed = history.put(*at, score.clone());
                Ok::<_, String>((Entry::Quality(history), changed))
            })
            .await?;
            Ok(outcome(updated))
        }
        Effect::MetaTier { account, tier } => {
            let updated = registry::try_update(store, &Key::MetaTiers(account.clone()), |current| {
                let mut tiers = match current {
                    Some(Entry::MetaTiers(tiers)) => tiers,
                    _ => MetaTiers::default(),
                };
                let changed = tiers.record(tier.clone());
                Ok::<_, String>((Entry::MetaTiers(tiers), changed))
            })
            .await?;
            Ok(outcome(updated))
        }
        Effect::Status {
            thread,
            message_id,
            report,
            consent,
            now,
        } => {
            // The item counts as applied by whoever kept the status first. What follows from it is
            // written by every ingestion of the item, idempotently, so that one cut short by a crash
            // is completed by Meta's retry.
            let noted = deliveries::note_status(store, thread, message_id, report, *now).await?;
            if let Some(event) = consent
                && let Err(reason) = record_consent(store, thread, event).await?
            {
                return Ok(Applied::Refused(reason));
            }
            // Meta refused the message because its template is paused (132015) or disabled (132016):
            // the registry learns it at the status's instant. A pause lasts Meta's first pause unless
            // the registry already knows it paused (Meta's own status update says for how long).
            let template_status = match report.errors.as_slice() {
                errors if errors.contains(&132_016) => Some(TemplateStatus::Disabled),
                errors if errors.contains(&132_015) => Some(TemplateStatus::Paused),
                _ => None,
            };
            let template = noted
                .prediction
                .as_ref()
                .and_then(|prediction| Some((prediction.account.clone(), prediction.template.clone()?)));
            if let (Some(status), Some((account, template))) = (template_status, template) {
                let change = TemplateChange {
                    account: &account,
                    template: &template,
                    status,
                    category: None,
                    pause: (status == TemplateStatus::Paused).then_some(FIRST_PAUSE),
                    at: report.at,
                    keep_a_known_pause: true,
                };
                if let Err(reason) = put_template_status(store, &change).await? {
                    return Ok(Applied::Refused(reason));
                }
            }
            Ok(Applied::from_changed(noted.changed))
        }
        Effect::TemplateStatus {
            account,
            template,
            status,
            category,
            pause,
            at,
        } => {
            let change = TemplateChange {
                account,
                template,
                status: *status,
                category: *category,
                pause: *pause,
                at: *at,
                keep_a_known_pause: false,
            };
            Ok(outcome(put_template_status(store, &change).await?))
        }
        Effect::TemplateCategory {
            account,
            template,
            category,
            at,
        } => {
            let key = Key::Template(account.clone(), template.clone());
            let updated = registry::try_update(store, &key, |current| {
                let mut history = templates(current);
                // A template first heard of through its category is taken as approved, as a template
                // the registry does not know is.
                let state = history.at(*at).cloned().unwrap_or(TemplateState {
                    status: TemplateStatus::Approved,
                    category: *category,
                    paused_until: None,
                });
                let changed = history.put(
                    *at,
                    TemplateState {
                        category: *category,
                        ..state
                    },
                );
                Ok::<_, String>((Entry::Template(history), changed))
            })
            .await?;
            Ok(outcome(updated))
        }
        Effect::MessagingLimit { account, limit, at } => {
            let portfolio = portfolio_of(store, account, *at).await?;
            let value = Portfolio {
                messaging_limit: *limit,
            };
            let updated = registry::try_update(store, &Key::Portfolio(portfolio), |current| {
                let mut history = match current {
                    Some(Entry::Portfolio(history)) => history,
                    _ => History::default(),
                };
                let changed = history.put(*at, value);
                Ok::<_, String>((Entry::Portfolio(history), changed))
            })
            .await?;
            Ok(outcome(updated))
        }
    }
}

/// Records a consent event in the log of the thread its customer is kept under.
async fn record_consent(
    store: &dyn Store,
    thread: &ThreadKey,
    event: &ConsentEvent,
) -> Result<Result<registry::Updated, String>, Error> {
    let thread = links::resolve(store, thread).await?;
    registry::try_update(store, &Key::Consent(thread), |current| {
        let mut log = match current {
            Some(Entry::Consent(log)) => log,
            _ => ConsentLog::default(),
        };
        let changed = log.record(event.clone());
        Ok::<_, String>((Entry::Consent(log), changed))
    })
    .await
}

/// A template's status from an instant on.
struct TemplateChange<'a> {
    account: &'a AccountId,
    template: &'a TemplateName,
    status: TemplateStatus,
    /// The category the change names, else the template's own.
    category: Option<TemplateCategory>,
    /// For a pause of known length: how long it lasts.
    pause: Option<Duration>,
    at: Instant,
    /// Leaves a template already paused at `at` as it is, for a pause inferred from a failed message.
    keep_a_known_pause: bool,
}

async fn put_template_status(
    store: &dyn Store,
    change: &TemplateChange<'_>,
) -> Result<Result<registry::Updated, String>, Error> {
    let TemplateChange {
        account,
        template,
        status,
        category,
        pause,
        at,
        keep_a_known_pause,
    } = *change;
    let key = Key::Template(account.clone(), template.clone());
    registry::try_update(store, &key, |current| {
        let mut history = templates(current);
        let now = history.at(at).cloned();
        if keep_a_known_pause
            && now.as_ref().is_some_and(|state| {
                state.status == status && state.paused_until.is_none_or(|until| until > at)
            })
        {
            return Ok((Entry::Template(history), false));
        }
        // The change's category, else the template's own at that instant (or its latest).
        let known = now
            .as_ref()
            .or_else(|| history.latest().map(|change| &change.value))
            .map(|state| state.category);
        let category = category.or(known).ok_or_else(|| {
            format!(
                "template {template} has no category: the update names none and the registry does not \
                 know the template (PutTemplate it, or send Meta's update with message_template_category)"
            )
        })?;
        let paused_until = match (status, pause) {
            (TemplateStatus::Paused, Some(pause)) => Some(at.plus(pause)),
            _ => None,
        };
        let state =
            TemplateState::new(status, category, paused_until, at).map_err(|error| error.to_string())?;
        let changed = history.put(at, state);
        Ok((Entry::Template(history), changed))
    })
    .await
}

fn outcome(updated: Result<registry::Updated, String>) -> Applied {
    match updated {
        Ok(updated) => Applied::from_changed(updated.changed),
        Err(reason) => Applied::Refused(reason),
    }
}

fn templates(current: Option<Entry>) -> History<TemplateState> {
    match current {
        Some(Entry::Template(history)) => history,
        _ => History::default(),
    }
}

/// The portfolio of an account at `at`: the registered one, else the account's own.
async fn portfolio_of(store: &dyn Store, account: &AccountId, at: Instant) -> Result<PortfolioId, Error> {
    let registered = match registry::get(store, &Key::Account(account.clone())).await? {
        Some(Entry::Account(history)) => history
            .at(at)
            .or_else(|| history.latest().map(|change| &change.value))
            .map(|account| account.portfolio.clone()),
        _ => None,
    };
    Ok(registered.unwrap_or_else(|| PortfolioId::of_account(account)))
}
