//! The options curl scripts use daily, end to end against the towline-test server on
//! 127.0.0.1: `-F`, `-G`, `--data-urlencode`, `-T`, `-w`, `-e`, `--json`,
//! `--max-filesize` and `--fail-with-body`. Each test checks what the server received
//! and what towline wrote and exited with.

mod support;

use support::{TempDir, pattern, refused_port, towline, towline_with_stdin};
use towline_test::{RecordedRequest, Reply, TestServer};

/// A server that answers every request with `ok` and records it.
async fn recorder() -> TestServer {
    TestServer::start(|_| Reply::text("ok")).await
}

/// The one request the server received.
fn only(server: &TestServer) -> RecordedRequest {
    let mut all = server.requests();
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

/// The boundary of a multipart request, from its Content-Type.
fn boundary(req: &RecordedRequest) -> String {
    let content_type = req.header("content-type").expect("a content type");
    let (kind, boundary) = content_type
        .split_once("; boundary=")
        .expect("a boundary parameter");
    assert_eq!(kind, "multipart/form-data");
    boundary.to_owned()
}

// ---------------------------------------------------------------------------------
// -F

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_parts_are_sent_as_curl_frames_them() {
    let server = recorder().await;
    let dir = TempDir::new("form");
    let (text, blob) = (dir.file("notes.txt"), dir.file("blob.bin"));
    std::fs::write(&text, "line 1\nline 2\n").expect("write");
    let data = pattern(100_000);
    std::fs::write(&blob, &data).expect("write");
    let run = towline(&[
        "-s",
        "-F",
        "title=holiday",
        "-F",
        &format!("notes=<{text}"),
        "-F",
        &format!("doc=@{text}"),
        "-F",
        &format!("blob=@{blob};filename=photo.png"),
        "-F",
        "typed=v;type=text/x-custom",
        "-F",
        "quoted=\"a;b\"",
        &server.url("/upload"),
    ])
    .await;
    run.assert_code(0);
    let req = only(&server);
    assert_eq!(req.method, "POST");
    let b = boundary(&req);
    let mut expected = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nholiday\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"notes\"\r\n\r\nline 1\nline 2\n\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"notes.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nline 1\nline 2\n\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"blob\"; filename=\"photo.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    expected.extend_from_slice(&data);
    expected.extend_from_slice(
        format!(
            "\r\n--{b}\r\nContent-Disposition: form-data; name=\"typed\"\r\n\
             Content-Type: text/x-custom\r\n\r\nv\r\n\
             --{b}\r\nContent-Disposition: form-data; name=\"quoted\"\r\n\r\na;b\r\n--{b}--\r\n"
        )
        .as_bytes(),
    );
    assert!(
        req.body == expected,
        "{}",
        String::from_utf8_lossy(&req.body)
    );
    // Every part is sized: Content-Length, not chunked.
    assert!(!req.chunked);
    assert_eq!(
        req.header("content-length"),
        Some(expected.len().to_string().as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn form_usage_errors_exit_2_and_missing_files_26() {
    let server = recorder().await;
    let url = server.url("/");
    let run = towline(&["-F", "a=1", "-d", "b=2", &url]).await;
    run.assert_code(2);
    assert!(
        run.stderr
            .contains("You can only select one HTTP request method!"),
        "{}",
        run.stderr
    );
    towline(&["-F", "novalue", &url]).await.assert_code(2);
    towline(&["-F", "a=1", "-T", "/etc/hostname", &url])
        .await
        .assert_code(2);
    towline(&["-F", "a=@/nonexistent/towline-file", &url])
        .await
        .assert_code(26);
    assert_eq!(server.request_count(), 0, "nothing was sent");
}

// ---------------------------------------------------------------------------------
// -G and --data-urlencode

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_puts_the_data_in_the_query() {
    let server = recorder().await;
    let dir = TempDir::new("get");
    let file = dir.file("v.txt");
    std::fs::write(&file, "two\nlines").expect("write");
    let run = towline(&[
        "-s",
        "-G",
        "-d",
        "x=1",
        "--data-urlencode",
        "n=a b&c/é~",
        "--data-urlencode",
        "=q r",
        "--data-urlencode",
        &format!("f@{file}"),
        &server.url("/search?z=0"),
    ])
    .await;
    run.assert_code(0);
    let req = only(&server);
    assert_eq!(req.method, "GET");
    assert_eq!(
        req.target,
        "/search?z=0&x=1&n=a+b%26c%2f%c3%a9~&q+r&f=two%0alines"
    );
    assert!(req.body.is_empty());
    assert_eq!(req.header("content-type"), None);

    // Without a query, no `&` first; with -I, HEAD.
    let server = recorder().await;
    towline(&["-s", "-G", "-I", "-d", "a=1", &server.url("/p")])
        .await
        .assert_code(0);
    let req = only(&server);
    assert_eq!(
        (req.method.as_str(), req.target.as_str()),
        ("HEAD", "/p?a=1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_urlencode_is_posted_with_the_other_data() {
    let server = recorder().await;
    let run = towline(&[
        "-s",
        "-d",
        "raw=a b",
        "--data-urlencode",
        "enc=a b+c",
        "--data-urlencode",
        "plain",
        &server.url("/form"),
    ])
    .await;
    run.assert_code(0);
    let req = only(&server);
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        String::from_utf8_lossy(&req.body),
        "raw=a b&enc=a+b%2Bc&plain"
    );
}

// ---------------------------------------------------------------------------------
// -T

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_file_puts_the_file_with_its_length() {
    let server = recorder().await;
    let dir = TempDir::new("upload");
    let file = dir.file("data file.bin");
    let data = pattern(300_000);
    std::fs::write(&file, &data).expect("write");

    towline(&["-s", "-T", &file, &server.url("/put/here")])
        .await
        .assert_code(0);
    let req = only(&server);
    assert_eq!(
        (req.method.as_str(), req.target.as_str()),
        ("PUT", "/put/here")
    );
    assert!(!req.chunked);
    assert_eq!(req.header("content-length"), Some("300000"));
    assert_eq!(req.header("content-type"), None);
    assert!(req.body == data, "the file arrived changed");

    // A URL ending in `/` gets the file's name, encoded.
    let server = recorder().await;
    towline(&["-s", "-T", &file, &server.url("/dir/")])
        .await
        .assert_code(0);
    assert_eq!(only(&server).target, "/dir/data%20file.bin");

    // With more URLs, -T goes with the first; the others are plain GETs, as in curl.
    let server = recorder().await;
    towline(&[
        "-s",
        "-T",
        &file,
        &server.url("/one/"),
        &server.url("/two/"),
    ])
    .await
    .assert_code(0);
    let seen: Vec<String> = server
        .requests()
        .iter()
        .map(|r| format!("{} {} {}", r.method, r.target, r.body.len()))
        .collect();
    assert_eq!(seen, ["PUT /one/data%20file.bin 300000", "GET /two/ 0"]);

    // A missing file: curl's 26, nothing sent.
    let server = recorder().await;
    towline(&["-s", "-T", &dir.file("missing"), &server.url("/")])
        .await
        .assert_code(26);
    assert_eq!(server.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_from_stdin_is_chunked() {
    let server = recorder().await;
    let data = pattern(200_000);
    let run = towline_with_stdin(&["-s", "-T", "-", &server.url("/in")], &data).await;
    run.assert_code(0);
    let req = only(&server);
    assert_eq!(req.method, "PUT");
    assert!(req.chunked);
    assert!(req.body == data, "stdin arrived changed");
}

// ---------------------------------------------------------------------------------
// -w

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_out_prints_the_variables_after_the_body() {
    let server = TestServer::start(|req| match req.path() {
        "/old" => Reply::new(302).header("Location", "/new"),
        _ => Reply::text("hello").header("X-A", "1").header("X-A", "2"),
    })
    .await;
    let url = server.url("/old");
    let port = server.addr().port();
    let run = towline(&[
        "-s",
        "-L",
        "-w",
        "\\n%{http_code} %{response_code} %{url_effective} %{num_redirects} \
         %{size_download} %{content_type} %{http_version} %{remote_ip} %{remote_port} \
         %{num_connects} %{exitcode} %{scheme} %{method} %header{x-a} 100%%",
        &url,
    ])
    .await;
    run.assert_code(0);
    assert_eq!(
        run.stdout_text(),
        format!(
            "hello\n200 200 http://127.0.0.1:{port}/new 1 5 text/plain 1.1 127.0.0.1 {port} 1 0 \
             HTTP GET 1, 2 100%"
        )
    );

    // Times are seconds with six decimals, in order.
    let run = towline(&[
        "-s",
        "-w",
        "%{time_connect} %{time_starttransfer} %{time_total}",
        &server.url("/new"),
    ])
    .await;
    let text = run.stdout_text();
    let times: Vec<f64> = text
        .trim_start_matches("hello")
        .split(' ')
        .map(|t| t.parse().expect("a number"))
        .collect();
    assert!(times[0] <= times[1] && times[1] <= times[2], "{text}");
    assert!(text.contains('.') && text.split('.').all(|p| !p.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_out_from_a_file_to_stderr_on_failure_and_with_secrets_hidden() {
    let server = recorder().await;
    let dir = TempDir::new("write-out");
    let format = dir.file("format.txt");
    std::fs::write(&format, "%{http_code}|%{header_json}|%{stderr}to stderr").expect("write");
    let run = towline(&["-s", "-w", &format!("@{format}"), &server.url("/")]).await;
    run.assert_code(0);
    let stdout = run.stdout_text();
    assert!(stdout.starts_with("ok200|{\""), "{stdout}");
    assert!(stdout.ends_with("\n}|"), "{stdout}");
    assert_eq!(run.stderr, "to stderr");

    // A failed transfer still writes: no status, curl's exit code and the message.
    let refused = format!("http://127.0.0.1:{}/", refused_port());
    let run = towline(&[
        "-s",
        "-w",
        "%{http_code} %{exitcode} [%{errormsg}]",
        &refused,
    ])
    .await;
    run.assert_code(7);
    let text = run.stdout_text();
    assert!(text.starts_with("000 7 [connection failed"), "{text}");

    // The URL shows with its secret parameters hidden, and without its userinfo, which
    // went out as `Authorization: Basic` (as with curl).
    let url = server
        .url("/s?token=abc&page=2")
        .replace("://", "://user:hunter2@");
    let run = towline(&["-s", "-o", "/dev/null", "-w", "%{url_effective}", &url]).await;
    let text = run.stdout_text();
    assert!(text.starts_with("http://127.0.0.1:"), "{text}");
    assert!(text.ends_with("/s?token=***&page=2"), "{text}");
    assert!(!text.contains("hunter2"));

    // An unknown variable is reported and writes nothing.
    let run = towline(&["-w", "[%{nope}]", &server.url("/")]).await;
    assert_eq!(run.stdout_text(), "ok[]");
    assert!(run.stderr.contains("unknown --write-out variable: 'nope'"));
}

// ---------------------------------------------------------------------------------
// -e, --json

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn referer_is_sent_and_auto_with_location_is_refused() {
    let server = recorder().await;
    towline(&["-s", "-e", "http://from.example/page", &server.url("/")])
        .await
        .assert_code(0);
    towline(&["-s", "-e", "http://from.example/a;auto", &server.url("/")])
        .await
        .assert_code(0);
    let referers: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.header("referer").unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        referers,
        ["http://from.example/page", "http://from.example/a"]
    );
    let run = towline(&["-L", "-e", ";auto", &server.url("/")]).await;
    run.assert_code(2);
    assert!(run.stderr.contains("not supported"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_posts_with_json_headers() {
    let server = recorder().await;
    let dir = TempDir::new("json");
    let file = dir.file("body.json");
    std::fs::write(&file, "{\"from\":\"file\"}\n").expect("write");
    towline(&[
        "-s",
        "--json",
        "{\"a\":1}",
        "--json",
        &format!("@{file}"),
        &server.url("/j"),
    ])
    .await
    .assert_code(0);
    let req = only(&server);
    assert_eq!(req.method, "POST");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(
        String::from_utf8_lossy(&req.body),
        "{\"a\":1}{\"from\":\"file\"}\n"
    );

    // -H wins over --json's headers.
    let server = recorder().await;
    towline(&[
        "-s",
        "--json",
        "[]",
        "-H",
        "Content-Type: application/vnd.api+json",
        &server.url("/j"),
    ])
    .await
    .assert_code(0);
    assert_eq!(
        only(&server).header("content-type"),
        Some("application/vnd.api+json")
    );
}

// ---------------------------------------------------------------------------------
// --max-filesize, --fail-with-body

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_filesize_fails_with_63() {
    let body = pattern(10_000);
    let served = body.clone();
    let server = TestServer::start(move |req| match req.path() {
        "/chunked" => Reply::new(200).body(served.clone()).chunked(1000),
        _ => Reply::new(200).body(served.clone()),
    })
    .await;
    // Over the limit by Content-Length: nothing is written.
    let run = towline(&["--max-filesize", "9999", &server.url("/sized")]).await;
    run.assert_code(63);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("(63) Maximum file size exceeded"),
        "{}",
        run.stderr
    );
    // Chunked: the download stops before it passes the limit.
    let run = towline(&["-s", "--max-filesize", "5k", &server.url("/chunked")]).await;
    run.assert_code(63);
    assert!(run.stdout.len() <= 5 * 1024, "{}", run.stdout.len());
    assert!(body.starts_with(&run.stdout));
    // With -i the head is written first, as curl does; no -o file is made without it.
    let run = towline(&["-s", "-i", "--max-filesize", "10", &server.url("/sized")]).await;
    run.assert_code(63);
    assert!(run.stdout_text().starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(run.stdout_text().ends_with("\r\n\r\n"));
    let dir = TempDir::new("max-filesize");
    let out = dir.file("out.bin");
    let run = towline(&[
        "-s",
        "--max-filesize",
        "10",
        "-o",
        &out,
        &server.url("/sized"),
    ])
    .await;
    run.assert_code(63);
    assert!(!std::path::Path::new(&out).exists());
    // At the limit: fine.
    let run = towline(&["-s", "--max-filesize", "10000", &server.url("/chunked")]).await;
    run.assert_code(0);
    assert!(run.stdout == body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_with_body_writes_the_body_and_exits_22() {
    let server = TestServer::start(|_| Reply::text("not here").status(404)).await;
    let url = server.url("/x");
    let run = towline(&["-s", "--fail-with-body", &url]).await;
    run.assert_code(22);
    assert_eq!(run.stdout_text(), "not here");
    // -f writes nothing; both together are a usage error, as in curl.
    let run = towline(&["-s", "-f", &url]).await;
    run.assert_code(22);
    assert!(run.stdout.is_empty());
    towline(&["-f", "--fail-with-body", &url])
        .await
        .assert_code(2);
    // Below 400 it changes nothing.
    let ok = recorder().await;
    let run = towline(&["-s", "--fail-with-body", &ok.url("/")]).await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "ok");
}

// ---------------------------------------------------------------------------------
// --resolve, --connect-to

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_and_connect_to_change_only_where_the_connection_goes() {
    let server = recorder().await;
    let port = server.addr().port();
    // 127.0.0.2 is loopback too, but nothing listens there: the next address is tried.
    let run = towline(&[
        "-s",
        "--resolve",
        &format!("api.example.test:{port}:127.0.0.2,127.0.0.1"),
        "-w",
        "%{remote_ip}",
        &format!("http://api.example.test:{port}/r"),
    ])
    .await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "ok127.0.0.1");
    let run = towline(&[
        "-s",
        "--connect-to",
        &format!("other.test:80:127.0.0.1:{port}"),
        "http://other.test/c",
    ])
    .await;
    run.assert_code(0);
    let hosts: Vec<String> = server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.header("host").unwrap_or(""), r.target))
        .collect();
    assert_eq!(
        hosts,
        [
            format!("api.example.test:{port} /r"),
            "other.test /c".to_owned()
        ]
    );
    // Without the override the name does not resolve; a bad one is a usage error.
    towline(&["--resolve", "nope", "http://a.test/"])
        .await
        .assert_code(2);
    towline(&["--connect-to", "a:1:b", "http://a.test/"])
        .await
        .assert_code(2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_keeps_the_urls_name_for_tls() {
    use towline_test::tls::TestCa;
    let leaf = TestCa::ca_as_leaf(&["secure.example.test"]);
    let server = TestServer::builder()
        .tls(&leaf)
        .handler(|_| Reply::text("secure"))
        .start()
        .await
        .expect("server");
    let dir = TempDir::new("resolve-tls");
    let ca = dir.file("server.pem");
    std::fs::write(&ca, &leaf.cert_pem).expect("write");
    let port = server.addr().port();
    let url = format!("https://secure.example.test:{port}/");
    let run = towline(&[
        "--cacert",
        &ca,
        "--resolve",
        &format!("secure.example.test:{port}:127.0.0.1"),
        &url,
    ])
    .await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "secure");
    // The certificate is checked against the URL's name, not the address.
    let run = towline(&["--cacert", &ca, &format!("https://127.0.0.1:{port}/")]).await;
    run.assert_code(60);
}
