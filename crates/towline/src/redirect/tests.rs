//! The redirect rules against fake inner services: a `service_fn` that records every
//! request and answers from a routing function, and a tower-test mock where poll order
//! matters. Nothing here dials; URIs may be https.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, LOCATION};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use tokio_test::{assert_pending, assert_ready_ok, task};
use tower::{Layer, Service, ServiceExt};
use tower_test::mock;

use super::*;
use crate::body::{Body, ReplayBody, read_body};
use crate::connect::EffectiveUri;
use crate::{BoxError, Error, Kind};

/// A request as the fake inner service received it.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

/// A request extension, to see whether extensions reach later hops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Marker(u32);

type Log = Arc<Mutex<Vec<Seen>>>;

fn seen(log: &Log) -> Vec<Seen> {
    log.lock().expect("log").clone()
}

/// A fake inner service: records each request, answers with `route`.
fn fake<F>(
    route: F,
) -> (
    impl Service<Request<Body>, Response = Response<String>, Error = BoxError, Future: Send>
    + Clone
    + Send,
    Log,
)
where
    F: Fn(&Seen) -> Response<String> + Clone + Send + Sync + 'static,
{
    let log = Log::default();
    let record = Arc::clone(&log);
    let service = tower::service_fn(move |request: Request<Body>| {
        let log = Arc::clone(&record);
        let route = route.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = read_body(body).await?;
            let seen = Seen {
                method: parts.method,
                uri: parts.uri,
                headers: parts.headers,
                body,
            };
            let response = route(&seen);
            log.lock().expect("log").push(seen);
            Ok::<_, BoxError>(response)
        }
    });
    (service, log)
}

fn redirect(status: u16, location: &str) -> Response<String> {
    Response::builder()
        .status(status)
        .header(LOCATION, location)
        .body(format!("redirecting to {location}"))
        .expect("response")
}

fn ok(body: &str) -> Response<String> {
    Response::new(body.to_owned())
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).expect("request")
}

/// Sends `request` through `layer` on the fake service and returns the outcome with
/// every request the fake received.
async fn run<P: Policy + Clone + Send + Sync + 'static, F>(
    layer: FollowRedirectLayer<P>,
    route: F,
    request: Request<Body>,
) -> (Result<Response<String>, BoxError>, Vec<Seen>)
where
    F: Fn(&Seen) -> Response<String> + Clone + Send + Sync + 'static,
{
    let (service, log) = fake(route);
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        layer.layer(service).oneshot(request),
    )
    .await
    .expect("no hang");
    (result, seen(&log))
}

fn effective_uri<B>(response: &Response<B>) -> String {
    response
        .extensions()
        .get::<EffectiveUri>()
        .expect("EffectiveUri")
        .0
        .to_string()
}

// ---------------------------------------------------------------------------------
// Status × method × policy
// ---------------------------------------------------------------------------------

/// What happens to a redirected request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Followed with the same method, body and body headers.
    Keep,
    /// Followed as GET, without body and `Content-*` headers.
    Get,
    /// Followed as HEAD (a HEAD stays HEAD on 303), without body and `Content-*`.
    Head,
    /// Not followed: the caller gets the redirect response.
    Back,
}

/// status, method, Strict, BrowserLike.
const TABLE: &str = "
    301 GET    Keep Keep
    301 HEAD   Keep Keep
    301 POST   Back Get
    301 PUT    Back Keep
    301 DELETE Back Keep
    302 GET    Keep Keep
    302 HEAD   Keep Keep
    302 POST   Back Get
    302 PUT    Back Keep
    302 DELETE Back Keep
    303 GET    Get  Get
    303 HEAD   Head Head
    303 POST   Get  Get
    303 PUT    Get  Get
    303 DELETE Get  Get
    307 GET    Keep Keep
    307 HEAD   Keep Keep
    307 POST   Back Keep
    307 PUT    Back Keep
    307 DELETE Back Keep
    308 GET    Keep Keep
    308 HEAD   Keep Keep
    308 POST   Back Keep
    308 PUT    Back Keep
    308 DELETE Back Keep
";

fn parse_outcome(s: &str) -> Outcome {
    match s {
        "Keep" => Outcome::Keep,
        "Get" => Outcome::Get,
        "Head" => Outcome::Head,
        "Back" => Outcome::Back,
        other => panic!("unknown outcome {other}"),
    }
}

