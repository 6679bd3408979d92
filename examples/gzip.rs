//! Decoding gzip-compressed responses, like Twisted's `ContentDecoderAgent`.
//!
//! Run with `cargo run -p towline-examples --example gzip`.
//!
//! The example's server on 127.0.0.1 sends a text compressed with gzip
//! (`Content-Encoding: gzip`) and echoes the `Accept-Encoding` it received. The
//! default `Client` asks for gzip and deflate and hands back the decoded text, without
//! the `Content-Encoding` and `Content-Length` of the coded bytes. A client built with
//! `.gzip(false)` no longer offers gzip and leaves a gzip body as it came, so we see
//! its coded size.

use std::io::{Read, Write};

use towline::Client;
use towline_test::{Reply, TestServer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data)?;
    encoder.finish()
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let text = "All work and no play makes Jack a dull boy.\n".repeat(500);
    let coded = gzip(text.as_bytes())?;
    println!(
        "the server holds {} bytes of text, {} bytes gzipped",
        text.len(),
        coded.len()
    );
    let served = coded.clone();
    let server = TestServer::start(move |req| {
        Reply::text(served.clone())
            .header("Content-Encoding", "gzip")
            .header(
                "X-Accept-Encoding-Seen",
                req.header("accept-encoding").unwrap_or("(none)"),
            )
    })
    .await;

    for (name, decodes, client) in [
        ("Client::new()", true, Client::new()),
        ("gzip(false)", false, Client::builder().gzip(false).build()?),
    ] {
        println!("\n== {name}");
        let response = client.get(server.url("/story.txt")).send().await?;
        let headers = response.headers();
        let offered = headers.get("x-accept-encoding-seen");
        println!("sent Accept-Encoding: {offered:?}");
        let offered_gzip = offered
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("gzip"));
        println!(
            "Content-Encoding: {:?}, Content-Length: {:?}",
            headers.get("content-encoding"),
            headers.get("content-length")
        );
        let coded_headers = headers.contains_key("content-encoding");
        let coded_length = headers.contains_key("content-length");
        let body = response.bytes().await?;
        if body.starts_with(&[0x1f, 0x8b]) {
            // Still coded: gunzip it ourselves to check it is the same text.
            let mut decoded = Vec::new();
            flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut decoded)?;
            println!(
                "read {} bytes starting {:02x?} (the gzip magic); gunzipped by hand: {} bytes, \
                 same text: {}",
                body.len(),
                &body[..2],
                decoded.len(),
                decoded == text.as_bytes()
            );
        } else {
            let first_line = body.split(|&b| b == b'\n').next().unwrap_or_default();
            println!(
                "read {} bytes of text, starting {:?}",
                body.len(),
                String::from_utf8_lossy(first_line)
            );
        }
        if decodes {
            check(
                offered_gzip && !coded_headers && !coded_length && body == text.as_bytes(),
                "Client::new() to offer gzip and hand back the decoded text without the \
                 coded body's headers",
            )?;
        } else {
            check(
                !offered_gzip && coded_headers && body == coded,
                "gzip(false) not to offer gzip and to hand back the gzip bytes as sent",
            )?;
        }
    }

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
