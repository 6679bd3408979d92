//! What a reqwest user reaches for, on loopback: multipart forms (parsed back by
//! `multer`, the multipart parser of axum's ecosystem), `query`, `try_clone`.

use std::time::Duration;

use bytes::Bytes;
use towline::Client;
use towline::body::Body;
use towline::multipart::{Form, Part};
use towline_test::{RecordedRequest, Reply, TestServer};

/// A part as a multipart parser saw it.
#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    name: Option<String>,
    file_name: Option<String>,
    content_type: Option<String>,
    extra: Option<String>,
    data: Vec<u8>,
}

/// Parses a recorded request's body with multer, by its `Content-Type` boundary.
async fn parse(request: &RecordedRequest) -> Vec<Parsed> {
    let content_type = request.header("content-type").expect("content type");
    let boundary = multer::parse_boundary(content_type).expect("a boundary");
    let body = Bytes::from(request.body.clone());
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = multipart.next_field().await.expect("a well-formed part") {
        let name = field.name().map(str::to_owned);
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(ToString::to_string);
        let extra = field
            .headers()
            .get("x-part")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let data = field.bytes().await.expect("part data").to_vec();
        parts.push(Parsed {
            name,
            file_name,
            content_type,
            extra,
            data,
        });
    }
    parts
}

fn temp_file(name: &str, contents: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "towline-parity-{}-{}",
        std::process::id(),
        name.len()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join(name);
    std::fs::write(&path, contents).expect("write");
    path
}

#[tokio::test]
async fn a_multipart_form_is_parsed_back_into_the_parts_sent() {
    let server = TestServer::start(|_| Reply::ok()).await;
    let file_bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let path = temp_file("daten \u{fc}ber.bin", &file_bytes);
    let mut headers = http::HeaderMap::new();
    headers.insert("x-part", http::HeaderValue::from_static("extra"));
    let form = Form::new()
        .text("title", "h\u{e9}llo \"world\"")
        .text("empty", "")
        .file("upload", &path)
        .await
        .expect("file")
        .part(
            "json",
            Part::bytes(&b"{\"a\":1}"[..])
                .file_name("a.json")
                .mime_str("application/json")
                .expect("mime")
                .headers(headers),
        );
    let expected_len = form.content_length().expect("sized");
    let response = Client::new()
        .post(server.url("/upload"))
        .multipart(form)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let request = &server.requests()[0];
    assert!(!request.chunked, "every part sized: Content-Length");
    assert_eq!(
        request.header("content-length"),
        Some(expected_len.to_string().as_str())
    );
    assert!(
        request
            .header("content-type")
            .is_some_and(|v| v.starts_with("multipart/form-data; boundary=towline-"))
    );
    let parts = parse(request).await;
    assert_eq!(
        parts,
        [
            Parsed {
                name: Some("title".into()),
                file_name: None,
                content_type: None,
                extra: None,
                data: "h\u{e9}llo \"world\"".into(),
            },
            Parsed {
                name: Some("empty".into()),
                file_name: None,
                content_type: None,
                extra: None,
                data: Vec::new(),
            },
            Parsed {
                name: Some("upload".into()),
                file_name: Some("daten \u{fc}ber.bin".into()),
                content_type: Some("application/octet-stream".into()),
                extra: None,
                data: file_bytes,
            },
            Parsed {
                name: Some("json".into()),
                file_name: Some("a.json".into()),
                content_type: Some("application/json".into()),
                extra: Some("extra".into()),
                data: b"{\"a\":1}".to_vec(),
            },
        ]
    );
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn a_form_with_a_stream_goes_chunked_and_parses_the_same() {
    let server = TestServer::start(|_| Reply::ok()).await;
    let chunks: Vec<Result<http_body::Frame<Bytes>, std::io::Error>> = vec![
        Ok(http_body::Frame::data(Bytes::from_static(b"first "))),
        Ok(http_body::Frame::data(Bytes::from_static(b"second"))),
    ];
    let stream = http_body_util::StreamBody::new(futures_util::stream::iter(chunks));
    let form = Form::new().text("a", "1").part(
        "s",
        Part::stream(Body::streaming(stream)).file_name("s.txt"),
    );
    assert_eq!(form.content_length(), None);
    Client::new()
        .post(server.url("/"))
        .multipart(form)
        .send()
        .await
        .expect("sent");
    let request = &server.requests()[0];
    assert!(request.chunked);
    let parts = parse(request).await;
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1].data, b"first second");
    assert_eq!(parts[1].file_name.as_deref(), Some("s.txt"));
}

