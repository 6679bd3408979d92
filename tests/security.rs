//! Security properties of the whole `towline::Client` (every layer on), against
//! loopback servers that record what reached them:
//!
//! 1. the redirect credential matrix: caller-set `Authorization`, `Cookie` and
//!    `Proxy-Authorization`, a default `Authorization`, and jar cookies, across
//!    same-origin, other-host-name, other-port, https → http, http → https and
//!    back-again redirects, for both redirect policies and every redirect status;
//! 2. proxy credentials reach the proxy (tinyproxy from Debian, or a recording fake)
//!    and never an origin; userinfo in an origin URI is never sent anywhere;
//! 3. cookie scoping against hostile `Set-Cookie` headers;
//! 4. the TLS failure matrix, and `danger_accept_invalid_certs` as the only switch
//!    that accepts bad certificates;
//! 5. CR, LF and NUL refused at every entry point, and an encoded CRLF in `Location`
//!    kept encoded;
//! 6. decompression bombs stopped at the decoded limit.
//!
//! Every assertion is on what the servers recorded or on the error the client
//! returned; every wait is bounded.

#[allow(dead_code)]
#[path = "support/proxies.rs"]
mod proxies;

use std::future::Future;
use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder};
use http::header::{
    AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderName, HeaderValue, PROXY_AUTHORIZATION,
};
use http::{Method, StatusCode};
use towline::client::{Client, ClientBuilder, RedirectPolicy, RequestBuilder};
use towline::decompress::{DecodeError, DecodeErrorKind, DecodedTooLarge};
use towline::proxy::{ProxyError, ProxyLayer, ProxyServer};
use towline::tls::{TlsConfig, TlsConfigBuilder, TlsVersion};
use towline::{Error, Response};
use towline_test::rustls;
use towline_test::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use towline_test::tls::TestCa;
use towline_test::{RecordedRequest, Reply, TestServer};

/// The longest any one exchange may take before the test fails.
const WAIT: Duration = Duration::from_secs(30);

/// Awaits `future`, failing the test if it takes longer than [`WAIT`].
async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: no answer within {WAIT:?}"),
    }
}

async fn send(what: &str, request: RequestBuilder) -> Result<Response, Error> {
    bounded(what, request.send()).await
}

/// Sends and reads the whole body, failing the test on any error.
async fn fetch(what: &str, request: RequestBuilder) -> (StatusCode, String) {
    let response = send(what, request)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = response.status();
    let body = bounded(what, response.text())
        .await
        .unwrap_or_else(|e| panic!("{what}: reading the body: {e}"));
    (status, body)
}

/// The first cause of type `E` in the error's `source()` chain.
fn cause<E: std::error::Error + 'static>(err: &Error) -> Option<&E> {
    let mut next = std::error::Error::source(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// A port known once its server has started, for handlers that point to it.
type Later = Arc<OnceLock<u16>>;

fn port(later: &Later) -> u16 {
    *later.get().expect("the server has started")
}

/// The requests `server` recorded with exactly this target.
fn recorded(server: &TestServer, target: &str) -> Vec<RecordedRequest> {
    server
        .requests()
        .into_iter()
        .filter(|r| r.target == target)
        .collect()
}

fn trusting(ca_pem: &str) -> TlsConfigBuilder {
    TlsConfig::builder().add_root_pem(ca_pem.as_bytes())
}

/// Whether `needle` appears in the request's target or in any of its header values.
fn request_contains(req: &RecordedRequest, needle: &str) -> bool {
    req.headers
        .iter()
        .any(|(_, v)| String::from_utf8_lossy(v).contains(needle))
        || req.target.contains(needle)
}

// =================================================================================
// 1. The redirect credential matrix
// =================================================================================

const BEARER: &str = "Bearer secret-token";
/// `basic_auth("user", Some("pass"))`.
const BASIC: &str = "Basic dXNlcjpwYXNz";
const DEFAULT_AUTH: &str = "Bearer default-token";
const CALLER_COOKIE: &str = "caller=secret";
const CALLER_PROXY_AUTH: &str = "Basic Y2FsbGVyOm93bg==";

/// Which credentials a request carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Creds {
    /// `bearer_auth`, a `Cookie` header and a `Proxy-Authorization` header of the
    /// caller's own; an empty jar.
    CallerHeaders,
    /// `basic_auth`, and a cookie the first origin set in the jar.
    BasicAndJar,
    /// The caller's headers and a jar cookie: the caller's `Cookie` hides the jar's on
    /// the first origin.
    Everything,
    /// An `Authorization` among the client's default headers, and a jar cookie.
    DefaultHeader,
}

const ALL_CREDS: [Creds; 4] = [
    Creds::CallerHeaders,
    Creds::BasicAndJar,
    Creds::Everything,
    Creds::DefaultHeader,
];

impl Creds {
    fn authorization(self) -> &'static str {
        match self {
            Creds::CallerHeaders | Creds::Everything => BEARER,
            Creds::BasicAndJar => BASIC,
            Creds::DefaultHeader => DEFAULT_AUTH,
        }
    }

    fn caller_cookie(self) -> bool {
        matches!(self, Creds::CallerHeaders | Creds::Everything)
    }

    fn jar(self) -> bool {
        !matches!(self, Creds::CallerHeaders)
    }

    fn apply(self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Creds::CallerHeaders | Creds::Everything => request
                .bearer_auth("secret-token")
                .header(COOKIE, CALLER_COOKIE)
                .header(PROXY_AUTHORIZATION, CALLER_PROXY_AUTH),
            Creds::BasicAndJar => request.basic_auth("user", Some("pass")),
            Creds::DefaultHeader => request,
        }
    }
}

/// The `Cookie` header a hop must carry: the caller's until the chain has left the
/// first origin, else the jar's for the hop's host (the jar's cookies are host-only
/// cookies of 127.0.0.1: `jar=a` from either first origin, and `jar_secure=a; Secure`
/// when the first origin was https, sent over https only).
fn expected_cookie(
    creds: Creds,
    stripped: bool,
    host: &str,
    https: bool,
    first_https: bool,
) -> Option<&'static str> {
    if !stripped && creds.caller_cookie() {
        return Some(CALLER_COOKIE);
    }
    if !creds.jar() || host != "127.0.0.1" {
        return None;
    }
    Some(if https && first_https {
        "jar=a; jar_secure=a"
    } else {
        "jar=a"
    })
}

