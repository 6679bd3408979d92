//! HTTP/2 edge cases against a hand-driven h2 server: a GOAWAY that rejects a request
//! unprocessed makes it retryable.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use tower::{ServiceBuilder, ServiceExt};
use towline::body::{Body, read_body};
use towline::connect::Connector;
use towline::retry::RetryStaleLayer;

/// An h2c server whose first connection sends GOAWAY before it processes any stream;
/// later connections answer every request with "ok". Returns its address and the
/// connection count.
async fn goaway_first_server() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let nth = counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(socket).await else {
                    return;
                };
                if nth == 0 {
                    // Last processed stream: none. Every stream the client opened is
                    // rejected unprocessed (RFC 9113 §6.8).
                    conn.abrupt_shutdown(h2::Reason::NO_ERROR);
                    while let Some(Ok(_)) = conn.accept().await {}
                    // Keep the socket open a moment, as servers do after a GOAWAY, so
                    // the client reads the GOAWAY rather than a broken pipe.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    drop(conn);
                    return;
                }
                while let Some(Ok((_request, mut respond))) = conn.accept().await {
                    if let Ok(mut stream) = respond.send_response(http::Response::new(()), false) {
                        let _ = stream.send_data(Bytes::from_static(b"ok"), true);
                    }
                }
            });
        }
    });
    (addr, count)
}

fn get(addr: std::net::SocketAddr) -> Request<Body> {
    Request::get(format!("http://{addr}/"))
        .body(Body::empty())
        .expect("request")
}

#[tokio::test]
async fn a_goaway_before_processing_is_a_stale_unsent_failure() {
    let (addr, _) = goaway_first_server().await;
    let connector = Connector::builder().http2_prior_knowledge(true).build();
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        connector.clone().oneshot(get(addr)),
    )
    .await
    .expect("no hang");
    let err = outcome.expect_err("the server went away");
    let stale = err.stale_connection().expect("retryable");
    assert!(
        !stale.request_written(),
        "unprocessed: counts as unsent ({err})"
    );
    assert_eq!(connector.pool_stats().in_use, 0);
}

#[tokio::test]
async fn the_retry_layer_sends_it_again_on_a_new_connection() {
    let (addr, connections) = goaway_first_server().await;
    let client = ServiceBuilder::new()
        .layer(RetryStaleLayer::new())
        .service(Connector::builder().http2_prior_knowledge(true).build());
    let response = tokio::time::timeout(Duration::from_secs(10), client.oneshot(get(addr)))
        .await
        .expect("no hang")
        .expect("retried");
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(read_body(response.into_body()).await.expect("body"), "ok");
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}
