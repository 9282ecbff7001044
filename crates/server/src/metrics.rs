//! Prometheus metrics (`--metrics-listen`): what the server counts and times, recorded through the
//! `metrics` facade into `metrics-exporter-prometheus`'s recorder and served as Prometheus text at
//! `GET /metrics` by axum on a port of its own.
//!
//! Every label takes its value from a closed set: a gRPC method of the server's own services, a status
//! code, an enum of the API (deny reason, category, pricing type), a currency of the rate card, a store
//! operation or error kind, a webhook field Hourglass reads. No label value is ever a business,
//! customer, account, template or message id, nor any other value a client chose, so the number of
//! series is bounded whatever the traffic.
//!
//! Without `--metrics-listen` no recorder is installed and every record below is a no-op of the
//! `metrics` facade.
//!
//! - [`RpcLayer`], around every service, counts each RPC once, with its code, when its answer ends
//!   (rejected ones included), and times it.
//! - [`MeteredStore`] times every call of the `Store` trait and counts its errors.
//! - The handlers call [`decisions`], [`webhook_item`], [`rate_card_reload`], [`tls_reload`] and
//!   [`serving`].

mod store;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hourglass_proto::v1 as pb;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use prost::Message as _;
use tonic::Code;
use tonic::body::Body;

pub(crate) use self::store::MeteredStore;

/// Calls by RPC method and gRPC status code.
pub(crate) const GRPC_REQUESTS: &str = "hourglass_grpc_requests_total";
/// Call latency by RPC method, in seconds.
pub(crate) const GRPC_REQUEST_DURATION: &str = "hourglass_grpc_request_duration_seconds";
/// Decisions answered, by method, outcome, deny reason, category and pricing type.
pub(crate) const DECISIONS: &str = "hourglass_decisions_total";
/// What guards in shadow would have denied, by method and reason.
pub(crate) const SHADOW_DENIALS: &str = "hourglass_shadow_denials_total";
/// Charged messages recorded, by currency.
pub(crate) const CHARGED_MESSAGES: &str = "hourglass_charged_messages_total";
/// The amount charged, in nanos of the currency, by currency.
pub(crate) const CHARGED_NANOS: &str = "hourglass_charged_amount_nanos_total";
/// Store call latency by operation, in seconds.
pub(crate) const STORE_CALL_DURATION: &str = "hourglass_store_call_duration_seconds";
/// Store calls that failed, by operation and kind.
pub(crate) const STORE_ERRORS: &str = "hourglass_store_errors_total";
/// Requests whose store work outlived `--store-timeout-ms`.
pub(crate) const STORE_TIMEOUTS: &str = "hourglass_store_timeouts_total";
pub(crate) const DEGRADED_ANSWERS: &str = "hourglass_degraded_answers_total";
/// Webhook items by field and outcome.
pub(crate) const WEBHOOK_ITEMS: &str = "hourglass_webhook_items_total";
/// The rate card in force: 1 for the one loaded at start, one more at each successful reload.
pub(crate) const RATE_CARD_REVISION: &str = "hourglass_rate_card_revision";
/// Rate card reloads (SIGHUP) by outcome.
pub(crate) const RATE_CARD_RELOADS: &str = "hourglass_rate_card_reloads_total";
/// TLS certificate reloads (SIGHUP) by outcome.
pub(crate) const TLS_RELOADS: &str = "hourglass_tls_reloads_total";
/// Auth file reloads (SIGHUP) by outcome.
pub(crate) const AUTH_RELOADS: &str = "hourglass_auth_reloads_total";
/// Decision log lines dropped because the writer's queue was full.
pub(crate) const DECISION_LOG_DROPPED: &str = "hourglass_decision_log_dropped_total";
/// 1 while health reports SERVING, else 0.
pub(crate) const SERVING: &str = "hourglass_serving";

/// The label value of a method that is none of the server's: tonic answers it UNIMPLEMENTED.
const UNKNOWN_METHOD: &str = "unknown";

/// The histogram buckets, in seconds: from half a millisecond to the longest request timeout a test or
/// an operator is likely to set.
const LATENCY_BUCKETS: [f64; 15] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often the recorder folds recent histogram samples in and drops what it no longer needs.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder for the whole process, once, and returns its handle.
///
/// The `metrics` facade has one global recorder: a second server in the same process (tests) shares
/// the first one's, and so its series.
pub(crate) fn install() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    // `get_or_init` runs the installation once; a second server starting meanwhile waits for it.
    let installed = HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&LATENCY_BUCKETS)
            .map_err(|error| format!("set the histogram buckets: {error}"))?
            .build_recorder();
        let handle = recorder.handle();
        ::metrics::set_global_recorder(recorder)
            .map_err(|error| format!("another metrics recorder is installed: {error}"))?;
        describe();
        Ok(handle)
    });
    installed.clone().map_err(anyhow::Error::msg)
}

