//! The base connector: pooled HTTP/1.1 and HTTP/2, over TCP or any dialer, with TLS.
//!
//! [`Connector`] is a `tower::Service<http::Request<B>>` that does the job of Twisted's
//! `Agent` and `HTTPConnectionPool`: it takes requests with absolute `http://` or
//! `https://` URIs, finds or opens a connection through its [`Dial`] service, secures
//! it with rustls for `https://` (see `towline::tls`), writes the request (origin-form
//! with a `Host` header over HTTP/1.1, pseudo-headers over HTTP/2) and returns the
//! response with a streaming [`ResponseBody`]. Every layer of towline sits on it.
//!
//! Each response carries three extensions: [`EffectiveUri`], [`ConnectionInfo`] and
//! [`Framing`].
//!
//! # HTTP/2
//!
//! With the `http2` feature, TLS connections offer `h2` by ALPN. When the server picks
//! it, one connection per host (and TLS configuration) is shared by every request,
//! multiplexed; requests that arrive while the first connection to a host is being
//! opened wait to learn whether they can share it rather than each opening their own.
//! `Builder::http2_prior_knowledge` (feature `http2`) speaks HTTP/2 over plain TCP (h2c). A stream the
//! server refuses unprocessed (`REFUSED_STREAM`, or above a `GOAWAY`'s last stream) fails
//! with a [`StaleConnection`] error whose `request_written()` is `false`, on a fresh
//! connection as well as a reused one, so the retry layer sends it again, whatever its
//! method. A `GOAWAY` that h2 sends itself after the server broke the protocol is not
//! such a refusal: the server may have processed the request.
//!
//! # Pool
//!
//! HTTP/1.1 connections are kept per scheme, host, port and TLS configuration and reused
//! most-recent-first. A connection goes back to the pool only after its response body
//! was read to the end;
//! dropping a response, its body or the response future early closes that connection.
//! Idle connections are closed after [`idle_timeout`](Builder::idle_timeout), when the
//! server closes them, beyond [`max_idle_per_host`](Builder::max_idle_per_host), on
//! [`Connector::close_idle`], and when the last clone of the connector is dropped.
//!
//! # Proxies and other endpoints
//!
//! A [`Route`] request extension (set by `towline::proxy::ProxyLayer` or by
//! the caller) sends a request through an HTTP proxy (absolute-form), a `CONNECT`
//! tunnel, or a SOCKS5 proxy; without one, requests go direct. The connector dials the
//! proxy through its [`Dial`] service, runs the proxy's handshake, then TLS with the
//! origin inside the tunnel for `https://`, all within the
//! [`connect_timeout`](Builder::connect_timeout). Connections are pooled per route,
//! proxy credentials included. Failures of a proxy are
//! [`is_proxy()`](crate::Error::is_proxy) with a [`ProxyError`] as their cause.
//!
//! The dialer decides where bytes go: [`TcpDialer`] by default, [`UnixDialer`] for a
//! Unix domain socket (on Unix), or any `tower::Service<Destination>` of your own (see
//! [`Dial`] and the `connect_to` example). A dialer is handed the proxy's address for
//! proxied routes.
//!
//! # Example
//!
//! ```
//! use towline::body::{Body, read_body};
//! use towline::connect::{Connector, ConnectionInfo};
//! use tower::ServiceExt;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), towline::Error> {
//! # let server = towline_test::TestServer::start(|_| towline_test::Reply::text("hello")).await;
//! # let url = server.url("/");
//! let connector = Connector::new();
//! let request = http::Request::get(url).body(Body::empty()).expect("valid request");
//! let response = connector.clone().oneshot(request).await?;
//! assert_eq!(response.status(), 200);
//! let reused = response.extensions().get::<ConnectionInfo>().map(|c| c.reused);
//! assert_eq!(reused, Some(false));
//! let body = read_body(response.into_body()).await?;
//! assert_eq!(&body[..], b"hello");
//! # Ok(()) }
//! ```
//!
//! A customised pool, the way Twisted's seed configured it (two idle connections per
//! host, no more than four open):
//!
//! ```
//! use std::time::Duration;
//! use towline::connect::Connector;
//!
//! let connector = Connector::builder()
//!     .max_idle_per_host(2)
//!     .max_connections_per_host(4)
//!     .idle_timeout(Duration::from_secs(30))
//!     .connect_timeout(Duration::from_secs(5))
//!     .build();
//! assert_eq!(connector.pool_stats().opened, 0);
//! ```

mod dial;
mod info;
mod io;
mod limits;
mod pool;
mod proxy_error;
mod response;
mod route;
mod send;
mod socks;
mod tcp;
mod tunnel;
#[cfg(unix)]
mod unix;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, HeaderValue, PROXY_AUTHORIZATION};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use hyper_util::rt::TokioIo;
use tower_service::Service;

use crate::error::{BoxError, Error, Kind, LengthMismatch, Message, StaleConnection, TimedOut};

pub use dial::{Connected, Destination, Dial, DialError, Io};
pub use info::{ConnectionInfo, EffectiveUri, Framing, FreshConnection, RequestHead};
pub use limits::ResponseHeadTooLarge;
pub use pool::PoolStats;
pub use proxy_error::ProxyError;
pub use response::ResponseBody;
#[cfg(feature = "tracing")]
pub(crate) use route::RouteLabel;
pub use route::{ProxyEndpoint, Route};
pub use tcp::{TcpConnecting, TcpDialer};
#[cfg(unix)]
pub use unix::{UnixConnecting, UnixDialer};

#[cfg(feature = "tracing")]
use pool::KeyOrigin;
use pool::{Checkout, Conn, Handoff, Key, Pool, Slot, Tx};
use proxy_error::ErrorKind as ProxyErrorKind;
use send::{Outgoing, RequestBodyError};

/// The default [`connect_timeout`](Builder::connect_timeout): 30 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default [`tls_handshake_timeout`](Builder::tls_handshake_timeout): 10 seconds.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`proxy_handshake_timeout`](Builder::proxy_handshake_timeout): 10 seconds.
pub const DEFAULT_PROXY_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `future` within `limit`, if there is one; `timed_out` makes the error.
async fn within<F, T>(
    limit: Option<Duration>,
    future: F,
    timed_out: impl FnOnce(Duration) -> Error,
) -> Result<T, Error>
where
    F: Future<Output = Result<T, Error>>,
{
    match limit {
        Some(limit) => tokio::time::timeout(limit, future)
            .await
            .unwrap_or_else(|_| Err(timed_out(limit))),
        None => future.await,
    }
}

/// Waits for `head` (hyper's future of a response head) until `limit` passes without a
/// byte moving on the connection, counting from now at the earliest; `None` then.
async fn head_within<F: Future>(
    head: F,
    counters: &io::Counters,
    limit: Option<Duration>,
) -> Option<F::Output> {
    let Some(limit) = limit else {
        return Some(head.await);
    };
    let dispatched = tokio::time::Instant::now();
    let mut head = std::pin::pin!(head);
    loop {
        let deadline = counters.last_active().max(dispatched) + limit;
        if let Ok(out) = tokio::time::timeout_at(deadline, head.as_mut()).await {
            return Some(out);
        }
        // Bytes moved while the timer ran: wait `limit` from the last of them.
        if counters.last_active().max(dispatched) + limit <= tokio::time::Instant::now() {
            return None;
        }
    }
}

/// The error of a connect or TLS handshake bound: `is_connect()` and `is_timeout()`.
fn connect_timed_out(what: &'static str, limit: Duration) -> Error {
    Error::new(Kind::Connect, Some(Box::new(TimedOut::after(what, limit))))
}

