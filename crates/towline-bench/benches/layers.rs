//! What each towline layer costs a request, over an in-memory service that answers at
//! once: no network, no runtime wake-ups, only the layer's own work.
//!
//! Run with `cargo bench -p towline-bench --bench layers`. Each benchmark builds a GET
//! with two headers, sends it through the stack with `oneshot` and reads the 1 KiB
//! body to its end; `bare` is the service alone, so a layer's overhead is its time
//! minus `bare`'s.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use towline::Body;
use towline::cookie::{CookieLayer, Jar};
use towline::decompress::DecompressionLayer;
use towline::proxy::{NoProxy, ProxyLayer, ProxyServer};
use towline::redirect::FollowRedirectLayer;
use towline::retry::RetryStaleLayer;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const URI: &str = "http://api.bench.test/v1/items?id=42";

/// The service under every stack: a 200 with a 1 KiB body, ready at once.
#[derive(Clone, Copy, Debug)]
struct Answer;

impl Service<Request<Body>> for Answer {
    type Response = Response<Full<Bytes>>;
    // The retry layer needs an error that can say "stale"; towline's own does.
    type Error = towline::Error;
    type Future = std::future::Ready<Result<Self::Response, towline::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), towline::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        drop(black_box(request));
        static KIB: [u8; 1024] = [b'x'; 1024];
        let response = Response::builder()
            .header("content-type", "application/json")
            .header("content-length", "1024")
            .body(Full::new(Bytes::from_static(&KIB)))
            .expect("a valid response");
        std::future::ready(Ok(response))
    }
}

fn request() -> Request<Body> {
    Request::get(URI)
        .header("accept", "application/json")
        .header("x-request-id", "7f1c2a")
        .body(Body::empty())
        .expect("a valid request")
}

/// Sends one request through `service` and reads the body.
async fn once<S, B>(service: S)
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Error: Into<BoxError>,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let response = match service.oneshot(request()).await {
        Ok(response) => response,
        Err(err) => panic!("the stack failed: {}", err.into()),
    };
    let body = response
        .into_body()
        .collect()
        .await
        .expect("the body reads");
    black_box(body);
}

/// A jar holding `n` cookies for the benchmark's host, half of them on its path.
fn jar(n: usize) -> Jar {
    let jar = Jar::new();
    let uri: http::Uri = URI.parse().expect("uri");
    for i in 0..n {
        let path = if i % 2 == 0 { "/v1" } else { "/other" };
        jar.set_cookie(&uri, format!("c{i}=value{i}; Path={path}"))
            .expect("a valid cookie");
    }
    jar
}

fn layers(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("layer over an in-memory service");

    group.bench_function("bare", |b| b.to_async(&runtime).iter(|| once(Answer)));

    let retry = RetryStaleLayer::new().layer(Answer);
    group.bench_function("RetryStaleLayer", |b| {
        b.to_async(&runtime).iter(|| once(retry.clone()))
    });

    let redirect = FollowRedirectLayer::new().layer(Answer);
    group.bench_function("FollowRedirectLayer", |b| {
        b.to_async(&runtime).iter(|| once(redirect.clone()))
    });

    let cookies_empty = CookieLayer::new(Jar::new()).layer(Answer);
    group.bench_function("CookieLayer, empty jar", |b| {
        b.to_async(&runtime).iter(|| once(cookies_empty.clone()))
    });

    let cookies_full = CookieLayer::new(jar(20)).layer(Answer);
    group.bench_function("CookieLayer, 20 cookies (10 sent)", |b| {
        b.to_async(&runtime).iter(|| once(cookies_full.clone()))
    });

    let decompress = DecompressionLayer::new().layer(Answer);
    group.bench_function("DecompressionLayer, identity response", |b| {
        b.to_async(&runtime).iter(|| once(decompress.clone()))
    });

    let direct = ProxyLayer::direct().layer(Answer);
    group.bench_function("ProxyLayer, direct", |b| {
        b.to_async(&runtime).iter(|| once(direct.clone()))
    });

    let proxied = ProxyLayer::new(ProxyServer::parse("http://127.0.0.1:3128").expect("proxy uri"))
        .no_proxy(NoProxy::parse("localhost,.internal.test,10.0.0.0/8"))
        .layer(Answer);
    group.bench_function("ProxyLayer, proxy with NO_PROXY list", |b| {
        b.to_async(&runtime).iter(|| once(proxied.clone()))
    });

    // Every layer, in the order the Client stacks them (outermost first).
    let all = ServiceBuilder::new()
        .layer(DecompressionLayer::new())
        .layer(FollowRedirectLayer::new())
        .layer(CookieLayer::new(jar(20)))
        .layer(ProxyLayer::direct())
        .layer(RetryStaleLayer::new())
        .service(Answer);
    group.bench_function("all five layers", |b| {
        b.to_async(&runtime).iter(|| once(all.clone()))
    });
    group.finish();
}

