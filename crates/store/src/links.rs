//! Customer identity (docs/SPEC.md section 13.4): a phone number and a BSUID that name one person, for
//! one business, name one thread.
//!
//! A link is a registry entry of each id (`registry::Key::Link`, under the id's own thread tag): an
//! alias names the id whose thread holds the customer's state (the canonical id: the phone number when
//! there is one), and the canonical id lists its aliases. Every step reads the link of its customer id
//! together with its thread (`ledger`), so a customer known by one id costs no extra round trip; a
//! request for an alias costs one more read, of the canonical thread.
//!
//! Linking writes the links first, so that every request that starts after it goes to the canonical
//! thread, and then moves what the alias's thread holds into the canonical one (`absorb`): it merges the
//! alias's state into the canonical thread (`ThreadState::merge`, which a retry repeats harmlessly) and
//! then empties the alias's thread at the version it read, leaving a mark of where its customer went
//! (`ThreadState::moved`). A step that read the alias's thread before it was emptied fails its commit
//! against that version; one that read the link before it was written, and the thread after, finds the
//! mark; either starts over on the canonical thread (`ledger::record`), so nothing recorded under the
//! alias is lost. The alias's
//! consent is merged into the canonical thread's as well.

use hourglass_core::{
    Answer, BusinessId, ConsentLog, CustomerId, CustomerLink, Instant, MessageId, RETENTION_GRACE, ThreadKey,
    ThreadState,
};

use crate::registry::{self, Entry, Key};
use crate::{Commit, Committed, Error, Read, ReadPlan, Store};

/// How many times a move of state is tried before the store is reported unavailable.
const MAX_ATTEMPTS: usize = 64;

/// Reads the link of a customer id; the default (no link) when it has none.
pub async fn read_link(store: &dyn Store, thread: &ThreadKey) -> Result<CustomerLink, Error> {
    link_of(thread, registry::get(store, &Key::Link(thread.clone())).await?)
}

/// Returns the link an entry of `thread`'s customer holds (`Key::Link`; none when never written).
pub fn link_of(thread: &ThreadKey, entry: Option<Entry>) -> Result<CustomerLink, Error> {
    match entry {
        Some(Entry::Link(link)) => Ok(link),
        Some(_) => Err(Error::corrupt(format!(
            "the link entry of {thread} holds another kind of entry"
        ))),
        None => Ok(CustomerLink::default()),
    }
}

/// Returns the thread a request for `thread` is kept under, given its customer id's link.
pub fn canonical(thread: &ThreadKey, link: &CustomerLink) -> ThreadKey {
    ThreadKey {
        business_id: thread.business_id.clone(),
        customer_id: link.resolve(&thread.customer_id).clone(),
    }
}

/// Returns the thread a request for `thread` is kept under.
pub async fn resolve(store: &dyn Store, thread: &ThreadKey) -> Result<ThreadKey, Error> {
    Ok(canonical(thread, &read_link(store, thread).await?))
}

fn with_customer(business: &BusinessId, customer_id: &CustomerId) -> ThreadKey {
    ThreadKey {
        business_id: business.clone(),
        customer_id: customer_id.clone(),
    }
}

/// Links `alias` to `canonical` (two ids of one customer of `business`): from now on both name the
/// thread of `canonical` (or of the id `canonical` already leads to), and what was recorded under
/// `alias` moves there. An alias that led to another id before leads to the new one: the person's
/// number changed. Returns whether the link is new; a link already in place is left as it is, after
/// finishing any move of state that a crash cut short.
pub async fn link(
    store: &dyn Store,
    business: &BusinessId,
    canonical_id: &CustomerId,
    alias_id: &CustomerId,
    now: Instant,
) -> Result<bool, Error> {
    let target = resolve(store, &with_customer(business, canonical_id)).await?;
    let alias = with_customer(business, alias_id);
    if target == alias {
        return Ok(false);
    }
    let before = read_link(store, &alias).await?;
    let changed = before.canonical.as_ref() != Some(&target.customer_id);
    if changed {
        // The alias's own aliases, and the alias, lead to the target from now on.
        for other in &before.aliases {
            set_canonical(store, &with_customer(business, other), &target.customer_id).await?;
            add_alias(store, &target, other).await?;
        }
        set_canonical(store, &alias, &target.customer_id).await?;
        add_alias(store, &target, alias_id).await?;
        if let Some(old) = before.canonical.filter(|old| *old != target.customer_id) {
            remove_alias(store, &with_customer(business, &old), alias_id).await?;
        }
    }
    absorb(store, &alias, &target, Leaves::Redirect, now).await?;
    Ok(changed)
}