/// Gives every metric its HELP line, and makes the series an alert waits for exist from the start.
fn describe() {
    use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        GRPC_REQUESTS,
        "gRPC calls by method and status code, rejected ones included"
    );
    describe_histogram!(
        GRPC_REQUEST_DURATION,
        Unit::Seconds,
        "gRPC call latency by method, from the request's headers to the end of its answer"
    );
    describe_counter!(
        DECISIONS,
        "Decisions answered by Authorize, AuthorizeBatch (one per customer) and RecordMessage"
    );
    describe_counter!(
        SHADOW_DENIALS,
        "Decisions a guard in shadow (--shadow) would have denied, by reason"
    );
    describe_counter!(
        CHARGED_MESSAGES,
        "Outbound messages recorded with a price above zero, by currency"
    );
    describe_counter!(
        CHARGED_NANOS,
        "The price of recorded outbound messages, in nanos (1e-9) of the currency"
    );
    describe_histogram!(
        STORE_CALL_DURATION,
        Unit::Seconds,
        "Store call latency by operation of the Store trait"
    );
    describe_counter!(
        STORE_ERRORS,
        "Store calls that failed, by operation and kind (cancelled: cut off before it answered)"
    );
    describe_counter!(
        STORE_TIMEOUTS,
        "Requests whose store work outlived --store-timeout-ms and were answered UNAVAILABLE"
    );
    describe_counter!(
        DEGRADED_ANSWERS,
        "Free-form messages allowed without the store (--when-store-unavailable allow-replies)"
    );
    describe_counter!(WEBHOOK_ITEMS, "Webhook items by Meta's change field and outcome");
    describe_gauge!(
        RATE_CARD_REVISION,
        "The rate card in force: 1 at start, one more at each successful reload"
    );
    describe_counter!(RATE_CARD_RELOADS, "Rate card reloads on SIGHUP by outcome");
    describe_counter!(TLS_RELOADS, "TLS certificate reloads on SIGHUP by outcome");
    describe_counter!(AUTH_RELOADS, "Auth file reloads on SIGHUP by outcome");
    describe_counter!(
        DECISION_LOG_DROPPED,
        "Decision log lines dropped because the writer's queue was full"
    );
    describe_gauge!(SERVING, "1 while health reports SERVING, else 0");
    for outcome in ["ok", "failed"] {
        ::metrics::counter!(RATE_CARD_RELOADS, "outcome" => outcome).absolute(0);
        ::metrics::counter!(TLS_RELOADS, "outcome" => outcome).absolute(0);
        ::metrics::counter!(AUTH_RELOADS, "outcome" => outcome).absolute(0);
    }
    ::metrics::counter!(STORE_TIMEOUTS).absolute(0);
    ::metrics::counter!(DEGRADED_ANSWERS).absolute(0);
    ::metrics::counter!(DECISION_LOG_DROPPED).absolute(0);
    ::metrics::gauge!(RATE_CARD_REVISION).set(1.0);
    ::metrics::gauge!(SERVING).set(0.0);
}

/// Serves `GET /metrics` on `listener` until `stopping` turns true, and runs the recorder's upkeep
/// meanwhile.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let upkeep_handle = handle.clone();
    let upkeep = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(UPKEEP_INTERVAL);
        loop {
            ticker.tick().await;
            upkeep_handle.run_upkeep();
        }
    });
    let router = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move {
                (
                    [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
                    handle.render(),
                )
            }
        }),
    );
    let result = axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
        })
        .await;
    upkeep.abort();
    result
}

/// What a decision is counted by: whether it is allowed, its deny reason, and its charge's category
/// and pricing type.
type DecisionKind = (bool, i32, Option<(i32, i32)>);

