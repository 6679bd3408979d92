//! RFC 6265 §5.2–§5.4 as tables, the jar's limits, inspection and files, and the layer
//! on fake inner services. Nothing here dials; URIs may be https.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use http::header::{COOKIE, LOCATION, SET_COOKIE};
use http::{HeaderValue, Request, Response, Uri};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

use super::*;
use crate::BoxError;
use crate::body::Body;
use crate::redirect::FollowRedirectLayer;

/// 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000;

fn uri(s: &str) -> Uri {
    s.parse().expect("uri")
}

/// A jar whose clock reads `now` (Unix seconds), which the test moves.
fn jar_at(now: &Arc<AtomicI64>) -> Jar {
    jar_builder_at(now).build()
}

fn jar_builder_at(now: &Arc<AtomicI64>) -> JarBuilder {
    let now = Arc::clone(now);
    Jar::builder().clock(move || {
        let secs = now.load(Ordering::SeqCst);
        UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).expect("after 1970"))
    })
}

fn clock() -> Arc<AtomicI64> {
    Arc::new(AtomicI64::new(T0))
}

fn header(jar: &Jar, url: &str) -> Option<String> {
    jar.cookie_header(&uri(url))
        .map(|v| v.to_str().expect("ASCII").to_owned())
}

fn set(jar: &Jar, url: &str, set_cookie: &str) {
    jar.set_cookie(&uri(url), set_cookie)
        .unwrap_or_else(|e| panic!("{set_cookie:?} from {url}: {e}"));
}

fn only(jar: &Jar) -> Cookie {
    let all: Vec<Cookie> = jar.iter().collect();
    assert_eq!(all.len(), 1, "{all:?}");
    all.into_iter().next().expect("one")
}

// ---------------------------------------------------------------------------------
// §5.3: storage — domain, host-only, path, public suffixes, Secure, prefixes
// ---------------------------------------------------------------------------------

/// (request URI, Set-Cookie, stored as (domain, host-only, path) or refused).
type StoreCase = (
    &'static str,
    &'static str,
    Result<(&'static str, bool, &'static str), Rejected>,
);

