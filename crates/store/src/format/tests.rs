//! Tests of the stored format: golden files under `testdata/` decode to the values they were written
//! from (JSON files as text, layout 2 files as bytes), every record round-trips, records of layout 1
//! still decode, and a record of an unknown layout is an error.

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

/// The answer to a free-form message denied outside a window, as the golden files hold it.
fn denied_answer() -> Answer {
    Answer {
        decision: Some(Decision {
            verdict: Verdict::Denied {
                reason: DenyReason::OutsideCustomerServiceWindow,
                explanation: "no customer service window is open".to_owned(),
            },
            customer_service_window_expires_at: None,
            shadow_deny_reason: None,
        }),
        duplicate: false,
    }
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

fn golden_bytes(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name);
    std::fs::read(&path).expect("golden files are checked in")
}

/// Checks that the golden file `testdata/{name}` holds exactly the bytes `bytes`, which the record
/// was just encoded to: a change of layout 2 fails here.
#[track_caller]
fn check_binary_golden(name: &str, bytes: &[u8]) {
    let golden = golden_bytes(name);
    assert_eq!(
        golden, bytes,
        "{name}: layout 2 encodes differently; a new layout needs a new format byte"
    );
}

#[test]
fn thread_v1_golden_file() {
    let keep_until = T0.plus(minutes(2)).plus(Duration::hours(144));
    let json = ThreadJson::V1(ThreadV1::new(&golden_thread(), Version(0), Some(keep_until)));
    check_golden("thread.v1.json", &json);
    // The store still reads what earlier versions wrote.
    let record = ThreadRecord::from_bytes("thread", &golden_bytes("thread.v1.json")).expect("decodes");
    assert!(matches!(record, ThreadRecord::V1(_)), "{record:?}");
    assert_eq!(record.keep_until(), Some(keep_until));
    assert_eq!(record.version(), Version(0));
    assert_eq!(record.into_state(), golden_thread());
}

#[test]
fn answer_v1_golden_file() {
    let keep_until = T0.plus(minutes(1)).plus(Duration::hours(72));
    check_golden(
        "answer.v1.json",
        &AnswerJson::V1(AnswerV1::new(&golden_answer(), Some(keep_until))),
    );
    let record = AnswerRecord::from_bytes("answer", &golden_bytes("answer.v1.json")).expect("decodes");
    assert!(matches!(record, AnswerRecord::V1(_)), "{record:?}");
    assert_eq!(record.keep_until(), Some(keep_until));
    assert_eq!(
        record.into_answer().expect("the golden answer is well formed"),
        golden_answer()
    );
}

#[test]
fn thread_v2_golden_file() {
    let keep_until = T0.plus(minutes(2)).plus(Duration::hours(144));
    let record = ThreadRecord::new(&golden_thread(), Version(7), Some(keep_until));
    let bytes = record.to_bytes();
    check_binary_golden("thread.v2.bin", &bytes);
    assert_eq!(bytes[0], 2, "layout 2 begins with its number");
    let decoded = ThreadRecord::from_bytes("thread", &golden_bytes("thread.v2.bin")).expect("decodes");
    assert_eq!(decoded, record);
    assert_eq!(decoded.version(), Version(7));
    assert_eq!(decoded.keep_until(), Some(keep_until));
    assert_eq!(decoded.into_state(), golden_thread());
    // The header is read alone, without the state.
    let header = ThreadHeader::from_bytes("thread", &bytes).expect("decodes");
    assert_eq!(
        (header.version(), header.keep_until()),
        (Version(7), Some(keep_until))
    );
    // And it is several times smaller than the same record in layout 1.
    let json = ThreadJson::V1(ThreadV1::new(&golden_thread(), Version(7), Some(keep_until)));
    let json = encode(&json);
    assert!(
        bytes.len() * 4 < json.len(),
        "{} bytes against {} of JSON",
        bytes.len(),
        json.len()
    );
}

