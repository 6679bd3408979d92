//! Tests of the TLS and HTTP/2 server modes, driven by tokio-rustls and
//! hyper clients.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use towline_test::rustls::pki_types::ServerName;
use towline_test::rustls::{self, CertificateError, ClientConfig, RootCertStore};
use towline_test::tls::{Leaf, TestCa};
use towline_test::{Fault, Reply, TestServer};

const WAIT: Duration = Duration::from_secs(5);

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration trusting `roots`, offering `alpn`, optionally
/// presenting a client certificate.
fn client_config(
    roots: RootCertStore,
    alpn: &[&[u8]],
    client_cert: Option<&Leaf>,
) -> Arc<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots);
    let mut config = match client_cert {
        None => builder.with_no_client_auth(),
        Some(leaf) => builder
            .with_client_auth_cert(leaf.chain_der(), leaf.private_key())
            .expect("client certificate"),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

async fn connect_tls(
    server: &TestServer,
    config: Arc<ClientConfig>,
    name: &str,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(server.addr()).await?;
    let name = ServerName::try_from(name.to_owned()).expect("server name");
    tokio::time::timeout(WAIT, TlsConnector::from(config).connect(name, tcp))
        .await
        .expect("TLS handshake timed out")
}

/// The rustls error inside an I/O error from tokio-rustls.
fn rustls_error(error: &std::io::Error) -> &rustls::Error {
    error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
        .unwrap_or_else(|| panic!("not a rustls error: {error:?}"))
}

/// A GET for an absolute URL, as an HTTP/2 client sends it.
fn get(url: &str) -> Request<Full<Bytes>> {
    Request::get(url.parse::<Uri>().expect("uri"))
        .body(Full::new(Bytes::new()))
        .expect("request")
}

/// A GET for an absolute URL, in origin form with a `Host` header as an
/// HTTP/1.1 client sends it.
fn get_h1(url: &str) -> Request<Full<Bytes>> {
    let uri = url.parse::<Uri>().expect("uri");
    let authority = uri.authority().expect("authority").to_string();
    let path = uri.path_and_query().expect("path").to_string();
    Request::get(path)
        .header(http::header::HOST, authority)
        .body(Full::new(Bytes::new()))
        .expect("request")
}

/// An HTTP/1.1 client connection over `io`.
async fn h1_client<T>(io: T) -> hyper::client::conn::http1::SendRequest<Full<Bytes>>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .expect("http1 handshake");
    tokio::spawn(conn);
    sender
}

/// An HTTP/2 client connection over `io`.
async fn h2_client<T>(io: T) -> hyper::client::conn::http2::SendRequest<Full<Bytes>>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
            .await
            .expect("http2 handshake");
    tokio::spawn(conn);
    sender
}

async fn body_text(response: Response<Incoming>) -> String {
    let bytes = tokio::time::timeout(WAIT, response.into_body().collect())
        .await
        .expect("timed out reading the body")
        .expect("body")
        .to_bytes();
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

async fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + WAIT;
    while tokio::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    done()
}

fn echo_path(req: &towline_test::RecordedRequest) -> Reply {
    Reply::text(format!("hello {}", req.path()))
}

#[tokio::test]
async fn https_h1_for_dns_and_ip_names_with_reuse() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let server = TestServer::builder()
        .tls(&leaf)
        .handler(echo_path)
        .start()
        .await
        .expect("start");
    assert!(server.is_tls());
    assert!(server.url("/a").starts_with("https://127.0.0.1:"));
    assert_eq!(
        server.url_for_host("localhost", "x"),
        format!("https://localhost:{}/x", server.addr().port())
    );

    for (i, name) in ["localhost", "127.0.0.1"].into_iter().enumerate() {
        let config = client_config(ca.root_store(), &[b"http/1.1"], None);
        let tls = connect_tls(&server, config, name).await.expect("handshake");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        let mut sender = h1_client(tls).await;
        for path in ["/one", "/two"] {
            let response = sender
                .send_request(get_h1(&server.url_for_host(name, path)))
                .await
                .expect("response");
            assert_eq!(response.status(), 200);
            assert_eq!(body_text(response).await, format!("hello {path}"));
        }
        let requests = server.requests();
        let on_conn: Vec<_> = requests.iter().filter(|r| r.connection == i).collect();
        assert_eq!(on_conn.len(), 2);
        assert_eq!(on_conn[0].index_on_connection, 0);
        assert_eq!(on_conn[1].index_on_connection, 1);
        assert!(on_conn.iter().all(|r| r.version == 11 && r.answered));
    }
    assert_eq!(server.connections_accepted(), 2);
    assert_eq!(server.tls_handshake_failures(), 0);
    assert!(server.h2_requests().is_empty());
}

