use std::collections::HashMap;
use std::convert::Infallible;

use http::{Request, Response, Uri};
use tower::{ServiceExt, service_fn};

use super::*;

fn uri(s: &str) -> Uri {
    s.parse().expect("URI")
}

#[test]
fn no_proxy_table() {
    // (NO_PROXY value, host, port, bypasses the proxy)
    let table: &[(&str, &str, u16, bool)] = &[
        ("", "example.test", 80, false),
        ("*", "example.test", 80, true),
        ("*", "10.0.0.1", 80, true),
        (" * ", "anything", 1, true),
        // Names match themselves and everything under them, case-insensitively.
        ("example.test", "example.test", 80, true),
        ("example.test", "EXAMPLE.Test", 80, true),
        ("example.test", "www.example.test", 443, true),
        ("example.test", "a.b.example.test", 443, true),
        ("example.test", "badexample.test", 80, false),
        ("example.test", "example.test.evil", 80, false),
        ("EXAMPLE.TEST", "example.test", 80, true),
        // A leading dot or `*.` means the same (curl).
        (".example.test", "example.test", 80, true),
        (".example.test", "www.example.test", 80, true),
        (".example.test", "wwwexample.test", 80, false),
        ("*.example.test", "www.example.test", 80, true),
        // Trailing dots (fully qualified names) are the same names.
        ("example.test.", "www.example.test", 80, true),
        ("example.test", "www.example.test.", 80, true),
        // Unicode names are their A-labels, the form a URI's host has.
        ("bücher.example", "xn--bcher-kva.example", 80, true),
        (".Bücher.example", "www.xn--bcher-kva.example", 80, true),
        ("bücher.example", "bucher.example", 80, false),
        // Lists, with spaces and empty entries.
        ("a.test, b.test ,,c.test", "b.test", 80, true),
        ("a.test, b.test ,,c.test", "c.test", 80, true),
        ("a.test, b.test ,,c.test", "d.test", 80, false),
        // Ports.
        ("example.test:8080", "example.test", 8080, true),
        ("example.test:8080", "example.test", 80, false),
        ("127.0.0.1:8080", "127.0.0.1", 8080, true),
        ("127.0.0.1:8080", "127.0.0.1", 8081, false),
        ("[::1]:8080", "[::1]", 8080, true),
        ("[::1]:8080", "::1", 80, false),
        // IP addresses match only that IP literal.
        ("127.0.0.1", "127.0.0.1", 80, true),
        ("127.0.0.1", "127.0.0.2", 80, false),
        ("127.0.0.1", "localhost", 80, false),
        ("localhost", "127.0.0.1", 80, false),
        ("::1", "[::1]", 80, true),
        ("[::1]", "[::1]", 80, true),
        ("[::1]", "::1", 80, true),
        ("::1", "[::2]", 80, false),
        // CIDR blocks.
        ("10.0.0.0/8", "10.200.3.4", 80, true),
        ("10.0.0.0/8", "11.0.0.1", 80, false),
        ("192.168.1.0/24", "192.168.1.255", 80, true),
        ("192.168.1.0/24", "192.168.2.1", 80, false),
        ("192.168.1.7/32", "192.168.1.7", 80, true),
        ("0.0.0.0/0", "8.8.8.8", 80, true),
        ("0.0.0.0/0", "[::1]", 80, false),
        ("fd00::/8", "[fd12::1]", 80, true),
        ("fd00::/8", "[fe80::1]", 80, false),
        ("[fd00::]/8", "[fd12::1]", 80, true),
        ("::/0", "[2001:db8::1]", 80, true),
        // IPv4-mapped IPv6 hosts are checked as IPv4.
        ("127.0.0.0/8", "[::ffff:127.0.0.1]", 80, true),
        // A block never matches a name, even one that looks numeric.
        ("10.0.0.0/8", "10.example.test", 80, false),
        // Broken entries are ignored, not fatal; the rest still applies.
        ("10.0.0.0/33, ok.test", "10.0.0.1", 80, false),
        ("10.0.0.0/33, ok.test", "ok.test", 80, true),
        ("host:notaport, ok.test", "host", 80, false),
        ("not an ip/8", "not an ip", 80, false),
        (".", "example.test", 80, false),
    ];
    for &(list, host, port, expected) in table {
        assert_eq!(
            NoProxy::parse(list).matches(host, port),
            expected,
            "NO_PROXY={list:?} host={host} port={port}"
        );
    }
    assert!(NoProxy::parse(" , ").is_empty());
    assert!(NoProxy::new().is_empty());
}

