//! The configuration of the `hourglass` binary: one clap `Config`, every flag also read from an
//! `HOURGLASS_…` environment variable, and `Config::validate`, which checks everything before a port is
//! bound and reports every problem at once.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, ValueEnum};
use hourglass_core::{FREE_SERVICE_MESSAGES, FREE_TIER_CONVERSATIONS, Guard, Policy, PricingSchedule};

use crate::rate_card;

/// The largest `--max-clock-skew`: a day. Event times further ahead than that are never plausible.
const MAX_CLOCK_SKEW_LIMIT: u64 = 86_400;

/// The largest `--store-timeout-ms`: a minute. A store slower than that is down.
const MAX_STORE_TIMEOUT_MS: u64 = 60_000;

/// Hourglass: a gRPC policy and billing service for the WhatsApp Business Platform.
///
/// Every flag can also be set with the environment variable shown next to it; a flag given on the
/// command line wins over the environment.
#[derive(Clone, Debug, PartialEq, Eq, Parser)]
#[command(name = "hourglass", version)]
pub struct Config {
    /// The address to serve gRPC on; in plaintext (h2c) unless --tls-cert is given, so keep a plaintext
    /// port on loopback or a private network.
    #[arg(
        long,
        env = "HOURGLASS_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:50051"
    )]
    pub listen: SocketAddr,

    /// The store: `memory:` (in this process only, lost on exit), `sled:PATH` (embedded, on disk),
    /// `redis://[USER:PASSWORD@]HOST:PORT[/DB]` (one Redis) or
    /// `redis+cluster://[USER:PASSWORD@]H1:P1,H2:P2` (Redis Cluster; the credentials apply to every
    /// node); `rediss://` and `rediss+cluster://` connect over TLS. Replicas that serve the same
    /// businesses must share one Redis.
    #[arg(
        long,
        env = "HOURGLASS_STORE",
        value_name = "URL",
        default_value = "sled:./hourglass-data"
    )]
    pub store: String,

    /// A TOML rate card that replaces the built-in one (Meta's June 2023 rates as reported by
    /// resellers); see `crates/server/ratecards/default.toml` for the format. Reloaded on SIGHUP.
    #[arg(long, env = "HOURGLASS_RATE_CARD", value_name = "PATH")]
    pub rate_card: Option<PathBuf>,

    /// The pricing model: Meta's calendar by the date of each message (in its account's time zone), or
    /// one era pinned whatever the date: the conversation model of June 2023 (free tier included),
    /// per-message pricing of July 2025, or per-message pricing with paid service messages of October
    /// 2026.
    #[arg(long, env = "HOURGLASS_PRICING_MODEL", value_enum, default_value_t = PricingScheduleArg::MetaCalendar)]
    pub pricing_model: PricingScheduleArg,

    /// Guards to run in shadow, comma-separated: each reports what it would deny in
    /// `Decision.shadow_deny_reason` and denies nothing. Of template, opt-out, opt-in, marketing-stop,
    /// marketing-cap, messaging-limit, budget.
    #[arg(long, env = "HOURGLASS_SHADOW", value_name = "GUARD,...", value_delimiter = ',', value_parser = parse_guard)]
    pub shadow: Vec<Guard>,

    /// How many seconds (0 to 86400) an event time `at` may lie ahead of the server clock before it is
    /// rejected.
    #[arg(
        long,
        env = "HOURGLASS_MAX_CLOCK_SKEW",
        value_name = "SECONDS",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(0..=MAX_CLOCK_SKEW_LIMIT),
    )]
    pub max_clock_skew: u64,

    /// How many milliseconds (1 to 60000) a store call may take before the request fails with
    /// UNAVAILABLE.
    #[arg(
        long,
        env = "HOURGLASS_STORE_TIMEOUT_MS",
        value_name = "MILLISECONDS",
        default_value_t = 250,
        value_parser = clap::value_parser!(u64).range(1..=MAX_STORE_TIMEOUT_MS),
    )]
    pub store_timeout_ms: u64,

    /// What Authorize answers when the store does not answer: `fail` (UNAVAILABLE), or `allow-replies`
    /// (a free-form message is allowed unchecked, with decision_source DEGRADED; everything else still
    /// fails).
    #[arg(
        long,
        env = "HOURGLASS_WHEN_STORE_UNAVAILABLE",
        value_enum,
        default_value_t = WhenStoreUnavailable::Fail
    )]
    pub when_store_unavailable: WhenStoreUnavailable,

    /// The format of the logs written to standard output.
    #[arg(long, env = "HOURGLASS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,

    /// Which logs to write, as a tracing `EnvFilter` directive such as `info` or
    /// `info,hourglass_server=debug`.
    #[arg(long, env = "HOURGLASS_LOG", value_name = "FILTER", default_value = "info")]
    pub log_filter: String,

    /// Serve Prometheus metrics (text format) at `GET /metrics` over plain HTTP on this address, such
    /// as `0.0.0.0:9090`; no label names a business, customer, account, template or message (see
    /// docs/OPERATIONS.md). Without it, no metrics are kept.
    #[arg(long, env = "HOURGLASS_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,

    /// Connection and HTTP/2 limits.
    #[command(flatten)]
    pub connection: ConnectionConfig,

    /// What logs and spans show of customers.
    #[command(flatten)]
    pub log_privacy: LogPrivacyConfig,

    /// Meta's webhooks.
    #[command(flatten)]
    pub webhook: WebhookConfig,

    /// TLS of the gRPC listener.
    #[command(flatten)]
    pub tls: TlsConfig,

    /// Credentials and tenants.
    #[command(flatten)]
    pub auth: AuthConfig,

    /// Write one JSON line per recorded message and per Authorize decision to this file (appended),
    /// or `-` for standard output, off the request path: a line that finds the writer's queue full is
    /// dropped and counted (docs/OPERATIONS.md, "Decision log and replay"). Customer and message ids
    /// are hashed unless --decision-log-clear-ids is given.
    #[arg(long, env = "HOURGLASS_DECISION_LOG", value_name = "PATH")]
    pub decision_log: Option<PathBuf>,

    /// Write customer and message ids in clear in the decision log, so that a replay prices each
    /// customer in its market.
    #[arg(long, env = "HOURGLASS_DECISION_LOG_CLEAR_IDS", default_value_t = false)]
    pub decision_log_clear_ids: bool,

    /// Without a subcommand, the server serves.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands of the binary.