/// Moves everything of `from` to `to`: the person behind `from` now uses `to` (Meta's
/// `user_changed_number`), and `from` may go to somebody else, so it is left with nothing: no state,
/// no consent, no aliases. Returns whether anything moved.
pub async fn move_customer(
    store: &dyn Store,
    business: &BusinessId,
    from_id: &CustomerId,
    to_id: &CustomerId,
    now: Instant,
) -> Result<bool, Error> {
    let from = with_customer(business, from_id);
    let to = resolve(store, &with_customer(business, to_id)).await?;
    if from == to {
        return Ok(false);
    }
    let link = read_link(store, &from).await?;
    let mut changed = false;
    for alias in &link.aliases {
        changed |= self::link(store, business, &to.customer_id, alias, now).await?;
    }
    // `from` keeps where its customer went, so that the move is applied once, and nothing else.
    let moved = CustomerLink {
        canonical: None,
        aliases: Vec::new(),
        moved_to: Some(to.customer_id.clone()),
    };
    let updated = registry::try_update(store, &Key::Link(from.clone()), |current| {
        let changed = !matches!(&current, Some(Entry::Link(link)) if *link == moved);
        Ok::<_, std::convert::Infallible>((Entry::Link(moved.clone()), changed))
    })
    .await?;
    changed |= updated.is_ok_and(|updated| updated.changed);
    changed |= absorb(store, &from, &to, Leaves::Nothing, now).await?;
    let emptied = registry::update(store, &Key::Consent(from.clone()), |current| {
        let had = matches!(&current, Some(Entry::Consent(log)) if !log.events().is_empty());
        (Entry::Consent(ConsentLog::default()), had)
    })
    .await;
    emptied?;
    Ok(changed)
}

async fn set_canonical(store: &dyn Store, alias: &ThreadKey, canonical: &CustomerId) -> Result<(), Error> {
    change_link(store, alias, |link| {
        link.canonical = Some(canonical.clone());
        link.aliases.clear();
    })
    .await
}

async fn add_alias(store: &dyn Store, canonical: &ThreadKey, alias: &CustomerId) -> Result<(), Error> {
    change_link(store, canonical, |link| {
        if !link.aliases.contains(alias) {
            link.aliases.push(alias.clone());
            link.aliases.sort();
        }
    })
    .await
}

async fn remove_alias(store: &dyn Store, canonical: &ThreadKey, alias: &CustomerId) -> Result<(), Error> {
    change_link(store, canonical, |link| {
        link.aliases.retain(|other| other != alias)
    })
    .await
}

/// Changes the link entry of `thread`'s customer id (none yet: the default), writing only when the
/// change changed it.
async fn change_link(
    store: &dyn Store,
    thread: &ThreadKey,
    change: impl Fn(&mut CustomerLink),
) -> Result<(), Error> {
    registry::update(store, &Key::Link(thread.clone()), |current| {
        let before = match current {
            Some(Entry::Link(link)) => link,
            _ => CustomerLink::default(),
        };
        let mut link = before.clone();
        change(&mut link);
        let changed = link != before;
        (Entry::Link(link), changed)
    })
    .await
    .map(drop)
}

/// What `absorb` leaves in the thread it empties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaves {
    /// `ThreadState::moved`: a step that read the link before it was written, and the thread after it
    /// was emptied, is sent on to the canonical thread by the ledger.
    Redirect,
    /// An empty thread: the id may be somebody else's next (a number change).
    Nothing,
}

