//! The causes towline defines itself, public so that code holding a
//! [`BoxError`] can downcast to them.

use std::any::Any;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Mutex;

use super::BoxError;

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

/// The server answered with a client or server error status (4xx or 5xx), made an
/// error by [`Response::error_for_status`](crate::Response::error_for_status).
#[derive(Debug, Clone)]
pub struct StatusError {
    status: http::StatusCode,
}

impl StatusError {
    #[cfg_attr(
        not(feature = "client"),
        allow(dead_code, reason = "only the client's responses make one")
    )]
    pub(crate) fn new(status: http::StatusCode) -> StatusError {
        StatusError { status }
    }

    /// The status the server answered with.
    pub fn status(&self) -> http::StatusCode {
        self.status
    }
}

impl fmt::Display for StatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = if self.status.is_client_error() {
            "client"
        } else {
            "server"
        };
        write!(f, "HTTP status {side} error ({})", self.status)
    }
}

impl StdError for StatusError {}

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
