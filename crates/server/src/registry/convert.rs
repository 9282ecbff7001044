//! Conversions between the registry's protobuf messages and the core's values; every check of a
//! request's fields happens here, and names the field at fault.

use hourglass_core::{
    Account, AccountId, Business, BusinessId, ConsentEvent, ConsentKind, ConsentState, Currency, CustomerId,
    CustomerKind, Duration, Error, History, Instant, MarketingCap, MessagingLimit, Money, Portfolio,
    PortfolioId, TemplateCategory, TemplateName, TemplateState, TemplateStatus, ThreadKey, Zone,
};
use hourglass_proto::v1 as pb;

use crate::convert::{
    Clock, ToProto as _, instant_from_proto, template_category_from_proto, thread_from_proto,
    timestamp_from_proto,
};

/// A validated write: what it names, when it takes effect, and the value.
pub(super) struct Put<I, T> {
    pub id: I,
    pub effective_at: Instant,
    pub value: T,
}

/// Returns the instant `at` of a read, the server clock when absent.
pub(super) fn at_or_now(at: Option<prost_types::Timestamp>, clock: Clock) -> Result<Instant, Error> {
    Ok(timestamp_from_proto("at", at)?.unwrap_or(clock.now))
}

fn effective_at(at: Option<prost_types::Timestamp>, clock: Clock) -> Result<Instant, Error> {
    Ok(timestamp_from_proto("effective_at", at)?.unwrap_or(clock.now))
}

pub(super) fn account_from_proto(
    request: pb::PutAccountRequest,
    clock: Clock,
) -> Result<Put<AccountId, Account>, Error> {
    let pb::PutAccountRequest {
        account_id,
        portfolio_id,
        time_zone,
        currency,
        require_opt_in,
        require_registered_templates,
        marketing_cap,
        monthly_budget,
        effective_at: at,
    } = request;
    let id = AccountId::new("account_id", &account_id)?;
    let portfolio = if portfolio_id.is_empty() {
        PortfolioId::of_account(&id)
    } else {
        PortfolioId::new("portfolio_id", &portfolio_id)?
    };
    let time_zone = Zone::new("time_zone", &time_zone)?;
    let currency = if currency.is_empty() {
        None
    } else {
        Some(Currency::new(&currency)?)
    };
    let marketing_cap = marketing_cap
        .map(|cap| {
            let window = cap
                .window
                .ok_or_else(|| Error::invalid("marketing_cap.window", "must be set, such as 86400s"))?;
            if !(0..1_000_000_000).contains(&window.nanos) || window.seconds < 0 {
                return Err(Error::invalid("marketing_cap.window", "must be longer than zero"));
            }
            let millis = window
                .seconds
                .saturating_mul(1_000)
                .saturating_add(i64::from(window.nanos / 1_000_000));
            MarketingCap::new(cap.count, Duration::from_millis(millis))
        })
        .transpose()?;
    let monthly_budget = monthly_budget
        .map(|budget| {
            let in_currency = Currency::new(&budget.currency_code)
                .map_err(|error| Error::invalid("monthly_budget.currency_code", error.reason))?;
            let money = Money::from_units_and_nanos(in_currency, budget.units, budget.nanos)
                .map_err(|error| Error::invalid("monthly_budget", error.reason))?;
            Account::check_budget(&money, currency)?;
            Ok::<_, Error>(money)
        })
        .transpose()?;
    Ok(Put {
        id,
        effective_at: effective_at(at, clock)?,
        value: Account {
            portfolio,
            time_zone,
            currency,
            require_opt_in,
            require_registered_templates,
            marketing_cap,
            monthly_budget,
        },
    })
}

