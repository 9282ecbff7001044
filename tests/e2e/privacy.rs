//! What the real binary's logs show of customers: keyed hashes by default, the ids themselves only
//! under `--log-personal-data`.

use hourglass_e2e::{BinaryServer, connect, fresh_business_id};
use hourglass_proto::v1 as pb;

const CUSTOMER: &str = "919812345678";

/// Sends an `Authorize` and a `RecordMessage` for `CUSTOMER` and returns the server's log, written at
/// debug level so that every request logs a line inside its span.
async fn log_of_two_requests(extra_args: &[&str]) -> String {
    let mut args = vec!["--log-filter", "hourglass_server=debug"];
    args.extend_from_slice(extra_args);
    let server = BinaryServer::start_with("memory:", &args).await;
    let mut client = connect(server.addr).await;
    let business_id = fresh_business_id();
    let free_form = pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::FreeForm(pb::FreeForm {})),
    };
    client
        .authorize(pb::AuthorizeRequest {
            business_id: business_id.clone(),
            customer_id: format!("+{CUSTOMER}"),
            message: Some(free_form),
            at: None,
        })
        .await
        .expect("authorize");
    client
        .record_message(pb::RecordMessageRequest {
            // A wamid embeds the customer's number.
            message_id: format!("wamid.{CUSTOMER}.1"),
            business_id,
            customer_id: CUSTOMER.to_owned(),
            at: None,
            direction: Some(pb::record_message_request::Direction::Inbound(
                pb::Inbound::default(),
            )),
        })
        .await
        .expect("record an inbound message");
    server.log()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_show_customers_as_keyed_hashes() {
    let log = log_of_two_requests(&[]).await;
    assert!(log.contains("authorized"), "no request was logged:\n{log}");
    assert!(log.contains("customer_id=h:"), "no hashed customer id:\n{log}");
    assert!(log.contains("message_id=h:"), "no hashed message id:\n{log}");
    assert!(
        !log.contains(CUSTOMER),
        "the log shows the customer's number:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_gives_one_hash_across_processes() {
    let key = ["--log-id-key", "a key shared by the replicas"];
    let hashes = |log: &str| -> Vec<String> {
        log.split("customer_id=")
            .skip(1)
            .filter_map(|rest| rest.split(['}', ' ', ',']).next())
            .map(str::to_owned)
            .collect()
    };
    let first = hashes(&log_of_two_requests(&key).await);
    let second = hashes(&log_of_two_requests(&key).await);
    assert!(!first.is_empty(), "no customer id logged");
    assert_eq!(first[0], second[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_personal_data_shows_customers_for_debugging() {
    let log = log_of_two_requests(&["--log-personal-data"]).await;
    assert!(log.contains(&format!("customer_id={CUSTOMER}")), "{log}");
    assert!(log.contains(&format!("message_id=wamid.{CUSTOMER}.1")), "{log}");
}

/// At the default level every request logs one line: the method, the status code, the deny reason and
/// the latency, with the ids hashed; a rejected request names the field at fault, not its value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_logs_one_line_at_info() {
    // The harness runs the binary at `warn`; `info` is the binary's own default.
    let server = BinaryServer::start_with("memory:", &["--log-filter", "info"]).await;
    let mut client = connect(server.addr).await;
    let free_form = || pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::FreeForm(pb::FreeForm {})),
    };
    let denied = client
        .authorize(pb::AuthorizeRequest {
            business_id: fresh_business_id(),
            customer_id: CUSTOMER.to_owned(),
            message: Some(free_form()),
            at: None,
        })
        .await
        .expect("authorize")
        .into_inner();
    assert!(!denied.decision.expect("a decision").allowed);
    let rejected = client
        .authorize(pb::AuthorizeRequest {
            business_id: fresh_business_id(),
            customer_id: format!("{CUSTOMER}x"),
            message: Some(free_form()),
            at: None,
        })
        .await
        .expect_err("a bad customer id");
    assert_eq!(rejected.code(), tonic::Code::InvalidArgument);
    // The log is read as the server wrote it so far.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = server.log();
    let lines: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("method=\"Authorize\""))
        .collect();
    assert_eq!(lines.len(), 2, "one line per request:\n{log}");
    assert!(
        lines[0].contains("code=Ok")
            && lines[0].contains("DENY_REASON_OUTSIDE_CUSTOMER_SERVICE_WINDOW")
            && lines[0].contains("latency_us=")
            && lines[0].contains("customer_id=h:"),
        "{}",
        lines[0]
    );
    assert!(lines[1].contains("code=InvalidArgument"), "{}", lines[1]);
    assert!(log.contains("field=\"customer_id\""), "{log}");
    assert!(
        !log.contains(CUSTOMER),
        "the log shows the customer's number:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_in_shadow_lets_pass_and_its_denial_is_logged() {
    let server = BinaryServer::start_with("memory:", &["--log-filter", "info", "--shadow", "opt-out"]).await;
    let mut client = connect(server.addr).await;
    let mut registry = hourglass_proto::v1::registry_service_client::RegistryServiceClient::connect(format!(
        "http://{}",
        server.addr
    ))
    .await
    .expect("connect to the registry");
    let business_id = fresh_business_id();
    registry
        .record_consent(pb::RecordConsentRequest {
            business_id: business_id.clone(),
            customer_id: CUSTOMER.to_owned(),
            kind: pb::ConsentKind::OptOut.into(),
            at: None,
            source: "keyword STOP".to_owned(),
        })
        .await
        .expect("record the opt-out");
    let decision = client
        .authorize(pb::AuthorizeRequest {
            business_id,
            customer_id: CUSTOMER.to_owned(),
            message: Some(pb::OutboundMessage {
                kind: Some(pb::outbound_message::Kind::Template(pb::Template {
                    name: "order_update".to_owned(),
                    language: "en".to_owned(),
                    category: pb::Category::Utility.into(),
                })),
            }),
            at: None,
        })
        .await
        .expect("authorize")
        .into_inner()
        .decision
        .expect("a decision");
    assert!(decision.allowed, "a guard in shadow denies nothing: {decision:?}");
    assert_eq!(
        decision.shadow_deny_reason,
        i32::from(pb::DenyReason::CustomerOptedOut)
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = server.log();
    let line = log
        .lines()
        .find(|line| line.contains("method=\"Authorize\""))
        .unwrap_or_else(|| panic!("no request line:\n{log}"));
    assert!(
        line.contains("shadow_deny_reason=\"DENY_REASON_CUSTOMER_OPTED_OUT\"")
            && !line.contains(" deny_reason="),
        "{line}"
    );
}
