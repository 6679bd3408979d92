//! URLs at the edge of the stack: what users type and servers send, read once by the
//! [WHATWG URL Standard](https://url.spec.whatwg.org/).
//!
//! Every string that enters towline as a URL — the argument of
//! [`Client::get`](crate::Client::get) and friends, proxy URLs, a redirect's `Location`,
//! the CLI's arguments — is parsed by the [`url`] crate, the way browsers, curl and
//! reqwest read it, with IDNA (UTS #46) for host names. What comes out is an
//! [`http::Uri`] in normal form, and the layers below carry that and never parse again:
//!
//! | input | sent as |
//! | --- | --- |
//! | `http://bücher.example/` | `http://xn--bcher-kva.example/` (A-label host) |
//! | `HTTP://Example.COM:80/a/./b/../c` | `http://example.com/a/c` (case folded, default port elided, dot segments removed) |
//! | `http:\\example.com\a\b` | `http://example.com/a/b` (backslashes are slashes in http and https) |
//! | `http:/example.com/`, `http:///example.com/` | `http://example.com/` |
//! | `http://example.com/a b?q=ä` | `http://example.com/a%20b?q=%C3%A4` |
//! | `http://0x7f.1/` | `http://127.0.0.1/` |
//!
//! The fragment (`#…`) is never sent and is dropped. What the standard refuses is an
//! [`InvalidUrl`], which the `Client` reports as an error whose
//! [`is_invalid_request()`](crate::Error::is_invalid_request) is true.
//!
//! [`IntoUri`] is what the `Client`'s methods take: `&str`, `String`, `&String`,
//! [`Url`] or an [`http::Uri`]. An `http::Uri` that is already in normal form (the usual
//! case: one built by a program, or one that came out of this module) passes through
//! with a few byte checks and no copy; one that is not is normalised like a string.
//!
//! ```
//! use towline::uri::IntoUri;
//!
//! let uri = "HTTP://Bücher.Example/a/../b c".into_uri()?;
//! assert_eq!(uri, "http://xn--bcher-kva.example/b%20c");
//! # Ok::<(), towline::uri::InvalidUrl>(())
//! ```

use std::error::Error as StdError;
use std::fmt;

use http::Uri;
pub use url::Url;

use crate::redact::Redaction;

mod sealed {
    pub trait Sealed {}
}

/// A value the `Client` accepts as a request's URL: `&str`, `String`, `&String`,
/// [`Url`], `&Url`, [`http::Uri`] or `&Uri`.
///
/// Strings are parsed by the WHATWG URL Standard; see the [module docs](self) for what
/// comes out. The trait is sealed: it cannot be implemented outside towline.
pub trait IntoUri: sealed::Sealed {
    /// The URL as an absolute `http::Uri` in normal form.
    fn into_uri(self) -> Result<Uri, InvalidUrl>;
}

impl sealed::Sealed for &str {}
impl IntoUri for &str {
    fn into_uri(self) -> Result<Uri, InvalidUrl> {
        parse(self)
    }
}

impl sealed::Sealed for String {}
impl IntoUri for String {
    fn into_uri(self) -> Result<Uri, InvalidUrl> {
        parse(&self)
    }
}

impl sealed::Sealed for &String {}
impl IntoUri for &String {
    fn into_uri(self) -> Result<Uri, InvalidUrl> {
        parse(self)
    }
}

impl sealed::Sealed for Url {}
impl IntoUri for Url {
    fn into_uri(self) -> Result<Uri, InvalidUrl> {
        from_url(&self)
    }
}

impl sealed::Sealed for &Url {}
impl IntoUri for &Url {
    fn into_uri(self) -> Result<Uri, InvalidUrl> {
        from_url(self)
    }
}

impl sealed::Sealed for Uri {}
impl IntoUri for Uri {
    fn into_uri(self) -> Result<Uri, InvalidUrl> {
        normalize(self)
    }
}