/// Counts the decisions of one answer: each with its outcome, deny reason, category and pricing type,
/// what a guard in shadow would have denied, and, for a recorded message (`charges`), its price.
pub(crate) fn decisions<'a>(
    method: &'static str,
    decisions: impl IntoIterator<Item = &'a pb::Decision>,
    charges: bool,
) {
    // A batch answers up to 10,000 decisions of a few kinds: each kind is named and counted once, by
    // how many decisions are of it.
    let mut kinds: BTreeMap<DecisionKind, u64> = BTreeMap::new();
    let mut shadowed: BTreeMap<i32, u64> = BTreeMap::new();
    for decision in decisions {
        let charge = decision.charge.as_ref();
        let kind = (
            decision.allowed,
            decision.deny_reason,
            charge.map(|charge| (charge.category, charge.pricing_type)),
        );
        *kinds.entry(kind).or_default() += 1;
        *shadowed.entry(decision.shadow_deny_reason).or_default() += 1;
        if charges {
            charge_price(charge);
        }
    }
    for ((allowed, deny_reason, charge), n) in kinds {
        let (category, pricing_type) = match charge {
            Some((category, pricing_type)) => (category_name(category), pricing_type_name(pricing_type)),
            None => ("none".to_owned(), "none".to_owned()),
        };
        let outcome = if allowed { "allowed" } else { "denied" };
        ::metrics::counter!(
            DECISIONS,
            "method" => method,
            "outcome" => outcome,
            "deny_reason" => deny_reason_name(deny_reason).unwrap_or_else(|| "none".to_owned()),
            "category" => category,
            "pricing_type" => pricing_type,
        )
        .increment(n);
    }
    for (reason, n) in shadowed {
        if let Some(reason) = deny_reason_name(reason) {
            ::metrics::counter!(SHADOW_DENIALS, "method" => method, "reason" => reason).increment(n);
        }
    }
}

/// Counts a recorded message's price, when it has one above zero, by its currency.
fn charge_price(charge: Option<&pb::Charge>) {
    let Some(price) = charge.and_then(|charge| charge.price.as_ref()) else {
        return;
    };
    let nanos = i128::from(price.units) * 1_000_000_000 + i128::from(price.nanos);
    let Ok(nanos) = u64::try_from(nanos) else {
        return;
    };
    if nanos == 0 {
        return;
    }
    // A currency comes from the rate card, which the operator wrote: a few codes. The check keeps a
    // malformed one from becoming a label.
    let currency = &price.currency_code;
    let currency = if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()) {
        currency.clone()
    } else {
        "other".to_owned()
    };
    ::metrics::counter!(CHARGED_MESSAGES, "currency" => currency.clone()).increment(1);
    ::metrics::counter!(CHARGED_NANOS, "currency" => currency).increment(nanos);
}

/// Counts one webhook item by its change field (one of the fields Hourglass reads, `other` or
/// `unknown`) and outcome (`applied`, `duplicate`, `refused`, `ignored`, `invalid`).
pub(crate) fn webhook_item(field: &'static str, outcome: &'static str) {
    ::metrics::counter!(WEBHOOK_ITEMS, "field" => field, "outcome" => outcome).increment(1);
}

/// Counts decision log lines dropped on a full queue.
pub(crate) fn decision_log_dropped(lines: u64) {
    ::metrics::counter!(DECISION_LOG_DROPPED).increment(lines);
}

/// Counts a request whose store work outlived the store timeout.
pub(crate) fn store_timeout() {
    ::metrics::counter!(STORE_TIMEOUTS).increment(1);
}

/// Counts a degraded answer: a reply allowed while the store was unavailable.
pub(crate) fn degraded_answer() {
    ::metrics::counter!(DEGRADED_ANSWERS).increment(1);
}

/// Counts a rate card reload and, when it succeeded, moves the revision on.
pub(crate) fn rate_card_reload(succeeded: bool) {
    let outcome = if succeeded { "ok" } else { "failed" };
    ::metrics::counter!(RATE_CARD_RELOADS, "outcome" => outcome).increment(1);
    if succeeded {
        ::metrics::gauge!(RATE_CARD_REVISION).increment(1.0);
    }
}

/// Counts a reload of the TLS certificate, key and client CA.
pub(crate) fn tls_reload(succeeded: bool) {
    let outcome = if succeeded { "ok" } else { "failed" };
    ::metrics::counter!(TLS_RELOADS, "outcome" => outcome).increment(1);
}

/// Counts a reload of the auth file.
pub(crate) fn auth_reload(succeeded: bool) {
    let outcome = if succeeded { "ok" } else { "failed" };
    ::metrics::counter!(AUTH_RELOADS, "outcome" => outcome).increment(1);
}

/// Sets the serving gauge as health reports it.
pub(crate) fn serving(serving: bool) {
    ::metrics::gauge!(SERVING).set(if serving { 1.0 } else { 0.0 });
}

/// Applies [`Rpc`] to every request, whatever its service.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RpcLayer;

impl<S> tower::Layer<S> for RpcLayer {
    type Service = Rpc<S>;

    fn layer(&self, inner: S) -> Rpc<S> {
        Rpc { inner }
    }
}

/// Counts and times every RPC once, when its answer ends: its method (one of the server's, else
/// `unknown`) and its gRPC status code, from the answer's headers (an error, or an answer of the edge)
/// or its trailers (an answer that carried a message); `CANCELLED` for one dropped before it ended.
#[derive(Clone, Debug)]
pub(crate) struct Rpc<S> {
    inner: S,
}

