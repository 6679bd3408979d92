//! The facade over a loopback server.

use std::time::Duration;

use http::HeaderValue;
use towline_test::{Fault, Reply, TestServer};

use super::*;

fn assert_send_sync_clone<T: Send + Sync + Clone + 'static>() {}

#[test]
fn client_is_send_sync_clone_and_a_service() {
    assert_send_sync_clone::<Client>();
    fn service<S: Service<Request<Body>, Error = Error>>() {}
    service::<Client>();
}

#[tokio::test]
async fn the_default_response_body_is_empty_and_ended() {
    // tower-http's TimeoutLayer (among others) needs `ResBody: Default` to answer on
    // its own.
    let body = ResponseBody::default();
    assert!(http_body::Body::is_end_stream(&body));
    let bytes = crate::body::read_body(body).await.expect("empty body");
    assert!(bytes.is_empty());
}

#[tokio::test]
async fn sends_defaults_and_reads_text() {
    let server = TestServer::start(|req| {
        Reply::text(req.header("user-agent").unwrap_or("none").to_owned())
            .header("content-type", "text/plain; charset=ISO-8859-1")
    })
    .await;
    let client = Client::new();
    let text = client
        .get(server.url("/"))
        .send()
        .await
        .expect("response")
        .text()
        .await
        .expect("text");
    assert_eq!(text, concat!("towline/", env!("CARGO_PKG_VERSION")));
    let custom = client
        .get(server.url("/"))
        .header("user-agent", "mine")
        .send()
        .await
        .expect("response");
    assert_eq!(custom.bytes().await.expect("body"), "mine");
}

