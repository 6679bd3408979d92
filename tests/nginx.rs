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
