//! Credentials and tenants (`--auth-file`): two tenants' tokens used against each other's accounts
//! and businesses on every RPC, roles, health and reflection open without a token, the auth file
//! reloaded on SIGHUP, and the listen address refused beyond loopback without an auth file.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hourglass_e2e::{
    BinaryServer, InProcessServer, connect, grpcurl_available, hourglass_binary, registry_client,
    usage_client, webhook_client,
};
use hourglass_proto::v1 as pb;
use sha2::{Digest as _, Sha256};
use tonic::{Code, Request, Status};

const ACCOUNT_A: &str = "waba-tenant-a";
const ACCOUNT_B: &str = "waba-tenant-b";
const BUSINESS_A: &str = "106540352250001";
const BUSINESS_B: &str = "106540352250002";
/// Ids no tenant registered: a token outside them must hear what it hears of another tenant's.
const ACCOUNT_NONE: &str = "waba-nobody";
const BUSINESS_NONE: &str = "106540352259999";
const CUSTOMER: &str = "919800000001";

const OPERATOR: &str = "operator-token";
const ADMIN_A: &str = "tenant-a-admin-token";
const GATEWAY_A: &str = "tenant-a-gateway-token";
const READER_A: &str = "tenant-a-reader-token";
const ADMIN_B: &str = "tenant-b-admin-token";

fn entry(name: &str, tenant: &str, role: &str, token: &str, accounts: &str) -> String {
    let digest = hex::encode(Sha256::digest(token.as_bytes()));
    format!(
        "[[tokens]]\nname = \"{name}\"\ntenant = \"{tenant}\"\nrole = \"{role}\"\nsha256 = \"{digest}\"\naccounts = {accounts}\n\n"
    )
}

fn auth_file() -> String {
    [
        entry("operator", "bsp", "admin", OPERATOR, r#"["*"]"#),
        entry(
            "a-admin",
            "tenant-a",
            "admin",
            ADMIN_A,
            &format!(r#"["{ACCOUNT_A}"]"#),
        ),
        entry(
            "a-gateway",
            "tenant-a",
            "gateway",
            GATEWAY_A,
            &format!(r#"["{ACCOUNT_A}"]"#),
        ),
        entry(
            "a-reader",
            "tenant-a",
            "reader",
            READER_A,
            &format!(r#"["{ACCOUNT_A}"]"#),
        ),
        entry(
            "b-admin",
            "tenant-b",
            "admin",
            ADMIN_B,
            &format!(r#"["{ACCOUNT_B}"]"#),
        ),
    ]
    .concat()
}

fn with_token<T>(token: Option<&str>, message: T) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("an ASCII header value"),
        );
    }
    request
}

fn timestamp(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs()
        .try_into()
        .expect("in range")
}

/// The ids one round of calls names.
struct Ids<'a> {
    account: &'a str,
    business: &'a str,
}

fn template() -> pb::OutboundMessage {
    pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::Template(pb::Template {
            name: "spring_sale".to_owned(),
            language: "en".to_owned(),
            category: pb::Category::Marketing.into(),
        })),
    }
}

/// A webhook body that writes to `ids`: an inbound message to its business and a template status of
/// its account.
fn webhook_body(ids: &Ids<'_>, now: i64) -> Vec<u8> {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": ids.account,
            "changes": [
                {"field": "messages", "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550000000", "phone_number_id": ids.business},
                    "contacts": [{"profile": {"name": "A"}, "wa_id": CUSTOMER}],
                    "messages": [{"from": CUSTOMER, "id": format!("wamid.auth.{}", ids.business),
                                  "timestamp": now.to_string(), "type": "text", "text": {"body": "hi"}}]
                }},
                {"field": "message_template_status_update", "value": {
                    "event": "APPROVED", "message_template_id": 1,
                    "message_template_name": "spring_sale", "message_template_language": "en"
                }}
            ]
        }]
    })
    .to_string()
    .into_bytes()
}

