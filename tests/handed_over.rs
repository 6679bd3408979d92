//! A certificate handed over as a root that is itself a server's certificate (self-
//! signed `CA:TRUE` as `openssl req -x509` makes it, self-signed `CA:FALSE`, or a leaf
//! of a CA nobody trusts) is trusted as itself when the server presents exactly it,
//! with the host name and the validity dates still checked. Certificates generated in
//! the test, servers on loopback.

use std::sync::Arc;

use towline::Client;
use towline::tls::TlsConfig;
use towline_test::rustls;
use towline_test::tls::{Leaf, TestCa};
use towline_test::{Reply, TestServer};

async fn start(config: Arc<rustls::ServerConfig>) -> TestServer {
    TestServer::builder()
        .handler(|_| Reply::text("trusted"))
        .tls_config(config)
        .start()
        .await
        .expect("server")
}

async fn serving(leaf: &Leaf) -> TestServer {
    start(leaf.server_config(&[b"h2", b"http/1.1"])).await
}

/// A self-signed certificate with `CA:FALSE` for `name`, as a server configuration
/// and its PEM.
fn self_signed_end_entity(name: &str) -> (Arc<rustls::ServerConfig>, String) {
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).expect("name");
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("certificate");
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key_der)
    .expect("server config");
    (Arc::new(config), cert.pem())
}

/// Clients trusting `pem` three ways: added to the web PKI roots, replacing them,
/// and through `ClientBuilder::tls_config`.
fn clients_trusting(pem: &str) -> Vec<(&'static str, Client)> {
    let build = |tls: TlsConfig| Client::builder().tls(tls).build().expect("client");
    vec![
        (
            "add_root_pem",
            build(
                TlsConfig::builder()
                    .add_root_pem(pem.as_bytes())
                    .build()
                    .expect("config"),
            ),
        ),
        (
            "replace_roots_pem",
            build(
                TlsConfig::builder()
                    .replace_roots_pem(pem.as_bytes())
                    .build()
                    .expect("config"),
            ),
        ),
        (
            "tls_config",
            Client::builder()
                .tls_config(TlsConfig::builder().replace_roots_pem(pem.as_bytes()))
                .build()
                .expect("client"),
        ),
    ]
}

async fn assert_trusted(server: &TestServer, pem: &str, what: &str) {
    let url = server.url_for_host("localhost", "/");
    for (how, client) in clients_trusting(pem) {
        let response = client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}, {how}: {e:?}"));
        assert_eq!(response.status(), 200, "{what}, {how}");
        assert_eq!(response.text().await.expect("body"), "trusted");
    }
}

async fn assert_refused(server: &TestServer, pem: &str, cause: &str, what: &str) {
    let url = server.url_for_host("localhost", "/");
    for (how, client) in clients_trusting(pem) {
        let err = client
            .get(&url)
            .send()
            .await
            .expect_err(&format!("{what}, {how}: refused"));
        assert!(err.is_tls(), "{what}, {how}: {err:?}");
        let report = err.report().to_string();
        assert!(report.contains(cause), "{what}, {how}: {report}");
    }
    assert_eq!(server.request_count(), 0, "{what}: a request got through");
}

#[tokio::test]
async fn self_signed_ca_true_certificate_handed_over_is_trusted() {
    let leaf = TestCa::ca_as_leaf(&["localhost"]);
    let server = serving(&leaf).await;
    assert_trusted(&server, &leaf.cert_pem, "self-signed CA:TRUE").await;
}

#[tokio::test]
async fn self_signed_ca_false_certificate_handed_over_is_trusted() {
    let (config, pem) = self_signed_end_entity("localhost");
    let server = start(config).await;
    assert_trusted(&server, &pem, "self-signed CA:FALSE").await;
}

#[tokio::test]
async fn leaf_of_an_unknown_ca_handed_over_is_trusted() {
    let leaf = TestCa::new().leaf(&["localhost"]);
    let server = serving(&leaf).await;
    assert_trusted(&server, &leaf.cert_pem, "a leaf of an unknown CA").await;
}

#[tokio::test]
async fn a_different_self_signed_certificate_is_refused() {
    let served = TestCa::ca_as_leaf(&["localhost"]);
    let other = TestCa::ca_as_leaf(&["localhost"]);
    let server = serving(&served).await;
    assert_refused(
        &server,
        &other.cert_pem,
        "presented a CA certificate",
        "another self-signed CA:TRUE",
    )
    .await;
    let (config, _) = self_signed_end_entity("localhost");
    let (_, other_pem) = self_signed_end_entity("localhost");
    let server = start(config).await;
    assert_refused(
        &server,
        &other_pem,
        // Both have rcgen's default subject, so webpki checks the served one's
        // signature against the other's key.
        "bad signature",
        "another self-signed CA:FALSE",
    )
    .await;
}

#[tokio::test]
async fn an_expired_certificate_handed_over_is_refused() {
    let leaf = TestCa::new().expired_leaf(&["localhost"]);
    let server = serving(&leaf).await;
    assert_refused(&server, &leaf.cert_pem, "has expired", "expired leaf").await;
}

#[tokio::test]
async fn a_certificate_handed_over_for_another_name_is_refused() {
    let leaf = TestCa::ca_as_leaf(&["other.test"]);
    let server = serving(&leaf).await;
    assert_refused(
        &server,
        &leaf.cert_pem,
        "not valid for this host name",
        "self-signed for other.test",
    )
    .await;
    let leaf = TestCa::new().leaf(&["other.test"]);
    let server = serving(&leaf).await;
    assert_refused(
        &server,
        &leaf.cert_pem,
        "not valid for this host name",
        "a leaf for other.test",
    )
    .await;
}
