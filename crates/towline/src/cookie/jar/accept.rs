//! What the jar accepts: the checks of RFC 6265 §5.3 (with RFC 6265bis's `Secure` and
//! prefix rules) that a `Set-Cookie`, or a cookie read from a file, passes before it
//! is stored.

use std::borrow::Cow;
use std::sync::RwLockWriteGuard;
use std::sync::atomic::AtomicU64;
use std::time::SystemTime;

use http::{HeaderValue, Uri};

use super::super::domain::{
    a_labels, default_path, domain_match, group, is_ip, is_public_suffix, is_secure, lowercase,
    path_match, request_host,
};
use super::super::parse::{ParseError, PathAttr, SetCookie, parse_set_cookie};
use super::super::stored::{SameSite, Stored, unix_seconds};
use super::{Jar, Raw, Rejected, State};

/// What a response's cookies are checked against: the request.
pub(super) struct Origin<'a> {
    pub(super) host: &'a str,
    pub(super) secure: bool,
    pub(super) path: &'a str,
}

impl Jar {
    /// Stores the cookies of a response to `uri`.
    pub(super) fn store_response(&self, uri: &Uri, values: &mut dyn Iterator<Item = &HeaderValue>) {
        let Some(host) = request_host(uri) else {
            return;
        };
        let origin = Origin {
            host: &host,
            secure: is_secure(uri),
            path: uri.path(),
        };
        let now = self.inner.clock.0.now();
        let mut state: Option<RwLockWriteGuard<'_, State>> = None;
        for value in values {
            // Ignored, as RFC 6265 says, when it is not a cookie.
            match parse_set_cookie(value.as_bytes()) {
                Ok(parsed) => {
                    let state = state.get_or_insert_with(|| self.write());
                    let name = parsed.name;
                    let stored = self.store(state, parsed, &origin, now);
                    note_set_cookie(origin.host, Some(name), stored);
                }
                Err(err) => note_set_cookie(origin.host, None, Err(parse_rejected(err))),
            }
        }
    }

    /// RFC 6265 §5.3, with RFC 6265bis's `Secure` and prefix rules.
    pub(super) fn store(
        &self,
        state: &mut State,
        cookie: SetCookie<'_>,
        origin: &Origin<'_>,
        now: SystemTime,
    ) -> Result<(), Rejected> {
        let now_secs = unix_seconds(now);
        self.check_size(cookie.name, cookie.value)?;
        // RFC 6265bis §5.7 step 8: `Secure` only from a secure origin.
        if cookie.secure && !origin.secure {
            return Err(Rejected::SecureOverHttp);
        }
        // Step 3: Max-Age over Expires.
        let expires = match (cookie.max_age, cookie.expires) {
            (Some(age), _) if age == i64::MIN => Some(i64::MIN),
            (Some(age), _) => Some(now_secs.saturating_add(age)),
            (None, expires) => expires,
        };
        // Steps 4 to 6: the domain.
        let domain_attr = domain_attribute(cookie.domain, origin)?;
        let (domain, host_only) = cookie_domain(domain_attr.as_deref(), origin)?;
        // Step 7: the path.
        let path = match cookie.path {
            Some(PathAttr::Given(p)) => p,
            Some(PathAttr::Default) | None => default_path(origin.path),
        };
        // RFC 6265bis §4.1.3: prefixes.
        check_prefix(
            cookie.name,
            cookie.secure,
            cookie.domain.is_none() && host_only,
            cookie.path.is_some() && path == "/",
        )?;
        // RFC 6265bis §5.7 step 16: plain http may not shadow a Secure cookie.
        if !origin.secure
            && !cookie.secure
            && shadows_secure(state, cookie.name, domain, path, now_secs)
        {
            return Err(Rejected::ShadowsSecure);
        }
        let stored = Stored {
            name: cookie.name.into(),
            value: cookie.value.into(),
            domain: domain.into(),
            path: path.into(),
            host_only,
            secure: cookie.secure,
            http_only: cookie.http_only,
            same_site: cookie.same_site,
            expires,
            created: now,
            created_seq: 0,
            last_access: AtomicU64::new(0),
        };
        self.insert(state, stored, now_secs);
        Ok(())
    }

    /// Stores cookies read from a file, under one lock, after the checks a
    /// `Set-Cookie` would pass; `rejected` hears of each one that fails them.
    pub(crate) fn insert_raw_all<'a>(
        &self,
        cookies: impl IntoIterator<Item = (usize, Raw<'a>)>,
        now: SystemTime,
        mut rejected: impl FnMut(usize, Rejected),
    ) -> usize {
        let mut state = self.write();
        let mut stored = 0;
        for (line, raw) in cookies {
            match self.insert_raw_locked(&mut state, raw, now) {
                Ok(()) => stored += 1,
                Err(err) => rejected(line, err),
            }
        }
        stored
    }

