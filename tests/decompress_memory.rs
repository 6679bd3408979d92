//! Peak memory while decompression bombs are read through the decompression layer on
//! the connector, from a loopback server: about 1 KB of coded data per MiB of zeros,
//! read until the layer's limit stops it. What the client holds must stay far below what
//! it decoded.
//!
//! Two figures are taken for each read:
//! - **heap**: an upper bound of the peak of Rust's live heap, from a counting global
//!   allocator (`stats_alloc`). It is sampled after every frame; between two samples
//!   the live heap can grow by no more than the bytes allocated in between (the counter
//!   includes every growth by `realloc`), so `live at a sample + allocated until the
//!   next` bounds the peak from above, whatever was allocated and freed in between.
//!   The server runs in the same process, so its allocations count too.
//! - **rss**: the process's peak resident memory (`VmHWM`) above its resident memory
//!   when the read began. This also sees libzstd, which allocates with C's `malloc`,
//!   not through Rust's allocator.
//!
//! Each test runs in a process of its own (this binary, started again to run that one
//! test), so no other test's buffers, or memory an earlier test left with the
//! allocator, can hide or inflate its peak.

use std::io::Read;
use std::process::Command;
use std::time::Instant;

use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tower::{Layer, ServiceExt};
use towline::body::Body;
use towline::client::DEFAULT_MAX_RESPONSE_BODY;
use towline::connect::Connector;
use towline::decompress::{DecodedTooLarge, Decompression, DecompressionLayer, ZSTD_MAX_WINDOW};
use towline::{Client, Error};
use towline_test::{Reply, TestServer};

mod support;
use support::bombs::gzip_bomb;
use support::gzip_text::{GzipText, GzipTextServer, gzip_text};

#[global_allocator]
static HEAP: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// The `Client`'s default cap on buffered reads, used here as a layer limit.
const BUFFERED_CAP: u64 = towline::client::DEFAULT_MAX_RESPONSE_BODY;

/// The largest chunk the layer hands out.
const MAX_CHUNK: u64 = 64 * 1024;

/// Set in the process that runs one test on its own.
const CHILD: &str = "TOWLINE_DECOMPRESS_MEMORY_CHILD";

