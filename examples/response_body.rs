//! Reading a whole response body into memory: `read_body`, Twisted's `readBody`.
//!
//! Run with `cargo run -p towline-examples --example response_body`.
//!
//! Here the requests go through the bare `Connector`, the base service under every
//! layer, and its `http::Response` body is collected with `towline::body::read_body`,
//! which works on any `http_body::Body`. `read_body_limited` refuses a body that grows
//! past a limit, before it is stored; use it for servers you do not trust. The
//! example's server on 127.0.0.1 sends a short body, a 2 MiB body of declared length,
//! and a 2 MiB chunked one.

use std::time::Duration;

use http::Request;
use tower::ServiceExt;
use towline::body::{Body, read_body, read_body_limited};
use towline::connect::{Connector, Framing};
use towline_test::{Reply, TestServer};

const LIMIT: usize = 64 * 1024;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let server = TestServer::start(|req| match req.path() {
        "/big" => Reply::text(vec![b'x'; 2 << 20]),
        "/big-chunked" => Reply::text(vec![b'x'; 2 << 20]).chunked(8 * 1024),
        _ => Reply::text("Some data, just for you.\n"),
    })
    .await;
    let connector = Connector::new();

    println!("== read_body");
    let request = Request::get(server.url("/small")).body(Body::empty())?;
    let response = connector.clone().oneshot(request).await?;
    println!(
        "{} with framing {:?}",
        response.status(),
        response.extensions().get::<Framing>()
    );
    let body = read_body(response.into_body()).await?;
    print!(
        "read {} bytes: {}",
        body.len(),
        String::from_utf8_lossy(&body)
    );

    println!("\n== read_body_limited, limit {LIMIT} bytes");
    for path in ["/small", "/big", "/big-chunked"] {
        let request = Request::get(server.url(path)).body(Body::empty())?;
        let response = connector.clone().oneshot(request).await?;
        let framing = response.extensions().get::<Framing>().copied();
        match read_body_limited(response.into_body(), LIMIT).await {
            Ok(body) => println!("{path}: read {} bytes", body.len()),
            // A declared length over the limit fails before any byte is read; a
            // chunked body fails as soon as it passes the limit.
            Err(err) => println!(
                "{path} ({framing:?}): refused, is_body={}: {err}",
                err.is_body()
            ),
        }
    }

    // A body left unread closes its connection rather than going back to the pool.
    let closed = server.wait_for_closed(2, Duration::from_secs(2)).await;
    println!("\nthe connections of both refused bodies were closed: {closed}");
    server.assert_no_panics();
    Ok(())
}