async fn check_cell<P>(
    layer: FollowRedirectLayer<P>,
    status: u16,
    method: Method,
    expected: Outcome,
) where
    P: Policy + Clone + Send + Sync + std::fmt::Debug + 'static,
{
    let cell = format!("{status} {method} with {:?}", layer.policy());
    let request = Request::builder()
        .method(method.clone())
        .uri("http://a.test/form")
        .header(CONTENT_TYPE, "text/plain")
        .header("content-language", "en")
        .header(AUTHORIZATION, "Bearer same-origin")
        .header("x-trace", "t1")
        .body(Body::from("payload"))
        .expect("request");
    let (result, seen) = run(
        layer,
        move |req| match req.uri.path() {
            "/form" => redirect(status, "/done"),
            _ => ok("done"),
        },
        request,
    )
    .await;
    let response = result.unwrap_or_else(|e| panic!("{cell}: {e}"));

    if expected == Outcome::Back {
        assert_eq!(response.status(), status, "{cell}: handed back");
        assert_eq!(seen.len(), 1, "{cell}: not followed");
        assert_eq!(effective_uri(&response), "http://a.test/form", "{cell}");
        assert!(
            response.extensions().get::<RedirectHistory>().is_none(),
            "{cell}"
        );
        return;
    }
    assert_eq!(response.status(), 200, "{cell}: followed");
    assert_eq!(seen.len(), 2, "{cell}");
    let next = &seen[1];
    assert_eq!(next.uri, "http://a.test/done", "{cell}");
    assert_eq!(next.headers["x-trace"], "t1", "{cell}: other headers kept");
    assert_eq!(
        next.headers[AUTHORIZATION], "Bearer same-origin",
        "{cell}: same origin"
    );
    let history = response
        .extensions()
        .get::<RedirectHistory>()
        .expect("history");
    assert_eq!(history.len(), 1, "{cell}");
    assert_eq!(history.hops()[0].method(), method, "{cell}");
    assert_eq!(history.hops()[0].status(), status, "{cell}");
    match expected {
        Outcome::Keep => {
            assert_eq!(next.method, method, "{cell}: method kept");
            assert_eq!(next.body, "payload", "{cell}: body kept");
            assert_eq!(next.headers[CONTENT_TYPE], "text/plain", "{cell}");
            assert_eq!(next.headers["content-language"], "en", "{cell}");
        }
        Outcome::Get | Outcome::Head => {
            let method = if expected == Outcome::Get {
                Method::GET
            } else {
                Method::HEAD
            };
            assert_eq!(next.method, method, "{cell}: method changed");
            assert!(next.body.is_empty(), "{cell}: body dropped");
            for name in ["content-type", "content-language", "content-length"] {
                assert!(!next.headers.contains_key(name), "{cell}: {name} dropped");
            }
        }
        Outcome::Back => unreachable!(),
    }
}

#[tokio::test]
async fn every_status_method_and_policy() {
    let mut cells = 0;
    for line in TABLE.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let status: u16 = cols[0].parse().expect("status");
        let method = Method::from_bytes(cols[1].as_bytes()).expect("method");
        check_cell(
            FollowRedirectLayer::new(),
            status,
            method.clone(),
            parse_outcome(cols[2]),
        )
        .await;
        check_cell(
            FollowRedirectLayer::with_policy(BrowserLike),
            status,
            method,
            parse_outcome(cols[3]),
        )
        .await;
        cells += 2;
    }
    assert_eq!(cells, 5 * 5 * 2);
}

#[tokio::test]
async fn other_statuses_and_unusable_locations_are_handed_back() {
    let cases: Vec<(u16, Option<&str>)> = vec![
        (300, Some("/choice")),
        (304, Some("/cached")),
        (305, Some("/proxy")),
        (306, Some("/unused")),
        (200, Some("/not-a-redirect")),
        (201, Some("/created")),
        (301, None),
        (302, Some("http://")),
        (307, Some("//")),
        (308, Some("http://xn--a.test/")),
        (301, Some("")),
        (302, Some("  \t ")),
    ];
    for (status, location) in cases {
        let (result, seen) = run(
            FollowRedirectLayer::with_policy(BrowserLike),
            move |_| {
                let mut response = Response::builder().status(status);
                if let Some(location) = location {
                    response = response.header(
                        LOCATION,
                        HeaderValue::from_bytes(location.as_bytes()).expect("value"),
                    );
                }
                response.body(String::from("as is")).expect("response")
            },
            get("http://a.test/x"),
        )
        .await;
        let response = result.expect("handed back, not failed");
        assert_eq!(response.status(), status, "{location:?}");
        assert_eq!(response.body(), "as is");
        assert_eq!(seen.len(), 1, "{status} {location:?} not followed");
        assert_eq!(effective_uri(&response), "http://a.test/x");
    }
}

#[tokio::test]
async fn a_body_that_cannot_be_replayed() {
    let streaming = || {
        let body = http_body_util::Full::new(Bytes::from_static(b"once"));
        Request::post("http://a.test/upload")
            .header(CONTENT_LENGTH, "4")
            .body(Body::sized(body, 4))
            .expect("request")
    };
    // 307 would resend it: the caller gets the 307.
    let (result, seen) = run(
        FollowRedirectLayer::with_policy(BrowserLike),
        |req| match req.uri.path() {
            "/upload" => redirect(307, "/elsewhere"),
            _ => ok("done"),
        },
        streaming(),
    )
    .await;
    assert_eq!(result.expect("response").status(), 307);
    assert_eq!(seen.len(), 1);
    // 303 does not need it: followed as GET.
    let (result, seen) = run(
        FollowRedirectLayer::with_policy(BrowserLike),
        |req| match req.uri.path() {
            "/upload" => redirect(303, "/result"),
            _ => ok("done"),
        },
        streaming(),
    )
    .await;
    assert_eq!(result.expect("response").status(), 200);
    assert_eq!(seen[1].method, Method::GET);
    assert!(!seen[1].headers.contains_key(CONTENT_LENGTH));
}

