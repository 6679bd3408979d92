//! The proxy layer and the connector's routes against real proxies from Debian on
//! loopback (squid, tinyproxy, microsocks), and the Unix socket dialer against a hyper
//! server.
//!
//! Every origin here panics (failing the test) if a request reaches it with a
//! `Proxy-Authorization` header.

#[path = "support/proxies.rs"]
mod proxies;

use std::sync::Arc;

use http::{Request, StatusCode};
use tower::{Layer, ServiceExt};
use towline::body::{Body, read_body};
use towline::connect::{ConnectionInfo, Connector, ProxyEndpoint, Route};
use towline::proxy::{NoProxy, Proxy, ProxyError, ProxyLayer, ProxyServer};
use towline::tls::TlsConfig;
use towline_test::tls::{Leaf, TestCa};
use towline_test::{RecordedRequest, Reply, TestServer};

use proxies::{Daemon, TlsFront};

/// The credentials of the proxies that want them; the SOCKS5 password needs
/// percent-encoding in a URI. tinyproxy's configuration takes letters and digits only,
/// so its URI encodes a digit needlessly, which must decode all the same.
const USER: &str = "towline";
const SOCKS_PASS: &str = "s3cr@t";
const SOCKS_USERINFO: &str = "towline:s3cr%40t";
const TINY_PASS: &str = "s3cret";
const TINY_USERINFO: &str = "towline:s%33cret";

fn origin_handler(req: &RecordedRequest) -> Reply {
    assert!(
        req.header("proxy-authorization").is_none(),
        "the origin received Proxy-Authorization: {:?}",
        req.header("proxy-authorization")
    );
    Reply::text(format!("hello {}", req.path()))
}

async fn http_origin() -> TestServer {
    TestServer::start(origin_handler).await
}

async fn https_origin(leaf: &Leaf) -> TestServer {
    TestServer::builder()
        .handler(origin_handler)
        .tls(leaf)
        .start()
        .await
        .expect("server")
}

fn trusting(ca: &TestCa) -> TlsConfig {
    TlsConfig::builder()
        .replace_roots_pem(ca.cert_pem().as_bytes())
        .build()
        .expect("config")
}

fn server(uri: &str) -> ProxyServer {
    ProxyServer::parse(uri).unwrap_or_else(|e| panic!("{uri}: {e}"))
}

/// A connector trusting `ca`, behind a layer sending everything through `proxy`.
fn client(proxy: &str, ca: &TestCa) -> Proxy<Connector> {
    ProxyLayer::new(server(proxy)).layer(Connector::builder().tls(trusting(ca)).build())
}

/// GETs `url` with a `Proxy-Authorization` header of the caller's own, which must never
/// reach an origin; returns the status, body and connection facts.
async fn get(
    client: &Proxy<Connector>,
    url: &str,
) -> Result<(StatusCode, String, ConnectionInfo), towline::Error> {
    let request = Request::get(url)
        .header("proxy-authorization", "Basic Y2FsbGVyOm93bg==")
        .body(Body::empty())
        .expect("request");
    let response = client.clone().oneshot(request).await?;
    let status = response.status();
    let info = response
        .extensions()
        .get::<ConnectionInfo>()
        .cloned()
        .expect("ConnectionInfo");
    let body = read_body(response.into_body()).await?;
    Ok((status, String::from_utf8_lossy(&body).into_owned(), info))
}

async fn get_ok(client: &Proxy<Connector>, url: &str, proxy: &Daemon) -> (String, ConnectionInfo) {
    match get(client, url).await {
        Ok((StatusCode::OK, body, info)) => (body, info),
        Ok((status, body, _)) => panic!("{url}: {status} {body}\n{}", proxy.log()),
        Err(err) => panic!("{url}: {err}\n{}", proxy.log()),
    }
}

fn proxy_error(err: &towline::Error) -> &ProxyError {
    let mut source = std::error::Error::source(err);
    while let Some(e) = source {
        if let Some(found) = e.downcast_ref::<ProxyError>() {
            return found;
        }
        source = e.source();
    }
    panic!("no ProxyError in {err}")
}

// ---------------------------------------------------------------------------------
// squid

