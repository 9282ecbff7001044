//! The decision log (`--decision-log`): one JSON line per recorded message and per `Authorize`
//! decision (one per customer of an `AuthorizeBatch`), written off the request path, and `hourglass replay`, which runs the recorded messages of
//! a log again under another pricing model or rate card and prints both bills side by side.
//!
//! A handler builds its [`Line`]s and hands them to the [`Sink`] with `try_send` on a queue bounded in
//! lines (a batch's lines travel together); one writer thread ([`Writer`]) serializes them into a
//! buffered file (or standard output) and flushes it at least every second and when the server stops.
//! Lines that find the queue full are dropped and counted in `hourglass_decision_log_dropped_total`:
//! the log never slows an answer.
//!
//! Customer and message ids are written as their keyed hash (`telemetry::hashed`) unless
//! `--decision-log-clear-ids` is given.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};

use anyhow::Context as _;
use hourglass_core::{Duration, Instant, Policy};
use hourglass_proto::v1 as pb;
use hourglass_store::{MemoryStore, ledger};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::convert::{self, Clock, ToProto as _};

/// The version of the line format; a reader refuses lines of another.
pub(crate) const VERSION: u32 = 1;
/// How many lines may wait for the writer before new ones are dropped: room for the largest
/// `AuthorizeBatch` (10,000 customers) beside the lines of other calls.
pub(crate) const QUEUE_CAPACITY: usize = 20_000;
/// The longest a written line waits in the buffer before it is flushed.
const FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// One line of the decision log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Line {
    /// The line format's version, [`VERSION`].
    pub version: u32,
    pub kind: Kind,
    /// The server clock when the answer was given, RFC 3339 in UTC.
    pub server_time: String,
    /// The rate card in force: 1 for the one loaded at start, one more per reload.
    pub rate_card_revision: u64,
    /// The server's version.
    pub build: String,
    pub request: LoggedRequest,
    pub answer: LoggedAnswer,
    /// The account the prediction counted for, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// For a decision of an `AuthorizeBatch`: how many customers the batch asked about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
}

/// What a line records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Kind {
    /// A `RecordMessage` that was not a duplicate.
    Record,
    /// An `Authorize` decision, or one customer's decision of an `AuthorizeBatch` (with `batch_size`).
    Authorize,
}

/// The request, as much of it as a replay needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LoggedRequest {
    pub business_id: String,
    /// The customer id, or its keyed hash (`h:` and hex digits).
    pub customer_id: String,
    /// The message id, or its keyed hash; absent for `Authorize`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The instant the message was decided at (the request's `at`, or the server clock), RFC 3339.
    pub at: String,
    pub message: LoggedMessage,
}

/// The message of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "direction", rename_all = "snake_case")]
pub(crate) enum LoggedMessage {
    /// An inbound message, with the API's enum names.
    Inbound { entry_point: String, platform: String },
    /// An outbound message: a template, or free-form when `template` is absent.
    Outbound {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<LoggedTemplate>,
    },
}

/// A template of an outbound message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LoggedTemplate {
    pub name: String,
    pub language: String,
    /// The API's enum name, such as `CATEGORY_MARKETING`.
    pub category: String,
}

/// The answer given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LoggedAnswer {
    /// Absent for an inbound message, which has no decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deny_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<LoggedPrice>,
    pub duplicate: bool,
}

/// A price: a currency and an exact decimal amount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LoggedPrice {
    pub currency: String,
    /// The amount as a decimal string, such as `0.0107`.
    pub amount: String,
}

/// The ids as the log shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ids {
    Hashed,
    Clear,
}

impl Ids {
    fn show(self, raw: &str) -> String {
        match self {
            Ids::Clear => raw.to_owned(),
            Ids::Hashed => crate::telemetry::hashed(raw),
        }
    }
}

/// Where handlers send lines: a queue to the writer thread, bounded in lines. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Sink {
    queue: SyncSender<Vec<Line>>,
    /// Lines in the queue: at most `capacity`.
    queued: Arc<AtomicUsize>,
    capacity: usize,
    ids: Ids,
    dropped: Arc<AtomicU64>,
    revision: Arc<AtomicU64>,
}

/// The writer's end of the queue.
pub(crate) struct Queue {
    lines: Receiver<Vec<Line>>,
    queued: Arc<AtomicUsize>,
}

