//! Tests of the Redis store against real `redis-server` processes: the keys and their TTLs, the free
//! tier under contention and across cluster masters, claim holders that die, and Redis going away and
//! coming back. The rules themselves are covered by the conformance suite.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hourglass_core::{
    Answer, BusinessId, Category, CounterKey, Currency, CustomerId, Event, FREE_TIER_CONVERSATIONS,
    FREE_TIER_RETENTION, Inbound, Instant, Message, MessageId, Month, Outbound, Policy, PricingType,
    RETENTION_GRACE, RateCard, RateRow, Span, ThreadKey, ThreadParts,
};
use hourglass_testkit::redis::{
    self as redis_harness, RedisServer, TEST_TIMEOUT, cli_on, test_namespace, unique_suffix,
};
use redis::AsyncCommands;
use rust_decimal::Decimal;

use super::keys::{CounterKeys, ThreadKeys};
use super::*;
use crate::ledger::{self, Entry};

fn test_options() -> RedisOptions {
    RedisOptions {
        namespace: test_namespace(),
        timeout: TEST_TIMEOUT,
    }
}

/// What these tests read of a thread: its state, and the free-tier slots of its account in the month
/// a decision at an instant would count against.
struct Loaded {
    state: ThreadState,
    free_tier_used: u64,
}

/// The calls these tests make, through the ledger as the server makes them.
#[async_trait]
trait Recording {
    async fn record(&self, entry: &Entry, policy: &Policy) -> Result<Answer, Error>;
    async fn load(&self, thread: &ThreadKey, at: Instant) -> Result<Loaded, Error>;
}

#[async_trait]
impl<S: Store> Recording for S {
    async fn record(&self, entry: &Entry, policy: &Policy) -> Result<Answer, Error> {
        ledger::record(self, policy, entry).await
    }

    async fn load(&self, thread: &ThreadKey, at: Instant) -> Result<Loaded, Error> {
        let state = ledger::thread(self, thread).await?;
        let counter = free_tier_counter(thread, state.decision_instant(at).utc_month());
        let free_tier_used = self
            .read_counters(&[counter.clone().into()])
            .await?
            .used(&counter);
        Ok(Loaded {
            state,
            free_tier_used,
        })
    }
}

fn free_tier_counter(thread: &ThreadKey, month: Month) -> CounterKey {
    CounterKey::FreeTier {
        account: thread.unregistered_account(),
        month,
    }
}

/// 2024-03-05T10:00:00Z.
const T0: Instant = Instant::from_millis(1_709_632_800_000);
const MINUTE: i64 = 60_000;

fn policy(free_tier: u32) -> Policy {
    let rate = |literal: &str| Decimal::from_str(literal).expect("a decimal literal");
    let row = RateRow {
        market: "Other".to_owned(),
        prefixes: Vec::new(),
        currency: Currency::new("USD").expect("a currency"),
        effective_from: Instant::EPOCH,
        marketing: rate("0.0604"),
        utility: rate("0.0077"),
        authentication: rate("0.0077"),
        service: rate("0.0328"),
    };
    Policy {
        free_tier_conversations: free_tier,
        ..Policy::conversation_2023(RateCard::new(vec![row]).expect("a rate card"))
    }
}

fn thread_of(business: &str, customer: u32) -> ThreadKey {
    ThreadKey {
        business_id: BusinessId::new(business).expect("a business id"),
        customer_id: CustomerId::new(&format!("1415{customer:07}")).expect("a customer id"),
    }
}

fn new_business() -> String {
    format!("redis-test-{}", unique_suffix())
}

fn entry(thread: &ThreadKey, id: &str, at: i64, message: Message) -> Entry {
    let at = Instant::from_millis(at);
    Entry {
        message_id: MessageId::new(id).expect("a message id"),
        event: Event {
            thread: thread.clone(),
            at,
            message,
        },
        now: at,
    }
}

fn inbound(thread: &ThreadKey, id: &str, at: i64) -> Entry {
    entry(thread, id, at, Message::Inbound(Inbound::default()))
}

fn free_form(thread: &ThreadKey, id: &str, at: i64) -> Entry {
    entry(thread, id, at, Message::Outbound(Outbound::FreeForm))
}

fn pricing(answer: &Answer) -> Option<PricingType> {
    answer
        .decision
        .as_ref()
        .and_then(|decision| decision.charge())
        .map(|charge| charge.pricing_type)
}

fn opened(answer: &Answer) -> Option<String> {
    let charge = answer.decision.as_ref()?.charge()?;
    charge
        .opens_conversation
        .then(|| charge.conversation.as_ref().map(|c| c.id.clone()))
        .flatten()
}

/// Returns the Redis clock in milliseconds.
async fn redis_clock(connection: &mut Connection) -> i64 {
    let (seconds, micros): (i64, i64) = redis::cmd("TIME").query_async(connection).await.unwrap();
    seconds * 1000 + micros / 1000
}

/// Returns how long the answer of `id` has left in the thread hash (milliseconds, by the expiry its
/// field begins with), or `None` when the hash has no such field.
async fn answer_ttl(connection: &mut Connection, keys: &ThreadKeys, id: &str) -> Option<i64> {
    let field = ThreadKeys::answer_field(&MessageId::new(id).unwrap());
    let value: Option<Vec<u8>> = connection.hget(keys.thread(), field).await.unwrap();
    let expiry = value?[..6]
        .iter()
        .fold(0_i64, |at, byte| at * 256 + i64::from(*byte));
    Some(expiry - redis_clock(connection).await)
}