#[tokio::test]
async fn a_multipart_form_of_files_is_replayed_on_a_307() {
    let server = TestServer::start(|req| match req.path() {
        "/old" => Reply::new(307).header("Location", "/new"),
        _ => Reply::ok(),
    })
    .await;
    let path = temp_file("replayed.txt", b"replayed contents");
    let form = Form::new()
        .text("a", "1")
        .file("f", &path)
        .await
        .expect("file");
    // Strict, the default, hands a 307 to a POST back; BrowserLike follows it.
    let client = Client::builder()
        .redirect(towline::client::RedirectPolicy::BrowserLike)
        .build()
        .expect("client");
    let response = client
        .post(server.url("/old"))
        .multipart(form)
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200, "{response:?}");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body, "the same bytes twice");
    let parts = parse(&requests[1]).await;
    assert_eq!(parts[1].data, b"replayed contents");
    let _ = std::fs::remove_file(&path);
}

#[derive(serde::Serialize)]
struct Search<'a> {
    q: &'a str,
    page: u32,
    exact: bool,
    lang: Option<&'a str>,
}

#[tokio::test]
async fn query_appends_form_encoded_pairs_in_order() {
    let server = TestServer::start(|_| Reply::ok()).await;
    let client = Client::new();
    let cases: Vec<(String, towline::client::RequestBuilder)> = vec![
        (
            "/s?q=rust+tower&page=2&exact=true".into(),
            client.get(server.url("/s")).query(&Search {
                q: "rust tower",
                page: 2,
                exact: true,
                lang: None,
            }),
        ),
        (
            "/s?x=1&z=%C3%BC&a=%26%3D".into(),
            client
                .get(server.url("/s?x=1"))
                .query(&[("z", "\u{fc}"), ("a", "&=")]),
        ),
        (
            "/s?k=1&k=2".into(),
            client
                .get(server.url("/s"))
                .query(&[("k", 1)])
                .query(&[("k", 2)]),
        ),
        (
            "/s".into(),
            client
                .get(server.url("/s"))
                .query(&Vec::<(&str, &str)>::new()),
        ),
    ];
    for (i, (expected, builder)) in cases.into_iter().enumerate() {
        builder.send().await.expect("sent");
        assert_eq!(server.requests()[i].target, expected);
    }
    let err = client
        .get(server.url("/"))
        .query(&[("nested", vec![1, 2])])
        .send()
        .await
        .expect_err("nested values are refused");
    assert!(err.is_invalid_request(), "{err}");
    assert_eq!(
        server.request_count(),
        4,
        "nothing sent for the refused one"
    );
}

#[tokio::test]
async fn try_clone_copies_a_replayable_request_and_refuses_a_stream() {
    let server = TestServer::start(|req| Reply::text(req.body.clone())).await;
    let client = Client::new();
    let builder = client
        .post(server.url("/echo"))
        .header("x-a", "1")
        .timeout(Duration::from_secs(5))
        .body("payload");
    let copy = builder.try_clone().expect("bytes can be sent twice");
    for b in [builder, copy] {
        assert_eq!(
            b.send().await.expect("sent").text().await.expect("body"),
            "payload"
        );
    }
    let requests = server.requests();
    assert_eq!(requests[1].header("x-a"), Some("1"));
    let stream = http_body_util::StreamBody::new(futures_util::stream::empty::<
        Result<http_body::Frame<Bytes>, std::io::Error>,
    >());
    let streaming = client
        .post(server.url("/echo"))
        .body(Body::streaming(stream));
    assert!(streaming.try_clone().is_none());
    let invalid = client.get("http://exa mple/");
    assert!(invalid.try_clone().is_none());
}

