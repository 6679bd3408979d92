//! The server handle and its builder.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::conn::{Config, Handler, Shared, accept_loop};
use crate::reply::Reply;
use crate::request::RecordedRequest;
use crate::tls::Leaf;

/// How often the `wait_for_*` methods poll.
const POLL_INTERVAL: Duration = Duration::from_millis(2);

/// A loopback HTTP server (by default plain HTTP/1.1 on `127.0.0.1`) with a
/// scripted handler.
///
/// See the [`Builder`] for HTTPS ([`Builder::tls`], [`Builder::tls_h2`],
/// [`Builder::tls_config`]), HTTP/2 ([`Builder::h2c`]) and other loopback
/// addresses ([`Builder::bind_ip`]).
///
/// The server runs on the tokio runtime it was started on. Dropping it stops
/// accepting and aborts every connection task, closing their sockets. If a
/// handler panicked and the panic was not already reported by
/// [`assert_no_panics`](TestServer::assert_no_panics), dropping the server
/// panics (unless the thread is already panicking), so the test fails.
pub struct TestServer {
    addr: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .field("connections_accepted", &self.connections_accepted())
            .field("connections_closed", &self.connections_closed())
            .field("request_count", &self.request_count())
            .finish()
    }
}

impl TestServer {
    /// Starts a server with default settings and this handler.
    ///
    /// # Panics
    ///
    /// Panics if the listener cannot be bound, or when called outside a tokio
    /// runtime.
    pub async fn start<F>(handler: F) -> TestServer
    where
        F: Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    {
        match Builder::default().handler(handler).start().await {
            Ok(server) => server,
            Err(error) => panic!("towline-test: failed to bind 127.0.0.1:0: {error}"),
        }
    }

    /// A builder for a server with non-default settings.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (`https://` for a TLS server, and the bound
    /// address if it is not `127.0.0.1`) followed by `path`, which should
    /// start with `/` (one is inserted if it does not).
    pub fn url(&self, path: &str) -> String {
        self.url_for_host(&self.addr.ip().to_string(), path)
    }

    /// Like [`url`](Self::url), but with `host` as the host part, e.g.
    /// `server.url_for_host("localhost", "/x")` is
    /// `https://localhost:PORT/x` for a TLS server. Useful for SNI and
    /// name-mismatch tests; the host should resolve to the bound address.
    /// An IPv6 address is put in brackets if it is not already.
    pub fn url_for_host(&self, host: &str, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        let port = self.addr.port();
        let slash = if path.starts_with('/') { "" } else { "/" };
        if host.contains(':') && !host.starts_with('[') {
            format!("{scheme}://[{host}]:{port}{slash}{path}")
        } else {
            format!("{scheme}://{host}:{port}{slash}{path}")
        }
    }

    /// Whether the server speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The client's address (its IP and ephemeral port) of connection `id`, the id
    /// that [`RecordedRequest::connection`] gives; `None` for an id not accepted yet.
    ///
    /// A client can compare it with the local address of its own socket to tell which
    /// of its connections carried a request.
    pub fn peer_addr(&self, connection: usize) -> Option<SocketAddr> {
        self.shared.peer(connection)
    }

