//! The crate's error type.
//!
//! Every failure towline reports reaches the caller as one opaque [`Error`]. Ask it what
//! went wrong with [`Error::kind`] or the `is_*` methods, read the URI it concerns with
//! [`Error::uri`], and walk [`std::error::Error::source`] for the underlying cause. The
//! causes towline defines itself ([`StaleConnection`], [`TimedOut`], [`Truncated`],
//! [`LengthMismatch`], [`LengthLimitExceeded`], [`DialError`](crate::connect::DialError),
//! [`ProxyError`](crate::connect::ProxyError)) are public so that code holding a
//! [`BoxError`] can downcast to them.
//!
//! An error's `Display` is its own line, without its cause's text (the Rust
//! convention, so `anyhow` and `eyre` reports name each cause once);
//! [`Error::report`] writes the whole chain on one line. `Display` and `Debug` show
//! the URI through [`crate::redact`]: no userinfo, no secret query parameter;
//! [`Error::without_uri`] drops it altogether.
//!
//! ```
//! use tower::ServiceExt;
//! use towline::body::Body;
//! use towline::connect::Connector;
//! use towline::{Error, Kind};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // A port nothing listens on: bound, then closed.
//! let port = std::net::TcpListener::bind("127.0.0.1:0")
//!     .and_then(|l| l.local_addr())
//!     .map(|a| a.port())
//!     .expect("a free port");
//! let request = http::Request::get(format!("http://127.0.0.1:{port}/"))
//!     .body(Body::empty())
//!     .expect("a valid request");
//! let err: Error = Connector::new()
//!     .oneshot(request)
//!     .await
//!     .expect_err("nothing listens there");
//! assert_eq!(err.kind(), Kind::Connect);
//! assert!(err.is_connect() && !err.is_timeout());
//! assert_eq!(err.uri().map(|u| u.port_u16()), Some(Some(port)));
//! // `Display` is the error's own line; the cause is reachable with `source()`, and
//! // `report()` writes the whole chain on one line.
//! assert_eq!(err.to_string(), format!("connection failed for http://127.0.0.1:{port}/"));
//! assert!(std::error::Error::source(&err).is_some());
//! assert!(err.report().to_string().contains(": could not connect to 127.0.0.1:"));
//!
//! // A request towline refuses before any I/O.
//! let bad = http::Request::get("/no/scheme").body(Body::empty()).expect("a request");
//! let err = Connector::new().oneshot(bad).await.expect_err("no scheme");
//! assert!(err.is_invalid_request());
//! # }
//! ```

use std::error::Error as StdError;
use std::fmt;

use http::Uri;

use crate::redact::Redaction;

mod causes;
mod classify;
#[cfg(test)]
mod tests;

pub(crate) use causes::Message;
pub use causes::{
    LengthLimitExceeded, LengthMismatch, StaleConnection, StatusError, TimedOut, Truncated,
};
use classify::class_in;
pub(crate) use classify::{Causes, Classify, Probe, probe, walk};

/// A type-erased error, as used by tower.
pub type BoxError = Box<dyn StdError + Send + Sync>;

/// A `Result` whose error is towline's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error type of towline.
///
/// It is small (one pointer), `Send + Sync + 'static`, and carries a [`Kind`], the URI of
/// the request when known, and a chain of causes reachable with
/// [`source()`](std::error::Error::source).
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    uri: Option<Uri>,
    source: Option<BoxError>,
    redaction: Redaction,
}

/// What class of failure an [`Error`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// The request was refused before any I/O: a URI without scheme or host, an
    /// unsupported scheme, or forbidden bytes in the method, URI or a header.
    InvalidRequest,
    /// Resolving the host or opening the connection failed (timeouts included).
    Connect,
    /// Sending the request or waiting for the response head failed.
    Request,
    /// The server's response head could not be parsed.
    Response,
    /// Sending the request body or reading the response body failed.
    Body,
    /// An operation ran out of time.
    Timeout,
    /// A redirect could not be followed (see [`Error::is_redirect`]).
    Redirect,
    /// A response body could not be decoded (see [`Error::is_decode`]).
    Decode,
    /// The TLS handshake failed (an untrusted, expired or mismatched certificate, an
    /// alert), or a TLS configuration could not be built.
    Tls,
    /// A proxy refused the request or failed its handshake (see [`Error::is_proxy`]).
    Proxy,
    /// The server answered with a 4xx or 5xx status, made an error by
    /// [`Response::error_for_status`](crate::Response::error_for_status).
    Status,
}

