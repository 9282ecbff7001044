//! The ledger: how a step runs against a store, written once for every backend.
//!
//! `record` runs read → `hourglass_core::step` → claim → commit, and starts over from what it learnt
//! whenever another writer got there first; `authorize` is the same read and step without the commit
//! (`hourglass_core::dry_step`: the step without the prediction only a recorded message writes).
//! Keep-until instants are computed here, from the server clock of the entry.
//!
//! # Why counts stay exact
//!
//! A counter (an account's free tier, say) may be kept apart from the thread whose step takes a slot of
//! it (another Redis Cluster master), so no single write can update both. A step therefore claims its
//! slots *before* it commits the thread, and the store takes a claim only while fewer than the claim's
//! limit are taken, atomically, counting every slot held by a claim not yet committed or given back. So:
//!
//! - the count never passes the limit, whatever runs at once on however many replicas;
//! - slots are named by deterministic ids (the conversation's), so every attempt that would open the
//!   same conversation claims the same slot, and a slot is counted once however often it is claimed;
//! - when the commit loses the race, the step gives its claims back and starts over; a claim whose
//!   holder died is settled by the store (Redis fences the holder's thread, so that its commit can never
//!   succeed, and then releases the claim);
//! - a step that finds a counter full while some slots are unsettled waits for them before it decides
//!   that the counter is full, so that no message is priced as beyond the free tier because of a claim
//!   that is then given back.
//!
//! Once claims are settled, the slots taken are exactly those of committed steps.
//!
//! A store that can write a thread and every counter in one atomic write (a single Redis node:
//! `Store::claims_with_commit`) takes the claims in the commit instead: it checks each exactly as a
//! claim would, counting the slots held by others' claims, and writes the step with its slots or
//! nothing. Nothing is then held between claim and commit, and the argument above holds with an
//! empty interval.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration as StdDuration;

use hourglass_core::{
    Answer, DELIVERY_RETENTION, Decision, Event, Facts, Message, MessageId, Policy, RETENTION_GRACE,
    Snapshot, Spent, ThreadKey, ThreadState, USAGE_RETENTION, UsageChange, counters_read, dry_step, step,
};

use crate::{Claimed, Commit, Committed, Error, Hold, Read, ReadPlan, Store, UsageWrite, links, registry};

/// How many times a step is tried before the ledger gives up with `Error::Unavailable`. Each lost race
/// means another writer of the thread succeeded, so `n` concurrent writers need at most `n` attempts;
/// waiting for unsettled claims counts as an attempt too.
const MAX_ATTEMPTS: u32 = 256;

/// A message to record: its id, the event, and the server clock when it arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Unique per thread: the same id recorded twice for one thread has the effect of one.
    pub message_id: MessageId,
    pub event: Event,
    /// The server clock when the entry arrives; retention is counted from it, never decisions.
    pub now: hourglass_core::Instant,
}

/// Records a message in one atomic step per thread, and returns its answer: the stored one, marked
/// duplicate, when the message id is already recorded for the thread. A denied outbound message
/// records nothing. The write is durable when this returns.
pub async fn record(store: &dyn Store, policy: &Policy, entry: &Entry) -> Result<Answer, Error> {
    let (mut event, mut read) =
        read_resolved(store, policy, &entry.event, Some(&entry.message_id), None).await?;
    let mut waits: u32 = 0;
    for _ in 0..MAX_ATTEMPTS {
        let step = step(policy, &read.snapshot, &event);
        let Some(write) = step.write else {
            return Ok(step.answer);
        };
        // Claims go with the commit where the store can take them there, else before it.
        let with_commit = store.claims_with_commit() && distinct_counters(&write.claims);
        let holds = match with_commit {
            true => Vec::new(),
            false => match claim_all(store, &write.claims, &event.thread, entry.now).await? {
                Ok(holds) => holds,
                Err(full) => {
                    waits = refresh(store, policy, &event, &mut read.snapshot, full, waits).await?;
                    continue;
                }
            },
        };
        let latest = write.thread.parts().latest_event_at.unwrap_or(entry.now);
        let usage = write
            .prediction
            .as_ref()
            .and_then(|prediction| UsageChange::recorded(&event.thread.business_id, prediction));
        let commit = Commit {
            thread: &event.thread,
            version: read.version,
            message_id: &entry.message_id,
            next: &write.thread,
            answer: &step.answer,
            holds: &holds,
            claims: if with_commit { &write.claims } else { &[] },
            now: entry.now,
            // Counted from the latest event when the clock skew put it ahead of the server clock.
            thread_keep_until: latest.max(entry.now).plus(write.thread.retention()),
            answer_keep_until: entry.now.plus(RETENTION_GRACE),
            prediction: write.prediction.as_ref(),
            prediction_keep_until: entry.now.plus(DELIVERY_RETENTION),
            usage: usage.as_ref().map(|change| UsageWrite {
                change,
                keep_until: entry.now.plus(USAGE_RETENTION),
            }),
        };
        match store.commit(&commit).await? {
            Committed::Done => return Ok(step.answer),
            Committed::Conflict(current) => {
                release_all(store, &holds).await?;
                // A link emptied the thread meanwhile, and marked where its customer went (`links`):
                // the step starts over on the thread the customer is kept under now.
                if current.snapshot.thread.moved_to().is_some() {
                    (event, read) =
                        read_resolved(store, policy, &entry.event, Some(&entry.message_id), None).await?;
                    continue;
                }
                let facts = std::mem::take(&mut read.snapshot.facts);
                read = *current;
                read.snapshot.facts = facts;
                complete(store, policy, &event, &mut read.snapshot).await?;
            }
            Committed::Full { counter, unsettled } => {
                let full = Full { counter, unsettled };
                waits = refresh(store, policy, &event, &mut read.snapshot, full, waits).await?;
            }
        }
    }
    Err(Error::Unavailable {
        message: format!(
            "thread {} is written by too many writers at once: gave up after {MAX_ATTEMPTS} attempts",
            event.thread
        ),
        source: None,
    })
}

