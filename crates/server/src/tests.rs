//! gRPC tests: a real server on `127.0.0.1:0` and a real tonic client, as a gateway talks to it.
//!
//! Most tests start `run` with the `memory:` store; the ones about store failures serve a `FakeStore`
//! that can hang or fail on demand.

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use hourglass_core::{Claim, Counters, Instant, Policy, ThreadKey};
use hourglass_proto::v1 as pb;
use hourglass_proto::v1::policy_service_client::PolicyServiceClient;
use hourglass_store::{Claimed, Commit, Committed, Hold, MemoryStore, Read, ReadPlan, Store};
use prost_types::Timestamp;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::*;
use crate::config::WhenStoreUnavailable;
use crate::convert::Clock;

/// 2024-03-01T10:00:00Z, in seconds: a past instant, so that every `at` below is accepted.
const T0: i64 = 1_709_287_200;
const HOUR: i64 = 3_600;
const INDIA: &str = "+919800000001";

/// A server running in the background, stopped through its shutdown future.
pub(crate) struct TestServer {
    addr: std::net::SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestServer {
    /// Starts `run` with the `memory:` store and the default configuration.
    pub(crate) async fn start() -> TestServer {
        let config = Config::try_parse_from(["hourglass", "--store", "memory:"]).expect("valid test config");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let addr = listener.local_addr().unwrap();
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(run(config, listener, async move {
            let _ = shutdown_rx.await;
        }));
        TestServer { addr, shutdown, task }
    }

    /// Serves `store` with the default policy, a 100 ms store timeout and a 20 ms health check.
    async fn start_with_store(store: Arc<dyn Store>) -> TestServer {
        TestServer::start_degrading(store, WhenStoreUnavailable::Fail).await
    }

    /// Serves `store` as `start_with_store` does, answering as `when` says while it is unavailable.
    async fn start_degrading(store: Arc<dyn Store>, when: WhenStoreUnavailable) -> TestServer {
        let policy = Policy::conversation_2023(rate_card::load(None).expect("the default card is valid"));
        let options = ServeOptions {
            max_clock_skew: hourglass_core::Duration::MINUTE,
            store_timeout: StdDuration::from_millis(100),
            when_store_unavailable: when,
            health_check_interval: StdDuration::from_millis(20),
            connection: crate::config::ConnectionConfig::default(),
            webhook: crate::WebhookOptions::default(),
            metrics: None,
            tls: None,
            tokens: None,
            decision_log: None,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let addr = listener.local_addr().unwrap();
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            serve(
                store,
                "fake:",
                SharedPolicy::new(policy),
                options,
                listener,
                async move {
                    let _ = shutdown_rx.await;
                },
            )
            .await
        });
        TestServer { addr, shutdown, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) async fn client(&self) -> PolicyServiceClient<Channel> {
        PolicyServiceClient::connect(self.url())
            .await
            .expect("connect to the test server")
    }

    pub(crate) async fn channel(&self) -> Channel {
        Channel::from_shared(self.url())
            .unwrap()
            .connect()
            .await
            .expect("connect to the test server")
    }

    async fn health(&self) -> HealthClient<Channel> {
        HealthClient::new(self.channel().await)
    }

    /// Shuts the server down and checks that `run` returns `Ok` promptly.
    pub(crate) async fn stop(self) {
        self.shutdown.send(()).expect("the server is still running");
        let result = tokio::time::timeout(StdDuration::from_secs(5), self.task)
            .await
            .expect("the server stops within 5 s")
            .expect("the server task does not panic");
        result.expect("the server stops cleanly");
    }
}

pub(crate) fn at(seconds: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos: 0 })
}

fn free_form() -> pb::OutboundMessage {
    pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::FreeForm(pb::FreeForm {})),
    }
}

fn template(category: pb::Category) -> pb::OutboundMessage {
    template_with_category(category.into())
}

