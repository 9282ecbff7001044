//! `UsageService/GetUsage` laid beside the answers of a long random timeline: two accounts in two time
//! zones, customers in four markets, inbound messages, free-form replies, templates of every category,
//! retries of earlier messages and failed statuses sent twice, across the turn of a month and the era of
//! paid service messages (2026-10-01). Usage must be the exact sum of the answered prices, counted once
//! whatever was retried, on memory, on sled, and read alike from two replicas over one Redis.

use std::collections::BTreeMap;

use hourglass_e2e::{Client, InProcessServer, register, usage_client, webhook_client};
use hourglass_proto::v1 as pb;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// 2026-09-29T00:00:00Z: two days before the era of paid service messages.
const START: i64 = 1_790_640_000;
/// Steps of the timeline: each moves the clock on by 1 to 60 minutes (about five days in all).
const STEPS: usize = 240;
/// Allowed outbound messages that Meta then reports failed.
const FAILURES: usize = 8;

struct Account {
    id: &'static str,
    zone: &'static str,
    /// The zone's offset from UTC in seconds; both zones keep one offset all year.
    offset: i64,
    business: &'static str,
    customers: [&'static str; 6],
}

const ACCOUNTS: [Account; 2] = [
    Account {
        id: "waba-kolkata",
        zone: "Asia/Kolkata",
        offset: 19_800,
        business: "106540352242001",
        customers: [
            "919800000001",
            "919800000002",
            "5511900000003",
            "12125550004",
            "4915100000005",
            "919800000006",
        ],
    },
    Account {
        id: "waba-sao-paulo",
        zone: "America/Sao_Paulo",
        offset: -10_800,
        business: "106540352242002",
        customers: [
            "5511900000011",
            "5511900000012",
            "919800000013",
            "12125550014",
            "4915100000015",
            "5511900000016",
        ],
    },
];

/// What usage must say of one account's day, category and currency (a market without the account's
/// currency is priced in its default one): volume, failed and cost in nanos.
type Expected = BTreeMap<(i64, i32, String), (u64, u64, i128)>;

fn nanos(money: &pb::Money) -> i128 {
    i128::from(money.units) * 1_000_000_000 + i128::from(money.nanos)
}

fn timestamp(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

fn outbound(kind: pb::outbound_message::Kind) -> pb::record_message_request::Direction {
    pb::record_message_request::Direction::Outbound(pb::OutboundMessage { kind: Some(kind) })
}

/// An allowed outbound message, as its answer counted it in usage.
struct Counted {
    account: usize,
    customer: &'static str,
    message_id: String,
    day: i64,
    category: i32,
    currency: String,
    price: i128,
}

/// Plays the timeline through `clients` (a call goes to one client after the other, and a retry to
/// the next one) and returns what usage must say per account, with the seed's own log.
async fn play(rng: &mut StdRng, clients: &mut [Client]) -> (Vec<Counted>, [Expected; 2]) {
    let categories = [
        pb::Category::Marketing,
        pb::Category::Utility,
        pb::Category::Authentication,
    ];
    let mut sent: Vec<pb::RecordMessageRequest> = Vec::new();
    let mut answers: BTreeMap<String, pb::RecordMessageResponse> = BTreeMap::new();
    let mut counted = Vec::new();
    let mut expected: [Expected; 2] = Default::default();
    let mut at = START;
    for step in 0..STEPS {
        at += rng.random_range(60..=3_600);
        let client = &mut clients[step % clients.len()];
        let choice = rng.random_range(0..10);
        if choice == 0 && !sent.is_empty() {
            // A retry of an earlier recorded message, through the next replica: the same answer,
            // counted once.
            let request = sent[rng.random_range(0..sent.len())].clone();
            let answer = client
                .record_message(request.clone())
                .await
                .expect("RecordMessage (retry)")
                .into_inner();
            let first = &answers[&request.message_id];
            assert!(answer.duplicate, "{request:?} answered {answer:?}");
            assert_eq!(
                answer.decision, first.decision,
                "a retry answers as the first call"
            );
            continue;
        }
        let index = rng.random_range(0..ACCOUNTS.len());
        let account = &ACCOUNTS[index];
        let customer = account.customers[rng.random_range(0..account.customers.len())];
        let direction = match choice {
            1..=3 => pb::record_message_request::Direction::Inbound(pb::Inbound::default()),
            4..=6 => outbound(pb::outbound_message::Kind::FreeForm(pb::FreeForm {})),
            _ => outbound(pb::outbound_message::Kind::Template(pb::Template {
                name: "notice".to_owned(),
                language: "en".to_owned(),
                category: categories[rng.random_range(0..categories.len())] as i32,
            })),
        };
        let request = pb::RecordMessageRequest {
            business_id: account.business.to_owned(),
            customer_id: customer.to_owned(),
            message_id: format!("wamid.timeline.{step}"),
            at: timestamp(at),
            direction: Some(direction),
        };
        let answer = client
            .record_message(request.clone())
            .await
            .expect("RecordMessage")
            .into_inner();
        assert!(!answer.duplicate, "{request:?}");
        if let Some(decision) = answer.decision.as_ref().filter(|decision| decision.allowed) {
            let charge = decision.charge.as_ref().expect("an allowed message is charged");
            let price = charge.price.as_ref().expect("a price");
            let (currency, price) = (price.currency_code.clone(), nanos(price));
            let day = (at + account.offset).div_euclid(86_400);
            let entry = expected[index]
                .entry((day, charge.category, currency.clone()))
                .or_default();
            entry.0 += 1;
            entry.2 += price;
            counted.push(Counted {
                account: index,
                customer,
                message_id: request.message_id.clone(),
                day,
                category: charge.category,
                currency,
                price,
            });
        }
        // A denied message is not recorded (a retry of it is decided afresh): only what was recorded
        // is sent again.
        if answer.decision.as_ref().is_none_or(|decision| decision.allowed) {
            answers.insert(request.message_id.clone(), answer);
            sent.push(request);
        }
    }
    (counted, expected)
}

/// Reports some counted messages failed, each twice and through both replicas: under per-message
/// pricing a failed message leaves the volume and the cost and counts as failed, once.
async fn fail_some(
    rng: &mut StdRng,
    addrs: &[std::net::SocketAddr],
    counted: &[Counted],
    expected: &mut [Expected; 2],
) {
    let mut chosen: Vec<&Counted> = Vec::new();
    while chosen.len() < FAILURES.min(counted.len()) {
        let candidate = &counted[rng.random_range(0..counted.len())];
        if !chosen
            .iter()
            .any(|taken| taken.message_id == candidate.message_id)
        {
            chosen.push(candidate);
        }
    }
    for (n, message) in chosen.iter().enumerate() {
        let account = &ACCOUNTS[message.account];
        let body = serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": account.id, "changes": [{"field": "messages", "value": {
                "metadata": {"phone_number_id": account.business},
                "statuses": [{"id": message.message_id, "status": "failed",
                    "timestamp": (START + 10 * 86_400).to_string(),
                    "recipient_id": message.customer, "errors": [{"code": 131026}]}]
            }}]}]
        });
        for attempt in 0..2 {
            let mut webhooks = webhook_client(addrs[(n + attempt) % addrs.len()]).await;
            let ingested = webhooks
                .ingest_webhook(pb::IngestWebhookRequest {
                    payload: body.to_string().into_bytes(),
                    signature: String::new(),
                })
                .await
                .expect("IngestWebhook")
                .into_inner();
            assert_eq!(ingested.errors, Vec::new(), "{ingested:?}");
        }
        let entry = expected[message.account]
            .get_mut(&(message.day, message.category, message.currency.clone()))
            .expect("a counted message has its row");
        entry.0 -= 1;
        entry.1 += 1;
        entry.2 -= message.price;
    }
}

