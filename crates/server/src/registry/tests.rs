//! `RegistryService` over gRPC: writes are idempotent and effective-dated, bad input names its field
//! and writes nothing, reads of nothing are `NOT_FOUND`, listings page without gaps, and the policy
//! guards read what was written.

use hourglass_proto::v1 as pb;
use hourglass_proto::v1::policy_service_client::PolicyServiceClient;
use hourglass_proto::v1::registry_service_client::RegistryServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::tests::{TestServer, at, check_invalid};

/// 2024-03-01T10:00:00Z.
const T0: i64 = 1_709_287_200;
const HOUR: i64 = 3_600;

async fn clients(server: &TestServer) -> (RegistryServiceClient<Channel>, PolicyServiceClient<Channel>) {
    let policy = server.client().await;
    (RegistryServiceClient::new(server.channel().await), policy)
}

fn account(account_id: &str) -> pb::PutAccountRequest {
    pb::PutAccountRequest {
        account_id: account_id.to_owned(),
        time_zone: "Asia/Kolkata".to_owned(),
        effective_at: at(T0),
        ..Default::default()
    }
}

fn template(name: &str, language: &str, status: pb::TemplateStatus) -> pb::PutTemplateRequest {
    pb::PutTemplateRequest {
        account_id: "waba-1".to_owned(),
        name: name.to_owned(),
        language: language.to_owned(),
        status: status.into(),
        category: pb::Category::Marketing.into(),
        effective_at: at(T0),
        paused_until: None,
    }
}

