//! The webhook's pure half: Meta's documented bodies (`tests/webhooks/`) read into items and effects.
//! Applying them to stores, twice, out of order and from two replicas at once, is tested end to end in
//! `tests/e2e/webhooks.rs`.

use hourglass_core::{
    ConsentKind, CustomerId, DeliveryStatus, Duration, EntryPoint, Instant, Message, MessagingLimit,
    MetaPricing, TemplateCategory, TemplateStatus,
};

use super::items::{BodyError, Effect, Item, What, items};
use crate::convert::Clock;

/// A clock after every fixture's timestamps.
fn clock() -> Clock {
    Clock {
        now: Instant::from_millis(1_800_000_000_000),
        max_skew: Duration::MINUTE,
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/webhooks/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("read {path}: {error}"))
}

fn read(name: &str) -> Vec<Item> {
    items(&fixture(name), clock()).unwrap_or_else(|error| panic!("{name}: {error}"))
}

fn only_effect(name: &str) -> (String, Effect) {
    let mut items = read(name);
    assert_eq!(items.len(), 1, "{name}: {items:?}");
    let item = items.remove(0);
    match item.what {
        What::Apply(effect) => (item.path, effect),
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn an_inbound_message_from_an_ad_opens_a_free_entry_point() {
    let (path, effect) = only_effect("messages.inbound_text.ctwa_referral.json");
    assert_eq!(path, "entry[0].changes[0].value.messages[0]");
    let Effect::Inbound(entry) = effect else {
        panic!("{effect:?}")
    };
    assert_eq!(
        entry.message_id.as_str(),
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUQ0N0VFMDA2MTQ0RkJFNkNDNAA="
    );
    assert_eq!(entry.event.thread.business_id.as_str(), "106540352242922");
    assert_eq!(entry.event.thread.customer_id.as_str(), "16505551234");
    assert_eq!(entry.event.at, Instant::from_millis(1_750_275_992_000));
    let Message::Inbound(inbound) = entry.event.message else {
        panic!("inbound")
    };
    assert_eq!(inbound.entry_point, EntryPoint::ClickToWhatsAppAd);
}

#[test]
fn a_customer_without_a_phone_number_is_its_bsuid() {
    let (_, effect) = only_effect("messages.inbound_text.username_no_phone_parent_bsuid.json");
    let Effect::Inbound(entry) = effect else {
        panic!("{effect:?}")
    };
    assert_eq!(
        entry.event.thread.customer_id,
        CustomerId::new("US.13491208655302741918").unwrap()
    );
}

#[test]
fn a_131049_failure_holds_marketing_and_every_status_is_kept() {
    let (path, effect) = only_effect("messages.status_failed.131049.json");
    assert_eq!(path, "entry[0].changes[0].value.statuses[0]");
    let Effect::Status {
        thread,
        report,
        consent: Some(event),
        ..
    } = effect
    else {
        panic!("{effect:?}")
    };
    assert_eq!(thread.customer_id.as_str(), "16505551234");
    assert_eq!(report.status, DeliveryStatus::Failed);
    assert_eq!(report.errors, [131_049]);
    assert_eq!(event.kind, ConsentKind::MarketingHold);
    assert_eq!(event.at, Instant::from_millis(1_750_030_073_000));

    let (_, effect) = only_effect("messages.status_sent.with_conversation_and_pricing.json");
    let Effect::Status {
        message_id,
        report,
        consent: None,
        ..
    } = effect
    else {
        panic!("{effect:?}")
    };
    assert_eq!(
        message_id.as_str(),
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="
    );
    assert_eq!(report.status, DeliveryStatus::Sent);
    assert_eq!(report.at, Instant::from_millis(1_750_030_073_000));
    assert_eq!(
        report.pricing,
        Some(MetaPricing {
            category: Some("marketing".to_owned()),
            pricing_type: Some("regular".to_owned()),
            billable: Some(true),
        })
    );
}

#[test]
fn user_preferences_stop_and_resume_marketing() {
    let (_, effect) = only_effect("user_preferences.resume.json");
    let Effect::Consent { thread, event } = effect else {
        panic!("{effect:?}")
    };
    assert_eq!(thread.business_id.as_str(), "106540352242922");
    assert_eq!(event.kind, ConsentKind::MarketingResume);
    assert_eq!(event.at, Instant::from_millis(1_731_705_721_000));
    let stop = String::from_utf8(fixture("user_preferences.resume.json"))
        .unwrap()
        .replace("\"resume\"", "\"stop\"");
    let items = items(stop.as_bytes(), clock()).unwrap();
    assert!(
        matches!(&items[..], [Item { what: What::Apply(Effect::Consent { event, .. }), .. }] if event.kind == ConsentKind::MarketingStop),
        "{items:?}"
    );
}

#[test]
fn template_updates_take_effect_at_the_entry_time() {
    let (path, effect) = only_effect("message_template_status_update.approved.json");
    assert_eq!(path, "entry[0].changes[0]");
    assert_eq!(
        effect,
        Effect::TemplateStatus {
            account: hourglass_core::AccountId::new("id", "102290129340398").unwrap(),
            template: hourglass_core::TemplateName::new("order_confirmation", "en-US").unwrap(),
            status: TemplateStatus::Approved,
            category: Some(TemplateCategory::Utility),
            pause: None,
            at: Instant::from_millis(1_751_247_548_000),
        }
    );
    let (_, effect) = only_effect("template_category_update.completed.json");
    let Effect::TemplateCategory { category, at, .. } = effect else {
        panic!("{effect:?}")
    };
    assert_eq!(category, TemplateCategory::Marketing);
    assert_eq!(at, Instant::from_millis(1_746_169_200_000));
}

#[test]
fn a_first_pause_lasts_three_hours_and_a_second_six() {
    for (title, hours) in [("FIRST_PAUSE", 3), ("SECOND_PAUSE", 6)] {
        let body = format!(
            r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","time":1751247548,"changes":[{{
                "field":"message_template_status_update","value":{{"event":"PAUSED",
                "message_template_name":"order_update","message_template_language":"en",
                "reason":"NONE","other_info":{{"title":"{title}","description":"quality"}}}}}}]}}]}}"#
        );
        let items = items(body.as_bytes(), clock()).unwrap();
        assert!(
            matches!(&items[..], [Item { what: What::Apply(Effect::TemplateStatus { status: TemplateStatus::Paused, pause: Some(pause), category: None, .. }), .. }] if *pause == Duration::hours(hours)),
            "{title}: {items:?}"
        );
    }
}

