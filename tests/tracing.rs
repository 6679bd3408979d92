//! The `tracing` events of towline's layers, recorded by a small subscriber written
//! here, against loopback servers: what each layer reports, and that no credential or
//! cookie value ever reaches an event.
//!
//! Each test installs its recorder for its own thread only (`set_default`), and tokio's
//! test runtime runs every task of the test on that thread, so tests running side by
//! side do not see each other's events.

use std::fmt;
use std::future::Future;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::header::{AUTHORIZATION, COOKIE};
use http::{Method, Request, Response};
use tower::{ServiceBuilder, ServiceExt};
use towline::body::{Body, read_body};
use towline::connect::{Connector, ResponseBody};
use towline::cookie::{CookieLayer, Jar};
use towline::decompress::DecompressionLayer;
use towline::proxy::{ProxyLayer, ProxyServer};
use towline::redirect::FollowRedirectLayer;
use towline::retry::RetryStaleLayer;
use towline::tls::TlsConfig;
use towline_test::tls::TestCa;
use towline_test::{Reply, TestServer};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata};

const WAIT: Duration = Duration::from_secs(10);

/// One event as the recorder saw it.
#[derive(Clone, Debug)]
struct Recorded {
    target: String,
    level: Level,
    message: String,
    fields: Vec<(&'static str, String)>,
}

impl Recorded {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `needle` appears in the message or in any field.
    fn mentions(&self, needle: &str) -> bool {
        self.message.contains(needle) || self.fields.iter().any(|(_, v)| v.contains(needle))
    }
}

impl fmt::Display for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {:?}", self.level, self.target, self.message)?;
        for (name, value) in &self.fields {
            write!(f, " {name}={value}")?;
        }
        Ok(())
    }
}

/// A subscriber that keeps every event whose target starts with `towline`.
struct Recorder {
    events: Arc<Mutex<Vec<Recorded>>>,
    next_span: AtomicU64,
}

struct Fields<'a>(&'a mut Recorded);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, format!("{value:?}"));
    }
}

impl Fields<'_> {
    fn push(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.0.message = value;
        } else {
            self.0.fields.push((field.name(), value));
        }
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        if !meta.target().starts_with("towline") {
            return;
        }
        let mut recorded = Recorded {
            target: meta.target().to_owned(),
            level: *meta.level(),
            message: String::new(),
            fields: Vec::new(),
        };
        event.record(&mut Fields(&mut recorded));
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(recorded);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// The events recorded on this thread while it lives.
struct Recording {
    events: Arc<Mutex<Vec<Recorded>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Recording {
    fn start() -> Recording {
        let events = Arc::new(Mutex::new(Vec::new()));
        let recorder = Recorder {
            events: events.clone(),
            next_span: AtomicU64::new(0),
        };
        Recording {
            events,
            _guard: tracing::subscriber::set_default(recorder),
        }
    }

    fn events(&self) -> Vec<Recorded> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The events of `target` with this message, with their positions among all
    /// events.
    fn find(&self, target: &str, message: &str) -> Vec<(usize, Recorded)> {
        self.events()
            .into_iter()
            .enumerate()
            .filter(|(_, e)| e.target == target && e.message == message)
            .collect()
    }

    /// The one event of `target` with this message.
    fn one(&self, target: &str, message: &str) -> (usize, Recorded) {
        let mut found = self.find(target, message);
        assert_eq!(
            found.len(),
            1,
            "one {target} {message:?} event expected in:\n{}",
            self.dump()
        );
        found.remove(0)
    }

    /// Fails the test if any event mentions `secret`.
    fn assert_never_mentions(&self, secret: &str) {
        for event in self.events() {
            assert!(!event.mentions(secret), "{secret:?} leaked into: {event}");
        }
    }

    fn dump(&self) -> String {
        let lines: Vec<String> = self.events().iter().map(|e| format!("  {e}")).collect();
        lines.join("\n")
    }
}

async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(WAIT, future).await.expect("no hang")
}

fn get(url: &str) -> Request<Body> {
    Request::get(url).body(Body::empty()).expect("request")
}