/// A body that counts its copies.
#[derive(Debug, Default)]
struct Counted(Arc<AtomicUsize>);

impl ReplayBody for Counted {
    fn try_replay(&self) -> Option<Self> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Some(Counted(Arc::clone(&self.0)))
    }
}

/// How many copies of the body the layer takes for one request that is not redirected.
async fn copies<P: Policy + Clone>(layer: FollowRedirectLayer<P>, method: Method) -> usize {
    let copies = Arc::new(AtomicUsize::new(0));
    let service = layer.layer(tower::service_fn(|_: Request<Counted>| async {
        Ok::<_, BoxError>(Response::new(String::new()))
    }));
    let request = Request::builder()
        .method(method)
        .uri("http://a.test/")
        .body(Counted(Arc::clone(&copies)))
        .expect("request");
    service.oneshot(request).await.expect("response");
    copies.load(Ordering::SeqCst)
}

#[tokio::test]
async fn the_body_is_copied_only_when_the_policy_may_resend_it() {
    assert_eq!(copies(FollowRedirectLayer::new(), Method::POST).await, 0);
    assert_eq!(copies(FollowRedirectLayer::new(), Method::PUT).await, 0);
    assert_eq!(copies(FollowRedirectLayer::new(), Method::GET).await, 1);
    assert_eq!(
        copies(FollowRedirectLayer::with_policy(BrowserLike), Method::POST).await,
        1
    );
}

#[tokio::test]
async fn a_follow_the_policy_said_it_would_not_need_is_handed_back() {
    #[derive(Clone, Debug)]
    struct FollowsWithoutCopy;
    impl Policy for FollowsWithoutCopy {
        fn redirect(&mut self, _: &Attempt<'_>) -> Action {
            Action::Follow
        }
        fn resends_body(&self, _: &Method) -> bool {
            false
        }
    }
    let (result, seen) = run(
        FollowRedirectLayer::with_policy(FollowsWithoutCopy),
        |_| redirect(308, "/again"),
        Request::put("http://a.test/")
            .body(Body::from("x"))
            .expect("request"),
    )
    .await;
    assert_eq!(result.expect("response").status(), 308);
    assert_eq!(seen.len(), 1);
}

// ---------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------

/// `/r/N` redirects to `/r/N+1` until `/r/last`, which answers 200.
fn chain(last: usize) -> impl Fn(&Seen) -> Response<String> + Clone + Send + Sync + 'static {
    move |req| {
        let n: usize = req
            .uri
            .path()
            .trim_start_matches("/r/")
            .parse()
            .unwrap_or(0);
        if n == last {
            ok("end")
        } else {
            redirect(302, &format!("/r/{}", n + 1))
        }
    }
}

#[tokio::test]
async fn twenty_redirects_are_followed() {
    let (result, seen) = run(
        FollowRedirectLayer::new(),
        chain(20),
        get("http://a.test/r/0"),
    )
    .await;
    let response = result.expect("20 redirects are allowed");
    assert_eq!(response.status(), 200);
    assert_eq!(seen.len(), 21);
    assert_eq!(effective_uri(&response), "http://a.test/r/20");
    let history = response
        .extensions()
        .get::<RedirectHistory>()
        .expect("history");
    assert_eq!(history.len(), 20);
}

#[tokio::test]
async fn the_twenty_first_redirect_fails_with_the_history() {
    let (result, seen) = run(
        FollowRedirectLayer::new(),
        chain(21),
        get("http://a.test/r/0"),
    )
    .await;
    let err = result.expect_err("21 redirects are too many");
    let too_many = err
        .downcast_ref::<TooManyRedirects>()
        .expect("TooManyRedirects");
    assert_eq!(too_many.limit(), 20);
    assert_eq!(seen.len(), 21, "the 21st target is never requested");
    let history = too_many.history();
    assert_eq!(history.len(), 21);
    for (i, hop) in history.iter().enumerate() {
        assert_eq!(hop.uri().path(), format!("/r/{i}"));
        assert_eq!(hop.status(), StatusCode::FOUND);
    }
    assert_eq!(history.hops()[20].location().expect("location"), "/r/21");
    assert_eq!(err.to_string(), "too many redirects: the limit is 20");
}

