//! `hourglass-load`: drives `Authorize`, `RecordMessage` or `AuthorizeBatch` against a server at a
//! chosen concurrency for a chosen time, for an unregistered business or for a registered one with
//! every guard on, and reports throughput, p50/p99/p99.9 latency and how many answers allowed;
//! `hourglass-load bare` serves a tonic `PolicyService` that does no work, the baseline every figure is
//! compared with.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use hdrhistogram::Histogram;
use hourglass_proto::v1 as pb;
use hourglass_proto::v1::policy_service_client::PolicyServiceClient;
use hourglass_proto::v1::policy_service_server::{PolicyService, PolicyServiceServer};
use hourglass_proto::v1::registry_service_client::RegistryServiceClient;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

#[derive(Debug, Parser)]
#[command(name = "hourglass-load", about = "Load tool for Hourglass")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Drives one RPC at a fixed number of calls in flight and prints one result line.
    ///
    /// The line is `key=value` pairs separated by spaces (label, scenario, rpc, concurrency, seconds,
    /// elapsed, calls, errors, allowed, denied, deny_reasons, throughput, p50, p99, p999, max, error_max), meant
    /// for scripts as well as people; throughput is calls over the elapsed time, from the end of the
    /// warm-up until the last call sent before the end finished. The run fails (exit code 1, after the line) when no answer allowed
    /// or when fewer than half of the answers allowed, so that a misconfigured scenario never reports
    /// the throughput of denials.
    Run(RunOptions),
    /// Prepares an independent run with h2load (`crates/load/h2load.sh`): registers a business with
    /// every guard on when `--scenario registered`, checks that Hourglass allows the Authorize call of
    /// a marketing template to its first customer, and writes that request to `--out` as gRPC frames
    /// it (a flag byte, a 4-byte big-endian length, the protobuf message), for `h2load --data`.
    Frame {
        /// The server to register with and check against.
        #[arg(long, default_value = "127.0.0.1:50051")]
        addr: SocketAddr,
        /// What the business is: unregistered, or registered with every guard on.
        #[arg(long, value_enum, default_value = "unregistered")]
        scenario: Scenario,
        /// Where to write the framed request.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Serves a PolicyService that allows every call with an otherwise empty answer: the baseline.
    Bare {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:50052")]
        listen: SocketAddr,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Rpc {
    /// Authorize a marketing template (a read and a decision).
    Authorize,
    /// Record outbound templates with fresh message ids (a decide-and-record step each).
    Record,
    /// Pre-check a campaign: `AuthorizeBatch` of a marketing template to `--batch-size` customers a
    /// call (the latency is the whole batch's; allowed and denied count customers).
    Batch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// A business registered with no account: guards 1, 4, 6 (the cap), 7 and 8 have nothing to read.
    Unregistered,
    /// Before the warm-up, registers through RegistryService a portfolio with a messaging limit of
    /// 100,000 customers, an account in it (Asia/Kolkata, INR, require_opt_in,
    /// require_registered_templates, a marketing cap of 1,000,000 per 24 h and a monthly budget of INR
    /// 1,000,000,000,000, so that no guard denies during the run but every one runs), the business, the
    /// APPROVED marketing template the calls send, and an opt-in for each customer.
    Registered,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Unregistered => "unregistered",
            Scenario::Registered => "registered",
        }
    }
}

/// The template every call sends, and the one `--scenario registered` registers.
const TEMPLATE_NAME: &str = "tpl_marketing";
const TEMPLATE_LANGUAGE: &str = "en";

/// Registry writes of `--scenario registered` in flight at once.
const SETUP_CONCURRENCY: u64 = 32;

