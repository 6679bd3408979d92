//! Hosts, domains and paths as RFC 6265 §5.1 compares them, and the registrable
//! domain a jar keeps a domain's cookies under.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use http::Uri;

/// Whether `uri` is `https` (a secure origin).
pub(super) fn is_secure(uri: &Uri) -> bool {
    uri.scheme_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("https"))
}

/// The canonical host of `uri` (§5.1.2): lowercase, IPv6 without brackets. Borrowed
/// unless it had capitals.
pub(crate) fn request_host(uri: &Uri) -> Option<Cow<'_, str>> {
    let host = uri.host()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    Some(lowercase(host))
}

pub(super) fn lowercase(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// Lowercase, without one leading dot (how users and files write domains).
/// A domain given to look cookies up: without a leading dot, lower case, and in
/// A-labels when it is spelled in Unicode.
pub(super) fn normalize_domain(domain: &str) -> String {
    let domain = domain.strip_prefix('.').unwrap_or(domain);
    match domain.is_ascii() {
        true => domain.to_ascii_lowercase(),
        false => a_labels(domain).unwrap_or_else(|| domain.to_owned()),
    }
}

/// A name in Unicode as its A-labels (`bücher.example` as `xn--bcher-kva.example`), by
/// the WHATWG host parser, as every URL's host is; `None` when it is no domain name.
pub(super) fn a_labels(domain: &str) -> Option<String> {
    match url::Host::parse(domain) {
        Ok(url::Host::Domain(name)) => Some(name),
        _ => None,
    }
}

pub(super) fn is_ip(host: &str) -> bool {
    match host.as_bytes().last() {
        Some(b'0'..=b'9') => host.parse::<Ipv4Addr>().is_ok() || host.parse::<Ipv6Addr>().is_ok(),
        Some(_) => host.contains(':') && host.parse::<Ipv6Addr>().is_ok(),
        None => false,
    }
}

/// Whether `domain` is a public suffix: `com`, `co.uk`, `github.io`, or (by the
/// list's implicit `*` rule) any single label such as `localhost`.
pub(super) fn is_public_suffix(domain: &str) -> bool {
    !is_ip(domain)
        && psl::suffix(domain.as_bytes()).is_some_and(|s| s.as_bytes().len() == domain.len())
}

/// The key a domain's cookies are kept under: its registrable domain, or the name
/// itself for an IP address or a public suffix.
pub(super) fn group(domain: &str) -> &str {
    if is_ip(domain) {
        return domain;
    }
    match psl::domain(domain.as_bytes()) {
        Some(d) => domain
            .get(domain.len() - d.as_bytes().len()..)
            .unwrap_or(domain),
        None => domain,
    }
}

/// §5.1.3: `host` is `domain`, or a name (not an IP address) ending in `.domain`.
pub(crate) fn domain_match(host: &str, domain: &str) -> bool {
    if host == domain {
        return true;
    }
    host.len() > domain.len()
        && host.ends_with(domain)
        && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
        && !is_ip(host)
}

/// §5.1.4: the request path is the cookie path, or under it.
pub(crate) fn path_match(request: &str, cookie: &str) -> bool {
    request == cookie
        || (request.starts_with(cookie)
            && (cookie.ends_with('/') || request.as_bytes().get(cookie.len()) == Some(&b'/')))
}

/// §5.1.4: the directory of the request path.
pub(crate) fn default_path(path: &str) -> &str {
    if !path.starts_with('/') {
        return "/";
    }
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}
