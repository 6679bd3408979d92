//! `towline::Client` end to end: each builder switch and request helper against a
//! loopback towline-test server, observed from the server's side where it can be.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use http::{Method, Request, StatusCode};
use tower::ServiceExt;
use towline::Client;
use towline::body::{Body, read_body};
use towline_test::{Fault, Reply, TestServer};

/// Waits (a bounded number of short sleeps) for `done` to hold; returns whether it did.
/// Used for what the client does in the background, such as returning a connection
/// to its pool once its body has been read.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

/// The codings a request offered in `Accept-Encoding`, or `None` without the header.
fn offered(server: &TestServer) -> Vec<Option<String>> {
    server
        .requests()
        .iter()
        .map(|r| r.header("accept-encoding").map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn retry_stale_off_hands_back_the_stale_connection_error() {
    let server = TestServer::builder()
        .handler(|_| Reply::text("fresh"))
        .close_reused_without_answer(true)
        .start()
        .await
        .expect("server");

    for retry in [false, true] {
        let client = Client::builder()
            .retry_stale(retry)
            .build()
            .expect("client");
        let first = client.get(server.url("/")).send().await.expect("first GET");
        assert_eq!(first.bytes().await.expect("body"), "fresh");
        assert!(
            eventually(|| client.pool_stats().idle == 1).await,
            "the first connection went back to the pool: {:?}",
            client.pool_stats()
        );
        // The server reads the next request on that connection and closes it unanswered.
        let second = client.get(server.url("/")).send().await;
        if retry {
            let response = second.expect("retried once on a fresh connection");
            assert!(response.connection_info().is_some_and(|i| !i.reused));
            assert_eq!(response.bytes().await.expect("body"), "fresh");
        } else {
            let err = second.expect_err("no retry");
            assert!(err.is_stale_connection(), "{err}");
        }
    }
    // Per client: one answered GET, one dropped on reuse; plus the retried one.
    let requests = server.requests();
    assert_eq!(requests.iter().filter(|r| !r.answered).count(), 2);
    assert_eq!(requests.iter().filter(|r| r.answered).count(), 3);
    server.assert_no_panics();
}

#[tokio::test]
async fn each_decompression_switch_affects_its_own_coding_only() {
    let coded = gzip(&[b'z'; 5000]);
    let server = TestServer::start({
        let coded = coded.clone();
        move |_| Reply::text(coded.clone()).header("content-encoding", "gzip")
    })
    .await;

    // gzip(false): gzip is not offered, and a gzip body is handed back as sent.
    let no_gzip = Client::builder().gzip(false).build().expect("client");
    let response = no_gzip.get(server.url("/")).send().await.expect("response");
    assert_eq!(
        response
            .headers()
            .get("content-encoding")
            .map(|v| v.as_bytes()),
        Some(&b"gzip"[..])
    );
    assert_eq!(response.bytes().await.expect("body"), coded);

    // Turning gzip and deflate off leaves br and zstd on.
    let neither = Client::builder()
        .gzip(false)
        .deflate(false)
        .build()
        .expect("client");
    let body = neither.get(server.url("/")).send().await.expect("response");
    assert_eq!(body.bytes().await.expect("body"), coded);

    // And the other way round.
    let no_br_zstd = Client::builder()
        .br(false)
        .zstd(false)
        .build()
        .expect("client");
    let body = no_br_zstd
        .get(server.url("/"))
        .send()
        .await
        .expect("response");
    assert_eq!(body.bytes().await.expect("decoded").len(), 5000);

    // The whole layer off: nothing offered, nothing decoded.
    let off = Client::builder()
        .decompression(false)
        .build()
        .expect("client");
    let body = off.get(server.url("/")).send().await.expect("response");
    assert_eq!(body.bytes().await.expect("body"), coded);

    // The default offers everything the build decodes.
    let all = Client::new();
    let body = all.get(server.url("/")).send().await.expect("response");
    assert_eq!(body.bytes().await.expect("decoded").len(), 5000);

    assert_eq!(
        offered(&server),
        [
            Some("deflate, br, zstd".to_owned()),
            Some("br, zstd".to_owned()),
            Some("gzip, deflate".to_owned()),
            None,
            Some("gzip, deflate, br, zstd".to_owned()),
        ]
    );
    server.assert_no_panics();
}

/// `decompression_with` reaches the layer's other settings: one coding allowed, a
/// body coded twice fails to decode; the default (three) decodes it.
#[tokio::test]
async fn decompression_with_adjusts_the_layer() {
    let twice = gzip(&gzip(&[b'q'; 3000]));
    let server = TestServer::start(move |_| {
        Reply::text(twice.clone()).header("content-encoding", "gzip, gzip")
    })
    .await;
    let strict = Client::builder()
        .decompression_with(|layer| layer.max_codings(1))
        .build()
        .expect("client");
    let response = strict.get(server.url("/")).send().await.expect("head");
    let err = response
        .bytes()
        .await
        .expect_err("two codings, one allowed");
    assert!(err.is_decode(), "{err}");
    assert!(err.report().to_string().contains("coding"), "{err}");

    let default = Client::new();
    let response = default.get(server.url("/")).send().await.expect("head");
    assert_eq!(response.bytes().await.expect("decoded"), vec![b'q'; 3000]);

    // Not called when the layer is off.
    let off = Client::builder()
        .decompression(false)
        .decompression_with(|_| panic!("called with decompression off"))
        .build()
        .expect("client");
    let response = off.get(server.url("/")).send().await.expect("head");
    assert!(response.headers().contains_key("content-encoding"));
    server.assert_no_panics();
}

#[tokio::test]
async fn persistent_off_opens_one_connection_per_request() {
    let server = TestServer::start(|_| Reply::text("x")).await;
    let client = Client::builder().persistent(false).build().expect("client");
    for _ in 0..3 {
        let response = client.get(server.url("/")).send().await.expect("response");
        assert!(response.connection_info().is_some_and(|i| !i.reused));
        assert_eq!(response.bytes().await.expect("body"), "x");
    }
    assert_eq!(server.connections_accepted(), 3);
    let connections: Vec<usize> = server.requests().iter().map(|r| r.connection).collect();
    assert_eq!(connections, [0, 1, 2], "each request on its own connection");
    assert_eq!(client.pool_stats().idle, 0);
    server.assert_no_panics();
}

#[tokio::test]
async fn max_idle_per_host_keeps_that_many_and_closes_the_rest() {
    let server = TestServer::start(|_| Reply::text("x")).await;
    let client = Client::builder()
        .max_idle_per_host(1)
        .build()
        .expect("client");
    // Three responses held at once, bodies unread: three connections in use.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(client.get(server.url("/")).send().await.expect("response"));
    }
    assert_eq!(server.connections_accepted(), 3);
    for response in held {
        assert_eq!(response.bytes().await.expect("body"), "x");
    }
    assert!(
        eventually(|| client.pool_stats().in_use == 0).await,
        "{:?}",
        client.pool_stats()
    );
    assert_eq!(client.pool_stats().idle, 1, "{:?}", client.pool_stats());
    assert!(
        eventually(|| server.connections_closed_by_client() == 2).await,
        "the two connections beyond the limit were closed: {}",
        server.connections_closed_by_client()
    );
    // The one kept is reused.
    let response = client.get(server.url("/")).send().await.expect("response");
    assert!(response.connection_info().is_some_and(|i| i.reused));
    assert_eq!(response.bytes().await.expect("body"), "x");
    assert_eq!(server.connections_accepted(), 3);
    server.assert_no_panics();
}

#[tokio::test]
async fn max_connections_per_host_makes_requests_beyond_the_cap_wait() {
    let server = TestServer::start(|req| Reply::text(req.path().to_owned())).await;
    let client = Client::builder()
        .max_connections_per_host(1)
        .build()
        .expect("client");
    // The only connection allowed stays in use while this body is unread.
    let first = client
        .get(server.url("/first"))
        .send()
        .await
        .expect("response");
    let second = tokio::spawn({
        let client = client.clone();
        let url = server.url("/second");
        async move {
            let response = client.get(url).send().await.expect("response");
            let reused = response.connection_info().is_some_and(|i| i.reused);
            (reused, response.text().await.expect("body"))
        }
    });
    // However long it is given, the second request cannot get a connection yet.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!second.is_finished(), "the second request waits");
    assert_eq!(server.connections_accepted(), 1);
    assert_eq!(server.request_count(), 1);

    // Reading the first body frees the connection; the waiter takes it.
    assert_eq!(first.text().await.expect("body"), "/first");
    let (reused, body) = second.await.expect("task");
    assert_eq!(body, "/second");
    assert!(reused, "the waiter got the first request's connection");
    assert_eq!(server.connections_accepted(), 1);
    server.assert_no_panics();
}

#[tokio::test]
async fn json_request_and_response_bodies() {
    let server = TestServer::start(|req| match req.path() {
        "/echo" => Reply::text(req.body.clone()).header(
            "x-seen-content-type",
            req.header("content-type").unwrap_or("none"),
        ),
        "/list" => Reply::text("[1, 2, 3]").header("content-type", "application/json"),
        _ => Reply::text("{not json").header("content-type", "application/json"),
    })
    .await;
    let client = Client::new();
    let sent: BTreeMap<&str, u32> = [("a", 1), ("b", 2)].into_iter().collect();
    let response = client
        .post(server.url("/echo"))
        .json(&sent)
        .send()
        .await
        .expect("response");
    assert_eq!(
        response
            .headers()
            .get("x-seen-content-type")
            .map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    let back: BTreeMap<String, u32> = response.json().await.expect("json");
    assert_eq!(back.get("a"), Some(&1));
    assert_eq!(back.get("b"), Some(&2));
    assert_eq!(back.len(), 2);
    assert_eq!(server.requests()[0].body, br#"{"a":1,"b":2}"#);

    let list: Vec<u32> = client
        .get(server.url("/list"))
        .send()
        .await
        .expect("response")
        .json()
        .await
        .expect("json");
    assert_eq!(list, [1, 2, 3]);

    let err = client
        .get(server.url("/broken"))
        .send()
        .await
        .expect("response")
        .json::<Vec<u32>>()
        .await
        .expect_err("not JSON");
    assert!(err.is_decode(), "{err}");
    server.assert_no_panics();
}

#[tokio::test]
async fn text_decodes_by_the_content_type_charset() {
    let server = TestServer::start(|req| {
        let content_type = match req.path() {
            "/latin1" => "text/plain; charset=iso-8859-1",
            "/utf8" => "text/plain; charset=utf-8",
            _ => "text/plain; charset=shift_jis",
        };
        Reply::ok()
            .header("content-type", content_type)
            .body(&b"caf\xE9"[..])
    })
    .await;
    let client = Client::new();
    let text = |path: &'static str| {
        let client = client.clone();
        let url = server.url(path);
        async move { client.get(url).send().await.expect("response").text().await }
    };
    assert_eq!(text("/latin1").await.expect("text"), "café");
    // 0xE9 alone is not UTF-8: it becomes U+FFFD.
    assert_eq!(text("/utf8").await.expect("text"), "caf\u{FFFD}");
    let err = text("/sjis").await.expect_err("unsupported charset");
    assert!(err.is_decode(), "{err}");
    assert!(err.report().to_string().contains("charset"), "{err}");
    server.assert_no_panics();
}

#[tokio::test]
async fn a_per_request_timeout_shorter_than_the_clients_fires() {
    let server = TestServer::start(|_| {
        Reply::text("late").fault(Fault::SlowHeaders(Duration::from_secs(10)))
    })
    .await;
    let client = Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let err = client
        .get(server.url("/slow"))
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .expect_err("the request's own timeout");
    assert!(err.is_timeout(), "{err}");
    assert!(err.uri().is_some_and(|u| u.path() == "/slow"), "{err}");
}

#[tokio::test]
async fn the_request_timeout_fires_while_body_data_keeps_arriving() {
    // 16 MiB sent as fast as the socket takes it: whenever the reader asks, data is
    // already waiting, so only a deadline checked on every poll can fire.
    let server = TestServer::start(|_| Reply::text(vec![b'x'; 16 << 20])).await;
    let timeout = Duration::from_millis(500);
    let client = Client::builder().timeout(timeout).build().expect("client");
    let mut response = client.get(server.url("/big")).send().await.expect("head");
    let first = response
        .chunk()
        .await
        .expect("data")
        .expect("a first chunk");
    // A slow reader: the deadline passes while the server fills the socket.
    tokio::time::sleep(timeout + Duration::from_millis(100)).await;
    let err = match response.chunk().await {
        Err(err) => err,
        Ok(chunk) => panic!(
            "the deadline has passed, yet a chunk of {:?} bytes came",
            chunk.map(|c| c.len())
        ),
    };
    assert!(err.is_timeout(), "{err}");
    assert!(err.uri().is_some_and(|u| u.path() == "/big"), "{err}");
    assert!(first.len() < 16 << 20);
    // The body stays ended.
    assert!(matches!(response.chunk().await, Ok(None)));
}

#[tokio::test]
async fn delete_and_head_send_their_methods() {
    let server = TestServer::start(|req| Reply::text(req.method.clone())).await;
    let client = Client::new();
    let response = client
        .delete(server.url("/item"))
        .send()
        .await
        .expect("delete");
    assert_eq!(response.bytes().await.expect("body"), "DELETE");
    let response = client.head(server.url("/item")).send().await.expect("head");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("content-length")
            .map(|v| v.as_bytes()),
        Some(&b"4"[..])
    );
    assert!(response.bytes().await.expect("no body").is_empty());
    let methods: Vec<String> = server.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["DELETE", "HEAD"]);
    server.assert_no_panics();
}

