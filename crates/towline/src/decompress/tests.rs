//! The decompression layer against in-memory services and bodies.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::{Body as _, Frame};
use http_body_util::BodyExt;
use tokio_test::{assert_pending, assert_ready_ok, task};
use tower::{ServiceExt, service_fn};
use tower_test::mock;

use super::pipeline::MAX_CHUNK;
use super::*;
use crate::BoxError;

// ---------------------------------------------------------------------------------
// Coded inputs

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("write");
    e.finish().expect("finish")
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("write");
    e.finish().expect("finish")
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("write");
    e.finish().expect("finish")
}

/// Text that compresses like real text, not like a run of one byte.
fn text(len: usize) -> Vec<u8> {
    let words = [
        "towline ", "gzip ", "member ", "deflate ", "stream ", "body\n", "héllo ",
    ];
    let mut out = Vec::with_capacity(len + 16);
    let mut x: u32 = 12345;
    while out.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        out.extend_from_slice(words[(x >> 16) as usize % words.len()].as_bytes());
        if x % 7 == 0 {
            out.extend_from_slice(format!("{} ", x % 1000).as_bytes());
        }
    }
    out.truncate(len);
    out
}

/// A gzip member written by hand with every optional header field and the header CRC.
fn gzip_all_flags(data: &[u8], good_header_crc: bool) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0x1f, 1, 2, 3, 4, 0, 3];
    out.extend_from_slice(&5u16.to_le_bytes());
    out.extend_from_slice(b"extra");
    out.extend_from_slice(b"name.txt\0");
    out.extend_from_slice(b"a comment\0");
    let mut crc = flate2::Crc::new();
    crc.update(&out);
    let mut hcrc = (crc.sum() & 0xffff) as u16;
    if !good_header_crc {
        hcrc ^= 1;
    }
    out.extend_from_slice(&hcrc.to_le_bytes());
    out.extend_from_slice(&raw_deflate(data));
    let mut crc = flate2::Crc::new();
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

// ---------------------------------------------------------------------------------
// Bodies and services

enum Item {
    Data(Bytes),
    Pending,
    Fail,
    Trailers(HeaderMap),
}

/// A body that plays a script of frames, counting how often it was polled for one.
struct Script {
    items: VecDeque<Item>,
    polls: Arc<AtomicUsize>,
}

#[derive(Debug)]
struct InnerFailure;

impl std::fmt::Display for InnerFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the inner body failed")
    }
}

impl std::error::Error for InnerFailure {}

impl http_body::Body for Script {
    type Data = Bytes;
    type Error = InnerFailure;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, InnerFailure>>> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        match self.items.pop_front() {
            None => Poll::Ready(None),
            Some(Item::Data(b)) => Poll::Ready(Some(Ok(Frame::data(b)))),
            Some(Item::Trailers(t)) => Poll::Ready(Some(Ok(Frame::trailers(t)))),
            Some(Item::Fail) => Poll::Ready(Some(Err(InnerFailure))),
            Some(Item::Pending) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.items.is_empty()
    }
}

fn script(items: Vec<Item>) -> Script {
    Script {
        items: items.into(),
        polls: Arc::default(),
    }
}

/// `data` in frames of `frame` bytes.
fn frames(data: &[u8], frame: usize) -> Script {
    script(
        data.chunks(frame.max(1))
            .map(|c| Item::Data(Bytes::copy_from_slice(c)))
            .collect(),
    )
}

/// Sends one request through `layer` to a service answering with `response`.
async fn through<B>(
    layer: DecompressionLayer,
    request: Request<()>,
    response: Response<B>,
) -> Response<DecompressionBody<B>>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let mut response = Some(response);
    let inner = service_fn(move |_req: Request<()>| {
        let response = response.take().expect("one request");
        async move { Ok::<_, Infallible>(response) }
    });
    let service = tower::Layer::layer(&layer, inner);
    service.oneshot(request).await.expect("infallible")
}

fn get() -> Request<()> {
    Request::get("http://h.test/").body(()).expect("request")
}

fn encoded<B>(encoding: &str, body: B) -> Response<B> {
    Response::builder()
        .header("content-encoding", encoding)
        .header("content-length", "1234")
        .body(body)
        .expect("response")
}

/// Reads a body to its end: the bytes, the size of each data frame, and the error if
/// it failed.
async fn read_all<B>(body: B) -> (Vec<u8>, Vec<usize>, Option<BoxError>)
where
    B: http_body::Body<Data = Bytes, Error = BoxError>,
{
    let mut body = std::pin::pin!(body);
    let (mut out, mut sizes) = (Vec::new(), Vec::new());
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    sizes.push(data.len());
                    out.extend_from_slice(&data);
                }
            }
            Err(e) => return (out, sizes, Some(e)),
        }
    }
    (out, sizes, None)
}

