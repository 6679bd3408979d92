//! Proxies: which route each request takes, and a request sent through an HTTP proxy in
//! absolute form. The "proxy" here is a local test server that shows what it received;
//! `tests/proxy.rs` runs the same against real squid, tinyproxy and microsocks.
//!
//! Run with `cargo run -p towline-examples --example proxy`.

use towline::Client;
use towline::connect::{ProxyEndpoint, Route};
use towline::proxy::{NoProxy, ProxyLayer, ProxyServer};
use towline_test::{Reply, TestServer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    println!("== routes chosen per URI");
    let layer = ProxyLayer::new("http://proxy.internal.test:3128".parse()?)
        .https(ProxyServer::parse("socks5h://user:secret@127.0.0.1:1080")?)
        .no_proxy(NoProxy::parse("localhost, .corp.test, 10.0.0.0/8"));
    let http_proxy = Route::HttpProxy(ProxyEndpoint::new("proxy.internal.test", 3128));
    let socks = Route::Socks5 {
        endpoint: ProxyEndpoint::new("127.0.0.1", 1080).basic_auth("user", "secret"),
        remote_dns: true,
    };
    for (uri, expected) in [
        ("http://example.test/", Some(&http_proxy)),
        ("https://example.test/", Some(&socks)),
        // Hosts on the no-proxy list go direct.
        ("http://build.corp.test/", None),
        ("http://10.1.2.3/", None),
        ("http://localhost:8080/", None),
    ] {
        let route = layer.route_for(&uri.parse()?);
        println!("  {uri:<26} -> {route:?}");
        check(
            route.as_ref() == expected,
            &format!("the route {expected:?} for {uri}"),
        )?;
    }

    println!("\n== a request through an HTTP proxy");
    // A stand-in proxy: it answers with the request line it was sent.
    let proxy = TestServer::start(|req| {
        Reply::text(format!(
            "the proxy received `{} {}`; Proxy-Authorization present: {}\n",
            req.method,
            req.target,
            req.header("proxy-authorization").is_some()
        ))
    })
    .await;
    let address = proxy.addr();
    let server = ProxyServer::parse(&format!("http://scott:tiger@{address}"))?;
    let client = Client::builder().proxy(ProxyLayer::new(server)).build()?;
    let response = client
        .get("http://origin.test/catalog?page=2")
        .send()
        .await?;
    print!("  {}", response.text().await?);
    let seen = proxy.requests();
    let target = seen.first().map(|r| r.target.as_str());
    let credentials = seen.first().and_then(|r| r.header("proxy-authorization"));
    check(
        seen.len() == 1 && target == Some("http://origin.test/catalog?page=2"),
        "the proxy to receive the request in absolute form",
    )?;
    check(
        // "scott:tiger" in base64.
        credentials == Some("Basic c2NvdHQ6dGlnZXI="),
        "the proxy to receive scott's credentials",
    )?;
    proxy.assert_no_panics();
    Ok(())
}

/// Stops the example with an error when what it just showed did not happen.
fn check(happened: bool, what: &str) -> Result<(), BoxError> {
    if happened {
        Ok(())
    } else {
        Err(format!("expected {what}, and it did not happen").into())
    }
}