impl Queue {
    /// Takes the next lines off the queue, waiting at most `timeout`.
    fn recv_timeout(&self, timeout: std::time::Duration) -> Result<Vec<Line>, RecvTimeoutError> {
        let lines = self.lines.recv_timeout(timeout)?;
        self.queued.fetch_sub(lines.len(), Ordering::AcqRel);
        Ok(lines)
    }

    /// Takes the next lines off the queue, if any.
    fn try_recv(&self) -> Option<Vec<Line>> {
        let lines = self.lines.try_recv().ok()?;
        self.queued.fetch_sub(lines.len(), Ordering::AcqRel);
        Some(lines)
    }
}

impl Sink {
    /// Returns a sink over a queue of `capacity` lines and its receiving end.
    pub fn channel(capacity: usize, ids: Ids) -> (Sink, Queue) {
        let (queue, lines) = std::sync::mpsc::sync_channel(capacity);
        let queued = Arc::new(AtomicUsize::new(0));
        let sink = Sink {
            queue,
            queued: Arc::clone(&queued),
            capacity,
            ids,
            dropped: Arc::new(AtomicU64::new(0)),
            revision: Arc::new(AtomicU64::new(1)),
        };
        (sink, Queue { lines, queued })
    }

    /// Moves the rate card revision on, after a successful reload.
    pub fn rate_card_reloaded(&self) {
        self.revision.fetch_add(1, Ordering::Relaxed);
    }

    /// How many lines were dropped because the queue was full.
    #[cfg(test)]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Queues `lines` together without waiting; a queue without room for all of them (or closed)
    /// drops them and counts them.
    pub fn send(&self, lines: Vec<Line>) {
        let count = lines.len();
        let room = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                (queued + count <= self.capacity).then_some(queued + count)
            })
            .is_ok();
        let sent = room
            && match self.queue.try_send(lines) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    self.queued.fetch_sub(count, Ordering::AcqRel);
                    false
                }
            };
        if !sent {
            let count = u64::try_from(count).unwrap_or(u64::MAX);
            self.dropped.fetch_add(count, Ordering::Relaxed);
            crate::metrics::decision_log_dropped(count);
        }
    }

    /// Logs a `RecordMessage` answer; duplicates are not logged.
    pub fn record(
        &self,
        request: &pb::RecordMessageRequest,
        at: Instant,
        response: &pb::RecordMessageResponse,
    ) {
        if response.duplicate {
            return;
        }
        use pb::record_message_request::Direction;
        let message = match &request.direction {
            Some(Direction::Inbound(inbound)) => LoggedMessage::Inbound {
                entry_point: pb::EntryPoint::try_from(inbound.entry_point)
                    .unwrap_or_default()
                    .as_str_name()
                    .to_owned(),
                platform: pb::ClientPlatform::try_from(inbound.platform)
                    .unwrap_or_default()
                    .as_str_name()
                    .to_owned(),
            },
            Some(Direction::Outbound(outbound)) => outbound_message(outbound),
            None => return,
        };
        let request = LoggedRequest {
            business_id: request.business_id.clone(),
            customer_id: self.ids.show(&request.customer_id),
            message_id: Some(self.ids.show(&request.message_id)),
            at: rfc3339(at),
            message,
        };
        self.send(vec![self.line(
            Kind::Record,
            request,
            answer_of(response.decision.as_ref(), false),
        )]);
    }

    /// Logs an `Authorize` decision.
    pub fn authorize(&self, request: &pb::AuthorizeRequest, at: Instant, decision: Option<&pb::Decision>) {
        let request = LoggedRequest {
            business_id: request.business_id.clone(),
            customer_id: self.ids.show(&request.customer_id),
            message_id: None,
            at: rfc3339(at),
            message: request
                .message
                .as_ref()
                .map_or(LoggedMessage::Outbound { template: None }, outbound_message),
        };
        self.send(vec![self.line(
            Kind::Authorize,
            request,
            answer_of(decision, false),
        )]);
    }

    /// Logs the decisions of an `AuthorizeBatch`, a line per customer, all queued together.
    pub fn authorize_batch(
        &self,
        business_id: &str,
        message: Option<&pb::OutboundMessage>,
        at: Instant,
        response: &pb::AuthorizeBatchResponse,
    ) {
        let message = message.map_or(LoggedMessage::Outbound { template: None }, outbound_message);
        let at = rfc3339(at);
        let batch_size = u32::try_from(response.results.len()).ok();
        let lines = response
            .results
            .iter()
            .map(|result| {
                let request = LoggedRequest {
                    business_id: business_id.to_owned(),
                    customer_id: self.ids.show(&result.customer_id),
                    message_id: None,
                    at: at.clone(),
                    message: message.clone(),
                };
                Line {
                    batch_size,
                    ..self.line(
                        Kind::Authorize,
                        request,
                        answer_of(result.decision.as_ref(), false),
                    )
                }
            })
            .collect();
        self.send(lines);
    }

    fn line(&self, kind: Kind, request: LoggedRequest, answer: LoggedAnswer) -> Line {
        Line {
            version: VERSION,
            kind,
            server_time: rfc3339(Clock::system(Duration::MINUTE).now),
            rate_card_revision: self.revision.load(Ordering::Relaxed),
            build: env!("CARGO_PKG_VERSION").to_owned(),
            request,
            answer,
            account: None,
            batch_size: None,
        }
    }
}

