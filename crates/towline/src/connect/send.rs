//! The body the connector hands hyper: any request body, erased, with its declared
//! length enforced.

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};

use crate::error::{BoxError, LengthMismatch};

/// A request body of any type, boxed once, that can be turned back into its original
/// type for as long as nobody polled it.
trait Erased: Body<Data = Bytes, Error = BoxError> + Send + 'static {
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

pin_project_lite::pin_project! {
    struct Erase<B> {
        #[pin]
        inner: B,
    }
}

impl<B> Body for Erase<B>
where
    B: Body + Send + 'static,
    B::Data: Into<Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match ready!(self.project().inner.poll_frame(cx)) {
            Some(Ok(frame)) => Poll::Ready(Some(Ok(frame.map_data(Into::into)))),
            Some(Err(e)) => Poll::Ready(Some(Err(Box::new(RequestBodyError(e.into()))))),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Erased for Erase<B>
where
    B: Body + Send + 'static,
    B::Data: Into<Bytes>,
    B::Error: Into<BoxError>,
{
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        Box::new(self.inner)
    }
}

enum State {
    /// Never polled: can still be given back.
    Fresh(Box<dyn Erased>),
    Polled(Pin<Box<dyn Erased>>),
    Done,
}

/// The body type of every pooled connection.
pub(crate) struct Outgoing {
    state: State,
    declared: Option<u64>,
    /// Bytes produced so far, the held byte included.
    produced: u64,
    /// The last declared byte, held back until the body proves it has nothing more,
    /// so a body that runs long never completes a request on the wire.
    held: Option<Bytes>,
}

impl Outgoing {
    pub(crate) fn new<B>(body: B, declared: Option<u64>) -> Outgoing
    where
        B: Body + Send + 'static,
        B::Data: Into<Bytes>,
        B::Error: Into<BoxError>,
    {
        Outgoing {
            state: State::Fresh(Box::new(Erase { inner: body })),
            declared,
            produced: 0,
            held: None,
        }
    }

    /// The original body, if nothing of it was polled and it is a `B`.
    pub(crate) fn into_original<B: 'static>(self) -> Option<B> {
        match self.state {
            State::Fresh(b) => b.into_any().downcast::<B>().ok().map(|b| *b),
            _ => None,
        }
    }

    fn mismatch(&mut self, more: bool) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.state = State::Done;
        let declared = self.declared.unwrap_or(0);
        Poll::Ready(Some(Err(Box::new(LengthMismatch::new(
            declared,
            self.produced,
            more,
        )))))
    }
}

impl Body for Outgoing {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            let mut inner = match &mut this.state {
                State::Done => return Poll::Ready(None),
                State::Polled(b) => b.as_mut(),
                State::Fresh(_) => {
                    let State::Fresh(b) = std::mem::replace(&mut this.state, State::Done) else {
                        return Poll::Ready(None);
                    };
                    this.state = State::Polled(Box::into_pin(b));
                    continue;
                }
            };
            let Some(declared) = this.declared else {
                // Unknown length: chunked, nothing to enforce.
                return inner.as_mut().poll_frame(cx);
            };
            let frame = match ready!(inner.as_mut().poll_frame(cx)) {
                None => {
                    if this.produced < declared {
                        return this.mismatch(false);
                    }
                    this.state = State::Done;
                    return Poll::Ready(this.held.take().map(|b| Ok(Frame::data(b))));
                }
                Some(Err(e)) => {
                    this.state = State::Done;
                    return Poll::Ready(Some(Err(e)));
                }
                Some(Ok(frame)) => frame,
            };
            let mut data = match frame.into_data() {
                Ok(data) => data,
                // Trailers cannot follow a body sent with Content-Length; drop them.
                Err(_) => continue,
            };
            let n = data.remaining() as u64;
            if n == 0 {
                continue;
            }
            this.produced += n;
            if this.produced > declared {
                return this.mismatch(true);
            }
            if this.produced == declared && !inner.is_end_stream() {
                // Hold the last byte back until the body ends.
                let last = data.split_off(data.len() - 1);
                this.held = Some(last);
                if data.is_empty() {
                    continue;
                }
            }
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
    }

    fn is_end_stream(&self) -> bool {
        let inner_end = match &self.state {
            State::Done => return true,
            State::Fresh(b) => b.is_end_stream(),
            State::Polled(b) => b.is_end_stream(),
        };
        self.held.is_none() && inner_end && self.declared.is_none_or(|d| d == self.produced)
    }

    fn size_hint(&self) -> SizeHint {
        let held = self.held.as_ref().map_or(0, |b| b.len() as u64);
        match (self.declared, &self.state) {
            (_, State::Done) => SizeHint::with_exact(0),
            (Some(n), _) => SizeHint::with_exact(n.saturating_sub(self.produced) + held),
            (None, State::Fresh(b)) => b.size_hint(),
            (None, State::Polled(b)) => b.size_hint(),
        }
    }
}

/// The request body itself failed (its error is the source).
#[derive(Debug)]
pub(crate) struct RequestBodyError(BoxError);

impl fmt::Display for RequestBodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the request body failed: {}", self.0)
    }
}

impl StdError for RequestBodyError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{Body as TBody, read_body};
    use std::collections::VecDeque;

    struct Frames(VecDeque<&'static str>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            Poll::Ready(
                self.0
                    .pop_front()
                    .map(|s| Ok(Frame::data(Bytes::from_static(s.as_bytes())))),
            )
        }
    }

    fn frames(parts: &[&'static str]) -> Frames {
        Frames(parts.iter().copied().collect())
    }

    #[tokio::test]
    async fn exact_length_passes_whole() {
        let got = read_body(Outgoing::new(frames(&["ab", "cd"]), Some(4)))
            .await
            .expect("ok");
        assert_eq!(&got[..], b"abcd");
    }

    #[tokio::test]
    async fn long_body_fails_before_the_declared_length_is_complete() {
        let mut out = std::pin::pin!(Outgoing::new(frames(&["ab", "cd", "e"]), Some(4)));
        let mut yielded = 0;
        let err = loop {
            match std::future::poll_fn(|cx| out.as_mut().poll_frame(cx)).await {
                Some(Ok(f)) => yielded += f.into_data().map(|d| d.len()).unwrap_or(0),
                Some(Err(e)) => break e,
                None => panic!("a long body must fail"),
            }
        };
        assert!(yielded < 4, "only {yielded} bytes may reach the wire");
        assert!(err.is::<LengthMismatch>(), "{err}");
    }

    #[tokio::test]
    async fn short_body_fails() {
        let err = read_body(Outgoing::new(frames(&["ab"]), Some(4)))
            .await
            .expect_err("must fail");
        assert!(err.report().to_string().contains("ended after 2"), "{err}");
    }

    #[test]
    fn unpolled_body_comes_back_as_its_type() {
        let out = Outgoing::new(TBody::from("x"), Some(1));
        let body: TBody = out.into_original().expect("same type");
        assert_eq!(body.as_bytes(), Some(&b"x"[..]));
        let out = Outgoing::new(TBody::from("x"), Some(1));
        assert!(out.into_original::<String>().is_none());
    }
}