#[rustfmt::skip]
const STORE: &[StoreCase] = &[
    // Default path (§5.1.4): the request path's directory.
    ("http://example.com/a/b", "a=1", Ok(("example.com", true, "/a"))),
    ("http://example.com/a/b/", "a=1", Ok(("example.com", true, "/a/b"))),
    ("http://example.com/a", "a=1", Ok(("example.com", true, "/"))),
    ("http://example.com/", "a=1", Ok(("example.com", true, "/"))),
    ("http://example.com", "a=1", Ok(("example.com", true, "/"))),
    ("http://example.com/a/b?x=/y/z", "a=1", Ok(("example.com", true, "/a"))),
    ("http://example.com/a/b", "a=1; Path=x", Ok(("example.com", true, "/a"))),
    ("http://example.com/a/b", "a=1; Path=", Ok(("example.com", true, "/a"))),
    ("http://example.com/a/b", "a=1; Path=/z/", Ok(("example.com", true, "/z/"))),
    // Domain: host-only without it; domain cookie with it, any case, one dot off.
    ("http://www.example.com/", "a=1; Domain=example.com", Ok(("example.com", false, "/"))),
    ("http://www.example.com/", "a=1; Domain=.example.com", Ok(("example.com", false, "/"))),
    ("http://www.example.com/", "a=1; Domain=EXAMPLE.Com", Ok(("example.com", false, "/"))),
    ("http://WWW.Example.COM/", "a=1", Ok(("www.example.com", true, "/"))),
    ("http://WWW.Example.COM/", "a=1; domain=www.EXAMPLE.com", Ok(("www.example.com", false, "/"))),
    ("http://example.com/", "a=1; Domain=", Ok(("example.com", true, "/"))),
    ("http://example.com/", "a=1; Domain=.", Ok(("example.com", true, "/"))),
    ("http://example.com/", "a=1; Domain=..example.com", Err(Rejected::DomainMismatch)),
    // Public suffixes: refused unless they are the host itself.
    ("http://example.com/", "a=1; Domain=.com", Err(Rejected::PublicSuffix)),
    ("http://example.com/", "a=1; Domain=com", Err(Rejected::PublicSuffix)),
    ("http://example.com/", "a=1; Domain=COM", Err(Rejected::PublicSuffix)),
    ("http://www.example.co.uk/", "a=1; Domain=co.uk", Err(Rejected::PublicSuffix)),
    ("http://www.example.co.uk/", "a=1; Domain=.CO.UK", Err(Rejected::PublicSuffix)),
    ("http://www.example.co.uk/", "a=1; Domain=uk", Err(Rejected::PublicSuffix)),
    ("http://www.example.co.uk/", "a=1; Domain=example.co.uk", Ok(("example.co.uk", false, "/"))),
    ("http://alice.github.io/", "a=1; Domain=github.io", Err(Rejected::PublicSuffix)),
    ("http://a.b.kawasaki.jp/", "a=1; Domain=b.kawasaki.jp", Err(Rejected::PublicSuffix)),
    ("http://a.localhost/", "a=1; Domain=localhost", Err(Rejected::PublicSuffix)),
    ("http://co.uk/", "a=1; Domain=co.uk", Ok(("co.uk", true, "/"))),
    ("http://localhost/", "a=1; Domain=localhost", Ok(("localhost", true, "/"))),
    ("http://localhost/", "a=1", Ok(("localhost", true, "/"))),
    // Trailing dots: another name.
    ("http://example.com/", "a=1; Domain=example.com.", Err(Rejected::DomainMismatch)),
    ("http://example.com./", "a=1", Ok(("example.com.", true, "/"))),
    ("http://www.example.com./", "a=1; Domain=example.com.", Ok(("example.com.", false, "/"))),
    ("http://www.example.com./", "a=1; Domain=example.com", Err(Rejected::DomainMismatch)),
    ("http://example.com./", "a=1; Domain=com.", Err(Rejected::PublicSuffix)),
    // Siblings, parents' children, look-alikes and strangers.
    ("http://a.example.com/", "a=1; Domain=b.example.com", Err(Rejected::DomainMismatch)),
    ("http://example.com/", "a=1; Domain=www.example.com", Err(Rejected::DomainMismatch)),
    ("http://notexample.com/", "a=1; Domain=example.com", Err(Rejected::DomainMismatch)),
    ("http://example.com/", "a=1; Domain=other.com", Err(Rejected::DomainMismatch)),
    ("http://example.com/", "a=1; Domain=xn--exmple-cua.com", Err(Rejected::DomainMismatch)),
    ("http://example.com/", "a=1; Domain=exämple.com", Err(Rejected::DomainMismatch)),
    // A Unicode Domain is read as its A-labels, the host's form (RFC 6265 §5.1.2).
    ("http://xn--bcher-kva.example/", "a=1; Domain=bücher.example", Ok(("xn--bcher-kva.example", false, "/"))),
    ("http://www.xn--bcher-kva.example/", "a=1; Domain=.BÜCHER.example", Ok(("xn--bcher-kva.example", false, "/"))),
    ("http://xn--bcher-kva.example/", "a=1; Domain=xn--bcher-kva.example", Ok(("xn--bcher-kva.example", false, "/"))),
    ("http://bucher.example/", "a=1; Domain=bücher.example", Err(Rejected::DomainMismatch)),
    ("http://example.com/", "a=1; Domain=\u{FFFD}.com", Err(Rejected::DomainMismatch)),
    // IP addresses: host-only, and match only themselves.
    ("http://127.0.0.1/", "a=1", Ok(("127.0.0.1", true, "/"))),
    ("http://127.0.0.1/", "a=1; Domain=127.0.0.1", Ok(("127.0.0.1", true, "/"))),
    ("http://127.0.0.1/", "a=1; Domain=0.0.1", Err(Rejected::DomainMismatch)),
    ("http://127.0.0.1/", "a=1; Domain=1", Err(Rejected::PublicSuffix)),
    ("http://[::1]/", "a=1", Ok(("::1", true, "/"))),
    ("http://[::1]/", "a=1; Domain=::1", Ok(("::1", true, "/"))),
    // Secure: only from https.
    ("http://example.com/", "a=1; Secure", Err(Rejected::SecureOverHttp)),
    ("http://127.0.0.1/", "a=1; Secure", Err(Rejected::SecureOverHttp)),
    ("https://example.com/", "a=1; Secure", Ok(("example.com", true, "/"))),
    // Prefixes (RFC 6265bis), compared without case.
    ("http://example.com/", "__Secure-a=1", Err(Rejected::Prefix)),
    ("https://example.com/", "__Secure-a=1", Err(Rejected::Prefix)),
    ("https://example.com/", "__SECURE-a=1", Err(Rejected::Prefix)),
    ("https://example.com/", "__Secure-a=1; Secure", Ok(("example.com", true, "/"))),
    ("https://w.example.com/", "__Secure-a=1; Secure; Domain=example.com", Ok(("example.com", false, "/"))),
    ("https://example.com/", "__Host-a=1; Secure; Path=/", Ok(("example.com", true, "/"))),
    ("https://example.com/", "__host-a=1; Path=/", Err(Rejected::Prefix)),
    ("https://example.com/", "__Host-a=1; Secure", Err(Rejected::Prefix)),
    ("https://example.com/x/", "__Host-a=1; Secure; Path=/x", Err(Rejected::Prefix)),
    ("https://example.com/", "__Host-a=1; Secure; Path=/; Domain=example.com", Err(Rejected::Prefix)),
    ("https://example.com/", "__Hostile=1; Path=/", Ok(("example.com", true, "/"))),
    // Not cookies.
    ("http://example.com/", "=1", Err(Rejected::Malformed)),
    ("http://example.com/", "noequals", Err(Rejected::Malformed)),
    ("http://example.com/", "", Err(Rejected::Malformed)),
    ("http://example.com/", "a=1\u{0}", Err(Rejected::Malformed)),
];

#[test]
fn storage_table() {
    for (from, set_cookie, want) in STORE {
        let jar = Jar::new();
        let got = jar.set_cookie(&uri(from), set_cookie).map(|()| {
            let c = only(&jar);
            (c.domain().to_owned(), c.host_only(), c.path().to_owned())
        });
        let want = want.map(|(d, h, p)| (d.to_owned(), h, p.to_owned()));
        assert_eq!(got, want, "{set_cookie:?} from {from}");
        if want.is_err() {
            assert!(jar.is_empty(), "{set_cookie:?} from {from}");
        }
    }
}

#[test]
fn attributes_are_kept() {
    let jar = Jar::new();
    set(
        &jar,
        "https://example.com/",
        "a=\"quoted value\"; Secure; HttpOnly; SameSite=strict",
    );
    let c = only(&jar);
    assert_eq!(c.name(), "a");
    assert_eq!(c.value(), "\"quoted value\"");
    assert!(c.secure() && c.http_only());
    assert_eq!(c.same_site(), Some(SameSite::Strict));
    assert!(!c.persistent());
    assert_eq!(c.expires(), None);
    assert!(
        !format!("{c:?}").contains("quoted"),
        "Debug hides the value"
    );
}