#[tokio::test]
async fn a_two_uri_loop_ends_in_too_many_redirects() {
    let (result, seen) = run(
        FollowRedirectLayer::with_policy(BrowserLike),
        |req| match req.uri.path() {
            "/a" => redirect(302, "/b"),
            _ => redirect(302, "http://a.test/a"),
        },
        get("http://a.test/a"),
    )
    .await;
    let err = result.expect_err("a loop");
    assert!(err.is::<TooManyRedirects>());
    assert_eq!(seen.len(), 21);
}

#[tokio::test]
async fn the_limit_is_a_setting() {
    let layer = || FollowRedirectLayer::new().max_redirects(2);
    let (result, _) = run(layer(), chain(2), get("http://a.test/r/0")).await;
    assert_eq!(result.expect("two").status(), 200);
    let (result, seen) = run(layer(), chain(3), get("http://a.test/r/0")).await;
    assert_eq!(
        result
            .expect_err("three")
            .downcast_ref::<TooManyRedirects>()
            .map(|e| e.limit()),
        Some(2)
    );
    assert_eq!(seen.len(), 3);
    // Zero: the first redirect the policy would follow fails; others pass as they are.
    let (result, seen) = run(
        FollowRedirectLayer::new().max_redirects(0),
        chain(1),
        get("http://a.test/r/0"),
    )
    .await;
    assert!(result.expect_err("zero").is::<TooManyRedirects>());
    assert_eq!(seen.len(), 1);
    let post = Request::post("http://a.test/r/0")
        .body(Body::empty())
        .expect("request");
    let (result, _) = run(FollowRedirectLayer::new().max_redirects(0), chain(1), post).await;
    assert_eq!(result.expect("Strict hands a POST back").status(), 302);
}

// ---------------------------------------------------------------------------------
// Where redirects go
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn location_resolves_against_the_current_hop() {
    let (result, seen) = run(
        FollowRedirectLayer::new(),
        |req| match req.uri.path() {
            _ if req.uri.query() == Some("q=2") => redirect(307, "//b.test/p/./q/../r#frag"),
            "/a/b/c" => redirect(301, "../x y/caf\u{e9}?q=1"),
            "/a/x%20y/caf%C3%A9" => redirect(302, "?q=2"),
            "/p/r" => redirect(308, "s"),
            _ => ok("end"),
        },
        get("http://a.test/a/b/c"),
    )
    .await;
    let response = result.expect("response");
    let uris: Vec<String> = seen.iter().map(|s| s.uri.to_string()).collect();
    assert_eq!(
        uris,
        [
            "http://a.test/a/b/c",
            "http://a.test/a/x%20y/caf%C3%A9?q=1",
            "http://a.test/a/x%20y/caf%C3%A9?q=2",
            "http://b.test/p/r",
            "http://b.test/p/s",
        ]
    );
    assert_eq!(effective_uri(&response), "http://b.test/p/s");
    let history = response
        .extensions()
        .get::<RedirectHistory>()
        .expect("history");
    assert_eq!(
        history.fragment(),
        Some("frag"),
        "inherited by the last hop"
    );
}

#[tokio::test]
async fn a_non_http_target_is_an_error() {
    for location in [
        "ftp://files.test/f",
        "file:///etc/passwd",
        "javascript:alert(1)",
    ] {
        let (result, seen) = run(
            FollowRedirectLayer::new(),
            move |_| redirect(302, location),
            get("https://a.test/"),
        )
        .await;
        let err = result.expect_err(location);
        let unsupported = err
            .downcast_ref::<UnsupportedScheme>()
            .expect("UnsupportedScheme");
        assert_eq!(unsupported.from(), "https://a.test/");
        assert!(location.starts_with(unsupported.scheme()));
        assert_eq!(seen.len(), 1);
    }
    let err = UnsupportedScheme::new(
        "ftp".into(),
        Uri::from_static("http://a.test/"),
        Default::default(),
    );
    assert_eq!(
        err.to_string(),
        "redirect to a `ftp:` URI: only http and https are followed"
    );
}

// ---------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------

fn with_credentials(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header(AUTHORIZATION, "Basic c2VjcmV0")
        .header("proxy-authorization", "Basic cHJveHk=")
        .header(COOKIE, "session=1")
        .header("x-api-key", "k")
        .header("x-other", "kept")
        .body(Body::empty())
        .expect("request")
}

const CREDENTIALS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
];

fn has_credentials(seen: &Seen) -> Vec<&'static str> {
    CREDENTIALS
        .into_iter()
        .filter(|name| seen.headers.contains_key(*name))
        .collect()
}

/// Follows `first` → `locations`… and returns which credential headers each hop got.
async fn credentials_per_hop<P>(
    layer: FollowRedirectLayer<P>,
    first: &str,
    locations: &[&str],
) -> Vec<Vec<&'static str>>
where
    P: Policy + Clone + Send + Sync + 'static,
{
    let locations: Vec<String> = locations.iter().map(|s| s.to_string()).collect();
    let layer = layer.sensitive_header(HeaderName::from_static("x-api-key"));
    let hops = Arc::new(AtomicUsize::new(0));
    let (result, seen) = run(
        layer,
        move |_| {
            let n = hops.fetch_add(1, Ordering::SeqCst);
            match locations.get(n) {
                Some(location) => redirect(307, location),
                None => ok("end"),
            }
        },
        with_credentials(first),
    )
    .await;
    assert_eq!(result.expect("followed").status(), 200);
    for hop in &seen {
        assert_eq!(
            hop.headers["x-other"], "kept",
            "non-credentials always stay"
        );
    }
    seen.iter().map(has_credentials).collect()
}

