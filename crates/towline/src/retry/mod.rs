//! Retry a request once when a pooled connection turns out to be dead.
//!
//! A server may close an idle keep-alive connection at the very moment the client
//! reuses it. The request then fails through no fault of its own, and Twisted's pool
//! retries it once when that is safe (`retryAutomatically`). [`RetryStaleLayer`] does
//! the same as a layer, so it can be left out or put on another service.
//!
//! A request is sent again **once**, and only when its error holds a
//! [`StaleConnection`] and either
//!
//! - the request is known to be unsent: the inner service handed it back
//!   ([`take_unsent_request`](StaleConnection::take_unsent_request)), or it says no
//!   byte of it was written, or the server rejected it unprocessed
//!   ([`request_written`](StaleConnection::request_written) is `false`). Any method
//!   qualifies, since the server did nothing with it; a request that was not handed
//!   back is sent again from a copy, so its body must be replayable ([`ReplayBody`]);
//! - or it was sent but no byte of a response arrived, its method is idempotent (GET,
//!   HEAD, OPTIONS, TRACE, PUT, DELETE) and its body can be sent again.
//!
//! The connector reports a [`StaleConnection`] in two cases:
//!
//! - a request failed on a **reused** connection, which the server had closed or was
//!   closing while it sat idle. A request that fails on a fresh connection, HTTP/1.1
//!   or HTTP/2, for any other reason is never retried;
//! - on **HTTP/2, fresh or reused**, the server rejected the request before
//!   processing it: it reset the stream with `REFUSED_STREAM`, or sent a GOAWAY whose
//!   last stream id is below the request's stream (RFC 9113 §8.7), or the connection
//!   went away before hyper wrote the request and hyper handed it back. These count
//!   as unsent even on a brand-new connection, because the server provably did not
//!   process the request, so sending it once more cannot duplicate its effect. Only a
//!   rejection the server sent counts: a GOAWAY that h2 raises itself after a
//!   protocol error may follow a request the server already processed, and is not
//!   retried.
//!
//! The retry carries the [`FreshConnection`](crate::connect::FreshConnection)
//! extension, so the connector sends it on a new connection, as Twisted does. A
//! retried request is never retried again, and dropping the response future ends
//! everything. Other errors pass through unchanged.
//!
//! # Example
//!
//! ```
//! use tower::ServiceBuilder;
//! use towline::{body::{Body, read_body}, connect::Connector, retry::RetryStaleLayer};
//! use tower::ServiceExt;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), towline::Error> {
//! # let server = towline_test::TestServer::start(|_| towline_test::Reply::text("ok")).await;
//! let client = ServiceBuilder::new()
//!     .layer(RetryStaleLayer::new())
//!     .service(Connector::new());
//! let request = http::Request::get(server.url("/")).body(Body::empty()).expect("valid");
//! let response = client.oneshot(request).await?;
//! assert_eq!(read_body(response.into_body()).await?, "ok");
//! # Ok(()) }
//! ```
//!
//! # On other services
//!
//! The layer works on any `Service<http::Request<B>>` whose error implements
//! [`StaleError`]. It is implemented for [`towline::Error`](crate::Error) and for
//! [`BoxError`](crate::BoxError); both find a [`StaleConnection`] anywhere in their
//! `source()` chain. A service of your own opts in by failing with a
//! [`StaleConnection`] (or an error wrapping one) when a reused connection died:
//!
//! ```
//! use towline::error::StaleConnection;
//! # let request = http::Request::new(String::from("payload"));
//! // The request never reached the socket: give it back so it can be sent unchanged.
//! let err: towline::BoxError =
//!     Box::new(StaleConnection::new(false, false).with_unsent_request(request));
//! ```

mod future;
mod layer;
mod service;

use std::error::Error as StdError;

use http::Method;

pub use crate::body::ReplayBody;
pub use crate::error::StaleConnection;
pub use future::ResponseFuture;
pub use layer::RetryStaleLayer;
pub use service::RetryStale;

/// An error that can tell whether it is a failure on a stale pooled connection.
///
/// See the [module docs](self) for how another service's error opts in.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not say whether a pooled connection was stale",
    note = "implement `towline::retry::StaleError` for it, or use an error type that wraps `towline::error::StaleConnection`"
)]
pub trait StaleError {
    /// The [`StaleConnection`] this error is or wraps, if any.
    fn stale_connection(&self) -> Option<&StaleConnection>;
}

impl StaleError for crate::Error {
    fn stale_connection(&self) -> Option<&StaleConnection> {
        crate::Error::stale_connection(self)
    }
}

impl StaleError for crate::BoxError {
    fn stale_connection(&self) -> Option<&StaleConnection> {
        find_stale(&**self)
    }
}

impl StaleError for StaleConnection {
    fn stale_connection(&self) -> Option<&StaleConnection> {
        Some(self)
    }
}

/// Finds a [`StaleConnection`] in `err` or its `source()` chain, a towline
/// [`Error`](crate::Error) included.
pub fn find_stale<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a StaleConnection> {
    let mut next = Some(err);
    while let Some(err) = next {
        if let Some(stale) = err.downcast_ref::<StaleConnection>() {
            return Some(stale);
        }
        next = err.source();
    }
    None
}

/// Methods whose requests may be sent twice with the effect of once (RFC 9110 §9.2.2).
pub(crate) fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// A copy of `req` to send again, when its body can be sent again.
///
/// Any method gets one: a copy of a non-idempotent request is only used when the
/// error says the request was not written or not processed (see `future.rs`).
pub(crate) fn backup<B: ReplayBody>(req: &http::Request<B>) -> Option<http::Request<B>> {
    let body = req.body().try_replay()?;
    let mut copy = http::Request::new(body);
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    *copy.extensions_mut() = req.extensions().clone();
    Some(copy)
}

#[cfg(test)]
mod tests;
