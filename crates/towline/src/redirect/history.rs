use std::slice;

use http::header::LOCATION;
use std::fmt;

use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};

use crate::redact::{self, Redaction};

/// The redirects a response went through, oldest first (Twisted's chain of
/// `previousResponse`).
///
/// [`FollowRedirect`](super::FollowRedirect) puts it on the final response as an
/// extension when at least one redirect was followed; a response that was not
/// redirected has none. [`TooManyRedirects`](super::TooManyRedirects) carries one too.
///
/// ```
/// # use towline::redirect::RedirectHistory;
/// # fn show(response: &http::Response<()>) {
/// if let Some(history) = response.extensions().get::<RedirectHistory>() {
///     for hop in history {
///         println!("{} {} -> {}", hop.method(), hop.uri(), hop.status());
///     }
/// }
/// # }
/// ```
///
/// See the [module docs](super) for how it is built.
///
/// Its `Debug` shows URIs and headers redacted (see [`crate::redact`]); the accessors
/// return them unchanged.
#[derive(Clone, Default)]
pub struct RedirectHistory {
    hops: Vec<Hop>,
    fragment: Option<String>,
}

/// One redirect in a [`RedirectHistory`]: the request that was redirected and the head
/// of the 3xx response it got.
///
/// Its `Debug` shows the URI and headers redacted (see [`crate::redact`]).
#[derive(Clone)]
pub struct Hop {
    method: Method,
    uri: Uri,
    status: StatusCode,
    headers: HeaderMap,
    redaction: Redaction,
    extensions: http::Extensions,
}

impl RedirectHistory {
    pub(super) fn new(hops: Vec<Hop>, fragment: Option<String>) -> RedirectHistory {
        RedirectHistory { hops, fragment }
    }

    /// Every hop, oldest first.
    pub fn hops(&self) -> &[Hop] {
        &self.hops
    }

    /// Iterates over the hops, oldest first.
    pub fn iter(&self) -> slice::Iter<'_, Hop> {
        self.hops.iter()
    }

    /// How many redirects there were.
    pub fn len(&self) -> usize {
        self.hops.len()
    }

    /// Whether there were none.
    pub fn is_empty(&self) -> bool {
        self.hops.is_empty()
    }

    /// The URI the caller asked for, before any redirect.
    pub fn original_uri(&self) -> Option<&Uri> {
        self.hops.first().map(Hop::uri)
    }

    /// The fragment of the final URI, which `http::Uri` cannot hold.
    ///
    /// A `Location` may carry a fragment (`/page#part`); a later redirect without one
    /// inherits it (RFC 9110 §10.2.2). It is never sent to a server, so the request
    /// URIs and [`EffectiveUri`](crate::connect::EffectiveUri) lack it; it is kept here
    /// for callers that show or follow the final address, as a browser would.
    pub fn fragment(&self) -> Option<&str> {
        self.fragment.as_deref()
    }
}

impl<'a> IntoIterator for &'a RedirectHistory {
    type Item = &'a Hop;
    type IntoIter = slice::Iter<'a, Hop>;

    fn into_iter(self) -> Self::IntoIter {
        self.hops.iter()
    }
}

impl Hop {
    pub(super) fn new(
        method: Method,
        uri: Uri,
        status: StatusCode,
        headers: HeaderMap,
        redaction: Redaction,
        extensions: http::Extensions,
    ) -> Hop {
        Hop {
            method,
            uri,
            status,
            headers,
            redaction,
            extensions,
        }
    }

    /// The method of the request that was redirected.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URI of the request that was redirected.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The redirect status (301, 302, 303, 307 or 308).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers of the redirect response, `Set-Cookie` and `Location` included.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The extensions of the redirect response, as the service below set them: with
    /// towline's connector, the hop's
    /// [`ConnectionInfo`](crate::connect::ConnectionInfo) (new or reused connection,
    /// address, TLS and ALPN) and [`EffectiveUri`](crate::connect::EffectiveUri).
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }

    /// The `Location` header as the server sent it, before resolution.
    pub fn location(&self) -> Option<&HeaderValue> {
        self.headers.get(LOCATION)
    }
}

impl fmt::Debug for RedirectHistory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redaction = self.hops.first().map_or(&redact::DEFAULT, |h| &h.redaction);
        f.debug_struct("RedirectHistory")
            .field("hops", &self.hops)
            .field(
                "fragment",
                &self
                    .fragment
                    .as_deref()
                    .map(|fragment| redaction.text(&format!("#{fragment}"))),
            )
            .finish()
    }
}

impl fmt::Debug for Hop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hop")
            .field("method", &self.method)
            .field("uri", &self.redaction.uri(&self.uri))
            .field("status", &self.status)
            .field("headers", &redact::Headers(&self.headers, &self.redaction))
            .finish()
    }
}
