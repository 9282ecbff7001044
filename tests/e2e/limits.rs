//! The real binary at its limits: the open file limit, a full descriptor table, and a flood of HTTP/2
//! streams that never end. Figures that depend on the machine (memory, CPU) are printed, and asserted
//! only where the difference is an order of magnitude.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use hourglass_e2e::{BinaryServer, health};
use tonic_health::pb::health_check_response::ServingStatus;

/// Returns the soft and hard `Max open files` of a process, or `None` where `/proc` does not exist.
fn open_file_limits(pid: u32) -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    let mut numbers = line
        .split_whitespace()
        .filter_map(|word| word.parse::<u64>().ok());
    Some((numbers.next()?, numbers.next()?))
}

/// Returns the CPU time a process has used so far, or `None` where `/proc` does not exist.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let output = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()?;
    let ticks_per_second: u64 = String::from_utf8_lossy(&output.stdout).trim().parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 1_000 / ticks_per_second))
}

/// Returns the resident memory of a process in MiB, or `None` where `/proc` does not exist.
fn rss_mib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1_024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_soft_open_file_limit_is_raised_to_the_hard_limit() {
    let server = BinaryServer::start_under_ulimit("memory:", &[], Some("-S -n 256")).await;
    let Some((soft, hard)) = open_file_limits(server.pid()) else {
        eprintln!("skipped: no /proc to read the open file limit from");
        return;
    };
    assert_eq!(soft, hard, "the soft limit stayed below the hard limit");
    assert!(soft > 256, "{soft}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_descriptor_table_is_logged_and_does_not_spin() {
    let server = BinaryServer::start_under_ulimit("memory:", &[], Some("-n 64")).await;
    if cpu_time(server.pid()).is_none() {
        eprintln!("skipped: no /proc to read the server's CPU time from");
        return;
    }
    // More connections than descriptors: the kernel completes them, the server cannot accept them all.
    let connections: Vec<TcpStream> = (0..120)
        .map(|_| TcpStream::connect(server.addr).expect("the kernel accepts into the backlog"))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = cpu_time(server.pid()).expect("the CPU time");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = cpu_time(server.pid()).expect("the CPU time") - before;
    eprintln!("CPU used in 2 s with the descriptor table full: {used:?}");
    // tonic's loop alone retries at once: about 2 s of CPU in 2 s.
    assert!(
        used < Duration::from_millis(600),
        "the accept loop spins: {used:?} of CPU in 2 s"
    );
    let log = server.log();
    assert!(
        log.contains("cannot accept a connection"),
        "nothing logged:\n{log}"
    );

    // Once the clients leave, new ones are served again.
    drop(connections);
    server
        .wait_for(ServingStatus::Serving, Duration::from_secs(10))
        .await;
}

/// Returns an HTTP/2 HEADERS frame opening stream `stream_id` for `Authorize`, without END_STREAM.
fn headers_frame(stream_id: u32) -> Vec<u8> {
    // HPACK without Huffman coding or indexing: indexed `:method POST` and `:scheme http`, then
    // literals with indexed names for `:path`, `:authority` and `content-type`, and a literal `te`.
    let mut block = vec![0x83, 0x86];
    for (prefix, value) in [
        (&[0x04][..], "/hourglass.v1.PolicyService/Authorize"),
        (&[0x01][..], "localhost"),
        (&[0x0f, 0x10][..], "application/grpc"),
        (&[0x00, 0x02, b't', b'e'][..], "trailers"),
    ] {
        block.extend_from_slice(prefix);
        block.push(u8::try_from(value.len()).expect("a short value"));
        block.extend_from_slice(value.as_bytes());
    }
    let length = u32::try_from(block.len()).expect("a short block").to_be_bytes();
    // Type HEADERS (1), flags END_HEADERS (4): the stream stays open for a body that never comes.
    let mut frame = vec![length[1], length[2], length[3], 0x1, 0x4];
    frame.extend_from_slice(&stream_id.to_be_bytes());
    frame.extend_from_slice(&block);
    frame
}

/// What the server said to a flood of streams.
#[derive(Debug, Default)]
struct FloodAnswer {
    n_refused: u64,
    goaway: bool,
}

/// Opens `n_streams` streams that never end on one connection as fast as the socket takes them,
/// ignoring the server's SETTINGS, and counts the server's RST_STREAM(REFUSED_STREAM) and GOAWAY.
fn flood(addr: std::net::SocketAddr, n_streams: u32, within: Duration) -> FloodAnswer {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("a read timeout");
    let mut reader = tcp.try_clone().expect("a second handle");
    let deadline = Instant::now() + within;
    let reading = std::thread::spawn(move || {
        let mut answer = FloodAnswer::default();
        let mut pending = Vec::new();
        let mut buf = vec![0_u8; 64 * 1_024];
        while Instant::now() < deadline {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(error) if error.kind() == std::io::ErrorKind::TimedOut => continue,
                Err(_) => break,
            }
            // Frames: a 24-bit length, a type, flags, a stream id, then the payload.
            while pending.len() >= 9 {
                let length =
                    usize::from(pending[0]) << 16 | usize::from(pending[1]) << 8 | usize::from(pending[2]);
                if pending.len() < 9 + length {
                    break;
                }
                let payload = &pending[9..9 + length];
                match pending[3] {
                    0x3 if payload == [0, 0, 0, 7] => answer.n_refused += 1,
                    0x7 => answer.goaway = true,
                    _ => {}
                }
                pending.drain(..9 + length);
            }
        }
        answer
    });
    let _ = tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00");
    let mut batch = Vec::new();
    for stream_idx in 0..n_streams {
        batch.extend(headers_frame(2 * stream_idx + 1));
        if batch.len() > 32 * 1_024 || stream_idx + 1 == n_streams {
            // The server may close the connection midway: that is one of the answers.
            if tcp.write_all(&batch).is_err() || Instant::now() > deadline {
                break;
            }
            batch.clear();
        }
    }
    reading.join().expect("the reader does not panic")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_open_streams_is_refused_and_health_keeps_answering() {
    let server = BinaryServer::start_with("memory:", &[]).await;
    let rss_before = rss_mib(server.pid());
    let addr = server.addr;
    let flooding = tokio::task::spawn_blocking(move || flood(addr, 20_000, Duration::from_secs(5)));
    let mut slowest = Duration::ZERO;
    while !flooding.is_finished() {
        let started = Instant::now();
        assert_eq!(
            health(server.addr, "").await,
            Some(ServingStatus::Serving),
            "health did not answer within a second during the flood"
        );
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = flooding.await.expect("the flood does not panic");
    eprintln!(
        "flood of 20,000 streams: {answer:?}, slowest health check {slowest:?}, RSS {rss_before:?} MiB before, {:?} MiB after",
        rss_mib(server.pid())
    );
    // With no limit the server takes every stream and refuses none.
    assert!(
        answer.n_refused > 0 || answer.goaway,
        "the server took every stream: {answer:?}"
    );
    server
        .wait_for(ServingStatus::Serving, Duration::from_secs(1))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_in_place_of_the_rate_card_does_not_stop_the_server() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let card = directory.path().join("card.toml");
    std::fs::write(&card, hourglass_server::rate_card::DEFAULT_RATE_CARD).expect("write the card");
    let card_arg = card.to_str().expect("a UTF-8 path");
    let server = BinaryServer::start_with("memory:", &["--rate-card", card_arg]).await;
    std::fs::remove_file(&card).expect("remove the card");
    let made = std::process::Command::new("mkfifo").arg(&card).status();
    if !made.is_ok_and(|status| status.success()) {
        eprintln!("skipped: mkfifo is not available");
        return;
    }
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -HUP failed");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.log().contains("rate card not reloaded") {
        assert!(
            Instant::now() < deadline,
            "the reload did not end:\n{}",
            server.log()
        );
        assert_eq!(health(server.addr, "").await, Some(ServingStatus::Serving));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(server.log().contains("not a regular file"), "{}", server.log());
    for _ in 0..5 {
        assert_eq!(health(server.addr, "").await, Some(ServingStatus::Serving));
    }
}
