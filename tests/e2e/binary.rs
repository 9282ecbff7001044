//! The real `hourglass` binary: `--help`, grpcurl through server reflection and health, and a graceful
//! stop on SIGTERM.

use std::process::Command;

use hourglass_e2e::{BinaryServer, fresh_business_id, grpcurl_available, hourglass_binary};
use serde_json::Value;

fn grpcurl(args: &[&str]) -> String {
    let output = Command::new("grpcurl").args(args).output().expect("run grpcurl");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "grpcurl {args:?} failed: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_lists_checks_health_and_authorizes() {
    if !grpcurl_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = BinaryServer::start(&format!("sled:{}", dir.path().join("data").display())).await;
    let addr = server.addr.to_string();

    let services = grpcurl(&["-plaintext", &addr, "list"]);
    assert!(
        services.lines().any(|line| line == "hourglass.v1.PolicyService"),
        "{services}"
    );
    assert!(
        services.lines().any(|line| line == "grpc.health.v1.Health"),
        "{services}"
    );

    for service in ["", "hourglass.v1.PolicyService"] {
        let health = grpcurl(&[
            "-plaintext",
            "-d",
            &format!(r#"{{"service":"{service}"}}"#),
            &addr,
            "grpc.health.v1.Health/Check",
        ]);
        let health: Value = serde_json::from_str(&health).expect("grpcurl prints JSON");
        assert_eq!(health["status"], "SERVING", "service {service:?}");
    }

    let business_id = fresh_business_id();
    let inbound = format!(
        r#"{{"message_id":"wamid.in.1","business_id":"{business_id}","customer_id":"+919800000001","at":"2024-03-05T00:00:00Z","inbound":{{"entry_point":"ENTRY_POINT_ORGANIC"}}}}"#
    );
    let recorded: Value = serde_json::from_str(&grpcurl(&[
        "-plaintext",
        "-d",
        &inbound,
        &addr,
        "hourglass.v1.PolicyService/RecordMessage",
    ]))
    .expect("JSON");
    assert!(
        recorded.get("duplicate").is_none(),
        "a fresh id is no duplicate: {recorded}"
    );

    let authorize = format!(
        r#"{{"business_id":"{business_id}","customer_id":"919800000001","message":{{"free_form":{{}}}},"at":"2024-03-05T01:00:00Z"}}"#
    );
    let answer: Value = serde_json::from_str(&grpcurl(&[
        "-plaintext",
        "-d",
        &authorize,
        &addr,
        "hourglass.v1.PolicyService/Authorize",
    ]))
    .expect("JSON");
    let decision = &answer["decision"];
    assert_eq!(decision["allowed"], true, "{answer}");
    assert_eq!(
        decision["customerServiceWindowExpiresAt"], "2024-03-06T00:00:00Z",
        "{answer}"
    );
    let charge = &decision["charge"];
    assert_eq!(charge["pricingModel"], "PRICING_MODEL_CONVERSATION", "{answer}");
    assert_eq!(charge["pricingType"], "PRICING_TYPE_FREE_TIER", "{answer}");
    assert_eq!(charge["category"], "CATEGORY_SERVICE", "{answer}");
    assert_eq!(charge["billable"], true, "{answer}");
    assert_eq!(charge["opensConversation"], true, "{answer}");
    assert_eq!(charge["price"]["currencyCode"], "INR", "{answer}");
    assert_eq!(
        charge["conversation"]["expiresAt"], "2024-03-06T01:00:00Z",
        "{answer}"
    );

    let bad = r#"{"business_id":"","customer_id":"919800000001","message":{"free_form":{}}}"#;
    let output = Command::new("grpcurl")
        .args([
            "-plaintext",
            "-d",
            bad,
            &addr,
            "hourglass.v1.PolicyService/Authorize",
        ])
        .output()
        .expect("run grpcurl");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("InvalidArgument") && stderr.contains("business_id"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = BinaryServer::start(&format!("sled:{}", dir.path().join("data").display())).await;
    let status = server.terminate();
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[test]
fn help_explains_every_flag() {
    let output = Command::new(hourglass_binary())
        .arg("--help")
        .output()
        .expect("run hourglass --help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--listen",
        "--store",
        "HOURGLASS_LISTEN",
        "HOURGLASS_STORE",
        "127.0.0.1:50051",
        "sled:./hourglass-data",
        "memory:",
    ] {
        assert!(help.contains(needle), "--help does not mention {needle}:\n{help}");
    }
}

#[test]
fn a_bad_flag_is_reported_before_binding() {
    let output = Command::new(hourglass_binary())
        .args(["--store", "nosuch:x", "--listen", "127.0.0.1:1"])
        .output()
        .expect("run hourglass");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nosuch"), "{stderr}");
}