impl<S> tower::Service<http::Request<Body>> for Rpc<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let call = RpcCall {
            method: method_label(request.uri().path()),
            started: Instant::now(),
            recorded: false,
        };
        // The service that was polled ready handles this request; its clone waits for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let mut call = call;
            let response = inner.call(request).await?;
            if let Some(code) = grpc_status(response.headers()) {
                call.record(code);
            }
            Ok(response.map(|body| Body::new(MeteredBody { inner: body, call })))
        })
    }
}

/// One RPC, recorded once.
#[derive(Debug)]
struct RpcCall {
    method: &'static str,
    started: Instant,
    recorded: bool,
}

impl RpcCall {
    fn record(&mut self, code: Code) {
        if std::mem::replace(&mut self.recorded, true) {
            return;
        }
        let method = self.method;
        ::metrics::counter!(GRPC_REQUESTS, "method" => method, "code" => code_name(code)).increment(1);
        ::metrics::histogram!(GRPC_REQUEST_DURATION, "method" => method)
            .record(self.started.elapsed().as_secs_f64());
    }
}

impl Drop for RpcCall {
    fn drop(&mut self) {
        // An answer dropped before its end: the client went away, or the connection closed.
        self.record(Code::Cancelled);
    }
}

/// A response body that records its RPC when its trailers pass, or when it ends without them.
struct MeteredBody {
    inner: Body,
    call: RpcCall,
}

impl http_body::Body for MeteredBody {
    type Data = tonic::codegen::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<tonic::codegen::Bytes>, tonic::Status>>> {
        let this = self.get_mut();
        let frame = std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(code) = frame.trailers_ref().and_then(grpc_status) {
                    this.call.record(code);
                }
            }
            Some(Err(status)) => this.call.record(status.code()),
            // A gRPC answer always ends with a status; one that has none is not gRPC's.
            None => this.call.record(Code::Unknown),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Returns the `grpc-status` of headers or trailers, if they have one.
fn grpc_status(headers: &http::HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?;
    Some(Code::from_bytes(value.as_bytes()))
}

/// Returns the label of a request path: `package.Service/Method` for a method of the server's
/// services, `unknown` for any other path, so that a client cannot add series.
fn method_label(path: &str) -> &'static str {
    static METHODS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let methods = METHODS.get_or_init(known_methods);
    path.strip_prefix('/')
        .and_then(|method| methods.get(method).copied())
        .unwrap_or(UNKNOWN_METHOD)
}

/// Returns every method the server serves, `package.Service/Method`, from the descriptors of its
/// services.
fn known_methods() -> HashSet<&'static str> {
    let sets = [
        hourglass_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ];
    let mut methods = HashSet::new();
    for bytes in sets {
        let set = prost_types::FileDescriptorSet::decode(bytes)
            .expect("the descriptors compiled into the server decode");
        for file in set.file {
            let package = file.package.unwrap_or_default();
            for service in file.service {
                let service_name = service.name.unwrap_or_default();
                for method in service.method {
                    let method_name = method.name.unwrap_or_default();
                    let full = if package.is_empty() {
                        format!("{service_name}/{method_name}")
                    } else {
                        format!("{package}.{service_name}/{method_name}")
                    };
                    // Leaked once per process: a few dozen short names, kept for its lifetime.
                    methods.insert(&*Box::leak(full.into_boxed_str()));
                }
            }
        }
    }
    methods
}

/// Returns the canonical name of a gRPC status code, as the gRPC spec writes it.
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Returns a deny reason's label (`outside_customer_service_window`, …), `None` for none.
fn deny_reason_name(reason: i32) -> Option<String> {
    pb::DenyReason::try_from(reason)
        .ok()
        .filter(|reason| *reason != pb::DenyReason::Unspecified)
        .map(|reason| enum_label(reason.as_str_name(), "DENY_REASON_"))
}

fn category_name(category: i32) -> String {
    pb::Category::try_from(category).map_or_else(
        |_| "unknown".to_owned(),
        |category| enum_label(category.as_str_name(), "CATEGORY_"),
    )
}

fn pricing_type_name(pricing_type: i32) -> String {
    pb::PricingType::try_from(pricing_type).map_or_else(
        |_| "unknown".to_owned(),
        |pricing_type| enum_label(pricing_type.as_str_name(), "PRICING_TYPE_"),
    )
}

/// Returns an enum value's proto name without its prefix, in lower case: `CATEGORY_MARKETING` →
/// `marketing`.
fn enum_label(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_ascii_lowercase()
}