#[derive(Clone, Debug, PartialEq, Eq, clap::Subcommand)]
pub enum Command {
    /// Replays the recorded messages of a decision log on a fresh memory store under a pricing model
    /// and rate card, and prints the bill answered beside the bill replayed.
    Replay(crate::decision_log::ReplayArgs),
}

/// The `--pricing-model` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PricingScheduleArg {
    /// Meta's model in force at the date of each message.
    #[value(name = "meta-calendar")]
    MetaCalendar,
    /// Conversation-based pricing of June 1, 2023, with its free tier, whatever the date.
    #[value(name = "conversation-2023")]
    Conversation2023,
    /// Per-message pricing of July 1, 2025, whatever the date (`per-message` is an older name of it).
    #[value(name = "per-message-2025", alias = "per-message")]
    PerMessage2025,
    /// Per-message pricing with paid service messages of October 1, 2026, whatever the date.
    #[value(name = "per-message-2026")]
    PerMessage2026,
}

impl From<PricingScheduleArg> for PricingSchedule {
    fn from(pricing_model: PricingScheduleArg) -> PricingSchedule {
        match pricing_model {
            PricingScheduleArg::Conversation2023 => PricingSchedule::Conversation2023,
            PricingScheduleArg::PerMessage2025 => PricingSchedule::PerMessage2025,
            PricingScheduleArg::PerMessage2026 => PricingSchedule::PerMessage2026,
            PricingScheduleArg::MetaCalendar => PricingSchedule::MetaCalendar,
        }
    }
}

/// The `--when-store-unavailable` values (docs/SPEC.md section 16).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum WhenStoreUnavailable {
    /// Every call that needs the store fails with UNAVAILABLE.
    #[default]
    Fail,
    /// `Authorize` of a free-form message answers allowed, unchecked and unrecorded, with
    /// `decision_source` DEGRADED: a gateway keeps answering customers who wrote while the store is
    /// down. Templates, records and everything else still fail.
    AllowReplies,
}

/// The `--log-format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Plain,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Every problem found in a configuration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    /// One line per problem, each naming its flag.
    pub problems: Vec<String>,
}