/// Returns a store on the shared single node, or `None` when Redis tests are skipped.
fn single() -> Option<RedisStore> {
    let url = redis_harness::single_node_url()?;
    Some(RedisStore::open(&url, test_options()).expect("the test store opens"))
}

/// Returns a store on the shared three-master cluster, or `None` when Redis tests are skipped.
fn cluster() -> Option<RedisStore> {
    let url = redis_harness::cluster_url()?;
    Some(RedisStore::open(&url, test_options()).expect("the test store opens"))
}

/// Returns a plain connection to the store's server, to look at its keys.
async fn raw(store: &RedisStore) -> Connection {
    store.redis.connection.clone()
}

#[tokio::test]
async fn keys_carry_the_hash_tag_and_ttls() {
    let Some(store) = single() else { return };
    let business = new_business();
    let thread = thread_of(&business, 1);
    let policy = policy(FREE_TIER_CONVERSATIONS);
    store
        .record(&inbound(&thread, "in-1", T0.as_millis()), &policy)
        .await
        .unwrap();
    let answer = store
        .record(&free_form(&thread, "out-1", T0.as_millis() + MINUTE), &policy)
        .await
        .unwrap();
    assert_eq!(pricing(&answer), Some(PricingType::FreeTier));
    let conversation = opened(&answer).expect("the first service message opens a conversation");

    let namespace = store.namespace().to_owned();
    let keys = ThreadKeys::new(&namespace, &thread);
    let counter = CounterKeys::new(
        &namespace,
        &free_tier_counter(&thread, Month { year: 2024, month: 3 }),
    );
    let mut connection = raw(&store).await;
    let thread_ttl: i64 = connection.pttl(keys.thread()).await.unwrap();
    let state = store.load(&thread, T0).await.unwrap().state;
    let retention = state.retention().as_millis();
    assert!(
        thread_ttl > retention - 60_000 && thread_ttl <= retention,
        "{thread_ttl} vs {retention}"
    );
    for id in ["in-1", "out-1"] {
        let ttl = answer_ttl(&mut connection, &keys, id)
            .await
            .expect("the answer is in the thread hash");
        assert!(
            ttl > RETENTION_GRACE.as_millis() - 60_000 && ttl <= RETENTION_GRACE.as_millis(),
            "{id}: {ttl}"
        );
        assert!(
            ttl <= thread_ttl,
            "the hash outlives its answers: {ttl} vs {thread_ttl}"
        );
    }
    let ttl: i64 = connection.pttl(&counter.slots).await.unwrap();
    assert!(
        ttl > RETENTION_GRACE.as_millis() && ttl <= FREE_TIER_RETENTION.as_millis(),
        "{}: {ttl}",
        counter.slots
    );
    let version: Option<String> = connection.hget(keys.thread(), "v").await.unwrap();
    assert_eq!(version.as_deref(), Some("2"));
    assert_eq!(connection.hlen::<_, u64>(&counter.slots).await.unwrap(), 1);
    // A single node takes the slot in the thread's compare-and-set: no claim was ever pending, so
    // there is no receipt for a settler to find.
    for key in [keys.receipt(&conversation, None), counter.pending.clone()] {
        assert!(!connection.exists::<_, bool>(&key).await.unwrap(), "{key}");
    }
    assert_eq!(
        store
            .load(&thread, Instant::from_millis(T0.as_millis() + 2 * MINUTE))
            .await
            .unwrap()
            .free_tier_used,
        1
    );
    assert_eq!(store.sweep(Instant::from_millis(i64::MAX)).await.unwrap(), 0);
}

#[tokio::test]
async fn a_duplicate_repeats_the_first_answer_and_a_denial_records_nothing() {
    let Some(store) = single() else { return };
    let thread = thread_of(&new_business(), 1);
    let policy = policy(FREE_TIER_CONVERSATIONS);
    let denied = store
        .record(&free_form(&thread, "early", T0.as_millis()), &policy)
        .await
        .unwrap();
    assert!(!denied.decision.as_ref().unwrap().is_allowed());
    assert!(store.load(&thread, T0).await.unwrap().state.is_empty());
    store
        .record(&inbound(&thread, "in", T0.as_millis()), &policy)
        .await
        .unwrap();
    let first = store
        .record(&free_form(&thread, "out", T0.as_millis() + MINUTE), &policy)
        .await
        .unwrap();
    let again = store
        .record(&free_form(&thread, "out", T0.as_millis() + 2 * MINUTE), &policy)
        .await
        .unwrap();
    assert!(!first.duplicate);
    assert_eq!(
        again,
        Answer {
            duplicate: true,
            ..first
        }
    );
}