/// The method the next hop uses, or `None` when the policy hands the redirect back
/// (the table of `towline::redirect::policy`).
fn next_method(policy: RedirectPolicy, method: &Method, status: u16) -> Option<Method> {
    let get_or_head = *method == Method::GET || *method == Method::HEAD;
    match (policy, status) {
        (_, 303) if *method == Method::HEAD => Some(Method::HEAD),
        (_, 303) => Some(Method::GET),
        (RedirectPolicy::Strict, _) if get_or_head => Some(method.clone()),
        (RedirectPolicy::Strict, _) => None,
        (RedirectPolicy::BrowserLike, 301 | 302) if *method == Method::POST => Some(Method::GET),
        (RedirectPolicy::BrowserLike, _) => Some(method.clone()),
        (other, _) => panic!("no expectation for {other:?}"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Srv {
    /// http://127.0.0.1:A, the usual first origin (also reached as localhost:A).
    A,
    /// http://127.0.0.1:B (also reached as localhost:B).
    B,
    /// https://127.0.0.1:C, the first origin of the https cases.
    C,
}

/// Where a redirect chain goes from its first origin.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// A → A.
    SameOrigin,
    /// https C → https C.
    HttpsSameOrigin,
    /// 127.0.0.1:A → localhost:A: the same server under another host name.
    OtherHostName,
    /// 127.0.0.1:A → 127.0.0.1:B.
    OtherPort,
    /// https://127.0.0.1:C → http://127.0.0.1:B.
    Downgrade,
    /// http://127.0.0.1:A → https://127.0.0.1:C: another scheme the other way.
    Upgrade,
    /// 127.0.0.1:A → localhost:B → 127.0.0.1:A.
    BackOnFirstOrigin,
}

/// One hop after the first request.
struct Hop {
    srv: Srv,
    prefix: &'static str,
    host: &'static str,
    https: bool,
    leaves_first_origin: bool,
}

impl Hop {
    fn target(&self, status: u16, case: usize) -> String {
        match self.prefix {
            "/bounce" => format!("/bounce/{status}/{case}"),
            prefix => format!("{prefix}/{case}"),
        }
    }
}

impl Target {
    fn first(self) -> Srv {
        match self {
            Target::HttpsSameOrigin | Target::Downgrade => Srv::C,
            _ => Srv::A,
        }
    }

    /// The destination the first origin's `/start/…` redirect names.
    fn dest(self) -> &'static str {
        match self {
            Target::SameOrigin | Target::HttpsSameOrigin => "same",
            Target::OtherHostName => "host",
            Target::OtherPort => "port",
            Target::Downgrade => "downgrade",
            Target::Upgrade => "upgrade",
            Target::BackOnFirstOrigin => "back",
        }
    }

    fn hops(self) -> Vec<Hop> {
        let hop = |srv, prefix, host, https, leaves_first_origin| Hop {
            srv,
            prefix,
            host,
            https,
            leaves_first_origin,
        };
        match self {
            Target::SameOrigin => vec![hop(Srv::A, "/landed", "127.0.0.1", false, false)],
            Target::HttpsSameOrigin => vec![hop(Srv::C, "/landed", "127.0.0.1", true, false)],
            Target::OtherHostName => vec![hop(Srv::A, "/landed", "localhost", false, true)],
            Target::OtherPort | Target::Downgrade => {
                vec![hop(Srv::B, "/landed", "127.0.0.1", false, true)]
            }
            Target::Upgrade => vec![hop(Srv::C, "/landed", "127.0.0.1", true, true)],
            Target::BackOnFirstOrigin => vec![
                hop(Srv::B, "/bounce", "localhost", false, true),
                hop(Srv::A, "/home", "127.0.0.1", false, false),
            ],
        }
    }
}

/// The three origins of the matrix, sharing one handler.
struct Origins {
    ca: TestCa,
    a: TestServer,
    b: TestServer,
    c: TestServer,
}

#[derive(Default)]
struct Ports {
    a: Later,
    b: Later,
    c: Later,
}

/// `/login` sets the jar's cookies (`jar_secure` is refused over http, as it must be);
/// `/start/STATUS/DEST/CASE` redirects with STATUS to DEST (see [`Target`]); `/bounce/STATUS/CASE`
/// redirects back to A; anything else lands.
fn matrix_handler(req: &RecordedRequest, ports: &Ports) -> Reply {
    let segments: Vec<&str> = req.path().split('/').collect();
    let status = |s: &str| s.parse::<u16>().expect("a status in the path");
    match segments.as_slice() {
        ["", "login"] => Reply::text("logged in")
            .header("Set-Cookie", "jar=a; Path=/")
            .header("Set-Cookie", "jar_secure=a; Path=/; Secure"),
        ["", "start", code, dest, case] => {
            let location = match *dest {
                "same" => format!("/landed/{case}"),
                "host" => format!("http://localhost:{}/landed/{case}", port(&ports.a)),
                "port" | "downgrade" => {
                    format!("http://127.0.0.1:{}/landed/{case}", port(&ports.b))
                }
                "upgrade" => format!("https://127.0.0.1:{}/landed/{case}", port(&ports.c)),
                "back" => format!("http://localhost:{}/bounce/{code}/{case}", port(&ports.b)),
                other => panic!("unknown destination {other}"),
            };
            Reply::new(status(code)).header("Location", location)
        }
        ["", "bounce", code, case] => Reply::new(status(code)).header(
            "Location",
            format!("http://127.0.0.1:{}/home/{case}", port(&ports.a)),
        ),
        _ => Reply::text("landed"),
    }
}

impl Origins {
    async fn start() -> Origins {
        let ports = Arc::new(Ports::default());
        let handler = |ports: &Arc<Ports>| {
            let ports = Arc::clone(ports);
            move |req: &RecordedRequest| matrix_handler(req, &ports)
        };
        let a = TestServer::start(handler(&ports)).await;
        let b = TestServer::start(handler(&ports)).await;
        ports.a.set(a.addr().port()).expect("once");
        ports.b.set(b.addr().port()).expect("once");
        let ca = TestCa::new();
        let c = TestServer::builder()
            .handler(handler(&ports))
            .tls(&ca.leaf(&["127.0.0.1", "localhost"]))
            .start()
            .await
            .expect("https origin");
        ports.c.set(c.addr().port()).expect("once");
        Origins { ca, a, b, c }
    }

    fn server(&self, srv: Srv) -> &TestServer {
        match srv {
            Srv::A => &self.a,
            Srv::B => &self.b,
            Srv::C => &self.c,
        }
    }

    fn builder(&self, policy: RedirectPolicy) -> ClientBuilder {
        Client::builder()
            .redirect(policy)
            .tls_config(trusting(&self.ca.cert_pem()))
    }

    fn client(&self, policy: RedirectPolicy, creds: Creds) -> Client {
        let mut builder = self.builder(policy);
        if creds == Creds::DefaultHeader {
            let mut value = HeaderValue::from_static(DEFAULT_AUTH);
            value.set_sensitive(true);
            builder = builder.default_header(AUTHORIZATION, value);
        }
        builder.build().expect("client")
    }
}

/// One request of the matrix, and what every server it reached recorded.
async fn credential_case(
    origins: &Origins,
    target: Target,
    policy: RedirectPolicy,
    status: u16,
    method: &Method,
    creds: Creds,
    case: usize,
) {
    let ctx = format!("case {case}: {target:?}, {policy:?}, {status}, {method}, {creds:?}");
    let client = origins.client(policy, creds);
    let first = origins.server(target.first());
    let first_https = target.first() == Srv::C;
    if creds.jar() {
        let (login, _) = fetch(&ctx, client.get(first.url("/login"))).await;
        assert_eq!(login, 200, "{ctx}: login");
    }

    let start = format!("/start/{status}/{}/{case}", target.dest());
    let mut request = client.request(method.clone(), first.url(&start));
    if *method == Method::POST {
        request = request.header(CONTENT_TYPE, "text/plain").body("payload");
    }
    let response = send(&ctx, creds.apply(request))
        .await
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));

    // The first origin got everything the caller meant for it, but never the caller's
    // proxy credentials.
    let seen = recorded(first, &start);
    assert_eq!(seen.len(), 1, "{ctx}: the first request");
    let req = &seen[0];
    assert_eq!(
        req.header("authorization"),
        Some(creds.authorization()),
        "{ctx}: first origin"
    );
    assert_eq!(
        req.header("cookie"),
        expected_cookie(creds, false, "127.0.0.1", first_https, first_https),
        "{ctx}: first origin"
    );
    assert_eq!(
        req.header("proxy-authorization"),
        None,
        "{ctx}: first origin"
    );

    let hops = target.hops();
    let mut method_now = method.clone();
    let mut stripped = false;
    let mut followed = 0;
    for hop in &hops {
        let path = hop.target(status, case);
        let seen = recorded(origins.server(hop.srv), &path);
        let Some(next) = next_method(policy, &method_now, status) else {
            assert!(seen.is_empty(), "{ctx}: {path} must not be requested");
            assert_eq!(response.status(), status, "{ctx}: the redirect handed back");
            break;
        };
        method_now = next;
        stripped |= hop.leaves_first_origin;
        followed += 1;
        let where_ = format!("{ctx}: hop {path} on {}", hop.host);
        assert_eq!(seen.len(), 1, "{where_}: requested once");
        let req = &seen[0];
        assert_eq!(req.method, method_now.as_str(), "{where_}: method");
        let host = req.header("host").unwrap_or_default();
        assert!(
            host.starts_with(&format!("{}:", hop.host)),
            "{where_}: Host: {host}"
        );
        if method_now == Method::POST {
            assert_eq!(req.body, b"payload", "{where_}: body resent");
        } else {
            assert!(req.body.is_empty(), "{where_}: no body");
            assert_eq!(req.header("content-type"), None, "{where_}");
        }
        assert_eq!(
            req.header("authorization"),
            (!stripped).then(|| creds.authorization()),
            "{where_}: Authorization"
        );
        assert_eq!(
            req.header("cookie"),
            expected_cookie(creds, stripped, hop.host, hop.https, first_https),
            "{where_}: Cookie"
        );
        assert_eq!(
            req.header("proxy-authorization"),
            None,
            "{where_}: Proxy-Authorization"
        );
    }
    if followed == hops.len() {
        assert_eq!(response.status(), 200, "{ctx}: landed");
        assert_eq!(
            response.history().map(|h| h.len()),
            Some(hops.len()),
            "{ctx}: history"
        );
    }
    bounded(&ctx, response.bytes())
        .await
        .unwrap_or_else(|e| panic!("{ctx}: body: {e}"));
}

/// Every policy, redirect status, method and kind of credential, towards `target`.
async fn credential_matrix(target: Target) {
    let origins = Origins::start().await;
    let mut case = 0;
    for policy in [RedirectPolicy::Strict, RedirectPolicy::BrowserLike] {
        for status in [301, 302, 303, 307, 308] {
            for method in [Method::GET, Method::POST] {
                for creds in ALL_CREDS {
                    case += 1;
                    credential_case(&origins, target, policy, status, &method, creds, case).await;
                }
            }
        }
    }
    assert_eq!(case, 80);
}