fn template_with_category(category: i32) -> pb::OutboundMessage {
    pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::Template(pb::Template {
            name: "order_update".to_owned(),
            language: "en".to_owned(),
            category,
        })),
    }
}

fn unnamed_template() -> pb::OutboundMessage {
    pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::Template(pb::Template {
            name: " ".to_owned(),
            language: "en".to_owned(),
            category: pb::Category::Utility.into(),
        })),
    }
}

fn inbound(message_id: &str, business_id: &str, seconds: i64) -> pb::RecordMessageRequest {
    pb::RecordMessageRequest {
        message_id: message_id.to_owned(),
        business_id: business_id.to_owned(),
        customer_id: INDIA.to_owned(),
        at: at(seconds),
        direction: Some(pb::record_message_request::Direction::Inbound(
            pb::Inbound::default(),
        )),
    }
}

fn outbound(
    message_id: &str,
    business_id: &str,
    seconds: i64,
    message: pb::OutboundMessage,
) -> pb::RecordMessageRequest {
    pb::RecordMessageRequest {
        message_id: message_id.to_owned(),
        business_id: business_id.to_owned(),
        customer_id: INDIA.to_owned(),
        at: at(seconds),
        direction: Some(pb::record_message_request::Direction::Outbound(message)),
    }
}

fn authorize(business_id: &str, seconds: i64, message: pb::OutboundMessage) -> pb::AuthorizeRequest {
    pb::AuthorizeRequest {
        business_id: business_id.to_owned(),
        customer_id: INDIA.to_owned(),
        message: Some(message),
        at: at(seconds),
    }
}

fn list(business_id: &str, seconds: i64) -> pb::ListOpenConversationsRequest {
    pb::ListOpenConversationsRequest {
        business_id: business_id.to_owned(),
        customer_id: INDIA.to_owned(),
        at: at(seconds),
    }
}

fn inr(units: i64, nanos: i32) -> Option<pb::Money> {
    Some(pb::Money {
        currency_code: "INR".to_owned(),
        units,
        nanos,
    })
}

/// Checks that a call failed with `INVALID_ARGUMENT` and a message naming `field`.
#[track_caller]
pub(crate) fn check_invalid<T: std::fmt::Debug>(result: Result<T, Status>, field: &str) {
    let status = result.expect_err("the request is invalid");
    assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
    assert!(
        status.message().contains(&format!("`{field}`")),
        "{:?} does not name `{field}`",
        status.message()
    );
}

#[tokio::test]
async fn free_form_reply_opens_a_free_tier_service_conversation() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let recorded = client
        .record_message(inbound("in-1", "acme", T0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        recorded,
        pb::RecordMessageResponse {
            decision: None,
            duplicate: false
        }
    );

    let reply_at = T0 + HOUR;
    let authorized = client
        .authorize(authorize("acme", reply_at, free_form()))
        .await
        .unwrap()
        .into_inner();
    let authorized = authorized.decision.expect("a decision");
    let expected_conversation = pb::Conversation {
        id: String::new(),
        category: pb::Category::Service.into(),
        opened_at: at(reply_at),
        expires_at: at(reply_at + 24 * HOUR),
    };
    assert_eq!(
        authorized,
        pb::Decision {
            allowed: true,
            deny_reason: pb::DenyReason::Unspecified.into(),
            meta_error_code: 0,
            explanation: String::new(),
            charge: Some(pb::Charge {
                pricing_model: pb::PricingModel::Conversation.into(),
                pricing_type: pb::PricingType::FreeTier.into(),
                billable: true,
                category: pb::Category::Service.into(),
                price: inr(0, 0),
                opens_conversation: true,
                conversation: Some(expected_conversation),
                tier: 0,
            }),
            customer_service_window_expires_at: at(T0 + 24 * HOUR),
            shadow_deny_reason: pb::DenyReason::Unspecified.into(),
            decision_source: pb::DecisionSource::Store.into(),
        }
    );

    let recorded = client
        .record_message(outbound("out-1", "acme", reply_at, free_form()))
        .await
        .unwrap()
        .into_inner();
    assert!(!recorded.duplicate);
    let mut recorded = recorded.decision.expect("a decision for an outbound message");
    let conversation = recorded
        .charge
        .as_mut()
        .and_then(|charge| charge.conversation.as_mut())
        .unwrap();
    let conversation_id = std::mem::take(&mut conversation.id);
    assert!(
        !conversation_id.is_empty(),
        "RecordMessage names the conversation it opened"
    );
    assert_eq!(
        recorded, authorized,
        "Authorize answers as RecordMessage, but for the conversation id"
    );

    let listed = client
        .list_open_conversations(list("acme", reply_at + HOUR))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed,
        pb::ListOpenConversationsResponse {
            conversations: vec![pb::Conversation {
                id: conversation_id,
                category: pb::Category::Service.into(),
                opened_at: at(reply_at),
                expires_at: at(reply_at + 24 * HOUR),
            }],
            customer_service_window_expires_at: at(T0 + 24 * HOUR),
            free_entry_point_deadline: None,
        }
    );
    server.stop().await;
}

