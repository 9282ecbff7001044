//! Tests of the HTTP/2 edge: a real server on `127.0.0.1:0`, driven by a tonic client where a gateway
//! would use one, and by a bare `h2` client where the test needs a request tonic would not send (a
//! stream left open, a wrong content-type).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hourglass_proto::v1 as pb;
use hourglass_proto::v1::policy_service_client::PolicyServiceClient;
use tokio::io::AsyncReadExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tonic::Code;

use super::*;
use crate::{Config, run};

/// A server running `run` over the `memory:` store, stopped through its shutdown future.
struct TestServer {
    addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestServer {
    /// Starts a server with `--store memory:` and `args`.
    async fn start(args: &[&str]) -> TestServer {
        let config = Config::try_parse_from(["hourglass", "--store", "memory:"].iter().chain(args))
            .expect("valid test arguments");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let addr = listener.local_addr().expect("a bound listener has an address");
        let (shutdown, shutdown_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(run(config, listener, async move {
            let _ = shutdown_rx.await;
        }));
        TestServer { addr, shutdown, task }
    }

    async fn client(&self) -> PolicyServiceClient<tonic::transport::Channel> {
        PolicyServiceClient::connect(format!("http://{}", self.addr))
            .await
            .expect("connect to the test server")
    }

    /// Opens an HTTP/2 connection with the bare `h2` client, driven by a background task whose handle
    /// finishes when the server closes the connection.
    async fn h2(&self) -> (h2::client::SendRequest<Bytes>, tokio::task::JoinHandle<()>) {
        let tcp = TcpStream::connect(self.addr)
            .await
            .expect("connect to the test server");
        let (send_request, connection) = h2::client::handshake(tcp).await.expect("an HTTP/2 handshake");
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let send_request = send_request.ready().await.expect("the connection is ready");
        (send_request, driver)
    }

    async fn stop(self) {
        self.shutdown.send(()).expect("the server is still running");
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("the server stops within 5 s")
            .expect("the server task does not panic")
            .expect("the server stops cleanly");
    }
}

const AUTHORIZE: &str = "/hourglass.v1.PolicyService/Authorize";
const HEALTH_CHECK: &str = "/grpc.health.v1.Health/Check";
/// A gRPC frame holding an empty message: uncompressed, length 0.
const EMPTY_MESSAGE: &[u8] = &[0, 0, 0, 0, 0];

/// Returns the headers of a gRPC request for `path` with `content_type` and optional extra headers.
fn mk_request(path: &str, content_type: Option<&str>, extra: &[(&str, &str)]) -> http::Request<()> {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(format!("http://hourglass.test{path}"))
        .header("te", "trailers");
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    builder.body(()).expect("a valid request")
}

/// Returns the `grpc-status` of a response: in its headers (a trailers-only answer) or its trailers.
async fn grpc_status(response: http::Response<h2::RecvStream>) -> Option<String> {
    if let Some(status) = response.headers().get("grpc-status") {
        return Some(status.to_str().ok()?.to_owned());
    }
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.ok()?;
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let trailers = body.trailers().await.ok()??;
    Some(trailers.get("grpc-status")?.to_str().ok()?.to_owned())
}

fn authorize(customer_id: String) -> pb::AuthorizeRequest {
    pb::AuthorizeRequest {
        business_id: "106540352242922".to_owned(),
        customer_id,
        message: Some(pb::OutboundMessage {
            kind: Some(pb::outbound_message::Kind::FreeForm(pb::FreeForm {})),
        }),
        at: None,
    }
}

#[test]
fn grpc_timeouts_parse_as_the_spec_writes_them() {
    let parse = |text: &str| parse_grpc_timeout(&HeaderValue::from_str(text).expect("a header value"));
    assert_eq!(parse("1H"), Some(Duration::from_secs(3_600)));
    assert_eq!(parse("2M"), Some(Duration::from_secs(120)));
    assert_eq!(parse("3S"), Some(Duration::from_secs(3)));
    assert_eq!(parse("250m"), Some(Duration::from_millis(250)));
    assert_eq!(parse("99999999u"), Some(Duration::from_micros(99_999_999)));
    assert_eq!(parse("5n"), Some(Duration::from_nanos(5)));
    for bad in ["", "m", "123456789m", "1x", "-1S", "1.5S", "١S"] {
        assert_eq!(parse(bad), None, "{bad:?}");
    }
}

#[test]
fn the_shorter_deadline_wins() {
    let mut headers = HeaderMap::new();
    let server = Duration::from_secs(10);
    assert_eq!(deadline(&headers, server).source, DeadlineSource::Server);
    headers.insert("grpc-timeout", HeaderValue::from_static("100m"));
    assert_eq!(
        deadline(&headers, server),
        Deadline {
            timeout: Duration::from_millis(99),
            source: DeadlineSource::Client
        }
    );
    headers.insert("grpc-timeout", HeaderValue::from_static("1M"));
    assert_eq!(deadline(&headers, server).source, DeadlineSource::Server);
}

#[test]
fn only_grpc_content_types_are_grpc() {
    let check = |content_type: Option<&str>| {
        let mut headers = HeaderMap::new();
        if let Some(content_type) = content_type {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_str(content_type).expect("ascii"),
            );
        }
        unsupported_content_type(&headers).is_none()
    };
    assert!(check(Some("application/grpc")));
    assert!(check(Some("application/grpc+proto")));
    assert!(check(Some("application/grpc;charset=utf-8")));
    assert!(!check(None));
    assert!(!check(Some("application/json")));
    assert!(!check(Some("application/grpc-web")));
    assert!(!check(Some("application/grpcx")));
}

#[tokio::test]
async fn a_request_past_the_server_timeout_is_deadline_exceeded() {
    let server = TestServer::start(&["--request-timeout-ms", "300"]).await;
    let (mut send_request, _driver) = server.h2().await;
    // Headers without END_STREAM: the handler waits for a body that never comes.
    let (response, _body) = send_request
        .send_request(mk_request(AUTHORIZE, Some("application/grpc"), &[]), false)
        .expect("send the headers");
    let started = Instant::now();
    let response = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .expect("the server answers within its request timeout")
        .expect("a response");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        grpc_status(response).await.as_deref(),
        Some("4"),
        "DEADLINE_EXCEEDED"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_request_past_the_client_deadline_is_deadline_exceeded() {
    let server = TestServer::start(&[]).await;
    let (mut send_request, _driver) = server.h2().await;
    for _ in 0..5 {
        let request = mk_request(AUTHORIZE, Some("application/grpc"), &[("grpc-timeout", "200m")]);
        let (response, _body) = send_request
            .send_request(request, false)
            .expect("send the headers");
        let response = tokio::time::timeout(Duration::from_secs(5), response)
            .await
            .expect("the server answers by the client's deadline")
            .expect("a response");
        // tonic alone answers CANCELLED (1).
        assert_eq!(
            grpc_status(response).await.as_deref(),
            Some("4"),
            "DEADLINE_EXCEEDED"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_request_that_is_not_grpc_gets_415() {
    let server = TestServer::start(&[]).await;
    let (mut send_request, _driver) = server.h2().await;
    for content_type in [Some("application/json"), None, Some("text/plain")] {
        let (response, _body) = send_request
            .send_request(mk_request(HEALTH_CHECK, content_type, &[]), true)
            .expect("send the request");
        let response = response.await.expect("a response");
        assert_eq!(
            response.status(),
            http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
    }
    let (response, mut body) = send_request
        .send_request(
            mk_request(HEALTH_CHECK, Some("application/grpc+proto"), &[]),
            false,
        )
        .expect("send the request");
    body.send_data(Bytes::from_static(EMPTY_MESSAGE), true)
        .expect("send the body");
    let response = response.await.expect("a response");
    assert_eq!(response.status(), http::StatusCode::OK);
    assert_eq!(grpc_status(response).await.as_deref(), Some("0"));
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_message_is_resource_exhausted() {
    let server = TestServer::start(&["--max-message-bytes", "4096"]).await;
    let mut client = server.client().await;
    let status = client
        .authorize(authorize("9".repeat(5_000)))
        .await
        .expect_err("the message is over the limit");
    // tonic alone answers OUT_OF_RANGE.
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let status = client
        .authorize(authorize("9".repeat(3_000)))
        .await
        .expect_err("the customer id is invalid");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_bad_value_is_echoed_as_a_short_prefix() {
    let server = TestServer::start(&[]).await;
    let mut client = server.client().await;
    for bad in ["9".repeat(200_000), "\u{1}".repeat(200_000), "é".repeat(100_000)] {
        let status = client
            .authorize(authorize(bad.clone()))
            .await
            .expect_err("the customer id is invalid");
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{}",
            &status.message()[..100]
        );
        assert!(status.message().len() < 1_024, "{} bytes", status.message().len());
        assert!(
            status.message().contains(&format!("({} bytes)", bad.len())),
            "{}",
            status.message()
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_connection_holds_at_most_max_concurrent_streams_and_health_answers() {
    let server = TestServer::start(&["--max-concurrent-streams", "8"]).await;
    let (mut send_request, _driver) = server.h2().await;
    let (response, mut body) = send_request
        .send_request(mk_request(HEALTH_CHECK, Some("application/grpc"), &[]), false)
        .expect("send the request");
    body.send_data(Bytes::from_static(EMPTY_MESSAGE), true)
        .expect("send the body");
    assert_eq!(
        grpc_status(response.await.expect("a response")).await.as_deref(),
        Some("0")
    );
    // The server's SETTINGS have arrived with that answer; tonic's default advertises no limit.
    assert_eq!(send_request.current_max_send_streams(), 8);

    // Fill the connection with streams that never end.
    let mut open = Vec::new();
    for _ in 0..8 {
        let mut ready = send_request.clone().ready().await.expect("a stream slot");
        open.push(
            ready
                .send_request(mk_request(AUTHORIZE, Some("application/grpc"), &[]), false)
                .expect("send the headers"),
        );
    }
    // Another connection is still served at once.
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.addr))
        .expect("a valid URI")
        .connect()
        .await
        .expect("connect");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let started = Instant::now();
    let answer = tokio::time::timeout(
        Duration::from_secs(1),
        health.check(tonic_health::pb::HealthCheckRequest::default()),
    )
    .await
    .expect("health answers within a second");
    assert!(answer.is_ok(), "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(1));
    drop(open);
    server.stop().await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_idle_timeout() {
    let server = TestServer::start(&["--idle-timeout", "1"]).await;
    let mut tcp = TcpStream::connect(server.addr).await.expect("connect");
    let started = Instant::now();
    // The server writes its SETTINGS, then nothing until it closes (0 bytes) or resets the connection.
    let mut received = Vec::new();
    // Either ends the wait: the server let go of the connection.
    let _close_or_reset = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut received))
        .await
        .expect("the server closes the connection within 5 s");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_connection_with_a_request_in_flight_is_not_idle() {
    let server = TestServer::start(&["--idle-timeout", "1"]).await;
    let (mut send_request, driver) = server.h2().await;
    let (response, mut body) = send_request
        .send_request(mk_request(HEALTH_CHECK, Some("application/grpc"), &[]), false)
        .expect("send the headers");
    // Twice the idle timeout with the request open: the connection stays.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(
        !driver.is_finished(),
        "the server closed a connection with a request in flight"
    );
    body.send_data(Bytes::from_static(EMPTY_MESSAGE), true)
        .expect("send the body");
    assert_eq!(
        grpc_status(response.await.expect("a response")).await.as_deref(),
        Some("0")
    );
    // Once the request is answered the connection is idle, and closed.
    drop(send_request);
    tokio::time::timeout(Duration::from_secs(5), driver)
        .await
        .expect("the idle connection is closed within 5 s")
        .expect("the driver does not panic");
    server.stop().await;
}

#[tokio::test]
async fn a_streaming_answer_keeps_its_connection_busy() {
    let server = TestServer::start(&["--idle-timeout", "1"]).await;
    let (mut send_request, driver) = server.h2().await;
    let (response, mut body) = send_request
        .send_request(
            mk_request("/grpc.health.v1.Health/Watch", Some("application/grpc"), &[]),
            false,
        )
        .expect("send the headers");
    body.send_data(Bytes::from_static(EMPTY_MESSAGE), true)
        .expect("send the body");
    let response = response.await.expect("a response");
    assert_eq!(response.status(), http::StatusCode::OK);
    let mut updates = response.into_body();
    let first = updates
        .data()
        .await
        .expect("a first update")
        .expect("a data frame");
    assert!(!first.is_empty());
    // Twice the idle timeout with the watch open: the connection stays.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert!(
        !driver.is_finished(),
        "the server closed a connection that streams an answer"
    );
    // Dropping both halves of the stream resets it: the watch ends and the connection turns idle.
    drop((updates, body));
    drop(send_request);
    tokio::time::timeout(Duration::from_secs(5), driver)
        .await
        .expect("the idle connection is closed within 5 s")
        .expect("the driver does not panic");
    server.stop().await;
}
