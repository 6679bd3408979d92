//! Interop with Debian's nginx over HTTPS, with HTTP/1.1 and with HTTP/2, using a
//! certificate generated in the test.

mod support;

use http::{Request, Version};
use tower::ServiceExt;
use towline::body::{Body, read_body};
use towline::connect::{ConnectionInfo, Connector};
use towline::tls::TlsConfig;
use towline_test::tls::TestCa;

use support::nginx::{Nginx, TlsFiles};

fn file(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b"towline nginx interop\n"[i % 22])
        .collect()
}

async fn fetch(connector: &Connector, url: &str) -> (Version, ConnectionInfo, Vec<u8>) {
    let request = Request::get(url).body(Body::empty()).expect("request");
    let response = connector.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), 200, "{url}");
    let version = response.version();
    let info = response
        .extensions()
        .get::<ConnectionInfo>()
        .cloned()
        .expect("info");
    let body = read_body(response.into_body()).await.expect("body");
    (version, info, body.to_vec())
}

fn start() -> (TestCa, Nginx, Vec<u8>) {
    start_for(&["localhost", "127.0.0.1"])
}

fn start_for(names: &[&str]) -> (TestCa, Nginx, Vec<u8>) {
    let ca = TestCa::new();
    let leaf = ca.leaf(names);
    let content = file(300_000);
    let nginx = Nginx::start_tls(
        &[("file.bin", &content)],
        TlsFiles {
            chain_pem: &leaf.chain_pem,
            key_pem: &leaf.key_pem,
        },
    );
    (ca, nginx, content)
}

#[tokio::test]
#[ignore = "needs nginx: ./.ci/test runs it"]
async fn nginx_over_https_with_http2() {
    let (ca, nginx, content) = start();
    let tls = TlsConfig::builder()
        .replace_roots_pem(ca.cert_pem().as_bytes())
        .build()
        .expect("config");
    let connector = Connector::builder().tls(tls).build();
    let url = nginx.https_url("localhost", "/file.bin");
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let connector = connector.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move { fetch(&connector, &url).await }));
    }
    for task in tasks {
        let (version, info, body) = task.await.expect("task");
        assert_eq!(version, Version::HTTP_2);
        assert_eq!(info.alpn_protocol.as_deref(), Some(&b"h2"[..]));
        assert!(body == content, "the body is the file");
    }
    let log = nginx.access_log();
    assert_eq!(log.len(), 20);
    assert!(
        log.iter()
            .all(|(conn, _, proto, _)| *conn == log[0].0 && proto == "HTTP/2.0")
    );
    assert_eq!(
        connector.pool_stats().opened,
        1,
        "one multiplexed connection"
    );
}

#[tokio::test]
#[ignore = "needs nginx: ./.ci/test runs it"]
async fn nginx_over_https_with_http11_and_keep_alive() {
    let (ca, nginx, content) = start();
    let tls = TlsConfig::builder()
        .replace_roots_pem(ca.cert_pem().as_bytes())
        .http2(false)
        .build()
        .expect("config");
    let connector = Connector::builder().tls(tls).build();
    for i in 0..5 {
        let (version, info, body) =
            fetch(&connector, &nginx.https_url("127.0.0.1", "/file.bin")).await;
        assert_eq!(version, Version::HTTP_11);
        assert_eq!(info.reused, i > 0);
        assert!(
            info.peer_certificates.is_some_and(|c| c.len() == 2),
            "leaf and CA"
        );
        assert!(body == content, "the body is the file");
    }
    let log = nginx.access_log();
    let requests: Vec<u64> = log.iter().map(|(_, n, _, _)| *n).collect();
    assert_eq!(
        requests,
        [1, 2, 3, 4, 5],
        "nginx saw one kept-alive connection"
    );
    assert!(log.iter().all(|(_, _, proto, _)| proto == "HTTP/1.1"));
}