/// A dialer that opens an in-memory pipe and serves it with hyper on the same runtime:
/// the whole client path runs, the kernel's loopback does not.
fn in_memory_dialer() -> impl towline::connect::Dial {
    tower::service_fn(|_: towline::connect::Destination| {
        let (client, server) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            static KIB: [u8; 1024] = [b'x'; 1024];
            let service = hyper::service::service_fn(|_: Request<hyper::body::Incoming>| {
                std::future::ready(Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                    Bytes::from_static(&KIB),
                ))))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(server), service)
                .await;
        });
        std::future::ready(Ok::<_, std::io::Error>(client))
    })
}

/// The `Connector` alone and the `Client` with its defaults, each over one pooled
/// in-memory connection: the difference is what the Client's layers and facade cost.
fn client_over_connector(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("over an in-memory connection");

    let connector = towline::connect::Connector::builder().build_with_dialer(in_memory_dialer());
    group.bench_function("Connector", |b| {
        b.to_async(&runtime).iter(|| once(connector.clone()))
    });

    let client = towline::Client::builder()
        .build_with_dialer(in_memory_dialer())
        .expect("client");
    group.bench_function("Client", |b| {
        b.to_async(&runtime).iter(|| once(client.clone()))
    });
    group.finish();
}

/// What the URL edge costs: the `Client`'s `get` given a `&str` (parsed by the WHATWG
/// URL Standard), an `http::Uri` built beforehand (checked to be in normal form, not
/// copied), and the parse alone.
fn url_edge(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("the URL edge");
    group.bench_function("towline::uri::parse(&str)", |b| {
        b.iter(|| towline::uri::parse(black_box(URI)).expect("a valid URL"))
    });
    // Peers measured in the same run: what the shortcut and the standard cost alone.
    group.bench_function("peer: http::Uri from &str", |b| {
        b.iter(|| black_box(URI).parse::<http::Uri>().expect("a valid URI"))
    });
    group.bench_function("peer: url::Url::parse", |b| {
        b.iter(|| towline::Url::parse(black_box(URI)).expect("a valid URL"))
    });
    let uri: http::Uri = URI.parse().expect("uri");
    group.bench_function("peer: http::Uri clone", |b| {
        b.iter(|| black_box(uri.clone()))
    });
    group.bench_function("IntoUri for http::Uri", |b| {
        use towline::IntoUri;
        b.iter(|| black_box(uri.clone()).into_uri().expect("a valid URI"))
    });
    let client = towline::Client::builder()
        .build_with_dialer(in_memory_dialer())
        .expect("client");
    async fn get(client: &towline::Client, uri: impl towline::IntoUri) {
        let response = client.get(uri).send().await.expect("response");
        black_box(response.bytes().await.expect("body"));
    }
    group.bench_function("Client::get(&str)", |b| {
        b.to_async(&runtime).iter(|| get(&client, URI))
    });
    group.bench_function("Client::get(http::Uri)", |b| {
        b.to_async(&runtime).iter(|| get(&client, uri.clone()))
    });
    group.finish();
}

criterion_group!(benches, layers, client_over_connector, url_edge);
criterion_main!(benches);
