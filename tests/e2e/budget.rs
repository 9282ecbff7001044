//! Budgets over gRPC (guard 8, docs/SPEC.md section 15.3): `PutAccount` refuses a budget without the
//! billing currency or in another one, a billable message past the budget is denied with
//! `BUDGET_EXCEEDED` while free ones pass, `AuthorizeBatch` spends the budget in order as the single
//! calls do, and `GetBudget` reads the month's spend exactly. Charges name their volume tier.

use hourglass_e2e::{InProcessServer, registry_client, usage_client};
use hourglass_proto::v1 as pb;

const BUSINESS: &str = "106540352242922";

fn template(category: pb::Category) -> pb::OutboundMessage {
    pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::Template(pb::Template {
            name: "offer".to_owned(),
            language: "en".to_owned(),
            category: category as i32,
        })),
    }
}

fn nanos(money: &pb::Money) -> i128 {
    i128::from(money.units) * 1_000_000_000 + i128::from(money.nanos)
}

fn inr(nanos: i128) -> pb::Money {
    pb::Money {
        currency_code: "INR".to_owned(),
        units: i64::try_from(nanos / 1_000_000_000).expect("a small amount"),
        nanos: i32::try_from(nanos % 1_000_000_000).expect("nanos"),
    }
}

fn account(budget: Option<pb::Money>, currency: &str) -> pb::PutAccountRequest {
    pb::PutAccountRequest {
        account_id: "waba-1".to_owned(),
        currency: currency.to_owned(),
        monthly_budget: budget,
        effective_at: Some(prost_types::Timestamp { seconds: 0, nanos: 0 }),
        ..Default::default()
    }
}

async fn budgets_are_spent_exactly_on(store: &str) {
    let server = InProcessServer::start(&["--store", store]).await;
    let mut client = server.client().await;
    let mut registry = registry_client(server.addr).await;
    let mut usage = usage_client(server.addr).await;

    // A budget needs the billing currency, and is in it.
    let refused = registry
        .put_account(account(Some(inr(1_000_000_000)), ""))
        .await
        .expect_err("a budget without a currency");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(refused.message().contains("monthly_budget"), "{refused:?}");
    let mut dollars = inr(1_000_000_000);
    dollars.currency_code = "USD".to_owned();
    let refused = registry
        .put_account(account(Some(dollars), "INR"))
        .await
        .expect_err("a budget in another currency");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    assert!(
        refused.message().contains("monthly_budget.currency_code"),
        "{refused:?}"
    );

    registry
        .put_account(account(None, "INR"))
        .await
        .expect("PutAccount");
    registry
        .put_business(pb::PutBusinessRequest {
            business_id: BUSINESS.to_owned(),
            account_id: "waba-1".to_owned(),
            effective_at: Some(prost_types::Timestamp { seconds: 0, nanos: 0 }),
        })
        .await
        .expect("PutBusiness");
    let at = Some("2026-11-15T12:00:00Z".parse().expect("a timestamp"));
    let authorize = |customer: &str, message: pb::OutboundMessage| pb::AuthorizeRequest {
        business_id: BUSINESS.to_owned(),
        customer_id: customer.to_owned(),
        message: Some(message),
        at,
    };
    let probe = client
        .authorize(authorize("919800000000", template(pb::Category::Marketing)))
        .await
        .expect("Authorize")
        .into_inner()
        .decision
        .expect("a decision");
    let price = nanos(
        probe
            .charge
            .as_ref()
            .and_then(|charge| charge.price.as_ref())
            .expect("a price"),
    );
    assert!(price > 0, "{probe:?}");

    // India's authentication ladder is in the shipped card: the month's first message is on tier 1.
    let authentication = client
        .authorize(authorize("919800000000", template(pb::Category::Authentication)))
        .await
        .expect("Authorize")
        .into_inner()
        .decision
        .expect("a decision");
    assert_eq!(authentication.charge.expect("allowed").tier, 1);
    assert_eq!(
        probe.charge.as_ref().expect("allowed").tier,
        0,
        "marketing has no ladder"
    );

    // A budget of three marketing messages.
    registry
        .put_account(account(Some(inr(3 * price)), "INR"))
        .await
        .expect("PutAccount with a budget");
    let customers: Vec<String> = (0..5).map(|n| format!("9198{n:08}")).collect();
    let batch = client
        .authorize_batch(pb::AuthorizeBatchRequest {
            business_id: BUSINESS.to_owned(),
            message: Some(template(pb::Category::Marketing)),
            at,
            customer_ids: customers.clone(),
        })
        .await
        .expect("AuthorizeBatch")
        .into_inner();
    assert_eq!(batch.allowed, 3);
    assert_eq!(
        batch.denied,
        [pb::DenyCount {
            reason: pb::DenyReason::BudgetExceeded as i32,
            count: 2
        }]
    );
    for (n, (customer, predicted)) in customers.iter().zip(&batch.results).enumerate() {
        let answer = client
            .record_message(pb::RecordMessageRequest {
                business_id: BUSINESS.to_owned(),
                customer_id: customer.clone(),
                message_id: format!("campaign-{n}"),
                at,
                direction: Some(pb::record_message_request::Direction::Outbound(template(
                    pb::Category::Marketing,
                ))),
            })
            .await
            .expect("RecordMessage")
            .into_inner();
        assert_eq!(
            answer.decision.as_ref(),
            predicted.decision.as_ref(),
            "customer {n}"
        );
    }
    let denied = batch.results[4].decision.as_ref().expect("a decision");
    assert!(denied.explanation.contains("monthly budget"), "{denied:?}");

    // A free message passes a spent budget: a reply inside the customer service window.
    let customer = "919800000099";
    let inbound = pb::RecordMessageRequest {
        business_id: BUSINESS.to_owned(),
        customer_id: customer.to_owned(),
        message_id: "hello".to_owned(),
        at,
        direction: Some(pb::record_message_request::Direction::Inbound(
            pb::Inbound::default(),
        )),
    };
    client.record_message(inbound).await.expect("RecordMessage");
    let reply = client
        .authorize(authorize(
            customer,
            pb::OutboundMessage {
                kind: Some(pb::outbound_message::Kind::FreeForm(pb::FreeForm::default())),
            },
        ))
        .await
        .expect("Authorize")
        .into_inner()
        .decision
        .expect("a decision");
    assert!(reply.allowed, "{reply:?}");

    let budget = usage
        .get_budget(pb::GetBudgetRequest {
            account_id: "waba-1".to_owned(),
            at,
        })
        .await
        .expect("GetBudget")
        .into_inner();
    assert_eq!(budget.budget, Some(inr(3 * price)));
    assert_eq!(budget.spent, Some(inr(3 * price)));
    assert_eq!(budget.remaining, Some(inr(0)));
    assert_eq!(
        budget.month_start,
        Some("2026-11-01T00:00:00Z".parse().expect("a timestamp"))
    );
    let unknown = usage
        .get_budget(pb::GetBudgetRequest {
            account_id: "waba-unknown".to_owned(),
            at,
        })
        .await
        .expect_err("an unknown account");
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_are_spent_exactly_on_memory() {
    budgets_are_spent_exactly_on("memory:").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_are_spent_exactly_on_sled() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    budgets_are_spent_exactly_on(&format!("sled:{}", dir.path().join("data").display())).await;
}
