//! The `Client` facade: every layer stacked once, with good defaults.
//!
//! [`Client`] is what most programs want: one cheaply cloned, `Send + Sync` value that
//! follows redirects, keeps cookies, decodes gzip and deflate (and br and zstd with
//! their features), retries a request once when a pooled connection turns out to be
//! dead, verifies TLS, pools connections, and sends a
//! `User-Agent` of `towline/<version>`. It is itself a
//! `tower::Service<http::Request<Body>>`, so tower-http's layers and tower's utilities
//! wrap it like any other service.
//!
//! The stack it builds, top to bottom (see `DESIGN.md`): request timeout and default
//! headers → [`Decompression`](crate::decompress::Decompression) →
//! [`FollowRedirect`](crate::redirect::FollowRedirect) →
//! [`Cookies`](crate::cookie::Cookies) (a [`Jar`](crate::cookie::Jar) of its own) →
//! [`Proxy`](crate::proxy::Proxy) (when configured) →
//! [`RetryStale`](crate::retry::RetryStale) → [`Connector`].
//! It is boxed once, here; the layers themselves never box.
//!
//! # Defaults
//!
//! Every default of [`Client::new()`] (and of [`ClientBuilder::new()`]), in one place.
//! Every wait but the whole request's has a bound, as in Go's `DefaultTransport`; no
//! limit fails a legitimate response that is streamed.
//!
//! | what | default | set with |
//! | --- | --- | --- |
//! | whole request, sending to the end of the body | none | [`timeout`](ClientBuilder::timeout), [`RequestBuilder::timeout`] |
//! | resolving and dialing, every address together | 30 s | [`connect_timeout`](ClientBuilder::connect_timeout) |
//! | each TLS handshake (origin, `https://` proxy) | 10 s | [`tls_handshake_timeout`](ClientBuilder::tls_handshake_timeout) |
//! | proxy handshake (`CONNECT`, SOCKS5) | 10 s | [`proxy_handshake_timeout`](ClientBuilder::proxy_handshake_timeout) |
//! | silence while waiting for the response head, and between body chunks | none | [`read_timeout`](ClientBuilder::read_timeout) |
//! | body read into memory (`bytes`, `text`, `json`), after decoding | 256 MiB | [`max_response_body`](ClientBuilder::max_response_body) |
//! | streamed body (`chunk`, the body as an `http_body::Body`), decoded or not | no limit | [`decoded_limit`](ClientBuilder::decoded_limit) (decoded bodies) |
//! | response head | hyper's: about 400 KiB, 100 fields | [`connector`](ClientBuilder::connector) |
//! | idle connections kept per host | 32 | [`max_idle_per_host`](ClientBuilder::max_idle_per_host) |
//! | how long an idle connection is kept | 90 s | [`pool_idle_timeout`](ClientBuilder::pool_idle_timeout) |
//! | connections per host | no limit | [`max_connections_per_host`](ClientBuilder::max_connections_per_host) |
//! | connection reuse | on | [`persistent`](ClientBuilder::persistent) |
//! | retry on a stale pooled connection | once, when safe | [`retry_stale`](ClientBuilder::retry_stale) |
//! | redirects | [`Strict`](RedirectPolicy::Strict), at most 20, https → http followed without credentials | [`redirect`](ClientBuilder::redirect), [`max_redirects`](ClientBuilder::max_redirects), [`https_downgrade`](ClientBuilder::https_downgrade) |
//! | decompression | on: gzip, deflate (and br, zstd with their features), up to 3 stacked codings | [`decompression`](ClientBuilder::decompression), [`gzip`](ClientBuilder::gzip), [`deflate`](ClientBuilder::deflate), `br`, `zstd`, `decompression_with` |
//! | cookies | on, a new in-memory jar per client | [`cookies`](ClientBuilder::cookies), [`cookie_jar`](ClientBuilder::cookie_jar) |
//! | proxy | none; the environment is read only when asked | [`proxy`](ClientBuilder::proxy), [`proxy_from_env`](ClientBuilder::proxy_from_env) |
//! | TLS | verification on, bundled web PKI roots, ALPN `h2` and `http/1.1` | [`tls`](ClientBuilder::tls), [`tls_config`](ClientBuilder::tls_config) |
//! | headers | `User-Agent: towline/<version>` | [`user_agent`](ClientBuilder::user_agent), [`default_headers`](ClientBuilder::default_headers) |
//!
//! Timeouts fail with an error whose [`is_timeout()`](Error::is_timeout) is true; those
//! of the connect, TLS and proxy phases are also [`is_connect()`](Error::is_connect),
//! and the [`TimedOut`](crate::error::TimedOut) in the `source()` chain names the
//! setting that fired.
//!
//! # Example
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), towline::Error> {
//! # let server = towline_test::TestServer::start(|req| match req.path() {
//! #     "/old" => towline_test::Reply::new(301).header("location", "/new"),
//! #     _ => towline_test::Reply::text("{\"hello\":\"world\"}"),
//! # }).await;
//! # let url = server.url("/old");
//! let client = towline::Client::new();
//! let response = client.get(&url).header("accept", "application/json").send().await?;
//! assert_eq!(response.status(), 200);
//! assert!(response.effective_uri().path().ends_with("/new"));
//! assert_eq!(response.history().map(|h| h.len()), Some(1));
//! let text = response.text().await?;
//! assert_eq!(text, r#"{"hello":"world"}"#);
//! # Ok(()) }
//! ```
//!
//! Configured:
//!
//! ```
//! use std::time::Duration;
//! use towline::client::{Client, RedirectPolicy};
//!
//! # fn main() -> Result<(), towline::Error> {
//! let client = Client::builder()
//!     .timeout(Duration::from_secs(10))
//!     .connect_timeout(Duration::from_secs(3))
//!     .read_timeout(Duration::from_secs(5))
//!     .redirect(RedirectPolicy::BrowserLike)
//!     .max_redirects(5)
//!     .max_idle_per_host(8)
//!     .user_agent("my-app/1.0")
//!     .build()?;
//! # let _ = client;
//! # Ok(()) }
//! ```
//!
//! # Limits
//!
//! | limit | default | setter |
//! | --- | --- | --- |
//! | response head, bytes (HTTP/1.1 head; HTTP/2 `SETTINGS_MAX_HEADER_LIST_SIZE`) | 256 KiB | [`ClientBuilder::max_header_size`] |
//! | response header fields (HTTP/1.1) | 1,000 | [`ClientBuilder::max_headers`] |
//!
//! A head over either limit fails the request with an error that is
//! [`is_response()`](crate::Error::is_response), whose source is a
//! [`ResponseHeadTooLarge`](crate::connect::ResponseHeadTooLarge) naming the limit.

mod body;
mod builder;
mod connection;
mod decoding;
mod errors;
#[cfg(feature = "redirect")]
pub(crate) mod redirects;
mod request;
mod response;
mod stack;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{HeaderMap, Method, Request};
use tower_service::Service;

use crate::body::Body;
use crate::connect::{Connector, PoolStats};
use crate::error::Error;
use crate::redact::Redaction;
use crate::uri::IntoUri;

pub use body::ResponseBody;
pub use builder::{ClientBuilder, DEFAULT_MAX_RESPONSE_BODY, RedirectPolicy};
pub use request::RequestBuilder;
pub use response::{Response, Upgraded};

use stack::{BoxedResponse, Stack};

/// An HTTP client with every layer on. See the [module docs](self).
///
/// Cheap to clone: clones share the connection pool and the configuration.
#[derive(Clone)]
pub struct Client {
    stack: Arc<dyn Stack>,
    shared: Arc<Shared>,
}

/// What every request of a client shares.
struct Shared {
    pool: Box<dyn PoolHandle>,
    default_headers: HeaderMap,
    timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    max_response_body: Option<u64>,
    https_only: bool,
    #[cfg(feature = "cookies")]
    jar: Option<crate::cookie::Jar>,
    /// How output shows URIs; travels with each request when not the default.
    redaction: crate::redact::Redaction,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("timeout", &self.shared.timeout)
            .field("read_timeout", &self.shared.read_timeout)
            .field("pool", &self.shared.pool.pool_stats())
            .finish_non_exhaustive()
    }
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

/// The client's view of its connector's pool, whatever the dialer.
pub(crate) trait PoolHandle: Send + Sync + 'static {
    fn pool_stats(&self) -> PoolStats;
    fn close_idle(&self);
}

