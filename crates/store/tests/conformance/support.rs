//! Helpers shared by the conformance cases: the policy, unique threads, and records to send.

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use async_trait::async_trait;
use hourglass_core::{
    Answer, BusinessId, CounterKey, Currency, CustomerId, Duration, Event, Inbound, Instant, Message,
    MessageId, Money, Outbound, Policy, RateCard, RateRow, Template, TemplateCategory, ThreadKey,
    ThreadState,
};
use hourglass_store::{Entry, Error, Store, ledger};
use rust_decimal::Decimal;

/// A message to record, as the cases build them.
pub type Record = Entry;

/// What a case reads of a thread: its state, and the free-tier slots its account has taken in the
/// month a decision at an instant counts against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub state: ThreadState,
    pub free_tier_used: u64,
}

/// The calls the cases make on a store, through the ledger as the server makes them.
#[async_trait]
pub trait Calls {
    async fn record(&self, record: &Record, policy: &Policy) -> Result<Answer, Error>;
    async fn load(&self, thread: &ThreadKey, at: Instant) -> Result<Snapshot, Error>;
    async fn load_thread(&self, thread: &ThreadKey) -> Result<ThreadState, Error>;
}

#[async_trait]
impl Calls for Arc<dyn Store> {
    async fn record(&self, record: &Record, policy: &Policy) -> Result<Answer, Error> {
        ledger::record(self.as_ref(), policy, record).await
    }

    async fn load(&self, thread: &ThreadKey, at: Instant) -> Result<Snapshot, Error> {
        let state = self.load_thread(thread).await?;
        let counter = CounterKey::FreeTier {
            account: thread.unregistered_account(),
            month: state.decision_instant(at).utc_month(),
        };
        let free_tier_used = self
            .read_counters(&[counter.clone().into()])
            .await?
            .used(&counter);
        Ok(Snapshot {
            state,
            free_tier_used,
        })
    }

    async fn load_thread(&self, thread: &ThreadKey) -> Result<ThreadState, Error> {
        ledger::thread(self.as_ref(), thread).await
    }
}

/// 2024-03-05T10:00:00Z: the event time most cases start from. The policy is pinned to the June 2023
/// model, so the date only matters for the free-tier month.
pub const T0: Instant = Instant::from_millis(1_709_632_800_000);

/// Returns `n` minutes.
pub fn minutes(n: i64) -> Duration {
    Duration::from_millis(n * Duration::MINUTE.as_millis())
}

/// Returns an exact decimal from its literal.
pub fn dec(literal: &str) -> Decimal {
    Decimal::from_str(literal).expect("test decimals are literals")
}

/// Returns an amount in a currency.
pub fn money(currency: &str, amount: &str) -> Money {
    Money {
        currency: Currency::new(currency).expect("test currencies are valid"),
        amount: dec(amount),
    }
}

/// Returns the policy of every case: the June 2023 conversation model, with an India row (INR) and the
/// `Other` row (USD).
pub fn mk_policy() -> Policy {
    let row = |market: &str, prefixes: &[&str], currency: &str, rates: [&str; 4]| RateRow {
        market: market.to_owned(),
        prefixes: prefixes.iter().map(|prefix| (*prefix).to_owned()).collect(),
        currency: Currency::new(currency).expect("test currencies are valid"),
        effective_from: Instant::EPOCH,
        marketing: dec(rates[0]),
        utility: dec(rates[1]),
        authentication: dec(rates[2]),
        service: dec(rates[3]),
    };
    let card = RateCard::new(vec![
        row("India", &["91"], "INR", ["0.8147", "0.3456", "0.3456", "0.3292"]),
        row("Other", &[], "USD", ["0.0604", "0.0077", "0.0077", "0.0328"]),
    ])
    .expect("the test rate card is valid");
    Policy::conversation_2023(card)
}

/// Returns a business id no other case (nor an earlier run against a shared store) has used.
pub fn unique_business() -> BusinessId {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    BusinessId::new(&format!("conformance-{nanos}-{n}")).expect("generated business ids are valid")
}

/// Returns the thread of `business` with an Indian customer numbered `n`.
pub fn mk_thread(business: &BusinessId, n: u32) -> ThreadKey {
    let customer = CustomerId::new(&format!("9198{n:08}")).expect("generated customer ids are valid");
    ThreadKey {
        business_id: business.clone(),
        customer_id: customer,
    }
}

/// Returns a thread of a new business with an Indian customer.
pub fn new_thread() -> ThreadKey {
    mk_thread(&unique_business(), 1)
}

/// Returns a thread of a new business with a customer in the `Other` market (a US number).
pub fn new_other_thread() -> ThreadKey {
    let customer = CustomerId::new("14155550100").expect("a valid customer id");
    ThreadKey {
        business_id: unique_business(),
        customer_id: customer,
    }
}

/// Returns a record of a message arriving at `at` (the server clock reads `at` too).
pub fn record(thread: &ThreadKey, id: &str, at: Instant, message: Message) -> Record {
    Record {
        message_id: MessageId::new(id).expect("test message ids are valid"),
        event: Event {
            thread: thread.clone(),
            at,
            message,
        },
        now: at,
    }
}

/// Returns an organic inbound message.
pub fn inbound(thread: &ThreadKey, id: &str, at: Instant) -> Record {
    record(thread, id, at, Message::Inbound(Inbound::default()))
}

/// Returns a free-form outbound message.
pub fn free_form(thread: &ThreadKey, id: &str, at: Instant) -> Record {
    record(thread, id, at, Message::Outbound(Outbound::FreeForm))
}

/// Returns a template message of `category`.
pub fn template(thread: &ThreadKey, id: &str, at: Instant, category: TemplateCategory) -> Record {
    let template = Template {
        name: "order_update".to_owned(),
        language: "en_US".to_owned(),
        category,
    };
    record(thread, id, at, Message::Outbound(Outbound::Template(template)))
}
