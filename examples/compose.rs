//! towline's layers on a service we did not write: hyper-util's legacy client, with
//! tower-http's `TimeoutLayer` on top.
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
//! The example's server on 127.0.0.1 redirects `/old` to `/data`, which sends gzip,
//! and takes two seconds before answering `/slow`.

use std::io::Write;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use tower::{ServiceBuilder, ServiceExt};
use tower_http::timeout::TimeoutLayer;
use towline::body::read_body;
use towline::connect::EffectiveUri;
use towline::decompress::DecompressionLayer;
use towline::redirect::{FollowRedirectLayer, RedirectHistory};
use towline_test::{Fault, Reply, TestServer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data)?;
    encoder.finish()
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let coded = gzip(b"decoded by towline, fetched by hyper-util")?;
    let server = TestServer::start(move |req| match req.path() {
        "/old" => Reply::new(302).header("Location", "/data"),
        "/slow" => Reply::text("too late").fault(Fault::SlowHeaders(Duration::from_secs(2))),
        _ => Reply::text(coded.clone()).header("Content-Encoding", "gzip"),
    })
    .await;

    // A client we did not write: it pools its own connections.
    let hyper_client = HyperClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();

    let client = ServiceBuilder::new()
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            Duration::from_millis(500),
        ))
        .map_response(|response: Response<_>| response.map(BodyExt::boxed_unsync))
        .layer(FollowRedirectLayer::new())
        .layer(DecompressionLayer::new())
        .service(hyper_client);

    println!("== GET /old through timeout -> redirect -> decompression -> hyper-util");
    let request = Request::get(server.url("/old")).body(Full::default())?;
    let response = client.clone().oneshot(request).await?;
    let hops = response
        .extensions()
        .get::<RedirectHistory>()
        .map_or(0, RedirectHistory::len);
    let effective = response.extensions().get::<EffectiveUri>().cloned();
    println!(
        "{} after {hops} redirect(s), from {}",
        response.status(),
        effective.map_or_else(|| "?".to_owned(), |u| u.0.to_string())
    );
    let body = read_body(response.into_body()).await?;
    println!("body: {}", String::from_utf8_lossy(&body));
    let seen = server.requests();
    println!(
        "the server saw: {}, asked with Accept-Encoding {:?}",
        seen.iter().map(|r| r.path()).collect::<Vec<_>>().join(", "),
        seen.last().and_then(|r| r.header("accept-encoding"))
    );

    println!("\n== GET /slow, with 500 ms allowed");
    let request = Request::get(server.url("/slow")).body(Full::default())?;
    let response = client.oneshot(request).await?;
    println!(
        "{} (made up by tower-http's TimeoutLayer, not sent by the server)",
        response.status()
    );

    server.assert_no_panics();
    Ok(())
}
