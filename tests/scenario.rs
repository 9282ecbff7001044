//! Plays acceptance scenarios (the format of `tests/scenarios/README.md`) against a server over gRPC
//! and checks every expected field.

use std::time::{SystemTime, UNIX_EPOCH};

use hourglass_proto::v1 as pb;
use serde_json::Value;

use crate::{Client, RegistryClient, fresh_business_id};

/// Loads the scenarios of a file: `{"scenarios": [...]}` or a bare list.
pub fn load(json: &str) -> Vec<Value> {
    let value: Value = serde_json::from_str(json).expect("scenario file is JSON");
    match value {
        Value::Array(scenarios) => scenarios,
        Value::Object(mut file) => match file.remove("scenarios") {
            Some(Value::Array(scenarios)) => scenarios,
            _ => panic!("scenario file has no `scenarios` list"),
        },
        _ => panic!("scenario file is neither a list nor an object"),
    }
}

/// Parses an RFC 3339 UTC instant such as `2024-03-04T00:00:00Z` into milliseconds since the epoch.
pub fn parse_t0(t0: &str) -> i64 {
    let timestamp: prost_types::Timestamp = t0
        .parse()
        .unwrap_or_else(|error| panic!("bad t0 {t0:?}: {error}"));
    timestamp.seconds * 1_000 + i64::from(timestamp.nanos / 1_000_000)
}

/// Parses a relative time such as `23h59m59s999ms` into milliseconds.
pub fn parse_relative(text: &str) -> i64 {
    let mut total = 0i64;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let value: i64 = number
            .parse()
            .unwrap_or_else(|_| panic!("bad relative time {text:?}"));
        number.clear();
        total += value
            * match c {
                'h' => 3_600_000,
                'm' if chars.peek() == Some(&'s') => {
                    chars.next();
                    1
                }
                'm' => 60_000,
                's' => 1_000,
                _ => panic!("bad unit {c:?} in {text:?}"),
            };
    }
    assert!(number.is_empty(), "relative time {text:?} ends without a unit");
    total
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

fn timestamp(millis: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: millis.div_euclid(1_000),
        nanos: (millis.rem_euclid(1_000) * 1_000_000) as i32,
    }
}

fn millis_of(timestamp: &prost_types::Timestamp) -> i64 {
    timestamp.seconds * 1_000 + i64::from(timestamp.nanos / 1_000_000)
}

fn category(name: &str) -> pb::Category {
    pb::Category::from_str_name(&format!("CATEGORY_{name}"))
        .unwrap_or_else(|| panic!("unknown category {name:?}"))
}

/// The running state of one scenario.
struct Run<'a> {
    client: &'a mut Client,
    registry: &'a mut RegistryClient,
    id: String,
    business_id: String,
    t0: i64,
    message_keys: std::collections::HashMap<String, String>,
    n_messages: u64,
}

impl Run<'_> {
    fn instant(&self, text: &str) -> i64 {
        match text.strip_prefix("now+") {
            Some(offset) => now_millis() + parse_relative(offset),
            None => self.t0 + parse_relative(text),
        }
    }

    fn message_id(&mut self, step: &Value) -> (String, bool) {
        self.n_messages += 1;
        let fresh = format!("wamid.{}.{}.{}", self.id, self.business_id, self.n_messages);
        match step.get("message_key").and_then(Value::as_str) {
            Some(key) => match self.message_keys.get(key) {
                Some(id) => (id.clone(), true),
                None => {
                    self.message_keys.insert(key.to_owned(), fresh.clone());
                    (fresh, false)
                }
            },
            None => (fresh, false),
        }
    }
}

/// Plays one scenario and panics with the scenario id and step on the first difference.
pub async fn play(client: &mut Client, registry: &mut RegistryClient, scenario: &Value) {
    let id = scenario["id"].as_str().expect("scenario id").to_owned();
    let t0 = parse_t0(scenario["t0"].as_str().expect("scenario t0"));
    let customer = scenario["customer"].as_str().unwrap_or("919800000000").to_owned();
    let mut run = Run {
        client,
        registry,
        id,
        business_id: fresh_business_id(),
        t0,
        message_keys: Default::default(),
        n_messages: 0,
    };
    let steps = scenario["steps"].as_array().expect("scenario steps");
    let mut n_distinct = 0u64;
    for (step_idx, step) in steps.iter().enumerate() {
        if let Some(repeat) = step.get("repeat").and_then(Value::as_u64) {
            let inner = step["steps"].as_array().expect("repeat steps");
            for _ in 0..repeat {
                n_distinct += 1;
                let distinct_customer = format!("9196{n_distinct:08}");
                for (inner_idx, inner_step) in inner.iter().enumerate() {
                    let place = format!("step {step_idx} (repeat {n_distinct}, inner step {inner_idx})");
                    play_step(&mut run, inner_step, &distinct_customer, &place).await;
                }
            }
        } else {
            play_step(&mut run, step, &customer, &format!("step {step_idx}")).await;
        }
    }
}

