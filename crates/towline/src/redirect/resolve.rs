//! Resolving a `Location` header against the URI of the request it answered (the
//! WHATWG URL Standard, as browsers resolve it, with the fragment rule of RFC 9110
//! §10.2.2), and comparing origins.

use http::Uri;

/// A resolved redirect target.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// The absolute http or https URI to request next.
    pub(crate) uri: Uri,
    /// The fragment of the target: the reference's own, or else the base's. `http::Uri`
    /// cannot hold one, and it is never sent, so it travels beside the URI.
    pub(crate) fragment: Option<String>,
}

/// Why a `Location` could not be resolved.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ResolveError {
    /// Not a URI reference we can request: no host, bytes not allowed in a host, a
    /// base URI that is not absolute, or a result `http::Uri` refuses.
    Unusable,
    /// An absolute reference whose scheme is neither http nor https (lowercased).
    Scheme(String),
}

/// Resolves `location` (a `Location` header value) against `base`, the absolute URI of
/// the request that was redirected, whose fragment, if it had one, is `base_fragment`.
///
/// The reference is read by the WHATWG URL Standard, as browsers read it
/// ([`crate::uri`]): IDNA for hosts, backslashes as slashes, dot segments removed,
/// spaces and non-ASCII percent-encoded. Bytes that are not UTF-8 (a server that wrote
/// Latin-1) are percent-encoded one by one. Userinfo in the target is dropped: a
/// server does not get to choose credentials.
pub(crate) fn resolve(
    base: &Uri,
    base_fragment: Option<&str>,
    location: &[u8],
) -> Result<Resolved, ResolveError> {
    let location = location.trim_ascii();
    let reference = match std::str::from_utf8(location) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => std::borrow::Cow::Owned(latin1_escaped(location)),
    };
    let mut target = crate::uri::join(base, &reference).map_err(|_| ResolveError::Unusable)?;
    match target.scheme() {
        "http" | "https" => {}
        other => return Err(ResolveError::Scheme(other.to_owned())),
    }
    // Neither can fail on an http(s) URL with a host.
    let _ = target.set_username("");
    let _ = target.set_password(None);
    let fragment = match target.fragment() {
        Some(fragment) => Some(fragment.to_owned()),
        None => base_fragment.map(str::to_owned),
    };
    let uri = crate::uri::from_url(&target).map_err(|_| ResolveError::Unusable)?;
    Ok(Resolved { uri, fragment })
}

/// `bytes` with every byte above 0x7F percent-encoded, so the rest can be parsed.
fn latin1_escaped(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 16);
    for &b in bytes {
        if b.is_ascii() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether two absolute URIs have the same origin: scheme, host and port, with the
/// scheme's default port filled in.
pub(crate) fn same_origin(a: &Uri, b: &Uri) -> bool {
    a.scheme_str()
        .unwrap_or("")
        .eq_ignore_ascii_case(b.scheme_str().unwrap_or(""))
        && a.host()
            .unwrap_or("")
            .eq_ignore_ascii_case(b.host().unwrap_or(""))
        && port(a) == port(b)
}

/// Whether two URIs name the same authority as a `Host` header would (host and port).
pub(crate) fn same_authority(a: &Uri, b: &Uri) -> bool {
    a.host()
        .unwrap_or("")
        .eq_ignore_ascii_case(b.host().unwrap_or(""))
        && port(a) == port(b)
}

fn port(uri: &Uri) -> Option<u16> {
    uri.port_u16().or_else(|| match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") => Some(80),
        Some(s) if s.eq_ignore_ascii_case("https") => Some(443),
        _ => None,
    })
}

pub(crate) fn is_https(uri: &Uri) -> bool {
    uri.scheme_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("https"))
}

