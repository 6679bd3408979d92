//! Following redirects: the Strict and BrowserLike policies, the history of hops, and
//! a redirect loop.
//!
//! Run with `cargo run -p towline-examples --example redirect`.
//!
//! The example's server on 127.0.0.1 answers a POST to `/form` with
//! `302 Found` to `/thanks`. The `Strict` policy (the default, Twisted's
//! `RedirectAgent`) does not turn a POST into a GET on its own, so it hands the 302
//! back; `BrowserLike` (Twisted's `BrowserLikeRedirectAgent`) follows it with a GET,
//! as browsers do. A chain of three redirects shows `history()` and
//! `effective_uri()`, and a loop between two URLs ends in an error whose
//! `is_redirect()` is true, holding a `TooManyRedirects`.

use std::error::Error as _;

use towline::Client;
use towline::client::RedirectPolicy;
use towline::redirect::TooManyRedirects;
use towline_test::{Reply, TestServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let server = TestServer::start(|req| match req.path() {
        "/form" => Reply::new(302).header("Location", "/thanks"),
        "/start" => Reply::new(301).header("Location", "/middle"),
        "/middle" => Reply::new(307).header("Location", "/almost?step=3"),
        "/almost" => Reply::new(308).header("Location", "/end"),
        "/ping" => Reply::new(302).header("Location", "/pong"),
        "/pong" => Reply::new(302).header("Location", "/ping"),
        path => Reply::text(format!(
            "{} {path} with {} bytes of body",
            req.method,
            req.body.len()
        )),
    })
    .await;

    println!("== POST /form, answered with 302");
    for policy in [RedirectPolicy::Strict, RedirectPolicy::BrowserLike] {
        let client = Client::builder().redirect(policy).build()?;
        let response = client
            .post(server.url("/form"))
            .form(&[("name", "Alice"), ("answer", "42")])
            .send()
            .await?;
        let status = response.status();
        let location = response.headers().get("location").cloned();
        let effective = response.effective_uri().path().to_owned();
        let body = response.text().await?;
        if status.is_redirection() {
            println!("{policy:?}: handed back {status}, Location {location:?}");
        } else {
            println!("{policy:?}: followed to {effective}: {status}, \"{body}\"");
        }
    }

    println!("\n== a chain of redirects");
    let client = Client::new();
    let response = client.get(server.url("/start")).send().await?;
    if let Some(history) = response.history() {
        println!("{} redirect(s):", history.len());
        for hop in history {
            println!(
                "  {} {} -> {} Location: {:?}",
                hop.method(),
                hop.uri(),
                hop.status(),
                hop.location()
            );
        }
    }
    println!("effective URI: {}", response.effective_uri());
    println!("{}: {}", response.status(), response.text().await?);

    println!("\n== a loop, with at most 5 redirects");
    let client = Client::builder().max_redirects(5).build()?;
    match client.get(server.url("/ping")).send().await {
        Ok(response) => println!("unexpected: {}", response.status()),
        Err(err) => {
            println!("is_redirect={}: {err}", err.is_redirect());
            // The layer's own error is in the source chain.
            let mut cause = err.source();
            while let Some(e) = cause {
                if let Some(too_many) = e.downcast_ref::<TooManyRedirects>() {
                    let visited: Vec<&str> =
                        too_many.history().iter().map(|h| h.uri().path()).collect();
                    println!(
                        "TooManyRedirects: limit {}, visited {}",
                        too_many.limit(),
                        visited.join(" -> ")
                    );
                }
                cause = e.source();
            }
        }
    }

    server.assert_no_panics();
    Ok(())
}
