//! The registry in the store (docs/SPEC.md section 13): accounts, portfolios, businesses, templates and
//! consent, and the facts a step reads of them.
//!
//! Each entry is stored whole under its `Key`, with a version. A write reads the entry, changes it with
//! a pure function of the core (`History::put`, `ConsentLog::record`), and writes it back only if the
//! version still holds, retrying otherwise: concurrent writes never lose one another, and a write that
//! changes nothing (a retry) writes nothing. Entries have no TTL: they are kept as long as the account.
//!
//! What a decision reads of a business, its account, portfolio and template, each replica keeps in its
//! `Cache`, checked against the registry's generation, which every write of those advances before it
//! returns (`cache`): every replica sees a write as soon as it returned. Consent and links are read from
//! the store every time.

mod cache;

use std::collections::HashMap;
use std::sync::Arc;

use hourglass_core::{
    Account, AccountId, Business, BusinessId, ConsentLog, CustomerLink, Facts, History, Instant, MetaTiers,
    Outbound, Portfolio, PortfolioId, Registered, TemplateName, TemplateState, ThreadKey,
};

pub use self::cache::{Cache, DEFAULT_CAPACITY, DEFAULT_MAX_AGE, Generation, Stamp};
use crate::format::registry::EntryRecord;
use crate::format::{decode, encode};
use crate::{Error, Store, Version};

/// How many times a write retries after losing a race before it reports the store unavailable.
const MAX_ATTEMPTS: usize = 64;

/// The key of a registry entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Key {
    Account(AccountId),
    Portfolio(PortfolioId),
    Business(BusinessId),
    Template(AccountId, TemplateName),
    Consent(ThreadKey),
    /// A customer id's link to the other ids of the same person (`links`).
    Link(ThreadKey),
    /// Meta's volume tiers of an account, from its `account_update` webhooks.
    MetaTiers(AccountId),
    /// The quality score Meta gives a template, from `message_template_quality_update` webhooks.
    TemplateQuality(AccountId, TemplateName),
}

impl Key {
    /// Returns the entry's name, unique across kinds, such as `template/<account>/<name>/<language>`.
    /// Ids, template names and languages hold no `/`, so a name is never ambiguous.
    pub fn name(&self) -> String {
        // Joined rather than formatted where a read names an entry per message: a tenth of the work.
        match self {
            Key::Account(account) => ["account/", account.as_str()].concat(),
            Key::Portfolio(portfolio) => ["portfolio/", portfolio.as_str()].concat(),
            Key::Business(business) => ["business/", business.as_str()].concat(),
            Key::Template(account, template) => {
                format!("{}{}", templates_prefix(account), template_member(template))
            }
            Key::Consent(thread) => [
                "consent/",
                thread.business_id.as_str(),
                "/",
                thread.customer_id.as_str(),
            ]
            .concat(),
            Key::Link(thread) => [
                "link/",
                thread.business_id.as_str(),
                "/",
                thread.customer_id.as_str(),
            ]
            .concat(),
            Key::MetaTiers(account) => format!("meta-tiers/{account}"),
            Key::TemplateQuality(account, template) => {
                format!("template-quality/{account}/{}", template_member(template))
            }
        }
    }

    /// Returns whether entries of this kind are kept in a replica's `Cache`: those a decision reads of
    /// a business whatever the customer. A write of one advances the registry's generation.
    pub fn is_cached(&self) -> bool {
        matches!(
            self,
            Key::Account(_) | Key::Portfolio(_) | Key::Business(_) | Key::Template(..)
        )
    }

    /// Returns the thread whose customer this entry is of (its consent, its link), if any: such an
    /// entry is kept beside the thread (`ReadPlan::entries`).
    pub fn customer(&self) -> Option<&ThreadKey> {
        match self {
            Key::Consent(thread) | Key::Link(thread) => Some(thread),
            _ => None,
        }
    }