fn outbound_message(outbound: &pb::OutboundMessage) -> LoggedMessage {
    use pb::outbound_message::Kind as OutboundKind;
    let template = match &outbound.kind {
        Some(OutboundKind::Template(template)) => Some(LoggedTemplate {
            name: template.name.clone(),
            language: template.language.clone(),
            category: pb::Category::try_from(template.category)
                .unwrap_or_default()
                .as_str_name()
                .to_owned(),
        }),
        Some(OutboundKind::FreeForm(_)) | None => None,
    };
    LoggedMessage::Outbound { template }
}

/// What a line shows of a decision.
fn answer_of(decision: Option<&pb::Decision>, duplicate: bool) -> LoggedAnswer {
    let Some(decision) = decision else {
        return LoggedAnswer {
            duplicate,
            ..LoggedAnswer::default()
        };
    };
    let deny_reason = pb::DenyReason::try_from(decision.deny_reason)
        .ok()
        .filter(|reason| *reason != pb::DenyReason::Unspecified)
        .map(|reason| reason.as_str_name().to_owned());
    let charge = decision.charge.as_ref();
    LoggedAnswer {
        allowed: Some(decision.allowed),
        deny_reason,
        category: charge.map(|charge| {
            pb::Category::try_from(charge.category)
                .unwrap_or_default()
                .as_str_name()
                .to_owned()
        }),
        pricing_type: charge.map(|charge| {
            pb::PricingType::try_from(charge.pricing_type)
                .unwrap_or_default()
                .as_str_name()
                .to_owned()
        }),
        pricing_model: charge.map(|charge| {
            pb::PricingModel::try_from(charge.pricing_model)
                .unwrap_or_default()
                .as_str_name()
                .to_owned()
        }),
        billable: charge.map(|charge| charge.billable),
        price: charge
            .and_then(|charge| charge.price.as_ref())
            .map(|money| LoggedPrice {
                currency: money.currency_code.clone(),
                amount: amount(money).to_string(),
            }),
        duplicate,
    }
}

/// A `Money` as an exact decimal.
fn amount(money: &pb::Money) -> Decimal {
    let nanos = i128::from(money.units) * 1_000_000_000 + i128::from(money.nanos);
    Decimal::from_i128_with_scale(nanos, 9).normalize()
}

fn rfc3339(at: Instant) -> String {
    chrono::DateTime::from_timestamp_millis(at.as_millis())
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The writer: one thread that takes lines off the queue and writes them, until [`Writer::finish`].
///
/// A thread of its own, not a task: its writes and flushes block, and nothing blocking runs on the
/// async runtime.
#[derive(Debug)]
pub(crate) struct Writer {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Writer {
    /// Opens `path` (`-` for standard output) for appending and starts the writer thread; returns the
    /// sink handlers send lines to.
    pub fn start(path: &Path, ids: Ids) -> anyhow::Result<(Sink, Writer)> {
        let out: Box<dyn Write + Send> = if path == Path::new("-") {
            Box::new(std::io::stdout())
        } else {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("open --decision-log {}", path.display()))?;
            Box::new(file)
        };
        let (sink, queue) = Sink::channel(QUEUE_CAPACITY, ids);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("decision-log".to_owned())
            .spawn({
                let stop = Arc::clone(&stop);
                move || write_lines(&queue, out, &stop)
            })
            .context("start the decision log writer")?;
        Ok((sink, Writer { stop, thread }))
    }

    /// Writes what is queued, flushes and stops.
    pub async fn finish(self) {
        self.stop.store(true, Ordering::Release);
        let thread = self.thread;
        match tokio::task::spawn_blocking(move || thread.join()).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) | Err(_) => tracing::error!("the decision log writer panicked"),
        }
    }
}

