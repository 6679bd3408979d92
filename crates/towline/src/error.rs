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

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Mutex;

use http::Uri;

use crate::redact::Redaction;

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

/// A cause defined outside this module (by the connector or a layer) that tells the
/// crate [`Error`] what it is, so that this module names none of them: the `is_*`
/// methods and [`Error::from_boxed_as`] find it in a `source()` chain.
///
/// A type implements it beside its definition; `lib.rs`, where the modules meet, lists
/// the implementors in [`Causes`].
pub(crate) trait Classify: StdError + 'static {
    /// The kind of failure this cause is: [`Error::is_redirect`], [`Error::is_decode`]
    /// and [`Error::is_proxy`] hold for an error with such a cause, and the `Client`
    /// gives this kind to an error made from it.
    const KIND: Kind;

    /// Whether this cause is a failed name resolution, for [`Error::is_resolve`]; `None`
    /// when the type cannot tell (the first cause that can decides).
    fn resolve(&self) -> Option<bool> {
        None
    }
}

/// What a cause stated about itself through [`Classify`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Class {
    kind: Kind,
    resolve: Option<bool>,
}

/// Recognises the causes of one type: see [`probe`].
pub(crate) type Probe = fn(&(dyn StdError + 'static)) -> Option<Class>;

/// The probe of the causes of type `E`.
pub(crate) fn probe<E: Classify>(err: &(dyn StdError + 'static)) -> Option<Class> {
    err.downcast_ref::<E>().map(|e| Class {
        kind: E::KIND,
        resolve: e.resolve(),
    })
}

/// The causes the rest of the crate defines, as one [`Probe`] per type.
///
/// Implemented once, for [`Error`], in `lib.rs`, where the modules meet: this module
/// depends on the list, not on the modules in it.
pub(crate) trait Causes {
    /// A probe for each type of cause that implements [`Classify`].
    const PROBES: &'static [Probe];
}

/// The one walker of a `source()` chain: `err`, then each cause in turn, until `look`
/// finds what it looks for.
pub(crate) fn walk<'a, T>(
    err: &'a (dyn StdError + 'static),
    look: impl FnMut(&'a (dyn StdError + 'static)) -> Option<T>,
) -> Option<T> {
    let next = |err: &&'a (dyn StdError + 'static)| (*err).source();
    std::iter::successors(Some(err), next).find_map(look)
}

/// The first [`Class`] that `err` or a cause in its chain states and `wanted` accepts.
fn class_in(err: &(dyn StdError + 'static), wanted: impl Fn(Class) -> bool) -> Option<Class> {
    walk(err, |cause| {
        <Error as Causes>::PROBES
            .iter()
            .filter_map(|probe| probe(cause))
            .find(|&class| wanted(class))
    })
}

/// A fixed message used as the cause of simple errors.
#[derive(Debug)]
pub(crate) struct Message(pub(crate) &'static str);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl StdError for Message {}

/// An operation did not finish within its configured time.
#[derive(Debug)]
pub struct TimedOut {
    what: &'static str,
    after: Option<std::time::Duration>,
}

impl TimedOut {
    #[cfg_attr(
        not(feature = "client"),
        allow(dead_code, reason = "only the client's deadlines have no fixed length")
    )]
    pub(crate) fn new(what: &'static str) -> TimedOut {
        TimedOut { what, after: None }
    }

    /// `what` (naming the bound's setting) ran past `limit`.
    pub(crate) fn after(what: &'static str, limit: std::time::Duration) -> TimedOut {
        TimedOut {
            what,
            after: Some(limit),
        }
    }

    /// The bound that was passed, when the error came from one with a fixed length.
    pub fn limit(&self) -> Option<std::time::Duration> {
        self.after
    }
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} timed out", self.what)?;
        match self.after {
            Some(limit) => write!(f, " after {limit:?}"),
            None => Ok(()),
        }
    }
}

