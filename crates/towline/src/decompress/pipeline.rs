//! Drives a chain of decoders over a streaming body.
//!
//! Each stage owns one decoder, the coded bytes it has not consumed yet, and an output
//! buffer it reuses: decoded bytes are handed on as `Bytes` split off that buffer, and
//! once the receiver drops them the allocation is taken back for the next chunk. A
//! stage asks for more input only when it has consumed what it holds, and hands out a
//! chunk when its buffer is full or when no input is ready — so memory per stage is
//! one input frame plus one buffer (at most [`MAX_CHUNK`]), whatever the body's size,
//! and a reader that stops polling stops everything below it.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame};

use super::codec::AnyDecoder;
use super::{DecodeError, DecodeErrorKind, DecodedTooLarge};
use crate::error::BoxError;

/// The first buffer of a stage; it doubles each time one fills, up to [`MAX_CHUNK`].
const FIRST_CHUNK: usize = 16 * 1024;
/// The largest chunk a stage hands out.
pub(crate) const MAX_CHUNK: usize = 64 * 1024;

/// The decoders of one response, applied in order: `stages[0]` reads the body as it
/// came off the wire (the last coding `Content-Encoding` lists).
pub(crate) struct Pipeline {
    stages: Vec<Stage>,
    limit: Option<u64>,
    trailers: Option<HeaderMap>,
    done: bool,
}

struct Stage {
    decoder: AnyDecoder,
    coding: &'static str,
    /// Coded bytes received and not yet consumed.
    input: Bytes,
    input_ended: bool,
    seen_input: bool,
    /// The last call wrote something, so the decoder may hold more output.
    pending: bool,
    finished: bool,
    /// A zeroed region; `out[..filled]` is decoded and not yet handed on.
    out: BytesMut,
    filled: usize,
    next_chunk: usize,
    /// Decoded bytes produced so far, checked against the limit.
    produced: u64,
}

impl Pipeline {
    /// `decoders` in the order they apply to the wire bytes.
    pub(crate) fn new(decoders: Vec<(AnyDecoder, &'static str)>, limit: Option<u64>) -> Pipeline {
        Pipeline {
            stages: decoders
                .into_iter()
                .map(|(decoder, coding)| Stage {
                    decoder,
                    coding,
                    input: Bytes::new(),
                    input_ended: false,
                    seen_input: false,
                    pending: false,
                    finished: false,
                    out: BytesMut::new(),
                    filled: 0,
                    next_chunk: FIRST_CHUNK,
                    produced: 0,
                })
                .collect(),
            limit,
            trailers: None,
            done: false,
        }
    }

    /// The next frame of the decoded body. After `None` or an error, it stays `None`.
    pub(crate) fn poll_frame<B>(
        &mut self,
        inner: Pin<&mut B>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        if self.done {
            return Poll::Ready(None);
        }
        let next = pull(&mut self.stages, self.limit, &mut self.trailers, inner, cx);
        match ready!(next) {
            Some(Ok(data)) => Poll::Ready(Some(Ok(Frame::data(data)))),
            Some(Err(e)) => {
                self.done = true;
                #[cfg(feature = "tracing")]
                if e.is::<DecodeError>() || e.is::<DecodedTooLarge>() {
                    debug!(
                        target: "towline::decompress",
                        codings = %self.codings(),
                        error = %crate::error::Report::new(&*e),
                        "decoding the response body failed"
                    );
                }
                Poll::Ready(Some(Err(e)))
            }
            None => {
                self.done = true;
                Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
            }
        }
    }

    pub(crate) fn is_end_stream(&self) -> bool {
        self.done
    }

    /// The coding whose decoder produces the body: the last stage's.
    #[cfg(feature = "client")]
    pub(crate) fn output_coding(&self) -> Option<&'static str> {
        self.stages.last().map(|s| s.coding)
    }

    /// The codings, in the order `Content-Encoding` lists them, for events.
    #[cfg(feature = "tracing")]
    pub(crate) fn codings(&self) -> Codings<'_> {
        Codings(&self.stages)
    }
}

/// The codings of a pipeline as `Content-Encoding` lists them: `gzip, br`.
#[cfg(feature = "tracing")]
pub(crate) struct Codings<'a>(&'a [Stage]);

#[cfg(feature = "tracing")]
impl std::fmt::Display for Codings<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, stage) in self.0.iter().rev().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(stage.coding)?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let codings: Vec<&str> = self.stages.iter().rev().map(|s| s.coding).collect();
        f.debug_struct("Pipeline")
            .field("codings", &codings)
            .field("limit", &self.limit)
            .field("done", &self.done)
            .finish()
    }
}