/// How long the writer waits for a line before it looks at the clock and the stop flag again.
const POLL_INTERVAL: std::time::Duration = std::time::Duration::from_millis(50);

fn write_lines(queue: &Queue, out: Box<dyn Write + Send>, stop: &AtomicBool) {
    let mut out = std::io::BufWriter::new(out);
    let mut failed = false;
    let mut flushed_at = std::time::Instant::now();
    loop {
        match queue.recv_timeout(POLL_INTERVAL) {
            Ok(lines) => {
                for line in &lines {
                    write_line(&mut out, line, &mut failed);
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if stop.load(Ordering::Acquire) {
            while let Some(lines) = queue.try_recv() {
                for line in &lines {
                    write_line(&mut out, line, &mut failed);
                }
            }
            break;
        }
        if flushed_at.elapsed() >= FLUSH_INTERVAL {
            if let Err(error) = out.flush() {
                note_failure(&mut failed, &error);
            }
            flushed_at = std::time::Instant::now();
        }
    }
    if let Err(error) = out.flush() {
        note_failure(&mut failed, &error);
    }
}

fn write_line(out: &mut impl Write, line: &Line, failed: &mut bool) {
    let mut text = match serde_json::to_string(line) {
        Ok(text) => text,
        Err(error) => {
            tracing::error!(%error, "cannot serialize a decision log line");
            return;
        }
    };
    text.push('\n');
    if let Err(error) = out.write_all(text.as_bytes()) {
        note_failure(failed, &error);
    }
}

/// Logs the first write failure of the decision log (not one per line).
fn note_failure(failed: &mut bool, error: &std::io::Error) {
    if !*failed {
        tracing::error!(%error, "cannot write the decision log; lines are lost until it recovers");
        *failed = true;
    }
}

/// One row of a bill: a business, a month (UTC) and a category, in one currency.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct BillKey {
    business_id: String,
    month: String,
    category: String,
    currency: String,
}

/// The count of charged messages (a price above zero) and their cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct BillCell {
    count: u64,
    cost: Decimal,
}

/// The answered and replayed sides of a row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct BillRow {
    answered: BillCell,
    replayed: BillCell,
}

/// Adds an answer's charge to the bill, if it charged something: a message under per-message pricing,
/// the message that opened a paid conversation under the conversation model.
fn add_to_bill(
    bill: &mut BTreeMap<BillKey, BillRow>,
    business_id: &str,
    at: &str,
    answer: &LoggedAnswer,
    side: fn(&mut BillRow) -> &mut BillCell,
) -> anyhow::Result<()> {
    if answer.allowed != Some(true) || answer.billable != Some(true) {
        return Ok(());
    }
    let Some(price) = &answer.price else {
        return Ok(());
    };
    let cost: Decimal = price
        .amount
        .parse()
        .with_context(|| format!("price {:?}", price.amount))?;
    if cost.is_zero() {
        return Ok(());
    }
    let key = BillKey {
        business_id: business_id.to_owned(),
        month: at.get(..7).unwrap_or(at).to_owned(),
        category: answer.category.clone().unwrap_or_default(),
        currency: price.currency.clone(),
    };
    let cell = side(bill.entry(key).or_default());
    cell.count += 1;
    cell.cost += cost;
    Ok(())
}

/// Turns a logged customer id back into one the core accepts: a clear id as it is, a hashed one into a
/// stable number under the calling code 999, which no market of a card has, so it is priced in `Other`.
fn replay_customer_id(logged: &str) -> String {
    match logged.strip_prefix("h:") {
        Some(hex) => {
            let value = u64::from_str_radix(hex.get(..12).unwrap_or(hex), 16).unwrap_or_default();
            format!("999{:012}", value % 1_000_000_000_000)
        }
        None => logged.to_owned(),
    }
}