    /// Returns the scope whose entries a backend may keep together (a Redis hash tag): a template
    /// lives with its account, and consent with its thread.
    pub fn scope(&self) -> String {
        match self {
            Key::Account(account)
            | Key::Template(account, _)
            | Key::MetaTiers(account)
            | Key::TemplateQuality(account, _) => {
                format!("a:{account}")
            }
            Key::Portfolio(portfolio) => format!("p:{portfolio}"),
            Key::Business(business) => format!("r:{business}"),
            Key::Consent(thread) | Key::Link(thread) => {
                format!("b:{}:c:{}", thread.business_id, thread.customer_id)
            }
        }
    }
}

/// Returns the prefix of the names of an account's templates.
pub fn templates_prefix(account: &AccountId) -> String {
    format!("template/{account}/")
}

/// Returns a template's name within its account's templates: `<name>/<language>`.
pub fn template_member(template: &TemplateName) -> String {
    format!("{}/{}", template.name(), template.language())
}

/// A registry entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Account(History<Account>),
    Portfolio(History<Portfolio>),
    Business(History<Business>),
    Template(History<TemplateState>),
    Consent(ConsentLog),
    Link(CustomerLink),
    MetaTiers(MetaTiers),
    /// A template's quality scores (`GREEN`, `YELLOW`, `RED`, …) by the instant Meta gave them.
    Quality(History<String>),
}

/// An entry as read, with the version a write must find to replace it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub version: Version,
    pub entry: Entry,
}

/// An entry's bytes as a backend keeps them, with its version (0: never written).
pub type Raw = (Version, Vec<u8>);

/// Encodes an entry for a backend.
pub(crate) fn encode_entry(entry: &Entry) -> Vec<u8> {
    encode(&EntryRecord::from(entry))
}

fn decode_entry(name: &str, bytes: &[u8]) -> Result<Entry, Error> {
    Entry::try_from(decode::<EntryRecord>(name, bytes)?)
}

/// Reads entries; none for an entry never written.
pub async fn read(store: &dyn Store, keys: &[Key]) -> Result<Vec<Option<Stored>>, Error> {
    let raw = store.read_entries(keys).await?;
    keys.iter().zip(raw).map(|(key, raw)| stored(key, raw)).collect()
}

/// Decodes an entry as a store read it (`Store::read_entries`, `Read::entries`).
pub fn stored(key: &Key, raw: Option<Raw>) -> Result<Option<Stored>, Error> {
    raw.map(|(version, bytes)| {
        Ok(Stored {
            version,
            entry: decode_entry(&key.name(), &bytes)?,
        })
    })
    .transpose()
}

/// Reads entries without their versions.
async fn entries(store: &dyn Store, keys: &[Key]) -> Result<Vec<Option<Entry>>, Error> {
    let read = read(store, keys).await?;
    Ok(read
        .into_iter()
        .map(|stored| stored.map(|stored| stored.entry))
        .collect())
}

/// Reads one entry.
pub async fn get(store: &dyn Store, key: &Key) -> Result<Option<Entry>, Error> {
    let mut read = read(store, std::slice::from_ref(key)).await?;
    Ok(read.pop().flatten().map(|stored| stored.entry))
}

/// Changes one entry: `change` turns the entry as stored (none when never written) into the next one,
/// and says whether it changed anything. Retries when another writer got there first. Returns the entry
/// as it now stands.
pub async fn update(
    store: &dyn Store,
    key: &Key,
    mut change: impl FnMut(Option<Entry>) -> (Entry, bool),
) -> Result<Entry, Error> {
    let updated = try_update(store, key, |current| {
        Ok::<_, std::convert::Infallible>(change(current))
    })
    .await?;
    match updated {
        Ok(updated) => Ok(updated.entry),
        Err(never) => match never {},
    }
}

/// An entry as a write left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Updated {
    pub entry: Entry,
    /// False when the entry already held the change: nothing was written.
    pub changed: bool,
}

