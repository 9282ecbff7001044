//! Meta's webhook bodies through `IngestWebhook` and the HTTP endpoint of `--webhook-listen`, on the
//! in-memory store, sled and Redis: every documented body in `tests/webhooks/` (each with its source
//! in `SOURCES.md`), twice; the guards and the registry read back; bodies refused whole, odd items
//! named by path; signatures; items re-batched and out of order; and replicas racing on one body.

use std::net::SocketAddr;
use std::path::PathBuf;

use hourglass_e2e::{
    BinaryServer, InProcessServer, WebhookClient, connect, free_port, registry_client, usage_client,
    webhook_client,
};
use hourglass_proto::v1 as pb;
use hourglass_server::webhook_signature;
use hourglass_testkit::redis::{self as redis_harness, RedisServer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The ids of Meta's examples: the WhatsApp Business Account, the business phone number, the customer.
const ACCOUNT: &str = "102290129340398";
const BUSINESS: &str = "106540352242922";
const CUSTOMER: &str = "16505551234";

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/webhooks")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).expect("fixtures are JSON")
}

/// The timestamp of the first inbound message of a fixture, in seconds.
fn inbound_timestamp(name: &str) -> i64 {
    fixture_json(name)["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"]
        .as_str()
        .and_then(|seconds| seconds.parse().ok())
        .expect("a timestamp of seconds as a string")
}

async fn ingest(client: &mut WebhookClient, payload: &[u8]) -> pb::IngestWebhookResponse {
    try_ingest(client, payload, "")
        .await
        .unwrap_or_else(|status| panic!("IngestWebhook failed: {status:?}"))
}

async fn try_ingest(
    client: &mut WebhookClient,
    payload: &[u8],
    signature: &str,
) -> Result<pb::IngestWebhookResponse, tonic::Status> {
    client
        .ingest_webhook(pb::IngestWebhookRequest {
            payload: payload.to_vec(),
            signature: signature.to_owned(),
        })
        .await
        .map(tonic::Response::into_inner)
}

fn timestamp(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

fn template(name: &str, language: &str, category: pb::Category) -> pb::OutboundMessage {
    pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::Template(pb::Template {
            name: name.to_owned(),
            language: language.to_owned(),
            category: category as i32,
        })),
    }
}

fn free_form() -> pb::OutboundMessage {
    pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::FreeForm(pb::FreeForm {})),
    }
}

async fn authorize(addr: SocketAddr, customer: &str, message: pb::OutboundMessage, at: i64) -> pb::Decision {
    connect(addr)
        .await
        .authorize(pb::AuthorizeRequest {
            business_id: BUSINESS.to_owned(),
            customer_id: customer.to_owned(),
            message: Some(message),
            at: timestamp(at),
        })
        .await
        .expect("Authorize answers")
        .into_inner()
        .decision
        .expect("a decision")
}

fn deny_reason(decision: &pb::Decision) -> pb::DenyReason {
    pb::DenyReason::try_from(decision.deny_reason).expect("a known deny reason")
}

/// Registers Meta's example business with its account, so that the template guard reads the
/// account's templates.
async fn register_business(addr: SocketAddr) {
    let mut registry = registry_client(addr).await;
    registry
        .put_account(pb::PutAccountRequest {
            account_id: ACCOUNT.to_owned(),
            effective_at: timestamp(0),
            ..Default::default()
        })
        .await
        .expect("PutAccount");
    registry
        .put_business(pb::PutBusinessRequest {
            business_id: BUSINESS.to_owned(),
            account_id: ACCOUNT.to_owned(),
            effective_at: timestamp(0),
        })
        .await
        .expect("PutBusiness");
}

/// What a fresh store makes of each documented body: applied, ignored, errors.
const EVERY_BODY: &[(&str, u32, u32, usize)] = &[
    ("account_update.volume_based_pricing_tier_update.json", 1, 0, 0),
    ("business_capability_update.json", 1, 0, 0),
    ("message_template_quality_update.json", 1, 0, 0),
    ("message_template_status_update.approved.json", 1, 0, 0),
    ("message_template_status_update.disabled.json", 1, 0, 0),
    ("message_template_status_update.paused_first_pause.json", 1, 0, 0),
    ("message_template_status_update.paused_second_pause.json", 1, 0, 0),
    ("message_template_status_update.rejected.json", 1, 0, 0),
    // Four statuses kept (one of them a 131049 hold), and a contact whose two ids are linked.
    ("messages.batch_statuses.json", 5, 0, 0),
    ("messages.inbound_text.bsuid_and_phone.json", 2, 0, 0),
    ("messages.inbound_text.ctwa_referral.json", 1, 0, 0),
    ("messages.inbound_text.json", 1, 0, 0),
    (
        "messages.inbound_text.username_no_phone_parent_bsuid.json",
        1,
        0,
        0,
    ),
    ("messages.status_delivered.bsuid_only.json", 1, 0, 0),
    ("messages.status_delivered.json", 2, 0, 0),
    ("messages.status_failed.131049.json", 1, 0, 0),
    ("messages.status_failed.131050.json", 1, 0, 0),
    ("messages.status_failed.132015.json", 1, 0, 0),
    ("messages.status_failed.132016.json", 1, 0, 0),
    ("messages.status_read.json", 1, 0, 0),
    ("messages.status_sent.cbp_pricing_old.json", 1, 0, 0),
    ("messages.status_sent.free_entry_point.json", 1, 0, 0),
    (
        "messages.status_sent.v24_no_conversation_no_pricing.json",
        1,
        0,
        0,
    ),
    ("messages.status_sent.with_conversation_and_pricing.json", 1, 0, 0),
    ("messages.system_user_changed_number.json", 1, 0, 0),
    ("messages.system_user_changed_user_id.json", 1, 0, 0),
    ("phone_number_quality_update.flagged_tier_10k.json", 1, 0, 0),
    ("phone_number_quality_update.json", 1, 0, 0),
    ("template_category_update.completed.json", 1, 0, 0),
    ("template_category_update.upcoming.json", 1, 0, 0),
    ("user_preferences.resume.json", 1, 0, 0),
    ("user_preferences.stop.json", 1, 0, 0),
];

