//! Retry a request once when a pooled connection turns out to be dead.
//!
//! A server may close an idle keep-alive connection at the very moment the client
//! reuses it. The request then fails through no fault of its own, and Twisted's pool
//! retries it once when that is safe (`retryAutomatically`). [`RetryStaleLayer`] does
//! the same as a layer, so it can be left out or put on another service.
//!
//! A request is sent again **once**, and only when it failed on a **reused** connection
//! (the error holds a [`StaleConnection`]) and either
//!
//! - the inner service handed the request back unsent — any method qualifies, since
//!   the server saw nothing; or
//! - it was sent but no byte of a response arrived, its method is idempotent (GET,
//!   HEAD, OPTIONS, TRACE, PUT, DELETE) and its body can be sent again
//!   ([`ReplayBody`]).
//!
//! The retry carries the [`FreshConnection`](crate::connect::FreshConnection)
//! extension, so the connector sends it on a new connection, as Twisted does. A failure
//! on a fresh connection is never retried, a retried request is never retried again,
//! and dropping the response future ends everything. Other errors pass through
//! unchanged.
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

/// A copy of `req` to send again, when its method and body allow it.
pub(crate) fn backup<B: ReplayBody>(req: &http::Request<B>) -> Option<http::Request<B>> {
    if !is_idempotent(req.method()) {
        return None;
    }
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