    /// Number of connections accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Number of connections that have ended, whoever closed them.
    ///
    /// When the server decides to close a connection, it is counted before
    /// the last response is written, so a client that has read that response
    /// already sees it counted.
    pub fn connections_closed(&self) -> usize {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Number of connections that ended because the client closed them (the
    /// server read EOF or a reset), not because the server closed them.
    ///
    /// This includes clients that went away in the middle of a request, and
    /// every HTTP/2 connection (the server never closes those on its own).
    /// It does not include failed TLS handshakes.
    pub fn connections_closed_by_client(&self) -> usize {
        self.shared.closed_by_client.load(Ordering::SeqCst)
    }

    /// Every complete request received, in arrival order.
    ///
    /// A request is recorded after the handler returns and before the reply
    /// is written.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// Number of complete requests received.
    pub fn request_count(&self) -> usize {
        self.shared.request_count()
    }

    /// The requests received over HTTP/2 (those of
    /// [`requests`](Self::requests) whose
    /// [`version`](RecordedRequest::version) is 20), in arrival order.
    pub fn h2_requests(&self) -> Vec<RecordedRequest> {
        let mut requests = self.shared.requests();
        requests.retain(|r| r.version == 20);
        requests
    }

    /// Number of connections whose TLS handshake failed or timed out (after
    /// 10 s): the client refused the server's certificate, sent no
    /// certificate when one was required, spoke no TLS, or offered no common
    /// ALPN protocol.
    ///
    /// Such connections also count in
    /// [`connections_accepted`](Self::connections_accepted) and, once the
    /// failure is counted, in [`connections_closed`](Self::connections_closed).
    pub fn tls_handshake_failures(&self) -> usize {
        self.shared.tls_failures.load(Ordering::SeqCst)
    }

    /// Requests whose head arrived but whose body did not complete before the
    /// connection ended, plus malformed requests (answered with 400).
    ///
    /// A connection that ends in the middle of a request head counts as a
    /// client close, not as an incomplete request.
    pub fn incomplete_requests(&self) -> usize {
        self.shared.incomplete.load(Ordering::SeqCst)
    }

    /// Waits, polling every few milliseconds, until
    /// [`connections_closed`](Self::connections_closed) is at least `n` or
    /// `timeout` passes. Returns whether `n` was reached.
    pub async fn wait_for_closed(&self, n: usize, timeout: Duration) -> bool {
        wait_until(timeout, || self.connections_closed() >= n).await
    }

    /// Waits, polling every few milliseconds, until
    /// [`request_count`](Self::request_count) is at least `n` or `timeout`
    /// passes. Returns whether `n` was reached.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        wait_until(timeout, || self.request_count() >= n).await
    }

    /// Panics with the handler's panic message if any handler has panicked.
    ///
    /// Reported panics are forgotten, so dropping the server afterwards does
    /// not panic again for them.
    pub fn assert_no_panics(&self) {
        let panics = self.shared.take_panics();
        if let Some(first) = panics.first() {
            if panics.len() > 1 {
                panic!(
                    "towline-test: a handler panicked: {first} (and {} more handler panics)",
                    panics.len() - 1
                );
            }
            panic!("towline-test: a handler panicked: {first}");
        }
    }
}

async fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Dropping the accept future drops the listener and the JoinSet, which
        // aborts every connection task and so closes their sockets.
        self.accept_task.abort();
        if !std::thread::panicking() {
            self.assert_no_panics();
        }
    }
}

/// Which protocols the server speaks.
#[derive(Clone, Debug)]
enum Mode {
    /// Plain-text HTTP/1.1.
    Plain,
    /// Plain-text HTTP/2 with prior knowledge.
    H2c,
    /// TLS with this configuration; HTTP/2 when ALPN picks `h2`.
    Tls(Arc<rustls::ServerConfig>),
}

/// Settings for a [`TestServer`]; create with [`TestServer::builder`].
///
/// # HTTP/2
///
/// Over HTTP/2 ([`tls_h2`](Self::tls_h2), [`tls_config`](Self::tls_config)
/// with ALPN `h2`, or [`h2c`](Self::h2c)) each connection is served by
/// hyper's HTTP/2 server. Each request's body is collected fully before the
/// handler is called, and the [`Reply`] is sent with its status, headers
/// (except the connection-specific `connection`, `keep-alive`,
/// `transfer-encoding`, `proxy-connection` and `upgrade`, and any that are
/// invalid in HTTP/2) and body; its chunked or close-delimited framing and
/// [`Reply::close`] do not apply. A handler panic is recorded as over
/// HTTP/1.1 and the stream is answered with `500`. Of the
/// [`Fault`](crate::Fault)s, only these apply:
///
/// - [`SlowHeaders`](crate::Fault::SlowHeaders) delays the response;
/// - [`CloseWithoutAnswer`](crate::Fault::CloseWithoutAnswer) and
///   [`ResetWithoutAnswer`](crate::Fault::ResetWithoutAnswer) reset the
///   stream (`RST_STREAM` with `INTERNAL_ERROR`) instead of answering; the
///   connection stays open.
///
/// The others are ignored (the reply is sent normally). The
/// [`close_after`](Self::close_after), [`idle_close`](Self::idle_close) and
/// [`close_reused_without_answer`](Self::close_reused_without_answer)
/// settings apply to HTTP/1.1 connections only.
pub struct Builder {
    handler: Handler,
    close_after: Option<usize>,
    idle_close: Option<Duration>,
    close_reused_without_answer: bool,
    answer_before_body: bool,
    ignore_connection_close: bool,
    mode: Mode,
    ip: IpAddr,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("handler", &format_args!("<handler>"))
            .field("close_after", &self.close_after)
            .field("idle_close", &self.idle_close)
            .field(
                "close_reused_without_answer",
                &self.close_reused_without_answer,
            )
            .field("answer_before_body", &self.answer_before_body)
            .field("ignore_connection_close", &self.ignore_connection_close)
            .field("mode", &self.mode)
            .field("ip", &self.ip)
            .finish()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            handler: Arc::new(|_: &RecordedRequest| Reply::text("ok")),
            close_after: None,
            idle_close: None,
            close_reused_without_answer: false,
            answer_before_body: false,
            ignore_connection_close: false,
            mode: Mode::Plain,
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }
}

