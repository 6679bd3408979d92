//! The server side of `tests/soak.rs`, in a process of its own so the client's memory
//! can be measured alone.
//!
//! It serves `towline-test`'s server on 127.0.0.1 with two faults, chosen from the
//! `x-request-id` header so a run is reproducible: 1% of responses close their
//! connection after answering, and 0.5% of requests that reuse a connection are dropped
//! without an answer. It prints `listening <addr>` on stdout, then answers each `stats`
//! line on stdin with one line of counters, and exits when stdin closes.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use towline_test::{Fault, Reply, TestServer};

/// A stable pseudo-random number in 0..1000 for a request id.
fn roll(id: u64, salt: u64) -> u64 {
    ((id ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % 1000
}

fn main() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let server = runtime.block_on(TestServer::start(|req| {
        let id: u64 = req
            .header("x-request-id")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if req.index_on_connection > 0 && roll(id, 7) < 5 {
            return Reply::ok().fault(Fault::CloseWithoutAnswer);
        }
        let reply = Reply::text(format!("payload {id}"));
        if roll(id, 11) < 10 {
            reply.close()
        } else {
            reply
        }
    }));

    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening {}", server.addr())?;
    stdout.flush()?;
    for line in std::io::stdin().lock().lines() {
        if line?.trim() != "stats" {
            continue;
        }
        let requests = server.requests();
        let mut posts: HashMap<&str, usize> = HashMap::new();
        for r in requests.iter().filter(|r| r.method == "POST") {
            *posts
                .entry(r.header("x-request-id").unwrap_or("?"))
                .or_default() += 1;
        }
        let duplicates = posts.values().filter(|&&n| n > 1).count();
        let dropped = requests.iter().filter(|r| !r.answered).count();
        writeln!(
            stdout,
            "requests={} posts={} duplicate_posts={duplicates} dropped={dropped} accepted={}",
            requests.len(),
            posts.len(),
            server.connections_accepted(),
        )?;
        stdout.flush()?;
    }
    if server.request_count() > 0 {
        server.assert_no_panics();
    }
    Ok(())
}