#[tokio::test]
async fn https_h1_faults_still_work() {
    let ca = TestCa::new();
    let server = TestServer::builder()
        .tls(&ca.leaf(&["localhost"]))
        .handler(|req| match req.path() {
            "/cut" => Reply::text("hello world").fault(Fault::CloseMidBody { after: 5 }),
            "/reset" => Reply::ok().fault(Fault::ResetWithoutAnswer),
            _ => Reply::text("ok"),
        })
        .start()
        .await
        .expect("start");

    // A raw client sees exactly the truncated response, then the close.
    let config = client_config(ca.root_store(), &[], None);
    let mut tls = connect_tls(&server, config, "localhost")
        .await
        .expect("handshake");
    tls.write_all(b"GET /cut HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, tls.read_to_end(&mut out))
        .await
        .expect("timed out")
        .expect("read after close_notify");
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Content-Length: 11\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nhello"), "{text}");

    let config = client_config(ca.root_store(), &[], None);
    let tls = connect_tls(&server, config, "localhost")
        .await
        .expect("handshake");
    let mut sender = h1_client(tls).await;
    let error = sender
        .send_request(get_h1(&server.url_for_host("localhost", "/reset")))
        .await
        .expect_err("reset without answer");
    assert!(!error.is_user(), "{error:?}");
    assert!(server.wait_for_closed(2, WAIT).await);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].answered);
    assert!(!requests[1].answered);
}

#[tokio::test]
async fn alpn_h2_serves_concurrent_streams_on_one_connection() {
    let ca = TestCa::new();
    let server = TestServer::builder()
        .tls_h2(&ca.leaf(&["localhost"]))
        .handler(|req| {
            // Overlap the streams a little.
            Reply::text(format!("hello {}", req.target))
                .header("Connection", "keep-alive")
                .fault(Fault::SlowHeaders(Duration::from_millis(20)))
        })
        .start()
        .await
        .expect("start");
    let config = client_config(ca.root_store(), &[b"h2", b"http/1.1"], None);
    let tls = connect_tls(&server, config, "localhost")
        .await
        .expect("handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let sender = h2_client(tls).await;

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let mut sender = sender.clone();
        let url = server.url_for_host("localhost", &format!("/r?i={i}"));
        tasks.spawn(async move {
            let response = sender.send_request(get(&url)).await.expect("response");
            assert_eq!(response.version(), http::Version::HTTP_2);
            assert_eq!(response.status(), 200);
            assert!(response.headers().get("connection").is_none());
            assert_eq!(body_text(response).await, format!("hello /r?i={i}"));
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("request task");
    }

    assert_eq!(server.connections_accepted(), 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 10);
    assert_eq!(server.h2_requests().len(), 10);
    let mut indexes: Vec<usize> = requests.iter().map(|r| r.index_on_connection).collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..10).collect::<Vec<_>>());
    for request in &requests {
        assert_eq!(request.version, 20);
        assert_eq!(request.connection, 0);
        assert!(request.answered);
        assert!(!request.chunked);
        assert_eq!(request.method, "GET");
        assert!(request.target.starts_with("/r?i="));
        assert_eq!(
            request.header("host"),
            Some(&*format!("localhost:{}", server.addr().port()))
        );
    }

    drop(sender);
    assert!(server.wait_for_closed(1, WAIT).await);
}

#[tokio::test]
async fn tls_h2_serves_h1_to_a_client_offering_only_http11() {
    let ca = TestCa::new();
    let server = TestServer::builder()
        .tls_h2(&ca.leaf(&["localhost"]))
        .handler(echo_path)
        .start()
        .await
        .expect("start");
    for alpn in [&[&b"http/1.1"[..]][..], &[]] {
        let config = client_config(ca.root_store(), alpn, None);
        let tls = connect_tls(&server, config, "localhost")
            .await
            .expect("handshake");
        assert_ne!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let mut sender = h1_client(tls).await;
        let response = sender
            .send_request(get_h1(&server.url_for_host("localhost", "/h1")))
            .await
            .expect("response");
        assert_eq!(response.version(), http::Version::HTTP_11);
        assert_eq!(body_text(response).await, "hello /h1");
    }
    assert!(server.requests().iter().all(|r| r.version == 11));
}

