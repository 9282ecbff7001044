//! The HTTP/2 edge: what tonic leaves to the server around the handlers.
//!
//! - [`Incoming`] accepts connections, backs off and logs when `accept` fails (a full descriptor
//!   table fails every call at once), terminates TLS when the server has a certificate (each handshake
//!   on a task of its own, bounded by a timeout, with the TLS configuration in force when it starts),
//!   and wraps each connection in an [`IdleIo`] that closes it once it has carried no request for the
//!   idle timeout.
//! - [`EdgeLayer`] answers what the gRPC protocol asks of a server before a handler runs: a wrong
//!   content-type gets HTTP 415, a request past its deadline (the client's `grpc-timeout` or the
//!   server's request timeout) gets `DEADLINE_EXCEEDED`, and a message over the size limit gets
//!   `RESOURCE_EXHAUSTED`.
//!
//! The HTTP/2 limits themselves (concurrent streams, header list size, pending resets, keepalive) are
//! tonic's and hyper's settings; `lib.rs` applies them from `ConnectionConfig`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::Stream;
use tonic::body::Body;
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};
use tonic::{Code, Status};

use crate::tls::SharedTls;

#[cfg(test)]
mod tests;

/// The first pause after a failed `accept`; each further failure doubles it.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
/// The longest pause between two `accept` calls that fail.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How much earlier than the client's `grpc-timeout` the server answers `DEADLINE_EXCEEDED`.
///
/// tonic's own timer for that header answers `CANCELLED`; ours fires first (at the latest in the same
/// millisecond tick, where tonic polls the handler's future, ours, before its own timer).
const CLIENT_DEADLINE_MARGIN: Duration = Duration::from_millis(1);
/// The most characters of a client's header value that an answer repeats.
const MAX_ECHO_CHARS: usize = 64;

/// The connections a server accepts: a `TcpIncoming` whose failures are paced and logged, over TLS
/// when the server has a certificate, each connection closed once idle.
pub(crate) struct Incoming {
    tcp: TcpIncoming,
    idle_timeout: Duration,
    backoff: Option<Duration>,
    n_failures: u64,
    pause: Option<Pin<Box<Sleep>>>,
    tls: Option<TlsAccept>,
    /// TLS handshakes under way, each on a task of its own so that a slow one delays no other accept.
    handshakes: JoinSet<Option<Conn>>,
}

/// How `Incoming` terminates TLS: the configuration in force and how long a handshake may take.
#[derive(Clone, Debug)]
pub(crate) struct TlsAccept {
    pub config: SharedTls,
    pub handshake_timeout: Duration,
}

impl Incoming {
    pub fn new(listener: TcpListener, idle_timeout: Duration, tcp_keepalive: Duration) -> Incoming {
        Incoming {
            tcp: TcpIncoming::from(listener)
                .with_nodelay(Some(true))
                .with_keepalive(Some(tcp_keepalive)),
            idle_timeout,
            backoff: None,
            n_failures: 0,
            pause: None,
            tls: None,
            handshakes: JoinSet::new(),
        }
    }

    /// Terminates TLS on every connection accepted from now on.
    pub fn with_tls(mut self, tls: TlsAccept) -> Incoming {
        self.tls = Some(tls);
        self
    }
}

/// Runs the TLS handshake of one connection, within the timeout; `None` when it failed, which is the
/// client's doing and is logged at debug level.
async fn handshake(stream: TcpStream, tls: TlsAccept) -> Option<Conn> {
    let peer = stream.peer_addr().ok();
    let acceptor = TlsAcceptor::from(tls.config.current());
    match tokio::time::timeout(tls.handshake_timeout, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => Some(Conn::Tls(Box::new(stream))),
        Ok(Err(error)) => {
            tracing::debug!(%error, ?peer, "TLS handshake failed");
            None
        }
        Err(_elapsed) => {
            tracing::debug!(
                ?peer,
                timeout_ms = tls.handshake_timeout.as_millis(),
                "TLS handshake timed out"
            );
            None
        }
    }
}

