//! The retry layer on the connector against servers that close reused connections.

use std::collections::HashMap;
use std::time::Duration;

use http::{Method, Request};
use tower::{ServiceBuilder, ServiceExt};
use towline::body::{Body, read_body};
use towline::connect::{ConnectionInfo, Connector, FreshConnection};
use towline::retry::RetryStaleLayer;
use towline_test::{Fault, Reply, TestServer};

fn request(method: Method, url: &str, id: usize) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(url)
        .header("x-request-id", id.to_string())
        .body(Body::from(format!("payload {id}")))
        .expect("request")
}

/// How many times the server received each request id, answered or not.
fn arrivals(server: &TestServer) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for r in server.requests() {
        let id = r.header("x-request-id").unwrap_or("none").to_owned();
        *seen.entry(id).or_insert(0) += 1;
    }
    seen
}

async fn closing_server() -> TestServer {
    TestServer::builder()
        .handler(|req| Reply::text(req.body.clone()))
        .close_reused_without_answer(true)
        .start()
        .await
        .expect("server")
}

#[tokio::test]
async fn gets_on_dead_reused_connections_are_retried_once_each() {
    let server = closing_server().await;
    let connector = Connector::new();
    let client = ServiceBuilder::new()
        .layer(RetryStaleLayer::new())
        .service(connector.clone());
    for id in 0..200 {
        let req = request(Method::GET, &server.url("/get"), id);
        let response = client
            .clone()
            .oneshot(req)
            .await
            .expect("every GET succeeds");
        assert!(
            !response
                .extensions()
                .get::<ConnectionInfo>()
                .expect("info")
                .reused
        );
        let body = read_body(response.into_body()).await.expect("body");
        assert_eq!(body, format!("payload {id}"));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let requests = server.requests();
    let answered = requests.iter().filter(|r| r.answered).count();
    let dropped = requests.iter().filter(|r| !r.answered).count();
    // The first GET found no pooled connection; each later one found a dead one once.
    assert_eq!(answered, 200);
    assert_eq!(dropped, 199);
    assert!(arrivals(&server).values().all(|&n| n <= 2));
    assert_eq!(connector.pool_stats().in_use, 0);
}

#[tokio::test]
async fn posts_that_were_sent_are_never_sent_twice() {
    let server = closing_server().await;
    let client = ServiceBuilder::new()
        .layer(RetryStaleLayer::new())
        .service(Connector::new());
    let mut failed = 0;
    for id in 0..200 {
        let req = request(Method::POST, &server.url("/post"), id);
        match client.clone().oneshot(req).await {
            Ok(response) => {
                read_body(response.into_body()).await.expect("body");
            }
            Err(err) => {
                assert!(err.is_stale_connection(), "{err}");
                assert!(err.stale_connection().is_some_and(|s| s.request_written()));
                failed += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // Every other POST met a reused connection the server then closed.
    assert_eq!(failed, 100);
    let seen = arrivals(&server);
    assert_eq!(seen.len(), 200);
    assert!(
        seen.values().all(|&n| n == 1),
        "each POST reached the server exactly once"
    );
}

#[tokio::test]
async fn fresh_connection_extension_skips_the_pool() {
    let server = TestServer::start(|_| Reply::text("x")).await;
    let connector = Connector::new();
    let mut req = request(Method::GET, &server.url("/"), 0);
    connector.clone().oneshot(req).await.expect("first");
    req = request(Method::GET, &server.url("/"), 1);
    req.extensions_mut().insert(FreshConnection);
    let response = connector.clone().oneshot(req).await.expect("second");
    assert!(
        !response
            .extensions()
            .get::<ConnectionInfo>()
            .expect("info")
            .reused
    );
    assert_eq!(server.connections_accepted(), 2);
}

#[tokio::test]
async fn load_with_random_drops_loses_no_get_and_doubles_no_post() {
    // Drops 5% of requests that arrive on a reused connection (one in twenty), chosen
    // by a hash of the request id, so the run is the same every time.
    let server = TestServer::start(|req| {
        let id: u64 = req
            .header("x-request-id")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let roll = (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % 20;
        if req.index_on_connection > 0 && roll == 0 {
            Reply::ok().fault(Fault::CloseWithoutAnswer)
        } else {
            Reply::text(req.body.clone())
        }
    })
    .await;
    let connector = Connector::new();
    let client = ServiceBuilder::new()
        .layer(RetryStaleLayer::new())
        .service(connector.clone());
    const TOTAL: usize = 10_000;
    const CONCURRENCY: usize = 32;
    let mut workers = Vec::new();
    for w in 0..CONCURRENCY {
        let client = client.clone();
        let url = server.url("/load");
        workers.push(tokio::spawn(async move {
            let mut post_failures = 0;
            for id in (w..TOTAL).step_by(CONCURRENCY) {
                let method = if id % 2 == 0 {
                    Method::GET
                } else {
                    Method::POST
                };
                let result = client
                    .clone()
                    .oneshot(request(method.clone(), &url, id))
                    .await;
                match (method, result) {
                    (_, Ok(response)) => {
                        let body = read_body(response.into_body()).await.expect("body");
                        assert_eq!(body, format!("payload {id}"));
                    }
                    (Method::POST, Err(err)) => {
                        assert!(err.is_stale_connection(), "{err}");
                        post_failures += 1;
                    }
                    (_, Err(err)) => panic!("GET {id} failed: {err}"),
                }
            }
            post_failures
        }));
    }
    let mut post_failures = 0;
    for w in workers {
        post_failures += w.await.expect("worker");
    }
    let seen = arrivals(&server);
    for id in (1..TOTAL).step_by(2) {
        assert!(
            seen.get(&id.to_string()).is_some_and(|&n| n == 1),
            "POST {id}"
        );
    }
    let dropped = server.requests().iter().filter(|r| !r.answered).count();
    assert!(dropped > 100, "the fault fired ({dropped} dropped)");
    assert!(post_failures > 0 && post_failures < dropped);
    assert_eq!(connector.pool_stats().in_use, 0);
    server.assert_no_panics();
}