#[test]
fn messaging_limits_read_tier_names_and_numbers() {
    for (value, limit) in [
        (r#""TIER_250""#, MessagingLimit::Customers250),
        (r#""TIER_1K""#, MessagingLimit::Customers2K),
        (r#""TIER_2K""#, MessagingLimit::Customers2K),
        (r#""tier_10k""#, MessagingLimit::Customers10K),
        (r#""TIER_100K""#, MessagingLimit::Customers100K),
        (r#""TIER_UNLIMITED""#, MessagingLimit::Unlimited),
        ("2000", MessagingLimit::Customers2K),
    ] {
        for (field, key) in [
            ("phone_number_quality_update", "current_limit"),
            (
                "business_capability_update",
                "max_daily_conversations_per_business",
            ),
        ] {
            let body = format!(
                r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","time":1,"changes":[{{
                    "field":"{field}","value":{{"event":"UPGRADE","{key}":{value}}}}}]}}]}}"#
            );
            let items = items(body.as_bytes(), clock()).unwrap();
            assert!(
                matches!(&items[..], [Item { what: What::Apply(Effect::MessagingLimit { limit: found, .. }), .. }] if *found == limit),
                "{field} {value}: {items:?}"
            );
        }
    }
    let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{
        "field":"phone_number_quality_update","value":{"current_limit":"TIER_7"}}]}]}"#;
    let items = items(body.as_bytes(), clock()).unwrap();
    assert!(
        matches!(&items[..], [Item { path, what: What::Invalid(reason), .. }] if path == "entry[0].changes[0]" && reason.contains("current_limit")),
        "{items:?}"
    );
}

