//! Tests of `SledStore` beyond the conformance suite: format migration, group commit, the sweep index,
//! corrupt records, foreign or held databases, and the fail-stop latch on a refused write or a replaced
//! directory.

use std::ops::Deref;

use hourglass_core::{
    BusinessId, CustomerId, Duration, Event, Inbound, Message, Outbound, Policy, Template, TemplateCategory,
};
use tempfile::TempDir;
use tokio::sync::oneshot;

use super::keys::index_key;
use super::writer::Job;
use super::*;
use crate::format::encode;
use crate::ledger::{self, Entry};

/// 2024-03-05T10:00:00Z.
const T0: Instant = Instant::from_millis(1_709_632_800_000);

/// A store in a temporary directory, deleted after the store is dropped.
struct TestStore {
    // Fields drop in declaration order: the store closes its database before the directory goes.
    store: SledStore,
    dir: TempDir,
}

impl TestStore {
    fn new() -> TestStore {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SledStore::open(dir.path().join("hourglass.sled")).expect("sled opens");
        TestStore { store, dir }
    }
}

impl Deref for TestStore {
    type Target = SledStore;

    fn deref(&self) -> &SledStore {
        &self.store
    }
}

fn thread() -> ThreadKey {
    ThreadKey {
        business_id: BusinessId::new("106540352242922").expect("a valid business id"),
        customer_id: CustomerId::new("919800000001").expect("a valid customer id"),
    }
}

fn entry(id: &str, message: Message) -> Entry {
    Entry {
        message_id: MessageId::new(id).expect("a valid message id"),
        event: Event {
            thread: thread(),
            at: T0,
            message,
        },
        now: T0,
    }
}

fn inbound(id: &str) -> Entry {
    entry(id, Message::Inbound(Inbound::default()))
}

fn policy() -> Policy {
    let row = hourglass_core::RateRow {
        market: hourglass_core::OTHER_MARKET.to_owned(),
        prefixes: Vec::new(),
        currency: hourglass_core::Currency::new("USD").expect("a valid currency"),
        effective_from: Instant::EPOCH,
        marketing: rust_decimal::Decimal::ONE,
        utility: rust_decimal::Decimal::ONE,
        authentication: rust_decimal::Decimal::ONE,
        service: rust_decimal::Decimal::ONE,
    };
    Policy::conversation_2023(hourglass_core::RateCard::new(vec![row]).expect("a valid rate card"))
}

async fn record(store: &SledStore, entry: &Entry) -> Result<hourglass_core::Answer, Error> {
    ledger::record(store, &policy(), entry).await
}

#[track_caller]
fn check_corrupt<T: fmt::Debug>(result: Result<T, Error>, needle: &str) {
    match result {
        Err(Error::Corrupt { message }) => {
            assert!(message.contains(needle), "{message:?} lacks {needle:?}")
        }
        other => panic!("expected Error::Corrupt, got {other:?}"),
    }
}

#[tokio::test]
async fn corrupt_records_are_errors() {
    let store = TestStore::new();
    store
        .inner
        .threads
        .insert(thread_key(&thread()), &b"{not json"[..])
        .expect("sled writes");
    check_corrupt(
        store.read(&ReadPlan::thread(&thread())).await,
        "106540352242922/919800000001",
    );
    check_corrupt(record(&store, &inbound("in-1")).await, "cannot decode thread");

    store.inner.threads.clear().expect("sled clears");
    let answer_key = answer_key(&thread(), &MessageId::new("in-2").expect("a valid id"));
    store
        .inner
        .answers
        .insert(answer_key, &br#"{"version":"9"}"#[..])
        .expect("sled writes");
    check_corrupt(record(&store, &inbound("in-2")).await, "unknown variant");
}

#[tokio::test]
async fn foreign_and_held_databases_are_refused() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let foreign = dir.path().join("foreign");
    {
        // No background flusher, which could hold the lock for a moment after the drop.
        let db = ::sled::Config::new()
            .path(&foreign)
            .flush_every_ms(None)
            .open()
            .expect("sled opens");
        db.insert(b"someone", &b"else"[..]).expect("sled writes");
        db.flush().expect("sled flushes");
    }
    match SledStore::open(&foreign) {
        Err(Error::Config { message }) => {
            assert!(message.contains("not an Hourglass store"), "{message}")
        }
        other => panic!("expected a config error, got {other:?}"),
    }

    let ours = dir.path().join("ours");
    let store = SledStore::open(&ours).expect("sled opens");
    store.check_connectivity().await.expect("a fresh store is ready");
    match SledStore::open(&ours) {
        Err(Error::Unavailable { message, .. }) => assert!(message.contains("cannot open"), "{message}"),
        other => panic!("a held database opened twice: {other:?}"),
    }
    drop(store);
    SledStore::open(&ours).expect("a dropped store releases its database");
}