impl Error {
    pub(crate) fn new(kind: Kind, source: Option<BoxError>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                uri: None,
                source,
                redaction: Redaction::new(),
            }),
        }
    }

    pub(crate) fn with_uri(mut self, uri: Uri) -> Error {
        self.inner.uri = Some(uri);
        self
    }

    /// Sets the redaction that `Display` and `Debug` show the URI with.
    pub(crate) fn with_redaction(mut self, redaction: &Redaction) -> Error {
        if self.inner.redaction != *redaction {
            self.inner.redaction = redaction.clone();
        }
        self
    }

    pub(crate) fn invalid_request(msg: &'static str) -> Error {
        Error::new(Kind::InvalidRequest, Some(Box::new(Message(msg))))
    }

    /// Turns any boxed error into a towline [`Error`]: an `Error` inside the box is
    /// returned as it is, anything else is wrapped with the given kind.
    pub(crate) fn from_boxed(err: BoxError, kind: Kind) -> Error {
        match err.downcast::<Error>() {
            Ok(err) => *err,
            Err(other) => Error::new(kind, Some(other)),
        }
    }

    /// Turns a boxed error into a towline [`Error`]: an `Error` inside the box is returned
    /// as it is; anything else gets the first kind of `look_for` that the error or a cause
    /// in its `source()` chain states through [`Classify`], or else `otherwise`.
    pub(crate) fn from_boxed_as(err: BoxError, look_for: &[Kind], otherwise: Kind) -> Error {
        let chain: &(dyn StdError + 'static) = &*err;
        let kind = look_for
            .iter()
            .copied()
            .find(|&kind| class_in(chain, |class| class.kind == kind).is_some())
            .unwrap_or(otherwise);
        Error::from_boxed(err, kind)
    }

    /// Turns the error of a response body into a towline [`Error`]: an `Error` inside
    /// the box is returned as it is, a decoding failure gets [`Kind::Decode`], anything
    /// else [`Kind::Body`]. Used by [`read_body`](crate::body::read_body) and the
    /// `Client`'s bodies.
    pub(crate) fn from_body(err: BoxError) -> Error {
        Error::from_boxed_as(err, &[Kind::Decode], Kind::Body)
    }

    /// The class of this error.
    pub fn kind(&self) -> Kind {
        self.inner.kind
    }

    /// The URI of the request this error concerns, if known.
    pub fn uri(&self) -> Option<&Uri> {
        self.inner.uri.as_ref()
    }

    /// Removes the URI, for callers who log errors verbatim and want no URL in their
    /// logs at all. (`Display` and `Debug` already hide userinfo and secret query
    /// parameters; see [`crate::redact`].)
    pub fn without_uri(mut self) -> Error {
        self.inner.uri = None;
        self
    }

    /// The request was refused before any I/O because it was malformed.
    pub fn is_invalid_request(&self) -> bool {
        self.inner.kind == Kind::InvalidRequest
    }

    /// Resolving the host or connecting to it failed.
    pub fn is_connect(&self) -> bool {
        self.inner.kind == Kind::Connect
    }

    /// The host name could not be resolved. Such an error is also [`is_connect`](Self::is_connect).
    pub fn is_resolve(&self) -> bool {
        self.source_chain()
            .and_then(|chain| class_in(chain, |class| class.resolve.is_some()))
            .and_then(|class| class.resolve)
            .unwrap_or(false)
    }

    /// The TLS handshake failed or a TLS configuration was refused.
    pub fn is_tls(&self) -> bool {
        self.inner.kind == Kind::Tls
    }

    /// A proxy was involved in the failure: it could not be reached, refused to open a
    /// tunnel (the status it answered is in the
    /// [`ProxyError`](crate::connect::ProxyError) of the `source()` chain; `407` means it
    /// wants credentials), or broke the SOCKS5 or `CONNECT` handshake. An unreachable
    /// proxy is also [`is_connect`](Self::is_connect).
    pub fn is_proxy(&self) -> bool {
        self.inner.kind == Kind::Proxy || self.has_cause_of(Kind::Proxy)
    }

    /// Sending the request or receiving the response head failed.
    pub fn is_request(&self) -> bool {
        self.inner.kind == Kind::Request
    }

    /// The response head was malformed.
    pub fn is_response(&self) -> bool {
        self.inner.kind == Kind::Response
    }

    /// Sending the request body or reading the response body failed.
    pub fn is_body(&self) -> bool {
        self.inner.kind == Kind::Body
    }

    /// The response body ended before its declared end: fewer bytes than
    /// `Content-Length`, or a connection closed in the middle of a chunked body.
    pub fn is_truncated(&self) -> bool {
        self.find::<Truncated>().is_some()
    }

    /// A response body could not be decoded: its coded data was corrupt, truncated,
    /// failed a checksum or length check, or had bytes after its end (a
    /// `towline::decompress::DecodeError`), or it decoded to more than the
    /// layer's limit (a `towline::decompress::DecodedTooLarge`).
    pub fn is_decode(&self) -> bool {
        self.inner.kind == Kind::Decode || self.has_cause_of(Kind::Decode)
    }

    /// Following a redirect failed: more redirects than the limit, a target that is
    /// neither http nor https, a refused https-to-http downgrade, or two different
    /// `Location`s. The redirect layer's error types (`TooManyRedirects`,
    /// `UnsupportedScheme`, `DowngradeRefused`, `ConflictingLocations`) can be found in
    /// the [`source()`](std::error::Error::source) chain.
    pub fn is_redirect(&self) -> bool {
        self.inner.kind == Kind::Redirect || self.has_cause_of(Kind::Redirect)
    }

    /// The error is a 4xx or 5xx answer made an error by
    /// [`Response::error_for_status`](crate::Response::error_for_status).
    pub fn is_status(&self) -> bool {
        self.inner.kind == Kind::Status || self.find::<StatusError>().is_some()
    }

    /// The status of an [`is_status`](Self::is_status) error.
    pub fn status(&self) -> Option<http::StatusCode> {
        self.find::<StatusError>().map(StatusError::status)
    }

    /// An operation ran out of time (a connect timeout is also [`is_connect`](Self::is_connect)).
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == Kind::Timeout || self.find::<TimedOut>().is_some()
    }

    /// The request failed on a pooled connection that the server had already given up.
    ///
    /// See [`StaleConnection`] for what is known about such a failure and how to get
    /// an unsent request back.
    pub fn is_stale_connection(&self) -> bool {
        self.stale_connection().is_some()
    }

    /// The [`StaleConnection`] cause of this error, if it has one.
    pub fn stale_connection(&self) -> Option<&StaleConnection> {
        self.find::<StaleConnection>()
    }

    /// Takes back the request that failed on a stale connection without being sent.
    ///
    /// `B` must be the body type the request was sent with. Returns `None` when the
    /// request was (even partly) sent, when the body type differs, when this is not a
    /// stale-connection error, or when the request was already taken.
    pub fn take_unsent_request<B: Send + 'static>(&self) -> Option<http::Request<B>> {
        self.stale_connection()?.take_unsent_request()
    }

    /// The whole chain on one line, for people who want everything: this error's text,
    /// then each cause's, separated by `": "`, each cause once.
    ///
    /// `Display` shows this error's own line only (the Rust convention, so that
    /// `anyhow`'s and `eyre`'s reports, which walk [`source()`](StdError::source)
    /// themselves, do not repeat a cause).
    ///
    /// ```
    /// # fn show(err: &towline::Error) {
    /// eprintln!("error: {}", err.report());
    /// // error: connection failed for http://127.0.0.1:9/: could not connect to
    /// // 127.0.0.1:9: Connection refused (os error 111)
    /// # }
    /// ```
    pub fn report(&self) -> Report<'_> {
        Report(self)
    }

    /// The first cause in the chain that is an `E`.
    fn find<E: StdError + 'static>(&self) -> Option<&E> {
        walk(self.source_chain()?, |err| err.downcast_ref::<E>())
    }

    /// Whether a cause in the chain states `kind` through [`Classify`].
    fn has_cause_of(&self, kind: Kind) -> bool {
        self.source_chain()
            .and_then(|chain| class_in(chain, |class| class.kind == kind))
            .is_some()
    }

    /// The first cause, where the chain starts.
    fn source_chain(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("towline::Error");
        d.field("kind", &self.inner.kind);
        if let Some(uri) = &self.inner.uri {
            d.field("uri", &self.inner.redaction.uri(uri));
        }
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.inner.kind {
            Kind::InvalidRequest => "invalid request",
            Kind::Connect => "connection failed",
            Kind::Request => "request failed",
            Kind::Response => "invalid response",
            Kind::Body => "body failed",
            Kind::Timeout => "timed out",
            Kind::Redirect => "redirect failed",
            Kind::Decode => "decoding the body failed",
            Kind::Tls => "TLS failed",
            Kind::Proxy => "proxy failed",
            Kind::Status => "the server answered with an error status",
        };
        f.write_str(what)?;
        if let Some(uri) = &self.inner.uri {
            write!(f, " for {}", self.inner.redaction.uri(uri))?;
        }
        Ok(())
    }
}

/// An error and its whole chain of causes on one line; see [`Error::report`].
///
/// It works for any error (`Report::new(&err)`), and is what the `towline` command
/// prints.
pub struct Report<'a>(&'a (dyn StdError + 'static));

impl<'a> Report<'a> {
    /// The report of any error.
    pub fn new(err: &'a (dyn StdError + 'static)) -> Report<'a> {
        Report(err)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut written = self.0.to_string();
        f.write_str(&written)?;
        let mut next = self.0.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            // A cause whose text its parent already showed (errors outside towline
            // sometimes print their source too) is written once.
            if !text.is_empty() && !written.contains(&text) {
                write!(f, ": {text}")?;
                written.push_str(": ");
                written.push_str(&text);
            }
            next = cause.source();
        }
        Ok(())
    }
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}