#[tokio::test]
#[ignore = "needs squid: ./.ci/test runs it"]
async fn squid_forwards_http_in_absolute_form_over_a_reused_connection() {
    let ca = TestCa::new();
    let origin = http_origin().await;
    let squid = proxies::squid(&[]);
    let client = client(&squid.uri("http", None), &ca);

    let (body, info) = get_ok(&client, &origin.url("/a"), &squid).await;
    assert_eq!(body, "hello /a");
    assert_eq!(
        info.peer_addr,
        Some(squid.addr()),
        "the connection is to the proxy"
    );
    let (_, info) = get_ok(&client, &origin.url("/b"), &squid).await;
    assert!(info.reused, "the connection to the proxy is pooled");
    let seen = origin.requests();
    assert_eq!(seen.len(), 2);
    let via = seen[0].header("via").unwrap_or_default();
    assert!(via.contains("squid"), "squid forwarded it: Via: {via}");
    assert_eq!(seen[0].target, "/a", "squid sends origin-form on");
    origin.assert_no_panics();
}

#[tokio::test]
#[ignore = "needs squid: ./.ci/test runs it"]
async fn squid_tunnels_https_with_full_certificate_verification() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let origin = https_origin(&leaf).await;
    let h2_origin = TestServer::builder()
        .handler(origin_handler)
        .tls_h2(&leaf)
        .start()
        .await
        .expect("server");
    let squid = proxies::squid(&[origin.addr().port(), h2_origin.addr().port()]);
    let client = client(&squid.uri("http", None), &ca);

    // HTTP/2, negotiated with the origin by ALPN inside the tunnel.
    let (body, info) = get_ok(&client, &h2_origin.url_for_host("localhost", "/h2"), &squid).await;
    assert_eq!(body, "hello /h2");
    assert_eq!(info.version, http::Version::HTTP_2);
    h2_origin.assert_no_panics();

    let (body, info) = get_ok(
        &client,
        &origin.url_for_host("localhost", "/secure"),
        &squid,
    )
    .await;
    assert_eq!(body, "hello /secure");
    let chain = info.peer_certificates.expect("the origin's certificates");
    assert_eq!(
        chain[0].as_ref(),
        leaf.cert_der.as_ref(),
        "TLS is with the origin"
    );
    assert_eq!(info.peer_addr, Some(squid.addr()));
    let (_, info) = get_ok(&client, &origin.url_for_host("localhost", "/again"), &squid).await;
    assert!(info.reused, "the tunnel is pooled");
    assert_eq!(origin.connections_accepted(), 1);
    assert!(
        origin.requests()[0].header("via").is_none(),
        "a tunnel, not forwarded"
    );

    // Verified inside the tunnel: a client trusting another CA refuses the origin.
    let other = TestCa::new();
    let err = get(
        &client_with(&squid, &other),
        &origin.url_for_host("localhost", "/x"),
    )
    .await
    .expect_err("untrusted");
    assert!(err.is_tls(), "{err}");
    origin.assert_no_panics();
}

fn client_with(proxy: &Daemon, ca: &TestCa) -> Proxy<Connector> {
    client(&proxy.uri("http", None), ca)
}

#[tokio::test]
#[ignore = "needs squid: ./.ci/test runs it"]
async fn squid_refusing_a_tunnel_is_a_proxy_error_with_its_status() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let origin = https_origin(&leaf).await;
    // The origin's port is not among squid's SSL ports.
    let squid = proxies::squid(&[1]);
    let err = get(&client_with(&squid, &ca), &origin.url("/"))
        .await
        .expect_err("refused");
    assert!(err.is_proxy(), "{err}");
    let proxy = proxy_error(&err);
    assert_eq!(proxy.status(), Some(StatusCode::FORBIDDEN), "{err}");
    assert!(!proxy.is_auth_required());
    assert!(
        err.to_string()
            .starts_with("proxy failed for https://127.0.0.1:"),
        "{err}"
    );
    assert_eq!(origin.connections_accepted(), 0);
}

#[tokio::test]
#[ignore = "needs squid: ./.ci/test runs it"]
async fn an_https_proxy_is_verified_and_forwards_and_tunnels() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let origin = https_origin(&leaf).await;
    let plain_origin = http_origin().await;
    let squid = proxies::squid(&[origin.addr().port()]);
    // squid behind TLS, with a certificate from the same CA.
    let front = TlsFront::start(leaf.server_config(&[b"http/1.1"]), squid.addr()).await;
    let client = client(&format!("https://localhost:{}", front.port), &ca);

    let (body, _) = get_ok(&client, &plain_origin.url("/plain"), &squid).await;
    assert_eq!(body, "hello /plain");
    let (body, info) = get_ok(
        &client,
        &origin.url_for_host("localhost", "/tls-in-tls"),
        &squid,
    )
    .await;
    assert_eq!(body, "hello /tls-in-tls");
    let chain = info.peer_certificates.expect("certificates");
    assert_eq!(chain[0].as_ref(), leaf.cert_der.as_ref());

    // The proxy's certificate is verified too.
    let other = TestCa::new();
    let untrusting = ProxyLayer::new(server(&format!("https://localhost:{}", front.port)))
        .layer(Connector::builder().tls(trusting(&other)).build());
    let err = get(&untrusting, &plain_origin.url("/"))
        .await
        .expect_err("untrusted proxy");
    assert!(err.is_tls(), "{err}");
    assert!(err.report().to_string().contains("localhost"), "{err}");
    plain_origin.assert_no_panics();
    origin.assert_no_panics();
}