impl Builder {
    /// The function that answers every request.
    ///
    /// A panic in the handler is caught: the connection is closed without an
    /// answer and the panic is reported by
    /// [`TestServer::assert_no_panics`] and when the server is dropped.
    ///
    /// Default is a handler answering `200 OK` with body `ok`
    /// (`Content-Type: text/plain`).
    pub fn handler<F>(mut self, f: F) -> Self
    where
        F: Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    {
        self.handler = Arc::new(f);
        self
    }

    /// The server closes each connection after answering `n` requests,
    /// sending `Connection: close` on the `n`th response. An `n` of zero is
    /// treated as one.
    ///
    /// Default is never.
    pub fn close_after(mut self, n: usize) -> Self {
        self.close_after = Some(n);
        self
    }

    /// The server closes a connection that stays idle (no byte of a new
    /// request received) for this long, including right after accept.
    ///
    /// Default is never.
    pub fn idle_close(mut self, d: Duration) -> Self {
        self.idle_close = Some(d);
        self
    }

    /// When a second or later request arrives on a connection, the server
    /// reads it, records it with [`RecordedRequest::answered`] set to
    /// `false`, and closes the socket without calling the handler or
    /// answering. This simulates a server that closed a keep-alive connection
    /// just as the client reused it.
    ///
    /// Default is `false`.
    pub fn close_reused_without_answer(mut self, on: bool) -> Self {
        self.close_reused_without_answer = on;
        self
    }

    /// When a request head announces a body (a non-zero `Content-Length`, or
    /// a `Transfer-Encoding`), the server calls the handler as soon as the
    /// head has arrived, without reading the body, writes the reply with
    /// `Connection: close` (whatever the reply's fault says, except that
    /// [`Fault::CloseWithoutAnswer`](crate::Fault::CloseWithoutAnswer) and
    /// [`Fault::ResetWithoutAnswer`](crate::Fault::ResetWithoutAnswer) still
    /// write nothing), and then closes the connection the way servers do
    /// when they refuse a body (a "lingering close"): it shuts down its
    /// sending side and reads and discards whatever the client still sends,
    /// for up to 5 seconds, before closing the socket. This simulates a
    /// server that answers `413 Content Too Large` (or `401`, `417`, ...)
    /// early. `Expect: 100-continue` is not answered with `100 Continue`.
    ///
    /// The request is recorded with an empty body. Requests without a body
    /// are served normally.
    ///
    /// Default is `false`. Applies to HTTP/1.1 connections only.
    pub fn answer_before_body(mut self, on: bool) -> Self {
        self.answer_before_body = on;
        self
    }

    /// The server keeps a connection open after answering a request that asks to
    /// close it (`Connection: close`, or HTTP/1.0), and does not answer with
    /// `Connection: close` itself: the connection ends only when the client closes it
    /// (or for the other reasons listed in the [crate docs](crate#connection-behaviour)).
    /// This shows whether a client that asked to close really closes its end.
    ///
    /// Default is `false`. Applies to HTTP/1.1 connections only.
    pub fn ignore_connection_close(mut self, on: bool) -> Self {
        self.ignore_connection_close = on;
        self
    }