/// Changes one entry like `update`, where `change` may also refuse (with `Err`), which writes nothing.
///
/// A write of a cached kind (`Key::is_cached`) advances the registry's generation after the entry is
/// written and before it returns, so that every replica's next decision reads the entry again. It does
/// so when the entry already held the change too: the write that put it there may have failed between
/// its entry and its advance, and a retry that returns must leave the change seen.
pub async fn try_update<E>(
    store: &dyn Store,
    key: &Key,
    mut change: impl FnMut(Option<Entry>) -> Result<(Entry, bool), E>,
) -> Result<Result<Updated, E>, Error> {
    for _ in 0..MAX_ATTEMPTS {
        let stored = read(store, std::slice::from_ref(key)).await?.pop().flatten();
        let version = stored.as_ref().map_or(Version(0), |stored| stored.version);
        let (next, changed) = match change(stored.map(|stored| stored.entry)) {
            Ok(next) => next,
            Err(refused) => return Ok(Err(refused)),
        };
        if !changed || store.write_entry(key, version, &encode_entry(&next)).await? {
            if key.is_cached() {
                store.advance_registry_generation().await?;
            }
            return Ok(Ok(Updated { entry: next, changed }));
        }
    }
    Err(Error::Unavailable {
        message: format!(
            "registry entry {} kept changing under {MAX_ATTEMPTS} attempts to write it",
            key.name()
        ),
        source: None,
    })
}

/// Lists an account's templates in name and language order, from after `after`, at most `limit`.
pub async fn templates(
    store: &dyn Store,
    account: &AccountId,
    after: Option<&TemplateName>,
    limit: usize,
) -> Result<Vec<(TemplateName, History<TemplateState>)>, Error> {
    let after = after.map(template_member);
    let listed = store.list_templates(account, after.as_deref(), limit).await?;
    listed
        .into_iter()
        .map(|(member, bytes)| {
            let (name, language) = member
                .split_once('/')
                .ok_or_else(|| Error::corrupt(format!("bad template member {member:?}")))?;
            let template = TemplateName::new(name, language)
                .map_err(|error| Error::corrupt(format!("bad template member {member:?}: {error}")))?;
            match decode_entry(&member, &bytes)? {
                Entry::Template(history) => Ok((template, history)),
                _ => Err(Error::corrupt(format!("template {member:?} holds another kind"))),
            }
        })
        .collect()
}

/// Returns the account a business is registered with at `at`: none when it is registered with none.
pub async fn account_of(
    store: &dyn Store,
    business: &BusinessId,
    at: Instant,
) -> Result<Option<AccountId>, Error> {
    match get(store, &Key::Business(business.clone())).await? {
        Some(Entry::Business(history)) => Ok(history.at(at).map(|business| business.account.clone())),
        _ => Ok(None),
    }
}

/// Returns a business's account and portfolio as registered at `at`: none when it is not registered.
pub async fn registration(
    store: &dyn Store,
    business: &BusinessId,
    at: Instant,
) -> Result<Option<Registered>, Error> {
    let Some(Entry::Business(business)) = get(store, &Key::Business(business.clone())).await? else {
        return Ok(None);
    };
    let Some(business) = business.at(at) else {
        return Ok(None);
    };
    let account = get(store, &Key::Account(business.account.clone())).await?;
    resolve_account(store, &business.account, account, at).await
}

/// Returns an account as it stands at `at` (its first settings when `at` is earlier), with its
/// portfolio's messaging limit, read now.
async fn resolve_account(
    store: &dyn Store,
    id: &AccountId,
    entry: Option<Entry>,
    at: Instant,
) -> Result<Option<Registered>, Error> {
    let Some(Entry::Account(history)) = entry else {
        return Ok(None);
    };
    let Some(account) = history
        .at(at)
        .or_else(|| history.changes().first().map(|change| &change.value))
    else {
        return Ok(None);
    };
    let messaging_limit = match get(store, &Key::Portfolio(account.portfolio.clone())).await? {
        Some(Entry::Portfolio(portfolio)) => portfolio
            .at(at)
            .map(|portfolio| portfolio.messaging_limit)
            .unwrap_or_default(),
        _ => Default::default(),
    };
    Ok(Some(Registered {
        id: id.clone(),
        account: account.clone(),
        messaging_limit,
    }))
}

/// What the guards need of a business's message whatever the customer, as a replica's cache gives it
/// before the request has read the registry's generation (`cached_facts`): to be used only if the
/// generation read then is still `generation`.
#[derive(Clone, Debug)]
pub struct Guess {
    pub generation: Generation,
    pub facts: Facts,
}

