//! The decompression layer on the connector, end to end over loopback sockets: against
//! the towline-test server, and against Debian's nginx with `gzip on`. This crate builds
//! towline with `full`, so `br` and `zstd` are decoded too.

use std::io::{Read, Write};
use std::sync::OnceLock;
use std::time::Instant;

use bytes::Bytes;
use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use http::{Method, Request, Response};
use http_body_util::BodyExt;
use tower::{Layer, ServiceExt};
use towline::body::{Body, read_body};
use towline::connect::{Connector, ResponseBody};
use towline::decompress::{
    DecodeError, DecodeErrorKind, DecodedTooLarge, Decompression, DecompressionBody,
    DecompressionLayer,
};
use towline_test::{Fault, Reply, TestServer};

/// The largest chunk the layer hands out.
const MAX_CHUNK: usize = 64 * 1024;

/// The `Client`'s default cap on buffered reads, used here as a layer limit.
const BUFFERED_CAP: u64 = towline::client::DEFAULT_MAX_RESPONSE_BODY;

/// `Accept-Encoding` with every codec feature on.
const ALL_CODINGS: &str = "gzip, deflate, br, zstd";

type Client = Decompression<Connector>;

fn client(layer: DecompressionLayer) -> Client {
    layer.layer(Connector::new())
}

async fn send(
    client: &Client,
    request: Request<Body>,
) -> Response<DecompressionBody<ResponseBody>> {
    client.clone().oneshot(request).await.expect("response")
}

async fn get(client: &Client, url: &str) -> Response<DecompressionBody<ResponseBody>> {
    send(
        client,
        Request::get(url).body(Body::empty()).expect("request"),
    )
    .await
}

/// Serves `coded` with `Content-Encoding: encoding` on every path.
/// A server answering with `coded` as `Content-Encoding: encoding`: whole at `/`, one
/// byte a chunk at `/frames`.
async fn serve_whole_and_in_frames(encoding: &'static str, coded: Bytes) -> TestServer {
    TestServer::start(move |req| {
        let reply = Reply::text(coded.clone()).header("Content-Encoding", encoding);
        if req.path() == "/frames" {
            reply.chunked(1)
        } else {
            reply
        }
    })
    .await
}

async fn serve(encoding: &'static str, coded: Vec<u8>) -> TestServer {
    let coded = Bytes::from(coded);
    TestServer::start(move |_| Reply::text(coded.clone()).header("Content-Encoding", encoding))
        .await
}

// ---------------------------------------------------------------------------------
// Coded inputs

fn gzip(data: &[u8]) -> Vec<u8> {
    gzip_level(data, Compression::default())
}

fn gzip_level(data: &[u8], level: Compression) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), level);
    e.write_all(data).expect("write");
    e.finish().expect("finish")
}

fn zlib(data: &[u8], level: Compression) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), level);
    e.write_all(data).expect("write");
    e.finish().expect("finish")
}

fn raw_deflate(data: &[u8], level: Compression) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), level);
    e.write_all(data).expect("write");
    e.finish().expect("finish")
}

/// Makes coded bytes from plain ones.
type Encode = fn(&[u8], Compression) -> Vec<u8>;

/// The codings under test: a name, the `Content-Encoding` token, the encoder.
const CODINGS: [(&str, &str, Encode); 3] = [
    ("gzip", "gzip", gzip_level),
    ("deflate (zlib)", "deflate", zlib),
    ("deflate (raw)", "deflate", raw_deflate),
];

/// Text that compresses like text (about 6:1), different all along.
fn text(len: usize) -> Vec<u8> {
    let words: [&[u8]; 8] = [
        b"towline ",
        b"gzip ",
        b"member ",
        b"deflate ",
        b"stream ",
        b"body\n",
        b"h\xc3\xa9llo ",
        b"0123 ",
    ];
    let mut out = Vec::with_capacity(len + 16);
    let mut x: u32 = 2024;
    while out.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        out.extend_from_slice(words[(x >> 16) as usize % words.len()]);
    }
    out.truncate(len);
    out
}

/// 64 MiB of text, made once for every test that needs it.
fn big_text() -> &'static [u8] {
    static TEXT: OnceLock<Vec<u8>> = OnceLock::new();
    TEXT.get_or_init(|| text(64 << 20))
}