impl Stream for Incoming {
    type Item = io::Result<IdleIo<Conn>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            // Handshakes that ended: a connection to serve, or one that failed and is already closed.
            while let Poll::Ready(Some(ended)) = this.handshakes.poll_join_next(cx) {
                match ended {
                    Ok(Some(conn)) => return Poll::Ready(Some(Ok(IdleIo::new(conn, this.idle_timeout)))),
                    Ok(None) => {}
                    Err(error) => tracing::warn!(%error, "a TLS handshake task failed"),
                }
            }
            if let Some(pause) = this.pause.as_mut() {
                std::task::ready!(pause.as_mut().poll(cx));
                this.pause = None;
            }
            match std::task::ready!(Pin::new(&mut this.tcp).poll_next(cx)) {
                None => return Poll::Ready(None),
                Some(Ok(stream)) => {
                    if this.backoff.take().is_some() {
                        tracing::info!(n_failures = this.n_failures, "accepting connections again");
                        this.n_failures = 0;
                    }
                    match &this.tls {
                        None => {
                            return Poll::Ready(Some(Ok(IdleIo::new(
                                Conn::Plain(stream),
                                this.idle_timeout,
                            ))));
                        }
                        // Polled at the top of the loop, so that the set's waker is registered.
                        Some(tls) => {
                            this.handshakes.spawn(handshake(stream, tls.clone()));
                        }
                    }
                }
                // The peer gave up before the server took its connection: nothing to wait for.
                Some(Err(error)) if is_connection_error(&error) => {
                    tracing::debug!(%error, "a connection closed before it was accepted");
                }
                Some(Err(error)) => {
                    // Without a pause, a full descriptor table (EMFILE) fails every call at once and
                    // the loop spins a whole core.
                    let backoff = this.backoff.map_or(ACCEPT_BACKOFF_MIN, |backoff| {
                        (backoff * 2).min(ACCEPT_BACKOFF_MAX)
                    });
                    this.backoff = Some(backoff);
                    this.n_failures += 1;
                    tracing::warn!(
                        %error,
                        n_failures = this.n_failures,
                        retry_in_ms = backoff.as_millis(),
                        "cannot accept a connection"
                    );
                    this.pause = Some(Box::pin(tokio::time::sleep(backoff)));
                }
            }
        }
    }
}

/// An accepted connection: plain TCP (h2c), or TLS over TCP.
#[derive(Debug)]
pub(crate) enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(stream) => stream,
            Conn::Tls(stream) => stream.get_ref().0,
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Conn::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Conn::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Conn::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Conn::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Conn::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(stream) => stream.is_write_vectored(),
            Conn::Tls(stream) => stream.is_write_vectored(),
        }
    }
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.tcp().connect_info()
    }
}

/// Returns whether an `accept` error concerns one connection only, not the listener.
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// What a connection is doing: how many requests are in flight on it, and since when it has none.
#[derive(Clone, Debug)]
pub(crate) struct Activity(Arc<Mutex<ActivityState>>);

#[derive(Debug)]
struct ActivityState {
    n_active: usize,
    idle_since: Instant,
}

impl Activity {
    fn new() -> Activity {
        Activity(Arc::new(Mutex::new(ActivityState {
            n_active: 0,
            idle_since: Instant::now(),
        })))
    }

    /// Counts a request as in flight until the returned guard is dropped.
    fn start(&self) -> ActiveRequest {
        self.lock().n_active += 1;
        ActiveRequest(self.clone())
    }

    /// Returns since when the connection has had no request in flight, or `None` while it has one.
    fn idle_since(&self) -> Option<Instant> {
        let state = self.lock();
        (state.n_active == 0).then_some(state.idle_since)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        // The state is two plain fields, each written in one statement: a panic cannot leave it torn.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A request in flight on a connection; dropping it ends the request.
#[derive(Debug)]
struct ActiveRequest(Activity);

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.n_active -= 1;
        if state.n_active == 0 {
            state.idle_since = Instant::now();
        }
    }
}

