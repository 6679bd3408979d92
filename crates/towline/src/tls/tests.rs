use super::*;

#[test]
fn causes_are_written_text() {
    let e = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
    assert_eq!(
        TlsError::handshake("h.test", e).to_string(),
        "TLS handshake with h.test failed: the server's certificate was issued by an unknown authority"
    );
    let e = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
    assert!(
        describe(&e).contains("\"handshake failure\""),
        "{}",
        describe(&e)
    );
}

#[test]
fn bad_pem_is_reported_by_build() {
    let err = TlsConfig::builder()
        .add_root_pem(b"not pem")
        .build()
        .expect_err("bad");
    assert!(err.is_tls());
    assert!(
        err.report().to_string().contains("holds no certificate"),
        "{err}"
    );
    let err = TlsConfig::builder()
        .replace_roots_pem(b"")
        .build()
        .expect_err("no roots");
    assert!(err.is_tls());
}

#[test]
fn default_offers_h2_and_http11() {
    let config = TlsConfig::new();
    let alpn = &config.client_config().alpn_protocols;
    assert_eq!(alpn.last().map(Vec::as_slice), Some(&b"http/1.1"[..]));
    assert_eq!(alpn.len(), if cfg!(feature = "http2") { 2 } else { 1 });
}
