//! The base connector: pooled HTTP/1.1 over any dialer.
//!
//! [`Connector`] is a `tower::Service<http::Request<B>>` that does the job of Twisted's
//! `Agent` and `HTTPConnectionPool`: it takes requests with absolute `http://` URIs,
//! finds or opens a connection through its [`Dial`] service, writes the request in
//! origin-form with a `Host` header, and returns the response with a streaming
//! [`ResponseBody`]. Every layer of towline sits on it.
//!
//! Each response carries three extensions: [`EffectiveUri`], [`ConnectionInfo`] and
//! [`Framing`].
//!
//! # Pool
//!
//! Connections are kept per scheme, host and port and reused most-recent-first. A
//! connection goes back to the pool only after its response body was read to the end;
//! dropping a response, its body or the response future early closes that connection.
//! Idle connections are closed after [`idle_timeout`](Builder::idle_timeout), when the
//! server closes them, beyond [`max_idle_per_host`](Builder::max_idle_per_host), on
//! [`Connector::close_idle`], and when the last clone of the connector is dropped.
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
mod pool;
mod response;
mod send;
mod tcp;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri};
use hyper_util::rt::TokioIo;
use tower_service::Service;

use crate::error::{BoxError, Error, Kind, LengthMismatch, Message, StaleConnection, TimedOut};

pub use dial::{Connected, Destination, Dial, DialError, Io};
pub use info::{ConnectionInfo, EffectiveUri, Framing, FreshConnection};
pub use pool::PoolStats;
pub use response::ResponseBody;
pub use tcp::{TcpConnecting, TcpDialer};

use pool::{Checkout, Conn, Handoff, Key, Pool, Slot};
use send::{Outgoing, RequestBodyError};

/// The base HTTP client service: a pool of HTTP/1.1 connections over a [`Dial`] service.
///
/// Cheap to clone; clones share one pool. See the [module docs](self).
pub struct Connector<D = TcpDialer> {
    shared: Arc<Shared<D>>,
}

struct Shared<D> {
    dialer: D,
    pool: Pool,
    connect_timeout: Option<Duration>,
    http1: hyper::client::conn::http1::Builder,
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
#[derive(Debug, Clone)]
pub struct Builder {
    pool: pool::Config,
    connect_timeout: Option<Duration>,
    max_header_size: Option<usize>,
    max_headers: Option<usize>,
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
            connect_timeout: Some(Duration::from_secs(30)),
            max_header_size: None,
            max_headers: None,
        }
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

    /// How long dialing a new connection may take, resolution included; `None` waits
    /// as long as the dialer does. Failing it is an error that is both
    /// [`is_connect()`](crate::Error::is_connect) and
    /// [`is_timeout()`](crate::Error::is_timeout).
    ///
    /// Default is 30 seconds.
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Builder {
        self.connect_timeout = timeout.into();
        self
    }

    /// The largest response head accepted, in bytes.
    ///
    /// Default is hyper's, about 400 KiB.
    pub fn max_header_size(mut self, bytes: usize) -> Builder {
        self.max_header_size = Some(bytes);
        self
    }

    /// The most header fields accepted in a response.
    ///
    /// Default is hyper's, 100.
    pub fn max_headers(mut self, n: usize) -> Builder {
        self.max_headers = Some(n);
        self
    }

    /// Builds a connector that dials TCP with a default [`TcpDialer`].
    pub fn build(self) -> Connector {
        self.build_with_dialer(TcpDialer::new())
    }

