//! `RegistryService`, the gRPC handlers of docs/SPEC.md section 13: each validates (`registry/convert`),
//! changes or reads an entry through `hourglass_store::registry`, and answers with the entry as it
//! stands at the instant asked.

mod convert;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use hourglass_core::{
    AccountId, BusinessId, ConsentLog, Duration, History, Instant, PortfolioId, TemplateName, ThreadKey,
};
use hourglass_proto::v1 as pb;
use hourglass_proto::v1::registry_service_server::RegistryService;
use hourglass_store::registry::{self, Entry, Key};
use hourglass_store::{Store, links};
use tonic::{Request, Response, Status};

use crate::auth::Access;
use crate::convert::Clock;
use crate::error::{Error, to_status};
use crate::service::{bounded, log_request};

/// The most templates one `ListTemplates` page holds, and how many when the request says 0.
const MAX_PAGE_SIZE: usize = 1_000;
const DEFAULT_PAGE_SIZE: usize = 100;

/// The `hourglass.v1.RegistryService` implementation over a store.
pub(crate) struct RegistryServer {
    store: Arc<dyn Store>,
    max_clock_skew: Duration,
    store_timeout: std::time::Duration,
}

/// Puts `value` from `effective_at` into the history an entry holds (a new one when none).
fn put_change<T: Clone + PartialEq>(
    current: Option<Entry>,
    unwrap: fn(Entry) -> Option<History<T>>,
    wrap: fn(History<T>) -> Entry,
    effective_at: Instant,
    value: &T,
) -> (Entry, bool) {
    let mut history = current.and_then(unwrap).unwrap_or_default();
    let changed = history.put(effective_at, value.clone());
    (wrap(history), changed)
}

/// Returns the instant a template is shown at when no instant is asked: now, or its first change when
/// every change is still to come.
fn standing<T: Clone + PartialEq>(history: &History<T>, now: Instant) -> Instant {
    history
        .changes()
        .first()
        .map_or(now, |change| change.effective_at.max(now))
}

fn not_found(what: String) -> Error {
    Error::NotFound(what)
}

impl RegistryServer {
    pub fn new(
        store: Arc<dyn Store>,
        max_clock_skew: Duration,
        store_timeout: std::time::Duration,
    ) -> RegistryServer {
        RegistryServer {
            store,
            max_clock_skew,
            store_timeout,
        }
    }

    fn clock(&self) -> Clock {
        Clock::system(self.max_clock_skew)
    }

    /// Checks that the caller may touch `business` (`--auth-file`).
    async fn check_business(&self, access: &Access, business: &BusinessId) -> Result<(), Error> {
        access
            .business(
                self.store.as_ref(),
                self.store_timeout,
                business,
                self.clock().now,
            )
            .await
    }

    /// Returns the thread a customer id is kept under (docs/SPEC.md section 13.4).
    async fn resolve(&self, thread: &ThreadKey) -> Result<ThreadKey, Error> {
        bounded(self.store_timeout, links::resolve(self.store.as_ref(), thread)).await
    }

    async fn get(&self, key: &Key) -> Result<Option<Entry>, Error> {
        bounded(self.store_timeout, registry::get(self.store.as_ref(), key)).await
    }

    async fn update(
        &self,
        key: &Key,
        change: impl FnMut(Option<Entry>) -> (Entry, bool) + Send,
    ) -> Result<Entry, Error> {
        bounded(
            self.store_timeout,
            registry::update(self.store.as_ref(), key, change),
        )
        .await
    }

    async fn account_history(&self, id: &AccountId) -> Result<History<hourglass_core::Account>, Error> {
        match self.get(&Key::Account(id.clone())).await? {
            Some(Entry::Account(history)) => Ok(history),
            _ => Err(not_found(format!(
                "account `{id}` is not registered: PutAccount first"
            ))),
        }
    }

    async fn put_account(
        &self,
        access: Access,
        request: pb::PutAccountRequest,
    ) -> Result<pb::PutAccountResponse, Error> {
        let put = convert::account_from_proto(request, self.clock())?;
        access.account(&put.id)?;
        access.portfolio(&put.value.portfolio)?;
        self.update(&Key::Account(put.id.clone()), |current| {
            put_change(
                current,
                unwrap_account,
                Entry::Account,
                put.effective_at,
                &put.value,
            )
        })
        .await?;
        Ok(pb::PutAccountResponse {
            account: Some(convert::account_to_proto(&put.id, put.effective_at, &put.value)),
        })
    }