impl Config {
    /// Parses `args` (the first being the program name) and ignores the process environment, so that
    /// tests see exactly the flags they pass.
    ///
    /// This shadows clap's `Parser::try_parse_from`, which also reads `HOURGLASS_…` variables; `main`
    /// uses `Parser::parse` for that.
    pub fn try_parse_from<I, T>(args: I) -> Result<Config, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let command = Config::command().mut_args(|arg| arg.env(None));
        let matches = command.try_get_matches_from(args)?;
        Config::from_arg_matches(&matches)
    }

    /// Parses the process's command line and `HOURGLASS_…` environment variables; a value that came
    /// from a variable and is invalid is reported with the variable's name, since the flag it stands
    /// for is nowhere on the command line.
    pub fn parse_from_process() -> Result<Config, clap::Error> {
        let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
        let command = Config::command();
        let matches = command.clone().try_get_matches_from(&args).map_err(|error| {
            let variable_set = |name: &std::ffi::OsStr| std::env::var_os(name).is_some();
            name_the_variable(error, &command, &args, variable_set)
        })?;
        Config::from_arg_matches(&matches)
    }

    /// Checks everything clap cannot check alone (the store URL, the rate card, the log filter, the TLS
    /// files, the auth file and whether the listen address needs one) and returns the deployment's pricing policy, or every problem at once.
    pub fn validate(&self) -> Result<Policy, ConfigError> {
        let Config {
            listen,
            store,
            rate_card,
            pricing_model,
            shadow,
            max_clock_skew: _,
            store_timeout_ms: _,
            when_store_unavailable: _,
            log_format: _,
            log_filter,
            metrics_listen: _,
            connection: _,
            log_privacy: _,
            webhook,
            tls,
            auth,
            decision_log: _,
            decision_log_clear_ids: _,
            command: _,
        } = self;
        let mut problems = Vec::new();
        if let Err(problem) = auth.check(*listen) {
            problems.push(problem);
        }
        match webhook.app_secret() {
            Err(problem) => problems.push(problem),
            // Meta's bodies are authenticated by their signature, and by nothing else.
            Ok(None) => match webhook.webhook_listen {
                Some(addr) if !addr.ip().is_loopback() && !auth.insecure_listen => problems.push(format!(
                    "--webhook-listen {addr} is not a loopback address, and without --webhook-app-secret \
                     (or --webhook-app-secret-file) anyone who reaches it may post webhooks for every \
                     business: give Meta's app secret, or --insecure-listen to take unsigned bodies"
                )),
                _ => {}
            },
            Ok(Some(_)) => {}
        }
        // The files are read and checked whole here, before the port is bound; `run` reads them again.
        if let Err(problem) = tls
            .files()
            .and_then(|files| files.map_or(Ok(()), |files| crate::tls::load(&files).map(drop)))
        {
            problems.push(problem);
        }
        if let Err(problem) = check_store_url(store) {
            problems.push(format!("--store: {problem}"));
        }
        if let Err(error) = tracing_subscriber::EnvFilter::try_new(log_filter) {
            problems.push(format!(
                "--log-filter (HOURGLASS_LOG): {log_filter:?} is not a valid filter: {error}"
            ));
        }
        let policy = match rate_card::load(rate_card.as_deref()) {
            Ok(rate_card) => Some(load_policy(rate_card, *pricing_model, shadow)),
            Err(error) => {
                problems.push(format!("--rate-card: {error}"));
                None
            }
        };
        match policy {
            Some(policy) if problems.is_empty() => Ok(policy),
            _ => Err(ConfigError { problems }),
        }
    }
}