impl<D: Send + Sync + 'static> PoolHandle for Connector<D> {
    fn pool_stats(&self) -> PoolStats {
        Connector::pool_stats(self)
    }

    fn close_idle(&self) {
        Connector::close_idle(self)
    }
}

/// A per-request timeout, set by [`RequestBuilder::timeout`]; it replaces the client's.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestTimeout(pub(crate) Duration);

impl Client {
    /// A client with every default: see [`ClientBuilder`] for what they are.
    pub fn new() -> Client {
        // The defaults take no input that could be refused.
        Client::builder()
            .build()
            .expect("the default client configuration always builds")
    }

    /// A builder to configure every layer.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// Starts a GET request.
    pub fn get(&self, uri: impl IntoUri) -> RequestBuilder {
        self.request(Method::GET, uri)
    }

    /// Starts a POST request.
    pub fn post(&self, uri: impl IntoUri) -> RequestBuilder {
        self.request(Method::POST, uri)
    }

    /// Starts a PUT request.
    pub fn put(&self, uri: impl IntoUri) -> RequestBuilder {
        self.request(Method::PUT, uri)
    }

    /// Starts a PATCH request.
    pub fn patch(&self, uri: impl IntoUri) -> RequestBuilder {
        self.request(Method::PATCH, uri)
    }

