//! HTTPS and HTTP/2 through the connector, against loopback servers with certificates
//! generated in the test.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::{Request, Version};
use tower::ServiceExt;
use towline::body::{Body, read_body};
use towline::connect::{ConnectionInfo, Connector, Framing};
use towline::tls::{TlsConfig, TlsVersion, rustls};
use towline_test::tls::{Leaf, TestCa};
use towline_test::{Reply, TestServer};

fn get(url: &str) -> Request<Body> {
    Request::get(url)
        .body(Body::empty())
        .expect("valid request")
}

fn trusting(ca: &TestCa) -> TlsConfig {
    TlsConfig::builder()
        .replace_roots_pem(ca.cert_pem().as_bytes())
        .build()
        .expect("config")
}

async fn https_server(leaf: &Leaf) -> TestServer {
    TestServer::builder()
        .handler(|req| Reply::text(format!("hello {}", req.path())))
        .tls(leaf)
        .start()
        .await
        .expect("server")
}

async fn fetch(
    connector: &Connector,
    url: &str,
) -> Result<(ConnectionInfo, String), towline::Error> {
    let response = connector.clone().oneshot(get(url)).await?;
    let info = response
        .extensions()
        .get::<ConnectionInfo>()
        .cloned()
        .expect("ConnectionInfo");
    let body = read_body(response.into_body()).await?;
    Ok((info, String::from_utf8_lossy(&body).into_owned()))
}

#[tokio::test]
async fn a_valid_chain_connects_by_name_and_by_ip() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let server = https_server(&leaf).await;
    let connector = Connector::builder().tls(trusting(&ca)).build();

    let (info, body) = fetch(&connector, &server.url_for_host("localhost", "/a"))
        .await
        .expect("by name");
    assert_eq!(body, "hello /a");
    assert!(!info.reused);
    assert!(info.tls_version.is_some());
    assert_eq!(info.alpn_protocol.as_deref(), Some(&b"http/1.1"[..]));
    let chain = info.peer_certificates.expect("peer certificates");
    assert_eq!(
        chain[0].as_ref(),
        leaf.cert_der.as_ref(),
        "the leaf comes first"
    );

    let (info, body) = fetch(&connector, &server.url("/b"))
        .await
        .expect("by IP SAN");
    assert_eq!(body, "hello /b");
    assert!(!info.reused, "another host name is another pool key");
    let (info, _) = fetch(&connector, &server.url("/c")).await.expect("again");
    assert!(info.reused, "TLS connections are pooled");
    assert_eq!(server.connections_accepted(), 2);
}

#[tokio::test]
async fn sni_names_the_host_and_is_absent_for_an_ip_address() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let (config, sni) = leaf.server_config_recording_sni(&[b"http/1.1"]);
    let server = TestServer::builder()
        .handler(|req| Reply::text(format!("hello {}", req.path())))
        .tls_config(config)
        .start()
        .await
        .expect("server");
    let connector = Connector::builder().tls(trusting(&ca)).build();

    let (_, body) = fetch(&connector, &server.url_for_host("localhost", "/name"))
        .await
        .expect("by name");
    assert_eq!(body, "hello /name");
    assert_eq!(sni.names(), [Some("localhost".to_owned())]);

    let (info, body) = fetch(&connector, &server.url("/ip"))
        .await
        .expect("by IP SAN");
    assert_eq!(body, "hello /ip");
    assert!(!info.reused, "a second handshake");
    assert_eq!(
        sni.names(),
        [Some("localhost".to_owned()), None],
        "an IP address is never sent as SNI (RFC 6066 §3)"
    );
}

async fn refused(connector: &Connector, url: &str) -> towline::Error {
    let err = fetch(connector, url).await.expect_err("must be refused");
    assert!(err.is_tls(), "{err}");
    err
}

