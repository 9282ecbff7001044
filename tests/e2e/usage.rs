//! `UsageService/EstimateCost` over gRPC: lines by market or customer, volume ladders crossed at the
//! exact message, totals per currency, and bad requests refused by field.

use hourglass_e2e::{InProcessServer, usage_client};
use hourglass_proto::v1 as pb;

fn line(market: &str, customer_id: &str, category: pb::Category, count: u64) -> pb::EstimateLine {
    pb::EstimateLine {
        market: market.to_owned(),
        customer_id: customer_id.to_owned(),
        category: category as i32,
        count,
    }
}

fn amount(money: Option<&pb::Money>) -> (String, i64, i32) {
    let money = money.expect("an amount");
    (money.currency_code.clone(), money.units, money.nanos)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimates_cross_volume_ladders_and_total_per_currency() {
    let server = InProcessServer::start(&["--store", "memory:"]).await;
    server.client().await;
    let mut usage = usage_client(server.addr).await;
    let at = Some("2026-11-15T12:00:00Z".parse().expect("a timestamp"));
    let estimate = usage
        .estimate_cost(pb::EstimateCostRequest {
            account_id: String::new(),
            at,
            lines: vec![
                line("India", "", pb::Category::Authentication, 1_000_000),
                line("", "14155550100", pb::Category::Utility, 10),
            ],
        })
        .await
        .expect("EstimateCost")
        .into_inner();
    let india = &estimate.lines[0];
    assert_eq!(india.pricing_model, pb::PricingModel::PerMessage as i32);
    let split: Vec<(u64, u64)> = india.tiers.iter().map(|tier| (tier.from, tier.count)).collect();
    assert_eq!(split, [(1, 750_000), (750_001, 250_000)], "{india:?}");
    // 750,000 at 0.1150 and 250,000 at 0.1081.
    assert_eq!(amount(india.cost.as_ref()), ("INR".to_owned(), 113_275, 0));
    let america = &estimate.lines[1];
    assert_eq!(america.market, "North America");
    assert_eq!(america.tiers.len(), 1);
    assert_eq!(amount(america.cost.as_ref()).0, "USD");
    assert_eq!(estimate.totals.len(), 2, "INR and USD");
    assert!(estimate.total.is_none(), "no one total of two currencies");

    let one = usage
        .estimate_cost(pb::EstimateCostRequest {
            account_id: String::new(),
            at,
            lines: vec![line("India", "", pb::Category::Service, 4)],
        })
        .await
        .expect("EstimateCost")
        .into_inner();
    assert_eq!(one.total, one.totals.first().cloned());

    let refused = |lines: Vec<pb::EstimateLine>, account_id: &str| {
        let mut usage = usage.clone();
        let account_id = account_id.to_owned();
        async move {
            usage
                .estimate_cost(pb::EstimateCostRequest {
                    account_id,
                    at,
                    lines,
                })
                .await
                .expect_err("refused")
        }
    };
    let status = refused(
        vec![
            line("India", "", pb::Category::Utility, 1),
            line("Atlantis", "", pb::Category::Utility, 1),
        ],
        "",
    )
    .await;
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("line 2"), "{status:?}");
    let status = refused(vec![line("India", "919800000001", pb::Category::Utility, 1)], "").await;
    assert!(status.message().contains("either"), "{status:?}");
    let status = refused(Vec::new(), "").await;
    assert!(status.message().contains("`lines`"), "{status:?}");
    let status = refused(vec![line("India", "", pb::Category::Utility, 1)], "waba-unknown").await;
    assert_eq!(status.code(), tonic::Code::NotFound);
    server.stop().await;
}