// ---------------------------------------------------------------------------------
// tinyproxy

#[tokio::test]
#[ignore = "needs tinyproxy: ./.ci/test runs it"]
async fn tinyproxy_without_auth_forwards_and_tunnels() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let tls_origin = https_origin(&leaf).await;
    let origin = http_origin().await;
    let ports = [tls_origin.addr().port(), origin.addr().port()];
    let tinyproxy = proxies::tinyproxy(&ports, None);
    let client = client(&tinyproxy.uri("http", None), &ca);

    let (body, _) = get_ok(&client, &origin.url("/plain"), &tinyproxy).await;
    assert_eq!(body, "hello /plain");
    let (body, _) = get_ok(&client, &tls_origin.url("/tunnel"), &tinyproxy).await;
    assert_eq!(body, "hello /tunnel");

    // A plain http request can tunnel too, when the caller asks for it.
    let request = Request::get(origin.url("/tunnelled"))
        .extension(Route::Tunnel(ProxyEndpoint::new(
            "127.0.0.1",
            tinyproxy.port,
        )))
        .body(Body::empty())
        .expect("request");
    let response = client.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let seen = origin.requests();
    let (forwarded, tunnelled) = (&seen[0], &seen[1]);
    assert!(
        forwarded.header("via").is_some(),
        "tinyproxy forwarded the first"
    );
    assert!(
        tunnelled.header("via").is_none(),
        "and only relayed the second"
    );
    assert_eq!(tunnelled.target, "/tunnelled");
    origin.assert_no_panics();
    tls_origin.assert_no_panics();
}

#[tokio::test]
#[ignore = "needs tinyproxy: ./.ci/test runs it"]
async fn tinyproxy_basic_auth_407_without_credentials_success_with_them() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let tls_origin = https_origin(&leaf).await;
    let origin = http_origin().await;
    let tinyproxy = proxies::tinyproxy(&[tls_origin.addr().port()], Some((USER, TINY_PASS)));

    // No credentials: CONNECT is refused with 407, a typed error.
    let anonymous = client(&tinyproxy.uri("http", None), &ca);
    let err = get(&anonymous, &tls_origin.url("/"))
        .await
        .expect_err("407");
    assert!(err.is_proxy(), "{err}");
    let proxy = proxy_error(&err);
    assert_eq!(
        proxy.status(),
        Some(StatusCode::PROXY_AUTHENTICATION_REQUIRED)
    );
    assert!(proxy.is_auth_required());
    assert!(
        err.report().to_string().contains("requires authentication"),
        "{err}"
    );
    // A forwarded http request gets the proxy's 407 as its response.
    let (status, _, _) = get(&anonymous, &origin.url("/")).await.expect("a response");
    assert_eq!(status, StatusCode::PROXY_AUTHENTICATION_REQUIRED);

    // Wrong credentials.
    let wrong = client(&tinyproxy.uri("http", Some("towline:nope")), &ca);
    let err = get(&wrong, &tls_origin.url("/")).await.expect_err("407");
    assert!(proxy_error(&err).is_auth_required(), "{err}");
    assert!(
        err.report()
            .to_string()
            .contains("did not accept the credentials"),
        "{err}"
    );

    // The right ones, percent-encoded in the URI.
    let authed = client(&tinyproxy.uri("http", Some(TINY_USERINFO)), &ca);
    let (body, _) = get_ok(&authed, &tls_origin.url("/tunnel"), &tinyproxy).await;
    assert_eq!(body, "hello /tunnel");
    let (body, _) = get_ok(&authed, &origin.url("/plain"), &tinyproxy).await;
    assert_eq!(body, "hello /plain");
    assert_eq!(tls_origin.request_count(), 1);
    assert_eq!(origin.request_count(), 1);
    origin.assert_no_panics();
    tls_origin.assert_no_panics();
}

// ---------------------------------------------------------------------------------
// SOCKS5 (microsocks)

