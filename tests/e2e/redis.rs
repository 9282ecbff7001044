//! Hourglass over Redis, end to end: the real `hourglass` binary, several replicas over one Redis or a
//! three-master Redis Cluster, Redis stopped and restarted under a running server, and the TTL of every
//! key a thread leaves behind.
//!
//! Every test starts its own `redis-server` processes on free loopback ports
//! (`hourglass_testkit::redis`). When Redis is not installed the tests print that they skipped,
//! except under `CI=true`, where they fail.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use hourglass_e2e::{BinaryServer, Client, InProcessServer, connect, fresh_business_id};
use hourglass_proto::v1 as pb;
use hourglass_testkit::redis::{self as redis_harness, RedisCluster, RedisServer};
use tonic_health::pb::health_check_response::ServingStatus;

/// 2024-03-05T09:00:00Z: the first inbound message of every thread.
const T0: i64 = 1_709_629_200;
/// Half an hour later: every outbound message of the replica tests.
const T1: i64 = T0 + 1_800;

/// Calls in flight at once, spread evenly over the replicas.
const TASKS: usize = 16;

/// Returns whether the Redis tests can run; under `CI=true` a missing `redis-server` panics.
fn redis_available() -> bool {
    let available = redis_harness::redis_server_available();
    if !available {
        hourglass_e2e::report_skip("redis-server is not installed (apt-get install redis-server)");
    }
    available
}

/// Starts a Redis node of the test's own that keeps its data across a restart, as a production Redis
/// with persistence does, or returns `None` when the Redis tests are skipped.
fn start_redis() -> Option<RedisServer> {
    redis_available().then(|| RedisServer::start_durable().expect("start redis-server"))
}

/// Starts a three-master Redis Cluster of the test's own, or returns `None` when skipped.
fn start_cluster() -> Option<RedisCluster> {
    redis_available().then(|| RedisCluster::start(3).expect("start a three-master Redis Cluster"))
}

fn timestamp(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}

/// What a recorded message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Inbound,
    FreeForm,
    Marketing,
}

/// One `RecordMessage` call of a test.
#[derive(Clone, Debug)]
struct Op {
    thread: usize,
    message_id: String,
    kind: Kind,
    /// Seconds since the Unix epoch; the server clock when `None`.
    at: Option<i64>,
}

impl Op {
    fn new(thread: usize, message_id: String, kind: Kind, at: i64) -> Op {
        Op {
            thread,
            message_id,
            kind,
            at: Some(at),
        }
    }

    fn request(&self, business_id: &str, customer_id: &str) -> pb::RecordMessageRequest {
        use pb::record_message_request::Direction;
        let direction = match self.kind {
            Kind::Inbound => Direction::Inbound(pb::Inbound {
                entry_point: pb::EntryPoint::Organic as i32,
                platform: pb::ClientPlatform::Android as i32,
            }),
            Kind::FreeForm => Direction::Outbound(free_form()),
            Kind::Marketing => Direction::Outbound(marketing_template()),
        };
        pb::RecordMessageRequest {
            message_id: self.message_id.clone(),
            business_id: business_id.to_owned(),
            customer_id: customer_id.to_owned(),
            at: self.at.map(timestamp),
            direction: Some(direction),
        }
    }
}

fn free_form() -> pb::OutboundMessage {
    pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::FreeForm(pb::FreeForm {})),
    }
}

fn marketing_template() -> pb::OutboundMessage {
    pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::Template(pb::Template {
            name: "spring_sale".to_owned(),
            language: "en".to_owned(),
            category: pb::Category::Marketing as i32,
        })),
    }
}

/// The threads of one business: customer ids by thread index.
#[derive(Clone, Debug)]
struct Business {
    id: String,
    customers: Vec<String>,
}

