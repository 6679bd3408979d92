//! Proxies: which route each request takes, and a request sent through an HTTP proxy in
//! absolute form. The "proxy" here is a local test server that shows what it received;
//! `tests/proxy.rs` runs the same against real squid, tinyproxy and microsocks.
//!
//! Run with `cargo run -p towline-examples --example proxy`.

use towline::Client;
use towline::proxy::{NoProxy, ProxyLayer, ProxyServer};
use towline_test::{Reply, TestServer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    println!("== routes chosen per URI");
    let layer = ProxyLayer::new("http://proxy.internal.test:3128".parse()?)
        .https(ProxyServer::parse("socks5h://user:secret@127.0.0.1:1080")?)
        .no_proxy(NoProxy::parse("localhost, .corp.test, 10.0.0.0/8"));
    for uri in [
        "http://example.test/",
        "https://example.test/",
        "http://build.corp.test/",
        "http://10.1.2.3/",
        "http://localhost:8080/",
    ] {
        let route = layer.route_for(&uri.parse()?);
        println!("  {uri:<26} -> {route:?}");
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
    proxy.assert_no_panics();
    Ok(())
}