fn timestamp(at: &str) -> anyhow::Result<prost_types::Timestamp> {
    let parsed = chrono::DateTime::parse_from_rfc3339(at).with_context(|| format!("time {at:?}"))?;
    Ok(prost_types::Timestamp {
        seconds: parsed.timestamp(),
        nanos: i32::try_from(parsed.timestamp_subsec_nanos()).unwrap_or_default(),
    })
}

/// Rebuilds the `RecordMessage` request of a record line.
fn replay_request(request: &LoggedRequest) -> anyhow::Result<pb::RecordMessageRequest> {
    use pb::record_message_request::Direction;
    let direction = match &request.message {
        LoggedMessage::Inbound {
            entry_point,
            platform,
        } => Direction::Inbound(pb::Inbound {
            entry_point: pb::EntryPoint::from_str_name(entry_point)
                .with_context(|| format!("entry point {entry_point:?}"))?
                .into(),
            platform: pb::ClientPlatform::from_str_name(platform)
                .with_context(|| format!("platform {platform:?}"))?
                .into(),
        }),
        LoggedMessage::Outbound { template } => {
            use pb::outbound_message::Kind as OutboundKind;
            let kind = match template {
                None => OutboundKind::FreeForm(pb::FreeForm {}),
                Some(template) => OutboundKind::Template(pb::Template {
                    name: template.name.clone(),
                    language: template.language.clone(),
                    category: pb::Category::from_str_name(&template.category)
                        .with_context(|| format!("category {:?}", template.category))?
                        .into(),
                }),
            };
            Direction::Outbound(pb::OutboundMessage { kind: Some(kind) })
        }
    };
    Ok(pb::RecordMessageRequest {
        message_id: request.message_id.clone().unwrap_or_default(),
        business_id: request.business_id.clone(),
        customer_id: replay_customer_id(&request.customer_id),
        at: Some(timestamp(&request.at)?),
        direction: Some(direction),
    })
}

/// What `hourglass replay` is given.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
pub struct ReplayArgs {
    /// The decision log to replay (its `record` lines, in order).
    #[arg(long, value_name = "PATH")]
    pub decision_log: PathBuf,
    /// The pricing model to replay under (default: meta-calendar).
    #[arg(long, value_enum)]
    pub pricing_model: Option<crate::config::PricingScheduleArg>,
    /// A TOML rate card to replay with (default: the built-in one).
    #[arg(long, value_name = "PATH")]
    pub rate_card: Option<PathBuf>,
}

/// Replays the record lines of a decision log on a fresh memory store and writes the bill answered
/// and the bill replayed, per business, month (UTC) and category, to `out`.
pub async fn replay(args: &ReplayArgs, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let card = crate::rate_card::load(args.rate_card.as_deref())
        .map_err(|error| anyhow::anyhow!("--rate-card: {error}"))?;
    let policy: Policy = crate::config::load_policy(
        card,
        args.pricing_model
            .unwrap_or(crate::config::PricingScheduleArg::MetaCalendar),
        &[],
    );
    let text = std::fs::read_to_string(&args.decision_log)
        .with_context(|| format!("read {}", args.decision_log.display()))?;
    let store = MemoryStore::default();
    let mut bill: BTreeMap<BillKey, BillRow> = BTreeMap::new();
    let mut replayed_lines = 0_u64;
    for (idx, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(raw).with_context(|| format!("line {}", idx + 1))?;
        anyhow::ensure!(
            line.version == VERSION,
            "line {}: version {} is not {VERSION}",
            idx + 1,
            line.version
        );
        if line.kind != Kind::Record {
            continue;
        }
        add_to_bill(
            &mut bill,
            &line.request.business_id,
            &line.request.at,
            &line.answer,
            |row| &mut row.answered,
        )?;
        let request = replay_request(&line.request).with_context(|| format!("line {}", idx + 1))?;
        let entry = convert::record_from_proto(request, Clock::system(Duration::MINUTE))
            .map_err(|error| anyhow::anyhow!("line {}: {error}", idx + 1))?;
        let answer = ledger::record(&store, &policy, &entry)
            .await
            .with_context(|| format!("line {}: replay", idx + 1))?;
        let answer = answer_of(
            answer
                .decision
                .as_ref()
                .map(|decision| decision.to_proto())
                .as_ref(),
            answer.duplicate,
        );
        add_to_bill(
            &mut bill,
            &line.request.business_id,
            &line.request.at,
            &answer,
            |row| &mut row.replayed,
        )?;
        replayed_lines += 1;
    }
    write_bill(out, &bill, replayed_lines)?;
    Ok(())
}