#[derive(Debug, clap::Args)]
struct RunOptions {
    /// The server to drive.
    #[arg(long, default_value = "127.0.0.1:50051")]
    addr: SocketAddr,
    #[arg(long, value_enum, default_value = "authorize")]
    rpc: Rpc,
    /// What the business is: unregistered, or registered with every guard on.
    #[arg(long, value_enum, default_value = "unregistered")]
    scenario: Scenario,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// HTTP/2 connections the calls are spread over.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Seconds of measurement, after the warm-up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds of warm-up, not measured.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Distinct customers (threads) the calls are spread over.
    #[arg(long, default_value_t = 10_000)]
    customers: u64,
    /// Customers of one `--rpc batch` call (at most 10,000, the API's limit).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    batch_size: u64,
    /// A label printed with the result, such as the store under test.
    #[arg(long, default_value = "")]
    label: String,
    /// A bearer token sent as `authorization: Bearer <token>` on every call, for a server with
    /// `--auth-file`; `--scenario registered` needs one of role admin.
    #[arg(long, env = "HOURGLASS_LOAD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Errors are part of the run (a store outage under load, `crates/load/outage.sh`): the run fails
    /// only when no answer allowed, and the line's `error_max` is the longest a failed call waited.
    #[arg(long)]
    expect_errors: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Run(options) => run(options).await,
        Command::Frame { addr, scenario, out } => frame(addr, scenario, &out).await,
        Command::Bare { listen } => {
            // Served the way `hourglass` serves, so that the two differ only in the work they do.
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("bind {listen}"))?;
            tonic::transport::Server::builder()
                .add_service(PolicyServiceServer::new(Bare))
                .serve_with_incoming(TcpIncoming::from(listener).with_nodelay(Some(true)))
                .await
                .context("serve the bare server")
        }
    }
}

/// A PolicyService that does no work: it allows every call, with nothing else in its answer.
struct Bare;

fn allowed() -> Option<pb::Decision> {
    Some(pb::Decision {
        allowed: true,
        ..pb::Decision::default()
    })
}

#[tonic::async_trait]
impl PolicyService for Bare {
    async fn authorize(
        &self,
        _: Request<pb::AuthorizeRequest>,
    ) -> Result<Response<pb::AuthorizeResponse>, Status> {
        Ok(Response::new(pb::AuthorizeResponse { decision: allowed() }))
    }

    async fn authorize_batch(
        &self,
        request: Request<pb::AuthorizeBatchRequest>,
    ) -> Result<Response<pb::AuthorizeBatchResponse>, Status> {
        let customers = u32::try_from(request.get_ref().customer_ids.len()).unwrap_or(u32::MAX);
        Ok(Response::new(pb::AuthorizeBatchResponse {
            allowed: customers,
            ..pb::AuthorizeBatchResponse::default()
        }))
    }

    async fn record_message(
        &self,
        _: Request<pb::RecordMessageRequest>,
    ) -> Result<Response<pb::RecordMessageResponse>, Status> {
        Ok(Response::new(pb::RecordMessageResponse {
            decision: allowed(),
            duplicate: false,
        }))
    }

    async fn list_open_conversations(
        &self,
        _: Request<pb::ListOpenConversationsRequest>,
    ) -> Result<Response<pb::ListOpenConversationsResponse>, Status> {
        Ok(Response::new(pb::ListOpenConversationsResponse::default()))
    }
}

/// Adds `authorization: Bearer <token>` to every call when a token was given.
#[derive(Clone)]
struct Bearer(Option<AsciiMetadataValue>);

impl Bearer {
    fn new(token: Option<&str>) -> anyhow::Result<Bearer> {
        let value = token
            .map(|token| MetadataValue::try_from(format!("Bearer {token}")))
            .transpose()
            .context("the token is not a valid metadata value (printable ASCII only)")?;
        Ok(Bearer(value))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

fn template() -> pb::OutboundMessage {
    pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::Template(pb::Template {
            name: TEMPLATE_NAME.to_owned(),
            language: TEMPLATE_LANGUAGE.to_owned(),
            category: pb::Category::Marketing as i32,
        })),
    }
}

/// The `k`th customer of a run: Indian numbers, priced in INR.
fn customer(k: u64) -> String {
    format!("91{:010}", 9_000_000_000 + k)
}

/// Sends a registry write (`$call`, a future made anew on each attempt) again, up to four times more
/// with a growing pause, while the server answers `UNAVAILABLE` (a store slower than
/// `--store-timeout-ms`): every registry write is idempotent.
macro_rules! retried {
    ($what:literal, $call:expr) => {{
        let mut pause = Duration::from_millis(100);
        let mut attempts = 1;
        loop {
            match $call.await {
                Err(status) if status.code() == tonic::Code::Unavailable && attempts < 5 => {
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempts += 1;
                }
                result => break result.map(Response::into_inner).context($what),
            }
        }
    }};
}

fn timestamp(seconds: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp { seconds, nanos: 0 })
}