#[test]
fn sizes() {
    let jar = Jar::new();
    let u = uri("http://example.com/");
    let fits = format!("n={}", "v".repeat(DEFAULT_MAX_COOKIE_SIZE - 1));
    assert_eq!(jar.set_cookie(&u, &fits), Ok(()));
    let over = format!("n={}", "v".repeat(DEFAULT_MAX_COOKIE_SIZE));
    assert_eq!(
        jar.set_cookie(&u, &over),
        Err(Rejected::TooLarge {
            size: DEFAULT_MAX_COOKIE_SIZE + 1,
            limit: DEFAULT_MAX_COOKIE_SIZE
        })
    );
    // The refused cookie did not replace the stored one.
    assert_eq!(only(&jar).value().len(), DEFAULT_MAX_COOKIE_SIZE - 1);

    let small = Jar::builder().max_cookie_size(8).build();
    assert!(small.set_cookie(&u, "name=valu").is_ok());
    assert!(small.set_cookie(&u, "name=value").is_err());
    // Attributes do not count; an overlong attribute value is ignored.
    let long_path = format!("n=v; Path=/{}", "p".repeat(2000));
    assert!(small.set_cookie(&u, &long_path).is_ok());
    assert_eq!(
        small
            .get("example.com", "/", "n")
            .map(|c| c.value().to_owned()),
        Some("v".into())
    );
}

#[test]
fn http_may_not_shadow_a_secure_cookie() {
    let jar = Jar::new();
    set(
        &jar,
        "https://www.example.com/",
        "id=secret; Secure; Domain=example.com",
    );
    let over_http = [
        "id=evil",
        "id=evil; Domain=example.com",
        "id=evil; Path=/deeper",
    ];
    for attempt in over_http {
        assert_eq!(
            jar.set_cookie(&uri("http://www.example.com/"), attempt),
            Err(Rejected::ShadowsSecure),
            "{attempt}"
        );
    }
    // Another name is fine, and https may replace it.
    set(&jar, "http://www.example.com/", "other=1");
    set(
        &jar,
        "https://www.example.com/",
        "id=new; Domain=example.com",
    );
    assert_eq!(
        header(&jar, "https://www.example.com/").as_deref(),
        Some("id=new; other=1")
    );
}

// ---------------------------------------------------------------------------------
// §5.4: which cookies a request gets, in what order
// ---------------------------------------------------------------------------------

#[test]
fn sending_table() {
    let now = clock();
    let jar = jar_at(&now);
    let from = "https://www.example.com/docs/guide";
    for set_cookie in [
        "host=1; Path=/docs",
        "dom=2; Domain=example.com; Path=/",
        "deep=3",
        "sec=4; Secure; Path=/",
        "dir=5; Path=/docs/",
    ] {
        set(&jar, from, set_cookie);
        now.fetch_add(1, Ordering::SeqCst);
    }
    let table: &[(&str, Option<&str>)] = &[
        // Longest path first; equal paths in creation order.
        (
            "https://www.example.com/docs/guide",
            Some("dir=5; host=1; deep=3; dom=2; sec=4"),
        ),
        (
            "https://www.example.com/docs/x",
            Some("dir=5; host=1; deep=3; dom=2; sec=4"),
        ),
        (
            "https://www.example.com/docs/guide/",
            Some("dir=5; host=1; deep=3; dom=2; sec=4"),
        ),
        // `deep` has path /docs (the default for /docs/guide).
        (
            "https://www.example.com/docs",
            Some("host=1; deep=3; dom=2; sec=4"),
        ),
        // Secure stays off plain http.
        ("http://www.example.com/docs", Some("host=1; deep=3; dom=2")),
        // Path matching is by whole segments, and case-sensitive.
        ("https://www.example.com/docsx", Some("dom=2; sec=4")),
        ("https://www.example.com/DOCS", Some("dom=2; sec=4")),
        ("https://www.example.com/", Some("dom=2; sec=4")),
        // Hosts: case does not matter; host-only cookies stay on their host.
        (
            "https://WWW.EXAMPLE.COM/docs",
            Some("host=1; deep=3; dom=2; sec=4"),
        ),
        ("https://example.com/docs", Some("dom=2")),
        ("https://a.www.example.com/docs", Some("dom=2")),
        ("http://sibling.example.com/", Some("dom=2")),
        // Other sites, look-alikes, a trailing dot.
        ("https://other.com/", None),
        ("https://example.com.evil.com/", None),
        ("https://notexample.com/", None),
        ("https://www.example.com./", None),
        ("https://com/", None),
    ];
    for (url, want) in table {
        assert_eq!(header(&jar, url).as_deref(), *want, "{url}");
    }
}

#[test]
fn replacing_keeps_the_creation_time_and_order() {
    let now = clock();
    let jar = jar_at(&now);
    let u = "http://example.com/";
    set(&jar, u, "b=1");
    now.fetch_add(1, Ordering::SeqCst);
    set(&jar, u, "a=1");
    now.fetch_add(1, Ordering::SeqCst);
    set(&jar, u, "b=2");
    assert_eq!(header(&jar, u).as_deref(), Some("b=2; a=1"));
    let b = jar.get("example.com", "/", "b").expect("b");
    assert_eq!(b.created(), UNIX_EPOCH + Duration::from_secs(T0 as u64));

    // Same clock reading: still in the order they were set.
    let jar = jar_at(&now);
    for name in ["z", "y", "x"] {
        set(&jar, u, &format!("{name}=1"));
    }
    assert_eq!(header(&jar, u).as_deref(), Some("z=1; y=1; x=1"));

    // Identity is name, domain and path: these are three cookies.
    set(&jar, "http://www.example.com/a/", "n=host");
    set(
        &jar,
        "http://www.example.com/a/",
        "n=dom; Domain=www.example.com",
    );
    set(&jar, "http://www.example.com/a/", "n=root; Path=/");
    // RFC 6265's identity is name, domain and path: the domain cookie replaced the
    // host-only one.
    assert_eq!(jar.len(), 3 + 2);
    let n = jar.get("www.example.com", "/a", "n").expect("n");
    assert_eq!((n.value(), n.host_only()), ("dom", false));
}