/// Returns what the guards need of a message of `business` at `at`, with an empty consent, when this
/// replica's cache holds every entry of it under the latest generation it read: a guess, so that the
/// first read of a step can name the counters the facts need. `business_facts_since` uses it only if
/// the generation read is the guess's.
pub fn cached_facts(
    store: &dyn Store,
    business: &BusinessId,
    message: Option<&Outbound>,
    at: Instant,
) -> Option<Guess> {
    let cache = store.registry_cache();
    let generation = cache.latest()?;
    let template = template_name(message);
    let now = std::time::Instant::now();
    match resolve(
        &mut |key| cache.get(key, generation, now),
        business,
        template.as_ref(),
        at,
    ) {
        Resolved::Facts(facts) => Some(Guess { generation, facts }),
        Resolved::Need(_) => None,
    }
}

/// Reads what the guards need of a message of `business` at `at` whatever its customer, with an
/// empty consent: what a campaign's messages share (`ledger::authorize_batch`). One
/// round (the generation) when the cache holds it, up to three more otherwise.
pub async fn business_facts(
    store: &dyn Store,
    business: &BusinessId,
    message: Option<&Outbound>,
    at: Instant,
) -> Result<Facts, Error> {
    let guess = cached_facts(store, business, message, at);
    let stamp = generation(store).await?;
    business_facts_since(store, stamp, guess, business, message, at).await
}

/// Reads the registry's generation, and notes it in this replica's cache.
pub async fn generation(store: &dyn Store) -> Result<Stamp, Error> {
    let asked_at = std::time::Instant::now();
    let generation = store.registry_generation().await?;
    Ok(observed(store, generation, asked_at))
}

/// Notes in this replica's cache a generation read from the store (`generation`, or a read plan's
/// `ReadPlan::generation`) that was asked for at `asked_at`, and returns it stamped.
pub fn observed(store: &dyn Store, generation: Generation, asked_at: std::time::Instant) -> Stamp {
    store.registry_cache().observe(generation);
    Stamp { generation, asked_at }
}

/// Returns the consent log an entry holds (empty when never written).
pub fn consent_log(entry: Option<Entry>) -> ConsentLog {
    match entry {
        Some(Entry::Consent(log)) => log,
        _ => ConsentLog::default(),
    }
}

/// A name the registry cannot hold is a template it does not know.
fn template_name(message: Option<&Outbound>) -> Option<TemplateName> {
    match message {
        Some(Outbound::Template(template)) => TemplateName::new(&template.name, &template.language).ok(),
        _ => None,
    }
}

/// Returns what the guards need of a message of `business` at `at` whatever its customer, from
/// entries read after the generation read of `stamp`: the guess when it is of that generation (no
/// read at all), else the cache's entries of it, and what the cache lacks read from the store (and
/// cached, tagged with `stamp`), in up to three rounds (the business; the account and the template;
/// the portfolio).
pub async fn business_facts_since(
    store: &dyn Store,
    stamp: Stamp,
    guess: Option<Guess>,
    business: &BusinessId,
    message: Option<&Outbound>,
    at: Instant,
) -> Result<Facts, Error> {
    if let Some(guess) = guess
        && guess.generation == stamp.generation
    {
        return Ok(guess.facts);
    }
    let cache = store.registry_cache();
    let template = template_name(message);
    // What this call read itself: used whatever the cache kept of it.
    let mut read_here: HashMap<Key, Option<Arc<Entry>>> = HashMap::new();
    loop {
        let now = std::time::Instant::now();
        let resolved = resolve(
            &mut |key| {
                read_here
                    .get(key)
                    .cloned()
                    .or_else(|| cache.get(key, stamp.generation, now))
            },
            business,
            template.as_ref(),
            at,
        );
        let keys = match resolved {
            Resolved::Facts(facts) => return Ok(facts),
            Resolved::Need(keys) => keys,
        };
        let found = entries(store, &keys).await?;
        for (key, entry) in keys.into_iter().zip(found) {
            let entry = entry.map(Arc::new);
            cache.insert(key.clone(), stamp, entry.clone());
            read_here.insert(key, entry);
        }
    }
}