    async fn get_account(
        &self,
        access: Access,
        request: pb::GetAccountRequest,
    ) -> Result<pb::GetAccountResponse, Error> {
        let id = AccountId::new("account_id", &request.account_id)?;
        let at = convert::at_or_now(request.at, self.clock())?;
        access.account(&id)?;
        let history = self.account_history(&id).await?;
        let change = history
            .change_at(at)
            .ok_or_else(|| not_found(format!("account `{id}` is not registered at {at}")))?;
        Ok(pb::GetAccountResponse {
            account: Some(convert::account_to_proto(&id, change.effective_at, &change.value)),
        })
    }

    async fn put_portfolio(
        &self,
        access: Access,
        request: pb::PutPortfolioRequest,
    ) -> Result<pb::PutPortfolioResponse, Error> {
        let put = convert::portfolio_from_proto(request, self.clock())?;
        access.portfolio(&put.id)?;
        self.update(&Key::Portfolio(put.id.clone()), |current| {
            put_change(
                current,
                unwrap_portfolio,
                Entry::Portfolio,
                put.effective_at,
                &put.value,
            )
        })
        .await?;
        Ok(pb::PutPortfolioResponse {
            portfolio: Some(convert::portfolio_to_proto(&put.id, put.effective_at, &put.value)),
        })
    }

    async fn get_portfolio(
        &self,
        access: Access,
        request: pb::GetPortfolioRequest,
    ) -> Result<pb::GetPortfolioResponse, Error> {
        let id = PortfolioId::new("portfolio_id", &request.portfolio_id)?;
        let at = convert::at_or_now(request.at, self.clock())?;
        access.portfolio(&id)?;
        let history = match self.get(&Key::Portfolio(id.clone())).await? {
            Some(Entry::Portfolio(history)) => history,
            _ => return Err(not_found(format!("portfolio `{id}` is not registered"))),
        };
        let change = history
            .change_at(at)
            .ok_or_else(|| not_found(format!("portfolio `{id}` is not registered at {at}")))?;
        Ok(pb::GetPortfolioResponse {
            portfolio: Some(convert::portfolio_to_proto(
                &id,
                change.effective_at,
                &change.value,
            )),
        })
    }

    async fn put_business(
        &self,
        access: Access,
        request: pb::PutBusinessRequest,
    ) -> Result<pb::PutBusinessResponse, Error> {
        let clock = self.clock();
        let put = convert::business_from_proto(request, clock)?;
        access.account(&put.value.account)?;
        access
            .business_to_register(self.store.as_ref(), self.store_timeout, &put.id, clock.now)
            .await?;
        let accounts = self.account_history(&put.value.account).await?;
        self.update(&Key::Business(put.id.clone()), |current| {
            put_change(
                current,
                unwrap_business,
                Entry::Business,
                put.effective_at,
                &put.value,
            )
        })
        .await?;
        let account = accounts
            .at(put.effective_at)
            .or_else(|| accounts.changes().first().map(|change| &change.value));
        Ok(pb::PutBusinessResponse {
            business: Some(convert::business_to_proto(
                &put.id,
                &put.value.account,
                account,
                put.effective_at,
            )),
        })
    }

    async fn get_business(
        &self,
        access: Access,
        request: pb::GetBusinessRequest,
    ) -> Result<pb::GetBusinessResponse, Error> {
        let id = BusinessId::new(&request.business_id)?;
        let at = convert::at_or_now(request.at, self.clock())?;
        self.check_business(&access, &id).await?;
        let history = match self.get(&Key::Business(id.clone())).await? {
            Some(Entry::Business(history)) => history,
            _ => return Err(not_found(format!("business `{id}` is not registered"))),
        };
        let change = history
            .change_at(at)
            .ok_or_else(|| not_found(format!("business `{id}` is not registered at {at}")))?;
        let registered = bounded(
            self.store_timeout,
            registry::registration(self.store.as_ref(), &id, at),
        )
        .await?;
        let account = registered.as_ref().map(|registered| &registered.account);
        Ok(pb::GetBusinessResponse {
            business: Some(convert::business_to_proto(
                &id,
                &change.value.account,
                account,
                change.effective_at,
            )),
        })
    }