#[test]
fn proxy_uri_table() {
    // (input, protocol, host, port, tls, username, password)
    type Row = (
        &'static str,
        ProxyProtocol,
        &'static str,
        u16,
        bool,
        Option<&'static str>,
        Option<&'static str>,
    );
    let table: &[Row] = &[
        (
            "http://proxy.test:3128",
            ProxyProtocol::Http,
            "proxy.test",
            3128,
            false,
            None,
            None,
        ),
        (
            "http://proxy.test",
            ProxyProtocol::Http,
            "proxy.test",
            80,
            false,
            None,
            None,
        ),
        (
            "http://proxy.test:3128/",
            ProxyProtocol::Http,
            "proxy.test",
            3128,
            false,
            None,
            None,
        ),
        (
            "proxy.test:3128",
            ProxyProtocol::Http,
            "proxy.test",
            3128,
            false,
            None,
            None,
        ),
        (
            "HTTPS://Proxy.Test",
            ProxyProtocol::Https,
            "proxy.test",
            443,
            true,
            None,
            None,
        ),
        (
            "socks5://127.0.0.1",
            ProxyProtocol::Socks5,
            "127.0.0.1",
            1080,
            false,
            None,
            None,
        ),
        (
            "socks5h://[::1]:9050",
            ProxyProtocol::Socks5h,
            "::1",
            9050,
            false,
            None,
            None,
        ),
        (
            "http://[::1]",
            ProxyProtocol::Http,
            "::1",
            80,
            false,
            None,
            None,
        ),
        (
            "  http://p.test:1  ",
            ProxyProtocol::Http,
            "p.test",
            1,
            false,
            None,
            None,
        ),
        (
            "http://me:pw@p.test:1",
            ProxyProtocol::Http,
            "p.test",
            1,
            false,
            Some("me"),
            Some("pw"),
        ),
        (
            "http://me@p.test:1",
            ProxyProtocol::Http,
            "p.test",
            1,
            false,
            Some("me"),
            Some(""),
        ),
        // Percent-decoded; a raw `@` in the password is kept (the last `@` ends it).
        (
            "http://d%C3%A9j%C3%A0:p%40ss%3Aw%2Fd@p.test",
            ProxyProtocol::Http,
            "p.test",
            80,
            false,
            Some("déjà"),
            Some("p@ss:w/d"),
        ),
        (
            "http://u:a@b@p.test",
            ProxyProtocol::Http,
            "p.test",
            80,
            false,
            Some("u"),
            Some("a@b"),
        ),
        (
            "socks5://u:p@h.test",
            ProxyProtocol::Socks5,
            "h.test",
            1080,
            false,
            Some("u"),
            Some("p"),
        ),
        // The host as the WHATWG URL Standard reads it: IDNA, IPv4 shorthands.
        (
            "http://Bücher.Example:3128",
            ProxyProtocol::Http,
            "xn--bcher-kva.example",
            3128,
            false,
            None,
            None,
        ),
        (
            "socks5h://0x7f.1:1080",
            ProxyProtocol::Socks5h,
            "127.0.0.1",
            1080,
            false,
            None,
            None,
        ),
        (
            "http://u:p@proxy_1.test",
            ProxyProtocol::Http,
            "proxy_1.test",
            80,
            false,
            Some("u"),
            Some("p"),
        ),
    ];
    for &(input, protocol, host, port, tls, username, password) in table {
        let server = ProxyServer::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(server.protocol(), protocol, "{input}");
        let ep = server.endpoint();
        assert_eq!(
            (ep.host(), ep.port(), ep.is_tls()),
            (host, port, tls),
            "{input}"
        );
        assert_eq!(ep.username(), username, "{input}");
        assert_eq!(ep.password(), password, "{input}");
        assert_eq!(input.parse::<ProxyServer>().ok().as_ref(), Some(&server));
    }
}