/// Records one free-form message on each of `threads` threads of one account, `per_thread` messages
/// at the same instant on each, all at once; returns the answers.
async fn race(
    store: &RedisStore,
    business: &str,
    threads: u32,
    per_thread: u32,
    policy: &Policy,
) -> Vec<Answer> {
    for customer in 0..threads {
        store
            .record(
                &inbound(&thread_of(business, customer), "in", T0.as_millis()),
                policy,
            )
            .await
            .unwrap();
    }
    let policy = Arc::new(policy.clone());
    let mut tasks = Vec::new();
    for customer in 0..threads {
        for n in 0..per_thread {
            let (store, policy, thread) = (store.clone(), policy.clone(), thread_of(business, customer));
            tasks.push(tokio::spawn(async move {
                store
                    .record(
                        &free_form(&thread, &format!("out-{n}"), T0.as_millis() + MINUTE),
                        &policy,
                    )
                    .await
            }));
        }
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap().unwrap());
    }
    answers
}

async fn check_exact_free_tier(store: RedisStore) {
    let business = new_business();
    let policy = policy(5);
    let answers = race(&store, &business, 12, 6, &policy).await;
    let mut opened: Vec<(String, Option<PricingType>)> = answers
        .iter()
        .filter_map(|answer| opened(answer).map(|id| (id, pricing(answer))))
        .collect();
    opened.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        opened.len(),
        12,
        "one service conversation per thread: {opened:?}"
    );
    let free = opened
        .iter()
        .filter(|(_, pricing)| *pricing == Some(PricingType::FreeTier))
        .count();
    assert_eq!(free, 5, "{opened:?}");
    for customer in 0..12 {
        let thread = thread_of(&business, customer);
        let snapshot = store
            .load(&thread, Instant::from_millis(T0.as_millis() + 2 * MINUTE))
            .await
            .unwrap();
        assert_eq!(snapshot.free_tier_used, 5);
        assert_eq!(snapshot.state.parts().conversations.len(), 1);
        assert_eq!(
            snapshot.state.parts().conversations[0].category,
            Category::Service
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_free_tier_is_exact_under_contention() {
    let Some(store) = single() else { return };
    check_exact_free_tier(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_free_tier_is_exact_under_contention_in_a_cluster() {
    let Some(store) = cluster() else { return };
    check_exact_free_tier(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_records_of_one_thread_open_one_conversation() {
    let Some(store) = single() else { return };
    let business = new_business();
    let answers = race(&store, &business, 1, 64, &policy(FREE_TIER_CONVERSATIONS)).await;
    let opened: Vec<String> = answers.iter().filter_map(opened).collect();
    assert_eq!(opened.len(), 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|answer| pricing(answer) == Some(PricingType::FreeTier))
    );
    let snapshot = store
        .load(
            &thread_of(&business, 0),
            Instant::from_millis(T0.as_millis() + MINUTE),
        )
        .await
        .unwrap();
    assert_eq!(snapshot.free_tier_used, 1);
}

/// A thread and its account's counter on different masters still count exactly: the keys are found
/// on the nodes that hold them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_and_its_counter_may_live_on_different_masters() {
    let Some(store) = cluster() else { return };
    let Some(nodes) = redis_harness::cluster_url().map(|url| {
        url.trim_start_matches("redis+cluster://")
            .split(',')
            .filter_map(|node| {
                let (host, port) = node.rsplit_once(':')?;
                Some((host.to_owned(), port.parse::<u16>().ok()?))
            })
            .collect::<Vec<_>>()
    }) else {
        return;
    };
    let policy = policy(FREE_TIER_CONVERSATIONS);
    for _ in 0..20 {
        let thread = thread_of(&new_business(), 1);
        store
            .record(&inbound(&thread, "in", T0.as_millis()), &policy)
            .await
            .unwrap();
        let answer = store
            .record(&free_form(&thread, "out", T0.as_millis() + MINUTE), &policy)
            .await
            .unwrap();
        assert_eq!(pricing(&answer), Some(PricingType::FreeTier));
        let keys = ThreadKeys::new(store.namespace(), &thread);
        let counter = CounterKeys::new(
            store.namespace(),
            &free_tier_counter(&thread, Month { year: 2024, month: 3 }),
        );
        let owner = |key: String| {
            nodes.iter().position(|(host, port)| {
                cli_on(host, *port, &["EXISTS", &key]).is_ok_and(|reply| reply.trim() == "1")
            })
        };
        let (thread_node, counter_node) = (owner(keys.thread()), owner(counter.slots));
        assert!(
            thread_node.is_some() && counter_node.is_some(),
            "{thread_node:?} {counter_node:?}"
        );
        if thread_node != counter_node {
            let snapshot = store
                .load(&thread, Instant::from_millis(T0.as_millis() + MINUTE))
                .await
                .unwrap();
            assert_eq!(snapshot.free_tier_used, 1);
            return;
        }
    }
    panic!("no business in 20 had its thread and its account on different masters");
}

/// Takes a claim on the March 2024 free tier of `thread`'s account with a limit of one, as a step would.
async fn claim_one(store: &RedisStore, thread: &ThreadKey, slot: &str) -> Claimed {
    let claim = Claim {
        counter: free_tier_counter(thread, Month { year: 2024, month: 3 }),
        slot: slot.to_owned(),
        limit: 1,
        weight: 1,
        window: None,
    };
    store
        .claim(&claim, thread, T0, T0.plus(FREE_TIER_RETENTION))
        .await
        .unwrap()
}

/// Commits an empty state over a thread read at `version`, holding `holds`.
async fn commit(store: &RedisStore, thread: &ThreadKey, version: Version, holds: &[Hold]) -> Committed {
    commit_claiming(store, thread, version, &ThreadState::default(), holds, &[])
        .await
        .unwrap()
}

/// Commits `next` over a thread read at `version`, holding `holds` and taking `claims` with the write
/// (`Store::claims_with_commit`).
async fn commit_claiming(
    store: &RedisStore,
    thread: &ThreadKey,
    version: Version,
    next: &ThreadState,
    holds: &[Hold],
    claims: &[Claim],
) -> Result<Committed, Error> {
    let message_id = MessageId::new("m").unwrap();
    let answer = Answer {
        decision: None,
        duplicate: false,
    };
    let commit = Commit {
        thread,
        version,
        message_id: &message_id,
        next,
        answer: &answer,
        holds,
        claims,
        now: T0,
        thread_keep_until: T0.plus(RETENTION_GRACE),
        answer_keep_until: T0.plus(RETENTION_GRACE),
        prediction: None,
        prediction_keep_until: T0,
        usage: None,
    };
    store.commit(&commit).await
}

async fn read_version(store: &RedisStore, thread: &ThreadKey) -> Version {
    let plan = ReadPlan {
        message_id: Some(MessageId::new("m").unwrap()),
        ..ReadPlan::thread(thread)
    };
    store.read(&plan).await.unwrap().version
}

/// A claim whose holder died before its compare-and-set is settled by the next reader once its lease
/// passes: the slot comes free, and the holder, were it only slow, can no longer write.
#[tokio::test]
async fn a_dead_holders_claim_is_fenced_and_released() {
    let Some(store) = single() else { return };
    let store = store.with_lease(Duration::from_millis(50));
    let thread = thread_of(&new_business(), 1);
    let Claimed::Held(_hold) = claim_one(&store, &thread, "dead-conversation").await else {
        panic!("an empty counter has room");
    };
    let holder_version = read_version(&store, &thread).await;
    // While the claim is live the slot counts: a step that needs the last slot waits for it.
    let other = thread_of(thread.business_id.as_str(), 3);
    assert_eq!(
        claim_one(&store, &other, "other-conversation").await,
        Claimed::Full { unsettled: true }
    );
    // A step's read counts it while its lease runs (unsettled: not counted as taken), and past the
    // lease settles it, inside the thread's read on a single node as by its own script.
    let counter = free_tier_counter(&thread, Month { year: 2024, month: 3 });
    let plan = ReadPlan {
        counters: vec![counter.clone().into()],
        ..ReadPlan::thread(&other)
    };
    assert_eq!(
        store.read(&plan).await.unwrap().snapshot.counters.used(&counter),
        0
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        store.read(&plan).await.unwrap().snapshot.counters.used(&counter),
        0
    );
    assert_ne!(
        read_version(&store, &thread).await,
        holder_version,
        "the read settled the dead claim: its thread is fenced"
    );
    assert_eq!(store.load(&thread, T0).await.unwrap().free_tier_used, 0);
    // The fence bumped the thread's version: the holder's late write loses.
    let written = commit(&store, &thread, holder_version, &[]).await;
    assert!(matches!(written, Committed::Conflict(_)));
    // The slot is free for the next service conversation, on one slot of free tier.
    let policy = policy(1);
    let other = thread_of(thread.business_id.as_str(), 2);
    store
        .record(&inbound(&other, "in", T0.as_millis()), &policy)
        .await
        .unwrap();
    let answer = store
        .record(&free_form(&other, "out", T0.as_millis() + MINUTE), &policy)
        .await
        .unwrap();
    assert_eq!(pricing(&answer), Some(PricingType::FreeTier));
}

/// Commits an empty state over a thread read at `version`, taking `claims` with the write.
async fn claiming(store: &RedisStore, thread: &ThreadKey, version: Version, claims: &[Claim]) -> Committed {
    commit_claiming(store, thread, version, &ThreadState::default(), &[], claims)
        .await
        .unwrap()
}

/// What a commit that found `counter` full returns.
fn full(counter: &CounterKey, unsettled: bool) -> Committed {
    Committed::Full {
        counter: counter.clone(),
        unsettled,
    }
}

/// On a single node a step's claims are taken in its compare-and-set: all of them with the write, or
/// nothing at all; a claim left pending past its lease by a holder that died is settled on the way.
#[tokio::test]
async fn a_single_node_takes_claims_with_the_commit_or_writes_nothing() {
    let Some(store) = single() else { return };
    let store = store.with_lease(Duration::from_millis(50));
    assert!(store.claims_with_commit());
    let thread = thread_of(&new_business(), 1);
    let counter = free_tier_counter(&thread, Month { year: 2024, month: 3 });
    let claim = |slot: &str| Claim {
        counter: counter.clone(),
        slot: slot.to_owned(),
        limit: 1,
        weight: 1,
        window: None,
    };
    let first = [claim("first")];
    let second = [claim("second")];
    assert_eq!(
        claiming(&store, &thread, Version(0), &first).await,
        Committed::Done
    );
    // A lost race takes nothing; a full counter writes nothing, not even the thread.
    assert!(matches!(
        claiming(&store, &thread, Version(0), &second).await,
        Committed::Conflict(_)
    ));
    assert_eq!(
        claiming(&store, &thread, Version(1), &second).await,
        full(&counter, false)
    );
    assert_eq!(read_version(&store, &thread).await, Version(1));
    // A slot already taken is shared by a step that claims it again.
    assert_eq!(
        claiming(&store, &thread, Version(1), &first).await,
        Committed::Done
    );
    let keys = CounterKeys::new(store.namespace(), &counter);
    let mut connection = raw(&store).await;
    assert_eq!(connection.hlen::<_, u64>(&keys.slots).await.unwrap(), 1);
    let holders: u64 = connection.hget(&keys.slots, "first").await.unwrap();
    assert_eq!(holders, 2);
    assert!(!connection.exists::<_, bool>(&keys.pending).await.unwrap());

    // Another account's counter, its one slot held by a claim whose holder dies.
    let other = thread_of(&new_business(), 1);
    let counter = free_tier_counter(&other, Month { year: 2024, month: 3 });
    let live = [Claim {
        counter: counter.clone(),
        ..claim("live")
    }];
    let Claimed::Held(_hold) = claim_one(&store, &thread_of(other.business_id.as_str(), 2), "dead").await
    else {
        panic!("an empty counter has room");
    };
    assert_eq!(
        claiming(&store, &other, Version(0), &live).await,
        full(&counter, true)
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Past its lease: this commit settles it (the slot comes free) and still reports the counter
    // unsettled, so that the step tries again rather than deciding it full.
    assert_eq!(
        claiming(&store, &other, Version(0), &live).await,
        full(&counter, true)
    );
    assert_eq!(claiming(&store, &other, Version(0), &live).await, Committed::Done);
    assert_eq!(store.load(&other, T0).await.unwrap().free_tier_used, 1);
}

/// Weights past 2^53, where Lua's numbers are no longer exact, are added and compared exactly, by a
/// claim of its own as by one taken with the commit.
#[tokio::test]
async fn a_weighted_counter_is_exact_past_two_to_the_fifty_third() {
    let Some(store) = single() else { return };
    let mut connection = raw(&store).await;
    for with_commit in [false, true] {
        let thread = thread_of(&new_business(), 1);
        let counter = CounterKey::Spend {
            account: thread.unregistered_account(),
            month: Month { year: 2024, month: 3 },
        };
        let big = 1_u64 << 62;
        let claim = |slot: &str, weight: u64| Claim {
            counter: counter.clone(),
            slot: slot.to_owned(),
            limit: big + 10,
            weight,
            window: None,
        };
        let mut version = Version(0);
        let mut take = async |claim: Claim| {
            if with_commit {
                let empty = ThreadState::default();
                let committed = commit_claiming(&store, &thread, version, &empty, &[], &[claim])
                    .await
                    .unwrap();
                if committed == Committed::Done {
                    version = Version(version.0 + 1);
                }
                committed == Committed::Done
            } else {
                match store
                    .claim(&claim, &thread, T0, T0.plus(FREE_TIER_RETENTION))
                    .await
                    .unwrap()
                {
                    Claimed::Held(hold) => {
                        commit(&store, &thread, read_version(&store, &thread).await, &[*hold]).await
                            == Committed::Done
                    }
                    Claimed::Full { .. } => false,
                }
            }
        };
        assert!(take(claim("a", big)).await);
        assert!(!take(claim("b", 11)).await, "2^62 + 11 is over the limit");
        assert!(take(claim("c", 10)).await, "2^62 + 10 is the limit");
        assert!(!take(claim("d", 1)).await);
        let keys = CounterKeys::new(store.namespace(), &counter);
        let total: String = connection
            .hget(keys.weights.as_deref().unwrap(), "=total")
            .await
            .unwrap();
        assert_eq!(total, (big + 10).to_string(), "with the commit: {with_commit}");
    }
}

/// A cluster keeps counters on other masters than threads: it takes no claims with a commit.
#[tokio::test]
async fn a_cluster_refuses_claims_with_the_commit() {
    let Some(store) = cluster() else { return };
    assert!(!store.claims_with_commit());
    let thread = thread_of(&new_business(), 1);
    let claims = [Claim {
        counter: free_tier_counter(&thread, Month { year: 2024, month: 3 }),
        slot: "c".to_owned(),
        limit: 1,
        weight: 1,
        window: None,
    }];
    let empty = ThreadState::default();
    let error = commit_claiming(&store, &thread, Version(0), &empty, &[], &claims)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error}");
    assert_eq!(read_version(&store, &thread).await, Version(0));
}

/// A claim whose holder persisted its conversation but died before confirming keeps its slot.
#[tokio::test]
async fn a_dead_holders_persisted_claim_keeps_its_slot() {
    let Some(store) = single() else { return };
    let store = store.with_lease(Duration::from_millis(50));
    let thread = thread_of(&new_business(), 1);
    let Claimed::Held(hold) = claim_one(&store, &thread, "kept-conversation").await else {
        panic!("an empty counter has room");
    };
    let version = read_version(&store, &thread).await;
    // Committed, but the confirmation is lost: put the claim back in the pending set by hand.
    let written = commit(&store, &thread, version, std::slice::from_ref(&hold)).await;
    assert!(matches!(written, Committed::Done));
    let keys = CounterKeys::new(store.namespace(), &hold.claim.counter);
    let member = format!(
        "{} {} {} {}",
        hold.token, hold.claim.slot, thread.business_id, thread.customer_id
    );
    let mut connection = raw(&store).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let _: u64 = connection.zadd(&keys.pending, &member, 0).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(store.load(&thread, T0).await.unwrap().free_tier_used, 1);
    assert_eq!(
        connection.zcard::<_, u64>(&keys.pending).await.unwrap(),
        0,
        "settled as confirmed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_fast_while_redis_is_down_and_recover_after() {
    if !redis_harness::redis_server_available() {
        redis_harness::say_skipped("redis-server is not installed: the Redis restart test did not run");
        return;
    }
    let mut server = RedisServer::start_durable().expect("redis-server starts");
    let timeout = Duration::from_millis(300);
    let options = RedisOptions {
        timeout,
        ..test_options()
    };
    let store = RedisStore::open(&server.url(), options).unwrap();
    let policy = policy(FREE_TIER_CONVERSATIONS);
    let thread = thread_of(&new_business(), 1);
    store.check_connectivity().await.unwrap();
    store
        .record(&inbound(&thread, "in-1", T0.as_millis()), &policy)
        .await
        .unwrap();

    server.stop();
    for attempt in 0..3 {
        let started = std::time::Instant::now();
        let error = store
            .record(
                &inbound(&thread, &format!("down-{attempt}"), T0.as_millis()),
                &policy,
            )
            .await;
        assert!(matches!(error, Err(Error::Unavailable { .. })), "{error:?}");
        assert!(
            started.elapsed() < timeout + Duration::from_millis(200),
            "took {:?}",
            started.elapsed()
        );
        let started = std::time::Instant::now();
        assert!(matches!(
            store.check_connectivity().await,
            Err(Error::Unavailable { .. })
        ));
        assert!(matches!(
            store.load(&thread, T0).await,
            Err(Error::Unavailable { .. })
        ));
        assert!(
            started.elapsed() < 2 * timeout + Duration::from_millis(200),
            "took {:?}",
            started.elapsed()
        );
    }

    server.restart().expect("redis-server starts again on its port");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while store.check_connectivity().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the store did not reconnect"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The server came back with its data but without its scripts: they are loaded again on first use.
    store
        .record(&inbound(&thread, "in-2", T0.as_millis()), &policy)
        .await
        .unwrap();
    let answer = store
        .record(&free_form(&thread, "out", T0.as_millis() + MINUTE), &policy)
        .await
        .unwrap();
    assert_eq!(pricing(&answer), Some(PricingType::FreeTier));
}

#[tokio::test]
async fn urls_and_options_are_checked() {
    for url in [
        "redis+cluster://",
        "redis+cluster://127.0.0.1:7000/1",
        "http://127.0.0.1:6379",
        "redis://[::1",
    ] {
        assert!(
            matches!(
                RedisStore::open(url, RedisOptions::default()),
                Err(Error::Config { .. })
            ),
            "{url}"
        );
    }
    let braces = RedisOptions {
        namespace: "a{b}".to_owned(),
        ..RedisOptions::default()
    };
    assert!(matches!(
        RedisStore::open("redis://127.0.0.1:1", braces),
        Err(Error::Config { .. })
    ));
    // Nothing listens on port 1: opening is lazy and succeeds, calls fail within the timeout.
    let options = RedisOptions {
        timeout: Duration::from_millis(200),
        ..RedisOptions::default()
    };
    let store = RedisStore::open("redis://127.0.0.1:1", options).unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(
        store.check_connectivity().await,
        Err(Error::Unavailable { .. })
    ));
    assert!(started.elapsed() < Duration::from_millis(600));
}

#[tokio::test]
async fn store_urls_open_redis_and_redis_cluster() {
    let policy = policy(FREE_TIER_CONVERSATIONS);
    let urls = [redis_harness::single_node_url(), redis_harness::cluster_url()];
    for url in urls.into_iter().flatten() {
        let options = crate::OpenOptions {
            timeout: Duration::from_secs(5),
        };
        let store = crate::open_with(&url, options)
            .await
            .unwrap_or_else(|error| panic!("{url}: {error}"));
        store.check_connectivity().await.unwrap();
        let thread = thread_of(&new_business(), 1);
        let entry = inbound(&thread, "in", T0.as_millis());
        let answer = ledger::record(store.as_ref(), &policy, &entry).await.unwrap();
        assert!(!answer.duplicate);
        assert!(
            ledger::record(store.as_ref(), &policy, &entry)
                .await
                .unwrap()
                .duplicate
        );
    }
    // Redis down at startup: the store still opens, and says it is unavailable.
    let store = crate::open("redis://127.0.0.1:1").await.unwrap();
    assert!(matches!(
        store.check_connectivity().await,
        Err(Error::Unavailable { .. })
    ));
}

/// A Redis that loses its data under running stores (here `FLUSHALL`) is noticed by every store that
/// had checked it before, and reported as a failure that needs a restart; a store that starts after
/// the loss serves on.
#[tokio::test]
async fn a_redis_that_lost_its_data_fails_the_stores_that_knew_it() {
    if !redis_harness::redis_server_available() {
        redis_harness::say_skipped("redis-server is not installed: the Redis data loss test did not run");
        return;
    }
    let server = RedisServer::start().expect("redis-server starts");
    let open = || RedisStore::open(&server.url(), test_options()).expect("the store opens");
    let options = test_options();
    let (first, second) = (
        RedisStore::open(&server.url(), options.clone()).expect("the store opens"),
        RedisStore::open(&server.url(), options.clone()).expect("the store opens"),
    );
    first.check_connectivity().await.expect("Redis is up");
    second
        .check_connectivity()
        .await
        .expect("a second replica agrees");
    first.check_connectivity().await.expect("nothing changed");
    assert!(
        open().check_connectivity().await.is_ok(),
        "other namespaces keep apart"
    );

    redis_harness::cli(server.port(), &["FLUSHALL"]).expect("redis-cli runs");
    for store in [&first, &second] {
        match store.check_connectivity().await {
            Err(Error::Failed { message }) => assert!(message.contains("lost its data"), "{message}"),
            other => panic!("a flushed Redis is reported ready: {other:?}"),
        }
    }
    let restarted = RedisStore::open(&server.url(), options).expect("the store opens");
    restarted
        .check_connectivity()
        .await
        .expect("a store that starts after the loss serves");
}

/// Records the typical thread of docs/REDIS.md (an inbound message, a free-form reply, a marketing
/// template) and returns its keys.
async fn typical_thread(store: &RedisStore, business: &str) -> (ThreadKey, ThreadKeys) {
    let thread = thread_of(business, 1);
    let policy = policy(FREE_TIER_CONVERSATIONS);
    let marketing = Message::Outbound(Outbound::Template(hourglass_core::Template {
        name: "spring_sale".to_owned(),
        language: "en".to_owned(),
        category: hourglass_core::TemplateCategory::Marketing,
    }));
    for entry in [
        inbound(&thread, "in-1", T0.as_millis()),
        free_form(&thread, "out-1", T0.as_millis() + MINUTE),
        entry(&thread, "out-2", T0.as_millis() + 2 * MINUTE, marketing),
    ] {
        store.record(&entry, &policy).await.unwrap();
    }
    let keys = ThreadKeys::new(store.namespace(), &thread);
    (thread, keys)
}

#[tokio::test]
async fn a_thread_and_its_answers_are_one_small_hash() {
    let Some(store) = single() else { return };
    let (thread, keys) = typical_thread(&store, &new_business()).await;
    let mut connection = raw(&store).await;
    let fields: Vec<String> = connection.hkeys(keys.thread()).await.unwrap();
    let mut fields: Vec<_> = fields.iter().map(String::as_str).collect();
    fields.sort_unstable();
    // The version, the state in two chunks, three answers.
    assert_eq!(fields, ["min-1", "mout-1", "mout-2", "s", "s1", "v"]);
    let state: Vec<u8> = connection.hget(keys.thread(), "s").await.unwrap();
    assert_eq!(
        (state[0], state.len()),
        (2, 64),
        "layout 2, in chunks of 64 bytes"
    );
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(keys.thread())
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(encoding, "listpack");
    let bytes: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(keys.thread())
        .arg("SAMPLES")
        .arg(0)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(bytes < 600, "the thread hash takes {bytes} bytes");
    let legacy: bool = connection
        .exists(keys.legacy_answer(&MessageId::new("out-1").unwrap()))
        .await
        .unwrap();
    assert!(!legacy, "no answer key of its own");
    // The chunks read back whole, and every answer is repeated.
    let state = store.load(&thread, T0).await.unwrap().state;
    assert_eq!(state.parts().conversations.len(), 2);
    let again = store
        .record(
            &free_form(&thread, "out-1", T0.as_millis() + 3 * MINUTE),
            &policy(FREE_TIER_CONVERSATIONS),
        )
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(pricing(&again), Some(PricingType::FreeTier));
}

/// A state longer than the chunks a script reads at once reads back whole, and a shorter one written
/// over it leaves no chunk of the longer behind.
#[tokio::test]
async fn a_long_state_reads_back_whole_and_a_shorter_one_replaces_it() {
    let Some(store) = single() else { return };
    let thread = thread_of(&new_business(), 1);
    let state = |spans: i64| {
        ThreadState::from_parts(ThreadParts {
            marketing_sent: (0..spans)
                .map(|n| Span {
                    start: Instant::from_millis(T0.as_millis() + n * 7 * MINUTE),
                    end: Instant::from_millis(T0.as_millis() + n * 7 * MINUTE + 3 * MINUTE),
                })
                .collect(),
            latest_event_at: Some(T0),
            ..ThreadParts::default()
        })
    };
    let mut connection = raw(&store).await;
    let keys = ThreadKeys::new(store.namespace(), &thread);
    let mut version = Version(0);
    for spans in [60, 3] {
        let next = state(spans);
        assert_eq!(
            commit_claiming(&store, &thread, version, &next, &[], &[])
                .await
                .unwrap(),
            Committed::Done
        );
        version = Version(version.0 + 1);
        let read = store.read(&ReadPlan::thread(&thread)).await.unwrap();
        assert_eq!((read.version, read.snapshot.thread), (version, next));
        let fields: Vec<String> = connection.hkeys(keys.thread()).await.unwrap();
        let chunks = fields.iter().filter(|field| field.starts_with('s')).count();
        if spans == 60 {
            assert!(chunks > 5, "{chunks} chunks");
        } else {
            assert_eq!(chunks, 1, "{fields:?}");
        }
    }
}

#[tokio::test]
async fn states_and_answers_of_layout_1_are_still_read() {
    let Some(store) = single() else { return };
    let thread = thread_of(&new_business(), 1);
    let keys = ThreadKeys::new(store.namespace(), &thread);
    let mut connection = raw(&store).await;
    // What the previous version left: a JSON state with a customer service window open from T0, and
    // the answer of its inbound message under a key of its own.
    let state = format!(
        r#"{{"version":"1","customer_service":[{{"start":{t0},"end":{end}}}],"response_windows":[],"conversations":[],"last_outbound_at":null,"latest_event_at":{t0}}}"#,
        t0 = T0.as_millis(),
        end = T0.as_millis() + 24 * 60 * MINUTE
    );
    let () = connection
        .hset_multiple(keys.thread(), &[("v", "1"), ("s", state.as_str())])
        .await
        .unwrap();
    let () = connection.pexpire(keys.thread(), 3_600_000).await.unwrap();
    let () = connection
        .pset_ex(
            keys.legacy_answer(&MessageId::new("in-1").unwrap()),
            r#"{"version":"1","decision":null}"#,
            3_600_000,
        )
        .await
        .unwrap();

    let policy = policy(FREE_TIER_CONVERSATIONS);
    let retried = store
        .record(&inbound(&thread, "in-1", T0.as_millis()), &policy)
        .await
        .unwrap();
    assert!(retried.duplicate, "the old answer is repeated");
    let version: String = connection.hget(keys.thread(), "v").await.unwrap();
    assert_eq!(version, "1", "a duplicate writes nothing");
    // The old state's window is open: the reply is free, and the thread is written in layout 2.
    let reply = store
        .record(&free_form(&thread, "out-1", T0.as_millis() + MINUTE), &policy)
        .await
        .unwrap();
    assert!(!reply.duplicate);
    assert_eq!(pricing(&reply), Some(PricingType::FreeTier));
    let state: Vec<u8> = connection.hget(keys.thread(), "s").await.unwrap();
    assert_eq!(state[0], 2);
    let version: String = connection.hget(keys.thread(), "v").await.unwrap();
    assert_eq!(version, "2");
    let loaded = store.load(&thread, T0).await.unwrap().state;
    assert_eq!(loaded.parts().customer_service.len(), 1);
    assert!(
        store
            .record(&inbound(&thread, "in-1", T0.as_millis()), &policy)
            .await
            .unwrap()
            .duplicate
    );
}

#[tokio::test]
async fn expired_answers_read_as_absent_and_are_deleted() {
    let Some(store) = single() else { return };
    let thread = thread_of(&new_business(), 1);
    let keys = ThreadKeys::new(store.namespace(), &thread);
    let policy = policy(FREE_TIER_CONVERSATIONS);
    let mut connection = raw(&store).await;
    store
        .record(&inbound(&thread, "in-1", T0.as_millis()), &policy)
        .await
        .unwrap();
    // The answer's 72 h pass: its expiry moves to a millisecond ago.
    let field = ThreadKeys::answer_field(&MessageId::new("in-1").unwrap());
    let value: Vec<u8> = connection.hget(keys.thread(), &field).await.unwrap();
    let past = |at: i64| -> Vec<u8> {
        let mut bytes = at.to_be_bytes()[2..].to_vec();
        bytes.extend_from_slice(&value[6..]);
        bytes
    };
    let now = redis_clock(&mut connection).await;
    let () = connection
        .hset(keys.thread(), &field, past(now - 1))
        .await
        .unwrap();
    // A retry then is a new message, as when its key expired.
    let again = store
        .record(&inbound(&thread, "in-1", T0.as_millis()), &policy)
        .await
        .unwrap();
    assert!(!again.duplicate);
    assert!(answer_ttl(&mut connection, &keys, "in-1").await.unwrap() > 0);

    // Answers past their expiry are deleted by a later write once they are many.
    for n in 0..8 {
        let () = connection
            .hset(keys.thread(), format!("mold-{n}"), past(now - 1 - n))
            .await
            .unwrap();
    }
    store
        .record(&inbound(&thread, "in-2", T0.as_millis() + MINUTE), &policy)
        .await
        .unwrap();
    let fields: Vec<String> = connection.hkeys(keys.thread()).await.unwrap();
    assert!(
        !fields.iter().any(|field| field.starts_with("mold-")),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"min-1".to_owned()) && fields.contains(&"min-2".to_owned()),
        "{fields:?}"
    );
    let mark: Option<String> = connection.hget(keys.thread(), "p").await.unwrap();
    assert!(mark.is_some(), "{fields:?}");
    for id in ["in-1", "in-2"] {
        assert!(
            store
                .record(&inbound(&thread, id, T0.as_millis() + MINUTE), &policy)
                .await
                .unwrap()
                .duplicate
        );
    }
}