#[tokio::test]
async fn a_format_1_database_is_migrated_and_its_answers_still_count() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("old");
    let account_key = b"106540352242922\x002024-03";
    {
        // A database as format 1 left it: a counter under `account \0 month`, an answer under
        // `business \0 message id`.
        // No background flusher: it could hold the database's lock for a moment after the drop, and
        // the store below opens it at once.
        let db = ::sled::Config::new()
            .path(&path)
            .flush_every_ms(None)
            .open()
            .expect("sled opens");
        db.insert(FORMAT_KEY, FORMAT_1).expect("sled writes");
        let counters = db.open_tree("free_tier").expect("sled opens a tree");
        let counter = CounterRecord::new(7, Some(T0.plus(Duration::hours(24))));
        counters
            .insert(&account_key[..], encode(&counter))
            .expect("sled writes");
        let answers = db.open_tree("answers").expect("sled opens a tree");
        // An inbound message's answer, as format 1 wrote it: JSON (layout 1).
        answers
            .insert(
                &b"106540352242922\x00old-in"[..],
                &br#"{"version":"1","decision":null}"#[..],
            )
            .expect("sled writes");
        db.flush().expect("sled flushes");
    }
    let store = SledStore::open(&path).expect("a format 1 database opens");
    let counter = CounterKey::FreeTier {
        account: thread().unregistered_account(),
        month: Month { year: 2024, month: 3 },
    };
    let counters = store.read_counters(&[counter.into()]).await.expect("reads");
    assert_eq!(counters.iter().map(|(_, used)| used).collect::<Vec<_>>(), vec![7]);
    assert_eq!(
        store.inner.db.get(FORMAT_KEY).expect("reads").as_deref(),
        Some(FORMAT)
    );
    assert!(
        !store
            .inner
            .db
            .tree_names()
            .iter()
            .any(|name| &name[..] == b"free_tier")
    );
    let again = record(&store, &inbound("old-in")).await.expect("records");
    assert!(again.duplicate, "an answer of format 1 is still a duplicate");
    drop(store);
    let store = SledStore::open(&path).expect("a migrated database opens again");
    assert_eq!(
        store
            .read(&ReadPlan::thread(&thread()))
            .await
            .expect("reads")
            .version,
        Version(0)
    );
}

#[tokio::test]
async fn json_threads_and_answers_are_read_and_rewritten_in_layout_2() {
    let store = TestStore::new();
    let inner = &store.inner;
    // A thread and an answer as versions before layout 2 wrote them: JSON, the thread at version 4
    // with its keep-until and a customer service window open from T0.
    let key = thread_key(&thread());
    let keep_until = T0.plus(Duration::hours(96));
    let json = format!(
        r#"{{"version":"1","revision":4,"keep_until":{keep},"customer_service":[{{"start":{t0},"end":{end}}}],"response_windows":[],"conversations":[],"last_outbound_at":null,"latest_event_at":{t0}}}"#,
        keep = keep_until.as_millis(),
        t0 = T0.as_millis(),
        end = T0.plus(Duration::hours(24)).as_millis(),
    );
    inner
        .threads
        .insert(key.as_slice(), json.as_bytes())
        .expect("sled writes");
    let in_1 = MessageId::new("in-1").expect("a message id");
    inner
        .answers
        .insert(
            answer_key(&thread(), &in_1),
            &br#"{"version":"1","decision":null}"#[..],
        )
        .expect("sled writes");

    let read = store.read(&ReadPlan::thread(&thread())).await.expect("reads");
    assert_eq!(read.version, Version(4));
    assert_eq!(read.snapshot.thread.parts().customer_service.len(), 1);
    assert!(record(&store, &inbound("in-1")).await.expect("records").duplicate);
    let reply = record(&store, &entry("out-1", Message::Outbound(Outbound::FreeForm)))
        .await
        .expect("records");
    assert!(!reply.duplicate);
    assert!(
        reply
            .decision
            .as_ref()
            .and_then(|decision| decision.charge())
            .is_some(),
        "the window of the JSON state allows the reply: {reply:?}"
    );

    // The step wrote the thread over its JSON record, in layout 2, one version on.
    let stored = inner.threads.get(&key).expect("sled reads").expect("the thread");
    assert_eq!(stored[0], 2);
    assert!(stored.len() * 4 < json.len(), "{} bytes", stored.len());
    let header = crate::format::ThreadHeader::from_bytes("thread", &stored).expect("decodes");
    assert_eq!(header.version(), Version(5));
    assert!(header.keep_until() >= Some(keep_until));
    let out_1 = MessageId::new("out-1").expect("a message id");
    let answer = inner
        .answers
        .get(answer_key(&thread(), &out_1))
        .expect("sled reads")
        .expect("the answer");
    assert_eq!(answer[0], 2);
    for id in ["in-1", "out-1"] {
        let message = if id == "in-1" {
            Message::Inbound(Inbound::default())
        } else {
            Message::Outbound(Outbound::FreeForm)
        };
        assert!(
            record(&store, &entry(id, message))
                .await
                .expect("records")
                .duplicate,
            "{id}"
        );
    }
}

