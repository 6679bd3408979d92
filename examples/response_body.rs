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

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const LIMIT: usize = 64 * 1024;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
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
    let status = response.status();
    let framing = response.extensions().get::<Framing>().copied();
    println!("{status} with framing {framing:?}");
    let body = read_body(response.into_body()).await?;
    print!(
        "read {} bytes: {}",
        body.len(),
        String::from_utf8_lossy(&body)
    );
    check(
        status == 200 && framing == Some(Framing::Length(25)),
        "200 OK with a Content-Length of 25",
    )?;
    check(body == "Some data, just for you.\n", "the 25 bytes sent")?;

    println!("\n== read_body_limited, limit {LIMIT} bytes");
    for (path, under_limit) in [("/small", true), ("/big", false), ("/big-chunked", false)] {
        let request = Request::get(server.url(path)).body(Body::empty())?;
        let response = connector.clone().oneshot(request).await?;
        let framing = response.extensions().get::<Framing>().copied();
        let outcome = read_body_limited(response.into_body(), LIMIT).await;
        match &outcome {
            Ok(body) => println!("{path}: read {} bytes", body.len()),
            // A declared length over the limit fails before any byte is read; a
            // chunked body fails as soon as it passes the limit.
            Err(err) => println!(
                "{path} ({framing:?}): refused, is_body={}: {err}",
                err.is_body()
            ),
        }
        if under_limit {
            check(
                outcome.is_ok_and(|body| body.len() == 25),
                &format!("{path} to be read whole"),
            )?;
        } else {
            check(
                outcome.is_err_and(|err| err.is_body()),
                &format!("{path} to be refused as longer than the limit"),
            )?;
        }
    }

    // A body left unread closes its connection rather than going back to the pool.
    let closed = server.wait_for_closed(2, Duration::from_secs(2)).await;
    println!("\nthe connections of both refused bodies were closed: {closed}");
    check(closed, "the connections of both refused bodies closed")?;
    server.assert_no_panics();
    Ok(())
}

/// Stops the example with an error when what it just showed did not happen.
fn check(happened: bool, what: &str) -> Result<(), BoxError> {
    if happened {
        Ok(())
    } else {
        Err(format!("expected {what}, and it did not happen").into())
    }
}