    /// Starts a DELETE request.
    pub fn delete(&self, uri: impl IntoUri) -> RequestBuilder {
        self.request(Method::DELETE, uri)
    }

    /// Starts a HEAD request.
    pub fn head(&self, uri: impl IntoUri) -> RequestBuilder {
        self.request(Method::HEAD, uri)
    }

    /// Starts a request with any method.
    ///
    /// `uri` is a `&str`, `String`, [`Url`](crate::Url) or `http::Uri`: strings are read
    /// by the WHATWG URL Standard, as browsers read them (see [`crate::uri`]), and a
    /// URL it refuses makes [`send`](RequestBuilder::send) fail with an error whose
    /// [`is_invalid_request()`](Error::is_invalid_request) is true.
    pub fn request(&self, method: Method, uri: impl IntoUri) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, uri)
    }

    /// Sends a request built elsewhere and returns the response with its helpers.
    pub async fn execute(&self, request: Request<Body>) -> Result<Response, Error> {
        self.dispatch(request).await.map(Response::new)
    }

    /// Counters of the connection pool.
    pub fn pool_stats(&self) -> PoolStats {
        self.shared.pool.pool_stats()
    }

    /// The client's cookie jar, unless cookies are off.
    #[cfg(feature = "cookies")]
    pub fn cookie_jar(&self) -> Option<&crate::cookie::Jar> {
        self.shared.jar.as_ref()
    }

    /// Closes every idle pooled connection now.
    pub fn close_idle(&self) {
        self.shared.pool.close_idle();
    }

    /// How this client's output shows URIs.
    pub(crate) fn redaction(&self) -> &Redaction {
        &self.shared.redaction
    }

    /// Runs one request through the stack with the client's defaults and timeouts.
    fn dispatch(&self, mut request: Request<Body>) -> ResponseFuture {
        if self.shared.https_only && request.uri().scheme() != Some(&http::uri::Scheme::HTTPS) {
            let err = Error::invalid_request("https_only: the URL is not an https URL")
                .with_uri(request.uri().clone())
                .with_redaction(&self.shared.redaction);
            return ResponseFuture {
                inner: Box::pin(std::future::ready(Err(err))),
            };
        }
        if let Err(err) = request::userinfo_to_basic(&mut request) {
            let err = err
                .with_uri(request.uri().clone())
                .with_redaction(&self.shared.redaction);
            return ResponseFuture {
                inner: Box::pin(std::future::ready(Err(err))),
            };
        }
        for name in self.shared.default_headers.keys() {
            if !request.headers().contains_key(name) {
                for value in self.shared.default_headers.get_all(name) {
                    request.headers_mut().append(name.clone(), value.clone());
                }
            }
        }
        let redaction = &self.shared.redaction;
        if !redaction.is_default() && request.extensions().get::<Redaction>().is_none() {
            request.extensions_mut().insert(redaction.clone());
        }
        let redaction = Redaction::of(request.extensions()).clone();
        let timeout = request
            .extensions()
            .get::<RequestTimeout>()
            .map(|t| t.0)
            .or(self.shared.timeout);
        let params = stack::Params {
            deadline: timeout.map(|t| (tokio::time::Instant::now() + t, request.uri().clone())),
            read_timeout: self.shared.read_timeout,
            redaction,
            max_buffered: self.shared.max_response_body,
        };
        let inner = self.stack.call(request, params);
        ResponseFuture { inner }
    }
}

impl Service<Request<Body>> for Client {
    type Response = http::Response<ResponseBody>;
    type Error = Error;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> ResponseFuture {
        self.dispatch(request)
    }
}

/// The future of a [`Client`] call.
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture {
    inner: BoxedResponse,
}

impl Future for ResponseFuture {
    type Output = Result<http::Response<ResponseBody>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("client::ResponseFuture")
    }
}

#[cfg(test)]
mod tests;
