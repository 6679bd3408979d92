//! A large, legitimate gzip-encoded text body, served without holding it: 1 MiB of
//! log-like text, compressed once (about 4:1) and ended with a sync flush, decodes to
//! the same 1 MiB wherever it is placed in a deflate stream (it refers to nothing
//! before its start), so the body is that segment `mib` times between a gzip header
//! and a trailer whose CRC is combined from the 1 MiB one. The server writes it from
//! the one segment; the client's output is the text repeated.
//!
//! Shared by `tests/decompress_memory.rs` and the CLI's `tests/big_gzip_download.rs`.
#![allow(dead_code, unreachable_pub)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use flate2::Compression;
use flate2::write::DeflateEncoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The decoded bytes of one segment.
pub const SEGMENT: usize = 1 << 20;

/// A gzip body of `mib` MiB of text, in parts.
pub struct GzipText {
    /// The decoded content of each segment.
    pub text: Vec<u8>,
    head: Vec<u8>,
    segment: Vec<u8>,
    trailer: Vec<u8>,
    mib: usize,
}

/// 1 MiB of text like a server log: words from a small vocabulary and numbers, from a
/// fixed pseudo-random sequence.
fn log_text() -> Vec<u8> {
    const WORDS: [&str; 16] = [
        "GET",
        "POST",
        "/api/v1/items",
        "/static/app.js",
        "user",
        "session",
        "ok",
        "cache",
        "miss",
        "hit",
        "upstream",
        "latency",
        "bytes",
        "status",
        "region",
        "retry",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::with_capacity(SEGMENT + 256);
    while out.len() < SEGMENT {
        let r = next();
        write!(
            out,
            "2026-12-02T{:02}:{:02}:{:02}Z id={:08x} ",
            r % 24,
            (r >> 8) % 60,
            (r >> 16) % 60,
            (r >> 24) as u32
        )
        .expect("write");
        for i in 0..(4 + (r >> 56) % 5) {
            out.extend_from_slice(WORDS[((next() >> (i * 3)) % 16) as usize].as_bytes());
            out.push(b' ');
        }
        writeln!(out, "{}", next() % 100_000).expect("write");
    }
    out.truncate(SEGMENT);
    out
}

/// A gzip body of `mib` MiB of [`log_text`], built from one compressed segment.
pub fn gzip_text(mib: usize) -> GzipText {
    let text = log_text();
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(&text).expect("write");
    e.flush().expect("sync flush");
    let segment = e.get_ref().clone();
    let mut crc_segment = flate2::Crc::new();
    crc_segment.update(&text);
    let mut crc = flate2::Crc::new();
    for _ in 0..mib {
        crc.combine(&crc_segment);
    }
    // An empty final block of fixed codes, the CRC-32 and the length modulo 2^32.
    let mut trailer = vec![0x03, 0x00];
    trailer.extend_from_slice(&crc.sum().to_le_bytes());
    trailer.extend_from_slice(&((mib as u64 * SEGMENT as u64) as u32).to_le_bytes());
    GzipText {
        text,
        head: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255],
        segment,
        trailer,
        mib,
    }
}

impl GzipText {
    /// The length of the coded body.
    pub fn coded_len(&self) -> u64 {
        (self.head.len() + self.trailer.len()) as u64 + self.segment.len() as u64 * self.mib as u64
    }

    /// The length of the decoded body.
    pub fn decoded_len(&self) -> u64 {
        self.mib as u64 * SEGMENT as u64
    }

    /// Whether `chunk`, found at `offset` of the decoded body, is what it should be.
    pub fn matches(&self, offset: u64, chunk: &[u8]) -> bool {
        let mut at = (offset % SEGMENT as u64) as usize;
        let mut rest = chunk;
        while !rest.is_empty() {
            let n = rest.len().min(SEGMENT - at);
            if rest[..n] != self.text[at..at + n] {
                return false;
            }
            rest = &rest[n..];
            at = 0;
        }
        true
    }
}

/// A loopback server answering every request with the body, `Content-Encoding: gzip`
/// and its `Content-Length`, then closing. Aborted when the handle is dropped.
pub struct GzipTextServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl GzipTextServer {
    pub async fn start(body: Arc<GzipText>) -> GzipTextServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let body = Arc::clone(&body);
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\
                         Content-Encoding: gzip\r\nContent-Length: {}\r\n\
                         Connection: close\r\n\r\n",
                        body.coded_len()
                    );
                    if socket.write_all(response.as_bytes()).await.is_err()
                        || socket.write_all(&body.head).await.is_err()
                    {
                        return;
                    }
                    for _ in 0..body.mib {
                        if socket.write_all(&body.segment).await.is_err() {
                            return;
                        }
                    }
                    let _ = socket.write_all(&body.trailer).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        GzipTextServer { addr, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for GzipTextServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