async fn decode(encoding: &str, body: Script) -> Result<Vec<u8>, BoxError> {
    let response = through(DecompressionLayer::new(), get(), encoded(encoding, body)).await;
    let (out, _, err) = read_all(response.into_body()).await;
    match err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn decode_error(err: &BoxError) -> &DecodeError {
    err.downcast_ref::<DecodeError>()
        .unwrap_or_else(|| panic!("not a DecodeError: {err}"))
}

async fn decode_err(encoding: &str, body: Script) -> DecodeError {
    match decode(encoding, body).await {
        Ok(out) => panic!("decoded {} bytes, expected an error", out.len()),
        Err(e) => match e.downcast::<DecodeError>() {
            Ok(e) => *e,
            Err(e) => panic!("not a DecodeError: {e}"),
        },
    }
}

// ---------------------------------------------------------------------------------
// Round trips

#[tokio::test]
async fn every_coding_round_trips_in_any_frame_size() {
    let data = text(100_000);
    let cases: [(&str, Vec<u8>); 5] = [
        ("gzip", gzip(&data)),
        ("x-gzip", gzip(&data)),
        ("GZip", gzip(&data)),
        ("deflate", zlib(&data)),
        ("deflate", raw_deflate(&data)),
    ];
    for (encoding, coded) in &cases {
        for frame in [1, 2, 3, 7, 100, 4096, coded.len()] {
            let out = decode(encoding, frames(coded, frame)).await;
            let out = out.unwrap_or_else(|e| panic!("{encoding} in frames of {frame}: {e}"));
            assert!(out == data, "{encoding} in frames of {frame}");
        }
    }
}

#[tokio::test]
async fn gzip_header_with_every_flag_is_parsed() {
    let data = text(5000);
    let coded = gzip_all_flags(&data, true);
    for frame in [1, 3, coded.len()] {
        assert_eq!(
            decode("gzip", frames(&coded, frame))
                .await
                .expect("decoded"),
            data
        );
    }
    let err = decode_err("gzip", frames(&gzip_all_flags(&data, false), 1)).await;
    assert_eq!(err.kind(), DecodeErrorKind::Checksum);
    assert_eq!(err.to_string(), "gzip header CRC mismatch");
}

#[tokio::test]
async fn gzip_members_are_concatenated_including_empty_ones() {
    let (a, b) = (text(3000), text(7000));
    let mut coded = gzip(&a);
    coded.extend(gzip(b""));
    coded.extend(gzip(&b));
    coded.extend(gzip(b""));
    for frame in [1, 5, coded.len()] {
        let out = decode("gzip", frames(&coded, frame))
            .await
            .expect("decoded");
        assert!(out == [&a[..], &b[..]].concat(), "frames of {frame}");
    }
    let only_empty = decode("gzip", frames(&gzip(b""), 1))
        .await
        .expect("decoded");
    assert!(only_empty.is_empty());
}

#[tokio::test]
async fn stacked_codings_are_undone_last_first() {
    let data = text(50_000);
    // `deflate, gzip`: deflated first, then gzipped.
    let coded = gzip(&zlib(&data));
    for frame in [1, 1000, coded.len()] {
        let out = decode("deflate, gzip", frames(&coded, frame)).await;
        assert!(out.expect("decoded") == data, "frames of {frame}");
    }
    // The same list split over two header lines, with identity mixed in.
    let response = Response::builder()
        .header("content-encoding", "deflate")
        .header("content-encoding", "identity , gzip")
        .body(frames(&coded, 10))
        .expect("response");
    let response = through(DecompressionLayer::new(), get(), response).await;
    assert!(response.headers().get("content-encoding").is_none());
    assert!(read_all(response.into_body()).await.0 == data);
    let twice = gzip(&gzip(&data));
    assert!(
        decode("gzip,gzip", frames(&twice, 7))
            .await
            .expect("decoded")
            == data
    );
}

#[tokio::test]
async fn too_many_stacked_codings_fail() {
    let data = b"layers";
    let mut coded = data.to_vec();
    for _ in 0..4 {
        coded = gzip(&coded);
    }
    let err = decode_err("gzip, gzip, gzip, gzip", frames(&coded, 100)).await;
    assert_eq!(err.kind(), DecodeErrorKind::TooManyCodings);
    let layer = DecompressionLayer::new().max_codings(4);
    let response = through(
        layer,
        get(),
        coded_response("gzip, gzip, gzip, gzip", &coded),
    )
    .await;
    assert_eq!(read_all(response.into_body()).await.0, data);
}

fn coded_response(encoding: &str, coded: &[u8]) -> Response<Script> {
    encoded(encoding, frames(coded, 64))
}

// ---------------------------------------------------------------------------------
// Broken input

#[tokio::test]
async fn every_truncation_of_gzip_is_an_error() {
    let coded = gzip(&text(2000));
    // Cut in the header (1..10), the deflate data, and the trailer (last 8 bytes).
    for cut in 1..coded.len() {
        for frame in [1, cut] {
            let err = decode_err("gzip", frames(&coded[..cut], frame)).await;
            assert_eq!(err.kind(), DecodeErrorKind::Truncated, "cut at {cut}");
            assert_eq!(err.to_string(), "gzip body is truncated");
        }
    }
}

#[tokio::test]
async fn every_truncation_of_deflate_is_an_error() {
    let data = text(2000);
    for coded in [zlib(&data), raw_deflate(&data)] {
        for cut in 1..coded.len() {
            let err = decode_err("deflate", frames(&coded[..cut], 1 + cut % 5)).await;
            assert_eq!(err.kind(), DecodeErrorKind::Truncated, "cut at {cut}");
            assert_eq!(err.to_string(), "deflate body is truncated");
        }
    }
}

#[tokio::test]
async fn bad_crc_and_bad_isize_are_errors() {
    let coded = gzip(&text(3000));
    let n = coded.len();
    let mut bad_crc = coded.clone();
    bad_crc[n - 8] ^= 0x01;
    let err = decode_err("gzip", frames(&bad_crc, 1)).await;
    assert_eq!(err.kind(), DecodeErrorKind::Checksum);
    assert_eq!(err.to_string(), "gzip CRC mismatch");

    let mut bad_len = coded.clone();
    bad_len[n - 1] ^= 0x80;
    let err = decode_err("gzip", frames(&bad_len, 1000)).await;
    assert_eq!(err.kind(), DecodeErrorKind::Length);
    assert!(err.to_string().starts_with("gzip length mismatch"), "{err}");

    // A bad CRC in the second member is found too.
    let mut two = gzip(b"first");
    two.extend(&bad_crc);
    assert_eq!(
        decode_err("gzip", frames(&two, 64)).await.kind(),
        DecodeErrorKind::Checksum
    );
}

#[tokio::test]
async fn a_bad_zlib_checksum_is_an_error() {
    let good = zlib(&text(3000));
    let n = good.len();
    // Any of the trailer's four bytes, in frames of any size.
    for at in n - 4..n {
        let mut coded = good.clone();
        coded[at] ^= 0x01;
        for frame in [1, 3, n] {
            let err = decode_err("deflate", frames(&coded, frame)).await;
            assert_eq!(err.kind(), DecodeErrorKind::Checksum, "byte {at}");
            assert!(
                err.to_string().starts_with("deflate Adler-32 mismatch: "),
                "{err}"
            );
        }
    }
    // Damage the inflater cannot notice (a byte of a stored block) shows in the
    // checksum.
    let mut stored = ZlibEncoder::new(Vec::new(), Compression::none());
    stored.write_all(&text(3000)).expect("write");
    let mut coded = stored.finish().expect("finish");
    coded[1000] ^= 0x01;
    let err = decode_err("deflate", frames(&coded, 64)).await;
    assert_eq!(err.kind(), DecodeErrorKind::Checksum);
    // A bad checksum followed by more bytes is reported as the checksum.
    let mut coded = good.clone();
    coded[n - 1] ^= 0x01;
    coded.extend_from_slice(b"more");
    let err = decode_err("deflate", frames(&coded, n + 4)).await;
    assert_eq!(err.kind(), DecodeErrorKind::Checksum);
}

#[tokio::test]
async fn bit_flips_in_zlib_data_are_caught_the_same_in_any_frames() {
    let data = text(600);
    let good = zlib(&data);
    let mut flipped_ok = 0;
    for at in 2..good.len() {
        for bit in 0..8 {
            let mut coded = good.clone();
            coded[at] ^= 1 << bit;
            let kind = |r: Result<Vec<u8>, BoxError>| match r {
                // Only the padding bits after the last block are free to change.
                Ok(out) => {
                    assert!(out == data, "byte {at} bit {bit}: decoded other bytes");
                    None
                }
                Err(e) => Some(decode_error(&e).kind()),
            };
            let whole = kind(decode("deflate", frames(&coded, coded.len())).await);
            let split = kind(decode("deflate", frames(&coded, 1 + at % 7)).await);
            assert_eq!(whole, split, "byte {at} bit {bit}");
            if at >= good.len() - 4 {
                assert_eq!(whole, Some(DecodeErrorKind::Checksum), "byte {at}");
            }
            flipped_ok += usize::from(whole.is_none());
        }
    }
    assert!(flipped_ok < 8, "{flipped_ok} flips went unnoticed");
}

#[tokio::test]
async fn a_zlib_stream_needing_a_preset_dictionary_is_corrupt() {
    // CMF 0x78, FLG with FDICT set and a valid header check, a dictionary id.
    let flg = (0..=255u8)
        .find(|flg| flg & 0x20 != 0 && (0x7800 | u16::from(*flg)) % 31 == 0)
        .expect("a header check");
    let coded = [0x78, flg, 0, 0, 0, 1, 3, 0];
    let err = decode_err("deflate", frames(&coded, 1)).await;
    assert_eq!(err.kind(), DecodeErrorKind::Corrupt);
    assert!(err.to_string().contains("preset dictionary"), "{err}");
}

#[tokio::test]
async fn trailing_bytes_after_the_end_are_errors() {
    let data = text(1000);
    for garbage in [&b"x"[..], b"\0", b"\0\0\0\0", b"\x1fX", b"garbage after"] {
        let mut coded = gzip(&data);
        coded.extend_from_slice(garbage);
        for frame in [1, coded.len()] {
            let err = decode_err("gzip", frames(&coded, frame)).await;
            assert_eq!(err.kind(), DecodeErrorKind::TrailingData, "{garbage:?}");
            assert_eq!(err.to_string(), "trailing bytes after the last gzip member");
        }
        for mut coded in [zlib(&data), raw_deflate(&data)] {
            coded.extend_from_slice(garbage);
            for frame in [1, coded.len()] {
                let err = decode_err("deflate", frames(&coded, frame)).await;
                assert_eq!(err.kind(), DecodeErrorKind::TrailingData, "{garbage:?}");
            }
        }
    }
    // A lone first magic byte is the start of a member that never came.
    let mut coded = gzip(&data);
    coded.push(0x1f);
    assert!(decode("gzip", frames(&coded, 1)).await.is_err());
}

#[tokio::test]
async fn corrupt_data_is_an_error() {
    let err = decode_err("gzip", frames(b"plain text, not gzip", 4)).await;
    assert_eq!(err.kind(), DecodeErrorKind::Corrupt);
    assert_eq!(
        err.to_string(),
        "gzip data is corrupt: it does not start with the gzip magic bytes"
    );
    // A valid header, then a deflate block of the reserved type 3.
    let mut coded = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x07, 0, 0, 0];
    coded.extend_from_slice(&[0; 8]);
    let err = decode_err("gzip", frames(&coded, 1)).await;
    assert_eq!(err.kind(), DecodeErrorKind::Corrupt);
    assert!(
        crate::error::Report::new(&err)
            .to_string()
            .starts_with("gzip data is corrupt: "),
        "{err}"
    );
    // Reserved flags and a method other than deflate.
    let err = decode_err("gzip", frames(&[0x1f, 0x8b, 8, 0x20, 0, 0], 1)).await;
    assert_eq!(err.kind(), DecodeErrorKind::Corrupt);
    let err = decode_err("gzip", frames(&[0x1f, 0x8b, 7, 0, 0, 0], 1)).await;
    assert_eq!(err.kind(), DecodeErrorKind::Corrupt);
    let err = decode_err("deflate", frames(&[0x07, 0, 0, 0], 1)).await;
    assert_eq!(err.kind(), DecodeErrorKind::Corrupt);
}