/// Adds to an invalid-value error the environment variable the value came from, when the flag is not
/// on the command line `args` and its variable is set.
fn name_the_variable(
    mut error: clap::Error,
    command: &clap::Command,
    args: &[std::ffi::OsString],
    variable_set: impl Fn(&std::ffi::OsStr) -> bool,
) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(error.kind(), ErrorKind::InvalidValue | ErrorKind::ValueValidation) {
        return error;
    }
    let Some(ContextValue::String(invalid_arg)) = error.get(ContextKind::InvalidArg) else {
        return error;
    };
    // clap names the argument as `--long <VALUE>`.
    let flag = invalid_arg
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    let Some(variable) = command
        .get_arguments()
        .find(|arg| arg.get_long().is_some_and(|long| flag == format!("--{long}")))
        .and_then(clap::Arg::get_env)
        .map(std::ffi::OsStr::to_os_string)
    else {
        return error;
    };
    let on_command_line = args.iter().skip(1).any(|arg| {
        let arg = arg.to_string_lossy();
        arg == flag || arg.starts_with(&format!("{flag}="))
    });
    if on_command_line || !variable_set(&variable) {
        return error;
    }
    let variable = variable.to_string_lossy();
    error.insert(
        ContextKind::Suggested,
        ContextValue::StyledStrs(vec![
            format!("the value comes from the environment variable {variable}: correct or unset it").into(),
        ]),
    );
    error
}

/// Returns the policy of a deployment from its rate card, pricing model and guards in shadow.
pub(crate) fn load_policy(
    rate_card: hourglass_core::RateCard,
    pricing_model: PricingScheduleArg,
    shadow: &[Guard],
) -> Policy {
    Policy {
        rate_card,
        schedule: PricingSchedule::from(pricing_model),
        free_tier_conversations: FREE_TIER_CONVERSATIONS,
        free_service_messages: FREE_SERVICE_MESSAGES,
        shadow: shadow.iter().copied().collect(),
    }
}

/// Parses a guard's name for `--shadow`.
fn parse_guard(name: &str) -> Result<Guard, String> {
    Guard::from_name(name.trim()).ok_or_else(|| {
        let names: Vec<&str> = Guard::ALL.iter().map(|guard| guard.name()).collect();
        format!("{name:?} is not a guard: use {}", names.join(", "))
    })
}

/// Checks the shape of a store URL; whether the backend is reachable is for `hourglass_store::open`.
fn check_store_url(url: &str) -> Result<(), String> {
    const USAGE: &str = "use memory:, sled:PATH, redis://HOST:PORT, rediss://HOST:PORT (TLS), \
                         redis+cluster://H1:P1,H2:P2 or rediss+cluster://H1:P1,H2:P2";
    // Messages show the URL without its password.
    let shown = crate::redact_store_url(url);
    match url.split_once(':') {
        Some(("memory", _)) => Ok(()),
        Some(("sled", path)) if !path.strip_prefix("//").unwrap_or(path).trim().is_empty() => Ok(()),
        Some(("sled", _)) => Err(format!(
            "{shown:?} has no path: use sled:PATH such as sled:./hourglass-data"
        )),
        Some((scheme @ ("redis" | "rediss"), rest)) => match rest.strip_prefix("//") {
            Some(address) if !address.is_empty() && !address.contains(',') => Ok(()),
            Some(address) if address.contains(',') => Err(format!(
                "{shown:?} names several nodes: use {scheme}+cluster://H1:P1,H2:P2 for a cluster"
            )),
            _ => Err(format!("{shown:?} has no host: use {scheme}://HOST:PORT")),
        },
        Some((scheme @ ("redis+cluster" | "rediss+cluster"), rest)) => match rest.strip_prefix("//") {
            Some(nodes) if !nodes.is_empty() && nodes.split(',').all(|node| !node.trim().is_empty()) => {
                Ok(())
            }
            _ => Err(format!(
                "{shown:?} does not list its nodes: use {scheme}://H1:P1,H2:P2"
            )),
        },
        Some((scheme, _)) => Err(format!("unknown store scheme {scheme:?} in {shown:?}: {USAGE}")),
        None => Err(format!("{shown:?} has no scheme: {USAGE}")),
    }
}

// ---------------------------------------------------------------------------------------------------
// Connection limits and log privacy (issue 13). Kept apart from the flags above so that the two evolve
// without touching each other; every range is enforced by clap before `validate`.

