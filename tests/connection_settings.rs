//! The connection settings a reqwest user reaches for, each through the `Connector`
//! (and its `TcpDialer`) on loopback: resolve overrides and a resolver service,
//! `http1_only` against a server that offers h2, HTTP/2 windows as the server reads
//! them in the client's first frames, and keep-alive PINGs that find a dead
//! connection.

use std::net::SocketAddr;
use std::time::Duration;

use http::{Request, Version};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tower::ServiceExt;
use towline::body::Body;
use towline::connect::{ConnectionInfo, Connector, Name, TcpDialer};
use towline::tls::TlsConfig;
use towline_test::tls::TestCa;
use towline_test::{Reply, TestServer};

async fn get(connector: &Connector, uri: &str) -> Result<(ConnectionInfo, String), towline::Error> {
    let request = Request::get(uri).body(Body::empty()).expect("request");
    let response = connector.clone().oneshot(request).await?;
    let info = response
        .extensions()
        .get::<ConnectionInfo>()
        .cloned()
        .expect("connection info");
    let body = response.into_body().collect().await?.to_bytes();
    Ok((info, String::from_utf8_lossy(&body).into_owned()))
}

async fn echo_host() -> TestServer {
    TestServer::start(|req| Reply::text(req.header("host").unwrap_or("").to_owned())).await
}

#[tokio::test]
async fn a_resolve_override_reaches_an_idn_host_with_its_a_label() {
    let server = echo_host().await;
    let dialer = TcpDialer::new().resolve("bücher.example", server.addr());
    let connector = Connector::builder().build_with_dialer(dialer);
    let uri = towline::uri::parse("http://BÜCHER.example/").expect("url");
    let (info, host) = get(&connector, &uri.to_string()).await.expect("fetched");
    assert_eq!(host, "xn--bcher-kva.example");
    assert_eq!(info.peer_addr, Some(server.addr()));
}

#[tokio::test]
async fn a_resolver_service_is_asked_once_per_connection() {
    let server = echo_host().await;
    let addr = server.addr();
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = asked.clone();
    let resolver = tower::service_fn(move |name: Name| {
        log.lock().expect("log").push(name.to_string());
        async move { Ok::<_, towline::BoxError>([SocketAddr::new(addr.ip(), 0)]) }
    });
    let connector = Connector::builder().build_with_dialer(TcpDialer::new().resolver(resolver));
    for _ in 0..3 {
        let (_, host) = get(&connector, &format!("http://api.test:{}/", addr.port()))
            .await
            .expect("fetched");
        assert_eq!(host, format!("api.test:{}", addr.port()));
    }
    // Three requests on one pooled connection: one lookup.
    assert_eq!(*asked.lock().expect("log"), ["api.test"]);
    assert_eq!(server.connections_accepted(), 1);
}

#[tokio::test]
async fn http1_only_offers_only_http11_to_a_server_that_prefers_h2() {
    let ca = TestCa::new();
    let server = TestServer::builder()
        .handler(|_| Reply::text("hi"))
        .tls_h2(&ca.leaf(&["127.0.0.1"]))
        .start()
        .await
        .expect("server");
    let tls = || {
        TlsConfig::builder()
            .replace_roots_pem(ca.cert_pem().as_bytes())
            .build()
            .expect("config")
    };
    let both = Connector::builder().tls(tls()).build();
    let (info, _) = get(&both, &server.url("/")).await.expect("fetched");
    assert_eq!(
        info.version,
        Version::HTTP_2,
        "the server picks h2 when offered"
    );
    let h1 = Connector::builder().tls(tls()).http1_only(true).build();
    let (info, body) = get(&h1, &server.url("/")).await.expect("fetched");
    assert_eq!(body, "hi");
    assert_eq!(info.version, Version::HTTP_11);
    assert_eq!(info.alpn_protocol.as_deref(), Some(&b"http/1.1"[..]));
}

/// What an h2c server reads of the client's first frames: `SETTINGS_INITIAL_WINDOW_SIZE`
/// and the connection's WINDOW_UPDATE increment, if any.
async fn first_frames(connector: Connector) -> (Option<u32>, Option<u32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let client = tokio::spawn(async move {
        let _ = get(&connector, &format!("http://{addr}/")).await;
    });
    let (mut socket, _) = listener.accept().await.expect("accepted");
    let mut preface = [0u8; 24];
    socket.read_exact(&mut preface).await.expect("preface");
    assert_eq!(&preface, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    let (mut window, mut increment) = (None, None);
    // The client's SETTINGS, then maybe a WINDOW_UPDATE on stream 0, then HEADERS.
    for _ in 0..4 {
        let mut head = [0u8; 9];
        socket.read_exact(&mut head).await.expect("frame head");
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len];
        socket.read_exact(&mut payload).await.expect("payload");
        match head[3] {
            0x4 => {
                for setting in payload.chunks_exact(6) {
                    if u16::from_be_bytes([setting[0], setting[1]]) == 0x4 {
                        window = Some(u32::from_be_bytes([
                            setting[2], setting[3], setting[4], setting[5],
                        ]));
                    }
                }
            }
            0x8 => {
                increment = Some(u32::from_be_bytes([
                    payload[0], payload[1], payload[2], payload[3],
                ]))
            }
            0x1 => break,
            _ => {}
        }
    }
    client.abort();
    (window, increment)
}

#[tokio::test]
async fn http2_windows_go_out_in_the_first_frames() {
    let connector = Connector::builder()
        .http2_prior_knowledge(true)
        .http2_initial_stream_window_size(1 << 20)
        .http2_initial_connection_window_size(8 << 20)
        .build();
    let (window, increment) = first_frames(connector).await;
    assert_eq!(window, Some(1 << 20));
    // The connection window starts at 65,535 and is raised by WINDOW_UPDATE.
    assert_eq!(increment, Some((8 << 20) - 65_535));
}