/// Ingests every documented body twice, each on a fresh store: the first time as the table says,
/// the second time every applied item is a duplicate.
async fn every_body_applies_once(store_url: &dyn Fn() -> String) {
    let mut names: Vec<String> = std::fs::read_dir(fixture_dir())
        .expect("list tests/webhooks")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.ends_with(".json").then_some(name)
        })
        .collect();
    names.sort();
    let listed: Vec<&str> = EVERY_BODY.iter().map(|(name, ..)| *name).collect();
    assert_eq!(names, listed, "every fixture is in the table, and only fixtures");
    for &(name, applied, ignored, errors) in EVERY_BODY {
        let server = InProcessServer::start(&["--store", &store_url()]).await;
        server.client().await;
        let mut client = server.webhook_client().await;
        let first = ingest(&mut client, &fixture(name)).await;
        assert_eq!(
            (first.applied, first.duplicates, first.ignored, first.errors.len()),
            (applied, 0, ignored, errors),
            "{name}: {first:?}"
        );
        assert_eq!(first.ignored_items.len(), ignored as usize, "{name}");
        let again = ingest(&mut client, &fixture(name)).await;
        assert_eq!(
            (again.applied, again.duplicates, again.ignored),
            (0, applied, ignored),
            "{name} again: {again:?}"
        );
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_body_applies_once_on_memory() {
    every_body_applies_once(&|| "memory:".to_owned()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_body_applies_once_on_sled() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let count = std::sync::atomic::AtomicUsize::new(0);
    every_body_applies_once(&|| {
        let n = count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("sled:{}", dir.path().join(format!("data-{n}")).display())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingested_webhooks_drive_the_guards() {
    let server = InProcessServer::start(&["--store", "memory:"]).await;
    server.client().await;
    register_business(server.addr).await;
    let mut client = server.webhook_client().await;

    // An inbound message from an ad opens the customer service window at its timestamp.
    let inbound_at = 1_750_275_992;
    assert_eq!(
        ingest(&mut client, &fixture("messages.inbound_text.ctwa_referral.json"))
            .await
            .applied,
        1
    );
    let decision = authorize(server.addr, CUSTOMER, free_form(), inbound_at + 3_600).await;
    assert!(decision.allowed, "{decision:?}");
    let decision = authorize(server.addr, CUSTOMER, free_form(), inbound_at - 3_600).await;
    assert_eq!(
        deny_reason(&decision),
        pb::DenyReason::OutsideCustomerServiceWindow
    );

    // Meta's 131049 holds marketing to the customer for 24 h from the status, and nothing else.
    let failed_at = 1_750_030_073;
    ingest(&mut client, &fixture("messages.status_failed.131049.json")).await;
    let marketing = || template("summer_sale", "en", pb::Category::Marketing);
    let decision = authorize(server.addr, CUSTOMER, marketing(), failed_at + 3_600).await;
    assert_eq!(
        deny_reason(&decision),
        pb::DenyReason::MarketingLimit,
        "{decision:?}"
    );
    assert_eq!(decision.meta_error_code, 131_049);
    let utility = template("order_update", "en", pb::Category::Utility);
    assert!(
        authorize(server.addr, CUSTOMER, utility, failed_at + 3_600)
            .await
            .allowed
    );
    assert!(
        authorize(server.addr, CUSTOMER, marketing(), failed_at + 24 * 3_600)
            .await
            .allowed
    );

    // A user preference stops marketing until a later resume.
    let stop = fixture_json("user_preferences.stop.json");
    let stopped_at = stop["entry"][0]["changes"][0]["value"]["user_preferences"][0]["timestamp"]
        .as_i64()
        .expect("a numeric timestamp");
    ingest(&mut client, stop.to_string().as_bytes()).await;
    let decision = authorize(server.addr, CUSTOMER, marketing(), stopped_at + 60).await;
    assert_eq!(
        deny_reason(&decision),
        pb::DenyReason::MarketingStopped,
        "{decision:?}"
    );

    // A template paused for the first time is denied for 3 h from the update, then approved again.
    let paused_at = 1_751_247_548;
    ingest(
        &mut client,
        &fixture("message_template_status_update.paused_first_pause.json"),
    )
    .await;
    let order_confirmation = || template("order_confirmation", "en-US", pb::Category::Utility);
    let decision = authorize(server.addr, CUSTOMER, order_confirmation(), paused_at + 60).await;
    assert_eq!(
        deny_reason(&decision),
        pb::DenyReason::TemplatePaused,
        "{decision:?}"
    );
    let mut registry = registry_client(server.addr).await;
    let paused = registry
        .get_template(pb::GetTemplateRequest {
            account_id: ACCOUNT.to_owned(),
            name: "order_confirmation".to_owned(),
            language: "en-US".to_owned(),
            at: timestamp(paused_at + 60),
        })
        .await
        .expect("GetTemplate")
        .into_inner()
        .template
        .expect("a template");
    assert_eq!(paused.status, pb::TemplateStatus::Paused as i32);
    assert_eq!(paused.paused_until, timestamp(paused_at + 3 * 3_600));
    assert!(
        authorize(server.addr, CUSTOMER, order_confirmation(), paused_at + 3 * 3_600)
            .await
            .allowed
    );

    // Meta's re-categorisation prices the template as the registry says, whatever the request says.
    ingest(&mut client, &fixture("template_category_update.completed.json")).await;
    let welcome = registry
        .get_template(pb::GetTemplateRequest {
            account_id: ACCOUNT.to_owned(),
            name: "welcome_template".to_owned(),
            language: "en-US".to_owned(),
            at: timestamp(1_746_169_200),
        })
        .await
        .expect("GetTemplate")
        .into_inner()
        .template
        .expect("a template");
    assert_eq!(welcome.category, pb::Category::Marketing as i32);

    // Meta's quality score is kept with the template, and decides nothing.
    ingest(&mut client, &fixture("message_template_quality_update.json")).await;
    let quality = registry
        .get_template(pb::GetTemplateRequest {
            account_id: ACCOUNT.to_owned(),
            name: "welcome_template".to_owned(),
            language: "en-US".to_owned(),
            at: timestamp(1_746_169_200),
        })
        .await
        .expect("GetTemplate")
        .into_inner()
        .quality_score;
    assert_eq!(quality, "YELLOW");

    // A capability update sets the messaging limit of the account's portfolio.
    ingest(&mut client, &fixture("business_capability_update.json")).await;
    let portfolio = registry
        .get_portfolio(pb::GetPortfolioRequest {
            portfolio_id: ACCOUNT.to_owned(),
            at: None,
        })
        .await
        .expect("GetPortfolio")
        .into_inner()
        .portfolio
        .expect("a portfolio");
    assert_eq!(
        portfolio.messaging_limit,
        pb::MessagingLimit::MessagingLimit2k as i32
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bsuid_only_customer_is_served_and_priced_by_its_country() {
    let server = InProcessServer::start(&["--store", "memory:"]).await;
    server.client().await;
    let mut client = server.webhook_client().await;
    let body = fixture("messages.inbound_text.username_no_phone_parent_bsuid.json");
    assert_eq!(ingest(&mut client, &body).await.applied, 1);
    let bsuid = "US.13491208655302741918";
    let decision = authorize(server.addr, bsuid, free_form(), 1_749_416_383 + 60).await;
    assert!(decision.allowed, "{decision:?}");
    let marketing = template("summer_sale", "en", pb::Category::Marketing);
    let by_bsuid = authorize(server.addr, bsuid, marketing.clone(), 1_749_416_383 + 60).await;
    let by_phone = authorize(server.addr, "16505550000", marketing, 1_749_416_383 + 60).await;
    let price = |decision: &pb::Decision| decision.charge.as_ref().and_then(|charge| charge.price.clone());
    assert!(price(&by_bsuid).is_some(), "{by_bsuid:?}");
    assert_eq!(
        price(&by_bsuid),
        price(&by_phone),
        "a US BSUID is priced as a +1 number"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_a_webhook_is_refused_and_nothing_is_applied() {
    let server = InProcessServer::start(&["--store", "memory:"]).await;
    server.client().await;
    let mut client = server.webhook_client().await;
    let mut inbound = fixture_json("messages.inbound_text.json");
    inbound["object"] = json!("page");
    let huge = vec![b' '; 5 * 1024 * 1024 + 1];
    for (body, says) in [
        (b"{\"object\": ".to_vec(), "not JSON"),
        (inbound.to_string().into_bytes(), "\"page\""),
        (b"[]".to_vec(), "not a webhook body"),
        (huge, "bytes"),
    ] {
        let status = try_ingest(&mut client, &body, "").await.expect_err("refused");
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
        assert!(status.message().contains("payload"), "{status:?}");
        assert!(status.message().contains(says), "{status:?}");
    }
    let inbound_at = inbound_timestamp("messages.inbound_text.json");
    let decision = authorize(server.addr, CUSTOMER, free_form(), inbound_at + 60).await;
    assert!(!decision.allowed, "nothing of a refused body is recorded");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_odd_item_is_named_and_the_rest_is_applied() {
    let server = InProcessServer::start(&["--store", "memory:"]).await;
    server.client().await;
    let mut client = server.webhook_client().await;
    let mut body = fixture_json("messages.inbound_text.json");
    let good = body["entry"][0]["changes"][0]["value"]["messages"][0].clone();
    let mut bad = good.clone();
    bad["from"] = json!("not-a-number");
    bad["id"] = json!("wamid.bad");
    body["entry"][0]["changes"][0]["value"]["messages"] = json!([bad, good]);
    let response = ingest(&mut client, body.to_string().as_bytes()).await;
    assert_eq!(response.applied, 1, "{response:?}");
    assert_eq!(response.errors.len(), 1, "{response:?}");
    assert_eq!(response.errors[0].path, "entry[0].changes[0].value.messages[0]");
    assert!(response.errors[0].reason.contains("from"), "{response:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_secret_requires_the_signature_of_the_exact_bytes() {
    let server =
        InProcessServer::start(&["--store", "memory:", "--webhook-app-secret", "meta-app-secret"]).await;
    server.client().await;
    let mut client = server.webhook_client().await;
    let body = fixture("messages.inbound_text.json");
    let signature = webhook_signature(b"meta-app-secret", &body);
    for wrong in ["", "sha256=00", &webhook_signature(b"another-secret", &body)] {
        let status = try_ingest(&mut client, &body, wrong).await.expect_err("refused");
        assert_eq!(
            status.code(),
            tonic::Code::Unauthenticated,
            "{wrong:?}: {status:?}"
        );
    }
    let inbound_at = inbound_timestamp("messages.inbound_text.json");
    assert!(
        !authorize(server.addr, CUSTOMER, free_form(), inbound_at + 60)
            .await
            .allowed
    );
    let response = try_ingest(&mut client, &body, &signature).await.expect("signed");
    assert_eq!(response.applied, 1);
    assert!(
        authorize(server.addr, CUSTOMER, free_form(), inbound_at + 60)
            .await
            .allowed
    );
    server.stop().await;
}

/// Every change of every body, each as a body of its own.
fn split(bodies: &[Value]) -> Vec<Value> {
    let mut parts = Vec::new();
    for body in bodies {
        for entry in body["entry"].as_array().expect("entries") {
            for change in entry["changes"].as_array().expect("changes") {
                let mut entry = entry.clone();
                entry["changes"] = json!([change]);
                parts.push(json!({"object": "whatsapp_business_account", "entry": [entry]}));
            }
        }
    }
    parts
}

/// Every change of every body in one body.
fn merge(bodies: &[Value]) -> Value {
    let entries: Vec<Value> = split(bodies)
        .into_iter()
        .map(|part| part["entry"][0].clone())
        .collect();
    json!({"object": "whatsapp_business_account", "entry": entries})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_apply_once_however_they_are_batched_and_in_any_order() {
    let names = [
        "messages.inbound_text.json",
        "messages.status_failed.131049.json",
        "user_preferences.stop.json",
        "message_template_status_update.approved.json",
        "message_template_status_update.paused_first_pause.json",
        "template_category_update.upcoming.json",
        "phone_number_quality_update.json",
    ];
    let bodies: Vec<Value> = names.iter().map(|name| fixture_json(name)).collect();
    // The approved update comes an hour before the pause, so that their order in time is known.
    let mut bodies = bodies;
    bodies[3]["entry"][0]["time"] = json!(1_751_247_548 - 3_600);

    let forward = InProcessServer::start(&["--store", "memory:"]).await;
    let backward = InProcessServer::start(&["--store", "memory:"]).await;
    for server in [&forward, &backward] {
        server.client().await;
        register_business(server.addr).await;
    }
    let mut forward_client = forward.webhook_client().await;
    let mut backward_client = backward.webhook_client().await;
    let merged = ingest(&mut forward_client, merge(&bodies).to_string().as_bytes()).await;
    assert_eq!((merged.applied, merged.errors.len()), (7, 0), "{merged:?}");
    let mut parts = split(&bodies);
    let mut duplicates = 0;
    for part in &parts {
        duplicates += ingest(&mut forward_client, part.to_string().as_bytes())
            .await
            .duplicates;
    }
    assert_eq!(duplicates, 7, "each item again, in other batches, is a duplicate");

    parts.reverse();
    let mut applied = 0;
    for part in &parts {
        applied += ingest(&mut backward_client, part.to_string().as_bytes())
            .await
            .applied;
    }
    assert_eq!(applied, 7);
    // Both orders end in the same state.
    let paused_at = 1_751_247_548;
    for at in [paused_at - 60, paused_at + 60, paused_at + 3 * 3_600] {
        let order_confirmation = template("order_confirmation", "en-US", pb::Category::Utility);
        let forward_decision = authorize(forward.addr, CUSTOMER, order_confirmation.clone(), at).await;
        let backward_decision = authorize(backward.addr, CUSTOMER, order_confirmation, at).await;
        assert_eq!(forward_decision, backward_decision, "at {at}");
        assert_eq!(
            forward_decision.allowed,
            at != paused_at + 60,
            "at {at}: {forward_decision:?}"
        );
    }
    let mut consents = Vec::new();
    for server in [&forward, &backward] {
        let consent = registry_client(server.addr)
            .await
            .get_consent(pb::GetConsentRequest {
                business_id: BUSINESS.to_owned(),
                customer_id: CUSTOMER.to_owned(),
                at: timestamp(1_800_000_000),
            })
            .await
            .expect("GetConsent")
            .into_inner();
        consents.push(consent);
    }
    assert_eq!(consents[0], consents[1]);
    assert!(
        consents[0]
            .consent
            .as_ref()
            .is_some_and(|consent| consent.marketing_stopped)
    );
    forward.stop().await;
    backward.stop().await;
}

/// Ingests one body from `TASKS` calls at once spread over the servers, and returns the sum of what
/// they applied and saw as duplicates.
async fn race(addrs: &[SocketAddr], body: &[u8]) -> (u32, u32) {
    const TASKS: usize = 8;
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let addr = addrs[task % addrs.len()];
        let body = body.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut client = webhook_client(addr).await;
            ingest(&mut client, &body).await
        }));
    }
    let mut totals = (0, 0);
    for task in tasks {
        let response = task.await.expect("an ingesting task");
        assert!(response.errors.is_empty(), "{response:?}");
        totals.0 += response.applied;
        totals.1 += response.duplicates;
    }
    totals
}

/// A body of every kind of effect, each item once.
fn racing_body() -> Vec<u8> {
    let names = [
        "messages.inbound_text.ctwa_referral.json",
        "messages.status_failed.131049.json",
        "user_preferences.resume.json",
        "message_template_status_update.approved.json",
        "template_category_update.completed.json",
        "business_capability_update.json",
    ];
    let bodies: Vec<Value> = names.iter().map(|name| fixture_json(name)).collect();
    merge(&bodies).to_string().into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_ingestions_of_one_body_apply_it_once_on_sled() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = format!("sled:{}", dir.path().join("data").display());
    let server = InProcessServer::start(&["--store", &store]).await;
    server.client().await;
    let (applied, duplicates) = race(&[server.addr], &racing_body()).await;
    assert_eq!((applied, duplicates), (6, 6 * 7));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_ingesting_one_body_at_once_apply_it_once_over_redis() {
    if !redis_harness::redis_server_available() {
        hourglass_e2e::report_skip("redis-server is not installed (apt-get install redis-server)");
        return;
    }
    let redis = RedisServer::start().expect("start redis-server");
    let replicas = [
        BinaryServer::start(&redis.url()).await,
        BinaryServer::start(&redis.url()).await,
    ];
    let addrs: Vec<SocketAddr> = replicas.iter().map(|replica| replica.addr).collect();
    let (applied, duplicates) = race(&addrs, &racing_body()).await;
    assert_eq!((applied, duplicates), (6, 6 * 7));
    // Every replica sees what either applied.
    for addr in addrs {
        let decision = authorize(addr, CUSTOMER, free_form(), 1_750_275_992 + 60).await;
        assert!(decision.allowed, "{decision:?}");
    }
}

/// Sends one HTTP/1.1 request and returns the status code and the body.
async fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    // The endpoint is bound as the server starts, which may be after its gRPC port answers.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut stream = loop {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(stream) => break stream,
            Err(error) if std::time::Instant::now() > deadline => panic!("connect to {addr}: {error}"),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    };
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write the body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_endpoint_verifies_and_ingests_as_meta_calls_it() {
    let webhook_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = InProcessServer::start(&[
        "--store",
        "memory:",
        "--webhook-listen",
        &webhook_addr.to_string(),
        "--webhook-app-secret",
        "meta-app-secret",
        "--webhook-verify-token",
        "verify-me",
    ])
    .await;
    server.client().await;

    let (status, body) = http(
        webhook_addr,
        "GET",
        "/webhook?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444",
        &[],
        b"",
    )
    .await;
    assert_eq!((status, body.as_str()), (200, "1158201444"));
    let (status, _) = http(
        webhook_addr,
        "GET",
        "/webhook?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444",
        &[],
        b"",
    )
    .await;
    assert_eq!(status, 403);

    let body = fixture("messages.inbound_text.ctwa_referral.json");
    let signature = webhook_signature(b"meta-app-secret", &body);
    let (status, _) = http(webhook_addr, "POST", "/webhook", &[], &body).await;
    assert_eq!(status, 401, "unsigned");
    let (status, _) = http(
        webhook_addr,
        "POST",
        "/webhook",
        &[("x-hub-signature-256", "sha256=00")],
        &body,
    )
    .await;
    assert_eq!(status, 401, "wrongly signed");
    let signed = [
        ("x-hub-signature-256", signature.as_str()),
        ("content-type", "application/json"),
    ];
    let (status, answer) = http(webhook_addr, "POST", "/webhook", &signed, &body).await;
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).expect("a JSON summary");
    assert_eq!(answer["applied"], 1);
    let (status, answer) = http(webhook_addr, "POST", "/", &signed, &body).await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&answer).expect("JSON")["duplicates"],
        1
    );
    let not_json = b"{\"object\":";
    let bad_signature = webhook_signature(b"meta-app-secret", not_json);
    let (status, _) = http(
        webhook_addr,
        "POST",
        "/webhook",
        &[("x-hub-signature-256", &bad_signature)],
        not_json,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        authorize(server.addr, CUSTOMER, free_form(), 1_750_275_992 + 60)
            .await
            .allowed
    );
    server.stop().await;
}

/// Records an outbound template for Meta's example customer, with the message id `id`.
async fn record_template(
    addr: SocketAddr,
    id: &str,
    name: &str,
    category: pb::Category,
    at: i64,
) -> pb::Decision {
    connect(addr)
        .await
        .record_message(pb::RecordMessageRequest {
            business_id: BUSINESS.to_owned(),
            customer_id: CUSTOMER.to_owned(),
            message_id: id.to_owned(),
            at: timestamp(at),
            direction: Some(pb::record_message_request::Direction::Outbound(template(
                name, "en", category,
            ))),
        })
        .await
        .expect("RecordMessage")
        .into_inner()
        .decision
        .expect("a decision")
}

/// A status fixture about the message `id` instead of Meta's example id, at `at` (seconds).
fn status_of(name: &str, id: &str, at: i64) -> Vec<u8> {
    let mut body = fixture_json(name);
    let status = &mut body["entry"][0]["changes"][0]["value"]["statuses"][0];
    status["id"] = json!(id);
    status["timestamp"] = json!(at.to_string());
    body.to_string().into_bytes()
}

async fn put_template(addr: SocketAddr, name: &str, category: pb::Category) {
    registry_client(addr)
        .await
        .put_template(pb::PutTemplateRequest {
            account_id: ACCOUNT.to_owned(),
            name: name.to_owned(),
            language: "en".to_owned(),
            status: pb::TemplateStatus::Approved as i32,
            category: category as i32,
            effective_at: timestamp(0),
            paused_until: None,
        })
        .await
        .expect("PutTemplate");
}

/// Records templates, ingests Meta's statuses of them (in any order, twice), and reads back the
/// reconciliation, the delivery rates and the templates that failed statuses paused and disabled.
async fn statuses_reconcile_with_predictions(store: &str) {
    let server = InProcessServer::start(&["--store", store]).await;
    server.client().await;
    register_business(server.addr).await;
    for name in ["order_update", "promo", "renewal"] {
        let category = match name {
            "promo" => pb::Category::Marketing,
            _ => pb::Category::Utility,
        };
        put_template(server.addr, name, category).await;
    }
    let sent_at = 1_750_030_000;
    for (id, name, category) in [
        ("wamid.update", "order_update", pb::Category::Utility),
        ("wamid.promo", "promo", pb::Category::Marketing),
        ("wamid.renewal", "renewal", pb::Category::Utility),
        ("wamid.pending", "order_update", pb::Category::Utility),
    ] {
        let decision = record_template(server.addr, id, name, category, sent_at).await;
        assert!(decision.allowed, "{id}: {decision:?}");
    }
    let mut client = server.webhook_client().await;
    // Meta prices the utility template as marketing; the read comes before the delivery, and both
    // before the sent status; every body goes twice.
    let bodies = [
        status_of("messages.status_read.json", "wamid.update", sent_at + 30),
        status_of("messages.status_delivered.json", "wamid.update", sent_at + 20),
        status_of(
            "messages.status_sent.with_conversation_and_pricing.json",
            "wamid.update",
            sent_at + 10,
        ),
        // The marketing template agrees with Meta.
        status_of(
            "messages.status_sent.with_conversation_and_pricing.json",
            "wamid.promo",
            sent_at + 10,
        ),
        // Meta refused the renewal: its template is paused.
        status_of(
            "messages.status_failed.132015.json",
            "wamid.renewal",
            sent_at + 10,
        ),
        // A status of a message never recorded here.
        status_of("messages.status_delivered.json", "wamid.elsewhere", sent_at + 40),
    ];
    for body in &bodies {
        let first = ingest(&mut client, body).await;
        assert!(first.errors.is_empty(), "{first:?}");
        let again = ingest(&mut client, body).await;
        assert_eq!(again.applied, 0, "{again:?}");
    }

    let mut usage = usage_client(server.addr).await;
    let period = |account: &str| pb::GetReconciliationRequest {
        account_id: account.to_owned(),
        start: timestamp(sent_at - 86_400),
        end: timestamp(sent_at + 86_400),
    };
    let report = usage
        .get_reconciliation(period(ACCOUNT))
        .await
        .expect("GetReconciliation")
        .into_inner();
    assert_eq!(
        (
            report.matched,
            report.mismatched,
            report.pending,
            report.failed,
            report.unmatched
        ),
        (1, 1, 1, 1, 1),
        "{report:?}"
    );
    assert_eq!(
        (
            report.category_differs,
            report.pricing_type_differs,
            report.billable_differs
        ),
        (1, 0, 0)
    );
    let mismatched = report
        .discrepancies
        .iter()
        .find(|discrepancy| discrepancy.message_id == "wamid.update")
        .expect("the mismatched message is listed");
    let predicted = mismatched.predicted.as_ref().expect("a prediction");
    assert_eq!(predicted.category, pb::Category::Utility as i32);
    assert_eq!(predicted.template_name, "order_update");
    let reported = mismatched.reported.as_ref().expect("Meta's report");
    assert_eq!(reported.category, "marketing");
    assert_eq!(reported.sent_at, timestamp(sent_at + 10));
    assert_eq!(reported.read_at, timestamp(sent_at + 30));
    let unmatched = report
        .discrepancies
        .iter()
        .find(|discrepancy| discrepancy.message_id == "wamid.elsewhere")
        .expect("the unmatched status is listed");
    assert!(unmatched.predicted.is_none());

    let stats = usage
        .get_delivery_stats(pb::GetDeliveryStatsRequest {
            account_id: ACCOUNT.to_owned(),
            start: timestamp(sent_at - 86_400),
            end: timestamp(sent_at + 86_400),
        })
        .await
        .expect("GetDeliveryStats")
        .into_inner();
    let row = |name: &str| {
        stats
            .rows
            .iter()
            .find(|row| row.template_name == name)
            .unwrap_or_else(|| panic!("a row for {name:?}: {stats:?}"))
    };
    let update = row("order_update");
    assert_eq!(
        (update.recorded, update.sent, update.delivered, update.read),
        (2, 1, 1, 1)
    );
    assert!((update.delivery_rate - 1.0).abs() < f64::EPSILON);
    assert_eq!((row("renewal").failed, row("renewal").delivery_rate), (1, 0.0));
    assert_eq!(row("").delivered, 1, "the message recorded elsewhere");

    // The failed status paused the renewal template for Meta's first pause, from the status.
    let decision = authorize(
        server.addr,
        CUSTOMER,
        template("renewal", "en", pb::Category::Utility),
        sent_at + 60,
    )
    .await;
    assert_eq!(
        deny_reason(&decision),
        pb::DenyReason::TemplatePaused,
        "{decision:?}"
    );
    assert!(
        authorize(
            server.addr,
            CUSTOMER,
            template("renewal", "en", pb::Category::Utility),
            sent_at + 10 + 3 * 3_600,
        )
        .await
        .allowed
    );

    // A period of another account, or without an end, is read as asked or refused by field.
    let other = usage
        .get_reconciliation(period("999"))
        .await
        .expect("GetReconciliation")
        .into_inner();
    assert_eq!(other, pb::GetReconciliationResponse::default());
    let status = usage
        .get_reconciliation(pb::GetReconciliationRequest {
            end: None,
            ..period(ACCOUNT)
        })
        .await
        .expect_err("no end");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("end"), "{status:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_reconcile_with_predictions_on_memory() {
    statuses_reconcile_with_predictions("memory:").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_reconcile_with_predictions_on_sled() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    statuses_reconcile_with_predictions(&format!("sled:{}", dir.path().join("data").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_template_is_learnt_from_a_failed_status() {
    let server = InProcessServer::start(&["--store", "memory:"]).await;
    server.client().await;
    register_business(server.addr).await;
    put_template(server.addr, "renewal", pb::Category::Utility).await;
    let sent_at = 1_750_030_000;
    record_template(
        server.addr,
        "wamid.renewal",
        "renewal",
        pb::Category::Utility,
        sent_at,
    )
    .await;
    let mut client = server.webhook_client().await;
    let body = status_of(
        "messages.status_failed.132016.json",
        "wamid.renewal",
        sent_at + 10,
    );
    assert_eq!(ingest(&mut client, &body).await.applied, 1);
    let decision = authorize(
        server.addr,
        CUSTOMER,
        template("renewal", "en", pb::Category::Utility),
        sent_at + 30 * 86_400,
    )
    .await;
    assert_eq!(
        deny_reason(&decision),
        pb::DenyReason::TemplateDisabled,
        "{decision:?}"
    );
    assert_eq!(decision.meta_error_code, 132_016);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_number_and_a_bsuid_linked_are_one_customer() {
    const BSUID: &str = "US.13491208655302741918";
    const NEW_NUMBER: &str = "12195555358";
    let server = InProcessServer::start(&["--store", "memory:"]).await;
    server.client().await;
    let mut client = server.webhook_client().await;
    // The customer writes with a username, so Meta names them by BSUID alone.
    let written_at = inbound_timestamp("messages.inbound_text.username_no_phone_parent_bsuid.json");
    ingest(
        &mut client,
        &fixture("messages.inbound_text.username_no_phone_parent_bsuid.json"),
    )
    .await;
    let reply_at = written_at + 3_600;
    assert!(authorize(server.addr, BSUID, free_form(), reply_at).await.allowed);
    let decision = authorize(server.addr, CUSTOMER, free_form(), reply_at).await;
    assert_eq!(
        deny_reason(&decision),
        pb::DenyReason::OutsideCustomerServiceWindow,
        "the phone number is another thread until the two are linked"
    );

    let mut registry = registry_client(server.addr).await;
    let link = |phone: &str, bsuid: &str| pb::LinkCustomerRequest {
        business_id: BUSINESS.to_owned(),
        phone: phone.to_owned(),
        bsuid: bsuid.to_owned(),
        at: None,
    };
    let linked = registry
        .link_customer(link(CUSTOMER, BSUID))
        .await
        .expect("LinkCustomer")
        .into_inner();
    assert_eq!(
        linked,
        pb::LinkCustomerResponse {
            linked: true,
            customer_id: CUSTOMER.to_owned()
        }
    );
    assert!(
        authorize(server.addr, CUSTOMER, free_form(), reply_at)
            .await
            .allowed
    );
    assert!(authorize(server.addr, BSUID, free_form(), reply_at).await.allowed);
    let again = registry
        .link_customer(link(CUSTOMER, BSUID))
        .await
        .expect("LinkCustomer")
        .into_inner();
    assert!(!again.linked, "linking again changes nothing");
    let status = registry
        .link_customer(link(BSUID, CUSTOMER))
        .await
        .expect_err("the ids swapped");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("`phone`"), "{status:?}");

    // The same customer's consent, recorded under either id, is one.
    ingest(&mut client, &fixture("user_preferences.stop.json")).await;
    let stop = fixture_json("user_preferences.stop.json");
    let stopped_at = stop["entry"][0]["changes"][0]["value"]["user_preferences"][0]["timestamp"]
        .as_i64()
        .expect("a numeric timestamp");
    let marketing = template("summer_sale", "en", pb::Category::Marketing);
    let decision = authorize(server.addr, BSUID, marketing, stopped_at + 60).await;
    assert_eq!(
        deny_reason(&decision),
        pb::DenyReason::MarketingStopped,
        "{decision:?}"
    );

    // Meta says the customer's BSUID changed, naming no phone number: the new BSUID leads to the
    // thread the old one did.
    let new_bsuid = "US.98765432109876543210";
    let changed = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": ACCOUNT, "changes": [{"field": "messages", "value": {
            "metadata": {"phone_number_id": BUSINESS},
            "messages": [{"id": "wamid.bsuid-change", "timestamp": "1749416400", "type": "system",
                "system": {"type": "user_changed_user_id", "user_id": new_bsuid,
                    "previous_user_id": BSUID}}]
        }}]}]
    });
    let applied = ingest(&mut client, changed.to_string().as_bytes()).await;
    assert_eq!(applied.applied, 1, "{applied:?}");
    assert!(
        authorize(server.addr, new_bsuid, free_form(), reply_at)
            .await
            .allowed
    );

    // Meta says the customer changed number: the window and the BSUID follow them to the new one, and
    // the old number, which may go to somebody else, keeps nothing.
    let moved = ingest(&mut client, &fixture("messages.system_user_changed_number.json")).await;
    assert_eq!(moved.applied, 1, "{moved:?}");
    assert!(
        authorize(server.addr, NEW_NUMBER, free_form(), reply_at)
            .await
            .allowed
    );
    assert!(authorize(server.addr, BSUID, free_form(), reply_at).await.allowed);
    let decision = authorize(server.addr, CUSTOMER, free_form(), reply_at).await;
    assert_eq!(
        deny_reason(&decision),
        pb::DenyReason::OutsideCustomerServiceWindow
    );
    let again = ingest(&mut client, &fixture("messages.system_user_changed_number.json")).await;
    assert_eq!((again.applied, again.duplicates), (0, 1));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meta_tier_updates_are_kept_for_reconciliation() {
    let server = InProcessServer::start(&["--store", "memory:"]).await;
    server.client().await;
    let mut client = server.webhook_client().await;
    let name = "account_update.volume_based_pricing_tier_update.json";
    assert_eq!(ingest(&mut client, &fixture(name)).await.applied, 1);
    // A later duplicate, with the region in capitals, does not count; an earlier one does.
    let mut body = fixture_json(name);
    let info = &mut body["entry"][0]["changes"][0]["value"]["volume_tier_info"];
    info["region"] = json!("INDIA");
    info["tier"] = json!("50000001:");
    info["tier_update_time"] = json!(1_743_451_999);
    let later = ingest(&mut client, body.to_string().as_bytes()).await;
    assert_eq!((later.applied, later.duplicates), (0, 1), "{later:?}");
    let info = &mut body["entry"][0]["changes"][0]["value"]["volume_tier_info"];
    info["tier"] = json!("1:25000000");
    info["tier_update_time"] = json!(1_743_451_000);
    assert_eq!(ingest(&mut client, body.to_string().as_bytes()).await.applied, 1);
    // Meta's first authentication tier in India: the card's INR ladder, nothing counted yet.
    let info = &mut body["entry"][0]["changes"][0]["value"]["volume_tier_info"];
    info["pricing_category"] = json!("AUTHENTICATION");
    info["tier"] = json!("0:750000");
    assert_eq!(ingest(&mut client, body.to_string().as_bytes()).await.applied, 1);

    let mut usage = usage_client(server.addr).await;
    let month = |start: &str, end: &str| pb::GetReconciliationRequest {
        account_id: ACCOUNT.to_owned(),
        start: Some(start.parse().expect("a timestamp")),
        end: Some(end.parse().expect("a timestamp")),
    };
    let november = usage
        .get_reconciliation(month("2025-11-01T00:00:00Z", "2025-12-01T00:00:00Z"))
        .await
        .expect("GetReconciliation")
        .into_inner();
    assert_eq!(november.meta_tiers.len(), 2, "{november:?}");
    let authentication = november
        .meta_tiers
        .iter()
        .find(|tier| tier.category == "AUTHENTICATION")
        .expect("the authentication tier");
    assert_eq!(
        (
            authentication.hourglass_tier.as_str(),
            authentication.hourglass_count,
            authentication.matches
        ),
        ("1:750000", 0, true),
        "Hourglass's count beside Meta's tier"
    );
    let tier = november
        .meta_tiers
        .iter()
        .find(|tier| tier.category == "UTILITY")
        .expect("the utility tier");
    assert_eq!(
        (tier.hourglass_tier.as_str(), tier.matches),
        ("", false),
        "the card has no utility ladder in India"
    );
    assert_eq!(
        (
            tier.market.as_str(),
            tier.category.as_str(),
            tier.effective_month.as_str(),
            tier.tier.as_str()
        ),
        ("INDIA", "UTILITY", "2025-11", "1:25000000")
    );
    assert_eq!(tier.updated_at, timestamp(1_743_451_000));
    let december = usage
        .get_reconciliation(month("2025-12-01T00:00:00Z", "2025-12-31T00:00:00Z"))
        .await
        .expect("GetReconciliation")
        .into_inner();
    assert!(december.meta_tiers.is_empty(), "{december:?}");
    server.stop().await;
}
