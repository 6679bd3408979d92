//! Streaming a response body, and stopping halfway.
//!
//! Run with `cargo run -p towline-examples --example response`.
//!
//! The example's server on 127.0.0.1 sends 1 MiB in 16 KiB chunks. The client reads
//! the body a chunk at a time with `Response::chunk`, prints the first bytes, and
//! stops after 64 KiB, dropping the response. A connection is only pooled once its
//! body was read to the end, so the half-read one is closed rather than handed to the
//! next request with the rest of the megabyte still in it; `pool_stats()` shows it.
//! A second request, read to the end, leaves its connection idle in the pool.

use std::time::Duration;

use towline::Client;
use towline::connect::PoolStats;
use towline_test::{Reply, TestServer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const MIB: usize = 1024 * 1024;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let big: Vec<u8> = (0..MIB).map(|i| b'a' + (i % 26) as u8).collect();
    let served = big.clone();
    let server = TestServer::start(move |_| Reply::text(served.clone()).chunked(16 * 1024)).await;
    let client = Client::new();

    println!("== read the first 64 KiB of 1 MiB, then drop the response");
    let mut response = client.get(server.url("/big")).send().await?;
    let chunked = response
        .headers()
        .get("transfer-encoding")
        .is_some_and(|v| v == "chunked");
    println!(
        "{} {:?}, Transfer-Encoding: {:?}",
        response.status(),
        response.version(),
        response.headers().get("transfer-encoding"),
    );
    check(
        response.status() == 200 && chunked,
        "200 OK with a chunked body",
    )?;
    let mut read = 0;
    while let Some(chunk) = response.chunk().await? {
        if read == 0 {
            let head = String::from_utf8_lossy(&chunk[..chunk.len().min(40)]);
            println!("first bytes: {head:?}");
        }
        check(
            big[read..].starts_with(&chunk),
            "each chunk to be the next bytes sent",
        )?;
        read += chunk.len();
        if read >= 64 * 1024 {
            break;
        }
    }
    println!("read {read} bytes, leaving {} unread", MIB - read);
    check(
        (64 * 1024..MIB).contains(&read),
        "64 KiB read, and the rest left unread",
    )?;
    let held = client.pool_stats();
    show("while the response is held", held);
    check(
        held.in_use == 1,
        "the connection in use while the response is held",
    )?;
    drop(response);
    let stats = settle(&client, |s| s.closed == 1).await;
    show("after dropping it", stats);
    check(
        stats.closed == 1 && stats.idle == 0,
        "the half-read connection closed, not pooled",
    )?;

    println!("\n== read a whole response");
    let response = client.get(server.url("/big")).send().await?;
    let reused = response.connection_info().is_some_and(|info| info.reused);
    let body = response.bytes().await?;
    println!("read all {} bytes", body.len());
    check(body == big, "all 1 MiB read, as sent")?;
    check(!reused, "the second request on a new connection")?;
    let stats = settle(&client, |s| s.idle == 1).await;
    show("after reading it to the end", stats);
    check(
        stats.opened == 2 && stats.idle == 1,
        "the connection read to its end to wait idle in the pool",
    )?;

    println!(
        "\nthe server saw {} connections: the half-read one could not be reused",
        server.connections_accepted()
    );
    check(
        server.connections_accepted() == 2,
        "the server to see 2 connections",
    )?;
    server.assert_no_panics();
    Ok(())
}

fn show(when: &str, stats: PoolStats) {
    println!(
        "pool {when}: opened {}, in use {}, idle {}, closed {}",
        stats.opened, stats.in_use, stats.idle, stats.closed
    );
}

/// The pool's counters once `done` holds of them, or after two seconds: closing a
/// connection and putting one back in the pool finish on the connection's own task.
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