pub(super) fn account_to_proto(id: &AccountId, effective_at: Instant, account: &Account) -> pb::Account {
    pb::Account {
        account_id: id.to_string(),
        portfolio_id: account.portfolio.to_string(),
        time_zone: account.time_zone.name().to_owned(),
        currency: account
            .currency
            .map(|currency| currency.to_string())
            .unwrap_or_default(),
        require_opt_in: account.require_opt_in,
        require_registered_templates: account.require_registered_templates,
        marketing_cap: account.marketing_cap.map(|cap| pb::MarketingCap {
            count: cap.count,
            window: Some(prost_types::Duration {
                seconds: cap.window.as_millis() / 1_000,
                nanos: i32::try_from(cap.window.as_millis() % 1_000 * 1_000_000).unwrap_or(0),
            }),
        }),
        monthly_budget: account.monthly_budget.as_ref().map(|budget| budget.to_proto()),
        effective_at: Some(effective_at.to_proto()),
    }
}

pub(super) fn portfolio_from_proto(
    request: pb::PutPortfolioRequest,
    clock: Clock,
) -> Result<Put<PortfolioId, Portfolio>, Error> {
    let messaging_limit = match pb::MessagingLimit::try_from(request.messaging_limit) {
        Ok(pb::MessagingLimit::MessagingLimit250) => MessagingLimit::Customers250,
        Ok(pb::MessagingLimit::MessagingLimit2k) => MessagingLimit::Customers2K,
        Ok(pb::MessagingLimit::MessagingLimit10k) => MessagingLimit::Customers10K,
        Ok(pb::MessagingLimit::MessagingLimit100k) => MessagingLimit::Customers100K,
        Ok(pb::MessagingLimit::Unspecified | pb::MessagingLimit::Unlimited) => MessagingLimit::Unlimited,
        Err(_) => {
            return Err(Error::invalid(
                "messaging_limit",
                format!("unknown messaging limit {}", request.messaging_limit),
            ));
        }
    };
    Ok(Put {
        id: PortfolioId::new("portfolio_id", &request.portfolio_id)?,
        effective_at: effective_at(request.effective_at, clock)?,
        value: Portfolio { messaging_limit },
    })
}

pub(super) fn portfolio_to_proto(
    id: &PortfolioId,
    effective_at: Instant,
    portfolio: &Portfolio,
) -> pb::Portfolio {
    let messaging_limit = match portfolio.messaging_limit {
        MessagingLimit::Customers250 => pb::MessagingLimit::MessagingLimit250,
        MessagingLimit::Customers2K => pb::MessagingLimit::MessagingLimit2k,
        MessagingLimit::Customers10K => pb::MessagingLimit::MessagingLimit10k,
        MessagingLimit::Customers100K => pb::MessagingLimit::MessagingLimit100k,
        MessagingLimit::Unlimited => pb::MessagingLimit::Unlimited,
    };
    pb::Portfolio {
        portfolio_id: id.to_string(),
        messaging_limit: messaging_limit.into(),
        effective_at: Some(effective_at.to_proto()),
    }
}

pub(super) fn business_from_proto(
    request: pb::PutBusinessRequest,
    clock: Clock,
) -> Result<Put<BusinessId, Business>, Error> {
    Ok(Put {
        id: BusinessId::new(&request.business_id)?,
        effective_at: effective_at(request.effective_at, clock)?,
        value: Business {
            account: AccountId::new("account_id", &request.account_id)?,
        },
    })
}

pub(super) fn business_to_proto(
    id: &BusinessId,
    account_id: &AccountId,
    account: Option<&Account>,
    effective_at: Instant,
) -> pb::Business {
    pb::Business {
        business_id: id.to_string(),
        account_id: account_id.to_string(),
        portfolio_id: account
            .map(|account| account.portfolio.to_string())
            .unwrap_or_default(),
        time_zone: account
            .map_or(Zone::UTC, |account| account.time_zone)
            .name()
            .to_owned(),
        effective_at: Some(effective_at.to_proto()),
    }
}

/// A validated `PutTemplate`: the account, the template, and its change.
pub(super) struct PutTemplate {
    pub account: AccountId,
    pub name: TemplateName,
    pub effective_at: Instant,
    pub value: TemplateState,
}