/// Decides an outbound message without recording it: the same read and step as `record` (`dry_step`,
/// which leaves out the prediction), so for the same state it answers exactly what `record` would (a
/// conversation it would open has no id yet).
pub async fn authorize(store: &dyn Store, policy: &Policy, event: &Event) -> Result<Decision, Error> {
    let (event, read) = read_resolved(store, policy, event, None, None).await?;
    let step = dry_step(policy, &read.snapshot, &event);
    step.answer
        .decision
        .map(Decision::into_dry_run)
        .ok_or_else(|| Error::Config {
            message: "only an outbound message can be authorized".to_owned(),
        })
}

/// How many reads of a batch are in flight at once.
const BATCH_READS_IN_FLIGHT: usize = 64;

/// Decides one outbound message for each event of `events` (one message to many customers), in order,
/// each as if the ones before it were sent (docs/SPEC.md section 15.5): the slots the earlier decisions
/// would take of shared counters (`Spent`), and the state an earlier message to the same customer would
/// leave, count for the later ones. A dry run, like `authorize`: nothing is recorded. The reads do not
/// depend on one another, so they go out together, a bounded number at a time.
pub async fn authorize_batch(
    store: &dyn Store,
    policy: &Policy,
    events: &[Event],
) -> Result<Vec<Decision>, Error> {
    use futures::{StreamExt as _, TryStreamExt as _};

    // One message of one business at one instant: what the registry says of it but the customer's
    // consent is the same for every customer, and is read once.
    let shared = match events.first() {
        Some(first) if events.iter().all(|event| same_campaign(first, event)) => match &first.message {
            Message::Outbound(message) => Some(
                registry::business_facts(store, &first.thread.business_id, Some(message), first.at).await?,
            ),
            Message::Inbound(_) => None,
        },
        _ => None,
    };
    let reads: Vec<(Cow<'_, Event>, Read)> = futures::stream::iter(0..events.len())
        .map(|index| read_resolved(store, policy, &events[index], None, shared.as_ref()))
        .buffered(BATCH_READS_IN_FLIGHT)
        .try_collect()
        .await?;
    let mut spent = Spent::default();
    let mut sent: HashMap<ThreadKey, ThreadState> = HashMap::new();
    let mut decisions = Vec::with_capacity(reads.len());
    for (event, mut read) in reads {
        if let Some(state) = sent.get(&event.thread) {
            read.snapshot.thread = state.clone();
            complete(store, policy, &event, &mut read.snapshot).await?;
        }
        // Named only when an earlier decision took a slot of a windowed counter this one reads.
        let asked = std::cell::OnceCell::new();
        spent.lay_over(&mut read.snapshot.counters, |counter| {
            asked
                .get_or_init(|| counters_read(policy, &read.snapshot.facts, &event, &read.snapshot.thread))
                .iter()
                .find(|read| read.counter == *counter)
                .and_then(|read| read.window.as_ref().map(|(_, slot)| slot.clone()))
        });
        let step = dry_step(policy, &read.snapshot, &event);
        if let Some(write) = &step.write {
            spent.record(&write.claims, &read.snapshot.counters);
            sent.insert(event.thread.clone(), write.thread.clone());
        }
        let decision = step.answer.decision.ok_or_else(|| Error::Config {
            message: "only outbound messages can be authorized".to_owned(),
        })?;
        decisions.push(decision.into_dry_run());
    }
    Ok(decisions)
}

/// Returns whether two events are the same message of the same business at the same instant.
fn same_campaign(first: &Event, event: &Event) -> bool {
    event.thread.business_id == first.thread.business_id
        && event.at == first.at
        && event.message == first.message
}

/// Reads a thread's state alone, for listings: the state of the thread its customer is kept under.
pub async fn thread(store: &dyn Store, thread: &ThreadKey) -> Result<ThreadState, Error> {
    let link_key = registry::Key::Link(thread.clone());
    let plan = ReadPlan {
        entries: vec![link_key.clone()],
        ..ReadPlan::thread(thread)
    };
    let mut read = store.read(&plan).await?;
    let raw = read.entries.pop().flatten();
    let state = read.snapshot.thread;
    let canonical = match state.moved_to() {
        Some(moved_to) => ThreadKey {
            business_id: thread.business_id.clone(),
            customer_id: moved_to.clone(),
        },
        None => {
            let link = registry::stored(&link_key, raw)?.map(|stored| stored.entry);
            links::canonical(thread, &links::link_of(thread, link)?)
        }
    };
    if canonical == *thread {
        return Ok(state);
    }
    Ok(store.read(&ReadPlan::thread(&canonical)).await?.snapshot.thread)
}

/// Reads the snapshot of `event` on the thread its customer is kept under, and returns the event on
/// that thread. The customer id's link is read with the thread (`ReadPlan::entries`), so a customer
/// known by one id costs no extra round trip; an id linked to another costs one more read, of the other
/// id's thread. A message id already answered under the id the request names is a duplicate there,
/// whatever the link says. `business`, when given, is what the registry says of the event's business
/// (`read`).
async fn read_resolved<'e>(
    store: &dyn Store,
    policy: &Policy,
    event: &'e Event,
    message_id: Option<&MessageId>,
    business: Option<&Facts>,
) -> Result<(Cow<'e, Event>, Read), Error> {
    let (first, link) = read(store, policy, event, message_id, business).await?;
    if first.snapshot.prior.is_some() {
        return Ok((Cow::Borrowed(event), first));
    }
    // A thread emptied by a link says where its customer went, in case the link was read before it
    // was written.
    let canonical = match first.snapshot.thread.moved_to() {
        Some(moved_to) => ThreadKey {
            business_id: event.thread.business_id.clone(),
            customer_id: moved_to.clone(),
        },
        None => links::canonical(&event.thread, &link),
    };
    if canonical == event.thread {
        return Ok((Cow::Borrowed(event), first));
    }
    let event = Event {
        thread: canonical,
        ..event.clone()
    };
    let (read, _) = read(store, policy, &event, message_id, business).await?;
    Ok((Cow::Owned(event), read))
}