/// The connection and HTTP/2 limits that bound what one client can make the server hold, each with
/// the library default it replaces in its doc.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Connections")]
pub struct ConnectionConfig {
    /// How many requests (HTTP/2 streams) one connection may have open at once; further streams are
    /// refused with REFUSED_STREAM. tonic's default is no limit. Range 1 to 10,000.
    #[arg(
        long,
        env = "HOURGLASS_MAX_CONCURRENT_STREAMS",
        value_name = "N",
        default_value_t = 100,
        value_parser = clap::value_parser!(u32).range(1..=10_000),
    )]
    pub max_concurrent_streams: u32,

    /// How many milliseconds a request may take, from its headers to its answer, before it fails with
    /// DEADLINE_EXCEEDED; a shorter client deadline (grpc-timeout) wins. tonic's default is no limit.
    /// Range 1 to 600,000.
    #[arg(
        long,
        env = "HOURGLASS_REQUEST_TIMEOUT_MS",
        value_name = "MILLISECONDS",
        default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(1..=600_000),
    )]
    pub request_timeout_ms: u64,

    /// How many seconds a connection may carry no request (from its accept, or from the end of its last
    /// request) before the server closes it. tonic's default is never. Range 1 to 86,400.
    #[arg(
        long,
        env = "HOURGLASS_IDLE_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 120,
        value_parser = clap::value_parser!(u64).range(1..=86_400),
    )]
    pub idle_timeout: u64,

    /// How many seconds of silence on a connection before the server sends an HTTP/2 PING; a peer that
    /// does not answer within --http2-keepalive-timeout is disconnected. tonic's default is no pings.
    /// Range 1 to 86,400.
    #[arg(
        long,
        env = "HOURGLASS_HTTP2_KEEPALIVE_INTERVAL",
        value_name = "SECONDS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=86_400),
    )]
    pub http2_keepalive_interval: u64,

    /// How many seconds a peer has to answer an HTTP/2 PING. tonic's default is 20. Range 1 to 3,600.
    #[arg(
        long,
        env = "HOURGLASS_HTTP2_KEEPALIVE_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 20,
        value_parser = clap::value_parser!(u64).range(1..=3_600),
    )]
    pub http2_keepalive_timeout: u64,

    /// The largest header list (SETTINGS_MAX_HEADER_LIST_SIZE) a request may send, in bytes. hyper's
    /// default is 16 KiB. Range 1,024 to 1,048,576.
    #[arg(
        long,
        env = "HOURGLASS_HTTP2_MAX_HEADER_LIST_BYTES",
        value_name = "BYTES",
        default_value_t = 16_384,
        value_parser = clap::value_parser!(u32).range(1_024..=1_048_576),
    )]
    pub http2_max_header_list_bytes: u32,

    /// How many streams a client may reset before the server has taken them up; past that the
    /// connection is closed with GOAWAY (the defence against HTTP/2 rapid reset, CVE-2023-44487). h2's
    /// default is 20. Range 1 to 10,000.
    #[arg(
        long,
        env = "HOURGLASS_HTTP2_MAX_PENDING_RESETS",
        value_name = "N",
        default_value_t = 20,
        value_parser = clap::value_parser!(u32).range(1..=10_000),
    )]
    pub http2_max_pending_resets: u32,

    /// The largest request message, in bytes; a larger one fails with RESOURCE_EXHAUSTED. tonic's
    /// default is 4 MiB. Range 1,024 to 16,777,216.
    #[arg(
        long,
        env = "HOURGLASS_MAX_MESSAGE_BYTES",
        value_name = "BYTES",
        default_value_t = 262_144,
        value_parser = clap::value_parser!(u32).range(1_024..=16_777_216),
    )]
    pub max_message_bytes: u32,

    /// How many seconds a connection may be silent before the kernel probes it with TCP keepalives, to
    /// find peers that vanished without closing. tonic's default is no probes. Range 1 to 7,200.
    #[arg(
        long,
        env = "HOURGLASS_TCP_KEEPALIVE",
        value_name = "SECONDS",
        default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(1..=7_200),
    )]
    pub tcp_keepalive: u64,
}

impl Default for ConnectionConfig {
    /// Returns the flags' defaults, ignoring the process environment.
    fn default() -> ConnectionConfig {
        let command = <ConnectionConfig as clap::Args>::augment_args(clap::Command::new("hourglass"))
            .mut_args(|arg| arg.env(None));
        let matches = command.get_matches_from(["hourglass"]);
        ConnectionConfig::from_arg_matches(&matches).expect("the default of every flag is in its range")
    }
}

/// What logs and spans show of customers: customer phone numbers, BSUIDs and message ids (a `wamid`
/// embeds the customer's number) are personal data.
#[derive(Clone, Debug, Default, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Log privacy")]
pub struct LogPrivacyConfig {
    /// Show customer ids and message ids in logs as they are, for debugging. By default each is
    /// replaced by its keyed hash (`h:` and 16 hex digits of HMAC-SHA256), equal for equal ids.
    #[arg(long, env = "HOURGLASS_LOG_PERSONAL_DATA", default_value_t = false)]
    pub log_personal_data: bool,