#[tokio::test]
async fn sweeping_drops_stale_index_entries_and_keeps_corrupt_records() {
    let store = TestStore::new();
    let inner = &store.inner;
    let stale = index_key(T0, Kind::Thread, b"nobody\0919800000009");
    let corrupt_key = thread_key(&thread());
    inner.expiry.insert(stale, Vec::new()).expect("sled writes");
    inner.expiry.insert(&b"bad"[..], Vec::new()).expect("sled writes");
    inner
        .expiry
        .insert(index_key(T0, Kind::Thread, &corrupt_key), Vec::new())
        .expect("sled writes");
    inner
        .threads
        .insert(corrupt_key.as_slice(), &b"garbage"[..])
        .expect("sled writes");

    assert_eq!(
        store.sweep(T0).await.expect("sweeping skips what it cannot read"),
        0
    );
    assert!(inner.expiry.is_empty(), "every entry due is gone from the index");
    assert!(
        inner.threads.contains_key(&corrupt_key).expect("sled reads"),
        "the corrupt record stays"
    );
}

#[tokio::test]
async fn sweeping_respects_later_keep_until() {
    let store = TestStore::new();
    record(&store, &inbound("in-1")).await.expect("records");
    let later = Entry {
        now: T0.plus(Duration::hours(10)),
        ..inbound("in-2")
    };
    record(&store, &later).await.expect("records");
    // Two answers and one thread: the second write moved the thread's index entry.
    assert_eq!(store.inner.expiry.len(), 3);
    let first_thread_expiry = T0.plus(Duration::hours(24 + 72));
    assert_eq!(
        store.sweep(first_thread_expiry).await.expect("sweeps"),
        2,
        "both answers"
    );
    let read = store.read(&ReadPlan::thread(&thread())).await.expect("reads");
    assert!(!read.snapshot.thread.is_empty());
    let second_thread_expiry = first_thread_expiry.plus(Duration::hours(10));
    assert_eq!(
        store
            .sweep(second_thread_expiry.minus(Duration::MILLISECOND))
            .await
            .expect("sweeps"),
        0
    );
    assert_eq!(
        store.sweep(second_thread_expiry).await.expect("sweeps"),
        1,
        "the thread"
    );
    assert!(store.inner.expiry.is_empty() && store.inner.threads.is_empty());
}

/// Returns a job that writes `next` over a thread read at `version`, and the receiver of its reply.
fn job(id: &str, version: Version, next: &ThreadState) -> (Job, oneshot::Receiver<Result<Committed, Error>>) {
    let answer = hourglass_core::Answer {
        decision: None,
        duplicate: false,
    };
    let commit = Commit {
        thread: &thread(),
        version,
        message_id: &MessageId::new(id).expect("a valid id"),
        next,
        answer: &answer,
        holds: &[],
        claims: &[],
        now: T0,
        thread_keep_until: T0.plus(Duration::DAY),
        answer_keep_until: T0.plus(Duration::DAY),
        prediction: None,
        prediction_keep_until: T0,
        usage: None,
    };
    Job::new(&commit)
}

