//! The redirect layer on the connector, against loopback servers.
//!
//! The credential tests use several origins on loopback: the same server reached as
//! `127.0.0.1` and as `localhost` (another host name), a second server on
//! `127.0.0.2` (another address), and a second server on another port.
//! A server that must never see a credential panics in its handler when it does, which
//! fails the test. The https → http downgrade runs against an HTTPS test server with a
//! certificate generated in the test.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use http::{Method, Request, Response};
use tower::{Service, ServiceBuilder, ServiceExt};
use towline::BoxError;
use towline::body::{Body, read_body};
use towline::connect::{ConnectionInfo, Connector, EffectiveUri, ResponseBody};
use towline::redirect::{
    BrowserLike, FollowRedirect, FollowRedirectLayer, Policy, RedirectHistory, TooManyRedirects,
};
use towline_test::{Fault, RecordedRequest, Reply, TestServer};

const WAIT: Duration = Duration::from_secs(10);

fn client<P: Policy + Clone>(layer: FollowRedirectLayer<P>) -> FollowRedirect<Connector, P> {
    ServiceBuilder::new().layer(layer).service(Connector::new())
}

async fn send<S>(client: S, request: Request<Body>) -> Result<Response<ResponseBody>, BoxError>
where
    S: Service<Request<Body>, Response = Response<ResponseBody>, Error = BoxError>,
{
    tokio::time::timeout(WAIT, client.oneshot(request))
        .await
        .expect("no hang")
}

fn get(url: &str) -> Request<Body> {
    Request::get(url).body(Body::empty()).expect("request")
}

fn effective_uri(response: &Response<ResponseBody>) -> String {
    response
        .extensions()
        .get::<EffectiveUri>()
        .expect("EffectiveUri")
        .0
        .to_string()
}

/// An address known once its server has started, for handlers that point to it.
type Later = Arc<OnceLock<SocketAddr>>;

fn later_url(addr: &Later, host: &str, path: &str) -> String {
    let port = addr.get().expect("server started").port();
    format!("http://{host}:{port}{path}")
}

// ---------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------

fn with_credentials(url: &str) -> Request<Body> {
    Request::get(url)
        .header(AUTHORIZATION, "Bearer first-origin-only")
        .header(COOKIE, "session=first-origin-only")
        .header("proxy-authorization", "Basic Zmlyc3Q=")
        .body(Body::empty())
        .expect("request")
}

/// The credential headers a request carried.
fn credentials(req: &RecordedRequest) -> Vec<&'static str> {
    ["authorization", "cookie", "proxy-authorization"]
        .into_iter()
        .filter(|name| req.header(name).is_some())
        .collect()
}

/// Panics (failing the test through the server) if `req` carries a credential.
fn refuse_credentials(req: &RecordedRequest, who: &str) {
    let found = credentials(req);
    assert!(
        found.is_empty(),
        "{who} received {found:?} for {} {}",
        req.method,
        req.target
    );
}

/// Panics unless `req` carries the origin's credentials. `Proxy-Authorization` never
/// reaches an origin: the connector removes it from requests that are not proxied.
fn expect_credentials(req: &RecordedRequest, who: &str) {
    assert_eq!(
        credentials(req),
        ["authorization", "cookie"],
        "{who} should have the credentials, and no proxy credentials"
    );
}

#[tokio::test]
async fn credentials_stay_on_the_same_origin() {
    let server = TestServer::start(|req| {
        expect_credentials(req, "the first origin");
        match req.path() {
            "/start" => Reply::new(302).header("Location", "/same"),
            _ => Reply::text("same origin"),
        }
    })
    .await;
    let result = send(
        client(FollowRedirectLayer::new()),
        with_credentials(&server.url("/start")),
    )
    .await;
    server.assert_no_panics();
    let response = result.expect("response");
    assert_eq!(
        read_body(response.into_body()).await.expect("body"),
        "same origin"
    );
    assert_eq!(server.request_count(), 2);
}