/// The next chunk decoded by the last of `stages`, pulling input through the ones
/// before it and, for the first, from the body.
fn pull<B>(
    stages: &mut [Stage],
    limit: Option<u64>,
    trailers: &mut Option<HeaderMap>,
    mut inner: Pin<&mut B>,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Bytes, BoxError>>>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let Some((stage, upstream)) = stages.split_last_mut() else {
        return Poll::Ready(None);
    };
    loop {
        if stage.finished {
            return Poll::Ready(None);
        }
        if !stage.input.is_empty() || stage.pending {
            match stage.decode(limit) {
                Err(e) => return Poll::Ready(Some(Err(e))),
                Ok(true) => return Poll::Ready(Some(Ok(stage.take()))),
                Ok(false) => continue,
            }
        }
        if stage.input_ended {
            if !stage.seen_input {
                // No coded byte at all: an empty body, not a truncated one.
                stage.finished = true;
                return Poll::Ready(None);
            }
            match stage.finish(limit) {
                Err(e) => return Poll::Ready(Some(Err(e))),
                Ok(true) => return Poll::Ready(Some(Ok(stage.take()))),
                Ok(false) if stage.finished => {
                    return Poll::Ready((stage.filled > 0).then(|| Ok(stage.take())));
                }
                Ok(false) => continue,
            }
        }
        let next = if upstream.is_empty() {
            poll_wire(inner.as_mut(), trailers, cx)
        } else {
            pull(upstream, limit, trailers, inner.as_mut(), cx)
        };
        match next {
            Poll::Pending if stage.filled > 0 => return Poll::Ready(Some(Ok(stage.take()))),
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => stage.input_ended = true,
            Poll::Ready(Some(Ok(data))) => {
                if !data.is_empty() {
                    stage.input = data;
                    stage.seen_input = true;
                }
            }
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
        }
    }
}

/// The next data of the response body; trailers are kept for the end.
fn poll_wire<B>(
    mut inner: Pin<&mut B>,
    trailers: &mut Option<HeaderMap>,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Bytes, BoxError>>>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    loop {
        match ready!(inner.as_mut().poll_frame(cx)) {
            None => return Poll::Ready(None),
            Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => return Poll::Ready(Some(Ok(data))),
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        trailers.get_or_insert_with(HeaderMap::new).extend(t);
                    }
                }
            },
        }
    }
}

impl Stage {
    /// Runs the decoder once; `Ok(true)` when the buffer is full and must be handed on.
    fn decode(&mut self, limit: Option<u64>) -> Result<bool, BoxError> {
        self.make_room();
        let room = self.room(limit);
        let input_len = self.input.len();
        let out = &mut self.out[self.filled..self.filled + room];
        let progress = self
            .decoder
            .decode(&self.input, out)
            .map_err(|e| e.in_coding(self.coding))?;
        let (read, written) = (progress.read(), progress.written());
        if read > input_len || written > room {
            return Err(self.misbehaved("reported more bytes than it was given"));
        }
        if read == 0 && written == 0 && input_len > 0 {
            return Err(self.misbehaved("made no progress on its input"));
        }
        self.input.advance(read);
        if self.input.is_empty() {
            // Let go of the sender's buffer so it can be reused.
            self.input = Bytes::new();
        }
        self.pending = written > 0;
        self.wrote(written, limit)
    }

    /// Calls the decoder's `finish`; `Ok(true)` when the buffer is full.
    fn finish(&mut self, limit: Option<u64>) -> Result<bool, BoxError> {
        self.make_room();
        let room = self.room(limit);
        let out = &mut self.out[self.filled..self.filled + room];
        let written = self
            .decoder
            .finish(out)
            .map_err(|e| e.in_coding(self.coding))?;
        if written > room {
            return Err(self.misbehaved("reported more bytes than it was given"));
        }
        if written == 0 {
            self.finished = true;
            return Ok(false);
        }
        self.wrote(written, limit)
    }

    fn wrote(&mut self, written: usize, limit: Option<u64>) -> Result<bool, BoxError> {
        self.filled += written;
        self.produced += written as u64;
        if let Some(limit) = limit {
            if self.produced > limit {
                return Err(Box::new(DecodedTooLarge::new(limit, self.coding)));
            }
        }
        Ok(self.filled == self.out.len())
    }

    /// Makes sure the buffer has free space, taking back the last one if its chunks
    /// were dropped.
    fn make_room(&mut self) {
        if self.filled < self.out.len() {
            return;
        }
        let size = self.next_chunk;
        self.out.reserve(size);
        self.out.resize(size, 0);
        self.next_chunk = (size * 2).min(MAX_CHUNK);
    }

    /// How many bytes the decoder may write now: the free buffer, and no more than one
    /// byte past the limit, so going over it is seen without decoding further.
    fn room(&self, limit: Option<u64>) -> usize {
        let free = self.out.len() - self.filled;
        match limit {
            Some(limit) => {
                let allowed = limit.saturating_sub(self.produced).saturating_add(1);
                usize::try_from(allowed).map_or(free, |a| a.min(free))
            }
            None => free,
        }
    }

    /// Hands on the decoded bytes in the buffer.
    fn take(&mut self) -> Bytes {
        let chunk = self.out.split_to(self.filled).freeze();
        self.filled = 0;
        chunk
    }

    fn misbehaved(&self, what: &'static str) -> BoxError {
        Box::new(
            DecodeError::new(DecodeErrorKind::Other)
                .with_message(format!("the {} decoder {what}", self.coding))
                .in_coding(self.coding),
        )
    }
}
