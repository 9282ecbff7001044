//! Real `redis-server` processes on free loopback ports, for the Redis tests of the store and of the
//! end-to-end suite.
//!
//! - [`RedisServer::start`] runs one node (`--save "" --appendonly no`), killed on drop; it can be stopped
//!   and started again on the same port to show that a store recovers.
//! - [`RedisCluster::start`] runs a cluster of masters without replicas and waits until every node reports
//!   `cluster_state:ok`.
//! - [`single_node_url`] and [`cluster_url`] return servers shared by every test of the process, started on
//!   first use; tests keep apart by using a fresh key namespace ([`test_namespace`]).
//!   `HOURGLASS_TEST_REDIS_URL` (and `HOURGLASS_TEST_REDIS_CLUSTER_URL`) point them at existing servers
//!   instead.
//!
//! When `redis-server` is not installed, the helpers return `None` and say that Redis is skipped (on
//! the test's standard error, uncaptured, so that it shows in a normal `cargo test`); under `CI=true`
//! they panic instead, so that a CI job without Redis fails rather than passes empty.
//!
//! Spawned servers outlive a test process that dies without running destructors (a panic in a shared
//! static, `kill -9`), so each one has a watchdog shell that stops it when the test process is gone.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Points the Redis tests at an existing single-node server (`redis://HOST:PORT`) instead of spawning one.
pub const TEST_REDIS_URL: &str = "HOURGLASS_TEST_REDIS_URL";
/// Points the Redis Cluster tests at an existing cluster (`redis+cluster://H1:P1,...`).
pub const TEST_REDIS_CLUSTER_URL: &str = "HOURGLASS_TEST_REDIS_CLUSTER_URL";

/// How long a spawned server may take to answer `PING`, and a cluster to reach `cluster_state:ok`.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Returns whether `redis-server` and `redis-cli` can be run. Under `CI=true` a missing server panics.
pub fn redis_server_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    let available = *AVAILABLE.get_or_init(|| {
        ["redis-server", "redis-cli"].iter().all(|program| {
            Command::new(program)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
    });
    if !available && std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!(
            "redis-server and redis-cli are not on PATH, and CI=true: the Redis tests cannot run. Install \
             Redis (apt-get install redis-server) or set {TEST_REDIS_URL} and {TEST_REDIS_CLUSTER_URL}"
        );
    }
    available
}

/// Returns the URL of a single Redis node shared by the tests of this process, or `None` (after
/// printing why) when the Redis tests are skipped.
pub fn single_node_url() -> Option<String> {
    if let Ok(url) = std::env::var(TEST_REDIS_URL) {
        return Some(url);
    }
    static SERVER: OnceLock<Result<RedisServer, String>> = OnceLock::new();
    if !redis_server_available() {
        say_skipped("redis-server is not installed: the single-node Redis tests did not run");
        return None;
    }
    match SERVER.get_or_init(|| RedisServer::start().map_err(|error| error.to_string())) {
        Ok(server) => Some(server.url()),
        Err(error) => panic!("cannot start redis-server: {error}"),
    }
}

/// Returns the URL of a three-master Redis Cluster shared by the tests of this process, or `None`
/// (after printing why) when the Redis tests are skipped.
pub fn cluster_url() -> Option<String> {
    if let Ok(url) = std::env::var(TEST_REDIS_CLUSTER_URL) {
        return Some(url);
    }
    static CLUSTER: OnceLock<Result<RedisCluster, String>> = OnceLock::new();
    if !redis_server_available() {
        say_skipped("redis-server is not installed: the Redis Cluster tests did not run");
        return None;
    }
    match CLUSTER.get_or_init(|| RedisCluster::start(3).map_err(|error| error.to_string())) {
        Ok(cluster) => Some(cluster.url()),
        Err(error) => panic!("cannot start a Redis Cluster: {error}"),
    }
}

/// The store timeout of a test: generous, because some cases fire a thousand records at once from a
/// debug build on a small machine, where queueing alone can take a few hundred milliseconds; failing
/// fast when Redis is down is tested with a short timeout of its own.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Returns a key namespace no other test uses.
pub fn test_namespace() -> String {
    format!("hg-test-{}", unique_suffix())
}

/// Says on the test's standard error, past libtest's capture, that tests were skipped.
pub fn say_skipped(what: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {what}");
}

/// Returns a string unique to this call across processes: for key namespaces and business ids.
pub fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{:x}{count:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

/// One `redis-server` process on a loopback port, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    cluster: bool,
    /// Whether it keeps its data across a restart: an append-only file synced on every write.
    durable: bool,
    process: Option<Child>,
    watchdog: Option<Child>,
}

impl RedisServer {
    /// Starts a node on a free port that keeps nothing across a restart.
    pub fn start() -> std::io::Result<RedisServer> {
        RedisServer::start_node(false, false)
    }

    /// Starts a node on a free port that keeps its data across a restart, even a crash: an
    /// append-only file, synced on every write.
    pub fn start_durable() -> std::io::Result<RedisServer> {
        RedisServer::start_node(false, true)
    }