#[tokio::test]
async fn repeated_headers_keep_every_value() {
    let server = TestServer::start(|_| Reply::ok()).await;
    let mut defaults = HeaderMap::new();
    defaults.append("x-default", HeaderValue::from_static("d1"));
    defaults.append("x-default", HeaderValue::from_static("d2"));
    let client = Client::builder()
        .default_headers(defaults)
        .build()
        .expect("client");
    let mut headers = HeaderMap::new();
    headers.append("x-many", HeaderValue::from_static("a"));
    headers.append("x-many", HeaderValue::from_static("b"));
    headers.append("x-one", HeaderValue::from_static("c"));
    client
        .get(server.url("/"))
        .header("x-one", "replaced")
        .headers(headers)
        .send()
        .await
        .expect("response");
    let seen = &server.requests()[0];
    let values = |name: &str| -> Vec<Vec<u8>> {
        seen.header_all(name)
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect()
    };
    assert_eq!(values("x-many"), [b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(values("x-one"), [b"c".to_vec()]);
    assert_eq!(values("x-default"), [b"d1".to_vec(), b"d2".to_vec()]);
}

#[tokio::test]
async fn a_body_error_names_the_responses_uri() {
    let server =
        TestServer::start(|_| Reply::text("0123456789").fault(Fault::CloseMidBody { after: 4 }))
            .await;
    let client = Client::new();
    let url = server.url("/short");
    let response = client
        .get(url.as_str())
        .send()
        .await
        .expect("response head");
    let err = response.bytes().await.expect_err("a truncated body");
    assert!(err.is_body(), "{err}");
    assert_eq!(
        err.uri().map(ToString::to_string).as_deref(),
        Some(url.as_str())
    );
    assert!(err.to_string().contains(&url), "{err}");
}

#[tokio::test]
async fn form_auth_and_body() {
    let server = TestServer::start(|req| {
        let auth = req.header("authorization").unwrap_or("").to_owned();
        let ctype = req.header("content-type").unwrap_or("").to_owned();
        Reply::text(format!(
            "{auth}|{ctype}|{}",
            String::from_utf8_lossy(&req.body)
        ))
    })
    .await;
    let client = Client::new();
    let got = client
        .post(server.url("/"))
        .basic_auth("aladdin", Some("opensesame"))
        .form(&[("a", "1 2"), ("b", "&")])
        .send()
        .await
        .expect("response")
        .text()
        .await
        .expect("text");
    assert_eq!(
        got,
        "Basic YWxhZGRpbjpvcGVuc2VzYW1l|application/x-www-form-urlencoded|a=1+2&b=%26"
    );
}

#[tokio::test]
async fn the_request_timeout_and_the_read_timeout_fire() {
    let server = TestServer::start(|req| match req.path() {
        "/slow-head" => Reply::text("late").fault(Fault::SlowHeaders(Duration::from_secs(5))),
        _ => Reply::text(vec![b'x'; 4096]).fault(Fault::SlowBody {
            chunk: 1024,
            delay: Duration::from_secs(5),
        }),
    })
    .await;
    let client = Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let err = client
        .get(server.url("/slow-head"))
        .send()
        .await
        .expect_err("times out");
    assert!(err.is_timeout(), "{err}");
    assert!(err.uri().is_some());

    let client = Client::builder()
        .read_timeout(Duration::from_millis(200))
        .build()
        .expect("client");
    let response = client
        .get(server.url("/slow-body"))
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    // SlowBody delays before the first piece too: the head may or may not be out.
    match response {
        Ok(response) => {
            let err = response.bytes().await.expect_err("read timeout");
            assert!(err.is_timeout(), "{err}");
        }
        Err(err) => panic!("the head came without delay: {err}"),
    }
}

#[tokio::test]
async fn redirects_are_followed_and_decode_happens() {
    let server = TestServer::start(|req| match req.path() {
        "/a" => Reply::new(302).header("location", "/b"),
        "/b" => Reply::new(307).header("location", "/c"),
        _ => Reply::text("end"),
    })
    .await;
    let client = Client::new();
    let response = client.get(server.url("/a")).send().await.expect("response");
    assert_eq!(response.effective_uri().path(), "/c");
    assert_eq!(response.history().map(|h| h.len()), Some(2));
    assert!(response.connection_info().is_some_and(|i| i.reused));
    assert_eq!(response.bytes().await.expect("body"), "end");

    let none = Client::builder()
        .redirect(RedirectPolicy::None)
        .build()
        .expect("client");
    let response = none.get(server.url("/a")).send().await.expect("response");
    assert_eq!(response.status(), 302);

    let limited = Client::builder().max_redirects(1).build().expect("client");
    let err = limited
        .get(server.url("/a"))
        .send()
        .await
        .expect_err("limit");
    assert!(err.is_redirect(), "{err}");
}

#[tokio::test]
async fn invalid_input_is_reported_by_send() {
    let client = Client::new();
    let err = client.get("not a uri").send().await.expect_err("bad uri");
    assert!(err.is_invalid_request(), "{err}");
    let err = client
        .get("http://127.0.0.1:9/")
        .header("bad header", "x")
        .send()
        .await
        .expect_err("bad header");
    assert!(err.is_invalid_request(), "{err}");
    let err = Client::builder()
        .user_agent("bad\nagent")
        .build()
        .expect_err("bad agent");
    assert!(err.is_invalid_request(), "{err}");
}

#[cfg(feature = "gzip")]
#[tokio::test]
async fn gzip_is_negotiated_and_decoded() {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&[b'z'; 10_000]).expect("gzip");
    let coded = encoder.finish().expect("gzip");
    let server = TestServer::start(move |req| {
        let offered = req.header("accept-encoding").unwrap_or_default();
        assert!(offered.starts_with("gzip, deflate"), "{offered}");
        Reply::text(coded.clone()).header("content-encoding", "gzip")
    })
    .await;
    let body = Client::new()
        .get(server.url("/"))
        .send()
        .await
        .expect("response")
        .bytes()
        .await
        .expect("decoded");
    assert_eq!(body.len(), 10_000);
    server.assert_no_panics();
}

#[cfg(feature = "cookies")]
#[tokio::test]
async fn cookies_set_on_a_redirect_reach_the_next_hop() {
    let server = TestServer::start(|req| match req.path() {
        "/login" => Reply::new(302)
            .header("location", "/home")
            .header("set-cookie", "session=abc; Path=/; HttpOnly"),
        _ => Reply::text(req.header("cookie").unwrap_or("no cookie").to_owned()),
    })
    .await;
    let client = Client::new();
    let body = client
        .get(server.url("/login"))
        .send()
        .await
        .expect("response")
        .text()
        .await
        .expect("text");
    assert_eq!(body, "session=abc");
    assert_eq!(client.cookie_jar().map(|j| j.len()), Some(1));
    let off = Client::builder().cookies(false).build().expect("client");
    let body = off
        .get(server.url("/login"))
        .send()
        .await
        .expect("ok")
        .text()
        .await;
    assert_eq!(body.expect("text"), "no cookie");
}

#[cfg(feature = "proxy")]
#[tokio::test]
async fn a_configured_proxy_receives_absolute_form_requests() {
    // A towline-test server stands in for an HTTP proxy: it records the request line.
    let proxy = TestServer::start(|req| Reply::text(req.target.clone())).await;
    let server: crate::proxy::ProxyServer = proxy.url("").parse().expect("proxy uri");
    let client = Client::builder()
        .proxy(crate::proxy::ProxyLayer::new(server))
        .build()
        .expect("client");
    let body = client
        .get("http://origin.test/path?q=1")
        .send()
        .await
        .expect("response")
        .text()
        .await
        .expect("text");
    assert_eq!(body, "http://origin.test/path?q=1");
}
