//! `NoProxy::parse` and `NoProxy::matches` on arbitrary text.
//!
//! Input: two `NO_PROXY` lists (the first two lines), then host lines, each two bytes
//! of port (big-endian) and the host; bytes that are not UTF-8 are replaced.
//!
//! Invariants, from `NoProxy`'s documentation:
//! - `matches` never panics, for any `&str`;
//! - a list with a `*` entry matches every host; an empty list none;
//! - matching ignores ASCII case, and one trailing dot on the host;
//! - entries only add: a host that list A or list B matches, "A,B" matches too;
//! - a host name entry matches that very name, and an IP address entry that address;
//! - an IPv4 address and its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`) are the same host.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use towline::proxy::NoProxy;
use towline_fuzz::first_line;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A host name as an entry and a URI would both write it: letters, digits, `-`, `_`,
/// dots between labels, starting with a letter.
fn is_plain_name(host: &str) -> bool {
    host.starts_with(|c: char| c.is_ascii_alphabetic())
        && !host.ends_with('.')
        && !host.contains("..")
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (a, rest) = first_line(data);
    let (b, rest) = first_line(rest);
    let (a, b) = (text(a), text(b));
    let list_a = NoProxy::parse(&a);
    let list_b = NoProxy::parse(&b);
    let both = NoProxy::parse(&format!("{a},{b}"));
    let star = a.split(',').any(|e| e.trim() == "*");

    let mut hosts: Vec<(String, u16)> = rest
        .split(|&b| b == b'\n')
        .take(8)
        .map(|line| match line {
            [hi, lo, host @ ..] => (text(host), u16::from_be_bytes([*hi, *lo])),
            _ => (text(line), 80),
        })
        .collect();
    // The entries themselves, as hosts.
    for entry in a.split(',').take(4) {
        hosts.push((entry.trim().to_owned(), 443));
    }

    for (host, port) in &hosts {
        let port = *port;
        let m = list_a.matches(host, port);
        if star {
            assert!(m, "`*` in {a:?} does not match {host:?}");
        }
        if list_a.is_empty() {
            assert!(!m, "the empty {a:?} matches {host:?}");
        }
        assert_eq!(
            list_a.matches(&host.to_ascii_uppercase(), port),
            m,
            "{a:?}: {host:?} in upper case"
        );
        assert_eq!(
            list_a.matches(&host.to_ascii_lowercase(), port),
            m,
            "{a:?}: {host:?} in lower case"
        );
        if !host.ends_with(['.', ']']) && !host.starts_with('[') {
            assert_eq!(
                list_a.matches(&format!("{host}."), port),
                m,
                "{a:?}: {host:?} with a trailing dot"
            );
        }
        if m || list_b.matches(host, port) {
            assert!(
                both.matches(host, port),
                "{host:?}:{port} matches {a:?} or {b:?} but not both together"
            );
        }

        // An entry that is exactly the host.
        if is_plain_name(host) {
            assert!(
                NoProxy::parse(host).matches(host, port),
                "the entry {host:?} does not match itself"
            );
        }
        if let Ok(v4) = host.parse::<Ipv4Addr>() {
            assert_eq!(
                list_a.matches(&format!("::ffff:{v4}"), port),
                m,
                "{a:?}: {host:?} and its IPv4-mapped IPv6 form"
            );
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            assert!(
                NoProxy::parse(host).matches(host, port),
                "the entry {host:?} does not match the address {ip}"
            );
        }
    }
});
