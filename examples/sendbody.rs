//! A request body of our own making: a producer that yields a few chunks, one at a
//! time, like Twisted's `IBodyProducer`.
//!
//! Run with `cargo run -p towline-examples --example sendbody`.
//!
//! `Producer` implements `http_body::Body` by hand. Wrapped with `Body::streaming` its
//! length is unknown, so it goes out with `Transfer-Encoding: chunked`; wrapped with
//! `Body::sized` it promises a length and goes out with `Content-Length`. A producer
//! that breaks that promise fails the request instead of sending a short body. The
//! example's own server on 127.0.0.1 tells how each body arrived.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use tokio::time::Sleep;
use towline::{Body, Client};
use towline_test::{Reply, TestServer};

/// Yields its chunks one by one, pausing a little before each, as a producer that
/// waits for data (a database cursor, a sensor) would.
struct Producer {
    chunks: VecDeque<Bytes>,
    pause: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Producer {
    fn new(chunks: &[&'static str], pause: Duration) -> Producer {
        Producer {
            chunks: chunks
                .iter()
                .map(|c| Bytes::from_static(c.as_bytes()))
                .collect(),
            pause,
            sleep: None,
        }
    }

    /// How many bytes the producer will yield in all.
    fn len(&self) -> u64 {
        self.chunks.iter().map(|c| c.len() as u64).sum()
    }
}

impl http_body::Body for Producer {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.chunks.is_empty() {
            return Poll::Ready(None);
        }
        // Wait for the pause before each chunk; the waker is registered by the sleep.
        let pause = self.pause;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(pause)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sleep = None;
        let chunk = self.chunks.pop_front();
        Poll::Ready(chunk.map(|c| Ok(Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    // No `size_hint`: the default says "length unknown", which is what a producer
    // that is still waiting for its data can honestly say. (An exact hint would let
    // hyper send `Content-Length` even through `Body::streaming`.)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let server = TestServer::start(|req| {
        Reply::text(format!(
            "received {} bytes, chunked: {}, Content-Length: {}, body: {:?}",
            req.body.len(),
            req.chunked,
            req.header("content-length").unwrap_or("none"),
            String::from_utf8_lossy(&req.body),
        ))
    })
    .await;
    let client = Client::new();
    let chunks = ["Lorem ", "ipsum ", "dolor ", "sit amet"];
    let pause = Duration::from_millis(20);

    println!("== Body::streaming: length unknown");
    let producer = Producer::new(&chunks, pause);
    let response = client
        .post(server.url("/upload"))
        .body(Body::streaming(producer))
        .send()
        .await?;
    println!("server: {}", response.text().await?);

    println!("\n== Body::sized: the producer promises its length");
    let producer = Producer::new(&chunks, pause);
    let len = producer.len();
    let response = client
        .post(server.url("/upload"))
        .body(Body::sized(producer, len))
        .send()
        .await?;
    println!("server: {}", response.text().await?);

    println!("\n== Body::sized with a broken promise (100 bytes promised)");
    let producer = Producer::new(&chunks, pause);
    let produced = producer.len();
    match client
        .post(server.url("/upload"))
        .body(Body::sized(producer, 100))
        .send()
        .await
    {
        Ok(response) => println!("unexpected answer: {}", response.status()),
        Err(err) => println!("the request failed after {produced} bytes: {err}"),
    }
    let received = server.requests().len();
    assert_eq!(received, 2, "the broken body must not arrive as a request");
    println!("the server received {received} complete requests; the broken one never arrived");

    server.assert_no_panics();
    Ok(())
}
