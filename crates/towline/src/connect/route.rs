//! How the connector reaches an origin: directly or through a proxy.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use http::HeaderValue;

/// How the connector reaches the origin of a request: a request extension.
///
/// `towline::proxy::ProxyLayer` puts one on each request it sends through
/// a proxy; a caller may set one too, and the layer leaves it alone. A request without
/// a `Route` goes [`Direct`](Route::Direct). The route is part of the pool key, so a
/// connection opened through one proxy (or with one set of proxy credentials) never
/// carries a request meant for another route.
///
/// | route | `http://` URI | `https://` URI |
/// | --- | --- | --- |
/// | `Direct` | origin-form to the origin | TLS to the origin |
/// | `HttpProxy` | absolute-form to the proxy, `Proxy-Authorization` on the request | as `Tunnel` |
/// | `Tunnel` | `CONNECT`, then origin-form inside the tunnel | `CONNECT`, then TLS to the origin inside the tunnel |
/// | `Socks5` | SOCKS5 handshake, then origin-form | SOCKS5 handshake, then TLS to the origin |
///
/// `HttpProxy` tunnels `https://` URIs rather than hand them to the proxy in the clear.
///
/// Proxy credentials come from the [`ProxyEndpoint`] only: `Proxy-Authorization` on
/// each request to an HTTP proxy, on the `CONNECT` request of a tunnel, or the SOCKS5
/// username and password. A `Proxy-Authorization` header the caller put on a request is
/// removed on every route: on most the request goes to the origin, and an HTTP proxy
/// that does no authentication passes the header on to the origin (tinyproxy does).
///
/// ```
/// use towline::connect::{ProxyEndpoint, Route};
///
/// let proxy = ProxyEndpoint::new("proxy.internal.test", 3128).basic_auth("me", "secret");
/// let route = Route::Tunnel(proxy);
/// let request = http::Request::get("https://example.test/")
///     .extension(route)
///     .body(towline::Body::empty())
///     .expect("valid request");
/// # assert!(request.extensions().get::<Route>().is_some());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// Straight to the origin.
    #[default]
    Direct,
    /// Through an HTTP proxy that forwards requests: `http://` URIs are written in
    /// absolute form to the proxy; `https://` URIs tunnel as [`Route::Tunnel`].
    HttpProxy(ProxyEndpoint),
    /// Through a tunnel an HTTP proxy opens with `CONNECT` (RFC 9110 §9.3.6); the
    /// connection then speaks to the origin as if it were direct.
    Tunnel(ProxyEndpoint),
    /// Through a SOCKS5 proxy (RFC 1928), with username and password authentication
    /// (RFC 1929) when the endpoint has credentials.
    Socks5 {
        /// The proxy. Its [`tls`](ProxyEndpoint::tls) setting is ignored: SOCKS5 is
        /// spoken in the clear.
        endpoint: ProxyEndpoint,
        /// `true` (`socks5h://`) sends the origin's host name for the proxy to resolve;
        /// `false` (`socks5://`) resolves it here, as the [`TcpDialer`](super::TcpDialer)
        /// does, and sends its first address.
        remote_dns: bool,
    },
}

impl Route {
    /// The proxy of this route, if it has one.
    pub fn endpoint(&self) -> Option<&ProxyEndpoint> {
        match self {
            Route::Direct => None,
            Route::HttpProxy(endpoint) | Route::Tunnel(endpoint) => Some(endpoint),
            Route::Socks5 { endpoint, .. } => Some(endpoint),
        }
    }
}

/// A proxy server: its host, port, whether to speak TLS to it, and the credentials it
/// wants.
///
/// Cheap to clone. The password never appears in `Debug` output. Two endpoints are equal
/// when all of these are, credentials included.
#[derive(Clone)]
pub struct ProxyEndpoint {
    inner: Arc<Inner>,
}

#[derive(PartialEq, Eq, Hash)]
struct Inner {
    host: Box<str>,
    port: u16,
    tls: bool,
    credentials: Option<Credentials>,
}

struct Credentials {
    username: Box<str>,
    password: Box<str>,
    /// `Basic base64(username:password)`, marked sensitive.
    header: HeaderValue,
}

impl PartialEq for Credentials {
    fn eq(&self, other: &Credentials) -> bool {
        self.username == other.username && self.password == other.password
    }
}

impl Eq for Credentials {}

impl Hash for Credentials {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.username.hash(state);
        self.password.hash(state);
    }
}

impl ProxyEndpoint {
    /// A proxy at `host` (a name, an IPv4 address, or an IPv6 address with or without
    /// brackets) and `port`, spoken to in the clear, without credentials.
    pub fn new(host: impl AsRef<str>, port: u16) -> ProxyEndpoint {
        let host = host.as_ref();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        ProxyEndpoint {
            inner: Arc::new(Inner {
                host: host.to_ascii_lowercase().into(),
                port,
                tls: false,
                credentials: None,
            }),
        }
    }

    /// Whether to speak TLS to the proxy itself (an `https://` proxy). Its certificate
    /// is verified with the connector's `towline::tls::TlsPolicy` for the
    /// proxy's host and port, offering only `http/1.1` by ALPN.
    ///
    /// Default is `false`.
    pub fn tls(self, on: bool) -> ProxyEndpoint {
        self.map(|inner| inner.tls = on)
    }