/// What is known about one connection, shared by its requests.
pub(crate) struct Meta {
    pub(crate) id: u64,
    pub(crate) connected: Connected,
    pub(crate) counters: Arc<io::Counters>,
    pub(crate) alpn: Option<Bytes>,
    #[cfg(feature = "tls")]
    pub(crate) tls_version: Option<rustls::ProtocolVersion>,
    #[cfg(feature = "tls")]
    pub(crate) peer_certificates: Option<Arc<[rustls::pki_types::CertificateDer<'static>]>>,
}

/// The identity of a TLS configuration in a pool key: two keys are equal only when
/// they hold the very same configuration.
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) struct TlsKey(pub(crate) Arc<rustls::ClientConfig>);

#[cfg(feature = "tls")]
impl PartialEq for TlsKey {
    fn eq(&self, other: &TlsKey) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

#[cfg(feature = "tls")]
impl Eq for TlsKey {}

#[cfg(feature = "tls")]
impl std::hash::Hash for TlsKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.0), state);
    }
}

#[cfg(feature = "tls")]
impl fmt::Debug for TlsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlsKey({:p})", Arc::as_ptr(&self.0))
    }
}

/// Without TLS there is no configuration to tell apart.
#[cfg(not(feature = "tls"))]
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum TlsKey {}

/// The base HTTP client service: a pool of HTTP/1.1 and HTTP/2 connections over a
/// [`Dial`] service, with TLS for `https://`.
///
/// Cheap to clone; clones share one pool. See the [module docs](self).
pub struct Connector<D = TcpDialer> {
    shared: Arc<Shared<D>>,
}

struct Shared<D> {
    dialer: D,
    pool: Pool,
    connect_timeout: Option<Duration>,
    tls_handshake_timeout: Option<Duration>,
    proxy_handshake_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    http1: hyper::client::conn::http1::Builder,
    head_limits: limits::HeadLimits,
    record_request_heads: bool,
    #[cfg(feature = "tls")]
    tls: Arc<dyn crate::tls::TlsPolicy>,
    h2c: bool,
    next_id: AtomicU64,
}

impl<D> Clone for Connector<D> {
    fn clone(&self) -> Self {
        Connector {
            shared: self.shared.clone(),
        }
    }
}

impl<D> fmt::Debug for Connector<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("pool", self.shared.pool.config())
            .field("connect_timeout", &self.shared.connect_timeout)
            .field("tls_handshake_timeout", &self.shared.tls_handshake_timeout)
            .field(
                "proxy_handshake_timeout",
                &self.shared.proxy_handshake_timeout,
            )
            .field("read_timeout", &self.shared.read_timeout)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// A connector with every default: TCP, a persistent pool.
    pub fn new() -> Connector {
        Builder::new().build()
    }

    /// A builder to configure the pool, timeouts and dialer.
    pub fn builder() -> Builder {
        Builder::new()
    }
}

impl Default for Connector {
    fn default() -> Connector {
        Connector::new()
    }
}

impl<D> Connector<D> {
    /// Counters of the pool: connections opened, reused, closed, idle and in use.
    pub fn pool_stats(&self) -> PoolStats {
        self.shared.pool.stats()
    }

    /// Closes every idle connection now (Twisted's `closeCachedConnections`).
    /// Connections in use are not affected.
    pub fn close_idle(&self) {
        self.shared.pool.close_idle();
    }
}

/// Configures and builds a [`Connector`].
#[derive(Clone)]
pub struct Builder {
    pool: pool::Config,
    connect_timeout: Option<Duration>,
    max_header_size: usize,
    max_headers: usize,
    record_request_heads: bool,
    tls_handshake_timeout: Option<Duration>,
    proxy_handshake_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    #[cfg(feature = "tls")]
    tls: Option<Arc<dyn crate::tls::TlsPolicy>>,
    h2c: bool,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("pool", &self.pool)
            .field("connect_timeout", &self.connect_timeout)
            .field("tls_handshake_timeout", &self.tls_handshake_timeout)
            .field("proxy_handshake_timeout", &self.proxy_handshake_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("max_header_size", &self.max_header_size)
            .field("max_headers", &self.max_headers)
            .field("record_request_heads", &self.record_request_heads)
            .field("http2_prior_knowledge", &self.h2c)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// A builder with every default.
    pub fn new() -> Builder {
        Builder {
            pool: pool::Config {
                persistent: true,
                max_idle_per_host: 32,
                idle_timeout: Some(Duration::from_secs(90)),
                max_connections_per_host: None,
            },
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            tls_handshake_timeout: Some(DEFAULT_TLS_HANDSHAKE_TIMEOUT),
            proxy_handshake_timeout: Some(DEFAULT_PROXY_HANDSHAKE_TIMEOUT),
            read_timeout: None,
            max_header_size: limits::DEFAULT_MAX_HEADER_SIZE,
            max_headers: limits::DEFAULT_MAX_HEADERS,
            record_request_heads: false,
            #[cfg(feature = "tls")]
            tls: None,
            h2c: false,
        }
    }

    /// How to set up TLS for `https://` URIs: a [`TlsConfig`](crate::tls::TlsConfig)
    /// for every host, or a [`TlsPolicy`](crate::tls::TlsPolicy) that chooses per
    /// host. Connections made under different configurations are never shared.
    ///
    /// Default is [`TlsConfig::new()`](crate::tls::TlsConfig::new): verification
    /// against the bundled web PKI roots, ALPN `h2` and `http/1.1`.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, policy: impl crate::tls::TlsPolicy) -> Builder {
        self.tls = Some(Arc::new(policy));
        self
    }

    /// Speaks HTTP/2 straight away on `http://` connections (h2c with prior
    /// knowledge, RFC 9113 §3.3), for servers known to support it.
    ///
    /// Default is `false`.
    #[cfg(feature = "http2")]
    pub fn http2_prior_knowledge(mut self, on: bool) -> Builder {
        self.h2c = on;
        self
    }

    /// Whether connections are kept for reuse (Twisted's `persistent`). When `false`,
    /// each request opens its own connection, sends `Connection: close`, and the
    /// connection is closed once the response is read.
    ///
    /// Default is `true`.
    pub fn persistent(mut self, on: bool) -> Builder {
        self.pool.persistent = on;
        self
    }

    /// How many idle connections to keep per host; beyond it the oldest is closed.
    ///
    /// Twisted and Go keep 2, which churns connections when more than two requests to
    /// one host overlap; set `max_idle_per_host(2)` for that behaviour. `0` keeps none.
    ///
    /// Default is 32.
    pub fn max_idle_per_host(mut self, n: usize) -> Builder {
        self.pool.max_idle_per_host = n;
        self
    }

    /// How long a connection may sit idle in the pool before it is closed; `None`
    /// keeps idle connections until the server closes them.
    ///
    /// Default is 90 seconds.
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Builder {
        self.pool.idle_timeout = timeout.into();
        self
    }

    /// The most connections open at once to one host; further requests wait, first
    /// come first served, for a connection to come free. A waiting request that is
    /// dropped leaves the queue. `None` sets no limit.
    ///
    /// Default is `None`.
    pub fn max_connections_per_host(mut self, n: impl Into<Option<usize>>) -> Builder {
        self.pool.max_connections_per_host = n.into();
        self
    }

    /// How long resolving the host and dialing it may take, every address the dialer
    /// tries (happy eyeballs) together; `None` waits as long as the dialer does. The
    /// proxy and TLS handshakes that follow have bounds of their own
    /// ([`proxy_handshake_timeout`](Builder::proxy_handshake_timeout),
    /// [`tls_handshake_timeout`](Builder::tls_handshake_timeout)). Failing it is an
    /// error that is both [`is_connect()`](crate::Error::is_connect) and
    /// [`is_timeout()`](crate::Error::is_timeout), whose cause names `connect_timeout`.
    ///
    /// Default is [30 seconds](DEFAULT_CONNECT_TIMEOUT), as Go's `DefaultTransport`.
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Builder {
        self.connect_timeout = timeout.into();
        self
    }