/// Reads an account's usage by day of its zone and category over the whole timeline.
async fn usage_of(addr: std::net::SocketAddr, account: &Account) -> Expected {
    let response = usage_client(addr)
        .await
        .get_usage(pb::GetUsageRequest {
            account_id: account.id.to_owned(),
            start: timestamp(START - 2 * 86_400),
            end: timestamp(START + 10 * 86_400),
            granularity: pb::UsageGranularity::Daily as i32,
            dimensions: vec![pb::UsageDimension::Category as i32],
        })
        .await
        .expect("GetUsage")
        .into_inner();
    response
        .data_points
        .iter()
        .map(|point| {
            let start = point.start.as_ref().expect("a start").seconds;
            assert_eq!(
                (start + account.offset).rem_euclid(86_400),
                0,
                "a day begins at midnight in {}",
                account.zone
            );
            let cost = point.cost.as_ref().expect("a cost");
            (
                (
                    (start + account.offset).div_euclid(86_400),
                    point.category,
                    cost.currency_code.clone(),
                ),
                (point.volume, point.failed, nanos(cost)),
            )
        })
        .collect()
}

async fn usage_equals_the_answers_of_a_random_timeline(servers: &[InProcessServer]) {
    let seed = std::env::var("HOURGLASS_TEST_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or(20_261_203_u64);
    println!("usage timeline: seed {seed} (HOURGLASS_TEST_SEED replays it)");
    let mut rng = StdRng::seed_from_u64(seed);
    let addrs: Vec<_> = servers.iter().map(|server| server.addr).collect();
    for account in &ACCOUNTS {
        let registered = pb::PutAccountRequest {
            account_id: account.id.to_owned(),
            time_zone: account.zone.to_owned(),
            ..Default::default()
        };
        register(addrs[0], registered, account.business).await;
    }
    let mut clients = Vec::new();
    for server in servers {
        clients.push(server.client().await);
    }
    let (counted, mut expected) = play(&mut rng, &mut clients).await;
    fail_some(&mut rng, &addrs, &counted, &mut expected).await;

    // The timeline is long enough to mean something: every category, both eras, several days.
    let categories: std::collections::BTreeSet<i32> =
        counted.iter().map(|message| message.category).collect();
    assert_eq!(
        categories.len(),
        4,
        "marketing, utility, authentication and service were all answered"
    );
    assert!(counted.len() >= 100, "{} messages counted", counted.len());
    assert!(
        counted.iter().any(|message| message.price == 0),
        "some messages were free"
    );
    for (index, account) in ACCOUNTS.iter().enumerate() {
        assert!(
            expected[index].len() >= 8,
            "{} has rows on several days",
            account.id
        );
        for addr in &addrs {
            assert_eq!(
                usage_of(*addr, account).await,
                expected[index],
                "usage of {} by day of its zone, category and currency: (volume, failed, cost in nanos), seed {seed}",
                account.id
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_equals_the_answers_of_a_random_timeline_on_memory() {
    let server = InProcessServer::start(&["--store", "memory:"]).await;
    usage_equals_the_answers_of_a_random_timeline(std::slice::from_ref(&server)).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_equals_the_answers_of_a_random_timeline_on_sled() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = format!("sled:{}", dir.path().join("data").display());
    let server = InProcessServer::start(&["--store", &store]).await;
    usage_equals_the_answers_of_a_random_timeline(std::slice::from_ref(&server)).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_equals_the_answers_of_a_random_timeline_on_two_replicas_over_redis() {
    if !hourglass_testkit::redis::redis_server_available() {
        hourglass_e2e::report_skip("redis-server is not installed (apt-get install redis-server)");
        return;
    }
    let redis = hourglass_testkit::redis::RedisServer::start().expect("start redis-server");
    let url = redis.url();
    let servers = [
        InProcessServer::start(&["--store", &url]).await,
        InProcessServer::start(&["--store", &url]).await,
    ];
    usage_equals_the_answers_of_a_random_timeline(&servers).await;
    for server in servers {
        server.stop().await;
    }
}