#[tokio::test]
async fn free_form_outside_the_window_is_denied_and_not_recorded() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let authorized = client
        .authorize(authorize("acme", T0, free_form()))
        .await
        .unwrap()
        .into_inner();
    let decision = authorized.decision.expect("a decision");
    assert!(!decision.allowed);
    assert_eq!(
        decision.deny_reason(),
        pb::DenyReason::OutsideCustomerServiceWindow
    );
    assert_eq!(decision.meta_error_code, 131_047);
    assert!(
        decision.explanation.contains("template"),
        "{:?}",
        decision.explanation
    );
    assert_eq!(decision.charge, None);
    assert_eq!(decision.customer_service_window_expires_at, None);

    let recorded = client
        .record_message(outbound("out-1", "acme", T0, free_form()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(recorded.decision, Some(decision), "RecordMessage denies alike");
    assert!(!recorded.duplicate);
    let listed = client
        .list_open_conversations(list("acme", T0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed,
        pb::ListOpenConversationsResponse::default(),
        "a denied message records nothing"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_duplicate_message_id_repeats_the_first_answer() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let first = client
        .record_message(outbound("wamid.1", "acme", T0, template(pb::Category::Marketing)))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.duplicate);
    let charge = first
        .decision
        .as_ref()
        .and_then(|decision| decision.charge.as_ref())
        .expect("a charge");
    assert_eq!(
        charge.price,
        inr(0, 814_700_000),
        "+91 marketing costs 0.8147 INR"
    );
    assert_eq!(charge.pricing_type(), pb::PricingType::Regular);
    assert!(charge.opens_conversation);

    // A retry later, even with another time, is the same message.
    let retry = client
        .record_message(outbound(
            "wamid.1",
            "acme",
            T0 + HOUR,
            template(pb::Category::Marketing),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        retry,
        pb::RecordMessageResponse {
            decision: first.decision.clone(),
            duplicate: true
        }
    );
    let listed = client
        .list_open_conversations(list("acme", T0 + HOUR))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.conversations.len(), 1, "{listed:?}");
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_are_invalid_arguments_naming_the_field() {
    use pb::record_message_request::Direction;

    let server = TestServer::start().await;
    let mut client = server.client().await;
    let far_future = at(4_102_444_800); // 2100-01-01.

    let record_cases: Vec<(pb::RecordMessageRequest, &str)> = vec![
        (
            pb::RecordMessageRequest {
                message_id: String::new(),
                ..inbound("x", "acme", T0)
            },
            "message_id",
        ),
        (
            pb::RecordMessageRequest {
                message_id: "a b".to_owned(),
                ..inbound("x", "acme", T0)
            },
            "message_id",
        ),
        (inbound("in-1", "", T0), "business_id"),
        (inbound("in-1", "acme corp", T0), "business_id"),
        (
            pb::RecordMessageRequest {
                customer_id: String::new(),
                ..inbound("in-1", "acme", T0)
            },
            "customer_id",
        ),
        (
            pb::RecordMessageRequest {
                customer_id: "call me".to_owned(),
                ..inbound("in-1", "acme", T0)
            },
            "customer_id",
        ),
        (
            pb::RecordMessageRequest {
                customer_id: "+0919800000001".to_owned(),
                ..inbound("in-1", "acme", T0)
            },
            "customer_id",
        ),
        (
            pb::RecordMessageRequest {
                direction: None,
                ..inbound("in-1", "acme", T0)
            },
            "direction",
        ),
        (
            outbound("out-1", "acme", T0, pb::OutboundMessage { kind: None }),
            "outbound.kind",
        ),
        (
            outbound("out-1", "acme", T0, template(pb::Category::Unspecified)),
            "outbound.template.category",
        ),
        (
            outbound("out-1", "acme", T0, template(pb::Category::Service)),
            "outbound.template.category",
        ),
        (
            outbound("out-1", "acme", T0, template(pb::Category::FreeEntryPoint)),
            "outbound.template.category",
        ),
        (
            outbound("out-1", "acme", T0, template_with_category(42)),
            "outbound.template.category",
        ),
        (
            outbound("out-1", "acme", T0, unnamed_template()),
            "outbound.template.name",
        ),
        (
            pb::RecordMessageRequest {
                direction: Some(Direction::Inbound(pb::Inbound {
                    entry_point: 42,
                    platform: 0,
                })),
                ..inbound("in-1", "acme", T0)
            },
            "inbound.entry_point",
        ),
        (
            pb::RecordMessageRequest {
                direction: Some(Direction::Inbound(pb::Inbound {
                    entry_point: 0,
                    platform: -1,
                })),
                ..inbound("in-1", "acme", T0)
            },
            "inbound.platform",
        ),
        (
            pb::RecordMessageRequest {
                at: far_future,
                ..inbound("in-1", "acme", T0)
            },
            "at",
        ),
        (
            pb::RecordMessageRequest {
                at: Some(Timestamp {
                    seconds: T0,
                    nanos: -5,
                }),
                ..inbound("in-1", "acme", T0)
            },
            "at",
        ),
        (
            pb::RecordMessageRequest {
                at: Some(Timestamp {
                    seconds: -1,
                    nanos: 0,
                }),
                ..inbound("in-1", "acme", T0)
            },
            "at",
        ),
    ];
    for (request, field) in record_cases {
        check_invalid(client.record_message(request).await, field);
    }

    let authorize_cases: Vec<(pb::AuthorizeRequest, &str)> = vec![
        (authorize("", T0, free_form()), "business_id"),
        (
            pb::AuthorizeRequest {
                customer_id: "12".to_owned(),
                ..authorize("acme", T0, free_form())
            },
            "customer_id",
        ),
        (
            pb::AuthorizeRequest {
                message: None,
                ..authorize("acme", T0, free_form())
            },
            "message",
        ),
        (
            authorize("acme", T0, pb::OutboundMessage { kind: None }),
            "message.kind",
        ),
        (
            authorize("acme", T0, template(pb::Category::Unspecified)),
            "message.template.category",
        ),
        (
            authorize("acme", T0, template(pb::Category::Service)),
            "message.template.category",
        ),
        (
            pb::AuthorizeRequest {
                at: far_future,
                ..authorize("acme", T0, free_form())
            },
            "at",
        ),
        // 2023-05-31T23:59:59Z: before the first rate card, so it cannot be priced.
        (authorize("acme", 1_685_577_599, free_form()), "at"),
        (
            pb::AuthorizeRequest {
                at: Some(Timestamp {
                    seconds: T0,
                    nanos: 1_000_000_000,
                }),
                ..authorize("acme", T0, free_form())
            },
            "at",
        ),
    ];
    for (request, field) in authorize_cases {
        check_invalid(client.authorize(request).await, field);
    }

    let list_cases: Vec<(pb::ListOpenConversationsRequest, &str)> = vec![
        (list("", T0), "business_id"),
        (
            pb::ListOpenConversationsRequest {
                customer_id: String::new(),
                ..list("acme", T0)
            },
            "customer_id",
        ),
        (
            pb::ListOpenConversationsRequest {
                at: far_future,
                ..list("acme", T0)
            },
            "at",
        ),
    ];
    for (request, field) in list_cases {
        check_invalid(client.list_open_conversations(request).await, field);
    }

    // Nothing was recorded: no window opened, no conversation.
    let listed = client
        .list_open_conversations(list("acme", T0 + HOUR))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed, pb::ListOpenConversationsResponse::default());
    server.stop().await;
}

#[tokio::test]
async fn an_absent_at_is_the_server_clock() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    let mut request = inbound("in-1", "acme", 0);
    request.at = None;
    client.record_message(request).await.unwrap();
    let mut request = list("acme", 0);
    request.at = None;
    let listed = client
        .list_open_conversations(request)
        .await
        .unwrap()
        .into_inner();
    let expires_at = listed
        .customer_service_window_expires_at
        .expect("the window just opened");
    let now = Clock::system(hourglass_core::Duration::MINUTE).now.as_millis() / 1_000;
    assert!(
        (now + 24 * HOUR - 60..=now + 24 * HOUR).contains(&expires_at.seconds),
        "{expires_at:?} vs now {now}"
    );
    server.stop().await;
}

#[tokio::test]
async fn health_is_serving_for_the_server_and_the_policy_service() {
    let server = TestServer::start().await;
    let mut health = server.health().await;
    for service in ["", "hourglass.v1.PolicyService"] {
        wait_for_status(&mut health, service, ServingStatus::Serving).await;
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".to_owned(),
        })
        .await;
    assert_eq!(unknown.expect_err("unknown service").code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn reflection_lists_every_service_in_v1_and_v1alpha() {
    let server = TestServer::start().await;
    let expected = [
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "hourglass.v1.PolicyService",
        "hourglass.v1.RegistryService",
        "hourglass.v1.UsageService",
        "hourglass.v1.WebhookService",
    ];
    assert_eq!(list_services_v1(&server).await, expected);
    assert_eq!(list_services_v1alpha(&server).await, expected);
    server.stop().await;
}

async fn list_services_v1(server: &TestServer) -> Vec<String> {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::{ServerReflectionRequest, ServiceResponse};

    let mut client = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().expect("one response");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected response {response:?}");
    };
    let mut names: Vec<String> = list
        .service
        .into_iter()
        .map(|ServiceResponse { name }| name)
        .collect();
    names.sort();
    names
}

async fn list_services_v1alpha(server: &TestServer) -> Vec<String> {
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1alpha::{ServerReflectionRequest, ServiceResponse};

    let mut client = ServerReflectionClient::new(server.channel().await);
    // grpcurl lists services, then asks for the file of each symbol it describes.
    let requests = vec![
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        },
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "hourglass.v1.PolicyService".to_owned(),
            )),
        },
    ];
    let mut responses = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().expect("a list response");
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected response {response:?}");
    };
    let response = responses.message().await.unwrap().expect("a file response");
    let Some(MessageResponse::FileDescriptorResponse(files)) = response.message_response else {
        panic!("unexpected response {response:?}");
    };
    assert!(!files.file_descriptor_proto.is_empty());
    let mut names: Vec<String> = list
        .service
        .into_iter()
        .map(|ServiceResponse { name }| name)
        .collect();
    names.sort();
    names
}