    /// How long each TLS handshake may take: with the origin, and with an `https://`
    /// proxy; `None` waits as long as the peer does. Failing it is an error that is
    /// both [`is_connect()`](crate::Error::is_connect) and
    /// [`is_timeout()`](crate::Error::is_timeout), whose cause names
    /// `tls_handshake_timeout`.
    ///
    /// Default is [10 seconds](DEFAULT_TLS_HANDSHAKE_TIMEOUT), as Go's
    /// `DefaultTransport`.
    pub fn tls_handshake_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Builder {
        self.tls_handshake_timeout = timeout.into();
        self
    }

    /// How long the handshake with a proxy may take once it is dialed: the `CONNECT`
    /// exchange of a tunnel, or the SOCKS5 greeting, authentication and connect
    /// request (with the local resolution of `socks5://`); `None` waits as long as the
    /// proxy does. Failing it is an error that is [`is_connect()`](crate::Error::is_connect),
    /// [`is_proxy()`](crate::Error::is_proxy) and [`is_timeout()`](crate::Error::is_timeout),
    /// whose cause names `proxy_handshake_timeout`.
    ///
    /// Default is [10 seconds](DEFAULT_PROXY_HANDSHAKE_TIMEOUT).
    pub fn proxy_handshake_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Builder {
        self.proxy_handshake_timeout = timeout.into();
        self
    }

    /// How long the wait for a response head may go without the connection moving a
    /// byte, once the request is handed to it; `None` waits as long as the server
    /// does. Every byte written (the request body uploading) or read (the head
    /// arriving) starts the wait again, so a slow upload is not cut. On an HTTP/2
    /// connection, bytes of other requests sharing it count too. Failing it is an
    /// error that is [`is_timeout()`](crate::Error::is_timeout) (not
    /// [`is_connect()`](crate::Error::is_connect)), whose cause names `read_timeout`;
    /// the connection is closed. The [`Client`](crate::Client) sets it from
    /// [`ClientBuilder::read_timeout`](crate::client::ClientBuilder::read_timeout), which also
    /// bounds each gap in the body.
    ///
    /// Default is `None`.
    pub fn read_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Builder {
        self.read_timeout = timeout.into();
        self
    }

    /// The largest response head accepted, in bytes, over HTTP/1.1 and HTTP/2 alike.
    ///
    /// Over HTTP/1.1 it bounds the status line and header lines as received, up to
    /// the blank line (and the trailers of a chunked body). Over HTTP/2 it is advertised to the server as
    /// `SETTINGS_MAX_HEADER_LIST_SIZE`, which counts each field's name and value plus
    /// 32 bytes. A larger head fails the request with a
    /// [`ResponseHeadTooLarge`] error naming the limit.
    ///
    /// Default is 256 KiB (262,144 bytes), Chromium's limit.
    pub fn max_header_size(mut self, bytes: usize) -> Builder {
        self.max_header_size = bytes;
        self
    }

    /// The most header fields accepted in an HTTP/1.1 response (HTTP/2 bounds a head
    /// by [`max_header_size`](Builder::max_header_size) alone). More fails the request
    /// with a [`ResponseHeadTooLarge`] error.
    ///
    /// Default is 1,000 (hyper's own default is 100, fewer than some servers send).
    pub fn max_headers(mut self, n: usize) -> Builder {
        self.max_headers = n;
        self
    }

    /// Whether each response carries the [`RequestHead`] as the connector handed it
    /// to the connection, for tools that show what was sent (`-v`). It costs a copy
    /// of the request's headers per request.
    ///
    /// Default is `false`.
    pub fn record_request_heads(mut self, on: bool) -> Builder {
        self.record_request_heads = on;
        self
    }

    /// Builds a connector that dials TCP with a default [`TcpDialer`].
    pub fn build(self) -> Connector {
        self.build_with_dialer(TcpDialer::new())
    }

    /// Builds a connector that opens connections with `dialer` (Twisted's
    /// `Agent.usingEndpointFactory`).
    pub fn build_with_dialer<D: Dial>(self, dialer: D) -> Connector<D> {
        let head_limits = limits::HeadLimits {
            bytes: self.max_header_size,
            fields: self.max_headers,
        };
        let mut http1 = hyper::client::conn::http1::Builder::new();
        head_limits.configure_http1(&mut http1);
        Connector {
            shared: Arc::new(Shared {
                dialer,
                pool: Pool::new(self.pool),
                connect_timeout: self.connect_timeout,
                tls_handshake_timeout: self.tls_handshake_timeout,
                proxy_handshake_timeout: self.proxy_handshake_timeout,
                read_timeout: self.read_timeout,
                http1,
                head_limits,
                record_request_heads: self.record_request_heads,
                #[cfg(feature = "tls")]
                tls: self
                    .tls
                    .unwrap_or_else(|| Arc::new(crate::tls::TlsConfig::new())),
                h2c: self.h2c,
                next_id: AtomicU64::new(0),
            }),
        }
    }
}

/// The future of a [`Connector`] call.
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture {
    inner: Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Error>> + Send>>,
}

impl Future for ResponseFuture {
    type Output = Result<Response<ResponseBody>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connect::ResponseFuture")
    }
}

impl<D, B> Service<Request<B>> for Connector<D>
where
    D: Dial,
    B: http_body::Body + Send + 'static,
    B::Data: Into<Bytes>,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody>;
    type Error = Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> ResponseFuture {
        let shared = self.shared.clone();
        let redaction = crate::redact::Redaction::of(req.extensions()).clone();
        let inner: Pin<Box<dyn Future<Output = _> + Send>> = match Prepared::new(req, &shared) {
            Ok(prepared) => Box::pin(async move {
                let uri = prepared.uri.clone();
                shared
                    .send(prepared)
                    .await
                    .map_err(|e| e.with_uri(uri).with_redaction(&redaction))
            }),
            Err((err, uri)) => {
                let err = match uri {
                    Some(uri) => err.with_uri(uri),
                    None => err,
                }
                .with_redaction(&redaction);
                Box::pin(std::future::ready(Err(err)))
            }
        };
        ResponseFuture { inner }
    }
}

/// A validated request, rewritten for the wire, with what is needed to undo that.
struct Prepared<B> {
    /// The request as hyper will write it: origin-form URI, `Host` set.
    wire: Request<Outgoing>,
    /// The absolute URI the caller gave.
    uri: Uri,
    key: Key,
    host_added: bool,
    connection_added: bool,
    /// `Some(previous)` when the connector changed `Proxy-Authorization`: removed the
    /// caller's, or set the route's for an HTTP proxy.
    proxy_auth: Option<Option<HeaderValue>>,
    is_head: bool,
    fresh: bool,
    _body: std::marker::PhantomData<fn() -> B>,
}

fn has_forbidden_byte(bytes: &[u8]) -> bool {
    // Without an early exit the loop vectorizes: headers are short and nearly always
    // clean, so reading every byte is the cheaper way.
    bytes.iter().fold(false, |found, &b| {
        found | (b == b'\r') | (b == b'\n') | (b == 0)
    })
}

