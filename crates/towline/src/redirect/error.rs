use std::error::Error as StdError;
use std::fmt;

use http::Uri;

use super::RedirectHistory;
use crate::error::{Classify, Kind};
use crate::redact::Redaction;

/// More redirects than the limit set with
/// [`max_redirects`](super::FollowRedirectLayer::max_redirects).
///
/// A loop (`/a` → `/b` → `/a` …) ends with this error too: a redirect back to an
/// earlier URI is not refused by itself, because a server may send a client round
/// after setting a cookie.
///
/// Its `Debug` shows the history with secrets redacted (see [`crate::redact`]).
#[derive(Debug)]
pub struct TooManyRedirects {
    limit: usize,
    history: RedirectHistory,
}

impl TooManyRedirects {
    pub(super) fn new(limit: usize, history: RedirectHistory) -> TooManyRedirects {
        // Each hop of the history keeps the redaction for its own `Debug`.
        TooManyRedirects { limit, history }
    }

    /// The limit that was reached.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Every redirect response received, oldest first: `limit() + 1` of them, the last
    /// being the one that was not followed.
    pub fn history(&self) -> &RedirectHistory {
        &self.history
    }
}

impl fmt::Display for TooManyRedirects {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "too many redirects: the limit is {}", self.limit)
    }
}

impl StdError for TooManyRedirects {}

/// A redirect pointed to a URI whose scheme is neither http nor https (`ftp:`,
/// `file:`, `javascript:` …), which are never followed.
pub struct UnsupportedScheme {
    scheme: String,
    from: Uri,
    redaction: Redaction,
}

impl UnsupportedScheme {
    pub(super) fn new(scheme: String, from: Uri, redaction: Redaction) -> UnsupportedScheme {
        UnsupportedScheme {
            scheme,
            from,
            redaction,
        }
    }

    /// The scheme of the target, lowercased.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The URI of the request whose response redirected there.
    pub fn from(&self) -> &Uri {
        &self.from
    }
}

impl fmt::Debug for UnsupportedScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnsupportedScheme")
            .field("scheme", &self.scheme)
            .field("from", &self.redaction.uri(&self.from))
            .finish()
    }
}

impl fmt::Display for UnsupportedScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "redirect to a `{}:` URI: only http and https are followed",
            self.scheme
        )
    }
}

impl StdError for UnsupportedScheme {}

/// A redirect from https to plain http was refused, as asked with
/// [`https_downgrade(false)`](super::FollowRedirectLayer::https_downgrade).
pub struct DowngradeRefused {
    from: Uri,
    to: Uri,
    redaction: Redaction,
}

impl DowngradeRefused {
    pub(super) fn new(from: Uri, to: Uri, redaction: Redaction) -> DowngradeRefused {
        DowngradeRefused {
            from,
            to,
            redaction,
        }
    }

    /// The https URI that was redirected.
    pub fn from(&self) -> &Uri {
        &self.from
    }

    /// The http URI it was redirected to.
    pub fn to(&self) -> &Uri {
        &self.to
    }
}

impl fmt::Debug for DowngradeRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DowngradeRefused")
            .field("from", &self.redaction.uri(&self.from))
            .field("to", &self.redaction.uri(&self.to))
            .finish()
    }
}

impl fmt::Display for DowngradeRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("redirect from https to plain http refused")
    }
}

impl StdError for DowngradeRefused {}

/// A redirect carried two or more `Location` headers that differ, so where it points
/// is ambiguous; browsers refuse such a response too. (Identical duplicates are
/// followed.)
pub struct ConflictingLocations {
    from: Uri,
    redaction: Redaction,
}

impl ConflictingLocations {
    pub(super) fn new(from: Uri, redaction: Redaction) -> ConflictingLocations {
        ConflictingLocations { from, redaction }
    }

    /// The URI of the request whose response carried the `Location`s.
    pub fn from(&self) -> &Uri {
        &self.from
    }
}

impl fmt::Debug for ConflictingLocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConflictingLocations")
            .field("from", &self.redaction.uri(&self.from))
            .finish()
    }
}

impl fmt::Display for ConflictingLocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("redirect with two different `Location` headers refused")
    }
}

impl StdError for ConflictingLocations {}

impl Classify for TooManyRedirects {
    const KIND: Kind = Kind::Redirect;
}

impl Classify for UnsupportedScheme {
    const KIND: Kind = Kind::Redirect;
}

impl Classify for DowngradeRefused {
    const KIND: Kind = Kind::Redirect;
}

impl Classify for ConflictingLocations {
    const KIND: Kind = Kind::Redirect;
}