async fn wait_for_status(health: &mut HealthClient<Channel>, service: &str, expected: ServingStatus) {
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(5);
    loop {
        let response = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap()
            .into_inner();
        if response.status() == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{service:?} stayed {:?}, expected {expected:?}",
            response.status()
        );
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let server = TestServer::start().await;
    let url = server.url();
    let mut client = server.client().await;
    client.list_open_conversations(list("acme", T0)).await.unwrap();
    server.stop().await;
    let after = PolicyServiceClient::connect(url).await;
    assert!(after.is_err(), "the port is closed after shutdown");
}

#[tokio::test]
async fn run_rejects_an_invalid_configuration_before_serving() {
    let config = Config::try_parse_from(["hourglass", "--store", "carrier-pigeon:"]).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let error = run(config, listener, std::future::pending())
        .await
        .expect_err("invalid store");
    assert!(format!("{error:#}").contains("--store"), "{error:#}");
}

#[test]
fn store_urls_are_redacted_for_logs() {
    assert_eq!(
        redact_store_url("redis://:secret@10.0.0.1:6379/0"),
        "redis://***@10.0.0.1:6379/0"
    );
    assert_eq!(redact_store_url("redis://10.0.0.1:6379"), "redis://10.0.0.1:6379");
    assert_eq!(redact_store_url("sled:./data@home"), "sled:./data@home");
    assert_eq!(
        redact_store_url("rediss+cluster://u:secret@h1:7000,u:secret@h2:7001"),
        "rediss+cluster://***@h1:7000,h2:7001"
    );
}

