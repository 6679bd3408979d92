//! One GET with the `Client`: the status, the headers and the body of the response.
//!
//! Run with `cargo run -p towline-examples --example request`.
//!
//! The example starts its own server on 127.0.0.1, which answers every request with a
//! few lines telling what it received. `Client::new()` has every default on: it follows
//! redirects, decodes gzip and deflate, pools connections and sends a `User-Agent`.

use towline::Client;
use towline_test::{Reply, TestServer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
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

    let status = response.status();
    let served_by = response.headers().get("x-served-by").cloned();
    println!("status:  {status}");
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
    check(status == 200, "200 OK")?;
    check(
        served_by.is_some_and(|v| v == "towline-test"),
        "the server's X-Served-By header",
    )?;
    check(
        body.starts_with("you asked for GET /hello?lang=en\n")
            && body.contains("your user agent is towline/"),
        "the server to see GET /hello?lang=en from towline's User-Agent",
    )?;

    server.assert_no_panics();
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