#[tokio::test]
async fn credentials_never_reach_another_host_name() {
    // One server, two host names: 127.0.0.1 is the first origin, localhost is not.
    let server = TestServer::start(|req| {
        let host = req.header("host").unwrap_or("");
        if host.starts_with("localhost") {
            refuse_credentials(req, "localhost");
            return Reply::text("landed");
        }
        expect_credentials(req, "127.0.0.1");
        let port = host.rsplit(':').next().unwrap_or("");
        Reply::new(302).header("Location", format!("http://localhost:{port}/landing"))
    })
    .await;
    let result = send(
        client(FollowRedirectLayer::new()),
        with_credentials(&server.url("/start")),
    )
    .await;
    server.assert_no_panics();
    let response = result.expect("response");
    assert!(effective_uri(&response).starts_with("http://localhost:"));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].path(), "/landing");
}

#[tokio::test]
async fn credentials_never_reach_another_address() {
    // A second server on 127.0.0.2: another host, whatever its port.
    let other = TestServer::builder()
        .bind_ip(IpAddr::from([127, 0, 0, 2]))
        .handler(|req| {
            refuse_credentials(req, "127.0.0.2");
            Reply::text("other address")
        })
        .start()
        .await
        .expect("bind 127.0.0.2");
    let target = format!("http://{}/landing", other.addr());
    let first = TestServer::start(move |req| {
        expect_credentials(req, "127.0.0.1");
        Reply::new(302).header("Location", &target)
    })
    .await;
    let result = send(
        client(FollowRedirectLayer::new()),
        with_credentials(&first.url("/start")),
    )
    .await;
    first.assert_no_panics();
    other.assert_no_panics();
    let response = result.expect("response");
    assert!(effective_uri(&response).starts_with("http://127.0.0.2:"));
    assert_eq!(
        read_body(response.into_body()).await.expect("body"),
        "other address"
    );
}

#[tokio::test]
async fn credentials_never_reach_another_port() {
    let other = TestServer::start(|req| {
        refuse_credentials(req, "the other port");
        Reply::text("other port")
    })
    .await;
    let target = other.url("/landing");
    let first = TestServer::start(move |req| {
        expect_credentials(req, "the first origin");
        Reply::new(307).header("Location", &target)
    })
    .await;
    let result = send(
        client(FollowRedirectLayer::new()),
        with_credentials(&first.url("/start")),
    )
    .await;
    first.assert_no_panics();
    other.assert_no_panics();
    let response = result.expect("response");
    assert_eq!(
        read_body(response.into_body()).await.expect("body"),
        "other port"
    );
    assert_eq!(other.request_count(), 1);
}

#[tokio::test]
async fn credentials_stay_gone_back_on_the_first_origin() {
    // A → B → A → A: only the very first request carries credentials.
    let a_addr: Later = Arc::default();
    let b_addr: Later = Arc::default();
    let to_a = Arc::clone(&a_addr);
    let b = TestServer::start(move |req| {
        refuse_credentials(req, "B");
        Reply::new(302).header("Location", later_url(&to_a, "127.0.0.1", "/back"))
    })
    .await;
    b_addr.set(b.addr()).expect("once");
    let to_b = Arc::clone(&b_addr);
    let a = TestServer::start(move |req| match req.path() {
        "/start" => {
            expect_credentials(req, "A at first");
            Reply::new(302).header("Location", later_url(&to_b, "127.0.0.1", "/hop"))
        }
        "/back" => {
            refuse_credentials(req, "A after B");
            Reply::new(302).header("Location", "/end")
        }
        _ => {
            refuse_credentials(req, "A at the end");
            Reply::text("home again")
        }
    })
    .await;
    a_addr.set(a.addr()).expect("once");

    let result = send(
        client(FollowRedirectLayer::new()),
        with_credentials(&a.url("/start")),
    )
    .await;
    a.assert_no_panics();
    b.assert_no_panics();
    let response = result.expect("response");
    let history = response
        .extensions()
        .get::<RedirectHistory>()
        .expect("history");
    assert_eq!(history.len(), 3);
    assert_eq!(
        read_body(response.into_body()).await.expect("body"),
        "home again"
    );
    let paths: Vec<String> = a.requests().iter().map(|r| r.path().to_owned()).collect();
    assert_eq!(paths, ["/start", "/back", "/end"]);
}

