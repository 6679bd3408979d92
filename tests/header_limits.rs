//! Response head limits through the `Client`, over HTTP/1.1 and HTTP/2 (TLS with ALPN),
//! against loopback servers: heads that real servers send (120 `Set-Cookie`s, 108
//! fields, five 4 KB headers, one 100 KB header) pass with the defaults, and a head
//! over a configured limit fails with an error that names the limit.

use std::error::Error as _;

use http::Version;
use towline::Client;
use towline::connect::ResponseHeadTooLarge;
use towline::tls::TlsConfig;
use towline_test::tls::TestCa;
use towline_test::{Reply, TestServer};

/// A reply with `n` headers `x-field-<i>`, each `len` bytes long.
fn many_fields(n: usize, len: usize) -> Reply {
    (0..n).fold(Reply::text("ok"), |reply, i| {
        reply.header(&format!("x-field-{i}"), "v".repeat(len))
    })
}

/// A reply with `n` `Set-Cookie`s.
fn many_cookies(n: usize) -> Reply {
    (0..n).fold(Reply::text("ok"), |reply, i| {
        reply.header("set-cookie", format!("c{i}=value{i}; Path=/"))
    })
}

async fn h1_server(reply: fn() -> Reply) -> TestServer {
    TestServer::start(move |_| reply()).await
}

async fn h2_server(ca: &TestCa, reply: fn() -> Reply) -> TestServer {
    TestServer::builder()
        .handler(move |_| reply())
        .tls_h2(&ca.leaf(&["localhost"]))
        .start()
        .await
        .expect("server")
}

fn h2_client(
    ca: &TestCa,
    configure: fn(towline::client::ClientBuilder) -> towline::client::ClientBuilder,
) -> Client {
    let tls = TlsConfig::builder()
        .replace_roots_pem(ca.cert_pem().as_bytes())
        .build()
        .expect("tls config");
    configure(Client::builder().tls(tls))
        .build()
        .expect("client")
}

/// The `ResponseHeadTooLarge` in `err`'s source chain.
fn too_large(err: &towline::Error) -> &ResponseHeadTooLarge {
    let mut source = err.source();
    while let Some(e) = source {
        if let Some(found) = e.downcast_ref::<ResponseHeadTooLarge>() {
            return found;
        }
        source = e.source();
    }
    panic!("no ResponseHeadTooLarge in {err:?}");
}

#[tokio::test]
async fn http1_120_set_cookies_pass_by_default() {
    let server = h1_server(|| many_cookies(120)).await;
    let response = Client::new()
        .get(server.url("/"))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get_all("set-cookie").iter().count(), 120);
    assert_eq!(response.text().await.expect("body"), "ok");
}

#[tokio::test]
async fn http1_108_fields_pass_by_default() {
    let server = h1_server(|| many_fields(108, 40)).await;
    let response = Client::new()
        .get(server.url("/"))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("x-field-107").map(|v| v.len()),
        Some(40)
    );
}

#[tokio::test]
async fn http1_fields_over_the_configured_count_fail_naming_the_limit() {
    let server = h1_server(|| many_fields(60, 10)).await;
    let client = Client::builder().max_headers(50).build().expect("client");
    let err = client
        .get(server.url("/"))
        .send()
        .await
        .expect_err("too many fields");
    assert!(err.is_response(), "{err:?}");
    let cause = too_large(&err);
    assert_eq!(cause.limit_fields(), Some(50));
    assert!(!cause.is_http2());
    assert!(cause.to_string().contains("50 header fields"), "{cause}");
}

#[tokio::test]
async fn http1_head_over_the_configured_bytes_fails_naming_the_limit() {
    let server = h1_server(|| many_fields(1, 40_000)).await;
    let client = Client::builder()
        .max_header_size(32 * 1024)
        .build()
        .expect("client");
    let err = client
        .get(server.url("/"))
        .send()
        .await
        .expect_err("head too large");
    assert!(err.is_response(), "{err:?}");
    let cause = too_large(&err);
    assert_eq!(cause.limit_bytes(), 32 * 1024);
    assert!(cause.to_string().contains("32768 bytes"), "{cause}");
    // The same head passes under the default limit.
    let response = Client::new()
        .get(server.url("/"))
        .send()
        .await
        .expect("default limit");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn h2_five_4kb_headers_pass_by_default() {
    let ca = TestCa::new();
    let server = h2_server(&ca, || many_fields(5, 4096)).await;
    let client = h2_client(&ca, |b| b);
    let url = server.url_for_host("localhost", "/");
    let response = client.get(&url).send().await.expect("response");
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(
        response.headers().get("x-field-4").map(|v| v.len()),
        Some(4096)
    );
    assert_eq!(response.text().await.expect("body"), "ok");
}

#[tokio::test]
async fn h2_one_100kb_header_passes_by_default() {
    let ca = TestCa::new();
    let server = h2_server(&ca, || many_fields(1, 100 * 1024)).await;
    let client = h2_client(&ca, |b| b);
    let url = server.url_for_host("localhost", "/");
    let response = client.get(&url).send().await.expect("response");
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(
        response.headers().get("x-field-0").map(|v| v.len()),
        Some(100 * 1024)
    );
}

#[tokio::test]
async fn h2_head_over_the_configured_bytes_fails_naming_the_limit() {
    let ca = TestCa::new();
    let server = h2_server(&ca, || many_fields(1, 100 * 1024)).await;
    let client = h2_client(&ca, |b| b.max_header_size(64 * 1024));
    let url = server.url_for_host("localhost", "/");
    let err = client.get(&url).send().await.expect_err("head too large");
    assert!(err.is_response(), "{err:?}");
    let cause = too_large(&err);
    assert!(cause.is_http2());
    assert_eq!(cause.limit_bytes(), 64 * 1024);
    assert!(cause.to_string().contains("65536 bytes"), "{cause}");
}

/// The byte limit is advertised to an HTTP/2 server in the client's first SETTINGS
/// frame (`SETTINGS_MAX_HEADER_LIST_SIZE`, id 6): 256 KiB by default, or the
/// configured value. Read from the wire by a raw h2c listener.
#[tokio::test]
async fn h2_settings_advertise_the_header_list_size() {
    use tokio::io::AsyncReadExt;

    async fn advertised(client: Client) -> Option<u32> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        let request = tokio::spawn(async move {
            let _ = client.get(&url).send().await;
        });
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut preface = [0u8; 24];
        socket.read_exact(&mut preface).await.expect("preface");
        assert_eq!(&preface, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        let mut head = [0u8; 9];
        socket.read_exact(&mut head).await.expect("frame head");
        assert_eq!(head[3], 4, "the first frame is SETTINGS");
        let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
        let mut payload = vec![0u8; len];
        socket.read_exact(&mut payload).await.expect("settings");
        request.abort();
        payload
            .chunks_exact(6)
            .find(|s| u16::from_be_bytes([s[0], s[1]]) == 6)
            .map(|s| u32::from_be_bytes([s[2], s[3], s[4], s[5]]))
    }

    let default = Client::builder()
        .http2_prior_knowledge(true)
        .build()
        .expect("client");
    assert_eq!(advertised(default).await, Some(256 * 1024));
    let configured = Client::builder()
        .http2_prior_knowledge(true)
        .max_header_size(1024 * 1024)
        .build()
        .expect("client");
    assert_eq!(advertised(configured).await, Some(1024 * 1024));
}
