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

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
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
        let hops = response.history().map_or(0, |h| h.len());
        let body = response.text().await?;
        if status.is_redirection() {
            println!("{policy:?}: handed back {status}, Location {location:?}");
        } else {
            println!("{policy:?}: followed to {effective}: {status}, \"{body}\"");
        }
        if policy == RedirectPolicy::Strict {
            check(
                status == 302 && hops == 0 && location.is_some_and(|l| l == "/thanks"),
                "Strict to hand back the 302 and its Location",
            )?;
        } else {
            check(
                status == 200 && hops == 1 && body == "GET /thanks with 0 bytes of body",
                "BrowserLike to follow the 302 with a GET and no body",
            )?;
        }
    }

    println!("\n== a chain of redirects");
    let client = Client::new();
    let response = client.get(server.url("/start")).send().await?;
    let mut statuses = Vec::new();
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
            statuses.push(hop.status().as_u16());
        }
    }
    let effective = response.effective_uri().clone();
    println!("effective URI: {effective}");
    let status = response.status();
    let body = response.text().await?;
    println!("{status}: {body}");
    check(
        statuses == [301, 307, 308],
        "a history of three hops: 301, 307, 308",
    )?;
    check(
        effective.path() == "/end" && status == 200 && body == "GET /end with 0 bytes of body",
        "the chain to end with 200 at /end",
    )?;

    println!("\n== a loop, with at most 5 redirects");
    let client = Client::builder().max_redirects(5).build()?;
    let err = match client.get(server.url("/ping")).send().await {
        Ok(response) => {
            return Err(format!("the loop ended in {}, not an error", response.status()).into());
        }
        Err(err) => err,
    };
    println!("is_redirect={}: {err}", err.is_redirect());
    check(err.is_redirect(), "the loop to end in a redirect error")?;
    // The layer's own error is in the source chain.
    let too_many = std::iter::successors(err.source(), |&e| e.source())
        .find_map(|e| e.downcast_ref::<TooManyRedirects>());
    let Some(too_many) = too_many else {
        return Err("the redirect error holds no TooManyRedirects".into());
    };
    let visited: Vec<&str> = too_many.history().iter().map(|h| h.uri().path()).collect();
    println!(
        "TooManyRedirects: limit {}, visited {}",
        too_many.limit(),
        visited.join(" -> ")
    );
    check(
        too_many.limit() == 5 && visited.len() == 6,
        "5 redirects followed and the 6th refused",
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