    /// Builds a connector that opens connections with `dialer` (Twisted's
    /// `Agent.usingEndpointFactory`).
    pub fn build_with_dialer<D: Dial>(self, dialer: D) -> Connector<D> {
        let mut http1 = hyper::client::conn::http1::Builder::new();
        if let Some(n) = self.max_header_size {
            http1.max_buf_size(n.max(8192));
        }
        if let Some(n) = self.max_headers {
            http1.max_headers(n);
        }
        Connector {
            shared: Arc::new(Shared {
                dialer,
                pool: Pool::new(self.pool),
                connect_timeout: self.connect_timeout,
                http1,
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
        let inner: Pin<Box<dyn Future<Output = _> + Send>> =
            match Prepared::new(req, shared.pool.config().persistent) {
                Ok(prepared) => Box::pin(async move {
                    let uri = prepared.uri.clone();
                    shared.send(prepared).await.map_err(|e| e.with_uri(uri))
                }),
                Err((err, uri)) => {
                    let err = match uri {
                        Some(uri) => err.with_uri(uri),
                        None => err,
                    };
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
    is_head: bool,
    fresh: bool,
    _body: std::marker::PhantomData<fn() -> B>,
}

fn has_forbidden_byte(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
}

impl<B> Prepared<B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Into<Bytes>,
    B::Error: Into<BoxError>,
{
    #[allow(clippy::result_large_err)]
    fn new(req: Request<B>, persistent: bool) -> Result<Prepared<B>, (Error, Option<Uri>)> {
        let (mut parts, body) = req.into_parts();
        let uri = parts.uri.clone();
        let fail = |msg: &'static str| (Error::invalid_request(msg), Some(uri.clone()));
        let Some(scheme) = uri.scheme() else {
            return Err(fail("the URI has no scheme: requests need an absolute URI"));
        };
        if *scheme != Scheme::HTTP {
            return Err(fail("unsupported URI scheme: only http is supported"));
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

        let default_port = authority.port_u16().is_none_or(|p| p == 80);
        let key_authority = if authority.port_u16() == Some(80) || authority.as_str().contains('@')
        {
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
        parts.uri = Uri::from(path);
        let key = Key {
            scheme: scheme.clone(),
            authority: key_authority,
        };
        Ok(Prepared {
            wire: Request::from_parts(parts, Outgoing::new(body, declared)),
            uri,
            key,
            host_added,
            connection_added,
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
        let (conn, reused) = match self.pool.checkout(&prepared.key, prepared.fresh) {
            Checkout::Reused(conn) => (conn, true),
            Checkout::Dial(slot) => (self.open(&prepared.key, slot).await?, false),
            Checkout::Wait(rx) => match rx.await {
                Ok(Handoff::Conn(conn)) => {
                    self.pool.count_handoff_reuse();
                    (conn, true)
                }
                Ok(Handoff::Slot(slot)) => (self.open(&prepared.key, slot).await?, false),
                Err(_) => {
                    return Err(Error::new(
                        Kind::Connect,
                        Some(Box::new(Message("the connection pool shut down"))),
                    ));
                }
            },
        };
        let Prepared {
            wire,
            uri,
            key,
            host_added,
            connection_added,
            is_head,
            ..
        } = prepared;
        let connected = conn.connected;
        let counters = conn.counters.clone();
        let mut pooled = self.pool.in_use(conn, key);
        let (read_before, written_before) = counters.snapshot();
        let sending = match pooled.conn_mut() {
            Some(conn) => conn.tx.try_send_request(wire),
            None => {
                return Err(Error::new(
                    Kind::Request,
                    Some(Box::new(Message("connection lost"))),
                ));
            }
        };
        let response = match sending.await {
            Ok(response) => response,
            Err(mut err) => {
                drop(pooled);
                let unsent = err.take_message().and_then(|wire| {
                    Prepared::<B>::restore(wire, uri.clone(), host_added, connection_added)
                });
                let (read_after, written_after) = counters.snapshot();
                return Err(classify(
                    err.into_error(),
                    reused,
                    written_after > written_before,
                    read_after > read_before,
                    unsent,
                ));
            }
        };

        let (mut parts, incoming) = response.into_parts();
        let framing = framing(is_head, parts.status, &parts.headers);
        let expected = match framing {
            Framing::Length(n) => Some(n),
            _ => None,
        };
        parts.extensions.insert(EffectiveUri(uri));
        parts.extensions.insert(ConnectionInfo {
            reused,
            local_addr: connected.local_addr,
            peer_addr: connected.peer_addr,
            version: parts.version,
        });
        parts.extensions.insert(framing);
        let body = ResponseBody::new(incoming, pooled, expected);
        Ok(Response::from_parts(parts, body))
    }

    /// Dials and handshakes a new connection under `slot`, within the connect timeout.
    async fn open(&self, key: &Key, mut slot: Slot) -> Result<Conn, Error> {
        let dial = async {
            let mut dialer = self.dialer.clone();
            std::future::poll_fn(|cx| dialer.poll_ready(cx))
                .await
                .map_err(|e| Error::from_boxed(e.into(), Kind::Connect))?;
            let io = dialer
                .dial(destination(key))
                .await
                .map_err(|e| Error::from_boxed(e.into(), Kind::Connect))?;
            let connected = io.connected();
            let counters = Arc::new(io::Counters::default());
            let io = TokioIo::new(io::Counted::new(io, counters.clone()));
            let (tx, conn) = self
                .http1
                .handshake::<_, Outgoing>(io)
                .await
                .map_err(|e| Error::new(Kind::Connect, Some(Box::new(e))))?;
            Ok::<_, Error>((tx, conn, connected, counters))
        };
        let (tx, conn, connected, counters) = match self.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, dial).await.map_err(|_| {
                Error::new(Kind::Connect, Some(Box::new(TimedOut::new("connecting"))))
            })??,
            None => dial.await?,
        };
        self.pool.count_opened();
        slot.opened();
        tokio::spawn(async move {
            // The connection lives until the server or hyper closes it, or every
            // handle to it is dropped; the slot goes with it.
            let _ = conn.await;
            drop(slot);
        });
        Ok(Conn {
            tx,
            connected,
            counters,
        })
    }
}

fn destination(key: &Key) -> Destination {
    let host = key.authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = key.authority.port_u16().unwrap_or(80);
    Destination::new(key.scheme.clone(), host, port)
}

/// Sorts a failed exchange into the error the caller sees.
fn classify<B: Send + 'static>(
    err: hyper::Error,
    reused: bool,
    written: bool,
    response_started: bool,
    unsent: Option<Request<B>>,
) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    let mut body_failed = false;
    while let Some(e) = source {
        if e.is::<LengthMismatch>() || e.is::<RequestBodyError>() {
            body_failed = true;
            break;
        }
        source = e.source();
    }
    if body_failed {
        return Error::new(Kind::Body, Some(Box::new(err)));
    }
    if err.is_parse() || err.is_parse_status() {
        return Error::new(Kind::Response, Some(Box::new(err)));
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

/// How the response body is delimited, by the rules hyper applies (RFC 9112 §6.3).
fn framing(is_head: bool, status: http::StatusCode, headers: &http::HeaderMap) -> Framing {
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
        Prepared::new(req, true).map_err(|(e, _)| e)
    }

    #[test]
    fn writes_origin_form_and_host() {
        let p = prepare("http://user:pw@Example.test:80/a/b?c=d").expect("valid");
        assert_eq!(p.wire.uri(), "/a/b?c=d");
        assert_eq!(p.wire.headers()[HOST], "Example.test");
        let p = prepare("http://[::1]:8080").expect("valid");
        assert_eq!(p.wire.uri(), "/");
        assert_eq!(p.wire.headers()[HOST], "[::1]:8080");
        assert_eq!(destination(&p.key).host(), "::1");
        assert_eq!(destination(&p.key).port(), 8080);
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
        for uri in ["/relative", "ftp://h.test/", "https://h.test/"] {
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
        let err = Prepared::new(req, true).err().expect("refused").0;
        assert!(err.is_body());
    }

    #[test]
    fn framing_follows_the_headers() {
        let mut h = http::HeaderMap::new();
        assert_eq!(
            framing(false, http::StatusCode::OK, &h),
            Framing::CloseDelimited
        );
        assert_eq!(framing(true, http::StatusCode::OK, &h), Framing::Length(0));
        assert_eq!(
            framing(false, http::StatusCode::NO_CONTENT, &h),
            Framing::Length(0)
        );
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("12"));
        assert_eq!(
            framing(false, http::StatusCode::OK, &h),
            Framing::Length(12)
        );
        h.insert(
            http::header::TRANSFER_ENCODING,
            HeaderValue::from_static("gzip, chunked"),
        );
        assert_eq!(framing(false, http::StatusCode::OK, &h), Framing::Chunked);
    }
}
