//! Nothing secret in any output: every error path towline has, driven on loopback with
//! URLs that carry `u:SECRET` userinfo, a `TOKEN@` userinfo and `?access_token=SECRET`,
//! shows neither `SECRET` nor `TOKEN` in its `Display`, `{:?}`, `{:#?}`, `report()`,
//! nor in any `tracing` event at trace level; and what goes on the wire is unchanged.
//!
//! Each test records the events of its own thread only (`set_default`; tokio's test
//! runtime runs every task of a test on the test's thread).

use std::error::Error as _;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use towline::connect::Destination;
use towline::proxy::{ProxyLayer, ProxyServer};
use towline::redact::Redaction;
use towline::tls::TlsConfig;
use towline::{Client, Error};
use towline_test::tls::TestCa;
use towline_test::{Fault, Reply, TestServer};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata};

/// What must never appear in output.
const SECRETS: [&str; 2] = ["SECRET", "TOKEN"];

/// Bounds every request, so that a regression fails instead of hanging.
const WAIT: Duration = Duration::from_secs(20);

/// The three secret-carrying forms of `scheme://authority/path`.
fn secret_urls(scheme: &str, authority: &str, path: &str) -> [String; 3] {
    let sep = if path.contains('?') { '&' } else { '?' };
    [
        format!("{scheme}://u:SECRET@{authority}{path}"),
        format!("{scheme}://TOKEN@{authority}{path}"),
        format!("{scheme}://{authority}{path}{sep}access_token=SECRET"),
    ]
}

/// A port nothing listens on: bound, then closed.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Every event (and span) of towline, each flattened to one line of text.
#[derive(Clone, Default)]
struct Recorder {
    lines: Arc<Mutex<Vec<String>>>,
    next_span: Arc<AtomicU64>,
}

struct Line<'a>(&'a mut String);

impl Visit for Line<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push_str(&format!(" {}={value}", field.name()));
    }
}

impl Recorder {
    fn push(&self, line: String) {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
    }

    fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut line = format!("span {}", attrs.metadata().target());
        attrs.record(&mut Line(&mut line));
        self.push(line);
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut line = String::from("record");
        values.record(&mut Line(&mut line));
        self.push(line);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let mut line = format!("{} {}", meta.level(), meta.target());
        event.record(&mut Line(&mut line));
        self.push(line);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Everything a user could print of `err`.
fn outputs(err: &Error) -> Vec<(&'static str, String)> {
    vec![
        ("Display", err.to_string()),
        ("{:?}", format!("{err:?}")),
        ("{:#?}", format!("{err:#?}")),
        ("report()", err.report().to_string()),
        ("{:#} of report()", format!("{:#}", err.report())),
    ]
}

fn assert_no_secret(what: &str, how: &str, text: &str) {
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{what}: {how} shows {secret}:\n{text}"
        );
    }
}

/// Runs `fail` for each secret URL with a recorder installed, and checks every output
/// of every error and every event. `is` says the error is the one meant.
async fn check<F, Fut>(what: &str, urls: [String; 3], is: fn(&Error) -> bool, fail: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    for url in urls {
        let result = tokio::time::timeout(WAIT, fail(url.clone()))
            .await
            .unwrap_or_else(|_| panic!("{what}: {url} did not end"));
        let err = match result {
            Ok(()) => panic!("{what}: {url} succeeded"),
            Err(err) => err,
        };
        assert!(is(&err), "{what}: {url}: not the error meant: {err:?}");
        for (how, text) in outputs(&err) {
            assert_no_secret(what, how, &text);
        }
        // Each cause on its own, as a reporter walking `source()` prints it.
        let mut next = err.source();
        while let Some(cause) = next {
            assert_no_secret(what, "a cause's Display", &cause.to_string());
            assert_no_secret(what, "a cause's Debug", &format!("{cause:?}"));
            next = cause.source();
        }
        // `without_uri()` drops the URI from the output altogether.
        let bare = err.without_uri();
        assert!(bare.uri().is_none());
        assert!(
            !bare.to_string().contains("127.0.0.1"),
            "{what}: {bare} names a URI"
        );
    }
    let lines = recorder.lines();
    // Every path but a request refused before any I/O goes through a layer that logs.
    assert!(
        !lines.is_empty() || what.contains("invalid"),
        "{what}: the recorder saw no event"
    );
    for line in &lines {
        assert_no_secret(what, "a tracing event", line);
    }
}