/// Runs `test` in a new process of this binary that runs only the test `name`.
fn in_own_process(name: &str, test: impl FnOnce()) {
    if std::env::var_os(CHILD).is_some() {
        return test();
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .expect("run the test in a process of its own");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{name} failed in its own process");
    assert!(
        stdout.contains("1 passed"),
        "{name} did not run in its own process"
    );
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

// ---------------------------------------------------------------------------------
// Measuring

/// `VmRSS` or `VmHWM` of this process, in bytes.
fn proc_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    kib * 1024
}

/// Peak heap (an upper bound) and peak RSS since it was started.
struct Meter {
    start_live: u64,
    live: u64,
    allocated: u64,
    peak_bound: u64,
    start_allocated: u64,
    start_rss: u64,
}

fn heap_now() -> (u64, u64) {
    let stats = HEAP.stats();
    let (allocated, freed) = (stats.bytes_allocated as u64, stats.bytes_deallocated as u64);
    (allocated.saturating_sub(freed), allocated)
}

impl Meter {
    fn start() -> Meter {
        // Forget the peak RSS so far (Linux 4.0 and later); where this is not allowed,
        // VmHWM keeps an earlier peak and the figure only comes out larger.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let start_rss = proc_status("VmRSS:");
        let (live, allocated) = heap_now();
        Meter {
            start_live: live,
            live,
            allocated,
            peak_bound: live,
            start_allocated: allocated,
            start_rss,
        }
    }

    fn sample(&mut self) {
        let (live, allocated) = heap_now();
        self.peak_bound = self
            .peak_bound
            .max(self.live + (allocated - self.allocated))
            .max(live);
        (self.live, self.allocated) = (live, allocated);
    }

    /// Peak live heap above the start (an upper bound), bytes allocated in all, and
    /// peak RSS above the start.
    fn finish(mut self) -> (u64, u64, u64) {
        self.sample();
        let rss = proc_status("VmHWM:").saturating_sub(self.start_rss);
        (
            self.peak_bound - self.start_live,
            self.allocated - self.start_allocated,
            rss,
        )
    }
}

/// What reading one bomb showed.
struct Outcome {
    decoded: u64,
    heap: u64,
    rss: u64,
}

/// Reads `url` through the layer with `limit` until the limit stops it, sampling the
/// heap after every frame, and checks the error and where it stopped.
async fn read_bomb(server: &TestServer, coding: &str, limit: u64) -> Outcome {
    let client: Decompression<Connector> = DecompressionLayer::new()
        .limit(limit)
        .layer(Connector::new());
    let started = Instant::now();
    let mut meter = Meter::start();
    let request = Request::get(server.url("/bomb"))
        .body(Body::empty())
        .expect("request");
    let response = client.oneshot(request).await.expect("response");
    assert!(response.body().is_decoding(), "{coding}");
    let mut body = std::pin::pin!(response.into_body());
    let mut decoded = 0u64;
    // At most one frame per byte the limit lets through, and then the error.
    let err = loop {
        assert!(
            decoded <= limit,
            "{coding}: {decoded} bytes passed the limit"
        );
        match body.frame().await {
            // Each chunk is dropped at once, as a streaming reader would.
            Some(Ok(frame)) => decoded += frame.into_data().map_or(0, |d| d.len() as u64),
            Some(Err(e)) => break e,
            None => panic!("{coding}: the bomb ended within the limit of {limit} bytes"),
        }
        meter.sample();
    };
    let (heap, allocated, rss) = meter.finish();
    let too_large = err
        .downcast_ref::<DecodedTooLarge>()
        .unwrap_or_else(|| panic!("{coding}: not DecodedTooLarge: {err}"));
    assert_eq!((too_large.limit(), too_large.coding()), (limit, coding));
    assert!(
        decoded <= limit && decoded > limit - MAX_CHUNK,
        "{coding}: stopped after {decoded} bytes, limit {limit}"
    );
    eprintln!(
        "{coding}, limit {} MiB: decoded {} MiB in {:?}; peak heap <= {:.2} MiB \
         ({:.2} MiB allocated in all), peak rss +{:.2} MiB; output / heap = {:.0}",
        limit / MIB,
        decoded / MIB,
        started.elapsed(),
        heap as f64 / MIB as f64,
        allocated as f64 / MIB as f64,
        rss as f64 / MIB as f64,
        decoded as f64 / heap as f64,
    );
    Outcome { decoded, heap, rss }
}

/// Serves `bomb` with `Content-Encoding: coding`.
async fn serve(coding: &'static str, bomb: Vec<u8>) -> TestServer {
    let bomb = Bytes::from(bomb);
    TestServer::start(move |_| Reply::text(bomb.clone()).header("Content-Encoding", coding)).await
}

// ---------------------------------------------------------------------------------
// The bombs

// `brotli -q 5 -w 24` writes zeros as a 16 MiB window (WBITS 24) and one meta-block of
// 16 MiB after another, with the same 101 bits each time, not byte-aligned. These are
// the bits of its output for 1 GiB, in the order brotli reads them, cut where the
// repetition starts and ends.

/// `WBITS` and the first meta-block (which inserts the literal zero), up to where the
/// repeated bits start.
const BR_START: &str =
    "11110011111111111111111111111110000000000010010000000000010001111000110100000010010";
/// The end of one meta-block copying 16 MiB and the start of the next.
const BR_REPEAT: &str = "01110111101111111111110011111111111111111111111110000000000010010000000000010001110000110100000000001";
/// The end of the last meta-block, then `ISLAST` and `ISLASTEMPTY`.
const BR_END: &str = "011101111011111111111111";

/// A brotli stream of 16 MiB × (`repeat` + 1) zeros, 13 bytes per 16 MiB.
fn br_bomb(repeat: usize) -> Vec<u8> {
    let bits: String = [BR_START, &BR_REPEAT.repeat(repeat), BR_END].concat();
    bits.as_bytes()
        .chunks(8)
        .map(|byte| {
            byte.iter()
                .enumerate()
                .fold(0u8, |acc, (i, &bit)| acc | (u8::from(bit == b'1') << i))
        })
        .collect()
}

/// A zstd frame of `mib` MiB of zeros in RLE blocks of 128 KiB (32 bytes per MiB),
/// whose header declares a window of 2^`window_log` bytes and no content size.
fn zstd_bomb(mib: usize, window_log: u8) -> Vec<u8> {
    let mut out = vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, (window_log - 10) << 3];
    let blocks = mib * 8;
    for i in 0..blocks {
        // Block_Size 128 KiB, Block_Type 1 (RLE), Last_Block.
        let header = (1u32 << 17 << 3) | (1 << 1) | u32::from(i == blocks - 1);
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.push(0);
    }
    out
}