async fn play_step(run: &mut Run<'_>, step: &Value, default_customer: &str, place: &str) {
    let place = format!("scenario {} {place} {step}", run.id);
    let customer = step
        .get("customer")
        .and_then(Value::as_str)
        .unwrap_or(default_customer)
        .to_owned();
    let at = run.instant(step["at"].as_str().unwrap_or_else(|| panic!("{place}: no `at`")));
    let empty = Value::Object(Default::default());
    let expect = step.get("expect").unwrap_or(&empty);

    if let Some(inbound) = step.get("inbound") {
        let entry_point = inbound
            .get("entry_point")
            .and_then(Value::as_str)
            .unwrap_or("ORGANIC");
        let platform = inbound.get("platform").and_then(Value::as_str);
        let message = pb::record_message_request::Direction::Inbound(pb::Inbound {
            entry_point: pb::EntryPoint::from_str_name(&format!("ENTRY_POINT_{entry_point}"))
                .expect("entry point") as i32,
            platform: platform.map_or(0, |platform| {
                pb::ClientPlatform::from_str_name(&format!("CLIENT_PLATFORM_{platform}")).expect("platform")
                    as i32
            }),
        });
        let (message_id, reused) = run.message_id(step);
        let request = pb::RecordMessageRequest {
            message_id,
            business_id: run.business_id.clone(),
            customer_id: customer.clone(),
            at: Some(timestamp(at)),
            direction: Some(message),
        };
        match run.client.record_message(request).await {
            Ok(response) => {
                let response = response.into_inner();
                check_no_grpc_error(expect, &place);
                check_duplicate(expect, response.duplicate, reused, &place);
            }
            Err(status) => check_grpc_error(expect, &status, &place),
        }
    } else if let Some(outbound) = step.get("outbound").or_else(|| step.get("authorize")) {
        let message = outbound_message(
            outbound
                .as_str()
                .unwrap_or_else(|| panic!("{place}: outbound is a string")),
        );
        let authorize = pb::AuthorizeRequest {
            business_id: run.business_id.clone(),
            customer_id: customer.clone(),
            message: Some(message.clone()),
            at: Some(timestamp(at)),
        };
        let authorized = run.client.authorize(authorize).await;
        if step.get("authorize").is_some() {
            match authorized {
                Ok(response) => {
                    check_no_grpc_error(expect, &place);
                    let decision = response
                        .into_inner()
                        .decision
                        .unwrap_or_else(|| panic!("{place}: no decision"));
                    check_decision(expect, &decision, at, run.t0, &place);
                }
                Err(status) => check_grpc_error(expect, &status, &place),
            }
        } else {
            let (message_id, reused) = run.message_id(step);
            let record = pb::RecordMessageRequest {
                message_id,
                business_id: run.business_id.clone(),
                customer_id: customer.clone(),
                at: Some(timestamp(at)),
                direction: Some(pb::record_message_request::Direction::Outbound(message)),
            };
            match run.client.record_message(record).await {
                Ok(response) => {
                    check_no_grpc_error(expect, &place);
                    let response = response.into_inner();
                    check_duplicate(expect, response.duplicate, reused, &place);
                    let decision = response
                        .decision
                        .unwrap_or_else(|| panic!("{place}: no decision"));
                    if !reused {
                        let authorized = authorized
                            .unwrap_or_else(|status| {
                                panic!("{place}: Authorize failed but RecordMessage did not: {status}")
                            })
                            .into_inner()
                            .decision
                            .unwrap_or_else(|| panic!("{place}: Authorize gave no decision"));
                        assert_eq!(
                            without_conversation_id(&authorized),
                            without_conversation_id(&decision),
                            "{place}: Authorize and RecordMessage differ"
                        );
                        if let Some(conversation) = authorized
                            .charge
                            .as_ref()
                            .and_then(|charge| charge.conversation.as_ref())
                        {
                            let opens = authorized
                                .charge
                                .as_ref()
                                .is_some_and(|charge| charge.opens_conversation);
                            assert_eq!(
                                conversation.id.is_empty(),
                                opens,
                                "{place}: Authorize names a conversation only when it exists"
                            );
                        }
                    }
                    check_decision(expect, &decision, at, run.t0, &place);
                }
                Err(status) => {
                    assert!(
                        authorized.is_err(),
                        "{place}: RecordMessage failed ({status}) but Authorize did not"
                    );
                    check_grpc_error(expect, &status, &place);
                }
            }
        }
    } else if let Some(account) = step.get("register") {
        register(run, account, at, &place).await;
    } else if let Some(template) = step.get("put_template") {
        put_template(run, template, at, &place).await;
    } else if let Some(kind) = step.get("consent") {
        let kind = kind
            .as_str()
            .unwrap_or_else(|| panic!("{place}: consent is a string"));
        let request = pb::RecordConsentRequest {
            business_id: run.business_id.clone(),
            customer_id: customer.clone(),
            kind: pb::ConsentKind::from_str_name(&format!("CONSENT_KIND_{kind}"))
                .unwrap_or_else(|| panic!("{place}: unknown consent kind {kind}")) as i32,
            at: Some(timestamp(at)),
            source: step
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        };
        match run.registry.record_consent(request).await {
            Ok(_) => check_no_grpc_error(expect, &place),
            Err(status) => check_grpc_error(expect, &status, &place),
        }
    } else if step.get("open").is_none() && step.get("csw_expires_at").is_none() {
        panic!("{place}: unknown step kind");
    }

    // Listing: on every step that expects `open` or `csw_expires_at`, at the same instant.
    let open = step.get("open").or_else(|| expect.get("open"));
    let window = step
        .get("csw_expires_at")
        .or_else(|| expect.get("csw_expires_at"));
    if open.is_some() || window.is_some() {
        let request = pb::ListOpenConversationsRequest {
            business_id: run.business_id.clone(),
            customer_id: customer,
            at: Some(timestamp(at)),
        };
        let listed = run
            .client
            .list_open_conversations(request)
            .await
            .unwrap_or_else(|status| panic!("{place}: list failed: {status}"))
            .into_inner();
        if let Some(open) = open {
            let mut expected: Vec<String> = open
                .as_array()
                .expect("open is a list")
                .iter()
                .map(|name| name.as_str().expect("category").to_owned())
                .collect();
            expected.sort();
            let mut actual: Vec<String> = listed
                .conversations
                .iter()
                .map(|conversation| {
                    pb::Category::try_from(conversation.category)
                        .expect("known category")
                        .as_str_name()
                        .trim_start_matches("CATEGORY_")
                        .to_owned()
                })
                .collect();
            actual.sort();
            assert_eq!(actual, expected, "{place}: open conversations");
        }
        if let Some(window) = window {
            let actual = listed.customer_service_window_expires_at.as_ref().map(millis_of);
            let expected = window.as_str().map(|text| run.t0 + parse_relative(text));
            assert_eq!(
                actual, expected,
                "{place}: ListOpenConversations customer_service_window_expires_at"
            );
        }
    }
}

