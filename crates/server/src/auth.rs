//! Credentials and tenants (`--auth-file`, docs/SPEC.md section 16): bearer tokens kept as SHA-256
//! digests, each with a tenant, a role and the accounts (and portfolios) it may touch.
//!
//! Two checks, in two places:
//!
//! - [`AuthLayer`], before any handler: a call other than health and reflection needs a known token
//!   (`UNAUTHENTICATED` otherwise) whose role may call the method (`PERMISSION_DENIED` otherwise). The
//!   token's [`Grant`] goes into the request's extensions.
//! - [`Access`], in each handler once the request is validated: every account, portfolio and business
//!   the request names must be the token's (`PERMISSION_DENIED` otherwise). A business counts as the
//!   account it is registered with now, or, registered with none, as the account of its own id; the
//!   answer is the same whether an account outside the token's list exists or not.
//!
//! The file is read whole at start and on SIGHUP (`reload`); a file that fails leaves the tokens in
//! force as they were.

use std::collections::{BTreeSet, HashSet};
use std::future::Future;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hourglass_core::{AccountId, BusinessId, Instant, PortfolioId};
use hourglass_store::Store;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use tonic::Status;
use tonic::body::Body;

use crate::error::Error;
use crate::reload::Shared;

/// The largest auth file read: a line or two per token.
const MAX_AUTH_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// What a token may do, from least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Role {
    /// Every call that only reads.
    Reader,
    /// What a messaging gateway calls: the reads, and `Authorize`, `AuthorizeBatch`,
    /// `RecordMessage`, `IngestWebhook`, `RecordConsent` and `LinkCustomer`.
    Gateway,
    /// Everything: also `PutAccount`, `PutPortfolio`, `PutBusiness` and `PutTemplate`.
    Admin,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Gateway => "gateway",
            Role::Admin => "admin",
        }
    }
}

/// Which calls need which role; every method of `hourglass.v1` is named, and a method that is not
/// (one added later and forgotten here) needs `admin`.
const METHODS: &[(&str, Role)] = &[
    ("/hourglass.v1.PolicyService/Authorize", Role::Gateway),
    ("/hourglass.v1.PolicyService/AuthorizeBatch", Role::Gateway),
    ("/hourglass.v1.PolicyService/RecordMessage", Role::Gateway),
    ("/hourglass.v1.PolicyService/ListOpenConversations", Role::Reader),
    ("/hourglass.v1.RegistryService/PutAccount", Role::Admin),
    ("/hourglass.v1.RegistryService/GetAccount", Role::Reader),
    ("/hourglass.v1.RegistryService/PutPortfolio", Role::Admin),
    ("/hourglass.v1.RegistryService/GetPortfolio", Role::Reader),
    ("/hourglass.v1.RegistryService/PutBusiness", Role::Admin),
    ("/hourglass.v1.RegistryService/GetBusiness", Role::Reader),
    ("/hourglass.v1.RegistryService/PutTemplate", Role::Admin),
    ("/hourglass.v1.RegistryService/GetTemplate", Role::Reader),
    ("/hourglass.v1.RegistryService/ListTemplates", Role::Reader),
    ("/hourglass.v1.RegistryService/RecordConsent", Role::Gateway),
    ("/hourglass.v1.RegistryService/GetConsent", Role::Reader),
    ("/hourglass.v1.RegistryService/LinkCustomer", Role::Gateway),
    ("/hourglass.v1.UsageService/GetReconciliation", Role::Reader),
    ("/hourglass.v1.UsageService/GetDeliveryStats", Role::Reader),
    ("/hourglass.v1.UsageService/EstimateCost", Role::Reader),
    ("/hourglass.v1.UsageService/GetUsage", Role::Reader),
    ("/hourglass.v1.UsageService/GetBudget", Role::Reader),
    ("/hourglass.v1.WebhookService/IngestWebhook", Role::Gateway),
];

/// The services every client may call without a token: health (Kubernetes' probes) and reflection.
const OPEN_SERVICES: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// Returns the role a call of `path` needs, or none for an open service.
fn required_role(path: &str) -> Option<Role> {
    if OPEN_SERVICES.iter().any(|service| path.starts_with(service)) {
        return None;
    }
    Some(
        METHODS
            .iter()
            .find(|(method, _)| *method == path)
            .map_or(Role::Admin, |(_, role)| *role),
    )
}

/// A set of ids a token may touch: some, or every one (`"*"` in the file).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ids {
    Every,
    Some(BTreeSet<String>),
}

impl Ids {
    fn from_file(ids: Vec<String>, field: &str, token: &str) -> Result<Ids, String> {
        if ids.iter().any(|id| id == "*") {
            return if ids.len() == 1 {
                Ok(Ids::Every)
            } else {
                Err(format!("token {token:?}: `{field}` holds \"*\" beside other ids"))
            };
        }
        if let Some(id) = ids
            .iter()
            .find(|id| id.trim().is_empty() || id.trim() != id.as_str())
        {
            return Err(format!("token {token:?}: `{field}` holds the id {id:?}"));
        }
        Ok(Ids::Some(ids.into_iter().collect()))
    }