/// What a `FakeStore` does on its next calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Behaviour {
    Work,
    Hang,
    Unavailable,
    Corrupt,
    Failed,
}

/// A memory store that can hang or fail on demand.
#[derive(Debug)]
struct FakeStore {
    inner: MemoryStore,
    behaviour: Mutex<Behaviour>,
}

impl FakeStore {
    fn new() -> Arc<FakeStore> {
        Arc::new(FakeStore {
            inner: MemoryStore::default(),
            behaviour: Mutex::new(Behaviour::Work),
        })
    }

    fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    async fn act(&self) -> Result<(), hourglass_store::Error> {
        let behaviour = *self.behaviour.lock().unwrap();
        match behaviour {
            Behaviour::Work => Ok(()),
            Behaviour::Hang => std::future::pending().await,
            Behaviour::Unavailable => Err(hourglass_store::Error::unavailable(
                "connect to 10.0.0.9:6379",
                std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
            )),
            Behaviour::Corrupt => Err(hourglass_store::Error::corrupt(
                "thread key acme/91 holds secret garbage",
            )),
            Behaviour::Failed => Err(hourglass_store::Error::Failed {
                message: "the sled database at /data: a flush failed: No space left on device".to_owned(),
            }),
        }
    }
}

#[async_trait]
impl Store for FakeStore {
    async fn check_connectivity(&self) -> Result<(), hourglass_store::Error> {
        self.act().await
    }

