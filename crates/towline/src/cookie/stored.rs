//! A cookie as the jar keeps it (RFC 6265 §5.3), and the copy users inspect.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `SameSite` attribute of a cookie (RFC 6265bis).
///
/// Kept and shown, not enforced: a client has no notion of the site a request comes
/// from, so every request counts as same-site and every cookie is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None`.
    None,
}

impl SameSite {
    /// The attribute value: `Strict`, `Lax` or `None`, any case; anything else is not a
    /// `SameSite` value.
    pub(crate) fn parse(value: &[u8]) -> Option<SameSite> {
        if value.eq_ignore_ascii_case(b"strict") {
            Some(SameSite::Strict)
        } else if value.eq_ignore_ascii_case(b"lax") {
            Some(SameSite::Lax)
        } else if value.eq_ignore_ascii_case(b"none") {
            Some(SameSite::None)
        } else {
            None
        }
    }

    /// The attribute value as servers write it.
    pub fn as_str(&self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

impl fmt::Display for SameSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A cookie in the jar: RFC 6265's storage model (§5.3).
pub(crate) struct Stored {
    pub(crate) name: Box<str>,
    pub(crate) value: Box<str>,
    /// Lowercase, without a leading dot: the host for a host-only cookie.
    pub(crate) domain: Box<str>,
    pub(crate) path: Box<str>,
    pub(crate) host_only: bool,
    pub(crate) secure: bool,
    pub(crate) http_only: bool,
    pub(crate) same_site: Option<SameSite>,
    /// Seconds since the Unix epoch; `None` for a session cookie.
    pub(crate) expires: Option<i64>,
    pub(crate) created: SystemTime,
    /// Breaks ties between cookies created at the same clock reading.
    pub(crate) created_seq: u64,
    /// A tick of the jar's access counter: larger is more recent. Atomic so that
    /// sending cookies needs only the read lock.
    pub(crate) last_access: AtomicU64,
}

impl Stored {
    pub(crate) fn is_expired(&self, now: i64) -> bool {
        self.expires.is_some_and(|t| t <= now)
    }

    pub(crate) fn last_access(&self) -> u64 {
        self.last_access.load(Ordering::Relaxed)
    }

    pub(crate) fn touch(&self, tick: u64) {
        self.last_access.fetch_max(tick, Ordering::Relaxed);
    }

    /// The identity of §5.3 step 11.
    pub(crate) fn same_identity(&self, name: &str, domain: &str, path: &str) -> bool {
        &*self.name == name && &*self.domain == domain && &*self.path == path
    }

    pub(crate) fn view(&self) -> Cookie {
        Cookie {
            name: self.name.to_string(),
            value: self.value.to_string(),
            domain: self.domain.to_string(),
            path: self.path.to_string(),
            host_only: self.host_only,
            secure: self.secure,
            http_only: self.http_only,
            same_site: self.same_site,
            expires: self.expires,
            created: self.created,
        }
    }
}

impl fmt::Debug for Stored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.view().fmt(f)
    }
}

/// A copy of a cookie in a [`Jar`](super::Jar), for inspection. See the
/// [module docs](super).
///
/// Changing it changes nothing in the jar. Its `Debug` output hides the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Cookie {
    name: String,
    value: String,
    domain: String,
    path: String,
    host_only: bool,
    secure: bool,
    http_only: bool,
    same_site: Option<SameSite>,
    expires: Option<i64>,
    created: SystemTime,
}

impl Cookie {
    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value, as the server sent it (quotes included, if any).
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The domain, lowercase and without a leading dot: for a host-only cookie, the
    /// host that set it (an IPv6 address without brackets).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the cookie goes to its domain only (no `Domain` attribute, or one
    /// naming the host when the host is an IP address or a public suffix), rather than
    /// also to its subdomains.
    pub fn host_only(&self) -> bool {
        self.host_only
    }

    /// Whether the cookie is sent over https only.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Whether the cookie had `HttpOnly`. Kept and saved; it changes nothing for an
    /// HTTP client, which sends such cookies like any other.
    pub fn http_only(&self) -> bool {
        self.http_only
    }

    /// The `SameSite` attribute, if the cookie had a valid one.
    pub fn same_site(&self) -> Option<SameSite> {
        self.same_site
    }

    /// When the cookie expires; `None` for a session cookie, kept until
    /// [`Jar::clear_session`](super::Jar::clear_session) or the jar goes.
    pub fn expires(&self) -> Option<SystemTime> {
        self.expires.map(to_system_time)
    }

    /// Whether the cookie has an expiry time (`Max-Age` or `Expires`), rather than
    /// lasting for the session.
    pub fn persistent(&self) -> bool {
        self.expires.is_some()
    }

    /// When the cookie was first stored (kept when a server replaces it), by the jar's
    /// clock.
    pub fn created(&self) -> SystemTime {
        self.created
    }

    /// The expiry in seconds since the Unix epoch, for cookies.txt.
    pub(crate) fn expires_unix(&self) -> Option<i64> {
        self.expires
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cookie")
            .field("name", &self.name)
            .field("value", &"…")
            .field("domain", &self.domain)
            .field("path", &self.path)
            .field("host_only", &self.host_only)
            .field("secure", &self.secure)
            .field("http_only", &self.http_only)
            .field("same_site", &self.same_site)
            .field("expires", &self.expires)
            .finish()
    }
}

/// Seconds since the Unix epoch of `t`, rounded down; saturating.
pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let d = before.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            let secs = if d.subsec_nanos() > 0 {
                secs.saturating_add(1)
            } else {
                secs
            };
            secs.saturating_neg()
        }
    }
}

/// The time `secs` seconds after the Unix epoch, clamped to what `SystemTime` holds.
pub(crate) fn to_system_time(secs: i64) -> SystemTime {
    let d = Duration::from_secs(secs.unsigned_abs());
    if secs >= 0 {
        // Out of range only for dates tens of thousands of years away: a far date
        // stands in (2106, the last a 32-bit time holds, at worst).
        UNIX_EPOCH
            .checked_add(d)
            .or_else(|| UNIX_EPOCH.checked_add(Duration::from_secs(1 << 40)))
            .unwrap_or(UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX)))
    } else {
        UNIX_EPOCH.checked_sub(d).unwrap_or(UNIX_EPOCH)
    }
}