impl<B> Prepared<B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Into<Bytes>,
    B::Error: Into<BoxError>,
{
    #[allow(clippy::result_large_err)]
    fn new<D>(req: Request<B>, shared: &Shared<D>) -> Result<Prepared<B>, (Error, Option<Uri>)> {
        let persistent = shared.pool.config().persistent;
        let (mut parts, body) = req.into_parts();
        let uri = parts.uri.clone();
        let fail = |msg: &'static str| (Error::invalid_request(msg), Some(uri.clone()));
        let Some(scheme) = uri.scheme() else {
            return Err(fail("the URI has no scheme: requests need an absolute URI"));
        };
        let https = *scheme == Scheme::HTTPS;
        if *scheme != Scheme::HTTP && !https {
            return Err(fail(
                "unsupported URI scheme: only http and https are supported",
            ));
        }
        if https && !cfg!(feature = "tls") {
            return Err(fail("https needs towline's `tls` feature"));
        }
        let Some(authority) = uri.authority() else {
            return Err(fail("the URI has no host: requests need an absolute URI"));
        };
        if authority.host().is_empty() {
            return Err(fail("the URI has an empty host"));
        }
        if has_forbidden_byte(authority.as_str().as_bytes())
            || uri
                .path_and_query()
                .is_some_and(|p| has_forbidden_byte(p.as_str().as_bytes()))
        {
            return Err(fail("the URI contains CR, LF or NUL"));
        }
        if has_forbidden_byte(parts.method.as_str().as_bytes()) {
            return Err(fail("the method contains CR, LF or NUL"));
        }
        if parts
            .headers
            .values()
            .any(|v| has_forbidden_byte(v.as_bytes()))
        {
            return Err(fail("a header value contains CR, LF or NUL"));
        }

        let scheme_port = default_port(scheme);
        let port = authority.port_u16();
        let default_port = port.is_none_or(|p| p == scheme_port);
        let key_authority =
            if port == Some(scheme_port) || authority.as_str().as_bytes().contains(&b'@') {
                host_authority(authority, default_port)
            } else {
                authority.clone()
            };
        let host_added = !parts.headers.contains_key(HOST);
        if host_added {
            let value = HeaderValue::from_str(key_authority.as_str())
                .map_err(|_| fail("the URI host is not a valid Host header"))?;
            parts.headers.insert(HOST, value);
        }
        let connection_added = !persistent && !parts.headers.contains_key(CONNECTION);
        if connection_added {
            parts
                .headers
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }

        let declared = match parts.headers.get(CONTENT_LENGTH) {
            Some(v) => {
                let parsed = v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok());
                let Some(n) = parsed else {
                    return Err(fail("the Content-Length header is not a number"));
                };
                if let Some(exact) = body.size_hint().exact() {
                    if exact != n {
                        let err = Error::new(
                            Kind::Body,
                            Some(Box::new(LengthMismatch::new(n, exact, exact > n))),
                        );
                        return Err((err, Some(uri)));
                    }
                }
                Some(n)
            }
            None => body.size_hint().exact(),
        };

        let is_head = parts.method == http::Method::HEAD;
        let fresh = parts.extensions.get::<FreshConnection>().is_some();
        let path = uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let route = match parts.extensions.get::<Route>() {
            None | Some(Route::Direct) => Route::Direct,
            // https is never handed to a proxy in the clear: it tunnels.
            Some(Route::HttpProxy(endpoint)) if https => Route::Tunnel(endpoint.clone()),
            Some(route) => route.clone(),
        };
        // Proxy credentials come from the route alone: a caller's `Proxy-Authorization`
        // is removed on every route, since a proxy without authentication (tinyproxy)
        // forwards it to the origin, and on the other routes the origin is the
        // recipient.
        let caller_auth = parts.headers.remove(PROXY_AUTHORIZATION);
        let mut auth_added = false;
        if let Route::HttpProxy(endpoint) = &route {
            // The proxy receives this request: absolute-form, with its credentials.
            let mut absolute = http::uri::Parts::default();
            absolute.scheme = Some(scheme.clone());
            absolute.authority = Some(key_authority.clone());
            absolute.path_and_query = Some(path);
            parts.uri = Uri::from_parts(absolute)
                .map_err(|_| fail("the URI cannot be written in absolute form"))?;
            if let Some(auth) = endpoint.authorization() {
                parts.headers.insert(PROXY_AUTHORIZATION, auth.clone());
                auth_added = true;
            }
        } else {
            parts.uri = Uri::from(path);
        }
        let proxy_auth = (auth_added || caller_auth.is_some()).then_some(caller_auth);
        #[cfg(feature = "tls")]
        let proxy_tls = match &route {
            Route::HttpProxy(endpoint) | Route::Tunnel(endpoint) if endpoint.is_tls() => Some(
                TlsKey(shared.tls.config_for(endpoint.host(), endpoint.port())),
            ),
            _ => None,
        };
        #[cfg(not(feature = "tls"))]
        let proxy_tls = match &route {
            Route::HttpProxy(endpoint) | Route::Tunnel(endpoint) if endpoint.is_tls() => {
                return Err(fail("https proxies need towline's `tls` feature"));
            }
            _ => None,
        };
        #[cfg(feature = "tls")]
        let tls = https.then(|| {
            let host = key_authority.host();
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            let port = key_authority.port_u16().unwrap_or(scheme_port);
            TlsKey(shared.tls.config_for(host, port))
        });
        #[cfg(not(feature = "tls"))]
        let tls = None;
        let key = Key::new(scheme.clone(), key_authority, tls, route, proxy_tls);
        Ok(Prepared {
            wire: Request::from_parts(parts, Outgoing::new(body, declared)),
            uri,
            key,
            host_added,
            connection_added,
            proxy_auth,
            is_head,
            fresh,
            _body: std::marker::PhantomData,
        })
    }

    /// Turns a request hyper handed back unsent into the caller's original request.
    fn restore(
        wire: Request<Outgoing>,
        uri: Uri,
        host_added: bool,
        connection_added: bool,
        proxy_auth: Option<Option<HeaderValue>>,
    ) -> Option<Request<B>> {
        let (mut parts, body) = wire.into_parts();
        let body = body.into_original::<B>()?;
        parts.uri = uri;
        if host_added {
            parts.headers.remove(HOST);
        }
        if connection_added {
            parts.headers.remove(CONNECTION);
        }
        if let Some(previous) = proxy_auth {
            parts.headers.remove(PROXY_AUTHORIZATION);
            if let Some(value) = previous {
                parts.headers.insert(PROXY_AUTHORIZATION, value);
            }
        }
        Some(Request::from_parts(parts, body))
    }
}

/// `host[:port]` without userinfo, and without the port when it is the default.
fn host_authority(authority: &Authority, default_port: bool) -> Authority {
    let text = match (default_port, authority.port()) {
        (false, Some(port)) => format!("{}:{}", authority.host(), port.as_str()),
        _ => authority.host().to_owned(),
    };
    Authority::try_from(text.as_str()).unwrap_or_else(|_| authority.clone())
}

