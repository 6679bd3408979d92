//! `towline --compressed -o FILE` downloads a 1 GiB gzip-encoded text body (about
//! 256 MiB on the wire) whole, decoding it as it streams to the file: no limit stops a
//! legitimate download, and the process's memory stays flat (issue 18). The server
//! sends the body from one compressed 1 MiB segment, holding none of it.
//!
//! `TOWLINE_BIG_GZIP_MIB` sizes it down (or up).

mod support;

#[path = "../../../tests/support/gzip_text.rs"]
mod gzip_text;

use std::io::Read;
use std::sync::Arc;

use gzip_text::{GzipTextServer, gzip_text};
use support::TempDir;

/// The most resident memory the child may reach.
const PEAK_LIMIT_KIB: u64 = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1_gib_gzip_download_to_a_file_decodes_whole_in_flat_memory() {
    let mib = std::env::var("TOWLINE_BIG_GZIP_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let body = Arc::new(gzip_text(mib));
    let server = GzipTextServer::start(Arc::clone(&body)).await;
    let dir = TempDir::new("big-gzip");
    let file = dir.path().join("big.log");
    let url = server.url("/big.log");
    let (run, peak_kib) = support::towline_watching_memory(&[
        "--compressed".as_ref(),
        "-o".as_ref(),
        file.as_os_str(),
        url.as_ref(),
    ])
    .await;
    run.assert_code(0);
    let elapsed = run.elapsed;
    eprintln!(
        "{mib} MiB of gzip text ({} MiB coded) to a file in {elapsed:.1?}; peak RSS {peak_kib} KiB",
        body.coded_len() >> 20
    );
    assert!(peak_kib > 0, "VmHWM was never read");
    assert!(
        peak_kib < PEAK_LIMIT_KIB,
        "peak RSS {peak_kib} KiB is over {PEAK_LIMIT_KIB} KiB"
    );
    assert_eq!(
        std::fs::metadata(&file).expect("output").len(),
        body.decoded_len()
    );
    // Every byte, a buffer at a time.
    let mut reader = std::fs::File::open(&file).expect("open the output");
    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    loop {
        let n = reader.read(&mut buf).expect("read the output");
        if n == 0 {
            break;
        }
        assert!(body.matches(offset, &buf[..n]), "wrong bytes at {offset}");
        offset += n as u64;
    }
    assert_eq!(offset, body.decoded_len());
}
