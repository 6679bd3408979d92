//! The response body the connector returns.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

use super::pool::Pooled;
use crate::error::{Error, Kind, Truncated};

/// The body of a response from the [`Connector`](super::Connector).
///
/// It streams as it is polled: backpressure is not polling, stopping is dropping. Once
/// it has been read to its end its connection goes back to the pool; dropping it before
/// then closes the connection, which is never reused half-read. A body that ends before
/// its declared end fails with an error whose
/// [`is_truncated()`](crate::Error::is_truncated) is true.
pub struct ResponseBody {
    inner: Incoming,
    pooled: Option<Pooled>,
    expected: Option<u64>,
    received: u64,
    reusable: bool,
}

impl ResponseBody {
    /// `reusable: false` closes the connection once the body ends instead of pooling it.
    pub(crate) fn new(
        inner: Incoming,
        pooled: Pooled,
        expected: Option<u64>,
        reusable: bool,
    ) -> ResponseBody {
        let mut body = ResponseBody {
            inner,
            pooled: Some(pooled),
            expected,
            received: 0,
            reusable,
        };
        if body.inner.is_end_stream() {
            body.release();
        }
        body
    }

    fn release(&mut self) {
        if let Some(pooled) = self.pooled.take() {
            if self.reusable {
                pooled.release();
            } else {
                pooled.discard();
            }
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
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
                if this.inner.is_end_stream() {
                    this.release();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => {
                // The connection is broken: drop it, never pool it.
                this.pooled = None;
                let err = if is_truncation(&e) {
                    Error::new(
                        Kind::Body,
                        Some(Box::new(Truncated::new(this.received, this.expected))),
                    )
                } else {
                    Error::new(Kind::Body, Some(Box::new(e)))
                };
                Poll::Ready(Some(Err(err)))
            }
            None => {
                this.release();
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether hyper's error means the connection ended before the body's declared end.
fn is_truncation(err: &hyper::Error) -> bool {
    if err.is_incomplete_message() {
        return true;
    }
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::UnexpectedEof;
        }
        source = e.source();
    }
    false
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("received", &self.received)
            .field("expected", &self.expected)
            .field("holds_connection", &self.pooled.is_some())
            .finish()
    }
}