impl sealed::Sealed for &Uri {}
impl IntoUri for &Uri {
    fn into_uri(self) -> Result<Uri, InvalidUrl> {
        normalize(self.clone())
    }
}

/// Parses `input` by the WHATWG URL Standard into an absolute `http::Uri` in normal
/// form (see the [module docs](self)). Leading and trailing spaces and control
/// characters are ignored, as the standard says.
pub fn parse(input: &str) -> Result<Uri, InvalidUrl> {
    // The usual URL is already in normal form: `http::Uri` reads it in a fraction of
    // the standard's time, and `is_normal` says whether the standard would give the
    // same back (`false` only costs the full parse below).
    if let Some(uri) = shortcut(input) {
        return Ok(uri);
    }
    match Url::parse(input) {
        Ok(url) => from_url(&url).map_err(|e| e.with_input(input)),
        Err(err) => Err(InvalidUrl::new(input, Reason::Parse(err))),
    }
}

/// `input` read by `http::Uri`, when that is what the standard would give: an http or
/// https URL already in normal form. (`is_normal` lets other schemes pass as they
/// are, which the standard reads by other rules.)
fn shortcut(input: &str) -> Option<Uri> {
    let uri = Uri::try_from(input).ok()?;
    (matches!(uri.scheme_str(), Some("http" | "https")) && is_normal(&uri)).then_some(uri)
}

/// Resolves `reference` against `base` as a browser resolves a link (WHATWG URL
/// Standard, with the base's fragment kept when the reference has none, RFC 9110
/// §10.2.2). Used for a redirect's `Location`.
#[cfg(feature = "redirect")]
pub(crate) fn join(base: &Uri, reference: &str) -> Result<Url, url::ParseError> {
    let base = Url::parse(&base.to_string())?;
    base.join(reference)
}

/// `url` as an `http::Uri`, its fragment dropped.
pub fn from_url(url: &Url) -> Result<Uri, InvalidUrl> {
    if !url.has_host() || url.host_str() == Some("") {
        return Err(InvalidUrl::new(url.as_str(), Reason::NoHost));
    }
    let text = &url[..url::Position::AfterQuery];
    match Uri::try_from(text) {
        Ok(uri) => Ok(uri),
        // The standard leaves a few bytes unencoded that `http::Uri` refuses (in a
        // query: `{`, `}`, `|`, `^`, `` ` ``, and in a path `|`, `^`, `[`, `]`):
        // encode them; servers decode them the same either way.
        Err(_) => Uri::try_from(encode_leftovers(text))
            .map_err(|e| InvalidUrl::new(url.as_str(), Reason::Uri(e.to_string()))),
    }
}

