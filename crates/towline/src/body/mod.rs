//! Request bodies and reading response bodies.
//!
//! [`Body`] is what towline sends: nothing, bytes in memory, a stream of known or unknown
//! length, or a file streamed from disk. It plays the part of Twisted's `IBodyProducer`
//! and `FileBodyProducer`. [`read_body`] (Twisted's `readBody`) and
//! [`read_body_limited`] collect any response body into [`Bytes`].
//!
//! ```
//! use towline::body::Body;
//!
//! let json = Body::from(r#"{"a":1}"#);
//! assert_eq!(json.content_length(), Some(7));
//! // Bytes in memory can be sent again, for a redirect or a retry.
//! assert!(json.try_clone().is_some());
//! ```

#[cfg(feature = "redirect")]
pub(crate) mod drain;
mod file;
mod read;
mod replay;

use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::error::BoxError;

pub use read::{read_body, read_body_limited};
pub use replay::ReplayBody;

type BoxBody = Pin<Box<dyn http_body::Body<Data = Bytes, Error = BoxError> + Send + 'static>>;

/// A request body.
///
/// | made with | length | sent as | [`try_clone`](Body::try_clone) |
/// | --- | --- | --- | --- |
/// | [`Body::empty`], `Body::default()` | 0 | no body | yes |
/// | `From<Bytes>`, `Vec<u8>`, `String`, `&'static str`, `&'static [u8]` | known | `Content-Length` | yes |
/// | [`Body::sized`] | known | `Content-Length` | no |
/// | [`Body::streaming`] | unknown | `Transfer-Encoding: chunked` | no |
/// | [`Body::from_path`] | from metadata | `Content-Length` | yes, reopens the file |
/// | [`Body::from_file`] | from metadata | `Content-Length` | no |
///
/// A body that produces more or fewer bytes than it declared fails with
/// [`LengthMismatch`](crate::error::LengthMismatch) and the connector makes sure the
/// server never receives it as a complete request.
pub struct Body {
    kind: Kind,
}

enum Kind {
    Empty,
    Bytes(Bytes),
    Stream {
        body: BoxBody,
        len: Option<u64>,
    },
    File(file::FileBody),
    /// Bodies sent one after the other (a multipart form's parts).
    Chain {
        parts: VecDeque<Body>,
        len: Option<u64>,
        sent: u64,
    },
}

impl Body {
    /// A body with no bytes.
    pub const fn empty() -> Body {
        Body { kind: Kind::Empty }
    }

    /// A streaming body of unknown length, sent with chunked transfer coding.
    ///
    /// Any [`http_body::Body`] works; wrap a `Stream` of frames with
    /// `http_body_util::StreamBody`. Trailers the body yields are sent too.
    pub fn streaming<B>(body: B) -> Body
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Body {
            kind: Kind::Stream {
                body: Box::pin(MapErr { inner: body }),
                len: None,
            },
        }
    }

    /// A streaming body that promises exactly `len` bytes, sent with `Content-Length`.
    ///
    /// If the stream ends early or goes past `len`, sending fails with
    /// [`LengthMismatch`](crate::error::LengthMismatch).
    pub fn sized<B>(body: B, len: u64) -> Body
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Body {
            kind: Kind::Stream {
                body: Box::pin(MapErr { inner: body }),
                len: Some(len),
            },
        }
    }

    /// Streams the file at `path`, its length taken from the file's metadata.
    ///
    /// The file is read in chunks as the connection asks for them, never whole into
    /// memory. The body can be [cloned](Body::try_clone): a clone opens the file again.
    pub async fn from_path(path: impl AsRef<Path>) -> std::io::Result<Body> {
        let path: PathBuf = path.as_ref().to_path_buf();
        let file = tokio::fs::File::open(&path).await?;
        let len = file.metadata().await?.len();
        Ok(Body {
            kind: Kind::File(file::FileBody::opened(file, len, Some(path))),
        })
    }

    /// Streams an open file from its current position to its end.
    ///
    /// The length is the file's size less the current position.
    pub async fn from_file(mut file: tokio::fs::File) -> std::io::Result<Body> {
        use tokio::io::AsyncSeekExt;
        let size = file.metadata().await?.len();
        let pos = file.stream_position().await?;
        Ok(Body {
            kind: Kind::File(file::FileBody::opened(file, size.saturating_sub(pos), None)),
        })
    }

    /// `parts` sent one after the other, as one body: of known length when every part
    /// is, replayable when every part is. Trailers of a part are not sent.
    pub(crate) fn chain(parts: impl IntoIterator<Item = Body>) -> Body {
        let parts: VecDeque<Body> = parts.into_iter().collect();
        let len = parts
            .iter()
            .try_fold(0u64, |sum, p| sum.checked_add(p.content_length()?));
        Body {
            kind: Kind::Chain {
                parts,
                len,
                sent: 0,
            },
        }
    }

    /// The number of bytes the body will produce, if known in advance.
    pub fn content_length(&self) -> Option<u64> {
        match &self.kind {
            Kind::Empty => Some(0),
            Kind::Bytes(b) => Some(b.len() as u64),
            Kind::Stream { len, .. } => *len,
            Kind::File(f) => Some(f.len()),
            Kind::Chain { len, .. } => *len,
        }
    }

    /// A copy of this body that can be sent again, or `None` when it cannot.
    ///
    /// Empty bodies, bytes in memory and bodies made by [`Body::from_path`] can; streams
    /// and already-open files cannot.
    pub fn try_clone(&self) -> Option<Body> {
        let kind = match &self.kind {
            Kind::Empty => Kind::Empty,
            Kind::Bytes(b) => Kind::Bytes(b.clone()),
            Kind::Stream { .. } => return None,
            Kind::File(f) => Kind::File(f.try_clone()?),
            Kind::Chain { parts, len, .. } => Kind::Chain {
                parts: parts.iter().map(Body::try_clone).collect::<Option<_>>()?,
                len: *len,
                sent: 0,
            },
        };
        Some(Body { kind })
    }

    /// The bytes of a body held in memory, or `None` for streams and files.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::Empty => Some(&[]),
            Kind::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

