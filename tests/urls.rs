//! URLs as people type them and servers send them, read by the WHATWG URL Standard
//! (the `url` crate, IDNA UTS #46) at the `Client`'s edge: for each input, the request
//! line and `Host` a loopback server received, and the host the dialer was asked for
//! (the pool key). IDN hosts reach the server through a dialer that sends every
//! destination to it: no DNS is involved.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use towline::Client;
use towline::connect::Destination;
use towline_test::{Reply, TestServer};

/// A client whose every connection goes to `server`, whatever the URL's host; the hosts
/// and ports it was asked to dial are recorded in `dialed`.
fn client_to(server: &TestServer, dialed: Arc<Mutex<Vec<String>>>) -> Client {
    let addr = server.addr();
    let dialer = tower::service_fn(move |dst: Destination| {
        dialed
            .lock()
            .expect("lock")
            .push(format!("{}:{}", dst.host(), dst.port()));
        tokio::net::TcpStream::connect(addr)
    });
    Client::builder()
        .redirect(towline::client::RedirectPolicy::None)
        .build_with_dialer(dialer)
        .expect("client")
}

/// (input, request target, `Host`): each category the issue lists.
const TABLE: &[(&str, &str, &str)] = &[
    // IDN hosts: A-labels (UTS #46, non-transitional) on the wire.
    ("http://bücher.example/", "/", "xn--bcher-kva.example"),
    ("http://BÜCHER.Example/", "/", "xn--bcher-kva.example"),
    (
        "http://münchen.example:8080/a",
        "/a",
        "xn--mnchen-3ya.example:8080",
    ),
    ("http://例え.テスト/", "/", "xn--r8jz45g.xn--zckzah"),
    ("http://faß.example/", "/", "xn--fa-hia.example"),
    ("http://ＥＸＡＭＰＬＥ.test/", "/", "example.test"),
    ("http://example。test/", "/", "example.test"),
    (
        "http://xn--bcher-kva.example/",
        "/",
        "xn--bcher-kva.example",
    ),
    (
        "http://%62%C3%BCcher.example/",
        "/",
        "xn--bcher-kva.example",
    ),
    (
        "http://bücher.example/bücher?q=bücher",
        "/b%C3%BCcher?q=b%C3%BCcher",
        "xn--bcher-kva.example",
    ),
    // Dot segments removed, `%2e` included.
    ("http://h.test/a/b/../c", "/a/c", "h.test"),
    ("http://h.test/a/./b", "/a/b", "h.test"),
    ("http://h.test/../a", "/a", "h.test"),
    ("http://h.test/a/../../../b", "/b", "h.test"),
    ("http://h.test/a/%2e%2E/b", "/b", "h.test"),
    ("http://h.test/a/%2e/b", "/a/b", "h.test"),
    ("http://h.test/a/b/..", "/a/", "h.test"),
    ("http://h.test/a/.", "/a/", "h.test"),
    ("http://h.test/a/..?q=..", "/?q=..", "h.test"),
    ("http://h.test/a/...b", "/a/...b", "h.test"),
    // Backslashes are slashes in http(s).
    ("http:\\\\h.test\\a\\b", "/a/b", "h.test"),
    ("http://h.test\\a\\b", "/a/b", "h.test"),
    ("http://h.test/a\\..\\b", "/b", "h.test"),
    // Spaces, quotes, angle brackets and non-ASCII in path and query: percent-encoded.
    ("http://h.test/a b", "/a%20b", "h.test"),
    ("http://h.test/ä", "/%C3%A4", "h.test"),
    ("http://h.test/?q=a b", "/?q=a%20b", "h.test"),
    ("http://h.test/?q=ä", "/?q=%C3%A4", "h.test"),
    ("http://h.test/a%20b", "/a%20b", "h.test"),
    ("http://h.test/\"x\"", "/%22x%22", "h.test"),
    ("http://h.test/?q=\"x\"", "/?q=%22x%22", "h.test"),
    ("http://h.test/<a>", "/%3Ca%3E", "h.test"),
    ("http://h.test/?<a>", "/?%3Ca%3E", "h.test"),
    ("http://h.test/{a}", "/%7Ba%7D", "h.test"),
    ("http://h.test/?q='", "/?q=%27", "h.test"),
    ("http://h.test/~user/a-b_c.d", "/~user/a-b_c.d", "h.test"),
    ("http://h.test/?a=1&b=2;c", "/?a=1&b=2;c", "h.test"),
    ("http://h.test/%zz", "/%zz", "h.test"),
    // Fragments never reach the wire.
    ("http://h.test/a#frag", "/a", "h.test"),
    ("http://h.test/a?q#f g", "/a?q", "h.test"),
    // Lenient slashes after the scheme.
    ("http:/h.test/x", "/x", "h.test"),
    ("http:///h.test/x", "/x", "h.test"),
    ("http:////h.test/x", "/x", "h.test"),
    ("http:h.test/x", "/x", "h.test"),
    // Scheme and host case folded; path case kept.
    ("HTTP://H.TEST/Path", "/Path", "h.test"),
    ("HtTp://h.Test/?Q=A", "/?Q=A", "h.test"),
    // IPv4 shorthands spelled out; IPv6 compressed.
    ("http://0x7f.1/", "/", "127.0.0.1"),
    ("http://127.1/", "/", "127.0.0.1"),
    ("http://2130706433/", "/", "127.0.0.1"),
    ("http://0177.0.0.1/", "/", "127.0.0.1"),
    ("http://127.0.0.1./", "/", "127.0.0.1"),
    ("http://0x7F000001:8080/", "/", "127.0.0.1:8080"),
    ("http://[::1]/", "/", "[::1]"),
    ("http://[0:0:0:0:0:0:0:1]:81/", "/", "[::1]:81"),
    ("http://[::FFFF:127.0.0.1]/", "/", "[::ffff:7f00:1]"),
    // Default ports elided; others kept.
    ("http://h.test:80/", "/", "h.test"),
    ("http://h.test:0080/", "/", "h.test"),
    ("http://h.test:/", "/", "h.test"),
    ("http://h.test:8080/", "/", "h.test:8080"),
    ("http://h.test:443/", "/", "h.test:443"),
    // Empty paths are `/`; spaces around and tabs or newlines inside are dropped.
    ("http://h.test", "/", "h.test"),
    ("http://h.test?x", "/?x", "h.test"),
    ("  http://h.test/a  ", "/a", "h.test"),
    ("http://h.test/a\tb", "/ab", "h.test"),
    ("http://h.\ntest/a\r\nb", "/ab", "h.test"),
];

