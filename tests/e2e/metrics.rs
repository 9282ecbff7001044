//! Prometheus metrics of the real binary (`--metrics-listen`): after a known mix of calls (recorded
//! messages both ways, authorizations allowed and denied, a rejected request, a webhook body, a
//! SIGHUP), the scrape holds each series with the count of what was done, and no label value in it is
//! an id, a template or a message the test sent.
//!
//! The binary runs in its own process, so the counts are this test's alone (the `metrics` recorder is
//! one per process).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hourglass_e2e::{BinaryServer, connect, free_port, webhook_client};
use hourglass_proto::v1 as pb;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const BUSINESS: &str = "106540352242922";
const ACCOUNT: &str = "102290129340398";
/// The customer of `tests/webhooks/messages.inbound_text.json`.
const WEBHOOK_CUSTOMER: &str = "16505551234";
const WEBHOOK_MESSAGE: &str = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=";
const REPLIED: &str = "919800000001";
const MARKETED: &str = "919800000002";
const STRANGER: &str = "919800000003";
const TEMPLATE: &str = "spring_sale_2026";

fn template() -> pb::OutboundMessage {
    pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::Template(pb::Template {
            name: TEMPLATE.to_owned(),
            language: "en".to_owned(),
            category: pb::Category::Marketing as i32,
        })),
    }
}

fn free_form() -> pb::OutboundMessage {
    pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::FreeForm(pb::FreeForm {})),
    }
}

fn timestamp(text: &str) -> Option<prost_types::Timestamp> {
    Some(text.parse().expect("a timestamp"))
}

/// Scrapes `GET /metrics` and returns the status code, the content-type and the body.
async fn scrape(addr: SocketAddr) -> (u16, String, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(stream) => break stream,
            Err(error) if Instant::now() > deadline => panic!("connect to {addr}: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let request = format!("GET /metrics HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8(response).expect("the scrape is UTF-8");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head:?}"));
    let content_type = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, body.to_owned())
}

/// A scrape's samples: each series (`name{labels}`) with its value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample is a series and a value");
            let value = value.parse().unwrap_or_else(|_| panic!("a number in {line:?}"));
            (series.to_owned(), value)
        })
        .collect()
}

/// Returns every label value of a scrape.
fn label_values(text: &str) -> Vec<String> {
    let mut values = Vec::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let Some((_, labels)) = line.split_once('{') else {
            continue;
        };
        let labels = labels.rsplit_once('}').expect("labels end with }").0;
        let mut rest = labels;
        while let Some((_, after)) = rest.split_once("=\"") {
            let end = after.find('"').expect("a label value ends with a quote");
            values.push(after[..end].to_owned());
            rest = &after[end + 1..];
        }
    }
    values
}

/// Returns the value of a series that must be in the scrape.
#[track_caller]
fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples.get(series).unwrap_or_else(|| {
        let names: Vec<&String> = samples.keys().collect();
        panic!("{series} is not in the scrape: {names:#?}")
    })
}