/// Reads the snapshot a step of `event` needs, and the link of its customer id: the thread with the
/// entries of its customer (its link, and for an outbound message its consent) and, for an outbound
/// message, the registry's generation, in one store read; the generation confirms the facts this
/// replica's registry cache guesses (`registry::cached_facts`) or says which to read again
/// (`registry::business_facts_since`). The counters depend on the thread (a late message is decided at
/// the thread's last outbound instant) and on the facts (the account and its zone): the first read
/// takes the counters an empty thread would need under the guessed facts (an unregistered business's
/// when there are none), and `complete` reads any others after; with the guess confirmed, the read is
/// one round. With `business` (`registry::business_facts` of the event's message), the generation is
/// not read: only the thread's consent is of its own.
async fn read(
    store: &dyn Store,
    policy: &Policy,
    event: &Event,
    message_id: Option<&MessageId>,
    business: Option<&Facts>,
) -> Result<(Read, hourglass_core::CustomerLink), Error> {
    let outbound = match &event.message {
        Message::Outbound(message) => Some(message),
        Message::Inbound(_) => None,
    };
    let guess = match (outbound, business) {
        (Some(message), None) => {
            registry::cached_facts(store, &event.thread.business_id, Some(message), event.at)
        }
        _ => None,
    };
    let unregistered = Facts::default();
    let planned = business
        .or(guess.as_ref().map(|guess| &guess.facts))
        .unwrap_or(&unregistered);
    let mut entries = vec![registry::Key::Link(event.thread.clone())];
    if outbound.is_some() {
        entries.push(registry::Key::Consent(event.thread.clone()));
    }
    let plan = ReadPlan {
        thread: event.thread.clone(),
        message_id: message_id.cloned(),
        counters: counters_read(policy, planned, event, &ThreadState::default()),
        entries,
        generation: outbound.is_some() && business.is_none(),
    };
    let asked_at = std::time::Instant::now();
    let mut read = store.read(&plan).await?;
    // A store that did not read the entries or the generation asked for would leave the guards
    // without the consent or the registry.
    if read.entries.len() != plan.entries.len() {
        return Err(Error::corrupt(format!(
            "the store read {} registry entries of the {} the read plan asked for",
            read.entries.len(),
            plan.entries.len()
        )));
    }
    let stamp = match (plan.generation, read.generation) {
        (true, Some(generation)) => Some(registry::observed(store, generation, asked_at)),
        (true, None) => {
            return Err(Error::corrupt(
                "the store did not read the registry's generation the read plan asked for",
            ));
        }
        (false, _) => None,
    };
    let mut raw = std::mem::take(&mut read.entries).into_iter();
    let mut entry = |key: &registry::Key| -> Result<Option<registry::Entry>, Error> {
        let stored = registry::stored(key, raw.next().flatten())?;
        Ok(stored.map(|stored| stored.entry))
    };
    let link = links::link_of(&event.thread, entry(&plan.entries[0])?)?;
    if let Some(message) = outbound {
        let consent = registry::consent_log(entry(&plan.entries[1])?);
        // The generation is read exactly when no facts are given.
        let business = match stamp {
            Some(stamp) => {
                registry::business_facts_since(
                    store,
                    stamp,
                    guess,
                    &event.thread.business_id,
                    Some(message),
                    event.at,
                )
                .await?
            }
            None => business.cloned().unwrap_or_default(),
        };
        read.snapshot.facts = Facts { consent, ..business };
    }
    complete(store, policy, event, &mut read.snapshot).await?;
    Ok((read, link))
}

