//! TLS for `https://` URIs, with rustls.
//!
//! Certificates are verified by default, against the web PKI roots bundled with
//! towline (`webpki-roots`), or the system's roots with the `native-roots` feature. The
//! per-host hook [`TlsPolicy`] plays the part of Twisted's `creatorForNetloc`: it gives
//! each `(host, port)` the [`rustls::ClientConfig`] to use. [`TlsConfig`] is the
//! ready-made policy for the common case: one configuration for every host.
//!
//! The connector keeps the identity of the configuration in its pool key, so a
//! connection made under one configuration is never handed to a request under another.
//!
//! # Crypto provider
//!
//! A [`TlsConfig`] is built with the process-wide rustls provider when the
//! application installed one (`rustls::crypto::CryptoProvider::install_default`), so
//! one choice (FIPS aws-lc-rs, a restricted cipher list) holds for every rustls user
//! in the process. Without one it uses ring when the `ring` feature is on, and
//! aws-lc-rs when only `aws-lc-rs` is; with both features on and nothing installed,
//! ring. A [`TlsPolicy`] of your own brings its own `ClientConfig` and provider.
//!
//! ```
//! use towline::connect::Connector;
//! use towline::tls::{TlsConfig, TlsVersion};
//!
//! # fn main() -> Result<(), towline::Error> {
//! # let ca_pem = towline_test::tls::TestCa::new().cert_pem();
//! // Trust a private CA as well as the web PKI, and refuse anything below TLS 1.3.
//! let tls = TlsConfig::builder()
//!     .add_root_pem(ca_pem.as_bytes())
//!     .min_version(TlsVersion::Tls13)
//!     .build()?;
//! let connector = Connector::builder().tls(tls).build();
//! # Ok(()) }
//! ```

mod describe;
mod handed_over;

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme, SupportedProtocolVersion,
};

use crate::error::{BoxError, Error, Kind};
use describe::describe;

pub use rustls;

/// Chooses the TLS configuration for each `(host, port)` (Twisted's
/// `creatorForNetloc`).
///
/// Called once per request to an `https://` URI, so it should be cheap: return a
/// cached `Arc`. Requests whose policy returns different configurations never share a
/// connection. To allow HTTP/2, the configuration's `alpn_protocols` must offer `h2`
/// ([`TlsConfig`] does).
///
/// Closures `Fn(&str, u16) -> Arc<ClientConfig>` are policies:
///
/// ```
/// use std::sync::Arc;
/// use towline::tls::{TlsConfig, TlsPolicy};
///
/// let public = TlsConfig::new().client_config().clone();
/// let internal = public.clone(); // in real code: a config trusting an internal CA
/// let policy = move |host: &str, _port: u16| {
///     if host.ends_with(".internal.test") { internal.clone() } else { public.clone() }
/// };
/// let connector = towline::connect::Connector::builder().tls(policy).build();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot choose TLS settings per host",
    note = "use `towline::tls::TlsConfig`, an `Arc<rustls::ClientConfig>`, or a closure `Fn(&str, u16) -> Arc<rustls::ClientConfig>`"
)]
pub trait TlsPolicy: Send + Sync + 'static {
    /// The configuration for connections to `host` (a name, or an IP address without
    /// brackets) on `port`.
    fn config_for(&self, host: &str, port: u16) -> Arc<ClientConfig>;
}

impl<F> TlsPolicy for F
where
    F: Fn(&str, u16) -> Arc<ClientConfig> + Send + Sync + 'static,
{
    fn config_for(&self, host: &str, port: u16) -> Arc<ClientConfig> {
        self(host, port)
    }
}

impl TlsPolicy for Arc<ClientConfig> {
    fn config_for(&self, _: &str, _: u16) -> Arc<ClientConfig> {
        self.clone()
    }
}

/// A TLS version: the lowest or highest to accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// One TLS configuration for every host: the ready-made [`TlsPolicy`].
#[derive(Clone, Debug)]
pub struct TlsConfig {
    config: Arc<ClientConfig>,
}