#[tokio::test]
#[ignore = "needs nginx: ./.ci/test runs it"]
async fn nginx_certificate_for_another_name_is_refused() {
    let (ca, nginx, _) = start_for(&["localhost"]);
    let tls = TlsConfig::builder()
        .replace_roots_pem(ca.cert_pem().as_bytes())
        .build()
        .expect("config");
    let connector = Connector::builder().tls(tls).build();
    // The certificate names only `localhost`; 127.0.0.1 is not on it.
    let request = Request::get(nginx.https_url("127.0.0.1", "/file.bin"))
        .body(Body::empty())
        .expect("request");
    let err = connector.oneshot(request).await.expect_err("name mismatch");
    assert!(
        err.is_tls() && err.report().to_string().contains("name mismatch"),
        "{err}"
    );
}

/// Heads that nginx sends with `add_header`: five 4,000-byte headers (over hyper's
/// former 16 KiB HTTP/2 header list limit) and 108 fields (over hyper's former 100
/// for HTTP/1.1) pass through the `Client` with the defaults, over HTTP/2 and
/// HTTP/1.1; a configured limit below them fails naming the limit.
#[tokio::test]
#[ignore = "needs nginx: ./.ci/test runs it"]
async fn nginx_large_response_heads_pass_over_http2_and_http11() {
    let value = "v".repeat(4000);
    let five: String = (0..5)
        .map(|i| format!("add_header X-Big-{i} {value} always;\n"))
        .collect();
    let many: String = (0..100)
        .map(|i| format!("add_header X-Field-{i} value-{i} always;\n"))
        .collect();
    let directives =
        format!("location = /five.txt {{ {five} }}\nlocation = /many.txt {{ {many} }}");
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost"]);
    let nginx = Nginx::start_tls_with(
        &[("five.txt", b"five"), ("many.txt", b"many")],
        TlsFiles {
            chain_pem: &leaf.chain_pem,
            key_pem: &leaf.key_pem,
        },
        &directives,
    );
    for http2 in [true, false] {
        let tls = || {
            TlsConfig::builder()
                .replace_roots_pem(ca.cert_pem().as_bytes())
                .http2(http2)
        };
        let client = towline::Client::builder()
            .tls_config(tls())
            .build()
            .expect("client");
        let version = if http2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        };

        let response = client
            .get(nginx.https_url("localhost", "/five.txt"))
            .send()
            .await
            .expect("five 4 KB headers");
        assert_eq!(response.version(), version);
        for i in 0..5 {
            let got = response.headers().get(format!("x-big-{i}"));
            assert_eq!(got.map(|v| v.len()), Some(4000), "{version:?} x-big-{i}");
        }
        assert_eq!(response.text().await.expect("body"), "five");

        let response = client
            .get(nginx.https_url("localhost", "/many.txt"))
            .send()
            .await
            .expect("108 fields");
        assert_eq!(response.version(), version);
        // nginx's own fields (Server, Date, Content-Type, …) make it over 100.
        assert!(
            response.headers().len() >= 106,
            "{version:?}: {}",
            response.headers().len()
        );
        assert_eq!(response.text().await.expect("body"), "many");

        let limited = towline::Client::builder()
            .tls_config(tls())
            .max_header_size(16 * 1024)
            .build()
            .expect("client");
        let err = limited
            .get(nginx.https_url("localhost", "/five.txt"))
            .send()
            .await
            .expect_err("over 16 KiB");
        assert!(err.is_response(), "{version:?}: {err:?}");
        let mut source = std::error::Error::source(&err);
        let mut named = false;
        while let Some(e) = source {
            if let Some(limit) = e.downcast_ref::<towline::connect::ResponseHeadTooLarge>() {
                assert_eq!(limit.limit_bytes(), 16 * 1024);
                assert!(limit.to_string().contains("16384 bytes"), "{limit}");
                named = true;
            }
            source = e.source();
        }
        assert!(named, "{version:?}: {err:?}");
    }
}