impl StdError for TimedOut {}

/// A response body ended before the end its framing declared.
#[derive(Debug)]
pub struct Truncated {
    received: u64,
    expected: Option<u64>,
}

impl Truncated {
    pub(crate) fn new(received: u64, expected: Option<u64>) -> Truncated {
        Truncated { received, expected }
    }

    /// How many body bytes arrived before the connection ended.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The length the server declared with `Content-Length`, if it did.
    pub fn expected(&self) -> Option<u64> {
        self.expected
    }
}

impl fmt::Display for Truncated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.expected {
            Some(n) => write!(
                f,
                "response body truncated: the connection closed after {} of {n} bytes",
                self.received
            ),
            None => write!(
                f,
                "response body truncated: the connection closed before the last chunk, after {} bytes",
                self.received
            ),
        }
    }
}

impl StdError for Truncated {}

/// A request body produced more or fewer bytes than it declared.
///
/// The connector stops such a body before the server could take it for a complete
/// request, and closes the connection.
#[derive(Debug)]
pub struct LengthMismatch {
    declared: u64,
    produced: u64,
    more: bool,
}

impl LengthMismatch {
    pub(crate) fn new(declared: u64, produced: u64, more: bool) -> LengthMismatch {
        LengthMismatch {
            declared,
            produced,
            more,
        }
    }

    /// The length the body declared (its `Content-Length`).
    pub fn declared(&self) -> u64 {
        self.declared
    }

    /// How many bytes the body had produced when the mismatch was found.
    pub fn produced(&self) -> u64 {
        self.produced
    }
}

impl fmt::Display for LengthMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.more {
            write!(
                f,
                "request body declared {} bytes but produced more ({} so far)",
                self.declared, self.produced
            )
        } else {
            write!(
                f,
                "request body declared {} bytes but ended after {}",
                self.declared, self.produced
            )
        }
    }
}

impl StdError for LengthMismatch {}

/// A body was longer than the limit given to [`read_body_limited`](crate::body::read_body_limited).
#[derive(Debug)]
pub struct LengthLimitExceeded {
    limit: usize,
}

impl LengthLimitExceeded {
    pub(crate) fn new(limit: usize) -> LengthLimitExceeded {
        LengthLimitExceeded { limit }
    }

    /// The limit that was exceeded, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl fmt::Display for LengthLimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "body is longer than the limit of {} bytes", self.limit)
    }
}

impl StdError for LengthLimitExceeded {}

/// A request failed on a connection taken from the pool, which the server had closed
/// or was closing while it sat idle; or an HTTP/2 server rejected it unprocessed
/// (`REFUSED_STREAM`, or a `GOAWAY` below its stream), on a new connection as well.
///
/// Such a failure is what `towline::retry::RetryStaleLayer` acts on. It records whether
/// any byte of the request reached the socket and whether any byte of a response came
/// back; when the request was never written, the request itself can be taken back with
/// [`take_unsent_request`](Self::take_unsent_request) and sent again unchanged.
///
/// Another service can opt into the same retries by returning this type (or an error
/// whose [`source()`](std::error::Error::source) chain contains it).
///
pub struct StaleConnection {
    written: bool,
    response_started: bool,
    unsent: Mutex<Option<Box<dyn Any + Send>>>,
    source: Option<BoxError>,
}

impl StaleConnection {
    /// Describes a request that failed on a reused connection: whether any byte of it
    /// was written, and whether any byte of a response arrived.
    ///
    /// A service other than towline's connector uses this to make its failures
    /// retryable by `towline::retry::RetryStale`; see
    /// [`with_unsent_request`](Self::with_unsent_request) to hand the request back.
    pub fn new(request_written: bool, response_started: bool) -> StaleConnection {
        StaleConnection {
            written: request_written,
            response_started,
            unsent: Mutex::new(None),
            source: None,
        }
    }