#[tokio::test]
async fn writes_are_idempotent_and_reads_answer_at_an_instant() {
    let server = TestServer::start().await;
    let (mut registry, _) = clients(&server).await;
    let first = registry
        .put_account(account("waba-1"))
        .await
        .unwrap()
        .into_inner();
    let again = registry
        .put_account(account("waba-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again, "the same write twice answers the same");
    let later = pb::PutAccountRequest {
        time_zone: "America/Sao_Paulo".to_owned(),
        effective_at: at(T0 + 10 * HOUR),
        ..account("waba-1")
    };
    registry.put_account(later).await.unwrap();
    let zone_at = |seconds| pb::GetAccountRequest {
        account_id: "waba-1".to_owned(),
        at: at(seconds),
    };
    let before = registry
        .get_account(zone_at(T0 + HOUR))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(before.account.unwrap().time_zone, "Asia/Kolkata");
    let after = registry
        .get_account(zone_at(T0 + 10 * HOUR))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.account.unwrap().time_zone, "America/Sao_Paulo");
    let status = registry.get_account(zone_at(T0 - 1)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    let business = pb::PutBusinessRequest {
        business_id: "106540352242922".to_owned(),
        account_id: "waba-1".to_owned(),
        effective_at: at(T0),
    };
    let put = registry.put_business(business).await.unwrap().into_inner();
    let business = put.business.unwrap();
    assert_eq!(
        (business.portfolio_id.as_str(), business.time_zone.as_str()),
        ("waba-1", "Asia/Kolkata"),
        "an account without a portfolio is its own, and the business takes its zone"
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_registry_writes_name_their_field_and_write_nothing() {
    let server = TestServer::start().await;
    let (mut registry, _) = clients(&server).await;
    check_invalid(
        registry
            .put_account(pb::PutAccountRequest {
                time_zone: "Mars/Olympus".to_owned(),
                ..account("waba-1")
            })
            .await,
        "time_zone",
    );
    check_invalid(registry.put_account(account("waba 1")).await, "account_id");
    check_invalid(
        registry
            .put_account(pb::PutAccountRequest {
                marketing_cap: Some(pb::MarketingCap {
                    count: 2,
                    window: Some(prost_types::Duration { seconds: 0, nanos: 0 }),
                }),
                ..account("waba-1")
            })
            .await,
        "marketing_cap.window",
    );
    check_invalid(
        registry
            .put_account(pb::PutAccountRequest {
                monthly_budget: Some(pb::Money {
                    currency_code: "INR".to_owned(),
                    units: -1,
                    nanos: 0,
                }),
                ..account("waba-1")
            })
            .await,
        "monthly_budget",
    );
    let status = registry
        .get_account(pb::GetAccountRequest {
            account_id: "waba-1".to_owned(),
            at: None,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "nothing was written: {status:?}");

    check_invalid(
        registry
            .put_template(template("order_update", "", pb::TemplateStatus::Approved))
            .await,
        "language",
    );
    check_invalid(
        registry
            .put_template(template("order_update", "en", pb::TemplateStatus::Unspecified))
            .await,
        "status",
    );
    check_invalid(
        registry
            .put_template(pb::PutTemplateRequest {
                paused_until: at(T0 + HOUR),
                ..template("order_update", "en", pb::TemplateStatus::Approved)
            })
            .await,
        "paused_until",
    );
    check_invalid(
        registry
            .record_consent(pb::RecordConsentRequest {
                business_id: "106540352242922".to_owned(),
                customer_id: "919800000001".to_owned(),
                kind: pb::ConsentKind::Unspecified.into(),
                at: at(T0),
                source: String::new(),
            })
            .await,
        "kind",
    );
    let status = registry
        .put_business(pb::PutBusinessRequest {
            business_id: "106540352242922".to_owned(),
            account_id: "waba-9".to_owned(),
            effective_at: None,
        })
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::NotFound,
        "a business needs its account first: {status:?}"
    );
    for status in [
        registry
            .get_template(pb::GetTemplateRequest {
                account_id: "waba-1".to_owned(),
                name: "order_update".to_owned(),
                language: "en".to_owned(),
                at: None,
            })
            .await
            .unwrap_err(),
        registry
            .get_consent(pb::GetConsentRequest {
                business_id: "106540352242922".to_owned(),
                customer_id: "919800000001".to_owned(),
                at: None,
            })
            .await
            .unwrap_err(),
        registry
            .get_portfolio(pb::GetPortfolioRequest {
                portfolio_id: "portfolio-1".to_owned(),
                at: None,
            })
            .await
            .unwrap_err(),
    ] {
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn templates_are_listed_page_by_page() {
    let server = TestServer::start().await;
    let (mut registry, _) = clients(&server).await;
    let names = [
        ("a", "en"),
        ("a", "en_US"),
        ("a1", "en"),
        ("a_b", "en"),
        ("b", "pt_BR"),
    ];
    for (name, language) in names {
        registry
            .put_template(template(name, language, pb::TemplateStatus::Approved))
            .await
            .unwrap();
    }
    let mut listed = Vec::new();
    let mut page_token = String::new();
    let mut pages = 0;
    loop {
        let page = registry
            .list_templates(pb::ListTemplatesRequest {
                account_id: "waba-1".to_owned(),
                page_size: 2,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        listed.extend(
            page.templates
                .into_iter()
                .map(|template| (template.name, template.language)),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut expected: Vec<(String, String)> = names
        .iter()
        .map(|(name, language)| ((*name).to_owned(), (*language).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(pages, 3);
    check_invalid(
        registry
            .list_templates(pb::ListTemplatesRequest {
                account_id: "waba-1".to_owned(),
                page_size: -1,
                page_token: String::new(),
            })
            .await,
        "page_size",
    );
    check_invalid(
        registry
            .list_templates(pb::ListTemplatesRequest {
                account_id: "waba-1".to_owned(),
                page_size: 2,
                page_token: "not a token".to_owned(),
            })
            .await,
        "page_token",
    );
    server.stop().await;
}

#[tokio::test]
async fn a_registered_business_is_decided_by_its_registry() {
    let server = TestServer::start().await;
    let (mut registry, mut policy) = clients(&server).await;
    registry.put_account(account("waba-1")).await.unwrap();
    registry
        .put_business(pb::PutBusinessRequest {
            business_id: "106540352242922".to_owned(),
            account_id: "waba-1".to_owned(),
            effective_at: at(T0),
        })
        .await
        .unwrap();
    registry
        .put_template(pb::PutTemplateRequest {
            category: pb::Category::Utility.into(),
            ..template("order_update", "en", pb::TemplateStatus::Approved)
        })
        .await
        .unwrap();
    registry
        .put_template(pb::PutTemplateRequest {
            effective_at: at(T0 + 2 * HOUR),
            ..template("order_update", "en", pb::TemplateStatus::Disabled)
        })
        .await
        .unwrap();
    let authorize = |seconds| pb::AuthorizeRequest {
        business_id: "106540352242922".to_owned(),
        customer_id: "919800000001".to_owned(),
        message: Some(pb::OutboundMessage {
            kind: Some(pb::outbound_message::Kind::Template(pb::Template {
                name: "order_update".to_owned(),
                language: "en".to_owned(),
                category: pb::Category::Marketing.into(),
            })),
        }),
        at: at(seconds),
    };
    let decision = policy
        .authorize(authorize(T0 + HOUR))
        .await
        .unwrap()
        .into_inner()
        .decision
        .unwrap();
    assert!(decision.allowed, "{decision:?}");
    assert_eq!(
        decision.charge.unwrap().category,
        i32::from(pb::Category::Utility),
        "the registry's category prices the message"
    );
    let decision = policy
        .authorize(authorize(T0 + 2 * HOUR))
        .await
        .unwrap()
        .into_inner()
        .decision
        .unwrap();
    assert_eq!(decision.deny_reason, i32::from(pb::DenyReason::TemplateDisabled));
    assert_eq!(decision.meta_error_code, 132_016);
    assert!(
        decision.explanation.contains("`order_update` (en) is DISABLED"),
        "{}",
        decision.explanation
    );
    server.stop().await;
}
