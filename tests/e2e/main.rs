//! The end-to-end test binary: acceptance scenarios over gRPC on every embedded store, the real binary
//! driven by grpcurl (the README's walk-through among it), crash safety under `kill -9`, the binary at
//! its limits, what its logs show of customers, its Prometheus metrics, TLS and mTLS, and tenants kept
//! apart by their tokens.

mod auth;
mod binary;
mod budget;
mod decision_log;
mod deploy;
mod durability;
mod limits;
mod metrics;
mod privacy;
mod readme;
mod redis;
mod scenarios;
mod sdk_payloads;
mod tls;
mod usage;
mod usage_timeline;
mod webhooks;

use hourglass_e2e::hourglass_binary;
use hourglass_e2e::scenario::{parse_relative, parse_t0};

#[test]
fn runs_the_binary_cargo_built_for_this_test() {
    assert_eq!(
        hourglass_binary(),
        std::path::Path::new(env!("CARGO_BIN_EXE_hourglass"))
    );
}

#[test]
fn parses_scenario_times() {
    assert_eq!(parse_relative("0h"), 0);
    assert_eq!(parse_relative("23h59m"), 23 * 3_600_000 + 59 * 60_000);
    assert_eq!(parse_relative("72h59m59s"), 72 * 3_600_000 + 59 * 60_000 + 59_000);
    assert_eq!(
        parse_relative("23h59m59s999ms"),
        23 * 3_600_000 + 59 * 60_000 + 59_000 + 999
    );
    assert_eq!(parse_relative("30m"), 1_800_000);
    assert_eq!(parse_t0("2024-03-04T00:00:00Z"), 1_709_510_400_000);
}
