//! The stored format of registry entries (accounts, portfolios, businesses, templates, consent): serde
//! mirrors of the core's values, versioned like every record.

use hourglass_core::{
    Account, AccountId, Business, Change, ConsentEvent, ConsentKind, ConsentLog, Currency, CustomerId,
    CustomerLink, Duration, History, Instant, MarketingCap, MessagingLimit, MetaTier, MetaTiers, Month,
    Portfolio, PortfolioId, TemplateCategory, TemplateState, TemplateStatus, Zone,
};
use serde::{Deserialize, Serialize};

use super::MoneyV1;
use crate::Error;
use crate::registry::Entry;

/// A registry entry as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version")]
pub enum EntryRecord {
    #[serde(rename = "1")]
    V1(EntryV1),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryV1 {
    Account {
        changes: Vec<ChangeV1<AccountV1>>,
    },
    Portfolio {
        changes: Vec<ChangeV1<PortfolioV1>>,
    },
    Business {
        changes: Vec<ChangeV1<BusinessV1>>,
    },
    Template {
        changes: Vec<ChangeV1<TemplateV1>>,
    },
    Consent {
        events: Vec<ConsentEventV1>,
    },
    /// A customer id's link to the other ids of the same person.
    Link {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        canonical: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        aliases: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        moved_to: Option<String>,
    },
    /// Meta's volume tiers of an account.
    MetaTiers {
        tiers: Vec<MetaTierV1>,
    },
    /// A template's quality scores.
    Quality {
        changes: Vec<ChangeV1<QualityV1>>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeV1<T> {
    effective_at: i64,
    #[serde(flatten)]
    value: T,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountV1 {
    portfolio: String,
    time_zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    currency: Option<String>,
    require_opt_in: bool,
    require_registered_templates: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    marketing_cap: Option<MarketingCapV1>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    monthly_budget: Option<MoneyV1>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketingCapV1 {
    count: u32,
    window_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortfolioV1 {
    messaging_limit: MessagingLimitV1,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessV1 {
    account: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateV1 {
    status: TemplateStatusV1,
    category: TemplateCategoryV1,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    paused_until: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QualityV1 {
    score: String,
}

/// One of Meta's tiers; `month` is `YYYY-MM`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaTierV1 {
    market: String,
    category: String,
    month: String,
    tier: String,
    updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEventV1 {
    kind: ConsentKindV1,
    at: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    source: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MessagingLimitV1 {
    Customers250,
    Customers2K,
    Customers10K,
    Customers100K,
    Unlimited,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateStatusV1 {
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateCategoryV1 {
    Marketing,
    Utility,
    Authentication,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsentKindV1 {
    OptIn,
    OptOut,
    MarketingStop,
    MarketingResume,
    /// Added in 1.1 with the webhooks; older data holds none.
    MarketingHold,
}

mirror_enum!(MessagingLimit <=> MessagingLimitV1 { Customers250, Customers2K, Customers10K, Customers100K, Unlimited });
mirror_enum!(TemplateStatus <=> TemplateStatusV1 {
    Approved, Pending, Rejected, Paused, Disabled, InAppeal, PendingDeletion, Deleted, Archived, LimitExceeded,
});
mirror_enum!(TemplateCategory <=> TemplateCategoryV1 { Marketing, Utility, Authentication });
mirror_enum!(ConsentKind <=> ConsentKindV1 { OptIn, OptOut, MarketingStop, MarketingResume, MarketingHold });

fn changes_v1<T: Clone + PartialEq, V>(history: &History<T>, to: impl Fn(&T) -> V) -> Vec<ChangeV1<V>> {
    history
        .changes()
        .iter()
        .map(|change| ChangeV1 {
            effective_at: change.effective_at.as_millis(),
            value: to(&change.value),
        })
        .collect()
}

fn history<T: Clone + PartialEq, V>(
    changes: Vec<ChangeV1<V>>,
    from: impl Fn(V) -> Result<T, Error>,
) -> Result<History<T>, Error> {
    let changes = changes
        .into_iter()
        .map(|change| {
            Ok(Change {
                effective_at: Instant::from_millis(change.effective_at),
                value: from(change.value)?,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(History::from_changes(changes))
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> Error {
    Error::corrupt(format!("stored {what} is bad: {error}"))
}

impl From<&Entry> for EntryRecord {
    fn from(entry: &Entry) -> EntryRecord {
        let v1 = match entry {
            Entry::Account(history) => EntryV1::Account {
                changes: changes_v1(history, |account| AccountV1 {
                    portfolio: account.portfolio.as_str().to_owned(),
                    time_zone: account.time_zone.name().to_owned(),
                    currency: account.currency.map(|currency| currency.to_string()),
                    require_opt_in: account.require_opt_in,
                    require_registered_templates: account.require_registered_templates,
                    marketing_cap: account.marketing_cap.map(|cap| MarketingCapV1 {
                        count: cap.count,
                        window_ms: cap.window.as_millis(),
                    }),
                    monthly_budget: account.monthly_budget.as_ref().map(MoneyV1::from),
                }),
            },
            Entry::Portfolio(history) => EntryV1::Portfolio {
                changes: changes_v1(history, |portfolio| PortfolioV1 {
                    messaging_limit: portfolio.messaging_limit.into(),
                }),
            },
            Entry::Business(history) => EntryV1::Business {
                changes: changes_v1(history, |business| BusinessV1 {
                    account: business.account.as_str().to_owned(),
                }),
            },
            Entry::Template(history) => EntryV1::Template {
                changes: changes_v1(history, |template| TemplateV1 {
                    status: template.status.into(),
                    category: template.category.into(),
                    paused_until: template.paused_until.map(Instant::as_millis),
                }),
            },
            Entry::Consent(log) => EntryV1::Consent {
                events: log
                    .events()
                    .iter()
                    .map(|event| ConsentEventV1 {
                        kind: event.kind.into(),
                        at: event.at.as_millis(),
                        source: event.source.clone(),
                    })
                    .collect(),
            },
            Entry::Link(link) => EntryV1::Link {
                canonical: link.canonical.as_ref().map(|id| id.as_str().to_owned()),
                aliases: link.aliases.iter().map(|id| id.as_str().to_owned()).collect(),
                moved_to: link.moved_to.as_ref().map(|id| id.as_str().to_owned()),
            },
            Entry::Quality(history) => EntryV1::Quality {
                changes: changes_v1(history, |score| QualityV1 { score: score.clone() }),
            },
            Entry::MetaTiers(tiers) => EntryV1::MetaTiers {
                tiers: tiers
                    .tiers()
                    .iter()
                    .map(|tier| MetaTierV1 {
                        market: tier.market.clone(),
                        category: tier.category.clone(),
                        month: tier.month.to_string(),
                        tier: tier.tier.clone(),
                        updated_at: tier.updated_at.as_millis(),
                    })
                    .collect(),
            },
        };
        EntryRecord::V1(v1)
    }
}

impl TryFrom<EntryRecord> for Entry {
    type Error = Error;

    fn try_from(record: EntryRecord) -> Result<Entry, Error> {
        let EntryRecord::V1(v1) = record;
        Ok(match v1 {
            EntryV1::Account { changes } => Entry::Account(history(changes, |account| {
                let cap = account
                    .marketing_cap
                    .map(|cap| MarketingCap::new(cap.count, Duration::from_millis(cap.window_ms)))
                    .transpose()
                    .map_err(|error| corrupt("marketing cap", error))?;
                Ok(Account {
                    portfolio: PortfolioId::new("portfolio", &account.portfolio)
                        .map_err(|error| corrupt("portfolio id", error))?,
                    time_zone: Zone::new("time_zone", &account.time_zone)
                        .map_err(|error| corrupt("time zone", error))?,
                    currency: account
                        .currency
                        .as_deref()
                        .map(Currency::new)
                        .transpose()
                        .map_err(|error| corrupt("currency", error))?,
                    require_opt_in: account.require_opt_in,
                    require_registered_templates: account.require_registered_templates,
                    marketing_cap: cap,
                    monthly_budget: account.monthly_budget.map(TryFrom::try_from).transpose()?,
                })
            })?),
            EntryV1::Portfolio { changes } => Entry::Portfolio(history(changes, |portfolio| {
                Ok(Portfolio {
                    messaging_limit: portfolio.messaging_limit.into(),
                })
            })?),
            EntryV1::Business { changes } => Entry::Business(history(changes, |business| {
                Ok(Business {
                    account: AccountId::new("account", &business.account)
                        .map_err(|error| corrupt("account id", error))?,
                })
            })?),
            EntryV1::Template { changes } => Entry::Template(history(changes, |template| {
                Ok(TemplateState {
                    status: template.status.into(),
                    category: template.category.into(),
                    paused_until: template.paused_until.map(Instant::from_millis),
                })
            })?),
            EntryV1::Consent { events } => Entry::Consent(ConsentLog::from_events(
                events
                    .into_iter()
                    .map(|event| ConsentEvent {
                        kind: event.kind.into(),
                        at: Instant::from_millis(event.at),
                        source: event.source,
                    })
                    .collect(),
            )),
            EntryV1::Link {
                canonical,
                aliases,
                moved_to,
            } => {
                let id = |raw: &str| CustomerId::new(raw).map_err(|error| corrupt("customer id", error));
                Entry::Link(CustomerLink {
                    canonical: canonical.as_deref().map(id).transpose()?,
                    aliases: aliases.iter().map(|raw| id(raw)).collect::<Result<_, _>>()?,
                    moved_to: moved_to.as_deref().map(id).transpose()?,
                })
            }
            EntryV1::Quality { changes } => Entry::Quality(history(changes, |quality| Ok(quality.score))?),
            EntryV1::MetaTiers { tiers } => Entry::MetaTiers(MetaTiers::from_tiers(
                tiers
                    .into_iter()
                    .map(|tier| {
                        let month = parse_month(&tier.month).ok_or_else(|| {
                            Error::corrupt(format!("stored tier has a bad month {:?}", tier.month))
                        })?;
                        Ok(MetaTier {
                            market: tier.market,
                            category: tier.category,
                            month,
                            tier: tier.tier,
                            updated_at: Instant::from_millis(tier.updated_at),
                        })
                    })
                    .collect::<Result<_, Error>>()?,
            )),
        })
    }
}

/// Reads `YYYY-MM`.
fn parse_month(raw: &str) -> Option<Month> {
    let (year, month) = raw.split_once('-')?;
    let month = Month {
        year: year.parse().ok()?,
        month: month.parse().ok()?,
    };
    (1..=12).contains(&month.month).then_some(month)
}