    /// Serves HTTPS with this certificate (sending its chain), offering only
    /// ALPN `http/1.1`: the raw HTTP/1.1 server runs inside TLS, with every
    /// [`Fault`](crate::Fault) working as over plain TCP (closes send a TLS
    /// `close_notify` first; resets do not).
    ///
    /// The TLS handshake runs in each connection's task, with a 10 s
    /// timeout; failures are counted by
    /// [`TestServer::tls_handshake_failures`].
    ///
    /// Replaces any earlier [`tls`](Self::tls), [`tls_h2`](Self::tls_h2),
    /// [`tls_config`](Self::tls_config) or [`h2c`](Self::h2c) setting.
    pub fn tls(self, leaf: &Leaf) -> Self {
        self.tls_config(leaf.server_config(&[b"http/1.1"]))
    }

    /// Serves HTTPS with this certificate, offering ALPN `h2` and
    /// `http/1.1`: a connection on which the client picks `h2` is served
    /// with HTTP/2 (see [HTTP/2](Self#http2)), any other with the raw
    /// HTTP/1.1 server.
    ///
    /// Replaces any earlier protocol setting, like [`tls`](Self::tls).
    pub fn tls_h2(self, leaf: &Leaf) -> Self {
        self.tls_config(leaf.server_config(&[b"h2", b"http/1.1"]))
    }

    /// Serves HTTPS with a ready rustls configuration, e.g. one requiring
    /// client certificates ([`Leaf::server_config_with_client_auth`]). HTTP/2
    /// is served when the configuration's ALPN protocols include `h2` and the
    /// client picks it; HTTP/1.1 otherwise.
    ///
    /// Replaces any earlier protocol setting, like [`tls`](Self::tls).
    pub fn tls_config(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.mode = Mode::Tls(config);
        self
    }

    /// Serves plain-text HTTP/2 with prior knowledge (h2c): every connection
    /// is served by hyper's HTTP/2 server (see [HTTP/2](Self#http2)).
    ///
    /// Replaces any earlier protocol setting, like [`tls`](Self::tls).
    pub fn h2c(mut self) -> Self {
        self.mode = Mode::H2c;
        self
    }

    /// Binds this loopback address instead of `127.0.0.1`, e.g. `127.0.0.2`
    /// (on Linux every `127.0.0.0/8` address reaches the loopback interface)
    /// or `::1`.
    ///
    /// # Panics
    ///
    /// Panics if `ip` is not a loopback address (`127.0.0.0/8` or `::1`):
    /// the test server never listens on a real network.
    pub fn bind_ip(mut self, ip: IpAddr) -> Self {
        assert!(
            ip.is_loopback(),
            "towline-test: bind_ip needs a loopback address (127.0.0.0/8 or ::1), not {ip}"
        );
        self.ip = ip;
        self
    }

    /// Binds port 0 of the loopback address (`127.0.0.1` unless
    /// [`bind_ip`](Self::bind_ip) says otherwise) and starts serving on the
    /// current tokio runtime.
    ///
    /// # Panics
    ///
    /// Panics when called outside a tokio runtime.
    pub async fn start(self) -> std::io::Result<TestServer> {
        let listener = TcpListener::bind((self.ip, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let (tls, h2c) = match self.mode {
            Mode::Plain => (None, false),
            Mode::H2c => (None, true),
            Mode::Tls(config) => (Some(config), false),
        };
        let is_tls = tls.is_some();
        let config = Arc::new(Config {
            handler: self.handler,
            close_after: self.close_after,
            idle_close: self.idle_close,
            close_reused_without_answer: self.close_reused_without_answer,
            answer_before_body: self.answer_before_body,
            ignore_connection_close: self.ignore_connection_close,
            tls,
            h2c,
        });
        let accept_task = tokio::spawn(accept_loop(listener, config, Arc::clone(&shared)));
        Ok(TestServer {
            addr,
            tls: is_tls,
            shared,
            accept_task,
        })
    }
}