/// Reads a decoded body to its end, comparing it with `expected` as it streams.
/// Returns the largest frame seen.
async fn assert_streams(
    body: DecompressionBody<ResponseBody>,
    expected: &[u8],
    what: &str,
) -> usize {
    let mut body = std::pin::pin!(body);
    let (mut at, mut largest) = (0, 0);
    while let Some(frame) = body.frame().await {
        let frame = frame.unwrap_or_else(|e| panic!("{what}: failed after {at} bytes: {e}"));
        let Ok(data) = frame.into_data() else {
            continue;
        };
        assert!(
            expected.get(at..at + data.len()) == Some(&data[..]),
            "{what}: bytes differ at {at}"
        );
        at += data.len();
        largest = largest.max(data.len());
    }
    assert_eq!(at, expected.len(), "{what}: decoded length");
    largest
}

async fn decode_error(client: &Client, url: &str) -> towline::Error {
    let response = get(client, url).await;
    read_body(response.into_body())
        .await
        .expect_err("the body must fail to decode")
}

fn cause<E: std::error::Error + 'static>(err: &towline::Error) -> &E {
    let mut next = std::error::Error::source(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<E>() {
            return found;
        }
        next = e.source();
    }
    panic!("no {} in {err:?}", std::any::type_name::<E>())
}

// ---------------------------------------------------------------------------------
// Per coding: small bodies, 1-byte frames, 64 MiB

#[tokio::test]
async fn small_bodies_decode_per_coding_also_in_1_byte_frames() {
    let data = text(3000);
    for (name, token, encode) in CODINGS {
        let coded = Bytes::from(encode(&data, Compression::default()));
        let server = serve_whole_and_in_frames(token, coded).await;
        let client = client(DecompressionLayer::new());
        for path in ["/", "/frames"] {
            let response = get(&client, &server.url(path)).await;
            assert_eq!(response.status(), 200);
            assert!(
                response.headers().get("content-encoding").is_none(),
                "{name}"
            );
            assert!(response.headers().get("content-length").is_none(), "{name}");
            let body = read_body(response.into_body()).await.expect("decoded");
            assert!(body == data, "{name} {path}");
        }
        for request in server.requests() {
            assert_eq!(request.header("accept-encoding"), Some(ALL_CODINGS));
        }
    }
}

#[tokio::test]
async fn a_64_mib_body_decodes_per_coding() {
    let data = big_text();
    for (name, token, encode) in CODINGS {
        let started = Instant::now();
        let coded = encode(data, Compression::fast());
        let server = serve(token, coded).await;
        let client = client(DecompressionLayer::new());
        let response = get(&client, &server.url("/big")).await;
        let largest = assert_streams(response.into_body(), data, name).await;
        assert!(largest <= MAX_CHUNK, "{name}: a frame of {largest} bytes");
        eprintln!("{name}: 64 MiB in {:?}", started.elapsed());
    }
}

// ---------------------------------------------------------------------------------
// Broken gzip: truncation, checksums, trailing bytes

#[tokio::test]
async fn truncated_gzip_is_a_decode_error_at_every_place() {
    let coded = gzip(&text(20_000));
    let n = coded.len();
    let cuts = [
        ("in the header", 5),
        ("after the header", 10),
        ("in the middle", n / 2),
        ("in the trailer", n - 4),
        ("one byte short", n - 1),
    ];
    let client = client(DecompressionLayer::new());
    for (place, cut) in cuts {
        // The transport delivers every byte it announced; the gzip data is what is cut.
        let server = serve("gzip", coded[..cut].to_vec()).await;
        let err = decode_error(&client, &server.url("/")).await;
        assert!(err.is_decode(), "{place}: {err}");
        assert!(!err.is_truncated(), "{place}: not a transport truncation");
        assert_eq!(
            cause::<DecodeError>(&err).kind(),
            DecodeErrorKind::Truncated,
            "{place}"
        );
        assert!(
            err.report().to_string().ends_with("gzip body is truncated"),
            "{err}"
        );
    }
    // When the connection is what was cut, the transport error comes through instead.
    let body = Bytes::from(coded.clone());
    let server = TestServer::start(move |_| {
        Reply::text(body.clone())
            .header("Content-Encoding", "gzip")
            .fault(Fault::CloseMidBody { after: n / 2 })
    })
    .await;
    let err = decode_error(&client, &server.url("/")).await;
    assert!(
        err.is_truncated() && err.is_body() && !err.is_decode(),
        "{err}"
    );
}

