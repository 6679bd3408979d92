//! Uploading a file as it is read from disk, like Twisted's `FileBodyProducer`.
//!
//! Run with `cargo run -p towline-examples --example filesendbody`.
//!
//! The example writes a temporary file of 300 KiB, uploads it with
//! `Body::from_path` (its length comes from the file's metadata, so it is sent with
//! `Content-Length`, and it is read in chunks, never whole into memory), and then
//! uploads it again to a URL that answers `307 Temporary Redirect`: a body made from a
//! path can be sent twice, because a copy opens the file again. The file is removed at
//! the end, also when something fails. The server is the example's own, on 127.0.0.1.

use std::path::{Path, PathBuf};

use towline::client::RedirectPolicy;
use towline::{Body, Client};
use towline_test::{Reply, TestServer};

/// A file that is removed when this value is dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn create(stem: &str, contents: &[u8]) -> std::io::Result<TempFile> {
        let path = std::env::temp_dir().join(format!("{stem}-{}.txt", std::process::id()));
        std::fs::write(&path, contents)?;
        Ok(TempFile(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.0) {
            Ok(()) => println!("removed {}", self.0.display()),
            Err(err) => eprintln!("could not remove {}: {err}", self.0.display()),
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let server = TestServer::start(|req| match req.path() {
        "/moved" => Reply::new(307).header("Location", "/files/report.txt"),
        _ => {
            // A cheap checksum, so we can see that the bytes arrived intact.
            let sum = req.body.iter().fold(0u32, |sum, &b| {
                sum.wrapping_mul(31).wrapping_add(u32::from(b))
            });
            Reply::text(format!(
                "{} {}: stored {} bytes (Content-Length: {}, checksum {sum:08x})",
                req.method,
                req.path(),
                req.body.len(),
                req.header("content-length").unwrap_or("none"),
            ))
        }
    })
    .await;

    let contents: Vec<u8> = (0..300 * 1024).map(|i| b"towline\n"[i % 8]).collect();
    let file = TempFile::create("towline-filesendbody", &contents)?;
    println!(
        "wrote {} bytes to {}",
        contents.len(),
        file.path().display()
    );

    let client = Client::new();
    let body = Body::from_path(file.path()).await?;
    println!("the body: {body:?}");
    let response = client
        .put(server.url("/files/report.txt"))
        .body(body)
        .send()
        .await?;
    println!("server: {}", response.text().await?);

    // The default (Strict) policy hands a 307 to a PUT back; BrowserLike follows it,
    // sending the same method and body again.
    let client = Client::builder()
        .redirect(RedirectPolicy::BrowserLike)
        .build()?;
    let response = client
        .put(server.url("/moved"))
        .body(Body::from_path(file.path()).await?)
        .send()
        .await?;
    let hops = response.history().map_or(0, |h| h.len());
    println!("after {hops} redirect(s) to {}:", response.effective_uri());
    println!("server: {}", response.text().await?);
    let whole = server
        .requests()
        .iter()
        .filter(|r| r.body == contents)
        .count();
    assert_eq!(whole, 3, "one upload, and the redirected one sent twice");
    println!("the whole file reached the server {whole} times: once, then twice for the 307");

    server.assert_no_panics();
    Ok(())
}