#[tokio::test]
async fn the_client_is_a_tower_service() {
    let server = TestServer::start(|req| match req.path() {
        "/old" => Reply::new(301).header("location", "/new"),
        _ => Reply::text(req.header("user-agent").unwrap_or("none").to_owned()),
    })
    .await;
    let client = Client::new();
    let request = Request::builder()
        .method(Method::GET)
        .uri(server.url("/old"))
        .body(Body::empty())
        .expect("request");
    // `oneshot` drives poll_ready and call like any tower middleware would.
    let response = client.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let body = read_body(response.into_body()).await.expect("body");
    // The client's defaults (redirects, User-Agent) apply on this path too.
    assert!(body.starts_with(b"towline/"), "{body:?}");
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(paths, ["/old", "/new"]);
    server.assert_no_panics();
}

/// `max_response_body` caps `bytes()`, `text()` and `json()`, counted after decoding:
/// a decoded body that passes it fails `is_decode()` (a `DecodedTooLarge`), a body
/// sent as it is `is_body()` (a `LengthLimitExceeded`); at the cap exactly, and
/// streamed through `chunk()`, the same bodies read whole.
#[tokio::test]
async fn max_response_body_caps_every_buffered_read_decoded_or_not() {
    use towline::decompress::DecodedTooLarge;
    use towline::error::LengthLimitExceeded;

    const CAP: u64 = 1000;
    let json = format!("[{}0]", "0,".repeat(600));
    let coded = gzip(json.as_bytes());
    assert!((coded.len() as u64) < CAP && json.len() as u64 > CAP);
    let (plain, gzipped) = (json.clone(), coded.clone());
    let server = TestServer::start(move |req| match req.path() {
        "/plain" => Reply::text(plain.clone()),
        "/exact" => Reply::text(vec![b'x'; CAP as usize]),
        _ => Reply::text(gzipped.clone()).header("Content-Encoding", "gzip"),
    })
    .await;
    let client = Client::builder()
        .max_response_body(CAP)
        .build()
        .expect("client");
    fn cause<E: std::error::Error + 'static>(err: &towline::Error) -> Option<&E> {
        std::iter::successors(std::error::Error::source(err), |e| e.source())
            .find_map(|e| e.downcast_ref::<E>())
    }
    for read in ["bytes", "text", "json"] {
        for path in ["/gzip", "/plain"] {
            let response = client.get(server.url(path)).send().await.expect("response");
            let err = match read {
                "bytes" => response.bytes().await.map(drop),
                "text" => response.text().await.map(drop),
                _ => response.json::<Vec<u32>>().await.map(drop),
            }
            .expect_err("over the cap");
            let ctx = format!("{read}() of {path}");
            assert!(err.uri().is_some(), "{ctx}: {err:?}");
            if path == "/gzip" {
                assert!(err.is_decode() && !err.is_body(), "{ctx}: {err:?}");
                let too_large = cause::<DecodedTooLarge>(&err).expect("DecodedTooLarge");
                assert_eq!((too_large.limit(), too_large.coding()), (CAP, "gzip"));
            } else {
                assert!(err.is_body() && !err.is_decode(), "{ctx}: {err:?}");
                assert!(
                    cause::<LengthLimitExceeded>(&err).is_some(),
                    "{ctx}: {err:?}"
                );
            }
        }
    }
    // At the cap exactly: read whole.
    let exact = client
        .get(server.url("/exact"))
        .send()
        .await
        .expect("response");
    assert_eq!(exact.bytes().await.expect("at the cap").len() as u64, CAP);
    // Streamed: no cap.
    let mut response = client
        .get(server.url("/gzip"))
        .send()
        .await
        .expect("response");
    let mut streamed = Vec::new();
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        streamed.extend_from_slice(&chunk);
    }
    assert_eq!(streamed, json.as_bytes());
    // Lifted: read whole.
    let client = Client::builder()
        .max_response_body(None)
        .build()
        .expect("client");
    let response = client
        .get(server.url("/gzip"))
        .send()
        .await
        .expect("response");
    assert_eq!(response.json::<Vec<u32>>().await.expect("json").len(), 601);
    server.assert_no_panics();
}