/// Calls every RPC of `hourglass.v1` with `token` on `ids`, and returns each method's result.
async fn call_every_rpc(
    addr: SocketAddr,
    token: Option<&str>,
    ids: &Ids<'_>,
) -> Vec<(&'static str, Result<(), Status>)> {
    let mut policy = connect(addr).await;
    let mut registry = registry_client(addr).await;
    let mut usage = usage_client(addr).await;
    let mut webhook = webhook_client(addr).await;
    let now = now_seconds();
    let at = timestamp(now);
    let (start, end) = (timestamp(now - 86_400), timestamp(now + 60));
    let account = || ids.account.to_owned();
    let business = || ids.business.to_owned();
    let mut results = Vec::new();
    macro_rules! call {
        ($name:literal, $call:expr) => {
            results.push(($name, $call.await.map(drop)));
        };
    }
    call!(
        "Authorize",
        policy.authorize(with_token(
            token,
            pb::AuthorizeRequest {
                business_id: business(),
                customer_id: CUSTOMER.to_owned(),
                message: Some(template()),
                at,
            }
        ))
    );
    call!(
        "AuthorizeBatch",
        policy.authorize_batch(with_token(
            token,
            pb::AuthorizeBatchRequest {
                business_id: business(),
                message: Some(template()),
                at,
                customer_ids: vec![CUSTOMER.to_owned()],
            }
        ))
    );
    call!(
        "RecordMessage",
        policy.record_message(with_token(
            token,
            pb::RecordMessageRequest {
                message_id: format!("wamid.auth.record.{}", ids.business),
                business_id: business(),
                customer_id: CUSTOMER.to_owned(),
                at,
                direction: Some(pb::record_message_request::Direction::Inbound(
                    pb::Inbound::default()
                )),
            }
        ))
    );
    call!(
        "ListOpenConversations",
        policy.list_open_conversations(with_token(
            token,
            pb::ListOpenConversationsRequest {
                business_id: business(),
                customer_id: CUSTOMER.to_owned(),
                at,
            }
        ))
    );
    call!(
        "PutAccount",
        registry.put_account(with_token(
            token,
            pb::PutAccountRequest {
                account_id: account(),
                time_zone: "UTC".to_owned(),
                ..Default::default()
            }
        ))
    );
    call!(
        "GetAccount",
        registry.get_account(with_token(
            token,
            pb::GetAccountRequest {
                account_id: account(),
                at
            }
        ))
    );
    call!(
        "PutPortfolio",
        registry.put_portfolio(with_token(
            token,
            pb::PutPortfolioRequest {
                portfolio_id: account(),
                messaging_limit: pb::MessagingLimit::MessagingLimit2k.into(),
                effective_at: None,
            }
        ))
    );
    call!(
        "GetPortfolio",
        registry.get_portfolio(with_token(
            token,
            pb::GetPortfolioRequest {
                portfolio_id: account(),
                at
            }
        ))
    );
    call!(
        "PutBusiness",
        registry.put_business(with_token(
            token,
            pb::PutBusinessRequest {
                business_id: business(),
                account_id: account(),
                effective_at: None,
            }
        ))
    );
    call!(
        "GetBusiness",
        registry.get_business(with_token(
            token,
            pb::GetBusinessRequest {
                business_id: business(),
                at
            }
        ))
    );
    call!(
        "PutTemplate",
        registry.put_template(with_token(
            token,
            pb::PutTemplateRequest {
                account_id: account(),
                name: "spring_sale".to_owned(),
                language: "en".to_owned(),
                status: pb::TemplateStatus::Approved.into(),
                category: pb::Category::Marketing.into(),
                ..Default::default()
            }
        ))
    );
    call!(
        "GetTemplate",
        registry.get_template(with_token(
            token,
            pb::GetTemplateRequest {
                account_id: account(),
                name: "spring_sale".to_owned(),
                language: "en".to_owned(),
                at,
            }
        ))
    );
    call!(
        "ListTemplates",
        registry.list_templates(with_token(
            token,
            pb::ListTemplatesRequest {
                account_id: account(),
                ..Default::default()
            }
        ))
    );
    call!(
        "RecordConsent",
        registry.record_consent(with_token(
            token,
            pb::RecordConsentRequest {
                business_id: business(),
                customer_id: CUSTOMER.to_owned(),
                kind: pb::ConsentKind::OptIn.into(),
                at,
                source: "test".to_owned(),
            }
        ))
    );
    call!(
        "GetConsent",
        registry.get_consent(with_token(
            token,
            pb::GetConsentRequest {
                business_id: business(),
                customer_id: CUSTOMER.to_owned(),
                at,
            }
        ))
    );
    call!(
        "LinkCustomer",
        registry.link_customer(with_token(
            token,
            pb::LinkCustomerRequest {
                business_id: business(),
                phone: CUSTOMER.to_owned(),
                bsuid: "US.13491208655302741918".to_owned(),
                at,
            }
        ))
    );
    call!(
        "GetReconciliation",
        usage.get_reconciliation(with_token(
            token,
            pb::GetReconciliationRequest {
                account_id: account(),
                start,
                end,
            }
        ))
    );
    call!(
        "GetDeliveryStats",
        usage.get_delivery_stats(with_token(
            token,
            pb::GetDeliveryStatsRequest {
                account_id: account(),
                start,
                end,
            }
        ))
    );
    call!(
        "EstimateCost",
        usage.estimate_cost(with_token(
            token,
            pb::EstimateCostRequest {
                account_id: account(),
                at,
                lines: vec![pb::EstimateLine {
                    market: "India".to_owned(),
                    category: pb::Category::Marketing.into(),
                    count: 10,
                    ..Default::default()
                }],
            }
        ))
    );
    call!(
        "GetUsage",
        usage.get_usage(with_token(
            token,
            pb::GetUsageRequest {
                account_id: account(),
                start,
                end,
                granularity: pb::UsageGranularity::Daily.into(),
                ..Default::default()
            }
        ))
    );
    call!(
        "GetBudget",
        usage.get_budget(with_token(
            token,
            pb::GetBudgetRequest {
                account_id: account(),
                at
            }
        ))
    );
    call!(
        "IngestWebhook",
        webhook.ingest_webhook(with_token(
            token,
            pb::IngestWebhookRequest {
                payload: webhook_body(ids, now),
                signature: String::new(),
            }
        ))
    );
    results
}

