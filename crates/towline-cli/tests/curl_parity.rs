//! The same requests from towline and from Debian's curl, to the same loopback server:
//! the same body bytes, and cookie files each can read from the other.
//!
//! curl must be installed (`./.ci/test` installs it); without it these tests fail.

mod support;

use support::{TempDir, curl, gzip, pattern, towline};
use towline_test::{RecordedRequest, Reply, TestServer};

fn handler(req: &RecordedRequest) -> Reply {
    match req.path() {
        "/plain" => Reply::new(200).body(pattern(200_000)),
        "/gzip" => Reply::text(gzip(&b"compressible text, over and over. ".repeat(3000)))
            .header("Content-Encoding", "gzip"),
        "/r1" => Reply::new(302).header("Location", "/r2"),
        "/r2" => Reply::new(301).header("Location", "/r3?q=1"),
        "/r3" => Reply::new(307).header("Location", "/final"),
        "/final" => Reply::text(format!("final {} {}", req.method, req.target)),
        "/set" => Reply::text("set")
            .header("Set-Cookie", "sid=abc123; Path=/")
            .header("Set-Cookie", "theme=dark; Max-Age=3600; Path=/")
            .header("Set-Cookie", "tok=t1; Path=/; HttpOnly"),
        "/echo" => Reply::text(req.header("cookie").unwrap_or("none").to_owned()),
        _ => Reply::new(404),
    }
}

/// Runs both clients with the same arguments; returns (towline's, curl's) stdout.
async fn both(args: &[&str]) -> (Vec<u8>, Vec<u8>) {
    let ours = towline(args).await;
    ours.assert_code(0);
    let theirs = curl(args).await;
    theirs.assert_code(0);
    (ours.stdout, theirs.stdout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs curl: ./.ci/test runs it"]
async fn same_bytes_as_curl() {
    let server = TestServer::start(handler).await;

    let (ours, theirs) = both(&["-s", &server.url("/plain")]).await;
    assert_eq!(ours.len(), 200_000);
    assert!(ours == theirs, "plain bodies differ");

    let (ours, theirs) = both(&["-s", "--compressed", &server.url("/gzip")]).await;
    assert_eq!(ours.len(), 34 * 3000);
    assert!(ours == theirs, "decoded gzip bodies differ");

    // Neither decodes without --compressed.
    let (ours, theirs) = both(&["-s", &server.url("/gzip")]).await;
    assert!(ours == theirs, "raw gzip bodies differ");
    assert_eq!(&ours[..2], b"\x1f\x8b");

    let (ours, theirs) = both(&["-s", "-L", &server.url("/r1")]).await;
    assert_eq!(String::from_utf8_lossy(&ours), "final GET /final");
    assert!(ours == theirs, "redirect chain bodies differ");

    // Neither follows without -L.
    let (ours, theirs) = both(&["-s", &server.url("/r1")]).await;
    assert!(ours == theirs);
}

/// The cookies the server got, sorted.
fn cookies(echo: &[u8]) -> Vec<String> {
    let mut all: Vec<String> = String::from_utf8_lossy(echo)
        .split("; ")
        .map(str::to_owned)
        .collect();
    all.sort();
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs curl: ./.ci/test runs it"]
async fn curl_reads_the_cookie_file_towline_writes() {
    let server = TestServer::start(handler).await;
    let dir = TempDir::new("jar-to-curl");
    let jar = dir.file("towline.txt");
    towline(&["-s", "-c", &jar, &server.url("/set")])
        .await
        .assert_code(0);
    let run = curl(&["-s", "-b", &jar, &server.url("/echo")]).await;
    run.assert_code(0);
    assert_eq!(cookies(&run.stdout), ["sid=abc123", "theme=dark", "tok=t1"]);
    assert_eq!(
        server
            .requests()
            .last()
            .and_then(|r| r.header("user-agent").map(str::to_owned)),
        Some(format!("curl/{}", curl_version().await)),
        "the last request came from curl"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs curl: ./.ci/test runs it"]
async fn towline_reads_the_cookie_file_curl_writes() {
    let server = TestServer::start(handler).await;
    let dir = TempDir::new("jar-from-curl");
    let jar = dir.file("curl.txt");
    curl(&["-s", "-c", &jar, &server.url("/set")])
        .await
        .assert_code(0);
    let written = std::fs::read_to_string(&jar).expect("curl wrote its jar");
    assert!(written.contains("#HttpOnly_127.0.0.1"), "{written}");
    let run = towline(&["-s", "-b", &jar, &server.url("/echo")]).await;
    run.assert_code(0);
    assert_eq!(cookies(&run.stdout), ["sid=abc123", "theme=dark", "tok=t1"]);

    // And back: towline reads curl's file and writes its own, which curl reads.
    let again = dir.file("again.txt");
    towline(&["-s", "-b", &jar, "-c", &again, &server.url("/echo")])
        .await
        .assert_code(0);
    let run = curl(&["-s", "-b", &again, &server.url("/echo")]).await;
    assert_eq!(cookies(&run.stdout), ["sid=abc123", "theme=dark", "tok=t1"]);
}

/// `7.88.1` from `curl --version`.
async fn curl_version() -> String {
    let run = curl(&["--version"]).await;
    run.stdout_text()
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}
