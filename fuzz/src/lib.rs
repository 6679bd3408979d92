//! Shared pieces of towline's cargo-fuzz targets: a runtime, in-memory bodies, the
//! decoder harness, and a dialer whose peer replays the fuzz input.
//!
//! Everything runs in memory on a current-thread runtime: no socket, no network.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Frame;
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tower::{Layer, ServiceExt};
use towline::BoxError;
use towline::connect::Destination;

/// A fresh current-thread runtime with timers: every input starts from a clean state,
/// so a crash reproduces from its input alone.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

/// How long an in-memory exchange may take before it counts as hung. Nothing here
/// waits on a peer that could still answer, so a future still pending after this is
/// stuck for good.
pub const HANG: Duration = Duration::from_secs(5);

/// Splits `input` at its first `\n`: the first line, and the rest (if any).
pub fn first_line(input: &[u8]) -> (&[u8], &[u8]) {
    match input.iter().position(|&b| b == b'\n') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, &[]),
    }
}

// ---------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------

/// A response body of the given frames, one per poll.
#[derive(Debug, Default)]
pub struct Frames(pub VecDeque<Bytes>);

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.get_mut().0.pop_front().map(|b| Ok(Frame::data(b))))
    }
}

/// Cuts `data` into frames whose sizes `ctrl` chooses: 1 to 64 bytes (1-byte frames
/// put every boundary mid-header), with an empty frame after every seventh when the
/// top bit is set.
pub fn split_frames(data: &[u8], ctrl: u8) -> VecDeque<Bytes> {
    let size = usize::from(ctrl & 0x3F) + 1;
    let empties = ctrl & 0x80 != 0;
    let mut frames = VecDeque::new();
    for (i, chunk) in data.chunks(size).enumerate() {
        frames.push_back(Bytes::copy_from_slice(chunk));
        if empties && i % 7 == 6 {
            frames.push_back(Bytes::new());
        }
    }
    frames
}

// ---------------------------------------------------------------------------------
// Decoders
// ---------------------------------------------------------------------------------

/// The decoded-size limit the decoder targets set on the layer.
pub const DECODE_LIMIT: u64 = 256 * 1024;

/// The largest data frame the decompression layer hands out (its module docs).
pub const MAX_DECODED_FRAME: usize = 64 * 1024;

/// The decoder target: `data[0]` chooses how the rest is cut into frames; the rest is
/// the body of a response with `Content-Encoding: coding`, decoded by
/// `DecompressionLayer` with a 256 KiB limit.
///
/// Invariants: no data frame over 64 KiB; never more than the limit decoded; a body
/// that is decoded loses `Content-Encoding` and `Content-Length`; and the outcome does
/// not depend on where the frames are cut: the body in one frame and the body in small
/// frames both fail, or both decode to the same bytes.
pub fn decode_target(coding: &[u8], data: &[u8]) {
    let Some((&ctrl, body)) = data.split_first() else {
        return;
    };
    let Ok(coding) = http::HeaderValue::from_bytes(coding) else {
        return;
    };
    let rt = runtime();
    let whole = rt.block_on(decode(
        coding.clone(),
        VecDeque::from([Bytes::copy_from_slice(body)]),
    ));
    let split = rt.block_on(decode(coding.clone(), split_frames(body, ctrl)));
    match (&whole, &split) {
        (Ok(a), Ok(b)) => assert!(
            a == b,
            "{coding:?}: one frame decoded to {} bytes, split frames (ctrl {ctrl:#04x}) to {} different bytes",
            a.len(),
            b.len()
        ),
        (Err(_), Err(_)) => {}
        (a, b) => panic!(
            "{coding:?}: one frame gave {:?}, split frames (ctrl {ctrl:#04x}) gave {:?}",
            a.as_ref().map(Vec::len),
            b.as_ref().map(Vec::len)
        ),
    }
}

