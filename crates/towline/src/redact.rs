//! Redaction: what towline shows of a URL, so that no secret reaches a log.
//!
//! Every `Display` and `Debug` towline writes, and every `tracing` field, shows a URL
//! through one function, [`Redaction::text`] (or [`Redaction::uri`], the same for an
//! [`http::Uri`]). It hides two things:
//!
//! - **userinfo**, whole: `http://user:password@host/` and `http://TOKEN@host/` both
//!   show as `http://***@host/`;
//! - **query parameters whose names look secret**: their values show as `***`
//!   (`?access_token=***&page=2`). The default names are
//!   [`DEFAULT_SECRET_PARAMS`]: `access_token`, `token`, `key`, `api_key`, `apikey`,
//!   `password`, `secret`, `signature`, `sig`, `X-Amz-Signature`, `X-Amz-Credential`
//!   and `X-Amz-Security-Token`. A name matches case-insensitively, after its
//!   percent-escapes are decoded (`Access%5FToken` is `access_token`). Parameters in a
//!   fragment (`#access_token=…`, as OAuth's implicit flow returns them) are treated
//!   the same way.
//!
//! Header values shown by `Debug` (a redirect [`Hop`](crate::redirect::Hop)'s headers)
//! go through the same function: credentials headers (`Authorization`,
//! `Proxy-Authorization`, `Cookie`, `Set-Cookie`, and any value marked sensitive) show
//! as `***`, and URL-valued ones (`Location`, `Content-Location`, `Referer`) are
//! redacted like URLs.
//!
//! Only output changes: what is sent on the wire, and what accessors such as
//! [`Error::uri`](crate::Error::uri) return, are the caller's URL unchanged.
//!
//! # Choosing the names
//!
//! [`ClientBuilder::redact_query_params`](crate::client::ClientBuilder::redact_query_params)
//! adds names to the default list, and
//! [`ClientBuilder::redaction`](crate::client::ClientBuilder::redaction) replaces the
//! whole [`Redaction`]. The list travels with each request the `Client` sends, as a
//! request extension (a `Redaction` value; a request without one uses the default
//! list, and the `Client` adds one only when its list is not the default, so the
//! default costs nothing per request). Each layer that formats a URI — in a `tracing`
//! field or in an error it returns — reads the list from that extension, and an
//! error keeps the list it was made with, so it formats itself the same way wherever
//! it ends up. The same extension works for the layers used without the `Client`.
//! [`EffectiveUri`](crate::connect::EffectiveUri), a public tuple struct the connector
//! builds, shows its URI with the default list.
//!
//! ```
//! use towline::redact::Redaction;
//!
//! let uri: http::Uri = "https://u:SECRET@api.example/v1?access_token=SECRET&page=2"
//!     .parse()
//!     .expect("a URI");
//! assert_eq!(
//!     Redaction::default().uri(&uri).to_string(),
//!     "https://***@api.example/v1?access_token=***&page=2"
//! );
//!
//! // Add a name of your own, or replace the list.
//! let custom = Redaction::default().with_params(["session"]);
//! assert_eq!(custom.text("/a?Session=abc&key=1"), "/a?Session=***&key=***");
//! let only = Redaction::only(["session"]);
//! assert_eq!(only.text("/a?session=abc&key=1"), "/a?session=***&key=1");
//! ```

use std::fmt;
use std::sync::Arc;

use http::{Extensions, Uri};
use http::{HeaderMap, HeaderName, header};

/// The query parameter names redacted by default (compared case-insensitively).
pub const DEFAULT_SECRET_PARAMS: &[&str] = &[
    "access_token",
    "token",
    "key",
    "api_key",
    "apikey",
    "password",
    "secret",
    "signature",
    "sig",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
];

/// Which query parameters are secret; shows URLs with secrets replaced by `***`.
///
/// The default is [`DEFAULT_SECRET_PARAMS`]. Userinfo is always hidden. Cheap to clone
/// (the default holds no allocation; a custom list is shared). As a request
/// extension it tells every layer how to show that request's URI. See the
/// [module docs](self).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Redaction {
    /// `None`: the default list.
    names: Option<Arc<[Box<str>]>>,
}

