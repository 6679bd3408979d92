//! towline is an HTTP client built as a stack of [tower] middleware.
//!
//! At the bottom sits the [`Connector`](connect::Connector), a
//! `tower::Service<http::Request<B>>` that pools HTTP/1.1 and HTTP/2 connections over
//! any dialer, with rustls for `https://`. Redirects, cookies, decompression, proxies
//! and retries are layers stacked on top of it (or on any other HTTP service) with
//! `tower::ServiceBuilder`. Most programs use the `Client` (feature `client`), which
//! stacks every layer once with good defaults.
//!
//! | Twisted | towline |
//! | --- | --- |
//! | `Agent` + `HTTPConnectionPool` | [`connect::Connector`] |
//! | `Agent.usingEndpointFactory` | [`connect::Dial`] |
//! | `IBodyProducer`, `FileBodyProducer` | [`body::Body`] |
//! | `readBody` | [`body::read_body`] |
//! | `RedirectAgent`, `BrowserLikeRedirectAgent` | `redirect::FollowRedirectLayer` with `Strict`, `BrowserLike` |
//! | `Response.previousResponse` | `redirect::RedirectHistory` |
//! | `CookieAgent` + `CookieJar` | `cookie::CookieLayer` + `cookie::Jar` |
//! | `ContentDecoderAgent` + `GzipDecoder` | `decompress::DecompressionLayer` + `Decoder` |
//! | `ProxyAgent` | `proxy::ProxyLayer` |
//! | `HTTPConnectionPool.retryAutomatically` | `retry::RetryStaleLayer` |
//! | `BrowserLikePolicyForHTTPS.creatorForNetloc` | `tls::TlsPolicy` |
//! | `IClientRequest.absoluteURI` | [`connect::EffectiveUri`] |
//! | `PotentialDataLoss` | [`connect::Framing::CloseDelimited`] |
//!
//! ```
//! use towline::{body::{Body, read_body}, connect::Connector};
//! use tower::ServiceExt;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), towline::Error> {
//! # let server = towline_test::TestServer::start(|_| towline_test::Reply::text("hi")).await;
//! let connector = Connector::new();
//! let request = http::Request::get(server.url("/")).body(Body::empty()).expect("valid");
//! let response = connector.oneshot(request).await?;
//! let body = read_body(response.into_body()).await?;
//! assert_eq!(&body[..], b"hi");
//! # Ok(()) }
//! ```
//!
//! # Tracing
//!
//! With the `tracing` feature (off by default, part of `full`), towline emits events for
//! the [`tracing`](https://docs.rs/tracing) crate. Without a subscriber each costs a
//! check of the level filter; without the feature there is no code and no dependency.
//! Every layer has one target:
//!
//! | target | `debug` | `trace` |
//! | --- | --- | --- |
//! | `towline::connect` | a connection dialed (destination, peer, time), TLS established (version, ALPN), ready as `h2` or `http/1.1`, a pooled one reused, one closed or discarded and why, a connect failure | waits in the pool, the proxy handshake, each response head |
//! | `towline::retry` | a request sent again after a stale connection and why, or not and why | |
//! | `towline::redirect` | a hop followed (status, from, to, method, credentials stripped), a redirect refused or not followed and why | |
//! | `towline::cookie` | a `Set-Cookie` rejected (cookie name, host, reason) | a cookie stored, cookies attached to a request |
//! | `towline::decompress` | the codings decoded, a decoding failure | a coding passed through undecoded |
//! | `towline::proxy` | the route chosen for a request | |
//!
//! Nothing is logged at `warn` or above: failures reach the caller as errors.
//!
//! Events never hold the value of a header, a cookie or a credential: not
//! `Authorization`, `Proxy-Authorization`, `Cookie` or `Set-Cookie` values, nor proxy
//! passwords. URIs are shown as every error shows them, by [`redact`]: userinfo as
//! `***` whole and the values of secret-looking query parameters (`access_token`,
//! `X-Amz-Signature`, …; the list is the client's) as `***`.
//!
//! [tower]: https://docs.rs/tower

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Writes `get_ref`, `get_mut` and `into_inner` for a middleware service whose inner
/// service is its field `inner` of type `S`.
#[allow(unused_macros)] // every middleware that uses it is behind a feature
macro_rules! inner_service_accessors {
    () => {
        /// The inner service.
        pub fn get_ref(&self) -> &S {
            &self.inner
        }

        /// The inner service, mutably.
        pub fn get_mut(&mut self) -> &mut S {
            &mut self.inner
        }

        /// Unwraps the inner service.
        pub fn into_inner(self) -> S {
            self.inner
        }
    };
}

/// `tracing::debug!` with the `tracing` feature, nothing without it.
#[cfg(feature = "tracing")]
macro_rules! debug {
    ($($arg:tt)+) => {
        ::tracing::debug!($($arg)+)
    };
}

/// `tracing::debug!` with the `tracing` feature, nothing without it.
#[cfg(not(feature = "tracing"))]
macro_rules! debug {
    ($($arg:tt)+) => {{}};
}

/// `tracing::trace!` with the `tracing` feature, nothing without it.
#[cfg(feature = "tracing")]
macro_rules! trace {
    ($($arg:tt)+) => {
        ::tracing::trace!($($arg)+)
    };
}

/// `tracing::trace!` with the `tracing` feature, nothing without it.
#[cfg(not(feature = "tracing"))]
macro_rules! trace {
    ($($arg:tt)+) => {{}};
}

pub mod body;
#[cfg(feature = "client")]
pub mod client;
pub mod connect;
#[cfg(feature = "cookies")]
pub mod cookie;
#[cfg(feature = "decompress")]
pub mod decompress;
pub mod error;
pub mod multipart;
#[cfg(feature = "proxy")]
pub mod proxy;
pub mod redact;
#[cfg(feature = "redirect")]
pub mod redirect;
#[cfg(feature = "retry")]
pub mod retry;
#[cfg(feature = "tls")]
pub mod tls;
pub mod uri;

pub use body::Body;
#[cfg(feature = "client")]
pub use client::{Client, Response};
pub use error::{BoxError, Error, Kind, Report, Result};
pub use uri::{IntoUri, Url};

/// The causes the modules define that tell an [`Error`] their [`Kind`]
/// (`error::Classify`): listed here, where the modules meet, so that `error` names none
/// of them.
impl error::Causes for Error {
    const PROBES: &'static [error::Probe] = &[
        error::probe::<connect::DialError>,
        error::probe::<connect::ProxyError>,
        #[cfg(feature = "decompress")]
        error::probe::<decompress::DecodeError>,
        #[cfg(feature = "decompress")]
        error::probe::<decompress::DecodedTooLarge>,
        #[cfg(feature = "redirect")]
        error::probe::<redirect::TooManyRedirects>,
        #[cfg(feature = "redirect")]
        error::probe::<redirect::UnsupportedScheme>,
        #[cfg(feature = "redirect")]
        error::probe::<redirect::DowngradeRefused>,
        #[cfg(feature = "redirect")]
        error::probe::<redirect::ConflictingLocations>,
        #[cfg(all(feature = "client", feature = "redirect"))]
        error::probe::<client::redirects::HttpsOnlyRefused>,
    ];
}

/// The Rust blocks of the repository's README, compiled and run as doc tests.
#[cfg(all(
    doctest,
    feature = "client",
    feature = "decompress",
    feature = "redirect",
    feature = "retry"
))]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