/// The bytes after the authority that `http::Uri` refuses, percent-encoded.
fn encode_leftovers(text: &str) -> String {
    let path_start = text
        .find("://")
        .and_then(|i| text[i + 3..].find('/').map(|j| i + 3 + j))
        .unwrap_or(text.len());
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..path_start]);
    for b in text[path_start..].bytes() {
        let plain = b.is_ascii_graphic()
            && !matches!(
                b,
                b'"' | b'<' | b'>' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
            )
            && !matches!(b, b'[' | b']');
        if plain || b >= 0x80 {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An `http::Uri` in normal form: unchanged when it already is (checked byte by byte,
/// no copy), otherwise through the parser.
fn normalize(uri: Uri) -> Result<Uri, InvalidUrl> {
    if is_normal(&uri) {
        return Ok(uri);
    }
    let text = uri.to_string();
    match Url::parse(&text) {
        Ok(url) => from_url(&url),
        Err(err) => Err(InvalidUrl::new(&text, Reason::Parse(err))),
    }
}

/// Whether the WHATWG parser would give `uri` back as it is (a conservative check:
/// `false` only costs a parse). Other schemes than http and https pass as they are.
///
/// One pass over the bytes, without `str` searches: it runs on every request given an
/// `http::Uri` and on every `&str` the shortcut reads.
fn is_normal(uri: &Uri) -> bool {
    let Some(scheme) = uri.scheme() else {
        return false;
    };
    // `Scheme` compares case-insensitively; the text must be lower case too.
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        other => {
            return !(other.eq_ignore_ascii_case("http") || other.eq_ignore_ascii_case("https"));
        }
    };
    let Some(authority) = uri.authority() else {
        return false;
    };
    // No userinfo: the authority is the host and maybe `:port`.
    let text = authority.as_str().as_bytes();
    let host_end = match normal_host_end(text) {
        Some(end) => end,
        None => return false,
    };
    let port = text.get(host_end + 1..);
    // `08080` is `8080` to the standard, `99999` an error, `host:` is `host`, and the
    // default port is left out.
    if let Some(digits) = port {
        match parse_port(digits) {
            Some(port) if digits[0] != b'0' && port != default_port => {}
            _ => return false,
        }
    }
    // `http://host` is `http://host/` to the standard.
    let Some(path_and_query) = uri.path_and_query() else {
        return false;
    };
    path_and_query_is_normal(path_and_query.as_str().as_bytes())
}

/// `digits` as a port number, if they are one (at least one digit, at most 65535).
fn parse_port(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    let mut port: u32 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        port = port * 10 + u32::from(b - b'0');
    }
    u16::try_from(port).ok()
}

/// Where the host at the start of `authority` ends, if the standard gives it back as
/// it is: lower-case ASCII letters, digits, `-`, `.` and `_`, no label that IDNA would
/// read (`xn--` labels are checked by the parser), and, when the last label starts
/// with a digit (an IPv4 address to the standard, in any of its shorthands), only the
/// dotted-quad form it prints. One pass, no search: it runs on every request.
fn normal_host_end(authority: &[u8]) -> Option<usize> {
    let mut end = 0;
    let mut label_start = true;
    let mut last_label_first = None;
    while let Some(&b) = authority.get(end) {
        if b == b':' {
            break;
        }
        if BYTES[usize::from(b)] & HOST == 0 {
            return None;
        }
        if b == b'.' {
            label_start = true;
        } else if label_start {
            label_start = false;
            last_label_first = Some(b);
            if b == b'x' && authority[end..].starts_with(b"xn--") {
                return None;
            }
        }
        end += 1;
    }
    match last_label_first {
        Some(first) if !first.is_ascii_digit() || is_dotted_quad(&authority[..end]) => Some(end),
        _ => None,
    }
}

/// Four decimal numbers up to 255 without leading zeros, joined by dots.
fn is_dotted_quad(host: &[u8]) -> bool {
    let mut parts = 0;
    for part in host.split(|&b| b == b'.') {
        parts += 1;
        let normal = match part {
            [b'0'] => true,
            [b'1'..=b'9', ..] if part.len() <= 3 => {
                part.iter().all(u8::is_ascii_digit)
                    && part.iter().fold(0u32, |n, &b| n * 10 + u32::from(b - b'0')) <= 255
            }
            _ => false,
        };
        if !normal || parts > 4 {
            return false;
        }
    }
    parts == 4
}

/// A path (with its query) the standard gives back as it is: starting with `/`, no
/// `.` or `..` segment (`%2e` counts as a dot), and no byte the standard
/// percent-encodes (those outside printable ASCII, which `http::Uri` lets through, and
/// a few printable ones, different in the path and in the query).
fn path_and_query_is_normal(bytes: &[u8]) -> bool {
    if bytes.first() != Some(&b'/') {
        return false;
    }
    let mut segment = 1;
    loop {
        let rest = &bytes[segment..];
        let end = rest
            .iter()
            .position(|&b| BYTES[usize::from(b)] & PATH == 0)
            .unwrap_or(rest.len());
        if is_dot_segment(&rest[..end]) {
            return false;
        }
        match rest.get(end) {
            None => return true,
            Some(b'/') => segment += end + 1,
            Some(b'?') => {
                return rest[end + 1..]
                    .iter()
                    .all(|&b| BYTES[usize::from(b)] & QUERY != 0);
            }
            Some(_) => return false,
        }
    }
}

/// Classes of bytes for `is_normal`: [`HOST`], [`PATH`] and [`QUERY`] bits.
static BYTES: [u8; 256] = {
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        let mut class = 0;
        if byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'-' | b'.' | b'_')
        {
            class |= HOST;
        }
        // Printable ASCII but for what the standard percent-encodes.
        let plain = byte.is_ascii_graphic() && !matches!(byte, b'"' | b'<' | b'>');
        if plain && !matches!(byte, b'`' | b'{' | b'}' | b'\\' | b'/' | b'?') {
            class |= PATH;
        }
        if plain && byte != b'\'' {
            class |= QUERY;
        }
        table[b] = class;
        b += 1;
    }
    table
};
/// A byte a normal host may hold (dots included).
const HOST: u8 = 1;
/// A byte a normal path segment may hold (not `/` or `?`, which end it).
const PATH: u8 = 2;
/// A byte a normal query may hold.
const QUERY: u8 = 4;