#[tokio::test]
async fn credentials_stay_on_the_first_origin() {
    let all = CREDENTIALS.to_vec();
    let got = credentials_per_hop(
        FollowRedirectLayer::new(),
        "http://a.test/1",
        &["/2", "http://A.TEST:80/3", "//a.test/4"],
    )
    .await;
    assert_eq!(got, vec![all.clone(), all.clone(), all.clone(), all]);
}

#[tokio::test]
async fn credentials_go_when_the_origin_changes_and_stay_gone() {
    let all = CREDENTIALS.to_vec();
    let none: Vec<&str> = Vec::new();
    let cases: [(&str, &[&str]); 5] = [
        // Another host.
        ("http://a.test/", &["http://b.test/"]),
        // Same host, other port.
        ("http://a.test/", &["http://a.test:8080/"]),
        // Same host, other scheme (upgrade).
        ("http://a.test/", &["https://a.test/"]),
        // https to http (downgrade), followed by default.
        ("https://a.test/", &["http://a.test/"]),
        // A → B → A: gone on B and on the way back.
        (
            "http://a.test/",
            &["http://b.test/", "http://a.test/back", "/again"],
        ),
    ];
    for (first, locations) in cases {
        let got = credentials_per_hop(FollowRedirectLayer::new(), first, locations).await;
        assert_eq!(got[0], all, "{first}: the first hop has them");
        for (i, hop) in got.iter().enumerate().skip(1) {
            assert_eq!(*hop, none, "{first} → {locations:?}: hop {i}");
        }
    }
}

#[tokio::test]
async fn an_https_to_http_downgrade_can_be_refused() {
    let (result, seen) = run(
        FollowRedirectLayer::new().https_downgrade(false),
        |_| redirect(302, "http://a.test/plain"),
        with_credentials("https://a.test/secure"),
    )
    .await;
    let err = result.expect_err("refused");
    let refused = err
        .downcast_ref::<DowngradeRefused>()
        .expect("DowngradeRefused");
    assert_eq!(refused.from(), "https://a.test/secure");
    assert_eq!(refused.to(), "http://a.test/plain");
    assert_eq!(err.to_string(), "redirect from https to plain http refused");
    assert_eq!(seen.len(), 1, "nothing sent over http");

    // Only downgrades are refused.
    let (result, _) = run(
        FollowRedirectLayer::new().https_downgrade(false),
        |req| match req.uri.scheme_str() {
            Some("http") => redirect(302, "https://a.test/secure"),
            _ => ok("end"),
        },
        get("http://a.test/plain"),
    )
    .await;
    assert_eq!(result.expect("upgrade followed").status(), 200);
}

#[tokio::test]
async fn a_host_header_goes_when_the_authority_changes() {
    let request = || {
        Request::get("http://a.test/")
            .header(HOST, "a.test")
            .body(Body::empty())
            .expect("request")
    };
    let (_, seen) = run(
        FollowRedirectLayer::new(),
        |req| match req.uri.path() {
            "/" => redirect(302, "/same"),
            _ => ok("end"),
        },
        request(),
    )
    .await;
    assert_eq!(seen[1].headers[HOST], "a.test");
    let (_, seen) = run(
        FollowRedirectLayer::new(),
        |req| match req.uri.host() {
            Some("a.test") => redirect(302, "http://b.test/"),
            _ => ok("end"),
        },
        request(),
    )
    .await;
    assert!(!seen[1].headers.contains_key(HOST));
}