/// The methods of `hourglass.v1`, counted from the descriptor set, so that a new RPC cannot be left
/// out of `call_every_rpc`.
fn method_count() -> usize {
    use prost::Message as _;
    let set = prost_types::FileDescriptorSet::decode(hourglass_proto::FILE_DESCRIPTOR_SET).expect("decodes");
    set.file
        .iter()
        .flat_map(|file| &file.service)
        .map(|service| service.method.len())
        .sum()
}

async fn start() -> (InProcessServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("auth.toml");
    std::fs::write(&path, auth_file()).expect("write the auth file");
    let server = InProcessServer::start(&[
        "--store",
        "memory:",
        "--auth-file",
        path.to_str().expect("a UTF-8 path"),
    ])
    .await;
    // The operator registers both tenants.
    let mut registry = registry_client(server.addr).await;
    for (account, business) in [(ACCOUNT_A, BUSINESS_A), (ACCOUNT_B, BUSINESS_B)] {
        registry
            .put_account(with_token(
                Some(OPERATOR),
                pb::PutAccountRequest {
                    account_id: account.to_owned(),
                    time_zone: "UTC".to_owned(),
                    currency: "USD".to_owned(),
                    effective_at: timestamp(0),
                    ..Default::default()
                },
            ))
            .await
            .expect("the operator registers an account");
        registry
            .put_business(with_token(
                Some(OPERATOR),
                pb::PutBusinessRequest {
                    business_id: business.to_owned(),
                    account_id: account.to_owned(),
                    effective_at: timestamp(0),
                },
            ))
            .await
            .expect("the operator registers a business");
    }
    (server, dir)
}