#[test]
fn the_bombs_are_what_they_say() {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&gzip_bomb(8)[..])
        .read_to_end(&mut out)
        .expect("flate2 decodes the gzip bomb");
    assert!(out.len() == 8 << 20 && out.iter().all(|&b| b == 0));

    for repeat in [0, 1] {
        let mut out = Vec::new();
        brotli::Decompressor::new(&br_bomb(repeat)[..], 1 << 16)
            .read_to_end(&mut out)
            .expect("the brotli crate decodes the br bomb");
        assert!(out.len() == (repeat + 1) << 24 && out.iter().all(|&b| b == 0));
    }
    assert!(br_bomb(63).len() < 1000, "{}", br_bomb(63).len());

    for window_log in [17, 26] {
        let out = zstd::decode_all(&zstd_bomb(8, window_log)[..]).expect("zstd decodes");
        assert!(out.len() == 8 << 20 && out.iter().all(|&b| b == 0));
    }
}

// ---------------------------------------------------------------------------------
// The tests

#[test]
fn a_1_mb_gzip_of_1_gib_stops_at_the_limit_in_little_memory() {
    in_own_process(
        "a_1_mb_gzip_of_1_gib_stops_at_the_limit_in_little_memory",
        || {
            runtime().block_on(async {
                let bomb = gzip_bomb(1024);
                assert!(bomb.len() < 1_100_000, "{} bytes", bomb.len());
                let server = serve("gzip", bomb).await;
                // The default limit, then one just short of the whole gibibyte.
                for limit in [BUFFERED_CAP, GIB - 1] {
                    let read = read_bomb(&server, "gzip", limit).await;
                    assert!(read.decoded >= limit - MAX_CHUNK);
                    assert!(read.heap < 8 * MIB, "peak heap {} bytes", read.heap);
                    assert!(read.rss < 32 * MIB, "peak rss +{} bytes", read.rss);
                }
            });
        },
    );
}

#[test]
fn a_br_bomb_of_1_gib_stops_at_the_limit_in_little_memory() {
    in_own_process(
        "a_br_bomb_of_1_gib_stops_at_the_limit_in_little_memory",
        || {
            runtime().block_on(async {
                let bomb = br_bomb(63);
                let server = serve("br", bomb).await;
                for limit in [BUFFERED_CAP, GIB - 1] {
                    let read = read_bomb(&server, "br", limit).await;
                    // The decoder keeps the stream's window, 16 MiB here and at most.
                    assert!(read.heap < 24 * MIB, "peak heap {} bytes", read.heap);
                    assert!(read.rss < 48 * MIB, "peak rss +{} bytes", read.rss);
                }
            });
        },
    );
}

#[test]
fn a_zstd_bomb_of_1_gib_stops_at_the_limit_in_little_memory() {
    in_own_process(
        "a_zstd_bomb_of_1_gib_stops_at_the_limit_in_little_memory",
        || {
            runtime().block_on(async {
                // A frame with a 128 KiB window, then one declaring the largest window
                // the layer accepts: libzstd allocates the window (outside Rust's
                // heap), so RSS follows the window, never the output.
                for (window_log, rss_bound) in [(17, 32 * MIB), (26, ZSTD_MAX_WINDOW + 32 * MIB)] {
                    let server = serve("zstd", zstd_bomb(1024, window_log)).await;
                    for limit in [BUFFERED_CAP, GIB - 1] {
                        let read = read_bomb(&server, "zstd", limit).await;
                        assert!(read.heap < 8 * MIB, "peak heap {} bytes", read.heap);
                        assert!(read.rss < rss_bound, "peak rss +{} bytes", read.rss);
                    }
                }
            });
        },
    );
}

// ---------------------------------------------------------------------------------
// The default `Client` (issue 18): no limit on a streamed body, a cap on a buffered one

/// The most the process's peak RSS may grow while a bomb is read whole: the 256 MiB
/// cap, and room for the decoder and the runtime.
const BUFFERED_RSS_BOUND: u64 = 300 * MIB;