#[tokio::test]
async fn bad_certificates_fail_with_their_cause_named() {
    let ca = TestCa::new();

    let server = https_server(&ca.leaf(&["localhost"])).await;
    let connector = Connector::builder().tls(trusting(&ca)).build();
    let err = refused(&connector, &server.url("/")).await;
    assert!(err.report().to_string().contains("name mismatch"), "{err}");

    let server = https_server(&ca.expired_leaf(&["127.0.0.1"])).await;
    let err = refused(&connector, &server.url("/")).await;
    assert!(err.report().to_string().contains("expired"), "{err}");

    let stranger = TestCa::new();
    let server = https_server(&stranger.leaf(&["127.0.0.1"])).await;
    let err = refused(&connector, &server.url("/")).await;
    assert!(
        err.report().to_string().contains("unknown authority"),
        "{err}"
    );

    // The default configuration trusts only the web PKI, not a test CA.
    let err = refused(&Connector::new(), &server.url("/")).await;
    assert!(
        err.report().to_string().contains("unknown authority"),
        "{err}"
    );

    let ca_leaf = TestCa::ca_as_leaf(&["127.0.0.1"]);
    let server = https_server(&ca_leaf).await;
    let tls = TlsConfig::builder()
        .replace_roots_pem(ca_leaf.cert_pem.as_bytes())
        .build()
        .expect("config");
    let connector = Connector::builder().tls(tls).build();
    // Handed over as the root, the server's own certificate is trusted as itself
    // (tests/handed_over.rs); any other root leaves it a CA used as an end entity.
    fetch(&connector, &server.url("/"))
        .await
        .expect("the handed-over certificate is trusted");
    let connector = Connector::builder().tls(trusting(&ca)).build();
    let err = refused(&connector, &server.url("/")).await;
    assert!(err.report().to_string().contains("CA certificate"), "{err}");
    assert_eq!(connector.pool_stats().in_use, 0);
}

#[tokio::test]
async fn danger_accept_invalid_certs_accepts_them() {
    let ca = TestCa::new();
    let server = https_server(&ca.expired_leaf(&["localhost"])).await;
    let tls = TlsConfig::builder()
        .danger_accept_invalid_certs(true)
        .build()
        .expect("config");
    let connector = Connector::builder().tls(tls).build();
    let (_, body) = fetch(&connector, &server.url("/x"))
        .await
        .expect("accepted");
    assert_eq!(body, "hello /x");
}

#[tokio::test]
async fn min_version_tls13_is_what_is_spoken() {
    let ca = TestCa::new();
    let server = https_server(&ca.leaf(&["127.0.0.1"])).await;
    let tls = TlsConfig::builder()
        .replace_roots_pem(ca.cert_pem().as_bytes())
        .min_version(TlsVersion::Tls13)
        .build()
        .expect("config");
    let connector = Connector::builder().tls(tls).build();
    let (info, _) = fetch(&connector, &server.url("/")).await.expect("ok");
    assert_eq!(info.tls_version, Some(rustls::ProtocolVersion::TLSv1_3));
}

#[tokio::test]
async fn mutual_tls_works_with_a_client_certificate_and_fails_without() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["127.0.0.1"]);
    let server = TestServer::builder()
        .handler(|_| Reply::text("welcome"))
        .tls_config(leaf.server_config_with_client_auth(&[b"http/1.1"], &ca))
        .start()
        .await
        .expect("server");

    let without = Connector::builder().tls(trusting(&ca)).build();
    let err = refused(&without, &server.url("/")).await;
    assert!(err.report().to_string().contains("certificate"), "{err}");

    let client = ca.client_leaf("towline client");
    let tls = TlsConfig::builder()
        .replace_roots_pem(ca.cert_pem().as_bytes())
        .client_auth_pem(client.chain_pem.as_bytes(), client.key_pem.as_bytes())
        .build()
        .expect("config");
    let with = Connector::builder().tls(tls).build();
    let (_, body) = fetch(&with, &server.url("/")).await.expect("mutual TLS");
    assert_eq!(body, "welcome");
}