#[tokio::test]
async fn a_tenant_cannot_touch_another_tenants_accounts_on_any_rpc() {
    let (server, _dir) = start().await;
    let addr = server.addr;
    let theirs = Ids {
        account: ACCOUNT_B,
        business: BUSINESS_B,
    };
    let nobodys = Ids {
        account: ACCOUNT_NONE,
        business: BUSINESS_NONE,
    };
    let ours = Ids {
        account: ACCOUNT_A,
        business: BUSINESS_A,
    };

    let against_theirs = call_every_rpc(addr, Some(ADMIN_A), &theirs).await;
    assert_eq!(against_theirs.len(), method_count(), "every RPC is called");
    let against_nobody = call_every_rpc(addr, Some(ADMIN_A), &nobodys).await;
    for ((method, theirs), (_, nobodys)) in against_theirs.iter().zip(&against_nobody) {
        let theirs = theirs.as_ref().expect_err(method);
        let nobodys = nobodys.as_ref().expect_err(method);
        assert_eq!(
            theirs.code(),
            Code::PermissionDenied,
            "{method} on tenant B's ids: {theirs:?}"
        );
        assert_eq!(
            nobodys.code(),
            Code::PermissionDenied,
            "{method} on ids nobody has: {nobodys:?}"
        );
        // The same words whether the account exists or not, only the id differs.
        assert_eq!(
            theirs.message().replace(ACCOUNT_B, "X").replace(BUSINESS_B, "X"),
            nobodys
                .message()
                .replace(ACCOUNT_NONE, "X")
                .replace(BUSINESS_NONE, "X"),
            "{method}"
        );
    }

    // Tenant A's own ids pass every check (an answer may still be NOT_FOUND, such as no consent).
    for (method, result) in call_every_rpc(addr, Some(ADMIN_A), &ours).await {
        if let Err(status) = result {
            assert!(
                !matches!(status.code(), Code::PermissionDenied | Code::Unauthenticated),
                "{method} on tenant A's own ids: {status:?}"
            );
        }
    }

    // Nothing tenant A tried was written into tenant B's account: B sees no message, no consent and
    // its template unregistered.
    let mut registry = registry_client(addr).await;
    let consent = registry
        .get_consent(with_token(
            Some(ADMIN_B),
            pb::GetConsentRequest {
                business_id: BUSINESS_B.to_owned(),
                customer_id: CUSTOMER.to_owned(),
                at: None,
            },
        ))
        .await;
    assert_eq!(consent.expect_err("no consent of B").code(), Code::NotFound);
    let template = registry
        .get_template(with_token(
            Some(ADMIN_B),
            pb::GetTemplateRequest {
                account_id: ACCOUNT_B.to_owned(),
                name: "spring_sale".to_owned(),
                language: "en".to_owned(),
                at: None,
            },
        ))
        .await;
    assert_eq!(template.expect_err("no template of B").code(), Code::NotFound);
    let mut policy = connect(addr).await;
    let view = policy
        .list_open_conversations(with_token(
            Some(ADMIN_B),
            pb::ListOpenConversationsRequest {
                business_id: BUSINESS_B.to_owned(),
                customer_id: CUSTOMER.to_owned(),
                at: None,
            },
        ))
        .await
        .expect("B reads its own thread")
        .into_inner();
    assert_eq!(
        view.customer_service_window_expires_at, None,
        "no inbound of B was recorded"
    );

    // Tenant A cannot take tenant B's business into its own account.
    let taken = registry
        .put_business(with_token(
            Some(ADMIN_A),
            pb::PutBusinessRequest {
                business_id: BUSINESS_B.to_owned(),
                account_id: ACCOUNT_A.to_owned(),
                effective_at: None,
            },
        ))
        .await;
    assert_eq!(taken.expect_err("a takeover").code(), Code::PermissionDenied);
    server.stop().await;
}

// Multi-threaded, so that the server in this process answers grpcurl while this thread waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_needs_a_token_whose_role_allows_it_and_health_needs_none() {
    let (server, _dir) = start().await;
    let addr = server.addr;
    let ours = Ids {
        account: ACCOUNT_A,
        business: BUSINESS_A,
    };
    for (method, result) in call_every_rpc(addr, None, &ours).await {
        let status = result.expect_err(method);
        assert_eq!(status.code(), Code::Unauthenticated, "{method} without a token");
    }
    for (method, result) in call_every_rpc(addr, Some("not-a-token"), &ours).await {
        let status = result.expect_err(method);
        assert_eq!(
            status.code(),
            Code::Unauthenticated,
            "{method} with an unknown token"
        );
    }
    let writes = [
        "Authorize",
        "AuthorizeBatch",
        "RecordMessage",
        "IngestWebhook",
        "RecordConsent",
        "LinkCustomer",
    ];
    let admin_only = ["PutAccount", "PutPortfolio", "PutBusiness", "PutTemplate"];
    for (method, result) in call_every_rpc(addr, Some(READER_A), &ours).await {
        let denied = matches!(&result, Err(status) if status.code() == Code::PermissionDenied);
        let expected = writes.contains(&method) || admin_only.contains(&method);
        assert_eq!(denied, expected, "{method} with a reader token: {result:?}");
    }
    for (method, result) in call_every_rpc(addr, Some(GATEWAY_A), &ours).await {
        let denied = matches!(&result, Err(status) if status.code() == Code::PermissionDenied);
        assert_eq!(
            denied,
            admin_only.contains(&method),
            "{method} with a gateway token: {result:?}"
        );
    }
    assert_eq!(
        hourglass_e2e::health(addr, "").await,
        Some(tonic_health::pb::health_check_response::ServingStatus::Serving),
        "health answers without a token"
    );
    if grpcurl_available() {
        let output = Command::new("grpcurl")
            .args(["-plaintext", &addr.to_string(), "list"])
            .output()
            .expect("run grpcurl");
        let listed = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && listed.contains("hourglass.v1.PolicyService"),
            "reflection answers without a token: {listed}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    server.stop().await;
}