#[tokio::test]
async fn urls_reach_the_server_as_the_standard_reads_them() {
    assert!(TABLE.len() >= 60, "{} rows", TABLE.len());
    let server = TestServer::start(|_| Reply::ok()).await;
    let dialed = Arc::new(Mutex::new(Vec::new()));
    let client = client_to(&server, dialed.clone());
    for (i, &(input, target, host)) in TABLE.iter().enumerate() {
        let response = client
            .get(input)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(response.status(), 200, "{input:?}");
        // The URI the response reports is the one sent.
        let effective = response.effective_uri().to_string();
        assert_eq!(
            effective,
            format!("http://{host}{target}"),
            "{input:?}: effective URI"
        );
        let requests = server.requests();
        let seen = requests
            .get(i)
            .unwrap_or_else(|| panic!("{input:?}: no request"));
        assert_eq!(
            (seen.method.as_str(), seen.target.as_str()),
            ("GET", target),
            "{input:?}: request line"
        );
        assert_eq!(seen.header("host"), Some(host), "{input:?}: Host");
        // The dialer (and so the pool key) got the same host, the port always spelled
        // out; a host seen before reuses its connection.
        let key = match host.rsplit_once(':') {
            Some((name, port)) if !port.ends_with(']') => format!("{name}:{port}"),
            _ => format!("{host}:80"),
        };
        let dialed = dialed.lock().expect("lock");
        assert!(
            dialed
                .iter()
                .any(|d| d.replace(['[', ']'], "") == key.replace(['[', ']'], "")),
            "{input:?}: {key} not among {dialed:?}"
        );
    }
    server.assert_no_panics();
}

#[tokio::test]
async fn an_idn_host_is_one_pool_key_however_it_is_spelled() {
    let server = TestServer::start(|_| Reply::ok()).await;
    let dialed = Arc::new(Mutex::new(Vec::new()));
    let client = client_to(&server, dialed.clone());
    for input in [
        "http://bücher.example/1",
        "http://BÜCHER.example/2",
        "http://xn--bcher-kva.example/3",
        "http://%62%C3%BCcher.example:80/4",
    ] {
        let response = client.get(input).send().await.expect(input);
        response.bytes().await.expect("body");
    }
    assert_eq!(
        *dialed.lock().expect("lock"),
        ["xn--bcher-kva.example:80"],
        "one connection, dialed once by its A-label"
    );
    assert_eq!(server.connections_accepted(), 1);
}

#[tokio::test]
async fn what_the_standard_refuses_is_an_invalid_request_that_never_dials() {
    let server = TestServer::start(|_| Reply::ok()).await;
    let dialed = Arc::new(Mutex::new(Vec::new()));
    let client = client_to(&server, dialed.clone());
    for input in [
        "",
        "http://",
        "http:///",
        "http://exa mple.test/",
        "http://[::1/",
        "http://h.test:99999/",
        "http://h.test:8x/",
        "http://a<b.test/",
        "http://1.2.3.256/",
        "http://0x100000000/",
        "http://\u{FFFD}.test/",
        "//h.test/relative",
        "/just/a/path",
        "h.test/no-scheme",
        "mailto:someone@h.test",
        "http://user:s3cret@exa mple.test/",
    ] {
        let err = client
            .get(input)
            .send()
            .await
            .expect_err(&format!("{input:?} is refused"));
        assert!(err.is_invalid_request(), "{input:?}: {err}");
        let text = format!("{err} {err:?}");
        assert!(!text.contains("s3cret"), "{input:?}: {text}");
        let mut source = std::error::Error::source(&err);
        let mut chain = String::new();
        while let Some(e) = source {
            chain.push_str(&e.to_string());
            source = e.source();
        }
        assert!(!chain.contains("s3cret"), "{input:?}: {chain}");
    }
    assert!(dialed.lock().expect("lock").is_empty());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(server.connections_accepted(), 0);
}

#[tokio::test]
async fn a_uri_built_by_hand_is_put_in_the_same_form() {
    let server = TestServer::start(|_| Reply::ok()).await;
    let dialed = Arc::new(Mutex::new(Vec::new()));
    let client = client_to(&server, dialed.clone());
    let uri: http::Uri = "http://H.Test:80/a/./b/../c".parse().expect("uri");
    client.get(uri).send().await.expect("sent");
    let url = towline::Url::parse("http://bücher.example/x y").expect("url");
    client.get(&url).send().await.expect("sent");
    let requests = server.requests();
    assert_eq!(requests[0].target, "/a/c");
    assert_eq!(requests[0].header("host"), Some("h.test"));
    assert_eq!(requests[1].target, "/x%20y");
    assert_eq!(requests[1].header("host"), Some("xn--bcher-kva.example"));
}
