//! A tour of towline against a server on 127.0.0.1, started by the tour itself.
//!
//! Run with `cargo run -p towline-examples --example tour`.
//!
//! It sends requests through the base `Connector`: plain GETs that reuse one pooled
//! connection, request bodies of known and unknown length, a file upload, a bounded
//! read, and what a truncated body and a refused connection look like as errors.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use tower::ServiceExt;
use towline::body::{Body, read_body, read_body_limited};
use towline::connect::{ConnectionInfo, Connector, Framing};
use towline_test::{Fault, Reply, TestServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let server = TestServer::start(|req| match req.path() {
        "/echo" => Reply::text(req.body.clone()),
        "/big" => Reply::text(vec![b'x'; 1 << 20]).chunked(16 * 1024),
        "/cut" => Reply::text("0123456789").fault(Fault::ShortBody { declared: 100 }),
        path => Reply::text(format!("hello from {path}\n")),
    })
    .await;
    println!("local server on {}", server.addr());

    let connector = Connector::builder()
        .idle_timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .build();

    println!("\n== three GETs, one connection");
    for path in ["/a", "/b", "/c"] {
        let request = Request::get(server.url(path)).body(Body::empty())?;
        let response = connector.clone().oneshot(request).await?;
        let reused = response
            .extensions()
            .get::<ConnectionInfo>()
            .is_some_and(|info| info.reused);
        let status = response.status();
        let body = read_body(response.into_body()).await?;
        print!(
            "{status} reused={reused:<5} {}",
            String::from_utf8_lossy(&body)
        );
    }

    println!("\n== request bodies");
    let request = Request::post(server.url("/echo")).body(Body::from("known length"))?;
    let body = read_body(connector.clone().oneshot(request).await?.into_body()).await?;
    println!("bytes body echoed: {}", String::from_utf8_lossy(&body));

    let stream = http_body_util::StreamBody::new(tokio_stream_of(["streamed ", "in ", "chunks"]));
    let request = Request::post(server.url("/echo")).body(Body::streaming(stream))?;
    let body = read_body(connector.clone().oneshot(request).await?.into_body()).await?;
    println!("chunked body echoed: {}", String::from_utf8_lossy(&body));

    let path = std::env::temp_dir().join(format!("towline-tour-{}.txt", std::process::id()));
    tokio::fs::write(&path, b"a file, streamed from disk").await?;
    let request = Request::put(server.url("/echo")).body(Body::from_path(&path).await?)?;
    let body = read_body(connector.clone().oneshot(request).await?.into_body()).await?;
    println!("file body echoed: {}", String::from_utf8_lossy(&body));
    tokio::fs::remove_file(&path).await?;

    println!("\n== reading bodies");
    let request = Request::get(server.url("/big")).body(Body::empty())?;
    let response = connector.clone().oneshot(request).await?;
    println!("framing: {:?}", response.extensions().get::<Framing>());
    match read_body_limited(response.into_body(), 64 * 1024).await {
        Ok(_) => println!("unexpected: a 1 MiB body fit in 64 KiB"),
        Err(err) => println!("bounded read refused it: {err}"),
    }

    let request = Request::get(server.url("/cut")).body(Body::empty())?;
    let response = connector.clone().oneshot(request).await?;
    match read_body(response.into_body()).await {
        Ok(_) => println!("unexpected: a short body read as complete"),
        Err(err) => println!("truncated={}: {err}", err.is_truncated()),
    }

    println!("\n== errors");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = closed.local_addr()?.port();
    drop(closed);
    let request = Request::get(format!("http://127.0.0.1:{port}/")).body(Body::empty())?;
    if let Err(err) = connector.clone().oneshot(request).await {
        println!("is_connect={}: {err}", err.is_connect());
    }
    let request = Request::get("/relative").body(Body::empty())?;
    if let Err(err) = connector.clone().oneshot(request).await {
        println!("is_invalid_request={}: {err}", err.is_invalid_request());
    }

    println!("\n== the pool");
    println!("{:?}", connector.pool_stats());
    connector.close_idle();
    println!("after close_idle: {:?}", connector.pool_stats());
    server.assert_no_panics();
    Ok(())
}

/// A stream of byte frames, written out so the tour needs no stream crate.
fn tokio_stream_of(parts: [&'static str; 3]) -> PartsStream {
    PartsStream(parts.into_iter().collect())
}

struct PartsStream(std::collections::VecDeque<&'static str>);

impl futures_core::Stream for PartsStream {
    type Item = Result<http_body::Frame<Bytes>, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let next = self.0.pop_front();
        std::task::Poll::Ready(
            next.map(|s| Ok(http_body::Frame::data(Bytes::from_static(s.as_bytes())))),
        )
    }
}
