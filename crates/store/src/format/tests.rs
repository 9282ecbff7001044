//! Tests of the stored format: golden files under `testdata/` decode to the values they were written
//! from, every record round-trips, and a record of an unknown layout is an error.

use std::path::Path;

use hourglass_core::Duration;

use super::*;

/// 2024-03-05T10:00:00Z.
const T0: Instant = Instant::from_millis(1_709_632_800_000);

fn minutes(n: i64) -> Duration {
    Duration::from_millis(n * 60_000)
}

fn inr(amount: &str) -> Money {
    Money {
        currency: Currency::new("INR").expect("INR is a currency"),
        amount: Decimal::from_str(amount).expect("a decimal literal"),
    }
}

/// Checks that the golden file `testdata/{name}` decodes to `expected`, and that `expected` encodes
/// back to the same text, byte for byte (pretty-printed, as the file is kept for reading).
#[track_caller]
fn check_golden<T>(name: &str, expected: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name);
    let text = std::fs::read_to_string(&path).expect("golden files are checked in");
    let decoded: T = decode(name, text.as_bytes()).expect("golden files decode");
    assert_eq!(&decoded, expected, "{name} decodes to a different value");
    let pretty = serde_json::to_string_pretty(expected).expect("records serialise");
    assert_eq!(format!("{pretty}\n"), text, "{name} re-encodes differently");
    let compact = encode(expected);
    assert_eq!(
        &decode::<T>(name, &compact).expect("compact records decode"),
        expected
    );
}

fn golden_thread() -> ThreadState {
    let marketing = Conversation {
        id: "0b9e7a52-3c2f-5d7e-9a41-6c8f2e1d3b70".to_owned(),
        category: Category::Marketing,
        opened_at: T0.plus(minutes(1)),
        expires_at: T0.plus(minutes(1)).plus(Duration::hours(24)),
        closed_at: Some(T0.plus(minutes(2))),
        pricing_type: PricingType::Regular,
        billable: true,
    };
    let free_entry_point = Conversation {
        id: "5f3d1c84-7a2e-5b96-8e0d-2a4c6b8f1e39".to_owned(),
        category: Category::FreeEntryPoint,
        opened_at: T0.plus(minutes(2)),
        expires_at: T0.plus(minutes(2)).plus(Duration::hours(72)),
        closed_at: None,
        pricing_type: PricingType::FreeEntryPoint,
        billable: false,
    };
    ThreadState::from_parts(ThreadParts {
        customer_service: vec![Span::starting_at(T0, Duration::hours(24))],
        response_windows: vec![ResponseWindow {
            span: Span::starting_at(T0, Duration::hours(24)),
            used: true,
        }],
        conversations: vec![marketing, free_entry_point],
        last_outbound_at: Some(T0.plus(minutes(2))),
        latest_event_at: Some(T0.plus(minutes(2))),
        marketing_sent: Vec::new(),
        service_messages: 0,
        charged: 0,
        moved_to: None,
    })
}

fn golden_answer() -> Answer {
    let opened_at = T0.plus(minutes(1));
    let conversation = Conversation {
        id: "0b9e7a52-3c2f-5d7e-9a41-6c8f2e1d3b70".to_owned(),
        category: Category::Marketing,
        opened_at,
        expires_at: opened_at.plus(Duration::hours(24)),
        closed_at: None,
        pricing_type: PricingType::Regular,
        billable: true,
    };
    Answer {
        decision: Some(Decision {
            verdict: Verdict::Allowed(Charge {
                pricing_model: PricingModel::Conversation,
                pricing_type: PricingType::Regular,
                billable: true,
                category: Category::Marketing,
                price: inr("0.8147"),
                opens_conversation: true,
                conversation: Some(conversation),
                tier: None,
            }),
            customer_service_window_expires_at: Some(T0.plus(Duration::hours(24))),
            shadow_deny_reason: None,
        }),
        duplicate: false,
    }
}

#[test]
fn thread_v1_golden_file() {
    let keep_until = T0.plus(minutes(2)).plus(Duration::hours(144));
    let record = ThreadRecord::new(&golden_thread(), Version(0), Some(keep_until));
    check_golden("thread.v1.json", &record);
    assert_eq!(record.keep_until(), Some(keep_until));
    assert_eq!(record.into_state(), golden_thread());
}

#[test]
fn answer_v1_golden_file() {
    let keep_until = T0.plus(minutes(1)).plus(Duration::hours(72));
    let record = AnswerRecord::new(&golden_answer(), Some(keep_until));
    check_golden("answer.v1.json", &record);
    assert_eq!(record.keep_until(), Some(keep_until));
    assert_eq!(
        record.into_answer().expect("the golden answer is well formed"),
        golden_answer()
    );
}

#[test]
fn denied_answer_v1_golden_file() {
    let answer = Answer {
        decision: Some(Decision {
            verdict: Verdict::Denied {
                reason: DenyReason::OutsideCustomerServiceWindow,
                explanation: "no customer service window is open".to_owned(),
            },
            customer_service_window_expires_at: None,
            shadow_deny_reason: None,
        }),
        duplicate: false,
    };
    let record = AnswerRecord::new(&answer, None);
    check_golden("answer.denied.v1.json", &record);
    assert_eq!(
        record.into_answer().expect("the golden answer is well formed"),
        answer
    );
}

