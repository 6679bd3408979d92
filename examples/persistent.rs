//! Persistent connections: several requests over one connection, and the pool.
//!
//! Run with `cargo run -p towline-examples --example persistent`.
//!
//! The `Client` keeps HTTP/1.1 connections open after a response was read to its end
//! and hands them to later requests to the same host (Twisted's
//! `HTTPConnectionPool(persistent=True)`). `connection_info().reused` tells whether a
//! response came over a pooled connection, `pool_stats()` counts, and `close_idle()`
//! empties the pool. A client built with `persistent(false)` opens a connection for
//! every request. The example's server on 127.0.0.1 says which of its connections,
//! and which request on it, each answer is.

use std::time::Duration;

use towline::Client;
use towline::connect::PoolStats;
use towline_test::{Reply, TestServer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let server = TestServer::start(|req| {
        Reply::text(format!(
            "connection #{}, request #{} on it",
            req.connection, req.index_on_connection
        ))
    })
    .await;

    println!("== a persistent client (the default)");
    let client = Client::builder()
        .max_idle_per_host(4)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()?;
    let mut reused = Vec::new();
    for path in ["/one", "/two", "/three"] {
        // The body read to its end hands the connection back; the next request takes
        // it from the pool, waiting the moment hyper may need to finish the exchange.
        reused.push(get(&client, &server.url(path)).await?);
    }
    let stats = settle(&client, |s| s.idle == 1).await;
    show(stats);
    check(
        reused == [false, true, true],
        "/one to open a connection that /two and /three reused",
    )?;
    check(
        stats.opened == 1 && stats.reused == 2 && stats.idle == 1,
        "the pool to count 1 connection opened, 2 reuses and 1 idle",
    )?;

    client.close_idle();
    let closed = server.wait_for_closed(1, Duration::from_secs(2)).await;
    println!("close_idle(): the server saw the connection close: {closed}");
    let stats = settle(&client, |s| s.closed == 1).await;
    show(stats);
    check(closed, "the server to see the idle connection close")?;
    check(
        stats.idle == 0 && stats.closed == 1,
        "close_idle() to leave 0 idle connections",
    )?;
    let reused = get(&client, &server.url("/four")).await?;
    check(!reused, "/four to open a new connection")?;

    println!("\n== persistent(false)");
    let client = Client::builder().persistent(false).build()?;
    for path in ["/five", "/six"] {
        let reused = get(&client, &server.url(path)).await?;
        check(
            !reused,
            "persistent(false) to open a connection per request",
        )?;
    }
    let stats = settle(&client, |s| s.closed == 2).await;
    show(stats);
    check(
        stats.opened == 2 && stats.closed == 2 && stats.idle == 0,
        "persistent(false) to close both connections and keep none idle",
    )?;

    println!(
        "\nthe server accepted {} connections for {} requests",
        server.connections_accepted(),
        server.request_count()
    );
    check(
        server.connections_accepted() == 4 && server.request_count() == 6,
        "4 connections for 6 requests",
    )?;
    server.assert_no_panics();
    Ok(())
}

/// Sends a GET, prints the answer, and says whether it came over a pooled connection.
async fn get(client: &Client, url: &str) -> Result<bool, towline::Error> {
    let response = client.get(url).send().await?;
    let reused = response.connection_info().is_some_and(|info| info.reused);
    let path = response.effective_uri().path().to_owned();
    // Reading the body to its end is what lets the connection go back to the pool.
    let body = response.text().await?;
    println!("GET {path:<6} reused={reused:<5} server: {body}");
    Ok(reused)
}

fn show(stats: PoolStats) {
    println!(
        "pool: opened {}, reused {}, idle {}, in use {}, closed {}",
        stats.opened, stats.reused, stats.idle, stats.in_use, stats.closed
    );
}

/// The pool's counters once `done` holds of them, or after two seconds: putting a
/// connection back and closing one finish on the connection's own task.
async fn settle(client: &Client, done: impl Fn(&PoolStats) -> bool) -> PoolStats {
    for _ in 0..200 {
        let stats = client.pool_stats();
        if done(&stats) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    client.pool_stats()
}

/// Stops the example with an error when what it just showed did not happen.
fn check(happened: bool, what: &str) -> Result<(), BoxError> {
    if happened {
        Ok(())
    } else {
        Err(format!("expected {what}, and it did not happen").into())
    }
}