#[test]
fn a_callers_cookie_header_is_left_alone() {
    let jar = Jar::new();
    set(&jar, "http://example.com/", "jar=1");
    let svc = CookieLayer::new(jar.clone()).layer(tower::service_fn(|req: Request<()>| {
        let headers = req.headers().clone();
        async move { Ok::<_, BoxError>(Response::new(headers)) }
    }));
    let response = futures_block(
        svc.clone().oneshot(
            Request::get("http://example.com/")
                .header(COOKIE, "mine=1")
                .body(())
                .expect("request"),
        ),
    )
    .expect("response");
    let seen = response.into_body();
    assert_eq!(seen.get_all(COOKIE).iter().collect::<Vec<_>>(), ["mine=1"]);

    let response = futures_block(
        svc.oneshot(
            Request::get("http://example.com/")
                .body(())
                .expect("request"),
        ),
    )
    .expect("response");
    let cookie = response.body().get(COOKIE).expect("jar's cookie");
    assert_eq!(cookie, "jar=1");
    assert!(cookie.is_sensitive());
}

fn futures_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}

// ---------------------------------------------------------------------------------
// Expiry: Max-Age over Expires, an injectable clock
// ---------------------------------------------------------------------------------

#[test]
fn expiry_table() {
    // 2023-11-14T22:13:20Z is T0; these dates are around it.
    const PAST: &str = "Tue, 14 Nov 2023 22:13:19 GMT";
    const AT_T0: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
    const FUTURE: &str = "Tue, 14 Nov 2023 22:15:00 GMT"; // T0 + 100
    // (attributes, expiry as seconds after T0 or None for a session cookie;
    // "gone" when refused as already expired).
    let table: &[(String, Option<Option<i64>>)] = &[
        (String::new(), Some(None)),
        ("; Max-Age=60".into(), Some(Some(60))),
        (format!("; Expires={FUTURE}"), Some(Some(100))),
        (format!("; Max-Age=60; Expires={FUTURE}"), Some(Some(60))),
        (format!("; Expires={FUTURE}; Max-Age=60"), Some(Some(60))),
        (format!("; Expires={PAST}; Max-Age=60"), Some(Some(60))),
        (format!("; Max-Age=0; Expires={FUTURE}"), None),
        ("; Max-Age=-5".into(), None),
        (format!("; Expires={PAST}"), None),
        (format!("; Expires={AT_T0}"), None),
        // An unparsable Expires is ignored: a session cookie.
        ("; Expires=tomorrow".into(), Some(None)),
        ("; Expires=Tue, 31 Feb 2023 00:00:00 GMT".into(), Some(None)),
        // An invalid Max-Age is ignored, so Expires counts.
        (format!("; Max-Age=soon; Expires={FUTURE}"), Some(Some(100))),
    ];
    for (attributes, want) in table {
        let now = clock();
        let jar = jar_at(&now);
        set(&jar, "http://example.com/", &format!("a=1{attributes}"));
        let got = jar.iter().next().map(|c| {
            c.expires().map(|t| {
                let secs = t.duration_since(UNIX_EPOCH).expect("after 1970").as_secs();
                i64::try_from(secs).expect("fits") - T0
            })
        });
        assert_eq!(got, *want, "a=1{attributes}");
    }
}

#[test]
fn the_clock_decides_what_has_expired() {
    let now = clock();
    let jar = jar_at(&now);
    let u = "http://example.com/";
    set(&jar, u, "short=1; Max-Age=10");
    set(&jar, u, "long=1; Max-Age=1000");
    set(&jar, u, "session=1");
    assert_eq!(
        header(&jar, u).as_deref(),
        Some("short=1; long=1; session=1")
    );
    now.fetch_add(9, Ordering::SeqCst);
    assert_eq!(jar.len(), 3);
    now.fetch_add(1, Ordering::SeqCst);
    assert_eq!(header(&jar, u).as_deref(), Some("long=1; session=1"));
    assert_eq!(jar.len(), 2);
    assert!(jar.get("example.com", "/", "short").is_none());
    // Expired cookies wait in memory until removed.
    assert_eq!(jar.remove_expired(), 1);
    assert_eq!(jar.remove_expired(), 0);
    now.fetch_add(1000, Ordering::SeqCst);
    assert_eq!(header(&jar, u).as_deref(), Some("session=1"));
}