    fn start_node(cluster: bool, durable: bool) -> std::io::Result<RedisServer> {
        let mut last_error = None;
        // A port found free can be taken before the server binds it: try a few.
        for _ in 0..10 {
            let port = free_port(cluster)?;
            let dir = std::env::temp_dir().join(format!("hourglass-redis-{port}-{}", unique_suffix()));
            std::fs::create_dir_all(&dir)?;
            let mut server = RedisServer {
                port,
                dir,
                cluster,
                durable,
                process: None,
                watchdog: None,
            };
            match server.spawn() {
                Ok(()) => return Ok(server),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| std::io::Error::other("no free port for redis-server")))
    }

    /// Returns the node's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (as a crash would) and waits until it is gone. Its port stays reserved for
    /// [`RedisServer::restart`].
    pub fn stop(&mut self) {
        if let Some(watchdog) = self.watchdog.take() {
            let _ = kill(watchdog);
        }
        if let Some(process) = self.process.take() {
            let _ = kill(process);
        }
    }

    /// Starts the server again on the same port: empty, unless it is durable.
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.stop();
        self.spawn()
    }

    fn spawn(&mut self) -> std::io::Result<()> {
        let port = self.port.to_string();
        let appendonly = if self.durable { "yes" } else { "no" };
        let mut command = Command::new("redis-server");
        command
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                appendonly,
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.dir.join("redis.log"));
        if self.cluster {
            command
                .args(["--cluster-enabled", "yes", "--cluster-config-file"])
                .arg(self.dir.join(format!("nodes-{port}.conf")))
                .args(["--cluster-node-timeout", "5000"]);
        }
        let mut process = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let watchdog = spawn_watchdog(process.id(), &self.dir)?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = process.try_wait()? {
                let _ = kill(watchdog);
                return Err(std::io::Error::other(format!(
                    "redis-server on port {port} exited with {status}: {}",
                    read_log(&self.dir)
                )));
            }
            if cli(self.port, &["PING"]).is_ok_and(|reply| reply.trim() == "PONG") {
                break;
            }
            if Instant::now() > deadline {
                let _ = kill(process);
                let _ = kill(watchdog);
                return Err(std::io::Error::other(format!(
                    "redis-server on port {port} did not answer PING"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.process = Some(process);
        self.watchdog = Some(watchdog);
        Ok(())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of masters without replicas, every node on a loopback port; killed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts `masters` nodes, joins them with `redis-cli --cluster create`, and waits until every node
    /// reports `cluster_state:ok`.
    pub fn start(masters: usize) -> std::io::Result<RedisCluster> {
        let nodes = (0..masters)
            .map(|_| RedisServer::start_node(true, false))
            .collect::<std::io::Result<Vec<_>>>()?;
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let output = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()?;
        if !output.status.success() {
            return Err(std::io::Error::other(format!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        let deadline = Instant::now() + START_TIMEOUT;
        while !nodes.iter().all(|node| {
            cli(node.port, &["CLUSTER", "INFO"]).is_ok_and(|info| info.contains("cluster_state:ok"))
        }) {
            if Instant::now() > deadline {
                return Err(std::io::Error::other(
                    "the Redis Cluster did not reach cluster_state:ok",
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(RedisCluster { nodes })
    }

    /// Returns `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,...`.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        format!("redis+cluster://{}", nodes.join(","))
    }

    /// Returns the nodes' ports.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(RedisServer::port).collect()
    }
}

/// Runs `redis-cli -h 127.0.0.1 -p PORT ARGS...` and returns its output.
pub fn cli(port: u16, args: &[&str]) -> std::io::Result<String> {
    cli_on("127.0.0.1", port, args)
}

/// Runs `redis-cli -h HOST -p PORT ARGS...` and returns its output.
pub fn cli_on(host: &str, port: u16, args: &[&str]) -> std::io::Result<String> {
    let output = Command::new("redis-cli")
        .args(["-h", host, "-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::null())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() || stdout.starts_with("Could not connect") {
        return Err(std::io::Error::other(format!(
            "redis-cli {args:?} on {host}:{port} failed: {stdout}"
        )));
    }
    Ok(stdout)
}

/// Returns a loopback port nobody listens on; for a cluster node, its bus port (port + 10000) too.
fn free_port(cluster: bool) -> std::io::Result<u16> {
    for _ in 0..100 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        if !cluster {
            return Ok(port);
        }
        let Some(bus) = port.checked_add(10_000) else {
            continue;
        };
        let bus_free = TcpListener::bind((Ipv4Addr::LOCALHOST, bus)).is_ok()
            && TcpStream::connect_timeout(
                &SocketAddr::from((Ipv4Addr::LOCALHOST, bus)),
                Duration::from_millis(50),
            )
            .is_err();
        if bus_free {
            return Ok(port);
        }
    }
    Err(std::io::Error::other(
        "no free loopback port pair for a cluster node",
    ))
}

/// Starts a shell that kills `pid` once this test process has exited, and then deletes `dir` (a shared
/// server lives in a static, which is never dropped).
fn spawn_watchdog(pid: u32, dir: &Path) -> std::io::Result<Child> {
    let script = format!(
        "while kill -0 {parent} 2>/dev/null && kill -0 {pid} 2>/dev/null; do sleep 0.5; done; \
         kill -9 {pid} 2>/dev/null; sleep 0.2; rm -rf \"$1\"",
        parent = std::process::id()
    );
    Command::new("sh")
        .args(["-c", &script, "watchdog"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

fn kill(mut child: Child) -> std::io::Result<()> {
    child.kill()?;
    child.wait().map(drop)
}

fn read_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default()
}