// ---------------------------------------------------------------------------------
// History, extensions, policies
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn history_and_effective_uri_after_three_hops() {
    let (result, _) = run(
        FollowRedirectLayer::with_policy(BrowserLike),
        |req| {
            let (status, location) = match req.uri.path() {
                "/one" => (301, "/two"),
                "/two" => (302, "http://b.test/three"),
                "/three" => (303, "/four#done"),
                _ => return ok("end"),
            };
            let mut response = redirect(status, location);
            response
                .headers_mut()
                .insert("set-cookie", HeaderValue::from_static("hop=1"));
            response
        },
        Request::post("http://a.test/one")
            .body(Body::from("data"))
            .expect("request"),
    )
    .await;
    let response = result.expect("response");
    assert_eq!(effective_uri(&response), "http://b.test/four");
    let history = response
        .extensions()
        .get::<RedirectHistory>()
        .expect("history");
    assert_eq!(
        history.original_uri().map(Uri::to_string).as_deref(),
        Some("http://a.test/one")
    );
    let hops: Vec<(String, String, u16, String)> = history
        .iter()
        .map(|hop| {
            (
                hop.method().to_string(),
                hop.uri().to_string(),
                hop.status().as_u16(),
                hop.location()
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        hops,
        [
            (
                "POST".into(),
                "http://a.test/one".into(),
                301,
                "/two".into()
            ),
            (
                "GET".into(),
                "http://a.test/two".into(),
                302,
                "http://b.test/three".into()
            ),
            (
                "GET".into(),
                "http://b.test/three".into(),
                303,
                "/four#done".into()
            ),
        ]
    );
    assert!(
        history
            .iter()
            .all(|hop| hop.headers()["set-cookie"] == "hop=1")
    );
    assert_eq!(history.fragment(), Some("done"));
}

#[tokio::test]
async fn extensions_reach_every_hop_and_effective_uri_is_overwritten() {
    let service = tower::service_fn(|request: Request<Body>| async move {
        let mut response = match request.uri().path() {
            "/start" => redirect(302, "/end"),
            _ => ok("end"),
        };
        // As the connector does: the URI of this hop, and the marker it saw.
        response
            .extensions_mut()
            .insert(EffectiveUri(Uri::from_static("http://stale.test/")));
        if let Some(marker) = request.extensions().get::<Marker>() {
            response.extensions_mut().insert(*marker);
        }
        Ok::<_, BoxError>(response)
    });
    let mut request = get("http://a.test/start");
    request.extensions_mut().insert(Marker(7));
    let response = FollowRedirect::new(service)
        .oneshot(request)
        .await
        .expect("response");
    assert_eq!(effective_uri(&response), "http://a.test/end");
    assert_eq!(response.extensions().get::<Marker>(), Some(&Marker(7)));
}

#[tokio::test]
async fn a_closure_policy() {
    // Follows browser-like, but only within a.test, and counts what it was asked.
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    let policy = policy::from_fn(move |attempt: &Attempt<'_>| {
        counter.fetch_add(1, Ordering::SeqCst);
        if attempt.location().host() == Some("a.test") {
            BrowserLike.redirect(attempt)
        } else {
            Action::Stop
        }
    });
    let (result, seen) = run(
        FollowRedirectLayer::with_policy(policy.clone()),
        |req| match req.uri.path() {
            "/1" => redirect(302, "/2"),
            _ => redirect(302, "http://b.test/3"),
        },
        get("http://a.test/1"),
    )
    .await;
    let response = result.expect("response");
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()[LOCATION], "http://b.test/3");
    assert_eq!(seen.len(), 2);
    assert_eq!(asked.load(Ordering::SeqCst), 2);

    // A policy may fail the request with its own error.
    let failing = policy::from_fn(|attempt: &Attempt<'_>| {
        Action::Fail(format!("no redirects from {}", attempt.uri()).into())
    });
    let (result, _) = run(
        FollowRedirectLayer::with_policy(failing),
        |_| redirect(301, "/x"),
        get("http://a.test/"),
    )
    .await;
    assert_eq!(
        result.expect_err("failed").to_string(),
        "no redirects from http://a.test/"
    );
}

#[tokio::test]
async fn a_policy_keeps_state_per_request_and_sees_each_hop() {
    /// Follows at most two redirects, counted in the policy, and adds a `Referer`.
    #[derive(Clone, Debug, Default)]
    struct TwoThenStop {
        seen: Vec<(u16, usize)>,
    }
    impl Policy for TwoThenStop {
        fn redirect(&mut self, attempt: &Attempt<'_>) -> Action {
            self.seen
                .push((attempt.status().as_u16(), attempt.redirects()));
            assert_eq!(attempt.headers()[LOCATION], attempt.location().path());
            if self.seen.len() > 2 {
                Action::Stop
            } else {
                Action::Follow
            }
        }
        fn on_follow(&mut self, uri: &Uri, headers: &mut HeaderMap) {
            let value =
                HeaderValue::from_str(&format!("towline-test {}", uri.path())).expect("value");
            headers.insert("x-next", value);
        }
    }
    let layer = FollowRedirectLayer::with_policy(TwoThenStop::default());
    let (service, log) = fake(chain(10));
    let mut service = layer.layer(service);
    for _ in 0..2 {
        // The same service, twice: each request starts with a fresh policy.
        let response = service
            .ready()
            .await
            .expect("ready")
            .call(get("http://a.test/r/0"))
            .await
            .expect("response");
        assert_eq!(response.status(), 302);
        assert_eq!(response.headers()[LOCATION], "/r/3");
    }
    let seen = seen(&log);
    assert_eq!(seen.len(), 6);
    assert!(!seen[0].headers.contains_key("x-next"));
    assert_eq!(seen[2].headers["x-next"], "towline-test /r/2");
    assert_eq!(
        seen[3].uri, "http://a.test/r/0",
        "the second request starts over"
    );
    assert!(!seen[3].headers.contains_key("x-next"));
}

