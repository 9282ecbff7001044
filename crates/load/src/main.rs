//! `hourglass-load`: drives `Authorize` or `RecordMessage` against a server at a chosen concurrency for
//! a chosen time and reports throughput and p50/p99/p99.9 latency; `hourglass-load bare` serves a
//! tonic `PolicyService` that does no work, the baseline every figure is compared with.

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
use tonic::transport::Endpoint;
use tonic::transport::server::TcpIncoming;
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
    Run(RunOptions),
    /// Serves a PolicyService that answers every call with an empty response: the baseline.
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
    /// Pre-check a campaign: `AuthorizeBatch` of a marketing template to 10,000 customers a call (the
    /// latency is the whole batch's).
    Batch,
}

/// The customers of one `--rpc batch` call.
const BATCH_CUSTOMERS: u64 = 10_000;

#[derive(Debug, clap::Args)]
struct RunOptions {
    /// The server to drive.
    #[arg(long, default_value = "127.0.0.1:50051")]
    addr: SocketAddr,
    #[arg(long, value_enum, default_value = "authorize")]
    rpc: Rpc,
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
    /// A label printed with the result, such as the store under test.
    #[arg(long, default_value = "")]
    label: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Args::parse().command {
        Command::Run(options) => run(options).await,
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

/// A PolicyService that does no work.
struct Bare;

#[tonic::async_trait]
impl PolicyService for Bare {
    async fn authorize(
        &self,
        _: Request<pb::AuthorizeRequest>,
    ) -> Result<Response<pb::AuthorizeResponse>, Status> {
        Ok(Response::new(pb::AuthorizeResponse::default()))
    }

    async fn authorize_batch(
        &self,
        _: Request<pb::AuthorizeBatchRequest>,
    ) -> Result<Response<pb::AuthorizeBatchResponse>, Status> {
        Ok(Response::new(pb::AuthorizeBatchResponse::default()))
    }

    async fn record_message(
        &self,
        _: Request<pb::RecordMessageRequest>,
    ) -> Result<Response<pb::RecordMessageResponse>, Status> {
        Ok(Response::new(pb::RecordMessageResponse::default()))
    }

    async fn list_open_conversations(
        &self,
        _: Request<pb::ListOpenConversationsRequest>,
    ) -> Result<Response<pb::ListOpenConversationsResponse>, Status> {
        Ok(Response::new(pb::ListOpenConversationsResponse::default()))
    }
}

fn template() -> pb::OutboundMessage {
    pb::OutboundMessage {
        kind: Some(pb::outbound_message::Kind::Template(pb::Template {
            name: "tpl_marketing".to_owned(),
            language: "en".to_owned(),
            category: pb::Category::Marketing as i32,
        })),
    }
}

async fn run(options: RunOptions) -> anyhow::Result<()> {
    let RunOptions {
        addr,
        rpc,
        concurrency,
        connections,
        seconds,
        warmup,
        customers,
        label,
    } = options;
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
    let sequence = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(warmup);
    let end = measure_from + Duration::from_secs(seconds);

    let mut workers = Vec::with_capacity(concurrency);
    for worker_idx in 0..concurrency {
        let mut client = PolicyServiceClient::new(channels[worker_idx % channels.len()].clone());
        let (business_id, sequence) = (business_id.clone(), sequence.clone());
        workers.push(tokio::spawn(async move {
            let mut histogram =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds");
            let mut n_errors = 0u64;
            loop {
                let sent_at = Instant::now();
                if sent_at >= end {
                    break;
                }
                let n = sequence.fetch_add(1, Ordering::Relaxed);
                let customer_id = format!("91{:010}", 9_000_000_000 + n % customers);
                let at = Some(prost_types::Timestamp {
                    seconds: now_seconds,
                    nanos: 0,
                });
                let result = match rpc {
                    Rpc::Authorize => client
                        .authorize(pb::AuthorizeRequest {
                            business_id: business_id.to_string(),
                            customer_id,
                            message: Some(template()),
                            at,
                        })
                        .await
                        .map(drop),
                    Rpc::Batch => client
                        .authorize_batch(pb::AuthorizeBatchRequest {
                            business_id: business_id.to_string(),
                            message: Some(template()),
                            at,
                            customer_ids: (0..BATCH_CUSTOMERS)
                                .map(|k| {
                                    format!("91{:010}", 9_000_000_000 + (n * BATCH_CUSTOMERS + k) % customers)
                                })
                                .collect(),
                        })
                        .await
                        .map(drop),
                    Rpc::Record => client
                        .record_message(pb::RecordMessageRequest {
                            message_id: format!("load.{business_id}.{n}"),
                            business_id: business_id.to_string(),
                            customer_id,
                            at,
                            direction: Some(pb::record_message_request::Direction::Outbound(template())),
                        })
                        .await
                        .map(drop),
                };
                if sent_at < measure_from {
                    continue;
                }
                match result {
                    Ok(()) => {
                        let micros = u64::try_from(sent_at.elapsed().as_micros()).unwrap_or(u64::MAX);
                        histogram.saturating_record(micros.max(1));
                    }
                    Err(_) => n_errors += 1,
                }
            }
            (histogram, n_errors)
        }));
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut n_errors = 0;
    for worker in workers {
        let (worker_histogram, worker_errors) = worker.await?;
        histogram.add(worker_histogram)?;
        n_errors += worker_errors;
    }
    let n_calls = histogram.len();
    let throughput = n_calls as f64 / seconds as f64;
    println!(
        "label={label} rpc={rpc:?} concurrency={concurrency} seconds={seconds} calls={n_calls} errors={n_errors} \
         throughput={throughput:.0}/s p50={}us p99={}us p999={}us max={}us",
        histogram.value_at_quantile(0.50),
        histogram.value_at_quantile(0.99),
        histogram.value_at_quantile(0.999),
        histogram.max(),
    );
    Ok(())
}