#[tokio::test]
async fn errors_of_the_inner_body_pass_through() {
    let coded = gzip(&text(500));
    let body = script(vec![
        Item::Data(Bytes::copy_from_slice(&coded[..20])),
        Item::Fail,
    ]);
    let err = decode("gzip", body).await.expect_err("inner failure");
    assert!(err.is::<InnerFailure>(), "{err}");
}

// ---------------------------------------------------------------------------------
// Limits, buffers, backpressure

#[tokio::test]
async fn output_stops_at_the_limit() {
    let data = vec![0u8; 4 << 20];
    let coded = gzip(&data);
    for (limit, ok) in [
        (data.len() as u64, true),
        (data.len() as u64 - 1, false),
        (1000, false),
    ] {
        let layer = DecompressionLayer::new().limit(limit);
        let response = through(layer, get(), coded_response("gzip", &coded)).await;
        let (out, sizes, err) = read_all(response.into_body()).await;
        assert_eq!(err.is_none(), ok, "limit {limit}");
        assert!(out.len() as u64 <= limit, "never more than the limit");
        assert!(sizes.iter().all(|&s| s <= MAX_CHUNK));
        if let Some(err) = err {
            let too_large = err
                .downcast_ref::<DecodedTooLarge>()
                .expect("DecodedTooLarge");
            assert_eq!(too_large.limit(), limit);
            assert_eq!(too_large.coding(), "gzip");
            let err = crate::Error::from_body(err);
            assert!(err.is_decode() && !err.is_body(), "{err}");
            assert_eq!(err.kind(), crate::Kind::Decode);
        }
    }
    let layer = DecompressionLayer::new().limit(None);
    let response = through(layer, get(), coded_response("gzip", &coded)).await;
    assert_eq!(read_all(response.into_body()).await.0.len(), data.len());
}

