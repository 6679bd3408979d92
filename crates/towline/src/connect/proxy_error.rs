//! Why a proxy could not carry a request.

use std::error::Error as StdError;
use std::fmt;

use http::StatusCode;

use crate::error::{BoxError, Classify, Kind};

/// A proxy could not be reached, refused to carry the request, or broke the protocol.
///
/// It is the cause ([`source()`](std::error::Error::source)) of a towline
/// [`Error`](crate::Error) that is [`is_proxy()`](crate::Error::is_proxy). When the
/// proxy answered `CONNECT` with anything but `2xx`, [`status`](Self::status) holds the
/// status; `407 Proxy Authentication Required` makes
/// [`is_auth_required`](Self::is_auth_required) true, as does a SOCKS5 proxy that wants
/// credentials or rejected them.
#[derive(Debug)]
pub struct ProxyError {
    proxy: String,
    target: String,
    kind: ErrorKind,
    source: Option<BoxError>,
}

#[derive(Debug)]
pub(crate) enum ErrorKind {
    /// Dialing the proxy failed.
    Unreachable,
    /// The proxy answered `CONNECT` with a status other than 2xx.
    Refused {
        status: StatusCode,
        credentials_sent: bool,
    },
    /// The proxy broke the protocol (`CONNECT` response or SOCKS5 messages).
    Protocol(&'static str),
    /// Reading from or writing to the proxy failed during the handshake.
    Io,
    /// The handshake did not finish within the connector's
    /// `proxy_handshake_timeout`; the `TimedOut` is the source.
    TimedOut,
    /// The SOCKS5 proxy accepts none of the authentication methods offered.
    SocksNoMethod { credentials_offered: bool },
    /// The SOCKS5 proxy rejected the username and password.
    SocksCredentialsRejected,
    /// The SOCKS5 proxy answered the connect request with a failure code.
    SocksReply(u8),
    /// The request cannot be expressed to this proxy (a name or credentials too long
    /// for SOCKS5).
    Unsupported(&'static str),
}

impl ProxyError {
    pub(crate) fn new(
        proxy: impl fmt::Display,
        target: impl fmt::Display,
        kind: ErrorKind,
    ) -> ProxyError {
        ProxyError {
            proxy: proxy.to_string(),
            target: target.to_string(),
            kind,
            source: None,
        }
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> ProxyError {
        self.source = Some(source.into());
        self
    }

    /// The proxy, as `host:port`.
    pub fn proxy(&self) -> &str {
        &self.proxy
    }

    /// The status the proxy answered a `CONNECT` request with, when it refused to open
    /// the tunnel.
    pub fn status(&self) -> Option<StatusCode> {
        match self.kind {
            ErrorKind::Refused { status, .. } => Some(status),
            _ => None,
        }
    }

    /// The proxy wants credentials, or rejected the ones it was given: a `407` answer
    /// to `CONNECT` (or `401`, which tinyproxy answers to wrong credentials; only the
    /// proxy can answer a `CONNECT`), or a SOCKS5 proxy that refused the offered
    /// authentication methods or the username and password.
    pub fn is_auth_required(&self) -> bool {
        match self.kind {
            ErrorKind::Refused { status, .. } => is_auth_status(status),
            ErrorKind::SocksNoMethod { .. } | ErrorKind::SocksCredentialsRejected => true,
            _ => false,
        }
    }

    /// The failure code of a SOCKS5 proxy's reply (RFC 1928 §6: `1` general failure to
    /// `8` address type not supported), when it could not connect to the origin.
    pub fn socks_reply(&self) -> Option<u8> {
        match self.kind {
            ErrorKind::SocksReply(code) => Some(code),
            _ => None,
        }
    }

    /// Whether the proxy itself could not be reached.
    pub fn is_unreachable(&self) -> bool {
        matches!(self.kind, ErrorKind::Unreachable)
    }
}

fn is_auth_status(status: StatusCode) -> bool {
    status == StatusCode::PROXY_AUTHENTICATION_REQUIRED || status == StatusCode::UNAUTHORIZED
}

/// What a SOCKS5 reply code means (RFC 1928 §6).
pub(crate) fn socks_reply_text(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by ruleset",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused by destination host",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unassigned failure code",
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (proxy, target) = (&self.proxy, &self.target);
        match &self.kind {
            ErrorKind::Unreachable => write!(f, "could not reach the proxy {proxy}")?,
            ErrorKind::Refused {
                status,
                credentials_sent,
            } => {
                write!(
                    f,
                    "the proxy {proxy} refused to open a tunnel to {target}: {}",
                    status.as_u16()
                )?;
                if let Some(reason) = status.canonical_reason() {
                    write!(f, " {reason}")?;
                }
                if is_auth_status(*status) {
                    f.write_str(if *credentials_sent {
                        " (the proxy did not accept the credentials)"
                    } else {
                        " (the proxy requires authentication; no credentials were given)"
                    })?;
                }
            }
            ErrorKind::Protocol(what) => write!(f, "the proxy {proxy} {what}")?,
            ErrorKind::Io => write!(f, "the handshake with the proxy {proxy} failed")?,
            ErrorKind::TimedOut => write!(
                f,
                "the handshake with the proxy {proxy} for {target} did not finish within proxy_handshake_timeout"
            )?,
            ErrorKind::SocksNoMethod {
                credentials_offered: false,
            } => write!(
                f,
                "the SOCKS5 proxy {proxy} requires authentication; no credentials were given"
            )?,
            ErrorKind::SocksNoMethod {
                credentials_offered: true,
            } => write!(
                f,
                "the SOCKS5 proxy {proxy} accepts neither no authentication nor a username and password"
            )?,
            ErrorKind::SocksCredentialsRejected => write!(
                f,
                "the SOCKS5 proxy {proxy} rejected the username and password"
            )?,
            ErrorKind::SocksReply(code) => write!(
                f,
                "the SOCKS5 proxy {proxy} could not connect to {target}: {} (reply code {code})",
                socks_reply_text(*code)
            )?,
            ErrorKind::Unsupported(what) => {
                write!(f, "cannot reach {target} through the proxy {proxy}: {what}")?
            }
        }
        // The cause is `source()`'s, not repeated here.
        Ok(())
    }
}

impl StdError for ProxyError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

impl Classify for ProxyError {
    const KIND: Kind = Kind::Proxy;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_written_text() {
        let err = ProxyError::new(
            "127.0.0.1:3128",
            "example.test:443",
            ErrorKind::Refused {
                status: StatusCode::PROXY_AUTHENTICATION_REQUIRED,
                credentials_sent: false,
            },
        );
        assert_eq!(
            err.to_string(),
            "the proxy 127.0.0.1:3128 refused to open a tunnel to example.test:443: \
             407 Proxy Authentication Required (the proxy requires authentication; \
             no credentials were given)"
        );
        assert!(err.is_auth_required());
        assert_eq!(
            err.status(),
            Some(StatusCode::PROXY_AUTHENTICATION_REQUIRED)
        );

        let err = ProxyError::new("p:1080", "h.test:80", ErrorKind::SocksReply(5));
        assert_eq!(
            err.to_string(),
            "the SOCKS5 proxy p:1080 could not connect to h.test:80: \
             connection refused by destination host (reply code 5)"
        );
        assert_eq!(err.socks_reply(), Some(5));
        assert!(!err.is_auth_required());
        for (code, text) in [
            (1, "general SOCKS server failure"),
            (2, "connection not allowed by ruleset"),
            (3, "network unreachable"),
            (4, "host unreachable"),
            (6, "TTL expired"),
            (7, "command not supported"),
            (8, "address type not supported"),
            (9, "unassigned failure code"),
        ] {
            assert_eq!(socks_reply_text(code), text);
        }
    }
}
