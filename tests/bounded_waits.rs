//! Every wait has a bound (issue 18): `read_timeout` covers the wait for the response
//! head, and the default `Client` bounds dialing (30 s), each TLS handshake (10 s) and
//! a proxy's handshake (10 s). Peers that accept and then say nothing are real
//! loopback listeners; the defaults are checked under tokio's paused clock, over
//! dialers that never complete or hand out in-memory pipes nobody answers, so the
//! 30 s and 10 s pass at once and exactly.

use std::error::Error as _;
use std::io;
use std::time::Duration;

use http::Request;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tower::ServiceExt;
use towline::body::Body;
use towline::connect::{Connector, Destination, ProxyEndpoint, Route};
use towline::error::TimedOut;
use towline::{Client, Error};

/// A listener on 127.0.0.1 that accepts, reads whatever comes, and never writes.
async fn silent_listener() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
                // Keep the connection open until the test ends.
                std::future::pending::<()>().await;
            });
        }
    });
    (addr, task)
}

/// The `TimedOut` in the chain, which names the setting that fired.
fn timed_out(err: &Error) -> &TimedOut {
    let mut next = err.source();
    while let Some(cause) = next {
        if let Some(found) = cause.downcast_ref::<TimedOut>() {
            return found;
        }
        next = cause.source();
    }
    panic!("no TimedOut in {err:?}")
}

/// A dialer whose dials never complete: a blackholed address.
fn blackhole() -> impl towline::connect::Dial {
    tower::service_fn(|_: Destination| {
        std::future::pending::<Result<tokio::net::TcpStream, io::Error>>()
    })
}

/// A dialer handing out in-memory pipes whose far end reads everything and never
/// answers: a server (or proxy) that accepted and says nothing.
fn mute_pipes() -> impl towline::connect::Dial {
    tower::service_fn(|_: Destination| {
        let (near, mut far) = tokio::io::duplex(64 * 1024);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while matches!(far.read(&mut buf).await, Ok(n) if n > 0) {}
            std::future::pending::<()>().await;
        });
        std::future::ready(Ok::<_, io::Error>(near))
    })
}

#[tokio::test]
async fn read_timeout_alone_bounds_the_wait_for_the_response_head() {
    let (addr, server) = silent_listener().await;
    let client = Client::builder()
        .read_timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let started = std::time::Instant::now();
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        client.get(format!("http://{addr}/silent")).send(),
    )
    .await
    .expect("read_timeout ended the wait")
    .expect_err("the server never answers");
    let elapsed = started.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(!err.is_connect(), "{err:?}");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    let cause = timed_out(&err);
    assert_eq!(cause.limit(), Some(Duration::from_millis(300)));
    assert!(cause.to_string().contains("read_timeout"), "{cause}");
    assert!(cause.to_string().contains("response head"), "{cause}");
    // The abandoned connection is closed, not pooled.
    assert_eq!(client.pool_stats().idle, 0);
    assert_eq!(client.pool_stats().in_use, 0);
    server.abort();
}

#[tokio::test]
async fn read_timeout_waits_on_a_server_that_keeps_sending() {
    // The head comes after 200 ms, then the body in 5 pieces 200 ms apart: each gap is
    // under the 500 ms bound, the whole is over it, and the response arrives whole.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut buf = vec![0u8; 4096];
        let _ = stream.read(&mut buf).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
            .await;
        for byte in b"hello" {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = stream.write_all(&[*byte]).await;
        }
        std::future::pending::<()>().await;
    });
    let client = Client::builder()
        .read_timeout(Duration::from_millis(500))
        .build()
        .expect("client");
    let response = client
        .get(format!("http://{addr}/slow"))
        .send()
        .await
        .expect("the head came within the bound");
    assert_eq!(response.bytes().await.expect("body"), "hello");
    server.abort();
}

#[tokio::test(start_paused = true)]
async fn the_default_client_gives_up_dialing_after_30_s() {
    let client = Client::builder()
        .build_with_dialer(blackhole())
        .expect("client");
    let started = tokio::time::Instant::now();
    let err = client
        .get("http://192.0.2.1/")
        .send()
        .await
        .expect_err("the dial never completes");
    assert_eq!(started.elapsed(), Duration::from_secs(30));
    assert!(err.is_connect() && err.is_timeout(), "{err:?}");
    let cause = timed_out(&err);
    assert_eq!(cause.limit(), Some(Duration::from_secs(30)));
    assert!(cause.to_string().contains("connect_timeout"), "{cause}");
    assert_eq!(client.pool_stats().in_use, 0);
}

#[tokio::test(start_paused = true)]
async fn connect_timeout_none_waits_on() {
    let client = Client::builder()
        .connect_timeout(None)
        .build_with_dialer(blackhole())
        .expect("client");
    let send = client.get("http://192.0.2.1/").send();
    // An hour of paused time later it is still dialing.
    tokio::time::timeout(Duration::from_secs(3600), send)
        .await
        .expect_err("no bound: still waiting");
}