/// What each request learns of its connection: tonic's TCP addresses and the connection's activity.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionInfo {
    /// tonic's `Request::remote_addr` looks for a `TcpConnectInfo` of its own, which this type
    /// replaces: a handler that needs the peer reads it here.
    #[expect(dead_code, reason = "no handler needs the peer address yet")]
    pub tcp: TcpConnectInfo,
    activity: Activity,
}

/// A connection that fails its reads, and so is closed, once it has carried no request for the idle
/// timeout: from its accept, or from the end of its last request.
///
/// Bytes alone do not count as activity, so a peer that only answers pings, or that never sends a
/// whole request, is still closed (as gRPC's `MAX_CONNECTION_IDLE` does).
pub(crate) struct IdleIo<T> {
    inner: T,
    activity: Activity,
    idle_timeout: Duration,
    check: Pin<Box<Sleep>>,
}

impl<T> IdleIo<T> {
    fn new(inner: T, idle_timeout: Duration) -> IdleIo<T> {
        IdleIo {
            inner,
            activity: Activity::new(),
            idle_timeout,
            check: Box::pin(tokio::time::sleep(idle_timeout)),
        }
    }

    /// Returns whether the idle timeout has passed; otherwise arms the timer for the next check.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.check.as_mut().poll(cx).is_pending() {
                return false;
            }
            let next_check = match self.activity.idle_since() {
                Some(since) if since.elapsed() >= self.idle_timeout => return true,
                Some(since) => since + self.idle_timeout,
                None => Instant::now() + self.idle_timeout,
            };
            self.check.as_mut().reset(next_check);
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleIo<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => Poll::Ready(result),
            // hyper always keeps a read pending on a live connection, so the timer is polled here.
            Poll::Pending if this.poll_idle(cx) => {
                tracing::debug!(
                    idle_timeout_s = this.idle_timeout.as_secs(),
                    "closing an idle connection"
                );
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "connection idle")))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleIo<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl<T: Connected<ConnectInfo = TcpConnectInfo>> Connected for IdleIo<T> {
    type ConnectInfo = ConnectionInfo;

    fn connect_info(&self) -> ConnectionInfo {
        ConnectionInfo {
            tcp: self.inner.connect_info(),
            activity: self.activity.clone(),
        }
    }
}

/// Applies [`Edge`] to every request, whatever its service.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EdgeLayer {
    pub request_timeout: Duration,
}

impl<S> tower::Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            request_timeout: self.request_timeout,
        }
    }
}

/// The gRPC rules that hold for every request: content-type, deadline, message size, and the count of
/// requests in flight that keeps a connection from being idle.
#[derive(Clone, Debug)]
pub(crate) struct Edge<S> {
    inner: S,
    request_timeout: Duration,
}

impl<S> tower::Service<http::Request<Body>> for Edge<S>
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
        if let Some(content_type) = unsupported_content_type(request.headers()) {
            return Box::pin(std::future::ready(Ok(unsupported_media_type(&content_type))));
        }
        let active = request
            .extensions()
            .get::<ConnectionInfo>()
            .map(|info| info.activity.start());
        let deadline = deadline(request.headers(), self.request_timeout);
        // The service that was polled ready handles this request; its clone waits for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let response = match tokio::time::timeout(deadline.timeout, inner.call(request)).await {
                Ok(response) => response?,
                Err(_elapsed) => {
                    let message = match deadline.source {
                        DeadlineSource::Client => "the deadline of the request (grpc-timeout) passed",
                        DeadlineSource::Server => "the request took longer than the server's request timeout",
                    };
                    Status::deadline_exceeded(message).into_http()
                }
            };
            // A streaming answer (health's `Watch`) keeps its connection busy until its body ends.
            let response = resource_exhausted_for_oversized(response);
            Ok(response.map(|body| {
                Body::new(TrackedBody {
                    inner: body,
                    _active: active,
                })
            }))
        })
    }
}