#[test]
fn bad_proxy_uris_are_typed_errors_without_the_password() {
    for (input, words) in [
        ("socks4://p.test:1080", "unsupported scheme"),
        ("ftp://p.test", "unsupported scheme"),
        ("http://", "host is empty"),
        ("http://:3128", "host is empty"),
        ("http://p.test:0", "port"),
        ("http://p.test:99999", "port"),
        ("http://p.test:x", "port"),
        ("http://p.test/path", "no path"),
        ("http://p.test?q", "no path"),
        ("http://[::1", "closing bracket"),
        ("http://[zz::1]:80", "IPv6"),
        ("http://p test", "characters"),
        ("http://p<.test", "characters"),
        // Found by the proxy_uri fuzz target (issue 18): the URL Standard takes `,`
        // (and `!`, `$`, ...) in a domain, DNS does not; `a,b` is a list.
        ("http://proxy.tes803,128", "characters"),
        ("http://me:s3cret@p1.test,p2.test", "characters"),
        ("socks5h://p!.test", "characters"),
        ("http://1.2.3.999", "IPv4"),
        ("http://me:s3cret@\u{FFFD}.test", "internationalized"),
        ("http://me:s3cret%zz@p.test", "percent-encoded"),
        ("http://me:s3cret@p.test:99999", "port"),
        // Free text that only looks like a URL: what precedes the `@` stays hidden.
        ("h\u{0}?p://user:s3cret@`roxy.tes:t:15", "scheme"),
        ("user:s3cret@p.test?token=x", "no path"),
    ] {
        let err = ProxyServer::parse(input).expect_err(input);
        let text = err.to_string();
        assert!(text.contains(words), "{input}: {text}");
        assert!(!text.contains("s3cret"), "{input}: {text}");
    }
    let err = ProxyServer::parse("http://me:s3cret@p.test:99999").expect_err("port");
    assert_eq!(
        err.to_string(),
        "invalid proxy URI `http://***@p.test:99999`: the port is not a number from 1 to 65535"
    );
}

fn env(vars: &[(&str, &str)]) -> Result<ProxyLayer, ProxyConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    ProxyLayer::from_lookup(|name| vars.get(name).cloned())
}

/// A short name for a route, for tables.
fn describe(route: Option<Route>) -> String {
    match route {
        None | Some(Route::Direct) => "direct".into(),
        Some(Route::HttpProxy(ep)) => format!("forward {ep}"),
        Some(Route::Tunnel(ep)) => format!("tunnel {ep}"),
        Some(Route::Socks5 {
            endpoint,
            remote_dns,
        }) => format!("socks5{} {endpoint}", if remote_dns { "h" } else { "" }),
    }
}