    async fn read(&self, plan: &ReadPlan) -> Result<Read, hourglass_store::Error> {
        self.act().await?;
        self.inner.read(plan).await
    }

    async fn read_counters(
        &self,
        counters: &[hourglass_core::CounterRead],
    ) -> Result<Counters, hourglass_store::Error> {
        self.act().await?;
        self.inner.read_counters(counters).await
    }

    async fn claim(
        &self,
        claim: &Claim,
        thread: &ThreadKey,
        now: Instant,
        keep_until: Instant,
    ) -> Result<Claimed, hourglass_store::Error> {
        self.act().await?;
        self.inner.claim(claim, thread, now, keep_until).await
    }

    async fn release(&self, hold: &Hold) -> Result<(), hourglass_store::Error> {
        self.act().await?;
        self.inner.release(hold).await
    }

    fn claims_with_commit(&self) -> bool {
        self.inner.claims_with_commit()
    }

    async fn commit(&self, commit: &Commit<'_>) -> Result<Committed, hourglass_store::Error> {
        self.act().await?;
        self.inner.commit(commit).await
    }

    async fn read_entries(
        &self,
        keys: &[hourglass_store::registry::Key],
    ) -> Result<Vec<Option<hourglass_store::registry::Raw>>, hourglass_store::Error> {
        self.act().await?;
        self.inner.read_entries(keys).await
    }