#[test]
fn a_body_that_is_not_a_webhook_is_refused_whole() {
    assert!(matches!(items(b"not json", clock()), Err(BodyError::NotJson(_))));
    assert!(matches!(
        items(b"[1, 2]", clock()),
        Err(BodyError::NotANotification(_))
    ));
    assert!(matches!(
        items(br#"{"object":"page","entry":[]}"#, clock()),
        Err(BodyError::WrongObject(object)) if object == "page"
    ));
}

#[test]
fn an_odd_item_is_named_by_its_path_and_the_rest_is_read() {
    let body = r#"{"object":"whatsapp_business_account","entry":[
        {"id":"1","changes":[{"field":"messages","value":{
            "metadata":{"phone_number_id":"106540352242922"},
            "messages":[
                {"from":"16505551234","id":"wamid.A","timestamp":"1750275992","type":"text"},
                {"from":"not a number","id":"wamid.B","timestamp":"1750275992","type":"text"},
                {"from":"16505551234","id":"wamid.C","type":"text"},
                {"from":"16505551234","id":"wamid.D","timestamp":"1750275993","type":"text"}
            ]}}]},
        "not an entry",
        {"id":"1","changes":[{"field":"flows","value":{}}, {"value":{}}]}
    ]}"#;
    let items = items(body.as_bytes(), clock()).unwrap();
    let summary: Vec<(&str, &str)> = items
        .iter()
        .map(|item| {
            let kind = match &item.what {
                What::Apply(_) => "apply",
                What::Ignored(_) => "ignored",
                What::Invalid(_) => "invalid",
            };
            (item.path.as_str(), kind)
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("entry[0].changes[0].value.messages[0]", "apply"),
            ("entry[0].changes[0].value.messages[1]", "invalid"),
            ("entry[0].changes[0].value.messages[2]", "invalid"),
            ("entry[0].changes[0].value.messages[3]", "apply"),
            ("entry[1]", "invalid"),
            ("entry[2].changes[0]", "ignored"),
            ("entry[2].changes[1]", "invalid"),
        ]
    );
    let What::Invalid(reason) = &items[1].what else {
        unreachable!()
    };
    assert!(reason.contains("from"), "{reason}");
}

#[test]
fn an_inbound_message_from_the_future_is_refused() {
    let at = (clock().now.as_millis() + 3_600_000) / 1_000;
    let body = format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","changes":[{{"field":"messages","value":{{
            "metadata":{{"phone_number_id":"1065"}},
            "messages":[{{"from":"16505551234","id":"wamid.F","timestamp":"{at}","type":"text"}}]}}}}]}}]}}"#
    );
    let items = items(body.as_bytes(), clock()).unwrap();
    assert!(
        matches!(&items[..], [Item { what: What::Invalid(reason), .. }] if reason.starts_with("timestamp")),
        "{items:?}"
    );
}

#[test]
fn a_quality_update_under_the_status_field_is_read_as_a_quality_update() {
    let body = String::from_utf8(fixture("message_template_quality_update.json"))
        .unwrap()
        .replace(
            "\"message_template_quality_update\"",
            "\"message_template_status_update\"",
        );
    assert!(body.contains("\"message_template_status_update\""));
    let items = items(body.as_bytes(), clock()).unwrap();
    assert!(
        matches!(
            &items[..],
            [Item { what: What::Apply(Effect::TemplateQuality { score, at, .. }), .. }]
                if score == "YELLOW" && *at == Instant::from_millis(1_674_864_290_000)
        ),
        "{items:?}"
    );
}
