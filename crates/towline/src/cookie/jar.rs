//! The cookie jar: RFC 6265 storage (§5.3) and retrieval (§5.4), shared and
//! thread-safe.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderValue, Uri};

use super::clock::{BoxedClock, Clock, SystemClock};
use super::domain::{domain_match, group, is_secure, normalize_domain, path_match, request_host};
use super::netscape::{CookiesTxt, LoadReport};
use super::parse::parse_set_cookie;
use super::stored::{Cookie, Stored, unix_seconds};
use super::{CookieStore, Rejected};
use accept::{Origin, parse_rejected};

mod accept;

/// The default [`max_cookie_size`](JarBuilder::max_cookie_size): 4096 bytes.
pub const DEFAULT_MAX_COOKIE_SIZE: usize = 4096;
/// The default [`max_cookies_per_domain`](JarBuilder::max_cookies_per_domain): 50.
pub const DEFAULT_MAX_COOKIES_PER_DOMAIN: usize = 50;
/// The default [`max_cookies`](JarBuilder::max_cookies): 3000.
pub const DEFAULT_MAX_COOKIES: usize = 3000;

/// A shared, thread-safe cookie jar: the [`CookieStore`] towline uses by default.
///
/// Cloning is cheap and gives another handle to the same cookies, so one jar can
/// serve many clients and tasks at once. See the [module docs](super) for the rules it
/// follows.
#[derive(Clone)]
pub struct Jar {
    inner: Arc<Inner>,
}

struct Inner {
    state: RwLock<State>,
    clock: BoxedClock,
    limits: Limits,
    /// The access counter behind least-recently-used eviction.
    tick: AtomicU64,
}

#[derive(Clone, Copy, Debug)]
struct Limits {
    cookie_size: usize,
    per_domain: usize,
    total: usize,
}

#[derive(Default)]
struct State {
    /// Cookies by registrable domain (`example.co.uk` for `a.b.example.co.uk`; the
    /// name itself for IP addresses and public suffixes): a request looks in one
    /// entry, and the per-domain limit counts one entry.
    groups: HashMap<Box<str>, Vec<Stored>>,
    /// Cookies in `groups`, expired ones not yet evicted included.
    len: usize,
    /// The creation counter: orders cookies created at the same clock reading.
    seq: u64,
}

/// Builds a [`Jar`] with a chosen clock or limits. See the [module docs](super).
#[derive(Debug)]
pub struct JarBuilder {
    clock: BoxedClock,
    limits: Limits,
}

/// A cookie that did not come from a `Set-Cookie` header (cookies.txt).
pub(crate) struct Raw<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: &'a str,
    pub(crate) domain: &'a str,
    pub(crate) host_only: bool,
    pub(crate) path: &'a str,
    pub(crate) secure: bool,
    pub(crate) http_only: bool,
    pub(crate) expires: Option<i64>,
}

impl Jar {
    /// An empty jar with the system clock and the default limits (4096 bytes a cookie,
    /// 50 a domain, 3000 in all).
    pub fn new() -> Jar {
        Jar::builder().build()
    }

    /// A builder, to choose the clock or the limits.
    pub fn builder() -> JarBuilder {
        JarBuilder {
            clock: BoxedClock(Box::new(SystemClock)),
            limits: Limits {
                cookie_size: DEFAULT_MAX_COOKIE_SIZE,
                per_domain: DEFAULT_MAX_COOKIES_PER_DOMAIN,
                total: DEFAULT_MAX_COOKIES,
            },
        }
    }

