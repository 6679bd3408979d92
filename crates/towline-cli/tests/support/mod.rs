//! Running the built `towline` (and Debian's curl) as child processes, temporary
//! directories, and two small loopback servers the test kit does not offer: a relay
//! from a Unix socket to a TCP server, and a server that generates a large body.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// The longest any child may run before the test gives up on it (and kills it).
pub(crate) const CHILD_LIMIT: Duration = Duration::from_secs(120);

/// Proxy variables a developer's shell may hold; every child runs without them.
const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// What a child did.
#[derive(Debug)]
pub(crate) struct Run {
    /// The exit code (`-1` when killed by a signal).
    pub(crate) code: i32,
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: String,
    pub(crate) elapsed: Duration,
}

impl Run {
    pub(crate) fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts the exit code, showing stderr when it differs.
    #[track_caller]
    pub(crate) fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code, code,
            "exit code {} (expected {code}); stderr:\n{}",
            self.code, self.stderr
        );
        self
    }
}

/// The built binary.
pub(crate) fn towline_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_towline"))
}

/// Debian's curl; fails the test when it is missing, never skips it.
pub(crate) fn curl_bin() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("curl"))
            .find(|p| p.is_file())
    });
    match found {
        Some(path) => path,
        None if Path::new("/usr/bin/curl").is_file() => PathBuf::from("/usr/bin/curl"),
        None => panic!(
            "curl is not installed: run ./.ci/test, which installs it (apt-get install curl), \
             then run this test again"
        ),
    }
}

/// Runs `towline args…` in the current directory.
pub(crate) async fn towline(args: &[&str]) -> Run {
    run(&towline_bin(), args, None, None).await
}

/// Runs `towline args…` in `dir`.
pub(crate) async fn towline_in(dir: &Path, args: &[&str]) -> Run {
    run(&towline_bin(), args, Some(dir), None).await
}

/// Runs `towline args…` with `input` on stdin.
pub(crate) async fn towline_with_stdin(args: &[&str], input: &[u8]) -> Run {
    run(&towline_bin(), args, None, Some(input)).await
}

/// Runs `curl -q args…` (`-q`: no ~/.curlrc).
pub(crate) async fn curl(args: &[&str]) -> Run {
    let mut all = vec!["-q"];
    all.extend_from_slice(args);
    run(&curl_bin(), &all, None, None).await
}

/// Spawns a program with the proxy variables removed, and waits for it, at most
/// [`CHILD_LIMIT`].
pub(crate) async fn run(
    program: &Path,
    args: &[&str],
    dir: Option<&Path>,
    input: Option<&[u8]>,
) -> Run {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for var in PROXY_VARS {
        command.env_remove(var);
    }
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    let start = Instant::now();
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {}: {e}", program.display()));
    if let Some(input) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(input).await.expect("writing stdin");
        drop(stdin);
    }
    let output = tokio::time::timeout(CHILD_LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{} {args:?} ran over {CHILD_LIMIT:?}", program.display()))
        .expect("waiting for the child");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: start.elapsed(),
    }
}

/// A directory under the system's temp dir, removed on drop.
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "towline-cli-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("creating the temp dir");
        TempDir { path }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// A path in the directory, as a string for the command line.
    pub(crate) fn file(&self, name: &str) -> String {
        self.path.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `n` bytes that are not all alike and not text: byte `i` is `i * 7 + i / 251`.
pub(crate) fn pattern(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i.wrapping_mul(7) + i / 251) as u8)
        .collect()
}

/// gzip of `data`.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

/// A port on 127.0.0.1 where nothing listens (bound, then released).
pub(crate) fn refused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    port
}

/// Relays every connection to the Unix socket at `path` to the TCP server at
/// `target`, byte for byte, until the returned task is aborted (or dropped with its
/// runtime).
pub(crate) fn unix_relay(path: &Path, target: std::net::SocketAddr) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::UnixListener::bind(path).expect("binding the Unix socket");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    })
}

/// A loopback server that answers every request with `len` generated bytes of
/// [`big_byte`], written from one reused 64 KiB buffer: the body is never held in
/// memory, whatever its size. It serves one request per connection.
pub(crate) struct BigServer {
    pub(crate) addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

/// The byte at offset `i` of a [`BigServer`] body.
pub(crate) fn big_byte(i: u64) -> u8 {
    (i % 251) as u8
}

impl BigServer {
    pub(crate) async fn start(len: u64) -> BigServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    // Read the request head (bounded), then stream the body.
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let response_head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                         Content-Length: {len}\r\nConnection: close\r\n\r\n"
                    );
                    if socket.write_all(response_head.as_bytes()).await.is_err() {
                        return;
                    }
                    // 251 * 261 bytes: a whole number of periods, so every write
                    // starts the pattern over.
                    const BLOCK: usize = 251 * 261;
                    let block: Vec<u8> = (0..BLOCK as u64).map(big_byte).collect();
                    let mut sent = 0u64;
                    while sent < len {
                        let n = (len - sent).min(BLOCK as u64) as usize;
                        if socket.write_all(&block[..n]).await.is_err() {
                            return;
                        }
                        sent += n as u64;
                    }
                    let _ = socket.shutdown().await;
                });
            }
        });
        BigServer { addr, task }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for BigServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs `towline args…` to completion with stdout discarded, watching its peak
/// resident memory (`VmHWM`): the exit code, stderr, the time taken and the peak in
/// KiB (0 if it was never read). Gives up (and kills the child) after 10 minutes.
pub(crate) async fn towline_watching_memory(args: &[&std::ffi::OsStr]) -> (Run, u64) {
    let start = Instant::now();
    let mut child = Command::new(towline_bin())
        .args(args)
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
        let _ = err.read_to_string(&mut stderr).await;
    }
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: Vec::new(),
        stderr,
        elapsed,
    };
    (run, peak_kib)
}

/// The peak resident set size of a running process (`VmHWM`), in KiB.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