// ---------------------------------------------------------------------------------
// History, methods, bodies
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn history_and_effective_uri_after_a_three_hop_chain() {
    let other = TestServer::start(|req| match req.path() {
        "/3" => Reply::new(303).header("Location", "../four?x=1"),
        _ => Reply::text(format!("{} {}", req.method, req.target)),
    })
    .await;
    let third = other.url("/3");
    let first = TestServer::start(move |req| match req.path() {
        "/1" => Reply::new(301)
            .header("Location", "/2")
            .header("Set-Cookie", "a=1"),
        _ => Reply::new(302).header("Location", &third),
    })
    .await;
    let request = Request::post(first.url("/1"))
        .header(CONTENT_TYPE, "text/plain")
        .body(Body::from("posted"))
        .expect("request");
    let response = send(
        client(FollowRedirectLayer::with_policy(BrowserLike)),
        request,
    )
    .await
    .expect("response");

    assert_eq!(effective_uri(&response), other.url("/four?x=1"));
    let history = response
        .extensions()
        .get::<RedirectHistory>()
        .expect("history")
        .clone();
    let hops: Vec<(String, String, u16)> = history
        .iter()
        .map(|h| {
            (
                h.method().to_string(),
                h.uri().to_string(),
                h.status().as_u16(),
            )
        })
        .collect();
    assert_eq!(
        hops,
        [
            ("POST".to_owned(), first.url("/1"), 301),
            ("GET".to_owned(), first.url("/2"), 302),
            ("GET".to_owned(), other.url("/3"), 303),
        ]
    );
    assert_eq!(history.hops()[0].headers()["set-cookie"], "a=1");
    assert_eq!(
        read_body(response.into_body()).await.expect("body"),
        "GET /four?x=1"
    );
    // BrowserLike turned the POST into GET on 301: no body, no Content-Type.
    let second = &first.requests()[1];
    assert_eq!(second.method, "GET");
    assert!(second.body.is_empty());
    assert_eq!(second.header("content-type"), None);
    assert_eq!(second.header("content-length"), None);
}