#[tokio::test]
async fn the_next_hop_waits_for_the_inner_service_to_be_ready() {
    let (mut service, mut handle) =
        mock::spawn_layer::<Request<Body>, Response<String>, _>(FollowRedirectLayer::new());
    handle.allow(1);
    assert_ready_ok!(service.poll_ready());
    let mut future = task::spawn(service.call(get("http://a.test/1")));
    assert_pending!(future.poll());
    let (first, respond) = handle.next_request().await.expect("first hop");
    assert_eq!(first.uri(), "http://a.test/1");
    respond.send_response(redirect(302, "/2"));
    assert_pending!(future.poll());
    assert!(
        handle.poll_request().is_pending(),
        "not sent before the service is ready"
    );
    handle.allow(1);
    assert_pending!(future.poll());
    let (second, respond) = handle.next_request().await.expect("second hop");
    assert_eq!(second.uri(), "http://a.test/2");
    respond.send_response(ok("end"));
    let response = assert_ready_ok!(future.poll());
    assert_eq!(response.body(), "end");
}

#[tokio::test]
async fn inner_errors_pass_through() {
    let (mut service, mut handle) =
        mock::spawn_layer::<Request<Body>, Response<String>, _>(FollowRedirectLayer::new());
    assert_ready_ok!(service.poll_ready());
    let mut future = task::spawn(service.call(get("http://a.test/1")));
    assert_pending!(future.poll());
    let (_, respond) = handle.next_request().await.expect("request");
    respond.send_error(Error::new(Kind::Connect, None));
    let Err(err) = future.await else {
        panic!("expected an error")
    };
    assert!(err.downcast_ref::<Error>().is_some_and(Error::is_connect));
}

#[test]
fn towline_errors_know_redirect_failures() {
    let too_many = TooManyRedirects::new(20, RedirectHistory::default());
    let err = Error::new(Kind::Request, Some(Box::new(too_many)));
    assert!(err.is_redirect(), "found in the source chain");
    let boxed: BoxError = Box::new(DowngradeRefused::new(
        Uri::from_static("https://a.test/"),
        Uri::from_static("http://a.test/"),
        Default::default(),
    ));
    let err = Error::from_boxed(boxed, Kind::Redirect);
    assert!(err.is_redirect());
    assert_eq!(err.to_string(), "redirect failed");
    assert_eq!(
        err.report().to_string(),
        "redirect failed: redirect from https to plain http refused"
    );
    assert!(!Error::new(Kind::Connect, None).is_redirect());
}

#[test]
fn the_layer_is_a_cheap_clone() {
    fn assert_clone_send_sync<T: Clone + Send + Sync + 'static>() {}
    assert_clone_send_sync::<FollowRedirectLayer>();
    assert_clone_send_sync::<FollowRedirectLayer<BrowserLike>>();
    assert_clone_send_sync::<RedirectHistory>();
    assert_eq!(std::mem::size_of::<Strict>(), 0);
}

/// A stack whose request body is boxed (as with tower-http and hyper-util) can use the
/// layer: a 303 is followed as GET with an empty body, and a 307, which would need the
/// body again, is handed back.
#[tokio::test]
async fn a_boxed_request_body_is_followed_when_it_need_not_be_replayed() {
    use http_body_util::BodyExt;
    use http_body_util::combinators::BoxBody;

    type Boxed = BoxBody<Bytes, std::convert::Infallible>;
    let log = Arc::new(Mutex::new(Vec::<(Method, String, Bytes)>::new()));
    let record = Arc::clone(&log);
    let inner = tower::service_fn(move |request: Request<Boxed>| {
        let log = Arc::clone(&record);
        async move {
            let (parts, body) = request.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let path = parts.uri.path().to_owned();
            log.lock()
                .expect("log")
                .push((parts.method, path.clone(), body));
            Ok::<_, BoxError>(match path.as_str() {
                "/see-other" => redirect(303, "/done"),
                "/temporary" => redirect(307, "/done"),
                _ => Response::new("done".to_owned()),
            })
        }
    });
    let service = FollowRedirectLayer::new().layer(inner);
    let post = |path: &str| {
        Request::post(format!("http://h.test{path}"))
            .body(http_body_util::Full::new(Bytes::from_static(b"payload")).boxed())
            .expect("request")
    };

    let response = service
        .clone()
        .oneshot(post("/see-other"))
        .await
        .expect("followed");
    assert_eq!(response.status(), StatusCode::OK);
    let response = service
        .clone()
        .oneshot(post("/temporary"))
        .await
        .expect("handed back");
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);

    let log = log.lock().expect("log").clone();
    let payload = Bytes::from_static(b"payload");
    assert_eq!(
        log,
        vec![
            (Method::POST, "/see-other".to_owned(), payload.clone()),
            (Method::GET, "/done".to_owned(), Bytes::new()),
            (Method::POST, "/temporary".to_owned(), payload),
        ]
    );
}