/// The default redaction, for code that holds no [`Redaction`].
pub(crate) static DEFAULT: Redaction = Redaction { names: None };

impl Redaction {
    /// The default list, [`DEFAULT_SECRET_PARAMS`].
    pub const fn new() -> Redaction {
        Redaction { names: None }
    }

    /// Exactly these names, none of the defaults.
    pub fn only<I>(names: I) -> Redaction
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let names: Vec<Box<str>> = names
            .into_iter()
            .map(|n| n.into().into_boxed_str())
            .collect();
        Redaction {
            names: Some(names.into()),
        }
    }

    /// These names as well as the current ones.
    pub fn with_params<I>(self, names: I) -> Redaction
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let mut all: Vec<Box<str>> = self.names().map(Box::from).collect();
        for name in names {
            let name = name.into();
            if !all.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
                all.push(name.into_boxed_str());
            }
        }
        Redaction {
            names: Some(all.into()),
        }
    }

    /// The query parameter names whose values are hidden.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        let custom = self.names.as_deref().map(|n| n.iter().map(|n| &**n));
        let default = match custom {
            Some(_) => None,
            None => Some(DEFAULT_SECRET_PARAMS.iter().copied()),
        };
        custom
            .into_iter()
            .flatten()
            .chain(default.into_iter().flatten())
    }

    /// Whether this is the default list.
    pub fn is_default(&self) -> bool {
        self.names.is_none()
    }

    /// Whether a query parameter of this name is hidden (`name` as it appears in the
    /// URL, percent-escapes included).
    pub fn is_secret_param(&self, name: &str) -> bool {
        let decoded = percent_decode(name);
        let name = decoded.as_deref().unwrap_or(name);
        self.names().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// `uri` as output shows it: see the [module docs](self).
    pub fn uri<'a>(&'a self, uri: &'a Uri) -> RedactedUri<'a> {
        RedactedUri {
            uri,
            redaction: self,
        }
    }

    /// A URL or URL reference given as text, as output shows it: userinfo as `***`,
    /// secret query and fragment parameters as `***`. Text that is no URL passes
    /// unchanged, except what looks like userinfo before an `@`.
    pub fn text(&self, input: &str) -> String {
        let mut out = String::with_capacity(input.len());
        // Writing to a `String` cannot fail.
        let _ = self.write(&mut out, input);
        out
    }

    /// The redaction a request carries, or the default one.
    pub fn of(extensions: &Extensions) -> &Redaction {
        extensions.get::<Redaction>().unwrap_or(&DEFAULT)
    }

    /// The one function: writes `input` with its secrets replaced.
    fn write(&self, out: &mut dyn fmt::Write, input: &str) -> fmt::Result {
        let (authority_start, authority_end) = authority_bounds(input);
        let authority = &input[authority_start..authority_end];
        // An `@` before the authority (text that only looked like a scheme, as in
        // `user:pass@host:/…`) hides what precedes it too.
        match input[..authority_start].rfind('@') {
            Some(at) => {
                out.write_str("***")?;
                out.write_str(&input[at..authority_start])?;
            }
            None => out.write_str(&input[..authority_start])?,
        }
        match authority.rfind('@') {
            Some(at) => {
                out.write_str("***")?;
                out.write_str(&authority[at..])?;
            }
            None => out.write_str(authority)?,
        }
        let rest = &input[authority_end..];
        let (before_fragment, fragment) = match rest.find('#') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        match before_fragment.find('?') {
            Some(i) => {
                out.write_str(&before_fragment[..=i])?;
                self.write_params(out, &before_fragment[i + 1..])?;
            }
            None => out.write_str(before_fragment)?,
        }
        if let Some(fragment) = fragment {
            out.write_char('#')?;
            self.write_params(out, fragment)?;
        }
        Ok(())
    }

    /// Writes `a=1&b=2` with the values of secret names as `***`.
    fn write_params(&self, out: &mut dyn fmt::Write, params: &str) -> fmt::Result {
        let mut rest = params;
        loop {
            let end = rest.find(['&', ';']).unwrap_or(rest.len());
            let pair = &rest[..end];
            match pair.split_once('=') {
                Some((name, _)) if self.is_secret_param(name) => {
                    out.write_str(name)?;
                    out.write_str("=***")?;
                }
                _ => out.write_str(pair)?,
            }
            if end == rest.len() {
                return Ok(());
            }
            out.write_str(&rest[end..=end])?;
            rest = &rest[end + 1..];
        }
    }
}