#[test]
fn an_expired_cookie_deletes() {
    let jar = Jar::new();
    let u = "http://www.example.com/";
    set(&jar, u, "a=1; Domain=example.com");
    set(&jar, u, "b=1");
    set(&jar, u, "a=; Domain=example.com; Max-Age=0");
    set(&jar, u, "b=; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    assert!(jar.is_empty());
    // Deleting needs the same domain and path: this one names another cookie.
    set(&jar, u, "c=1; Path=/x");
    set(&jar, u, "c=; Max-Age=0");
    assert_eq!(jar.len(), 1);
}

// ---------------------------------------------------------------------------------
// Limits: per domain, in all, least recently used first
// ---------------------------------------------------------------------------------

#[test]
fn fifty_a_site_least_recently_used_first() {
    let now = clock();
    let jar = jar_at(&now);
    // Subdomains count with their registrable domain.
    for i in 0..DEFAULT_MAX_COOKIES_PER_DOMAIN {
        let host = if i % 2 == 0 {
            "a.example.com"
        } else {
            "b.example.com"
        };
        set(
            &jar,
            &format!("http://{host}/"),
            &format!("c{i}=1; Domain=example.com"),
        );
    }
    assert_eq!(jar.len(), 50);
    set(&jar, "http://c.example.com/", "host=1");
    assert_eq!(jar.len(), 50);
    assert!(
        jar.get("example.com", "/", "c0").is_none(),
        "least recently used"
    );
    assert!(jar.get("example.com", "/", "c1").is_some());
    assert!(jar.get("c.example.com", "/", "host").is_some());

    // A fresh jar, and a cookie sent on its own path.
    let jar = jar_at(&now);
    for i in 0..50 {
        set(
            &jar,
            &format!("http://example.com/p{i}/"),
            &format!("c{i}=1"),
        );
    }
    assert!(header(&jar, "http://example.com/p0/").is_some());
    set(&jar, "http://example.com/", "new=1");
    assert!(
        jar.get("example.com", "/p0", "c0").is_some(),
        "recently sent"
    );
    assert!(
        jar.get("example.com", "/p1", "c1").is_none(),
        "least recently used"
    );
    assert!(jar.get("example.com", "/", "new").is_some());
    assert_eq!(jar.len(), 50);

    // Expired cookies go before anything else.
    let jar = jar_at(&now);
    set(&jar, "http://example.com/", "old=1; Max-Age=5");
    for i in 0..49 {
        set(&jar, "http://example.com/", &format!("c{i}=1"));
    }
    now.fetch_add(5, Ordering::SeqCst);
    set(&jar, "http://example.com/", "new=1");
    assert_eq!(jar.len(), 50);
    assert!(jar.get("example.com", "/", "c0").is_some());

    // Other sites are not affected.
    set(&jar, "http://example.org/", "x=1");
    assert_eq!(jar.len(), 51);
}

#[test]
fn thousands_of_cookies() {
    let jar = Jar::new();
    // 120 sites × 40 cookies: 4800 offered, 3000 kept, the earliest sites gone.
    for site in 0..120 {
        let u = uri(&format!("http://site{site}.example/"));
        for i in 0..40 {
            jar.set_cookie(&u, format!("c{i}={site}")).expect("stored");
        }
    }
    assert_eq!(jar.len(), DEFAULT_MAX_COOKIES);
    assert_eq!(header(&jar, "http://site0.example/"), None);
    let last = header(&jar, "http://site119.example/").expect("kept");
    assert_eq!(last.split("; ").count(), 40);

    // Over the total, the least recently *used* cookie goes, whatever its site: site0's
    // cookies were sent just before the jar overflowed, so site1's go first.
    let jar = Jar::new();
    for site in 0..75 {
        let u = uri(&format!("http://site{site}.example/"));
        for i in 0..40 {
            jar.set_cookie(&u, format!("c{i}={site}")).expect("stored");
        }
    }
    assert_eq!(jar.len(), DEFAULT_MAX_COOKIES);
    assert_eq!(
        header(&jar, "http://site0.example/").map(|h| h.split("; ").count()),
        Some(40)
    );
    set(&jar, "http://site75.example/", "new=1");
    assert_eq!(jar.len(), DEFAULT_MAX_COOKIES);
    assert!(
        jar.get("site0.example", "/", "c0").is_some(),
        "recently sent"
    );
    assert!(
        jar.get("site1.example", "/", "c0").is_none(),
        "least recently used"
    );
    assert!(jar.get("site1.example", "/", "c1").is_some());
    assert!(jar.get("site75.example", "/", "new").is_some());

    // One response with 5000 Set-Cookie headers for one site: 50 kept, no panic.
    let jar = Jar::new();
    let values: Vec<HeaderValue> = (0..5000)
        .map(|i| HeaderValue::from_str(&format!("n{i}=v; Path=/")).expect("value"))
        .collect();
    jar.set_cookies(&uri("http://flood.example/"), &mut values.iter());
    assert_eq!(jar.len(), 50);
    let sent = header(&jar, "http://flood.example/").expect("cookies");
    assert!(sent.starts_with("n4950=v; "), "{}", &sent[..40]);

    // Smaller limits by the builder.
    let jar = Jar::builder()
        .max_cookies(10)
        .max_cookies_per_domain(3)
        .build();
    for site in 0..5 {
        for i in 0..5 {
            set(
                &jar,
                &format!("http://s{site}.example/"),
                &format!("c{i}=1"),
            );
        }
    }
    assert_eq!(jar.len(), 10);
    assert_eq!(
        header(&jar, "http://s4.example/").as_deref(),
        Some("c2=1; c3=1; c4=1")
    );
}

// ---------------------------------------------------------------------------------
// Inspection
// ---------------------------------------------------------------------------------

#[test]
fn inspect_and_remove() {
    let jar = Jar::new();
    set(&jar, "http://www.example.com/", "a=1");
    set(
        &jar,
        "http://www.example.com/",
        "b=1; Domain=example.com; Max-Age=100",
    );
    set(&jar, "http://api.example.com/v1/x", "c=1");
    set(&jar, "http://example.org/", "d=1");
    let listed: Vec<(String, String, String)> = jar
        .iter()
        .map(|c| (c.domain().into(), c.path().into(), c.name().into()))
        .collect();
    assert_eq!(
        listed,
        [
            ("api.example.com".into(), "/v1".into(), "c".into()),
            ("example.com".into(), "/".into(), "b".into()),
            ("example.org".into(), "/".into(), "d".into()),
            ("www.example.com".into(), "/".into(), "a".into()),
        ]
    );
    assert!(
        jar.get(".Example.COM", "/", "b")
            .is_some_and(|c| c.persistent())
    );
    assert!(jar.get("example.com", "/", "a").is_none());
    assert_eq!(
        jar.remove("WWW.example.com", "/", "a")
            .map(|c| c.value().to_owned()),
        Some("1".into())
    );
    assert!(jar.remove("www.example.com", "/", "a").is_none());
    assert_eq!(jar.clear_session(), 2);
    assert_eq!(jar.len(), 1);
    set(&jar, "http://api.example.com/", "e=1");
    assert_eq!(
        jar.clear_domain("example.com"),
        2,
        "the domain and its subdomains"
    );
    assert!(jar.is_empty());
    set(&jar, "http://example.org/", "d=1");
    jar.clear();
    assert!(jar.is_empty());
    assert!(format!("{jar:?}").contains("cookies: 0"));
}

// ---------------------------------------------------------------------------------
// cookies.txt
// ---------------------------------------------------------------------------------

fn write_string(txt: CookiesTxt, jar: &Jar) -> String {
    let mut out = Vec::new();
    txt.write(jar, &mut out).expect("write");
    String::from_utf8(out).expect("UTF-8")
}

fn cookie_lines(file: &str) -> Vec<&str> {
    file.lines()
        .filter(|l| !l.is_empty() && (!l.starts_with('#') || l.starts_with("#HttpOnly_")))
        .collect()
}

#[test]
fn cookies_txt_write() {
    let now = clock();
    let jar = jar_at(&now);
    set(
        &jar,
        "https://www.example.com/app/x",
        "host=1; Secure; HttpOnly",
    );
    set(
        &jar,
        "http://www.example.com/",
        "dom=2; Domain=example.com; Max-Age=100",
    );
    set(&jar, "http://127.0.0.1/", "ip=3; Domain=127.0.0.1");
    set(&jar, "http://example.com/", "tab=a\tb");
    let file = write_string(CookiesTxt::new(), &jar);
    assert!(file.starts_with("# Netscape HTTP Cookie File\n"));
    assert_eq!(
        cookie_lines(&file),
        [
            "127.0.0.1\tFALSE\t/\tFALSE\t0\tip\t3",
            ".example.com\tTRUE\t/\tFALSE\t1700000100\tdom\t2",
            "#HttpOnly_www.example.com\tFALSE\t/app\tTRUE\t0\thost\t1",
        ],
        "a value with a tab cannot be written"
    );
    let persistent = write_string(CookiesTxt::new().session_cookies(false), &jar);
    assert_eq!(
        cookie_lines(&persistent),
        [".example.com\tTRUE\t/\tFALSE\t1700000100\tdom\t2"]
    );
}

#[test]
fn cookies_txt_round_trip() {
    let now = clock();
    let jar = jar_at(&now);
    set(
        &jar,
        "https://www.example.com/app/x",
        "host=1; Secure; HttpOnly",
    );
    set(
        &jar,
        "http://www.example.com/",
        "dom=2; Domain=example.com; Max-Age=100",
    );
    set(&jar, "https://a.example.org/", "__Host-h=3; Secure; Path=/");
    set(&jar, "http://[::1]:8080/", "v6=4");
    let file = write_string(CookiesTxt::new(), &jar);

    let restored = jar_at(&now);
    let report = CookiesTxt::new()
        .read(&restored, file.as_bytes())
        .expect("read");
    assert_eq!((report.loaded(), report.skipped()), (4, &[][..]));
    let strip = |c: Cookie| {
        (
            c.domain().to_owned(),
            c.path().to_owned(),
            c.name().to_owned(),
            c.value().to_owned(),
            c.host_only(),
            c.secure(),
            c.http_only(),
            c.expires(),
        )
    };
    assert_eq!(
        restored.iter().map(strip).collect::<Vec<_>>(),
        jar.iter().map(strip).collect::<Vec<_>>()
    );
    assert_eq!(
        header(&restored, "https://www.example.com/app/y").as_deref(),
        Some("host=1; dom=2")
    );
}

#[test]
fn cookies_txt_read_skips_bad_lines_with_reasons() {
    let now = clock();
    let jar = jar_at(&now);
    let file = [
        "# Netscape HTTP Cookie File",                           // 1
        "",                                                      // 2
        ".example.com\tTRUE\t/\tFALSE\t0\tok\t1",                // 3
        "example.com\tFALSE\t/\tFALSE\t0\tshort",                // 4: six fields, empty value
        "only\ttwo",                                             // 5
        ".example.com\tMAYBE\t/\tFALSE\t0\tn\tv",                // 6
        "example.com\tFALSE\tnopath\tFALSE\t0\tn\tv",            // 7
        "example.com\tFALSE\t/\tyes\t0\tn\tv",                   // 8
        "example.com\tFALSE\t/\tFALSE\tnever\tn\tv",             // 9
        "\tFALSE\t/\tFALSE\t0\tn\tv",                            // 10
        ".com\tTRUE\t/\tFALSE\t0\tsuper\tcookie",                // 11
        ".co.uk\tTRUE\t/\tFALSE\t0\tsuper\tcookie",              // 12
        "example.com\tFALSE\t/\tFALSE\t0\t__Host-x\t1",          // 13
        "example.com\tFALSE\t/\tFALSE\t0\t\tnameless",           // 14
        "example.com\tFALSE\t/\tFALSE\t0\ta;b\tv",               // 15
        "example.com\tFALSE\t/\tFALSE\t1600000000\told\tv",      // 16: expired
        "example.com\tFALSE\t/\tFALSE\t1800000000\tlater\tv\r",  // 17: CRLF
        "#HttpOnly_example.com\tfalse\t/\ttrue\t0\thttponly\tv", // 18
        "co.uk\tFALSE\t/\tFALSE\t0\thostonly\tv",                // 19: a host may be a suffix
        "   ",                                                   // 20
        "# a comment\twith\ttabs\tand\tseven\tfields\t!",        // 21
    ]
    .join("\n");
    let report = CookiesTxt::new().read(&jar, file.as_bytes()).expect("read");
    let skipped: Vec<(usize, LineError)> = report
        .skipped()
        .iter()
        .map(|s| (s.line(), s.error().clone()))
        .collect();
    assert_eq!(
        skipped,
        [
            (5, LineError::Fields { found: 2 }),
            (
                6,
                LineError::Flag {
                    field: "include subdomains"
                }
            ),
            (7, LineError::Path),
            (8, LineError::Flag { field: "secure" }),
            (9, LineError::Expiry),
            (10, LineError::Domain),
            (11, LineError::Cookie(Rejected::PublicSuffix)),
            (12, LineError::Cookie(Rejected::PublicSuffix)),
            (13, LineError::Cookie(Rejected::Prefix)),
            (14, LineError::Cookie(Rejected::Malformed)),
            (15, LineError::Cookie(Rejected::Malformed)),
        ]
    );
    assert_eq!(report.loaded(), 5);
    assert_eq!(report.expired(), 1);
    assert_eq!(
        report.skipped()[0].to_string(),
        "line 5: expected 7 tab-separated fields, found 2"
    );
    assert_eq!(
        report.skipped()[6].to_string(),
        "line 11: cookie domain is a public suffix"
    );
    let short = jar.get("example.com", "/", "short").expect("six fields");
    assert_eq!(short.value(), "");
    let later = jar.get("example.com", "/", "later").expect("CRLF");
    assert_eq!(later.value(), "v");
    let http_only = jar.get("example.com", "/", "httponly").expect("#HttpOnly_");
    assert!(http_only.http_only() && http_only.secure());

    // Without session cookies.
    let jar = jar_at(&now);
    let report = CookiesTxt::new()
        .session_cookies(false)
        .read(&jar, file.as_bytes())
        .expect("read");
    // Session lines are left out before they are checked: 3, 4, 11 to 15, 18, 19.
    assert_eq!((report.loaded(), report.sessions_dropped()), (1, 9));

    // Not UTF-8.
    let jar = jar_at(&now);
    let report = CookiesTxt::new()
        .read(&jar, &b"example.com\tFALSE\t/\tFALSE\t0\tn\t\xff\n"[..])
        .expect("read");
    assert_eq!(report.skipped()[0].error(), &LineError::NotUtf8);
}

#[test]
fn save_is_atomic_and_private() {
    let dir = std::env::temp_dir().join(format!(
        "towline-cookie-save-{}-{}",
        std::process::id(),
        line!()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("cookies.txt");
    std::fs::write(
        &path,
        "old contents that are much longer than what replaces them\n".repeat(100),
    )
    .expect("old file");
    let jar = Jar::new();
    set(&jar, "http://example.com/", "a=1; Max-Age=1000");
    assert_eq!(jar.save(&path).expect("save"), 1);
    let saved = std::fs::read_to_string(&path).expect("read");
    assert_eq!(cookie_lines(&saved).len(), 1);
    assert!(!saved.contains("old contents"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Saving where it cannot leaves the old file and no temporary file.
    let blocked = dir.join("is-a-dir");
    std::fs::create_dir_all(blocked.join("inside")).expect("dir");
    assert!(jar.save(&blocked).is_err());
    assert!(jar.save(dir.join("missing/cookies.txt")).is_err());
    let names: Vec<String> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // Loading a file that is not there is an I/O error.
    let err = Jar::new().load(dir.join("absent.txt")).expect_err("absent");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    std::fs::remove_dir_all(&dir).expect("clean up");
}

// ---------------------------------------------------------------------------------
// The layer on fake services
// ---------------------------------------------------------------------------------

/// Requests the fake saw: (URI, Cookie header).
type Log = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A fake origin: records each request, answers with `route(uri)`.
fn fake<F>(
    route: F,
) -> (
    impl Service<Request<Body>, Response = Response<String>, Error = BoxError, Future: Send>
    + Clone
    + Send,
    Log,
)
where
    F: Fn(&Uri) -> Response<String> + Clone + Send + Sync + 'static,
{
    let log = Log::default();
    let record = Arc::clone(&log);
    let service = tower::service_fn(move |request: Request<Body>| {
        let cookie = request
            .headers()
            .get(COOKIE)
            .map(|v| v.to_str().expect("ASCII").to_owned());
        record
            .lock()
            .expect("log")
            .push((request.uri().to_string(), cookie));
        let response = route(request.uri());
        async move { Ok::<_, BoxError>(response) }
    });
    (service, log)
}

fn reply(set_cookies: &[&str]) -> Response<String> {
    let mut response = Response::new(String::new());
    for value in set_cookies {
        response
            .headers_mut()
            .append(SET_COOKIE, HeaderValue::from_str(value).expect("value"));
    }
    response
}

fn get(url: &str) -> Request<Body> {
    Request::get(url).body(Body::empty()).expect("request")
}

#[tokio::test]
async fn the_layer_stores_and_sends() {
    let jar = Jar::new();
    let (fake, log) = fake(|uri| match uri.path() {
        "/login" => reply(&["session=1; Path=/", "ignored; Path=/", "x=1; Domain=com"]),
        _ => reply(&[]),
    });
    let mut client = CookieLayer::new(jar.clone()).layer(fake);
    for url in [
        "http://example.com/login",
        "http://example.com/home",
        "http://other.com/",
    ] {
        client
            .ready()
            .await
            .expect("ready")
            .call(get(url))
            .await
            .expect("response");
    }
    let log = log.lock().expect("log").clone();
    let cookies: Vec<Option<&str>> = log.iter().map(|(_, c)| c.as_deref()).collect();
    assert_eq!(cookies, [None, Some("session=1"), None]);
    assert_eq!(jar.len(), 1);
    assert_eq!(client.store().len(), 1);
}

#[tokio::test]
async fn the_inner_error_passes_through() {
    #[derive(Debug, PartialEq)]
    struct Refused;
    let jar = Jar::new();
    set(&jar, "http://example.com/", "a=1");
    let svc = Cookies::new(
        tower::service_fn(|_: Request<Body>| async { Err::<Response<String>, _>(Refused) }),
        jar,
    );
    let err: Refused = svc
        .oneshot(get("http://example.com/"))
        .await
        .expect_err("fails");
    assert_eq!(err, Refused);
}

#[tokio::test]
async fn redirect_hops_go_through_the_jar() {
    let jar = Jar::new();
    // The jar already knows the second origin.
    set(&jar, "http://b.example/", "jar_b=1");
    let (fake, log) = fake(|uri| match (uri.host(), uri.path()) {
        (Some("a.example"), "/start") => {
            let mut r = reply(&["hop=1; Path=/"]);
            *r.status_mut() = http::StatusCode::FOUND;
            r.headers_mut()
                .insert(LOCATION, HeaderValue::from_static("/next"));
            r
        }
        (Some("a.example"), "/next") => {
            let mut r = reply(&[]);
            *r.status_mut() = http::StatusCode::FOUND;
            r.headers_mut()
                .insert(LOCATION, HeaderValue::from_static("http://b.example/end"));
            r
        }
        _ => reply(&["b_set=1"]),
    });
    let client = ServiceBuilder::new()
        .layer(FollowRedirectLayer::new())
        .layer(CookieLayer::new(jar.clone()))
        .service(fake);

    // Without a caller's Cookie header: a hop's cookie reaches the next hop.
    client
        .clone()
        .oneshot(get("http://a.example/start"))
        .await
        .expect("response");
    let seen = std::mem::take(&mut *log.lock().expect("log"));
    assert_eq!(
        seen,
        [
            ("http://a.example/start".to_owned(), None),
            ("http://a.example/next".to_owned(), Some("hop=1".to_owned())),
            (
                "http://b.example/end".to_owned(),
                Some("jar_b=1".to_owned())
            ),
        ]
    );

    // With one: it is sent on the first origin instead of the jar's; once the
    // redirect layer removed it (another origin), the jar's cookies go.
    let request = Request::get("http://a.example/start")
        .header(COOKIE, "mine=1")
        .body(Body::empty())
        .expect("request");
    client.oneshot(request).await.expect("response");
    let seen = std::mem::take(&mut *log.lock().expect("log"));
    let cookies: Vec<Option<&str>> = seen.iter().map(|(_, c)| c.as_deref()).collect();
    assert_eq!(
        cookies,
        [Some("mine=1"), Some("mine=1"), Some("jar_b=1; b_set=1")]
    );
}

/// Many tasks on a multi-threaded runtime share one jar through the layer while
/// others list, save and clear it: no cookie is lost, nothing deadlocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_share_one_jar() {
    const TASKS: usize = 16;
    const ROUNDS: usize = 200;
    let jar = Jar::new();
    // Each response sets `n` one higher than the request carried, and answers with
    // what the request carried.
    let echo = tower::service_fn(|request: Request<Body>| async move {
        let n: usize = request
            .headers()
            .get(COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("n="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut response = reply(&[&format!("n={}; Max-Age=600", n + 1)]);
        *response.body_mut() = n.to_string();
        Ok::<_, BoxError>(response)
    });
    let lost = Arc::new(AtomicUsize::new(0));
    let client = CookieLayer::new(jar.clone()).layer(echo);

    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let client = client.clone();
        let lost = Arc::clone(&lost);
        tasks.push(tokio::spawn(async move {
            let url = format!("http://task{t}.example/");
            for round in 0..ROUNDS {
                let response = client.clone().oneshot(get(&url)).await.expect("response");
                if response.body() != &round.to_string() {
                    lost.fetch_add(1, Ordering::SeqCst);
                }
                if round % 16 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    // Meanwhile: readers and writers of other sites.
    let busy = {
        let jar = jar.clone();
        tokio::spawn(async move {
            for i in 0..200 {
                let _ = jar.iter().count();
                let _ = jar.len();
                let mut out = Vec::new();
                CookiesTxt::new().write(&jar, &mut out).expect("write");
                jar.set_cookie(&uri("http://noise.example/"), format!("x{}=1", i % 40))
                    .expect("noise");
                jar.clear_domain("noise.example");
                tokio::task::yield_now().await;
            }
        })
    };
    let all = async {
        for task in tasks {
            task.await.expect("task");
        }
        busy.await.expect("busy");
    };
    tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("no deadlock");
    assert_eq!(
        lost.load(Ordering::SeqCst),
        0,
        "every round saw the last value"
    );
    for t in 0..TASKS {
        let c = jar
            .get(&format!("task{t}.example"), "/", "n")
            .expect("kept");
        assert_eq!(c.value(), ROUNDS.to_string());
    }
}

#[test]
fn layer_types_are_send_sync_and_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Jar>();
    assert_send_sync::<CookieLayer>();
    assert_send_sync::<Cookies<crate::connect::Connector>>();
    let _: CookieLayer<Arc<dyn CookieStore>> = CookieLayer::new(Arc::new(Jar::new()));
    let _ = CookieLayer::default();
    let _ = Cookies::layer(Jar::new());
}