/// Whether a path segment is `.` or `..`, percent-encoded (`%2e`) or not.
fn is_dot_segment(s: &[u8]) -> bool {
    let dot = |b: &[u8]| b == b"." || b.eq_ignore_ascii_case(b"%2e");
    match s.len() {
        1 | 3 => dot(s),
        2 => s == b"..",
        4 => dot(&s[..1]) && dot(&s[1..]) || dot(&s[..3]) && dot(&s[3..]),
        6 => dot(&s[..3]) && dot(&s[3..]),
        _ => false,
    }
}

/// A URL the WHATWG URL Standard refuses, or one that names no host to send a
/// request to.
///
/// Its message quotes the input with userinfo and secret query parameters replaced by
/// `***` (see [`crate::redact`]).
#[derive(Clone)]
pub struct InvalidUrl {
    /// The input as given, for the `Client`'s own redaction.
    #[cfg(feature = "client")]
    raw: String,
    /// The input as output shows it.
    input: String,
    reason: Reason,
}

#[derive(Clone)]
enum Reason {
    Parse(url::ParseError),
    NoHost,
    Uri(String),
}

impl InvalidUrl {
    fn new(input: &str, reason: Reason) -> InvalidUrl {
        let input = input.trim();
        InvalidUrl {
            #[cfg(feature = "client")]
            raw: input.to_owned(),
            input: Redaction::new().text(input),
            reason,
        }
    }

    fn with_input(self, input: &str) -> InvalidUrl {
        InvalidUrl::new(input, self.reason)
    }

    /// Shows the input with `redaction` instead of the default one.
    #[cfg(feature = "client")]
    pub(crate) fn redact_with(mut self, redaction: &Redaction) -> InvalidUrl {
        if !redaction.is_default() {
            self.input = redaction.text(&self.raw);
        }
        self
    }

    /// The URL as given, with userinfo and secret query parameters replaced by `***`
    /// (see [`crate::redact`]).
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl fmt::Display for InvalidUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid URL `{}`: ", self.input)?;
        match &self.reason {
            Reason::Parse(err) => write!(f, "{err}"),
            Reason::NoHost => f.write_str("it has no host to send a request to"),
            Reason::Uri(err) => write!(f, "{err}"),
        }
    }
}

impl fmt::Debug for InvalidUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("InvalidUrl")
            .field(&format_args!("{self}"))
            .finish()
    }
}

impl StdError for InvalidUrl {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.reason {
            Reason::Parse(err) => Some(err),
            Reason::NoHost | Reason::Uri(_) => None,
        }
    }
}

#[cfg(test)]
mod tests;