#[tokio::test]
async fn bad_crc_bad_isize_and_trailing_garbage_are_decode_errors() {
    let coded = gzip(&text(20_000));
    let n = coded.len();
    let mut bad_crc = coded.clone();
    bad_crc[n - 6] ^= 0x40;
    let mut bad_isize = coded.clone();
    bad_isize[n - 2] ^= 0x01;
    let mut trailing = coded.clone();
    trailing.extend_from_slice(b"\n<!-- appended by a proxy -->\n");
    let cases = [
        (bad_crc, DecodeErrorKind::Checksum, "gzip CRC mismatch"),
        (bad_isize, DecodeErrorKind::Length, "gzip length mismatch"),
        (
            trailing,
            DecodeErrorKind::TrailingData,
            "trailing bytes after the last gzip member",
        ),
    ];
    let client = client(DecompressionLayer::new());
    for (body, kind, text) in cases {
        let server = serve("gzip", body).await;
        let err = decode_error(&client, &server.url("/")).await;
        assert!(err.is_decode(), "{err}");
        assert_eq!(cause::<DecodeError>(&err).kind(), kind);
        assert!(err.report().to_string().contains(text), "{err}");
    }
    // zlib's Adler-32, in 1-byte frames too.
    let mut bad_adler = zlib(&text(20_000), Compression::default());
    let n = bad_adler.len();
    bad_adler[n - 3] ^= 0x10;
    let bad_adler = Bytes::from(bad_adler);
    let server = serve_whole_and_in_frames("deflate", bad_adler).await;
    for path in ["/", "/frames"] {
        let err = decode_error(&client, &server.url(path)).await;
        assert!(err.is_decode(), "{err}");
        assert_eq!(
            cause::<DecodeError>(&err).kind(),
            DecodeErrorKind::Checksum,
            "{path}: {err}"
        );
        assert!(
            err.report()
                .to_string()
                .contains("deflate Adler-32 mismatch"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn multi_member_and_empty_member_gzip_decode_whole() {
    let (a, b) = (text(10_000), text(30_000));
    let mut coded = gzip(&a);
    coded.extend(gzip(b""));
    coded.extend(gzip(&b));
    let client = client(DecompressionLayer::new());
    let server = serve("gzip", coded).await;
    let body = read_body(get(&client, &server.url("/")).await.into_body())
        .await
        .expect("decoded");
    assert!(body == [a, b].concat());

    let server = serve("gzip", gzip(b"")).await;
    let response = get(&client, &server.url("/")).await;
    assert!(response.headers().get("content-encoding").is_none());
    assert!(
        read_body(response.into_body())
            .await
            .expect("empty")
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------
// Stacked and unknown codings, and what passes untouched

#[tokio::test]
async fn stacked_codings_decode() {
    let data = text(100_000);
    let coded = gzip(&zlib(&data, Compression::default()));
    let server = serve("deflate, gzip", coded).await;
    let client = client(DecompressionLayer::new());
    let response = get(&client, &server.url("/")).await;
    assert!(response.headers().get("content-encoding").is_none());
    assert!(read_body(response.into_body()).await.expect("decoded") == data);

    let mut coded = data.clone();
    for _ in 0..4 {
        coded = gzip(&coded);
    }
    let server = serve("gzip, gzip, gzip, gzip", coded).await;
    let err = decode_error(&client, &server.url("/")).await;
    assert_eq!(
        cause::<DecodeError>(&err).kind(),
        DecodeErrorKind::TooManyCodings
    );
}

#[tokio::test]
async fn an_unknown_coding_passes_through_with_its_headers() {
    let opaque = b"\xce\xb2\x72 not really brotli".to_vec();
    let server = serve("compress", opaque.clone()).await;
    let client = client(DecompressionLayer::new());
    let response = get(&client, &server.url("/")).await;
    assert!(!response.body().is_decoding());
    assert_eq!(response.headers()["content-encoding"], "compress");
    assert_eq!(
        response.headers()["content-length"],
        opaque.len().to_string()
    );
    assert_eq!(read_body(response.into_body()).await.expect("raw"), opaque);
}

#[tokio::test]
async fn head_204_304_and_empty_bodies_pass_untouched() {
    let coded = Bytes::from(gzip(&text(5000)));
    let len = coded.len().to_string();
    let server = TestServer::start(move |req| {
        let status = match req.path() {
            "/204" => 204,
            "/304" => 304,
            _ => 200,
        };
        let body = if req.path() == "/empty" {
            Bytes::new()
        } else {
            coded.clone()
        };
        Reply::new(status)
            .header("Content-Encoding", "gzip")
            .body(body)
    })
    .await;
    let client = client(DecompressionLayer::new());

    let head = Request::head(server.url("/"))
        .body(Body::empty())
        .expect("request");
    let response = send(&client, head).await;
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert_eq!(response.headers()["content-length"], len.as_str());
    assert!(
        read_body(response.into_body())
            .await
            .expect("empty")
            .is_empty()
    );

    for path in ["/204", "/304", "/empty"] {
        let response = get(&client, &server.url(path)).await;
        assert_eq!(response.headers()["content-encoding"], "gzip", "{path}");
        assert!(!response.body().is_decoding(), "{path}");
        assert!(
            read_body(response.into_body())
                .await
                .expect("empty")
                .is_empty()
        );
    }
}

#[tokio::test]
async fn accept_encoding_is_set_only_when_the_caller_did_not() {
    let server = TestServer::start(|req| {
        Reply::text(req.header("accept-encoding").unwrap_or("none").to_owned())
    })
    .await;
    let client = client(DecompressionLayer::new());
    let body = read_body(get(&client, &server.url("/")).await.into_body()).await;
    assert_eq!(body.expect("body"), ALL_CODINGS);
    let own = Request::builder()
        .method(Method::GET)
        .uri(server.url("/"))
        .header("accept-encoding", "identity")
        .body(Body::empty())
        .expect("request");
    let body = read_body(send(&client, own).await.into_body()).await;
    assert_eq!(body.expect("body"), "identity");
    let client = self::client(DecompressionLayer::new().deflate(false));
    let body = read_body(get(&client, &server.url("/")).await.into_body()).await;
    assert_eq!(body.expect("body"), "gzip, br, zstd");
    let client = self::client(DecompressionLayer::new().br(false).zstd(false));
    let body = read_body(get(&client, &server.url("/")).await.into_body()).await;
    assert_eq!(body.expect("body"), "gzip, deflate");
}

// ---------------------------------------------------------------------------------
// The decompression bomb

#[test]
fn the_bomb_is_valid_gzip() {
    let bomb = gzip_bomb(8);
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&bomb[..])
        .read_to_end(&mut out)
        .expect("flate2 decodes it");
    assert_eq!(out.len(), 8 << 20);
    assert!(out.iter().all(|&b| b == 0));
}

#[tokio::test]
async fn a_1_mb_gzip_of_1_gib_stops_at_the_limit() {
    let bomb = gzip_bomb(1024);
    assert!(bomb.len() < 1_100_000, "{} bytes", bomb.len());
    let server = serve("gzip", bomb).await;

    for limit in [64 << 20, BUFFERED_CAP] {
        let started = Instant::now();
        let client = client(DecompressionLayer::new().limit(limit));
        let response = get(&client, &server.url("/bomb")).await;
        let mut body = std::pin::pin!(response.into_body());
        let (mut decoded, mut largest) = (0u64, 0);
        let err = loop {
            match body.frame().await {
                Some(Ok(frame)) => {
                    // Each chunk is dropped at once: what the client holds is what the
                    // decoder holds, one buffer.
                    let len = frame.into_data().map_or(0, |d| d.len());
                    decoded += len as u64;
                    largest = largest.max(len);
                }
                Some(Err(e)) => break e,
                None => panic!("a 1 GiB body passed a limit of {limit} bytes"),
            }
        };
        let too_large = err
            .downcast_ref::<DecodedTooLarge>()
            .expect("DecodedTooLarge");
        assert_eq!(too_large.limit(), limit);
        assert!(decoded <= limit, "{decoded} bytes handed out");
        assert!(
            decoded > limit - MAX_CHUNK as u64,
            "stopped only at the limit"
        );
        assert!(
            largest <= MAX_CHUNK,
            "frames of at most {MAX_CHUNK} bytes, saw {largest}"
        );
        eprintln!(
            "limit {limit}: stopped after {decoded} bytes in {:?}",
            started.elapsed()
        );
    }

    // Through read_body, the facade error says what happened.
    let client = client(DecompressionLayer::new().limit(1 << 20));
    let err = decode_error(&client, &server.url("/bomb")).await;
    assert!(err.is_decode() && !err.is_body(), "{err}");
    assert_eq!(cause::<DecodedTooLarge>(&err).limit(), 1 << 20);
    assert!(
        err.report()
            .to_string()
            .contains("more than the limit of 1048576 bytes"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------
// Interop: Debian's nginx with `gzip on`

mod support;
use support::bombs::gzip_bomb;
use support::nginx;

#[tokio::test]
#[ignore = "needs nginx: ./.ci/test runs it"]
async fn nginx_gzip_on_serves_a_text_file_that_decodes_to_the_file() {
    let file = text(1 << 20);
    let json = br#"{"towline": "decompression", "codings": ["gzip", "deflate"]}"#;
    let nginx = nginx::Nginx::start(&[("file.txt", &file), ("small.json", json)]);

    // Without the layer, asking for gzip: nginx really compresses.
    let raw = Request::get(nginx.url("/file.txt"))
        .header("accept-encoding", "gzip")
        .body(Body::empty())
        .expect("request");
    let response = Connector::new().oneshot(raw).await.expect("response");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let coded = read_body(response.into_body()).await.expect("coded body");
    assert!(coded.len() < file.len() / 2, "{} coded bytes", coded.len());

    // With the layer: the decoded body is the file.
    let client = client(DecompressionLayer::new());
    for (path, content) in [("/file.txt", &file[..]), ("/small.json", &json[..])] {
        let response = get(&client, &nginx.url(path)).await;
        assert_eq!(response.status(), 200);
        assert!(response.body().is_decoding(), "{path}: nginx gzipped it");
        assert!(response.headers().get("content-encoding").is_none());
        let body = read_body(response.into_body()).await.expect("decoded");
        assert!(
            body == content,
            "{path}: decoded body differs from the file"
        );
    }
}

// ---------------------------------------------------------------------------------
// br and zstd
//
// Small bodies are real streams made with the `brotli` and `zstd` command-line tools.
// Large ones come twice: written by hand in each format's uncompressed blocks (the
// framing and streaming of long bodies), and compressed with the `brotli` and `zstd`
// crates (entropy decoding, back-references across blocks, windows).

/// The text of [`SMALL_BR`] and [`SMALL_ZSTD`]: this line, 64 times.
const SMALL_LINE: &[u8] = b"towline: br and zstd, decoded as they stream.\n";

fn small_text() -> Vec<u8> {
    SMALL_LINE.repeat(64)
}

/// `brotli -q 11` of [`small_text`].
const SMALL_BR: &[u8] = &[
    0xc1, 0xf8, 0x5b, 0x00, 0x60, 0xa4, 0x16, 0x6b, 0x9d, 0x85, 0x79, 0x84, 0x4a, 0x87, 0xda, 0x5c,
    0xaa, 0x47, 0x17, 0xe9, 0xb6, 0xa6, 0xbc, 0x75, 0x83, 0x4d, 0x18, 0x2c, 0x14, 0x60, 0x03, 0x0e,
    0x5c, 0x12, 0x4a, 0x29, 0xe5, 0x05, 0xe4, 0xb0, 0xf2, 0xd2, 0x50, 0x67, 0x3f, 0xd8, 0x41, 0x1d,
    0x72, 0x89, 0x7f, 0x47, 0x86, 0x3a, 0x2a, 0xce, 0xfd, 0x34, 0x9e, 0x61, 0x00, 0xc0, 0x05,
];

/// `zstd -19 --check` of [`small_text`]: one frame, with its XXH64 checksum.
const SMALL_ZSTD: &[u8] = &[
    0x28, 0xb5, 0x2f, 0xfd, 0x64, 0x80, 0x0a, 0xa5, 0x01, 0x00, 0xe2, 0x82, 0x0a, 0x11, 0xb0, 0xeb,
    0x3c, 0x4c, 0x9c, 0xf1, 0xc8, 0xb0, 0x62, 0xa1, 0xa4, 0x8e, 0xa9, 0x4c, 0x1f, 0x88, 0x01, 0x40,
    0x24, 0x4c, 0xb6, 0x6a, 0x97, 0x66, 0xad, 0xe8, 0xe7, 0x57, 0xc9, 0x3b, 0x7c, 0xf5, 0xf9, 0x0a,
    0xcd, 0x88, 0x47, 0xaa, 0x83, 0xda, 0xda, 0x01, 0x00, 0x7e, 0x5a, 0xf4, 0x55, 0x19, 0x82, 0xd1,
    0xe3, 0xc5,
];

/// `brotli -q 5 -w 24` of 64 MiB of zeros: 52 bytes.
const BR_BOMB_64_MIB: &[u8] = &[
    0xcf, 0xff, 0xff, 0x7f, 0x00, 0x24, 0x00, 0xe2, 0xb1, 0x40, 0x72, 0xef, 0xff, 0xf9, 0xff, 0xff,
    0x0f, 0x80, 0x04, 0x40, 0x1c, 0x16, 0x80, 0xee, 0xfd, 0x3f, 0xff, 0xff, 0xff, 0x01, 0x90, 0x00,
    0x88, 0xc3, 0x02, 0xd0, 0xbd, 0xff, 0xe7, 0xff, 0xff, 0x3f, 0x00, 0x12, 0x00, 0x71, 0x58, 0x00,
    0xba, 0xf7, 0xff, 0x03,
];

/// Bits written least significant first, as brotli reads them.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    acc: u64,
    len: u32,
}

impl Bits {
    fn put(&mut self, value: u64, bits: u32) {
        self.acc |= value << self.len;
        self.len += bits;
        while self.len >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.len -= 8;
        }
    }

    fn align(&mut self) {
        if self.len > 0 {
            self.put(0, 8 - self.len);
        }
    }
}

/// A brotli stream of uncompressed meta-blocks (RFC 7932, 9.2) of up to 64 KiB.
fn brotli_stored(data: &[u8]) -> Vec<u8> {
    let mut bits = Bits::default();
    bits.put(0, 1); // WBITS: 16.
    for chunk in data.chunks(1 << 16) {
        bits.put(0, 1); // ISLAST
        bits.put(0, 2); // MNIBBLES: 4
        bits.put(chunk.len() as u64 - 1, 16); // MLEN - 1
        bits.put(1, 1); // ISUNCOMPRESSED
        bits.align();
        bits.out.extend_from_slice(chunk);
    }
    bits.put(1, 1); // ISLAST
    bits.put(1, 1); // ISLASTEMPTY
    bits.align();
    bits.out
}

/// The header of a zstd frame with no content size and a window of 2^`window_log`.
fn zstd_frame_header(window_log: u8) -> Vec<u8> {
    vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, (window_log - 10) << 3]
}

fn zstd_block(out: &mut Vec<u8>, block_type: u32, size: usize, last: bool) {
    let header = ((size as u32) << 3) | (block_type << 1) | u32::from(last);
    out.extend_from_slice(&header.to_le_bytes()[..3]);
}

/// A zstd frame of raw blocks (RFC 8878, 3.1.1.2) of up to 128 KiB.
fn zstd_stored(data: &[u8]) -> Vec<u8> {
    let mut out = zstd_frame_header(17);
    let chunks: Vec<&[u8]> = data.chunks(1 << 17).collect();
    if chunks.is_empty() {
        zstd_block(&mut out, 0, 0, true);
    }
    for (i, chunk) in chunks.iter().enumerate() {
        zstd_block(&mut out, 0, chunk.len(), i == chunks.len() - 1);
        out.extend_from_slice(chunk);
    }
    out
}

/// A zstd frame of `mib` MiB of zeros in RLE blocks: 32 bytes per MiB.
fn zstd_bomb(mib: usize) -> Vec<u8> {
    let mut out = zstd_frame_header(17);
    let blocks = mib * 8;
    for i in 0..blocks {
        zstd_block(&mut out, 1, 1 << 17, i == blocks - 1);
        out.push(0);
    }
    out
}

#[test]
fn the_hand_written_streams_are_what_they_say() {
    // What a real decoder makes of them is checked against towline below; here,
    // only their shape.
    assert_eq!(brotli_stored(b""), [0b0000_0110]);
    assert_eq!(zstd_stored(b"").len(), 9);
    assert_eq!(zstd_bomb(1).len(), 6 + 8 * 4);
}

#[tokio::test]
async fn small_br_and_zstd_bodies_decode_also_in_1_byte_frames() {
    let data = small_text();
    for (token, coded) in [("br", SMALL_BR), ("zstd", SMALL_ZSTD)] {
        let server = serve_whole_and_in_frames(token, Bytes::from_static(coded)).await;
        let client = client(DecompressionLayer::new());
        for path in ["/", "/frames"] {
            let response = get(&client, &server.url(path)).await;
            assert_eq!(response.status(), 200);
            assert!(response.body().is_decoding(), "{token}");
            assert!(response.headers().get("content-encoding").is_none());
            assert!(response.headers().get("content-length").is_none());
            let body = read_body(response.into_body()).await.expect("decoded");
            assert!(body == data, "{token} {path}");
        }
        for request in server.requests() {
            assert_eq!(request.header("accept-encoding"), Some(ALL_CODINGS));
        }
    }
}

#[tokio::test]
async fn br_and_zstd_bodies_of_64_mib_decode() {
    let data = big_text();
    for (token, coded) in [("br", brotli_stored(data)), ("zstd", zstd_stored(data))] {
        let started = Instant::now();
        let server = serve(token, coded).await;
        let client = client(DecompressionLayer::new());
        let response = get(&client, &server.url("/big")).await;
        let largest = assert_streams(response.into_body(), data, token).await;
        assert!(largest <= MAX_CHUNK, "{token}: a frame of {largest} bytes");
        eprintln!("{token}: 64 MiB in {:?}", started.elapsed());
    }
    // 1-byte frames through a body of several blocks.
    let data = &big_text()[..300_000];
    for (token, coded) in [("br", brotli_stored(data)), ("zstd", zstd_stored(data))] {
        let coded = Bytes::from(coded);
        let server = serve_whole_and_in_frames(token, coded).await;
        let client = client(DecompressionLayer::new());
        let response = get(&client, &server.url("/frames")).await;
        assert_streams(response.into_body(), data, token).await;
    }
}

/// `data` compressed with the brotli crate at `quality`, with a window of 2^22 bytes and
/// a meta-block ended (by a flush) after every `block` bytes.
fn brotli(data: &[u8], quality: u32, block: usize) -> Vec<u8> {
    let mut e = brotli::CompressorWriter::new(Vec::new(), 1 << 16, quality, 22);
    for chunk in data.chunks(block) {
        e.write_all(chunk).expect("write");
        e.flush().expect("end the meta-block");
    }
    e.into_inner()
}

/// `data` compressed with the zstd crate at `level`, with its checksum; one frame of
/// blocks of at most 128 KiB each.
fn zstd(data: &[u8], level: i32) -> Vec<u8> {
    let mut e = zstd::Encoder::new(Vec::new(), level).expect("encoder");
    e.include_checksum(true).expect("checksum");
    e.write_all(data).expect("write");
    e.finish().expect("finish")
}

#[tokio::test]
async fn compressed_br_and_zstd_bodies_of_64_mib_decode() {
    let data = big_text();
    // brotli at quality 1: the crate is built without optimisation here, where quality
    // 1 takes about 5 s on 64 MiB and higher ones far longer. It still compresses
    // (back-references and Huffman codes); the test below uses quality 9.
    for token in ["br", "zstd"] {
        let started = Instant::now();
        let coded = match token {
            "br" => brotli(data, 1, usize::MAX),
            _ => zstd(data, 3),
        };
        let compressed = started.elapsed();
        assert!(
            coded.len() < data.len() / 3,
            "{token}: {} coded bytes",
            coded.len()
        );
        let coded_len = coded.len();
        let server = serve(token, coded).await;
        let client = client(DecompressionLayer::new());
        let response = get(&client, &server.url("/big")).await;
        assert!(response.body().is_decoding(), "{token}");
        let largest = assert_streams(response.into_body(), data, token).await;
        assert!(largest <= MAX_CHUNK, "{token}: a frame of {largest} bytes");
        eprintln!(
            "{token}: 64 MiB compressed to {coded_len} bytes in {compressed:?}, decoded in {:?}",
            started.elapsed() - compressed
        );
    }
}

#[tokio::test]
async fn compressed_br_and_zstd_bodies_of_many_blocks_decode_in_1_byte_frames() {
    let data = &big_text()[..400_000];
    // brotli: a meta-block per 64 KiB; zstd: blocks hold at most 128 KiB, and two
    // frames follow each other.
    let mut two_frames = zstd(&data[..150_000], 19);
    two_frames.extend(zstd(&data[150_000..], 19));
    for (token, coded) in [("br", brotli(data, 9, 64 << 10)), ("zstd", two_frames)] {
        assert!(coded.len() < data.len() / 3, "{token}: {}", coded.len());
        let coded = Bytes::from(coded);
        let server = serve_whole_and_in_frames(token, coded).await;
        let client = client(DecompressionLayer::new());
        let response = get(&client, &server.url("/frames")).await;
        assert!(response.body().is_decoding(), "{token}");
        assert_streams(response.into_body(), data, token).await;
    }
}

#[tokio::test]
async fn br_and_zstd_stack_with_gzip_and_each_other() {
    let data = text(100_000);
    let small = small_text();
    let cases: [(&'static str, Vec<u8>, &[u8]); 5] = [
        ("br, gzip", gzip(SMALL_BR), &small),
        ("zstd, gzip", gzip(SMALL_ZSTD), &small),
        ("gzip, br", brotli_stored(&gzip(&data)), &data),
        ("gzip, zstd", zstd_stored(&gzip(&data)), &data),
        ("zstd, br", brotli_stored(&zstd_stored(&data)), &data),
    ];
    let client = client(DecompressionLayer::new());
    for (encoding, coded, expected) in cases {
        let coded = Bytes::from(coded);
        let server = serve_whole_and_in_frames(encoding, coded).await;
        for path in ["/", "/frames"] {
            let response = get(&client, &server.url(path)).await;
            assert!(response.headers().get("content-encoding").is_none());
            let body = read_body(response.into_body()).await;
            let body = body.unwrap_or_else(|e| panic!("{encoding} {path}: {e}"));
            assert!(body == expected, "{encoding} {path}");
        }
    }
}

#[tokio::test]
async fn broken_br_and_zstd_are_decode_errors() {
    let mut zstd_trailing = SMALL_ZSTD.to_vec();
    zstd_trailing.extend_from_slice(b"\n<!-- appended by a proxy -->\n");
    let mut br_trailing = SMALL_BR.to_vec();
    br_trailing.extend_from_slice(b"\n<!-- appended by a proxy -->\n");
    let mut zstd_bad_checksum = SMALL_ZSTD.to_vec();
    let n = zstd_bad_checksum.len();
    zstd_bad_checksum[n - 1] ^= 0x01;
    let n = SMALL_BR.len();
    let m = SMALL_ZSTD.len();
    let cases: Vec<(&'static str, Vec<u8>, DecodeErrorKind)> = vec![
        ("br", SMALL_BR[..1].to_vec(), DecodeErrorKind::Truncated),
        ("br", SMALL_BR[..n / 2].to_vec(), DecodeErrorKind::Truncated),
        ("br", SMALL_BR[..n - 1].to_vec(), DecodeErrorKind::Truncated),
        ("zstd", SMALL_ZSTD[..3].to_vec(), DecodeErrorKind::Truncated),
        (
            "zstd",
            SMALL_ZSTD[..m / 2].to_vec(),
            DecodeErrorKind::Truncated,
        ),
        (
            "zstd",
            SMALL_ZSTD[..m - 1].to_vec(),
            DecodeErrorKind::Truncated,
        ),
        ("br", br_trailing, DecodeErrorKind::TrailingData),
        ("zstd", zstd_trailing, DecodeErrorKind::TrailingData),
        ("zstd", zstd_bad_checksum, DecodeErrorKind::Checksum),
        (
            "br",
            b"\x11 large window".to_vec(),
            DecodeErrorKind::Corrupt,
        ),
        (
            "zstd",
            b"not zstd at all".to_vec(),
            DecodeErrorKind::Corrupt,
        ),
    ];
    let client = client(DecompressionLayer::new());
    for (token, body, kind) in cases {
        let server = serve(token, body).await;
        let err = decode_error(&client, &server.url("/")).await;
        assert!(err.is_decode() && !err.is_body(), "{token}: {err}");
        let cause = cause::<DecodeError>(&err);
        assert_eq!((cause.kind(), cause.coding()), (kind, token), "{err}");
    }
}

#[tokio::test]
async fn a_zstd_frame_asking_for_a_window_over_64_mib_is_refused() {
    let mut coded = zstd_frame_header(27);
    zstd_block(&mut coded, 0, 2, true);
    coded.extend_from_slice(b"hi");
    let server = serve("zstd", coded).await;
    let client = client(DecompressionLayer::new());
    let err = decode_error(&client, &server.url("/")).await;
    assert!(err.is_decode(), "{err}");
    assert!(
        err.report()
            .to_string()
            .contains("zstd frame needs a window larger than the limit of 64 MiB"),
        "{err}"
    );
    assert_eq!(towline::decompress::ZSTD_MAX_WINDOW, 64 << 20);
}

#[tokio::test]
async fn br_and_zstd_bombs_stop_at_the_limit() {
    let zstd_bomb = zstd_bomb(1024);
    assert!(zstd_bomb.len() < 40_000, "{} bytes", zstd_bomb.len());
    for (token, bomb, limit) in [
        ("br", BR_BOMB_64_MIB.to_vec(), 16 << 20),
        ("zstd", zstd_bomb, 64 << 20),
    ] {
        let server = serve(token, bomb).await;
        let client = client(DecompressionLayer::new().limit(limit));
        let response = get(&client, &server.url("/bomb")).await;
        let mut body = std::pin::pin!(response.into_body());
        let (mut decoded, mut largest) = (0u64, 0);
        let err = loop {
            match body.frame().await {
                Some(Ok(frame)) => {
                    let len = frame.into_data().map_or(0, |d| d.len());
                    decoded += len as u64;
                    largest = largest.max(len);
                }
                Some(Err(e)) => break e,
                None => panic!("{token}: the bomb passed a limit of {limit} bytes"),
            }
        };
        let too_large = err
            .downcast_ref::<DecodedTooLarge>()
            .expect("DecodedTooLarge");
        assert_eq!((too_large.limit(), too_large.coding()), (limit, token));
        assert!(
            decoded <= limit && decoded > limit - MAX_CHUNK as u64,
            "{token}"
        );
        assert!(largest <= MAX_CHUNK, "{token}: saw {largest}");
    }
}