#[tokio::test]
async fn output_comes_in_big_chunks_from_a_reused_buffer() {
    let data = text(2 << 20);
    let coded = gzip(&data);
    let response = through(
        DecompressionLayer::new(),
        get(),
        coded_response("gzip", &coded),
    )
    .await;
    let mut body = std::pin::pin!(response.into_body());
    let (mut sizes, mut addresses, mut out) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(frame) = body.frame().await {
        let data = frame.expect("frame").into_data().expect("data");
        sizes.push(data.len());
        addresses.push(data.as_ptr() as usize);
        out.extend_from_slice(&data);
        // `data` is dropped here, so the decoder may take its buffer back.
    }
    assert!(out == data);
    assert!(sizes.iter().all(|&s| s <= MAX_CHUNK), "{sizes:?}");
    // Buffers grow 16, 32, then 64 KiB, and every chunk after that is a full one.
    assert_eq!(&sizes[..3], &[16 << 10, 32 << 10, 64 << 10]);
    assert!(sizes[3..sizes.len() - 1].iter().all(|&s| s == MAX_CHUNK));
    // Once the reader drops each chunk, every full chunk reuses the same allocation.
    let steady = &addresses[3..addresses.len() - 1];
    assert!(steady.windows(2).all(|w| w[0] == w[1]), "buffer reused");
}

#[tokio::test]
async fn decoding_pulls_input_only_as_output_is_read() {
    // 8 MiB of zeros in 10-byte frames: the whole input is ~800 frames.
    let coded = gzip(&vec![0u8; 8 << 20]);
    let body = frames(&coded, 10);
    let total = body.items.len();
    let polls = Arc::clone(&body.polls);
    let response = through(DecompressionLayer::new(), get(), encoded("gzip", body)).await;
    let mut body = std::pin::pin!(response.into_body());
    let first = body.frame().await.expect("frame").expect("data");
    assert_eq!(first.data_ref().map(Bytes::len), Some(16 << 10));
    let polled = polls.load(Ordering::Relaxed);
    assert!(
        polled < 10,
        "read {polled} of {total} frames for the first chunk"
    );
}

#[tokio::test]
async fn decoded_bytes_are_handed_out_when_the_inner_body_waits() {
    let data = text(100);
    let coded = gzip(&data);
    let body = script(vec![
        Item::Data(Bytes::copy_from_slice(&coded[..coded.len() - 8])),
        Item::Pending,
        Item::Data(Bytes::copy_from_slice(&coded[coded.len() - 8..])),
    ]);
    let response = through(DecompressionLayer::new(), get(), encoded("gzip", body)).await;
    let mut body = task::spawn(response.into_body());
    // Everything is decoded before the trailer arrives, and handed out rather than held.
    let frame = body.enter(|cx, body| body.poll_frame(cx));
    let Poll::Ready(Some(Ok(frame))) = frame else {
        panic!("a frame before the inner body's wait")
    };
    assert_eq!(frame.into_data().expect("data"), data);
    let rest = read_all(body.into_inner()).await;
    assert!(rest.0.is_empty() && rest.2.is_none());
}

#[tokio::test]
async fn trailers_follow_the_decoded_data() {
    let coded = gzip(b"with trailers");
    let mut trailers = HeaderMap::new();
    trailers.insert("x-checksum", "abc".parse().expect("value"));
    let body = script(vec![
        Item::Data(Bytes::copy_from_slice(&coded)),
        Item::Trailers(trailers),
    ]);
    let response = through(DecompressionLayer::new(), get(), encoded("gzip", body)).await;
    let collected = response.into_body().collect().await.expect("body");
    assert_eq!(
        collected.trailers().map(|t| &t["x-checksum"]),
        Some(&"abc".parse().expect("v"))
    );
    assert_eq!(collected.to_bytes(), "with trailers");
}

// ---------------------------------------------------------------------------------
// Headers, and what passes untouched

#[tokio::test]
async fn decoded_responses_lose_content_encoding_and_length() {
    let coded = gzip(b"hello");
    let response = through(
        DecompressionLayer::new(),
        get(),
        coded_response("gzip", &coded),
    )
    .await;
    assert!(response.body().is_decoding());
    assert!(response.headers().get("content-encoding").is_none());
    assert!(response.headers().get("content-length").is_none());
    assert_eq!(response.body().size_hint().exact(), None);
    assert_eq!(read_all(response.into_body()).await.0, b"hello");
}

#[tokio::test]
async fn unknown_codings_pass_through_with_their_headers() {
    for encoding in ["x-unknown", "compress", "gzip, compress", "compress, gzip"] {
        let response = through(
            DecompressionLayer::new(),
            get(),
            encoded(encoding, frames(b"opaque", 2)),
        )
        .await;
        assert!(!response.body().is_decoding());
        assert_eq!(response.headers()["content-encoding"], encoding);
        assert_eq!(response.headers()["content-length"], "1234");
        assert_eq!(read_all(response.into_body()).await.0, b"opaque");
    }
    // A coding switched off is unknown too.
    let coded = gzip(b"kept");
    let layer = DecompressionLayer::new().gzip(false);
    let response = through(layer, get(), coded_response("gzip", &coded)).await;
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert_eq!(read_all(response.into_body()).await.0, coded);
}

#[tokio::test]
async fn identity_only_drops_the_header() {
    let response = through(
        DecompressionLayer::new(),
        get(),
        encoded("identity", frames(b"plain", 2)),
    )
    .await;
    assert!(response.headers().get("content-encoding").is_none());
    assert_eq!(response.headers()["content-length"], "1234");
    assert_eq!(read_all(response.into_body()).await.0, b"plain");
}