impl fmt::Debug for Redaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

/// Where the authority of `input` starts and ends: after the first `:` that slashes
/// (or backslashes, which WHATWG reads as slashes) follow before any `?` or `#`,
/// whatever precedes it (a mistyped or control-prefixed scheme, or a path that embeds
/// a URL, still has its userinfo hidden), or else after the leading slashes of a
/// network-path reference (`//host/…`); up to the first `/`, `\`, `?` or `#`. A
/// path (`/…`) has none. Anything else is taken as an authority from the
/// start, so `TOKEN@host` and `user:pass@host` hide their userinfo too.
fn authority_bounds(input: &str) -> (usize, usize) {
    let head = &input[..input.find(['?', '#']).unwrap_or(input.len())];
    let after_scheme = head
        .match_indices(':')
        .map(|(i, _)| i + 1)
        .find(|&i| head[i..].starts_with(['/', '\\']))
        .map(|i| head.len() - head[i..].trim_start_matches(['/', '\\']).len());
    let leading = input.len() - input.trim_start_matches(['/', '\\']).len();
    let start = match (after_scheme, leading) {
        (Some(start), _) => start,
        (None, 1) => return (0, 0),
        (None, n) => n,
    };
    let end = input[start..]
        .find(['/', '\\', '?', '#'])
        .map_or(input.len(), |i| start + i);
    (start, end)
}

/// Decodes `%XX` escapes; `None` when there is none to decode or the result is not
/// UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return None;
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                let (h, l) = (hex(h).unwrap_or(0), hex(l).unwrap_or(0));
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A [`Uri`] as output shows it; see [`Redaction::uri`].
pub struct RedactedUri<'a> {
    uri: &'a Uri,
    redaction: &'a Redaction,
}

impl fmt::Display for RedactedUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let uri = self.uri;
        let text = uri.to_string();
        self.redaction.write(f, &text)
    }
}

impl fmt::Debug for RedactedUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `uri` with the default redaction, for the `Display` of values that hold no
/// [`Redaction`].
pub(crate) fn uri(uri: &Uri) -> RedactedUri<'_> {
    DEFAULT.uri(uri)
}

/// A header map as `Debug` shows it: credentials hidden, URL values redacted.
pub(crate) struct Headers<'a>(pub(crate) &'a HeaderMap, pub(crate) &'a Redaction);

impl fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in self.0 {
            if value.is_sensitive() || is_credential_header(name) {
                map.entry(name, &"***");
            } else if is_url_header(name) {
                match value.to_str() {
                    Ok(text) => map.entry(name, &self.1.text(text)),
                    Err(_) => map.entry(name, &"<non-ASCII>"),
                };
            } else {
                map.entry(name, value);
            }
        }
        map.finish()
    }
}

fn is_credential_header(name: &HeaderName) -> bool {
    [
        header::AUTHORIZATION,
        header::PROXY_AUTHORIZATION,
        header::COOKIE,
        header::SET_COOKIE,
    ]
    .contains(name)
}