pub(super) fn template_from_proto(
    request: pb::PutTemplateRequest,
    clock: Clock,
) -> Result<PutTemplate, Error> {
    let pb::PutTemplateRequest {
        account_id,
        name,
        language,
        status,
        category,
        effective_at: at,
        paused_until,
    } = request;
    let account = AccountId::new("account_id", &account_id)?;
    let name = TemplateName::new(&name, &language)?;
    let status = status_from_proto(status)?;
    let category = template_category_from_proto(category, "category")?;
    let effective_at = effective_at(at, clock)?;
    let paused_until = timestamp_from_proto("paused_until", paused_until)?;
    let value = TemplateState::new(status, category, paused_until, effective_at)?;
    Ok(PutTemplate {
        account,
        name,
        effective_at,
        value,
    })
}

fn status_from_proto(status: i32) -> Result<TemplateStatus, Error> {
    use pb::TemplateStatus as Pb;
    Ok(match Pb::try_from(status) {
        Ok(Pb::Approved) => TemplateStatus::Approved,
        Ok(Pb::Pending) => TemplateStatus::Pending,
        Ok(Pb::Rejected) => TemplateStatus::Rejected,
        Ok(Pb::Paused) => TemplateStatus::Paused,
        Ok(Pb::Disabled) => TemplateStatus::Disabled,
        Ok(Pb::InAppeal) => TemplateStatus::InAppeal,
        Ok(Pb::PendingDeletion) => TemplateStatus::PendingDeletion,
        Ok(Pb::Deleted) => TemplateStatus::Deleted,
        Ok(Pb::Archived) => TemplateStatus::Archived,
        Ok(Pb::LimitExceeded) => TemplateStatus::LimitExceeded,
        Ok(Pb::Unspecified) => {
            return Err(Error::invalid(
                "status",
                "must be set, such as TEMPLATE_STATUS_APPROVED",
            ));
        }
        Err(_) => {
            return Err(Error::invalid(
                "status",
                format!("unknown template status {status}"),
            ));
        }
    })
}

fn status_to_proto(status: TemplateStatus) -> pb::TemplateStatus {
    use pb::TemplateStatus as Pb;
    match status {
        TemplateStatus::Approved => Pb::Approved,
        TemplateStatus::Pending => Pb::Pending,
        TemplateStatus::Rejected => Pb::Rejected,
        TemplateStatus::Paused => Pb::Paused,
        TemplateStatus::Disabled => Pb::Disabled,
        TemplateStatus::InAppeal => Pb::InAppeal,
        TemplateStatus::PendingDeletion => Pb::PendingDeletion,
        TemplateStatus::Deleted => Pb::Deleted,
        TemplateStatus::Archived => Pb::Archived,
        TemplateStatus::LimitExceeded => Pb::LimitExceeded,
    }
}

fn category_to_proto(category: TemplateCategory) -> pb::Category {
    hourglass_core::Category::from(category).to_proto()
}

/// Describes a template as it stands at `at`, with its whole history; none when no change is in force
/// at `at`.
pub(super) fn template_to_proto(
    account: &AccountId,
    name: &TemplateName,
    history: &History<TemplateState>,
    at: Instant,
) -> Option<pb::RegisteredTemplate> {
    let change = history.change_at(at)?;
    let state = &change.value;
    Some(pb::RegisteredTemplate {
        account_id: account.to_string(),
        name: name.name().to_owned(),
        language: name.language().to_owned(),
        status: status_to_proto(state.status).into(),
        category: category_to_proto(state.category).into(),
        effective_at: Some(change.effective_at.to_proto()),
        paused_until: state.paused_until.map(|until| until.to_proto()),
        history: history
            .changes()
            .iter()
            .map(|change| pb::TemplateChange {
                status: status_to_proto(change.value.status).into(),
                category: category_to_proto(change.value.category).into(),
                effective_at: Some(change.effective_at.to_proto()),
                paused_until: change.value.paused_until.map(|until| until.to_proto()),
            })
            .collect(),
    })
}

/// Parses a `ListTemplates` page token: the `<name>/<language>` of the last template of the page before.
pub(super) fn page_token_from_proto(token: &str) -> Result<Option<TemplateName>, Error> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || {
        Error::invalid(
            "page_token",
            "is not a token this server gave: start again without one",
        )
    };
    let (name, language) = token.split_once('/').ok_or_else(bad)?;
    TemplateName::new(name, language).map(Some).map_err(|_| bad())
}