#[tokio::test]
#[ignore = "needs microsocks: ./.ci/test runs it"]
async fn socks5_without_auth_carries_http_and_https() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let tls_origin = https_origin(&leaf).await;
    let origin = http_origin().await;
    let socks = proxies::microsocks(None);
    let client = client(&socks.uri("socks5", None), &ca);

    let (body, info) = get_ok(&client, &origin.url("/plain"), &socks).await;
    assert_eq!(body, "hello /plain");
    assert_eq!(info.peer_addr, Some(socks.addr()));
    let (body, info) = get_ok(
        &client,
        &tls_origin.url_for_host("localhost", "/tls"),
        &socks,
    )
    .await;
    assert_eq!(body, "hello /tls");
    let chain = info.peer_certificates.expect("certificates");
    assert_eq!(chain[0].as_ref(), leaf.cert_der.as_ref());
    origin.assert_no_panics();
    tls_origin.assert_no_panics();
}

#[tokio::test]
#[ignore = "needs microsocks: ./.ci/test runs it"]
async fn socks5_with_auth_needs_the_right_credentials() {
    let ca = TestCa::new();
    let origin = http_origin().await;
    let socks = proxies::microsocks(Some((USER, SOCKS_PASS)));

    let err = get(&client(&socks.uri("socks5", None), &ca), &origin.url("/"))
        .await
        .expect_err("needs credentials");
    assert!(err.is_proxy(), "{err}");
    assert!(proxy_error(&err).is_auth_required(), "{err}");
    assert!(
        err.report().to_string().contains("requires authentication"),
        "{err}"
    );

    let err = get(
        &client(&socks.uri("socks5", Some("towline:nope")), &ca),
        &origin.url("/"),
    )
    .await
    .expect_err("wrong credentials");
    assert!(
        err.report()
            .to_string()
            .contains("rejected the username and password"),
        "{err}"
    );

    let authed = client(&socks.uri("socks5h", Some(SOCKS_USERINFO)), &ca);
    let (body, _) = get_ok(&authed, &origin.url_for_host("localhost", "/in"), &socks).await;
    assert_eq!(body, "hello /in");
    assert_eq!(origin.request_count(), 1);
    origin.assert_no_panics();
}

#[tokio::test]
#[ignore = "needs microsocks: ./.ci/test runs it"]
async fn socks5h_resolves_at_the_proxy_and_socks5_here() {
    let ca = TestCa::new();
    let origin = http_origin().await;
    let socks = proxies::microsocks(None);

    // `localhost`, resolved by the proxy.
    let remote = client(&socks.uri("socks5h", None), &ca);
    let (body, _) = get_ok(&remote, &origin.url_for_host("localhost", "/h"), &socks).await;
    assert_eq!(body, "hello /h");

    // A name nobody can resolve tells who tried: the proxy answers with a SOCKS
    // failure for socks5h; for socks5 the local resolver fails before the proxy is
    // asked anything.
    let nowhere = "http://no-such-host.invalid/";
    let err = get(&remote, nowhere).await.expect_err("unresolvable");
    assert!(err.is_proxy() && !err.is_resolve(), "{err}");
    assert!(proxy_error(&err).socks_reply().is_some(), "{err}");
    let local = client(&socks.uri("socks5", None), &ca);
    let err = get(&local, nowhere).await.expect_err("unresolvable");
    assert!(err.is_resolve() && !err.is_proxy(), "{err}");
    origin.assert_no_panics();
}

