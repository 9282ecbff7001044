//! TLS and mutual TLS of the gRPC listener (`--tls-cert`, `--tls-key`, `--tls-client-ca`), with
//! certificates each test makes with rcgen: `Authorize` over TLS from a tonic client that trusts the
//! test's CA, a plaintext client refused, client certificates required under mTLS, a handshake that
//! never ends cut by the timeout, the certificate replaced on SIGHUP (and a bad one refused) while the
//! real binary keeps serving, and a bad file refused at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hourglass_e2e::{BinaryServer, InProcessServer, free_port, fresh_business_id, hourglass_binary};
use hourglass_proto::v1 as pb;
use hourglass_proto::v1::policy_service_client::PolicyServiceClient;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SerialNumber};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tonic::transport::{Channel, Endpoint};

/// The name the server's certificates are for, and that clients ask for.
const SERVER_NAME: &str = "localhost";

/// A certificate authority of the test.
struct Ca(CertifiedIssuer<'static, KeyPair>);

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().expect("a CA key");
        Ca(CertifiedIssuer::self_signed(params, key).expect("a CA certificate"))
    }

    fn pem(&self) -> String {
        self.0.pem()
    }

    /// Issues a certificate for `names` with `serial`.
    fn issue(&self, names: &[&str], serial: u64) -> Leaf {
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = CertificateParams::new(names).expect("leaf parameters");
        params.serial_number = Some(SerialNumber::from(serial));
        params
            .distinguished_name
            .push(DnType::CommonName, "hourglass test");
        let key = KeyPair::generate().expect("a leaf key");
        let cert = params.signed_by(&key, &*self.0).expect("a leaf certificate");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }
}

/// A certificate and its key.
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

impl Leaf {
    /// Writes the certificate and key as `NAME.crt` and `NAME.key` in `dir`.
    fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, &self.cert_pem).expect("write the certificate");
        std::fs::write(&key, &self.key_pem).expect("write the key");
        (cert, key)
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a file");
    path
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

