//! HTTPS against a local server whose certificate comes from a private test CA.
//!
//! Run with `cargo run -p towline-examples --example https`.
//!
//! The example makes a CA with `towline_test::tls::TestCa`, a server certificate for
//! `localhost` and `127.0.0.1`, and an HTTPS server on 127.0.0.1 that offers HTTP/2
//! and HTTP/1.1 by ALPN. Then:
//!
//! 1. a client that trusts only that CA (`TlsConfig::builder().replace_roots_pem`);
//! 2. a per-host policy, a closure that gives `localhost` a configuration offering
//!    HTTP/2 and `127.0.0.1` one that offers only HTTP/1.1 and requires TLS 1.3
//!    (Twisted's `creatorForNetloc`);
//! 3. the default client, which trusts the public web PKI only and so refuses the
//!    test CA's certificate with an error whose `is_tls()` is true.
//!
//! For each answer it prints what `connection_info()` tells about the connection.

use towline::Client;
use towline::tls::rustls::ProtocolVersion;
use towline::tls::{TlsConfig, TlsVersion};
use towline_test::tls::TestCa;
use towline_test::{Reply, TestServer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let server = TestServer::builder()
        .tls_h2(&leaf)
        .handler(|req| {
            let version = match req.version {
                20 => "HTTP/2",
                _ => "HTTP/1.1",
            };
            Reply::text(format!("hello over {version}"))
        })
        .start()
        .await?;
    let ca_pem = ca.cert_pem();

    println!("== a client that trusts the test CA");
    let client = Client::builder()
        .tls_config(TlsConfig::builder().replace_roots_pem(ca_pem.as_bytes()))
        .build()?;
    let answer = get(&client, &server.url_for_host("localhost", "/")).await?;
    check(
        answer.alpn == "h2" && answer.body == "hello over HTTP/2",
        "a verified connection speaking HTTP/2",
    )?;

    println!("\n== one TLS configuration per host");
    let h2 = TlsConfig::builder()
        .replace_roots_pem(ca_pem.as_bytes())
        .build()?
        .client_config()
        .clone();
    let h1_tls13 = TlsConfig::builder()
        .replace_roots_pem(ca_pem.as_bytes())
        .http2(false)
        .min_version(TlsVersion::Tls13)
        .build()?
        .client_config()
        .clone();
    let client = Client::builder()
        .tls(move |host: &str, _port: u16| {
            if host == "localhost" {
                h2.clone()
            } else {
                h1_tls13.clone()
            }
        })
        .build()?;
    let answer = get(&client, &server.url_for_host("localhost", "/")).await?;
    check(
        answer.alpn == "h2" && answer.body == "hello over HTTP/2",
        "localhost to get HTTP/2",
    )?;
    let answer = get(&client, &server.url_for_host("127.0.0.1", "/")).await?;
    check(
        answer.alpn == "http/1.1"
            && answer.tls_version == Some(ProtocolVersion::TLSv1_3)
            && answer.body == "hello over HTTP/1.1",
        "127.0.0.1 to get HTTP/1.1 over TLS 1.3",
    )?;

    println!("\n== the default client does not know the test CA");
    match Client::new().get(server.url("/")).send().await {
        Ok(response) => {
            return Err(format!("the default client got {}", response.status()).into());
        }
        Err(err) => {
            println!("refused, is_tls={}: {err}", err.is_tls());
            check(err.is_tls(), "the refusal to be a TLS error")?;
        }
    }
    // The server notes the failure on its own task, a moment after the client gives up.
    for _ in 0..200 {
        if server.tls_handshake_failures() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    println!(
        "the server counted {} failed handshake(s)",
        server.tls_handshake_failures()
    );
    check(
        server.tls_handshake_failures() > 0,
        "the server to count a failed handshake",
    )?;

    server.assert_no_panics();
    Ok(())
}

/// What a GET showed: the protocol agreed by ALPN, the TLS version, and the body.
struct Answer {
    alpn: String,
    tls_version: Option<ProtocolVersion>,
    body: String,
}

/// Sends a GET and prints the answer and what is known about its connection.
async fn get(client: &Client, url: &str) -> Result<Answer, towline::Error> {
    let response = client.get(url).send().await?;
    println!("GET {url} -> {}", response.status());
    let info = response.connection_info().cloned();
    let alpn = info
        .as_ref()
        .and_then(|i| i.alpn_protocol.as_ref())
        .map_or_else(
            || "(none)".to_owned(),
            |p| String::from_utf8_lossy(p).into_owned(),
        );
    if let Some(info) = &info {
        println!(
            "  TLS version {:?}, ALPN {alpn:?}, {} certificate(s) from the server, {:?}",
            info.tls_version,
            info.peer_certificates.as_ref().map_or(0, |c| c.len()),
            info.version,
        );
    }
    let body = response.text().await?;
    println!("  body: {body}");
    Ok(Answer {
        alpn,
        tls_version: info.and_then(|i| i.tls_version),
        body,
    })
}

/// Stops the example with an error when what it just showed did not happen.
fn check(happened: bool, what: &str) -> Result<(), BoxError> {
    if happened {
        Ok(())
    } else {
        Err(format!("expected {what}, and it did not happen").into())
    }
}