/// Registers `business_id` with every guard on, effective an hour before `now_seconds`, and gives its
/// first `customers` customers an opt-in (the account requires one for a template sent outside a
/// customer service window, which every call of the run is).
async fn register(
    channel: Channel,
    bearer: Bearer,
    business_id: &str,
    customers: u64,
    now_seconds: i64,
) -> anyhow::Result<()> {
    let since = timestamp(now_seconds - 3600);
    let mut registry = RegistryServiceClient::with_interceptor(channel, bearer);
    let account_id = business_id.to_owned();
    let portfolio_id = format!("{business_id}-portfolio");
    let portfolio = pb::PutPortfolioRequest {
        portfolio_id: portfolio_id.clone(),
        messaging_limit: pb::MessagingLimit::MessagingLimit100k as i32,
        effective_at: since,
    };
    retried!("PutPortfolio", registry.put_portfolio(portfolio.clone()))?;
    let account = pb::PutAccountRequest {
        account_id: account_id.clone(),
        portfolio_id,
        time_zone: "Asia/Kolkata".to_owned(),
        currency: "INR".to_owned(),
        require_opt_in: true,
        require_registered_templates: true,
        marketing_cap: Some(pb::MarketingCap {
            count: 1_000_000,
            window: Some(prost_types::Duration {
                seconds: 24 * 3600,
                nanos: 0,
            }),
        }),
        monthly_budget: Some(pb::Money {
            currency_code: "INR".to_owned(),
            units: 1_000_000_000_000,
            nanos: 0,
        }),
        effective_at: since,
    };
    retried!("PutAccount", registry.put_account(account.clone()))?;
    let business = pb::PutBusinessRequest {
        business_id: business_id.to_owned(),
        account_id: account_id.clone(),
        effective_at: since,
    };
    retried!("PutBusiness", registry.put_business(business.clone()))?;
    let template = pb::PutTemplateRequest {
        account_id,
        name: TEMPLATE_NAME.to_owned(),
        language: TEMPLATE_LANGUAGE.to_owned(),
        status: pb::TemplateStatus::Approved as i32,
        category: pb::Category::Marketing as i32,
        effective_at: since,
        paused_until: None,
    };
    retried!("PutTemplate", registry.put_template(template.clone()))?;
    let mut writers = Vec::new();
    for first in 0..SETUP_CONCURRENCY.min(customers) {
        let mut registry = registry.clone();
        let business_id = business_id.to_owned();
        writers.push(tokio::spawn(async move {
            for k in (first..customers).step_by(usize::try_from(SETUP_CONCURRENCY).unwrap_or(1)) {
                let consent = pb::RecordConsentRequest {
                    business_id: business_id.clone(),
                    customer_id: customer(k),
                    kind: pb::ConsentKind::OptIn as i32,
                    at: since,
                    source: "hourglass-load".to_owned(),
                };
                retried!("RecordConsent", registry.record_consent(consent.clone()))?;
            }
            anyhow::Ok(())
        }));
    }
    for writer in writers {
        writer.await??;
    }
    Ok(())
}

/// The `Frame` command: one Authorize request, checked against `addr` and written gRPC-framed to `out`.
async fn frame(addr: SocketAddr, scenario: Scenario, out: &std::path::Path) -> anyhow::Result<()> {
    use prost::Message as _;
    let channel = Endpoint::from_shared(format!("http://{addr}"))?
        .connect()
        .await
        .with_context(|| format!("connect to {addr}"))?;
    let run_id = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() % 1_000_000_000;
    let business_id = format!("h2load{run_id}");
    let now_seconds = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
    if scenario == Scenario::Registered {
        register(channel.clone(), Bearer::new(None)?, &business_id, 1, now_seconds).await?;
    }
    let request = pb::AuthorizeRequest {
        business_id,
        customer_id: customer(0),
        message: Some(template()),
        at: timestamp(now_seconds),
    };
    let answer = PolicyServiceClient::new(channel)
        .authorize(request.clone())
        .await
        .context("Authorize the framed request")?
        .into_inner();
    anyhow::ensure!(
        answer.decision.as_ref().is_some_and(|decision| decision.allowed),
        "the framed request is not allowed: {answer:?}"
    );
    std::fs::write(out, grpc_frame(&request.encode_to_vec()))
        .with_context(|| format!("write {}", out.display()))?;
    println!("{}", request.business_id);
    Ok(())
}

/// A message as gRPC frames it on the wire, uncompressed.
fn grpc_frame(message: &[u8]) -> Vec<u8> {
    let length = u32::try_from(message.len()).expect("a request is far smaller than 4 GiB");
    let mut framed = Vec::with_capacity(5 + message.len());
    framed.push(0);
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(message);
    framed
}