/// A client's TLS configuration: the CAs it trusts, the certificate it shows (if any), ALPN h2.
fn client_config(trusted_pem: &str, identity: Option<&Leaf>) -> Arc<ClientConfig> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(trusted_pem.as_bytes()) {
        roots
            .add(certificate.expect("a PEM certificate"))
            .expect("a root");
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots);
    let mut config = match identity {
        Some(leaf) => {
            let key = PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).expect("a PEM key");
            builder
                .with_client_auth_cert(vec![leaf.der.clone()], key)
                .expect("a client certificate")
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// Opens a TLS connection to `addr` for `SERVER_NAME`.
async fn tls_connect(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(SERVER_NAME).expect("a server name");
    TlsConnector::from(config).connect(name, tcp).await
}

/// A tonic channel whose connections are TLS with `config`.
async fn tls_channel(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> Result<Channel, tonic::transport::Error> {
    let connector = tower::service_fn(move |_: http::Uri| {
        let config = Arc::clone(&config);
        async move { tls_connect(addr, config).await.map(TokioIo::new) }
    });
    Endpoint::from_static("http://localhost")
        .connect_timeout(Duration::from_secs(5))
        .connect_with_connector(connector)
        .await
}

fn authorize_request() -> pb::AuthorizeRequest {
    pb::AuthorizeRequest {
        business_id: fresh_business_id(),
        customer_id: "+919800000001".to_owned(),
        message: Some(pb::OutboundMessage {
            kind: Some(pb::outbound_message::Kind::FreeForm(pb::FreeForm {})),
        }),
        at: None,
    }
}

/// Calls `Authorize` over a new channel; the error says where it failed. Bounded, so that a server
/// that never answers fails the test instead of hanging it.
async fn authorize_over(
    channel: Result<Channel, tonic::transport::Error>,
) -> Result<pb::AuthorizeResponse, String> {
    let call = async {
        let channel = channel.map_err(|error| format!("connect: {error:?}"))?;
        PolicyServiceClient::new(channel)
            .authorize(authorize_request())
            .await
            .map(tonic::Response::into_inner)
            .map_err(|error| format!("authorize: {error:?}"))
    };
    tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .unwrap_or_else(|_| Err("no answer within 10 s".to_owned()))
}

/// Calls `Authorize` over TLS with `config`, retrying while the server starts, until `within`.
async fn authorize_when_up(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    within: Duration,
) -> pb::AuthorizeResponse {
    let started = Instant::now();
    loop {
        match authorize_over(tls_channel(addr, Arc::clone(config)).await).await {
            Ok(response) => return response,
            Err(error) if started.elapsed() > within => {
                panic!("no TLS answer from {addr} within {within:?}: {error}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Returns the certificate the server presents to a new connection, and checks that it chose h2.
async fn served_certificate(addr: SocketAddr, config: Arc<ClientConfig>) -> CertificateDer<'static> {
    let stream = tls_connect(addr, config).await.expect("a TLS handshake");
    let (_, connection) = stream.get_ref();
    assert_eq!(connection.alpn_protocol(), Some(&b"h2"[..]), "ALPN chose h2");
    connection
        .peer_certificates()
        .and_then(|chain| chain.first())
        .expect("the server presents a certificate")
        .clone()
        .into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_authorize_over_tls_and_refuses_plaintext() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ca = Ca::new("hourglass test CA");
    let server_leaf = ca.issue(&[SERVER_NAME], 1);
    let (cert, key) = server_leaf.write(dir.path(), "server");
    let server = InProcessServer::start(&[
        "--store",
        "memory:",
        "--tls-cert",
        path(&cert),
        "--tls-key",
        path(&key),
    ])
    .await;
    let config = client_config(&ca.pem(), None);

    let response = authorize_when_up(server.addr, &config, Duration::from_secs(10)).await;
    assert!(
        response.decision.is_some(),
        "Authorize answers a decision over TLS: {response:?}"
    );
    assert_eq!(
        served_certificate(server.addr, Arc::clone(&config)).await,
        server_leaf.der
    );

    // A client that does not trust the server's CA refuses it.
    let stranger = Ca::new("another CA");
    let untrusted =
        authorize_over(tls_channel(server.addr, client_config(&stranger.pem(), None)).await).await;
    assert!(
        untrusted.is_err(),
        "a client that trusts another CA gets through: {untrusted:?}"
    );

    // A plaintext (h2c) client gets no answer: its preface is no TLS handshake.
    let plaintext = authorize_over(
        Channel::from_shared(format!("http://{}", server.addr))
            .expect("a URI")
            .connect()
            .await,
    )
    .await;
    assert!(
        plaintext.is_err(),
        "a plaintext client is answered: {plaintext:?}"
    );

    // The server served on after the failed handshakes.
    authorize_when_up(server.addr, &config, Duration::from_secs(1)).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_requires_a_client_certificate_from_the_ca() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server_ca = Ca::new("hourglass server CA");
    let client_ca = Ca::new("hourglass client CA");
    let (cert, key) = server_ca.issue(&[SERVER_NAME], 1).write(dir.path(), "server");
    let client_ca_path = write(dir.path(), "clients.pem", &client_ca.pem());
    let server = InProcessServer::start(&[
        "--store",
        "memory:",
        "--tls-cert",
        path(&cert),
        "--tls-key",
        path(&key),
        "--tls-client-ca",
        path(&client_ca_path),
    ])
    .await;

    let gateway = client_ca.issue(&["gateway.test"], 7);
    let with_certificate = client_config(&server_ca.pem(), Some(&gateway));
    let response = authorize_when_up(server.addr, &with_certificate, Duration::from_secs(10)).await;
    assert!(response.decision.is_some(), "{response:?}");

    let without = authorize_over(tls_channel(server.addr, client_config(&server_ca.pem(), None)).await).await;
    assert!(
        without.is_err(),
        "a client without a certificate is answered: {without:?}"
    );

    // A certificate from another CA (here the server's own) is refused too.
    let impostor = server_ca.issue(&["gateway.test"], 8);
    let wrong_ca =
        authorize_over(tls_channel(server.addr, client_config(&server_ca.pem(), Some(&impostor))).await)
            .await;
    assert!(
        wrong_ca.is_err(),
        "a client certificate of another CA is accepted: {wrong_ca:?}"
    );

    authorize_when_up(server.addr, &with_certificate, Duration::from_secs(1)).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_that_never_ends_is_cut_by_the_timeout() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ca = Ca::new("hourglass test CA");
    let (cert, key) = ca.issue(&[SERVER_NAME], 1).write(dir.path(), "server");
    // An idle timeout far above the handshake timeout: only the handshake timeout can close it.
    let server = InProcessServer::start(&[
        "--store",
        "memory:",
        "--tls-cert",
        path(&cert),
        "--tls-key",
        path(&key),
        "--tls-handshake-timeout",
        "1",
        "--idle-timeout",
        "600",
    ])
    .await;
    let config = client_config(&ca.pem(), None);
    authorize_when_up(server.addr, &config, Duration::from_secs(10)).await;

    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    let started = Instant::now();
    // Meanwhile other clients are served: the silent handshake holds no accept.
    authorize_when_up(server.addr, &config, Duration::from_secs(1)).await;
    let mut buffer = [0_u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buffer))
        .await
        .expect("the server closes a connection whose handshake does not come within 5 s");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the server sent {read:?} to a silent client"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed after {waited:?}, before the timeout"
    );
    server.stop().await;
}

/// Sends SIGHUP to the server.
fn hang_up(server: &BinaryServer) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -HUP failed");
}

/// Returns the value of the `hourglass_tls_reloads_total` sample of `outcome` on `metrics_addr`.
async fn tls_reloads(metrics_addr: SocketAddr, outcome: &str) -> Option<f64> {
    let mut stream = TcpStream::connect(metrics_addr).await.ok()?;
    let request = format!("GET /metrics HTTP/1.1\r\nhost: {metrics_addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    let series = format!("hourglass_tls_reloads_total{{outcome=\"{outcome}\"}} ");
    response
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_puts_a_new_certificate_in_force_and_keeps_the_old_on_a_bad_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ca = Ca::new("hourglass test CA");
    let first = ca.issue(&[SERVER_NAME], 1);
    let (cert, key) = first.write(dir.path(), "server");
    let metrics_addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let metrics_listen = metrics_addr.to_string();
    let mut server = BinaryServer::spawn(
        "memory:",
        &[
            "--tls-cert",
            path(&cert),
            "--tls-key",
            path(&key),
            "--metrics-listen",
            &metrics_listen,
        ],
    );
    let config = client_config(&ca.pem(), None);
    authorize_when_up(server.addr, &config, Duration::from_secs(20)).await;
    assert_eq!(
        served_certificate(server.addr, Arc::clone(&config)).await,
        first.der
    );
    // A connection opened before the reload.
    let before = tls_channel(server.addr, Arc::clone(&config))
        .await
        .expect("connect over TLS");

    // A new certificate, another serial and another name, written in place of the first.
    let second = ca.issue(&[SERVER_NAME, "hourglass.test"], 2);
    assert_ne!(first.der, second.der);
    second.write(dir.path(), "server");
    hang_up(&server);
    let started = Instant::now();
    while served_certificate(server.addr, Arc::clone(&config)).await != second.der {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "new connections still see the first certificate 10 s after SIGHUP"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(server.is_running(), "the server stopped on SIGHUP");
    authorize_when_up(server.addr, &config, Duration::from_secs(1)).await;
    authorize_over(Ok(before))
        .await
        .expect("a connection of the first certificate is still served");
    assert_eq!(tls_reloads(metrics_addr, "ok").await, Some(1.0));

    // A bad certificate file: the reload fails, is logged, and the second certificate stays.
    write(dir.path(), "server.crt", "not a certificate\n");
    hang_up(&server);
    let started = Instant::now();
    while tls_reloads(metrics_addr, "failed").await != Some(1.0) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the failed reload was not counted within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        served_certificate(server.addr, Arc::clone(&config)).await,
        second.der
    );
    authorize_when_up(server.addr, &config, Duration::from_secs(1)).await;
    assert!(server.is_running(), "the server stopped on a bad certificate");
    let log = server.log();
    assert!(
        log.contains("TLS certificate not reloaded") && log.contains("--tls-cert"),
        "the failed reload is not logged with its reason:\n{log}"
    );
}

/// Runs the binary with `args` until it exits, and returns its exit code and standard error.
fn run_binary(args: &[&str]) -> (Option<i32>, String) {
    let listen = SocketAddr::from(([127, 0, 0, 1], free_port())).to_string();
    let output = std::process::Command::new(hourglass_binary())
        .args(["--listen", &listen, "--store", "memory:"])
        .args(args)
        .env("HOURGLASS_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the hourglass binary");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_bad_file_or_a_missing_flag_stops_the_start_naming_the_flag() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ca = Ca::new("hourglass test CA");
    let (cert, key) = ca.issue(&[SERVER_NAME], 1).write(dir.path(), "server");
    let (other_cert, _) = ca.issue(&[SERVER_NAME], 2).write(dir.path(), "other");
    let garbage = write(dir.path(), "garbage.pem", "not a certificate\n");
    let missing = dir.path().join("missing.pem");
    for (args, flag, reason) in [
        (
            vec!["--tls-cert", path(&garbage), "--tls-key", path(&key)],
            "--tls-cert",
            "no PEM certificate",
        ),
        (
            vec!["--tls-cert", path(&missing), "--tls-key", path(&key)],
            "--tls-cert",
            "cannot read",
        ),
        (
            vec!["--tls-cert", path(&cert), "--tls-key", path(&garbage)],
            "--tls-key",
            "no PEM private key",
        ),
        (
            vec!["--tls-cert", path(&other_cert), "--tls-key", path(&key)],
            "--tls-key",
            "is not the key of",
        ),
        (
            vec![
                "--tls-cert",
                path(&cert),
                "--tls-key",
                path(&key),
                "--tls-client-ca",
                path(&garbage),
            ],
            "--tls-client-ca",
            "no PEM certificate",
        ),
        (vec!["--tls-cert", path(&cert)], "--tls-key", ""),
        (vec!["--tls-key", path(&key)], "--tls-cert", ""),
    ] {
        let (code, stderr) = run_binary(&args);
        assert!(
            matches!(code, Some(code) if code != 0),
            "{args:?} exited {code:?}: {stderr}"
        );
        assert!(
            stderr.contains(flag) && stderr.contains(reason),
            "{args:?}: {stderr:?} does not name {flag} ({reason})"
        );
    }
}