/// A GET of `url` read to the end, as `bytes()` does.
async fn get(client: &Client, url: String) -> Result<(), Error> {
    let response = client.get(url).send().await?;
    response.bytes().await.map(drop)
}

#[tokio::test]
async fn connection_refused() {
    let authority = format!("127.0.0.1:{}", closed_port());
    let client = Client::new();
    check(
        "refused",
        secret_urls("http", &authority, "/p"),
        Error::is_connect,
        |url| get(&client, url),
    )
    .await;
}

#[tokio::test]
async fn unresolvable_host() {
    // A dialer that fails as a resolver does: no real DNS is asked.
    let dialer = tower::service_fn(|_: Destination| async {
        Err::<tokio::net::TcpStream, _>(io::Error::new(
            io::ErrorKind::NotFound,
            "failed to lookup address information: Name or service not known",
        ))
    });
    let client = Client::builder().build_with_dialer(dialer).expect("client");
    check(
        "unresolvable",
        secret_urls("http", "no-such-host.test", "/p"),
        Error::is_connect,
        |url| get(&client, url),
    )
    .await;
}

#[tokio::test]
async fn tls_failures() {
    let ca = TestCa::new();
    let other = TestCa::new();
    let trusting = || TlsConfig::builder().add_root_pem(ca.cert_pem().as_bytes());
    for (what, leaf, tls) in [
        (
            "untrusted issuer",
            ca.leaf(&["127.0.0.1"]),
            TlsConfig::builder(),
        ),
        ("name mismatch", ca.leaf(&["elsewhere.test"]), trusting()),
        ("expired", ca.expired_leaf(&["127.0.0.1"]), trusting()),
        (
            "another CA",
            other.leaf(&["127.0.0.1"]),
            trusting().add_root_pem(ca.cert_pem().as_bytes()),
        ),
    ] {
        let server = TestServer::builder()
            .tls(&leaf)
            .handler(|_| Reply::text("never"))
            .start()
            .await
            .expect("server");
        let client = Client::builder().tls_config(tls).build().expect("client");
        let authority = server.addr().to_string();
        check(
            what,
            secret_urls("https", &authority, "/p"),
            Error::is_tls,
            |url| get(&client, url),
        )
        .await;
        assert_eq!(server.request_count(), 0, "{what}");
    }
}

#[tokio::test]
async fn connect_timeout() {
    let dialer = tower::service_fn(|_: Destination| {
        std::future::pending::<Result<tokio::net::TcpStream, io::Error>>()
    });
    let client = Client::builder()
        .connect_timeout(Duration::from_millis(50))
        .build_with_dialer(dialer)
        .expect("client");
    check(
        "connect timeout",
        secret_urls("http", "127.0.0.1:9", "/p"),
        Error::is_timeout,
        |url| get(&client, url),
    )
    .await;
}

#[tokio::test]
async fn read_timeout_and_request_timeout() {
    let server = TestServer::start(|req| match req.path() {
        "/slow-body" => Reply::text("0123456789").fault(Fault::SlowBody {
            chunk: 1,
            delay: Duration::from_secs(5),
        }),
        _ => Reply::text("late").fault(Fault::SlowHeaders(Duration::from_secs(5))),
    })
    .await;
    let authority = server.addr().to_string();
    let reading = Client::builder()
        .read_timeout(Duration::from_millis(50))
        .build()
        .expect("client");
    check(
        "read timeout",
        secret_urls("http", &authority, "/slow-body"),
        Error::is_timeout,
        |url| get(&reading, url),
    )
    .await;
    let bounded = Client::builder()
        .timeout(Duration::from_millis(50))
        .build()
        .expect("client");
    check(
        "request timeout",
        secret_urls("http", &authority, "/slow-head"),
        Error::is_timeout,
        |url| get(&bounded, url),
    )
    .await;
}