#[test]
fn one_batch_sees_its_own_writes() {
    let store = TestStore::new();
    let template = Message::Outbound(Outbound::Template(Template {
        name: "tpl_marketing".to_owned(),
        language: "en".to_owned(),
        category: TemplateCategory::Marketing,
    }));
    let event = entry("m-1", template).event;
    let next = hourglass_core::step(&policy(), &Snapshot::default(), &event)
        .write
        .expect("a template is recorded")
        .thread;
    let jobs = [
        job("m-1", Version(0), &next).0,
        // Read before the first committed: refused, with what the first wrote.
        job("m-2", Version(0), &next).0,
        // Read after the first committed, in the same batch.
        job("m-2", Version(1), &next).0,
    ];
    let results: Vec<Committed> = store
        .inner
        .commit_batch(&jobs)
        .into_iter()
        .map(|result| result.expect("commits"))
        .collect();
    assert_eq!(results[0], Committed::Done);
    match &results[1] {
        Committed::Conflict(read) => {
            assert_eq!(read.version, Version(1));
            assert_eq!(read.snapshot.thread, next);
            assert_eq!(read.snapshot.prior, None, "m-2 was not recorded yet");
        }
        other => panic!("a stale version committed: {other:?}"),
    }
    assert_eq!(results[2], Committed::Done);
    let read = store.inner.read(&ReadPlan::thread(&thread())).expect("reads");
    assert_eq!(read.version, Version(2));
}

#[tokio::test(start_paused = true)]
async fn the_background_sweep_runs_every_interval_and_ends_with_the_store() {
    let TestStore { mut store, dir } = TestStore::new();
    // Committed in 2024, so that the wall clock is past every keep-until. The commit runs here,
    // without awaiting: an await on sled's flush would let the paused clock jump to the sweep.
    let (job, _answered) = job("in-1", Version(0), &ThreadState::default());
    let results = store.inner.commit_batch(&[job]);
    assert!(matches!(results[..], [Ok(Committed::Done)]), "{results:?}");
    assert_eq!((store.inner.threads.len(), store.inner.answers.len()), (1, 1));

    tokio::time::sleep(SledStore::SWEEP_INTERVAL / 2).await;
    assert_eq!(store.inner.answers.len(), 1, "no sweep before the first interval");
    tokio::time::sleep(SledStore::SWEEP_INTERVAL).await;
    for _ in 0..100 {
        if store.inner.threads.is_empty() {
            break;
        }
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
    assert!(
        store.inner.threads.is_empty() && store.inner.answers.is_empty(),
        "the background sweep ran"
    );

    // Without the abort of `Drop`, the task still ends at its next tick: it holds a weak reference.
    let sweeper = store
        .sweeper
        .take()
        .expect("a runtime is present, so the store sweeps");
    drop(store);
    tokio::time::sleep(SledStore::SWEEP_INTERVAL * 2).await;
    assert!(
        sweeper.is_finished(),
        "the sweeper ends once the store is dropped"
    );
    drop(dir);
}

#[tokio::test]
async fn a_deleted_data_directory_fails_the_store_and_refuses_writes() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("hourglass.sled");
    let store = SledStore::open(&path).expect("sled opens");
    record(&store, &inbound("in-1")).await.expect("records");
    store
        .check_connectivity()
        .await
        .expect("a working store is ready");

    std::fs::remove_dir_all(&path).expect("the directory goes");
    match record(&store, &inbound("in-2")).await {
        Err(Error::Failed { message }) => assert!(message.contains("data directory"), "{message}"),
        other => panic!("a write to a deleted directory was acknowledged: {other:?}"),
    }
    match store.check_connectivity().await {
        Err(Error::Failed { message }) => assert!(message.contains("restart"), "{message}"),
        other => panic!("a deleted directory is reported ready: {other:?}"),
    }
    // Even were the directory back, the failure holds: only a restart reopens the database.
    std::fs::create_dir_all(&path).expect("a new directory");
    assert!(matches!(
        record(&store, &inbound("in-3")).await,
        Err(Error::Failed { .. })
    ));
}

