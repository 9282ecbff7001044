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