#[tokio::test]
async fn credentials_follow_a_same_origin_redirect() {
    credential_matrix(Target::SameOrigin).await;
}

#[tokio::test]
async fn credentials_follow_a_same_origin_redirect_over_https() {
    credential_matrix(Target::HttpsSameOrigin).await;
}

#[tokio::test]
async fn credentials_never_reach_another_host_name() {
    credential_matrix(Target::OtherHostName).await;
}

/// Jar cookies do reach another port of the same host: RFC 6265 §8.5, cookies do not
/// isolate by port. The caller's own credentials do not.
#[tokio::test]
async fn credentials_never_reach_another_port() {
    credential_matrix(Target::OtherPort).await;
}

/// `Secure` jar cookies stay on https; the caller's credentials stay on the https
/// origin.
#[tokio::test]
async fn credentials_never_survive_an_https_to_http_downgrade() {
    credential_matrix(Target::Downgrade).await;
}

/// A jar cookie set over http goes to https on the same host; the caller's
/// credentials do not go to the other origin.
#[tokio::test]
async fn credentials_never_survive_an_http_to_https_upgrade() {
    credential_matrix(Target::Upgrade).await;
}

/// Back on the first origin, the caller's credentials stay gone; the jar's cookies
/// for it return.
#[tokio::test]
async fn credentials_stay_gone_back_on_the_first_origin() {
    credential_matrix(Target::BackOnFirstOrigin).await;
}

#[tokio::test]
async fn a_refused_downgrade_contacts_nothing_over_http() {
    let origins = Origins::start().await;
    let client = origins
        .builder(RedirectPolicy::BrowserLike)
        .https_downgrade(false)
        .build()
        .expect("client");
    let start = "/start/302/downgrade/1";
    let request = Creds::CallerHeaders.apply(client.get(origins.c.url(start)));
    let err = send("downgrade refused", request)
        .await
        .expect_err("an https → http redirect must fail");
    assert!(err.is_redirect(), "{err}");
    assert!(
        cause::<towline::redirect::DowngradeRefused>(&err).is_some(),
        "{err:?}"
    );
    assert_eq!(recorded(&origins.c, start).len(), 1);
    assert_eq!(
        origins.b.request_count(),
        0,
        "the http origin was contacted"
    );
    assert_eq!(origins.b.connections_accepted(), 0);
}

/// A header the caller declares sensitive (an API key) is removed like
/// `Authorization` when a redirect leaves the origin; an undeclared one is not.
#[tokio::test]
async fn a_declared_sensitive_header_never_reaches_another_origin() {
    let server = TestServer::start(|req| {
        if req.path() == "/start" {
            let host = req.header("host").unwrap_or_default();
            let port = host.rsplit(':').next().unwrap_or_default();
            Reply::new(302).header("location", format!("http://localhost:{port}/landed"))
        } else {
            Reply::text("landed")
        }
    })
    .await;
    for (declared, expect_key) in [(true, None), (false, Some("k-123"))] {
        let mut builder = Client::builder();
        if declared {
            builder = builder.sensitive_header(HeaderName::from_static("x-api-key"));
        }
        let client = builder.build().expect("client");
        let before = server.request_count();
        let (status, _) = fetch(
            "sensitive header",
            client
                .get(server.url("/start"))
                .header("x-api-key", "k-123")
                .header("x-trace", "t-1"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let seen = server.requests();
        let (first, landed) = (&seen[before], &seen[before + 1]);
        assert_eq!(first.header("x-api-key"), Some("k-123"));
        assert_eq!(landed.path(), "/landed");
        assert_eq!(
            landed.header("x-api-key"),
            expect_key,
            "declared: {declared}"
        );
        assert_eq!(landed.header("x-trace"), Some("t-1"));
    }
}

// =================================================================================
// 2. Proxy credentials never at the origin; origin userinfo never sent
// =================================================================================

const PROXY_USER: &str = "towline";
/// Letters and digits only: tinyproxy's configuration takes no more.
const PROXY_PASS: &str = "s3cret";

fn proxy_client(proxy_uri: &str, ca: &TestCa) -> Client {
    let proxy = ProxyServer::parse(proxy_uri).unwrap_or_else(|e| panic!("{proxy_uri}: {e}"));
    Client::builder()
        .proxy(ProxyLayer::new(proxy))
        .tls_config(trusting(&ca.cert_pem()))
        .build()
        .expect("client")
}

/// Fails unless no request `server` recorded carries `Proxy-Authorization`.
fn assert_no_proxy_credentials(server: &TestServer, who: &str) {
    for req in server.requests() {
        assert_eq!(
            req.header("proxy-authorization"),
            None,
            "{who} received Proxy-Authorization on {} {}",
            req.method,
            req.target
        );
        assert!(
            !request_contains(&req, "dG93bGluZTpzM2NyZXQ"),
            "{who} received the proxy credentials (base64 of towline:s3cret) in {req:?}"
        );
    }
}

#[tokio::test]
#[ignore = "needs tinyproxy: ./.ci/test runs it"]
async fn proxy_credentials_reach_tinyproxy_and_never_an_origin() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["127.0.0.1", "localhost"]);
    let plain_port: Later = Arc::default();
    let plain = TestServer::start({
        let plain_port = Arc::clone(&plain_port);
        move |req| match req.path() {
            "/hop" => Reply::new(302).header(
                "Location",
                format!("http://localhost:{}/landed", port(&plain_port)),
            ),
            path => Reply::text(format!("plain {path}")),
        }
    })
    .await;
    plain_port.set(plain.addr().port()).expect("once");
    let plain_landing = plain.url("/from-https");
    let tls = TestServer::builder()
        .handler(move |req| match req.path() {
            "/down" => Reply::new(302).header("Location", plain_landing.as_str()),
            path => Reply::text(format!("tls {path}")),
        })
        .tls(&leaf)
        .start()
        .await
        .expect("https origin");
    let tiny = proxies::tinyproxy(&[tls.addr().port()], Some((PROXY_USER, PROXY_PASS)));
    let log = || tiny.log();

    // Without credentials: the CONNECT is refused with 407, a typed error, and the
    // forwarded http request gets the proxy's 407 as its response. Nothing reaches an
    // origin.
    let anonymous = proxy_client(&tiny.uri("http", None), &ca);
    let err = send("anonymous CONNECT", anonymous.get(tls.url("/secret")))
        .await
        .expect_err("the proxy wants credentials");
    assert!(err.is_proxy(), "{err}\n{}", log());
    let refused = cause::<ProxyError>(&err).expect("a ProxyError");
    assert_eq!(
        refused.status(),
        Some(StatusCode::PROXY_AUTHENTICATION_REQUIRED)
    );
    assert!(refused.is_auth_required());
    let (status, _) = fetch("anonymous http", anonymous.get(plain.url("/secret"))).await;
    assert_eq!(
        status,
        StatusCode::PROXY_AUTHENTICATION_REQUIRED,
        "{}",
        log()
    );
    assert_eq!(tls.request_count(), 0);
    assert_eq!(plain.request_count(), 0);

    // With them (percent-encoding a digit needlessly, which must decode all the same),
    // plus a Proxy-Authorization of the caller's own that must go nowhere.
    let authed = proxy_client(
        &tiny.uri("http", Some(format!("{PROXY_USER}:s%33cret").as_str())),
        &ca,
    );
    let with_caller_header = |url: String| {
        authed
            .get(url)
            .header(PROXY_AUTHORIZATION, CALLER_PROXY_AUTH)
    };
    let (status, body) = fetch("forwarded", with_caller_header(plain.url("/a"))).await;
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (200, "plain /a"),
        "{}",
        log()
    );
    let (status, body) = fetch("tunnelled", with_caller_header(tls.url("/b"))).await;
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (200, "tls /b"),
        "{}",
        log()
    );
    let (status, body) = fetch("forwarded redirect", with_caller_header(plain.url("/hop"))).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "plain /landed"));
    let (status, body) = fetch(
        "tunnel, then forwarded",
        with_caller_header(tls.url("/down")),
    )
    .await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "plain /from-https"));

    // The requests went through tinyproxy (it adds Via to what it forwards), and no
    // origin saw a proxy credential.
    let forwarded = plain.requests();
    let targets: Vec<&str> = forwarded.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(targets, ["/a", "/hop", "/landed", "/from-https"]);
    assert!(
        forwarded.iter().all(|r| r.header("via").is_some()),
        "every http request was forwarded by the proxy: {forwarded:?}"
    );
    assert!(
        forwarded[2]
            .header("host")
            .is_some_and(|h| h.starts_with("localhost:"))
    );
    let tunnelled: Vec<String> = tls.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(tunnelled, ["/b", "/down"]);
    assert_no_proxy_credentials(&plain, "the http origin");
    assert_no_proxy_credentials(&tls, "the https origin");
}