#[tokio::test]
async fn a_failed_write_latches_and_health_reports_it() {
    let store = TestStore::new();
    store
        .check_connectivity()
        .await
        .expect("a working store is ready");
    let error = store
        .inner
        .fail("a flush failed: No space left on device".to_owned());
    assert!(matches!(error, Error::Failed { .. }));
    match store.check_connectivity().await {
        Err(Error::Failed { message }) => assert!(message.contains("No space left"), "{message}"),
        other => panic!("a failed store is reported ready: {other:?}"),
    }
    assert!(matches!(
        record(&store, &inbound("in-1")).await,
        Err(Error::Failed { .. })
    ));
    let read = store
        .read(&ReadPlan::thread(&thread()))
        .await
        .expect("reads still answer");
    assert_eq!(read.version, Version(0), "nothing was written");
}

/// Reads a windowed counter at `at` for `slot` through `store`, and from the tree alone.
fn windowed_readings(store: &SledStore, counter: &CounterKey, at: Instant, slot: &str) -> (Reading, Reading) {
    let read = CounterRead {
        counter: counter.clone(),
        window: Some((at, slot.to_owned())),
    };
    let cached = store.inner.reading(&read).expect("reads");
    let prefix = slots_prefix(counter);
    let loaded = store.inner.load_window(&prefix).expect("reads the tree");
    let from_tree = Reading {
        used: u64::try_from(loaded.values().filter(|until| **until > at).count()).expect("small"),
        has_slot: loaded
            .get(&slot_key(counter, slot))
            .is_some_and(|until| *until > at),
    };
    (cached, from_tree)
}

#[tokio::test]
async fn windowed_counters_read_from_memory_as_the_tree_holds_them() {
    let store = TestStore::new();
    let counter = CounterKey::MessagingLimit {
        portfolio: hourglass_core::PortfolioId::new("portfolio_id", "p-1").expect("a valid id"),
    };
    let claim = |slot: &str, start: Instant| Claim {
        counter: counter.clone(),
        slot: slot.to_owned(),
        limit: 10,
        weight: 1,
        window: Some(hourglass_core::Span {
            start,
            end: start.plus(Duration::DAY),
        }),
    };
    // Loaded before any slot is written: the writer's notes must keep it current.
    assert_eq!(windowed_readings(&store, &counter, T0, "a").0.used, 0);
    let mut version = Version(0);
    for (n, (slot, start)) in [("a", T0), ("b", T0), ("a", T0.plus(Duration::hours(12)))]
        .into_iter()
        .enumerate()
    {
        let claim = claim(slot, start);
        let Claimed::Held(hold) = store
            .claim(&claim, &thread(), T0, T0.plus(Duration::hours(72)))
            .await
            .expect("claims")
        else {
            panic!("the counter has room");
        };
        let answer = hourglass_core::Answer {
            decision: None,
            duplicate: false,
        };
        let commit = Commit {
            thread: &thread(),
            version,
            message_id: &MessageId::new(&format!("m-{n}")).expect("a valid id"),
            next: &ThreadState::default(),
            answer: &answer,
            holds: std::slice::from_ref(&*hold),
            claims: &[],
            now: T0,
            thread_keep_until: T0.plus(Duration::DAY),
            answer_keep_until: T0.plus(Duration::DAY),
            prediction: None,
            prediction_keep_until: T0,
            usage: None,
        };
        assert_eq!(store.commit(&commit).await.expect("commits"), Committed::Done);
        version = Version(version.0 + 1);
    }
    for (at, slot) in [
        (T0, "a"),
        (T0.plus(Duration::hours(23)), "b"),
        (T0.plus(Duration::hours(25)), "a"),
        (T0.plus(Duration::hours(25)), "b"),
        (T0.plus(Duration::hours(37)), "a"),
    ] {
        let (cached, from_tree) = windowed_readings(&store, &counter, at, slot);
        assert_eq!(cached, from_tree, "at {at}, slot {slot}");
    }
    let (cached, _) = windowed_readings(&store, &counter, T0.plus(Duration::hours(25)), "a");
    assert_eq!(
        cached,
        Reading {
            used: 1,
            has_slot: true
        },
        "a's window moved to its later end"
    );
    // A sweep past every keep-until removes the slots, and the readings follow.
    assert!(store.sweep(T0.plus(Duration::hours(720))).await.expect("sweeps") > 0);
    let (cached, from_tree) = windowed_readings(&store, &counter, T0, "a");
    assert_eq!((cached, from_tree), (Reading::default(), Reading::default()));
}