/// Reads `/bomb` with a default `Client`'s `bytes()` or `text()`: the read must end
/// with `is_decode()` at the default cap, the process's peak RSS growing by less than
/// [`BUFFERED_RSS_BOUND`].
async fn read_bomb_whole(server: &TestServer, coding: &str, text: bool) {
    let client = Client::new();
    let started = Instant::now();
    let meter = Meter::start();
    let response = client
        .get(server.url("/bomb"))
        .send()
        .await
        .expect("response");
    let err: Error = match text {
        true => response.text().await.map(drop),
        false => response.bytes().await.map(drop),
    }
    .expect_err("a 1 GiB bomb is over the cap");
    let (_, allocated, rss) = meter.finish();
    let read = if text { "text()" } else { "bytes()" };
    eprintln!(
        "{coding} bomb, default Client, {read}: {err} after {:?}; peak rss +{:.1} MiB \
         ({:.0} MiB allocated in all)",
        started.elapsed(),
        rss as f64 / MIB as f64,
        allocated as f64 / MIB as f64,
    );
    assert!(err.is_decode(), "{coding} {read}: {err:?}");
    let too_large = std::iter::successors(std::error::Error::source(&err), |e| e.source())
        .find_map(|e| e.downcast_ref::<DecodedTooLarge>())
        .unwrap_or_else(|| panic!("{coding} {read}: no DecodedTooLarge in {err:?}"));
    assert_eq!(
        (too_large.limit(), too_large.coding()),
        (DEFAULT_MAX_RESPONSE_BODY, coding)
    );
    assert!(
        rss < BUFFERED_RSS_BOUND,
        "{coding} {read}: peak rss grew by {rss} bytes"
    );
}

#[test]
fn the_default_client_stops_three_bombs_read_whole_with_is_decode() {
    in_own_process(
        "the_default_client_stops_three_bombs_read_whole_with_is_decode",
        || {
            runtime().block_on(async {
                let gzip = serve("gzip", gzip_bomb(1024)).await;
                let br = serve("br", br_bomb(63)).await;
                let zstd = serve("zstd", zstd_bomb(1024, 17)).await;
                for text in [false, true] {
                    read_bomb_whole(&gzip, "gzip", text).await;
                    read_bomb_whole(&br, "br", text).await;
                    read_bomb_whole(&zstd, "zstd", text).await;
                }
            });
        },
    );
}

/// The size of the legitimate download: 1 GiB decoded, about 256 MiB on the wire.
/// `TOWLINE_BIG_GZIP_MIB` sizes it down (or up).
fn big_gzip_mib() -> usize {
    std::env::var("TOWLINE_BIG_GZIP_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

/// Downloads the gzip text with a default `Client`, through `chunk()` or the body
/// stream, checking every byte; peak RSS must stay small whatever the size.
async fn download_gzip_text(through_chunk: bool) {
    let body = std::sync::Arc::new(gzip_text(big_gzip_mib()));
    let server = GzipTextServer::start(std::sync::Arc::clone(&body)).await;
    let ratio = body.decoded_len() as f64 / body.coded_len() as f64;
    assert!((2.5..8.0).contains(&ratio), "ratio {ratio:.1}:1");
    let client = Client::new();
    let started = Instant::now();
    let meter = Meter::start();
    let mut response = client
        .get(server.url("/big.log"))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("content-encoding").is_none());
    let mut decoded = 0u64;
    let mut check = |chunk: &[u8], body: &GzipText| {
        assert!(body.matches(decoded, chunk), "wrong bytes at {decoded}");
        decoded += chunk.len() as u64;
    };
    if through_chunk {
        while let Some(chunk) = response.chunk().await.expect("a chunk") {
            check(&chunk, &body);
        }
    } else {
        let mut stream = std::pin::pin!(response.into_inner().into_body());
        while let Some(frame) = stream.frame().await {
            if let Ok(data) = frame.expect("a frame").into_data() {
                check(&data, &body);
            }
        }
    }
    let (_, _, rss) = meter.finish();
    let way = if through_chunk {
        "chunk()"
    } else {
        "the body stream"
    };
    eprintln!(
        "{} MiB of gzip text ({:.1}:1, {} MiB coded), default Client, {way}: {:?}; \
         peak rss +{:.1} MiB",
        decoded / MIB,
        ratio,
        body.coded_len() / MIB,
        started.elapsed(),
        rss as f64 / MIB as f64,
    );
    assert_eq!(decoded, body.decoded_len());
    assert!(rss < 64 * MIB, "peak rss grew by {rss} bytes");
}

#[test]
fn the_default_client_downloads_1_gib_of_gzip_text_through_chunk() {
    in_own_process(
        "the_default_client_downloads_1_gib_of_gzip_text_through_chunk",
        || runtime().block_on(download_gzip_text(true)),
    );
}

#[test]
fn the_default_client_downloads_1_gib_of_gzip_text_through_the_body_stream() {
    in_own_process(
        "the_default_client_downloads_1_gib_of_gzip_text_through_the_body_stream",
        || runtime().block_on(download_gzip_text(false)),
    );
}
