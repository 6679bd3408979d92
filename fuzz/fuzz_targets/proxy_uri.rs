//! `ProxyServer::parse` on arbitrary text.
//!
//! Input: one byte of flags, then the proxy URI (bytes that are not UTF-8 are
//! replaced). When the low bit is set, `user:SECRETxyz@` is put where userinfo goes
//! (after `://`, or at the start).
//!
//! Invariants:
//! - the password never shows: not in `Display` or `Debug` of the parsed server, not
//!   in the error's message;
//! - a parsed server has a non-empty lowercase host, a name (letters, digits, `-`, `.`,
//!   `_`) or an IPv6 address, and a port from 1 to 65535;
//! - what `Display` prints (`scheme://host:port`) parses back to the same protocol,
//!   host and port.

#![no_main]

use std::net::Ipv6Addr;

use towline::proxy::ProxyServer;

const SECRET: &str = "SECRETxyz";

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let mut input = String::from_utf8_lossy(rest).into_owned();
    if flags & 1 != 0 {
        let at = input.find("://").map_or(0, |i| i + 3);
        input.insert_str(at, "user:SECRETxyz@");
    }
    // The secret is the password only when it is the one we put there.
    let password = flags & 1 != 0 && input.matches(SECRET).count() == 1;

    match ProxyServer::parse(&input) {
        Ok(server) => {
            let shown = server.to_string();
            let debug = format!("{server:?}");
            if password {
                assert!(
                    !shown.contains(SECRET),
                    "Display shows the password: {shown}"
                );
                assert!(!debug.contains(SECRET), "Debug shows the password: {debug}");
            }
            let endpoint = server.endpoint();
            assert!(!endpoint.host().is_empty(), "an empty host: {debug}");
            assert_ne!(endpoint.port(), 0, "port 0: {debug}");
            assert_eq!(
                endpoint.host(),
                endpoint.host().to_ascii_lowercase(),
                "a host not lowercased"
            );
            let host = endpoint.host();
            assert!(
                host.parse::<Ipv6Addr>().is_ok()
                    || host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')),
                "a host that is neither a name nor an IPv6 address: {host:?}"
            );
            match ProxyServer::parse(&shown) {
                Ok(again) => {
                    assert_eq!(again.protocol(), server.protocol(), "{input:?} -> {shown}");
                    assert_eq!(
                        again.endpoint().host(),
                        endpoint.host(),
                        "{input:?} -> {shown}"
                    );
                    assert_eq!(
                        again.endpoint().port(),
                        endpoint.port(),
                        "{input:?} -> {shown}"
                    );
                }
                Err(error) => {
                    panic!("{input:?} parsed, but its Display {shown:?} does not: {error}")
                }
            }
        }
        Err(error) => {
            if password {
                let shown = error.to_string();
                assert!(
                    !shown.contains(SECRET),
                    "the error shows the password: {shown}"
                );
            }
        }
    }
});
