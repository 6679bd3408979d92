//! The client's response body: the stack's body, with the request deadline and the
//! read-idle timeout applied, and errors as towline errors.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::stack::InnerBody;
use crate::error::{Error, Kind, TimedOut};
use crate::redact::Redaction;

/// The body of a [`Client`](super::Client) response.
///
/// Streams as it is polled; dropping it closes the exchange. It fails with an error
/// whose [`is_timeout()`](Error::is_timeout) is true when the request's deadline
/// passes, or when no data arrives for the client's
/// [`read_timeout`](super::ClientBuilder::read_timeout). The deadline is checked on
/// every poll, so it fires even while data keeps arriving.
///
/// Its `Default` is the [empty](Self::empty) body, which lets layers written for
/// servers, like tower-http's `TimeoutLayer`, make a response of their own over a
/// [`Client`](super::Client).
pub struct ResponseBody {
    inner: InnerBody,
    /// The response's URI, for the errors of its body.
    uri: Option<http::Uri>,
    /// How its errors show `uri`.
    redaction: Redaction,
    deadline: Option<Pin<Box<Sleep>>>,
    idle: Option<(Duration, Pin<Box<Sleep>>)>,
    done: bool,
    /// The cap on reading the whole body into memory, and whether it is decoded.
    buffered: BufferedCap,
}

/// The limit [`Response::bytes`](super::Response::bytes), `text` and `json` apply.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct BufferedCap {
    pub(super) limit: Option<u64>,
    /// The coding whose output the body is (the last one undone), when decoded.
    pub(super) decoded: Option<&'static str>,
}

/// A response extension from the stack: the body is decoded, last from this coding.
#[derive(Clone, Copy, Debug)]
#[cfg_attr(
    not(feature = "decompress"),
    allow(
        dead_code,
        reason = "only the decompression layer's bodies are decoded"
    )
)]
pub(super) struct Decoded(pub(super) &'static str);

pub(super) fn wrap(
    mut response: http::Response<InnerBody>,
    deadline: Option<Instant>,
    read_timeout: Option<Duration>,
    redaction: Redaction,
    max_buffered: Option<u64>,
) -> http::Response<ResponseBody> {
    let uri = response
        .extensions()
        .get::<crate::connect::EffectiveUri>()
        .map(|effective| effective.0.clone());
    let buffered = BufferedCap {
        limit: max_buffered,
        decoded: response.extensions_mut().remove::<Decoded>().map(|d| d.0),
    };
    response.map(|inner| {
        let done = inner.is_end_stream();
        ResponseBody {
            inner,
            uri,
            redaction,
            deadline: deadline
                .filter(|_| !done)
                .map(|at| Box::pin(tokio::time::sleep_until(at))),
            idle: read_timeout
                .filter(|_| !done)
                .map(|d| (d, Box::pin(tokio::time::sleep(d)))),
            done,
            buffered,
        }
    })
}

impl ResponseBody {
    /// A body with nothing in it.
    pub fn empty() -> ResponseBody {
        use http_body_util::BodyExt;
        ResponseBody {
            inner: http_body_util::Empty::new()
                .map_err(|never| match never {})
                .boxed_unsync(),
            uri: None,
            redaction: Redaction::new(),
            deadline: None,
            idle: None,
            done: true,
            buffered: BufferedCap::default(),
        }
    }

    pub(super) fn buffered_cap(&self) -> BufferedCap {
        self.buffered
    }
}

/// The empty body, as tower-http's `TimeoutLayer` needs to make its own response.
impl Default for ResponseBody {
    fn default() -> ResponseBody {
        ResponseBody::empty()
    }
}

impl ResponseBody {
    /// Ends the body with a timeout error for `what`, naming the response's URI.
    fn timed_out(&mut self, timed_out: TimedOut) -> Error {
        self.done = true;
        self.named(Error::new(Kind::Timeout, Some(Box::new(timed_out))))
    }

    /// `err` naming the response's URI, unless it names one already.
    fn named(&self, err: Error) -> Error {
        let err = err.with_redaction(&self.redaction);
        match (&self.uri, err.uri()) {
            (Some(uri), None) => err.with_uri(uri.clone()),
            _ => err,
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        // The deadline is checked on every poll, not only when the body waits: a body
        // that always has data ready would otherwise never see it pass. Reading the
        // clock is all it costs; the sleep itself is polled below, when waiting.
        let now = (this.deadline.is_some() || this.idle.is_some()).then(Instant::now);
        if let (Some(now), Some(deadline)) = (now, &this.deadline) {
            if now >= deadline.deadline() {
                let timed_out = TimedOut::new("the request (timeout)");
                return Poll::Ready(Some(Err(this.timed_out(timed_out))));
            }
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(now), Some((after, sleep))) = (now, &mut this.idle) {
                    sleep.as_mut().reset(now + *after);
                }
                return Poll::Ready(Some(Ok(frame)));
            }
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                return Poll::Ready(Some(Err(this.named(Error::from_body(e)))));
            }
            Poll::Ready(None) => {
                this.done = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        let expired = if this
            .deadline
            .as_mut()
            .is_some_and(|d| d.as_mut().poll(cx).is_ready())
        {
            Some(TimedOut::new("the request (timeout)"))
        } else {
            this.idle
                .as_mut()
                .and_then(|(after, s)| s.as_mut().poll(cx).is_ready().then_some(*after))
                .map(|after| TimedOut::after("waiting for body data (read_timeout)", after))
        };
        match expired {
            Some(what) => Poll::Ready(Some(Err(this.timed_out(what)))),
            None => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("client::ResponseBody")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
