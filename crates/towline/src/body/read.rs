//! Collecting a response body into memory.

use bytes::{Buf, Bytes, BytesMut};
use http_body::Body as HttpBody;
use http_body_util::BodyExt;

use crate::error::{BoxError, Error, Kind, LengthLimitExceeded};

/// Reads a whole body into memory (Twisted's `readBody`).
///
/// Works on any [`http_body::Body`]: the connector's
/// [`ResponseBody`](crate::connect::ResponseBody) or another service's. A body that ends
/// before its declared end fails with an error whose
/// [`is_truncated()`](Error::is_truncated) is true; nothing read so far is returned as
/// if it were the whole body. Trailers are ignored.
///
/// Use [`read_body_limited`] for bodies from servers you do not trust.
pub async fn read_body<B>(body: B) -> Result<Bytes, Error>
where
    B: HttpBody,
    B::Error: Into<BoxError>,
{
    collect(body, None).await
}

/// Reads a whole body into memory, failing once it grows past `limit` bytes.
///
/// The check happens before the bytes past the limit are stored, and a body whose
/// `Content-Length` already exceeds the limit fails before anything is read. The error
/// [`is_body()`](Error::is_body) and holds a
/// [`LengthLimitExceeded`](crate::error::LengthLimitExceeded).
pub async fn read_body_limited<B>(body: B, limit: usize) -> Result<Bytes, Error>
where
    B: HttpBody,
    B::Error: Into<BoxError>,
{
    collect(body, Some(limit)).await
}

async fn collect<B>(body: B, limit: Option<usize>) -> Result<Bytes, Error>
where
    B: HttpBody,
    B::Error: Into<BoxError>,
{
    let too_long = |limit| Error::new(Kind::Body, Some(Box::new(LengthLimitExceeded::new(limit))));
    if let Some(limit) = limit {
        if body.size_hint().lower() > limit as u64 {
            return Err(too_long(limit));
        }
    }
    let mut body = std::pin::pin!(body);
    // The common case, a body of one frame, is handed out without a copy.
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::from_body(e.into()))?;
        let Ok(mut data) = frame.into_data() else {
            continue;
        };
        let len = first.as_ref().map_or(0, Bytes::len) + rest.len() + data.remaining();
        if let Some(limit) = limit {
            if len > limit {
                return Err(too_long(limit));
            }
        }
        if first.is_none() && rest.is_empty() {
            first = Some(data.copy_to_bytes(data.remaining()));
            continue;
        }
        if let Some(first) = first.take() {
            let hint = body.size_hint().lower() as usize;
            rest.reserve(first.len() + data.remaining() + hint.min(16 << 20));
            rest.extend_from_slice(&first);
        }
        while data.has_remaining() {
            let chunk = data.chunk();
            let n = chunk.len();
            rest.extend_from_slice(chunk);
            data.advance(n);
        }
    }
    Ok(match first {
        Some(first) => first,
        None => rest.freeze(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;
    use http_body::Frame;
    use http_body_util::Full;
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A body of several frames whose length is not known in advance.
    struct Frames(VecDeque<Bytes>);

    impl HttpBody for Frames {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
        }
    }

    fn chunks(parts: &[&'static str]) -> Body {
        Body::streaming(Frames(
            parts
                .iter()
                .map(|p| Bytes::from_static(p.as_bytes()))
                .collect(),
        ))
    }

    #[tokio::test]
    async fn collects_frames_in_order() {
        let got = read_body(chunks(&["ab", "cd", "e"])).await.expect("read");
        assert_eq!(&got[..], b"abcde");
        let got = read_body(Full::new(Bytes::from_static(b"one")))
            .await
            .expect("read");
        assert_eq!(&got[..], b"one");
    }

    #[tokio::test]
    async fn limit_is_enforced_before_and_while_reading() {
        let err = read_body_limited(Body::from("0123456789"), 4)
            .await
            .expect_err("must fail");
        assert!(err.is_body());
        assert!(
            err.report().to_string().contains("limit of 4 bytes"),
            "{err}"
        );
        let err = read_body_limited(chunks(&["ab", "cd", "e"]), 4)
            .await
            .expect_err("must fail");
        assert!(err.is_body());
        let ok = read_body_limited(chunks(&["ab", "cd"]), 4)
            .await
            .expect("at the limit");
        assert_eq!(&ok[..], b"abcd");
    }
}
