//! The response body the layer returns.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use http::{HeaderMap, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use super::codec::{AnyDecoder, Coding};
use super::layer::Settings;
use super::pipeline::Pipeline;
use super::{DecodeError, DecodeErrorKind};
use crate::error::BoxError;

pin_project! {
    /// The body of a response from [`Decompression`](super::Decompression): the inner
    /// body decoded as it streams, or passed through untouched.
    ///
    /// Decoded data comes in chunks of up to 64 KiB, produced only as the body is
    /// polled. Errors of the inner body pass through unchanged (boxed); the coded data
    /// failing to decode is a [`DecodeError`], and passing the layer's limit a
    /// [`DecodedTooLarge`](super::DecodedTooLarge).
    ///
    /// See the [module docs](super).
    pub struct DecompressionBody<B> {
        #[pin]
        inner: B,
        state: State,
    }
}

enum State {
    Passthrough,
    Decoding(Pipeline),
    /// The response cannot be decoded; the error comes out on the first poll.
    Failed(Option<DecodeError>),
}

impl<B> DecompressionBody<B> {
    fn new(inner: B, state: State) -> DecompressionBody<B> {
        DecompressionBody { inner, state }
    }

    /// Whether the body is being decoded (rather than passed through as it came).
    pub fn is_decoding(&self) -> bool {
        matches!(self.state, State::Decoding(_))
    }

    /// The coding whose output this body is (the last one undone), when decoding.
    #[cfg(feature = "client")]
    pub(crate) fn decoded_coding(&self) -> Option<&'static str> {
        match &self.state {
            State::Decoding(pipeline) => pipeline.output_coding(),
            _ => None,
        }
    }

    /// The body as the inner service returned it.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }
}

/// Decides what to do with a response and wraps its body.
pub(crate) fn wrap_response<B>(
    response: Response<B>,
    settings: &Settings,
    head: bool,
) -> Response<DecompressionBody<B>>
where
    B: Body,
{
    let (mut parts, body) = response.into_parts();
    let state = decide(&mut parts.headers, parts.status, &body, settings, head);
    Response::from_parts(parts, DecompressionBody::new(body, state))
}

fn decide<B: Body>(
    headers: &mut HeaderMap,
    status: StatusCode,
    body: &B,
    settings: &Settings,
    head: bool,
) -> State {
    if head || has_no_coded_content(headers, status, body) {
        return State::Passthrough;
    }
    let Some(count) = count_codings(headers, settings) else {
        return State::Passthrough;
    };
    if count > settings.max_codings {
        return too_many_codings(count, settings);
    }
    let decoders = decoders(headers, settings, count);
    headers.remove(CONTENT_ENCODING);
    if decoders.is_empty() {
        // Only `identity`: the bytes are the content, and their length holds.
        return State::Passthrough;
    }
    headers.remove(CONTENT_LENGTH);
    let pipeline = Pipeline::new(decoders, settings.limit);
    debug!(
        target: "towline::decompress",
        codings = %pipeline.codings(),
        "decoding the response body"
    );
    State::Decoding(pipeline)
}

/// Whether the response has no coded body to decode: a status without content, a
/// range of the coded bytes (which cannot be decoded on its own), an empty body, or no
/// `Content-Encoding`.
fn has_no_coded_content<B: Body>(headers: &HeaderMap, status: StatusCode, body: &B) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        // A range of the coded bytes cannot be decoded on its own.
        || status == StatusCode::PARTIAL_CONTENT
        || body.is_end_stream()
        || headers
            .get(CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() == b"0")
        || !headers.contains_key(CONTENT_ENCODING)
}

/// The codings of every `Content-Encoding` field, in the order they were applied.
fn coding_tokens(headers: &HeaderMap) -> impl Iterator<Item = &[u8]> {
    headers
        .get_all(CONTENT_ENCODING)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// How many codings other than `identity` the response has; `None` when one of them
/// is not supported.
fn count_codings(headers: &HeaderMap, settings: &Settings) -> Option<usize> {
    let mut count = 0;
    for token in coding_tokens(headers) {
        match settings.codings.lookup(token) {
            // A coding we cannot undo hides every coding applied before it, so the
            // whole response goes through as it came, headers included.
            None => {
                trace!(
                    target: "towline::decompress",
                    coding = %String::from_utf8_lossy(token),
                    "body passed through undecoded: a content coding is not supported"
                );
                return None;
            }
            Some(Coding::Identity) => {}
            Some(_) => count += 1,
        }
    }
    Some(count)
}

/// The body's error when it has more codings than the layer decodes.
fn too_many_codings(count: usize, settings: &Settings) -> State {
    debug!(
        target: "towline::decompress",
        codings = count,
        max_codings = settings.max_codings,
        "decoding refused: too many content codings"
    );
    State::Failed(Some(
        DecodeError::new(DecodeErrorKind::TooManyCodings).with_message(format!(
            "too many content codings: {count}, more than the {} this client decodes",
            settings.max_codings
        )),
    ))
}

/// A decoder for each coding, the last one applied first (codings are listed in the
/// order they were applied, so the last is undone first).
fn decoders(
    headers: &HeaderMap,
    settings: &Settings,
    count: usize,
) -> Vec<(AnyDecoder, &'static str)> {
    let mut decoders = Vec::with_capacity(count);
    for token in coding_tokens(headers) {
        if let Some(decoder) = settings
            .codings
            .lookup(token)
            .and_then(|c| settings.codings.decoder(c))
        {
            decoders.push(decoder);
        }
    }
    decoders.reverse();
    decoders
}

impl<B> Body for DecompressionBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        match this.state {
            State::Passthrough => this.inner.poll_frame(cx).map_err(Into::into),
            State::Decoding(pipeline) => pipeline.poll_frame(this.inner, cx),
            State::Failed(err) => Poll::Ready(err.take().map(|e| Err(e.into()))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            State::Passthrough => self.inner.is_end_stream(),
            State::Decoding(pipeline) => pipeline.is_end_stream(),
            State::Failed(err) => err.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.state {
            State::Passthrough => self.inner.size_hint(),
            State::Decoding(pipeline) if pipeline.is_end_stream() => SizeHint::with_exact(0),
            State::Decoding(_) => SizeHint::default(),
            State::Failed(_) => SizeHint::with_exact(0),
        }
    }
}

impl<B> fmt::Debug for DecompressionBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("DecompressionBody");
        match &self.state {
            State::Passthrough => d.field("state", &"passthrough"),
            State::Decoding(pipeline) => d.field("state", pipeline),
            State::Failed(err) => d.field("state", err),
        };
        d.finish_non_exhaustive()
    }
}