impl Business {
    /// A fresh business with `threads` Indian customers whose numbers start with `prefix`.
    fn new(threads: usize, prefix: &str) -> Business {
        Business {
            id: fresh_business_id(),
            customers: (0..threads)
                .map(|thread| format!("{prefix}{thread:06}"))
                .collect(),
        }
    }

    fn request(&self, op: &Op) -> pb::RecordMessageRequest {
        op.request(&self.id, &self.customers[op.thread])
    }

    fn list(&self, thread: usize, at: i64) -> pb::ListOpenConversationsRequest {
        pb::ListOpenConversationsRequest {
            business_id: self.id.clone(),
            customer_id: self.customers[thread].clone(),
            at: Some(timestamp(at)),
        }
    }
}

/// An answer and the replica (0 or 1) that gave it.
#[derive(Clone, Debug)]
struct Answered {
    replica: usize,
    response: pb::RecordMessageResponse,
    /// Whether the call was retried after `UNAVAILABLE`: its answer may then be marked duplicate.
    retried: bool,
}

/// How long a call is retried with the same message id while it fails with `UNAVAILABLE`, as a gateway
/// does. Each Redis command gives up after 500 ms, which a debug build on a busy two-core machine can
/// exceed; the answers must agree all the same.
const RETRY_FOR: Duration = Duration::from_secs(30);

/// Runs a call, again while it fails with `UNAVAILABLE`, for up to [`RETRY_FOR`]; a record is retried
/// with the same message id. Returns the answer and whether the call was retried.
async fn retrying<T, F, Fut>(what: &str, mut call: F) -> (T, bool)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let started = Instant::now();
    let mut retried = false;
    loop {
        match call().await {
            Ok(response) => return (response.into_inner(), retried),
            Err(status) if status.code() == tonic::Code::Unavailable && started.elapsed() < RETRY_FOR => {
                eprintln!("retrying {what}: {status}");
                retried = true;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(status) => panic!("{what}: {status}"),
        }
    }
}

/// Records a message on `replica`, retrying while it fails with `UNAVAILABLE`.
async fn record_retrying(
    client: &Client,
    replica: usize,
    request: &pb::RecordMessageRequest,
) -> (pb::RecordMessageResponse, bool) {
    let what = format!("RecordMessage {} on replica {replica}", request.message_id);
    retrying(&what, || {
        let (mut client, request) = (client.clone(), request.clone());
        async move { client.record_message(request).await }
    })
    .await
}

/// Records `ops` on both replicas at once: [`TASKS`] tasks, the even ones on replica 0 and the odd ones
/// on replica 1, task `j` taking ops `j`, `j + TASKS`, ... in order. With ops listed thread after
/// thread, the tasks write the same few threads at any moment, and consecutive ops of a thread go to
/// different replicas. Returns the answers in the order of `ops`.
async fn record_on_both(clients: &[Client; 2], business: &Business, ops: &[Op]) -> Vec<Answered> {
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..TASKS {
        let replica = task % 2;
        let client = clients[replica].clone();
        let mine: Vec<(usize, pb::RecordMessageRequest)> = ops
            .iter()
            .enumerate()
            .skip(task)
            .step_by(TASKS)
            .map(|(idx, op)| (idx, business.request(op)))
            .collect();
        tasks.spawn(async move {
            let mut answers = Vec::with_capacity(mine.len());
            for (idx, request) in mine {
                let (response, retried) = record_retrying(&client, replica, &request).await;
                answers.push((
                    idx,
                    Answered {
                        replica,
                        response,
                        retried,
                    },
                ));
            }
            answers
        });
    }
    let mut answers: Vec<Option<Answered>> = vec![None; ops.len()];
    for result in tasks.join_all().await {
        for (idx, answered) in result {
            answers[idx] = Some(answered);
        }
    }
    answers
        .into_iter()
        .map(|answer| answer.expect("every op is answered"))
        .collect()
}

