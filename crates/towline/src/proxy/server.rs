//! A proxy server, as written in a proxy URI.

use std::error::Error as StdError;
use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use http::Uri;

use crate::connect::{ProxyEndpoint, Route};

/// The protocol spoken to a proxy: the scheme of its URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyProtocol {
    /// `http://`: an HTTP proxy spoken to in the clear. Default port 80.
    Http,
    /// `https://`: an HTTP proxy spoken to over TLS. Default port 443.
    Https,
    /// `socks5://`: SOCKS5, origin names resolved here. Default port 1080.
    Socks5,
    /// `socks5h://`: SOCKS5, origin names resolved by the proxy. Default port 1080.
    Socks5h,
}

impl ProxyProtocol {
    fn default_port(self) -> u16 {
        match self {
            ProxyProtocol::Http => 80,
            ProxyProtocol::Https => 443,
            ProxyProtocol::Socks5 | ProxyProtocol::Socks5h => 1080,
        }
    }

    fn scheme(self) -> &'static str {
        match self {
            ProxyProtocol::Http => "http",
            ProxyProtocol::Https => "https",
            ProxyProtocol::Socks5 => "socks5",
            ProxyProtocol::Socks5h => "socks5h",
        }
    }
}

/// A proxy server: a protocol and an endpoint (host, port, credentials), usually
/// parsed from a URI such as `http://user:secret@proxy.internal.test:3128` or
/// `socks5h://127.0.0.1:1080`.
///
/// How it carries a request depends on the request's scheme (see
/// [`route_for`](Self::route_for)): an HTTP proxy gets `http://` requests in absolute
/// form and tunnels `https://` ones with `CONNECT`; a SOCKS5 proxy carries both.
///
/// The password never appears in `Debug` output or in error messages.
///
/// See the [module docs](super).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProxyServer {
    protocol: ProxyProtocol,
    endpoint: ProxyEndpoint,
}

impl ProxyServer {
    /// A proxy for `protocol` at `host` and `port`, without credentials.
    pub fn new(protocol: ProxyProtocol, host: impl AsRef<str>, port: u16) -> ProxyServer {
        let endpoint = ProxyEndpoint::new(host, port).tls(matches!(protocol, ProxyProtocol::Https));
        ProxyServer { protocol, endpoint }
    }

    /// Parses a proxy URI: `scheme://[user[:password]@]host[:port][/]`.
    ///
    /// The scheme is `http`, `https`, `socks5` or `socks5h`, and `http` when it is left
    /// out (`proxy.test:3128`), as curl does. The port defaults to the protocol's.
    /// Username and password are percent-decoded (`%40` for `@`). A path other than
    /// `/`, a query or fragment, an empty host, or a port outside 1–65535 is refused.
    /// The host is read as the WHATWG URL Standard reads it, like every URL towline
    /// takes: `bücher.example` becomes `xn--bcher-kva.example`, `0x7f.1` becomes
    /// `127.0.0.1`, and upper case is folded.
    pub fn parse(uri: &str) -> Result<ProxyServer, ProxyConfigError> {
        parse_uri(uri.trim()).map_err(|reason| ProxyConfigError::new(uri, reason))
    }

    /// Credentials for the proxy (sent as `Proxy-Authorization: Basic` to an HTTP
    /// proxy, as RFC 1929 username and password to a SOCKS5 one), replacing any from
    /// the URI.
    ///
    /// Default is the URI's userinfo, if it has one.
    pub fn basic_auth(self, username: impl AsRef<str>, password: impl AsRef<str>) -> ProxyServer {
        ProxyServer {
            endpoint: self.endpoint.basic_auth(username, password),
            ..self
        }
    }

    /// The protocol spoken to the proxy.
    pub fn protocol(&self) -> ProxyProtocol {
        self.protocol
    }

    /// The proxy's host, port and credentials.
    pub fn endpoint(&self) -> &ProxyEndpoint {
        &self.endpoint
    }

    /// The route a request for `uri` takes through this proxy: an HTTP proxy forwards
    /// `http://` URIs ([`Route::HttpProxy`]) and tunnels the others
    /// ([`Route::Tunnel`]); a SOCKS5 proxy carries every URI ([`Route::Socks5`]).
    pub fn route_for(&self, uri: &Uri) -> Route {
        self.route(uri.scheme() == Some(&http::uri::Scheme::HTTP))
    }

    pub(super) fn route(&self, plain_http: bool) -> Route {
        let endpoint = self.endpoint.clone();
        match self.protocol {
            ProxyProtocol::Http | ProxyProtocol::Https if plain_http => Route::HttpProxy(endpoint),
            ProxyProtocol::Http | ProxyProtocol::Https => Route::Tunnel(endpoint),
            ProxyProtocol::Socks5 => Route::Socks5 {
                endpoint,
                remote_dns: false,
            },
            ProxyProtocol::Socks5h => Route::Socks5 {
                endpoint,
                remote_dns: true,
            },
        }
    }
}

impl FromStr for ProxyServer {
    type Err = ProxyConfigError;

    fn from_str(uri: &str) -> Result<ProxyServer, ProxyConfigError> {
        ProxyServer::parse(uri)
    }
}

/// `scheme://host:port`, without credentials.
impl fmt::Display for ProxyServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.protocol.scheme(), self.endpoint)
    }
}