fn is_url_header(name: &HeaderName) -> bool {
    [header::LOCATION, header::CONTENT_LOCATION, header::REFERER].contains(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_hidden_whole() {
        let r = Redaction::default();
        for (input, out) in [
            ("http://u:p@h/", "http://***@h/"),
            ("http://TOKEN@h/x@y", "http://***@h/x@y"),
            ("TOKEN@h", "***@h"),
            ("u:SECRET@h/", "***@h/"),
            ("http:\\\\a:b@h\\", "http:\\\\***@h\\"),
            ("http:/a:b@h/", "http:/***@h/"),
            ("//a:b@h/p", "//***@h/p"),
            ("http://h/", "http://h/"),
            ("/a@b", "/a@b"),
            ("", ""),
            ("mailto:me@example.com", "***@example.com"),
            (
                "%00htp://user:SECRET@proxy.test:3128",
                "%00htp://***@proxy.test:3128",
            ),
            (" http://u:p@h/?x#y", " http://***@h/?x#y"),
            ("u:SECRET@h:80//x", "***@h:80//x"),
            (
                "\\x\u{1}s5h://u:p@[::1]:9050",
                "\\x\u{1}s5h://***@[::1]:9050",
            ),
            ("/go/http://u:p@h/x", "/go/http://***@h/x"),
            ("u:SECRET@h:/p", "***@h:/p"),
        ] {
            assert_eq!(r.text(input), out, "{input}");
        }
    }

    #[test]
    fn secret_params_are_hidden_case_insensitively() {
        let r = Redaction::default();
        for (input, out) in [
            (
                "https://h/p?access_token=S&page=2",
                "https://h/p?access_token=***&page=2",
            ),
            ("/p?A=1&TOKEN=S;Key=S&x", "/p?A=1&TOKEN=***;Key=***&x"),
            (
                "https://b.s3/o?X-Amz-Credential=S&x-amz-signature=S&X-Amz-Security-Token=S",
                "https://b.s3/o?X-Amz-Credential=***&x-amz-signature=***&X-Amz-Security-Token=***",
            ),
            ("/p?access%5Ftoken=S", "/p?access%5Ftoken=***"),
            ("/p?tokens=1&token", "/p?tokens=1&token"),
            ("/p#access_token=S&state=1", "/p#access_token=***&state=1"),
            ("/p?sig=S#sig=S", "/p?sig=***#sig=***"),
            ("/p?", "/p?"),
            ("/p?&&", "/p?&&"),
            ("/p?key=", "/p?key=***"),
            ("/p?%zz=1&%=2", "/p?%zz=1&%=2"),
        ] {
            assert_eq!(r.text(input), out, "{input}");
        }
    }

    #[test]
    fn the_list_is_extended_or_replaced() {
        let extended = Redaction::new().with_params(["Session", "TOKEN"]);
        assert!(extended.is_secret_param("session"));
        assert!(extended.is_secret_param("token"));
        assert_eq!(extended.names().filter(|n| *n == "token").count(), 1);
        assert!(!extended.is_default());
        let only = Redaction::only(["session"]);
        assert!(only.is_secret_param("SESSION"));
        assert!(!only.is_secret_param("access_token"));
        assert!(
            Redaction::only(Vec::<String>::new())
                .names()
                .next()
                .is_none()
        );
        assert_eq!(format!("{only:?}"), "{\"session\"}");
    }

    #[test]
    fn a_uri_and_its_extension() {
        let uri = Uri::from_static("http://T@h:8080/a?key=S&b=c");
        assert_eq!(uri.to_string(), "http://T@h:8080/a?key=S&b=c");
        assert_eq!(
            super::uri(&uri).to_string(),
            "http://***@h:8080/a?key=***&b=c"
        );
        let mut ext = Extensions::new();
        assert!(Redaction::of(&ext).is_default());
        ext.insert(Redaction::only(["b"]));
        assert_eq!(
            Redaction::of(&ext).uri(&uri).to_string(),
            "http://***@h:8080/a?key=S&b=***"
        );
    }

    #[test]
    fn headers_hide_credentials_and_redact_urls() {
        let mut headers = HeaderMap::new();
        headers.insert(header::LOCATION, "http://T@h/?token=S".parse().expect("v"));
        headers.insert(header::SET_COOKIE, "a=S".parse().expect("v"));
        let mut custom = http::HeaderValue::from_static("S");
        custom.set_sensitive(true);
        headers.insert("x-api", custom);
        headers.insert("x-plain", "visible".parse().expect("v"));
        let text = format!("{:?}", Headers(&headers, &DEFAULT));
        assert!(!text.contains('S'), "{text}");
        assert!(text.contains("http://***@h/?token=***"), "{text}");
        assert!(text.contains("visible"), "{text}");
    }
}
