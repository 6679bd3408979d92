//! Cookies, as Twisted's `CookieAgent` keeps them with a `CookieJar`, by RFC 6265.
//!
//! [`CookieLayer`] wraps any HTTP service. Before each request it adds the `Cookie`
//! header its [`CookieStore`] has for the request's URI, unless the request already
//! has one; after each response it hands the store every `Set-Cookie` header. The
//! store is usually a [`Jar`]: shared, thread-safe, cheap to clone, so one jar can
//! serve many clients and tasks, and be inspected, saved and loaded while they run.
//!
//! In towline's stack the layer sits below
//! [`FollowRedirectLayer`](crate::redirect::FollowRedirectLayer), so every hop of a
//! redirect goes through it: a cookie set by a redirect response is sent on the next
//! hop, and a hop to another origin (where the redirect layer removed the caller's own
//! `Cookie` header) gets that origin's cookies from the jar.
//!
//! A `Cookie` header the caller sets therefore takes the jar's place on every hop that
//! keeps it: on a same-origin redirect the jar adds nothing, not even a cookie the
//! previous hop just set (it is stored, and sent once the caller's header is gone).
//! To send the jar's cookies as well, put yours in the jar
//! ([`Jar::set_cookie`]) instead of in a header.
//!
//! # Example
//!
//! ```
//! use tower::{ServiceBuilder, ServiceExt};
//! use towline::body::Body;
//! use towline::connect::Connector;
//! use towline::cookie::{CookieLayer, Jar};
//! use towline::redirect::FollowRedirectLayer;
//! # use towline_test::{Reply, TestServer};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), towline::BoxError> {
//! # let server = TestServer::start(|req| match req.path() {
//! #     "/login" => Reply::new(302)
//! #         .header("Location", "/home")
//! #         .header("Set-Cookie", "session=abc123; Path=/; HttpOnly"),
//! #     _ => Reply::text(format!("cookie: {}", req.header("cookie").unwrap_or("none"))),
//! # }).await;
//!
//! let jar = Jar::new();
//! let client = ServiceBuilder::new()
//!     .layer(FollowRedirectLayer::new())
//!     .layer(CookieLayer::new(jar.clone()))
//!     .service(Connector::new());
//!
//! // /login answers 302 with a session cookie; the cookie goes with the next hop.
//! let request = http::Request::get(server.url("/login")).body(Body::empty())?;
//! let response = client.oneshot(request).await?;
//! let body = towline::body::read_body(response.into_body()).await?;
//! assert_eq!(body, "cookie: session=abc123");
//!
//! let cookie = jar.iter().next().expect("stored");
//! assert_eq!((cookie.name(), cookie.value()), ("session", "abc123"));
//! assert!(cookie.http_only() && cookie.host_only() && !cookie.persistent());
//! # Ok(()) }
//! ```
//!
//! # Customised
//!
//! A jar with a clock of our own and a lower limit per site, kept between runs in a
//! cookies.txt file that curl and wget read too:
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use towline::cookie::{CookiesTxt, Jar};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("towline-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let path = dir.join("cookies.txt");
//!
//! let start = SystemTime::now();
//! let jar = Jar::builder()
//!     .clock(move || start + Duration::from_secs(10))
//!     .max_cookies_per_domain(20)
//!     .build();
//! let uri = "https://shop.example.com/cart".parse()?;
//! jar.set_cookie(&uri, "basket=3; Domain=example.com; Max-Age=3600; Secure")?;
//! jar.set_cookie(&uri, "view=grid")?; // a session cookie, path /
//!
//! // Persistent cookies only; written to a new file that replaces the old one.
//! let written = CookiesTxt::new().session_cookies(false).save(&jar, &path)?;
//! assert_eq!(written, 1);
//!
//! let restored = Jar::new();
//! let report = restored.load(&path)?;
//! assert_eq!(report.loaded(), 1);
//! assert!(report.skipped().is_empty());
//! let header = restored.cookie_header(&"https://www.example.com/".parse()?);
//! assert_eq!(header.as_ref().map(|h| h.to_str().ok()), Some(Some("basket=3")));
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```
//!
//! # Storing (RFC 6265 §5.2, §5.3)
//!
//! Each `Set-Cookie` value is parsed by §5.2, leniencies included: whitespace around
//! names and values is trimmed, attribute names compare without case, the last valid
//! attribute of a kind wins, an `Expires` date is read with the §5.1.1 algorithm (any
//! order of tokens, two-digit years), and a value without `=` or with an empty name
//! is ignored. The parser is towline's own, because the `cookie` crate's differs from
//! §5.2 where it matters to a client: it reads `Expires` in three fixed formats, takes
//! an empty `Max-Age=` as the largest age, and keeps a `Path` that does not start
//! with `/`. Then, for the request's host (lowercase):
//!
//! - **Domain.** Without `Domain` the cookie is *host-only*: sent to that host alone.
//!   With `Domain` (one leading dot ignored, any case) it goes to the domain and its
//!   subdomains, if the request's host is that domain or one of its subdomains; a
//!   cookie for a sibling or another site is ignored. A host that is an IP address
//!   matches only itself, and its cookies are host-only. A name with a trailing dot
//!   is another name (`example.com.` is not `example.com`).
//! - **Public suffixes.** A `Domain` that is a public suffix (`com`, `co.uk`,
//!   `github.io`, and any single label, by the list's implicit `*` rule) is refused
//!   unless it is the request's host itself, which makes the cookie host-only. The
//!   list is compiled in from the [`psl`](https://docs.rs/psl) crate; nothing is
//!   fetched.
//! - **Path.** `Path` when it starts with `/`; otherwise the request path's
//!   directory (`/a/b` for `/a/b/c`).
//! - **Expiry.** `Max-Age` wins over `Expires`; without either the cookie lasts for
//!   the session (the jar's life, or until [`Jar::clear_session`]). A cookie that has
//!   already expired (`Max-Age=0`, a past `Expires`) removes the cookie it replaces.
//!   Time is read from the jar's [`Clock`].
//! - **Replacing.** A cookie with the same name, domain and path replaces the old one
//!   and keeps its creation time.
//! - **Secure.** `Secure` is accepted only from https, and a cookie from plain http
//!   may not shadow a `Secure` one of the same name (RFC 6265bis). "Secure" means
//!   the https scheme: plain http to a loopback address is not special (curl, which
//!   treats `127.0.0.1` as secure, differs here).
//! - **Prefixes** (RFC 6265bis). A name starting with `__Secure-` needs `Secure`; one
//!   starting with `__Host-` needs `Secure`, no `Domain` and `Path=/`.
//! - **Kept, not enforced.** `HttpOnly` and `SameSite` are kept for inspection (and
//!   `HttpOnly` in files); an HTTP client sends those cookies like any other.
//! - **Limits.** A cookie whose name and value exceed 4096 bytes is refused, and an
//!   attribute value over 1024 bytes is ignored. A site (a registrable domain with its
//!   subdomains, or an IP address) keeps at most 50 cookies and the jar 3000: past
//!   that, expired cookies go first, then the least recently used (set or sent).
//!   [`JarBuilder`] changes the numbers.
//! - **Not UTF-8.** A cookie whose name or value is not UTF-8 is ignored.
//! - **Internationalized names.** Hosts are matched in A-labels, the form every URL
//!   takes at towline's edge ([`crate::uri`]). A `Domain` spelled in Unicode
//!   (`Domain=bücher.example`) is converted the same way (IDNA, as RFC 6265 §5.1.2
//!   and browsers do) and then matched; one IDNA refuses is ignored.
//!
//! [`Jar::set_cookie`] stores one value by these rules and says why it refused one
//! ([`Rejected`]); a response's cookies are refused silently, as the RFC asks.
//!
//! # Sending (RFC 6265 §5.4)
//!
//! A request gets the cookies whose domain matches its host, whose path is its path
//! or a parent of it (`/docs` matches `/docs` and `/docs/x`, not `/docsx`), that have
//! not expired, and that are not `Secure` unless the scheme is https: longer paths
//! first, then earlier created first, as `name=value; name2=value2`. The header is
//! marked sensitive. A `Cookie` header already on the request is left alone and the
//! jar adds nothing.
//!
//! # Inspecting and changing the jar
//!
//! [`Jar::iter`], [`Jar::get`], [`Jar::len`] see the cookies that have not expired;
//! [`Jar::remove`], [`Jar::clear`], [`Jar::clear_domain`], [`Jar::clear_session`] and
//! [`Jar::remove_expired`] change it. [`Jar::cookie_header`] shows what a request to a
//! URI would carry.
//!
//! # Files
//!
//! [`Jar::load`] and [`Jar::save`], or [`CookiesTxt`] for options, read and write the
//! Netscape cookies.txt format of curl and wget, `#HttpOnly_` lines included. Saving
//! writes a new file and renames it over the old, so a crash never leaves half a
//! file. Loading skips malformed lines and cookies the jar would refuse, and lists
//! them with their line numbers in a [`LoadReport`]; it fails only when the file
//! cannot be read.
//!
//! # Cost
//!
//! Per request, when the jar has nothing for the host: a read lock and one hash
//! lookup (by the registrable domain, found in the compiled-in suffix list), no
//! allocation. When cookies match: two allocations, the list of matches and the
//! header. Each call also clones the store (a reference count for a [`Jar`]) and the
//! URI (reference counts), for the response. Responses without `Set-Cookie` cost one
//! header lookup; those with it take the write lock once for all their cookies.
//!
//! # Errors
//!
//! The layer adds no way to fail: the inner service's error passes through as it is.

mod clock;
mod date;
mod domain;
mod error;
mod future;
mod jar;
mod layer;
mod netscape;
mod parse;
mod service;
mod store;
mod stored;

pub use clock::{Clock, SystemClock};
pub use error::Rejected;
pub use future::ResponseFuture;
pub use jar::{
    DEFAULT_MAX_COOKIE_SIZE, DEFAULT_MAX_COOKIES, DEFAULT_MAX_COOKIES_PER_DOMAIN, Jar, JarBuilder,
};
pub use layer::CookieLayer;
pub use netscape::{CookiesTxt, LineError, LoadReport, SkippedLine};
pub use service::Cookies;
pub use store::CookieStore;
pub use stored::{Cookie, SameSite};

#[cfg(test)]
mod tests;