impl<D: Dial> Shared<D> {
    async fn send<B>(
        self: Arc<Self>,
        prepared: Prepared<B>,
    ) -> Result<Response<ResponseBody>, Error>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Into<Bytes>,
        B::Error: Into<BoxError>,
    {
        let may_h2 = self.may_h2(&prepared.key);
        let (conn, reused) = loop {
            match self.pool.checkout(&prepared.key, prepared.fresh, may_h2) {
                Checkout::Reused(mut conn) => {
                    if conn.ready_soon().await {
                        break (conn, true);
                    }
                    // Closed or still busy: drop it and check out again.
                    debug!(
                        target: "towline::connect",
                        id = conn.meta.id,
                        "pooled connection discarded: closed, or still busy after its last exchange"
                    );
                }
                Checkout::Dial(slot) => break (self.open(&prepared.key, slot).await?, false),
                Checkout::AwaitProbe(rx) => {
                    // Woken when the connection being opened is known to be HTTP/2
                    // (then shared) or not; either way, check out again.
                    let _ = rx.await;
                }
                Checkout::Wait(rx) => match rx.await {
                    Ok(Handoff::Conn(mut conn)) => {
                        if conn.ready_soon().await {
                            break (conn, true);
                        }
                        debug!(
                            target: "towline::connect",
                            id = conn.meta.id,
                            "pooled connection discarded: closed, or still busy after its last exchange"
                        );
                    }
                    Ok(Handoff::Slot(slot)) => {
                        break (self.open(&prepared.key, slot).await?, false);
                    }
                    Err(_) => {
                        return Err(Error::new(
                            Kind::Connect,
                            Some(Box::new(Message("the connection pool shut down"))),
                        ));
                    }
                },
            }
        };
        let Prepared {
            wire,
            uri,
            key,
            host_added,
            connection_added,
            proxy_auth,
            is_head,
            ..
        } = prepared;
        if reused {
            debug!(
                target: "towline::connect",
                id = conn.meta.id,
                protocol = conn.protocol(),
                origin = %KeyOrigin(&key),
                "pooled connection reused"
            );
        }
        let meta = conn.meta.clone();
        let mut pooled = self.pool.in_use(conn, key.clone());
        let (read_before, written_before) = meta.counters.snapshot();
        #[cfg(feature = "http2")]
        let h2 = matches!(pooled.conn_mut().map(|c| &c.tx), Some(Tx::H2(_)));
        #[cfg(not(feature = "http2"))]
        let h2 = false;
        let request_head = self.record_request_heads.then(|| {
            let target = wire.uri().to_string();
            RequestHead::new(wire.method().clone(), target, wire.headers().clone())
        });
        let limit = self.read_timeout;
        let sent = match pooled.conn_mut().map(|c| &mut c.tx) {
            Some(Tx::H1(tx)) => head_within(tx.try_send_request(wire), &meta.counters, limit).await,
            #[cfg(feature = "http2")]
            Some(Tx::H2(tx)) => {
                // HTTP/2 carries the target in pseudo-headers: the absolute URI
                // (without userinfo) instead of origin-form plus Host.
                let mut wire = wire;
                let path = wire.uri().path_and_query().cloned();
                let mut parts = http::uri::Parts::default();
                parts.scheme = Some(key.scheme.clone());
                parts.authority = Some(key.authority.clone());
                parts.path_and_query = path;
                if let Ok(absolute) = Uri::from_parts(parts) {
                    *wire.uri_mut() = absolute;
                }
                if host_added {
                    wire.headers_mut().remove(HOST);
                }
                if connection_added {
                    wire.headers_mut().remove(CONNECTION);
                }
                head_within(tx.try_send_request(wire), &meta.counters, limit).await
            }
            None => {
                return Err(Error::new(
                    Kind::Request,
                    Some(Box::new(Message("connection lost"))),
                ));
            }
        };
        let Some(sent) = sent else {
            // The exchange is abandoned: dropping it closes an HTTP/1.1 connection.
            drop(pooled);
            debug!(
                target: "towline::connect",
                id = meta.id,
                "no response head within the read timeout"
            );
            let limit = limit.unwrap_or_default();
            let timed_out = TimedOut::after("waiting for the response head (read_timeout)", limit);
            return Err(Error::new(Kind::Timeout, Some(Box::new(timed_out))));
        };
        let response = match sent {
            Ok(response) => response,
            Err(mut err) => {
                drop(pooled);
                let unsent = err.take_message().and_then(|wire| {
                    Prepared::<B>::restore(
                        wire,
                        uri.clone(),
                        host_added,
                        connection_added,
                        proxy_auth,
                    )
                });
                let (read_after, written_after) = meta.counters.snapshot();
                let err = match self.head_limits.exceeded_by(err.into_error(), h2) {
                    Ok(too_large) => {
                        return Err(Error::new(Kind::Response, Some(Box::new(too_large))));
                    }
                    Err(err) => err,
                };
                return Err(classify(
                    err,
                    &key,
                    h2,
                    reused,
                    written_after > written_before,
                    read_after > read_before,
                    unsent,
                ));
            }
        };

        let (mut parts, incoming) = response.into_parts();
        let framing = framing(is_head, parts.status, parts.version, &parts.headers);
        let expected = match framing {
            Framing::Length(n) => Some(n),
            _ => None,
        };
        parts.extensions.insert(EffectiveUri(uri));
        parts.extensions.insert(ConnectionInfo {
            reused,
            local_addr: meta.connected.local_addr,
            peer_addr: meta.connected.peer_addr,
            version: parts.version,
            alpn_protocol: meta.alpn.clone(),
            #[cfg(feature = "tls")]
            tls_version: meta.tls_version,
            #[cfg(feature = "tls")]
            peer_certificates: meta.peer_certificates.clone(),
        });
        parts.extensions.insert(framing);
        if let Some(head) = request_head {
            parts.extensions.insert(head);
        }
        // A response framed two ways (RFC 9112 §6.3: Transfer-Encoding and
        // Content-Length) may have been read to a different end than the server meant:
        // whatever follows on that connection cannot be trusted, so it is not reused.
        let ambiguous = parts.headers.contains_key(http::header::TRANSFER_ENCODING)
            && parts.headers.contains_key(CONTENT_LENGTH);
        trace!(
            target: "towline::connect",
            id = meta.id,
            status = parts.status.as_u16(),
            version = ?parts.version,
            framing = ?framing,
            "response head received"
        );
        let body = ResponseBody::new(incoming, pooled, expected, !ambiguous);
        Ok(Response::from_parts(parts, body))
    }