fn charge_of(response: &pb::RecordMessageResponse) -> &pb::Charge {
    let decision = response
        .decision
        .as_ref()
        .expect("an outbound answer has a decision");
    assert!(decision.allowed, "denied: {decision:?}");
    decision
        .charge
        .as_ref()
        .expect("an allowed decision has a charge")
}

fn conversation_id(charge: &pb::Charge) -> &str {
    &charge
        .conversation
        .as_ref()
        .expect("an allowed charge names its conversation")
        .id
}

/// Two `hourglass` processes over the same store, sent concurrent records for the same threads, answer
/// as one process would: one conversation per thread and category, an exact free tier, the same stored
/// state read through either replica and through a single in-memory process, and duplicates answered
/// alike by the replica that did not record them.
async fn two_replicas_answer_as_one(store_url: &str) {
    // A generous store timeout: this is about agreement under contention, not latency, and the debug
    // binaries share two cores with the rest of the suite. (Each Redis command still gives up after
    // 500 ms, whatever the flag says: calls are retried, see `RETRY_FOR`.)
    let args = ["--store-timeout-ms", "5000"];
    let replicas = [
        BinaryServer::start_with(store_url, &args).await,
        BinaryServer::start_with(store_url, &args).await,
    ];
    let clients = [connect(replicas[0].addr).await, connect(replicas[1].addr).await];

    const THREADS: usize = 20;
    const REPLIES: usize = 8;
    const TEMPLATES: usize = 8;
    const LATE_REPLIES: usize = 4;
    let business = Business::new(THREADS, "919800");

    // The customers write in, twice each, through both replicas.
    let inbound: Vec<Op> = (0..THREADS)
        .flat_map(|thread| {
            (0..2).map(move |n| {
                Op::new(
                    thread,
                    format!("wamid.in.{thread}.{n}"),
                    Kind::Inbound,
                    T0 + 60 * n as i64,
                )
            })
        })
        .collect();
    let inbound_answers = record_on_both(&clients, &business, &inbound).await;
    for answered in &inbound_answers {
        assert_eq!(
            answered.response.decision, None,
            "an inbound message answers no decision"
        );
    }

    // Free-form replies, all at T1: exactly one per thread opens the service conversation.
    let replies: Vec<Op> = (0..THREADS)
        .flat_map(|thread| {
            (0..REPLIES)
                .map(move |n| Op::new(thread, format!("wamid.reply.{thread}.{n}"), Kind::FreeForm, T1))
        })
        .collect();
    let reply_answers = record_on_both(&clients, &business, &replies).await;

    // Then marketing templates mixed with more replies, all at T1: exactly one template per thread opens
    // the marketing conversation, and the replies fall in an open conversation.
    let mixed: Vec<Op> = (0..THREADS)
        .flat_map(|thread| {
            (0..TEMPLATES + LATE_REPLIES).map(move |n| {
                if n % 3 == 2 {
                    Op::new(thread, format!("wamid.late.{thread}.{n}"), Kind::FreeForm, T1)
                } else {
                    Op::new(thread, format!("wamid.tpl.{thread}.{n}"), Kind::Marketing, T1)
                }
            })
        })
        .collect();
    assert_eq!(
        mixed.iter().filter(|op| op.kind == Kind::Marketing).count(),
        THREADS * TEMPLATES
    );
    let mixed_answers = record_on_both(&clients, &business, &mixed).await;

    // Every answer, by thread and category, with the op it answers.
    let mut by_thread: BTreeMap<(usize, Kind), Vec<(&Op, &Answered)>> = BTreeMap::new();
    for (op, answered) in replies.iter().zip(&reply_answers) {
        by_thread
            .entry((op.thread, Kind::FreeForm))
            .or_default()
            .push((op, answered));
    }
    for (op, answered) in mixed.iter().zip(&mixed_answers) {
        if op.kind == Kind::FreeForm {
            assert!(
                !charge_of(&answered.response).opens_conversation,
                "a reply after the service conversation opened opens nothing: {answered:?}"
            );
        } else {
            by_thread
                .entry((op.thread, Kind::Marketing))
                .or_default()
                .push((op, answered));
        }
    }

    for (op, answered) in inbound
        .iter()
        .zip(&inbound_answers)
        .chain(replies.iter().zip(&reply_answers))
        .chain(mixed.iter().zip(&mixed_answers))
    {
        assert!(
            answered.retried || !answered.response.duplicate,
            "{} was sent once and is no duplicate",
            op.message_id
        );
    }

    let reference = InProcessServer::start(&["--store", "memory:"]).await;
    let mut single = reference.client().await;
    let mut service_opened = 0;
    let mut free_tier_openers = 0;
    let mut openers: Vec<(&Op, &Answered)> = Vec::new();
    for ((thread, kind), answers) in &by_thread {
        let (category, pricing_type) = match kind {
            Kind::FreeForm => (pb::Category::Service, pb::PricingType::FreeTier),
            _ => (pb::Category::Marketing, pb::PricingType::Regular),
        };
        let opening: Vec<&(&Op, &Answered)> = answers
            .iter()
            .filter(|(_, answered)| charge_of(&answered.response).opens_conversation)
            .collect();
        assert_eq!(
            opening.len(),
            1,
            "thread {thread}: exactly one {category:?} answer opens a conversation, got {opening:#?}"
        );
        let (opener_op, opener) = *opening[0];
        openers.push((opener_op, opener));
        let opened = charge_of(&opener.response);
        if category == pb::Category::Service {
            service_opened += 1;
            if opened.pricing_type == pb::PricingType::FreeTier as i32 {
                free_tier_openers += 1;
            }
        }
        assert_eq!(opened.category, category as i32, "{opened:?}");
        assert_eq!(opened.pricing_type, pricing_type as i32, "{opened:?}");

        // One process, one message after the other, answers the same.
        let reference_answers = {
            let mut answers = Vec::new();
            let ops = [
                Op::new(*thread, format!("ref.in.0.{thread}"), Kind::Inbound, T0),
                Op::new(*thread, format!("ref.in.1.{thread}"), Kind::Inbound, T0 + 60),
                Op::new(*thread, format!("ref.reply.0.{thread}"), Kind::FreeForm, T1),
                Op::new(*thread, format!("ref.reply.1.{thread}"), Kind::FreeForm, T1),
                Op::new(*thread, format!("ref.tpl.0.{thread}"), Kind::Marketing, T1),
                Op::new(*thread, format!("ref.tpl.1.{thread}"), Kind::Marketing, T1),
            ];
            for op in ops
                .iter()
                .filter(|op| op.kind == Kind::Inbound || op.kind == *kind)
            {
                let response = single
                    .record_message(business.request(op))
                    .await
                    .expect("record on the in-memory reference")
                    .into_inner();
                answers.push(response);
            }
            answers
        };
        let [_, _, reference_opener, reference_follower] = reference_answers
            .try_into()
            .expect("two inbound and two outbound answers");
        assert_eq!(
            opener.response.decision, reference_opener.decision,
            "thread {thread}: the opening {category:?} answer differs from one process's"
        );
        for (op, answered) in answers {
            if answered.response.decision != opener.response.decision {
                assert_eq!(
                    answered.response.decision, reference_follower.decision,
                    "thread {thread}: {} differs from one process's answer",
                    op.message_id
                );
            }
            assert_eq!(
                conversation_id(charge_of(&answered.response)),
                conversation_id(opened),
                "thread {thread}: every {category:?} message falls in the one conversation"
            );
        }
    }
    assert_eq!(service_opened, THREADS, "one service conversation per thread");
    assert_eq!(
        free_tier_openers, service_opened,
        "the first 1,000 service conversations of the month are free tier, and only they"
    );
    assert!(free_tier_openers <= 1_000);

    // The state reads the same through either replica and through one process.
    for thread in 0..THREADS {
        let request = business.list(thread, T1 + 3_600);
        let list_on = |replica: usize| {
            let (client, request) = (&clients[replica], &request);
            async move {
                retrying(&format!("ListOpenConversations on replica {replica}"), || {
                    let (mut client, request) = (client.clone(), request.clone());
                    async move { client.list_open_conversations(request).await }
                })
                .await
                .0
            }
        };
        let (from_a, from_b) = (list_on(0).await, list_on(1).await);
        let from_single = single
            .list_open_conversations(request.clone())
            .await
            .expect("list on the reference")
            .into_inner();
        assert_eq!(from_a, from_b, "thread {thread}: replicas A and B disagree");
        assert_eq!(
            from_a, from_single,
            "thread {thread}: one process would hold otherwise"
        );
        let categories: Vec<i32> = from_a
            .conversations
            .iter()
            .map(|conversation| conversation.category)
            .collect();
        assert_eq!(
            categories,
            [pb::Category::Marketing as i32, pb::Category::Service as i32],
            "thread {thread}: {from_a:?}"
        );
        assert_eq!(
            from_a.customer_service_window_expires_at,
            Some(timestamp(T0 + 60 + 24 * 3_600)),
            "thread {thread}"
        );
    }

    // A retry through the other replica repeats the first answer, marked duplicate.
    let mut replays: Vec<(&Op, &Answered)> = openers;
    replays.extend(inbound.iter().zip(&inbound_answers).step_by(7));
    replays.extend(replies.iter().zip(&reply_answers).step_by(5));
    replays.extend(mixed.iter().zip(&mixed_answers).step_by(5));
    for (op, answered) in replays {
        let other = 1 - answered.replica;
        let (again, _) = record_retrying(&clients[other], other, &business.request(op)).await;
        assert!(again.duplicate, "a retry of {} is a duplicate", op.message_id);
        assert_eq!(
            again.decision, answered.response.decision,
            "a retry of {} repeats the first decision",
            op.message_id
        );
    }
    reference.stop().await;

    free_tier_is_exact_across_replicas(&clients).await;
}