#[test]
fn answer_v2_golden_files() {
    let keep_until = T0.plus(minutes(1)).plus(Duration::hours(72));
    let record = AnswerRecord::new(&golden_answer(), Some(keep_until));
    let bytes = record.to_bytes();
    check_binary_golden("answer.v2.bin", &bytes);
    let decoded = AnswerRecord::from_bytes("answer", &golden_bytes("answer.v2.bin")).expect("decodes");
    assert_eq!(decoded, record);
    assert_eq!(decoded.keep_until(), Some(keep_until));
    assert_eq!(decoded.into_answer().expect("well formed"), golden_answer());
    let json = encode(&AnswerJson::V1(AnswerV1::new(&golden_answer(), Some(keep_until))));
    assert!(
        bytes.len() * 4 < json.len(),
        "{} bytes against {} of JSON",
        bytes.len(),
        json.len()
    );

    // Every other field of an answer: a tier, a shadow denial, a denial with its explanation.
    let mut tiered = golden_answer();
    if let Some(decision) = &mut tiered.decision {
        decision.shadow_deny_reason = Some(DenyReason::MarketingLimit);
        if let Verdict::Allowed(charge) = &mut decision.verdict {
            charge.tier = Some(2);
            charge.pricing_model = PricingModel::PerMessage;
            charge.price = inr("0.0107");
        }
    }
    let denied = denied_answer();
    for (name, answer) in [("answer.tier.v2.bin", tiered), ("answer.denied.v2.bin", denied)] {
        let record = AnswerRecord::new(&answer, None);
        check_binary_golden(name, &record.to_bytes());
        let decoded = AnswerRecord::from_bytes(name, &golden_bytes(name)).expect("decodes");
        assert_eq!(decoded.into_answer().expect("well formed"), answer, "{name}");
    }
}

