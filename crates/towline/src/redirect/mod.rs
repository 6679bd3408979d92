//! Following redirects, as Twisted's `RedirectAgent` and `BrowserLikeRedirectAgent` do.
//!
//! [`FollowRedirectLayer`] wraps any HTTP service. When a response is a redirect that
//! its [`Policy`] follows, the layer sends the next request itself and hands the caller
//! the final response, with two extensions:
//!
//! - [`EffectiveUri`](crate::connect::EffectiveUri): the URI of the last hop (set on
//!   every response, redirected or not);
//! - [`RedirectHistory`]: every earlier hop with its URI, method, status and headers
//!   (Twisted's `previousResponse` chain), present only when a redirect was followed.
//!
//! Cookies set by one hop reach the next when the cookie layer sits below this one, as
//! it does in towline's stack: each hop goes through it.
//!
//! # Example
//!
//! ```
//! use tower::{ServiceBuilder, ServiceExt};
//! use towline::body::{Body, read_body};
//! use towline::connect::{Connector, EffectiveUri};
//! use towline::redirect::{FollowRedirectLayer, RedirectHistory};
//! # use towline_test::{Reply, TestServer};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), towline::BoxError> {
//! # let server = TestServer::start(|req| match req.path() {
//! #     "/old" => Reply::new(301).header("Location", "/new"),
//! #     _ => Reply::text("moved here"),
//! # }).await;
//!
//! let client = ServiceBuilder::new()
//!     .layer(FollowRedirectLayer::new())
//!     .service(Connector::new());
//!
//! let request = http::Request::get(server.url("/old")).body(Body::empty())?;
//! let response = client.oneshot(request).await?;
//!
//! let effective = response.extensions().get::<EffectiveUri>().map(|u| u.0.path());
//! assert_eq!(effective, Some("/new"));
//! let history = response.extensions().get::<RedirectHistory>().expect("redirected");
//! assert_eq!(history.hops()[0].status(), 301);
//! assert_eq!(read_body(response.into_body()).await?, "moved here");
//! # Ok(()) }
//! ```
//!
//! # Configuring
//!
//! Browser rules, at most 5 redirects, no https-to-http downgrade, and one more header
//! treated as a credential; the failures the layer adds are downcast from the
//! [`BoxError`](crate::BoxError):
//!
//! ```
//! use tower::{ServiceBuilder, ServiceExt};
//! use towline::body::Body;
//! use towline::connect::Connector;
//! use towline::redirect::{BrowserLike, FollowRedirectLayer, TooManyRedirects};
//! # use towline_test::{Reply, TestServer};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), towline::BoxError> {
//! # let server = TestServer::start(|req| match req.path() {
//! #     "/a" => Reply::new(302).header("Location", "/b"),
//! #     _ => Reply::new(302).header("Location", "/a"),
//! # }).await;
//!
//! let client = ServiceBuilder::new()
//!     .layer(
//!         FollowRedirectLayer::with_policy(BrowserLike)
//!             .max_redirects(5)
//!             .https_downgrade(false)
//!             .sensitive_header(http::HeaderName::from_static("x-api-key")),
//!     )
//!     .service(Connector::new());
//!
//! // This server sends /a to /b and /b back to /a.
//! let request = http::Request::post(server.url("/a"))
//!     .header("x-api-key", "secret")
//!     .body(Body::from("form=1"))?;
//! let err = client.oneshot(request).await.expect_err("a loop");
//! let too_many = err.downcast_ref::<TooManyRedirects>().expect("the limit");
//! assert_eq!(too_many.limit(), 5);
//! assert_eq!(too_many.history().len(), 6);
//! # Ok(()) }
//! ```
//!
//! A closure makes a policy too, see [`policy::from_fn`].
//!
//! # What is followed
//!
//! Only 301, 302, 303, 307 and 308 with a usable `Location` reach the policy; anything
//! else, 300 and 304 included, is handed to the caller as it is. [`Strict`] (the
//! default) and [`BrowserLike`] decide by status and method as the table in the
//! [`policy`] module shows. When a redirect keeps the method, the body is sent again,
//! which needs a body that can be copied ([`ReplayBody`](crate::body::ReplayBody));
//! when it cannot, the redirect response is handed back. When a redirect turns the
//! request into GET, the body and its `Content-*` and `Transfer-Encoding` headers go.
//! The empty body of such a GET is `B::default()`, hence the `B: Default` bound
//! (towline's [`Body`](crate::Body) is empty by default).
//!
//! # Where it goes
//!
//! `Location` is resolved against the URI of the hop that answered as browsers resolve
//! it, by the WHATWG URL Standard ([`crate::uri`]): `../x`, `//host/x`, `?query`,
//! `\\host\x` (backslashes are slashes in http and https), IDN hosts as A-labels, dot
//! segments removed, spaces and non-ASCII percent-encoded, bytes that are not UTF-8
//! encoded one by one. Userinfo in a `Location` is dropped. A fragment in `Location` is
//! kept (and inherited by later hops without one) in [`RedirectHistory::fragment`],
//! since `http::Uri` cannot hold one and servers never see it. A target whose scheme is
//! not http or https fails with [`UnsupportedScheme`]; a `Location` the standard
//! refuses (no host, a bad port, a host IDNA refuses) is not usable and the response is
//! handed back.
//!
//! An empty or blank `Location` is not a redirect: the response is handed back with its
//! body, as curl does. Two `Location` headers that differ fail with
//! [`ConflictingLocations`], as browsers refuse them; identical duplicates are followed.
//!
//! At most [`max_redirects`](FollowRedirectLayer::max_redirects) redirects are
//! followed (20 by default); the next fails with [`TooManyRedirects`], which carries the
//! history. That is also how a loop ends: a redirect back to an earlier URI is allowed,
//! because servers do that after setting a cookie.
//!
//! # Credentials
//!
//! `Authorization`, `Proxy-Authorization`, `Cookie` and the headers named with
//! [`sensitive_header`](FollowRedirectLayer::sensitive_header) are removed as soon as a
//! redirect leaves the origin (scheme, host, port) of the *first* request, and stay
//! removed on every later hop, even one back on the first origin. Host names are
//! compared as written: `localhost` and `127.0.0.1` are different origins. A `Host`
//! header set by the caller is removed when the authority changes. A redirect from
//! https to http is followed by default (without credentials, being cross-origin);
//! [`https_downgrade(false)`](FollowRedirectLayer::https_downgrade) makes it fail with
//! [`DowngradeRefused`]. A policy's [`on_follow`](Policy::on_follow) hook runs after the
//! removal, so it may deliberately put a credential back.
//!
//! # Connections and cost
//!
//! Before following, the redirect response's body is read and thrown away only when
//! that can finish at once, so that with towline's connector its connection goes back
//! to the pool: it is delimited (a `Content-Length` of at most 64 KiB, or chunked) and
//! the connection stays open after it (not `Connection: close`, not HTTP/1.0 without
//! keep-alive). Even then, reading waits at most 100 ms for the bytes and stops after
//! 64 KiB. Any other body — close-delimited, longer, still arriving, or failing — is
//! dropped, which
//! closes its connection: a redirect is never held up by a server that keeps its socket
//! open after a body it never ends.
//!
//! The inner service consumes each request, so before the first hop the layer keeps
//! what a redirect would need: the method and URI (reference-counted, no allocation), a
//! clone of the header map and of the extensions (neither allocates when empty), and,
//! when the policy [may resend the body](Policy::resends_body), one
//! [`try_replay`](crate::body::ReplayBody::try_replay) copy of it (a reference count
//! for towline's `Body` and `Bytes`, a full copy for `String` and `Vec<u8>`; `Strict`
//! takes none for methods other than GET and HEAD). A response that is not a redirect
//! then costs a status check and the `EffectiveUri` insertion.
//!
//! # Errors
//!
//! The service's error is [`BoxError`](crate::BoxError): the inner service's error, or
//! one of [`TooManyRedirects`], [`UnsupportedScheme`], [`DowngradeRefused`],
//! [`ConflictingLocations`], or the
//! error a policy returned with [`Action::Fail`]. In a towline
//! [`Error`](crate::Error), [`is_redirect()`](crate::Error::is_redirect) recognises
//! this module's errors.

mod error;
mod future;
mod history;
mod layer;
pub mod policy;
mod resolve;
mod service;

pub use error::{ConflictingLocations, DowngradeRefused, TooManyRedirects, UnsupportedScheme};
pub use future::ResponseFuture;
pub use history::{Hop, RedirectHistory};
pub use layer::FollowRedirectLayer;
pub use policy::{Action, Attempt, BrowserLike, Policy, Standard, Strict};
pub use service::FollowRedirect;

#[cfg(test)]
mod tests;
