//! The same requests from towline and from Debian's curl, to the same loopback server:
//! the same body bytes, cookie files each can read from the other, the same request
//! bytes for `-F`, `-G`, `--data-urlencode`, `-T`, `--json` and `-e` (boundaries
//! aside), and the same `-w` values for the variables that are not times.
//!
//! curl must be installed (`./.ci/test` installs it); without it these tests fail.

mod support;

use support::{TempDir, curl, curl_bin, gzip, pattern, refused_port, run, towline, towline_bin};
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

/// What the server received, in the parts both clients must agree on: the request
/// line, the headers that carry meaning (not `User-Agent`, nor curl's `Expect`), how
/// the body was framed and its bytes (`Host` without its port), with a multipart
/// boundary replaced by
/// `BOUNDARY` (curl's and towline's are the same length, so `Content-Length` must
/// agree as well).
#[derive(Debug, PartialEq, Eq)]
struct Received {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    chunked: bool,
    body: String,
}

impl Received {
    fn of(req: &RecordedRequest) -> Received {
        let boundary = req
            .header("content-type")
            .and_then(|t| t.split_once("boundary="))
            .map(|(_, b)| b.to_owned());
        let plain = |text: &str| match &boundary {
            Some(b) => text.replace(b.as_str(), "BOUNDARY"),
            None => text.to_owned(),
        };
        let mut headers: Vec<(String, String)> = req
            .headers
            .iter()
            .filter(|(name, _)| !matches!(name.as_str(), "user-agent" | "expect"))
            .map(|(name, value)| {
                // Each client has its own server, on its own port.
                let value = match name.as_str() {
                    "host" => "127.0.0.1:PORT".to_owned(),
                    _ => plain(&String::from_utf8_lossy(value)),
                };
                (name.clone(), value)
            })
            .collect();
        headers.sort();
        Received {
            method: req.method.clone(),
            target: req.target.clone(),
            headers,
            chunked: req.chunked,
            body: plain(&String::from_utf8_lossy(&req.body)),
        }
    }
}