#[tokio::test]
async fn head_204_206_304_and_empty_bodies_pass_untouched() {
    let head = Request::head("http://h.test/").body(()).expect("request");
    let response = through(
        DecompressionLayer::new(),
        head,
        encoded("gzip", script(vec![])),
    )
    .await;
    assert!(!response.body().is_decoding());
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert_eq!(response.headers()["content-length"], "1234");

    for status in [204, 206, 304] {
        let mut response = encoded("gzip", frames(b"raw", 3));
        *response.status_mut() = StatusCode::from_u16(status).expect("status");
        let response = through(DecompressionLayer::new(), get(), response).await;
        assert_eq!(response.headers()["content-encoding"], "gzip", "{status}");
        assert_eq!(read_all(response.into_body()).await.0, b"raw", "{status}");
    }

    let empty = Response::builder()
        .header("content-encoding", "gzip")
        .header("content-length", "0")
        .body(http_body_util::Empty::<Bytes>::new())
        .expect("response");
    let response = through(DecompressionLayer::new(), get(), empty).await;
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert_eq!(response.headers()["content-length"], "0");
    assert!(response.body().is_end_stream());

    // A body whose emptiness shows only at its end decodes to nothing, not an error.
    let response = through(
        DecompressionLayer::new(),
        get(),
        encoded(
            "gzip",
            script(vec![Item::Pending, Item::Data(Bytes::new())]),
        ),
    )
    .await;
    let (out, _, err) = read_all(response.into_body()).await;
    assert!(out.is_empty() && err.is_none());
}

#[tokio::test]
async fn accept_encoding_is_set_only_when_absent() {
    async fn sent(layer: DecompressionLayer, request: Request<()>) -> Option<String> {
        let (mut service, mut handle) =
            mock::spawn_layer::<Request<()>, Response<Script>, _>(layer);
        assert_ready_ok!(service.poll_ready());
        let mut response = task::spawn(service.call(request));
        assert_pending!(response.poll());
        let (request, respond) = handle.next_request().await.expect("request");
        respond.send_response(Response::new(script(vec![])));
        assert_ready_ok!(response.poll());
        request
            .headers()
            .get("accept-encoding")
            .map(|v| v.to_str().expect("ascii").to_owned())
    }
    // With br and zstd switched off as they may be compiled in, only the codings
    // of the default features remain.
    let layer = || {
        let layer = DecompressionLayer::new();
        #[cfg(feature = "br")]
        let layer = layer.br(false);
        #[cfg(feature = "zstd")]
        let layer = layer.zstd(false);
        layer
    };
    assert_eq!(sent(layer(), get()).await.as_deref(), Some("gzip, deflate"));
    let own = Request::get("http://h.test/")
        .header("accept-encoding", "identity")
        .body(())
        .expect("request");
    assert_eq!(sent(layer(), own).await.as_deref(), Some("identity"));
    let range = Request::get("http://h.test/")
        .header("range", "bytes=10-")
        .body(())
        .expect("request");
    assert_eq!(sent(layer(), range).await, None);
    assert_eq!(
        sent(layer().gzip(false), get()).await.as_deref(),
        Some("deflate")
    );
    assert_eq!(
        sent(layer().deflate(false), get()).await.as_deref(),
        Some("gzip")
    );
    assert_eq!(sent(layer().gzip(false).deflate(false), get()).await, None);
    let custom = layer().decoder("rot13", Rot13::default);
    assert_eq!(
        sent(custom, get()).await.as_deref(),
        Some("gzip, deflate, rot13")
    );
}

#[tokio::test]
async fn readiness_and_errors_of_the_inner_service_pass_through() {
    let (mut service, mut handle) =
        mock::spawn_layer::<Request<()>, Response<Script>, _>(DecompressionLayer::new());
    handle.allow(0);
    assert_pending!(service.poll_ready());
    handle.allow(1);
    assert_ready_ok!(service.poll_ready());
    let mut response = task::spawn(service.call(get()));
    let (_, respond) = handle.next_request().await.expect("request");
    respond.send_error(InnerFailure);
    let err = tokio_test::assert_ready_err!(response.poll());
    assert!(err.is::<InnerFailure>());
}

// ---------------------------------------------------------------------------------
// Decoders of one's own

/// rot13 over ASCII letters; a `!` at the very end is required, to test `finish`.
#[derive(Default)]
struct Rot13 {
    bang: bool,
}

