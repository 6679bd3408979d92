//! Cookies: a jar that keeps what servers set and sends it back, refuses cookies for
//! public suffixes, and is saved to and loaded from a `cookies.txt` file that curl reads.
//!
//! Run with `cargo run -p towline-examples --example cookies`.

use towline::Client;
use towline::cookie::Jar;
use towline_test::{Reply, TestServer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let server = TestServer::start(|req| match req.path() {
        "/login" => Reply::new(302)
            .header("location", "/account")
            .header("set-cookie", "session=s3cr3t; Path=/; HttpOnly")
            .header("set-cookie", "theme=dark; Path=/; Max-Age=31536000"),
        "/account/settings" => Reply::text(format!(
            "/account/settings saw the cookies {:?}\n",
            req.header("cookie").unwrap_or("(none)")
        ))
        .header("set-cookie", "scoped=only-here; Path=/account/settings"),
        "/evil" => Reply::text("tried\n").header("set-cookie", "tracker=1; Domain=.com"),
        _ => Reply::text(format!(
            "{} saw the cookies {:?}\n",
            req.path(),
            req.header("cookie").unwrap_or("(none)")
        )),
    })
    .await;

    // One jar, shared by every clone of the client (and by other clients given it).
    let jar = Jar::new();
    let client = Client::builder().cookie_jar(jar.clone()).build()?;

    println!("== a cookie set on a redirect reaches the next hop");
    let body = get(&client, &server.url("/login")).await?;
    check(
        body.contains("session=s3cr3t; theme=dark"),
        "/account to get both cookies set by /login",
    )?;

    println!("\n== path-scoped cookies stay in their path");
    client
        .get(server.url("/account/settings"))
        .send()
        .await?
        .text()
        .await?;
    let inside = get(&client, &server.url("/account/settings")).await?;
    let outside = get(&client, &server.url("/elsewhere")).await?;
    check(
        inside.contains("scoped=only-here") && !outside.contains("scoped"),
        "the `scoped` cookie sent to /account/settings only",
    )?;

    println!("\n== a cookie for a public suffix is refused");
    client.get(server.url("/evil")).send().await?.text().await?;
    let names: Vec<String> = jar.iter().map(|c| c.name().to_owned()).collect();
    println!("the jar holds {names:?}: no `tracker` for every .com site");
    check(
        names.len() == 3 && !names.iter().any(|n| n == "tracker"),
        "the jar to hold its 3 cookies and no tracker",
    )?;

    println!("\n== saved as cookies.txt and loaded into a new client");
    let path = std::env::temp_dir().join(format!("towline-cookies-{}.txt", std::process::id()));
    let saved = jar.save(&path)?;
    println!("saved {saved} cookies to {}:", path.display());
    for line in std::fs::read_to_string(&path)?
        .lines()
        .filter(|l| !l.is_empty())
    {
        println!("  {line}");
    }
    let fresh = Jar::new();
    let report = fresh.load(&path)?;
    std::fs::remove_file(&path)?;
    println!(
        "loaded {} cookies, skipped {} lines",
        report.loaded(),
        report.skipped().len()
    );
    check(
        saved == 3 && report.loaded() == 3 && report.skipped().is_empty(),
        "3 cookies saved and the same 3 loaded",
    )?;
    let next = Client::builder().cookie_jar(fresh).build()?;
    let body = get(&next, &server.url("/account")).await?;
    check(
        body.contains("session=s3cr3t; theme=dark"),
        "the new client to send the loaded cookies",
    )?;

    server.assert_no_panics();
    Ok(())
}

/// Sends a GET and prints and returns the answer's body.
async fn get(client: &Client, url: &str) -> Result<String, towline::Error> {
    let body = client.get(url).send().await?.text().await?;
    print!("{body}");
    Ok(body)
}

/// Stops the example with an error when what it just showed did not happen.
fn check(happened: bool, what: &str) -> Result<(), BoxError> {
    if happened {
        Ok(())
    } else {
        Err(format!("expected {what}, and it did not happen").into())
    }
}