/// [`ProxyServer::parse`] on the trimmed URI; an error is the reason it is refused.
fn parse_uri(uri: &str) -> Result<ProxyServer, &'static str> {
    let (scheme, rest) = match uri.split_once("://") {
        Some((scheme, rest)) => (scheme, rest),
        None => ("http", uri),
    };
    let protocol = parse_scheme(scheme)?;
    let (authority, tail) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if !tail.is_empty() && tail != "/" {
        return Err("a proxy URI has no path, query or fragment");
    }
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    let (host, port) = split_host_port(host_port)?;
    if host.is_empty() {
        return Err("the host is empty");
    }
    let host = normalize_host(host)?;
    let port = parse_port(port, protocol)?;
    let mut server = ProxyServer::new(protocol, host, port);
    if let Some(userinfo) = userinfo {
        let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let (Some(user), Some(pass)) = (percent_decode(user), percent_decode(pass)) else {
            return Err("the username or password is not valid percent-encoded UTF-8");
        };
        server = server.basic_auth(user, pass);
    }
    Ok(server)
}

/// The protocol a proxy URI's scheme names, in any case.
fn parse_scheme(scheme: &str) -> Result<ProxyProtocol, &'static str> {
    match scheme.to_ascii_lowercase().as_str() {
        "http" => Ok(ProxyProtocol::Http),
        "https" => Ok(ProxyProtocol::Https),
        "socks5" => Ok(ProxyProtocol::Socks5),
        "socks5h" => Ok(ProxyProtocol::Socks5h),
        _ => Err("unsupported scheme: use http, https, socks5 or socks5h"),
    }
}

/// Splits `host[:port]`, where the host may be a bracketed IPv6 address (or a bare
/// one, without a port).
fn split_host_port(host_port: &str) -> Result<(&str, Option<&str>), &'static str> {
    if let Some(bracketed) = host_port.strip_prefix('[') {
        let Some((v6, after)) = bracketed.split_once(']') else {
            return Err("an IPv6 address is missing its closing bracket");
        };
        if v6.parse::<Ipv6Addr>().is_err() {
            return Err("the IPv6 address is not valid");
        }
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Err("unexpected text after the IPv6 address"),
            },
        };
        Ok((v6, port))
    } else if host_port.parse::<Ipv6Addr>().is_ok() {
        // An IPv6 address without brackets, and so without a port.
        Ok((host_port, None))
    } else {
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        };
        if host.contains(':') {
            return Err("an IPv6 address needs brackets: [::1]:3128");
        }
        Ok((host, port))
    }
}

/// The host as the WHATWG URL Standard reads it, as for every other URL: IDNA to
/// A-labels, IPv4 shorthands spelled out, case folded.
fn normalize_host(host: &str) -> Result<String, &'static str> {
    if host.contains(':') {
        return Ok(host.to_owned());
    }
    match url::Host::parse(host) {
        // The URL Standard allows more in a domain (`,`, `!`, `$`, ...) than DNS
        // names a proxy can be reached by; `a,b` is a list given where one proxy was
        // expected.
        Ok(url::Host::Domain(name)) if !is_dns_name(&name) => {
            Err("the host has characters a host name cannot have")
        }
        Ok(url::Host::Domain(name)) => Ok(name),
        Ok(url::Host::Ipv4(ip)) => Ok(ip.to_string()),
        Ok(url::Host::Ipv6(ip)) => Ok(ip.to_string()),
        Err(url::ParseError::IdnaError) if !host.is_ascii() => {
            Err("the host is not a valid internationalized domain name")
        }
        Err(url::ParseError::InvalidIpv4Address) => Err("the host is not a valid IPv4 address"),
        Err(_) => Err("the host has characters a host name cannot have"),
    }
}

/// The port given, or the protocol's when there is none.
fn parse_port(port: Option<&str>, protocol: ProxyProtocol) -> Result<u16, &'static str> {
    match port {
        None | Some("") => Ok(protocol.default_port()),
        Some(port) => match port.parse::<u16>() {
            Ok(port) if port > 0 => Ok(port),
            _ => Err("the port is not a number from 1 to 65535"),
        },
    }
}

/// Decodes `%XX` escapes; `None` for a broken escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = char::from(bytes.next()?).to_digit(16)?;
            let lo = char::from(bytes.next()?).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// A proxy setting could not be understood: a proxy URI that does not parse, or has an
/// unsupported scheme. Found when the layer is built, never per request.
///
/// Its message quotes the setting with userinfo and secret query parameters replaced
/// by `***` (see [`crate::redact`]).
#[derive(Debug)]
pub struct ProxyConfigError {
    input: String,
    variable: Option<&'static str>,
    reason: &'static str,
}

impl ProxyConfigError {
    fn new(input: &str, reason: &'static str) -> ProxyConfigError {
        ProxyConfigError {
            input: redact_setting(input),
            variable: None,
            reason,
        }
    }

    pub(super) fn in_variable(mut self, name: &'static str) -> ProxyConfigError {
        self.variable = Some(name);
        self
    }

    /// The environment variable that held the setting, for
    /// [`ProxyLayer::from_env`](super::ProxyLayer::from_env).
    pub fn variable(&self) -> Option<&'static str> {
        self.variable
    }
}

/// A proxy setting as an error quotes it. It is free text, not always a URL (a
/// mistyped scheme, a `?` before `://`), so everything before its last `@` after the
/// scheme is hidden whatever its shape; the rest goes through the usual redaction.
fn redact_setting(input: &str) -> String {
    match input.rfind('@') {
        Some(at) => {
            let start = input[..at].find("://").map_or(0, |i| i + 3);
            let rest = crate::redact::Redaction::new().text(&input[at + 1..]);
            format!("{}***@{rest}", &input[..start])
        }
        None => crate::redact::Redaction::new().text(input),
    }
}

impl fmt::Display for ProxyConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid proxy URI `{}`", self.input)?;
        if let Some(name) = self.variable {
            write!(f, " in {name}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl StdError for ProxyConfigError {}

/// Whether `name` (an A-label host from the URL parser) is made of what DNS names
/// hold: ASCII letters, digits, `-`, `_` and `.`.
fn is_dns_name(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