/// A proxy without authentication (tinyproxy without `BasicAuth`) forwards a
/// `Proxy-Authorization` it does not use to the origin; the client never sends the
/// caller's, so there is nothing to forward.
#[tokio::test]
#[ignore = "needs tinyproxy: ./.ci/test runs it"]
async fn a_callers_proxy_authorization_never_passes_an_open_proxy() {
    let origin = TestServer::start(|req| Reply::text(format!("open {}", req.path()))).await;
    let tiny = proxies::tinyproxy(&[], None);
    let client = proxy_client(&tiny.uri("http", None), &TestCa::new());
    let (status, body) = fetch(
        "through an open proxy",
        client
            .get(origin.url("/x"))
            .header(PROXY_AUTHORIZATION, CALLER_PROXY_AUTH),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (200, "open /x"),
        "{}",
        tiny.log()
    );
    let seen = origin.requests();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].header("via").is_some(), "forwarded by the proxy");
    assert_eq!(seen[0].header("proxy-authorization"), None);
    assert!(!request_contains(&seen[0], "Y2FsbGVyOm93bg"));
}

/// A recording stand-in for an HTTP proxy shows exactly what a proxy receives: its own
/// credentials, the absolute-form target without the origin URI's userinfo (which
/// becomes the origin's `Authorization`, forwarded in the clear as with curl: plain
/// http through a proxy hides nothing from it), and for https a bare `CONNECT`.
#[tokio::test]
async fn an_http_proxy_gets_its_credentials_and_no_origin_userinfo() {
    let fake_proxy = TestServer::start(|req| match req.method.as_str() {
        "CONNECT" => Reply::new(403),
        _ => Reply::text("answered by the proxy"),
    })
    .await;
    let proxy = ProxyServer::parse(&format!("http://pu:pp@{}", fake_proxy.addr())).expect("proxy");
    let client = Client::builder()
        .proxy(ProxyLayer::new(proxy))
        .build()
        .expect("client");
    // Port 9 is never dialled: the proxy answers. The caller's own
    // Proxy-Authorization is replaced by the proxy URI's.
    let (status, body) = fetch(
        "through the fake proxy",
        client
            .get("http://user:secret@127.0.0.1:9/x?q=1")
            .header(PROXY_AUTHORIZATION, CALLER_PROXY_AUTH),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body.as_str()),
        (200, "answered by the proxy")
    );
    let seen = fake_proxy.requests();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.target, "http://127.0.0.1:9/x?q=1");
    assert_eq!(req.header("host"), Some("127.0.0.1:9"));
    assert_eq!(req.header_all("proxy-authorization"), [b"Basic cHU6cHA="]);
    assert_eq!(req.header("authorization"), Some("Basic dXNlcjpzZWNyZXQ="));
    assert!(!req.target.contains("secret") && !req.target.contains('@'));

    // For https the proxy only opens a tunnel: the CONNECT request carries the proxy's
    // credentials and nothing of the request meant for the origin. (This proxy refuses
    // the tunnel, so the error is typed and nothing else is sent.)
    let err = send(
        "CONNECT through the fake proxy",
        client
            .get("https://user:secret@127.0.0.1:9/private")
            .bearer_auth("origin-token")
            .header(COOKIE, CALLER_COOKIE)
            .header(PROXY_AUTHORIZATION, CALLER_PROXY_AUTH),
    )
    .await
    .expect_err("the fake proxy refuses tunnels");
    assert!(err.is_proxy(), "{err}");
    let refused = cause::<ProxyError>(&err).expect("a ProxyError");
    assert_eq!(refused.status(), Some(StatusCode::FORBIDDEN));
    let seen = fake_proxy.requests();
    assert_eq!(seen.len(), 2);
    let connect = &seen[1];
    assert_eq!(connect.method, "CONNECT");
    assert_eq!(connect.target, "127.0.0.1:9");
    let names: Vec<&str> = connect.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["host", "proxy-authorization"]);
    assert_eq!(
        connect.header("proxy-authorization"),
        Some("Basic cHU6cHA=")
    );
    for needle in ["secret", "origin-token", "caller", "/private"] {
        assert!(
            !request_contains(connect, needle),
            "{needle} in {connect:?}"
        );
    }
}

/// Userinfo in a request URI becomes `Authorization: Basic` for that URI's origin (as
/// curl, reqwest, Go and Python's requests send it) and leaves the URI: it is never in
/// a request line or `Host`, never reaches another origin a redirect leads to, and a
/// `Location`'s own userinfo is dropped, never sent.
#[tokio::test]
async fn origin_userinfo_is_never_sent() {
    let landing = TestServer::start(|req| Reply::text(format!("landed {}", req.path()))).await;
    let to_landing = landing.url_for_host("localhost", "/landed");
    let with_userinfo = format!(
        "http://evil:hunter2@localhost:{}/evil",
        landing.addr().port()
    );
    let server = TestServer::start(move |req| match req.path() {
        "/go" => Reply::new(302).header("Location", to_landing.as_str()),
        "/go-userinfo" => Reply::new(307).header("Location", with_userinfo.as_str()),
        path => Reply::text(format!("first {path}")),
    })
    .await;
    let port = server.addr().port();
    let client = Client::new();
    let url = |path: &str| format!("http://user:secret@127.0.0.1:{port}{path}");

    let (status, body) = fetch("userinfo", client.get(url("/x"))).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "first /x"));
    let (_, body) = fetch("userinfo, redirected", client.get(url("/go"))).await;
    assert_eq!(body, "landed /landed");
    let (_, body) = fetch("a Location with userinfo", client.get(url("/go-userinfo"))).await;
    assert_eq!(body, "landed /evil");

    let first = server.requests();
    assert_eq!(first.len(), 3);
    assert_eq!(first[0].target, "/x");
    assert_eq!(
        first[0].header("host"),
        Some(format!("127.0.0.1:{port}").as_str())
    );
    // The first origin gets the credentials its URL named, as a header only.
    for req in &first {
        assert_eq!(
            req.header("authorization"),
            Some("Basic dXNlcjpzZWNyZXQ="),
            "{req:?}"
        );
        assert!(
            !req.target.contains("secret") && !req.target.contains('@'),
            "{req:?}"
        );
        assert!(!request_contains(req, "hunter2") && !request_contains(req, "ZXZpbDpodW50ZXIy"));
    }
    // Another origin (localhost, reached by redirect) gets nothing of either.
    let landed = landing.requests();
    assert_eq!(landed.len(), 2);
    for req in &landed {
        assert_eq!(req.header("authorization"), None, "{req:?}");
        // user:secret and evil:hunter2, plain or in base64.
        for needle in ["secret", "hunter2", "dXNlcjpzZWNyZXQ", "ZXZpbDpodW50ZXIy"] {
            assert!(!request_contains(req, needle), "{needle} in {req:?}");
        }
    }
}

// =================================================================================
// 3. Cookie scoping against hostile Set-Cookie headers
// =================================================================================

/// A server that sets cookies on some paths and answers every other request with
/// nothing special; the tests read the `Cookie` headers it recorded.
fn cookie_handler(req: &RecordedRequest) -> Reply {
    let from_localhost = req
        .header("host")
        .is_some_and(|h| h.starts_with("localhost:"));
    let reply = Reply::text("ok");
    match (from_localhost, req.path()) {
        (false, "/seed") => reply.header("Set-Cookie", "victim=1; Path=/"),
        (false, "/hostile") => {
            let oversized = format!("big={}", "a".repeat(4100));
            let hostile = [
                // Public suffixes, with and without the leading dot.
                "tld_dot=1; Domain=.com",
                "tld=1; Domain=com",
                "psl=1; Domain=co.uk",
                "psl_upper=1; Domain=CO.UK",
                // A single label is a public suffix, and not 127.0.0.1 either.
                "lh=1; Domain=localhost",
                // An IP address matches only itself: no "parent domain" of it.
                "ip_suffix=1; Domain=0.0.1",
                "other_ip=1; Domain=127.0.0.2",
                "ip_dot=1; Domain=127.0.0.1.",
                // Kept, as a host-only cookie of 127.0.0.1.
                "ip=1; Domain=127.0.0.1",
                // Secure and the prefixes need https.
                "sec=1; Secure",
                "__Host-x=1; Path=/",
                "__Host-y=1; Path=/; Secure",
                "__Secure-a=1",
                "__Secure-b=1; Secure",
                oversized.as_str(),
                // Kept, for /admin and below only.
                "admin=1; Path=/admin",
                // Deletes the cookie /seed set.
                "victim=gone; Max-Age=0; Path=/",
                // Kept, with the default path of /hostile: /.
                "plain=1",
            ];
            hostile
                .into_iter()
                .fold(reply, |r, value| r.header("Set-Cookie", value))
        }
        (true, "/hostile") => reply
            // Another host's cookies: refused.
            .header("Set-Cookie", "to_ip=1; Domain=127.0.0.1")
            // The host itself, even though it is a public suffix: host-only.
            .header("Set-Cookie", "named=1; Domain=localhost")
            .header("Set-Cookie", "named_only=1"),
        _ => reply,
    }
}