/// Moves the state and consent of thread `from` into thread `to`, and empties `from`. Returns whether
/// `from` held anything.
async fn absorb(
    store: &dyn Store,
    from: &ThreadKey,
    to: &ThreadKey,
    leaves: Leaves,
    now: Instant,
) -> Result<bool, Error> {
    let emptied = match leaves {
        Leaves::Redirect => ThreadState::moved(to.customer_id.clone()),
        Leaves::Nothing => ThreadState::default(),
    };
    let consent = registry::get(store, &Key::Consent(from.clone())).await?;
    if let Some(Entry::Consent(theirs)) = consent
        && !theirs.events().is_empty()
    {
        registry::update(store, &Key::Consent(to.clone()), |current| {
            let mut log = match current {
                Some(Entry::Consent(log)) => log,
                _ => ConsentLog::default(),
            };
            let changed = log.merge(&theirs);
            (Entry::Consent(log), changed)
        })
        .await?;
    }
    for _ in 0..MAX_ATTEMPTS {
        let Read {
            version, snapshot, ..
        } = store.read(&ReadPlan::thread(from)).await?;
        if snapshot.thread.is_empty() {
            // A step that read `from` before the link was written may record on it between this read
            // and the write: the write then fails, and what it recorded is merged on the next turn.
            if snapshot.thread == emptied
                || write(
                    store,
                    from,
                    version,
                    &emptied,
                    &marker("emptied", to, version),
                    now,
                )
                .await?
            {
                return Ok(false);
            }
            continue;
        }
        merge_into(store, to, &snapshot.thread, from, now).await?;
        // Empty `from` only if nothing was recorded on it since it was read; else merge again.
        let reset = write(
            store,
            from,
            version,
            &emptied,
            &marker("emptied", to, version),
            now,
        )
        .await?;
        if reset {
            return Ok(true);
        }
    }
    Err(too_busy(from))
}

/// Merges `state` (read from `from`) into thread `to`, retrying when another writer got there first.
async fn merge_into(
    store: &dyn Store,
    to: &ThreadKey,
    state: &ThreadState,
    from: &ThreadKey,
    now: Instant,
) -> Result<(), Error> {
    for _ in 0..MAX_ATTEMPTS {
        let Read {
            version, snapshot, ..
        } = store.read(&ReadPlan::thread(to)).await?;
        let merged = snapshot.thread.merge(state);
        if merged == snapshot.thread {
            return Ok(());
        }
        if write(store, to, version, &merged, &marker("merged", from, version), now).await? {
            return Ok(());
        }
    }
    Err(too_busy(to))
}

/// A message id for a write that no message made, unique to the write, so that its answer (kept like
/// any other) never meets a real message's.
fn marker(what: &str, other: &ThreadKey, version: crate::Version) -> MessageId {
    MessageId::new(&format!(
        "hourglass.link.{what}.{}.{}",
        other.customer_id, version.0
    ))
    .expect("markers are valid message ids")
}

/// Writes a thread's next state if it is still at `version`; returns whether it did.
async fn write(
    store: &dyn Store,
    thread: &ThreadKey,
    version: crate::Version,
    next: &ThreadState,
    message_id: &MessageId,
    now: Instant,
) -> Result<bool, Error> {
    let latest = next.parts().latest_event_at.unwrap_or(now);
    let answer = Answer {
        decision: None,
        duplicate: false,
    };
    let commit = Commit {
        thread,
        version,
        message_id,
        next,
        answer: &answer,
        holds: &[],
        claims: &[],
        now,
        thread_keep_until: latest.max(now).plus(next.retention()),
        answer_keep_until: now.plus(RETENTION_GRACE),
        prediction: None,
        prediction_keep_until: now,
        usage: None,
    };
    Ok(store.commit(&commit).await? == Committed::Done)
}

fn too_busy(thread: &ThreadKey) -> Error {
    Error::Unavailable {
        message: format!("thread {thread} kept changing while its customer was linked"),
        source: None,
    }
}