/// A campaign to 260 customers of a portfolio limited to 250, with one customer twice: the batch says
/// what sending them one by one then says.
async fn a_batch_equals_the_sequence_of_single_calls_on(store: &str) {
    const BUSINESS: &str = "106540352242922";
    let server = InProcessServer::start(&["--store", store]).await;
    let mut client = server.client().await;
    let mut registry = hourglass_e2e::registry_client(server.addr).await;
    let since = Some(prost_types::Timestamp { seconds: 0, nanos: 0 });
    registry
        .put_portfolio(pb::PutPortfolioRequest {
            portfolio_id: "portfolio-1".to_owned(),
            messaging_limit: pb::MessagingLimit::MessagingLimit250 as i32,
            effective_at: since,
        })
        .await
        .expect("PutPortfolio");
    registry
        .put_account(pb::PutAccountRequest {
            account_id: "waba-1".to_owned(),
            portfolio_id: "portfolio-1".to_owned(),
            effective_at: since,
            ..Default::default()
        })
        .await
        .expect("PutAccount");
    registry
        .put_business(pb::PutBusinessRequest {
            business_id: BUSINESS.to_owned(),
            account_id: "waba-1".to_owned(),
            effective_at: since,
        })
        .await
        .expect("PutBusiness");
    let mut customers: Vec<String> = (0..260).map(|n| format!("9198{n:08}")).collect();
    customers.insert(3, customers[0].clone());
    let message = || pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::Template(pb::Template {
            name: "order_update".to_owned(),
            language: "en".to_owned(),
            category: pb::Category::Utility as i32,
        })),
    };
    let at = Some("2026-11-15T12:00:00Z".parse().expect("a timestamp"));
    let started = std::time::Instant::now();
    let batch = client
        .authorize_batch(pb::AuthorizeBatchRequest {
            business_id: BUSINESS.to_owned(),
            message: Some(message()),
            at,
            customer_ids: customers.clone(),
        })
        .await
        .expect("AuthorizeBatch")
        .into_inner();
    eprintln!(
        "AuthorizeBatch of {} customers on {store}: {:?}",
        customers.len(),
        started.elapsed()
    );
    assert_eq!(batch.results.len(), customers.len());
    assert_eq!(batch.allowed, 251, "250 customers, one of them twice");
    assert_eq!(
        batch.denied,
        [pb::DenyCount {
            reason: pb::DenyReason::MessagingLimit as i32,
            count: 10
        }]
    );
    let total = batch.total_cost.clone().expect("one currency");
    assert_eq!(batch.total_costs, std::slice::from_ref(&total));

    // Now send them, one by one, in the same order: every answer is the batch's.
    for (n, (customer, predicted)) in customers.iter().zip(&batch.results).enumerate() {
        assert_eq!(&predicted.customer_id, customer);
        let answer = client
            .record_message(pb::RecordMessageRequest {
                business_id: BUSINESS.to_owned(),
                customer_id: customer.clone(),
                message_id: format!("campaign-{n}"),
                at,
                direction: Some(pb::record_message_request::Direction::Outbound(message())),
            })
            .await
            .expect("RecordMessage")
            .into_inner();
        let mut sent = answer.decision.expect("a decision");
        if let Some(conversation) = sent
            .charge
            .as_mut()
            .and_then(|charge| charge.conversation.as_mut())
        {
            conversation.id.clear();
        }
        assert_eq!(Some(&sent), predicted.decision.as_ref(), "customer {n}");
    }
    let status = client
        .authorize_batch(pb::AuthorizeBatchRequest {
            business_id: BUSINESS.to_owned(),
            message: Some(message()),
            at,
            customer_ids: vec!["919800000001".to_owned(), "not a number".to_owned()],
        })
        .await
        .expect_err("a bad customer");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("customer 2"), "{status:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_equals_the_sequence_of_single_calls_on_memory() {
    a_batch_equals_the_sequence_of_single_calls_on("memory:").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_equals_the_sequence_of_single_calls_on_sled() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    a_batch_equals_the_sequence_of_single_calls_on(&format!("sled:{}", dir.path().join("data").display()))
        .await;
}

