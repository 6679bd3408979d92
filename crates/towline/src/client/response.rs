//! A [`Client`](super::Client) response and its helpers.

use std::fmt;
use std::ops::{Deref, DerefMut};

use bytes::Bytes;
use http::Uri;
use http::header::CONTENT_TYPE;
use http_body_util::BodyExt;

use super::ResponseBody;
use crate::body::{read_body, read_body_limited};
use crate::connect::{ConnectionInfo, EffectiveUri};
use crate::error::{Error, Kind, LengthLimitExceeded, Message};

/// An upgraded connection (see [`Response::upgrade`]): a tokio `AsyncRead` and
/// `AsyncWrite` stream.
pub type Upgraded = hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>;

/// A response: an `http::Response` (it derefs to one) with reading helpers.
pub struct Response {
    inner: http::Response<ResponseBody>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.inner.status())
            .field("version", &self.inner.version())
            .field("headers", self.inner.headers())
            .finish_non_exhaustive()
    }
}

impl Deref for Response {
    type Target = http::Response<ResponseBody>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl DerefMut for Response {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

impl From<Response> for http::Response<ResponseBody> {
    fn from(response: Response) -> Self {
        response.inner
    }
}

impl Response {
    pub(super) fn new(inner: http::Response<ResponseBody>) -> Response {
        Response { inner }
    }

    /// The response if its status is not an error, else an error that is
    /// [`is_status()`](Error::is_status), carrying the status
    /// ([`Error::status`]) and the URI ([`Error::uri`]). The body of an error
    /// response is dropped (read it first to keep its connection).
    pub fn error_for_status(self) -> Result<Response, Error> {
        match self.status_error() {
            Some(err) => Err(err),
            None => Ok(self),
        }
    }

    /// [`error_for_status`](Self::error_for_status) without giving the response up.
    pub fn error_for_status_ref(&self) -> Result<&Response, Error> {
        match self.status_error() {
            Some(err) => Err(err),
            None => Ok(self),
        }
    }

    fn status_error(&self) -> Option<Error> {
        let status = self.inner.status();
        (status.is_client_error() || status.is_server_error()).then(|| {
            Error::new(
                Kind::Status,
                Some(Box::new(crate::error::StatusError::new(status))),
            )
            .with_uri(self.effective_uri().clone())
        })
    }

    /// The connection of a `101 Switching Protocols` answer, handed over for the
    /// protocol the request asked for with `Upgrade` (a WebSocket handshake, say). The
    /// connection never goes back to the pool. HTTP/1.1 only: for `https://` with a
    /// server that picks HTTP/2, build the client with
    /// [`http1_only`](super::ClientBuilder::http1_only).
    ///
    /// Fails when the status is not 101, or when the connection closed first.
    pub async fn upgrade(self) -> Result<Upgraded, Error> {
        if self.inner.status() != http::StatusCode::SWITCHING_PROTOCOLS {
            let msg = Message("the response is not 101 Switching Protocols: nothing to upgrade");
            return Err(Error::new(Kind::Request, Some(Box::new(msg))));
        }
        hyper::upgrade::on(self.inner)
            .await
            .map(hyper_util::rt::TokioIo::new)
            .map_err(|e| Error::new(Kind::Request, Some(Box::new(e))))
    }

    /// The `http::Response` itself.
    pub fn into_inner(self) -> http::Response<ResponseBody> {
        self.inner
    }

    /// The URI the response came from, after redirects.
    pub fn effective_uri(&self) -> &Uri {
        static EMPTY: std::sync::OnceLock<Uri> = std::sync::OnceLock::new();
        match self.inner.extensions().get::<EffectiveUri>() {
            Some(uri) => &uri.0,
            None => EMPTY.get_or_init(|| Uri::from_static("/")),
        }
    }

    /// The redirects followed before this response, if any.
    #[cfg(feature = "redirect")]
    pub fn history(&self) -> Option<&crate::redirect::RedirectHistory> {
        self.inner.extensions().get()
    }

    /// The connection the response came over: fresh or reused, addresses, TLS.
    pub fn connection_info(&self) -> Option<&ConnectionInfo> {
        self.inner.extensions().get()
    }

    /// The length of the body, when it is known before reading it: from
    /// `Content-Length` (for a body sent without coding), `0` for a body that cannot
    /// have bytes (`HEAD`, `204`, `304`). `None` for a chunked, close-delimited or
    /// decoded body.
    pub fn content_length(&self) -> Option<u64> {
        http_body::Body::size_hint(self.inner.body()).exact()
    }

    /// The address of the server (or of the proxy) the response came from.
    pub fn remote_addr(&self) -> Option<std::net::SocketAddr> {
        self.connection_info().and_then(|info| info.peer_addr)
    }

    /// The cookies of the response's `Set-Cookie` headers, as a jar would store them
    /// for [`effective_uri`](Self::effective_uri): with their domain and path settled,
    /// and without those a jar refuses (another site's domain, a `Secure` cookie over
    /// plain http, a malformed one). The client's own jar, if any, already has them.
    #[cfg(feature = "cookies")]
    pub fn cookies(&self) -> Vec<crate::cookie::Cookie> {
        let set_cookies = self.inner.headers().get_all(http::header::SET_COOKIE);
        if set_cookies.iter().next().is_none() {
            return Vec::new();
        }
        let jar = crate::cookie::Jar::new();
        let uri = self.effective_uri();
        for value in set_cookies {
            let _ = jar.set_cookie(uri, value.as_bytes());
        }
        jar.iter().collect()
    }

    /// Reads the whole body, up to the client's
    /// [`max_response_body`](super::ClientBuilder::max_response_body) (256 MiB by
    /// default), counted after decoding. Past it, the read fails with an error that is
    /// [`is_decode()`](Error::is_decode) for a decoded body and
    /// [`is_body()`](Error::is_body) otherwise.
    pub async fn bytes(self) -> Result<Bytes, Error> {
        let cap = self.inner.body().buffered_cap();
        let Some(limit) = cap.limit else {
            return read_body(self.inner.into_body()).await;
        };
        let uri = self.effective_uri().clone();
        let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
        match read_body_limited(self.inner.into_body(), limit_usize).await {
            Err(err) if is_over_limit(&err) => {
                let err = match cap.decoded {
                    #[cfg(feature = "decompress")]
                    Some(coding) => Error::new(
                        Kind::Decode,
                        Some(Box::new(crate::decompress::DecodedTooLarge::new(
                            limit, coding,
                        ))),
                    ),
                    _ => err,
                };
                Err(match err.uri() {
                    None if uri.scheme().is_some() => err.with_uri(uri),
                    _ => err,
                })
            }
            other => other,
        }
    }

    /// Reads the whole body, failing once it passes `limit` bytes.
    pub async fn bytes_limited(self, limit: usize) -> Result<Bytes, Error> {
        read_body_limited(self.inner.into_body(), limit).await
    }

    /// Reads the whole body as text, decoded by the `charset` of `Content-Type`.
    ///
    /// UTF-8 (the default when none is named), US-ASCII and ISO-8859-1 are decoded;
    /// invalid UTF-8 sequences become U+FFFD. Another charset is an error: read the
    /// [`bytes`](Self::bytes) and decode them yourself.
    pub async fn text(self) -> Result<String, Error> {
        let charset = self
            .inner
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(charset_of)
            .map(|c| c.to_ascii_lowercase());
        let bytes = self.bytes().await?;
        match charset.as_deref() {
            None | Some("utf-8" | "utf8" | "us-ascii" | "ascii") => {
                Ok(String::from_utf8_lossy(&bytes).into_owned())
            }
            Some("iso-8859-1" | "latin1" | "l1" | "iso_8859-1") => {
                Ok(bytes.iter().map(|&b| char::from(b)).collect())
            }
            Some(_) => Err(Error::new(
                Kind::Decode,
                Some(Box::new(Message(
                    "the body's charset is not one towline decodes (UTF-8, US-ASCII, ISO-8859-1)",
                ))),
            )),
        }
    }

    /// Reads the whole body as JSON.
    #[cfg(feature = "json")]
    pub async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, Error> {
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::new(Kind::Decode, Some(Box::new(e))))
    }

    /// The next chunk of the body, or `None` at its end: for streaming without
    /// holding the whole body.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            match self.inner.body_mut().frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(e),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}

/// Whether `err` is `read_body_limited`'s own: the body passed the limit.
fn is_over_limit(err: &Error) -> bool {
    std::error::Error::source(err).is_some_and(|s| s.is::<LengthLimitExceeded>())
}

/// The `charset` parameter of a `Content-Type` value.
fn charset_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::charset_of;

    #[test]
    fn charset_parameter() {
        assert_eq!(
            charset_of("text/plain; charset=ISO-8859-1"),
            Some("ISO-8859-1")
        );
        assert_eq!(charset_of("text/html;Charset=\"utf-8\""), Some("utf-8"));
        assert_eq!(charset_of("application/json"), None);
    }
}
