//! Tests of the labels: every value comes from a closed set, whatever a client sends.

use hourglass_proto::v1 as pb;
use metrics_exporter_prometheus::PrometheusBuilder;

use super::*;

/// Returns what `record` renders on a recorder of its own.
fn render(record: impl FnOnce()) -> String {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    ::metrics::with_local_recorder(&recorder, record);
    handle.render()
}

#[test]
fn methods_are_the_servers_own_or_unknown() {
    assert_eq!(
        method_label("/hourglass.v1.PolicyService/RecordMessage"),
        "hourglass.v1.PolicyService/RecordMessage"
    );
    assert_eq!(
        method_label("/hourglass.v1.WebhookService/IngestWebhook"),
        "hourglass.v1.WebhookService/IngestWebhook"
    );
    assert_eq!(
        method_label("/grpc.health.v1.Health/Check"),
        "grpc.health.v1.Health/Check"
    );
    for path in [
        "/hourglass.v1.PolicyService/NoSuchMethod",
        "/hourglass.v1.PolicyService/RecordMessage/",
        "/15550001234",
        "hourglass.v1.PolicyService/RecordMessage",
        "",
    ] {
        assert_eq!(method_label(path), UNKNOWN_METHOD, "{path:?}");
    }
}

#[test]
fn codes_are_named_as_the_grpc_spec_names_them() {
    assert_eq!(code_name(Code::Ok), "OK");
    assert_eq!(code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
    assert_eq!(code_name(Code::from_i32(16)), "UNAUTHENTICATED");
}

#[test]
fn decisions_are_counted_by_enum_labels_and_prices_by_currency() {
    let allowed = pb::Decision {
        allowed: true,
        charge: Some(pb::Charge {
            category: pb::Category::Marketing as i32,
            pricing_type: pb::PricingType::Regular as i32,
            price: Some(pb::Money {
                currency_code: "INR".to_owned(),
                units: 1,
                nanos: 250_000_000,
            }),
            ..pb::Charge::default()
        }),
        shadow_deny_reason: pb::DenyReason::NoOptIn as i32,
        ..pb::Decision::default()
    };
    let denied = pb::Decision {
        allowed: false,
        deny_reason: pb::DenyReason::OutsideCustomerServiceWindow as i32,
        explanation: "customer 15550001234 wrote 25 hours ago".to_owned(),
        ..pb::Decision::default()
    };
    let text = render(|| {
        decisions("RecordMessage", [&allowed, &denied, &allowed], true);
        decisions("Authorize", [&allowed], false);
    });
    for expected in [
        r#"hourglass_decisions_total{method="RecordMessage",outcome="allowed",deny_reason="none",category="marketing",pricing_type="regular"} 2"#,
        r#"hourglass_decisions_total{method="RecordMessage",outcome="denied",deny_reason="outside_customer_service_window",category="none",pricing_type="none"} 1"#,
        r#"hourglass_decisions_total{method="Authorize",outcome="allowed",deny_reason="none",category="marketing",pricing_type="regular"} 1"#,
        r#"hourglass_shadow_denials_total{method="RecordMessage",reason="no_opt_in"} 2"#,
        r#"hourglass_charged_messages_total{currency="INR"} 2"#,
        r#"hourglass_charged_amount_nanos_total{currency="INR"} 2500000000"#,
    ] {
        assert!(text.contains(expected), "{expected} is missing from:\n{text}");
    }
    assert!(!text.contains("15550001234"), "{text}");
}

#[test]
fn a_malformed_currency_is_not_a_label() {
    let decision = pb::Decision {
        allowed: true,
        charge: Some(pb::Charge {
            price: Some(pb::Money {
                currency_code: "customer-15550001234".to_owned(),
                units: 0,
                nanos: 5,
            }),
            ..pb::Charge::default()
        }),
        ..pb::Decision::default()
    };
    let text = render(|| decisions("RecordMessage", [&decision], true));
    assert!(
        text.contains(r#"hourglass_charged_messages_total{currency="other"} 1"#),
        "{text}"
    );
    assert!(!text.contains("15550001234"), "{text}");
}