/// What `resolve` found: the facts, or the entries it needs first.
enum Resolved {
    Facts(Facts),
    Need(Vec<Key>),
}

/// Works out what the guards need of a message of `business` at `at` (with an empty consent) from the
/// entries `lookup` gives (`None`: not known here; `Some(None)`: never written), or names the entries
/// to read first: the business; then its account at `at` and the template there; then the account's
/// portfolio.
fn resolve(
    lookup: &mut dyn FnMut(&Key) -> Option<Option<Arc<Entry>>>,
    business: &BusinessId,
    template: Option<&TemplateName>,
    at: Instant,
) -> Resolved {
    let business_key = Key::Business(business.clone());
    let Some(entry) = lookup(&business_key) else {
        return Resolved::Need(vec![business_key]);
    };
    let account_id = match entry.as_deref() {
        Some(Entry::Business(history)) => history.at(at).map(|business| business.account.clone()),
        _ => None,
    };
    let Some(account_id) = account_id else {
        return Resolved::Facts(Facts::default());
    };
    let account_key = Key::Account(account_id.clone());
    let template_key = template.map(|name| Key::Template(account_id.clone(), name.clone()));
    let account = lookup(&account_key);
    let template_entry = template_key.as_ref().map(&mut *lookup);
    let mut need = Vec::new();
    if account.is_none() {
        need.push(account_key);
    }
    if let (Some(key), Some(None)) = (template_key, &template_entry) {
        need.push(key);
    }
    if !need.is_empty() {
        return Resolved::Need(need);
    }
    let template = match template_entry.flatten().flatten().as_deref() {
        Some(Entry::Template(history)) => Some(history.clone()),
        _ => None,
    };
    // The account as it stands at `at`, or its first settings when `at` is earlier.
    let account = match account.flatten().as_deref() {
        Some(Entry::Account(history)) => history
            .at(at)
            .or_else(|| history.changes().first().map(|change| &change.value))
            .cloned(),
        _ => None,
    };
    let Some(account) = account else {
        return Resolved::Facts(Facts {
            account: None,
            template,
            consent: ConsentLog::default(),
        });
    };
    let portfolio_key = Key::Portfolio(account.portfolio.clone());
    let Some(portfolio) = lookup(&portfolio_key) else {
        return Resolved::Need(vec![portfolio_key]);
    };
    let messaging_limit = match portfolio.as_deref() {
        Some(Entry::Portfolio(portfolio)) => portfolio
            .at(at)
            .map(|portfolio| portfolio.messaging_limit)
            .unwrap_or_default(),
        _ => Default::default(),
    };
    Resolved::Facts(Facts {
        account: Some(Registered {
            id: account_id,
            account,
            messaging_limit,
        }),
        template,
        consent: ConsentLog::default(),
    })
}

#[cfg(test)]
mod tests {
    use hourglass_core::{AccountId, BusinessId, CustomerId, PortfolioId, TemplateName, ThreadKey};

    use super::Key;

    /// The names are the keys stored entries are kept under (sled, Redis): they never change.
    #[test]
    fn entry_names_are_stable() {
        let account = AccountId::new("account_id", "waba-1").unwrap();
        let template = TemplateName::new("order_update", "en_US").unwrap();
        let thread = ThreadKey {
            business_id: BusinessId::new("pn-1").unwrap(),
            customer_id: CustomerId::new("919876543210").unwrap(),
        };
        for (key, name) in [
            (Key::Account(account.clone()), "account/waba-1"),
            (
                Key::Portfolio(PortfolioId::new("portfolio_id", "p-1").unwrap()),
                "portfolio/p-1",
            ),
            (Key::Business(thread.business_id.clone()), "business/pn-1"),
            (
                Key::Template(account.clone(), template.clone()),
                "template/waba-1/order_update/en_US",
            ),
            (Key::Consent(thread.clone()), "consent/pn-1/919876543210"),
            (Key::Link(thread), "link/pn-1/919876543210"),
            (Key::MetaTiers(account.clone()), "meta-tiers/waba-1"),
            (
                Key::TemplateQuality(account, template),
                "template-quality/waba-1/order_update/en_US",
            ),
        ] {
            assert_eq!(key.name(), name);
        }
    }
}
