//! A tour of towline against servers on 127.0.0.1 that the tour starts itself.
//!
//! Run with `cargo run -p towline-examples --example tour`.
//!
//! It walks through what the `Client` does for you — redirects with cookies, gzip,
//! pooled connections, a streamed upload, a retry after a stale connection, a timeout —
//! and then what the layers look like when you stack them yourself.

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use tower::{ServiceBuilder, ServiceExt};
use towline::body::{Body, read_body};
use towline::connect::Connector;
use towline::redirect::FollowRedirectLayer;
use towline::{Client, Error};
use towline_test::{Fault, Reply, TestServer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    encoder.write_all(data).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let report = "towline tour: every line below is something that just happened.\n".repeat(200);
    let coded = gzip(report.as_bytes());
    let server = TestServer::start(move |req| match req.path() {
        "/login" => Reply::new(302)
            .header("location", "/welcome")
            .header("set-cookie", "session=tour42; Path=/; HttpOnly"),
        "/welcome" => Reply::text(format!(
            "welcome; your request carried the cookie {:?}\n",
            req.header("cookie").unwrap_or("(none)")
        )),
        "/report" => Reply::text(coded.clone()).header("content-encoding", "gzip"),
        "/upload" => Reply::text(format!(
            "received {} bytes ({})\n",
            req.body.len(),
            if req.chunked {
                "chunked"
            } else {
                "with Content-Length"
            }
        )),
        "/slow" => Reply::text("too late").fault(Fault::SlowHeaders(Duration::from_secs(3))),
        _ => Reply::text(format!("hello from {}\n", req.path())),
    })
    .await;
    println!("started a local server on {}\n", server.addr());

    let client = Client::builder().timeout(Duration::from_secs(10)).build()?;

    println!("== 1. Redirects are followed, cookies kept");
    let response = client.get(server.url("/login")).send().await?;
    let hops = response.history().map_or(0, |h| h.len());
    println!(
        "GET /login ended at {} after {hops} redirect(s), status {}",
        response.effective_uri().path(),
        response.status()
    );
    let body = response.text().await?;
    print!("  body: {body}");
    check(
        hops == 1 && body.contains("session=tour42"),
        "one redirect, and the cookie it set sent on the next hop",
    )?;
    if let Some(jar) = client.cookie_jar() {
        for cookie in jar.iter() {
            println!(
                "  the jar now holds {}={} for {}",
                cookie.name(),
                cookie.value(),
                cookie.domain()
            );
        }
    }

    println!("\n== 2. gzip is asked for and decoded");
    let response = client.get(server.url("/report")).send().await?;
    let on_the_wire = coded_len(&server, "/report").await?;
    let text = response.text().await?;
    println!(
        "the server sent {on_the_wire} gzip bytes; the client read {} plain bytes",
        text.len()
    );
    check(
        text == report && on_the_wire < text.len(),
        "the plain report, smaller on the wire",
    )?;

    println!("\n== 3. Connections are pooled");
    for path in ["/a", "/b", "/c"] {
        let response = client.get(server.url(path)).send().await?;
        let reused = response.connection_info().is_some_and(|i| i.reused);
        let body = response.text().await?;
        print!("  {path}: reused a pooled connection: {reused:<5} — {body}");
        check(reused, "a pooled connection reused")?;
    }
    let stats = client.pool_stats();
    println!(
        "  pool: {} opened, {} reuses, {} idle now",
        stats.opened, stats.reused, stats.idle
    );

    println!("\n== 4. A streamed upload");
    let chunks = ["streamed ", "in ", "three chunks"];
    let stream = Frames(
        chunks
            .iter()
            .map(|c| Bytes::from_static(c.as_bytes()))
            .collect(),
    );
    let response = client
        .post(server.url("/upload"))
        .body(Body::streaming(stream))
        .send()
        .await?;
    let answer = response.text().await?;
    print!("  {answer}");
    check(
        answer == "received 24 bytes (chunked)\n",
        "24 bytes sent chunked",
    )?;
    let response = client
        .post(server.url("/upload"))
        .body("a body held in memory")
        .send()
        .await?;
    let answer = response.text().await?;
    print!("  {answer}");
    check(
        answer == "received 21 bytes (with Content-Length)\n",
        "21 bytes sent with Content-Length",
    )?;

    println!("\n== 5. A stale pooled connection is retried once");
    let closing = TestServer::builder()
        .handler(|req| Reply::text(format!("answered {}\n", req.path())))
        .close_reused_without_answer(true)
        .start()
        .await?;
    for path in ["/first", "/second"] {
        let response = client.get(closing.url(path)).send().await?;
        print!("  GET {path}: {}", response.text().await?);
    }
    let dropped = closing.requests().iter().filter(|r| !r.answered).count();
    println!(
        "  the server dropped {dropped} request(s) on a reused connection; the client sent \
         each again on a new one"
    );
    check(dropped == 1, "the second GET dropped once, then retried")?;

    println!("\n== 6. Timeouts");
    let started = std::time::Instant::now();
    let outcome = client
        .get(server.url("/slow"))
        .timeout(Duration::from_millis(300))
        .send()
        .await;
    match outcome {
        Err(err) if err.is_timeout() => println!(
            "  GET /slow gave up after {} ms: {err}",
            started.elapsed().as_millis()
        ),
        Err(err) => return Err(err.into()),
        Ok(response) => {
            return Err(format!(
                "GET /slow answered {} before its timeout",
                response.status()
            )
            .into());
        }
    }

    println!("\n== 7. Errors say what happened");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = closed.local_addr()?.port();
    drop(closed);
    match client.get(format!("http://127.0.0.1:{port}/")).send().await {
        Err(err) if err.is_connect() => println!("  is_connect=true: {err}"),
        other => return Err(format!("a closed port gave {other:?}").into()),
    }
    match client.get("/no/scheme").send().await {
        Err(err) if err.is_invalid_request() => println!("  is_invalid_request=true: {err}"),
        other => return Err(format!("a URI without a scheme gave {other:?}").into()),
    }

    println!("\n== 8. Or stack the layers yourself");
    let stack = ServiceBuilder::new()
        .layer(FollowRedirectLayer::new())
        .service(Connector::new());
    let request = Request::get(server.url("/login")).body(Body::empty())?;
    let response = stack.oneshot(request).await?;
    let body = read_body(response.into_body()).await?;
    let body = String::from_utf8_lossy(&body);
    print!("  FollowRedirect over the bare Connector: {body}");
    check(
        body.contains("(none)"),
        "no cookie without the cookie layer",
    )?;

    server.assert_no_panics();
    closing.assert_no_panics();
    println!("\nThe tour is over.");
    Ok(())
}

/// Stops the tour with an error when what it just showed did not happen.
fn check(happened: bool, what: &str) -> Result<(), BoxError> {
    if happened {
        Ok(())
    } else {
        Err(format!("the tour expected {what}, and it did not happen").into())
    }
}

/// How many bytes the server sends for `path` when gzip is not decoded.
async fn coded_len(server: &TestServer, path: &str) -> Result<usize, Error> {
    let raw = Client::builder().gzip(false).deflate(false).build()?;
    let response = raw
        .get(server.url(path))
        .header("accept-encoding", "gzip")
        .send()
        .await?;
    Ok(response.bytes().await?.len())
}

/// A body of a few chunks whose length is not announced: sent chunked.
struct Frames(std::collections::VecDeque<Bytes>);

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
    }
}