    async fn write_entry(
        &self,
        key: &hourglass_store::registry::Key,
        expected: hourglass_store::Version,
        bytes: &[u8],
    ) -> Result<bool, hourglass_store::Error> {
        self.act().await?;
        self.inner.write_entry(key, expected, bytes).await
    }

    async fn registry_generation(
        &self,
    ) -> Result<hourglass_store::registry::Generation, hourglass_store::Error> {
        self.act().await?;
        self.inner.registry_generation().await
    }

    async fn advance_registry_generation(&self) -> Result<(), hourglass_store::Error> {
        self.act().await?;
        self.inner.advance_registry_generation().await
    }

    fn registry_cache(&self) -> &hourglass_store::registry::Cache {
        self.inner.registry_cache()
    }

    async fn list_templates(
        &self,
        account: &hourglass_core::AccountId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, hourglass_store::Error> {
        self.act().await?;
        self.inner.list_templates(account, after, limit).await
    }

    async fn read_deliveries(
        &self,
        keys: &[hourglass_store::DeliveryKey],
    ) -> Result<Vec<hourglass_store::DeliveryRaw>, hourglass_store::Error> {
        self.act().await?;
        self.inner.read_deliveries(keys).await
    }

    async fn write_report(
        &self,
        key: &hourglass_store::DeliveryKey,
        expected: hourglass_store::Version,
        bytes: &[u8],
        now: Instant,
        keep_until: Instant,
        usage: Option<hourglass_store::UsageWrite<'_>>,
    ) -> Result<bool, hourglass_store::Error> {
        self.act().await?;
        self.inner
            .write_report(key, expected, bytes, now, keep_until, usage)
            .await
    }

    async fn read_usage(
        &self,
        account: &hourglass_core::AccountId,
        days: &[hourglass_core::Day],
    ) -> Result<Vec<(hourglass_core::UsageRow, hourglass_core::UsageCounts)>, hourglass_store::Error> {
        self.act().await?;
        self.inner.read_usage(account, days).await
    }

    async fn list_deliveries(
        &self,
        account: &hourglass_core::AccountId,
        day: hourglass_core::Day,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, hourglass_store::DeliveryRaw)>, hourglass_store::Error> {
        self.act().await?;
        self.inner.list_deliveries(account, day, after, limit).await
    }

    async fn sweep(&self, now: Instant) -> Result<usize, hourglass_store::Error> {
        self.act().await?;
        self.inner.sweep(now).await
    }
}

#[tokio::test]
async fn store_failures_map_to_unavailable_and_internal() {
    let store = FakeStore::new();
    let server = TestServer::start_with_store(Arc::clone(&store) as Arc<dyn Store>).await;
    let mut client = server.client().await;
    client.record_message(inbound("in-1", "acme", T0)).await.unwrap();

    store.set(Behaviour::Hang);
    let status = client
        .authorize(authorize("acme", T0, free_form()))
        .await
        .expect_err("the store hangs");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let status = client
        .record_message(inbound("in-2", "acme", T0))
        .await
        .expect_err("the store hangs");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    store.set(Behaviour::Unavailable);
    let status = client
        .list_open_conversations(list("acme", T0))
        .await
        .expect_err("the store is down");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        !status.message().contains("10.0.0.9"),
        "internal details leak: {status:?}"
    );

    store.set(Behaviour::Corrupt);
    let status = client
        .list_open_conversations(list("acme", T0))
        .await
        .expect_err("the store is corrupt");
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert!(
        !status.message().contains("secret"),
        "internal details leak: {status:?}"
    );

    store.set(Behaviour::Work);
    let listed = client
        .list_open_conversations(list("acme", T0))
        .await
        .unwrap()
        .into_inner();
    assert!(
        listed.customer_service_window_expires_at.is_some(),
        "the first inbound message was recorded"
    );
    server.stop().await;
}