    /// Whether a new connection for `key` could speak HTTP/2.
    fn may_h2(&self, key: &Key) -> bool {
        if !cfg!(feature = "http2") || !self.pool.config().persistent {
            return false;
        }
        if matches!(key.route, Route::HttpProxy(_)) {
            // Requests for an HTTP proxy go to it over HTTP/1.1, in absolute form.
            return false;
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = &key.tls {
            return tls.0.alpn_protocols.iter().any(|p| p == b"h2");
        }
        self.h2c && key.tls.is_none()
    }

    /// Dials, secures and handshakes a new connection under `slot`, within the connect
    /// timeout.
    async fn open(&self, key: &Key, mut slot: Slot) -> Result<Conn, Error> {
        #[cfg(feature = "tracing")]
        let started = std::time::Instant::now();
        let connecting = async {
            let mut dialer = self.dialer.clone();
            std::future::poll_fn(|cx| dialer.poll_ready(cx))
                .await
                .map_err(|e| Error::from_boxed(e.into(), Kind::Connect))?;
            let dialing = async {
                dialer
                    .dial(dial_target(key))
                    .await
                    .map_err(|e| dial_failed(key, e.into()))
            };
            let io = within(self.connect_timeout, dialing, |limit| {
                connect_timed_out("connecting (connect_timeout)", limit)
            })
            .await?;
            let connected = io.connected();
            debug!(
                target: "towline::connect",
                destination = %dial_target(key),
                route = %RouteLabel(&key.route),
                peer = connected.peer_addr.map(tracing::field::display),
                elapsed = ?started.elapsed(),
                "connection dialed"
            );
            let io = self.through_proxy(key, io).await?;
            let (io, mut meta) = self.secure(key, io, connected).await?;
            meta.id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let counters = meta.counters.clone();
            let meta = Arc::new(meta);
            let io = TokioIo::new(io::Counted::new(io, counters));
            #[cfg(feature = "http2")]
            if self.may_h2(key) && (meta.alpn.as_deref() == Some(b"h2") || key.tls.is_none()) {
                let (tx, conn) =
                    hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
                        .max_header_list_size(self.head_limits.http2_bytes())
                        .handshake::<_, Outgoing>(io)
                        .await
                        .map_err(|e| Error::new(Kind::Connect, Some(Box::new(e))))?;
                let task: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
                    let _ = conn.await;
                });
                return Ok::<_, Error>((Tx::H2(tx), meta, task));
            }
            let (tx, conn) = self
                .http1
                .handshake::<_, Outgoing>(io)
                .await
                .map_err(|e| Error::new(Kind::Connect, Some(Box::new(e))))?;
            let task: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
                let _ = conn.await;
            });
            Ok::<_, Error>((Tx::H1(tx), meta, task))
        };
        let opened = connecting.await;
        #[cfg(feature = "tracing")]
        if let Err(err) = &opened {
            debug!(
                target: "towline::connect",
                origin = %KeyOrigin(key),
                route = %RouteLabel(&key.route),
                error = %err.report(),
                elapsed = ?started.elapsed(),
                "opening a connection failed"
            );
        }
        let (tx, meta, task) = opened?;
        self.pool.count_opened();
        slot.opened();
        let conn = Conn { tx, meta };
        debug!(
            target: "towline::connect",
            id = conn.meta.id,
            protocol = conn.protocol(),
            origin = %KeyOrigin(key),
            elapsed = ?started.elapsed(),
            "connection open"
        );
        #[cfg(feature = "http2")]
        let shared = matches!(conn.tx, Tx::H2(_)).then_some(&conn);
        #[cfg(not(feature = "http2"))]
        let shared = None;
        self.pool.probe_done(&mut slot, shared);
        #[cfg(feature = "http2")]
        let closed = matches!(conn.tx, Tx::H2(_))
            .then(|| (conn.meta.id, self.pool.downgrade(), key.clone()));
        tokio::spawn(async move {
            // The connection lives until the server or hyper closes it, or every
            // handle to it is dropped; the slot goes with it.
            task.await;
            #[cfg(feature = "http2")]
            if let Some((id, pool, key)) = closed {
                if let Some(pool) = pool.upgrade() {
                    pool.h2_closed(&key, id);
                }
            }
            drop(slot);
        });
        Ok(conn)
    }

    /// Carries out the key's route on a dialed stream: TLS to an `https://` proxy,
    /// then the `CONNECT` or SOCKS5 handshake. The stream then leads to the origin (or,
    /// for [`Route::HttpProxy`], to the proxy that forwards the requests).
    async fn through_proxy(&self, key: &Key, io: D::Io) -> Result<io::MaybeTls<D::Io>, Error> {
        let handshake_failed = |err: ProxyError| Error::new(Kind::Proxy, Some(Box::new(err)));
        match &key.route {
            Route::Direct => Ok(io::MaybeTls::Plain(io)),
            Route::HttpProxy(endpoint) => self.secure_proxy(key, endpoint, io).await,
            Route::Tunnel(endpoint) => {
                let mut io = self.secure_proxy(key, endpoint, io).await?;
                let origin = origin(key);
                let handshake = async {
                    tunnel::connect(&mut io, endpoint, origin.host(), origin.port())
                        .await
                        .map_err(handshake_failed)
                };
                within(self.proxy_handshake_timeout, handshake, |limit| {
                    proxy_timed_out(endpoint, &origin, limit)
                })
                .await?;
                Ok(io)
            }
            Route::Socks5 {
                endpoint,
                remote_dns,
            } => {
                let mut io = io;
                let origin = origin(key);
                let handshake = async {
                    let target = socks::target(origin.host(), origin.port(), *remote_dns)
                        .await
                        .map_err(|e| {
                            let err = DialError::resolve(&origin, e);
                            Error::new(Kind::Connect, Some(Box::new(err)))
                        })?;
                    socks::connect(&mut io, endpoint, target)
                        .await
                        .map_err(handshake_failed)
                };
                within(self.proxy_handshake_timeout, handshake, |limit| {
                    proxy_timed_out(endpoint, &origin, limit)
                })
                .await?;
                Ok(io::MaybeTls::Plain(io))
            }
        }
    }

    /// TLS to the proxy itself when it is an `https://` one, offering only HTTP/1.1.
    async fn secure_proxy(
        &self,
        key: &Key,
        endpoint: &ProxyEndpoint,
        io: D::Io,
    ) -> Result<io::MaybeTls<D::Io>, Error> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &key.proxy_tls {
            let mut config = tls.0.clone();
            if config.alpn_protocols != [b"http/1.1".to_vec()] {
                let mut only_h1 = (*config).clone();
                only_h1.alpn_protocols = vec![b"http/1.1".to_vec()];
                config = Arc::new(only_h1);
            }
            let handshake = tls_handshake(config, endpoint.host(), io);
            let stream = within(self.tls_handshake_timeout, handshake, |limit| {
                connect_timed_out(
                    "the TLS handshake with the proxy (tls_handshake_timeout)",
                    limit,
                )
            })
            .await?;
            trace!(
                target: "towline::connect",
                proxy = %endpoint,
                tls_version = stream.get_ref().1.protocol_version().map(tracing::field::debug),
                "TLS with the proxy established"
            );
            return Ok(io::MaybeTls::Tls(Box::new(stream)));
        }
        let _ = (key, endpoint);
        Ok(io::MaybeTls::Plain(io))
    }

    /// Wraps a stream to the origin in TLS when the key asks for it.
    async fn secure(
        &self,
        key: &Key,
        io: io::MaybeTls<D::Io>,
        connected: Connected,
    ) -> Result<(io::MaybeTls<io::MaybeTls<D::Io>>, Meta), Error> {
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut meta = Meta {
            id: 0,
            connected,
            counters: Arc::new(io::Counters::default()),
            alpn: None,
            #[cfg(feature = "tls")]
            tls_version: None,
            #[cfg(feature = "tls")]
            peer_certificates: None,
        };
        #[cfg(feature = "tls")]
        if let Some(tls) = &key.tls {
            let origin = origin(key);
            let handshake = tls_handshake(tls.0.clone(), origin.host(), io);
            let stream = within(self.tls_handshake_timeout, handshake, |limit| {
                connect_timed_out("the TLS handshake (tls_handshake_timeout)", limit)
            })
            .await?;
            let (_, session) = stream.get_ref();
            meta.alpn = session.alpn_protocol().map(Bytes::copy_from_slice);
            meta.tls_version = session.protocol_version();
            meta.peer_certificates = session
                .peer_certificates()
                .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect());
            debug!(
                target: "towline::connect",
                server_name = origin.host(),
                tls_version = meta.tls_version.map(tracing::field::debug),
                alpn = meta.alpn.as_deref().and_then(|p| std::str::from_utf8(p).ok()),
                "TLS established"
            );
            return Ok((io::MaybeTls::Tls(Box::new(stream)), meta));
        }
        let _ = key;
        Ok((io::MaybeTls::Plain(io), meta))
    }
}

/// A TLS handshake with `host` (its name or IP address) on `io`, verified by `config`.
#[cfg(feature = "tls")]
async fn tls_handshake<I>(
    config: Arc<rustls::ClientConfig>,
    host: &str,
    io: I,
) -> Result<tokio_rustls::client::TlsStream<I>, Error>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| Error::invalid_request("the host is not a valid TLS server name"))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, io)
        .await
        .map_err(|e| match crate::tls::rustls_error_of(&e) {
            Some(err) => crate::tls::tls_error(crate::tls::TlsError::handshake(host, err.clone())),
            None => Error::new(Kind::Connect, Some(Box::new(e))),
        })
}

/// The error of the proxy handshake bound: `is_connect()`, `is_proxy()`, `is_timeout()`.
fn proxy_timed_out(endpoint: &ProxyEndpoint, origin: impl fmt::Display, limit: Duration) -> Error {
    let timed_out = TimedOut::after("the proxy handshake (proxy_handshake_timeout)", limit);
    let err = ProxyError::new(endpoint, origin, ProxyErrorKind::TimedOut).with_source(timed_out);
    Error::new(Kind::Connect, Some(Box::new(err)))
}

/// The error for a failed dial: a proxy that cannot be reached says so.
fn dial_failed(key: &Key, err: BoxError) -> Error {
    match key.route.endpoint() {
        None => Error::from_boxed(err, Kind::Connect),
        Some(endpoint) => {
            let err = ProxyError::new(endpoint, origin(key), ProxyErrorKind::Unreachable)
                .with_source(err);
            Error::new(Kind::Connect, Some(Box::new(err)))
        }
    }
}

/// The origin of a request: scheme, host and port of its URI.
fn origin(key: &Key) -> Destination {
    let host = key.authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = key
        .authority
        .port_u16()
        .unwrap_or_else(|| default_port(&key.scheme));
    Destination::new(key.scheme.clone(), host, port)
}