/// The account a scenario registers its business with.
fn account_id(run: &Run<'_>) -> String {
    format!("waba-{}", run.business_id)
}

/// Registers the scenario's business with an account of its own, with the settings of `account`.
async fn register(run: &mut Run<'_>, account: &Value, at: i64, place: &str) {
    let flag = |name: &str| account.get(name).and_then(Value::as_bool).unwrap_or(false);
    let marketing_cap = account.get("marketing_cap").map(|cap| pb::MarketingCap {
        count: cap["count"].as_u64().expect("marketing_cap.count") as u32,
        window: Some(prost_types::Duration {
            seconds: parse_relative(cap["window"].as_str().expect("marketing_cap.window")) / 1_000,
            nanos: 0,
        }),
    });
    let request = pb::PutAccountRequest {
        account_id: account_id(run),
        time_zone: account
            .get("time_zone")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        require_opt_in: flag("require_opt_in"),
        require_registered_templates: flag("require_registered_templates"),
        marketing_cap,
        effective_at: Some(timestamp(at)),
        ..Default::default()
    };
    run.registry
        .put_account(request)
        .await
        .unwrap_or_else(|status| panic!("{place}: PutAccount failed: {status}"));
    if let Some(limit) = account.get("messaging_limit").and_then(Value::as_str) {
        let request = pb::PutPortfolioRequest {
            // The account is its own portfolio.
            portfolio_id: account_id(run),
            messaging_limit: pb::MessagingLimit::from_str_name(&format!("MESSAGING_LIMIT_{limit}"))
                .unwrap_or_else(|| panic!("{place}: unknown messaging limit {limit}"))
                as i32,
            effective_at: Some(timestamp(at)),
        };
        run.registry
            .put_portfolio(request)
            .await
            .unwrap_or_else(|status| panic!("{place}: PutPortfolio failed: {status}"));
    }
    let request = pb::PutBusinessRequest {
        business_id: run.business_id.clone(),
        account_id: account_id(run),
        effective_at: Some(timestamp(at)),
    };
    run.registry
        .put_business(request)
        .await
        .unwrap_or_else(|status| panic!("{place}: PutBusiness failed: {status}"));
}

