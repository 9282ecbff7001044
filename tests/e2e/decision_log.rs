//! The decision log and `hourglass replay`: the real binary logs a day of traffic, stops on SIGTERM
//! (flushing the log), and the replay of the log bills what was answered, row by row, under the same
//! pricing model, and otherwise under another.

use std::collections::BTreeMap;
use std::process::Command;

use hourglass_e2e::{BinaryServer, connect, fresh_business_id, hourglass_binary};
use hourglass_proto::v1 as pb;

const DAY: &str = "2026-03-10";

fn at(time: &str) -> Option<prost_types::Timestamp> {
    Some(format!("{DAY}T{time}:00Z").parse().expect("a timestamp"))
}

fn inbound() -> pb::record_message_request::Direction {
    pb::record_message_request::Direction::Inbound(pb::Inbound {
        entry_point: pb::EntryPoint::Organic.into(),
        platform: pb::ClientPlatform::Android.into(),
    })
}

fn free_form() -> pb::record_message_request::Direction {
    pb::record_message_request::Direction::Outbound(pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::FreeForm(pb::FreeForm {})),
    })
}

fn template(category: pb::Category) -> pb::record_message_request::Direction {
    pb::record_message_request::Direction::Outbound(pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::Template(pb::Template {
            name: format!("{}_notice", category.as_str_name().to_lowercase()),
            language: "en_US".to_owned(),
            category: category.into(),
        })),
    })
}

/// One row of the replay's table: (business, month, category, currency) → (answered count, answered
/// cost, replayed count, replayed cost).
type Bill = BTreeMap<(String, String, String, String), (u64, String, u64, String)>;

