//! Why a cookie was not stored.

use std::fmt;

/// Why [`Jar::set_cookie`](super::Jar::set_cookie) did not store a cookie, or why a
/// line of a cookies.txt file was skipped. See the [module docs](super).
///
/// Cookies that arrive in responses are ignored for the same reasons, silently, as
/// RFC 6265 asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejected {
    /// Not a cookie: no `=` in the name-value pair, an empty name, or a control
    /// character (RFC 6265 §5.2, RFC 6265bis §5.6); in a file, also a name holding
    /// `=` or `;`, or a value holding `;`.
    Malformed,
    /// The name or value is not UTF-8.
    NotUtf8,
    /// Name and value together are longer than the jar's
    /// [`max_cookie_size`](super::JarBuilder::max_cookie_size).
    TooLarge {
        /// Bytes of name and value.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The request URI has no host.
    NoHost,
    /// `Secure` on a cookie that came over plain http (RFC 6265bis §5.7).
    SecureOverHttp,
    /// `Domain` names a public suffix (`com`, `co.uk`, `github.io`, …) other than the
    /// request's host itself.
    PublicSuffix,
    /// `Domain` does not domain-match the request's host: another site, a sibling,
    /// or a Unicode name that IDNA cannot turn into A-labels.
    DomainMismatch,
    /// A `__Secure-` cookie without `Secure`, or a `__Host-` cookie without `Secure`,
    /// with `Domain`, or with a path other than `Path=/` (RFC 6265bis §4.1.3).
    Prefix,
    /// A cookie without `Secure`, from plain http, that would shadow a `Secure`
    /// cookie of the same name (RFC 6265bis §5.7, "leave secure cookies alone").
    ShadowsSecure,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejected::Malformed => f.write_str("not a valid cookie"),
            Rejected::NotUtf8 => f.write_str("cookie name or value is not UTF-8"),
            Rejected::TooLarge { size, limit } => {
                write!(
                    f,
                    "cookie of {size} bytes is larger than the limit of {limit}"
                )
            }
            Rejected::NoHost => f.write_str("request URI has no host"),
            Rejected::SecureOverHttp => f.write_str("Secure cookie received over plain http"),
            Rejected::PublicSuffix => f.write_str("cookie domain is a public suffix"),
            Rejected::DomainMismatch => f.write_str("cookie domain does not match the host"),
            Rejected::Prefix => {
                f.write_str("cookie breaks the rules of its __Secure- or __Host- prefix")
            }
            Rejected::ShadowsSecure => {
                f.write_str("cookie from plain http would shadow a Secure cookie")
            }
        }
    }
}

impl std::error::Error for Rejected {}