#[tokio::test]
async fn the_policy_chooses_per_host_and_configs_never_share_connections() {
    let ca = TestCa::new();
    let server = https_server(&ca.leaf(&["localhost", "127.0.0.1"])).await;
    // Told apart by what they trust: only `a` accepts this server's certificate.
    let a = trusting(&ca).client_config().clone();
    let b = trusting(&TestCa::new()).client_config().clone();
    let asked: Arc<std::sync::Mutex<Vec<(String, u16)>>> = Arc::default();
    let policy = {
        let (a, b, asked) = (a.clone(), b.clone(), asked.clone());
        move |host: &str, port: u16| {
            if let Ok(mut asked) = asked.lock() {
                asked.push((host.to_owned(), port));
            }
            if host == "localhost" {
                a.clone()
            } else {
                b.clone()
            }
        }
    };
    let connector = Connector::builder().tls(policy).build();
    let (_, body) = fetch(&connector, &server.url_for_host("localhost", "/a"))
        .await
        .expect("localhost gets `a`, which trusts the server's CA");
    assert_eq!(body, "hello /a");
    let err = refused(&connector, &server.url("/b")).await;
    assert!(
        err.report().to_string().contains("unknown authority"),
        "127.0.0.1 gets `b`, which trusts another CA: {err}"
    );
    let port = server.addr().port();
    let asked = asked.lock().expect("lock").clone();
    assert_eq!(
        asked,
        [
            ("localhost".to_owned(), port),
            ("127.0.0.1".to_owned(), port)
        ]
    );
    assert_eq!(server.requests().len(), 1, "only `a`'s request got through");

    // One host, two configurations that differ in ALPN, alternating: each request
    // goes out on a connection made under its own configuration (h2 for `h2`,
    // HTTP/1.1 for `h1`), one connection per configuration.
    let server = TestServer::builder()
        .handler(|req| Reply::text(format!("hello {}", req.path())))
        .tls_h2(&ca.leaf(&["127.0.0.1"]))
        .start()
        .await
        .expect("server");
    let h2 = trusting(&ca).client_config().clone();
    let mut only_h1 = (*h2).clone();
    only_h1.alpn_protocols = vec![b"http/1.1".to_vec()];
    let h1 = Arc::new(only_h1);
    let turn = Arc::new(AtomicUsize::new(0));
    let alternate = move |_: &str, _: u16| {
        if turn.fetch_add(1, Ordering::Relaxed) % 2 == 0 {
            h2.clone()
        } else {
            h1.clone()
        }
    };
    let connector = Connector::builder().tls(alternate).build();
    for i in 0..6 {
        let (info, _) = fetch(&connector, &server.url("/")).await.expect("ok");
        let (version, alpn): (_, &[u8]) = if i % 2 == 0 {
            (Version::HTTP_2, b"h2")
        } else {
            (Version::HTTP_11, b"http/1.1")
        };
        assert_eq!(info.version, version, "request {i}");
        assert_eq!(info.alpn_protocol.as_deref(), Some(alpn), "request {i}");
        assert_eq!(info.reused, i >= 2, "request {i}");
    }
    assert_eq!(server.connections_accepted(), 2);
    assert_eq!(connector.pool_stats().reused, 4);
}

#[tokio::test]
async fn h2_multiplexes_concurrent_requests_on_one_connection() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["127.0.0.1"]);
    let server = TestServer::builder()
        .handler(|req| Reply::text(req.path().to_owned()))
        .tls_h2(&leaf)
        .start()
        .await
        .expect("server");
    let connector = Connector::builder().tls(trusting(&ca)).build();
    let mut tasks = Vec::new();
    for i in 0..100 {
        let connector = connector.clone();
        let url = server.url(&format!("/s/{i}"));
        tasks.push(tokio::spawn(async move {
            let response = connector.oneshot(get(&url)).await.expect("response");
            assert_eq!(response.version(), Version::HTTP_2);
            let framing = response.extensions().get::<Framing>().copied();
            assert!(framing.is_some_and(|f| f.is_provable()));
            read_body(response.into_body()).await.expect("body")
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.expect("task"), format!("/s/{i}"));
    }
    assert_eq!(
        server.connections_accepted(),
        1,
        "one shared HTTP/2 connection"
    );
    assert!(server.requests().iter().all(|r| r.version == 20));
    let (info, _) = fetch(&connector, &server.url("/later"))
        .await
        .expect("later");
    assert!(info.reused);
    assert_eq!(info.alpn_protocol.as_deref(), Some(&b"h2"[..]));
    assert_eq!(connector.pool_stats().in_use, 0);
    assert_eq!(server.connections_accepted(), 1);
}

#[tokio::test]
async fn a_server_offering_only_http11_is_spoken_to_in_http11() {
    let ca = TestCa::new();
    let server = https_server(&ca.leaf(&["127.0.0.1"])).await;
    let connector = Connector::builder().tls(trusting(&ca)).build();
    let response = connector
        .clone()
        .oneshot(get(&server.url("/")))
        .await
        .expect("ok");
    assert_eq!(response.version(), Version::HTTP_11);
    read_body(response.into_body()).await.expect("body");
    assert!(server.requests().iter().all(|r| r.version == 11));
}

#[tokio::test]
async fn h2c_with_prior_knowledge() {
    let server = TestServer::builder()
        .handler(|req| Reply::text(req.path().to_owned()))
        .h2c()
        .start()
        .await
        .expect("server");
    let connector = Connector::builder().http2_prior_knowledge(true).build();
    let (one, two) = (server.url("/one"), server.url("/two"));
    let (a, b) = tokio::join!(fetch(&connector, &one), fetch(&connector, &two));
    let ((info, one), (_, two)) = (a.expect("one"), b.expect("two"));
    assert_eq!((one.as_str(), two.as_str()), ("/one", "/two"));
    assert_eq!(info.version, Version::HTTP_2);
    assert_eq!(server.connections_accepted(), 1);
}