/// Reads the counters a step of `event` needs that `snapshot` lacks.
async fn complete(
    store: &dyn Store,
    policy: &Policy,
    event: &Event,
    snapshot: &mut Snapshot,
) -> Result<(), Error> {
    if snapshot.prior.is_some() {
        return Ok(());
    }
    let missing: Vec<_> = counters_read(policy, &snapshot.facts, event, &snapshot.thread)
        .into_iter()
        .filter(|read| !snapshot.counters.has(&read.counter))
        .collect();
    if !missing.is_empty() {
        snapshot.counters.extend(store.read_counters(&missing).await?);
    }
    Ok(())
}

/// A counter found full by a claim.
struct Full {
    counter: hourglass_core::CounterKey,
    unsettled: bool,
}

/// Reads again a counter a claim found full, since it is fuller than the snapshot said, after a short
/// wait when some of its slots are unsettled (a slot may still come free); returns how many such waits
/// the step has made.
async fn refresh(
    store: &dyn Store,
    policy: &Policy,
    event: &Event,
    snapshot: &mut Snapshot,
    full: Full,
    mut waits: u32,
) -> Result<u32, Error> {
    if full.unsettled {
        waits += 1;
        tokio::time::sleep(StdDuration::from_millis(u64::from(waits.min(50)))).await;
    }
    snapshot.counters.forget(&full.counter);
    complete(store, policy, event, snapshot).await?;
    Ok(waits)
}

/// Returns whether no two claims are on the same counter: a store takes claims with the commit only
/// then, since it checks each against the counter as it was before any.
fn distinct_counters(claims: &[hourglass_core::Claim]) -> bool {
    claims
        .iter()
        .enumerate()
        .all(|(index, claim)| claims[..index].iter().all(|other| other.counter != claim.counter))
}

/// Takes every claim of a step, or none: when one is refused, the ones taken are given back.
async fn claim_all(
    store: &dyn Store,
    claims: &[hourglass_core::Claim],
    thread: &ThreadKey,
    now: hourglass_core::Instant,
) -> Result<Result<Vec<Hold>, Full>, Error> {
    // The claims go out together (one round trip on Redis, however many counters the step touches);
    // when one fails, the others are given back. A claim held for that moment only delays another
    // step's claim on the same counter (it finds it unsettled, and tries again): it is never counted.
    let claimed = futures::future::join_all(claims.iter().map(|claim| {
        let keep_until = now.plus(claim.counter.retention());
        store.claim(claim, thread, now, keep_until)
    }))
    .await;
    let mut holds = Vec::with_capacity(claims.len());
    let mut refused = None;
    for (claim, result) in claims.iter().zip(claimed) {
        match result {
            Ok(Claimed::Held(hold)) => holds.push(*hold),
            Ok(Claimed::Full { unsettled }) => {
                refused.get_or_insert(Ok(Full {
                    counter: claim.counter.clone(),
                    unsettled,
                }));
            }
            Err(error) => {
                if !matches!(refused, Some(Err(_))) {
                    refused = Some(Err(error));
                }
            }
        }
    }
    match refused {
        None => Ok(Ok(holds)),
        Some(Ok(full)) => {
            release_all(store, &holds).await?;
            Ok(Err(full))
        }
        Some(Err(error)) => {
            // Best effort: a hold left behind is settled by the store after its lease.
            let _ = release_all(store, &holds).await;
            Err(error)
        }
    }
}

async fn release_all(store: &dyn Store, holds: &[Hold]) -> Result<(), Error> {
    for hold in holds {
        store.release(hold).await?;
    }
    Ok(())
}
