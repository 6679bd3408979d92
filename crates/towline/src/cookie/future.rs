//! The response future of the cookie service.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::header::SET_COOKIE;
use http::{Response, Uri};
use pin_project_lite::pin_project;

use super::{CookieStore, Jar};

pin_project! {
    /// The response future of [`Cookies`](super::Cookies).
    ///
    /// Waits for the inner service's response and stores its `Set-Cookie` headers
    /// for the request's URI; the inner error passes through unchanged.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, C = Jar> {
        #[pin]
        inner: F,
        // Taken when the response arrives.
        pending: Option<(C, Uri)>,
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(super) fn new(inner: F, store: C, uri: Uri) -> ResponseFuture<F, C> {
        ResponseFuture {
            inner,
            pending: Some((store, uri)),
        }
    }
}

impl<F, C, B, E> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<Response<B>, E>>,
    C: CookieStore,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        if let Some((store, uri)) = this.pending.take() {
            if response.headers().contains_key(SET_COOKIE) {
                let mut values = response.headers().get_all(SET_COOKIE).iter();
                store.set_cookies(&uri, &mut values);
            }
        }
        Poll::Ready(Ok(response))
    }
}

impl<F, C> fmt::Debug for ResponseFuture<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("cookie::ResponseFuture")
            .field("uri", &self.pending.as_ref().map(|(_, uri)| uri))
            .finish_non_exhaustive()
    }
}