    /// The key of the hashes that replace customer ids in logs, at least 16 characters; give the same
    /// key to every replica to follow one customer across them and across restarts. Prefer the
    /// environment variable: a flag shows in the process list. Default: a random key per process.
    #[arg(long, env = "HOURGLASS_LOG_ID_KEY", value_name = "KEY", value_parser = parse_log_id_key, hide_env_values = true)]
    pub log_id_key: Option<LogIdKey>,
}

/// The key of the hashes that replace customer ids in logs; `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct LogIdKey(pub String);

impl std::fmt::Debug for LogIdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogIdKey(***)")
    }
}

/// The fewest characters of a `--log-id-key`.
const MIN_LOG_ID_KEY_LEN: usize = 16;

fn parse_log_id_key(text: &str) -> Result<LogIdKey, String> {
    if text.len() < MIN_LOG_ID_KEY_LEN {
        return Err(format!(
            "the key has {} characters, give at least {MIN_LOG_ID_KEY_LEN}",
            text.len()
        ));
    }
    Ok(LogIdKey(text.to_owned()))
}

#[cfg(test)]
mod tests;

// ---------------------------------------------------------------------------------------------------
// Meta's webhooks (docs/SPEC.md section 14).

/// A secret given on the command line or in the environment: `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::str::FromStr for Secret {
    type Err = String;

    fn from_str(value: &str) -> Result<Secret, String> {
        if value.trim().is_empty() {
            return Err("must not be empty".to_owned());
        }
        Ok(Secret(value.to_owned()))
    }
}

/// Where webhooks come in and how they are authenticated.
#[derive(Clone, Debug, Default, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Webhooks")]
pub struct WebhookConfig {
    /// Also serve Meta's webhook calls over plain HTTP on this address: GET answers Meta's
    /// verification, POST ingests a body and answers 200 once it is durably applied. Without it,
    /// webhooks come in over gRPC only (`WebhookService/IngestWebhook`).
    #[arg(long, env = "HOURGLASS_WEBHOOK_LISTEN", value_name = "ADDR")]
    pub webhook_listen: Option<SocketAddr>,

    /// Meta's app secret: every webhook body must then carry its X-Hub-Signature-256 (the gRPC
    /// `signature`), else it is refused with UNAUTHENTICATED (HTTP 401). Prefer the file flag: a
    /// command line is visible to every user of the machine.
    #[arg(
        long,
        env = "HOURGLASS_WEBHOOK_APP_SECRET",
        value_name = "SECRET",
        hide_env_values = true,
        conflicts_with = "webhook_app_secret_file"
    )]
    pub webhook_app_secret: Option<Secret>,

    /// A file holding Meta's app secret (surrounding whitespace is dropped), such as a mounted
    /// Kubernetes secret.
    #[arg(long, env = "HOURGLASS_WEBHOOK_APP_SECRET_FILE", value_name = "PATH")]
    pub webhook_app_secret_file: Option<PathBuf>,

    /// The token Meta's subscription verification must carry (`hub.verify_token`); without it, the
    /// HTTP endpoint verifies no subscription.
    #[arg(
        long,
        env = "HOURGLASS_WEBHOOK_VERIFY_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub webhook_verify_token: Option<Secret>,
}

impl WebhookConfig {
    /// Returns the app secret, read from its file when one is given; the error names the flag.
    pub fn app_secret(&self) -> Result<Option<Vec<u8>>, String> {
        if let Some(secret) = &self.webhook_app_secret {
            return Ok(Some(secret.0.as_bytes().to_vec()));
        }
        let Some(path) = &self.webhook_app_secret_file else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(path).map_err(|error| {
            format!(
                "--webhook-app-secret-file: cannot read {}: {error}",
                path.display()
            )
        })?;
        let secret = text.trim();
        if secret.is_empty() {
            return Err(format!("--webhook-app-secret-file: {} is empty", path.display()));
        }
        Ok(Some(secret.as_bytes().to_vec()))
    }
}

