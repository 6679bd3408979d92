use std::task::{Context, Poll};

use http::Request;
use tower_service::Service;

use super::{ReplayBody, ResponseFuture, RetryStaleLayer, StaleError, backup};

/// Retries a request once when it failed on a stale pooled connection. See the
/// [module docs](super).
#[derive(Clone, Debug)]
pub struct RetryStale<S> {
    inner: S,
}

impl<S> RetryStale<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> RetryStale<S> {
        RetryStale { inner }
    }

    /// A layer that wraps services in `RetryStale`.
    pub fn layer() -> RetryStaleLayer {
        RetryStaleLayer::new()
    }

    inner_service_accessors!();
}

impl<S, B> Service<Request<B>> for RetryStale<S>
where
    S: Service<Request<B>> + Clone,
    S::Error: StaleError,
    B: ReplayBody + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> ResponseFuture<S, B> {
        let backup = backup(&req);
        // Call the instance that was polled ready; keep a clone for the retry.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let future = inner.call(req);
        ResponseFuture::new(future, inner, backup)
    }
}