    fn contains(&self, id: &str) -> bool {
        match self {
            Ids::Every => true,
            Ids::Some(ids) => ids.contains(id),
        }
    }
}

/// What one token may do: its tenant, role, accounts and portfolios.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Grant {
    /// The token's name in the file, for the logs (never the token).
    pub name: String,
    pub tenant: String,
    pub role: Role,
    accounts: Ids,
    portfolios: Ids,
}

impl Grant {
    fn may_touch_account(&self, account: &AccountId) -> bool {
        self.accounts.contains(account.as_str())
    }

    /// A token touches its portfolios, and the own portfolio of each of its accounts (which bears the
    /// account's id).
    fn may_touch_portfolio(&self, portfolio: &PortfolioId) -> bool {
        self.portfolios.contains(portfolio.as_str()) || self.accounts.contains(portfolio.as_str())
    }

    fn denied(&self, what: &str, id: &str) -> Error {
        tracing::info!(token = %self.name, tenant = %self.tenant, "request refused: {what} outside the token's accounts");
        Error::PermissionDenied(format!("this token may not touch {what} `{id}`"))
    }
}

/// The tokens of an auth file, by the SHA-256 digest of each.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    grants: Vec<([u8; 32], Arc<Grant>)>,
}

impl Tokens {
    /// Returns the grant of `token`. Every digest is compared, in constant time, whichever matches.
    fn find(&self, token: &str) -> Option<Arc<Grant>> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (known, grant) in &self.grants {
            if bool::from(known.ct_eq(&digest)) {
                found = Some(Arc::clone(grant));
            }
        }
        found
    }

    pub fn len(&self) -> usize {
        self.grants.len()
    }
}

/// The auth file as written (TOML).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    tokens: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    tenant: String,
    role: Role,
    sha256: String,
    accounts: Vec<String>,
    #[serde(default)]
    portfolios: Vec<String>,
}

/// Reads and checks an auth file; the error names the file and what is wrong.
pub(crate) fn load(path: &Path) -> Result<Tokens, String> {
    let what = |problem: String| format!("--auth-file {}: {problem}", path.display());
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_AUTH_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(|error| what(format!("cannot read it: {error}")))?;
    if text.len() as u64 > MAX_AUTH_FILE_BYTES {
        return Err(what(format!("is larger than {MAX_AUTH_FILE_BYTES} bytes")));
    }
    parse(&text).map_err(what)
}

/// Parses the text of an auth file.
fn parse(text: &str) -> Result<Tokens, String> {
    let file: File = toml::from_str(text).map_err(|error| error.to_string())?;
    if file.tokens.is_empty() {
        return Err("holds no [[tokens]]: every call would be refused".to_owned());
    }
    let mut names = HashSet::new();
    let mut digests = HashSet::new();
    let mut grants = Vec::with_capacity(file.tokens.len());
    for entry in file.tokens {
        let TokenEntry {
            name,
            tenant,
            role,
            sha256,
            accounts,
            portfolios,
        } = entry;
        if name.trim().is_empty() {
            return Err("a token has an empty `name`".to_owned());
        }
        if !names.insert(name.clone()) {
            return Err(format!("two tokens are named {name:?}"));
        }
        if tenant.trim().is_empty() {
            return Err(format!("token {name:?}: `tenant` is empty"));
        }
        let digest: [u8; 32] = hex::decode(sha256.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| {
                format!("token {name:?}: `sha256` must be the 64 hex digits of the token's SHA-256 digest")
            })?;
        if !digests.insert(digest) {
            return Err(format!("token {name:?}: its digest is another token's too"));
        }
        if accounts.is_empty() {
            return Err(format!(
                "token {name:?}: `accounts` is empty (list its accounts, or \"*\" for every one)"
            ));
        }
        let accounts = Ids::from_file(accounts, "accounts", &name)?;
        let portfolios = Ids::from_file(portfolios, "portfolios", &name)?;
        grants.push((
            digest,
            Arc::new(Grant {
                name,
                tenant,
                role,
                accounts,
                portfolios,
            }),
        ));
    }
    Ok(Tokens { grants })
}

/// The tokens in force, replaced whole on SIGHUP.
pub(crate) type SharedTokens = Shared<Tokens>;

/// Reloads the auth file on every SIGHUP; a file that fails to load is logged and the tokens in force
/// stay.
pub(crate) async fn reload_on_sighup(tokens: SharedTokens, path: PathBuf) {
    let origin = path.display().to_string();
    crate::reload::Reload::new(
        "auth file",
        origin,
        move || load(&path),
        move |loaded: Tokens| {
            tracing::info!(tokens = loaded.len(), "auth tokens in force");
            tokens.replace(loaded);
        },
        crate::metrics::auth_reload,
    )
    .on_sighup()
    .await;
}

/// The caller of a request, as `AuthLayer` found it.
#[derive(Clone, Debug)]
struct Caller(Arc<Grant>);

