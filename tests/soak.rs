//! Load and soak through the full `Client`: many requests at high concurrency against a
//! server that closes 1% of connections after a response and drops 0.5% of requests on
//! reused connections before answering.
//!
//! CI runs a reduced size. The full size is one command:
//! `TOWLINE_SOAK_REQUESTS=100000 cargo test -p towline-integration-tests --release --test soak -- --nocapture`

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::Method;
use towline::Client;
use towline_test::{Fault, Reply, TestServer};

/// A stable pseudo-random number in 0..1000 for a request id.
fn roll(id: u64, salt: u64) -> u64 {
    ((id ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % 1000
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[derive(Default, Debug)]
struct Tally {
    ok: usize,
    post_stale: usize,
    other: HashMap<String, usize>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_under_closing_and_dropping_connections() {
    let total: usize = std::env::var("TOWLINE_SOAK_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let concurrency = 256;

    let server = TestServer::start(|req| {
        let id: u64 = req
            .header("x-request-id")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if req.index_on_connection > 0 && roll(id, 7) < 5 {
            // 0.5%: the connection dies under a request that reused it.
            return Reply::ok().fault(Fault::CloseWithoutAnswer);
        }
        let reply = Reply::text(format!("payload {id}"));
        if roll(id, 11) < 10 {
            // 1%: the server closes the connection after answering.
            reply.close()
        } else {
            reply
        }
    })
    .await;

    let client = Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let rss_before = rss_kib();
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let url = server.url("/soak");
        let next = next.clone();
        workers.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            loop {
                let id = next.fetch_add(1, Ordering::Relaxed);
                if id >= total {
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
    let elapsed = started.elapsed();

    // Every POST reached the server at most once.
    let mut arrivals: HashMap<String, usize> = HashMap::new();
    for r in server.requests() {
        if r.method == "POST" {
            let id = r.header("x-request-id").unwrap_or("?").to_owned();
            *arrivals.entry(id).or_default() += 1;
        }
    }
    let duplicates = arrivals.values().filter(|&&n| n > 1).count();
    let stats = client.pool_stats();
    let dropped = server.requests().iter().filter(|r| !r.answered).count();
    println!(
        "soak: {total} requests at concurrency {concurrency} in {elapsed:?}: {} ok, {} POSTs \
         failed as stale (sent once, not retried), other failures {:?}, {dropped} dropped by \
         the server, {duplicates} duplicate POSTs; connections opened {} (server accepted {}), \
         idle now {}, in use {}; RSS {:?} KiB before, {:?} KiB after",
        tally.ok,
        tally.post_stale,
        tally.other,
        stats.opened,
        server.connections_accepted(),
        stats.idle,
        stats.in_use,
        rss_before,
        rss_kib(),
    );
    assert_eq!(duplicates, 0, "no POST reached the server twice");
    assert!(tally.other.is_empty(), "only stale POSTs may fail");
    assert_eq!(tally.ok + tally.post_stale, total);
    assert!(dropped > 0, "the fault fired");
    assert_eq!(stats.in_use, 0);
    assert!(stats.idle <= 32, "the pool stays bounded: {stats:?}");
    server.assert_no_panics();
}