/// Usage is the exact sum of the answered prices, by day of the account's zone and category, and a
/// message Meta reports failed leaves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_sums_the_answered_prices_exactly() {
    use std::collections::BTreeMap;

    const BUSINESS: &str = "106540352242922";
    let server = InProcessServer::start(&["--store", "memory:"]).await;
    let mut client = server.client().await;
    let account = pb::PutAccountRequest {
        account_id: "waba-1".to_owned(),
        time_zone: "Asia/Kolkata".to_owned(),
        ..Default::default()
    };
    hourglass_e2e::register(server.addr, account, BUSINESS).await;
    let categories = [
        pb::Category::Marketing,
        pb::Category::Utility,
        pb::Category::Authentication,
    ];
    // 2026-11-30T16:00:00Z, then every 7 minutes for 90 messages: across midnight in Kolkata.
    let first = 1_796_054_400;
    let mut answered: BTreeMap<(i64, i32), (u64, i128)> = BTreeMap::new();
    for n in 0..90_i64 {
        let seconds = first + n * 420;
        let category = categories[(n as usize * 7) % 3];
        let answer = client
            .record_message(pb::RecordMessageRequest {
                business_id: BUSINESS.to_owned(),
                customer_id: format!("9198{:08}", n % 13),
                message_id: format!("usage-{n}"),
                at: Some(prost_types::Timestamp { seconds, nanos: 0 }),
                direction: Some(pb::record_message_request::Direction::Outbound(
                    pb::OutboundMessage {
                        kind: Some(pb::outbound_message::Kind::Template(pb::Template {
                            name: "offer".to_owned(),
                            language: "en".to_owned(),
                            category: category as i32,
                        })),
                    },
                )),
            })
            .await
            .expect("RecordMessage")
            .into_inner();
        let price = answer
            .decision
            .and_then(|decision| decision.charge)
            .and_then(|charge| charge.price)
            .expect("a price");
        // Kolkata is UTC+05:30: its day begins at 18:30Z the day before.
        let day = (seconds + 19_800).div_euclid(86_400);
        let entry = answered.entry((day, category as i32)).or_default();
        entry.0 += 1;
        entry.1 += i128::from(price.units) * 1_000_000_000 + i128::from(price.nanos);
    }
    let mut usage = usage_client(server.addr).await;
    let request =
        |granularity: pb::UsageGranularity, dimensions: Vec<pb::UsageDimension>| pb::GetUsageRequest {
            account_id: "waba-1".to_owned(),
            start: Some(prost_types::Timestamp {
                seconds: first - 86_400,
                nanos: 0,
            }),
            end: Some(prost_types::Timestamp {
                seconds: first + 86_400,
                nanos: 0,
            }),
            granularity: granularity as i32,
            dimensions: dimensions.into_iter().map(|dimension| dimension as i32).collect(),
        };
    let daily = usage
        .get_usage(request(
            pb::UsageGranularity::Daily,
            vec![pb::UsageDimension::Category],
        ))
        .await
        .expect("GetUsage")
        .into_inner();
    let read: BTreeMap<(i64, i32), (u64, i128)> = daily
        .data_points
        .iter()
        .map(|point| {
            let start = point.start.as_ref().expect("a start").seconds;
            assert_eq!(point.end.as_ref().expect("an end").seconds - start, 86_400);
            let cost = point.cost.as_ref().expect("a cost");
            (
                ((start + 19_800).div_euclid(86_400), point.category),
                (
                    point.volume,
                    i128::from(cost.units) * 1_000_000_000 + i128::from(cost.nanos),
                ),
            )
        })
        .collect();
    assert_eq!(
        read, answered,
        "the answered prices, summed by Kolkata day and category"
    );
    assert_eq!(
        answered
            .keys()
            .map(|(day, _)| day)
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        2
    );

    // Meta reports one marketing message failed: under per-message pricing it leaves the usage.
    let failed = serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "waba-1", "changes": [{"field": "messages", "value": {
            "metadata": {"phone_number_id": BUSINESS},
            "statuses": [{"id": "usage-0", "status": "failed", "timestamp": (first + 60).to_string(),
                "recipient_id": "919800000000", "errors": [{"code": 131026}]}]
        }}]}]
    });
    let mut webhooks = hourglass_e2e::webhook_client(server.addr).await;
    let ingested = webhooks
        .ingest_webhook(pb::IngestWebhookRequest {
            payload: failed.to_string().into_bytes(),
            signature: String::new(),
        })
        .await
        .expect("IngestWebhook")
        .into_inner();
    assert_eq!(ingested.applied, 1, "{ingested:?}");
    let monthly = usage
        .get_usage(request(pb::UsageGranularity::Monthly, Vec::new()))
        .await
        .expect("GetUsage")
        .into_inner();
    // Midnight in Kolkata on 2026-11-30 is also the turn of the month there: two months.
    assert_eq!(monthly.data_points.len(), 2, "{monthly:?}");
    let volume: u64 = monthly.data_points.iter().map(|point| point.volume).sum();
    let failed: u64 = monthly.data_points.iter().map(|point| point.failed).sum();
    assert_eq!((volume, failed), (89, 1));

    // By tier: India's authentication ladder prices every authentication template of the month on its
    // first tier; marketing and utility have no ladder.
    let tiers = usage
        .get_usage(request(
            pb::UsageGranularity::Monthly,
            vec![pb::UsageDimension::Category, pb::UsageDimension::Tier],
        ))
        .await
        .expect("GetUsage by tier")
        .into_inner();
    for point in &tiers.data_points {
        let authentication = point.category == pb::Category::Authentication as i32;
        assert_eq!(point.tier, u32::from(authentication), "{point:?}");
    }
    let volume: u64 = tiers.data_points.iter().map(|point| point.volume).sum();
    assert_eq!(volume, 89);
    let status = usage
        .get_usage(request(pb::UsageGranularity::Unspecified, Vec::new()))
        .await
        .expect_err("no granularity");
    assert!(status.message().contains("`granularity`"), "{status:?}");
    server.stop().await;
}