/// What the dialer connects to: the origin, or the proxy of the route, with the proxy
/// URI's scheme (`http`, `https`, `socks5`, `socks5h`).
fn dial_target(key: &Key) -> Destination {
    let (endpoint, scheme) = match &key.route {
        Route::Direct => return origin(key),
        Route::HttpProxy(endpoint) | Route::Tunnel(endpoint) => (
            endpoint,
            if endpoint.is_tls() {
                Scheme::HTTPS
            } else {
                Scheme::HTTP
            },
        ),
        Route::Socks5 {
            endpoint,
            remote_dns,
        } => {
            let name = if *remote_dns { "socks5h" } else { "socks5" };
            (endpoint, name.parse().unwrap_or(Scheme::HTTP))
        }
    };
    Destination::new(scheme, endpoint.host(), endpoint.port())
}

fn default_port(scheme: &Scheme) -> u16 {
    if *scheme == Scheme::HTTPS { 443 } else { 80 }
}

/// Sorts a failed exchange into the error the caller sees.
#[allow(clippy::too_many_arguments)]
fn classify<B: Send + 'static>(
    err: hyper::Error,
    key: &Key,
    h2: bool,
    reused: bool,
    written: bool,
    response_started: bool,
    unsent: Option<Request<B>>,
) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut body_failed = false;
    #[cfg(feature = "tls")]
    let mut tls_failure = None;
    #[cfg(feature = "http2")]
    let mut refused = false;
    while let Some(e) = source {
        if e.is::<LengthMismatch>() || e.is::<RequestBodyError>() {
            body_failed = true;
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = e.downcast_ref::<rustls::Error>().or_else(|| {
            // `io::Error::source()` skips the error it wraps: look inside.
            e.downcast_ref::<std::io::Error>()
                .and_then(crate::tls::rustls_error_of)
        }) {
            tls_failure = Some(tls.clone());
        }
        #[cfg(feature = "http2")]
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            refused |= rejected_unprocessed(h2);
        }
        source = e.source();
    }
    if body_failed {
        return Error::new(Kind::Body, Some(Box::new(err)));
    }
    #[cfg(feature = "tls")]
    if let Some(tls) = tls_failure {
        // A TLS 1.3 server checks a client certificate after the client's handshake
        // completed, so its refusal arrives here, with the first request.
        let host = origin(key);
        return crate::tls::tls_error(crate::tls::TlsError::handshake(host.host(), tls));
    }
    #[cfg(not(feature = "tls"))]
    let _ = key;
    #[cfg(not(feature = "http2"))]
    let _ = h2;
    if err.is_parse() || err.is_parse_status() {
        return Error::new(Kind::Response, Some(Box::new(err)));
    }
    // HTTP/2: a request hyper handed back was never written, and one the server
    // rejected (REFUSED_STREAM, or above its GOAWAY's last stream id) was not
    // processed. Either is safe to send again, whatever its method, and whether the
    // connection was new or reused: the server provably did nothing with it.
    #[cfg(feature = "http2")]
    if refused || (h2 && unsent.is_some()) {
        let unsent = unsent.map(|r| Box::new(r) as Box<dyn std::any::Any + Send>);
        let stale = StaleConnection::new(false, false)
            .with_unsent_any(unsent)
            .with_source(err);
        return Error::new(Kind::Request, Some(Box::new(stale)));
    }
    if reused {
        let written = written && unsent.is_none();
        let unsent = unsent.map(|r| Box::new(r) as Box<dyn std::any::Any + Send>);
        let stale = StaleConnection::new(written, response_started)
            .with_unsent_any(unsent)
            .with_source(err);
        return Error::new(Kind::Request, Some(Box::new(stale)));
    }
    Error::new(Kind::Request, Some(Box::new(err)))
}

/// Whether `h2` says the server rejected the stream without processing it, so that
/// sending the request again is safe whatever its method (RFC 9113 §8.7): the server
/// reset it with `REFUSED_STREAM`, or its id is above the last stream id of a GOAWAY
/// the server sent.
///
/// Only an error the *peer* raised counts. When h2 itself detects a protocol error
/// (a malformed frame, a flow-control or header-compression violation), it sends its
/// own GOAWAY and fails every open stream with a library-initiated GOAWAY error, but
/// the server may have processed any of those streams already.
#[cfg(feature = "http2")]
fn rejected_unprocessed(h2: &h2::Error) -> bool {
    h2.is_remote() && (h2.is_go_away() || h2.reason() == Some(h2::Reason::REFUSED_STREAM))
}

