//! Parsing a `Set-Cookie` header value per RFC 6265 §5.2, leniencies included.
//!
//! Written here rather than with the `cookie` crate, whose parser differs from §5.2 in
//! ways that matter to a client: it reads `Expires` with three fixed formats instead
//! of the §5.1.1 algorithm (and keeps no raw value to rerun it on), takes an empty
//! `Max-Age=` as the largest age instead of ignoring it, keeps a `Path` that does not
//! start with `/` instead of falling back to the default path, and works on `&str`
//! where a header value is bytes.

use super::date::parse_cookie_date;
use super::stored::SameSite;

/// The longest attribute value honoured (RFC 6265bis §5.6): a longer one is ignored,
/// as if absent.
const MAX_ATTRIBUTE_VALUE: usize = 1024;

/// A `Set-Cookie` value, parsed: its name-value pair and the attributes that count
/// (for each, the last valid occurrence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SetCookie<'a> {
    pub(crate) name: &'a str,
    pub(crate) value: &'a str,
    /// `Expires`, in seconds since the Unix epoch.
    pub(crate) expires: Option<i64>,
    /// `Max-Age` in seconds; `i64::MIN` stands for "zero or negative" (the earliest
    /// time).
    pub(crate) max_age: Option<i64>,
    /// `Domain` without its one leading dot, not yet lowercased; never empty.
    pub(crate) domain: Option<&'a [u8]>,
    pub(crate) path: Option<PathAttr<'a>>,
    pub(crate) secure: bool,
    pub(crate) http_only: bool,
    pub(crate) same_site: Option<SameSite>,
}

/// The last `Path` attribute (§5.2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathAttr<'a> {
    /// A value that starts with `/`.
    Given(&'a str),
    /// Empty, not starting with `/`, or not UTF-8: the default path applies.
    Default,
}

/// Why a `Set-Cookie` value is ignored entirely by the parser.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// No `=` in the name-value pair, or an empty name (§5.2 steps 2 and 5), or a
    /// control character other than tab (RFC 6265bis §5.6).
    Malformed,
    /// The name or the value is not UTF-8.
    NotUtf8,
}

fn is_wsp(b: &u8) -> bool {
    *b == b' ' || *b == b'\t'
}

fn trim_wsp(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_wsp(first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_wsp(last) {
            break;
        }
        s = rest;
    }
    s
}

/// Splits at the first `=`: `(name, value)`, the value empty when there is no `=`.
fn split_pair(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&b| b == b'=') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

/// Parses one `Set-Cookie` header value (§5.2).
pub(crate) fn parse_set_cookie(input: &[u8]) -> Result<SetCookie<'_>, ParseError> {
    if input.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(ParseError::Malformed);
    }
    let (pair, attributes) = match input.iter().position(|&b| b == b';') {
        Some(i) => (&input[..i], &input[i..]),
        None => (input, &[][..]),
    };
    let (name, value) = match split_pair(pair) {
        (name, Some(value)) => (trim_wsp(name), trim_wsp(value)),
        (_, None) => return Err(ParseError::Malformed),
    };
    if name.is_empty() {
        return Err(ParseError::Malformed);
    }
    let name = std::str::from_utf8(name).map_err(|_| ParseError::NotUtf8)?;
    let value = std::str::from_utf8(value).map_err(|_| ParseError::NotUtf8)?;

    let mut cookie = SetCookie {
        name,
        value,
        expires: None,
        max_age: None,
        domain: None,
        path: None,
        secure: false,
        http_only: false,
        same_site: None,
    };
    // `attributes` is empty or starts with `;`: each piece after a `;` is a cookie-av.
    for av in attributes.split(|&b| b == b';').skip(1) {
        let (attr_name, attr_value) = split_pair(av);
        let attr_name = trim_wsp(attr_name);
        let attr_value = attr_value.map_or(&[][..], trim_wsp);
        if attr_value.len() > MAX_ATTRIBUTE_VALUE {
            continue;
        }
        if attr_name.eq_ignore_ascii_case(b"expires") {
            // §5.2.1: a date that does not parse is ignored.
            if let Some(t) = parse_cookie_date(attr_value) {
                cookie.expires = Some(t);
            }
        } else if attr_name.eq_ignore_ascii_case(b"max-age") {
            if let Some(age) = parse_max_age(attr_value) {
                cookie.max_age = Some(age);
            }
        } else if attr_name.eq_ignore_ascii_case(b"domain") {
            // §5.2.3: an empty value is ignored (the RFC's "SHOULD"); one leading dot
            // goes.
            if !attr_value.is_empty() {
                let domain = attr_value.strip_prefix(b".").unwrap_or(attr_value);
                cookie.domain = Some(domain);
            }
        } else if attr_name.eq_ignore_ascii_case(b"path") {
            // §5.2.4: a value not starting with `/` still counts, as the default path.
            cookie.path = Some(match attr_value {
                [b'/', ..] => {
                    std::str::from_utf8(attr_value).map_or(PathAttr::Default, PathAttr::Given)
                }
                _ => PathAttr::Default,
            });
        } else if attr_name.eq_ignore_ascii_case(b"secure") {
            cookie.secure = true;
        } else if attr_name.eq_ignore_ascii_case(b"httponly") {
            cookie.http_only = true;
        } else if attr_name.eq_ignore_ascii_case(b"samesite") {
            // RFC 6265bis: an unknown value means "not specified", and the last counts.
            cookie.same_site = SameSite::parse(attr_value);
        }
    }
    Ok(cookie)
}

