//! SOCKS5 replies: a `Connector` behind `ProxyLayer` with a `socks5://` or
//! `socks5h://` proxy whose connection is an in-memory pipe to a fake proxy that
//! sends the fuzz input (method choice, authentication status, connect reply, then
//! whatever the origin says) and closes.
//!
//! Input: one byte of flags (bit 0: `socks5h`; bit 1: the proxy has a username and
//! password; bits 2-3: the origin), then the proxy's bytes.
//!
//! Invariants:
//! - every request ends (no hang) and only the proxy is dialed;
//! - the password goes out only after the proxy chose username/password (RFC 1929);
//! - the handshake succeeds (the HTTP request goes out) exactly when the proxy's
//!   bytes are a valid method choice, authentication status and successful reply,
//!   as RFC 1928 reads; a refused reply is reported with its non-zero code.

#![no_main]

use std::error::Error as _;

use http::Request;
use tower::{Layer, ServiceExt};
use towline::body::Body;
use towline::connect::{Connector, ProxyError};
use towline::proxy::{ProxyLayer, ProxyProtocol, ProxyServer};
use towline_fuzz::{HANG, ScriptedPeer, contains, runtime};

const USER: &str = "fuzzuser";
const PASSWORD: &str = "pw-SECRET-7";

const ORIGINS: [&str; 4] = [
    "http://127.0.0.1:8080/",
    "http://[2001:db8::1]/x",
    "http://origin.test/",
    "http://10.0.0.1:1/",
];

/// What a client following RFC 1928 and 1929 makes of the proxy's bytes: whether the
/// handshake succeeds, whether the password is sent, and how many bytes a successful
/// handshake takes.
fn expected(script: &[u8], credentials: bool) -> (bool, bool, usize) {
    let mut at = 0;
    let mut take = |n: usize| -> Option<&[u8]> {
        let bytes = script.get(at..at + n)?;
        at += n;
        Some(bytes)
    };
    let Some(choice) = take(2) else {
        return (false, false, 0);
    };
    if choice[0] != 5 {
        return (false, false, 0);
    }
    let mut sent_password = false;
    match choice[1] {
        0 => {}
        2 if credentials => {
            sent_password = true;
            match take(2) {
                Some(status) if status[1] == 0 => {}
                _ => return (false, sent_password, 0),
            }
        }
        _ => return (false, false, 0),
    }
    let Some(reply) = take(4) else {
        return (false, sent_password, 0);
    };
    if reply[0] != 5 || reply[1] != 0 {
        return (false, sent_password, 0);
    }
    let rest = match reply[3] {
        1 => 4 + 2,
        4 => 16 + 2,
        3 => match take(1) {
            Some(len) => usize::from(len[0]) + 2,
            None => return (false, sent_password, 0),
        },
        _ => return (false, sent_password, 0),
    };
    let ok = take(rest).is_some();
    (ok, sent_password, at)
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&flags, script)) = data.split_first() else {
        return;
    };
    let remote_dns = flags & 1 != 0;
    let credentials = flags & 2 != 0;
    let mut origin = ORIGINS[usize::from(flags >> 2) % ORIGINS.len()];
    if !remote_dns && !origin.contains("://1") && !origin.contains("://[") {
        // socks5:// resolves names here: keep to addresses, no DNS.
        origin = ORIGINS[0];
    }

    let protocol = if remote_dns {
        ProxyProtocol::Socks5h
    } else {
        ProxyProtocol::Socks5
    };
    let mut server = ProxyServer::new(protocol, "proxy.test", 1080);
    if credentials {
        server = server.basic_auth(USER, PASSWORD);
    }
    // The proxy's handshake bytes go at once; what follows a successful handshake (the
    // origin's response) once the HTTP request has arrived.
    let (succeeds, sends_password, handshake) = expected(script, credentials);
    let peer = if succeeds {
        ScriptedPeer::new(&script[..handshake], Some(&script[handshake..]))
    } else {
        ScriptedPeer::new(script, None)
    };
    let connector = Connector::builder().build_with_dialer(peer.clone());
    let client = ProxyLayer::new(server).layer(connector);
    let request = Request::get(origin).body(Body::empty()).expect("request");

    let rt = runtime();
    let outcome = rt.block_on(async {
        tokio::time::timeout(HANG, async {
            let response = client.oneshot(request).await?;
            towline::body::read_body_limited(response.into_body(), 64 * 1024).await
        })
        .await
    });
    let outcome = outcome.expect("the request through the SOCKS5 proxy hung");
    towline_fuzz::debug(|| {
        format!(
            "outcome: {outcome:?}\nclient wrote: {:?}",
            peer.written().escape_ascii().to_string()
        )
    });

    for dst in peer.dialed() {
        assert_eq!(
            (dst.scheme().as_str(), dst.host(), dst.port()),
            (protocol_scheme(remote_dns), "proxy.test", 1080),
            "dialed something other than the proxy"
        );
    }
    let written = peer.written();
    assert_eq!(
        contains(&written, PASSWORD.as_bytes()),
        sends_password,
        "password sent: {}, expected: {sends_password}",
        !sends_password
    );
    assert_eq!(
        contains(&written, b"GET "),
        succeeds,
        "the request went out: {}, but the handshake should {}",
        !succeeds,
        if succeeds { "succeed" } else { "fail" }
    );
    if let Err(error) = &outcome {
        let mut source = error.source();
        while let Some(cause) = source {
            if let Some(proxy) = cause.downcast_ref::<ProxyError>()
                && let Some(code) = proxy.socks_reply()
            {
                assert_ne!(code, 0, "a refusal with the success code: {error}");
            }
            source = cause.source();
        }
    }
});

fn protocol_scheme(remote_dns: bool) -> &'static str {
    if remote_dns { "socks5h" } else { "socks5" }
}
