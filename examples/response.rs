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

const MIB: usize = 1024 * 1024;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let big: Vec<u8> = (0..MIB).map(|i| b'a' + (i % 26) as u8).collect();
    let server = TestServer::start(move |_| Reply::text(big.clone()).chunked(16 * 1024)).await;
    let client = Client::new();

    println!("== read the first 64 KiB of 1 MiB, then drop the response");
    let mut response = client.get(server.url("/big")).send().await?;
    println!(
        "{} {:?}, Transfer-Encoding: {:?}",
        response.status(),
        response.version(),
        response.headers().get("transfer-encoding"),
    );
    let mut read = 0;
    while let Some(chunk) = response.chunk().await? {
        if read == 0 {
            let head = String::from_utf8_lossy(&chunk[..chunk.len().min(40)]);
            println!("first bytes: {head:?}");
        }
        read += chunk.len();
        if read >= 64 * 1024 {
            break;
        }
    }
    println!("read {read} bytes, leaving {} unread", MIB - read);
    show("while the response is held", client.pool_stats());
    drop(response);
    let stats = settle(&client, |s| s.closed == 1).await;
    show("after dropping it", stats);

    println!("\n== read a whole response");
    let response = client.get(server.url("/big")).send().await?;
    let body = response.bytes().await?;
    println!("read all {} bytes", body.len());
    let stats = settle(&client, |s| s.idle == 1).await;
    show("after reading it to the end", stats);

    println!(
        "\nthe server saw {} connections: the half-read one could not be reused",
        server.connections_accepted()
    );
    server.assert_no_panics();
    Ok(())
}

fn show(when: &str, stats: PoolStats) {
    println!(
        "pool {when}: opened {}, in use {}, idle {}, closed {}",
        stats.opened, stats.in_use, stats.idle, stats.closed
    );
}

/// The pool's counters once `done` holds of them, or after half a second: closing a
/// connection and putting one back in the pool finish on the connection's own task.
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