/// §5.2.2: `-`? DIGIT+; anything else is ignored. Zero or less is `i64::MIN`; more
/// than `i64::MAX` saturates.
fn parse_max_age(value: &[u8]) -> Option<i64> {
    let (negative, digits) = match value {
        [b'-', rest @ ..] => (true, rest),
        [b'0'..=b'9', ..] => (false, value),
        _ => return None,
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if negative {
        return Some(i64::MIN);
    }
    let seconds = digits.iter().fold(0i64, |acc, d| {
        acc.saturating_mul(10).saturating_add(i64::from(d - b'0'))
    });
    Some(if seconds == 0 { i64::MIN } else { seconds })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<SetCookie<'_>, ParseError> {
        parse_set_cookie(s.as_bytes())
    }

    #[test]
    fn name_value_pair() {
        // (input, Some((name, value))) or None when the whole string is ignored.
        let table: &[(&str, Option<(&str, &str)>)] = &[
            ("a=b", Some(("a", "b"))),
            ("  a  =  b  ", Some(("a", "b"))),
            ("\ta\t=\tb c\t", Some(("a", "b c"))),
            ("a=", Some(("a", ""))),
            ("a=b=c", Some(("a", "b=c"))),
            ("a=\"quoted\"", Some(("a", "\"quoted\""))),
            ("a=b; Path=/", Some(("a", "b"))),
            ("a=b;", Some(("a", "b"))),
            ("a=;b=c", Some(("a", ""))),
            ("é=ü", Some(("é", "ü"))),
            ("=b", None),
            ("  =b", None),
            ("ab", None),
            ("", None),
            (";a=b", None),
            ("a=b\u{1}", None),
            ("a=b\u{7f}", None),
        ];
        for (input, want) in table {
            let got = parse(input).ok().map(|c| (c.name, c.value));
            assert_eq!(got, *want, "{input:?}");
        }
        assert_eq!(
            parse_set_cookie(b"a=\xff").map(|_| ()),
            Err(ParseError::NotUtf8)
        );
        // Bytes that are not UTF-8 in an attribute other than the pair do no harm.
        assert!(parse_set_cookie(b"a=b; Comment=\xff").is_ok());
    }

    #[test]
    fn attributes() {
        let c = parse(
            "id=1; Expires=Wed, 09 Jun 2021 10:18:14 GMT; Max-Age=60; Domain=.Example.COM; \
             Path=/docs; Secure; HttpOnly; SameSite=Lax; Unknown=x; Partitioned",
        )
        .expect("parses");
        assert_eq!(c.expires, Some(1_623_233_894));
        assert_eq!(c.max_age, Some(60));
        assert_eq!(c.domain, Some(&b"Example.COM"[..]));
        assert_eq!(c.path, Some(PathAttr::Given("/docs")));
        assert!(c.secure && c.http_only);
        assert_eq!(c.same_site, Some(SameSite::Lax));

        // Names are case-insensitive, whitespace is trimmed, values of flags ignored.
        let c =
            parse("a=b;  sEcUrE = no ;HTTPONLY=false; pAtH = /x ; MAX-AGE = 5").expect("parses");
        assert!(c.secure && c.http_only);
        assert_eq!(c.path, Some(PathAttr::Given("/x")));
        assert_eq!(c.max_age, Some(5));

        // A cookie-av without `=`, or with an empty name, is harmless.
        let c = parse("a=b; ; =x; Path").expect("parses");
        assert_eq!(c.path, Some(PathAttr::Default));
    }

    #[test]
    fn last_valid_attribute_wins() {
        let table: &[(&str, Option<i64>, Option<i64>)] = &[
            ("a=b; Max-Age=5; Max-Age=7", Some(7), None),
            // An invalid value is ignored, so the earlier one stands.
            ("a=b; Max-Age=5; Max-Age=x", Some(5), None),
            ("a=b; Max-Age=5; Max-Age=", Some(5), None),
            ("a=b; Max-Age=5; Max-Age=+7", Some(5), None),
            ("a=b; Max-Age=5; Max-Age=-", Some(5), None),
            ("a=b; Max-Age=5; Max-Age=1e3", Some(5), None),
            ("a=b; Max-Age=0", Some(i64::MIN), None),
            ("a=b; Max-Age=-1", Some(i64::MIN), None),
            ("a=b; Max-Age=-0", Some(i64::MIN), None),
            ("a=b; Max-Age=007", Some(7), None),
            ("a=b; Max-Age=99999999999999999999999", Some(i64::MAX), None),
            (
                "a=b; Expires=Thu, 01 Jan 1970 00:00:10 GMT; Expires=garbage",
                None,
                Some(10),
            ),
            (
                "a=b; Expires=Thu, 01 Jan 1970 00:00:10 GMT; Expires=1 Jan 1970 0:0:20",
                None,
                Some(20),
            ),
        ];
        for (input, max_age, expires) in table {
            let c = parse(input).expect("parses");
            assert_eq!((c.max_age, c.expires), (*max_age, *expires), "{input:?}");
        }

        // Path: an invalid value still counts, as "use the default".
        let c = parse("a=b; Path=/a; Path=x").expect("parses");
        assert_eq!(c.path, Some(PathAttr::Default));
        let c = parse("a=b; Path=x; Path=/a").expect("parses");
        assert_eq!(c.path, Some(PathAttr::Given("/a")));
        let c = parse("a=b; Path=/a; Path=").expect("parses");
        assert_eq!(c.path, Some(PathAttr::Default));

        // Domain: an empty value is ignored; only one leading dot goes.
        let c = parse("a=b; Domain=x.com; Domain=").expect("parses");
        assert_eq!(c.domain, Some(&b"x.com"[..]));
        let c = parse("a=b; Domain=..x.com").expect("parses");
        assert_eq!(c.domain, Some(&b".x.com"[..]));
        let c = parse("a=b; Domain=.").expect("parses");
        assert_eq!(c.domain, Some(&b""[..]));

        // SameSite: an unknown value resets to "not specified".
        let c = parse("a=b; SameSite=Strict; SameSite=bogus").expect("parses");
        assert_eq!(c.same_site, None);
        let c = parse("a=b; SameSite=none").expect("parses");
        assert_eq!(c.same_site, Some(SameSite::None));
    }

    #[test]
    fn overlong_attribute_values_are_ignored() {
        let long = format!("a=b; Path=/ok; Path=/{}", "x".repeat(MAX_ATTRIBUTE_VALUE));
        let c = parse(&long).expect("parses");
        assert_eq!(c.path, Some(PathAttr::Given("/ok")));
    }
}
