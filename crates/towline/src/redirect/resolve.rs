//! Resolving a `Location` header against the URI of the request it answered
//! (RFC 3986 §5.2, with the fragment rule of RFC 9110 §10.2.2), and comparing origins.

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

/// The five components of a URI reference (RFC 3986 Appendix B).
struct Reference<'a> {
    scheme: Option<&'a [u8]>,
    authority: Option<&'a [u8]>,
    path: &'a [u8],
    query: Option<&'a [u8]>,
    fragment: Option<&'a [u8]>,
}

fn split(input: &[u8]) -> Reference<'_> {
    let (rest, fragment) = match input.iter().position(|&b| b == b'#') {
        Some(i) => (&input[..i], Some(&input[i + 1..])),
        None => (input, None),
    };
    let (rest, query) = match rest.iter().position(|&b| b == b'?') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    // A scheme is what precedes the first ':' when no '/' comes before it. A candidate
    // that is not a valid scheme name ("1a:b", "a b:c") makes the reference a path, as
    // browsers read it.
    let (scheme, rest) = match rest.iter().position(|&b| b == b':' || b == b'/') {
        Some(i) if rest[i] == b':' && is_scheme(&rest[..i]) => (Some(&rest[..i]), &rest[i + 1..]),
        _ => (None, rest),
    };
    let (authority, path) = match rest.strip_prefix(b"//") {
        Some(after) => {
            let end = after.iter().position(|&b| b == b'/').unwrap_or(after.len());
            (Some(&after[..end]), &after[end..])
        }
        None => (None, rest),
    };
    Reference {
        scheme,
        authority,
        path,
        query,
        fragment,
    }
}

fn is_scheme(s: &[u8]) -> bool {
    match s.split_first() {
        Some((first, rest)) => {
            first.is_ascii_alphabetic()
                && rest
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        }
        None => false,
    }
}

/// Resolves `location` (a `Location` header value) against `base`, the absolute URI of
/// the request that was redirected, whose fragment, if it had one, is `base_fragment`.
///
/// Spaces, control characters, bytes above 0x7F and the few ASCII characters a URI
/// never holds unencoded are percent-encoded in the path, query and fragment. The
/// authority is taken as it is; one with such bytes (an internationalised host name,
/// which would need IDNA) is unusable.
pub(crate) fn resolve(
    base: &Uri,
    base_fragment: Option<&str>,
    location: &[u8],
) -> Result<Resolved, ResolveError> {
    let base_scheme = base.scheme_str().ok_or(ResolveError::Unusable)?;
    let base_authority = base.authority().ok_or(ResolveError::Unusable)?.as_str();
    let r = split(location.trim_ascii());

    // RFC 3986 §5.2.2, non-strict: "http:g" against an http base is relative.
    let scheme = r
        .scheme
        .filter(|s| !s.eq_ignore_ascii_case(base_scheme.as_bytes()));
    let mut out = String::with_capacity(base_authority.len() + location.len() + 16);
    let path_start;
    if let Some(scheme) = scheme {
        let scheme = String::from_utf8_lossy(scheme).to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(ResolveError::Scheme(scheme));
        }
        out.push_str(&scheme);
        out.push_str("://");
        push_authority(&mut out, r.authority.ok_or(ResolveError::Unusable)?)?;
        path_start = out.len();
        push_path(&mut out, "", r.path);
        push_query(&mut out, r.query);
    } else {
        out.push_str(base_scheme);
        out.push_str("://");
        if let Some(authority) = r.authority {
            push_authority(&mut out, authority)?;
            path_start = out.len();
            push_path(&mut out, "", r.path);
            push_query(&mut out, r.query);
        } else {
            out.push_str(base_authority);
            path_start = out.len();
            if r.path.is_empty() {
                out.push_str(base.path());
                match r.query {
                    Some(_) => push_query(&mut out, r.query),
                    None => push_query(&mut out, base.query().map(str::as_bytes)),
                }
            } else if r.path[0] == b'/' {
                push_path(&mut out, "", r.path);
                push_query(&mut out, r.query);
            } else {
                // Merge: the base path up to and including its last '/'.
                let base_path = base.path();
                let dir = match base_path.rfind('/') {
                    Some(i) => &base_path[..=i],
                    None => "/",
                };
                push_path(&mut out, dir, r.path);
                push_query(&mut out, r.query);
            }
        }
    }
    // An http URI's empty path is "/".
    if out.len() == path_start || out.as_bytes()[path_start] == b'?' {
        out.insert(path_start, '/');
    }

    let fragment = match r.fragment {
        Some(f) => {
            let mut s = String::with_capacity(f.len());
            encode(&mut s, f, b"#");
            Some(s)
        }
        None => base_fragment.map(str::to_owned),
    };
    let uri = Uri::try_from(out).map_err(|_| ResolveError::Unusable)?;
    if uri.host().is_none_or(str::is_empty) || !port_is_valid(&uri) {
        return Err(ResolveError::Unusable);
    }
    Ok(Resolved { uri, fragment })
}