#[tokio::test]
async fn every_redirect_error() {
    let server = TestServer::start(|req| match req.path() {
        "/loop" => Reply::new(302).header("location", "/loop?access_token=SECRET&n=1"),
        "/ftp" => Reply::new(302).header(
            "location",
            "ftp://u:SECRET@files.test/f?access_token=SECRET",
        ),
        "/two" => Reply::new(302)
            .header("location", "/a?access_token=SECRET")
            .header("location", "http://TOKEN@elsewhere.test/b"),
        _ => Reply::text("end"),
    })
    .await;
    let authority = server.addr().to_string();
    let client = Client::builder().max_redirects(3).build().expect("client");
    check(
        "too many redirects",
        secret_urls("http", &authority, "/loop"),
        Error::is_redirect,
        |url| get(&client, url),
    )
    .await;
    check(
        "unsupported scheme",
        secret_urls("http", &authority, "/ftp"),
        Error::is_redirect,
        |url| get(&client, url),
    )
    .await;
    check(
        "conflicting locations",
        secret_urls("http", &authority, "/two"),
        Error::is_redirect,
        |url| get(&client, url),
    )
    .await;

    // https → http, refused.
    let ca = TestCa::new();
    let plain = server.addr();
    let tls_server = TestServer::builder()
        .tls(&ca.leaf(&["127.0.0.1"]))
        .handler(move |_| {
            Reply::new(302).header(
                "location",
                format!("http://u:SECRET@{plain}/down?access_token=SECRET"),
            )
        })
        .start()
        .await
        .expect("server");
    let client = Client::builder()
        .tls_config(TlsConfig::builder().add_root_pem(ca.cert_pem().as_bytes()))
        .https_downgrade(false)
        .build()
        .expect("client");
    check(
        "downgrade refused",
        secret_urls("https", &tls_server.addr().to_string(), "/"),
        Error::is_redirect,
        |url| get(&client, url),
    )
    .await;
}

#[tokio::test]
async fn decode_and_body_errors() {
    let server = TestServer::start(|req| match req.path() {
        "/corrupt" => Reply::text("this is not gzip at all, not even close")
            .header("content-encoding", "gzip"),
        _ => Reply::text("x".repeat(100)).fault(Fault::CloseMidBody { after: 10 }),
    })
    .await;
    let authority = server.addr().to_string();
    let client = Client::new();
    check(
        "corrupt gzip",
        secret_urls("http", &authority, "/corrupt"),
        Error::is_decode,
        |url| get(&client, url),
    )
    .await;
    check(
        "truncated body",
        secret_urls("http", &authority, "/truncated"),
        Error::is_body,
        |url| get(&client, url),
    )
    .await;
}

#[tokio::test]
async fn proxy_refusal_and_unreachable_proxy() {
    let fake_proxy = TestServer::start(|req| match req.method.as_str() {
        "CONNECT" => Reply::new(407).header("proxy-authenticate", "Basic realm=\"p\""),
        _ => Reply::new(407),
    })
    .await;
    let proxy =
        ProxyServer::parse(&format!("http://TOKEN:SECRET@{}", fake_proxy.addr())).expect("proxy");
    // The proxy's own credentials, username included, stay out of its Debug.
    for text in [
        format!("{proxy:?}"),
        format!("{proxy:#?}"),
        proxy.to_string(),
    ] {
        assert_no_secret("proxy setting", "ProxyServer", &text);
    }
    let client = Client::builder()
        .proxy(ProxyLayer::new(proxy))
        .build()
        .expect("client");
    check(
        "407 from the proxy",
        secret_urls("https", "127.0.0.1:9", "/p"),
        Error::is_proxy,
        |url| get(&client, url),
    )
    .await;

    let gone = ProxyServer::parse(&format!("http://TOKEN:SECRET@127.0.0.1:{}", closed_port()))
        .expect("proxy");
    let client = Client::builder()
        .proxy(ProxyLayer::new(gone))
        .build()
        .expect("client");
    check(
        "unreachable proxy",
        secret_urls("https", "127.0.0.1:9", "/p"),
        Error::is_proxy,
        |url| get(&client, url),
    )
    .await;

    // A proxy setting that cannot be used.
    let err = ProxyServer::parse("http://TOKEN:SECRET@p.test:99999/?access_token=SECRET")
        .expect_err("bad port");
    for text in [err.to_string(), format!("{err:?}"), format!("{err:#?}")] {
        assert_no_secret("bad proxy URI", "ProxyConfigError", &text);
    }
}