/// Runs curl, then towline, with the same arguments (and stdin; `BASE` and `PORT`
/// stand for the server's URL and port), each against its own fresh recording server; returns what each server received, in order, and
/// checks that both exited alike.
async fn requests_of_both(args: &[String], stdin: Option<&[u8]>) -> (Vec<Received>, Vec<Received>) {
    let mut received = Vec::new();
    let mut codes = Vec::new();
    for program in [curl_bin(), towline_bin()] {
        let server = TestServer::start(|_| Reply::text("ok")).await;
        let base = server.url("");
        let base = base.trim_end_matches('/');
        let port = server.addr().port().to_string();
        let mut all: Vec<String> = Vec::new();
        if program == curl_bin() {
            all.push("-q".to_owned());
        }
        all.extend(
            args.iter()
                .map(|a| a.replace("BASE", base).replace("PORT", &port)),
        );
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let ran = run(&program, &all, None, stdin).await;
        // towline writes header names in lower case (README: -i, -I).
        codes.push((ran.code, ran.stdout_text().to_ascii_lowercase()));
        received.push(
            server
                .requests()
                .iter()
                .map(Received::of)
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(
        codes[0], codes[1],
        "exit codes and output differ for {args:?}"
    );
    let ours = received.pop().unwrap_or_default();
    let theirs = received.pop().unwrap_or_default();
    (ours, theirs)
}

/// Asserts that both servers received the same, showing where the bodies part
/// rather than the whole of them.
#[track_caller]
fn assert_same(ours: &[Received], theirs: &[Received], args: &[String]) {
    if ours == theirs {
        return;
    }
    for (a, b) in ours.iter().zip(theirs) {
        let (x, y) = (a.body.as_bytes(), b.body.as_bytes());
        let at = x.iter().zip(y).take_while(|(p, q)| p == q).count();
        let around = |body: &[u8]| {
            String::from_utf8_lossy(&body[at.saturating_sub(80)..(at + 80).min(body.len())])
                .into_owned()
        };
        assert_eq!(
            (&a.method, &a.target, &a.headers, a.chunked, x.len()),
            (&b.method, &b.target, &b.headers, b.chunked, y.len()),
            "towline (left) and curl (right) differ for {args:?}"
        );
        assert_eq!(
            around(x),
            around(y),
            "the bodies differ at byte {at} for {args:?}"
        );
    }
    panic!(
        "towline sent {} requests, curl {}, for {args:?}",
        ours.len(),
        theirs.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs curl: ./.ci/test runs it"]
async fn same_request_bytes_as_curl_for_forms_queries_uploads_and_json() {
    let dir = TempDir::new("parity-requests");
    let text = dir.file("notes.txt");
    std::fs::write(&text, "line 1\nline 2\n").expect("write");
    let json = dir.file("data.json");
    std::fs::write(&json, "{\"x\": [1, 2]}\n").expect("write");
    let blob = dir.file("blob data.bin");
    std::fs::write(&blob, pattern(150_000)).expect("write");

    let cases: Vec<Vec<String>> = vec![
        // -F: text, <file, @file, ;type=, ;filename=, quoted values, odd names.
        vec![
            "-F".into(),
            "title=holiday".into(),
            "-F".into(),
            format!("notes=<{text}"),
            "-F".into(),
            format!("doc=@{text}"),
            "-F".into(),
            format!("blob=@{blob};filename=photo.png"),
            "-F".into(),
            format!("raw=@{json};type=application/x-custom"),
            "-F".into(),
            "typed=v;type=text/x-custom".into(),
            "-F".into(),
            "named=v;filename=n.gif".into(),
            "-F".into(),
            "quoted=\"a;b \\\"c\\\"\"".into(),
            "-F".into(),
            "we\"ird=1".into(),
            "BASE/upload".into(),
        ],
        // -G with -d and every --data-urlencode form.
        vec![
            "-G".into(),
            "-d".into(),
            "x=1".into(),
            "--data-urlencode".into(),
            "n=a b&c/é~*".into(),
            "--data-urlencode".into(),
            "=q r".into(),
            "--data-urlencode".into(),
            "plain text".into(),
            "--data-urlencode".into(),
            format!("f@{text}"),
            "--data-urlencode".into(),
            format!("@{json}"),
            "BASE/search?z=0".into(),
        ],
        vec![
            "-G".into(),
            "-I".into(),
            "-d".into(),
            "a=1".into(),
            "BASE/h".into(),
        ],
        // --data-urlencode as POST data, with -d.
        vec![
            "-d".into(),
            "raw=a b".into(),
            "--data-urlencode".into(),
            "enc=a b+c".into(),
            "BASE/form".into(),
        ],
        // -T to a path and to a directory.
        vec!["-T".into(), blob.clone(), "BASE/put/here".into()],
        vec!["-T".into(), blob.clone(), "BASE/dir/".into()],
        // --json, twice and from a file.
        vec![
            "--json".into(),
            "{\"a\":1}".into(),
            "--json".into(),
            format!("@{json}"),
            "BASE/j".into(),
        ],
        // -e.
        vec![
            "-e".into(),
            "http://from.example/a;auto".into(),
            "BASE/r".into(),
        ],
        // --resolve and --connect-to: the name in the URL and in Host, the
        // connection to the server.
        vec![
            "--resolve".into(),
            "name.example.test:PORT:127.0.0.1".into(),
            "http://name.example.test:PORT/n".into(),
        ],
        vec![
            "--connect-to".into(),
            "moved.example.test:80:127.0.0.1:PORT".into(),
            "http://moved.example.test/m".into(),
        ],
    ];
    for args in cases {
        let mut args = args;
        args.insert(0, "-s".into());
        let (ours, theirs) = requests_of_both(&args, None).await;
        assert_eq!(ours.len(), 1, "{args:?}");
        assert_eq!(
            ours, theirs,
            "the server received different requests for {args:?}"
        );
    }

    // -T - streams stdin with chunked coding.
    let input = pattern(70_000);
    let args: Vec<String> = vec!["-s".into(), "-T".into(), "-".into(), "BASE/in".into()];
    let (ours, theirs) = requests_of_both(&args, Some(&input)).await;
    assert!(ours.first().is_some_and(|r| r.chunked && r.method == "PUT"));
    assert_same(&ours, &theirs, &args);

    // With two URLs, -T goes with the first only.
    let args: Vec<String> = vec![
        "-s".into(),
        "-T".into(),
        blob.clone(),
        "BASE/one/".into(),
        "BASE/two/".into(),
    ];
    let (ours, theirs) = requests_of_both(&args, None).await;
    assert_eq!(ours.len(), 2);
    assert_same(&ours, &theirs, &args);

    // Usage errors exit alike (2), missing files too (26), and nothing is sent.
    for bad in [
        vec!["-F", "a=1", "-d", "b=2", "BASE/"],
        vec!["-F", "a=1", "-T", "/etc/hostname", "BASE/"],
        vec!["-f", "--fail-with-body", "BASE/"],
        vec!["-F", "a=1;type=", "BASE/"],
        vec!["-F", "a=@/nonexistent/towline", "BASE/"],
        vec!["-T", "/nonexistent/towline", "BASE/"],
    ] {
        let mut args: Vec<String> = vec!["-s".into()];
        args.extend(bad.iter().map(|s| (*s).to_owned()));
        let (ours, theirs) = requests_of_both(&args, None).await;
        assert!(ours.is_empty() && theirs.is_empty(), "{args:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs curl: ./.ci/test runs it"]
async fn same_write_out_values_as_curl() {
    let server = TestServer::start(|req: &RecordedRequest| match req.path() {
        "/r1" => Reply::new(302).header("Location", "/r2?q=1"),
        "/r2" => Reply::new(301).header("Location", "/final"),
        "/moved" => Reply::new(301).header("Location", "/else/where?x=1"),
        "/missing" => Reply::text("gone").status(404),
        "/json" => Reply::new(200)
            .header("Content-Type", "application/json; charset=utf-8")
            .header("X-Multi", "one")
            .header("X-Multi", "two \"quoted\"")
            .body("{\"ok\":true}"),
        _ => Reply::text("final body"),
    })
    .await;
    let format = "%{http_code} %{response_code} %{url_effective} %{num_redirects} \
                  %{size_download} %{size_upload} %{content_type} %{http_version} \
                  %{remote_ip} %{remote_port} %{num_connects} %{exitcode} %{scheme} \
                  %{method} %{redirect_url} %{num_headers} %header{content-type} \
                  %{referer} %{urlnum} %{filename_effective} \
                  [%{header_json}] 100%% \\t\\n";
    let refused = format!("http://127.0.0.1:{}/x", refused_port());
    let cases: Vec<Vec<String>> = vec![
        vec!["-L".into(), server.url("/r1")],
        vec![server.url("/r1")],
        vec![server.url("/moved")],
        vec![server.url("/missing")],
        vec!["-f".into(), server.url("/missing")],
        vec!["--fail-with-body".into(), server.url("/missing")],
        vec!["--max-filesize".into(), "5".into(), server.url("/json")],
        vec![
            "-i".into(),
            "--max-filesize".into(),
            "5".into(),
            server.url("/json"),
        ],
        vec![server.url("/json")],
        vec![
            "-e".into(),
            "http://from.example/".into(),
            server.url("/json"),
        ],
        // Two URLs: a line for each, urlnum counting.
        vec![server.url("/json"), server.url("/r1")],
        vec!["-d".into(), "a=1&b=2".into(), server.url("/post")],
        vec!["-I".into(), server.url("/json")],
        vec![refused],
    ];
    for case in cases {
        let mut args: Vec<&str> = vec!["-s", "-o", "/dev/null", "-w", format];
        args.extend(case.iter().map(String::as_str));
        let ours = towline(&args).await;
        let theirs = curl(&args).await;
        assert_eq!(ours.code, theirs.code, "{case:?}: {}", ours.stderr);
        assert_eq!(
            ours.stdout_text(),
            theirs.stdout_text(),
            "-w differs for {case:?}"
        );
    }
}