#[tokio::test]
async fn expired_certificate_is_refused_and_counted() {
    let ca = TestCa::new();
    let server = TestServer::builder()
        .tls(&ca.expired_leaf(&["localhost"]))
        .start()
        .await
        .expect("start");
    let config = client_config(ca.root_store(), &[], None);
    let error = connect_tls(&server, config, "localhost")
        .await
        .expect_err("expired certificate");
    assert!(
        matches!(
            rustls_error(&error),
            rustls::Error::InvalidCertificate(
                CertificateError::Expired | CertificateError::ExpiredContext { .. }
            )
        ),
        "{error:?}"
    );
    assert!(wait_for(|| server.tls_handshake_failures() == 1).await);
    assert!(server.wait_for_closed(1, WAIT).await);
    assert_eq!(server.connections_accepted(), 1);
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn wrong_name_and_unknown_ca_are_refused() {
    let ca = TestCa::new();
    let server = TestServer::builder()
        .tls(&ca.leaf(&["localhost"]))
        .start()
        .await
        .expect("start");
    let config = client_config(ca.root_store(), &[], None);
    let error = connect_tls(&server, config, "127.0.0.1")
        .await
        .expect_err("name mismatch");
    assert!(
        matches!(
            rustls_error(&error),
            rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
            )
        ),
        "{error:?}"
    );
    let other = TestCa::new();
    let config = client_config(other.root_store(), &[], None);
    let error = connect_tls(&server, config, "localhost")
        .await
        .expect_err("unknown issuer");
    assert!(
        matches!(
            rustls_error(&error),
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)
        ),
        "{error:?}"
    );
    assert!(wait_for(|| server.tls_handshake_failures() == 2).await);
}

/// Sends one GET over a TLS connection, returning the body or the error.
async fn try_get(
    server: &TestServer,
    config: Arc<ClientConfig>,
) -> Result<String, Box<dyn std::error::Error>> {
    let tls = connect_tls(server, config, "localhost").await?;
    let mut sender = h1_client(tls).await;
    let response = tokio::time::timeout(
        WAIT,
        sender.send_request(get_h1(&server.url_for_host("localhost", "/"))),
    )
    .await??;
    Ok(body_text(response).await)
}