impl Decoder for Rot13 {
    fn decode(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, DecodeError> {
        let n = input.len().min(output.len());
        for (o, &i) in output.iter_mut().zip(&input[..n]) {
            if self.bang {
                return Err(DecodeError::new(DecodeErrorKind::TrailingData));
            }
            self.bang = i == b'!';
            *o = match i {
                b'a'..=b'z' => (i - b'a' + 13) % 26 + b'a',
                b'A'..=b'Z' => (i - b'A' + 13) % 26 + b'A',
                _ => i,
            };
        }
        Ok(Progress::new(n, n))
    }

    fn finish(&mut self, _output: &mut [u8]) -> Result<usize, DecodeError> {
        if self.bang {
            Ok(0)
        } else {
            Err(DecodeError::new(DecodeErrorKind::Truncated))
        }
    }
}

#[tokio::test]
async fn a_decoder_of_ones_own_is_used_and_stacks() {
    let layer = || DecompressionLayer::new().decoder("rot13", Rot13::default);
    let response = through(layer(), get(), encoded("ROT13", frames(b"Uryyb!", 1))).await;
    assert_eq!(read_all(response.into_body()).await.0, b"Hello!");

    let coded = gzip(b"Uryyb, jbeyq!");
    let response = through(layer(), get(), coded_response("rot13, gzip", &coded)).await;
    assert_eq!(read_all(response.into_body()).await.0, b"Hello, world!");

    let response = through(layer(), get(), encoded("rot13", frames(b"Uryyb", 2))).await;
    let err = read_all(response.into_body()).await.2.expect("truncated");
    let err = decode_error(&err);
    assert_eq!(
        (err.kind(), err.coding()),
        (DecodeErrorKind::Truncated, "rot13")
    );
    assert_eq!(err.to_string(), "rot13 body is truncated");

    // Registering a built-in name replaces the built-in decoder.
    let layer = DecompressionLayer::new().decoder("gzip", Rot13::default);
    let response = through(layer, get(), encoded("gzip", frames(b"Uv!", 1))).await;
    assert_eq!(read_all(response.into_body()).await.0, b"Hi!");
}

#[tokio::test]
async fn a_decoder_that_makes_no_progress_fails_the_body() {
    struct Stuck;
    impl Decoder for Stuck {
        fn decode(&mut self, _: &[u8], _: &mut [u8]) -> Result<Progress, DecodeError> {
            Ok(Progress::default())
        }
        fn finish(&mut self, _: &mut [u8]) -> Result<usize, DecodeError> {
            Ok(0)
        }
    }
    let layer = DecompressionLayer::new().decoder("stuck", || Stuck);
    let response = through(layer, get(), encoded("stuck", frames(b"abc", 1))).await;
    let err = read_all(response.into_body()).await.2.expect("error");
    assert_eq!(decode_error(&err).kind(), DecodeErrorKind::Other);
    assert_eq!(
        err.to_string(),
        "the stuck decoder made no progress on its input"
    );
}

#[test]
#[should_panic(expected = "cannot name a content coding")]
fn a_coding_name_must_be_a_token() {
    let _ = DecompressionLayer::new().decoder("not a token", Rot13::default);
}

// ---------------------------------------------------------------------------------
// The facade's error

#[tokio::test]
async fn read_body_reports_decode_errors_as_such() {
    let coded = gzip(b"cut short");
    let response = through(
        DecompressionLayer::new(),
        get(),
        coded_response("gzip", &coded[..coded.len() - 3]),
    )
    .await;
    let err = crate::body::read_body(response.into_body())
        .await
        .expect_err("truncated");
    assert!(err.is_decode(), "{err:?}");
    assert!(!err.is_body() && !err.is_truncated());
    assert_eq!(err.kind(), crate::Kind::Decode);
    assert_eq!(
        err.report().to_string(),
        "decoding the body failed: gzip body is truncated"
    );

    // An inner body error stays what it was.
    let body = script(vec![Item::Fail]);
    let response = through(DecompressionLayer::new(), get(), encoded("gzip", body)).await;
    let err = crate::body::read_body(response.into_body())
        .await
        .expect_err("inner failure");
    assert!(err.is_body() && !err.is_decode());
}

#[test]
fn types_are_send_sync_and_debug() {
    fn send<T: Send + 'static>() {}
    fn send_sync<T: Send + Sync + 'static>() {}
    send::<DecompressionBody<crate::connect::ResponseBody>>();
    send_sync::<DecodeError>();
    send_sync::<DecodedTooLarge>();
    send_sync::<DecompressionLayer>();
    send_sync::<Decompression<crate::connect::Connector>>();
    let layer = DecompressionLayer::new().decoder("rot13", Rot13::default);
    assert!(format!("{layer:?}").contains("rot13"));
    // Every way to build the service gives the same thing.
    let _: Decompression<()> = tower::Layer::layer(&Decompression::layer().limit(1), ());
    let mut service = Decompression::new(());
    let _: &mut () = service.get_mut();
    let _: () = service.into_inner();
}

// ---------------------------------------------------------------------------------
// br and zstd

#[cfg(all(feature = "br", feature = "zstd"))]
#[tokio::test]
async fn br_and_zstd_are_offered_when_compiled_and_on() {
    async fn sent(layer: DecompressionLayer) -> Option<String> {
        let (mut service, mut handle) =
            mock::spawn_layer::<Request<()>, Response<Script>, _>(layer);
        assert_ready_ok!(service.poll_ready());
        let mut response = task::spawn(service.call(get()));
        assert_pending!(response.poll());
        let (request, respond) = handle.next_request().await.expect("request");
        respond.send_response(Response::new(script(vec![])));
        assert_ready_ok!(response.poll());
        request
            .headers()
            .get("accept-encoding")
            .map(|v| v.to_str().expect("ascii").to_owned())
    }
    let layer = DecompressionLayer::new;
    assert_eq!(
        sent(layer()).await.as_deref(),
        Some("gzip, deflate, br, zstd")
    );
    assert_eq!(
        sent(layer().br(false)).await.as_deref(),
        Some("gzip, deflate, zstd")
    );
    assert_eq!(
        sent(layer().zstd(false)).await.as_deref(),
        Some("gzip, deflate, br")
    );
    let only = layer().gzip(false).deflate(false).zstd(false);
    assert_eq!(sent(only).await.as_deref(), Some("br"));

    // Switched off, each passes through untouched.
    for (encoding, layer) in [("br", layer().br(false)), ("zstd", layer().zstd(false))] {
        let response = through(layer, get(), encoded(encoding, frames(b"opaque", 2))).await;
        assert!(!response.body().is_decoding());
        assert_eq!(response.headers()["content-encoding"], encoding);
        assert_eq!(read_all(response.into_body()).await.0, b"opaque");
    }
}

#[cfg(feature = "br")]
mod br {
    use super::*;

    pub(super) fn brotli(data: &[u8]) -> Vec<u8> {
        brotli_level(data, 5, 22)
    }

    fn brotli_level(data: &[u8], quality: u32, lgwin: u32) -> Vec<u8> {
        let mut e = ::brotli::CompressorWriter::new(Vec::new(), 4096, quality, lgwin);
        e.write_all(data).expect("write");
        e.into_inner()
    }