/// What the answers of a run said.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Tally {
    /// Decisions that allowed (for a batch, customers).
    allowed: u64,
    /// Decisions that denied, by reason (`NO_DECISION` for an answer without one).
    denied: BTreeMap<String, u64>,
    /// Calls that failed with a gRPC error.
    errors: u64,
    /// The longest a failed call waited for its error.
    error_max: Duration,
    /// The first gRPC error, for the report.
    first_error: Option<String>,
}

impl Tally {
    fn decision(&mut self, decision: Option<&pb::Decision>) {
        match decision {
            Some(decision) if decision.allowed => self.allowed += 1,
            Some(decision) => self.deny(reason_name(decision.deny_reason), 1),
            None => self.deny("NO_DECISION".to_owned(), 1),
        }
    }

    fn batch(&mut self, response: &pb::AuthorizeBatchResponse) {
        self.allowed += u64::from(response.allowed);
        for denied in &response.denied {
            self.deny(reason_name(denied.reason), u64::from(denied.count));
        }
    }

    fn deny(&mut self, reason: String, count: u64) {
        *self.denied.entry(reason).or_default() += count;
    }

    fn error(&mut self, status: &Status, waited: Duration) {
        self.errors += 1;
        self.error_max = self.error_max.max(waited);
        if self.first_error.is_none() {
            self.first_error = Some(format!("{:?}: {}", status.code(), status.message()));
        }
    }