/// Puts the template that `"TEMPLATE:C"` sends (`tpl_<c>`, `en`) in the account's registry.
async fn put_template(run: &mut Run<'_>, template: &Value, at: i64, place: &str) {
    let sent = template["template"].as_str().expect("put_template.template");
    let category = template.get("category").and_then(Value::as_str).unwrap_or(sent);
    let status = template["status"].as_str().expect("put_template.status");
    let request = pb::PutTemplateRequest {
        account_id: account_id(run),
        name: format!("tpl_{}", sent.to_lowercase()),
        language: "en".to_owned(),
        status: pb::TemplateStatus::from_str_name(&format!("TEMPLATE_STATUS_{status}"))
            .unwrap_or_else(|| panic!("{place}: unknown status {status}")) as i32,
        category: self::category(category) as i32,
        effective_at: Some(timestamp(at)),
        paused_until: template
            .get("paused_until")
            .and_then(Value::as_str)
            .map(|until| timestamp(run.instant(until))),
    };
    run.registry
        .put_template(request)
        .await
        .unwrap_or_else(|status| panic!("{place}: PutTemplate failed: {status}"));
}

fn outbound_message(text: &str) -> pb::OutboundMessage {
    let kind = match text.strip_prefix("TEMPLATE:") {
        Some(name) => pb::outbound_message::Kind::Template(pb::Template {
            name: format!("tpl_{}", name.to_lowercase()),
            language: "en".to_owned(),
            category: category(name) as i32,
        }),
        None if text == "FREE_FORM" => pb::outbound_message::Kind::FreeForm(pb::FreeForm {}),
        None => panic!("unknown outbound {text:?}"),
    };
    pb::OutboundMessage { kind: Some(kind) }
}

fn without_conversation_id(decision: &pb::Decision) -> pb::Decision {
    let mut decision = decision.clone();
    if let Some(conversation) = decision
        .charge
        .as_mut()
        .and_then(|charge| charge.conversation.as_mut())
    {
        conversation.id.clear();
    }
    decision
}

fn check_no_grpc_error(expect: &Value, place: &str) {
    if let Some(code) = expect.get("grpc_error") {
        panic!("{place}: expected gRPC error {code}, the call succeeded");
    }
}

fn check_grpc_error(expect: &Value, status: &tonic::Status, place: &str) {
    let expected = expect
        .get("grpc_error")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{place}: unexpected error {status:?}"));
    let actual = format!("{:?}", status.code());
    let expected_camel: String = expected
        .split('_')
        .map(|word| word[..1].to_owned() + &word[1..].to_lowercase())
        .collect();
    assert_eq!(actual, expected_camel, "{place}: gRPC status");
}

fn check_duplicate(expect: &Value, duplicate: bool, reused: bool, place: &str) {
    if !reused {
        assert!(!duplicate, "{place}: a fresh message id answered duplicate");
    }
    if let Some(expected) = expect.get("duplicate").and_then(Value::as_bool) {
        assert_eq!(duplicate, expected, "{place}: duplicate");
    }
}

