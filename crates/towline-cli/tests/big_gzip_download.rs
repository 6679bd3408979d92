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
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gzip_text::{GzipTextServer, gzip_text};
use support::{TempDir, towline_bin};

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
    let start = Instant::now();
    let mut child = tokio::process::Command::new(towline_bin())
        .arg("--compressed")
        .arg("-o")
        .arg(&file)
        .arg(server.url("/big.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn towline");
    let pid = child.id().expect("pid");
    let deadline = start + Duration::from_secs(600);
    let mut peak_kib = 0;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the download ran over 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let elapsed = start.elapsed();
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        use tokio::io::AsyncReadExt;
        let _ = err.read_to_string(&mut stderr).await;
    }
    assert_eq!(status.code(), Some(0), "towline failed: {stderr}");
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

/// The peak resident set size of a running process (`VmHWM`), in KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