pub(crate) fn is_http(uri: &Uri) -> bool {
    uri.scheme_str()
        .is_some_and(|s| s.eq_ignore_ascii_case("http"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://a/b/c/d;p?q";

    /// Resolves against `base`, returning the URI and fragment as one string.
    fn join(base: &str, base_fragment: Option<&str>, location: &str) -> String {
        let base = Uri::try_from(base).expect("base");
        match resolve(&base, base_fragment, location.as_bytes()) {
            Ok(r) => match r.fragment {
                Some(f) => format!("{}#{f}", r.uri),
                None => r.uri.to_string(),
            },
            Err(ResolveError::Unusable) => "unusable".to_owned(),
            Err(ResolveError::Scheme(s)) => format!("scheme {s}"),
        }
    }

    #[test]
    fn rfc3986_normal_examples() {
        let cases = [
            ("g:h", "scheme g"),
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q#s"),
            ("g#s", "http://a/b/c/g#s"),
            ("g?y#s", "http://a/b/c/g?y#s"),
            (";x", "http://a/b/c/;x"),
            ("g;x", "http://a/b/c/g;x"),
            ("g;x?y#s", "http://a/b/c/g;x?y#s"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../", "http://a/"),
            ("../../g", "http://a/g"),
        ];
        for (location, expected) in cases {
            assert_eq!(
                join(BASE, None, location),
                expected,
                "Location: {location:?}"
            );
        }
    }

    #[test]
    fn rfc3986_abnormal_examples() {
        let cases = [
            ("../../../g", "http://a/g"),
            ("../../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            (".g", "http://a/b/c/.g"),
            ("g..", "http://a/b/c/g.."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("./g/.", "http://a/b/c/g/"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("g?y/./x", "http://a/b/c/g?y/./x"),
            ("g?y/../x", "http://a/b/c/g?y/../x"),
            ("g#s/./x", "http://a/b/c/g#s/./x"),
            ("g#s/../x", "http://a/b/c/g#s/../x"),
            // Non-strict: a scheme equal to the base's is ignored.
            ("http:g", "http://a/b/c/g"),
        ];
        for (location, expected) in cases {
            assert_eq!(
                join(BASE, None, location),
                expected,
                "Location: {location:?}"
            );
        }
    }

    #[test]
    fn relative_to_the_current_hop() {
        let cases = [
            ("http://h.test/a/b", "../c", "http://h.test/c"),
            ("http://h.test/a/b?x=1", "?y=2", "http://h.test/a/b?y=2"),
            ("http://h.test/a/b?x=1", "", "http://h.test/a/b?x=1"),
            (
                "http://h.test:8080/a",
                "//other.test/p",
                "http://other.test/p",
            ),
            (
                "https://h.test/a",
                "//other.test:444",
                "https://other.test:444/",
            ),
            ("http://h.test/a", "https://h.test/a", "https://h.test/a"),
            ("http://h.test/a", "HTTPS://H.test/a", "https://h.test/a"),
            ("http://h.test", "x", "http://h.test/x"),
            ("http://h.test/a/", "?q", "http://h.test/a/?q"),
            ("http://[::1]:8080/a/b", "c", "http://[::1]:8080/a/c"),
            (
                "http://h.test/a",
                "http://user:pw@o.test/",
                "http://o.test/",
            ),
            ("http://h.test/a", "http://o.test:/x", "http://o.test/x"),
            (
                "http://h.test/a",
                "http://o.test:8080/x",
                "http://o.test:8080/x",
            ),
        ];
        for (base, location, expected) in cases {
            assert_eq!(
                join(base, None, location),
                expected,
                "{base} + {location:?}"
            );
        }
    }

    #[test]
    fn fragment_is_inherited_when_the_target_has_none() {
        let base = "http://h.test/a";
        assert_eq!(join(base, Some("top"), "/b"), "http://h.test/b#top");
        assert_eq!(join(base, Some("top"), "/b#low"), "http://h.test/b#low");
        assert_eq!(join(base, Some("top"), "/b#"), "http://h.test/b#");
        assert_eq!(join(base, None, "/b"), "http://h.test/b");
        assert_eq!(join(base, None, "/b#x y#z"), "http://h.test/b#x%20y#z");
    }

    #[test]
    fn spaces_and_non_ascii_are_percent_encoded() {
        let base = "http://h.test/dir/";
        assert_eq!(join(base, None, "a b"), "http://h.test/dir/a%20b");
        assert_eq!(
            join(base, None, "/caf\u{e9}?q=\u{e9}t\u{e9}"),
            "http://h.test/caf%C3%A9?q=%C3%A9t%C3%A9"
        );
        assert_eq!(
            join(base, None, "/a\"<>`{}\\b"),
            "http://h.test/a%22%3C%3E%60%7B%7D/b"
        );
        // Tabs and newlines are removed, as the standard says.
        assert_eq!(join(base, None, "/a\tb"), "http://h.test/ab");
        // Existing escapes are kept as they are.
        assert_eq!(join(base, None, "/a%20b%2Fc"), "http://h.test/a%20b%2Fc");
        // Surrounding whitespace is not part of the reference.
        assert_eq!(join(base, None, "  /x  "), "http://h.test/x");
        // Latin-1 bytes (not UTF-8) are encoded byte by byte.
        let base_uri = Uri::from_static("http://h.test/");
        let r = resolve(&base_uri, None, b"/\xe9").expect("resolves");
        assert_eq!(r.uri, "http://h.test/%E9");
        // Backslashes are slashes in http(s), as browsers read them: `\\host` names
        // a host (a cross-origin hop like any other, with credentials stripped).
        assert_eq!(join(base, None, "\\\\other.test/x"), "http://other.test/x");
        assert_eq!(join(base, None, "a\\b\\..\\c"), "http://h.test/dir/a/c");
        // IDN hosts become A-labels.
        assert_eq!(
            join(base, None, "http://B\u{fc}cher.example/"),
            "http://xn--bcher-kva.example/"
        );
        // `http:/host` and `http:///host` name a host too.
        assert_eq!(join(base, None, "https:/o.test/p"), "https://o.test/p");
        assert_eq!(join(base, None, "http:///o.test/p"), "http://o.test/p");
    }

    #[test]
    fn only_http_and_https_targets() {
        let base = "https://h.test/a";
        assert_eq!(join(base, None, "ftp://h.test/f"), "scheme ftp");
        assert_eq!(join(base, None, "javascript:alert(1)"), "scheme javascript");
        assert_eq!(join(base, None, "FILE:///etc/passwd"), "scheme file");
        assert_eq!(join(base, None, "data:text/plain,hi"), "scheme data");
        // Not a scheme name, so a relative path.
        assert_eq!(join(base, None, "1a:b"), "https://h.test/1a:b");
    }

    #[test]
    fn userinfo_in_a_location_is_dropped() {
        let base = "http://h.test/a";
        assert_eq!(join(base, None, "http://u:pw@o.test/x"), "http://o.test/x");
        assert_eq!(join(base, None, "//u@o.test:81/x"), "http://o.test:81/x");
        assert_eq!(join(base, None, "https://a@b@o.test/"), "https://o.test/");
        assert_eq!(join(base, None, "http://u:pw@/x"), "unusable");
    }

    #[test]
    fn unusable_locations() {
        let base = "http://h.test/a";
        for location in [
            "http://",
            "https://",
            "//",
            "http://xn--a.test/",
            "http://ex%41mple\u{0}.test/",
            "http://h.test:notaport/",
            "http://h.test:99999/",
            "http://[::1]x/",
            "http://a b/",
        ] {
            assert_eq!(
                join(base, None, location),
                "unusable",
                "Location: {location:?}"
            );
        }
        let relative_base = Uri::from_static("/only/a/path");
        assert_eq!(
            resolve(&relative_base, None, b"/x").map(|r| r.uri),
            Err(ResolveError::Unusable)
        );
    }

    #[test]
    fn origins() {
        let o = |a: &str, b: &str| {
            same_origin(&Uri::try_from(a).expect("a"), &Uri::try_from(b).expect("b"))
        };
        assert!(o("http://h.test/a", "http://H.TEST:80/b?c"));
        assert!(o("https://h.test/", "https://h.test:443/x"));
        assert!(!o("http://h.test/", "https://h.test/"));
        assert!(!o("http://h.test/", "http://h.test:8080/"));
        assert!(!o("http://h.test/", "http://other.test/"));
        assert!(!o("http://127.0.0.1:1/", "http://localhost:1/"));
    }
}