impl Default for TlsConfig {
    fn default() -> TlsConfig {
        TlsConfig::new()
    }
}

impl TlsConfig {
    /// Verification against the bundled web PKI roots, TLS 1.2 and 1.3, ALPN `h2`
    /// (with the `http2` feature) and `http/1.1`.
    pub fn new() -> TlsConfig {
        // The defaults take no input that could be wrong, and the provider supports
        // both versions, so this cannot fail.
        TlsConfig::builder()
            .build()
            .expect("the default TLS configuration always builds")
    }

    /// A builder to choose roots, client certificates, versions and ALPN.
    pub fn builder() -> TlsConfigBuilder {
        TlsConfigBuilder::new()
    }

    /// The rustls configuration this policy hands out.
    pub fn client_config(&self) -> &Arc<ClientConfig> {
        &self.config
    }
}

impl From<Arc<ClientConfig>> for TlsConfig {
    fn from(config: Arc<ClientConfig>) -> TlsConfig {
        TlsConfig { config }
    }
}

impl TlsPolicy for TlsConfig {
    fn config_for(&self, _: &str, _: u16) -> Arc<ClientConfig> {
        self.config.clone()
    }
}

/// Builds a [`TlsConfig`]. Errors in PEM input are reported by
/// [`build`](TlsConfigBuilder::build).
pub struct TlsConfigBuilder {
    webpki_roots: bool,
    #[cfg(feature = "native-roots")]
    native_roots: bool,
    extra_roots: Vec<CertificateDer<'static>>,
    client_auth: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    min_version: TlsVersion,
    max_version: TlsVersion,
    http2: bool,
    accept_invalid_certs: bool,
    errors: Vec<String>,
}

impl fmt::Debug for TlsConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfigBuilder")
            .field("webpki_roots", &self.webpki_roots)
            .field("extra_roots", &self.extra_roots.len())
            .field("client_auth", &self.client_auth.is_some())
            .field("min_version", &self.min_version)
            .field("max_version", &self.max_version)
            .field("http2", &self.http2)
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .finish_non_exhaustive()
    }
}

impl TlsConfigBuilder {
    fn new() -> TlsConfigBuilder {
        TlsConfigBuilder {
            webpki_roots: true,
            #[cfg(feature = "native-roots")]
            native_roots: false,
            extra_roots: Vec::new(),
            client_auth: None,
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
            http2: cfg!(feature = "http2"),
            accept_invalid_certs: false,
            errors: Vec::new(),
        }
    }

    /// Whether to trust the web PKI roots bundled with towline (Mozilla's list, from
    /// `webpki-roots`).
    ///
    /// Default is `true`.
    pub fn webpki_roots(mut self, on: bool) -> Self {
        self.webpki_roots = on;
        self
    }

    /// Whether to trust the roots of the operating system's certificate store.
    ///
    /// Default is `false`.
    #[cfg(feature = "native-roots")]
    pub fn native_roots(mut self, on: bool) -> Self {
        self.native_roots = on;
        self
    }