#[tokio::test]
async fn invalid_requests() {
    let client = Client::new();
    check(
        "invalid: unparsable URL",
        secret_urls("http", "exa mple.test", "/p"),
        Error::is_invalid_request,
        |url| get(&client, url),
    )
    .await;
    check(
        "invalid: unsupported scheme",
        secret_urls("ftp", "127.0.0.1:9", "/p"),
        Error::is_invalid_request,
        |url| get(&client, url),
    )
    .await;
    check(
        "invalid: a header value with a line break",
        secret_urls("http", "127.0.0.1:9", "/p"),
        Error::is_invalid_request,
        |url| async {
            let request = client.get(url).header("x-bad", "a\r\nb");
            assert_no_secret("request builder", "{:?}", &format!("{request:?}"));
            request.send().await.map(drop)
        },
    )
    .await;
}

/// What is redacted in output still goes on the wire as the caller wrote it (userinfo
/// as `Authorization: Basic`), and a
/// successful redirect chain's `RedirectHistory`, `EffectiveUri` and the
/// `RequestBuilder` show no secret either.
#[tokio::test]
async fn the_wire_is_unchanged_and_successful_exchanges_show_no_secret() {
    let server = TestServer::start(|req| match req.path() {
        "/start" => Reply::new(302).header("location", "/end?access_token=SECRET&Key=SECRET"),
        _ => Reply::text("done"),
    })
    .await;
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let client = Client::builder()
        .redact_query_params(["session"])
        .build()
        .expect("client");
    let url = format!(
        "http://u:SECRET@{}/start?access_token=SECRET&session=SECRET&page=2",
        server.addr()
    );
    let request = client.get(&url);
    let shown = format!("{request:?}");
    assert_no_secret("request builder", "{:?}", &shown);
    assert!(shown.contains("page=2"), "{shown}");
    let response = request.send().await.expect("response");
    let history = response.history().expect("redirected").clone();
    let effective = response
        .extensions()
        .get::<towline::connect::EffectiveUri>()
        .expect("effective URI")
        .clone();
    for (how, text) in [
        ("RedirectHistory", format!("{history:?}")),
        ("RedirectHistory {:#?}", format!("{history:#?}")),
        ("EffectiveUri", format!("{effective:?}")),
        ("Response", format!("{response:?}")),
    ] {
        assert_no_secret("a successful redirect", how, &text);
    }
    assert_eq!(response.text().await.expect("body"), "done");
    let lines = recorder.lines();
    // The redirect layer's event names both hops, redacted.
    assert!(
        lines.iter().any(|l| l.contains("towline::redirect")
            && l.contains("from=http://127.0.0.1")
            && l.contains("session=***&page=2")
            && l.contains("access_token=***&Key=***")),
        "{lines:#?}"
    );
    for line in &lines {
        assert_no_secret("a successful redirect", "a tracing event", line);
    }
    // The accessors and the wire have the caller's URL, secrets and all, but for its
    // userinfo, which became `Authorization: Basic` (as curl and reqwest send it).
    assert_eq!(
        history.original_uri().map(ToString::to_string).as_deref(),
        Some(url.replacen("u:SECRET@", "", 1).as_str())
    );
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Basic dTpTRUNSRVQ=")
    );
    let targets: Vec<String> = server.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(
        targets,
        [
            "/start?access_token=SECRET&session=SECRET&page=2",
            "/end?access_token=SECRET&Key=SECRET"
        ]
    );
}