#[tokio::test]
async fn two_locations_must_agree() {
    let two = |a: &'static str, b: &'static str| {
        move |req: &Seen| match req.uri.path() {
            "/x" => Response::builder()
                .status(302)
                .header(LOCATION, a)
                .header(LOCATION, b)
                .body(String::new())
                .expect("response"),
            _ => Response::new(String::from("arrived")),
        }
    };
    // Two different values: refused, as browsers refuse them, and nothing is sent.
    let (result, seen) = run(
        FollowRedirectLayer::with_policy(BrowserLike),
        two("/a", "/b"),
        get("http://u:SECRET@a.test/x"),
    )
    .await;
    let err = result.expect_err("ambiguous");
    let conflict = err
        .downcast_ref::<ConflictingLocations>()
        .expect("ConflictingLocations");
    assert_eq!(conflict.from(), "http://u:SECRET@a.test/x");
    assert!(!format!("{conflict:?}").contains("SECRET"));
    assert_eq!(seen.len(), 1);
    let err = Error::from_service(err);
    assert!(err.is_redirect(), "{err}");

    // The same value twice (spaces aside): followed.
    let (result, seen) = run(
        FollowRedirectLayer::with_policy(BrowserLike),
        two("/a", " /a "),
        get("http://a.test/x"),
    )
    .await;
    let response = result.expect("followed");
    assert_eq!(response.body(), "arrived");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].uri, "http://a.test/a");
}

#[tokio::test]
async fn locations_are_read_as_browsers_read_them() {
    let cases = [
        (
            "http://B\u{fc}cher.example/",
            "http://xn--bcher-kva.example/",
        ),
        ("/a/./b/../c d", "http://a.test/a/c%20d"),
        ("\\\\other.test\\p", "http://other.test/p"),
        // Same scheme as the base, one slash: a path, as in browsers.
        ("http:/other.test/p", "http://a.test/other.test/p"),
        ("https:/other.test/p", "https://other.test/p"),
        ("http:///other.test/p", "http://other.test/p"),
        ("//0x7f.1:8080/", "http://127.0.0.1:8080/"),
        (
            "HTTP://Other.TEST:80/?q=\u{e9}",
            "http://other.test/?q=%C3%A9",
        ),
    ];
    for (location, expected) in cases {
        let (result, seen) = run(
            FollowRedirectLayer::with_policy(BrowserLike),
            move |req: &Seen| match req.uri.path() {
                "/x" => Response::builder()
                    .status(301)
                    .header(
                        LOCATION,
                        HeaderValue::from_bytes(location.as_bytes()).expect("value"),
                    )
                    .body(String::new())
                    .expect("response"),
                _ => Response::new(String::from("arrived")),
            },
            get("http://a.test/x"),
        )
        .await;
        result.expect("followed");
        assert_eq!(seen.len(), 2, "{location}");
        assert_eq!(seen[1].uri, expected, "{location}");
    }
}

/// What a policy, the history and the errors show of a hop holds no secret, with the
/// request's own `Redaction` (a request extension) applied.
#[tokio::test]
async fn attempts_history_and_errors_show_no_secret() {
    let shown = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = Arc::clone(&shown);
    let policy = policy::from_fn(move |attempt: &Attempt<'_>| {
        record.lock().expect("shown").push(format!("{attempt:?}"));
        BrowserLike.redirect(attempt)
    });
    let mut request = get("http://TOKEN@a.test/1?session=SECRET&page=2");
    request
        .extensions_mut()
        .insert(crate::redact::Redaction::new().with_params(["session"]));
    let (result, seen) = run(
        FollowRedirectLayer::with_policy(policy).max_redirects(1),
        |req| match req.uri.path() {
            "/1" => redirect(302, "/2?access_token=SECRET"),
            _ => redirect(302, "http://u:SECRET@b.test/3?sig=SECRET"),
        },
        request,
    )
    .await;
    let err = result.expect_err("two redirects, a limit of one");
    let too_many = err.downcast_ref::<TooManyRedirects>().expect("too many");
    let shown = shown.lock().expect("shown").clone();
    assert_eq!(shown.len(), 2);
    assert!(
        shown[0].contains("uri: http://***@a.test/1?session=***&page=2"),
        "{}",
        shown[0]
    );
    for text in shown
        .iter()
        .cloned()
        .chain([format!("{err:?}"), format!("{:#?}", too_many.history())])
    {
        assert!(
            !text.contains("SECRET") && !text.contains("TOKEN"),
            "{text}"
        );
    }
    // The wire and the accessors keep the caller's URI.
    assert_eq!(seen[0].uri, "http://TOKEN@a.test/1?session=SECRET&page=2");
    assert_eq!(
        too_many.history().hops()[1]
            .location()
            .map(|l| l.as_bytes()),
        Some(&b"http://u:SECRET@b.test/3?sig=SECRET"[..])
    );
}