#[test]
fn environment_table() {
    // (variables, URI, route)
    type Row = (
        &'static [(&'static str, &'static str)],
        &'static str,
        &'static str,
    );
    let table: &[Row] = &[
        (&[], "http://a.test/", "direct"),
        (&[], "https://a.test/", "direct"),
        (
            &[("HTTP_PROXY", "http://p:1")],
            "http://a.test/",
            "forward p:1",
        ),
        (&[("HTTP_PROXY", "http://p:1")], "https://a.test/", "direct"),
        (
            &[("http_proxy", "http://p:1")],
            "http://a.test/",
            "forward p:1",
        ),
        (
            &[("HTTPS_PROXY", "http://p:1")],
            "https://a.test/",
            "tunnel p:1",
        ),
        (
            &[("https_proxy", "http://p:1")],
            "https://a.test/",
            "tunnel p:1",
        ),
        (&[("HTTPS_PROXY", "http://p:1")], "http://a.test/", "direct"),
        // Lower case wins over upper case, as in curl.
        (
            &[
                ("http_proxy", "http://low:1"),
                ("HTTP_PROXY", "http://up:1"),
            ],
            "http://a.test/",
            "forward low:1",
        ),
        (
            &[
                ("https_proxy", "http://low:1"),
                ("HTTPS_PROXY", "http://up:1"),
            ],
            "https://a.test/",
            "tunnel low:1",
        ),
        // An empty value is unset.
        (
            &[("http_proxy", ""), ("HTTP_PROXY", "http://up:1")],
            "http://a.test/",
            "forward up:1",
        ),
        // ALL_PROXY fills in for either scheme, below the scheme's own.
        (
            &[("ALL_PROXY", "socks5://s:2")],
            "http://a.test/",
            "socks5 s:2",
        ),
        (
            &[("all_proxy", "socks5h://s:2")],
            "https://a.test/",
            "socks5h s:2",
        ),
        (
            &[("ALL_PROXY", "socks5://s:2"), ("HTTPS_PROXY", "http://p:1")],
            "https://a.test/",
            "tunnel p:1",
        ),
        (
            &[("ALL_PROXY", "socks5://s:2"), ("HTTPS_PROXY", "http://p:1")],
            "http://a.test/",
            "socks5 s:2",
        ),
        // CGI: HTTP_PROXY may come from a request's `Proxy:` header ("httpoxy").
        (
            &[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://evil:1")],
            "http://a.test/",
            "direct",
        ),
        (
            &[("REQUEST_METHOD", "GET"), ("http_proxy", "http://evil:1")],
            "http://a.test/",
            "direct",
        ),
        (
            &[("REQUEST_METHOD", "GET"), ("HTTPS_PROXY", "http://p:1")],
            "https://a.test/",
            "tunnel p:1",
        ),
        (
            &[
                ("REQUEST_METHOD", "GET"),
                ("HTTP_PROXY", "http://evil:1"),
                ("ALL_PROXY", "http://p:1"),
            ],
            "http://a.test/",
            "forward p:1",
        ),
        // NO_PROXY in either case, lower case first.
        (
            &[("ALL_PROXY", "http://p:1"), ("NO_PROXY", "a.test")],
            "https://www.a.test/",
            "direct",
        ),
        (
            &[("ALL_PROXY", "http://p:1"), ("no_proxy", ".a.test")],
            "http://a.test/",
            "direct",
        ),
        (
            &[
                ("ALL_PROXY", "http://p:1"),
                ("no_proxy", "b.test"),
                ("NO_PROXY", "a.test"),
            ],
            "http://a.test/",
            "forward p:1",
        ),
        (
            &[("ALL_PROXY", "http://p:1"), ("NO_PROXY", "10.0.0.0/8,::1")],
            "http://10.9.8.7:8080/",
            "direct",
        ),
        (
            &[("ALL_PROXY", "http://p:1"), ("NO_PROXY", "10.0.0.0/8,::1")],
            "http://[::1]/",
            "direct",
        ),
        (
            &[("ALL_PROXY", "http://p:1"), ("NO_PROXY", "*")],
            "http://a.test/",
            "direct",
        ),
        // NO_PROXY ports use the scheme's default port.
        (
            &[("ALL_PROXY", "http://p:1"), ("NO_PROXY", "a.test:443")],
            "https://a.test/",
            "direct",
        ),
        (
            &[("ALL_PROXY", "http://p:1"), ("NO_PROXY", "a.test:443")],
            "http://a.test/",
            "forward p:1",
        ),
        // Only http and https are proxied.
        (&[("ALL_PROXY", "http://p:1")], "ws://a.test/", "direct"),
        // Default ports and credentials.
        (
            &[("HTTP_PROXY", "p.test")],
            "http://a.test/",
            "forward p.test:80",
        ),
        (
            &[("HTTPS_PROXY", "https://p.test")],
            "https://a.test/",
            "tunnel p.test:443",
        ),
    ];
    for &(vars, target, expected) in table {
        let layer = env(vars).unwrap_or_else(|e| panic!("{vars:?}: {e}"));
        assert_eq!(
            describe(layer.route_for(&uri(target))),
            expected,
            "{vars:?} {target}"
        );
    }
}

#[test]
fn a_bad_environment_value_names_its_variable() {
    let err = env(&[("HTTPS_PROXY", "socks4://u:hidden@p:1")]).expect_err("refused");
    assert_eq!(err.variable(), Some("HTTPS_PROXY"));
    let text = err.to_string();
    assert!(text.contains("in HTTPS_PROXY"), "{text}");
    assert!(!text.contains("hidden"), "{text}");
    // Ignored under CGI, so not parsed either.
    assert!(env(&[("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "socks4://x")]).is_ok());
}

#[test]
fn credentials_from_the_environment_reach_the_route() {
    let layer = env(&[("HTTPS_PROXY", "http://me:p%40ss@p.test:3128")]).expect("parsed");
    let Some(Route::Tunnel(ep)) = layer.route_for(&uri("https://a.test/")) else {
        panic!("a tunnel");
    };
    assert_eq!(ep.username(), Some("me"));
    assert_eq!(ep.password(), Some("p@ss"));
    assert!(!format!("{layer:?}").contains("p@ss"));
}

#[test]
fn fixed_per_scheme_and_function_routes() {
    let p = ProxyServer::parse("http://p:1").expect("proxy");
    let s = ProxyServer::parse("socks5://s:2").expect("proxy");
    let layer = ProxyLayer::new(p.clone());
    assert_eq!(describe(layer.route_for(&uri("http://a/"))), "forward p:1");
    assert_eq!(describe(layer.route_for(&uri("https://a/"))), "tunnel p:1");
    let layer = ProxyLayer::direct().https(s.clone());
    assert_eq!(describe(layer.route_for(&uri("http://a/"))), "direct");
    assert_eq!(describe(layer.route_for(&uri("https://a/"))), "socks5 s:2");
    let layer = layer.http(p.clone()).https(None);
    assert_eq!(describe(layer.route_for(&uri("http://a/"))), "forward p:1");
    assert_eq!(describe(layer.route_for(&uri("https://a/"))), "direct");

    let layer = ProxyLayer::from_fn(move |uri| match uri.port_u16() {
        Some(8080) => Some(s.clone()),
        Some(_) => Some(p.clone()),
        None => None,
    })
    .no_proxy(NoProxy::parse("skip.test"));
    assert_eq!(
        describe(layer.route_for(&uri("http://a:8080/"))),
        "socks5 s:2"
    );
    assert_eq!(
        describe(layer.route_for(&uri("https://a:1/"))),
        "tunnel p:1"
    );
    assert_eq!(describe(layer.route_for(&uri("http://a/"))), "direct");
    assert_eq!(
        describe(layer.route_for(&uri("http://skip.test:8080/"))),
        "direct"
    );
    // A relative URI has no route.
    assert_eq!(describe(layer.route_for(&uri("/relative"))), "direct");
}

#[tokio::test]
async fn the_layer_sets_a_route_unless_the_caller_did() {
    let inner = service_fn(|req: Request<()>| async move {
        Ok::<_, Infallible>(Response::new(req.extensions().get::<Route>().cloned()))
    });
    let layer = ProxyLayer::new(ProxyServer::parse("http://p:1").expect("proxy"))
        .no_proxy(NoProxy::parse("direct.test"));
    let service = tower_layer::Layer::layer(&layer, inner);

    let seen = |req| {
        let service = service.clone();
        async move { service.oneshot(req).await.map(Response::into_body) }
    };
    let route = seen(Request::get("http://a.test/").body(()).expect("request"))
        .await
        .expect("infallible");
    assert_eq!(describe(route), "forward p:1");

    let route = seen(
        Request::get("http://direct.test/")
            .body(())
            .expect("request"),
    )
    .await
    .expect("infallible");
    assert_eq!(route, None, "direct requests get no extension");

    let mine = Route::Socks5 {
        endpoint: ProxyEndpoint::new("mine", 9),
        remote_dns: true,
    };
    let route = seen(
        Request::get("http://a.test/")
            .extension(mine.clone())
            .body(())
            .expect("request"),
    )
    .await
    .expect("infallible");
    assert_eq!(route, Some(mine), "the caller's route wins");

    let route = seen(
        Request::get("http://a.test/")
            .extension(Route::Direct)
            .body(())
            .expect("request"),
    )
    .await
    .expect("infallible");
    assert_eq!(route, Some(Route::Direct), "even a direct one");
}

#[test]
fn errors_pass_through_unchanged() {
    fn same_error<S>(_: &Proxy<S>)
    where
        S: tower_service::Service<Request<()>, Error = std::io::Error>,
        Proxy<S>: tower_service::Service<Request<()>, Error = std::io::Error>,
    {
    }
    let inner = service_fn(|_: Request<()>| async { Ok::<_, std::io::Error>(()) });
    same_error(&Proxy::new(
        inner,
        ProxyServer::parse("http://p:1").expect("proxy"),
    ));
}
