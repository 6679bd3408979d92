use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Request;
use tower_service::Service;

use super::StaleError;

pin_project_lite::pin_project! {
    /// The future of a [`RetryStale`](super::RetryStale) call.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<B>>,
    {
        /// The first attempt is running; `service` and `backup` are kept for a retry.
        First {
            #[pin]
            future: S::Future,
            service: Option<S>,
            backup: Option<Request<B>>,
        },
        /// A retry waits for the service to be ready.
        Waiting {
            service: S,
            request: Option<Request<B>>,
        },
        /// The retry is running; whatever it returns is final.
        Retrying {
            #[pin]
            future: S::Future,
        },
    }
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    pub(super) fn new(future: S::Future, service: S, backup: Option<Request<B>>) -> Self {
        ResponseFuture {
            state: State::First {
                future,
                service: Some(service),
                backup,
            },
        }
    }
}

impl<S, B> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>>,
    S::Error: StaleError,
    B: Send + 'static,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::First {
                    future,
                    service,
                    backup,
                } => {
                    let err = match ready!(future.poll(cx)) {
                        Ok(response) => return Poll::Ready(Ok(response)),
                        Err(err) => err,
                    };
                    let Some(request) = retry_request(&err, backup) else {
                        return Poll::Ready(Err(err));
                    };
                    let Some(service) = service.take() else {
                        return Poll::Ready(Err(err));
                    };
                    this.state.set(State::Waiting {
                        service,
                        request: Some(request),
                    });
                }
                StateProj::Waiting { service, request } => {
                    ready!(service.poll_ready(cx))?;
                    let Some(mut request) = request.take() else {
                        // Unreachable: the request is only taken here, once.
                        continue;
                    };
                    // Like Twisted's pool, retry on a new connection: one that cannot
                    // be stale too.
                    request
                        .extensions_mut()
                        .insert(crate::connect::FreshConnection);
                    let future = service.call(request);
                    this.state.set(State::Retrying { future });
                }
                StateProj::Retrying { future } => return future.poll(cx),
            }
        }
    }
}

/// The request to send again after `err`, if the rules allow a retry.
fn retry_request<E: StaleError, B: Send + 'static>(
    err: &E,
    backup: &mut Option<Request<B>>,
) -> Option<Request<B>> {
    let stale = err.stale_connection()?;
    if let Some(unsent) = stale.take_unsent_request::<B>() {
        debug!(
            target: "towline::retry",
            method = %unsent.method(),
            uri = %crate::redact::Redaction::of(unsent.extensions()).uri(unsent.uri()),
            reason = "unsent: the connection handed the request back",
            "retrying on a new connection: the pooled connection was stale"
        );
        return Some(unsent);
    }
    // The backup exists for every request whose body is replayable.
    let retry = if !stale.request_written() {
        // Not written, or rejected by the server unprocessed: any method.
        backup.take()
    } else if stale.response_started() {
        None
    } else {
        // Sent, and no byte of a response: only a method that may run twice.
        backup
            .take()
            .filter(|request| super::is_idempotent(request.method()))
    };
    #[cfg(feature = "tracing")]
    match &retry {
        Some(request) => debug!(
            target: "towline::retry",
            method = %request.method(),
            uri = %crate::redact::Redaction::of(request.extensions()).uri(request.uri()),
            reason = if stale.request_written() {
                "sent, but no byte of a response arrived"
            } else {
                "unsent: the request was not written or not processed"
            },
            "retrying on a new connection: the pooled connection was stale"
        ),
        None => debug!(
            target: "towline::retry",
            reason = if stale.response_started() {
                "a response had started"
            } else if stale.request_written() {
                "the method is not idempotent or the body cannot be sent again"
            } else {
                "the body cannot be sent again"
            },
            "not retried: the pooled connection was stale"
        ),
    }
    retry
}

impl<S, B> fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("retry::ResponseFuture")
    }
}