#[tokio::test]
async fn hostile_set_cookies_are_refused_or_scoped() {
    let server = TestServer::start(cookie_handler).await;
    let client = Client::new();
    let jar = client
        .cookie_jar()
        .expect("the client keeps cookies")
        .clone();
    let ip = |path: &str| server.url(path);
    let named = |path: &str| server.url_for_host("localhost", path);

    fetch("seed", client.get(ip("/seed"))).await;
    fetch("check the seed", client.get(ip("/check-seed"))).await;
    fetch("hostile from 127.0.0.1", client.get(ip("/hostile"))).await;
    fetch("hostile from localhost", client.get(named("/hostile"))).await;

    let stored: Vec<(String, String, bool)> = jar
        .iter()
        .map(|c| (c.domain().to_owned(), c.name().to_owned(), c.host_only()))
        .collect();
    let own = |d: &str, n: &str| (d.to_owned(), n.to_owned(), true);
    assert_eq!(
        stored,
        [
            own("127.0.0.1", "ip"),
            own("127.0.0.1", "plain"),
            own("127.0.0.1", "admin"),
            own("localhost", "named"),
            own("localhost", "named_only"),
        ],
        "only these survive"
    );

    let probes = [
        (ip("/"), Some("ip=1; plain=1")),
        (ip("/admin"), Some("admin=1; ip=1; plain=1")),
        (ip("/admin/users?id=1"), Some("admin=1; ip=1; plain=1")),
        (ip("/administrator"), Some("ip=1; plain=1")),
        (ip("/Admin"), Some("ip=1; plain=1")),
        (named("/"), Some("named=1; named_only=1")),
        (named("/admin"), Some("named=1; named_only=1")),
    ];
    for (url, _) in &probes {
        fetch(url, client.get(url.as_str())).await;
    }
    let seen = server.requests();
    assert_eq!(seen.len(), 4 + probes.len());
    assert_eq!(seen[0].header("cookie"), None, "the seed request");
    assert_eq!(seen[1].header("cookie"), Some("victim=1"), "seeded");
    assert_eq!(seen[2].header("cookie"), Some("victim=1"));
    assert_eq!(
        seen[3].header("cookie"),
        None,
        "127.0.0.1's cookies never go to localhost"
    );
    for ((url, want), req) in probes.iter().zip(&seen[4..]) {
        assert_eq!(req.header("cookie"), *want, "{url}");
    }
}

#[tokio::test]
async fn past_fifty_cookies_for_one_host_the_oldest_go() {
    let server = TestServer::start(|req| match req.path() {
        "/many" => (0..60).fold(Reply::ok(), |r, i| {
            r.header("Set-Cookie", format!("c{i:02}={i}; Path=/"))
        }),
        _ => Reply::ok(),
    })
    .await;
    let client = Client::new();
    fetch("60 cookies", client.get(server.url("/many"))).await;
    fetch("follow-up", client.get(server.url("/"))).await;
    fetch(
        "other host",
        client.get(server.url_for_host("localhost", "/")),
    )
    .await;
    let seen = server.requests();
    let kept: Vec<String> = (10..60).map(|i| format!("c{i:02}={i}")).collect();
    assert_eq!(seen[1].header("cookie"), Some(kept.join("; ").as_str()));
    assert_eq!(seen[2].header("cookie"), None);
    let jar = client.cookie_jar().expect("jar");
    assert_eq!(jar.len(), 50);
    assert!(jar.get("127.0.0.1", "/", "c00").is_none());
    assert!(jar.get("127.0.0.1", "/", "c10").is_some());
}

/// A plain-http server on the same host cannot overwrite (RFC 6265bis "leave secure
/// cookies alone") nor read a `Secure` cookie an https server set.
#[tokio::test]
async fn plain_http_cannot_overwrite_or_read_a_secure_cookie() {
    let ca = TestCa::new();
    let secure = TestServer::builder()
        .handler(|req| match req.path() {
            "/login" => Reply::ok().header("Set-Cookie", "token=good; Path=/; Secure"),
            _ => Reply::ok(),
        })
        .tls(&ca.leaf(&["127.0.0.1"]))
        .start()
        .await
        .expect("https server");
    let plain = TestServer::start(|req| match req.path() {
        "/toss" => Reply::ok()
            .header("Set-Cookie", "token=evil; Path=/")
            .header("Set-Cookie", "token=evil2; Path=/; Domain=127.0.0.1"),
        _ => Reply::ok(),
    })
    .await;
    let client = Client::builder()
        .tls_config(trusting(&ca.cert_pem()))
        .build()
        .expect("client");
    fetch("login", client.get(secure.url("/login"))).await;
    fetch("toss", client.get(plain.url("/toss"))).await;
    fetch("read over http", client.get(plain.url("/read"))).await;
    fetch("use over https", client.get(secure.url("/use"))).await;
    let plain_seen = plain.requests();
    assert_eq!(plain_seen[0].header("cookie"), None);
    assert_eq!(
        plain_seen[1].header("cookie"),
        None,
        "Secure stays on https"
    );
    let secure_seen = secure.requests();
    assert_eq!(secure_seen[1].header("cookie"), Some("token=good"));
}

// =================================================================================
// 4. The TLS failure matrix
// =================================================================================

fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls server configuration speaking `versions`, HTTP/1.1 only.
fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ServerConfig> {
    let mut config = rustls::ServerConfig::builder_with_provider(ring())
        .with_protocol_versions(versions)
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("certificate and key");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn both_versions() -> Vec<&'static rustls::SupportedProtocolVersion> {
    vec![&rustls::version::TLS13, &rustls::version::TLS12]
}

/// A CA of the test's own, made with rcgen, for certificates `TestCa` does not make.
struct OwnCa {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl OwnCa {
    fn new() -> OwnCa {
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "towline security test CA");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2100, 1, 1);
        let key = rcgen::KeyPair::generate().expect("CA key");
        let cert = params.self_signed(&key).expect("CA certificate");
        OwnCa { cert, key }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A server certificate for `name`, valid between the two dates `(y, m, d)`.
    fn leaf(
        &self,
        name: &str,
        from: (i32, u8, u8),
        to: (i32, u8, u8),
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).expect("name");
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
        params.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
        let key = rcgen::KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("signed leaf");
        let chain = vec![cert.der().clone(), self.cert.der().clone()];
        (chain, key_der(&key))
    }
}

fn key_der(key: &rcgen::KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

/// A self-signed end-entity certificate (not a CA) for `name`.
fn self_signed_leaf(name: &str) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
    let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).expect("name");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed certificate");
    (vec![cert.der().clone()], key_der(&key))
}

async fn secret_server(config: Arc<rustls::ServerConfig>) -> TestServer {
    TestServer::builder()
        .handler(|_| Reply::text("the secret"))
        .tls_config(config)
        .start()
        .await
        .expect("https server")
}

/// A server with a bad certificate, and the cause its refusal must name.
struct BadCert {
    what: &'static str,
    server: TestServer,
    /// The root a careful client would trust for it.
    root_pem: String,
    /// What the error says when that root is trusted.
    cause: &'static str,
    /// What it says with the web PKI roots alone: the validity period and the CA flag
    /// of the leaf are checked before its issuer.
    default_cause: &'static str,
}

/// Every client configuration but the dangerous one: each must refuse.
fn careful_clients(root_pem: &str) -> Vec<(&'static str, Client)> {
    let build = |tls: TlsConfigBuilder| Client::builder().tls_config(tls).build().expect("client");
    vec![
        ("the root added to the web PKI", build(trusting(root_pem))),
        (
            "the root alone",
            build(TlsConfig::builder().replace_roots_pem(root_pem.as_bytes())),
        ),
        (
            "the root, TLS 1.2 allowed, no HTTP/2",
            build(
                TlsConfig::builder()
                    .replace_roots_pem(root_pem.as_bytes())
                    .min_version(TlsVersion::Tls12)
                    .http2(false),
            ),
        ),
        (
            "the root and the system's roots",
            build(trusting(root_pem).native_roots(true)),
        ),
    ]
}