#[tokio::test(start_paused = true)]
async fn the_default_client_gives_up_a_tls_handshake_after_10_s() {
    let client = Client::builder()
        .build_with_dialer(mute_pipes())
        .expect("client");
    let started = tokio::time::Instant::now();
    let err = client
        .get("https://mute.test/")
        .send()
        .await
        .expect_err("no ServerHello ever comes");
    assert_eq!(started.elapsed(), Duration::from_secs(10));
    assert!(err.is_connect() && err.is_timeout(), "{err:?}");
    let cause = timed_out(&err);
    assert_eq!(cause.limit(), Some(Duration::from_secs(10)));
    assert!(
        cause
            .to_string()
            .contains("TLS handshake (tls_handshake_timeout)"),
        "{cause}"
    );
}

#[tokio::test]
async fn tls_handshake_timeout_with_a_server_that_accepts_and_says_nothing() {
    let (addr, server) = silent_listener().await;
    let client = Client::builder()
        .tls_handshake_timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let started = std::time::Instant::now();
    let err = tokio::time::timeout(
        Duration::from_secs(30),
        client
            .get(format!("https://localhost:{}/", addr.port()))
            .send(),
    )
    .await
    .expect("the TLS bound ended the wait")
    .expect_err("the server never answers the ClientHello");
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(err.is_connect() && err.is_timeout(), "{err:?}");
    assert!(!err.is_tls(), "no TLS failure was seen: {err:?}");
    let cause = timed_out(&err);
    assert!(
        cause.to_string().contains("tls_handshake_timeout"),
        "{cause}"
    );
    assert_eq!(cause.limit(), Some(Duration::from_millis(300)));
    server.abort();
}

#[tokio::test(start_paused = true)]
async fn the_default_connector_gives_up_a_proxy_handshake_after_10_s() {
    let connector = Connector::builder().build_with_dialer(mute_pipes());
    for route in [
        Route::Tunnel(ProxyEndpoint::new("proxy.test", 3128)),
        Route::Socks5 {
            endpoint: ProxyEndpoint::new("proxy.test", 1080),
            remote_dns: true,
        },
    ] {
        let request = Request::get("https://origin.test/")
            .extension(route.clone())
            .body(Body::empty())
            .expect("request");
        let started = tokio::time::Instant::now();
        let err = connector
            .clone()
            .oneshot(request)
            .await
            .expect_err("the proxy never answers");
        assert_eq!(started.elapsed(), Duration::from_secs(10), "{route:?}");
        assert!(err.is_connect() && err.is_timeout(), "{err:?}");
        assert!(err.is_proxy(), "{err:?}");
        let cause = timed_out(&err);
        assert!(
            cause.to_string().contains("proxy_handshake_timeout"),
            "{cause}"
        );
    }
}

#[tokio::test]
async fn proxy_handshake_timeout_with_a_proxy_that_accepts_and_says_nothing() {
    let (addr, proxy) = silent_listener().await;
    for scheme in ["http", "socks5h"] {
        let proxy_uri = format!("{scheme}://127.0.0.1:{}", addr.port());
        let client = Client::builder()
            .proxy(towline::proxy::ProxyLayer::new(
                towline::proxy::ProxyServer::parse(&proxy_uri).expect("proxy URI"),
            ))
            .proxy_handshake_timeout(Duration::from_millis(300))
            .build()
            .expect("client");
        let started = std::time::Instant::now();
        let err = tokio::time::timeout(
            Duration::from_secs(30),
            client.get("https://origin.test/").send(),
        )
        .await
        .expect("the proxy bound ended the wait")
        .expect_err("the proxy never answers");
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(
            err.is_connect() && err.is_timeout() && err.is_proxy(),
            "{err:?}"
        );
        let cause = timed_out(&err);
        assert_eq!(cause.limit(), Some(Duration::from_millis(300)));
        assert!(
            cause.to_string().contains("proxy_handshake_timeout"),
            "{cause}"
        );
    }
    proxy.abort();
}

/// A request body of `pieces` pieces of 1 KiB, one every `every`.
struct SlowUpload {
    pieces: usize,
    every: Duration,
    sleep: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for SlowUpload {
    type Data = bytes::Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, io::Error>>> {
        if self.pieces == 0 {
            return std::task::Poll::Ready(None);
        }
        std::task::ready!(self.sleep.as_mut().poll(cx));
        self.pieces -= 1;
        let next = tokio::time::Instant::now() + self.every;
        self.sleep.as_mut().reset(next);
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(bytes::Bytes::from(
            vec![b'u'; 1024],
        )))))
    }
}

#[tokio::test]
async fn read_timeout_does_not_cut_a_slow_upload() {
    // 5 pieces 200 ms apart: the upload takes 1 s, twice the 500 ms bound, but bytes
    // keep moving, so the wait for the head is never idle for 500 ms.
    let server = towline_test::TestServer::start(|_| towline_test::Reply::text("stored")).await;
    let client = Client::builder()
        .read_timeout(Duration::from_millis(500))
        .build()
        .expect("client");
    let every = Duration::from_millis(200);
    let body = Body::sized(
        SlowUpload {
            pieces: 5,
            every,
            sleep: Box::pin(tokio::time::sleep(every)),
        },
        5 * 1024,
    );
    let started = std::time::Instant::now();
    let response = client
        .post(server.url("/upload"))
        .body(body)
        .send()
        .await
        .expect("the upload kept the connection busy");
    assert!(started.elapsed() >= Duration::from_millis(1000));
    assert_eq!(response.text().await.expect("body"), "stored");
    server.assert_no_panics();
}
