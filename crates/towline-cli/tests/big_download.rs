//! A 1 GiB download to a file keeps the process's memory flat: the body streams to
//! the file chunk by chunk and is never held whole. The server generates the body from
//! one small buffer, so it holds none of it either.
//!
//! Measured with the debug binary on a 2-core machine: about 1–2 s for the download
//! and a peak RSS of about 13 MiB, so the full size runs by default.

mod support;

use std::io::Read;

use support::{BigServer, TempDir, big_byte};

/// The most resident memory the child may reach.
const PEAK_LIMIT_KIB: u64 = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_1_gib_keeps_memory_flat() {
    download(1 << 30).await;
}

async fn download(len: u64) {
    let server = BigServer::start(len).await;
    let dir = TempDir::new("big");
    let file = dir.path().join("big.bin");
    let url = server.url("/big");
    let (run, peak_kib) =
        support::towline_watching_memory(&["-o".as_ref(), file.as_os_str(), url.as_ref()]).await;
    run.assert_code(0);
    let elapsed = run.elapsed;
    let mib = len >> 20;
    eprintln!(
        "{mib} MiB to a file in {elapsed:.1?} ({:.0} MiB/s); peak RSS {} KiB",
        mib as f64 / elapsed.as_secs_f64(),
        peak_kib
    );
    assert!(peak_kib > 0, "VmHWM was never read");
    assert!(
        peak_kib < PEAK_LIMIT_KIB,
        "peak RSS {peak_kib} KiB is over {PEAK_LIMIT_KIB} KiB"
    );
    assert_eq!(std::fs::metadata(&file).expect("output").len(), len);
    verify(&file, len);
}

/// Checks every byte of the file against the server's pattern, a period at a time.
fn verify(path: &std::path::Path, len: u64) {
    const PERIOD: usize = 251;
    let expected: Vec<u8> = (0..PERIOD as u64 * 4096).map(big_byte).collect();
    let mut file =
        std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).expect("open"));
    let mut buf = vec![0u8; expected.len()];
    let mut offset = 0u64;
    while offset < len {
        // Every read starts at a multiple of the period, so it matches `expected`.
        let n = (len - offset).min(buf.len() as u64) as usize;
        file.read_exact(&mut buf[..n]).expect("read");
        if buf[..n] != expected[..n] {
            let at = buf[..n]
                .iter()
                .zip(&expected)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            panic!("byte {} differs", offset + at as u64);
        }
        offset += n as u64;
    }
    assert_eq!(file.read(&mut buf).expect("read"), 0, "bytes after the end");
}
