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

mod builder;
mod dial;
mod exchange;
mod info;
mod io;
mod limits;
mod open;
mod pool;
mod prepare;
mod proxy_error;
mod resolve;
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

pub use builder::Builder;
pub use dial::{Connected, Destination, Dial, DialError, Io};
pub use info::{ConnectionInfo, EffectiveUri, Framing, FreshConnection, RequestHead};
pub use limits::ResponseHeadTooLarge;
pub use pool::PoolStats;
pub use proxy_error::ProxyError;
pub use resolve::Name;
pub use response::ResponseBody;
#[cfg(feature = "tracing")]
pub(crate) use route::RouteLabel;
pub use route::{ProxyEndpoint, Route};
pub use tcp::{TcpConnecting, TcpDialer};
#[cfg(unix)]
pub use unix::{UnixConnecting, UnixDialer};

#[cfg(feature = "tracing")]
use pool::KeyOrigin;
use pool::{Checkout, Conn, Handoff, Key, Pool, Pooled, Slot, Tx};
use prepare::{Prepared, default_port};
use proxy_error::ErrorKind as ProxyErrorKind;
use send::{Outgoing, RequestBodyError};

/// The default [`connect_timeout`](Builder::connect_timeout): 30 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default [`tls_handshake_timeout`](Builder::tls_handshake_timeout): 10 seconds.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The default [`proxy_handshake_timeout`](Builder::proxy_handshake_timeout): 10 seconds.
pub const DEFAULT_PROXY_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
    http1_only: bool,
    #[cfg(feature = "http2")]
    http2: builder::Http2Settings,
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
}
