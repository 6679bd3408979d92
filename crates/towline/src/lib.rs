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
//! [tower]: https://docs.rs/tower

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

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

pub mod body;
#[cfg(feature = "client")]
pub mod client;
pub mod connect;
#[cfg(feature = "cookies")]
pub mod cookie;
#[cfg(feature = "decompress")]
pub mod decompress;
pub mod error;
#[cfg(feature = "proxy")]
pub mod proxy;
#[cfg(feature = "redirect")]
pub mod redirect;
#[cfg(feature = "retry")]
pub mod retry;
#[cfg(feature = "tls")]
pub mod tls;

pub use body::Body;
#[cfg(feature = "client")]
pub use client::{Client, Response};
pub use error::{BoxError, Error, Kind, Result};
