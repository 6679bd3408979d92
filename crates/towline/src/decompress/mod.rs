//! Decompression of response bodies, as they stream (Twisted's `ContentDecoderAgent`).
//!
//! [`DecompressionLayer`] asks for compressed responses with `Accept-Encoding` and
//! decodes what comes back, on any `Service<http::Request<B>>` that returns
//! `http::Response` with an [`http_body::Body`] of [`Bytes`](bytes::Bytes).
//!
//! - **Request.** `Accept-Encoding` is set to the codings the layer decodes (`gzip,
//!   deflate, br, zstd` with every codec feature on; `gzip, deflate` with the default
//!   features) only when the request has none; a caller's own value is
//!   sent unchanged. A request with `Range` gets none, since a range of coded bytes
//!   cannot be decoded on its own.
//! - **Codings.** `gzip` (and `x-gzip`) with every header field and any number of
//!   members; `deflate`, zlib-wrapped as the specification says or raw as some servers
//!   send it, told apart by its first two bytes as browsers do; `identity`; and codings
//!   you add with a [`Decoder`]. Stacked codings (`Content-Encoding: deflate, gzip`)
//!   are undone last-applied first, up to [`max_codings`](DecompressionLayer::max_codings).
//!   With the `br` feature, `br` (brotli, RFC 7932, pure Rust); with the `zstd`
//!   feature, `zstd` (RFC 8878, libzstd), any number of frames, each with a window of
//!   at most [`ZSTD_MAX_WINDOW`] (64 MiB) so a hostile frame cannot make the client
//!   allocate gigabytes. Both are in the `full` feature, not in `default`.
//! - **Response.** A decoded response loses `Content-Encoding` and `Content-Length`,
//!   and its body becomes the decoded bytes, produced as it is read: chunks of up to
//!   64 KiB from a reused buffer, never the whole body in memory, nothing decoded
//!   ahead of the reader. Responses to `HEAD`, `204`, `206` and `304` responses, empty
//!   bodies, and responses with a coding the layer does not know pass through
//!   untouched, headers included.
//! - **Errors.** Coded data that is corrupt, truncated (in a header, the data or a
//!   trailer), fails its checksum or length check, or has bytes after its end fails
//!   the body with a [`DecodeError`] — never a silently short body. With a
//!   [`limit`](DecompressionLayer::limit) set, a body that would decode to more fails
//!   with [`DecodedTooLarge`] as soon as it passes it.
//!   [`read_body`](crate::body::read_body) reports both as a
//!   [`towline::Error`](crate::Error) whose [`is_decode()`](crate::Error::is_decode)
//!   is true. Errors of the inner service and of the inner body pass through unchanged.
//!
//! # Bombs, and large downloads
//!
//! A decompression bomb is a small coded body that decodes to far more: 1 MB of gzip
//! to 1 GiB of zeros, a few hundred bytes of brotli or zstd to the same. It hurts only
//! whoever keeps what it decodes to. The layer itself never does: it decodes as the
//! body is read, into one reused buffer of at most 64 KiB per coding (plus the
//! coding's window: 32 KiB for gzip and deflate, at most 16 MiB for br and
//! [`ZSTD_MAX_WINDOW`] for zstd), so a streamed body of any size costs the same
//! memory, and a reader that stops stops the decoding. Hence the defaults:
//!
//! - **No limit on a streamed body** ([`limit`](DecompressionLayer::limit) is `None`).
//!   A 300 MiB log, dataset or backup served with `Content-Encoding: gzip` is a
//!   legitimate download that curl, browsers, Go and reqwest all complete; a limit
//!   here would fail it to protect memory that streaming does not use.
//! - **A cap on buffered reads**, in the [`Client`](crate::Client):
//!   [`max_response_body`](crate::client::ClientBuilder::max_response_body) (256 MiB by
//!   default) stops `bytes()`, `text()` and `json()` as soon as the decoded body
//!   passes it, with an error that is [`is_decode()`](crate::Error::is_decode). That is
//!   where a bomb would cost memory, so that is where it is stopped.
//! - **No ratio guard.** A guard that fails a body decoding at more than, say,
//!   1000:1 over a large amount was considered and left out. It would protect
//!   nothing the two points above leave open: the memory is bounded already, and the
//!   CPU a bomb costs is the reader's to spend, at the reader's pace, exactly as for a
//!   large uncompressed body. And it would fail legitimate data: deflate's best ratio
//!   is about 1030:1, reached by long runs of zeros, which is what a sparse disk
//!   image, a zero-filled database file or a core dump is; brotli and zstd go far
//!   beyond. A reader that writes a decoded body somewhere bounded (a disk quota) sets
//!   [`limit`](DecompressionLayer::limit), or counts the bytes it writes.
//!
//! # Example
//!
//! ```
//! use tower::{ServiceBuilder, ServiceExt};
//! use towline::body::{Body, read_body};
//! use towline::connect::Connector;
//! use towline::decompress::DecompressionLayer;
//! # use std::io::Write;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! # let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
//! # gz.write_all(b"hello, decoded")?;
//! # let gz = gz.finish()?;
//! # let server = towline_test::TestServer::start(move |req| {
//! #     let accept = req.header("accept-encoding").unwrap_or_default();
//! #     assert!(accept.starts_with("gzip, deflate"), "{accept}");
//! #     towline_test::Reply::text(gz.clone()).header("Content-Encoding", "gzip")
//! # }).await;
//! let client = ServiceBuilder::new()
//!     .layer(DecompressionLayer::new())
//!     .service(Connector::new());
//!
//! let request = http::Request::get(server.url("/")).body(Body::empty())?;
//! let response = client.oneshot(request).await?;
//! assert!(response.headers().get("content-encoding").is_none());
//! let body = read_body(response.into_body()).await?;
//! assert_eq!(body, "hello, decoded");
//! # Ok(()) }
//! ```
//!
//! # Customised
//!
//! Only gzip, a 16 MiB limit, and a coding of our own: `upper` (a toy that stores text
//! in lower case and restores capitals with a `^` before each letter).
//!
//! ```
//! use tower::{ServiceBuilder, ServiceExt};
//! use towline::body::{Body, read_body};
//! use towline::connect::Connector;
//! use towline::decompress::{DecodeError, DecodeErrorKind, Decoder, DecompressionLayer, Progress};
//!
//! /// Decodes `^h^ello` to `Hello`.
//! #[derive(Default)]
//! struct Upper {
//!     caret: bool,
//! }
//!
//! impl Decoder for Upper {
//!     fn decode(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, DecodeError> {
//!         let (mut read, mut written) = (0, 0);
//!         while read < input.len() && written < output.len() {
//!             let byte = input[read];
//!             read += 1;
//!             if self.caret {
//!                 output[written] = byte.to_ascii_uppercase();
//!                 written += 1;
//!                 self.caret = false;
//!             } else if byte == b'^' {
//!                 self.caret = true;
//!             } else {
//!                 output[written] = byte;
//!                 written += 1;
//!             }
//!         }
//!         Ok(Progress::new(read, written))
//!     }
//!
//!     fn finish(&mut self, _output: &mut [u8]) -> Result<usize, DecodeError> {
//!         // A `^` with nothing after it is a cut body.
//!         match self.caret {
//!             true => Err(DecodeError::new(DecodeErrorKind::Truncated)),
//!             false => Ok(0),
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! # let server = towline_test::TestServer::start(|req| {
//! #     assert_eq!(req.header("accept-encoding"), Some("gzip, upper"));
//! #     towline_test::Reply::text("^hello, ^world").header("Content-Encoding", "upper")
//! # }).await;
//! let layer = DecompressionLayer::new()
//!     .deflate(false)
//!     .limit(16 * 1024 * 1024)
//!     .decoder("upper", Upper::default);
//! # #[cfg(feature = "br")]
//! # let layer = layer.br(false);
//! # #[cfg(feature = "zstd")]
//! # let layer = layer.zstd(false);
//! let client = ServiceBuilder::new().layer(layer).service(Connector::new());
//!
//! let request = http::Request::get(server.url("/")).body(Body::empty())?;
//! let response = client.oneshot(request).await?;
//! assert_eq!(read_body(response.into_body()).await?, "Hello, World");
//! # Ok(()) }
//! ```
//!
//! Decoding errors are told apart from transport errors:
//!
//! ```
//! # use tower::{ServiceBuilder, ServiceExt};
//! # use towline::body::{Body, read_body};
//! # use towline::{connect::Connector, decompress::{DecodeError, DecompressionLayer}};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! # let server = towline_test::TestServer::start(|_| {
//! #     towline_test::Reply::text("not gzip at all").header("Content-Encoding", "gzip")
//! # }).await;
//! # let client = ServiceBuilder::new().layer(DecompressionLayer::new()).service(Connector::new());
//! # let request = http::Request::get(server.url("/")).body(Body::empty())?;
//! let response = client.oneshot(request).await?;
//! let err = read_body(response.into_body()).await.expect_err("not gzip");
//! assert!(err.is_decode());
//! let cause = std::error::Error::source(&err).and_then(|e| e.downcast_ref::<DecodeError>());
//! assert_eq!(cause.map(DecodeError::coding), Some("gzip"));
//! # Ok(()) }
//! ```

mod body;
mod codec;
mod error;
mod future;
mod layer;
mod pipeline;
mod service;
#[cfg(all(test, feature = "gzip", feature = "deflate"))]
mod tests;

pub use body::DecompressionBody;
pub use codec::{Decoder, Progress};
pub use error::{DecodeError, DecodeErrorKind, DecodedTooLarge};
pub use future::ResponseFuture;
pub use layer::{DEFAULT_MAX_CODINGS, DecompressionLayer};

/// The largest window a `zstd` frame may ask for: 64 MiB. A frame that needs more fails
/// to decode with a [`DecodeError`] of kind [`Other`](DecodeErrorKind::Other) before
/// anything is allocated for it. RFC 9659 has senders keep to 8 MiB.
#[cfg(feature = "zstd")]
pub const ZSTD_MAX_WINDOW: u64 = 1 << codec::ZSTD_MAX_WINDOW_LOG;
pub use service::Decompression;