/// Asserts that `client` refuses `url` with a TLS error naming `cause`, and that the
/// server recorded nothing.
async fn assert_refused(client: &Client, url: &str, server: &TestServer, cause: &str, ctx: &str) {
    let err = send(ctx, client.get(url))
        .await
        .expect_err("a bad certificate must be refused");
    assert!(err.is_tls(), "{ctx}: not a TLS error: {err}");
    assert!(!err.is_connect() && !err.is_request(), "{ctx}: {err}");
    let text = err.report().to_string();
    assert!(
        text.contains(cause),
        "{ctx}: the error must say {cause:?}: {text}"
    );
    assert_eq!(server.request_count(), 0, "{ctx}: a request got through");
    assert_eq!(server.incomplete_requests(), 0, "{ctx}");
}

#[tokio::test]
async fn bad_certificates_are_refused_with_their_cause_and_only_danger_accepts_them() {
    let ca = TestCa::new();
    let own = OwnCa::new();
    let stranger = TestCa::new();
    let v = both_versions();
    let from_ca =
        |leaf: towline_test::tls::Leaf| server_config(leaf.chain_der(), leaf.private_key(), &v);
    let (chain, key) = own.leaf("127.0.0.1", (2090, 1, 1), (2095, 1, 1));
    let not_yet_valid = server_config(chain, key, &v);
    let (chain, key) = self_signed_leaf("127.0.0.1");
    let self_signed = server_config(chain, key, &v);
    let ca_as_leaf = TestCa::ca_as_leaf(&["127.0.0.1"]);

    let cases = vec![
        BadCert {
            what: "unknown CA",
            server: secret_server(from_ca(stranger.leaf(&["127.0.0.1"]))).await,
            root_pem: ca.cert_pem(),
            cause: "issued by an unknown authority",
            default_cause: "issued by an unknown authority",
        },
        BadCert {
            what: "wrong host name",
            server: secret_server(from_ca(ca.leaf(&["localhost", "other.test"]))).await,
            root_pem: ca.cert_pem(),
            cause: "not valid for this host name (name mismatch)",
            default_cause: "issued by an unknown authority",
        },
        BadCert {
            what: "expired",
            server: secret_server(from_ca(ca.expired_leaf(&["127.0.0.1"]))).await,
            root_pem: ca.cert_pem(),
            cause: "has expired",
            default_cause: "has expired",
        },
        BadCert {
            what: "not yet valid",
            server: secret_server(not_yet_valid).await,
            root_pem: own.pem(),
            cause: "is not valid yet",
            default_cause: "is not valid yet",
        },
        BadCert {
            what: "self-signed leaf",
            server: secret_server(self_signed).await,
            root_pem: ca.cert_pem(),
            cause: "issued by an unknown authority",
            default_cause: "issued by an unknown authority",
        },
        BadCert {
            what: "CA certificate as the leaf",
            server: secret_server(from_ca(ca_as_leaf.clone())).await,
            // Not the server's own: that one, handed over, is trusted as itself
            // (tests/handed_over.rs).
            root_pem: ca.cert_pem(),
            cause: "presented a CA certificate",
            default_cause: "presented a CA certificate",
        },
    ];

    let default_client = Client::new();
    let danger = Client::builder()
        .tls_config(TlsConfig::builder().danger_accept_invalid_certs(true))
        .build()
        .expect("client");
    for case in &cases {
        let url = case.server.url("/secret");
        // The default client trusts the web PKI only.
        assert_refused(
            &default_client,
            &url,
            &case.server,
            case.default_cause,
            &format!("{}: Client::new()", case.what),
        )
        .await;
        for (how, client) in careful_clients(&case.root_pem) {
            let ctx = format!("{}: trusting {how}", case.what);
            assert_refused(&client, &url, &case.server, case.cause, &ctx).await;
        }
        let (status, body) = fetch(case.what, danger.get(url.as_str())).await;
        assert_eq!(
            (status.as_u16(), body.as_str()),
            (200, "the secret"),
            "{}: danger_accept_invalid_certs accepts it",
            case.what
        );
        assert_eq!(case.server.request_count(), 1, "{}", case.what);
    }
}

/// `https://` to a port that speaks plain HTTP: the handshake fails, and the client
/// never falls back to sending the request in clear.
#[tokio::test]
async fn https_to_a_plain_http_server_never_falls_back_to_clear_text() {
    let server = TestServer::start(|_| Reply::text("the secret")).await;
    let url = format!("https://127.0.0.1:{}/secret", server.addr().port());
    for (how, tls) in [
        ("the default", TlsConfig::builder()),
        (
            "certificates not checked",
            TlsConfig::builder().danger_accept_invalid_certs(true),
        ),
    ] {
        let client = Client::builder().tls_config(tls).build().expect("client");
        let err = send(how, client.get(url.as_str()).bearer_auth("never-in-clear"))
            .await
            .expect_err("no TLS, no request");
        assert!(err.is_tls(), "{how}: {err:?}");
        assert!(
            err.report().to_string().contains("TLS handshake"),
            "{how}: {err}"
        );
    }
    // What reached the server was a TLS ClientHello, which it could not parse as a
    // request: nothing was recorded, and no credential crossed in clear.
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn a_tls12_only_server_is_refused_when_tls13_is_required() {
    let ca = TestCa::new();
    let leaf = ca.leaf(&["127.0.0.1"]);
    let server = secret_server(server_config(
        leaf.chain_der(),
        leaf.private_key(),
        &[&rustls::version::TLS12],
    ))
    .await;
    let url = server.url("/secret");
    for (how, tls) in [
        ("TLS 1.3 required", trusting(&ca.cert_pem())),
        (
            "TLS 1.3 required, certificates not checked",
            TlsConfig::builder().danger_accept_invalid_certs(true),
        ),
    ] {
        let client = Client::builder()
            .tls_config(tls.min_version(TlsVersion::Tls13))
            .build()
            .expect("client");
        assert_refused(&client, &url, &server, "protocol version", how).await;
    }
    // The same server with TLS 1.2 allowed (the default): it was the version.
    let client = Client::builder()
        .tls_config(trusting(&ca.cert_pem()))
        .build()
        .expect("client");
    let response = send("TLS 1.2 allowed", client.get(url.as_str()))
        .await
        .expect("TLS 1.2");
    assert_eq!(
        response.connection_info().and_then(|i| i.tls_version),
        Some(towline::tls::rustls::ProtocolVersion::TLSv1_2)
    );
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn mutual_tls_without_a_client_certificate_is_refused() {
    let ca = TestCa::new();
    let server = secret_server(
        ca.leaf(&["127.0.0.1"])
            .server_config_with_client_auth(&[b"http/1.1"], &ca),
    )
    .await;
    let url = server.url("/secret");
    for (how, tls) in [
        ("no client certificate", trusting(&ca.cert_pem())),
        (
            "no client certificate, server certificates not checked",
            TlsConfig::builder().danger_accept_invalid_certs(true),
        ),
    ] {
        let client = Client::builder().tls_config(tls).build().expect("client");
        assert_refused(&client, &url, &server, "certificate required", how).await;
    }
    let me = ca.client_leaf("towline client");
    let client = Client::builder()
        .tls_config(
            trusting(&ca.cert_pem())
                .client_auth_pem(me.chain_pem.as_bytes(), me.key_pem.as_bytes()),
        )
        .build()
        .expect("client");
    let (status, body) = fetch("with a client certificate", client.get(url.as_str())).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "the secret"));
    assert_eq!(server.request_count(), 1);
}

// =================================================================================
// 5. CR, LF and NUL injection
// =================================================================================

/// Bytes that would end a header line, or a C string, on the wire.
const FORBIDDEN: [&str; 4] = ["\r\nX-Injected: yes", "\r", "\n", "\0"];

async fn assert_invalid(request: RequestBuilder, what: &str) {
    let err = send(what, request)
        .await
        .expect_err("an injection must be refused");
    assert!(err.is_invalid_request(), "{what}: {err:?}");
    assert!(
        err.to_string().starts_with("invalid request"),
        "{what}: {err}"
    );
}

