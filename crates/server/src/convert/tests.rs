//! Tests of the protobuf conversions that the gRPC tests cannot reach easily: time edges and money.

use hourglass_core::{Currency, Duration, Instant, Money};
use hourglass_proto::v1 as pb;
use prost_types::Timestamp;

use super::*;

/// 2024-03-01T00:00:00Z.
const NOW: Instant = Instant::from_millis(1_709_251_200_000);

fn clock() -> Clock {
    Clock {
        now: NOW,
        max_skew: Duration::MINUTE,
    }
}

fn list_at(at: Option<Timestamp>) -> Result<Instant, hourglass_core::Error> {
    let request = pb::ListOpenConversationsRequest {
        business_id: "acme".to_owned(),
        customer_id: "+919800000001".to_owned(),
        at,
    };
    list_open_conversations_from_proto(request, clock()).map(|query| query.at)
}

#[test]
fn event_times_are_truncated_to_milliseconds() {
    let seconds = NOW.as_millis() / 1_000;
    assert_eq!(
        list_at(Some(Timestamp {
            seconds,
            nanos: 999_999_999
        })),
        Ok(NOW.plus(Duration::from_millis(999)))
    );
    assert_eq!(
        list_at(Some(Timestamp {
            seconds: seconds - 1,
            nanos: 1
        })),
        Ok(NOW.minus(Duration::SECOND))
    );
    assert_eq!(list_at(None), Ok(NOW), "an absent `at` is the server clock");
}

#[test]
fn event_times_are_checked() {
    let seconds = NOW.as_millis() / 1_000;
    for (at, fragment) in [
        (Timestamp { seconds, nanos: -1 }, "nanos"),
        (
            Timestamp {
                seconds,
                nanos: 1_000_000_000,
            },
            "nanos",
        ),
        (
            Timestamp {
                seconds: i64::MAX,
                nanos: 0,
            },
            "out of range",
        ),
        (
            Timestamp {
                seconds: -1,
                nanos: 0,
            },
            "1970",
        ),
        (
            Timestamp {
                seconds: seconds + 61,
                nanos: 0,
            },
            "ahead of the server clock",
        ),
    ] {
        let error = list_at(Some(at)).expect_err("invalid `at`");
        assert_eq!(error.field, "at");
        assert!(error.reason.contains(fragment), "{at:?}: {error}");
    }
    assert!(
        list_at(Some(Timestamp {
            seconds: seconds + 60,
            nanos: 0
        }))
        .is_ok(),
        "the skew itself is allowed"
    );
}

#[test]
fn instants_round_trip_through_timestamps() {
    for millis in [0, 1, 999, 1_000, 1_709_251_199_999] {
        let instant = Instant::from_millis(millis);
        let timestamp = instant.to_proto();
        assert!((0..1_000_000_000).contains(&timestamp.nanos));
        assert_eq!(list_at(Some(timestamp)), Ok(instant));
    }
}

#[test]
fn money_carries_units_and_nanos() {
    let inr = Currency::new("INR").unwrap();
    let money = Money::from_units_and_nanos(inr, 12, 814_700_000).unwrap();
    assert_eq!(
        money.to_proto(),
        pb::Money {
            currency_code: "INR".to_owned(),
            units: 12,
            nanos: 814_700_000
        }
    );
    assert_eq!(
        Money::zero(inr).to_proto(),
        pb::Money {
            currency_code: "INR".to_owned(),
            units: 0,
            nanos: 0
        }
    );
}