// ---------------------------------------------------------------------------------------------------
// TLS of the gRPC listener (issue 10).

/// The certificate of the gRPC listener and the client certificates it asks for.
#[derive(Clone, Debug, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "TLS")]
pub struct TlsConfig {
    /// Serve gRPC over TLS (ALPN h2) with this certificate chain, PEM, the server's certificate first;
    /// needs --tls-key. Reloaded on SIGHUP, with the key and the client CA. The webhook and metrics
    /// listeners stay plain HTTP.
    #[arg(long, env = "HOURGLASS_TLS_CERT", value_name = "PATH", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert, PEM (PKCS #8, PKCS #1 or SEC1).
    #[arg(long, env = "HOURGLASS_TLS_KEY", value_name = "PATH", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Require a client certificate signed by a CA of this PEM bundle (mutual TLS); a client without
    /// one is refused in the handshake. Only with --tls-cert.
    #[arg(
        long,
        env = "HOURGLASS_TLS_CLIENT_CA",
        value_name = "PATH",
        requires = "tls_cert"
    )]
    pub tls_client_ca: Option<PathBuf>,

    /// How many seconds a client has to complete the TLS handshake after its connection is accepted;
    /// then the connection is closed. Range 1 to 300.
    #[arg(
        long,
        env = "HOURGLASS_TLS_HANDSHAKE_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=300),
    )]
    pub tls_handshake_timeout: u64,
}

impl Default for TlsConfig {
    /// Returns the flags' defaults (no TLS), ignoring the process environment.
    fn default() -> TlsConfig {
        let command = <TlsConfig as clap::Args>::augment_args(clap::Command::new("hourglass"))
            .mut_args(|arg| arg.env(None));
        let matches = command.get_matches_from(["hourglass"]);
        TlsConfig::from_arg_matches(&matches).expect("the default of every flag is in its range")
    }
}

impl TlsConfig {
    /// Returns the files to serve TLS with, or none for plaintext; the error names the flag missing.
    pub fn files(&self) -> Result<Option<crate::tls::TlsFiles>, String> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some(crate::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: self.tls_client_ca.clone(),
            })),
            (Some(_), None) => Err("--tls-cert needs --tls-key, the key of its certificate".to_owned()),
            (None, Some(_)) => Err("--tls-key needs --tls-cert, the certificate of the key".to_owned()),
            (None, None) if self.tls_client_ca.is_some() => Err(
                "--tls-client-ca needs --tls-cert and --tls-key: client certificates are asked for in TLS"
                    .to_owned(),
            ),
            (None, None) => Ok(None),
        }
    }

    /// How long a client has to complete its TLS handshake.
    pub fn handshake_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.tls_handshake_timeout)
    }
}

/// Who may call the gRPC listener.
#[derive(Clone, Debug, Default, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Credentials")]
pub struct AuthConfig {
    /// Require a bearer token (`authorization: Bearer <token>`) on every call but health and
    /// reflection: a TOML file of tokens, each stored as its SHA-256 digest with a tenant, a role
    /// (gateway, admin, reader) and the accounts it may touch (docs/OPERATIONS.md, "Credentials and
    /// tenants"). Reloaded on SIGHUP.
    #[arg(long, env = "HOURGLASS_AUTH_FILE", value_name = "PATH")]
    pub auth_file: Option<PathBuf>,

    /// Serve without --auth-file on an address other than loopback (anyone who reaches the port may
    /// read and record for every business), and --webhook-listen beyond loopback without Meta's app
    /// secret (anyone may post webhooks). Without it, such addresses are refused.
    #[arg(long, env = "HOURGLASS_INSECURE_LISTEN", default_value_t = false)]
    pub insecure_listen: bool,
}

impl AuthConfig {
    /// Reads the auth file, or checks that serving `listen` without one is allowed.
    fn check(&self, listen: SocketAddr) -> Result<(), String> {
        match &self.auth_file {
            Some(path) => crate::auth::load(path).map(drop),
            None if listen.ip().is_loopback() || self.insecure_listen => Ok(()),
            None => Err(format!(
                "--listen {listen} is not a loopback address, and without --auth-file anyone who reaches \
                 it may read and record for every business: give --auth-file (docs/OPERATIONS.md), or \
                 --insecure-listen to serve without credentials behind a network that keeps others out"
            )),
        }
    }
}