#[tokio::test]
async fn with_allow_replies_a_reply_is_allowed_degraded_while_the_store_is_down() {
    let store = FakeStore::new();
    let server = TestServer::start_degrading(
        Arc::clone(&store) as Arc<dyn Store>,
        WhenStoreUnavailable::AllowReplies,
    )
    .await;
    let mut client = server.client().await;
    let mut health = server.health().await;
    let served = client
        .authorize(authorize("acme", T0, free_form()))
        .await
        .expect("the store works")
        .into_inner()
        .decision
        .expect("a decision");
    assert_eq!(served.decision_source, pb::DecisionSource::Store as i32);
    for behaviour in [Behaviour::Hang, Behaviour::Unavailable] {
        store.set(behaviour);
        let started = std::time::Instant::now();
        let reply = client
            .authorize(authorize("acme", T0, free_form()))
            .await
            .expect("a reply is answered without the store")
            .into_inner()
            .decision
            .expect("a decision");
        assert!(
            started.elapsed() < StdDuration::from_secs(2),
            "within the store timeout"
        );
        assert!(reply.allowed, "{reply:?}");
        assert_eq!(reply.decision_source, pb::DecisionSource::Degraded as i32);
        assert!(
            reply.charge.is_none() && reply.explanation.contains("unavailable"),
            "{reply:?}"
        );
        // A template, or a record, still fails: neither is safe without the store.
        let template = pb::OutboundMessage {
            kind: Some(pb::outbound_message::Kind::Template(pb::Template {
                name: "offer".to_owned(),
                language: "en".to_owned(),
                category: pb::Category::Marketing as i32,
            })),
        };
        let status = client
            .authorize(authorize("acme", T0, template))
            .await
            .expect_err("a template needs the store");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        let status = client
            .record_message(inbound("in-9", "acme", T0))
            .await
            .expect_err("a record needs the store");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        wait_for_status(&mut health, "", ServingStatus::NotServing).await;
    }
    store.set(Behaviour::Work);
    wait_for_status(&mut health, "", ServingStatus::Serving).await;
    server.stop().await;
}

#[tokio::test]
async fn a_store_that_failed_for_good_stops_the_server_with_an_error() {
    let store = FakeStore::new();
    let server = TestServer::start_with_store(Arc::clone(&store) as Arc<dyn Store>).await;
    let mut health = server.health().await;
    wait_for_status(&mut health, "", ServingStatus::Serving).await;
    let mut client = server.client().await;
    store.set(Behaviour::Failed);
    let status = client
        .record_message(inbound("in-1", "acme", T0))
        .await
        .expect_err("the store failed");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let result = tokio::time::timeout(StdDuration::from_secs(5), server.task)
        .await
        .expect("the server stops by itself within 5 s")
        .expect("the server task does not panic");
    let error = result.expect_err("the server reports why it stopped");
    assert!(format!("{error:#}").contains("No space left"), "{error:#}");
}

#[tokio::test]
async fn health_follows_the_store() {
    let store = FakeStore::new();
    store.set(Behaviour::Unavailable);
    let server = TestServer::start_with_store(Arc::clone(&store) as Arc<dyn Store>).await;
    let mut health = server.health().await;
    for service in ["", "hourglass.v1.PolicyService"] {
        wait_for_status(&mut health, service, ServingStatus::NotServing).await;
    }
    store.set(Behaviour::Work);
    for service in ["", "hourglass.v1.PolicyService"] {
        wait_for_status(&mut health, service, ServingStatus::Serving).await;
    }
    store.set(Behaviour::Hang);
    for service in ["", "hourglass.v1.PolicyService"] {
        wait_for_status(&mut health, service, ServingStatus::NotServing).await;
    }
    store.set(Behaviour::Work);
    wait_for_status(&mut health, "", ServingStatus::Serving).await;
    server.stop().await;
}