    async fn put_template(
        &self,
        access: Access,
        request: pb::PutTemplateRequest,
    ) -> Result<pb::PutTemplateResponse, Error> {
        let clock = self.clock();
        let put = convert::template_from_proto(request, clock)?;
        access.account(&put.account)?;
        let key = Key::Template(put.account.clone(), put.name.clone());
        let entry = self
            .update(&key, |current| {
                put_change(
                    current,
                    unwrap_template,
                    Entry::Template,
                    put.effective_at,
                    &put.value,
                )
            })
            .await?;
        let history = unwrap_template(entry).unwrap_or_default();
        let at = standing(&history, clock.now);
        Ok(pb::PutTemplateResponse {
            template: convert::template_to_proto(&put.account, &put.name, &history, at),
        })
    }

    async fn get_template(
        &self,
        access: Access,
        request: pb::GetTemplateRequest,
    ) -> Result<pb::GetTemplateResponse, Error> {
        let account = AccountId::new("account_id", &request.account_id)?;
        let name = TemplateName::new(&request.name, &request.language)?;
        let at = convert::at_or_now(request.at, self.clock())?;
        access.account(&account)?;
        let quality_key = Key::TemplateQuality(account.clone(), name.clone());
        let quality = match self.get(&quality_key).await? {
            Some(Entry::Quality(history)) => history.at(at).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        let history = match self.get(&Key::Template(account.clone(), name.clone())).await? {
            Some(Entry::Template(history)) => history,
            _ => {
                return Err(not_found(format!(
                    "template {name} is not registered in account `{account}`"
                )));
            }
        };
        let template = convert::template_to_proto(&account, &name, &history, at).ok_or_else(|| {
            not_found(format!(
                "template {name} of account `{account}` is not registered at {at}"
            ))
        })?;
        Ok(pb::GetTemplateResponse {
            template: Some(template),
            quality_score: quality,
        })
    }

    async fn list_templates(
        &self,
        access: Access,
        request: pb::ListTemplatesRequest,
    ) -> Result<pb::ListTemplatesResponse, Error> {
        let now = self.clock().now;
        let account = AccountId::new("account_id", &request.account_id)?;
        access.account(&account)?;
        let page_size = match usize::try_from(request.page_size) {
            Ok(0) => DEFAULT_PAGE_SIZE,
            Ok(size) => size.min(MAX_PAGE_SIZE),
            Err(_) => {
                return Err(hourglass_core::Error::invalid("page_size", "must not be negative").into());
            }
        };
        let after = convert::page_token_from_proto(&request.page_token)?;
        let mut listed = bounded(
            self.store_timeout,
            registry::templates(self.store.as_ref(), &account, after.as_ref(), page_size + 1),
        )
        .await?;
        let more = listed.len() > page_size;
        listed.truncate(page_size);
        let next_page_token = match (more, listed.last()) {
            (true, Some((name, _))) => registry::template_member(name),
            _ => String::new(),
        };
        let templates = listed
            .iter()
            .filter_map(|(name, history)| {
                convert::template_to_proto(&account, name, history, standing(history, now))
            })
            .collect();
        Ok(pb::ListTemplatesResponse {
            templates,
            next_page_token,
        })
    }

    async fn record_consent(
        &self,
        access: Access,
        request: pb::RecordConsentRequest,
    ) -> Result<pb::RecordConsentResponse, Error> {
        let clock = self.clock();
        let (thread, event) = convert::consent_from_proto(request, clock)?;
        let at = event.at;
        self.check_business(&access, &thread.business_id).await?;
        let thread = self.resolve(&thread).await?;
        let entry = self
            .update(&Key::Consent(thread), |current| {
                let mut log = match current {
                    Some(Entry::Consent(log)) => log,
                    _ => ConsentLog::default(),
                };
                let changed = log.record(event.clone());
                (Entry::Consent(log), changed)
            })
            .await?;
        let log = match entry {
            Entry::Consent(log) => log,
            _ => ConsentLog::default(),
        };
        Ok(pb::RecordConsentResponse {
            consent: Some(convert::consent_to_proto(&log.state_at(at))),
        })
    }

    async fn link_customer(
        &self,
        access: Access,
        request: pb::LinkCustomerRequest,
    ) -> Result<pb::LinkCustomerResponse, Error> {
        let clock = self.clock();
        let (business, phone, bsuid) = convert::link_from_proto(&request)?;
        crate::convert::instant_from_proto(request.at, clock)?;
        self.check_business(&access, &business).await?;
        let linked = bounded(
            self.store_timeout,
            links::link(self.store.as_ref(), &business, &phone, &bsuid, clock.now),
        )
        .await?;
        let thread = self
            .resolve(&ThreadKey {
                business_id: business,
                customer_id: phone,
            })
            .await?;
        Ok(pb::LinkCustomerResponse {
            linked,
            customer_id: thread.customer_id.as_str().to_owned(),
        })
    }

    async fn get_consent(
        &self,
        access: Access,
        request: pb::GetConsentRequest,
    ) -> Result<pb::GetConsentResponse, Error> {
        let clock = self.clock();
        let thread = crate::convert::thread_from_proto(&request.business_id, &request.customer_id)?;
        let at = convert::at_or_now(request.at, clock)?;
        self.check_business(&access, &thread.business_id).await?;
        let thread = self.resolve(&thread).await?;
        let log = match self.get(&Key::Consent(thread)).await? {
            Some(Entry::Consent(log)) => log,
            _ => {
                return Err(not_found(
                    "no consent is recorded for this business and customer".to_owned(),
                ));
            }
        };
        Ok(pb::GetConsentResponse {
            consent: Some(convert::consent_to_proto(&log.state_at(at))),
        })
    }
}

fn unwrap_account(entry: Entry) -> Option<History<hourglass_core::Account>> {
    match entry {
        Entry::Account(history) => Some(history),
        _ => None,
    }
}

fn unwrap_portfolio(entry: Entry) -> Option<History<hourglass_core::Portfolio>> {
    match entry {
        Entry::Portfolio(history) => Some(history),
        _ => None,
    }
}

fn unwrap_business(entry: Entry) -> Option<History<hourglass_core::Business>> {
    match entry {
        Entry::Business(history) => Some(history),
        _ => None,
    }
}

fn unwrap_template(entry: Entry) -> Option<History<hourglass_core::TemplateState>> {
    match entry {
        Entry::Template(history) => Some(history),
        _ => None,
    }
}

/// Writes one handler of the service: runs it, maps its error, and logs the request.
macro_rules! handlers {
    ($($method:ident($request:ident) -> $response:ident as $name:literal;)*) => {
        #[tonic::async_trait]
        impl RegistryService for RegistryServer {
            $(
                #[tracing::instrument(name = $name, skip_all)]
                async fn $method(
                    &self,
                    request: Request<pb::$request>,
                ) -> Result<Response<pb::$response>, Status> {
                    let started = std::time::Instant::now();
                    let result = RegistryServer::$method(self, Access::of(&request), request.into_inner())
                        .await
                        .map(Response::new)
                        .map_err(to_status);
                    log_request($name, started, &result, |_| None);
                    result
                }
            )*
        }
    };
}

handlers! {
    put_account(PutAccountRequest) -> PutAccountResponse as "PutAccount";
    get_account(GetAccountRequest) -> GetAccountResponse as "GetAccount";
    put_portfolio(PutPortfolioRequest) -> PutPortfolioResponse as "PutPortfolio";
    get_portfolio(GetPortfolioRequest) -> GetPortfolioResponse as "GetPortfolio";
    put_business(PutBusinessRequest) -> PutBusinessResponse as "PutBusiness";
    get_business(GetBusinessRequest) -> GetBusinessResponse as "GetBusiness";
    put_template(PutTemplateRequest) -> PutTemplateResponse as "PutTemplate";
    get_template(GetTemplateRequest) -> GetTemplateResponse as "GetTemplate";
    list_templates(ListTemplatesRequest) -> ListTemplatesResponse as "ListTemplates";
    record_consent(RecordConsentRequest) -> RecordConsentResponse as "RecordConsent";
    get_consent(GetConsentRequest) -> GetConsentResponse as "GetConsent";
    link_customer(LinkCustomerRequest) -> LinkCustomerResponse as "LinkCustomer";
}