    #[tokio::test]
    async fn br_round_trips_in_any_frame_size() {
        let data = text(200_000);
        for coded in [
            brotli(&data),
            brotli_level(&data, 11, 24),
            brotli_level(&data, 0, 10),
        ] {
            for frame in [1, 2, 3, 7, 100, 4096, coded.len()] {
                let out = decode("br", frames(&coded, frame)).await;
                let out = out.unwrap_or_else(|e| panic!("br in frames of {frame}: {e}"));
                assert!(out == data, "br in frames of {frame}");
            }
        }
        // Case-insensitive, and the empty stream.
        assert!(
            decode("BR", frames(&brotli(&data), 999))
                .await
                .expect("decoded")
                == data
        );
        let empty = brotli(b"");
        assert!(
            decode("br", frames(&empty, 1))
                .await
                .expect("decoded")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn every_truncation_of_br_is_an_error() {
        let coded = brotli(&text(3000));
        for cut in 1..coded.len() {
            for frame in [1, cut] {
                let err = decode_err("br", frames(&coded[..cut], frame)).await;
                assert_eq!(err.kind(), DecodeErrorKind::Truncated, "cut at {cut}");
                assert_eq!(err.to_string(), "br body is truncated");
            }
        }
    }

    #[tokio::test]
    async fn trailing_bytes_after_br_are_an_error() {
        let data = text(1000);
        for garbage in [&b"x"[..], b"\0", b"\0\0\0\0\0\0\0\0\0", b"garbage after"] {
            let mut coded = brotli(&data);
            coded.extend_from_slice(garbage);
            for frame in [1, 2, 5, coded.len()] {
                let err = decode_err("br", frames(&coded, frame)).await;
                assert_eq!(
                    err.kind(),
                    DecodeErrorKind::TrailingData,
                    "{garbage:?} {frame}"
                );
                assert_eq!(
                    err.to_string(),
                    "trailing bytes after the end of the brotli stream"
                );
            }
        }
        // Two streams back to back are one stream and garbage.
        let mut two = brotli(b"one");
        two.extend(brotli(b"two"));
        let err = decode_err("br", frames(&two, 3)).await;
        assert_eq!(err.kind(), DecodeErrorKind::TrailingData);
    }

    #[tokio::test]
    async fn corrupt_br_is_an_error() {
        // 0x11 starts a large-window stream, which plain brotli does not allow.
        for coded in [&b"\x11\x00\x00\x00"[..], b"plain text, not brotli at all"] {
            for frame in [1, coded.len()] {
                let err = decode_err("br", frames(coded, frame)).await;
                assert_eq!(err.kind(), DecodeErrorKind::Corrupt, "{coded:?}");
                assert!(
                    err.to_string().starts_with("brotli data is corrupt ("),
                    "{err}"
                );
                assert_eq!(err.coding(), "br");
            }
        }
    }

    #[tokio::test]
    async fn a_br_bomb_stops_at_the_limit() {
        let coded = brotli_level(&vec![0u8; 32 << 20], 5, 24);
        assert!(coded.len() < 64 << 10, "{} bytes", coded.len());
        let layer = DecompressionLayer::new().limit(1 << 20);
        let response = through(layer, get(), coded_response("br", &coded)).await;
        let (out, sizes, err) = read_all(response.into_body()).await;
        let err = err.expect("too large");
        let too_large = err
            .downcast_ref::<DecodedTooLarge>()
            .expect("DecodedTooLarge");
        assert_eq!((too_large.limit(), too_large.coding()), (1 << 20, "br"));
        assert!(out.len() <= 1 << 20);
        assert!(sizes.iter().all(|&s| s <= MAX_CHUNK));
    }

    /// Found by `decode_stacked` (issue 18): a meta-block whose copy runs past its
    /// declared length (RFC 7932 section 9.3: "the stream should be rejected"). The
    /// reference decoder rejects it however it is cut; brotli-decompressor 5 rejected
    /// it only when its ring buffer happened to be written while the overrun was
    /// pending, so it decoded to 26 bytes in one frame and failed in 2-byte frames.
    /// Version 6 checks the length at the end of every meta-block.
    #[tokio::test]
    async fn a_meta_block_overrun_is_corrupt_in_frames_of_every_size() {
        let coded = [
            0x00, 0x00, 0x00, 0x22, 0x64, 0x65, 0x66, 0x6c, 0x61, 0x74, 0x65, 0x7a, 0x69, 0x0a,
            0x00, 0x7b, 0x7b, 0x2e, 0x74, 0x78,
        ];
        // The empty member of `br ,` is no coding at all: the same result either way.
        for encoding in ["br ,", "br", ", br", "br, identity"] {
            for frame in 1..=coded.len() {
                let err = decode_err(encoding, frames(&coded, frame)).await;
                assert_eq!(err.kind(), DecodeErrorKind::Corrupt, "{encoding:?} {frame}");
                assert_eq!(err.coding(), "br");
                assert!(err.to_string().contains("BLOCK_LENGTH"), "{err}");
            }
        }
    }

    #[tokio::test]
    async fn br_stacks_with_gzip() {
        let data = text(50_000);
        let coded = gzip(&brotli(&data));
        for frame in [1, 333, coded.len()] {
            let out = decode("br, gzip", frames(&coded, frame)).await;
            assert!(out.expect("decoded") == data, "frames of {frame}");
        }
        let coded = brotli(&gzip(&data));
        assert!(
            decode("gzip, br", frames(&coded, 1))
                .await
                .expect("decoded")
                == data
        );
    }
}

#[cfg(feature = "zstd")]
mod zstd {
    use super::*;

    pub(super) fn zstd(data: &[u8]) -> Vec<u8> {
        ::zstd::encode_all(data, 3).expect("zstd")
    }

    fn zstd_with(data: &[u8], level: i32, checksum: bool) -> Vec<u8> {
        let mut e = ::zstd::stream::Encoder::new(Vec::new(), level).expect("encoder");
        e.include_checksum(checksum).expect("checksum");
        e.write_all(data).expect("write");
        e.finish().expect("finish")
    }

    /// A frame written by hand: no content size, a window of 2^`window_log` bytes,
    /// one raw block holding `data`.
    fn raw_frame(window_log: u8, data: &[u8]) -> Vec<u8> {
        let mut out = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, (window_log - 10) << 3];
        let header = ((data.len() as u32) << 3) | 1;
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.extend_from_slice(data);
        out
    }

    fn skippable(data: &[u8]) -> Vec<u8> {
        let mut out = vec![0x5a, 0x2a, 0x4d, 0x18];
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        out
    }

    #[tokio::test]
    async fn zstd_round_trips_in_any_frame_size() {
        let data = text(200_000);
        for coded in [
            zstd(&data),
            zstd_with(&data, 19, true),
            zstd_with(&data, 1, false),
        ] {
            for frame in [1, 2, 3, 7, 100, 4096, coded.len()] {
                let out = decode("zstd", frames(&coded, frame)).await;
                let out = out.unwrap_or_else(|e| panic!("zstd in frames of {frame}: {e}"));
                assert!(out == data, "zstd in frames of {frame}");
            }
        }
        assert!(
            decode("ZSTD", frames(&zstd(&data), 999))
                .await
                .expect("decoded")
                == data
        );
        let empty = zstd(b"");
        assert!(
            decode("zstd", frames(&empty, 1))
                .await
                .expect("decoded")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn zstd_frames_and_skippable_frames_are_concatenated() {
        let (a, b) = (text(3000), text(70_000));
        let mut coded = skippable(b"metadata");
        coded.extend(zstd(&a));
        coded.extend(zstd(b""));
        coded.extend(skippable(b""));
        coded.extend(raw_frame(20, b"raw"));
        coded.extend(zstd_with(&b, 5, true));
        let expected = [&a[..], b"raw", &b[..]].concat();
        for frame in [1, 3, 4, 5, 1000, coded.len()] {
            let out = decode("zstd", frames(&coded, frame)).await;
            assert!(out.expect("decoded") == expected, "frames of {frame}");
        }
        // Many tiny frames in one chunk.
        let many: Vec<u8> = (0..20_000).flat_map(|_| skippable(b"")).collect();
        let mut coded = many;
        coded.extend(zstd(b"end"));
        assert_eq!(
            decode("zstd", frames(&coded, coded.len()))
                .await
                .expect("decoded"),
            b"end"
        );
    }

    #[tokio::test]
    async fn every_truncation_of_zstd_is_an_error() {
        let data = text(3000);
        for coded in [zstd(&data), zstd_with(&data, 3, true)] {
            for cut in 1..coded.len() {
                for frame in [1, cut] {
                    let err = decode_err("zstd", frames(&coded[..cut], frame)).await;
                    assert_eq!(err.kind(), DecodeErrorKind::Truncated, "cut at {cut}");
                    assert_eq!(err.to_string(), "zstd body is truncated");
                }
            }
        }
        // A second frame cut short, even in its magic number.
        let mut two = zstd(b"first");
        two.extend(zstd(b"second"));
        let first = zstd(b"first").len();
        for cut in [first + 1, first + 3, first + 4, first + 6, two.len() - 1] {
            let err = decode_err("zstd", frames(&two[..cut], 1)).await;
            assert_eq!(err.kind(), DecodeErrorKind::Truncated, "cut at {cut}");
        }
    }

    #[tokio::test]
    async fn trailing_bytes_after_zstd_are_an_error() {
        let data = text(1000);
        for garbage in [
            &b"x"[..],
            b"\0",
            b"\x28\xb5\x2f\x00",
            b"\x5a\x2a\x4d\x19",
            b"garbage",
        ] {
            let mut coded = zstd(&data);
            coded.extend_from_slice(garbage);
            for frame in [1, 2, coded.len()] {
                let err = decode_err("zstd", frames(&coded, frame)).await;
                assert_eq!(err.kind(), DecodeErrorKind::TrailingData, "{garbage:?}");
                assert_eq!(err.to_string(), "trailing bytes after the last zstd frame");
            }
        }
    }

    #[tokio::test]
    async fn corrupt_zstd_is_an_error() {
        let err = decode_err("zstd", frames(b"plain text, not zstd", 4)).await;
        assert_eq!(err.kind(), DecodeErrorKind::Corrupt);
        assert!(
            err.to_string().starts_with("zstd data is corrupt ("),
            "{err}"
        );
        // A block of the reserved type 3.
        let mut coded = raw_frame(20, b"abc");
        coded[6] |= 0b110;
        let err = decode_err("zstd", frames(&coded, 1)).await;
        assert_eq!(err.kind(), DecodeErrorKind::Corrupt, "{err}");
        // A flipped bit in checksummed data.
        let mut coded = zstd_with(&text(5000), 3, true);
        let n = coded.len();
        coded[n - 2] ^= 0x10;
        let err = decode_err("zstd", frames(&coded, 7)).await;
        assert_eq!(err.kind(), DecodeErrorKind::Checksum, "{err}");
        assert_eq!(err.to_string(), "zstd checksum mismatch");
    }

    #[tokio::test]
    async fn a_zstd_window_over_64_mib_is_refused() {
        assert_eq!(ZSTD_MAX_WINDOW, 64 << 20);
        let ok = decode("zstd", frames(&raw_frame(26, b"ok"), 1)).await;
        assert_eq!(ok.expect("64 MiB window"), b"ok");
        for log in [27, 31, 41] {
            let err = decode_err("zstd", frames(&raw_frame(log, b"too big"), 1)).await;
            assert_eq!(err.kind(), DecodeErrorKind::Other, "{err}");
            assert_eq!(
                err.to_string(),
                "zstd frame needs a window larger than the limit of 64 MiB"
            );
        }
    }

    #[tokio::test]
    async fn a_zstd_bomb_stops_at_the_limit() {
        let coded = zstd_with(&vec![0u8; 64 << 20], 19, false);
        assert!(coded.len() < 64 << 10, "{} bytes", coded.len());
        let layer = DecompressionLayer::new().limit(1 << 20);
        let response = through(layer, get(), coded_response("zstd", &coded)).await;
        let (out, sizes, err) = read_all(response.into_body()).await;
        let err = err.expect("too large");
        let too_large = err
            .downcast_ref::<DecodedTooLarge>()
            .expect("DecodedTooLarge");
        assert_eq!((too_large.limit(), too_large.coding()), (1 << 20, "zstd"));
        assert!(out.len() <= 1 << 20);
        assert!(sizes.iter().all(|&s| s <= MAX_CHUNK));
    }

    #[cfg(feature = "br")]
    #[tokio::test]
    async fn zstd_stacks_with_br_and_gzip() {
        let data = text(50_000);
        let coded = gzip(&super::br::brotli(&zstd(&data)));
        for frame in [1, 333, coded.len()] {
            let out = decode("zstd, br, gzip", frames(&coded, frame)).await;
            assert!(out.expect("decoded") == data, "frames of {frame}");
        }
    }
}