/// An h2c server that completes the handshake and then reads and never answers,
/// PINGs included, as a peer behind a dead NAT entry does.
async fn silent_h2_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        // An empty SETTINGS frame, then an ACK of the client's.
        let _ = socket.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await;
        let _ = socket.write_all(&[0, 0, 0, 4, 1, 0, 0, 0, 0]).await;
        let mut sink = [0u8; 4096];
        while let Ok(n) = socket.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    });
    addr
}

#[tokio::test]
async fn http2_keep_alive_finds_a_dead_connection() {
    let addr = silent_h2_server().await;
    let connector = Connector::builder()
        .http2_prior_knowledge(true)
        .http2_keep_alive_interval(Duration::from_millis(100))
        .http2_keep_alive_timeout(Duration::from_millis(200))
        .build();
    // Without keep-alive (and no read timeout) this request would wait forever; the
    // outer bound only keeps a regression from hanging the suite.
    let outcome = tokio::time::timeout(
        Duration::from_secs(20),
        get(&connector, &format!("http://{addr}/")),
    )
    .await
    .expect("the unanswered PING ends the wait");
    let err = outcome.expect_err("the connection is dead");
    let report = err.report().to_string();
    assert!(err.is_request(), "{report}");
    assert!(report.contains("keep-alive timed out"), "{report}");
}

#[tokio::test]
async fn the_clients_dialer_settings_reach_the_wire() {
    let server = echo_host().await;
    let local: std::net::IpAddr = "127.0.0.2".parse().expect("ip");
    let client = towline::Client::builder()
        .resolve("bücher.example", server.addr())
        .local_address(local)
        .tcp_keepalive(Duration::from_secs(30))
        .build()
        .expect("client");
    let response = client
        .get("http://bücher.example/")
        .send()
        .await
        .expect("fetched");
    assert_eq!(response.remote_addr(), Some(server.addr()));
    assert_eq!(
        response.text().await.expect("body"),
        "xn--bcher-kva.example"
    );
    assert_eq!(server.peer_addr(0).map(|a| a.ip()), Some(local));
}

#[tokio::test]
async fn max_tls_version_caps_what_is_offered() {
    use towline::tls::{TlsVersion, rustls::ProtocolVersion};
    let ca = TestCa::new();
    let server = TestServer::builder()
        .handler(|_| Reply::text("hi"))
        .tls(&ca.leaf(&["127.0.0.1"]))
        .start()
        .await
        .expect("server");
    let config = |max| {
        TlsConfig::builder()
            .replace_roots_pem(ca.cert_pem().as_bytes())
            .max_version(max)
            .build()
    };
    for (max, expected) in [
        (TlsVersion::Tls13, ProtocolVersion::TLSv1_3),
        (TlsVersion::Tls12, ProtocolVersion::TLSv1_2),
    ] {
        let connector = Connector::builder()
            .tls(config(max).expect("config"))
            .build();
        let (info, _) = get(&connector, &server.url("/")).await.expect("fetched");
        assert_eq!(info.tls_version, Some(expected), "{max:?}");
    }
    let err = TlsConfig::builder()
        .min_version(TlsVersion::Tls13)
        .max_version(TlsVersion::Tls12)
        .build()
        .expect_err("an empty range");
    assert!(err.is_tls(), "{}", err.report());
}

/// A server that answers every connection with `raw` and closes.
async fn raw_server(raw: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = [0u8; 2048];
                let _ = socket.read(&mut head).await;
                let _ = socket.write_all(raw).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn lenient_http1_parsing_is_opt_in() {
    let folded =
        raw_server(b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok").await;
    let spaced =
        raw_server(b"HTTP/1.1 200 OK\r\nX-Spaced : v\r\nContent-Length: 2\r\n\r\nok").await;
    let http09 = raw_server(b"just a body").await;
    let strict = Connector::new();
    for addr in [folded, spaced, http09] {
        let err = get(&strict, &format!("http://{addr}/"))
            .await
            .expect_err("refused by default");
        assert!(err.is_response(), "{addr}: {}", err.report());
    }
    let lenient = Connector::builder()
        .http1_allow_obsolete_multiline_headers_in_responses(true)
        .http1_allow_spaces_after_header_name_in_responses(true)
        .http09_responses(true)
        .build();
    let request = Request::get(format!("http://{folded}/"))
        .body(Body::empty())
        .expect("request");
    let response = lenient.clone().oneshot(request).await.expect("folded head");
    assert_eq!(response.headers()["x-folded"], "a b");
    let request = Request::get(format!("http://{spaced}/"))
        .body(Body::empty())
        .expect("request");
    let response = lenient.clone().oneshot(request).await.expect("spaced head");
    assert_eq!(response.headers()["x-spaced"], "v");
    let (_, body) = get(&lenient, &format!("http://{http09}/"))
        .await
        .expect("an HTTP/0.9 answer");
    assert_eq!(body, "just a body");
}

#[tokio::test]
async fn title_case_headers_go_out_in_title_case() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accepted");
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.ends_with(b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed mid-head");
            head.extend_from_slice(&buf[..n]);
        }
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .await;
        String::from_utf8(head).expect("ascii head")
    });
    let connector = Connector::builder().http1_title_case_headers(true).build();
    let request = Request::get(format!("http://{addr}/"))
        .header("x-custom-thing", "1")
        .body(Body::empty())
        .expect("request");
    connector.oneshot(request).await.expect("response");
    let head = server.await.expect("server");
    assert!(head.contains("\r\nX-Custom-Thing: 1\r\n"), "{head}");
    assert!(head.contains("\r\nHost: "), "{head}");
}