async fn body_of(response: Response<ResponseBody>) -> String {
    let bytes = bounded(read_body(response.into_body()))
        .await
        .expect("body");
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

#[tokio::test]
async fn a_new_connection_is_dialed_then_reused() {
    let rec = Recording::start();
    let server = TestServer::start(|_| Reply::text("hi")).await;
    let connector = Connector::new();
    for _ in 0..2 {
        let response = bounded(connector.clone().oneshot(get(&server.url("/"))))
            .await
            .expect("response");
        assert_eq!(body_of(response).await, "hi");
    }
    assert_eq!(server.connections_accepted(), 1);

    let addr = server.addr().to_string();
    let (_, dialed) = rec.one("towline::connect", "connection dialed");
    assert_eq!(dialed.level, Level::DEBUG);
    assert_eq!(dialed.field("destination"), Some(addr.as_str()));
    assert_eq!(dialed.field("peer"), Some(addr.as_str()));
    assert_eq!(dialed.field("route"), Some("direct"));
    assert!(dialed.field("elapsed").is_some(), "{dialed}");

    let (opened_at, opened) = rec.one("towline::connect", "connection open");
    assert_eq!(opened.field("protocol"), Some("http/1.1"));
    assert_eq!(opened.field("id"), Some("0"));
    assert_eq!(
        opened.field("origin"),
        Some(format!("http://{addr}").as_str())
    );

    let (reused_at, reused) = rec.one("towline::connect", "pooled connection reused");
    assert_eq!(reused.level, Level::DEBUG);
    assert_eq!(reused.field("id"), Some("0"));
    assert_eq!(reused.field("protocol"), Some("http/1.1"));
    assert!(opened_at < reused_at);

    assert!(rec.find("towline::connect", "TLS established").is_empty());
    assert_eq!(
        rec.find("towline::connect", "response head received").len(),
        2
    );
    assert!(
        rec.events().iter().all(|e| e.level >= Level::DEBUG),
        "nothing above debug:\n{}",
        rec.dump()
    );
}

#[tokio::test]
async fn tls_and_the_negotiated_protocol_are_recorded() {
    let rec = Recording::start();
    let ca = TestCa::new();
    let leaf = ca.leaf(&["127.0.0.1"]);
    let server = TestServer::builder()
        .handler(|_| Reply::text("secure"))
        .tls_h2(&leaf)
        .start()
        .await
        .expect("server");
    let tls = TlsConfig::builder()
        .replace_roots_pem(ca.cert_pem().as_bytes())
        .build()
        .expect("config");
    let connector = Connector::builder().tls(tls).build();
    for _ in 0..2 {
        let response = bounded(connector.clone().oneshot(get(&server.url("/"))))
            .await
            .expect("response");
        assert_eq!(body_of(response).await, "secure");
    }

    let (tls_at, tls) = rec.one("towline::connect", "TLS established");
    assert_eq!(tls.field("server_name"), Some("127.0.0.1"));
    assert_eq!(tls.field("alpn"), Some("h2"));
    assert!(
        tls.field("tls_version")
            .is_some_and(|v| v.starts_with("TLSv1_")),
        "{tls}"
    );
    let (open_at, open) = rec.one("towline::connect", "connection open");
    assert_eq!(open.field("protocol"), Some("h2"));
    assert!(tls_at < open_at);
    let (_, reused) = rec.one("towline::connect", "pooled connection reused");
    assert_eq!(reused.field("protocol"), Some("h2"));
}

#[tokio::test]
async fn a_redirect_hop_strips_credentials_and_records_no_secret() {
    const TOKEN: &str = "tok-5f3a9c1e-never-logged";
    const COOKIE_VALUE: &str = "cookie-7d2b-never-logged";
    const PASSWORD: &str = "pw-81c4-never-logged";
    let rec = Recording::start();
    let landing = TestServer::start(|_| Reply::text("landed")).await;
    // Another port is another origin. The first URI carries the caller's password in its
    // userinfo, which events show as `***`; the target carries a server-chosen one,
    // which the redirect layer drops.
    let target = format!(
        "http://user:{PASSWORD}@127.0.0.1:{}/landing",
        landing.addr().port()
    );
    let first = TestServer::start(move |_| Reply::new(302).header("location", &target)).await;
    let client = ServiceBuilder::new()
        .layer(FollowRedirectLayer::new())
        .service(Connector::new());
    let start = first
        .url("/start")
        .replace("http://", &format!("http://user:{PASSWORD}@"));
    let request = Request::get(start.as_str())
        .header(AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(COOKIE, format!("session={COOKIE_VALUE}"))
        .body(Body::empty())
        .expect("request");
    let response = bounded(client.oneshot(request)).await.expect("response");
    assert_eq!(response.status(), 200);
    assert_eq!(body_of(response).await, "landed");
    let landed = &landing.requests()[0];
    assert!(landed.header("authorization").is_none());
    assert!(landed.header("cookie").is_none());

    let (_, hop) = rec.one("towline::redirect", "following redirect");
    assert_eq!(hop.level, Level::DEBUG);
    assert_eq!(hop.field("status"), Some("302"));
    let from = first.url("/start").replace("http://", "http://***@");
    assert_eq!(hop.field("from"), Some(from.as_str()));
    let to = format!("http://127.0.0.1:{}/landing", landing.addr().port());
    assert_eq!(hop.field("to"), Some(to.as_str()));
    assert_eq!(hop.field("method"), Some("GET"));
    assert_eq!(hop.field("method_changed"), Some("false"));
    assert_eq!(hop.field("credentials_stripped"), Some("true"));
    assert_eq!(hop.field("redirects"), Some("1"));

    assert_eq!(rec.find("towline::connect", "connection open").len(), 2);
    rec.assert_never_mentions(TOKEN);
    rec.assert_never_mentions(COOKIE_VALUE);
    rec.assert_never_mentions(PASSWORD);
}

#[tokio::test]
async fn too_many_redirects_are_recorded_as_refused() {
    let rec = Recording::start();
    let server = TestServer::start(|req| {
        let n: u32 = req.path().trim_start_matches("/r").parse().unwrap_or(0);
        Reply::new(301).header("location", format!("/r{}", n + 1))
    })
    .await;
    let client = ServiceBuilder::new()
        .layer(FollowRedirectLayer::new().max_redirects(2))
        .service(Connector::new());
    let err = bounded(client.oneshot(get(&server.url("/r0"))))
        .await
        .expect_err("too many");
    assert!(err.is::<towline::redirect::TooManyRedirects>(), "{err}");
    assert_eq!(rec.find("towline::redirect", "following redirect").len(), 2);
    let (_, refused) = rec.one("towline::redirect", "redirect refused: too many redirects");
    assert_eq!(refused.field("max_redirects"), Some("2"));
    assert_eq!(refused.field("to"), Some(server.url("/r3").as_str()));
}

#[tokio::test]
async fn rejected_cookies_are_named_and_their_values_never_recorded() {
    let rec = Recording::start();
    let server = TestServer::start(|req| {
        if req.path() == "/set" {
            Reply::text("set")
                .header("set-cookie", "sid=value-domain-81f2; Domain=example.com")
                .header("set-cookie", "wide=value-suffix-a7c3; Domain=com")
                .header("set-cookie", "__Host-pref=value-prefix-55d0; Path=/")
                .header("set-cookie", "no-equals-sign-value-3b9e")
                .header("set-cookie", "ok=value-kept-c41d; Path=/")
        } else {
            Reply::text("read")
        }
    })
    .await;
    let jar = Jar::new();
    let client = ServiceBuilder::new()
        .layer(CookieLayer::new(jar.clone()))
        .service(Connector::new());
    for path in ["/set", "/read"] {
        let response = bounded(client.clone().oneshot(get(&server.url(path))))
            .await
            .expect("response");
        body_of(response).await;
    }
    assert_eq!(jar.len(), 1);
    assert_eq!(
        server.requests()[1].header("cookie"),
        Some("ok=value-kept-c41d")
    );

    let rejected = rec.find("towline::cookie", "Set-Cookie rejected");
    let seen: Vec<(Option<&str>, Option<&str>)> = rejected
        .iter()
        .map(|(_, e)| (e.field("name"), e.field("reason")))
        .collect();
    assert_eq!(
        seen,
        [
            (Some("sid"), Some("cookie domain does not match the host")),
            (Some("wide"), Some("cookie domain is a public suffix")),
            (
                Some("__Host-pref"),
                Some("cookie breaks the rules of its __Secure- or __Host- prefix")
            ),
            (None, Some("not a valid cookie")),
        ],
        "{}",
        rec.dump()
    );
    for (_, event) in &rejected {
        assert_eq!(event.level, Level::DEBUG);
        assert_eq!(event.field("host"), Some("127.0.0.1"));
    }
    let (_, stored) = rec.one("towline::cookie", "cookie stored");
    assert_eq!(stored.level, Level::TRACE);
    assert_eq!(stored.field("name"), Some("ok"));
    rec.one("towline::cookie", "cookies attached");

    for value in [
        "value-domain-81f2",
        "value-suffix-a7c3",
        "value-prefix-55d0",
        "no-equals-sign-value-3b9e",
        "value-kept-c41d",
    ] {
        rec.assert_never_mentions(value);
    }
}

fn request(method: Method, url: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(url)
        .body(Body::from("payload"))
        .expect("request")
}

#[tokio::test]
async fn a_stale_pooled_connection_is_retried_and_why_is_recorded() {
    let rec = Recording::start();
    let server = TestServer::builder()
        .handler(|_| Reply::text("ok"))
        .close_reused_without_answer(true)
        .start()
        .await
        .expect("server");
    let client = ServiceBuilder::new()
        .layer(RetryStaleLayer::new())
        .service(Connector::new());
    for _ in 0..2 {
        let response = bounded(
            client
                .clone()
                .oneshot(request(Method::GET, &server.url("/"))),
        )
        .await
        .expect("every GET succeeds");
        assert_eq!(body_of(response).await, "ok");
    }
    assert_eq!(server.connections_accepted(), 2);

    let (reused_at, reused) = rec.one("towline::connect", "pooled connection reused");
    assert_eq!(reused.field("id"), Some("0"));
    let (retry_at, retry) = rec.one(
        "towline::retry",
        "retrying on a new connection: the pooled connection was stale",
    );
    assert_eq!(retry.level, Level::DEBUG);
    assert_eq!(retry.field("method"), Some("GET"));
    assert_eq!(retry.field("uri"), Some(server.url("/").as_str()));
    let reason = retry.field("reason").unwrap_or_default();
    assert!(
        reason == "sent, but no byte of a response arrived" || reason.starts_with("unsent"),
        "{retry}"
    );
    let opened = rec.find("towline::connect", "connection open");
    assert_eq!(opened.len(), 2, "{}", rec.dump());
    let (second_open_at, second_open) = &opened[1];
    assert_eq!(second_open.field("id"), Some("1"));
    assert!(reused_at < retry_at && retry_at < *second_open_at);
}

#[tokio::test]
async fn a_stale_connection_is_not_retried_for_a_post_that_was_sent() {
    let rec = Recording::start();
    let server = TestServer::builder()
        .handler(|_| Reply::text("ok"))
        .close_reused_without_answer(true)
        .start()
        .await
        .expect("server");
    let client = ServiceBuilder::new()
        .layer(RetryStaleLayer::new())
        .service(Connector::new());
    let response = bounded(
        client
            .clone()
            .oneshot(request(Method::POST, &server.url("/"))),
    )
    .await
    .expect("first POST");
    body_of(response).await;
    let err = bounded(
        client
            .clone()
            .oneshot(request(Method::POST, &server.url("/"))),
    )
    .await
    .expect_err("the second POST met a dead connection");
    assert!(err.is_stale_connection(), "{err}");
    assert!(err.stale_connection().is_some_and(|s| s.request_written()));
    let (_, not) = rec.one(
        "towline::retry",
        "not retried: the pooled connection was stale",
    );
    assert_eq!(
        not.field("reason"),
        Some("the method is not idempotent or the body cannot be sent again")
    );
    assert!(
        rec.find(
            "towline::retry",
            "retrying on a new connection: the pooled connection was stale"
        )
        .is_empty()
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).expect("compress");
    encoder.finish().expect("compress")
}

#[tokio::test]
async fn the_proxy_route_and_decoding_are_recorded_without_proxy_credentials() {
    let rec = Recording::start();
    let packed = gzip(b"unpacked");
    // The test server plays an HTTP proxy: it answers absolute-form requests itself.
    let server = TestServer::start(move |req| {
        if req.path().ends_with("/corrupt") {
            Reply::text("not gzip at all").header("content-encoding", "gzip")
        } else {
            Reply::text(packed.clone()).header("content-encoding", "gzip")
        }
    })
    .await;
    let proxy = ProxyServer::parse(&format!("http://proxyuser:proxy-pw-0c7e@{}", server.addr()))
        .expect("proxy");
    let client = ServiceBuilder::new()
        .layer(DecompressionLayer::new())
        .layer(ProxyLayer::new(proxy))
        .service(Connector::new());
    let response = bounded(client.clone().oneshot(get("http://origin.test/packed")))
        .await
        .expect("response");
    let body = bounded(read_body(response.into_body()))
        .await
        .expect("body");
    assert_eq!(&body[..], b"unpacked");
    let response = bounded(client.clone().oneshot(get("http://origin.test/corrupt")))
        .await
        .expect("response");
    bounded(read_body(response.into_body()))
        .await
        .expect_err("corrupt");

    let routes = rec.find("towline::proxy", "route chosen");
    assert_eq!(routes.len(), 2);
    let (_, route) = &routes[0];
    assert_eq!(route.level, Level::DEBUG);
    assert_eq!(route.field("uri"), Some("http://origin.test/packed"));
    let expected = format!("http proxy {}", server.addr());
    assert_eq!(route.field("route"), Some(expected.as_str()));

    let decoding = rec.find("towline::decompress", "decoding the response body");
    assert_eq!(decoding.len(), 2, "{}", rec.dump());
    assert!(
        decoding
            .iter()
            .all(|(_, e)| e.field("codings") == Some("gzip"))
    );
    let (_, failed) = rec.one("towline::decompress", "decoding the response body failed");
    assert_eq!(failed.field("codings"), Some("gzip"));
    assert!(failed.field("error").is_some(), "{failed}");

    rec.assert_never_mentions("proxy-pw-0c7e");
    // `Basic base64("proxyuser:proxy-pw-0c7e")`, as sent to the proxy.
    rec.assert_never_mentions("cHJveHl1c2VyOnByb3h5LXB3LTBjN2U=");
}
