//! Composing with tower-http, both ways: towline's layers on a service we did not
//! write (hyper-util's legacy client) under tower-http's `TraceLayer` and
//! `TimeoutLayer`; then tower-http's layers over a `towline::Client`.
//!
//! Run with `cargo run -p towline-examples --example compose`.
//!
//! `FollowRedirectLayer` and `DecompressionLayer` are ordinary tower layers: they
//! wrap any `Service<http::Request<B>>` that returns `http::Response` with a body of
//! `Bytes`. Here they wrap `hyper_util::client::legacy::Client`, with request bodies
//! of `http_body_util::Full<Bytes>` (which the redirect layer can copy to send again,
//! and whose `Default` is the empty body a redirect to GET needs). tower-http's
//! `TimeoutLayer` sits on top; it was written for servers, so when time runs out it
//! answers with a status of its choosing (504 here) instead of failing, and it needs
//! a response body with a `Default`, so the body is boxed under it.
//!
//! `TraceLayer` runs its callbacks for every request and response; here they print a
//! line and count, without a `tracing` subscriber.
//!
//! `towline::Client` is a `Service<http::Request<towline::Body>>` whose response body
//! has a `Default` (the empty body), so the same tower-http layers wrap it directly.
//!
//! The example's server on 127.0.0.1 redirects `/old` to `/data`, which sends gzip,
//! and takes two seconds before answering `/slow`.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use towline::body::read_body;
use towline::connect::EffectiveUri;
use towline::decompress::DecompressionLayer;
use towline::redirect::{FollowRedirectLayer, RedirectHistory};
use towline_test::{Fault, Reply, TestServer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// tower-http's `TraceLayer` with callbacks that print each request and response and
/// count the responses in `$count` (the callbacks' body types are inferred per use,
/// hence a macro rather than a function).
macro_rules! trace_layer {
    ($count:expr) => {{
        let count: Arc<AtomicUsize> = Arc::clone(&$count);
        TraceLayer::new_for_http()
            .on_request(|request: &Request<_>, _span: &_| {
                println!("  [trace] {} {}", request.method(), request.uri());
            })
            .on_response(
                move |response: &Response<_>, latency: Duration, _span: &_| {
                    count.fetch_add(1, Ordering::SeqCst);
                    println!("  [trace] answered {} in {latency:?}", response.status());
                },
            )
    }};
}

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data)?;
    encoder.finish()
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let coded = gzip(b"coded with gzip by the server, decoded by towline")?;
    let server = TestServer::start(move |req| match req.path() {
        "/old" => Reply::new(302).header("Location", "/data"),
        "/slow" => Reply::text("too late").fault(Fault::SlowHeaders(Duration::from_secs(2))),
        _ => Reply::text(coded.clone()).header("Content-Encoding", "gzip"),
    })
    .await;

    // A client we did not write: it pools its own connections.
    let hyper_client = HyperClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();

    // Counts the responses TraceLayer saw, to show it ran.
    let traced = Arc::new(AtomicUsize::new(0));

    let client = ServiceBuilder::new()
        .layer(trace_layer!(traced))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            Duration::from_millis(500),
        ))
        .map_response(|response: Response<_>| response.map(BodyExt::boxed_unsync))
        .layer(FollowRedirectLayer::new())
        .layer(DecompressionLayer::new())
        .service(hyper_client);

    println!("== GET /old through trace -> timeout -> redirect -> decompression -> hyper-util");
    let request = Request::get(server.url("/old")).body(Full::default())?;
    let response = client.clone().oneshot(request).await?;
    let hops = response
        .extensions()
        .get::<RedirectHistory>()
        .map_or(0, RedirectHistory::len);
    let effective = response.extensions().get::<EffectiveUri>().cloned();
    let status = response.status();
    println!(
        "{status} after {hops} redirect(s), from {}",
        effective
            .as_ref()
            .map_or_else(|| "?".to_owned(), |u| u.0.to_string())
    );
    let body = read_body(response.into_body()).await?;
    println!("body: {}", String::from_utf8_lossy(&body));
    let seen = server.requests();
    println!(
        "the server saw: {}, asked with Accept-Encoding {:?}",
        seen.iter().map(|r| r.path()).collect::<Vec<_>>().join(", "),
        seen.last().and_then(|r| r.header("accept-encoding"))
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hops, 1, "one redirect followed");
    assert_eq!(
        &body[..],
        b"coded with gzip by the server, decoded by towline"
    );
    assert!(
        effective.is_some_and(|u| u.0.path() == "/data"),
        "the response came from /data"
    );

    println!("\n== GET /slow, with 500 ms allowed");
    let request = Request::get(server.url("/slow")).body(Full::default())?;
    let response = client.oneshot(request).await?;
    println!(
        "{} (made up by tower-http's TimeoutLayer, not sent by the server)",
        response.status()
    );
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        traced.load(Ordering::SeqCst),
        2,
        "TraceLayer saw both answers"
    );

    // The other way round: tower-http's layers over a towline Client. The Client is a
    // tower Service; its response body's `Default` is what TimeoutLayer answers with.
    let towline_traced = Arc::new(AtomicUsize::new(0));
    let towline_client = towline::Client::new();
    let guarded = ServiceBuilder::new()
        .layer(trace_layer!(towline_traced))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            Duration::from_millis(500),
        ))
        .service(towline_client.clone());

    println!("\n== GET /old through trace -> timeout -> towline::Client");
    let request = Request::get(server.url("/old")).body(towline::Body::empty())?;
    let response = guarded.clone().oneshot(request).await?;
    let status = response.status();
    let body = read_body(response.into_body()).await?;
    println!("{status}: {}", String::from_utf8_lossy(&body));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        &body[..],
        b"coded with gzip by the server, decoded by towline"
    );

    println!("\n== GET /slow through trace -> timeout -> towline::Client, 500 ms allowed");
    let request = Request::get(server.url("/slow")).body(towline::Body::empty())?;
    let response = guarded.oneshot(request).await?;
    println!(
        "{} (made up by TimeoutLayer, with towline's empty body)",
        response.status()
    );
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(read_body(response.into_body()).await?.is_empty());
    assert_eq!(towline_traced.load(Ordering::SeqCst), 2);

    server.assert_no_panics();
    Ok(())
}