#[tokio::test]
async fn response_length_address_and_cookies() {
    let server = TestServer::start(|req| match req.path() {
        "/sized" => Reply::text("12345"),
        "/chunked" => Reply::text("12345").chunked(2),
        "/cookies" => Reply::ok()
            .header("Set-Cookie", "a=1; Path=/")
            .header("Set-Cookie", "b=2; Max-Age=60")
            .header("Set-Cookie", "evil=1; Domain=other.test")
            .header("Set-Cookie", "s=1; Secure"),
        _ => Reply::new(204),
    })
    .await;
    let client = Client::new();
    let sized = client.get(server.url("/sized")).send().await.expect("sent");
    assert_eq!(sized.content_length(), Some(5));
    assert_eq!(sized.remote_addr(), Some(server.addr()));
    let chunked = client
        .get(server.url("/chunked"))
        .send()
        .await
        .expect("sent");
    assert_eq!(chunked.content_length(), None);
    let head = client
        .head(server.url("/sized"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        head.content_length(),
        Some(0),
        "a HEAD response has no body"
    );
    let empty = client.get(server.url("/none")).send().await.expect("sent");
    assert_eq!(empty.content_length(), Some(0));

    let response = client
        .get(server.url("/cookies"))
        .send()
        .await
        .expect("sent");
    let cookies: Vec<(String, String, String, bool)> = response
        .cookies()
        .iter()
        .map(|c| {
            (
                c.name().to_owned(),
                c.value().to_owned(),
                c.domain().to_owned(),
                c.persistent(),
            )
        })
        .collect();
    assert_eq!(
        cookies,
        [
            ("a".into(), "1".into(), "127.0.0.1".into(), false),
            ("b".into(), "2".into(), "127.0.0.1".into(), true),
        ],
        "another site's cookie and a Secure one over http are left out"
    );
}

#[tokio::test]
async fn patch_sends_its_method_and_body() {
    let server = TestServer::start(|req| {
        Reply::text(format!(
            "{} {}",
            req.method,
            String::from_utf8_lossy(&req.body)
        ))
    })
    .await;
    let response = Client::new()
        .patch(server.url("/item"))
        .body("{\"a\":1}")
        .send()
        .await
        .expect("patch");
    assert_eq!(response.text().await.expect("body"), "PATCH {\"a\":1}");
}

/// A server that answers `Upgrade: echo` with `101 Switching Protocols` and then
/// echoes every byte back on the same connection, as a WebSocket server would after
/// its handshake. Counts the connections it accepts.
async fn upgrade_echo_server() -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
                if !head.contains("upgrade: echo") {
                    let _ = socket
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nno")
                        .await;
                    return;
                }
                let _ = socket
                    .write_all(b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n")
                    .await;
                let mut buf = [0u8; 1024];
                while let Ok(n) = socket.read(&mut buf).await {
                    if n == 0 || socket.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn upgrade_hands_over_the_connection_and_never_pools_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (addr, accepted) = upgrade_echo_server().await;
    let client = Client::new();
    let url = format!("http://{addr}/chat");
    let response = client
        .get(&url)
        .header("connection", "upgrade")
        .header("upgrade", "echo")
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 101);
    let mut io: towline::client::Upgraded = response.upgrade().await.expect("upgraded");
    for message in [&b"ping"[..], b"second message"] {
        io.write_all(message).await.expect("write");
        let mut back = vec![0u8; message.len()];
        io.read_exact(&mut back).await.expect("read");
        assert_eq!(back, message);
    }
    // The upgraded connection is the caller's: the next request opens its own.
    let plain = client.get(&url).send().await.expect("response");
    assert_eq!(plain.text().await.expect("body"), "no");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
    drop(io);
    // A response that is not 101 has nothing to upgrade: a typed error.
    let plain = client.get(&url).send().await.expect("response");
    let err = plain.upgrade().await.expect_err("not 101");
    assert!(
        err.report().to_string().contains("not 101"),
        "{}",
        err.report()
    );
}

#[tokio::test]
async fn redirects_carry_a_referer_by_the_browsers_default_policy() {
    let other = TestServer::start(|_| Reply::text("other")).await;
    let target = other.url("/landing");
    let server = TestServer::start(move |req| match req.target.as_str() {
        "/start?token=secret" => Reply::new(302).header("location", "/same?x=1"),
        "/same?x=1" => Reply::new(302).header("location", &target),
        _ => Reply::text("end"),
    })
    .await;
    let client = Client::new();
    let response = client
        .get(server.url("/start?token=secret"))
        .send()
        .await
        .expect("response");
    assert_eq!(response.text().await.expect("body"), "other");
    let hops = server.requests();
    assert_eq!(hops[0].header("referer"), None);
    // Same origin: the whole URL of the hop it came from.
    assert_eq!(
        hops[1].header("referer"),
        Some(server.url("/start?token=secret").as_str())
    );
    // Another origin: the origin alone, never the query.
    let last = other.requests();
    assert_eq!(last[0].header("referer"), Some(server.url("/").as_str()));

    // Off: nothing.
    let client = Client::builder().referer(false).build().expect("client");
    client
        .get(server.url("/start?token=secret"))
        .send()
        .await
        .expect("response");
    assert!(
        server.requests()[3..]
            .iter()
            .all(|r| r.header("referer").is_none())
    );
}

#[tokio::test]
async fn https_only_refuses_http_urls_and_http_redirect_targets() {
    let server = TestServer::start(|_| Reply::text("should not be reached")).await;
    let client = Client::builder().https_only(true).build().expect("client");
    let err = client
        .get(server.url("/"))
        .send()
        .await
        .expect_err("an http URL");
    assert!(err.is_invalid_request(), "{}", err.report());
    assert_eq!(server.request_count(), 0);

    // An https origin that redirects to http: the redirect is refused.
    let ca = towline_test::tls::TestCa::new();
    let http_target = server.url("/plain");
    let tls_server = TestServer::builder()
        .handler(move |_| Reply::new(302).header("location", &http_target))
        .tls(&ca.leaf(&["127.0.0.1"]))
        .start()
        .await
        .expect("server");
    let tls = towline::tls::TlsConfig::builder()
        .replace_roots_pem(ca.cert_pem().as_bytes())
        .build()
        .expect("tls");
    let client = Client::builder()
        .https_only(true)
        .tls(tls)
        .build()
        .expect("client");
    let err = client
        .get(tls_server.url("/"))
        .send()
        .await
        .expect_err("an http redirect target");
    assert!(err.is_redirect(), "{}", err.report());
    assert!(
        err.report().to_string().contains("https_only"),
        "{}",
        err.report()
    );
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn version_sets_the_request_line() {
    let server = TestServer::start(|_| Reply::text("hi")).await;
    let client = Client::new();
    for (version, line) in [(http::Version::HTTP_10, 10), (http::Version::HTTP_11, 11)] {
        let response = client
            .get(server.url("/"))
            .version(version)
            .send()
            .await
            .expect("response");
        assert_eq!(response.text().await.expect("body"), "hi");
        let last = server.requests().pop().expect("recorded");
        assert_eq!(last.version, line);
    }
    // Over HTTP/2 the connection decides.
    let h2 = TestServer::builder()
        .handler(|_| Reply::text("h2"))
        .h2c()
        .start()
        .await
        .expect("server");
    let client = Client::builder()
        .http2_prior_knowledge(true)
        .build()
        .expect("client");
    let response = client
        .get(h2.url("/"))
        .version(http::Version::HTTP_10)
        .send()
        .await
        .expect("response");
    assert_eq!(response.version(), http::Version::HTTP_2);
}

#[tokio::test]
async fn credentials_in_the_url_become_basic_auth_and_leave_the_url() {
    let other = TestServer::start(|_| Reply::text("other")).await;
    let elsewhere = other.url("/");
    let server = TestServer::start(move |req| match req.path() {
        "/away" => Reply::new(302).header("location", &elsewhere),
        _ => Reply::text(req.header("authorization").unwrap_or("none").to_owned()),
    })
    .await;
    let client = Client::new();
    let with_userinfo = |path: &str| {
        server
            .url(path)
            .replacen("http://", "http://us%40er:p%3Ass@", 1)
    };
    let response = client
        .get(with_userinfo("/"))
        .send()
        .await
        .expect("response");
    let effective = response.effective_uri().to_string();
    assert!(
        !effective.contains("us%40er") && !effective.contains('@'),
        "{effective}"
    );
    // base64("us@er:p:ss")
    assert_eq!(
        response.text().await.expect("body"),
        "Basic dXNAZXI6cDpzcw=="
    );
    assert_eq!(
        server.requests()[0].header("host"),
        Some(server.addr().to_string().as_str())
    );
    // A user name alone is `user:`.
    let response = client
        .get(server.url("/").replacen("http://", "http://alone@", 1))
        .send()
        .await
        .expect("response");
    assert_eq!(response.text().await.expect("body"), "Basic YWxvbmU6");
    // A redirect to another origin leaves the credentials behind.
    client
        .get(with_userinfo("/away"))
        .send()
        .await
        .expect("response");
    assert_eq!(other.requests()[0].header("authorization"), None);
}

#[tokio::test]
async fn error_for_status_makes_4xx_and_5xx_typed_errors() {
    let server = TestServer::start(|req| match req.path() {
        "/missing" => Reply::new(404),
        "/down" => Reply::new(503),
        _ => Reply::text("fine"),
    })
    .await;
    let client = Client::new();
    let ok = client.get(server.url("/")).send().await.expect("response");
    assert!(ok.error_for_status_ref().is_ok());
    let ok = ok.error_for_status().expect("200 is no error");
    assert_eq!(ok.text().await.expect("body"), "fine");

    for (path, status, side) in [
        (
            "/missing?access_token=SECRET",
            404,
            "client error (404 Not Found)",
        ),
        ("/down", 503, "server error (503 Service Unavailable)"),
    ] {
        let response = client.get(server.url(path)).send().await.expect("response");
        let by_ref = response
            .error_for_status_ref()
            .expect_err("an error status");
        assert_eq!(by_ref.status().map(|s| s.as_u16()), Some(status));
        let err = response.error_for_status().expect_err("an error status");
        assert!(err.is_status(), "{}", err.report());
        assert!(!err.is_request() && !err.is_connect());
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        assert_eq!(
            err.uri().map(|u| u.path()),
            Some(path.split('?').next().unwrap_or(""))
        );
        let report = err.report().to_string();
        assert!(report.contains(side), "{report}");
        assert!(
            !report.contains("SECRET") && !format!("{err:?}").contains("SECRET"),
            "{report}"
        );
    }
}