    fn add(&mut self, other: Tally) {
        self.allowed += other.allowed;
        for (reason, count) in other.denied {
            self.deny(reason, count);
        }
        self.errors += other.errors;
        self.error_max = self.error_max.max(other.error_max);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn n_denied(&self) -> u64 {
        self.denied.values().sum()
    }

    /// `REASON:count,…`, or `-` when nothing was denied.
    fn deny_reasons(&self) -> String {
        if self.denied.is_empty() {
            return "-".to_owned();
        }
        let reasons: Vec<String> = self
            .denied
            .iter()
            .map(|(reason, count)| format!("{reason}:{count}"))
            .collect();
        reasons.join(",")
    }

    /// Fails unless more than half of the answers (denials and errors included) allowed.
    fn verdict(&self) -> Result<(), String> {
        let answers = self.allowed + self.n_denied() + self.errors;
        if self.allowed == 0 || self.allowed * 2 <= answers {
            let mut why = format!(
                "{} of {answers} answers allowed (denied: {}; errors: {})",
                self.allowed,
                self.deny_reasons(),
                self.errors
            );
            if let Some(error) = &self.first_error {
                why.push_str(&format!("; first error: {error}"));
            }
            return Err(why);
        }
        Ok(())
    }
}

fn reason_name(reason: i32) -> String {
    pb::DenyReason::try_from(reason)
        .map(|reason| reason.as_str_name().trim_start_matches("DENY_REASON_").to_owned())
        .unwrap_or_else(|_| format!("REASON_{reason}"))
}

async fn run(options: RunOptions) -> anyhow::Result<()> {
    let RunOptions {
        addr,
        rpc,
        scenario,
        concurrency,
        connections,
        seconds,
        warmup,
        customers,
        batch_size,
        label,
        token,
        expect_errors,
    } = options;
    anyhow::ensure!(customers >= 1, "--customers must be at least 1");
    anyhow::ensure!(seconds >= 1, "--seconds must be at least 1");
    let bearer = Bearer::new(token.as_deref())?;
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections.max(1) {
        let channel = Endpoint::from_shared(format!("http://{addr}"))?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("connect to {addr}"))?;
        channels.push(channel);
    }
    // A business per run keeps runs apart; its threads are spread over `customers` customers.
    let run_id = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() % 1_000_000_000;
    let business_id = Arc::new(format!("load{run_id}"));
    let now_seconds = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs())?;
    if scenario == Scenario::Registered {
        let started = Instant::now();
        register(
            channels[0].clone(),
            bearer.clone(),
            &business_id,
            customers,
            now_seconds,
        )
        .await
        .with_context(|| format!("register business {business_id} with every guard on at {addr}"))?;
        eprintln!(
            "registered business {business_id} with every guard on and {customers} opt-ins in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    let sequence = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(warmup);
    let end = measure_from + Duration::from_secs(seconds);

    let mut workers = Vec::with_capacity(concurrency);
    for worker_idx in 0..concurrency {
        let mut client = PolicyServiceClient::with_interceptor(
            channels[worker_idx % channels.len()].clone(),
            bearer.clone(),
        );
        let (business_id, sequence) = (business_id.clone(), sequence.clone());
        workers.push(tokio::spawn(async move {
            let mut histogram =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds");
            let mut tally = Tally::default();
            loop {
                let sent_at = Instant::now();
                if sent_at >= end {
                    break;
                }
                let n = sequence.fetch_add(1, Ordering::Relaxed);
                let customer_id = customer(n % customers);
                let at = timestamp(now_seconds);
                let mut answer = Tally::default();
                let result = match rpc {
                    Rpc::Authorize => client
                        .authorize(pb::AuthorizeRequest {
                            business_id: business_id.to_string(),
                            customer_id,
                            message: Some(template()),
                            at,
                        })
                        .await
                        .map(|response| answer.decision(response.get_ref().decision.as_ref())),
                    Rpc::Batch => client
                        .authorize_batch(pb::AuthorizeBatchRequest {
                            business_id: business_id.to_string(),
                            message: Some(template()),
                            at,
                            customer_ids: (0..batch_size)
                                .map(|k| customer((n * batch_size + k) % customers))
                                .collect(),
                        })
                        .await
                        .map(|response| answer.batch(response.get_ref())),
                    Rpc::Record => client
                        .record_message(pb::RecordMessageRequest {
                            message_id: format!("load.{business_id}.{n}"),
                            business_id: business_id.to_string(),
                            customer_id,
                            at,
                            direction: Some(pb::record_message_request::Direction::Outbound(template())),
                        })
                        .await
                        .map(|response| answer.decision(response.get_ref().decision.as_ref())),
                };
                if sent_at < measure_from {
                    continue;
                }
                match result {
                    Ok(()) => {
                        let micros = u64::try_from(sent_at.elapsed().as_micros()).unwrap_or(u64::MAX);
                        histogram.saturating_record(micros.max(1));
                        tally.add(answer);
                    }
                    Err(status) => tally.error(&status, sent_at.elapsed()),
                }
            }
            (histogram, tally)
        }));
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut tally = Tally::default();
    for worker in workers {
        let (worker_histogram, worker_tally) = worker.await?;
        histogram.add(worker_histogram)?;
        tally.add(worker_tally);
    }
    // The calls sent before the end finish after it: the throughput is over the time they took, which
    // for a batch of seconds is much longer than `seconds`.
    let elapsed = measure_from.elapsed().max(Duration::from_secs(seconds));
    let n_calls = histogram.len();
    let throughput = n_calls as f64 / elapsed.as_secs_f64();
    println!(
        "label={label} scenario={} rpc={rpc:?} concurrency={concurrency} seconds={seconds} elapsed={:.2}s \
         calls={n_calls} errors={} allowed={} denied={} deny_reasons={} throughput={throughput:.2}/s \
         p50={}us p99={}us p999={}us max={}us error_max={}us",
        scenario.name(),
        elapsed.as_secs_f64(),
        tally.errors,
        tally.allowed,
        tally.n_denied(),
        tally.deny_reasons(),
        histogram.value_at_quantile(0.50),
        histogram.value_at_quantile(0.99),
        histogram.value_at_quantile(0.999),
        histogram.max(),
        tally.error_max.as_micros(),
    );
    if expect_errors {
        anyhow::ensure!(tally.allowed > 0, "{label} {rpc:?}: no answer allowed");
        return Ok(());
    }
    tally
        .verdict()
        .map_err(|why| anyhow::anyhow!("{label} {rpc:?} ({}): {why}", scenario.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(allowed: bool, reason: pb::DenyReason) -> pb::Decision {
        pb::Decision {
            allowed,
            deny_reason: reason as i32,
            ..pb::Decision::default()
        }
    }

    #[test]
    fn a_run_whose_answers_allow_passes() {
        let mut tally = Tally::default();
        for _ in 0..9 {
            tally.decision(Some(&decision(true, pb::DenyReason::Unspecified)));
        }
        tally.decision(Some(&decision(false, pb::DenyReason::BudgetExceeded)));
        assert_eq!(tally.allowed, 9);
        assert_eq!(tally.n_denied(), 1);
        assert_eq!(tally.deny_reasons(), "BUDGET_EXCEEDED:1");
        assert_eq!(tally.verdict(), Ok(()));
    }

    #[test]
    fn a_run_mostly_denied_fails_naming_the_reasons() {
        let mut tally = Tally::default();
        tally.decision(Some(&decision(true, pb::DenyReason::Unspecified)));
        tally.decision(Some(&decision(false, pb::DenyReason::NoOptIn)));
        tally.decision(Some(&decision(false, pb::DenyReason::TemplateNotApproved)));
        tally.decision(None);
        let why = tally.verdict().expect_err("three of four denied");
        assert!(why.contains("1 of 4 answers allowed"), "{why}");
        assert!(why.contains("NO_OPT_IN:1"), "{why}");
        assert!(why.contains("TEMPLATE_NOT_APPROVED:1"), "{why}");
        assert!(why.contains("NO_DECISION:1"), "{why}");
    }

    #[test]
    fn errors_count_against_a_run_and_the_first_is_reported() {
        let mut tally = Tally::default();
        tally.decision(Some(&decision(true, pb::DenyReason::Unspecified)));
        tally.error(
            &Status::unauthenticated("missing token"),
            Duration::from_millis(3),
        );
        tally.error(&Status::unavailable("store down"), Duration::from_millis(251));
        let why = tally.verdict().expect_err("two errors of three answers");
        assert!(why.contains("errors: 2"), "{why}");
        assert!(why.contains("Unauthenticated: missing token"), "{why}");
        assert_eq!(
            tally.error_max,
            Duration::from_millis(251),
            "the longest wait for an error"
        );
    }

    #[test]
    fn a_grpc_frame_is_a_flag_a_length_and_the_message() {
        assert_eq!(grpc_frame(&[]), vec![0, 0, 0, 0, 0]);
        let message = vec![7_u8; 300];
        let framed = grpc_frame(&message);
        assert_eq!(&framed[..5], &[0, 0, 0, 1, 44]);
        assert_eq!(&framed[5..], &message[..]);
    }

    #[test]
    fn a_run_with_no_answer_fails() {
        let why = Tally::default().verdict().expect_err("nothing allowed");
        assert!(why.contains("0 of 0 answers allowed"), "{why}");
    }

    #[test]
    fn a_batch_counts_its_customers_and_workers_add_up() {
        let mut first = Tally::default();
        first.batch(&pb::AuthorizeBatchResponse {
            allowed: 9_990,
            denied: vec![pb::DenyCount {
                reason: pb::DenyReason::CustomerOptedOut as i32,
                count: 10,
            }],
            ..pb::AuthorizeBatchResponse::default()
        });
        let mut second = Tally::default();
        second.deny("CUSTOMER_OPTED_OUT".to_owned(), 5);
        second.error(&Status::internal("boom"), Duration::from_millis(7));
        first.add(second);
        assert_eq!(first.allowed, 9_990);
        assert_eq!(first.n_denied(), 15);
        assert_eq!(first.errors, 1);
        assert_eq!(first.error_max, Duration::from_millis(7));
        assert_eq!(first.deny_reasons(), "CUSTOMER_OPTED_OUT:15");
        assert_eq!(first.verdict(), Ok(()));
    }

    #[test]
    fn a_token_becomes_a_bearer_header_and_a_bad_one_is_refused() {
        let mut bearer = Bearer::new(Some("s3cret")).expect("a printable token");
        let request = bearer
            .call(Request::new(()))
            .expect("the interceptor never refuses");
        assert_eq!(
            request
                .metadata()
                .get("authorization")
                .map(|value| value.to_str().ok()),
            Some(Some("Bearer s3cret"))
        );
        let mut none = Bearer::new(None).expect("no token");
        let request = none
            .call(Request::new(()))
            .expect("the interceptor never refuses");
        assert!(request.metadata().get("authorization").is_none());
        assert!(Bearer::new(Some("line\nbreak")).is_err());
    }

    #[test]
    fn the_command_line_takes_the_scenario_and_the_token() {
        let args = Args::try_parse_from([
            "hourglass-load",
            "run",
            "--rpc",
            "record",
            "--scenario",
            "registered",
            "--token",
            "t",
        ])
        .expect("valid arguments");
        let Command::Run(options) = args.command else {
            panic!("not a run: {args:?}");
        };
        assert_eq!(options.rpc, Rpc::Record);
        assert_eq!(options.scenario, Scenario::Registered);
        assert_eq!(options.token.as_deref(), Some("t"));
    }
}