/// A URL string is read by the WHATWG URL Standard, as browsers read it: tabs, CR and
/// LF are removed, NUL and spaces are percent-encoded in the path and query, and a host
/// with a NUL or a space is refused. Either way nothing reaches the wire that could end
/// a line or a C string.
#[tokio::test]
async fn crlf_and_nul_in_a_url_never_reach_the_wire() {
    let server = TestServer::start(|_| Reply::text("reached")).await;
    let client = Client::new();
    let url = server.url("/ok");
    let port = server.addr().port();
    for bad in FORBIDDEN {
        let cases = [
            (format!("{url}/p{bad}q"), "the URI path"),
            (format!("{url}?q=a{bad}b"), "the URI query"),
            (format!("http://127.0.0.1{bad}:{port}/"), "the URI host"),
        ];
        for (input, what) in cases {
            let before = server.request_count();
            match send(what, client.get(input.as_str())).await {
                Ok(response) => assert_eq!(response.status(), 200, "{what} {bad:?}"),
                Err(err) => {
                    assert!(err.is_invalid_request(), "{what} {bad:?}: {err}");
                    assert_eq!(server.request_count(), before, "{what} {bad:?}");
                }
            }
        }
    }
    let requests = server.requests();
    // The path and query forms always arrive, cleaned; `\r` or `\n` alone in a host is
    // removed, leaving a valid host.
    assert_eq!(requests.len(), 2 * FORBIDDEN.len() + 2);
    for request in &requests {
        assert!(
            !request
                .target
                .bytes()
                .any(|b| matches!(b, b'\r' | b'\n' | 0)),
            "{:?}",
            request.target
        );
        assert!(
            request
                .headers
                .iter()
                .all(|(name, _)| !name.eq_ignore_ascii_case("x-injected")),
            "{:?}",
            request.headers
        );
    }
    let targets: Vec<&str> = requests.iter().map(|r| r.target.as_str()).collect();
    assert!(targets.contains(&"/ok/pX-Injected:%20yesq"), "{targets:?}");
    assert!(targets.contains(&"/ok/p%00q"), "{targets:?}");
    assert!(targets.contains(&"/ok?q=a%00b"), "{targets:?}");
}

#[tokio::test]
async fn crlf_and_nul_are_refused_at_every_entry_point_before_any_io() {
    let server = TestServer::start(|_| Reply::text("reached")).await;
    let client = Client::new();
    let url = server.url("/ok");
    for bad in FORBIDDEN {
        let ctx = |what: &str| format!("{what} with {bad:?}");
        assert_invalid(
            client
                .get(url.as_str())
                .header("x-test", format!("a{bad}b")),
            &ctx(".header value"),
        )
        .await;
        assert_invalid(
            client
                .get(url.as_str())
                .header(format!("x-a{bad}b").as_str(), "v"),
            &ctx(".header name"),
        )
        .await;
        assert_invalid(
            client.get(url.as_str()).bearer_auth(format!("token{bad}")),
            &ctx(".bearer_auth"),
        )
        .await;

        // The typed entry points (`request(Method, …)`, `.headers(HeaderMap)`,
        // `default_header`, `execute(http::Request)`) take values that cannot hold
        // these bytes: building them fails.
        assert!(
            Method::from_bytes(format!("GET{bad}").as_bytes()).is_err(),
            "{}",
            ctx("Method")
        );
        assert!(
            HeaderValue::from_str(&format!("a{bad}")).is_err(),
            "{}",
            ctx("HeaderValue")
        );
        assert!(
            HeaderValue::from_bytes(format!("a{bad}").as_bytes()).is_err(),
            "{}",
            ctx("HeaderValue")
        );
        assert!(
            HeaderName::from_bytes(format!("x{bad}").as_bytes()).is_err(),
            "{}",
            ctx("HeaderName")
        );
        assert!(
            http::Request::get(url.as_str())
                .header("x-test", format!("a{bad}"))
                .body(towline::Body::empty())
                .is_err(),
            "{}",
            ctx("http::Request")
        );

        // The builder's User-Agent.
        let err = Client::builder()
            .user_agent(format!("agent{bad}"))
            .build()
            .expect_err("a User-Agent with control bytes");
        assert!(err.is_invalid_request(), "{}: {err}", ctx("user_agent"));
        assert!(err.report().to_string().contains("User-Agent"), "{err}");
    }
    // A header map and default headers with valid values pass (the control run), and
    // only now does the server see a request: none of the refused ones reached it.
    let mut headers = http::HeaderMap::new();
    headers.insert("x-map", HeaderValue::from_static("fine"));
    let client = Client::builder()
        .default_header(
            HeaderName::from_static("x-default"),
            HeaderValue::from_static("fine"),
        )
        .build()
        .expect("client");
    let (status, _) = fetch("control", client.get(url.as_str()).headers(headers)).await;
    assert_eq!(status, 200);
    assert_eq!(
        server.connections_accepted(),
        1,
        "refused requests opened connections"
    );
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-map"), Some("fine"));
    assert_eq!(seen[0].header("x-default"), Some("fine"));
    assert!(seen.iter().all(|r| r.header("x-injected").is_none()));
}

/// What `basic_auth` puts on the wire for a user name holding CR LF: one well-formed
/// `Authorization` header, the bytes inside its base64, no injected header.
#[tokio::test]
async fn basic_auth_cannot_inject_a_header() {
    let server = TestServer::start(|_| Reply::text("reached")).await;
    let client = Client::new();
    // Refused or encoded: either way nothing may be injected.
    let result = send(
        "basic_auth with CR LF",
        client
            .get(server.url("/"))
            .basic_auth("user\r\nX-Injected: yes", Some("pass\r\n")),
    )
    .await;
    match result {
        Err(err) => {
            assert!(err.is_invalid_request(), "{err}");
            assert_eq!(server.request_count(), 0);
        }
        Ok(response) => {
            assert_eq!(response.status(), 200);
            let seen = server.requests();
            assert_eq!(seen.len(), 1);
            let req = &seen[0];
            assert_eq!(req.header("x-injected"), None);
            assert_eq!(req.header_all("authorization").len(), 1);
            let value = req.header("authorization").expect("Authorization");
            let encoded = value.strip_prefix("Basic ").expect("Basic");
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)),
                "{value}"
            );
        }
    }
}

/// RFC 7617 §2: "The user-id and password MUST NOT contain any control characters",
/// and "a user-id containing a colon character is invalid" (the server would split
/// `a:b` + `c` as user `a`, password `b:c`). towline base64-encodes whatever it is
/// given, so a server decodes and may log a user name holding CR LF, or reads another
/// user than the one meant.
#[tokio::test]
async fn basic_auth_refuses_control_characters_and_a_colon_in_the_user_id() {
    let server = TestServer::start(|_| Reply::text("reached")).await;
    let client = Client::new();
    for (user, password) in [
        ("user\r\nX-Injected: yes", "pass"),
        ("user\0", "pass"),
        ("user", "pa\nss"),
        ("admin:x", "pass"),
    ] {
        let what = format!("basic_auth({user:?}, {password:?})");
        assert_invalid(
            client.get(server.url("/")).basic_auth(user, Some(password)),
            &what,
        )
        .await;
    }
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn an_encoded_crlf_in_location_stays_encoded_on_the_wire() {
    const LOCATION: &str = "/next%0d%0aX-Injected:%20yes%00?q=%0D%0ASet-Cookie:%20a=b";
    let server = TestServer::start(|req| match req.path() {
        "/start" => Reply::new(302).header("Location", LOCATION),
        _ => Reply::text("next"),
    })
    .await;
    let client = Client::new();
    let (status, body) = fetch("encoded CRLF", client.get(server.url("/start"))).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "next"));
    let seen = server.requests();
    assert_eq!(seen.len(), 2, "one hop, not a smuggled second request");
    assert_eq!(seen[1].target, LOCATION, "sent as the server wrote it");
    assert_eq!(seen[1].header("x-injected"), None);
    assert_eq!(seen[1].header("set-cookie"), None);
    assert_eq!(seen[1].header("cookie"), None);
    assert!(client.cookie_jar().expect("jar").is_empty());
}

// =================================================================================
// 6. Decompression bombs
// =================================================================================

const MIB: usize = 1 << 20;
const LIMIT: u64 = 8 << 20;

/// Raw deflate data of 1 MiB of zeros, ending on a byte boundary (a sync flush)
/// without a final block. After any run of zeros it decodes to 1 MiB more zeros, so it
/// can be repeated to make a bomb without compressing all of it.
fn deflated_mib_of_zeros() -> &'static [u8] {
    static SEGMENT: OnceLock<Vec<u8>> = OnceLock::new();
    SEGMENT.get_or_init(|| {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(&vec![0; MIB]).expect("deflate");
        encoder.flush().expect("sync flush");
        encoder.get_ref().clone()
    })
}