fn check_decision(expect: &Value, decision: &pb::Decision, at: i64, t0: i64, place: &str) {
    let charge = decision.charge.as_ref();
    let conversation = charge.and_then(|charge| charge.conversation.as_ref());
    if let Some(allowed) = expect.get("allowed").and_then(Value::as_bool) {
        assert_eq!(decision.allowed, allowed, "{place}: allowed ({decision:?})");
    }
    if let Some(reason) = expect.get("deny_reason").and_then(Value::as_str) {
        let actual = pb::DenyReason::try_from(decision.deny_reason)
            .expect("known deny reason")
            .as_str_name();
        assert_eq!(actual, format!("DENY_REASON_{reason}"), "{place}: deny_reason");
        assert!(
            !decision.explanation.is_empty(),
            "{place}: a denial explains itself"
        );
    }
    if let Some(code) = expect.get("meta_error_code").and_then(Value::as_i64) {
        assert_eq!(
            i64::from(decision.meta_error_code),
            code,
            "{place}: meta_error_code"
        );
    }
    match expect.get("opens") {
        Some(Value::String(name)) => {
            let charge = charge.unwrap_or_else(|| panic!("{place}: no charge"));
            assert!(
                charge.opens_conversation,
                "{place}: opens_conversation ({charge:?})"
            );
            assert_eq!(
                conversation.map(|conversation| conversation.category),
                Some(category(name) as i32),
                "{place}: opened category"
            );
        }
        Some(Value::Null) => assert!(
            !charge.is_some_and(|charge| charge.opens_conversation),
            "{place}: opens nothing ({charge:?})"
        ),
        _ => {}
    }
    if let Some(name) = expect.get("conversation_category").and_then(Value::as_str) {
        assert_eq!(
            conversation.map(|conversation| conversation.category),
            Some(category(name) as i32),
            "{place}: conversation category ({charge:?})"
        );
    }
    if let Some(expires_at) = expect.get("expires_at").and_then(Value::as_str) {
        let actual = conversation
            .and_then(|conversation| conversation.expires_at.as_ref())
            .map(millis_of);
        assert_eq!(
            actual,
            Some(t0 + parse_relative(expires_at)),
            "{place}: conversation expires_at"
        );
    }
    if let Some(model) = expect.get("pricing_model").and_then(Value::as_str) {
        let actual = charge.map(|charge| charge.pricing_model);
        assert_eq!(
            actual,
            pb::PricingModel::from_str_name(&format!("PRICING_MODEL_{model}")).map(|model| model as i32),
            "{place}: pricing_model"
        );
    }
    if let Some(pricing_type) = expect.get("pricing_type").and_then(Value::as_str) {
        let actual = charge.map(|charge| charge.pricing_type);
        assert_eq!(
            actual,
            pb::PricingType::from_str_name(&format!("PRICING_TYPE_{pricing_type}"))
                .map(|pricing_type| pricing_type as i32),
            "{place}: pricing_type"
        );
    }
    if let Some(billable) = expect.get("billable").and_then(Value::as_bool) {
        assert_eq!(
            charge.map(|charge| charge.billable),
            Some(billable),
            "{place}: billable"
        );
    }
    if let Some(price) = expect.get("price").and_then(Value::as_str) {
        check_price(price, charge.and_then(|charge| charge.price.as_ref()), place);
    }
    if let Some(window) = expect.get("csw_expires_at") {
        let actual = decision
            .customer_service_window_expires_at
            .as_ref()
            .map(millis_of);
        match window.as_str() {
            Some(text) => assert_eq!(
                actual,
                Some(t0 + parse_relative(text)),
                "{place}: decision customer_service_window_expires_at"
            ),
            None => assert!(
                actual.is_none_or(|expires_at| expires_at <= at),
                "{place}: the window should be closed, got {actual:?}"
            ),
        }
    }
}

/// Compares a price like `0.8147 INR` exactly: units and nanos.
fn check_price(expected: &str, actual: Option<&pb::Money>, place: &str) {
    let (amount, currency) = expected
        .split_once(' ')
        .unwrap_or_else(|| panic!("bad price {expected:?}"));
    let (units, fraction) = amount.split_once('.').unwrap_or((amount, ""));
    let units: i64 = units.parse().expect("price units");
    let nanos: i32 = format!("{fraction:0<9}").parse().expect("price nanos");
    match actual {
        Some(money)
            if !(units == 0
                && nanos == 0
                && money.units == 0
                && money.nanos == 0
                && money.currency_code.is_empty()) =>
        {
            assert_eq!(
                (money.units, money.nanos, money.currency_code.as_str()),
                (units, nanos, currency),
                "{place}: price"
            );
        }
        Some(_) => {}
        None => assert!(units == 0 && nanos == 0, "{place}: no price, expected {expected}"),
    }
}