/// How the response body is delimited, by the rules hyper applies (RFC 9112 §6.3).
fn framing(
    is_head: bool,
    status: http::StatusCode,
    version: http::Version,
    headers: &http::HeaderMap,
) -> Framing {
    if is_head
        || status.is_informational()
        || status == http::StatusCode::NO_CONTENT
        || status == http::StatusCode::NOT_MODIFIED
    {
        return Framing::Length(0);
    }
    let chunked = headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
    if chunked {
        return Framing::Chunked;
    }
    if headers.contains_key(http::header::TRANSFER_ENCODING) {
        return Framing::CloseDelimited;
    }
    match headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        Some(n) => Framing::Length(n),
        None if version == http::Version::HTTP_2 => Framing::EndStream,
        None => Framing::CloseDelimited,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn connector_is_send_sync_and_clone() {
        assert_send_sync::<Connector>();
        assert_send_sync::<ResponseBody>();
        fn is_service<S: Service<Request<Body>> + Clone>() {}
        is_service::<Connector>();
        fn future_is_send<F: Send>() {}
        future_is_send::<ResponseFuture>();
    }

    fn prepare(uri: &str) -> Result<Prepared<Body>, Error> {
        let req = Request::get(uri).body(Body::empty()).expect("request");
        Prepared::new(req, &Connector::new().shared).map_err(|(e, _)| e)
    }

    #[test]
    fn writes_origin_form_and_host() {
        let p = prepare("http://user:pw@Example.test:80/a/b?c=d").expect("valid");
        assert_eq!(p.wire.uri(), "/a/b?c=d");
        assert_eq!(p.wire.headers()[HOST], "Example.test");
        let p = prepare("http://[::1]:8080").expect("valid");
        assert_eq!(p.wire.uri(), "/");
        assert_eq!(p.wire.headers()[HOST], "[::1]:8080");
        assert_eq!(origin(&p.key).host(), "::1");
        assert_eq!(origin(&p.key).port(), 8080);
    }

    fn prepare_via(uri: &str, route: Route, proxy_auth: Option<&str>) -> Prepared<Body> {
        prepare_on(&Connector::new(), uri, route, proxy_auth)
    }

    fn prepare_on(
        connector: &Connector,
        uri: &str,
        route: Route,
        proxy_auth: Option<&str>,
    ) -> Prepared<Body> {
        let mut req = Request::get(uri).extension(route);
        if let Some(value) = proxy_auth {
            req = req.header(PROXY_AUTHORIZATION, value);
        }
        let req = req.body(Body::empty()).expect("request");
        Prepared::new(req, &connector.shared)
            .map_err(|(e, _)| e)
            .expect("valid")
    }

    #[test]
    fn an_http_proxy_gets_absolute_form_and_its_credentials() {
        let ep = ProxyEndpoint::new("proxy.test", 3128).basic_auth("me", "pw");
        let p = prepare_via(
            "http://me:x@Origin.test:8080/a?b",
            Route::HttpProxy(ep.clone()),
            None,
        );
        assert_eq!(p.wire.uri(), "http://Origin.test:8080/a?b");
        assert_eq!(p.wire.headers()[HOST], "Origin.test:8080");
        let auth = &p.wire.headers()[PROXY_AUTHORIZATION];
        assert_eq!(auth, "Basic bWU6cHc=");
        assert!(auth.is_sensitive());
        let dst = dial_target(&p.key);
        assert_eq!(
            (dst.scheme().as_str(), dst.host(), dst.port()),
            ("http", "proxy.test", 3128)
        );
        assert!(
            !Connector::new().shared.may_h2(&p.key),
            "HTTP/1.1 to an HTTP proxy"
        );
        // Handed back unsent, the request is the caller's again.
        let back = Prepared::<Body>::restore(
            p.wire,
            p.uri,
            p.host_added,
            p.connection_added,
            p.proxy_auth,
        )
        .expect("restored");
        assert_eq!(back.uri(), "http://me:x@Origin.test:8080/a?b");
        assert!(!back.headers().contains_key(PROXY_AUTHORIZATION));
    }

    #[test]
    fn https_through_an_http_proxy_tunnels() {
        let ep = ProxyEndpoint::new("proxy.test", 3128).basic_auth("me", "pw");
        let p = prepare_via("https://origin.test/a", Route::HttpProxy(ep.clone()), None);
        assert_eq!(p.key.route, Route::Tunnel(ep));
        assert_eq!(p.wire.uri(), "/a");
        assert!(!p.wire.headers().contains_key(PROXY_AUTHORIZATION));
        assert_eq!(origin(&p.key).host(), "origin.test");
        assert_eq!(origin(&p.key).port(), 443);
    }

    #[test]
    fn proxy_authorization_never_goes_to_an_origin() {
        let ep = ProxyEndpoint::new("p.test", 1080);
        for route in [
            Route::Direct,
            Route::HttpProxy(ep.clone()),
            Route::Tunnel(ep.clone()),
            Route::Socks5 {
                endpoint: ep.clone(),
                remote_dns: true,
            },
        ] {
            let p = prepare_via("http://origin.test/", route.clone(), Some("Basic c2VjcmV0"));
            assert!(
                !p.wire.headers().contains_key(PROXY_AUTHORIZATION),
                "{route:?}"
            );
            let back = Prepared::<Body>::restore(
                p.wire,
                p.uri,
                p.host_added,
                p.connection_added,
                p.proxy_auth,
            )
            .expect("restored");
            assert_eq!(back.headers()[PROXY_AUTHORIZATION], "Basic c2VjcmV0");
        }
        // Not even to an HTTP proxy: only the route's credentials go there.
        let p = prepare_via(
            "http://origin.test/",
            Route::HttpProxy(ep.clone()),
            Some("Bearer mine"),
        );
        assert!(!p.wire.headers().contains_key(PROXY_AUTHORIZATION));
        let p = prepare_via(
            "http://origin.test/",
            Route::HttpProxy(ep.basic_auth("u", "p")),
            Some("Bearer mine"),
        );
        assert_eq!(p.wire.headers()[PROXY_AUTHORIZATION], "Basic dTpw");
        let back = Prepared::<Body>::restore(
            p.wire,
            p.uri,
            p.host_added,
            p.connection_added,
            p.proxy_auth,
        )
        .expect("restored");
        assert_eq!(back.headers()[PROXY_AUTHORIZATION], "Bearer mine");
    }

    #[test]
    fn the_pool_key_holds_the_route_and_its_credentials() {
        let connector = Connector::new();
        let prepare_via =
            |uri: &str, route: Route, auth: Option<&str>| prepare_on(&connector, uri, route, auth);
        let ep = ProxyEndpoint::new("p.test", 3128);
        let url = "https://origin.test/";
        let direct = prepare_via(url, Route::Direct, None).key;
        assert_eq!(
            direct,
            prepare_via("https://origin.test/x", Route::Direct, None).key
        );
        let tunnel = prepare_via(url, Route::Tunnel(ep.clone()), None).key;
        let alice = prepare_via(
            url,
            Route::Tunnel(ep.clone().basic_auth("alice", "a")),
            None,
        )
        .key;
        let bob = prepare_via(url, Route::Tunnel(ep.clone().basic_auth("bob", "b")), None).key;
        let socks = prepare_via(
            url,
            Route::Socks5 {
                endpoint: ep.clone(),
                remote_dns: false,
            },
            None,
        )
        .key;
        let keys = [&direct, &tunnel, &alice, &bob, &socks];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(
            tunnel,
            prepare_via(url, Route::Tunnel(ep.clone()), None).key
        );
        let tls_proxy = prepare_via(url, Route::Tunnel(ep.tls(true)), None).key;
        assert!(tls_proxy.proxy_tls.is_some());
        assert_ne!(tls_proxy, tunnel);
        let dst = dial_target(&tls_proxy);
        assert_eq!(
            (dst.scheme().as_str(), dst.host(), dst.port()),
            ("https", "p.test", 3128)
        );
        let dst = dial_target(&socks);
        assert_eq!(dst.scheme().as_str(), "socks5");
    }

    #[test]
    fn the_default_port_shares_a_pool_key() {
        let a = prepare("http://h.test/").expect("valid").key;
        let b = prepare("http://h.test:80/x").expect("valid").key;
        assert_eq!(a, b);
        let c = prepare("http://h.test:81/").expect("valid").key;
        assert_ne!(a, c);
    }

    #[test]
    fn refuses_bad_requests_before_io() {
        for uri in ["/relative", "ftp://h.test/", "ws://h.test/"] {
            let err = prepare(uri).err().expect("refused");
            assert!(err.is_invalid_request(), "{uri}: {err}");
        }
        // `http` refuses CR, LF and NUL in URIs and header values built safely; the
        // connector checks again because hyper writes whatever it is given.
        assert!(Uri::try_from("http://h.test/a\r\nb").is_err());
        assert!(has_forbidden_byte(b"a\r\nInjected: 1"));
        assert!(has_forbidden_byte(b"nul\0"));
        assert!(!has_forbidden_byte(b"tab\tok"));
    }

    #[test]
    fn content_length_that_disagrees_with_the_body_is_refused() {
        let req = Request::post("http://h.test/")
            .header(CONTENT_LENGTH, "10")
            .body(Body::from("abc"))
            .expect("request");
        let err = Prepared::new(req, &Connector::new().shared)
            .err()
            .expect("refused")
            .0;
        assert!(err.is_body());
    }

    #[test]
    fn framing_follows_the_headers() {
        let mut h = http::HeaderMap::new();
        assert_eq!(
            framing(false, http::StatusCode::OK, http::Version::HTTP_11, &h),
            Framing::CloseDelimited
        );
        assert_eq!(
            framing(true, http::StatusCode::OK, http::Version::HTTP_11, &h),
            Framing::Length(0)
        );
        assert_eq!(
            framing(
                false,
                http::StatusCode::NO_CONTENT,
                http::Version::HTTP_11,
                &h
            ),
            Framing::Length(0)
        );
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("12"));
        assert_eq!(
            framing(false, http::StatusCode::OK, http::Version::HTTP_11, &h),
            Framing::Length(12)
        );
        h.insert(
            http::header::TRANSFER_ENCODING,
            HeaderValue::from_static("gzip, chunked"),
        );
        assert_eq!(
            framing(false, http::StatusCode::OK, http::Version::HTTP_11, &h),
            Framing::Chunked
        );
    }

    #[cfg(feature = "http2")]
    #[test]
    fn only_a_peers_rejection_marks_an_h2_stream_unprocessed() {
        // h2 makes remote-initiated errors only from frames it reads (see tests/h2.rs
        // for REFUSED_STREAM and GOAWAY from a server); an error raised on this side
        // carries the same reason but must not count.
        let local: h2::Error = h2::Reason::REFUSED_STREAM.into();
        assert!(!local.is_remote());
        assert!(!rejected_unprocessed(&local));
        let local: h2::Error = h2::Reason::NO_ERROR.into();
        assert!(!rejected_unprocessed(&local));
    }
}
