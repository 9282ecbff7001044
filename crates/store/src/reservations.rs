//! Claims held in this process, for the backends that one process owns (memory and sled).
//!
//! A claim must count as a taken slot from the moment it is held until its step is committed (the slot
//! is then counted durably) or given back. When one process owns the store, no other can hold a claim,
//! and a claim dies with its process together with the step that held it, so the holds need not be
//! persisted: they live here, beside the committed counts of the backend.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use hourglass_core::{Claim, CounterKey, Instant, Reading, ThreadKey};

use crate::{Claimed, Hold};

/// The holds on one slot: its weight, and the tokens of the holds.
#[derive(Debug)]
struct Slot {
    weight: u64,
    tokens: Vec<String>,
}

/// The holds of every counter: counter → slot → its holds.
#[derive(Debug, Default)]
pub(crate) struct Reservations {
    holds: Mutex<HashMap<CounterKey, HashMap<String, Slot>>>,
    next_token: AtomicU64,
}

impl Reservations {
    /// Takes `claim` on a counter whose durable reading (`claim.read()`) is `committed`; `committed`
    /// runs under the lock, so that a commit that lands meanwhile is counted.
    ///
    /// A slot already committed (a windowed counter's live slot) is shared without a hold of its own:
    /// it counts already.
    pub(crate) fn claim(
        &self,
        claim: &Claim,
        thread: &ThreadKey,
        keep_until: Instant,
        committed: impl FnOnce() -> Result<Reading, crate::Error>,
    ) -> Result<Claimed, crate::Error> {
        let mut holds = self.holds.lock().unwrap_or_else(PoisonError::into_inner);
        let committed = committed()?;
        let slots = holds.entry(claim.counter.clone()).or_default();
        let held = slots
            .values()
            .fold(0_u64, |sum, slot| sum.saturating_add(slot.weight));
        let token = || self.next_token.fetch_add(1, Ordering::Relaxed).to_string();
        if let Some(slot) = slots.get_mut(&claim.slot) {
            let token = token();
            slot.tokens.push(token.clone());
            return Ok(Claimed::Held(Box::new(hold(claim, thread, token, keep_until))));
        }
        if committed.has_slot {
            if slots.is_empty() {
                holds.remove(&claim.counter);
            }
            return Ok(Claimed::Held(Box::new(hold(claim, thread, token(), keep_until))));
        }
        if committed.used.saturating_add(held).saturating_add(claim.weight) <= claim.limit {
            let token = token();
            let slot = Slot {
                weight: claim.weight,
                tokens: vec![token.clone()],
            };
            slots.insert(claim.slot.clone(), slot);
            return Ok(Claimed::Held(Box::new(hold(claim, thread, token, keep_until))));
        }
        let unsettled = !slots.is_empty();
        if slots.is_empty() {
            holds.remove(&claim.counter);
        }
        Ok(Claimed::Full { unsettled })
    }

    /// Drops a hold: its step was given up, or committed (and its slot is now counted durably). Call it
    /// only after the commit is visible to readers of the committed count.
    pub(crate) fn drop_hold(&self, hold: &Hold) {
        let mut holds = self.holds.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(slots) = holds.get_mut(&hold.claim.counter) else {
            return;
        };
        if let Some(slot) = slots.get_mut(&hold.claim.slot) {
            slot.tokens.retain(|token| *token != hold.token);
            if slot.tokens.is_empty() {
                slots.remove(&hold.claim.slot);
            }
        }
        if slots.is_empty() {
            holds.remove(&hold.claim.counter);
        }
    }
}

fn hold(claim: &Claim, thread: &ThreadKey, token: String, keep_until: Instant) -> Hold {
    Hold {
        claim: claim.clone(),
        thread: thread.clone(),
        token,
        keep_until,
    }
}
