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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
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
    for path in ["/one", "/two", "/three"] {
        // The body read to its end hands the connection back; the next request takes
        // it from the pool, waiting the moment hyper may need to finish the exchange.
        get(&client, &server.url(path)).await?;
    }
    show(client.pool_stats());

    client.close_idle();
    let closed = server.wait_for_closed(1, Duration::from_secs(2)).await;
    println!("close_idle(): the server saw the connection close: {closed}");
    show(settle(&client, |s| s.closed == 1).await);
    get(&client, &server.url("/four")).await?;

    println!("\n== persistent(false)");
    let client = Client::builder().persistent(false).build()?;
    for path in ["/five", "/six"] {
        get(&client, &server.url(path)).await?;
    }
    show(settle(&client, |s| s.closed == 2).await);

    println!(
        "\nthe server accepted {} connections for {} requests",
        server.connections_accepted(),
        server.request_count()
    );
    server.assert_no_panics();
    Ok(())
}

async fn get(client: &Client, url: &str) -> Result<(), towline::Error> {
    let response = client.get(url).send().await?;
    let reused = response.connection_info().is_some_and(|info| info.reused);
    let path = response.effective_uri().path().to_owned();
    // Reading the body to its end is what lets the connection go back to the pool.
    let body = response.text().await?;
    println!("GET {path:<6} reused={reused:<5} server: {body}");
    Ok(())
}

fn show(stats: PoolStats) {
    println!(
        "pool: opened {}, reused {}, idle {}, in use {}, closed {}",
        stats.opened, stats.reused, stats.idle, stats.in_use, stats.closed
    );
}

/// The pool's counters once `done` holds of them, or after half a second: putting a
/// connection back and closing one finish on the connection's own task.
async fn settle(client: &Client, done: impl Fn(&PoolStats) -> bool) -> PoolStats {
    for _ in 0..50 {
        let stats = client.pool_stats();
        if done(&stats) {
            return stats;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    client.pool_stats()
}
