use super::*;
use http::uri::{Authority, Scheme};
use http_body_util::BodyExt;

use super::super::Meta;
use super::super::io::{Counted, Counters};
use super::super::send::Outgoing;
use super::super::{Builder, Connected, Route};
use crate::body::Body;

#[test]
fn defaults_are_the_documented_ones() {
    let builder = Builder::new();
    assert_eq!(builder.connect_timeout, Some(Duration::from_secs(30)));
    assert!(builder.pool.persistent);
    assert_eq!(builder.pool.max_idle_per_host, 32);
    assert_eq!(builder.pool.idle_timeout, Some(Duration::from_secs(90)));
    assert_eq!(builder.pool.max_connections_per_host, None);
    // `Connector::new()` is built from the same defaults.
    let connector = super::super::Connector::new();
    let config = connector.shared.pool.config();
    assert_eq!(config.max_idle_per_host, 32);
    assert_eq!(config.idle_timeout, Some(Duration::from_secs(90)));
    assert_eq!(
        connector.shared.connect_timeout,
        Some(Duration::from_secs(30))
    );
}

fn key(server: &towline_test::TestServer) -> Key {
    let authority =
        Authority::try_from(format!("127.0.0.1:{}", server.addr().port())).expect("authority");
    Key::new(Scheme::HTTP, authority, None, Route::Direct, None)
}

/// Opens an HTTP/1.1 connection to `server` the way the connector does (bytes
/// counted), with its connection task spawned.
async fn open(server: &towline_test::TestServer) -> (Conn, tokio::task::JoinHandle<()>) {
    let tcp = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    let counters = Arc::new(Counters::default());
    let io = hyper_util::rt::TokioIo::new(Counted::new(tcp, counters.clone()));
    let (tx, conn) = hyper::client::conn::http1::handshake::<_, Outgoing>(io)
        .await
        .expect("handshake");
    let task = tokio::spawn(async move {
        let _ = conn.await;
    });
    let meta = Arc::new(Meta {
        id: 0,
        connected: Connected::default(),
        counters,
        alpn: None,
        #[cfg(feature = "tls")]
        tls_version: None,
        #[cfg(feature = "tls")]
        peer_certificates: None,
    });
    (
        Conn {
            tx: Tx::H1(tx),
            meta,
        },
        task,
    )
}

/// Sends a GET on `pooled` and reads the response to its end.
async fn exchange(pooled: &mut Pooled, path: &str) {
    let Some(Tx::H1(tx)) = pooled.conn_mut().map(|c| &mut c.tx) else {
        panic!("an HTTP/1.1 connection");
    };
    let request = http::Request::get(path)
        .header(http::header::HOST, "127.0.0.1")
        .body(Outgoing::new(Body::empty(), Some(0)))
        .expect("request");
    let response = tx
        .try_send_request(request)
        .await
        .map_err(|e| e.into_error())
        .expect("response");
    response.into_body().collect().await.expect("body");
}

fn config() -> Config {
    Config {
        persistent: true,
        max_idle_per_host: 32,
        idle_timeout: None,
        max_connections_per_host: None,
    }
}

#[tokio::test]
async fn reuse_counts_only_a_connection_a_request_goes_out_on() {
    let server = towline_test::TestServer::start(|_| towline_test::Reply::text("x")).await;
    let pool = Pool::new(config());
    let key = key(&server);

    // A new connection: opened under a slot, as the connector does.
    let Checkout::Dial(mut slot) = pool.checkout(&key, false, false) else {
        panic!("an empty pool dials");
    };
    let (conn, task) = open(&server).await;
    pool.count_opened();
    slot.opened();
    let mut pooled = pool.in_use(conn, key.clone());
    exchange(&mut pooled, "/1").await;
    pooled.release();
    assert_eq!(pool.stats().reused, 0, "a fresh connection is not a reuse");
    assert_eq!(pool.stats().idle, 1);

    // Taken from the pool and used: one reuse, counted when the request goes out.
    let Checkout::Reused(mut conn) = pool.checkout(&key, false, false) else {
        panic!("the idle connection");
    };
    assert_eq!(pool.stats().reused, 0, "checking out alone is not a reuse");
    assert!(conn.ready_soon().await);
    let mut pooled = pool.in_use(conn, key.clone());
    assert_eq!(pool.stats().reused, 1);
    exchange(&mut pooled, "/2").await;
    pooled.release();
    assert_eq!(pool.stats().idle, 1);

    // Taken from the pool, but dead by the time a request wants it (its task ended
    // after the checkout saw it open): dropped, and not a reuse.
    let Checkout::Reused(mut conn) = pool.checkout(&key, false, false) else {
        panic!("the idle connection");
    };
    task.abort();
    let _ = task.await;
    assert!(!conn.ready_soon().await, "the connection is gone");
    drop(conn);
    let stats = pool.stats();
    assert_eq!((stats.reused, stats.idle, stats.in_use), (1, 0, 0));
    assert!(matches!(
        pool.checkout(&key, false, false),
        Checkout::Dial(_)
    ));
    drop(slot);
    assert_eq!(pool.stats().closed, 1);
    assert_eq!(server.request_count(), 2);
}
