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