/// A response body that counts its request as in flight until it ends or is dropped.
struct TrackedBody {
    inner: Body,
    _active: Option<ActiveRequest>,
}

impl http_body::Body for TrackedBody {
    type Data = tonic::codegen::Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<tonic::codegen::Bytes>, Status>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// When a request must be answered, and who set that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Deadline {
    timeout: Duration,
    source: DeadlineSource,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DeadlineSource {
    Client,
    Server,
}

/// Returns the shorter of the client's `grpc-timeout` (less a margin, so that ours fires before
/// tonic's) and the server's request timeout.
fn deadline(headers: &HeaderMap, request_timeout: Duration) -> Deadline {
    let server = Deadline {
        timeout: request_timeout,
        source: DeadlineSource::Server,
    };
    match headers.get("grpc-timeout").and_then(parse_grpc_timeout) {
        Some(client) if client.saturating_sub(CLIENT_DEADLINE_MARGIN) < request_timeout => Deadline {
            timeout: client.saturating_sub(CLIENT_DEADLINE_MARGIN),
            source: DeadlineSource::Client,
        },
        _ => server,
    }
}

/// Parses a `grpc-timeout` header: at most 8 digits and a unit, `H`, `M`, `S`, `m`, `u` or `n`.
fn parse_grpc_timeout(value: &HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?;
    let (digits, unit) = text.split_at_checked(text.len().checked_sub(1)?)?;
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let amount: u64 = digits.parse().ok()?;
    match unit {
        "H" => Some(Duration::from_secs(amount * 3_600)),
        "M" => Some(Duration::from_secs(amount * 60)),
        "S" => Some(Duration::from_secs(amount)),
        "m" => Some(Duration::from_millis(amount)),
        "u" => Some(Duration::from_micros(amount)),
        "n" => Some(Duration::from_nanos(amount)),
        _ => None,
    }
}

/// Returns the content-type of a request that is not gRPC (`application/grpc`, optionally
/// `+subtype` or `;parameters`); `None` for a gRPC request.
fn unsupported_content_type(headers: &HeaderMap) -> Option<String> {
    let Some(value) = headers.get(http::header::CONTENT_TYPE) else {
        return Some(String::new());
    };
    let bytes = value.as_bytes();
    let is_grpc = bytes
        .strip_prefix(b"application/grpc")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(b"+") || rest.starts_with(b";"));
    (!is_grpc).then(|| String::from_utf8_lossy(bytes).into_owned())
}

/// Answers a request that is not gRPC as the gRPC protocol asks: HTTP 415 Unsupported Media Type, with
/// a gRPC status for clients that read it (as grpc-go does).
fn unsupported_media_type(content_type: &str) -> http::Response<Body> {
    let message = if content_type.is_empty() {
        "missing content-type: gRPC requests are application/grpc".to_owned()
    } else {
        // The value is the client's: repeat only its start, as `hourglass_core`'s field messages do.
        let start: String = content_type.chars().take(MAX_ECHO_CHARS).collect();
        format!("unsupported content-type {start:?}: gRPC requests are application/grpc")
    };
    let mut response = Status::internal(message).into_http::<Body>();
    *response.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
    response
}

/// Turns tonic's `OUT_OF_RANGE` for a request message over the size limit into `RESOURCE_EXHAUSTED`,
/// the code the gRPC spec gives it; every other response passes unchanged.
///
/// No handler answers `OUT_OF_RANGE` (see `error::to_status`), so tonic's decoder is its only source.
fn resource_exhausted_for_oversized(response: http::Response<Body>) -> http::Response<Body> {
    match response.extensions().get::<Status>() {
        Some(status) if status.code() == Code::OutOfRange && status.message().contains("too large") => {
            Status::resource_exhausted(status.message()).into_http()
        }
        _ => response,
    }
}