    /// Stores one `Set-Cookie` header value as if a response to `uri` had sent it
    /// (RFC 6265 §5.2 and §5.3). A value that removes a cookie (`Max-Age=0`, an
    /// `Expires` in the past) counts as stored.
    ///
    /// ```
    /// use towline::cookie::{Jar, Rejected};
    ///
    /// let jar = Jar::new();
    /// let uri = "http://www.example.co.uk/".parse()?;
    /// jar.set_cookie(&uri, "id=1; Domain=example.co.uk")?;
    /// assert_eq!(jar.set_cookie(&uri, "x=1; Domain=co.uk"), Err(Rejected::PublicSuffix));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_cookie(&self, uri: &Uri, set_cookie: impl AsRef<[u8]>) -> Result<(), Rejected> {
        let host = request_host(uri).ok_or(Rejected::NoHost)?;
        let origin = Origin {
            host: &host,
            secure: is_secure(uri),
            path: uri.path(),
        };
        let parsed = parse_set_cookie(set_cookie.as_ref()).map_err(parse_rejected)?;
        let now = self.inner.clock.0.now();
        let mut state = self.write();
        self.store(&mut state, parsed, &origin, now)
    }

    /// The `Cookie` header for a request to `uri` (RFC 6265 §5.4), or `None` when no
    /// cookie matches. Marks the cookies sent as used, for least-recently-used
    /// eviction.
    pub fn cookie_header(&self, uri: &Uri) -> Option<HeaderValue> {
        let state = self.read();
        if state.groups.is_empty() {
            return None;
        }
        let host = request_host(uri)?;
        // When the jar holds nothing for this site, this lookup is all it costs.
        let list = state.groups.get(group(&host))?;
        let now = unix_seconds(self.inner.clock.0.now());
        let secure = is_secure(uri);
        let path = match uri.path() {
            "" => "/",
            path => path,
        };
        let mut matched: Vec<&Stored> = Vec::new();
        for cookie in list {
            let host_matches = if cookie.host_only {
                *cookie.domain == *host
            } else {
                domain_match(&host, &cookie.domain)
            };
            if host_matches
                && !cookie.is_expired(now)
                && (secure || !cookie.secure)
                && path_match(path, &cookie.path)
            {
                matched.push(cookie);
            }
        }
        if matched.is_empty() {
            return None;
        }
        matched.sort_by(|a, b| {
            b.path
                .len()
                .cmp(&a.path.len())
                .then(a.created.cmp(&b.created))
                .then(a.created_seq.cmp(&b.created_seq))
        });
        let tick = self.next_tick();
        // Exact, so that `Bytes::from` takes the buffer as it is.
        let size = matched
            .iter()
            .map(|c| c.name.len() + 1 + c.value.len())
            .sum::<usize>()
            + 2 * (matched.len() - 1);
        let mut header = Vec::with_capacity(size);
        for (i, cookie) in matched.iter().enumerate() {
            cookie.touch(tick);
            if i > 0 {
                header.extend_from_slice(b"; ");
            }
            header.extend_from_slice(cookie.name.as_bytes());
            header.push(b'=');
            header.extend_from_slice(cookie.value.as_bytes());
        }
        let mut value = HeaderValue::from_maybe_shared(Bytes::from(header)).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// A copy of every cookie that has not expired, ordered by domain, path and name.
    pub fn iter(&self) -> std::vec::IntoIter<Cookie> {
        let now = self.now_secs();
        let state = self.read();
        let mut all: Vec<Cookie> = state
            .groups
            .values()
            .flatten()
            .filter(|c| !c.is_expired(now))
            .map(Stored::view)
            .collect();
        all.sort_by(|a, b| (a.domain(), a.path(), a.name()).cmp(&(b.domain(), b.path(), b.name())));
        all.into_iter()
    }

    /// The number of cookies that have not expired.
    pub fn len(&self) -> usize {
        let now = self.now_secs();
        let state = self.read();
        state
            .groups
            .values()
            .flatten()
            .filter(|c| !c.is_expired(now))
            .count()
    }

    /// Whether the jar holds no cookie that has not expired.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cookie with this domain, path and name (the identity of RFC 6265 §5.3), if
    /// it has not expired. The domain is compared without case and without a leading
    /// dot.
    pub fn get(&self, domain: &str, path: &str, name: &str) -> Option<Cookie> {
        let domain = normalize_domain(domain);
        let now = self.now_secs();
        let state = self.read();
        state
            .groups
            .get(group(&domain))?
            .iter()
            .find(|c| c.same_identity(name, &domain, path) && !c.is_expired(now))
            .map(Stored::view)
    }

    /// Removes the cookie with this domain, path and name; returns it unless it was
    /// absent or had expired.
    pub fn remove(&self, domain: &str, path: &str, name: &str) -> Option<Cookie> {
        let domain = normalize_domain(domain);
        let now = self.now_secs();
        let mut state = self.write();
        let key = group(&domain);
        let list = state.groups.get_mut(key)?;
        let i = list
            .iter()
            .position(|c| c.same_identity(name, &domain, path))?;
        let removed = list.remove(i);
        if list.is_empty() {
            state.groups.remove(key);
        }
        state.len = state.len.saturating_sub(1);
        (!removed.is_expired(now)).then(|| removed.view())
    }

    /// Removes every cookie.
    pub fn clear(&self) {
        let mut state = self.write();
        state.groups.clear();
        state.len = 0;
    }

    /// Removes the cookies of `domain` and of its subdomains (`example.com` removes
    /// those of `www.example.com` too); returns how many went, expired ones included.
    /// The domain is compared without case and without a leading dot.
    pub fn clear_domain(&self, domain: &str) -> usize {
        let domain = normalize_domain(domain);
        self.remove_where(|c| domain_match(&c.domain, &domain))
    }

    /// Removes the session cookies (those without `Max-Age` or `Expires`), as a
    /// browser does when it closes; returns how many went.
    pub fn clear_session(&self) -> usize {
        self.remove_where(|c| c.expires.is_none())
    }

    /// Removes the cookies that have expired by the jar's clock now; returns how many
    /// went. Expired cookies are never sent nor listed either way; this frees their
    /// memory at once rather than when the jar next stores a cookie for their site.
    pub fn remove_expired(&self) -> usize {
        let now = self.now_secs();
        self.remove_where(|c| c.is_expired(now))
    }

    /// Loads a Netscape cookies.txt file (the format of curl's `-c` and wget's
    /// `--save-cookies`), session cookies included; see [`CookiesTxt`] for the
    /// options and the format. Malformed lines are skipped and listed in the report.
    pub fn load(&self, path: impl AsRef<Path>) -> io::Result<LoadReport> {
        CookiesTxt::new().load(self, path)
    }

    /// Saves the cookies to a Netscape cookies.txt file, session cookies included,
    /// atomically (a new file renamed over the old); see [`CookiesTxt`]. Returns how
    /// many cookies were written.
    pub fn save(&self, path: impl AsRef<Path>) -> io::Result<usize> {
        CookiesTxt::new().save(self, path)
    }

    // ---------------------------------------------------------------------------------

    fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panic while the lock was held cannot leave `State` half-changed in a way
        // that matters (at worst `len` is off), so a poisoned lock is used as is.
        self.inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.inner
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn next_tick(&self) -> u64 {
        self.inner.tick.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn now_secs(&self) -> i64 {
        unix_seconds(self.inner.clock.0.now())
    }

    pub(crate) fn now(&self) -> SystemTime {
        self.inner.clock.0.now()
    }

    fn remove_where(&self, mut doomed: impl FnMut(&Stored) -> bool) -> usize {
        let mut state = self.write();
        let mut removed = 0;
        state.groups.retain(|_, list| {
            let before = list.len();
            list.retain(|c| !doomed(c));
            removed += before - list.len();
            !list.is_empty()
        });
        state.len = state.len.saturating_sub(removed);
        removed
    }

    /// A copy of every cookie that has not expired, for saving.
    pub(crate) fn snapshot(&self) -> Vec<Cookie> {
        self.iter().collect()
    }

    /// §5.3 steps 11 and 12, then eviction: expired cookies first, then the least
    /// recently used of the domain, then of the jar.
    fn insert(&self, state: &mut State, mut cookie: Stored, now: i64) {
        state.seq += 1;
        cookie.created_seq = state.seq;
        cookie.last_access = AtomicU64::new(self.next_tick());
        let limits = self.inner.limits;
        let key: Box<str> = group(&cookie.domain).into();
        let mut removed = 0;
        let mut added = 0;
        {
            let list = state.groups.entry(key.clone()).or_default();
            let before = list.len();
            list.retain(|c| !c.is_expired(now));
            removed += before - list.len();
            if let Some(i) = list
                .iter()
                .position(|c| c.same_identity(&cookie.name, &cookie.domain, &cookie.path))
            {
                let old = list.remove(i);
                cookie.created = old.created;
                cookie.created_seq = old.created_seq;
                removed += 1;
            }
            // An expired cookie only deletes.
            if !cookie.is_expired(now) {
                list.push(cookie);
                added += 1;
            }
            while list.len() > limits.per_domain {
                match least_recent(list) {
                    Some(i) => {
                        list.remove(i);
                        removed += 1;
                    }
                    None => break,
                }
            }
            if list.is_empty() {
                state.groups.remove(&key);
            }
        }
        state.len = (state.len + added).saturating_sub(removed);
        if state.len > limits.total {
            self.evict_overall(state, now);
        }
    }

    fn evict_overall(&self, state: &mut State, now: i64) {
        let total = self.inner.limits.total;
        let mut removed = 0;
        state.groups.retain(|_, list| {
            let before = list.len();
            list.retain(|c| !c.is_expired(now));
            removed += before - list.len();
            !list.is_empty()
        });
        state.len = state.len.saturating_sub(removed);
        while state.len > total {
            let oldest = state
                .groups
                .iter()
                .filter_map(|(key, list)| {
                    let i = least_recent(list)?;
                    Some((list[i].last_access(), key, i))
                })
                .min_by_key(|(tick, _, _)| *tick)
                .map(|(_, key, i)| (key.clone(), i));
            let Some((key, i)) = oldest else {
                break;
            };
            if let Some(list) = state.groups.get_mut(&key) {
                list.remove(i);
                if list.is_empty() {
                    state.groups.remove(&key);
                }
            }
            state.len = state.len.saturating_sub(1);
        }
    }
}

impl Default for Jar {
    fn default() -> Jar {
        Jar::new()
    }
}

impl fmt::Debug for Jar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.read();
        f.debug_struct("Jar")
            .field("cookies", &state.len)
            .field("domains", &state.groups.len())
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl CookieStore for Jar {
    fn set_cookies(&self, uri: &Uri, set_cookie: &mut dyn Iterator<Item = &HeaderValue>) {
        self.store_response(uri, set_cookie);
    }

    fn cookies(&self, uri: &Uri) -> Option<HeaderValue> {
        self.cookie_header(uri)
    }
}

impl JarBuilder {
    /// The clock the jar reads the time from: a [`Clock`], or any
    /// `Fn() -> SystemTime + Send + Sync + 'static`.
    ///
    /// Default is [`SystemClock`], the operating system's clock.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = BoxedClock(Box::new(clock));
        self
    }

    /// The most bytes of name and value a cookie may have; a larger one is not stored.
    ///
    /// Default is [4096](DEFAULT_MAX_COOKIE_SIZE), RFC 6265's minimum.
    pub fn max_cookie_size(mut self, bytes: usize) -> Self {
        self.limits.cookie_size = bytes;
        self
    }

    /// The most cookies kept for one site (a registrable domain such as
    /// `example.co.uk` with all its subdomains, or one IP address); past it, the
    /// site's least recently used cookie goes.
    ///
    /// Default is [50](DEFAULT_MAX_COOKIES_PER_DOMAIN), RFC 6265's minimum.
    pub fn max_cookies_per_domain(mut self, n: usize) -> Self {
        self.limits.per_domain = n;
        self
    }

    /// The most cookies in the jar; past it, the least recently used cookie goes.
    ///
    /// Default is [3000](DEFAULT_MAX_COOKIES), RFC 6265's minimum.
    pub fn max_cookies(mut self, n: usize) -> Self {
        self.limits.total = n;
        self
    }

    /// The jar.
    pub fn build(self) -> Jar {
        Jar {
            inner: Arc::new(Inner {
                state: RwLock::new(State::default()),
                clock: self.clock,
                limits: self.limits,
                tick: AtomicU64::new(0),
            }),
        }
    }
}

/// The index of the least recently used cookie, expired ones being evicted already.
fn least_recent(list: &[Stored]) -> Option<usize> {
    list.iter()
        .enumerate()
        .min_by_key(|(_, c)| c.last_access())
        .map(|(i, _)| i)
}