// Multi-threaded, so that the clients' connections close while `terminate` blocks this thread: the
// server's graceful shutdown waits for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auth_file_is_reloaded_on_sighup() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("auth.toml");
    std::fs::write(&path, entry("first", "t", "reader", "first-token", r#"["*"]"#)).expect("test setup");
    let mut server =
        BinaryServer::start_with("memory:", &["--auth-file", path.to_str().expect("a UTF-8 path")]).await;
    let get_usage = |token: &'static str| async move {
        let mut usage = usage_client(server.addr).await;
        let now = now_seconds();
        usage
            .get_usage(with_token(
                Some(token),
                pb::GetUsageRequest {
                    account_id: ACCOUNT_A.to_owned(),
                    start: timestamp(now - 3_600),
                    end: timestamp(now),
                    granularity: pb::UsageGranularity::Daily.into(),
                    ..Default::default()
                },
            ))
            .await
            .map(drop)
            .map_err(|status| status.code())
    };
    assert_eq!(get_usage("first-token").await, Ok(()));
    assert_eq!(get_usage("second-token").await, Err(Code::Unauthenticated));

    let hangup = |pid: u32| {
        let status = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -HUP failed");
    };
    // A broken file changes nothing.
    std::fs::write(&path, "[[tokens]]\nname = \"broken\"\n").expect("test setup");
    hangup(server.pid());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !server.log().contains("auth file not reloaded") {
        assert!(
            std::time::Instant::now() < deadline,
            "no log of the refused file: {}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(get_usage("first-token").await, Ok(()), "the tokens in force stay");

    std::fs::write(&path, entry("second", "t", "reader", "second-token", r#"["*"]"#)).expect("test setup");
    hangup(server.pid());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while get_usage("second-token").await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the new token is not in force: {}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        get_usage("first-token").await,
        Err(Code::Unauthenticated),
        "the old token is gone"
    );
    assert!(server.is_running(), "the server stopped on SIGHUP");
    server.terminate();
}

/// Runs the binary with `args` on `0.0.0.0:0`, expects it to refuse its configuration (exit 2), and
/// returns what it printed.
fn refused(args: &[&str]) -> String {
    let output = Command::new(hourglass_binary())
        .args(["--listen", "0.0.0.0:0", "--store", "memory:"])
        .args(args)
        .output()
        .expect("run hourglass");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(2),
        "{args:?} is refused as invalid configuration: {stderr}"
    );
    stderr
}

#[test]
fn without_an_auth_file_the_server_listens_on_loopback_only_unless_told() {
    let stderr = refused(&[]);
    assert!(
        stderr.contains("--listen 0.0.0.0:0")
            && stderr.contains("--auth-file")
            && stderr.contains("--insecure-listen"),
        "{stderr}"
    );
    let dir = tempfile::tempdir().expect("test setup");
    let bad = dir.path().join("auth.toml");
    std::fs::write(&bad, "[[tokens]]\n").expect("test setup");
    let stderr = refused(&["--auth-file", bad.to_str().expect("a UTF-8 path")]);
    assert!(
        stderr.contains("--auth-file") && stderr.contains("auth.toml"),
        "{stderr}"
    );
}

#[tokio::test]
async fn insecure_listen_serves_beyond_loopback_without_credentials() {
    let port = hourglass_e2e::free_port();
    let mut child = Command::new(hourglass_binary())
        .args([
            "--listen",
            &format!("0.0.0.0:{port}"),
            "--store",
            "memory:",
            "--insecure-listen",
        ])
        .env("HOURGLASS_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start hourglass");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while hourglass_e2e::health(addr, "").await.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start on 0.0.0.0"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut usage = usage_client(addr).await;
    let now = now_seconds();
    let answered = usage
        .get_usage(pb::GetUsageRequest {
            account_id: ACCOUNT_A.to_owned(),
            start: timestamp(now - 3_600),
            end: timestamp(now),
            granularity: pb::UsageGranularity::Daily.into(),
            ..Default::default()
        })
        .await;
    child.kill().expect("stop the server");
    child.wait().expect("reap the server");
    answered.expect("no token is needed without --auth-file");
}
