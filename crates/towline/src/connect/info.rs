//! What the connector tells about a response, as response extensions.

use std::net::SocketAddr;

use http::{Uri, Version};

/// The absolute URI of the request that produced a response (Twisted's
/// `IClientRequest.absoluteURI`).
///
/// After redirects this is the URI of the last hop.
///
/// Its `Debug` shows the URI with userinfo and the default secret query parameters
/// redacted (see [`crate::redact`]); the field holds it unchanged.
#[derive(Clone, PartialEq, Eq)]
pub struct EffectiveUri(pub Uri);

impl std::fmt::Debug for EffectiveUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("EffectiveUri")
            .field(&crate::redact::uri(&self.0))
            .finish()
    }
}

/// The head of the request as the connector handed it to the connection: method,
/// request target and header fields, with what the layers and the connector added
/// (`Host`, `Cookie`, `Accept-Encoding`, `Proxy-Authorization`, …). A response
/// extension, set only when [`Builder::record_request_heads`](super::Builder::record_request_heads)
/// is on (it costs a copy of the headers per request); a redirect hop keeps it in
/// [`Hop::extensions`](crate::redirect::Hop::extensions) where that layer is built in.
///
/// Over HTTP/2 `Host` is shown as it was handed over, though hyper sends it as the
/// `:authority` pseudo-header. Sensitive values are here as sent: redact them before
/// printing (their [`HeaderValue::is_sensitive`](http::HeaderValue::is_sensitive)
/// flag is kept).
///
/// Its `Debug` hides credentials and cookies and redacts URLs, as every output does.
#[derive(Clone)]
pub struct RequestHead {
    method: http::Method,
    target: String,
    headers: http::HeaderMap,
}

impl RequestHead {
    /// The head of `wire` as the connector hands it to the connection.
    pub(crate) fn of<B>(wire: &http::Request<B>) -> RequestHead {
        RequestHead::new(
            wire.method().clone(),
            wire.uri().to_string(),
            wire.headers().clone(),
        )
    }

    pub(crate) fn new(
        method: http::Method,
        target: String,
        headers: http::HeaderMap,
    ) -> RequestHead {
        RequestHead {
            method,
            target,
            headers,
        }
    }

    /// The request method.
    pub fn method(&self) -> &http::Method {
        &self.method
    }

    /// The request target as written: origin-form (`/path?query`), or absolute-form
    /// through an HTTP proxy.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The header fields.
    pub fn headers(&self) -> &http::HeaderMap {
        &self.headers
    }
}

/// A request extension that makes the connector send the request on a newly opened
/// connection instead of a pooled one.
///
/// `towline::retry::RetryStale` puts it on the retry, as Twisted's pool
/// does, so a retried request cannot meet a second stale connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FreshConnection;

/// How a response travelled: over which connection, and whether that connection came
/// from the pool.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// `true` when the connection had carried an earlier request and was taken from the
    /// pool; `false` when it was opened for this request.
    pub reused: bool,
    /// The local address of the connection, when the dialer knows it.
    pub local_addr: Option<SocketAddr>,
    /// The remote address of the connection, when the dialer knows it: the proxy's,
    /// for a request sent through one.
    pub peer_addr: Option<SocketAddr>,
    /// The HTTP version spoken on the connection.
    pub version: Version,
    /// The protocol agreed with ALPN during the TLS handshake with the origin (`h2`,
    /// `http/1.1`), if any. This and the TLS fields below describe TLS with the origin,
    /// never with an `https://` proxy.
    pub alpn_protocol: Option<bytes::Bytes>,
    /// The TLS version of the connection, for `https://`.
    #[cfg(feature = "tls")]
    pub tls_version: Option<rustls::ProtocolVersion>,
    /// The certificate chain the server presented (DER, leaf first), for `https://`.
    #[cfg(feature = "tls")]
    pub peer_certificates: Option<std::sync::Arc<[rustls::pki_types::CertificateDer<'static>]>>,
}

/// How the end of a response body is marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Framing {
    /// `Content-Length: n`, or no body at all (`Length(0)` for HEAD, 1xx, 204 and 304).
    /// A body that ends short fails as truncated.
    Length(u64),
    /// `Transfer-Encoding: chunked`: the body ends with a last chunk. A connection closed
    /// before it fails as truncated.
    Chunked,
    /// HTTP/2 without `Content-Length`: the body ends with a frame flagged
    /// `END_STREAM`. A stream reset before it fails.
    EndStream,
    /// Neither: the body ends when the server closes the connection (Twisted's
    /// `PotentialDataLoss`). A body cut short by a network failure looks the same as a
    /// complete one, so its completeness cannot be proven.
    CloseDelimited,
}

impl Framing {
    /// Whether the end of the body can be told from a connection that died early.
    pub fn is_provable(&self) -> bool {
        !matches!(self, Framing::CloseDelimited)
    }
}

impl std::fmt::Debug for RequestHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redaction = crate::redact::Redaction::new();
        f.debug_struct("RequestHead")
            .field("method", &self.method)
            .field("target", &redaction.text(&self.target))
            .field(
                "headers",
                &crate::redact::Headers(&self.headers, &redaction),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_heads_debug_hides_credentials() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::COOKIE, "sid=SECRET1".parse().expect("v"));
        headers.insert(
            http::header::AUTHORIZATION,
            "Bearer SECRET2".parse().expect("v"),
        );
        headers.insert("x-plain", "visible".parse().expect("v"));
        let head = RequestHead::new(
            http::Method::GET,
            "http://u:SECRET3@h.test/?access_token=SECRET4".into(),
            headers,
        );
        let text = format!("{head:?}");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(
            text.contains("visible") && text.contains("h.test"),
            "{text}"
        );
    }
}