/// A complete raw deflate stream: `mib` MiB of zeros then `tail`.
fn deflate_zeros(mib: usize, tail: &[u8]) -> Vec<u8> {
    let segment = deflated_mib_of_zeros();
    let mut out = Vec::with_capacity(segment.len() * mib + 64);
    for _ in 0..mib {
        out.extend_from_slice(segment);
    }
    // A fresh stream for the tail refers to nothing before it and ends with the final
    // block.
    let mut encoder = DeflateEncoder::new(out, Compression::best());
    encoder.write_all(tail).expect("deflate");
    encoder.finish().expect("deflate")
}

/// A gzip member of `mib` MiB of zeros then `tail`, with its CRC and length right.
fn gzip_zeros(mib: usize, tail: &[u8]) -> Vec<u8> {
    let mut mib_crc = flate2::Crc::new();
    mib_crc.update(&vec![0; MIB]);
    let mut crc = flate2::Crc::new();
    for _ in 0..mib {
        crc.combine(&mib_crc);
    }
    let mut tail_crc = flate2::Crc::new();
    tail_crc.update(tail);
    crc.combine(&tail_crc);
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255];
    out.extend_from_slice(&deflate_zeros(mib, tail));
    out.extend_from_slice(&crc.sum().to_le_bytes());
    let len = (mib as u64 * MIB as u64 + tail.len() as u64) as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(data).expect("gzip");
    encoder.finish().expect("gzip")
}

#[test]
fn the_hand_made_bombs_are_what_they_say() {
    use std::io::Read;
    let tail = b"tail";
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gzip_zeros(3, tail)[..])
        .read_to_end(&mut out)
        .expect("valid gzip, CRC and length included");
    assert_eq!(out.len(), 3 * MIB + tail.len());
    assert!(out[..3 * MIB].iter().all(|&b| b == 0));
    assert_eq!(&out[3 * MIB..], tail);
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(&deflate_zeros(2, b"")[..])
        .read_to_end(&mut out)
        .expect("valid raw deflate");
    assert_eq!(out.len(), 2 * MIB);
}

/// Serves `/bomb` with `body` coded as `encoding`; `/plain` answers plain text.
async fn bomb_server(encoding: &'static str, body: Vec<u8>) -> TestServer {
    TestServer::start(move |req| match req.path() {
        "/plain" => Reply::text("plain"),
        _ => Reply::ok()
            .header("Content-Type", "application/octet-stream")
            .header("Content-Encoding", encoding)
            .body(body.clone()),
    })
    .await
}

fn limited_client(limit: u64) -> Client {
    Client::builder()
        .decoded_limit(limit)
        .build()
        .expect("client")
}

/// Asserts `err` is the decoded-size limit of `limit` bytes, said in words.
fn assert_too_large(err: &Error, limit: u64, ctx: &str) {
    assert!(err.is_decode(), "{ctx}: {err:?}");
    assert!(!err.is_body(), "{ctx}: {err:?}");
    let too_large = cause::<DecodedTooLarge>(err)
        .unwrap_or_else(|| panic!("{ctx}: no DecodedTooLarge in {err:?}"));
    assert_eq!(too_large.limit(), limit, "{ctx}");
    assert!(
        err.report()
            .to_string()
            .contains(&format!("more than the limit of {limit} bytes")),
        "{ctx}: {err}"
    );
}

/// Reads `/bomb` with `bytes()` and then chunk by chunk: both stop with the limit's
/// error, the second after handing out no more than the limit.
async fn assert_bomb_stops(server: &TestServer, client: &Client, limit: u64, ctx: &str) {
    let url = server.url("/bomb");
    let response = send(ctx, client.get(url.as_str()))
        .await
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    assert_eq!(response.status(), 200, "{ctx}");
    assert!(
        response.headers().get("content-encoding").is_none(),
        "{ctx}: decoded"
    );
    let err = bounded(ctx, response.bytes())
        .await
        .expect_err("the bomb must not decode whole");
    assert_too_large(&err, limit, &format!("{ctx}, bytes()"));

    let mut response = send(ctx, client.get(url.as_str()))
        .await
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let mut handed_out = 0u64;
    let err = loop {
        match bounded(ctx, response.chunk()).await {
            Ok(Some(chunk)) => handed_out += chunk.len() as u64,
            Ok(None) => panic!("{ctx}: the bomb decoded to its end ({handed_out} bytes)"),
            Err(err) => break err,
        }
    };
    assert_too_large(&err, limit, &format!("{ctx}, chunk()"));
    assert!(
        handed_out <= limit,
        "{ctx}: {handed_out} bytes handed out past a limit of {limit}"
    );
    assert!(
        handed_out > limit / 2,
        "{ctx}: stopped early, after {handed_out} bytes"
    );
    // The client is still usable.
    let (status, body) = fetch(ctx, client.get(server.url("/plain"))).await;
    assert_eq!((status.as_u16(), body.as_str()), (200, "plain"), "{ctx}");
}

#[tokio::test]
async fn a_gzip_bomb_stops_at_the_decoded_limit() {
    let bomb = gzip_zeros(64, b"");
    assert!(bomb.len() < 100 * 1024, "64 MiB in {} bytes", bomb.len());
    let server = bomb_server("gzip", bomb).await;
    assert_bomb_stops(&server, &limited_client(LIMIT), LIMIT, "gzip bomb").await;
}

#[tokio::test]
async fn a_stacked_gzip_gzip_bomb_stops_at_the_decoded_limit() {
    let bomb = gzip(&gzip_zeros(64, b""));
    assert!(bomb.len() < 100 * 1024, "64 MiB in {} bytes", bomb.len());
    let server = bomb_server("gzip, gzip", bomb).await;
    assert_bomb_stops(&server, &limited_client(LIMIT), LIMIT, "gzip, gzip bomb").await;
}

#[tokio::test]
async fn a_raw_deflate_bomb_stops_at_the_decoded_limit() {
    let server = bomb_server("deflate", deflate_zeros(64, b"")).await;
    assert_bomb_stops(&server, &limited_client(LIMIT), LIMIT, "deflate bomb").await;
}

#[tokio::test]
async fn more_stacked_codings_than_allowed_are_refused() {
    let mut body = gzip_zeros(1, b"");
    for _ in 0..3 {
        body = gzip(&body);
    }
    let server = bomb_server("gzip, gzip, gzip, gzip", body).await;
    let client = limited_client(LIMIT);
    let response = send("4 codings", client.get(server.url("/bomb")))
        .await
        .expect("response");
    let err = bounded("4 codings", response.bytes())
        .await
        .expect_err("too many codings");
    assert!(err.is_decode(), "{err:?}");
    let decode = cause::<DecodeError>(&err).expect("a DecodeError");
    assert_eq!(decode.kind(), DecodeErrorKind::TooManyCodings);
}

#[tokio::test]
async fn a_body_decoding_to_exactly_the_limit_passes_and_one_byte_more_fails() {
    let exact = bomb_server("gzip", gzip_zeros(8, b"")).await;
    let client = limited_client(LIMIT);
    let response = send("exact", client.get(exact.url("/bomb")))
        .await
        .expect("response");
    let body = bounded("exact", response.bytes())
        .await
        .expect("a body of exactly the limit decodes");
    assert_eq!(body.len() as u64, LIMIT);
    assert!(body.iter().all(|&b| b == 0));

    let over = bomb_server("gzip", gzip_zeros(8, b"!")).await;
    let response = send("one more", client.get(over.url("/bomb")))
        .await
        .expect("response");
    let err = bounded("one more", response.bytes())
        .await
        .expect_err("one byte over the limit");
    assert_too_large(&err, LIMIT, "one byte over");
}

/// `Client::new()` streams a 300 MiB gzip body whole (a legitimate download), and
/// stops the same body read with `bytes()` at its documented buffered cap, 256 MiB.
#[tokio::test]
async fn the_default_client_streams_a_bomb_and_caps_it_in_memory_at_256_mib() {
    const DEFAULT: u64 = 256 << 20;
    assert_eq!(towline::client::DEFAULT_MAX_RESPONSE_BODY, DEFAULT);
    let server = bomb_server("gzip", gzip_zeros(300, b"")).await;
    let client = Client::new();
    let mut response = send("streamed", client.get(server.url("/bomb")))
        .await
        .expect("response");
    let mut handed_out = 0u64;
    while let Some(chunk) = bounded("streamed", response.chunk())
        .await
        .expect("a streamed body has no limit")
    {
        assert!(chunk.iter().all(|&b| b == 0));
        handed_out += chunk.len() as u64;
    }
    assert_eq!(handed_out, 300 << 20);

    let response = send("buffered", client.get(server.url("/bomb")))
        .await
        .expect("response");
    let err = bounded("buffered", response.bytes())
        .await
        .expect_err("300 MiB is over the buffered cap");
    assert_too_large(&err, DEFAULT, "Client::new()");
}