#[tokio::test]
async fn client_certificates_are_required() {
    let ca = TestCa::new();
    let client_ca = TestCa::new();
    let leaf = ca.leaf(&["localhost"]);
    let server = TestServer::builder()
        .tls_config(leaf.server_config_with_client_auth(&[b"http/1.1"], &client_ca))
        .handler(|_| Reply::text("welcome"))
        .start()
        .await
        .expect("start");

    // With TLS 1.3 the client may finish its handshake before the server
    // refuses it, so the failure can show on the first request instead.
    let config = client_config(ca.root_store(), &[], None);
    try_get(&server, config)
        .await
        .expect_err("no client certificate");
    assert!(wait_for(|| server.tls_handshake_failures() == 1).await);

    // A certificate from another CA is refused too.
    let config = client_config(ca.root_store(), &[], Some(&ca.client_leaf("mallory")));
    try_get(&server, config)
        .await
        .expect_err("client certificate from another CA");
    assert!(wait_for(|| server.tls_handshake_failures() == 2).await);

    let config = client_config(ca.root_store(), &[], Some(&client_ca.client_leaf("alice")));
    assert_eq!(
        try_get(&server, config).await.expect("with certificate"),
        "welcome"
    );
    assert_eq!(server.tls_handshake_failures(), 2);
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn ca_certificate_as_end_entity_is_refused() {
    let leaf = TestCa::ca_as_leaf(&["localhost"]);
    assert_eq!(leaf.chain_pem, leaf.cert_pem);
    let server = TestServer::builder()
        .tls(&leaf)
        .start()
        .await
        .expect("start");
    let mut roots = RootCertStore::empty();
    roots.add(leaf.cert_der.clone()).expect("trust anchor");
    let config = client_config(roots, &[], None);
    let error = connect_tls(&server, config, "localhost")
        .await
        .expect_err("CA used as end entity");
    assert!(
        matches!(
            rustls_error(&error),
            rustls::Error::InvalidCertificate(CertificateError::Other(_))
        ),
        "{error:?}"
    );
    assert!(
        format!("{error:?}").contains("CaUsedAsEndEntity"),
        "{error:?}"
    );
    assert!(wait_for(|| server.tls_handshake_failures() == 1).await);
}

#[tokio::test]
async fn h2c_prior_knowledge() {
    let server = TestServer::builder()
        .h2c()
        .handler(|req| match req.path() {
            "/reset" => Reply::ok().fault(Fault::ResetWithoutAnswer),
            "/panic" => panic!("boom in h2 handler"),
            "/empty" => Reply::new(204),
            _ => Reply::text(format!("{} {} {}", req.method, req.target, req.body.len()))
                .header("X-Test", "yes")
                .header("Transfer-Encoding", "chunked"),
        })
        .start()
        .await
        .expect("start");
    assert!(!server.is_tls());
    assert!(server.url("/").starts_with("http://127.0.0.1:"));
    let tcp = TcpStream::connect(server.addr()).await.expect("connect");
    let mut sender = h2_client(tcp).await;

    let response = sender
        .send_request(get(&server.url("/a?b=c")))
        .await
        .expect("response");
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.headers()["x-test"], "yes");
    assert!(response.headers().get("transfer-encoding").is_none());
    assert_eq!(body_text(response).await, "GET /a?b=c 0");

    // The body is collected before the handler runs.
    let post = Request::post(server.url("/p").parse::<Uri>().expect("uri"))
        .body(Full::new(Bytes::from_static(b"0123456789")))
        .expect("request");
    let response = sender.send_request(post).await.expect("POST");
    assert_eq!(body_text(response).await, "POST /p 10");

    // HEAD gets no body but the length of the one it would have had.
    let head = Request::head(server.url("/h").parse::<Uri>().expect("uri"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = sender.send_request(head).await.expect("HEAD");
    assert_eq!(response.headers()["content-length"], "9");
    assert_eq!(body_text(response).await, "");

    let response = sender
        .send_request(get(&server.url("/empty")))
        .await
        .expect("204");
    assert_eq!(response.status(), 204);

    // A reset fault resets the stream but not the connection.
    let error = sender
        .send_request(get(&server.url("/reset")))
        .await
        .expect_err("stream reset");
    assert!(format!("{error:?}").contains("INTERNAL_ERROR"), "{error:?}");

    // A panic is answered with 500 and reported.
    let response = sender
        .send_request(get(&server.url("/panic")))
        .await
        .expect("response to a panic");
    assert_eq!(response.status(), 500);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        server.assert_no_panics();
    }));
    assert!(caught.is_err());

    let response = sender
        .send_request(get(&server.url("/again")))
        .await
        .expect("still usable");
    assert_eq!(body_text(response).await, "GET /again 0");

    assert_eq!(server.connections_accepted(), 1);
    let requests = server.requests();
    let summary: Vec<(usize, &str, bool)> = requests
        .iter()
        .map(|r| (r.index_on_connection, r.target.as_str(), r.answered))
        .collect();
    assert_eq!(
        summary,
        vec![
            (0, "/a?b=c", true),
            (1, "/p", true),
            (2, "/h", true),
            (3, "/empty", true),
            (4, "/reset", false),
            (5, "/panic", false),
            (6, "/again", true),
        ]
    );
    assert!(
        requests
            .iter()
            .all(|r| r.version == 20 && r.connection == 0)
    );
    assert_eq!(
        requests[0].header("host"),
        Some(&*format!("127.0.0.1:{}", server.addr().port()))
    );
}

#[tokio::test]
async fn bind_ip_127_0_0_2() {
    let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let server = TestServer::builder()
        .bind_ip(ip)
        .handler(echo_path)
        .start()
        .await
        .expect("start");
    assert_eq!(server.addr().ip(), ip);
    assert!(server.url("/x").starts_with("http://127.0.0.2:"));
    let tcp = TcpStream::connect(server.addr()).await.expect("connect");
    let mut sender = h1_client(tcp).await;
    let response = sender
        .send_request(get_h1(&server.url("/x")))
        .await
        .expect("response");
    assert_eq!(body_text(response).await, "hello /x");
}