/// `http::Uri` accepts any port text; a port that is present must be a number.
fn port_is_valid(uri: &Uri) -> bool {
    let Some(authority) = uri.authority() else {
        return false;
    };
    let host_port = authority.as_str().rsplit('@').next().unwrap_or("");
    let after_host = match host_port.rfind(']') {
        Some(i) => &host_port[i + 1..],
        None => host_port.find(':').map_or("", |i| &host_port[i..]),
    };
    match after_host.strip_prefix(':') {
        None => after_host.is_empty(),
        Some("") => true,
        Some(_) => uri.port_u16().is_some(),
    }
}

/// Appends the host and port of a `Location`'s authority. Userinfo a server put there
/// (`http://user:pw@host/`) is dropped: towline never sends URI userinfo, and a password
/// chosen by a server has no place in `EffectiveUri` or the redirect history.
fn push_authority(out: &mut String, authority: &[u8]) -> Result<(), ResolveError> {
    let authority = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let allowed = |b: &u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
                    | b'['
                    | b']'
                    | b'%'
            )
    };
    if authority.is_empty() || !authority.iter().all(allowed) {
        return Err(ResolveError::Unusable);
    }
    // All ASCII, checked above.
    out.extend(authority.iter().map(|&b| char::from(b)));
    Ok(())
}

/// Appends `dir` (from the base URI, already valid) followed by `path` (percent-encoded),
/// with dot segments removed.
fn push_path(out: &mut String, dir: &str, path: &[u8]) {
    let mut joined = String::with_capacity(dir.len() + path.len());
    joined.push_str(dir);
    encode(&mut joined, path, b"");
    remove_dot_segments(out, &joined);
}

fn push_query(out: &mut String, query: Option<&[u8]>) {
    if let Some(query) = query {
        out.push('?');
        encode(out, query, b"");
    }
}

/// Appends `bytes`, percent-encoding what may not appear in a URI as it is: controls,
/// space, bytes above 0x7E, `"<>\`{}` and backslash, plus any byte in `extra`. An
/// existing `%XX` is kept, so encoded input is not encoded twice.
fn encode(out: &mut String, bytes: &[u8], extra: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        let escape = b <= 0x20
            || b >= 0x7F
            || matches!(b, b'"' | b'<' | b'>' | b'`' | b'{' | b'}' | b'\\')
            || extra.contains(&b);
        if escape {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        } else {
            out.push(char::from(b));
        }
    }
}

/// RFC 3986 §5.2.4, appending the result to `out`.
fn remove_dot_segments(out: &mut String, path: &str) {
    let start = out.len();
    let mut input = path;
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest;
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") {
            input = &input[3..];
            pop_segment(out, start);
        } else if input == "/.." {
            input = "/";
            pop_segment(out, start);
        } else if input == "." || input == ".." {
            input = "";
        } else {
            let skip = usize::from(input.starts_with('/'));
            let end = input[skip..].find('/').map_or(input.len(), |i| i + skip);
            out.push_str(&input[..end]);
            input = &input[end..];
        }
    }
}

/// Removes the last segment of the output (from `start`) and the '/' before it.
fn pop_segment(out: &mut String, start: usize) {
    match out[start..].rfind('/') {
        Some(i) => out.truncate(start + i),
        None => out.truncate(start),
    }
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
            ("http://h.test/a", "HTTPS://H.test/a", "https://H.test/a"),
            ("http://h.test", "x", "http://h.test/x"),
            ("http://h.test/a/", "?q", "http://h.test/a/?q"),
            ("http://[::1]:8080/a/b", "c", "http://[::1]:8080/a/c"),
            (
                "http://h.test/a",
                "http://user:pw@o.test/",
                "http://o.test/",
            ),
            ("http://h.test/a", "http://o.test:/x", "http://o.test:/x"),
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
        assert_eq!(join(base, None, "/b#x y#z"), "http://h.test/b#x%20y%23z");
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
            "http://h.test/a%22%3C%3E%60%7B%7D%5Cb"
        );
        assert_eq!(join(base, None, "/a\tb"), "http://h.test/a%09b");
        // Existing escapes are kept as they are.
        assert_eq!(join(base, None, "/a%20b%2Fc"), "http://h.test/a%20b%2Fc");
        // Surrounding whitespace is not part of the reference.
        assert_eq!(join(base, None, "  /x  "), "http://h.test/x");
        // Latin-1 bytes (not UTF-8) are encoded byte by byte.
        let base_uri = Uri::from_static("http://h.test/");
        let r = resolve(&base_uri, None, b"/\xe9").expect("resolves");
        assert_eq!(r.uri, "http://h.test/%E9");
        // A backslash cannot smuggle in another host.
        assert_eq!(
            join(base, None, "\\\\evil.test/x"),
            "http://h.test/dir/%5C%5Cevil.test/x"
        );
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
            "http:///path",
            "https:no-authority",
            "//",
            "http://ex\u{e4}mple.test/",
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
