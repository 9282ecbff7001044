//! Webhook bodies that nobody on this team wrote: the test fixtures of public WhatsApp Cloud API SDKs
//! (pywa, whatsapp-api-js, whatsapp-business-java-api), each in `tests/webhooks/sdk/` with its source in
//! `tests/webhooks/SOURCES.md`. Each is ingested twice on a fresh in-memory store: the first time every
//! item is accounted for and lands where the table says, the second time nothing is applied again.

use std::path::PathBuf;

use hourglass_e2e::{InProcessServer, WebhookClient};
use hourglass_proto::v1 as pb;
use serde_json::Value;

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/webhooks/sdk")
}

fn body(name: &str) -> Vec<u8> {
    let path = sdk_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

async fn ingest(client: &mut WebhookClient, name: &str, payload: &[u8]) -> pb::IngestWebhookResponse {
    client
        .ingest_webhook(pb::IngestWebhookRequest {
            payload: payload.to_vec(),
            signature: String::new(),
        })
        .await
        .unwrap_or_else(|status| panic!("{name}: IngestWebhook failed: {status:?}"))
        .into_inner()
}

/// What a fresh store makes of one body.
struct Expected {
    name: &'static str,
    applied: u32,
    ignored: u32,
    /// Each item in `errors`: its exact path, and a part of its reason.
    errors: &'static [(&'static str, &'static str)],
}

const fn expect(name: &'static str, applied: u32, ignored: u32) -> Expected {
    Expected {
        name,
        applied,
        ignored,
        errors: &[],
    }
}

/// Every file of `tests/webhooks/sdk/`, in name order.
const EVERY_SDK_BODY: &[Expected] = &[
    // `ACCOUNT_RESTRICTION` is not an event Hourglass uses.
    expect("pywa.account_update_restriction.json", 0, 1),
    // The contact carries both a phone number and a BSUID (linked), and the button reply is an
    // inbound message.
    expect("pywa.interactive_button_reply_bsuid.json", 2, 0),
    expect("pywa.message_image.json", 1, 0),
    expect("pywa.message_reaction.json", 1, 0),
    // `source_type` is pywa's placeholder "ad or post": the message is kept as an organic one.
    expect("pywa.message_referral.json", 1, 0),
    expect("pywa.status_sent_cbp.json", 1, 0),
    expect("pywa.system_user_changed_number.json", 1, 0),
    // Meta's shape since August 2026: no phone number, the old BSUID in `system.previous_user_id`.
    // The new BSUID leads to the thread of the old one.
    expect("pywa.system_user_changed_user_id.json", 1, 0),
    expect("pywa.template_category_update.json", 1, 0),
    expect("pywa.template_quality_update.json", 1, 0),
    // Meta's older template status updates name no `message_template_category`. On a fresh store the
    // registry does not know the template either, so Hourglass cannot tell its category and refuses
    // the status by design (the reason says to PutTemplate it first); the item is well-formed.
    Expected {
        name: "pywa.template_status_approved_no_category.json",
        applied: 0,
        ignored: 0,
        errors: &[(
            "entry[0].changes[0]",
            "template `my_message_template` (pt-BR) has no category",
        )],
    },
    expect("pywa.user_preferences_resume.json", 1, 0),
    // A status to a number with a BSUID: the contact's two ids are linked, and the status is kept.
    expect("whatsapp-api-js.v25_sent_pmp_bsuid.json", 2, 0),
    expect(
        "whatsapp-business-java-api.phone_number_quality_update_flagged.json",
        1,
        0,
    ),
    expect("whatsapp-business-java-api.status_failed_131047.json", 1, 0),
];

/// The items of a body as Hourglass counts them, read from the JSON alone: in a `messages` value
/// each contact with both `wa_id` and `user_id`, each message and each status (or the value itself when
/// it has none of them); in a `user_preferences` value each preference (or the value); any other change
/// is one item.
fn items_in(body: &Value) -> usize {
    let list = |value: &Value, key: &str| value[key].as_array().map_or(0, Vec::len);
    let mut items = 0;
    for entry in body["entry"].as_array().expect("entries") {
        for change in entry["changes"].as_array().expect("changes") {
            let value = &change["value"];
            let count = match change["field"].as_str() {
                Some("messages") => {
                    let linked = value["contacts"].as_array().map_or(0, |contacts| {
                        contacts
                            .iter()
                            .filter(|contact| contact["wa_id"].is_string() && contact["user_id"].is_string())
                            .count()
                    });
                    linked + list(value, "messages") + list(value, "statuses")
                }
                Some("user_preferences") => list(value, "user_preferences"),
                _ => 1,
            };
            items += count.max(1);
        }
    }
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_sdk_body_is_accounted_for_and_applies_once() {
    let mut names: Vec<String> = std::fs::read_dir(sdk_dir())
        .expect("list tests/webhooks/sdk")
        .filter_map(|entry| {
            let name = entry.ok()?.file_name().into_string().ok()?;
            name.ends_with(".json").then_some(name)
        })
        .collect();
    names.sort();
    let listed: Vec<&str> = EVERY_SDK_BODY.iter().map(|expected| expected.name).collect();
    assert_eq!(names, listed, "every SDK body is in the table, and only those");
    assert!((8..=15).contains(&names.len()), "{} SDK bodies", names.len());

    for expected in EVERY_SDK_BODY {
        let name = expected.name;
        let payload = body(name);
        let json: Value = serde_json::from_slice(&payload).expect("SDK bodies are JSON");
        let items = items_in(&json);

        let server = InProcessServer::start(&["--store", "memory:"]).await;
        server.client().await;
        let mut client = server.webhook_client().await;

        let first = ingest(&mut client, name, &payload).await;
        let accounted =
            first.applied as usize + first.duplicates as usize + first.ignored as usize + first.errors.len();
        assert_eq!(accounted, items, "{name}: every item is accounted for: {first:?}");
        assert_eq!(
            (first.applied, first.duplicates, first.ignored, first.errors.len()),
            (expected.applied, 0, expected.ignored, expected.errors.len()),
            "{name}: {first:?}"
        );
        assert_eq!(
            first.ignored_items.len(),
            expected.ignored as usize,
            "{name}: {first:?}"
        );
        for (error, (path, reason)) in first.errors.iter().zip(expected.errors) {
            assert_eq!(error.path, *path, "{name}: {first:?}");
            assert!(error.reason.contains(reason), "{name}: {error:?}");
        }

        let again = ingest(&mut client, name, &payload).await;
        assert_eq!(
            (again.applied, again.duplicates, again.ignored),
            (0, first.applied, first.ignored),
            "{name} again: {again:?}"
        );
        let paths = |response: &pb::IngestWebhookResponse| {
            response
                .errors
                .iter()
                .map(|error| error.path.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(paths(&again), paths(&first), "{name} again: {again:?}");
        server.stop().await;
    }
}