#[tokio::test]
#[ignore = "needs microsocks: ./.ci/test runs it"]
async fn a_socks5_failure_code_becomes_a_readable_message() {
    let ca = TestCa::new();
    let socks = proxies::microsocks(None);
    // Nothing listens on this port.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let err = get(
        &client(&socks.uri("socks5", None), &ca),
        &format!("http://127.0.0.1:{closed}/"),
    )
    .await
    .expect_err("refused");
    assert!(err.is_proxy(), "{err}");
    assert_eq!(proxy_error(&err).socks_reply(), Some(5), "{err}");
    assert!(
        err.report()
            .to_string()
            .contains("connection refused by destination host"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------
// Routes, the layer's choices, and an unreachable proxy

#[tokio::test]
#[ignore = "needs squid: ./.ci/test runs it"]
async fn no_proxy_and_a_route_set_by_the_caller_win() {
    let ca = TestCa::new();
    let origin = http_origin().await;
    let squid = proxies::squid(&[]);
    let layer =
        ProxyLayer::new(server(&squid.uri("http", None))).no_proxy(NoProxy::parse("localhost"));
    let client = layer.layer(Connector::builder().tls(trusting(&ca)).build());

    let (_, info) = get_ok(
        &client,
        &origin.url_for_host("localhost", "/direct"),
        &squid,
    )
    .await;
    assert_eq!(info.peer_addr, Some(origin.addr()), "NO_PROXY: direct");
    let (_, info) = get_ok(&client, &origin.url("/proxied"), &squid).await;
    assert_eq!(info.peer_addr, Some(squid.addr()));
    let request = Request::get(origin.url("/mine"))
        .extension(Route::Direct)
        .body(Body::empty())
        .expect("request");
    let response = client.clone().oneshot(request).await.expect("direct");
    let info = response
        .extensions()
        .get::<ConnectionInfo>()
        .cloned()
        .expect("info");
    assert_eq!(
        info.peer_addr,
        Some(origin.addr()),
        "the caller's route wins"
    );
    origin.assert_no_panics();
}

#[tokio::test]
async fn the_proxy_handshake_timeout_bounds_a_silent_proxy() {
    // A proxy that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let connector = Connector::builder()
        .proxy_handshake_timeout(std::time::Duration::from_millis(300))
        .build();
    for route in [
        Route::Tunnel(ProxyEndpoint::new("127.0.0.1", port)),
        Route::Socks5 {
            endpoint: ProxyEndpoint::new("127.0.0.1", port),
            remote_dns: true,
        },
    ] {
        let request = Request::get("https://example.test/")
            .extension(route)
            .body(Body::empty())
            .expect("request");
        let started = std::time::Instant::now();
        let err = connector
            .clone()
            .oneshot(request)
            .await
            .expect_err("timeout");
        assert!(
            err.is_connect() && err.is_timeout() && err.is_proxy(),
            "{err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
    hold.abort();
}

#[tokio::test]
async fn an_unreachable_proxy_is_a_connect_and_proxy_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let request = Request::get("http://example.test/")
        .extension(Route::HttpProxy(ProxyEndpoint::new("127.0.0.1", closed)))
        .body(Body::empty())
        .expect("request");
    let err = Connector::new()
        .oneshot(request)
        .await
        .expect_err("refused");
    assert!(err.is_connect() && err.is_proxy(), "{err}");
    assert!(proxy_error(&err).is_unreachable());
    assert!(
        err.report()
            .to_string()
            .contains("could not reach the proxy 127.0.0.1:"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------
// Unix domain sockets

#[cfg(unix)]
#[tokio::test]
async fn a_hyper_server_on_a_unix_socket_through_the_unix_dialer() {
    use http_body_util::Full;
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use towline::connect::UnixDialer;

    let dir = std::env::temp_dir().join(format!("towline-unix-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("api.sock");
    let listener = tokio::net::UnixListener::bind(&path).expect("bind");
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let service = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let host = req
                        .headers()
                        .get("host")
                        .and_then(|h| h.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    let text = format!("{} {} host={host}", req.method(), req.uri());
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                        bytes::Bytes::from(text),
                    )))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let connector = Connector::builder().build_with_dialer(UnixDialer::new(&path));
    for path in ["/v1.43/version", "/v1.43/containers/json?all=1"] {
        let request = Request::get(format!("http://localhost{path}"))
            .body(Body::empty())
            .expect("request");
        let response = connector.clone().oneshot(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        let info = response
            .extensions()
            .get::<ConnectionInfo>()
            .cloned()
            .expect("info");
        assert_eq!(info.peer_addr, None, "a Unix socket has no IP address");
        let body = read_body(response.into_body()).await.expect("body");
        assert_eq!(body, format!("GET {path} host=localhost").as_bytes());
    }
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one pooled connection"
    );

    // The whole Client stack runs on the same dialer, with its own pool.
    let client = towline::Client::builder()
        .build_with_dialer(UnixDialer::new(&path))
        .expect("client");
    for _ in 0..2 {
        let response = client
            .get("http://docker/v1.43/version")
            .send()
            .await
            .expect("client response");
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.expect("text");
        assert_eq!(text, "GET /v1.43/version host=docker");
    }
    let stats = client.pool_stats();
    assert_eq!((stats.opened, stats.reused), (1, 1), "{stats:?}");
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "the client opened one connection of its own"
    );

    // A socket that does not exist names its path.
    let missing = Connector::builder().build_with_dialer(UnixDialer::new(dir.join("none.sock")));
    let request = Request::get("http://localhost/")
        .body(Body::empty())
        .expect("request");
    let err = missing.oneshot(request).await.expect_err("no socket");
    assert!(err.is_connect(), "{err}");
    assert!(err.report().to_string().contains("none.sock"), "{err}");

    server.abort();
    let _ = std::fs::remove_dir_all(&dir);
}