fn nanos(money: &pb::Money) -> i128 {
    i128::from(money.units) * 1_000_000_000 + i128::from(money.nanos)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrape_counts_what_was_done_and_names_no_one() {
    let metrics_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = BinaryServer::start_with("memory:", &["--metrics-listen", &metrics_addr.to_string()]).await;
    let mut client = connect(server.addr).await;
    let at = |time: &str| timestamp(&format!("2026-11-15T{time}Z"));

    // RecordMessage: an inbound message, the reply in its window, a marketing template elsewhere.
    let record = |customer: &str, message_id: &str, time: &str, direction| pb::RecordMessageRequest {
        business_id: BUSINESS.to_owned(),
        customer_id: customer.to_owned(),
        message_id: message_id.to_owned(),
        at: at(time),
        direction: Some(direction),
    };
    use pb::record_message_request::Direction;
    let mut answers = Vec::new();
    for request in [
        record(
            REPLIED,
            "wamid.metrics.in.1",
            "12:00:00",
            Direction::Inbound(pb::Inbound::default()),
        ),
        record(
            REPLIED,
            "wamid.metrics.out.1",
            "12:01:00",
            Direction::Outbound(free_form()),
        ),
        record(
            MARKETED,
            "wamid.metrics.out.2",
            "12:02:00",
            Direction::Outbound(template()),
        ),
    ] {
        answers.push(
            client
                .record_message(request)
                .await
                .expect("RecordMessage")
                .into_inner(),
        );
    }
    let marketing = answers[2]
        .decision
        .clone()
        .expect("an outbound message is decided");
    assert!(marketing.allowed, "{marketing:?}");
    let charge = marketing.charge.clone().expect("an allowed message has a charge");
    assert_eq!(charge.category, pb::Category::Marketing as i32);
    assert_eq!(charge.pricing_type, pb::PricingType::Regular as i32);
    // What the recorded messages cost, by currency, as the answers said.
    let mut charged: BTreeMap<String, (u64, i128)> = BTreeMap::new();
    for answer in &answers {
        let price = answer
            .decision
            .as_ref()
            .and_then(|decision| decision.charge.as_ref())
            .and_then(|charge| charge.price.as_ref());
        if let Some(price) = price.filter(|price| nanos(price) > 0) {
            let entry = charged.entry(price.currency_code.clone()).or_default();
            entry.0 += 1;
            entry.1 += nanos(price);
        }
    }
    assert!(
        !charged.is_empty(),
        "the marketing template has a price: {answers:?}"
    );

    // Authorize: one allowed, one denied outside the customer service window.
    let authorize = |customer: &str, message| pb::AuthorizeRequest {
        business_id: BUSINESS.to_owned(),
        customer_id: customer.to_owned(),
        message: Some(message),
        at: at("12:03:00"),
    };
    let allowed = client
        .authorize(authorize(MARKETED, template()))
        .await
        .expect("Authorize")
        .into_inner()
        .decision
        .expect("a decision");
    assert!(allowed.allowed, "{allowed:?}");
    let denied = client
        .authorize(authorize(STRANGER, free_form()))
        .await
        .expect("Authorize")
        .into_inner()
        .decision
        .expect("a decision");
    assert_eq!(
        denied.deny_reason,
        pb::DenyReason::OutsideCustomerServiceWindow as i32,
        "{denied:?}"
    );

    // A request rejected before any store call.
    let rejected = client
        .record_message(record(
            "not a phone number",
            "wamid.metrics.bad",
            "12:04:00",
            Direction::Outbound(free_form()),
        ))
        .await
        .expect_err("an invalid customer id");
    assert_eq!(rejected.code(), tonic::Code::InvalidArgument);

    // A webhook body with one inbound message.
    let payload = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/webhooks/messages.inbound_text.json"),
    )
    .expect("read the webhook fixture");
    let ingested = webhook_client(server.addr)
        .await
        .ingest_webhook(pb::IngestWebhookRequest {
            payload,
            signature: String::new(),
        })
        .await
        .expect("IngestWebhook")
        .into_inner();
    assert_eq!(ingested.applied, 1, "{ingested:?}");

    let (status, content_type, text) = scrape(metrics_addr).await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let found = samples(&text);
    let policy = "hourglass.v1.PolicyService";
    let calls = |method: &str, code: &str| {
        value(
            &found,
            &format!(r#"hourglass_grpc_requests_total{{method="{policy}/{method}",code="{code}"}}"#),
        )
    };
    // Each call is counted once, with the code it was answered.
    assert_eq!(calls("RecordMessage", "OK"), 3.0, "{text}");
    assert_eq!(calls("RecordMessage", "INVALID_ARGUMENT"), 1.0, "{text}");
    assert_eq!(calls("Authorize", "OK"), 2.0, "{text}");
    assert_eq!(
        value(
            &found,
            r#"hourglass_grpc_requests_total{method="hourglass.v1.WebhookService/IngestWebhook",code="OK"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &found,
            &format!(r#"hourglass_grpc_request_duration_seconds_count{{method="{policy}/RecordMessage"}}"#)
        ),
        4.0,
        "the latency of every RecordMessage, the rejected one included"
    );
    assert!(
        value(
            &found,
            &format!(
                r#"hourglass_grpc_request_duration_seconds_bucket{{method="{policy}/Authorize",le="+Inf"}}"#
            )
        ) == 2.0
    );

    // Decisions by outcome and reason, and the charge by currency.
    assert_eq!(
        value(
            &found,
            r#"hourglass_decisions_total{method="Authorize",outcome="denied",deny_reason="outside_customer_service_window",category="none",pricing_type="none"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &found,
            r#"hourglass_decisions_total{method="Authorize",outcome="allowed",deny_reason="none",category="marketing",pricing_type="regular"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &found,
            r#"hourglass_decisions_total{method="RecordMessage",outcome="allowed",deny_reason="none",category="marketing",pricing_type="regular"}"#
        ),
        1.0
    );
    for (currency, (count, amount)) in &charged {
        assert_eq!(
            value(
                &found,
                &format!(r#"hourglass_charged_messages_total{{currency="{currency}"}}"#)
            ),
            *count as f64
        );
        assert_eq!(
            value(
                &found,
                &format!(r#"hourglass_charged_amount_nanos_total{{currency="{currency}"}}"#)
            ),
            *amount as f64
        );
    }

    // The webhook item, the store, health and the rate card.
    assert_eq!(
        value(
            &found,
            r#"hourglass_webhook_items_total{field="messages",outcome="applied"}"#
        ),
        1.0
    );
    assert!(
        value(
            &found,
            r#"hourglass_store_call_duration_seconds_count{operation="commit",outcome="ok"}"#
        ) >= 4.0,
        "every recorded message commits: {text}"
    );
    assert!(
        !found
            .keys()
            .any(|series| series.starts_with("hourglass_store_errors_total")),
        "{text}"
    );
    assert_eq!(value(&found, "hourglass_store_timeouts_total"), 0.0);
    assert_eq!(value(&found, "hourglass_serving"), 1.0);
    assert_eq!(value(&found, "hourglass_rate_card_revision"), 1.0);
    assert_eq!(
        value(&found, r#"hourglass_rate_card_reloads_total{outcome="ok"}"#),
        0.0
    );

    // No label value names anyone or anything the test sent.
    let personal = [
        BUSINESS,
        ACCOUNT,
        WEBHOOK_CUSTOMER,
        WEBHOOK_MESSAGE,
        REPLIED,
        MARKETED,
        STRANGER,
        TEMPLATE,
        "wamid.metrics.in.1",
        "wamid.metrics.out.1",
        "wamid.metrics.out.2",
        "wamid.metrics.bad",
        "not a phone number",
    ];
    let values = label_values(&text);
    assert!(values.len() > 20, "the scrape has labels: {values:?}");
    for value in &values {
        for id in personal {
            assert!(
                !value.contains(id),
                "the label value {value:?} names {id:?}:\n{text}"
            );
        }
    }

    // A SIGHUP reloads the (built-in) rate card: the reload is counted and the revision moves on.
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -HUP failed");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = samples(&scrape(metrics_addr).await.2);
        if found.get(r#"hourglass_rate_card_reloads_total{outcome="ok"}"#) == Some(&1.0) {
            assert_eq!(value(&found, "hourglass_rate_card_revision"), 2.0);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the reload was not counted within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