/// Concurrent service conversations of 1,010 threads of one account, opened through two replicas, hand
/// out exactly 1,000 free-tier slots; every later conversation is regular, as both replicas say.
async fn free_tier_is_exact_across_replicas(clients: &[Client; 2]) {
    const THREADS: usize = 1_010;
    let business = Business::new(THREADS + 1, "919900");
    let inbound: Vec<Op> = (0..=THREADS)
        .map(|thread| Op::new(thread, format!("wamid.in.{thread}"), Kind::Inbound, T0))
        .collect();
    record_on_both(clients, &business, &inbound).await;
    // Two replies per thread, sent through different replicas at the same time.
    let replies: Vec<Op> = (0..THREADS)
        .flat_map(|thread| {
            (0..2).map(move |n| Op::new(thread, format!("wamid.reply.{thread}.{n}"), Kind::FreeForm, T1))
        })
        .collect();
    let answers = record_on_both(clients, &business, &replies).await;

    let mut opened: HashMap<usize, i32> = HashMap::new();
    for (op, answered) in replies.iter().zip(&answers) {
        let charge = charge_of(&answered.response);
        assert_eq!(charge.category, pb::Category::Service as i32, "{charge:?}");
        if charge.opens_conversation {
            let previous = opened.insert(op.thread, charge.pricing_type);
            assert_eq!(
                previous, None,
                "thread {}: two service conversations opened",
                op.thread
            );
        }
    }
    assert_eq!(opened.len(), THREADS, "one service conversation per thread");
    let free_tier = opened
        .values()
        .filter(|&&pricing_type| pricing_type == pb::PricingType::FreeTier as i32)
        .count();
    let regular = opened
        .values()
        .filter(|&&pricing_type| pricing_type == pb::PricingType::Regular as i32)
        .count();
    assert_eq!(
        (free_tier, regular),
        (1_000, THREADS - 1_000),
        "the free tier is exact"
    );

    // The last thread has not been answered yet: both replicas see the free tier used up.
    let request = pb::AuthorizeRequest {
        business_id: business.id.clone(),
        customer_id: business.customers[THREADS].clone(),
        message: Some(free_form()),
        at: Some(timestamp(T1)),
    };
    for client in clients {
        let (answer, _) = retrying("Authorize", || {
            let (mut client, request) = (client.clone(), request.clone());
            async move { client.authorize(request).await }
        })
        .await;
        let decision = answer.decision.expect("a decision");
        let charge = decision.charge.expect("allowed");
        assert!(charge.opens_conversation);
        assert_eq!(charge.pricing_type, pb::PricingType::Regular as i32, "{charge:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_over_one_redis_answer_as_one() {
    let Some(redis) = start_redis() else {
        return;
    };
    two_replicas_answer_as_one(&redis.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_over_a_redis_cluster_answer_as_one() {
    let Some(cluster) = start_cluster() else {
        return;
    };
    two_replicas_answer_as_one(&cluster.url()).await;
}

fn authorize_free_form(business: &Business, thread: usize) -> pb::AuthorizeRequest {
    pb::AuthorizeRequest {
        business_id: business.id.clone(),
        customer_id: business.customers[thread].clone(),
        message: Some(free_form()),
        at: None,
    }
}

/// Awaits a call and asserts it fails with `UNAVAILABLE` well within the ~1 s a store timeout of 300 ms
/// allows.
async fn assert_fails_fast<T: std::fmt::Debug>(
    what: &str,
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) {
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(5), call)
        .await
        .unwrap_or_else(|_| panic!("{what} hangs while Redis is down"));
    let elapsed = started.elapsed();
    let status = result.expect_err("a call fails while Redis is down");
    eprintln!(
        "{what} failed in {elapsed:?} while Redis is down: {}",
        status.code()
    );
    assert_eq!(status.code(), tonic::Code::Unavailable, "{what}: {status:?}");
    assert!(
        elapsed < Duration::from_millis(1_500),
        "{what} took {elapsed:?} to fail; the store timeout is 300 ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fails_fast_and_recovers() {
    let Some(mut redis) = start_redis() else {
        return;
    };
    // The conversation model, whose reply opens a conversation today as in 2023, so that the last
    // check can tell a recovered thread from a lost one.
    let mut server = BinaryServer::start_with(
        &redis.url(),
        &[
            "--store-timeout-ms",
            "300",
            "--pricing-model",
            "conversation-2023",
        ],
    )
    .await;
    let pid = server.pid();
    let mut client = connect(server.addr).await;
    let business = Business::new(2, "919700");
    let inbound = |thread: usize, n: usize| Op {
        thread,
        message_id: format!("wamid.in.{n}"),
        kind: Kind::Inbound,
        at: None,
    };
    let reply = |thread: usize, n: usize| Op {
        thread,
        message_id: format!("wamid.reply.{n}"),
        kind: Kind::FreeForm,
        at: None,
    };
    client
        .record_message(business.request(&inbound(0, 0)))
        .await
        .expect("record while Redis is up");
    client
        .authorize(authorize_free_form(&business, 0))
        .await
        .expect("authorize while Redis is up");

    redis.stop();
    assert_fails_fast(
        "Authorize",
        client.clone().authorize(authorize_free_form(&business, 0)),
    )
    .await;
    assert_fails_fast(
        "RecordMessage",
        client.clone().record_message(business.request(&reply(0, 1))),
    )
    .await;
    // The server checks the store every 2 s.
    let not_serving_after = server
        .wait_for(ServingStatus::NotServing, Duration::from_secs(6))
        .await;
    eprintln!("NOT_SERVING {not_serving_after:?} after the failed calls");
    assert!(server.is_running(), "the server survives Redis going away");
    // Still failing fast, not queueing, while Redis stays down.
    assert_fails_fast(
        "Authorize",
        client.clone().authorize(authorize_free_form(&business, 0)),
    )
    .await;

    let restarted = Instant::now();
    redis.restart().expect("restart redis-server on the same port");
    let serving_after = server
        .wait_for(ServingStatus::Serving, Duration::from_secs(10))
        .await;
    eprintln!("SERVING {serving_after:?} after Redis restarted");
    // The restarted Redis is empty (no persistence): the thread starts over.
    let recovered = loop {
        let recorded = client.record_message(business.request(&inbound(1, 2))).await;
        let authorized = client.authorize(authorize_free_form(&business, 1)).await;
        if let (Ok(_), Ok(authorized)) = (&recorded, authorized) {
            break authorized.into_inner();
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "calls still fail 10 s after Redis came back: {recorded:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        recovered
            .decision
            .as_ref()
            .is_some_and(|decision| decision.allowed),
        "{recovered:?}"
    );
    let answer = client
        .record_message(business.request(&reply(1, 3)))
        .await
        .expect("record after recovery")
        .into_inner();
    assert!(charge_of(&answer).opens_conversation, "{answer:?}");
    assert!(server.is_running(), "the same server process recovered");
    assert_eq!(server.pid(), pid);
}

/// The keys in a Redis node, with their type and PTTL (milliseconds; -1 without a TTL, -2 gone).
fn keys_with_pttl(port: u16) -> Vec<(String, String, i64)> {
    let cli = |args: &[&str]| redis_harness::cli(port, args).expect("redis-cli");
    cli(&["--scan"])
        .lines()
        .map(|key| {
            let kind = cli(&["TYPE", key]).trim().to_owned();
            let pttl = cli(&["PTTL", key])
                .trim()
                .parse()
                .expect("PTTL answers an integer");
            (key.to_owned(), kind, pttl)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_of_a_recorded_thread_has_a_ttl() {
    let Some(redis) = start_redis() else {
        return;
    };
    let server = BinaryServer::start(&redis.url()).await;
    let mut client = connect(server.addr).await;
    let business = Business::new(1, "919600");
    // A typical thread, on the server clock: the customer writes, the business replies (a free-tier
    // service conversation) and sends a marketing template.
    for (n, kind) in [Kind::Inbound, Kind::FreeForm, Kind::Marketing]
        .into_iter()
        .enumerate()
    {
        let op = Op {
            thread: 0,
            message_id: format!("wamid.{n}"),
            kind,
            at: None,
        };
        client
            .record_message(business.request(&op))
            .await
            .expect("record");
    }

    let keys = keys_with_pttl(redis.port());
    let tag = format!("{{b:{}:c:{}}}", business.id, business.customers[0]);
    let thread_keys: Vec<_> = keys.iter().filter(|(key, _, _)| key.contains(&tag)).collect();
    // The thread hash alone, which holds the three answers: a single node takes the reply's counter
    // slot in the same write, and keeps no receipt of it.
    assert_eq!(thread_keys.len(), 1, "{keys:#?}");
    let (thread_key, _, _) = thread_keys
        .iter()
        .find(|(key, _, _)| key.ends_with(":thread"))
        .unwrap_or_else(|| panic!("no thread hash: {keys:#?}"));
    let fields = redis_harness::cli(redis.port(), &["HKEYS", thread_key]).expect("redis-cli");
    assert_eq!(
        fields.lines().filter(|field| field.starts_with('m')).count(),
        3,
        "an answer per message in the thread hash: {fields}"
    );
    assert!(
        keys.iter()
            .any(|(key, kind, _)| key.contains(&format!("{{a:{}}}", business.id)) && kind == "hash"),
        "the account's free-tier counter: {keys:#?}"
    );
    let hour = 3_600_000;
    // One key lives without a TTL: the marker that tells a Redis that lost its data, one per namespace.
    let (markers, keys): (Vec<_>, Vec<_>) = keys.iter().partition(|(key, _, _)| key.ends_with(":marker"));
    assert_eq!(markers.len(), 1, "the store's marker: {markers:#?}");
    // The account's usage of the day is kept 400 days (docs/SPEC.md section 15.1); every other key
    // at most 62.
    let (usage, keys): (Vec<_>, Vec<_>) = keys.into_iter().partition(|(key, _, _)| key.contains(":use:"));
    assert_eq!(usage.len(), 1, "the account's usage of the day: {usage:#?}");
    for (key, kind, pttl) in &usage {
        assert_eq!(kind, "hash");
        assert!(
            *pttl > 62 * 24 * hour && *pttl <= 400 * 24 * hour,
            "{key} is kept 400 days: PTTL {pttl}"
        );
    }
    for (key, kind, pttl) in &keys {
        assert!(*pttl > 0, "{key} ({kind}) has no TTL: PTTL {pttl}");
        assert!(
            *pttl <= 62 * 24 * hour,
            "{key} outlives the free-tier month: PTTL {pttl}"
        );
    }
    let (_, kind, thread_pttl) = thread_keys
        .iter()
        .find(|(key, _, _)| key.ends_with(":thread"))
        .unwrap_or_else(|| panic!("no thread hash: {keys:#?}"));
    assert_eq!(kind, "hash");
    // The windows run 24 h from now; the thread outlives them by the 72 h retention grace.
    assert!(
        *thread_pttl > 95 * hour && *thread_pttl <= 96 * hour,
        "the thread hash lives as long as its windows plus 72 h: PTTL {thread_pttl}"
    );
}

/// Returns what `check_connectivity` reports for a Redis store at `url`, or `None` when it connects.
async fn connectivity_problem(url: &str) -> Option<String> {
    let options = hourglass_store::RedisOptions {
        timeout: Duration::from_millis(500),
        ..hourglass_store::RedisOptions::default()
    };
    let store = hourglass_store::RedisStore::open(url, options).expect("a valid Redis URL");
    hourglass_store::Store::check_connectivity(&store)
        .await
        .err()
        .map(|error| error.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_says_why_and_names_the_store_setting() {
    let Some(redis) = start_redis() else {
        return;
    };
    let nobody = hourglass_e2e::free_port();
    let refused = connectivity_problem(&format!("redis://127.0.0.1:{nobody}"))
        .await
        .expect("nothing listens on a free port");
    assert!(
        refused.contains("refused") && refused.contains("HOURGLASS_STORE"),
        "{refused}"
    );
    let cluster_refused = connectivity_problem(&format!("redis+cluster://127.0.0.1:{nobody}"))
        .await
        .expect("nothing listens on a free port");
    assert!(
        cluster_refused.contains("refused") && cluster_refused.contains("HOURGLASS_STORE"),
        "{cluster_refused}"
    );

    let port = redis.port();
    redis_harness::cli(port, &["CONFIG", "SET", "requirepass", "s3cret"]).expect("set a password");
    let wrong = connectivity_problem(&format!("redis://:wrong@127.0.0.1:{port}"))
        .await
        .expect("a wrong password is refused");
    assert!(
        wrong.contains("authentication") && wrong.contains("HOURGLASS_STORE"),
        "{wrong}"
    );
    assert!(
        !wrong.contains("wrong@"),
        "the password stays out of messages: {wrong}"
    );
    let missing = connectivity_problem(&format!("redis://127.0.0.1:{port}"))
        .await
        .expect("a password is required");
    assert!(
        missing.contains("requires a password") && missing.contains("HOURGLASS_STORE"),
        "{missing}"
    );
    assert_eq!(
        connectivity_problem(&format!("redis://:s3cret@127.0.0.1:{port}")).await,
        None
    );
}