    /// Hands back the request, which was not written at all and can be sent again as
    /// it is, whatever its method.
    pub fn with_unsent_request<B: Send + 'static>(
        self,
        request: http::Request<B>,
    ) -> StaleConnection {
        StaleConnection {
            written: false,
            unsent: Mutex::new(Some(Box::new(request))),
            ..self
        }
    }

    /// Records the underlying error, returned by [`source()`](std::error::Error::source).
    pub fn with_source(self, source: impl Into<BoxError>) -> StaleConnection {
        StaleConnection {
            source: Some(source.into()),
            ..self
        }
    }

    pub(crate) fn with_unsent_any(self, unsent: Option<Box<dyn Any + Send>>) -> StaleConnection {
        StaleConnection {
            unsent: Mutex::new(unsent),
            ..self
        }
    }

    /// Whether any byte of the request was written to the connection.
    pub fn request_written(&self) -> bool {
        self.written
    }

    /// Whether any byte of a response arrived before the failure.
    pub fn response_started(&self) -> bool {
        self.response_started
    }

    /// Whether the unsent request is still held and can be taken back.
    pub fn has_unsent_request(&self) -> bool {
        self.unsent.lock().map(|u| u.is_some()).unwrap_or(false)
    }

    /// Takes back the request, if it was never written; `B` must be its body type.
    ///
    /// Returns `None` if the request was written, was already taken, or has another
    /// body type (in which case it stays in place).
    pub fn take_unsent_request<B: Send + 'static>(&self) -> Option<http::Request<B>> {
        let mut slot = self.unsent.lock().ok()?;
        if !slot.as_ref()?.is::<http::Request<B>>() {
            return None;
        }
        slot.take()?.downcast::<http::Request<B>>().ok().map(|r| *r)
    }
}

impl fmt::Debug for StaleConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaleConnection")
            .field("request_written", &self.written)
            .field("response_started", &self.response_started)
            .field("has_unsent_request", &self.has_unsent_request())
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for StaleConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match (self.written, self.response_started) {
            (false, _) => {
                "the server closed the connection or refused the request before processing it"
            }
            (true, false) => {
                "a reused connection was closed by the server after the request was sent, \
                 before any response"
            }
            (true, true) => {
                "a reused connection was closed by the server in the middle of the response head"
            }
        })
    }
}

impl StdError for StaleConnection {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn error_is_send_sync_and_small() {
        assert_send_sync::<Error>();
        assert_send_sync::<StaleConnection>();
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn display_is_its_own_line_and_report_has_the_chain() {
        let err = Error::new(Kind::Body, Some(Box::new(Truncated::new(3, Some(10)))))
            .with_uri(Uri::from_static("http://example.test/a"));
        assert_eq!(err.to_string(), "body failed for http://example.test/a");
        assert_eq!(
            err.report().to_string(),
            "body failed for http://example.test/a: response body truncated: \
             the connection closed after 3 of 10 bytes"
        );
        assert!(err.is_body() && err.is_truncated());
        let err = err.without_uri();
        assert!(err.uri().is_none());
        assert_eq!(err.to_string(), "body failed");
        assert!(err.source().is_some());
    }

    /// An error outside towline whose text repeats its source's.
    #[derive(Debug)]
    struct Wraps(std::io::Error);

