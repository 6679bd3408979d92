//! The response future of the decompression service.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use http_body::Body;
use pin_project_lite::pin_project;

use super::DecompressionBody;
use super::body::wrap_response;
use super::layer::Settings;

pin_project! {
    /// The response future of [`Decompression`](super::Decompression).
    ///
    /// Waits for the inner service's response and wraps its body; the inner error
    /// passes through unchanged.
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        // Taken when the response arrives.
        settings: Option<Settings>,
        head: bool,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, settings: Settings, head: bool) -> ResponseFuture<F> {
        ResponseFuture {
            inner,
            settings: Some(settings),
            head,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
{
    type Output = Result<Response<DecompressionBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        let response = match this.settings.take() {
            Some(settings) => wrap_response(response, &settings, *this.head),
            // Polled again after completing: the inner future answered twice.
            None => wrap_response(response, &Settings::passthrough(), *this.head),
        };
        Poll::Ready(Ok(response))
    }
}
