//! A crypto provider installed process-wide is the one towline's TLS configurations
//! use (as reqwest honours it). Its own test binary: installing a default is once per
//! process.

use std::sync::Arc;

use towline::tls::TlsConfig;
use towline::tls::rustls::{self, crypto::CryptoProvider};
use towline_test::tls::TestCa;
use towline_test::{Reply, TestServer};

#[tokio::test]
async fn an_installed_default_provider_is_honoured() {
    // ring's provider restricted to one TLS 1.3 cipher suite.
    let mut provider = rustls::crypto::ring::default_provider();
    provider
        .cipher_suites
        .retain(|s| s.suite() == rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
    assert_eq!(provider.cipher_suites.len(), 1);
    provider
        .install_default()
        .expect("first install in this process");

    let ca = TestCa::new();
    let tls = TlsConfig::builder()
        .replace_roots_pem(ca.cert_pem().as_bytes())
        .build()
        .expect("config");
    let suites = &tls.client_config().crypto_provider().cipher_suites;
    assert_eq!(suites.len(), 1);
    let installed: &Arc<CryptoProvider> = CryptoProvider::get_default().expect("installed");
    assert!(Arc::ptr_eq(
        tls.client_config().crypto_provider(),
        installed
    ));

    // And the handshake uses it: the server (ring, every suite) agrees on the one offered.
    let server = TestServer::builder()
        .handler(|_| Reply::text("hi"))
        .tls(&ca.leaf(&["127.0.0.1"]))
        .start()
        .await
        .expect("server");
    let client = towline::Client::builder().tls(tls).build().expect("client");
    let response = client.get(server.url("/")).send().await.expect("response");
    assert_eq!(response.text().await.expect("body"), "hi");
}