fn write_bill(
    out: &mut impl std::io::Write,
    bill: &BTreeMap<BillKey, BillRow>,
    replayed_lines: u64,
) -> std::io::Result<()> {
    writeln!(out, "# {replayed_lines} recorded messages replayed")?;
    writeln!(
        out,
        "{:<20} {:<7} {:<24} {:<8} {:>8} {:>16} {:>8} {:>16}",
        "business", "month", "category", "currency", "answered", "answered_cost", "replayed", "replayed_cost"
    )?;
    let mut totals: BTreeMap<&str, BillRow> = BTreeMap::new();
    for (key, row) in bill {
        writeln!(
            out,
            "{:<20} {:<7} {:<24} {:<8} {:>8} {:>16} {:>8} {:>16}",
            key.business_id,
            key.month,
            key.category,
            key.currency,
            row.answered.count,
            row.answered.cost,
            row.replayed.count,
            row.replayed.cost
        )?;
        let total = totals.entry(&key.currency).or_default();
        total.answered.count += row.answered.count;
        total.answered.cost += row.answered.cost;
        total.replayed.count += row.replayed.count;
        total.replayed.cost += row.replayed.cost;
    }
    for (currency, total) in totals {
        writeln!(
            out,
            "{:<20} {:<7} {:<24} {:<8} {:>8} {:>16} {:>8} {:>16}",
            "TOTAL",
            "",
            "",
            currency,
            total.answered.count,
            total.answered.cost,
            total.replayed.count,
            total.replayed.cost
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> Line {
        Line {
            version: VERSION,
            kind: Kind::Authorize,
            server_time: "2026-03-10T10:00:00.000Z".to_owned(),
            rate_card_revision: 1,
            build: "test".to_owned(),
            request: LoggedRequest {
                business_id: "106540352242922".to_owned(),
                customer_id: "h:00".to_owned(),
                message_id: None,
                at: "2026-03-10T10:00:00.000Z".to_owned(),
                message: LoggedMessage::Outbound { template: None },
            },
            answer: LoggedAnswer::default(),
            account: None,
            batch_size: None,
        }
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_blocking() {
        let (sink, queue) = Sink::channel(2, Ids::Hashed);
        let started = std::time::Instant::now();
        for _ in 0..5 {
            sink.send(vec![line()]);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(sink.dropped(), 3);
        assert!(queue.try_recv().is_some());
        assert!(queue.try_recv().is_some());
        assert!(queue.try_recv().is_none());
        sink.send(vec![line()]);
        assert_eq!(sink.dropped(), 3, "room again once the writer took lines");
        // The queue is bounded in lines: a batch that does not fit whole is dropped whole.
        sink.send(vec![line(), line()]);
        assert_eq!(sink.dropped(), 5);
        assert_eq!(queue.try_recv().map(|lines| lines.len()), Some(1));
        sink.send(vec![line(), line()]);
        assert_eq!(sink.dropped(), 5, "a batch that fits is queued whole");
        assert_eq!(queue.try_recv().map(|lines| lines.len()), Some(2));
    }

    #[test]
    fn lines_round_trip_and_hashed_customers_replay_in_other() {
        let text = serde_json::to_string(&line()).unwrap();
        assert!(text.contains(r#""kind":"authorize""#), "{text}");
        assert_eq!(serde_json::from_str::<Line>(&text).unwrap(), line());
        let id = replay_customer_id("h:0123456789abcdef");
        assert_eq!(id, replay_customer_id("h:0123456789abcdef"));
        assert!(id.starts_with("999") && id.len() == 15, "{id}");
        assert_eq!(replay_customer_id("919800000001"), "919800000001");
    }
}
