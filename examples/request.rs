//! One GET with the `Client`: the status, the headers and the body of the response.
//!
//! Run with `cargo run -p towline-examples --example request`.
//!
//! The example starts its own server on 127.0.0.1, which answers every request with a
//! few lines telling what it received. `Client::new()` has every default on: it follows
//! redirects, decodes gzip and deflate, pools connections and sends a `User-Agent`.

use towline::Client;
use towline_test::{Reply, TestServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let server = TestServer::start(|req| {
        Reply::text(format!(
            "you asked for {} {}\nyour user agent is {}\n",
            req.method,
            req.target,
            req.header("user-agent").unwrap_or("(none)"),
        ))
        .header("X-Served-By", "towline-test")
    })
    .await;

    let client = Client::new();
    let url = server.url("/hello?lang=en");
    println!("GET {url}");
    let response = client
        .get(&url)
        .header("accept", "text/plain")
        .send()
        .await?;

    println!("status:  {}", response.status());
    println!("version: {:?}", response.version());
    println!("headers:");
    for (name, value) in response.headers() {
        println!("  {name}: {}", value.to_str().unwrap_or("(not text)"));
    }
    // Reading the body consumes the response; `text()` decodes it by its charset.
    let body = response.text().await?;
    println!("body ({} bytes):", body.len());
    for line in body.lines() {
        println!("  | {line}");
    }

    server.assert_no_panics();
    Ok(())
}