    impl fmt::Display for Wraps {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "wrapper: {}", self.0)
        }
    }

    impl StdError for Wraps {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn report_writes_each_cause_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = Error::new(Kind::Connect, Some(Box::new(Wraps(io))));
        assert_eq!(
            err.report().to_string(),
            "connection failed: wrapper: refused"
        );
        let nested = Error::new(Kind::Request, Some(Box::new(err)));
        assert_eq!(
            nested.report().to_string(),
            "request failed: connection failed: wrapper: refused"
        );
        assert_eq!(
            format!("{:?}", nested.report()),
            nested.report().to_string()
        );
    }

    #[test]
    fn userinfo_and_secret_params_are_never_displayed() {
        let err = Error::new(Kind::Connect, None).with_uri(Uri::from_static(
            "http://me:s3cret@example.test:8080/a?b=c&access_token=s3cret",
        ));
        assert_eq!(
            err.to_string(),
            "connection failed for http://***@example.test:8080/a?b=c&access_token=***"
        );
        for text in [
            format!("{err:?}"),
            format!("{err:#?}"),
            err.report().to_string(),
        ] {
            assert!(!text.contains("s3cret"), "{text}");
        }
        // The URI itself is the caller's, unchanged.
        assert_eq!(
            err.uri().and_then(|u| u.authority()).map(|a| a.as_str()),
            Some("me:s3cret@example.test:8080")
        );
        let user_only = Error::new(Kind::Connect, None)
            .with_uri(Uri::from_static("http://TOKEN@example.test/"));
        assert_eq!(
            user_only.to_string(),
            "connection failed for http://***@example.test/"
        );
        let custom = Error::new(Kind::Connect, None)
            .with_uri(Uri::from_static(
                "http://example.test/?session=s3cret&key=1",
            ))
            .with_redaction(&Redaction::only(["session"]));
        assert_eq!(
            custom.to_string(),
            "connection failed for http://example.test/?session=***&key=1"
        );
    }

    #[test]
    fn unsent_request_comes_back_only_with_its_own_body_type() {
        let req = http::Request::new(String::from("hello"));
        let stale = StaleConnection::new(true, false).with_unsent_request(req);
        assert!(!stale.request_written());
        let err = Error::new(Kind::Request, Some(Box::new(stale)));
        assert!(err.is_stale_connection());
        assert!(err.take_unsent_request::<Vec<u8>>().is_none());
        let back = err
            .take_unsent_request::<String>()
            .expect("request handed back");
        assert_eq!(back.body(), "hello");
        assert!(err.take_unsent_request::<String>().is_none());
    }

    #[test]
    fn causes_of_other_modules_state_their_kind_anywhere_in_the_chain() {
        use crate::connect::{Destination, DialError};
        let dst = Destination::new(http::uri::Scheme::HTTP, "nowhere.test", 80);
        let io = || std::io::Error::other("no");
        let resolve = DialError::resolve(&dst, io());
        let resolve = Error::new(Kind::Connect, Some(Box::new(resolve)));
        assert!(resolve.is_resolve() && resolve.is_connect() && !resolve.is_proxy());
        let refused = DialError::connect(&dst, io());
        let refused = Error::new(Kind::Connect, Some(Box::new(refused)));
        assert!(!refused.is_resolve());
        // Further down the chain, behind another `Error`.
        let nested = Error::new(Kind::Request, Some(Box::new(resolve)));
        assert!(nested.is_resolve() && !nested.is_decode() && !nested.is_redirect());
        // A cause no module classifies: the kinds given.
        let other = Error::from_body("boom".into());
        assert!(other.is_body() && !other.is_decode() && !other.is_resolve());
        assert!(!other.is_proxy() && !other.is_redirect());
        #[cfg(feature = "decompress")]
        {
            use crate::decompress::{DecodeError, DecodeErrorKind};
            let decode = || Box::new(DecodeError::new(DecodeErrorKind::Corrupt));
            let err = Error::from_body(decode());
            assert_eq!(err.kind(), Kind::Decode);
            let inner = Error::new(Kind::Body, Some(decode()));
            let err = Error::new(Kind::Request, Some(Box::new(inner)));
            assert!(err.is_decode() && err.is_request());
        }
    }

    #[test]
    fn from_boxed_keeps_an_inner_error() {
        let inner: BoxError = Box::new(Error::new(Kind::Connect, None));
        assert!(Error::from_boxed(inner, Kind::Request).is_connect());
        let other: BoxError = "boom".into();
        assert!(Error::from_boxed(other, Kind::Request).is_request());
    }
}
