//! Test certificates, generated at test time with `rcgen`, and the rustls
//! server configurations that serve them.
//!
//! Everything here is meant for tests: failures to generate a certificate or
//! build a configuration panic.
//!
//! ```
//! use towline_test::tls::TestCa;
//!
//! let ca = TestCa::new();
//! let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
//! let config = leaf.server_config(&[b"http/1.1"]);
//! assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
//! assert!(leaf.chain_pem.ends_with(&ca.cert_pem()));
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{
    ClientHello, NoServerSessionStorage, ResolvesServerCert, WebPkiClientVerifier,
};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

/// Common name of every [`TestCa`].
const CA_NAME: &str = "towline test CA";

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Sets the validity period to run from `from_days` to `to_days` days from
/// now (negative: in the past).
fn set_validity(params: &mut CertificateParams, from_days: i64, to_days: i64) {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + since_epoch(from_days);
    params.not_after = epoch + since_epoch(to_days);
}

/// The time `offset_days` days from now, as a duration since the Unix epoch.
fn since_epoch(offset_days: i64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let shift = DAY * u32::try_from(offset_days.unsigned_abs()).unwrap_or(u32::MAX);
    if offset_days < 0 {
        now.saturating_sub(shift)
    } else {
        now.saturating_add(shift)
    }
}

fn key_pair() -> KeyPair {
    KeyPair::generate().expect("towline-test: failed to generate a key pair")
}

fn distinguished_name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

/// Subject alternative names for `names`: IP addresses (optionally in
/// brackets, like `[::1]`) become IP SANs, anything else a DNS SAN.
fn san_params(names: &[&str]) -> CertificateParams {
    let names: Vec<String> = names
        .iter()
        .map(|n| {
            n.strip_prefix('[')
                .and_then(|n| n.strip_suffix(']'))
                .unwrap_or(n)
                .to_owned()
        })
        .collect();
    let mut params = CertificateParams::new(names.clone())
        .unwrap_or_else(|e| panic!("towline-test: invalid certificate names {names:?}: {e}"));
    params.distinguished_name = distinguished_name(names.first().map_or("towline test", |n| n));
    params
}

/// A test certificate authority that signs server and client certificates.
///
/// Each `TestCa` has a fresh key, so certificates from two different CAs do
/// not verify against each other.
pub struct TestCa {
    cert: Certificate,
    key: KeyPair,
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa")
            .field("name", &CA_NAME)
            .finish_non_exhaustive()
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

impl TestCa {
    /// A new CA named `towline test CA`, valid from yesterday for 10 years.
    ///
    /// Its subject also has an organizational unit unique to this CA, so
    /// that two `TestCa`s are told apart: a certificate signed by one fails
    /// verification against the other with `UnknownIssuer`.
    ///
    /// # Panics
    ///
    /// Panics if `rcgen` fails to generate the key or the certificate.
    pub fn new() -> TestCa {
        // Every CA gets a distinct subject, so that a certificate from another
        // `TestCa` fails with `UnknownIssuer` rather than a signature error.
        static NEXT_CA: AtomicU64 = AtomicU64::new(0);
        let unique = format!(
            "{}-{}-{}",
            std::process::id(),
            NEXT_CA.fetch_add(1, Ordering::Relaxed),
            since_epoch(0).as_nanos()
        );
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(CA_NAME);
        params
            .distinguished_name
            .push(DnType::OrganizationalUnitName, unique);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, -1, 3652);
        let key = key_pair();
        let cert = params
            .self_signed(&key)
            .expect("towline-test: failed to generate the CA certificate");
        TestCa { cert, key }
    }