#[test]
fn layout_2_round_trips_what_layout_1_did() {
    // A thread with every part: instants before its latest event and after, lengths that are whole
    // hours and not, a conversation id that is not a UUID and one in upper case, a closed
    // conversation, counted marketing, numbered messages and a link.
    let mut parts = golden_thread().parts().clone();
    parts.conversations[0].id = "not-a-uuid".to_owned();
    parts.conversations[1].id = "5F3D1C84-7A2E-5B96-8E0D-2A4C6B8F1E39".to_owned();
    parts.customer_service.push(Span {
        start: T0.plus(Duration::hours(30)),
        end: T0.plus(Duration::hours(54)).plus(Duration::from_millis(7)),
    });
    parts.marketing_sent = vec![Span::starting_at(T0.plus(minutes(3)), Duration::hours(7 * 24))];
    parts.service_messages = 3;
    parts.charged = 300;
    parts.moved_to = Some(CustomerId::new("+919800000002").expect("a customer id"));
    parts.latest_event_at = Some(T0.plus(Duration::hours(30)));
    let state = ThreadState::from_parts(parts);
    for (version, keep_until) in [
        (Version(0), None),
        (Version(u64::MAX), Some(Instant::from_millis(-1))),
    ] {
        let record = ThreadRecord::new(&state, version, keep_until);
        let decoded = ThreadRecord::from_bytes("thread", &record.to_bytes()).expect("decodes");
        assert_eq!(decoded, record);
        let v1 = ThreadJson::V1(ThreadV1::new(&state, version, keep_until));
        let from_json = ThreadRecord::from_bytes("thread", &encode(&v1)).expect("decodes");
        assert_eq!(from_json.into_state(), decoded.into_state());
    }
    // A thread that never saw an event, and an inbound answer.
    let empty = ThreadRecord::new(&ThreadState::default(), Version(0), None);
    assert_eq!(empty.to_bytes(), [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert!(
        ThreadRecord::from_bytes("thread", &empty.to_bytes())
            .expect("decodes")
            .into_state()
            .is_empty()
    );
}

#[test]
fn denied_answer_v1_golden_file() {
    let answer = denied_answer();
    check_golden(
        "answer.denied.v1.json",
        &AnswerJson::V1(AnswerV1::new(&answer, None)),
    );
    let record = AnswerRecord::from_bytes("answer", &golden_bytes("answer.denied.v1.json")).expect("decodes");
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
    // Layout 2: the format byte, no keep-until, no decision.
    let bytes = AnswerRecord::new(&answer, None).to_bytes();
    assert_eq!(bytes, [2, 0, 0]);
    let decoded = AnswerRecord::from_bytes("answer", &bytes).expect("decodes");
    assert_eq!(decoded.into_answer().expect("well formed"), answer);
    // As layout 1 wrote it, still read.
    let decoded = AnswerRecord::from_bytes("answer", br#"{"version":"1","decision":null}"#).expect("decodes");
    assert_eq!(decoded.into_answer().expect("well formed"), answer);

    let bytes = ThreadRecord::new(&ThreadState::default(), Version(0), None).to_bytes();
    let decoded = ThreadRecord::from_bytes("thread", &bytes).expect("decodes");
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
        let broken =
            AnswerRecord::from_bytes("answer", golden.replace(from, to).as_bytes()).expect("still JSON");
        check_corrupt(broken.into_answer().expect_err("bad money fails"), needle);
    }

    // Layout 2: an unknown first byte, nothing, a record cut short, bytes after it, bad money, an
    // instant out of range.
    let thread = golden_bytes("thread.v2.bin");
    let answer = golden_bytes("answer.v2.bin");
    let mut trailing = answer.clone();
    trailing.push(0);
    let mut lower = answer.clone();
    let at = lower
        .windows(3)
        .position(|window| window == b"INR")
        .expect("the currency is in the record");
    lower[at..at + 3].copy_from_slice(b"inr");
    let cases: [(&[u8], &str); 5] = [
        (&[3, 0, 0], "unknown layout"),
        (&[], "no bytes"),
        (&answer[..answer.len() - 1], "answer a"),
        (&trailing, "1 bytes after the record"),
        (&lower, "currency"),
    ];
    for (bytes, needle) in cases {
        check_corrupt(
            AnswerRecord::from_bytes("answer a", bytes).expect_err("bad records fail"),
            needle,
        );
    }
    check_corrupt(
        ThreadRecord::from_bytes("thread t", &thread[..thread.len() / 2]).expect_err("cut short"),
        "thread t",
    );
    check_corrupt(
        ThreadHeader::from_bytes("thread t", b"[1]").expect_err("not a record"),
        "unknown layout",
    );
    // A length of i64::MAX hours from the thread's latest event.
    // Layout 2, revision 0, no keep-until, latest event at 1 ms, one span of the customer service
    // window starting there and lasting that long, and nothing else.
    let mut far = vec![2, 0, 0, 1, 2, 1];
    far.extend(postcard::to_allocvec(&(i128::MAX / 4 * 2 + 1, 49_i128)).expect("serialises"));
    far.extend([0, 0, 0, 0, 0, 0, 0]);
    check_corrupt(
        ThreadRecord::from_bytes("thread t", &far).expect_err("out of range"),
        "out of range",
    );
}

#[test]
fn a_thread_record_keeps_its_version_and_leaves_version_zero_out() {
    // Layout 1, as earlier versions wrote it.
    let bytes = encode(&ThreadJson::V1(ThreadV1::new(&golden_thread(), Version(3), None)));
    let text = std::str::from_utf8(&bytes).expect("JSON is UTF-8");
    assert!(text.contains(r#""revision":3"#), "{text}");
    let decoded = ThreadRecord::from_bytes("thread", &bytes).expect("decodes");
    assert_eq!(decoded.version(), Version(3));
    assert_eq!(decoded.into_state(), golden_thread());
    let header = ThreadHeader::from_bytes("thread", &bytes).expect("decodes");
    assert_eq!((header.version(), header.keep_until()), (Version(3), None));

    let unversioned = encode(&ThreadJson::V1(ThreadV1::new(&golden_thread(), Version(0), None)));
    let text = std::str::from_utf8(&unversioned).expect("JSON is UTF-8");
    assert!(!text.contains("revision"), "{text}");

    // Layout 2: version 0 takes one byte.
    let versioned = ThreadRecord::new(&golden_thread(), Version(3), None).to_bytes();
    let unversioned = ThreadRecord::new(&golden_thread(), Version(0), None).to_bytes();
    assert_eq!((versioned[1], unversioned[1]), (3, 0));
    assert_eq!(versioned.len(), unversioned.len());
    assert_eq!(
        ThreadHeader::from_bytes("thread", &versioned)
            .expect("decodes")
            .version(),
        Version(3)
    );
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
