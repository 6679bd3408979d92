//! Load and soak through the full `Client`: many requests at high concurrency against a
//! server that closes 1% of connections after a response and drops 0.5% of requests on
//! reused connections before answering.
//!
//! The server (`tests/bin/soak_server.rs`) runs in a process of its own, so this
//! process holds only the client: its live heap, counted by a wrapping allocator, must
//! come back to where it started once the pool is closed.
//!
//! CI runs a reduced size. The full size is one command:
//! `TOWLINE_SOAK_REQUESTS=100000 cargo test -p towline-integration-tests --release --test soak -- --nocapture`

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::Method;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use towline::Client;

#[global_allocator]
static HEAP: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated and not yet freed, in this whole process.
fn live_heap() -> i64 {
    let stats = HEAP.stats();
    // Reallocations are already counted in both totals by their growth or shrinkage.
    stats.bytes_allocated as i64 - stats.bytes_deallocated as i64
}

/// `VmRSS` and `VmHWM` (peak) of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The soak server process; killed on drop.
struct ServerProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    addr: String,
}

impl ServerProcess {
    fn start() -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_soak-server"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start soak-server");
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("soak-server's address");
        let addr = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("soak-server said {line:?}"))
            .to_owned();
        ServerProcess {
            child,
            stdin,
            stdout,
            addr,
        }
    }

    /// The server's counters, as `name=value` pairs.
    fn stats(&mut self) -> HashMap<String, usize> {
        writeln!(self.stdin, "stats").expect("ask soak-server");
        self.stdin.flush().expect("ask soak-server");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("soak-server stats");
        line.split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
            .collect()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Default, Debug)]
struct Tally {
    ok: usize,
    post_stale: usize,
    other: HashMap<String, usize>,
}

/// Sends requests `first..first + count`, `concurrency` at a time; every fourth is a POST.
async fn run(client: &Client, url: &str, first: usize, count: usize, concurrency: usize) -> Tally {
    let next = Arc::new(AtomicUsize::new(first));
    let end = first + count;
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let url = url.to_owned();
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            loop {
                let id = next.fetch_add(1, Ordering::Relaxed);
                if id >= end {
                    return tally;
                }
                let method = if id % 4 == 3 {
                    Method::POST
                } else {
                    Method::GET
                };
                let sent = client
                    .request(method.clone(), url.as_str())
                    .header("x-request-id", id.to_string())
                    .body(format!("body {id}"))
                    .send()
                    .await;
                let result = match sent {
                    Ok(response) => response.text().await,
                    Err(err) => Err(err),
                };
                match (method, result) {
                    (_, Ok(body)) => {
                        assert_eq!(body, format!("payload {id}"));
                        tally.ok += 1;
                    }
                    (Method::POST, Err(err)) if err.is_stale_connection() => tally.post_stale += 1,
                    (method, Err(err)) => {
                        assert!(method == Method::POST, "GET {id} failed: {err}");
                        *tally.other.entry(format!("{:?}", err.kind())).or_default() += 1;
                    }
                }
            }
        }));
    }
    let mut tally = Tally::default();
    for worker in workers {
        let t = worker.await.expect("worker");
        tally.ok += t.ok;
        tally.post_stale += t.post_stale;
        for (k, v) in t.other {
            *tally.other.entry(k).or_default() += v;
        }
    }
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_under_closing_and_dropping_connections() {
    let total: usize = std::env::var("TOWLINE_SOAK_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let concurrency = 256;
    let mut server = ServerProcess::start();
    let url = format!("http://{}/soak", server.addr);

    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    // One round at full concurrency first, so the runtime's and the allocator's one-time
    // growth (task slabs, timer wheel, thread-local caches) is not counted as the load's.
    // Its ids come after the load's, so each POST id is sent once in the whole test.
    let warm = run(&client, &url, total, concurrency, concurrency).await;
    assert_eq!(warm.ok + warm.post_stale, concurrency, "{warm:?}");
    client.close_idle();
    settle(&client).await;
    let heap_before = live_heap();
    let (rss_before, _) = rss_kib();

    let started = Instant::now();
    let tally = run(&client, &url, 0, total, concurrency).await;
    let elapsed = started.elapsed();
    let stats = client.pool_stats();
    let heap_loaded = live_heap();
    let (rss_loaded, rss_peak) = rss_kib();

    client.close_idle();
    settle(&client).await;
    let heap_after = live_heap();
    let (rss_after, _) = rss_kib();
    let seen = server.stats();

    println!(
        "soak: {total} requests at concurrency {concurrency} in {elapsed:?}: {} ok, {} POSTs \
         failed as stale (sent once, not retried), other failures {:?}; server: {seen:?}; \
         connections opened {}, idle {}, in use {}; live heap {} KiB before, {} KiB loaded \
         (idle pool open), {} KiB after closing the pool; RSS {rss_before} KiB before, \
         {rss_loaded} KiB loaded, {rss_after} KiB after, peak {rss_peak} KiB",
        tally.ok,
        tally.post_stale,
        tally.other,
        stats.opened,
        stats.idle,
        stats.in_use,
        heap_before / 1024,
        heap_loaded / 1024,
        heap_after / 1024,
    );
    assert_eq!(
        seen.get("duplicate_posts"),
        Some(&0),
        "no POST arrived twice"
    );
    assert!(tally.other.is_empty(), "only stale POSTs may fail");
    assert_eq!(tally.ok + tally.post_stale, total);
    assert!(
        seen.get("dropped").is_some_and(|&n| n > 0),
        "the fault fired: {seen:?}"
    );
    assert_eq!(stats.in_use, 0);
    assert!(stats.idle <= 32, "the pool stays bounded: {stats:?}");
    // Nothing the load allocated outlives it: what is left is within 256 KiB of the
    // start (the allocator's and runtime's bookkeeping), whatever the number of requests.
    let grown = heap_after - heap_before;
    assert!(
        grown < 256 * 1024,
        "live heap grew by {grown} bytes over {total} requests"
    );
}

/// Waits until the closed connections' tasks have ended and freed their buffers.
async fn settle(client: &Client) {
    for _ in 0..100 {
        if client.pool_stats().idle == 0 && client.pool_stats().in_use == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Connection tasks see their handles dropped on their next poll.
    tokio::time::sleep(Duration::from_millis(100)).await;
}