pub(super) fn consent_from_proto(
    request: pb::RecordConsentRequest,
    clock: Clock,
) -> Result<(ThreadKey, ConsentEvent), Error> {
    let pb::RecordConsentRequest {
        business_id,
        customer_id,
        kind,
        at,
        source,
    } = request;
    let thread = thread_from_proto(&business_id, &customer_id)?;
    let kind = match pb::ConsentKind::try_from(kind) {
        Ok(pb::ConsentKind::OptIn) => ConsentKind::OptIn,
        Ok(pb::ConsentKind::OptOut) => ConsentKind::OptOut,
        Ok(pb::ConsentKind::MarketingStop) => ConsentKind::MarketingStop,
        Ok(pb::ConsentKind::MarketingResume) => ConsentKind::MarketingResume,
        Ok(pb::ConsentKind::MarketingHold) => ConsentKind::MarketingHold,
        Ok(pb::ConsentKind::Unspecified) => {
            return Err(Error::invalid(
                "kind",
                "must be set: CONSENT_KIND_OPT_IN, CONSENT_KIND_OPT_OUT, CONSENT_KIND_MARKETING_STOP, \
                 CONSENT_KIND_MARKETING_RESUME or CONSENT_KIND_MARKETING_HOLD",
            ));
        }
        Err(_) => return Err(Error::invalid("kind", format!("unknown consent kind {kind}"))),
    };
    let at = instant_from_proto(at, clock)?;
    Ok((thread, ConsentEvent::new(kind, at, &source)?))
}

fn consent_event_to_proto(event: &ConsentEvent) -> pb::ConsentEvent {
    let kind = match event.kind {
        ConsentKind::OptIn => pb::ConsentKind::OptIn,
        ConsentKind::OptOut => pb::ConsentKind::OptOut,
        ConsentKind::MarketingStop => pb::ConsentKind::MarketingStop,
        ConsentKind::MarketingResume => pb::ConsentKind::MarketingResume,
        ConsentKind::MarketingHold => pb::ConsentKind::MarketingHold,
    };
    pb::ConsentEvent {
        kind: kind.into(),
        at: Some(event.at.to_proto()),
        source: event.source.clone(),
    }
}

pub(super) fn consent_to_proto(state: &ConsentState) -> pb::Consent {
    pb::Consent {
        opted_in: state.opted_in.is_some(),
        opted_out: state.opted_out.is_some(),
        marketing_stopped: state.marketing_stopped.is_some(),
        opted_in_by: state.opted_in.as_ref().map(consent_event_to_proto),
        opted_out_by: state.opted_out.as_ref().map(consent_event_to_proto),
        marketing_stopped_by: state.marketing_stopped.as_ref().map(consent_event_to_proto),
        marketing_held: state.marketing_held.is_some(),
        marketing_held_by: state.marketing_held.as_ref().map(consent_event_to_proto),
    }
}

/// Validates a `LinkCustomer` request: a business, a phone number and a BSUID.
pub(super) fn link_from_proto(
    request: &pb::LinkCustomerRequest,
) -> Result<(BusinessId, CustomerId, CustomerId), Error> {
    let business = BusinessId::named("business_id", &request.business_id)?;
    let phone = CustomerId::named("phone", &request.phone)?;
    if !matches!(phone.kind(), CustomerKind::Phone(_)) {
        return Err(Error::invalid(
            "phone",
            "must be a phone number (E.164 digits), not a BSUID: the BSUID goes in `bsuid`",
        ));
    }
    let bsuid = CustomerId::named("bsuid", &request.bsuid)?;
    if !matches!(bsuid.kind(), CustomerKind::Bsuid { .. }) {
        return Err(Error::invalid(
            "bsuid",
            "must be a BSUID (a country code, '.', letters and digits, such as US.13491208655302741918)",
        ));
    }
    Ok((business, phone, bsuid))
}