    /// Credentials for the proxy: sent as `Proxy-Authorization: Basic` to an HTTP proxy
    /// (on the `CONNECT` request for tunnels), or as RFC 1929 username and password to
    /// a SOCKS5 proxy. They are never sent to the origin.
    ///
    /// Default is none.
    pub fn basic_auth(self, username: impl AsRef<str>, password: impl AsRef<str>) -> ProxyEndpoint {
        let (username, password) = (username.as_ref(), password.as_ref());
        let mut header = HeaderValue::try_from(format!(
            "Basic {}",
            base64(format!("{username}:{password}").as_bytes())
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
        header.set_sensitive(true);
        let credentials = Credentials {
            username: username.into(),
            password: password.into(),
            header,
        };
        self.map(|inner| inner.credentials = Some(credentials))
    }

    fn map(self, f: impl FnOnce(&mut Inner)) -> ProxyEndpoint {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            host: shared.host.clone(),
            port: shared.port,
            tls: shared.tls,
            credentials: shared.credentials.as_ref().map(|c| Credentials {
                username: c.username.clone(),
                password: c.password.clone(),
                header: c.header.clone(),
            }),
        });
        f(&mut inner);
        ProxyEndpoint {
            inner: Arc::new(inner),
        }
    }

    /// The proxy's host, lowercased, IPv6 addresses without brackets.
    pub fn host(&self) -> &str {
        &self.inner.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.inner.port
    }

    /// Whether TLS is spoken to the proxy.
    pub fn is_tls(&self) -> bool {
        self.inner.tls
    }

    /// The username of the credentials, if there are any.
    pub fn username(&self) -> Option<&str> {
        self.inner.credentials.as_ref().map(|c| &*c.username)
    }

    pub(crate) fn password(&self) -> Option<&str> {
        self.inner.credentials.as_ref().map(|c| &*c.password)
    }

    /// The `Proxy-Authorization` value, marked sensitive.
    pub(crate) fn authorization(&self) -> Option<&HeaderValue> {
        self.inner.credentials.as_ref().map(|c| &c.header)
    }
}

impl PartialEq for ProxyEndpoint {
    fn eq(&self, other: &ProxyEndpoint) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner) || self.inner == other.inner
    }
}

impl Eq for ProxyEndpoint {}

impl Hash for ProxyEndpoint {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

impl fmt::Debug for ProxyEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ProxyEndpoint");
        d.field("host", &self.inner.host)
            .field("port", &self.inner.port)
            .field("tls", &self.inner.tls);
        // Userinfo is hidden whole, as everywhere (see `crate::redact`): a username
        // alone is often the secret (an API token).
        if self.inner.credentials.is_some() {
            d.field("credentials", &"***");
        }
        d.finish()
    }
}

/// `host:port`, IPv6 addresses in brackets.
impl fmt::Display for ProxyEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        host_port(f, &self.inner.host, self.inner.port)
    }
}

/// A route as events show it: its kind and its proxy's `host:port`, never credentials.
#[cfg(feature = "tracing")]
pub(crate) struct RouteLabel<'a>(pub(crate) &'a Route);

#[cfg(feature = "tracing")]
impl fmt::Display for RouteLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, endpoint) = match self.0 {
            Route::Direct => return f.write_str("direct"),
            Route::HttpProxy(endpoint) => ("http proxy", endpoint),
            Route::Tunnel(endpoint) => ("tunnel via", endpoint),
            Route::Socks5 {
                endpoint,
                remote_dns: false,
            } => ("socks5", endpoint),
            Route::Socks5 {
                endpoint,
                remote_dns: true,
            } => ("socks5h", endpoint),
        };
        let tls = if endpoint.is_tls() { " (TLS)" } else { "" };
        write!(f, "{kind} {endpoint}{tls}")
    }
}

pub(crate) fn host_port(f: &mut fmt::Formatter<'_>, host: &str, port: u16) -> fmt::Result {
    if host.contains(':') {
        write!(f, "[{host}]:{port}")
    } else {
        write!(f, "{host}:{port}")
    }
}

/// Standard base64 with padding (RFC 4648 §4), for `Basic` credentials.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            // RFC 7617's example.
            ("Aladdin:open sesame", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded, "{plain:?}");
        }
    }

    #[test]
    fn credentials_are_sensitive_and_kept_out_of_debug() {
        let ep = ProxyEndpoint::new("Proxy.Test", 8080).basic_auth("me", "s3cret");
        let header = ep.authorization().expect("header");
        assert!(header.is_sensitive());
        assert_eq!(header, "Basic bWU6czNjcmV0");
        let debug = format!("{:?}", Route::Tunnel(ep.clone()));
        assert!(debug.contains("credentials: \"***\""), "{debug}");
        assert!(
            !debug.contains("me\"") && !debug.contains("s3cret"),
            "{debug}"
        );
        assert_eq!(ep.host(), "proxy.test");
        assert_eq!(ep.to_string(), "proxy.test:8080");
        assert_eq!(ProxyEndpoint::new("[::1]", 1).to_string(), "[::1]:1");
    }

    #[test]
    fn endpoints_differ_by_every_setting() {
        let base = ProxyEndpoint::new("p.test", 3128);
        assert_eq!(base, ProxyEndpoint::new("P.test", 3128));
        assert_ne!(base, ProxyEndpoint::new("p.test", 3129));
        assert_ne!(base, base.clone().tls(true));
        let a = base.clone().basic_auth("u", "a");
        assert_ne!(base, a);
        assert_ne!(a, base.clone().basic_auth("u", "b"));
        assert_eq!(a, base.clone().basic_auth("u", "a"));
        assert_ne!(Route::HttpProxy(base.clone()), Route::Tunnel(base));
    }
}
