//! Run with `cargo run -p towline-examples --example custom_decoder`.
//!
//! Adds a content coding of our own to the decompression layer: `x-rle`, a toy
//! run-length coding where each pair of bytes `(count, byte)` stands for `count`
//! copies of `byte`. A server on 127.0.0.1, started by the example itself, sends a body
//! in that coding; the client asks for it in `Accept-Encoding` and reads it decoded.

use http::Request;
use tower::{Layer, ServiceExt};
use towline::body::{Body, read_body};
use towline::connect::Connector;
use towline::decompress::{DecodeError, DecodeErrorKind, Decoder, DecompressionLayer, Progress};
use towline_test::{Reply, TestServer};

/// Decodes `x-rle`. It keeps its place between calls, since a pair can be split across
/// two frames and a run can be longer than the room left in the output.
#[derive(Debug, Default)]
struct RleDecoder {
    /// A count whose byte has not arrived yet.
    count: Option<u8>,
    /// A run not yet written out in full: how many copies are left, of which byte.
    run: (usize, u8),
}

impl RleDecoder {
    /// Writes as much of the current run as fits; returns how many bytes it wrote.
    fn write_run(&mut self, output: &mut [u8]) -> usize {
        let (left, byte) = self.run;
        let n = left.min(output.len());
        output[..n].fill(byte);
        self.run.0 -= n;
        n
    }
}

impl Decoder for RleDecoder {
    fn decode(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, DecodeError> {
        let (mut read, mut written) = (0, 0);
        loop {
            written += self.write_run(&mut output[written..]);
            if self.run.0 > 0 || read == input.len() {
                // Out of room (the layer calls again with more) or out of input.
                return Ok(Progress::new(read, written));
            }
            let byte = input[read];
            read += 1;
            match self.count.take() {
                None if byte == 0 => {
                    return Err(DecodeError::new(DecodeErrorKind::Corrupt)
                        .with_message("x-rle data is corrupt: a run of length 0"));
                }
                None => self.count = Some(byte),
                Some(count) => self.run = (usize::from(count), byte),
            }
        }
    }

    fn finish(&mut self, output: &mut [u8]) -> Result<usize, DecodeError> {
        let written = self.write_run(output);
        if written == 0 && self.count.is_some() {
            // A count without its byte: the body was cut.
            return Err(DecodeError::new(DecodeErrorKind::Truncated));
        }
        Ok(written)
    }
}

/// Run-length codes `data`, for the server side.
fn rle_encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some(&byte) = rest.first() {
        let run = rest.iter().take(255).take_while(|&&b| b == byte).count();
        out.extend_from_slice(&[run as u8, byte]);
        rest = &rest[run..];
    }
    out
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let art =
        "=".repeat(60) + "\n  towline  \n" + &"=".repeat(60) + "\n" + &" ".repeat(1000) + "|\n";
    let coded = rle_encode(art.as_bytes());
    println!(
        "{} bytes of text travel as {} bytes of x-rle",
        art.len(),
        coded.len()
    );

    let server = TestServer::start(move |req| {
        let accepted = req.header("accept-encoding").unwrap_or("").to_owned();
        let body = match req.path() {
            // A body cut in the middle of a pair.
            "/cut" => coded[..coded.len() - 1].to_vec(),
            _ => coded.clone(),
        };
        Reply::text(body)
            .header("Content-Encoding", "x-rle")
            .header("X-Seen-Accept-Encoding", accepted)
    })
    .await;

    let client = DecompressionLayer::new()
        .decoder("x-rle", RleDecoder::default)
        .layer(Connector::new());

    let request = Request::get(server.url("/")).body(Body::empty())?;
    let response = client.clone().oneshot(request).await?;
    println!(
        "the client sent Accept-Encoding: {:?}",
        response.headers()["x-seen-accept-encoding"]
    );
    println!(
        "Content-Encoding after decoding: {:?}",
        response.headers().get("content-encoding")
    );
    let body = read_body(response.into_body()).await?;
    assert_eq!(body, art.as_bytes());
    println!(
        "decoded {} bytes, equal to the original:\n{}",
        body.len(),
        &art[..134]
    );

    let request = Request::get(server.url("/cut")).body(Body::empty())?;
    let response = client.oneshot(request).await?;
    match read_body(response.into_body()).await {
        Ok(_) => println!("unexpected: a cut body decoded"),
        Err(err) => println!("a cut body: is_decode={}: {err}", err.is_decode()),
    }
    server.assert_no_panics();
    Ok(())
}
