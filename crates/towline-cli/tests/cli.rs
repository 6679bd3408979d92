//! The `towline` binary end to end against the towline-test server on 127.0.0.1:
//! bodies, headers, redirects, cookie files, gzip, uploads, connection reuse, `-v`
//! and `--unix-socket`.

mod support;

use std::time::Duration;

use bytes::Bytes;
use support::{TempDir, gzip, pattern, towline, towline_in, towline_with_stdin, unix_relay};
use towline_test::{Fault, Reply, TestServer};

// ---------------------------------------------------------------------------------
// Bodies

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_to_stdout_and_to_a_file_is_byte_identical() {
    let body = pattern(300 * 1024);
    let served = body.clone();
    let server = TestServer::start(move |req| match req.path() {
        "/chunked" => Reply::new(200).body(served.clone()).chunked(7000),
        _ => Reply::new(200).body(served.clone()),
    })
    .await;
    let dir = TempDir::new("bodies");

    let run = towline(&[&server.url("/plain")]).await;
    run.assert_code(0);
    assert!(run.stdout == body, "stdout differs from the body");
    assert_eq!(run.stderr, "", "nothing on stderr without -v");

    let file = dir.file("out.bin");
    let run = towline(&["-o", &file, &server.url("/chunked")]).await;
    run.assert_code(0);
    assert!(run.stdout.is_empty());
    // stderr is not a terminal here: no progress bar.
    assert_eq!(run.stderr, "");
    assert!(std::fs::read(&file).expect("output file") == body);

    // -O names the file after the URL, in the current directory.
    let run = towline_in(dir.path(), &["-O", &server.url("/files/remote.bin")]).await;
    run.assert_code(0);
    assert!(std::fs::read(dir.path().join("remote.bin")).expect("-O file") == body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_go_to_their_urls_in_order() {
    let server = TestServer::start(|req| Reply::text(format!("body of {}", req.path()))).await;
    let dir = TempDir::new("outputs");
    let (a, b) = (dir.file("a.txt"), dir.file("b.txt"));
    let run = towline(&[
        &server.url("/one"),
        "-o",
        &a,
        &server.url("/two"),
        "-o",
        &b,
        &server.url("/three"),
    ])
    .await;
    run.assert_code(0);
    assert_eq!(std::fs::read_to_string(&a).expect("a"), "body of /one");
    assert_eq!(std::fs::read_to_string(&b).expect("b"), "body of /two");
    assert_eq!(run.stdout_text(), "body of /three");
}

// ---------------------------------------------------------------------------------
// Headers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_are_sent_and_printed() {
    let server = TestServer::start(|_| Reply::text("hello").header("X-Reply", "yes")).await;
    let url = server.url("/h");

    let run = towline(&[
        "-H",
        "X-Test: one",
        "-H",
        "X-Test: two",
        "-H",
        "Accept: text/plain",
        "-H",
        "X-Empty;",
        "-A",
        "agent/1.0",
        "-u",
        "user:secret",
        "-i",
        &url,
    ])
    .await;
    run.assert_code(0);
    let req = &server.requests()[0];
    assert_eq!(req.method, "GET");
    assert_eq!(req.header_all("x-test"), vec![&b"one"[..], &b"two"[..]]);
    assert_eq!(req.header("accept"), Some("text/plain"));
    assert_eq!(req.header("x-empty"), Some(""));
    assert_eq!(req.header("user-agent"), Some("agent/1.0"));
    assert_eq!(req.header("authorization"), Some("Basic dXNlcjpzZWNyZXQ="));
    assert_eq!(req.header("accept-encoding"), None, "no --compressed");
    let out = run.stdout_text();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("\r\nx-reply: yes\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\nhello"), "{out}");

    // Defaults: towline's User-Agent and curl's Accept; `Name:` removes them.
    towline(&[&url]).await.assert_code(0);
    let req = &server.requests()[1];
    assert!(
        req.header("user-agent")
            .is_some_and(|ua| ua.starts_with("towline/"))
    );
    assert_eq!(req.header("accept"), Some("*/*"));
    towline(&["-H", "User-Agent:", "-H", "Accept:", &url])
        .await
        .assert_code(0);
    let req = &server.requests()[2];
    assert_eq!(req.header("user-agent"), None);
    assert_eq!(req.header("accept"), None);

    // -I: HEAD, the head only.
    let run = towline(&["-I", &url]).await;
    run.assert_code(0);
    assert_eq!(server.requests()[3].method, "HEAD");
    let out = run.stdout_text();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("\r\ncontent-length: 5\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\n"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_own_reason_phrase_is_printed() {
    let server = TestServer::start(|_| {
        Reply::ok().fault(Fault::Raw(Bytes::from_static(
            b"HTTP/1.1 200 Fine Thanks\r\ncontent-length: 2\r\n\r\nok",
        )))
    })
    .await;
    let run = towline(&["-i", "-v", &server.url("/")]).await;
    run.assert_code(0);
    let out = run.stdout_text();
    assert!(out.starts_with("HTTP/1.1 200 Fine Thanks\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\nok"), "{out}");
    let err = &run.stderr;
    assert!(err.contains("< HTTP/1.1 200 Fine Thanks"), "{err}");
}

// ---------------------------------------------------------------------------------
// Redirects

async fn redirect_server() -> TestServer {
    TestServer::start(|req| match req.path() {
        "/a" => Reply::new(302).header("Location", "/b"),
        "/b" => Reply::new(301).header("Location", "/c"),
        "/post" => Reply::new(302).header("Location", "/c"),
        "/c" => Reply::text(format!(
            "end via {} with {} body bytes",
            req.method,
            req.body.len()
        )),
        "/loop" => Reply::new(302).header("Location", "/loop2"),
        "/loop2" => Reply::new(302).header("Location", "/loop"),
        _ => Reply::new(404),
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_only_with_location() {
    let server = redirect_server().await;

    // curl's default: the 302 itself.
    let run = towline(&["-i", &server.url("/a")]).await;
    run.assert_code(0);
    assert!(run.stdout_text().starts_with("HTTP/1.1 302 Found\r\n"));
    assert_eq!(server.request_count(), 1);

    let run = towline(&["-L", &server.url("/a")]).await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "end via GET with 0 body bytes");
    assert_eq!(server.request_count(), 4);

    // -i -L writes every head, as curl does.
    let run = towline(&["-L", "-i", &server.url("/a")]).await;
    let out = run.stdout_text();
    let statuses: Vec<&str> = out.lines().filter(|l| l.starts_with("HTTP/")).collect();
    assert_eq!(
        statuses,
        [
            "HTTP/1.1 302 Found",
            "HTTP/1.1 301 Moved Permanently",
            "HTTP/1.1 200 OK"
        ]
    );

    // One more than --max-redirs: curl's 47.
    let run = towline(&["-L", "--max-redirs", "1", &server.url("/a")]).await;
    run.assert_code(47);
    assert!(run.stderr.starts_with("towline: (47) "), "{}", run.stderr);
    towline(&["-L", "--max-redirs", "2", &server.url("/a")])
        .await
        .assert_code(0);
    towline(&["-L", &server.url("/loop")]).await.assert_code(47);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_whose_body_never_ends_is_followed_at_once() {
    // Each 3xx is written, then its socket held open with nothing more sent.
    for raw in [
        &b"HTTP/1.1 301 Moved Permanently\r\nLocation: /next\r\nConnection: close\r\n\r\nbody"[..],
        b"HTTP/1.0 302 Found\r\nLocation: /next\r\n\r\nbody",
        b"HTTP/1.1 302 Found\r\nLocation: /next\r\n\r\nclose-delimited body",
    ] {
        let server = TestServer::start(move |req| match req.path() {
            "/start" => Reply::new(302).fault(Fault::Raw(Bytes::from_static(raw))),
            _ => Reply::text("done"),
        })
        .await;
        let run = towline(&["-L", &server.url("/start")]).await;
        let head = String::from_utf8_lossy(&raw[..20]);
        run.assert_code(0);
        assert_eq!(run.stdout_text(), "done", "{head}");
        assert!(
            run.elapsed < Duration::from_secs(1),
            "{head}: took {:?}",
            run.elapsed
        );
        assert_eq!(server.connections_accepted(), 2, "{head}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_redirects_turn_post_into_get() {
    let server = redirect_server().await;

    // Strict -L: a POST gets its 302 back.
    let run = towline(&["-L", "-d", "x=1", "-i", &server.url("/post")]).await;
    run.assert_code(0);
    assert!(run.stdout_text().starts_with("HTTP/1.1 302 Found\r\n"));
    assert_eq!(server.request_count(), 1);

    let run = towline(&["--browser-redirects", "-d", "x=1", &server.url("/post")]).await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "end via GET with 0 body bytes");
    let requests = server.requests();
    assert_eq!(requests[1].method, "POST");
    assert_eq!(requests[1].body, b"x=1");
    assert_eq!(requests[2].method, "GET");
    assert_eq!(requests[2].header("content-type"), None);
}

// ---------------------------------------------------------------------------------
// Cookies

fn cookie_handler(req: &towline_test::RecordedRequest) -> Reply {
    match req.path() {
        "/set" => Reply::text("set")
            .header("Set-Cookie", "sid=abc123; Path=/")
            .header("Set-Cookie", "theme=dark; Max-Age=3600; Path=/")
            .header("Set-Cookie", "secret=s; Path=/; HttpOnly"),
        _ => Reply::text(req.header("cookie").unwrap_or("none").to_owned()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_files_are_written_and_read() {
    let server = TestServer::start(cookie_handler).await;
    let dir = TempDir::new("cookies");
    let jar = dir.file("jar.txt");

    towline(&["-s", "-c", &jar, &server.url("/set")])
        .await
        .assert_code(0);
    let text = std::fs::read_to_string(&jar).expect("-c wrote the jar");
    assert!(text.starts_with("# Netscape HTTP Cookie File"), "{text}");
    assert!(
        text.contains("127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\tabc123\n"),
        "{text}"
    );
    assert!(text.contains("\ttheme\tdark\n"), "{text}");
    assert!(
        text.contains("#HttpOnly_127.0.0.1\tFALSE\t/\tFALSE\t0\tsecret\ts\n"),
        "{text}"
    );

    let run = towline(&["-b", &jar, &server.url("/echo")]).await;
    run.assert_code(0);
    let mut got: Vec<String> = run.stdout_text().split("; ").map(str::to_owned).collect();
    got.sort();
    assert_eq!(got, ["secret=s", "sid=abc123", "theme=dark"]);

    // Without -b or -c the engine is off: cookies are neither kept nor sent.
    let run = towline(&[&server.url("/set"), &server.url("/echo")]).await;
    assert_eq!(run.stdout_text(), "setnone");
    // With -b FILE (even a missing one) it is on, for every URL of the run.
    let missing = dir.file("missing.txt");
    let run = towline(&["-b", &missing, &server.url("/set"), &server.url("/echo")]).await;
    run.assert_code(0);
    assert!(
        run.stdout_text().starts_with("setsid=abc123"),
        "{}",
        run.stdout_text()
    );

    // `-b name=value` is a literal Cookie header.
    let run = towline(&["-b", "a=1; b=2", &server.url("/echo")]).await;
    assert_eq!(run.stdout_text(), "a=1; b=2");
}

// ---------------------------------------------------------------------------------
// gzip

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_decodes_gzip_and_without_it_bytes_are_raw() {
    let plain = b"gzip me, gzip me, gzip me again and again and again".repeat(500);
    let coded = gzip(&plain);
    let served = coded.clone();
    let server =
        TestServer::start(move |_| Reply::text(served.clone()).header("Content-Encoding", "gzip"))
            .await;

    let run = towline(&["--compressed", &server.url("/z")]).await;
    run.assert_code(0);
    assert!(run.stdout == plain, "decoded body differs");
    let accept = server.requests()[0]
        .header("accept-encoding")
        .map(str::to_owned);
    assert!(
        accept.as_deref().is_some_and(|a| a.contains("gzip")),
        "{accept:?}"
    );

    let run = towline(&[&server.url("/z")]).await;
    run.assert_code(0);
    assert!(
        run.stdout == coded,
        "without --compressed the coded bytes come out"
    );
    assert_eq!(server.requests()[1].header("accept-encoding"), None);
}

// ---------------------------------------------------------------------------------
// Uploads

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_binary_file_is_uploaded_byte_identical() {
    let server =
        TestServer::start(|req| Reply::text(format!("{} {}", req.method, req.body.len()))).await;
    let dir = TempDir::new("upload");
    let file = dir.file("upload.bin");
    let data = pattern(3 * 1024 * 1024 + 17);
    std::fs::write(&file, &data).expect("write the upload");

    let run = towline(&["--data-binary", &format!("@{file}"), &server.url("/up")]).await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), format!("POST {}", data.len()));
    let req = &server.requests()[0];
    assert!(req.body == data, "the server got other bytes");
    assert!(!req.chunked);
    assert_eq!(req.header("content-length"), Some(&*data.len().to_string()));
    assert_eq!(
        req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );

    // -X PUT keeps the streamed body.
    towline(&[
        "-X",
        "PUT",
        "--data-binary",
        &format!("@{file}"),
        &server.url("/up"),
    ])
    .await
    .assert_code(0);
    let req = &server.requests()[1];
    assert_eq!(req.method, "PUT");
    assert!(req.body == data);

    // -d @file strips CR and LF, as curl's -d does; several -d are joined with &.
    let text = dir.file("form.txt");
    std::fs::write(&text, "a=1\r\nb=2\n").expect("write");
    towline(&["-d", &format!("@{text}"), "-d", "c=3", &server.url("/form")])
        .await
        .assert_code(0);
    assert_eq!(server.requests()[2].body, b"a=1b=2&c=3");

    // -d @- reads stdin.
    towline_with_stdin(&["-d", "@-", &server.url("/stdin")], b"from\nstdin")
        .await
        .assert_code(0);
    assert_eq!(server.requests()[3].body, b"fromstdin");
}

// ---------------------------------------------------------------------------------
// Several URLs, -v

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_urls_reuse_one_connection() {
    let server = TestServer::start(|req| Reply::text(format!("[{}]", req.path()))).await;
    let run = towline(&[
        "-v",
        &server.url("/1"),
        &server.url("/2"),
        &server.url("/3"),
    ])
    .await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "[/1][/2][/3]");
    assert_eq!(server.connections_accepted(), 1, "{}", run.stderr);
    let port = server.addr().port();
    assert_eq!(
        run.stderr
            .matches(&format!("* Connected to 127.0.0.1 (127.0.0.1) port {port}"))
            .count(),
        1,
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr
            .matches("* Re-using existing connection with host 127.0.0.1")
            .count(),
        2,
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_shows_connection_hops_and_heads() {
    let server = redirect_server().await;
    let run = towline(&["-v", "-L", "-H", "X-Mine: 1", &server.url("/a")]).await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "end via GET with 0 body bytes");
    let err = &run.stderr;
    let port = server.addr().port();
    for expected in [
        format!("*   Trying 127.0.0.1:{port}..."),
        format!("* Connected to 127.0.0.1 (127.0.0.1) port {port}"),
        "> GET /a HTTP/1.1".to_owned(),
        format!("> host: 127.0.0.1:{port}"),
        "> x-mine: 1".to_owned(),
        "< HTTP/1.1 302 Found".to_owned(),
        "< location: /b".to_owned(),
        format!("* Issue another request to this URL: 'http://127.0.0.1:{port}/b'"),
        format!("* Issue another request to this URL: 'http://127.0.0.1:{port}/c'"),
        "> GET /b HTTP/1.1".to_owned(),
        "< HTTP/1.1 301 Moved Permanently".to_owned(),
        "> GET /c HTTP/1.1".to_owned(),
        "< HTTP/1.1 200 OK".to_owned(),
    ] {
        assert!(
            err.lines().any(|l| l == expected),
            "missing {expected:?} in:\n{err}"
        );
    }
    // Every line is a note, a sent or a received line.
    assert!(
        err.lines()
            .all(|l| l.starts_with('*') || l.starts_with('>') || l.starts_with('<')),
        "{err}"
    );
    // Three hops on one connection: the first opens it, each later one says it
    // reuses it, in order, before its request.
    let notes: Vec<&str> = err
        .lines()
        .filter(|l| {
            l.starts_with("* Connected") || l.starts_with("* Re-using") || l.starts_with("> GET")
        })
        .collect();
    assert_eq!(
        notes,
        [
            format!("* Connected to 127.0.0.1 (127.0.0.1) port {port}").as_str(),
            "> GET /a HTTP/1.1",
            "* Re-using existing connection with host 127.0.0.1",
            "> GET /b HTTP/1.1",
            "* Re-using existing connection with host 127.0.0.1",
            "> GET /c HTTP/1.1",
        ],
        "{err}"
    );
    assert_eq!(server.connections_accepted(), 1);
    // Every hop's request head is the one sent, with the connector's Host.
    for sent in [
        format!("> host: 127.0.0.1:{port}"),
        "> x-mine: 1".to_owned(),
    ] {
        assert_eq!(
            err.lines().filter(|l| *l == sent).count(),
            3,
            "{sent}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_shows_the_cookie_the_layer_added_with_its_value_hidden() {
    let server = TestServer::start(|req| match req.path() {
        "/login" => Reply::new(302)
            .header("location", "/home")
            .header("set-cookie", "sid=s3cr3t-value; Path=/"),
        _ => Reply::text("home"),
    })
    .await;
    let dir = TempDir::new("verbose-cookie");
    let jar = dir.file("jar.txt");
    let run = towline(&["-v", "-L", "-c", &jar, &server.url("/login")]).await;
    run.assert_code(0);
    let err = &run.stderr;
    let home = err.find("> GET /home HTTP/1.1").expect("second hop");
    assert!(
        err[home..].lines().any(|l| l == "> cookie: sid=<hidden>"),
        "{err}"
    );
    assert!(
        err.lines()
            .any(|l| l == "< set-cookie: sid=<hidden>; Path=/"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t"), "{err}");
    assert_eq!(
        server.requests()[1].header("cookie"),
        Some("sid=s3cr3t-value")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_on_too_many_redirects_shows_every_hop_then_the_error() {
    let server = TestServer::start(|req| {
        let n: u32 = req.path().trim_start_matches('/').parse().unwrap_or(0);
        Reply::new(302).header("location", format!("/{}", n + 1))
    })
    .await;
    let port = server.addr().port();
    let run = towline(&["-v", "-L", "--max-redirs", "2", &server.url("/0")]).await;
    run.assert_code(47);
    let err = &run.stderr;
    let requests: Vec<&str> = err.lines().filter(|l| l.starts_with("> GET")).collect();
    assert_eq!(
        requests,
        [
            "> GET /0 HTTP/1.1",
            "> GET /1 HTTP/1.1",
            "> GET /2 HTTP/1.1"
        ],
        "{err}"
    );
    assert_eq!(err.matches("< HTTP/1.1 302 Found").count(), 3, "{err}");
    for next in [1, 2] {
        let line = format!("* Issue another request to this URL: 'http://127.0.0.1:{port}/{next}'");
        assert!(err.lines().any(|l| l == line), "{line}: {err}");
    }
    let lines: Vec<&str> = err.lines().collect();
    let n = lines.len();
    assert!(n >= 3, "{err}");
    assert_eq!(lines[n - 3], "* Maximum (2) redirects followed", "{err}");
    assert!(lines[n - 2].starts_with("* "), "{err}");
    assert!(lines[n - 1].starts_with("towline: (47) "), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_on_a_failed_tls_handshake_tells_the_connection_then_the_error() {
    let ca = towline_test::tls::TestCa::new();
    let server = TestServer::builder()
        .tls(&ca.leaf(&["localhost"]))
        .handler(|_| Reply::text("never"))
        .start()
        .await
        .expect("server");
    let port = server.addr().port();
    let run = towline(&["-v", &server.url_for_host("localhost", "/")]).await;
    run.assert_code(60);
    let err = &run.stderr;
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("*   Trying localhost:{port}...").as_str()),
        "{err}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("* Connected to localhost (")
                && l.ends_with(&format!("port {port}"))),
        "{err}"
    );
    // The request was never sent: no request head.
    assert!(!err.lines().any(|l| l.starts_with('>')), "{err}");
    let error_note = lines
        .iter()
        .position(|l| l.starts_with("* ") && l.contains("TLS handshake with localhost failed"))
        .unwrap_or_else(|| panic!("no error note in:\n{err}"));
    let connected = lines
        .iter()
        .position(|l| l.starts_with("* Connected"))
        .unwrap_or(usize::MAX);
    assert!(connected < error_note, "{err}");
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("towline: (60) ")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_on_a_timeout_tells_the_connection_the_request_then_the_error() {
    let server = TestServer::start(|_| {
        Reply::text("late").fault(Fault::SlowHeaders(Duration::from_secs(30)))
    })
    .await;
    let port = server.addr().port();
    let run = towline(&[
        "-v",
        "-m",
        "0.5",
        "-H",
        "Cookie: secret=1",
        &server.url("/slow"),
    ])
    .await;
    run.assert_code(28);
    let err = &run.stderr;
    let lines: Vec<&str> = err.lines().collect();
    let expected = [
        format!("*   Trying 127.0.0.1:{port}..."),
        format!("* Connected to 127.0.0.1 (127.0.0.1) port {port}"),
        "> GET /slow HTTP/1.1".to_owned(),
    ];
    assert_eq!(
        lines[..3],
        expected.iter().map(String::as_str).collect::<Vec<_>>()[..],
        "{err}"
    );
    assert!(lines.contains(&"> cookie: secret=<hidden>"), "{err}");
    assert!(!err.contains("secret=1"), "{err}");
    let last_request_line = lines.iter().rposition(|l| l.starts_with('>')).unwrap_or(0);
    let error_note = lines.iter().rposition(|l| l.starts_with("* ")).unwrap_or(0);
    assert!(error_note > last_request_line, "{err}");
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with("towline: (28) ")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_escapes_header_bytes_that_are_not_utf8() {
    let server = TestServer::start(|_| Reply::text("ok").header("x-raw", b"a\xffb\xc3\xa9")).await;
    let run = towline(&["-v", &server.url("/")]).await;
    run.assert_code(0);
    assert!(
        run.stderr.lines().any(|l| l == "< x-raw: a\\xFFb\u{e9}"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_tells_tls_version_and_alpn() {
    let ca = towline_test::tls::TestCa::new();
    let server = TestServer::builder()
        .tls_h2(&ca.leaf(&["localhost", "127.0.0.1"]))
        .handler(|req| Reply::text(format!("version {}", req.version)))
        .start()
        .await
        .expect("server");
    let dir = TempDir::new("tls-verbose");
    let ca_file = dir.file("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).expect("write");

    let run = towline(&["-v", "--cacert", &ca_file, &server.url("/")]).await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "version 20");
    assert!(
        run.stderr
            .contains("* TLS connection using TLSv1.3 / ALPN: h2"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("> GET / HTTP/2"), "{}", run.stderr);
    assert!(run.stderr.contains("< HTTP/2 200"), "{}", run.stderr);

    let run = towline(&["-v", "--http1.1", "--cacert", &ca_file, &server.url("/")]).await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "version 11");
    assert!(run.stderr.contains("ALPN: http/1.1"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_with_prior_knowledge() {
    let server = TestServer::builder()
        .h2c()
        .handler(|req| Reply::text(format!("version {}", req.version)))
        .start()
        .await
        .expect("server");
    let run = towline(&["--http2-prior-knowledge", &server.url("/")]).await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "version 20");
}

// ---------------------------------------------------------------------------------
// --unix-socket

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_carries_the_requests() {
    let server = TestServer::start(|req| {
        Reply::text(format!(
            "{} {} host={}",
            req.method,
            req.target,
            req.header("host").unwrap_or("")
        ))
    })
    .await;
    let dir = TempDir::new("unix");
    let socket = dir.path().join("api.sock");
    let relay = unix_relay(&socket, server.addr());
    let socket_arg = socket.display().to_string();

    let run = towline(&[
        "-v",
        "--unix-socket",
        &socket_arg,
        "http://localhost/v1/info?x=1",
        "http://localhost/v1/other",
    ])
    .await;
    run.assert_code(0);
    assert_eq!(
        run.stdout_text(),
        "GET /v1/info?x=1 host=localhostGET /v1/other host=localhost"
    );
    assert_eq!(
        server.connections_accepted(),
        1,
        "the Unix connection is pooled too"
    );
    assert!(
        run.stderr.contains("Re-using existing connection"),
        "{}",
        run.stderr
    );

    // Nothing listening at the path: could not connect.
    let missing = dir.path().join("none.sock").display().to_string();
    let run = towline(&["--unix-socket", &missing, "http://localhost/"]).await;
    run.assert_code(7);
    relay.abort();
    let _ = tokio::time::timeout(Duration::from_secs(1), relay).await;
}

// ---------------------------------------------------------------------------------
// --retry-stale, -x, --cert

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_pooled_connection_is_retried_unless_told_not_to() {
    // The server drops every second request on a connection without answering, as
    // a server does when it closes a keep-alive connection just as it is reused.
    let server = TestServer::builder()
        .close_reused_without_answer(true)
        .handler(|req| Reply::text(format!("[{}]", req.path())))
        .start()
        .await
        .expect("server");
    let run = towline(&[&server.url("/1"), &server.url("/2")]).await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "[/1][/2]");
    assert_eq!(
        server.connections_accepted(),
        2,
        "retried on a new connection"
    );

    let run = towline(&["--no-retry-stale", &server.url("/1"), &server.url("/2")]).await;
    run.assert_code(52);
    assert_eq!(run.stdout_text(), "[/1]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_option_sends_requests_through_the_proxy() {
    // The test server stands in for an HTTP proxy: it gets the absolute-form
    // request, and refuses CONNECT tunnels.
    let proxy = TestServer::start(|req| match req.method.as_str() {
        "CONNECT" => Reply::new(403),
        _ => Reply::text(format!("proxied {}", req.target)),
    })
    .await;
    let proxy_url = proxy.url("");
    let run = towline(&["-x", &proxy_url, "http://origin.test/path?q=1"]).await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "proxied http://origin.test/path?q=1");

    // A refused tunnel is curl's 97.
    let run = towline(&["-x", &proxy_url, "https://origin.test/"]).await;
    run.assert_code(97);
    assert!(run.stderr.starts_with("towline: (97) "), "{}", run.stderr);
    assert_eq!(proxy.requests()[1].method, "CONNECT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idn_url_goes_out_in_a_labels_and_verbose_shows_them() {
    // Through a stand-in proxy, so no name is resolved here.
    let proxy = TestServer::start(|req| Reply::text(format!("proxied {}", req.target))).await;
    let proxy_url = proxy.url("");
    let run = towline(&[
        "-v",
        "-x",
        &proxy_url,
        "http://B\u{fc}cher.example/a/../\u{e4} b?q=\u{f6}",
    ])
    .await;
    run.assert_code(0);
    assert_eq!(
        run.stdout_text(),
        "proxied http://xn--bcher-kva.example/%C3%A4%20b?q=%C3%B6"
    );
    assert_eq!(
        proxy.requests()[0].header("host"),
        Some("xn--bcher-kva.example")
    );
    assert!(
        run.stderr.contains("> host: xn--bcher-kva.example"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("B\u{fc}cher"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificate_with_cert_and_key() {
    let ca = towline_test::tls::TestCa::new();
    let clients = towline_test::tls::TestCa::new();
    let server_leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let server = TestServer::builder()
        .tls_config(server_leaf.server_config_with_client_auth(&[b"http/1.1"], &clients))
        .handler(|_| Reply::text("hello, client"))
        .start()
        .await
        .expect("server");
    let dir = TempDir::new("mtls");
    let (ca_file, cert_file, key_file) = (dir.file("ca.pem"), dir.file("c.pem"), dir.file("k.pem"));
    let client = clients.client_leaf("towline-cli test");
    std::fs::write(&ca_file, ca.cert_pem()).expect("write");
    std::fs::write(&cert_file, &client.chain_pem).expect("write");
    std::fs::write(&key_file, &client.key_pem).expect("write");

    let run = towline(&[
        "--cacert",
        &ca_file,
        "--cert",
        &cert_file,
        "--key",
        &key_file,
        &server.url("/"),
    ])
    .await;
    run.assert_code(0);
    assert_eq!(run.stdout_text(), "hello, client");

    // Without one the server ends the handshake: a TLS failure, curl's 35.
    let run = towline(&["--cacert", &ca_file, &server.url("/")]).await;
    run.assert_code(35);
}

// ---------------------------------------------------------------------------------
// Error messages

/// A failure prints towline's whole chain of causes on one line, each once, and the
/// URLs it quotes show neither userinfo nor secret query parameters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_print_the_chain_once_and_no_secret() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let run = towline(&[&format!(
        "http://u:SECRET@127.0.0.1:{port}/p?access_token=SECRET&page=2"
    )])
    .await;
    run.assert_code(7);
    no_secret(&run.stderr);
    // The userinfo became `Authorization: Basic` and left the URL, as with curl.
    let want = format!(
        "towline: (7) connection failed for http://127.0.0.1:{port}/p?access_token=***&page=2: \
         could not connect to 127.0.0.1:{port}: "
    );
    assert!(run.stderr.starts_with(&want), "{}", run.stderr);
    // The OS's reason comes once, at the end.
    let reason = run.stderr.trim_end().rsplit(": ").next().unwrap_or("");
    assert!(!reason.is_empty(), "{}", run.stderr);
    assert_eq!(run.stderr.matches(reason).count(), 1, "{}", run.stderr);

    let server =
        TestServer::start(|_| Reply::new(302).header("location", "/again?token=SECRET")).await;
    let url = server.url("/start").replace("http://", "http://TOKEN@");
    let run = towline(&["-L", "--max-redirs", "1", &url]).await;
    run.assert_code(47);
    no_secret(&run.stderr);
    assert!(
        run.stderr
            .starts_with("towline: (47) redirect failed: too many redirects: the limit is 1")
            && run.stderr.contains("http://***@127.0.0.1:"),
        "{}",
        run.stderr
    );

    for (args, code) in [
        (
            vec!["http://u:SECRET@exa mple.test/?access_token=SECRET"],
            3,
        ),
        (
            vec![
                "-x",
                "http://pu:SECRET@proxy.test:99999",
                "http://127.0.0.1:9/",
            ],
            2,
        ),
    ] {
        let run = towline(&args).await;
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.is_empty(), "{args:?}");
        no_secret(&run.stderr);
    }
}

fn no_secret(stderr: &str) {
    for secret in ["SECRET", "TOKEN"] {
        assert!(!stderr.contains(secret), "{secret} in: {stderr}");
    }
}