/// Runs `hourglass replay` with `args` and reads its table; the totals are rows of business `TOTAL`.
fn replay(args: &[&str]) -> Bill {
    let output = Command::new(hourglass_binary())
        .arg("replay")
        .args(args)
        .output()
        .expect("run hourglass replay");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "replay failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut bill = Bill::new();
    for line in stdout.lines().filter(|line| !line.starts_with('#')).skip(1) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        let (key, values) = if cells[0] == "TOTAL" {
            assert_eq!(cells.len(), 6, "{line}");
            (("TOTAL", "", "", cells[1]), &cells[2..])
        } else {
            assert_eq!(cells.len(), 8, "{line}");
            ((cells[0], cells[1], cells[2], cells[3]), &cells[4..])
        };
        bill.insert(
            (
                key.0.to_owned(),
                key.1.to_owned(),
                key.2.to_owned(),
                key.3.to_owned(),
            ),
            (
                values[0].parse().expect("a count"),
                values[1].to_owned(),
                values[2].parse().expect("a count"),
                values[3].to_owned(),
            ),
        );
    }
    bill
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_log_bills_what_was_answered_and_another_model_differs() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let log = dir.path().join("decisions.jsonl");
    let log_arg = log.to_str().expect("a UTF-8 path");
    let server = BinaryServer::start_with(
        "memory:",
        &["--decision-log", log_arg, "--decision-log-clear-ids"],
    )
    .await;
    let mut client = connect(server.addr).await;
    let business_id = fresh_business_id();
    let india = ["919800000001", "919800000002"];
    let america = ["14155550100", "14155550101"];
    let day = [
        (india[0], "08:00", inbound()),
        (india[0], "08:05", free_form()),
        (india[0], "08:10", template(pb::Category::Utility)),
        (india[0], "09:00", template(pb::Category::Marketing)),
        (india[0], "10:00", template(pb::Category::Marketing)),
        (india[1], "09:00", template(pb::Category::Marketing)),
        (india[1], "09:30", template(pb::Category::Authentication)),
        (india[1], "09:40", free_form()),
        (america[0], "11:00", inbound()),
        (america[0], "11:01", free_form()),
        (america[0], "12:00", template(pb::Category::Marketing)),
        (america[0], "13:00", template(pb::Category::Utility)),
        (america[1], "14:00", template(pb::Category::Authentication)),
        (america[1], "15:00", template(pb::Category::Marketing)),
        (america[1], "16:00", template(pb::Category::Marketing)),
        (america[1], "23:00", template(pb::Category::Utility)),
    ];
    for (idx, (customer_id, time, direction)) in day.iter().enumerate() {
        let request = pb::RecordMessageRequest {
            message_id: format!("wamid.{idx}"),
            business_id: business_id.clone(),
            customer_id: (*customer_id).to_owned(),
            at: at(time),
            direction: Some(direction.clone()),
        };
        client
            .record_message(request.clone())
            .await
            .expect("RecordMessage");
        if idx == 3 {
            // A retry: answered as a duplicate, and not logged again.
            let retry = client
                .record_message(request)
                .await
                .expect("RecordMessage")
                .into_inner();
            assert!(retry.duplicate);
        }
    }
    // An Authorize is logged too, and a replay ignores it.
    client
        .authorize(pb::AuthorizeRequest {
            business_id: business_id.clone(),
            customer_id: india[0].to_owned(),
            message: Some(pb::OutboundMessage {
                kind: Some(pb::outbound_message::Kind::Template(pb::Template {
                    name: "marketing_notice".to_owned(),
                    language: "en_US".to_owned(),
                    category: pb::Category::Marketing.into(),
                })),
            }),
            at: at("20:00"),
        })
        .await
        .expect("Authorize");
    // An AuthorizeBatch is logged a line per customer, and a replay ignores them too.
    let batch = client
        .authorize_batch(pb::AuthorizeBatchRequest {
            business_id: business_id.clone(),
            message: Some(pb::OutboundMessage {
                kind: Some(pb::outbound_message::Kind::Template(pb::Template {
                    name: "marketing_notice".to_owned(),
                    language: "en_US".to_owned(),
                    category: pb::Category::Marketing.into(),
                })),
            }),
            at: at("21:00"),
            customer_ids: vec![india[0].to_owned(), america[1].to_owned(), india[0].to_owned()],
        })
        .await
        .expect("AuthorizeBatch")
        .into_inner();
    assert_eq!(batch.results.len(), 3);
    drop(client);
    assert!(
        server.terminate().success(),
        "the server stops cleanly on SIGTERM"
    );

    let text = std::fs::read_to_string(&log).expect("the decision log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    let kinds = |kind: &str| lines.iter().filter(|line| line["kind"] == kind).count();
    assert_eq!(
        kinds("record"),
        day.len(),
        "one line per recorded message, no duplicate:\n{text}"
    );
    assert_eq!(
        kinds("authorize"),
        4,
        "one Authorize and three customers of a batch:\n{text}"
    );
    let batch_lines: Vec<_> = lines.iter().filter(|line| line["batch_size"] == 3).collect();
    assert_eq!(batch_lines.len(), 3, "{text}");
    let customers: Vec<_> = batch_lines
        .iter()
        .map(|line| line["request"]["customer_id"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        customers,
        [india[0], america[1], india[0]],
        "in the batch's order"
    );
    for (line, result) in batch_lines.iter().zip(&batch.results) {
        let decision = result.decision.as_ref().expect("a decision");
        assert_eq!(line["answer"]["allowed"], decision.allowed, "{line}");
        assert_eq!(line["request"]["business_id"], business_id.as_str());
    }
    assert!(
        text.contains("919800000001"),
        "ids in clear under --decision-log-clear-ids"
    );

    let same = replay(&["--decision-log", log_arg]);
    let rows: Vec<_> = same.keys().filter(|key| key.0 == business_id).collect();
    assert!(
        rows.len() >= 4,
        "marketing, utility and authentication in two currencies: {same:#?}"
    );
    for (key, (answered, answered_cost, replayed, replayed_cost)) in &same {
        assert_eq!(
            (answered, answered_cost),
            (replayed, replayed_cost),
            "row {key:?} replays as answered: {same:#?}"
        );
    }
    let marketing = same
        .iter()
        .filter(|(key, _)| key.0 == business_id && key.2 == "CATEGORY_MARKETING")
        .map(|(_, row)| row.0)
        .sum::<u64>();
    assert_eq!(
        marketing, 6,
        "every marketing template is a charged message: {same:#?}"
    );

    // Under the conversation model, the marketing templates a customer got within 24 h are one
    // conversation, and utility templates inside the customer service window are charged.
    let conversations = replay(&["--decision-log", log_arg, "--pricing-model", "conversation-2023"]);
    let replayed_marketing = conversations
        .iter()
        .filter(|(key, _)| key.0 == business_id && key.2 == "CATEGORY_MARKETING")
        .map(|(_, row)| (row.0, row.2))
        .fold((0, 0), |sum, row| (sum.0 + row.0, sum.1 + row.1));
    assert_eq!(
        replayed_marketing,
        (6, 4),
        "one marketing conversation per customer: {conversations:#?}"
    );
    assert!(
        conversations
            .iter()
            .any(|(key, row)| key.0 == "TOTAL" && row.1 != row.3),
        "the totals differ: {conversations:#?}"
    );
}