/// An estimate for an account continues its portfolio's volume-tier count of the month: after two
/// authentication templates to India, the next ones estimated are the month's third and on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_estimate_continues_the_portfolios_count_of_the_month() {
    const BUSINESS: &str = "106540352242922";
    let server = InProcessServer::start(&["--store", "memory:"]).await;
    let mut client = server.client().await;
    let account = pb::PutAccountRequest {
        account_id: "waba-1".to_owned(),
        ..Default::default()
    };
    hourglass_e2e::register(server.addr, account, BUSINESS).await;
    let at = Some("2026-11-15T12:00:00Z".parse().expect("a timestamp"));
    for n in 0..2 {
        let answer = client
            .record_message(pb::RecordMessageRequest {
                business_id: BUSINESS.to_owned(),
                customer_id: format!("9198{n:08}"),
                message_id: format!("otp-{n}"),
                at,
                direction: Some(pb::record_message_request::Direction::Outbound(
                    pb::OutboundMessage {
                        kind: Some(pb::outbound_message::Kind::Template(pb::Template {
                            name: "otp".to_owned(),
                            language: "en".to_owned(),
                            category: pb::Category::Authentication as i32,
                        })),
                    },
                )),
            })
            .await
            .expect("RecordMessage")
            .into_inner();
        assert_eq!(
            answer
                .decision
                .and_then(|decision| decision.charge)
                .map(|charge| charge.tier),
            Some(1)
        );
    }
    let mut usage = usage_client(server.addr).await;
    let estimate = |account_id: &str| pb::EstimateCostRequest {
        account_id: account_id.to_owned(),
        at,
        lines: vec![line("India", "", pb::Category::Authentication, 3)],
    };
    let continued = usage
        .estimate_cost(estimate("waba-1"))
        .await
        .expect("EstimateCost")
        .into_inner();
    let tiers: Vec<(u64, u64)> = continued.lines[0]
        .tiers
        .iter()
        .map(|tier| (tier.from, tier.count))
        .collect();
    assert_eq!(tiers, [(3, 3)], "{continued:?}");
    let alone = usage
        .estimate_cost(estimate(""))
        .await
        .expect("EstimateCost")
        .into_inner();
    assert_eq!(
        alone.lines[0].tiers[0].from, 1,
        "without an account, from the month's first"
    );
    server.stop().await;
}