/// `ClientBuilder::redact_query_params` extends the list and `redaction` replaces it;
/// errors and events of that client follow it.
#[tokio::test]
async fn a_clients_own_list_reaches_its_errors_and_events() {
    let authority = format!("127.0.0.1:{}", closed_port());
    let url = format!("http://{authority}/p?session=SECRET&key=visible&page=2");

    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let extended = Client::builder()
        .redact_query_params(["Session"])
        .build()
        .expect("client");
    let err = extended.get(&url).send().await.expect_err("refused");
    for (how, text) in outputs(&err) {
        assert_no_secret("extended list", how, &text);
        assert!(text.contains("key=***&page=2"), "{how}: {text}");
    }

    let replaced = Client::builder()
        .redaction(Redaction::only(["session"]))
        .build()
        .expect("client");
    let err = replaced.get(&url).send().await.expect_err("refused");
    assert_eq!(
        err.to_string(),
        format!("connection failed for http://{authority}/p?session=***&key=visible&page=2")
    );
    let err = replaced
        .get("http://exa mple.test/?session=SECRET")
        .send()
        .await
        .expect_err("unparsable");
    for (how, text) in outputs(&err) {
        assert_no_secret("replaced list, invalid URL", how, &text);
    }
    for line in recorder.lines() {
        assert_no_secret("a client's own list", "a tracing event", &line);
    }
}

/// An `anyhow`-style report (each cause's `Display`, joined by `": "`, walking
/// `source()`) prints each cause once: no error's text repeats its source's.
#[tokio::test]
async fn a_reporter_walking_the_chain_prints_each_cause_once() {
    let server = TestServer::start(|req| match req.path() {
        "/corrupt" => Reply::text("not gzip").header("content-encoding", "gzip"),
        // A valid gzip header, then a deflate stream with a reserved block type: the
        // inflater's message is the decode error's cause.
        "/corrupt-deflate" => Reply::text(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff][..])
            .header("content-encoding", "gzip"),
        "/loop" => Reply::new(302).header("location", "/loop"),
        _ => Reply::text("x".repeat(100)).fault(Fault::CloseMidBody { after: 10 }),
    })
    .await;
    let proxy = ProxyServer::parse(&format!("http://127.0.0.1:{}", closed_port())).expect("proxy");
    let proxied = Client::builder()
        .proxy(ProxyLayer::new(proxy))
        .build()
        .expect("client");
    let client = Client::builder().max_redirects(1).build().expect("client");
    let refused = format!("http://127.0.0.1:{}/", closed_port());
    let mut errors = Vec::new();
    for url in [
        refused.clone(),
        server.url("/corrupt"),
        server.url("/corrupt-deflate"),
        server.url("/loop"),
        server.url("/truncated"),
    ] {
        errors.push(get(&client, url).await.expect_err("fails"));
    }
    errors.push(
        get(&proxied, "https://127.0.0.1:9/".to_owned())
            .await
            .expect_err("no proxy"),
    );
    for err in &errors {
        // The reporter, as anyhow's `{:#}` writes it.
        let mut chain = vec![err.to_string()];
        let mut next = err.source();
        while let Some(cause) = next {
            chain.push(cause.to_string());
            next = cause.source();
        }
        assert!(chain.len() >= 2, "a cause to report: {chain:?}");
        for pair in chain.windows(2) {
            assert!(
                !pair[0].contains(&pair[1]),
                "{:?} repeats its cause {:?}",
                pair[0],
                pair[1]
            );
        }
        // `report()` is that walk.
        assert_eq!(err.report().to_string(), chain.join(": "));
    }
    // The refused connection's chain: towline's line, the dialer's, the OS's.
    let refused_report = errors[0].report().to_string();
    assert!(
        refused_report.starts_with(&format!(
            "connection failed for {refused}: could not connect to 127.0.0.1:"
        )),
        "{refused_report}"
    );
}