#[tokio::test]
async fn a_307_resends_method_and_body() {
    let server = TestServer::start(|req| match req.path() {
        "/upload" => Reply::new(307).header("Location", "/stored"),
        _ => Reply::text(req.body.clone()),
    })
    .await;
    let request = || {
        Request::builder()
            .method(Method::PUT)
            .uri(server.url("/upload"))
            .header(CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"a":1}"#))
            .expect("request")
    };
    // Strict hands a PUT's redirect back.
    let response = send(client(FollowRedirectLayer::new()), request())
        .await
        .expect("response");
    assert_eq!(response.status(), 307);
    // BrowserLike sends the same PUT again.
    let response = send(
        client(FollowRedirectLayer::with_policy(BrowserLike)),
        request(),
    )
    .await
    .expect("response");
    assert_eq!(response.status(), 200);
    assert_eq!(
        read_body(response.into_body()).await.expect("body"),
        r#"{"a":1}"#
    );
    let last = server.requests().pop().expect("requests");
    assert_eq!((last.method.as_str(), last.path()), ("PUT", "/stored"));
    assert_eq!(last.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn a_raw_location_is_encoded_on_the_wire() {
    let server = TestServer::start(|req| match req.path() {
        "/dir/start" => Reply::new(302).header("Location", b"../caf\xc3\xa9 menu/?q=a b"),
        _ => Reply::text(req.target.clone()),
    })
    .await;
    let response = send(
        client(FollowRedirectLayer::new()),
        get(&server.url("/dir/start")),
    )
    .await
    .expect("response");
    assert_eq!(
        read_body(response.into_body()).await.expect("body"),
        "/caf%C3%A9%20menu/?q=a%20b"
    );
}

// ---------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------

/// `/r/N` redirects to `/r/N+1` until `/r/last`.
async fn chain_server(last: usize) -> TestServer {
    TestServer::start(move |req| {
        let n: usize = req.path().trim_start_matches("/r/").parse().unwrap_or(0);
        if n >= last {
            Reply::text("end")
        } else {
            Reply::new(302).header("Location", format!("/r/{}", n + 1))
        }
    })
    .await
}

#[tokio::test]
async fn twenty_redirects_pass_and_twenty_one_fail() {
    let server = chain_server(20).await;
    let response = send(client(FollowRedirectLayer::new()), get(&server.url("/r/0")))
        .await
        .expect("20 redirects");
    assert_eq!(effective_uri(&response), server.url("/r/20"));
    assert_eq!(server.request_count(), 21);

    let server = chain_server(21).await;
    let err = send(client(FollowRedirectLayer::new()), get(&server.url("/r/0")))
        .await
        .expect_err("21 redirects");
    let too_many = err
        .downcast_ref::<TooManyRedirects>()
        .expect("TooManyRedirects");
    assert_eq!(too_many.history().len(), 21);
    assert_eq!(server.request_count(), 21, "/r/21 is never requested");
}

#[tokio::test]
async fn a_two_uri_loop_ends_in_too_many_redirects() {
    let server = TestServer::start(|req| match req.path() {
        "/a" => Reply::new(302).header("Location", "/b"),
        _ => Reply::new(302).header("Location", "/a"),
    })
    .await;
    let err = send(client(FollowRedirectLayer::new()), get(&server.url("/a")))
        .await
        .expect_err("a loop");
    assert!(err.is::<TooManyRedirects>());
    assert_eq!(server.request_count(), 21);
}

// ---------------------------------------------------------------------------------
// Connections
// ---------------------------------------------------------------------------------

fn reused(response: &Response<ResponseBody>) -> bool {
    response
        .extensions()
        .get::<ConnectionInfo>()
        .expect("ConnectionInfo")
        .reused
}

#[tokio::test]
async fn a_short_redirect_body_is_drained_and_its_connection_reused() {
    for reply in [
        Reply::new(302)
            .header("Location", "/next")
            .body(vec![b'x'; 4096]),
        Reply::new(302)
            .header("Location", "/next")
            .body(vec![b'x'; 4096])
            .chunked(1000),
        Reply::new(302).header("Location", "/next"),
    ] {
        let server = TestServer::start(move |req| match req.path() {
            "/start" => reply.clone(),
            _ => Reply::text("done"),
        })
        .await;
        let response = send(
            client(FollowRedirectLayer::new()),
            get(&server.url("/start")),
        )
        .await
        .expect("response");
        assert!(
            reused(&response),
            "the second hop went over the first connection"
        );
        assert_eq!(server.connections_accepted(), 1);
    }
}

#[tokio::test]
async fn a_long_redirect_body_is_dropped_with_its_connection() {
    let server = TestServer::start(|req| match req.path() {
        "/start" => Reply::new(302)
            .header("Location", "/next")
            .body(vec![b'x'; 256 * 1024]),
        _ => Reply::text("done"),
    })
    .await;
    let response = send(
        client(FollowRedirectLayer::new()),
        get(&server.url("/start")),
    )
    .await
    .expect("response");
    assert!(!reused(&response));
    assert_eq!(read_body(response.into_body()).await.expect("body"), "done");
    assert_eq!(server.connections_accepted(), 2);
    assert!(server.wait_for_closed(1, WAIT).await);
}

/// Redirects whose bodies cannot be read at once: each server writes the 3xx and then
/// holds the socket open, sending nothing more. (name, raw response)
fn stalling_redirects() -> Vec<(&'static str, Fault)> {
    let raw = |bytes: &'static [u8]| Fault::Raw(bytes::Bytes::from_static(bytes));
    vec![
        (
            "301 with Connection: close and no length",
            raw(b"HTTP/1.1 301 Moved Permanently\r\nLocation: /next\r\n\
                  Connection: close\r\n\r\nthe body goes on"),
        ),
        (
            "HTTP/1.0 302 without keep-alive",
            raw(b"HTTP/1.0 302 Found\r\nLocation: /next\r\nContent-Length: 5\r\n\r\nmov"),
        ),
        (
            "close-delimited HTTP/1.1 302",
            raw(b"HTTP/1.1 302 Found\r\nLocation: /next\r\n\r\nthe body ends at close"),
        ),
        (
            "302 whose length is never reached",
            raw(b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 900\r\n\r\n12345"),
        ),
        (
            "chunked 302 still arriving",
            raw(b"HTTP/1.1 302 Found\r\nLocation: /next\r\n\
                  Transfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n"),
        ),
    ]
}

#[tokio::test]
async fn a_redirect_whose_body_never_ends_is_followed_at_once() {
    for (name, fault) in stalling_redirects() {
        let server = TestServer::start(move |req| match req.path() {
            "/start" => Reply::new(302).fault(fault.clone()),
            _ => Reply::text("done"),
        })
        .await;
        // The default Client: no timeout of any kind is set.
        let client = towline::Client::new();
        let started = std::time::Instant::now();
        let response = tokio::time::timeout(WAIT, client.get(server.url("/start")).send())
            .await
            .unwrap_or_else(|_| panic!("{name}: hangs"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(1), "{name}: took {elapsed:?}");
        assert!(
            !response.connection_info().expect("ConnectionInfo").reused,
            "{name}: the redirect's connection is not reused"
        );
        assert_eq!(response.text().await.expect("body"), "done", "{name}");
        assert_eq!(server.connections_accepted(), 2, "{name}");
        assert!(
            server.wait_for_closed(1, WAIT).await,
            "{name}: the client closed the redirect's connection"
        );
    }
}

#[tokio::test]
async fn a_short_redirect_over_http_1_0_keep_alive_keeps_its_connection() {
    let server = TestServer::start(|req| match req.path() {
        "/start" => Reply::new(302).fault(Fault::Raw(bytes::Bytes::from_static(
            b"HTTP/1.0 302 Found\r\nLocation: /next\r\nConnection: keep-alive\r\n\
              Content-Length: 5\r\n\r\nmoved",
        ))),
        _ => Reply::text("done"),
    })
    .await;
    let response = towline::Client::new()
        .get(server.url("/start"))
        .send()
        .await
        .expect("response");
    assert!(response.connection_info().expect("info").reused);
    assert_eq!(response.text().await.expect("body"), "done");
    assert_eq!(server.connections_accepted(), 1);
}

// ---------------------------------------------------------------------------------
// https → http
// ---------------------------------------------------------------------------------

/// An HTTPS origin that redirects to a plain-HTTP one, which must never see credentials.
async fn downgrade_servers() -> (towline_test::tls::TestCa, TestServer, TestServer) {
    let plain = TestServer::start(|req| {
        refuse_credentials(req, "the http origin");
        Reply::text("landed over http")
    })
    .await;
    let target = plain.url("/landing");
    let ca = towline_test::tls::TestCa::new();
    let leaf = ca.leaf(&["127.0.0.1"]);
    let secure = TestServer::builder()
        .handler(move |req| {
            expect_credentials(req, "the https origin");
            Reply::new(302).header("location", target.as_str())
        })
        .tls(&leaf)
        .start()
        .await
        .expect("https server");
    (ca, secure, plain)
}

fn trusting(ca: &towline_test::tls::TestCa) -> Connector {
    let tls = towline::tls::TlsConfig::builder()
        .replace_roots_pem(ca.cert_pem().as_bytes())
        .build()
        .expect("tls config");
    Connector::builder().tls(tls).build()
}

#[tokio::test]
async fn an_https_to_http_downgrade_is_followed_without_credentials() {
    let (ca, secure, plain) = downgrade_servers().await;
    let client = ServiceBuilder::new()
        .layer(FollowRedirectLayer::new())
        .service(trusting(&ca));
    let response = send(client, with_credentials(&secure.url("/start")))
        .await
        .expect("followed");
    assert_eq!(effective_uri(&response), plain.url("/landing"));
    let body = read_body(response.into_body()).await.expect("body");
    assert_eq!(body, "landed over http");
    assert_eq!(secure.request_count(), 1);
    assert_eq!(plain.request_count(), 1);
    secure.assert_no_panics();
    plain.assert_no_panics();
}

#[tokio::test]
async fn an_https_to_http_downgrade_can_be_refused_over_the_wire() {
    let (ca, secure, plain) = downgrade_servers().await;
    let client = ServiceBuilder::new()
        .layer(FollowRedirectLayer::new().https_downgrade(false))
        .service(trusting(&ca));
    let err = send(client, with_credentials(&secure.url("/start")))
        .await
        .expect_err("refused");
    assert!(
        err.downcast_ref::<towline::redirect::DowngradeRefused>()
            .is_some(),
        "{err}"
    );
    assert_eq!(
        plain.request_count(),
        0,
        "the http origin was never contacted"
    );
    secure.assert_no_panics();
}

/// Each hop of the history keeps its response's extensions: the connector's
/// `ConnectionInfo` says the first hop opened the connection and the later ones
/// reused it.
#[tokio::test]
async fn each_hop_keeps_its_connection_info() {
    let server = towline_test::TestServer::start(|req| match req.path() {
        "/a" => towline_test::Reply::new(302).header("location", "/b"),
        "/b" => towline_test::Reply::new(301).header("location", "/c"),
        _ => towline_test::Reply::text("end"),
    })
    .await;
    let response = towline::Client::new()
        .get(server.url("/a"))
        .send()
        .await
        .expect("response");
    let history = response.history().expect("history");
    let reused: Vec<Option<bool>> = history
        .iter()
        .map(|hop| {
            hop.extensions()
                .get::<towline::connect::ConnectionInfo>()
                .map(|info| info.reused)
        })
        .collect();
    assert_eq!(reused, [Some(false), Some(true)]);
    assert_eq!(response.connection_info().map(|i| i.reused), Some(true));
    assert_eq!(server.connections_accepted(), 1);
}

/// With `record_request_heads`, each hop and the final response carry the request
/// head as the connector handed it over: target, the connector's `Host`, the cookie
/// layer's `Cookie`. Without it, none.
#[tokio::test]
async fn each_hop_keeps_its_request_head_when_asked() {
    let server = towline_test::TestServer::start(|req| match req.path() {
        "/a" => towline_test::Reply::new(302)
            .header("location", "/b?x=1")
            .header("set-cookie", "k=v; Path=/"),
        _ => towline_test::Reply::text("end"),
    })
    .await;
    let host = format!("127.0.0.1:{}", server.addr().port());
    let client = towline::Client::builder()
        .connector(|c| c.record_request_heads(true))
        .build()
        .expect("client");
    let response = client.get(server.url("/a")).send().await.expect("response");
    let hop = &response.history().expect("history").hops()[0];
    let first = hop
        .extensions()
        .get::<towline::connect::RequestHead>()
        .expect("first head");
    assert_eq!((first.method().as_str(), first.target()), ("GET", "/a"));
    assert_eq!(
        first.headers().get("host").map(|v| v.as_bytes()),
        Some(host.as_bytes())
    );
    assert!(first.headers().get("cookie").is_none());
    let last = response
        .extensions()
        .get::<towline::connect::RequestHead>()
        .expect("last head");
    assert_eq!(last.target(), "/b?x=1");
    assert_eq!(
        last.headers().get("cookie").map(|v| v.as_bytes()),
        Some(&b"k=v"[..])
    );

    let response = towline::Client::new()
        .get(server.url("/a"))
        .send()
        .await
        .expect("response");
    assert!(
        response
            .extensions()
            .get::<towline::connect::RequestHead>()
            .is_none()
    );
}