    fn insert_raw_locked(
        &self,
        state: &mut State,
        raw: Raw<'_>,
        now: SystemTime,
    ) -> Result<(), Rejected> {
        self.check_size(raw.name, raw.value)?;
        let valid_name = !raw.name.is_empty() && !raw.name.contains(['=', ';']);
        let valid = |s: &str| !s.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f);
        if !valid_name || raw.value.contains(';') || !valid(raw.name) || !valid(raw.value) {
            return Err(Rejected::Malformed);
        }
        let domain = raw.domain.strip_prefix('.').unwrap_or(raw.domain);
        let domain = match domain.is_ascii() {
            true => domain.to_ascii_lowercase(),
            false => a_labels(domain).ok_or(Rejected::DomainMismatch)?,
        };
        let host_only = raw.host_only || is_ip(&domain);
        if !host_only && is_public_suffix(&domain) {
            return Err(Rejected::PublicSuffix);
        }
        check_prefix(raw.name, raw.secure, host_only, raw.path == "/")?;
        let stored = Stored {
            name: raw.name.into(),
            value: raw.value.into(),
            domain: domain.into(),
            path: raw.path.into(),
            host_only,
            secure: raw.secure,
            http_only: raw.http_only,
            same_site: None::<SameSite>,
            expires: raw.expires,
            created: now,
            created_seq: 0,
            last_access: AtomicU64::new(0),
        };
        self.insert(state, stored, unix_seconds(now));
        Ok(())
    }

    fn check_size(&self, name: &str, value: &str) -> Result<(), Rejected> {
        let size = name.len() + value.len();
        let limit = self.inner.limits.cookie_size;
        if size > limit {
            return Err(Rejected::TooLarge { size, limit });
        }
        Ok(())
    }
}

/// Steps 4 and 5: the `Domain` attribute, lower case and in A-labels; `None` when
/// there is none, or when it is a public suffix that is the request's host itself.
fn domain_attribute<'a>(
    attr: Option<&'a [u8]>,
    origin: &Origin<'_>,
) -> Result<Option<Cow<'a, str>>, Rejected> {
    let domain_attr = match attr {
        None | Some([]) => None,
        Some(d) if d.is_ascii() => {
            // `is_ascii` makes this infallible.
            let d = std::str::from_utf8(d).map_err(|_| Rejected::DomainMismatch)?;
            Some(lowercase(d))
        }
        // A Unicode name is canonicalized as the host is (RFC 6265 §5.1.2, and as
        // browsers do): to its A-labels, through the same IDNA the URL parser uses.
        Some(d) => {
            let d = std::str::from_utf8(d).map_err(|_| Rejected::DomainMismatch)?;
            Some(Cow::Owned(a_labels(d).ok_or(Rejected::DomainMismatch)?))
        }
    };
    match domain_attr {
        Some(d) if is_public_suffix(&d) => {
            if *d == *origin.host {
                Ok(None)
            } else {
                Err(Rejected::PublicSuffix)
            }
        }
        domain_attr => Ok(domain_attr),
    }
}

/// Step 6: the cookie's domain, and whether it is host-only.
fn cookie_domain<'a>(
    domain_attr: Option<&'a str>,
    origin: &Origin<'a>,
) -> Result<(&'a str, bool), Rejected> {
    match domain_attr {
        Some(d) if !domain_match(origin.host, d) => Err(Rejected::DomainMismatch),
        // An IP address matches only itself: its cookies stay host-only.
        Some(d) if is_ip(d) => Ok((d, true)),
        Some(d) => Ok((d, false)),
        None => Ok((origin.host, true)),
    }
}

/// Whether a cookie named `name` for `domain` and `path` would shadow a `Secure` one
/// the jar holds (RFC 6265bis §5.7 step 16).
fn shadows_secure(state: &State, name: &str, domain: &str, path: &str, now_secs: i64) -> bool {
    state.groups.get(group(domain)).is_some_and(|list| {
        list.iter().any(|old| {
            old.secure
                && *old.name == *name
                && (domain_match(&old.domain, domain) || domain_match(domain, &old.domain))
                && path_match(path, &old.path)
                && !old.is_expired(now_secs)
        })
    })
}

/// RFC 6265bis §4.1.3: `__Secure-` needs `Secure`; `__Host-` needs `Secure`, no
/// `Domain` and `Path=/`. The prefixes compare without case, as the latest draft says.
fn check_prefix(
    name: &str,
    secure: bool,
    no_domain: bool,
    root_path: bool,
) -> Result<(), Rejected> {
    let starts = |prefix: &str| {
        name.get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    };
    if starts("__Secure-") && !secure {
        return Err(Rejected::Prefix);
    }
    if starts("__Host-") && !(secure && no_domain && root_path) {
        return Err(Rejected::Prefix);
    }
    Ok(())
}

pub(super) fn parse_rejected(err: ParseError) -> Rejected {
    match err {
        ParseError::Malformed => Rejected::Malformed,
        ParseError::NotUtf8 => Rejected::NotUtf8,
    }
}

/// Tells `tracing` what became of one `Set-Cookie` of a response: the cookie's name
/// (when it has one) and why it was rejected, never its value.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn note_set_cookie(host: &str, name: Option<&str>, stored: Result<(), Rejected>) {
    match stored {
        Ok(()) => trace!(target: "towline::cookie", name, host, "cookie stored"),
        Err(reason) => debug!(
            target: "towline::cookie",
            name,
            host,
            reason = %reason,
            "Set-Cookie rejected"
        ),
    }
}