    /// The CA certificate, PEM-encoded.
    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    /// The CA certificate, DER-encoded.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.cert.der().clone()
    }

    /// A rustls root store trusting only this CA.
    pub fn root_store(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots
            .add(self.cert_der())
            .expect("towline-test: the CA certificate is not a valid trust anchor");
        roots
    }

    fn sign(&self, params: CertificateParams) -> Leaf {
        let key = key_pair();
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("towline-test: failed to sign a certificate");
        Leaf::new(&cert, &key, Some(&self.cert))
    }

    fn server_params(names: &[&str], from_days: i64, to_days: i64) -> CertificateParams {
        let mut params = san_params(names);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, from_days, to_days);
        params
    }

    /// A server certificate signed by this CA for these names, valid from
    /// yesterday for one year, with extended key usage `serverAuth`.
    ///
    /// Names that parse as IP addresses (`127.0.0.1`, `::1`, or `[::1]`)
    /// become IP SANs; the others become DNS SANs. The first name is also the
    /// subject's common name.
    ///
    /// # Panics
    ///
    /// Panics if a name is not a valid DNS name or IP address, or if `rcgen`
    /// fails.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.sign(Self::server_params(names, -1, 365))
    }

    /// Like [`leaf`](Self::leaf), but expired: valid from 10 days ago until
    /// 5 days ago.
    ///
    /// # Panics
    ///
    /// As for [`leaf`](Self::leaf).
    pub fn expired_leaf(&self, names: &[&str]) -> Leaf {
        self.sign(Self::server_params(names, -10, -5))
    }

    /// A client certificate with this common name (and no SAN) signed by this
    /// CA, valid from yesterday for one year, with extended key usage
    /// `clientAuth`.
    ///
    /// # Panics
    ///
    /// Panics if `rcgen` fails.
    pub fn client_leaf(&self, name: &str) -> Leaf {
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, -1, 365);
        self.sign(params)
    }

    /// A self-signed CA certificate (basic constraints `CA:TRUE`) with these
    /// SANs, meant to be served as a server certificate.
    ///
    /// Trusting its [`cert_pem`](Leaf::cert_pem) as a root and connecting to
    /// a server that presents it makes rustls refuse the handshake with
    /// `CaUsedAsEndEntity`: a CA certificate must not be used as an end
    /// entity. (towline's `TlsConfig` trusts such a handed-over certificate as
    /// itself, as curl does.) Its [`chain_pem`](Leaf::chain_pem) is the certificate alone.
    ///
    /// # Panics
    ///
    /// As for [`leaf`](Self::leaf).
    pub fn ca_as_leaf(names: &[&str]) -> Leaf {
        let mut params = san_params(names);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        set_validity(&mut params, -1, 365);
        let key = key_pair();
        let cert = params
            .self_signed(&key)
            .expect("towline-test: failed to generate a certificate");
        Leaf::new(&cert, &key, None)
    }
}

/// A certificate and its private key, as made by a [`TestCa`].
#[derive(Debug)]
pub struct Leaf {
    /// The certificate, PEM-encoded.
    pub cert_pem: String,
    /// The private key, PKCS#8 PEM-encoded.
    pub key_pem: String,
    /// The certificate, DER-encoded.
    pub cert_der: CertificateDer<'static>,
    /// The private key, PKCS#8 DER-encoded.
    pub key_der: PrivatePkcs8KeyDer<'static>,
    /// The certificate followed by its issuing CA (when it has one), PEM, as
    /// a server sends its chain.
    pub chain_pem: String,
    /// The DER chain: the certificate then its issuing CA, if any.
    chain_der: Vec<CertificateDer<'static>>,
}

impl Clone for Leaf {
    fn clone(&self) -> Self {
        Leaf {
            cert_pem: self.cert_pem.clone(),
            key_pem: self.key_pem.clone(),
            cert_der: self.cert_der.clone(),
            key_der: self.key_der.clone_key(),
            chain_pem: self.chain_pem.clone(),
            chain_der: self.chain_der.clone(),
        }
    }
}