async fn decode(coding: http::HeaderValue, frames: VecDeque<Bytes>) -> Result<Vec<u8>, String> {
    let len: usize = frames.iter().map(Bytes::len).sum();
    let frames = Mutex::new(Some(frames));
    let inner = tower::service_fn(move |_request: Request<()>| {
        let body = Frames(frames.lock().expect("frames").take().unwrap_or_default());
        let response = Response::builder()
            .header(http::header::CONTENT_ENCODING, coding.clone())
            .header(http::header::CONTENT_LENGTH, len)
            .body(body)
            .expect("response");
        std::future::ready(Ok::<_, BoxError>(response))
    });
    let client = towline::decompress::DecompressionLayer::new()
        .limit(DECODE_LIMIT)
        .layer(inner);
    let response = client
        .oneshot(Request::new(()))
        .await
        .map_err(|e| e.to_string())?;
    let decoding = response.body().is_decoding();
    if decoding {
        let headers = response.headers();
        assert!(
            !headers.contains_key(http::header::CONTENT_ENCODING)
                && !headers.contains_key(http::header::CONTENT_LENGTH),
            "a decoded response kept its coding headers: {headers:?}"
        );
    }
    let mut body = response.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        if let Some(data) = frame.data_ref() {
            assert!(
                data.len() <= MAX_DECODED_FRAME,
                "a frame of {} bytes",
                data.len()
            );
            out.extend_from_slice(data);
            if decoding {
                assert!(
                    out.len() as u64 <= DECODE_LIMIT,
                    "decoded {} bytes, over the limit of {DECODE_LIMIT}",
                    out.len()
                );
            }
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------
// A peer that replays the fuzz input
// ---------------------------------------------------------------------------------

/// A client-side stream that records every byte the client writes.
#[derive(Debug)]
pub struct Recording {
    inner: DuplexStream,
    written: Arc<Mutex<Vec<u8>>>,
}

impl AsyncRead for Recording {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Recording {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &polled {
            this.written
                .lock()
                .expect("written")
                .extend_from_slice(&buf[..*n]);
        }
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl towline::connect::Io for Recording {}

/// What a [`ScriptedPeer`] saw.
#[derive(Debug, Default)]
pub struct PeerLog {
    /// Every destination dialed, in order.
    pub dialed: Vec<Destination>,
}

/// A dialer whose every connection is an in-memory pipe to a scripted peer: it sends
/// `first` at once; then, if it has a `reply`, waits for the end of a request head
/// (`\r\n\r\n`) from the client and sends the reply (an HTTP client reads nothing
/// before it has sent a request); then shuts its write side and reads until the client
/// closes. [`Recording`] keeps a copy of what the client writes.
#[derive(Clone, Debug)]
pub struct ScriptedPeer {
    first: Bytes,
    reply: Option<Bytes>,
    /// Bytes written by the client, all connections together.
    written: Arc<Mutex<Vec<u8>>>,
    log: Arc<Mutex<PeerLog>>,
}

impl ScriptedPeer {
    /// A peer that sends `first`, then `reply` once a request head has arrived.
    pub fn new(first: &[u8], reply: Option<&[u8]>) -> ScriptedPeer {
        ScriptedPeer {
            first: Bytes::copy_from_slice(first),
            reply: reply.map(Bytes::copy_from_slice),
            written: Arc::default(),
            log: Arc::default(),
        }
    }

    /// Everything the client wrote so far.
    pub fn written(&self) -> Vec<u8> {
        self.written.lock().expect("written").clone()
    }

    /// The destinations dialed so far.
    pub fn dialed(&self) -> Vec<Destination> {
        self.log.lock().expect("log").dialed.clone()
    }
}

async fn serve(mut peer: DuplexStream, first: Bytes, reply: Option<Bytes>) {
    let mut buf = [0u8; 4096];
    if peer.write_all(&first).await.is_err() {
        return;
    }
    if let Some(reply) = reply {
        let mut seen = Vec::new();
        loop {
            match peer.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
            if contains(&seen, b"\r\n\r\n") {
                break;
            }
        }
        if peer.write_all(&reply).await.is_err() {
            return;
        }
    }
    if peer.shutdown().await.is_err() {
        return;
    }
    // Bounded by the client: it ends when the client closes its end (or when the
    // runtime is dropped).
    while let Ok(n) = peer.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

impl tower::Service<Destination> for ScriptedPeer {
    type Response = Recording;
    type Error = io::Error;
    type Future = std::future::Ready<io::Result<Recording>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Destination) -> Self::Future {
        self.log.lock().expect("log").dialed.push(dst);
        let (client, peer) = tokio::io::duplex(64 * 1024);
        tokio::spawn(serve(peer, self.first.clone(), self.reply.clone()));
        std::future::ready(Ok(Recording {
            inner: client,
            written: Arc::clone(&self.written),
        }))
    }
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Prints what `show` returns when `TOWLINE_FUZZ_DEBUG` is set (to see what a target
/// made of one input: `TOWLINE_FUZZ_DEBUG=1 cargo fuzz run <target> <file>`).
pub fn debug(show: impl FnOnce() -> String) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("TOWLINE_FUZZ_DEBUG").is_some()) {
        eprintln!("{}", show());
    }
}