/// Authenticates every call but health and reflection, and checks its role, before any handler runs;
/// without tokens (no `--auth-file`) every call passes.
#[derive(Clone, Debug)]
pub(crate) struct AuthLayer {
    pub tokens: Option<SharedTokens>,
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            tokens: self.tokens.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Auth<S> {
    inner: S,
    tokens: Option<SharedTokens>,
}

impl<S> tower::Service<http::Request<Body>> for Auth<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        if let Some(tokens) = &self.tokens {
            match authenticate(&tokens.current(), &request) {
                Ok(Some(grant)) => {
                    request.extensions_mut().insert(Caller(grant));
                }
                Ok(None) => {}
                Err(status) => return Box::pin(std::future::ready(Ok(status.into_http()))),
            }
        }
        // The service that was polled ready handles this request; its clone waits for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(inner.call(request))
    }
}

/// Returns the grant of a request's token, none for an open service, or the status that refuses it.
fn authenticate(tokens: &Tokens, request: &http::Request<Body>) -> Result<Option<Arc<Grant>>, Status> {
    let path = request.uri().path();
    let Some(required) = required_role(path) else {
        return Ok(None);
    };
    let token = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(bearer)
        .ok_or_else(|| {
            tracing::info!("request refused: no bearer token");
            Status::unauthenticated("this server needs a token: send `authorization: Bearer <token>`")
        })?;
    let grant = tokens.find(token).ok_or_else(|| {
        tracing::info!("request refused: unknown token");
        Status::unauthenticated("the bearer token is not known to this server")
    })?;
    if grant.role < required {
        tracing::info!(token = %grant.name, tenant = %grant.tenant, path, "request refused: role");
        let method = path.rsplit('/').next().unwrap_or(path);
        return Err(Status::permission_denied(format!(
            "a {} token may not call {method}; it needs a {} token",
            grant.role.name(),
            required.name()
        )));
    }
    Ok(Some(grant))
}

/// Returns the token of an `authorization` value `Bearer <token>` (the scheme in any case).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// What a handler checks the ids of a request against: the caller's grant, or nothing without
/// `--auth-file`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Access(Option<Arc<Grant>>);

impl Access {
    /// Returns the access of `request`'s caller.
    pub fn of<T>(request: &tonic::Request<T>) -> Access {
        Access(
            request
                .extensions()
                .get::<Caller>()
                .map(|caller| Arc::clone(&caller.0)),
        )
    }

    /// Checks that the caller may touch `account`.
    pub fn account(&self, account: &AccountId) -> Result<(), Error> {
        match &self.0 {
            Some(grant) if !grant.may_touch_account(account) => {
                Err(grant.denied("account", account.as_str()))
            }
            _ => Ok(()),
        }
    }

    /// Checks that the caller may touch `portfolio`.
    pub fn portfolio(&self, portfolio: &PortfolioId) -> Result<(), Error> {
        match &self.0 {
            Some(grant) if !grant.may_touch_portfolio(portfolio) => {
                Err(grant.denied("portfolio", portfolio.as_str()))
            }
            _ => Ok(()),
        }
    }

    /// Checks that the caller may touch `business`: the account it is registered with at `now`, or
    /// its own id when it is registered with none. Reads the registry unless the caller may touch
    /// every account.
    pub async fn business(
        &self,
        store: &dyn Store,
        timeout: std::time::Duration,
        business: &BusinessId,
        now: Instant,
    ) -> Result<(), Error> {
        match self.registration(store, timeout, business, now).await? {
            Some((grant, account)) => {
                let account = account.unwrap_or_else(|| AccountId::of_unregistered(business));
                check_business(&grant, &account, business)
            }
            None => Ok(()),
        }
    }

    /// Checks that the caller may register `business`: it may touch the account the business is
    /// registered with at `now`, if any, so that no tenant takes another's business.
    pub async fn business_to_register(
        &self,
        store: &dyn Store,
        timeout: std::time::Duration,
        business: &BusinessId,
        now: Instant,
    ) -> Result<(), Error> {
        match self.registration(store, timeout, business, now).await? {
            Some((grant, Some(account))) => check_business(&grant, &account, business),
            _ => Ok(()),
        }
    }

    /// Returns the grant of a caller limited to some accounts, with the account `business` is
    /// registered with at `now`; none for a caller that may touch every account.
    async fn registration(
        &self,
        store: &dyn Store,
        timeout: std::time::Duration,
        business: &BusinessId,
        now: Instant,
    ) -> Result<Option<(Arc<Grant>, Option<AccountId>)>, Error> {
        let Some(grant) = self.0.as_ref().filter(|grant| grant.accounts != Ids::Every) else {
            return Ok(None);
        };
        let account = crate::service::bounded(
            timeout,
            hourglass_store::registry::account_of(store, business, now),
        )
        .await?;
        Ok(Some((Arc::clone(grant), account)))
    }
}

fn check_business(grant: &Grant, account: &AccountId, business: &BusinessId) -> Result<(), Error> {
    if grant.may_touch_account(account) {
        Ok(())
    } else {
        Err(grant.denied("business", business.as_str()))
    }
}

#[cfg(test)]
mod tests;