impl Default for Body {
    fn default() -> Body {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Empty => f.write_str("Body(empty)"),
            Kind::Bytes(b) => write!(f, "Body({} bytes)", b.len()),
            Kind::Stream { len: Some(n), .. } => write!(f, "Body(stream of {n} bytes)"),
            Kind::Stream { len: None, .. } => f.write_str("Body(stream of unknown length)"),
            Kind::File(file) => write!(f, "Body(file of {} bytes)", file.len()),
            Kind::Chain { parts, len, .. } => match len {
                Some(n) => write!(f, "Body({} parts, {n} bytes)", parts.len()),
                None => write!(f, "Body({} parts of unknown length)", parts.len()),
            },
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match &mut self.kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Bytes(b) => {
                let b = std::mem::take(b);
                self.kind = Kind::Empty;
                if b.is_empty() {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Ok(Frame::data(b))))
                }
            }
            Kind::Stream { body, .. } => body.as_mut().poll_frame(cx),
            Kind::File(file) => file.poll_chunk(cx).map(|r| r.map(|r| r.map(Frame::data))),
            Kind::Chain { parts, sent, .. } => loop {
                let Some(part) = parts.front_mut() else {
                    return Poll::Ready(None);
                };
                match ready!(Pin::new(part).poll_frame(cx)) {
                    None => {
                        parts.pop_front();
                    }
                    Some(Ok(frame)) => {
                        if let Some(data) = frame.data_ref() {
                            *sent += data.len() as u64;
                            return Poll::Ready(Some(Ok(frame)));
                        }
                        // A part's trailers: the chain has none of its own.
                    }
                    Some(Err(err)) => return Poll::Ready(Some(Err(err))),
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Bytes(b) => b.is_empty(),
            Kind::Stream { body, .. } => body.is_end_stream(),
            Kind::File(f) => f.is_end(),
            Kind::Chain { parts, .. } => parts.iter().all(http_body::Body::is_end_stream),
        }
    }

    fn size_hint(&self) -> SizeHint {
        // The bytes still to come: a file being read reports what is left of it.
        if let Kind::File(f) = &self.kind {
            return SizeHint::with_exact(f.remaining());
        }
        if let Kind::Chain {
            len: Some(len),
            sent,
            ..
        } = &self.kind
        {
            return SizeHint::with_exact(len.saturating_sub(*sent));
        }
        match self.content_length() {
            Some(n) => SizeHint::with_exact(n),
            // A stream made with `Body::streaming` is of unknown length even when its
            // inner body could tell one: keep only the lower bound, so the request goes
            // chunked as documented.
            None => match &self.kind {
                Kind::Stream { body, .. } => {
                    let mut hint = SizeHint::new();
                    hint.set_lower(body.size_hint().lower());
                    hint
                }
                _ => SizeHint::default(),
            },
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Body {
        Body {
            kind: Kind::Bytes(b),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Body::from(Bytes::from(v))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::from(Bytes::from(s))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::from(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Body {
        Body::from(Bytes::from_static(s))
    }
}

impl From<()> for Body {
    fn from((): ()) -> Body {
        Body::empty()
    }
}

pin_project_lite::pin_project! {
    /// Adapts a body's error type to [`BoxError`].
    struct MapErr<B> {
        #[pin]
        inner: B,
    }
}

impl<B> http_body::Body for MapErr<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.project().inner.poll_frame(cx).map_err(Into::into)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// A stream of one frame.
    fn one_frame() -> http_body_util::Full<Bytes> {
        http_body_util::Full::new(Bytes::from_static(b"abc"))
    }

    async fn collect(body: Body) -> Bytes {
        body.collect().await.expect("body").to_bytes()
    }

    #[tokio::test]
    async fn try_clone_answers_whether_a_body_can_be_sent_again() {
        let empty = Body::empty().try_clone().expect("empty: yes");
        assert_eq!(empty.content_length(), Some(0));
        assert_eq!(collect(empty).await, "");

        let bytes = Body::from("hello");
        let copy = bytes.try_clone().expect("bytes: yes");
        assert_eq!(copy.as_bytes(), Some(&b"hello"[..]));
        assert_eq!(collect(bytes).await, "hello");
        assert_eq!(collect(copy).await, "hello");

        assert!(
            Body::streaming(one_frame()).try_clone().is_none(),
            "a stream: no"
        );
        assert!(
            Body::sized(one_frame(), 3).try_clone().is_none(),
            "a sized stream: no"
        );

        let dir = std::env::temp_dir().join(format!("towline-try-clone-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("body.txt");
        std::fs::write(&path, b"from disk").expect("write");
        let from_path = Body::from_path(&path).await.expect("open");
        let again = from_path
            .try_clone()
            .expect("a path: yes, it reopens the file");
        assert_eq!(again.content_length(), Some(9));
        assert_eq!(collect(from_path).await, "from disk");
        assert_eq!(collect(again).await, "from disk");

        let file = tokio::fs::File::open(&path).await.expect("open");
        let from_file = Body::from_file(file).await.expect("body");
        assert_eq!(from_file.content_length(), Some(9));
        assert!(from_file.try_clone().is_none(), "an open file: no");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
