//! The cookie service.

use std::task::{Context, Poll};

use http::header::COOKIE;
use http::{Request, Response};
use tower_service::Service;

use super::future::ResponseFuture;
use super::{CookieLayer, CookieStore, Jar};

/// Adds the store's `Cookie` header to each request and stores each response's
/// `Set-Cookie` headers.
///
/// Made by [`CookieLayer`], or by [`Cookies::new`]. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct Cookies<S, C = Jar> {
    inner: S,
    store: C,
}

impl<S, C> Cookies<S, C> {
    /// Wraps `inner`, keeping cookies in `store`.
    pub fn new(inner: S, store: C) -> Cookies<S, C>
    where
        C: CookieStore + Clone,
    {
        Cookies::from_parts(inner, store)
    }

    pub(super) fn from_parts(inner: S, store: C) -> Cookies<S, C> {
        Cookies { inner, store }
    }

    /// The store.
    pub fn store(&self) -> &C {
        &self.store
    }

    inner_service_accessors!();
}

impl<C> Cookies<(), C> {
    /// A layer that wraps services in `Cookies`; the same as [`CookieLayer::new`].
    ///
    /// (Defined on `Cookies<(), C>` so that `Cookies::layer(jar)` needs no type
    /// annotation.)
    pub fn layer(store: C) -> CookieLayer<C>
    where
        C: CookieStore + Clone,
    {
        CookieLayer::new(store)
    }
}

impl<S, C, ReqB, ResB> Service<Request<ReqB>> for Cookies<S, C>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    C: CookieStore + Clone,
{
    type Response = Response<ResB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqB>) -> Self::Future {
        // A `Cookie` header set by the caller (or a layer above) is sent as it is.
        if !request.headers().contains_key(COOKIE) {
            if let Some(cookies) = self.store.cookies(request.uri()) {
                trace!(
                    target: "towline::cookie",
                    uri = %crate::redact::Redaction::of(request.extensions()).uri(request.uri()),
                    "cookies attached"
                );
                request.headers_mut().insert(COOKIE, cookies);
            }
        }
        let uri = request.uri().clone();
        ResponseFuture::new(self.inner.call(request), self.store.clone(), uri)
    }
}