    /// Trusts every certificate in `pem` as a root, besides the others.
    ///
    /// A certificate that is itself a server's (an end entity: self-signed, with
    /// `CA:TRUE` as `openssl req -x509` makes it or `CA:FALSE`, or a leaf issued by
    /// another CA) is trusted as itself, as curl does: a server that presents exactly
    /// that certificate (byte for byte) is accepted, with the host name and the
    /// validity dates still checked, and the handshake signed by its key. Chains up
    /// to it as a CA are verified as with any root.
    pub fn add_root_pem(mut self, pem: &[u8]) -> Self {
        let mut found = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            match cert {
                Ok(cert) => {
                    self.extra_roots.push(cert);
                    found += 1;
                }
                Err(e) => self
                    .errors
                    .push(format!("a root certificate's PEM is invalid: {e}")),
            }
        }
        if found == 0 {
            self.errors
                .push("the root certificate PEM holds no certificate".to_owned());
        }
        self
    }

    /// Trusts a DER-encoded certificate as a root, besides the others; an end-entity
    /// certificate is trusted as itself, as with
    /// [`add_root_pem`](TlsConfigBuilder::add_root_pem).
    pub fn add_root_der(mut self, der: impl Into<CertificateDer<'static>>) -> Self {
        self.extra_roots.push(der.into());
        self
    }

    /// Trusts only the certificates in `pem`: the bundled and system roots are off.
    /// End-entity certificates are trusted as themselves, as with
    /// [`add_root_pem`](TlsConfigBuilder::add_root_pem).
    pub fn replace_roots_pem(mut self, pem: &[u8]) -> Self {
        self.webpki_roots = false;
        #[cfg(feature = "native-roots")]
        {
            self.native_roots = false;
        }
        self.extra_roots.clear();
        self.add_root_pem(pem)
    }

    /// Presents a client certificate (mutual TLS): `cert_chain_pem` holds the leaf
    /// first, `key_pem` its private key (PKCS#8, PKCS#1 or SEC1).
    pub fn client_auth_pem(mut self, cert_chain_pem: &[u8], key_pem: &[u8]) -> Self {
        let chain: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(cert_chain_pem).collect();
        let key = PrivateKeyDer::from_pem_slice(key_pem);
        match (chain, key) {
            (Ok(chain), Ok(key)) if !chain.is_empty() => self.client_auth = Some((chain, key)),
            (Ok(_), Ok(_)) => self
                .errors
                .push("the client certificate PEM holds no certificate".to_owned()),
            (Err(e), _) => self
                .errors
                .push(format!("the client certificate PEM is invalid: {e}")),
            (_, Err(e)) => self
                .errors
                .push(format!("the client key PEM is invalid: {e}")),
        }
        self
    }

    /// The lowest TLS version to accept.
    ///
    /// Default is TLS 1.2.
    pub fn min_version(mut self, version: TlsVersion) -> Self {
        self.min_version = version;
        self
    }

    /// The highest TLS version to offer (reqwest's `max_tls_version`); with
    /// [`TlsVersion::Tls12`], TLS 1.3 is not offered. A highest version below the
    /// lowest is an error of [`build`](Self::build).
    ///
    /// Default is TLS 1.3.
    pub fn max_version(mut self, version: TlsVersion) -> Self {
        self.max_version = version;
        self
    }

    /// Whether to offer HTTP/2 in ALPN (`http/1.1` is always offered).
    ///
    /// Default is `true` with the `http2` feature.
    pub fn http2(mut self, on: bool) -> Self {
        self.http2 = on && cfg!(feature = "http2");
        self
    }

    /// **Dangerous**: accepts any server certificate, whoever issued it, for any name,
    /// expired or not. Anyone on the path can then read and change the traffic. Meant
    /// for tests against servers with throw-away certificates; never for real use.
    ///
    /// Default is `false`.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.accept_invalid_certs = accept;
        self
    }

    /// Builds the configuration, or says what was wrong with the input.
    pub fn build(self) -> Result<TlsConfig, Error> {
        if let Some(first) = self.errors.first() {
            return Err(config_error(first.clone()));
        }
        let provider = provider();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(self.versions()?)
            .map_err(|e| config_error(format!("{e}")))?;
        let builder = if self.accept_invalid_certs {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCert { provider }))
        } else {
            let roots = self.root_store()?;
            verify_with_roots(builder, roots, self.extra_roots, provider)?
        };
        let mut config = match self.client_auth {
            Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(|e| {
                config_error(format!(
                    "the client certificate or key was refused: {}",
                    describe(&e)
                ))
            })?,
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = if self.http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Ok(TlsConfig {
            config: Arc::new(config),
        })
    }

    /// The protocol versions from the lowest to the highest chosen, newest first.
    fn versions(&self) -> Result<&'static [&'static SupportedProtocolVersion], Error> {
        static BOTH: [&SupportedProtocolVersion; 2] =
            [&rustls::version::TLS13, &rustls::version::TLS12];
        static TLS13: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
        static TLS12: [&SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
        match (self.min_version, self.max_version) {
            (TlsVersion::Tls12, TlsVersion::Tls13) => Ok(&BOTH),
            (TlsVersion::Tls13, TlsVersion::Tls13) => Ok(&TLS13),
            (TlsVersion::Tls12, TlsVersion::Tls12) => Ok(&TLS12),
            (TlsVersion::Tls13, TlsVersion::Tls12) => Err(config_error(
                "the highest TLS version (1.2) is below the lowest (1.3)".to_owned(),
            )),
        }
    }

    /// The roots chosen: the bundled web PKI, the system's, and those added.
    fn root_store(&self) -> Result<RootCertStore, Error> {
        let mut roots = if self.webpki_roots {
            webpki_store()
        } else {
            RootCertStore::empty()
        };
        #[cfg(feature = "native-roots")]
        if self.native_roots {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
        for cert in &self.extra_roots {
            roots
                .add(cert.clone())
                .map_err(|e| config_error(format!("a root certificate was refused: {e}")))?;
        }
        if roots.is_empty() {
            return Err(config_error(
                "no root certificates to verify servers with".to_owned(),
            ));
        }
        Ok(roots)
    }
}

/// Verifies servers against `roots`; with roots the user added, a server presenting
/// exactly one of them is trusted too (see [`handed_over`]).
fn verify_with_roots(
    builder: rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>,
    roots: RootCertStore,
    extra_roots: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
) -> Result<rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>, Error> {
    if extra_roots.is_empty() {
        return Ok(builder.with_root_certificates(roots));
    }
    let standard =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| config_error(format!("{e}")))?;
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(handed_over::HandedOver::new(
            standard,
            extra_roots,
        ))))
}