/// The ring crypto provider, used explicitly so that no process-wide default
/// provider is needed.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Leaf {
    fn new(cert: &Certificate, key: &KeyPair, issuer: Option<&Certificate>) -> Leaf {
        let mut chain_pem = cert.pem();
        let mut chain_der = vec![cert.der().clone()];
        if let Some(issuer) = issuer {
            chain_pem.push_str(&issuer.pem());
            chain_der.push(issuer.der().clone());
        }
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: PrivatePkcs8KeyDer::from(key.serialize_der()),
            chain_pem,
            chain_der,
        }
    }

    /// The private key as a rustls [`PrivateKeyDer`].
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(self.key_der.clone_key())
    }

    /// The DER chain a server sends: this certificate, then its issuing CA
    /// if it has one.
    pub fn chain_der(&self) -> Vec<CertificateDer<'static>> {
        self.chain_der.clone()
    }

    fn finish(
        &self,
        builder: rustls::ConfigBuilder<ServerConfig, rustls::server::WantsServerCert>,
        alpn: &[&[u8]],
    ) -> Arc<ServerConfig> {
        Arc::new(self.unshared(builder, alpn))
    }

    fn unshared(
        &self,
        builder: rustls::ConfigBuilder<ServerConfig, rustls::server::WantsServerCert>,
        alpn: &[&[u8]],
    ) -> ServerConfig {
        let mut config = builder
            .with_single_cert(self.chain_der(), self.private_key())
            .expect("towline-test: the certificate does not match its key");
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config
    }

    fn builder() -> rustls::ConfigBuilder<ServerConfig, rustls::WantsVerifier> {
        ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("towline-test: the ring provider supports the default TLS versions")
    }

    /// A rustls server configuration (ring provider, TLS 1.2 and 1.3)
    /// presenting this certificate and its issuing CA, offering these ALPN
    /// protocols (e.g. `&[b"h2", b"http/1.1"]`; empty for no ALPN), without
    /// client authentication.
    ///
    /// # Panics
    ///
    /// Panics if rustls rejects the certificate or key.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Arc<ServerConfig> {
        self.finish(Self::builder().with_no_client_auth(), alpn)
    }

    /// Like [`server_config`](Self::server_config), and records the SNI server
    /// name of every handshake in the returned [`SniLog`].
    ///
    /// Session resumption is off in this configuration, so that every connection
    /// makes a full handshake and is recorded.
    ///
    /// ```
    /// use towline_test::tls::TestCa;
    /// use towline_test::TestServer;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let leaf = TestCa::new().leaf(&["localhost", "127.0.0.1"]);
    /// let (config, sni) = leaf.server_config_recording_sni(&[b"http/1.1"]);
    /// let server = TestServer::builder().tls_config(config).start().await.unwrap();
    /// // ... a client connects to `server.url_for_host("localhost", "/")` ...
    /// assert!(sni.names().is_empty(), "no handshake yet");
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// Panics if rustls rejects the certificate or key.
    pub fn server_config_recording_sni(&self, alpn: &[&[u8]]) -> (Arc<ServerConfig>, SniLog) {
        let mut config = self.unshared(Self::builder().with_no_client_auth(), alpn);
        let log = SniLog::default();
        config.cert_resolver = Arc::new(RecordSni {
            inner: Arc::clone(&config.cert_resolver),
            log: log.clone(),
        });
        config.session_storage = Arc::new(NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        (Arc::new(config), log)
    }

    /// Like [`server_config`](Self::server_config), but the server requires a
    /// client certificate signed by `client_ca` (see
    /// [`TestCa::client_leaf`]); a client sending none, or another one,
    /// fails the handshake.
    ///
    /// # Panics
    ///
    /// Panics if rustls rejects the certificate, the key, or the CA.
    pub fn server_config_with_client_auth(
        &self,
        alpn: &[&[u8]],
        client_ca: &TestCa,
    ) -> Arc<ServerConfig> {
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::new(client_ca.root_store()),
            provider(),
        )
        .build()
        .expect("towline-test: failed to build the client certificate verifier");
        self.finish(Self::builder().with_client_cert_verifier(verifier), alpn)
    }
}

/// The SNI server names a server configuration made by
/// [`Leaf::server_config_recording_sni`] received, one entry per TLS handshake,
/// in order: `Some(name)` for a client that sent the SNI extension, `None` for
/// one that sent none (as clients do when they connect to an IP address).
///
/// Clones share the same log.
#[derive(Clone, Debug, Default)]
pub struct SniLog {
    names: Arc<Mutex<Vec<Option<String>>>>,
}

impl SniLog {
    /// The server names received so far, one per handshake.
    pub fn names(&self) -> Vec<Option<String>> {
        self.names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn push(&self, name: Option<String>) {
        self.names
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(name);
    }
}

/// Records the SNI of each ClientHello, then lets the configured resolver choose
/// the certificate. rustls asks the resolver once per full handshake; the name it
/// sees is the one `ServerConnection::server_name()` reports.
#[derive(Debug)]
struct RecordSni {
    inner: Arc<dyn ResolvesServerCert>,
    log: SniLog,
}

impl ResolvesServerCert for RecordSni {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.log.push(client_hello.server_name().map(str::to_owned));
        self.inner.resolve(client_hello)
    }
}