#[tokio::test]
async fn bind_ip_with_tls_and_ip_san() {
    let ca = TestCa::new();
    let server = TestServer::builder()
        .bind_ip(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .tls(&ca.leaf(&["127.0.0.2"]))
        .start()
        .await
        .expect("start");
    assert!(server.url("/").starts_with("https://127.0.0.2:"));
    let config = client_config(ca.root_store(), &[], None);
    let tls = connect_tls(&server, config, "127.0.0.2")
        .await
        .expect("handshake");
    let mut sender = h1_client(tls).await;
    let response = sender
        .send_request(get_h1(&server.url("/")))
        .await
        .expect("response");
    assert_eq!(body_text(response).await, "ok");
}

#[test]
#[should_panic(expected = "needs a loopback address")]
fn bind_ip_refuses_non_loopback() {
    let _ = TestServer::builder().bind_ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
}

#[tokio::test]
async fn plain_client_to_tls_server_counts_a_handshake_failure() {
    let ca = TestCa::new();
    let server = TestServer::builder()
        .tls(&ca.leaf(&["localhost"]))
        .start()
        .await
        .expect("start");
    let mut tcp = TcpStream::connect(server.addr()).await.expect("connect");
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, tcp.read_to_end(&mut out)).await;
    assert!(wait_for(|| server.tls_handshake_failures() == 1).await);
    assert!(server.wait_for_closed(1, WAIT).await);
    assert_eq!(server.connections_closed_by_client(), 0);
}

#[tokio::test]
async fn dropping_the_server_ends_h2_streams_in_flight() {
    let marker = Arc::new(());
    let held = Arc::clone(&marker);
    let server = TestServer::builder()
        .h2c()
        .handler(move |_| {
            let _held = &held;
            Reply::ok().fault(Fault::SlowHeaders(Duration::from_secs(60)))
        })
        .start()
        .await
        .expect("start");
    let tcp = TcpStream::connect(server.addr()).await.expect("connect");
    let mut sender = h2_client(tcp).await;
    let url = server.url("/slow");
    let pending = tokio::spawn(async move { sender.send_request(get(&url)).await.map(|_| ()) });
    assert!(server.wait_for_requests(1, WAIT).await);
    drop(server);
    let result = tokio::time::timeout(WAIT, pending)
        .await
        .expect("the request should end with the server")
        .expect("request task");
    assert!(result.is_err());
    // The stream task (holding the handler) was aborted, not left sleeping.
    assert!(wait_for(|| Arc::strong_count(&marker) == 1).await);
}

#[tokio::test]
async fn bind_ipv6_loopback_if_available() {
    let Ok(server) = TestServer::builder()
        .bind_ip(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST))
        .handler(echo_path)
        .start()
        .await
    else {
        eprintln!("skipped: cannot bind [::1] here");
        return;
    };
    let port = server.addr().port();
    assert_eq!(server.url("/v6"), format!("http://[::1]:{port}/v6"));
    assert_eq!(
        server.url_for_host("::1", "/v6"),
        format!("http://[::1]:{port}/v6")
    );
    let tcp = TcpStream::connect(server.addr()).await.expect("connect");
    let mut sender = h1_client(tcp).await;
    let response = sender
        .send_request(get_h1(&server.url("/v6")))
        .await
        .expect("response");
    assert_eq!(body_text(response).await, "hello /v6");
}

#[test]
fn leaf_pem_and_der_agree() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost", "::1", "[::2]"]);
    assert!(leaf.cert_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(leaf.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(
        leaf.chain_pem,
        format!("{}{}", leaf.cert_pem, ca.cert_pem())
    );
    assert_eq!(leaf.chain_der(), vec![leaf.cert_der.clone(), ca.cert_der()]);
    let copy = leaf.clone();
    assert_eq!(
        copy.key_der.secret_pkcs8_der(),
        leaf.key_der.secret_pkcs8_der()
    );
    let config = leaf.server_config(&[b"h2", b"http/1.1"]);
    assert_eq!(
        config.alpn_protocols,
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    assert!(format!("{ca:?}").contains("towline test CA"));
}