#[test]
fn counter_v1_golden_file() {
    let keep_until = T0.plus(Duration::hours(62 * 24));
    let record = CounterRecord::new(1_000, Some(keep_until));
    check_golden("counter.v1.json", &record);
    assert_eq!((record.used(), record.keep_until()), (1_000, Some(keep_until)));
}

#[test]
fn the_duplicate_flag_is_not_stored() {
    let answer = Answer {
        duplicate: true,
        ..golden_answer()
    };
    let record = AnswerRecord::new(&answer, None);
    assert_eq!(record.into_answer().expect("well formed"), golden_answer());
}

#[test]
fn inbound_answers_and_empty_threads_round_trip() {
    let answer = Answer {
        decision: None,
        duplicate: false,
    };
    let bytes = encode(&AnswerRecord::new(&answer, None));
    assert_eq!(
        std::str::from_utf8(&bytes).expect("JSON is UTF-8"),
        r#"{"version":"1","decision":null}"#
    );
    let decoded: AnswerRecord = decode("answer", &bytes).expect("decodes");
    assert_eq!(decoded.into_answer().expect("well formed"), answer);

    let bytes = encode(&ThreadRecord::new(&ThreadState::default(), Version(0), None));
    let decoded: ThreadRecord = decode("thread", &bytes).expect("decodes");
    assert_eq!(decoded.keep_until(), None);
    assert!(decoded.into_state().is_empty());
}

#[track_caller]
fn check_corrupt(error: Error, needle: &str) {
    match error {
        Error::Corrupt { message } => assert!(message.contains(needle), "{message:?} lacks {needle:?}"),
        other => panic!("expected Error::Corrupt, got {other:?}"),
    }
}

#[test]
fn bad_records_are_corrupt() {
    let bad: [(&[u8], &str); 4] = [
        (b"not json", "thread t"),
        (br#"{"used":1}"#, "version"),
        (br#"{"version":"2","used":1}"#, "unknown variant"),
        (br#"{"version":"1","used":-1}"#, "invalid value"),
    ];
    for (bytes, needle) in bad {
        check_corrupt(
            decode::<CounterRecord>("thread t", bytes).expect_err("bad records fail"),
            needle,
        );
    }

    let golden =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/answer.v1.json"))
            .expect("golden files are checked in");
    for (from, to, needle) in [
        ("\"INR\"", "\"inr\"", "currency"),
        ("\"0.8147\"", "\"0,8\"", "amount"),
    ] {
        let broken: AnswerRecord = decode("answer", golden.replace(from, to).as_bytes()).expect("still JSON");
        check_corrupt(broken.into_answer().expect_err("bad money fails"), needle);
    }
}

#[test]
fn a_thread_record_keeps_its_version_and_leaves_version_zero_out() {
    let bytes = encode(&ThreadRecord::new(&golden_thread(), Version(3), None));
    let text = std::str::from_utf8(&bytes).expect("JSON is UTF-8");
    assert!(text.contains(r#""revision":3"#), "{text}");
    let decoded: ThreadRecord = decode("thread", &bytes).expect("decodes");
    assert_eq!(decoded.version(), Version(3));
    assert_eq!(decoded.into_state(), golden_thread());

    let unversioned = encode(&ThreadRecord::new(&golden_thread(), Version(0), None));
    let text = std::str::from_utf8(&unversioned).expect("JSON is UTF-8");
    assert!(!text.contains("revision"), "{text}");
}

#[test]
fn prediction_and_report_v1_golden_files() {
    use hourglass_core::{
        AccountId, Category, DeliveryStatus, MetaPricing, Prediction, PricingType, Report, TemplateName,
    };

    use crate::format::delivery::{PredictionRecord, ReportRecord};

    let prediction = Prediction {
        account: AccountId::new("account_id", "102290129340398").expect("an id"),
        market: "India".to_owned(),
        at: T0.plus(minutes(1)),
        usage_day: None,
        template: Some(TemplateName::new("order_update", "en_US").expect("a name")),
        category: Category::Utility,
        pricing_type: PricingType::FreeCustomerService,
        billable: false,
        price: inr("0"),
        pricing_model: hourglass_core::PricingModel::PerMessage,
        opens_conversation: false,
        tier: None,
    };
    check_golden("prediction.v1.json", &PredictionRecord::from(&prediction));
    let decoded: PredictionRecord =
        decode("prediction", &encode(&PredictionRecord::from(&prediction))).expect("decodes");
    assert_eq!(Prediction::try_from(decoded).expect("a prediction"), prediction);
    // Since usage is kept by day, a prediction names the day of the account's zone it counts in.
    let counted = Prediction {
        usage_day: Some(hourglass_core::Day::parse("2024-03-05").expect("a day")),
        ..prediction.clone()
    };
    check_golden("prediction.usage_day.v1.json", &PredictionRecord::from(&counted));

    let report = Report {
        sent: Some(T0.plus(minutes(1)).plus(Duration::SECOND)),
        delivered: None,
        read: Some(Instant::from_millis(1_709_632_990_000)),
        failed: Some(Instant::from_millis(1_709_633_000_000)),
        errors: vec![131_049],
        pricing: Some((
            DeliveryStatus::Sent,
            MetaPricing {
                category: Some("utility".to_owned()),
                pricing_type: Some("free_customer_service".to_owned()),
                billable: Some(false),
            },
        )),
    };
    check_golden("report.v1.json", &ReportRecord::from(&report));
    let decoded: ReportRecord = decode("report", &encode(&ReportRecord::from(&report))).expect("decodes");
    assert_eq!(Report::try_from(decoded).expect("a report"), report);
}