/// The error of a configuration that could not be built.
fn config_error(message: String) -> Error {
    tls_error(TlsError::config(message))
}

fn webpki_store() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// The crypto provider towline builds its configurations with: the process-wide
/// default when one is installed (`CryptoProvider::install_default`, as reqwest
/// honours it), else ring with the `ring` feature, else aws-lc-rs.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    if let Some(installed) = CryptoProvider::get_default() {
        return installed.clone();
    }
    #[cfg(feature = "ring")]
    {
        Arc::new(rustls::crypto::ring::default_provider())
    }
    #[cfg(all(feature = "aws-lc-rs", not(feature = "ring")))]
    {
        Arc::new(rustls::crypto::aws_lc_rs::default_provider())
    }
}

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
compile_error!("the `tls` feature needs a crypto provider: enable `ring` or `aws-lc-rs`");

#[derive(Debug)]
struct AcceptAnyCert {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A TLS failure: a configuration that could not be built, or a handshake that failed.
///
/// Its text names the cause: an unknown issuer, an expired certificate, a name
/// mismatch, an alert from the server.
#[derive(Debug)]
pub struct TlsError {
    message: String,
    source: Option<rustls::Error>,
}

impl TlsError {
    fn config(message: String) -> TlsError {
        TlsError {
            message,
            source: None,
        }
    }

    pub(crate) fn handshake(host: &str, err: rustls::Error) -> TlsError {
        TlsError {
            message: format!("TLS handshake with {host} failed: {}", describe(&err)),
            source: Some(err),
        }
    }

    /// The rustls error behind this one, if there is one.
    pub fn rustls_error(&self) -> Option<&rustls::Error> {
        self.source.as_ref()
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TlsError {}

pub(crate) fn tls_error(err: TlsError) -> Error {
    Error::new(Kind::Tls, Some(Box::new(err) as BoxError))
}

/// Finds the rustls error inside an I/O error from tokio-rustls.
pub(crate) fn rustls_error_of(err: &std::io::Error) -> Option<&rustls::Error> {
    err.get_ref()?.downcast_ref::<rustls::Error>()
}

#[cfg(test)]
mod tests;
