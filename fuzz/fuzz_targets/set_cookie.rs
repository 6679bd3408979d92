//! `Set-Cookie` values into one `cookie::Jar`, then the `Cookie` header back out.
//!
//! Input: up to 16 lines, each one byte choosing the response's URI (scheme, host,
//! path) and then a raw `Set-Cookie` value, fed to `Jar::set_cookie`. The jar's clock
//! is fixed, so an input always does the same thing.
//!
//! After each value the jar accepted, for every cookie it added or changed:
//! - its domain domain-matches the response's host (host-only: is that host);
//! - `Secure` only from https; `__Secure-` cookies are `Secure`; `__Host-` cookies are
//!   `Secure`, host-only and on `Path=/`;
//! - name and value together are at most 4096 bytes;
//! - a request to the same host, on the cookie's path, gets it in its `Cookie` header.
//!
//! And the jar never holds more than its 3000 cookies.

#![no_main]

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use http::Uri;
use towline::cookie::{Cookie, Jar};

const HOSTS: [&str; 16] = [
    "example.com",
    "www.example.com",
    "a.b.example.com",
    "EXAMPLE.com",
    "example.com.",
    "shop.example.co.uk",
    "co.uk",
    "github.io",
    "user.github.io",
    "localhost",
    "127.0.0.1",
    "[::1]",
    "[2001:db8::1]",
    "xn--bcher-kva.example",
    "a-b_c.test",
    "com",
];

const PATHS: [&str; 8] = [
    "/",
    "",
    "/a",
    "/a/",
    "/a/b/c",
    "/docs/x",
    "/%2e%2e/x",
    "/a?b=c",
];

/// 2026-09-21: a fixed clock, so `Expires` and `Max-Age` do the same on every run.
fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

type Key = (String, String, String, String, bool, bool, bool);

fn key(c: &Cookie) -> Key {
    (
        c.domain().to_owned(),
        c.path().to_owned(),
        c.name().to_owned(),
        c.value().to_owned(),
        c.secure(),
        c.host_only(),
        c.http_only(),
    )
}

/// Lowercase, without brackets and without one trailing dot.
fn normalize(host: &str) -> String {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host = host.strip_suffix('.').unwrap_or(host);
    host.to_ascii_lowercase()
}

fn check_new_cookie(jar: &Jar, uri: &Uri, https: bool, cookie: &Cookie) {
    let host = normalize(uri.host().expect("host"));
    let domain = normalize(cookie.domain());
    if cookie.host_only() {
        assert_eq!(domain, host, "a host-only cookie for another host");
    } else {
        assert!(
            domain == host || host.ends_with(&format!(".{domain}")),
            "a response from {host} set a cookie for {domain}"
        );
    }
    let size = cookie.name().len() + cookie.value().len();
    assert!(size <= 4096, "a cookie of {size} bytes");
    if cookie.secure() {
        assert!(https, "a Secure cookie from plain http");
    }
    if cookie.name().starts_with("__Secure-") {
        assert!(cookie.secure(), "a __Secure- cookie without Secure");
    }
    if cookie.name().starts_with("__Host-") {
        assert!(
            cookie.secure() && cookie.host_only() && cookie.path() == "/",
            "a __Host- cookie that is not Secure, host-only and on /: {cookie:?}"
        );
    }

    // The same host asks for the cookie's own path.
    let scheme = if https { "https" } else { "http" };
    let authority = uri.authority().expect("authority");
    let Ok(again) = format!("{scheme}://{authority}{}", cookie.path()).parse::<Uri>() else {
        return;
    };
    if again.path() != cookie.path() {
        return;
    }
    let wanted = format!("{}={}", cookie.name(), cookie.value());
    let header = jar.cookie_header(&again);
    let found = header.as_ref().is_some_and(|h| {
        h.as_bytes()
            .split(|&b| b == b';')
            .any(|pair| pair.trim_ascii_start() == wanted.as_bytes())
    });
    assert!(
        found,
        "stored {cookie:?} from {uri}, but a request to {again} sends {header:?}"
    );
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let jar = Jar::builder().clock(now).build();
    for line in data.split(|&b| b == b'\n').take(16) {
        let Some((&pick, set_cookie)) = line.split_first() else {
            continue;
        };
        let https = pick & 1 != 0;
        let host = HOSTS[usize::from(pick >> 1) % HOSTS.len()];
        let path = PATHS[usize::from(pick >> 5) % PATHS.len()];
        let scheme = if https { "https" } else { "http" };
        let uri: Uri = format!("{scheme}://{host}{path}").parse().expect("uri");

        let before: HashSet<Key> = jar.iter().map(|c| key(&c)).collect();
        if jar.set_cookie(&uri, set_cookie).is_err() {
            continue;
        }
        for cookie in jar.iter().filter(|c| !before.contains(&key(c))) {
            check_new_cookie(&jar, &uri, https, &cookie);
        }
        assert!(jar.len() <= 3000, "the jar holds {} cookies", jar.len());
    }
});
