//! A 1 GiB upload with `-T` and as a `-F` file part keeps the process's memory flat:
//! the file streams from disk as the connection takes it. The file is sparse (no disk
//! space, reads as zeros), and the server counts the bytes it receives without
//! keeping them.

mod support;

use std::ffi::OsStr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use support::TempDir;

/// The most resident memory the child may reach (as for the 1 GiB download).
const PEAK_LIMIT_KIB: u64 = 64 * 1024;

const LEN: u64 = 1 << 30;

/// What the sink server saw of the one request it took.
#[derive(Debug)]
struct Seen {
    head: String,
    body_len: u64,
    /// Body bytes other than zero (the file's are all zero; a form's head is not).
    non_zero: u64,
}

/// Takes one request on 127.0.0.1, reads its head and exactly `Content-Length`
/// body bytes, counting them, and answers 200.
async fn sink() -> (String, tokio::task::JoinHandle<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.expect("accept");
        let mut buf = vec![0u8; 256 * 1024];
        let mut head = Vec::new();
        let end = loop {
            let n = conn.read(&mut buf).await.expect("read head");
            assert!(n > 0, "closed before the head ended");
            head.extend_from_slice(&buf[..n]);
            if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(head.len() < 64 * 1024, "head too long");
        };
        let text = String::from_utf8_lossy(&head[..end]).into_owned();
        let len: u64 = text
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .expect("a Content-Length");
        // A slice comparison is a memcmp, quick even in a debug build; only the chunks
        // that are not all zeros are counted byte by byte.
        let zeros = vec![0u8; buf.len()];
        let count = |bytes: &[u8]| {
            if bytes == &zeros[..bytes.len()] {
                0
            } else {
                bytes.iter().filter(|&&b| b != 0).count() as u64
            }
        };
        let mut got = (head.len() - end) as u64;
        let mut non_zero = count(&head[end..]);
        while got < len {
            let n = conn.read(&mut buf).await.expect("read body");
            assert!(n > 0, "closed after {got} of {len} bytes");
            got += n as u64;
            non_zero += count(&buf[..n]);
        }
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .await
            .expect("answer");
        Seen {
            head: text,
            body_len: got,
            non_zero,
        }
    });
    (format!("http://{addr}/up/"), task)
}

/// Runs towline with `args` and the sink's URL, watching its memory.
async fn upload(args: &[&OsStr]) -> Seen {
    let (url, seen) = sink().await;
    let mut all = args.to_vec();
    all.push(url.as_ref());
    let (run, peak_kib) = support::towline_watching_memory(&all).await;
    run.assert_code(0);
    eprintln!(
        "{args:?}: 1 GiB in {:.1?}; peak RSS {peak_kib} KiB",
        run.elapsed
    );
    assert!(peak_kib > 0, "VmHWM was never read");
    assert!(
        peak_kib < PEAK_LIMIT_KIB,
        "peak RSS {peak_kib} KiB is over {PEAK_LIMIT_KIB} KiB"
    );
    seen.await.expect("the sink")
}

/// A 1 GiB file that takes no disk space and reads as zeros.
fn sparse_file(dir: &TempDir) -> std::path::PathBuf {
    let path = dir.path().join("big.bin");
    let file = std::fs::File::create(&path).expect("create");
    file.set_len(LEN).expect("a sparse 1 GiB file");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_file_of_1_gib_keeps_memory_flat() {
    let dir = TempDir::new("big-upload");
    let file = sparse_file(&dir);
    let seen = upload(&["-s".as_ref(), "-T".as_ref(), file.as_os_str()]).await;
    assert!(
        seen.head.starts_with("PUT /up/big.bin HTTP/1.1\r\n"),
        "{}",
        seen.head
    );
    assert_eq!(seen.body_len, LEN);
    assert_eq!(seen.non_zero, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_file_part_of_1_gib_keeps_memory_flat() {
    let dir = TempDir::new("big-form");
    let file = sparse_file(&dir);
    let part = format!("f=@{}", file.display());
    let seen = upload(&["-s".as_ref(), "-F".as_ref(), part.as_ref()]).await;
    assert!(
        seen.head.starts_with("POST /up/ HTTP/1.1\r\n"),
        "{}",
        seen.head
    );
    assert!(seen.head.contains("multipart/form-data; boundary="));
    // The file and a few hundred bytes of part head and boundaries.
    assert!(
        seen.body_len > LEN && seen.body_len < LEN + 400,
        "{}",
        seen.body_len
    );
}
