//! The fault matrix (issue 12): every scripted server fault against both the bare
//! `Connector` and the full `Client`.
//!
//! Each case must end in the right typed error or the right response, within bounded
//! time (a hang fails the test after [`LIMIT`]), without a panic, with the faulty
//! connection never reused, the pool's in-use count back to 0, and a next request to
//! the same server succeeding.
//!
//! Every fault is sent on a fresh connection (the first request of a new connector or
//! client), so the client's stale-connection retry does not apply; the one case where
//! it matters (a close before the response on a *reused* connection) has its own test.
//!
//! How hyper classifies each fault, and so the class asserted here:
//!
//! | fault | class |
//! | --- | --- |
//! | reset / close before any response byte, close mid-head | `is_request()` (hyper: I/O error or incomplete message) |
//! | close mid-body (length or chunked) | response, then `is_body() && is_truncated()` |
//! | invalid status line, invalid header bytes, head over the size limit, two different `Content-Length`s | `is_response()` (hyper: parse error) |
//! | over-long chunk-size line (size overflow, extensions over 16 KiB) | response, then `is_body()`, not truncated |
//! | `Content-Length` with `Transfer-Encoding` | response framed by `Transfer-Encoding` (RFC 9112 §6.3); its connection is closed afterwards, never reused |
//! | 100 and 103 before the final response | the final response |
//! | 413 before the request body is finished | the 413 response |
//! | stall mid-body | `Client`: `is_timeout()`; `Connector`: no timeout of its own, the caller's timeout drops the body |
//! | connect never completes | `is_connect() && is_timeout()` |
//! | `.invalid` host | `is_connect() && is_resolve()` |

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body::Frame;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;
use towline::body::{Body, read_body};
use towline::client::ClientBuilder;
use towline::connect::{self, ConnectionInfo, Connector, Destination, Framing, PoolStats};
use towline::{Client, Error};
use towline_test::{Fault, Reply, TestServer};

/// The longest any one case may take before it counts as a hang.
const LIMIT: Duration = Duration::from_secs(10);
/// How long the pool may take to account for a connection that was given up.
const SETTLE: Duration = Duration::from_secs(2);

/// Which client a case runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Connector,
    Client,
}

/// The client under test.
#[derive(Clone)]
enum Sut {
    Connector(Connector),
    Client(Client),
}

/// Why a response body could not be read.
#[derive(Debug)]
enum BodyFailure {
    /// towline reported an error.
    Error(Error),
    /// The caller's own timeout expired; the body was dropped unread.
    CallerTimeout,
}

/// What one exchange produced once a response head arrived.
#[derive(Debug)]
struct Fetched {
    status: StatusCode,
    reused: Option<bool>,
    framing: Option<Framing>,
    body: Result<Bytes, BodyFailure>,
}

impl Sut {
    fn new(side: Side) -> Sut {
        Sut::configured(side, |c| c, |c| c)
    }

    /// A connector or client: `conn` configures the connector (of the client too),
    /// `client` the rest of the client.
    fn configured(
        side: Side,
        conn: impl FnOnce(connect::Builder) -> connect::Builder,
        client: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> Sut {
        match side {
            Side::Connector => Sut::Connector(conn(Connector::builder()).build()),
            Side::Client => Sut::Client(
                client(Client::builder().connector(conn))
                    .build()
                    .expect("client builds"),
            ),
        }
    }

    fn pool_stats(&self) -> PoolStats {
        match self {
            Sut::Connector(c) => c.pool_stats(),
            Sut::Client(c) => c.pool_stats(),
        }
    }

    /// Sends `req` and reads the whole body; with `body_limit`, gives up reading the
    /// body (dropping it) after that long.
    async fn send(
        &self,
        req: Request<Body>,
        body_limit: Option<Duration>,
    ) -> Result<Fetched, Error> {
        match self {
            Sut::Connector(c) => {
                let response = c.clone().oneshot(req).await?;
                let (parts, body) = response.into_parts();
                let reading = async { read_body(body).await.map_err(BodyFailure::Error) };
                Ok(Fetched {
                    status: parts.status,
                    reused: parts.extensions.get::<ConnectionInfo>().map(|i| i.reused),
                    framing: parts.extensions.get::<Framing>().copied(),
                    body: bounded(reading, body_limit).await,
                })
            }
            Sut::Client(c) => {
                let response = c.execute(req).await?;
                let status = response.status();
                let reused = response.connection_info().map(|i| i.reused);
                let framing = response.extensions().get::<Framing>().copied();
                let reading = async { response.bytes().await.map_err(BodyFailure::Error) };
                Ok(Fetched {
                    status,
                    reused,
                    framing,
                    body: bounded(reading, body_limit).await,
                })
            }
        }
    }

    async fn get(&self, url: &str) -> Result<Fetched, Error> {
        self.send(get(url), None).await
    }
}

async fn bounded(
    reading: impl Future<Output = Result<Bytes, BodyFailure>>,
    limit: Option<Duration>,
) -> Result<Bytes, BodyFailure> {
    match limit {
        None => reading.await,
        Some(limit) => tokio::time::timeout(limit, reading)
            .await
            .unwrap_or(Err(BodyFailure::CallerTimeout)),
    }
}

fn get(url: &str) -> Request<Body> {
    Request::get(url)
        .body(Body::empty())
        .expect("valid request")
}

/// A server answering `/fault` with `fault` and every other path with `200 ok`.
async fn server_with(fault: Reply) -> TestServer {
    TestServer::start(move |req| {
        if req.path() == "/fault" {
            fault.clone()
        } else {
            Reply::text("ok")
        }
    })
    .await
}

/// Waits (briefly) until the pool has no connection in use, and fails otherwise.
async fn assert_in_use_settles(sut: &Sut, what: &str) {
    let deadline = Instant::now() + SETTLE;
    let mut first = true;
    loop {
        let stats = sut.pool_stats();
        if stats.in_use == 0 {
            return;
        }
        if first {
            eprintln!("note [{what}]: in use not 0 at once: {stats:?}");
            first = false;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: pool still has a connection in use: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The checks after every fault: nothing left in use, and a next request to the same
/// server succeeds, never on a connection that carried a faulty (`/fault` or
/// `/upload`) exchange. When every connection so far carried one, the next request
/// must open a new connection.
async fn assert_recovers(sut: &Sut, server: &TestServer, what: &str) {
    let faulty: Vec<usize> = server
        .requests()
        .iter()
        .filter(|r| r.path() != "/ok")
        .map(|r| r.connection)
        .collect();
    assert_recovers_avoiding(sut, server, what, &faulty).await;
}

/// [`assert_recovers`] with the faulty connections (server ids) named by the caller.
async fn assert_recovers_avoiding(sut: &Sut, server: &TestServer, what: &str, faulty: &[usize]) {
    assert_in_use_settles(sut, what).await;
    let before = server.requests();
    let healthy_exists = before.iter().any(|r| !faulty.contains(&r.connection));
    let accepted = server.connections_accepted();
    let next = sut
        .get(&server.url("/ok"))
        .await
        .unwrap_or_else(|e| panic!("{what}: the next request failed: {e}"));
    assert_eq!(next.status, 200, "{what}: next request");
    assert_eq!(
        &next.body.expect("next body")[..],
        b"ok",
        "{what}: next request's body"
    );
    let carried_by = server
        .requests()
        .last()
        .map(|r| r.connection)
        .expect("the next request was recorded");
    assert!(
        !faulty.contains(&carried_by),
        "{what}: the faulty connection {carried_by} was reused"
    );
    if !healthy_exists {
        assert_eq!(
            next.reused,
            Some(false),
            "{what}: the faulty connection was reused"
        );
        assert_eq!(
            server.connections_accepted(),
            accepted + 1,
            "{what}: the next request did not open a new connection"
        );
    }
    assert_in_use_settles(sut, what).await;
}

/// Runs a case with the hang limit.
async fn guarded(case: impl Future<Output = ()>) {
    tokio::time::timeout(LIMIT, case)
        .await
        .expect("the exchange hung: no outcome within the time limit");
}

/// Sends `GET /fault` on a fresh connection and expects an error before any response.
async fn expect_head_error(side: Side, server: &TestServer, what: &str) -> Error {
    let sut = Sut::new(side);
    let err = sut
        .get(&server.url("/fault"))
        .await
        .expect_err(&format!("{what}: a response came back"));
    eprintln!("observed [{what} / {side:?}]: {:?}: {err}", err.kind());
    assert_in_use_settles(&sut, what).await;
    assert_recovers(&sut, server, what).await;
    err
}

/// One test per side for each case function `case(side)`; attributes after a side
/// name (such as `#[ignore = "bug: ..."]`) apply to that side's test only.
macro_rules! both_sides {
    ($case:ident $(, connector: #[$ca:meta])? $(, client: #[$cl:meta])?) => {
        mod $case {
            use super::*;

            #[tokio::test]
            $(#[$ca])?
            async fn connector() {
                guarded(super::$case(Side::Connector)).await;
            }

            #[tokio::test]
            $(#[$cl])?
            async fn client() {
                guarded(super::$case(Side::Client)).await;
            }
        }
    };
}

// ---------------------------------------------------------------------------------
// Before any response byte

async fn reset_before_response(side: Side) {
    let server = server_with(Reply::ok().fault(Fault::ResetWithoutAnswer)).await;
    let err = expect_head_error(side, &server, "reset before response").await;
    assert!(err.is_request(), "{err:?}");
    assert!(!err.is_stale_connection(), "fresh connection: {err:?}");
    assert!(!err.is_timeout(), "{err:?}");
}
both_sides!(reset_before_response);

async fn close_before_response(side: Side) {
    let server = server_with(Reply::ok().fault(Fault::CloseWithoutAnswer)).await;
    let err = expect_head_error(side, &server, "close before response").await;
    assert!(err.is_request(), "{err:?}");
    assert!(!err.is_stale_connection(), "fresh connection: {err:?}");
}
both_sides!(close_before_response);

/// The same close on a *reused* connection: the connector reports a stale connection,
/// the client retries it once on a new connection.
async fn close_before_response_on_reused(side: Side) {
    let faults = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&faults);
    let server = TestServer::start(move |req| {
        if req.path() == "/fault" && counter.fetch_add(1, Ordering::SeqCst) == 0 {
            Reply::ok().fault(Fault::CloseWithoutAnswer)
        } else {
            Reply::text("ok")
        }
    })
    .await;
    let sut = Sut::new(side);
    let first = sut.get(&server.url("/ok")).await.expect("first request");
    assert_eq!(first.reused, Some(false));
    first.body.expect("first body");
    let outcome = sut.get(&server.url("/fault")).await;
    match side {
        Side::Connector => {
            let err = outcome.expect_err("the server closed without answering");
            eprintln!("observed [close on reused / {side:?}]: {err}");
            assert!(err.is_request() && err.is_stale_connection(), "{err:?}");
            let stale = err.stale_connection().expect("stale");
            assert!(
                stale.request_written() && !stale.response_started(),
                "{stale:?}"
            );
            assert_eq!(faults.load(Ordering::SeqCst), 1);
        }
        Side::Client => {
            let ok = outcome.expect("retried on a new connection");
            eprintln!(
                "observed [close on reused / {side:?}]: retried, {}",
                ok.status
            );
            assert_eq!(ok.status, 200);
            assert_eq!(ok.reused, Some(false));
            assert_eq!(faults.load(Ordering::SeqCst), 2, "sent twice");
            assert_eq!(server.connections_accepted(), 2);
        }
    }
    // Connection 0 carried `/ok` and then the unanswered `/fault`; the client's retry
    // went over connection 1, which is healthy and may be reused.
    assert_recovers_avoiding(&sut, &server, "close on reused", &[0]).await;
}
both_sides!(close_before_response_on_reused);

async fn close_mid_headers(side: Side) {
    // "HTTP/1.1 200 OK\r\nContent-Ty" and then the close.
    let server =
        server_with(Reply::text("hello").fault(Fault::CloseMidHeaders { after: 27 })).await;
    let err = expect_head_error(side, &server, "close mid-headers").await;
    assert!(err.is_request(), "{err:?}");
    assert!(!err.is_stale_connection(), "fresh connection: {err:?}");
}
both_sides!(close_mid_headers);

// ---------------------------------------------------------------------------------
// Malformed heads

async fn raw_head_error(side: Side, raw: &'static [u8], what: &str) {
    // `Raw` keeps the connection open: the client must still not reuse it.
    let server = server_with(Reply::ok().fault(Fault::Raw(Bytes::from_static(raw)))).await;
    let err = expect_head_error(side, &server, what).await;
    assert!(err.is_response(), "{what}: {err:?}");
    assert!(!err.is_stale_connection(), "{what}: {err:?}");
}

async fn invalid_status_line(side: Side) {
    raw_head_error(
        side,
        b"HTTP/1.1 abc OK\r\nContent-Length: 2\r\n\r\nok",
        "status code not a number",
    )
    .await;
    raw_head_error(
        side,
        b"HTTP/9.7 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "unknown HTTP version",
    )
    .await;
    raw_head_error(side, b"hello there\r\n\r\n", "no status line").await;
}
both_sides!(invalid_status_line);

async fn invalid_header_bytes(side: Side) {
    raw_head_error(
        side,
        b"HTTP/1.1 200 OK\r\nX-Bad\x01Name: v\r\nContent-Length: 2\r\n\r\nok",
        "control byte in a header name",
    )
    .await;
    raw_head_error(
        side,
        b"HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\nContent-Length: 2\r\n\r\nok",
        "NUL in a header value",
    )
    .await;
    raw_head_error(
        side,
        b"HTTP/1.1 200 OK\r\nX Bad: v\r\nContent-Length: 2\r\n\r\nok",
        "space in a header name",
    )
    .await;
}
both_sides!(invalid_header_bytes);

async fn headers_over_size_limit(side: Side) {
    let big = "a".repeat(64 * 1024);
    let server = server_with(Reply::text("hello").header("X-Big", big)).await;
    let sut = Sut::configured(side, |c| c.max_header_size(16 * 1024), |c| c);
    let what = "head over 16 KiB limit";
    let err = sut
        .get(&server.url("/fault"))
        .await
        .expect_err("the head is over the limit");
    eprintln!("observed [{what} / {side:?}]: {:?}: {err}", err.kind());
    assert!(err.is_response(), "{err:?}");
    assert_recovers(&sut, &server, what).await;
}
both_sides!(headers_over_size_limit);

async fn two_different_content_lengths(side: Side) {
    raw_head_error(
        side,
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "two different Content-Lengths",
    )
    .await;
    raw_head_error(
        side,
        b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!",
        "a Content-Length list with two values",
    )
    .await;
}
both_sides!(two_different_content_lengths);

/// RFC 9112 §6.3: `Transfer-Encoding` overrides `Content-Length`, and such a response
/// "ought to be handled as an error"; either way the connection must not be reused,
/// since the two framings disagree on where the next response starts.
async fn content_length_with_transfer_encoding(side: Side) {
    // By Content-Length the body is "5\r\nhe"; by chunked it is "hello".
    let raw: &'static [u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\
        Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let server = server_with(Reply::ok().fault(Fault::Raw(Bytes::from_static(raw)))).await;
    let sut = Sut::new(side);
    let what = "Content-Length with Transfer-Encoding";
    match sut.get(&server.url("/fault")).await {
        Err(err) => {
            eprintln!("observed [{what} / {side:?}]: {:?}: {err}", err.kind());
            assert!(err.is_response(), "{err:?}");
        }
        Ok(fetched) => {
            eprintln!(
                "observed [{what} / {side:?}]: {} framing {:?} body {:?}",
                fetched.status, fetched.framing, fetched.body
            );
            assert_eq!(fetched.status, 200);
            assert_eq!(&fetched.body.expect("chunked body")[..], b"hello");
            if side == Side::Connector {
                assert_eq!(fetched.framing, Some(Framing::Chunked));
            }
        }
    }
    assert_recovers(&sut, &server, what).await;
}
both_sides!(content_length_with_transfer_encoding);

// ---------------------------------------------------------------------------------
// Body faults

/// Sends `GET /fault` on a fresh connection, expects a `200` head and a failing body,
/// checks the recovery, and returns the body's error.
async fn body_error(side: Side, reply: Reply, what: &str) -> Error {
    let server = server_with(reply).await;
    let sut = Sut::new(side);
    let fetched = sut
        .get(&server.url("/fault"))
        .await
        .unwrap_or_else(|e| panic!("{what}: the head is valid, got {e}"));
    assert_eq!(fetched.status, 200, "{what}");
    let err = match fetched.body {
        Ok(body) => panic!("{what}: the body must fail, got {body:?}"),
        Err(BodyFailure::Error(err)) => err,
        Err(BodyFailure::CallerTimeout) => panic!("{what}: no caller timeout was set"),
    };
    eprintln!(
        "observed [{what} / {side:?}]: 200, then {:?}: {err}",
        err.kind()
    );
    assert_recovers(&sut, &server, what).await;
    err
}

async fn close_mid_body_length(side: Side) {
    let reply = Reply::text("hello world").fault(Fault::CloseMidBody { after: 5 });
    let err = body_error(side, reply, "close mid-body (Content-Length)").await;
    assert!(err.is_body() && err.is_truncated(), "{err:?}");
    let reply = Reply::text("hello world").fault(Fault::ShortBody { declared: 100 });
    let err = body_error(side, reply, "short body (Content-Length)").await;
    assert!(err.is_body() && err.is_truncated(), "{err:?}");
}
both_sides!(close_mid_body_length);

async fn close_mid_body_chunked(side: Side) {
    // Cut inside the second chunk's data.
    let reply = Reply::text("hello world")
        .chunked(4)
        .fault(Fault::CloseMidBody { after: 6 });
    let err = body_error(side, reply, "close mid-body (chunked, in a chunk)").await;
    assert!(err.is_body() && err.is_truncated(), "{err:?}");
    // Every chunk sent, only the last (zero-size) chunk missing.
    let reply = Reply::text("hello world")
        .chunked(4)
        .fault(Fault::CloseMidBody { after: 11 });
    let err = body_error(side, reply, "close mid-body (chunked, no last chunk)").await;
    assert!(err.is_body() && err.is_truncated(), "{err:?}");
}
both_sides!(close_mid_body_chunked);

async fn over_long_chunk_size_line(side: Side) {
    // A size with more hex digits than fit in 64 bits.
    let raw: &'static [u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        1000000000000000000000005\r\nhello\r\n0\r\n\r\n";
    let reply = Reply::ok().fault(Fault::Raw(Bytes::from_static(raw)));
    let err = body_error(side, reply, "chunk size overflow").await;
    assert!(err.is_body() && !err.is_truncated(), "{err:?}");
    // Chunk extensions past hyper's 16 KiB limit.
    let mut raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=".to_vec();
    raw.extend(std::iter::repeat_n(b'a', 20 * 1024));
    raw.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
    let reply = Reply::ok().fault(Fault::Raw(Bytes::from(raw)));
    let err = body_error(side, reply, "chunk extensions over 16 KiB").await;
    assert!(err.is_body() && !err.is_truncated(), "{err:?}");
}
both_sides!(over_long_chunk_size_line);

// ---------------------------------------------------------------------------------
// Responses that are right, if unusual

async fn informational_before_final(side: Side) {
    let raw: &'static [u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
        HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
        HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal";
    let server = server_with(Reply::ok().fault(Fault::Raw(Bytes::from_static(raw)))).await;
    let sut = Sut::new(side);
    let what = "100 and 103 before the final response";
    let fetched = sut
        .get(&server.url("/fault"))
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    eprintln!(
        "observed [{what} / {side:?}]: {} body {:?}",
        fetched.status, fetched.body
    );
    assert_eq!(fetched.status, 200);
    assert_eq!(&fetched.body.expect("final body")[..], b"final");
    assert_in_use_settles(&sut, what).await;
    // The exchange completed cleanly, so its connection may be reused.
    let next = sut.get(&server.url("/ok")).await.expect("next request");
    assert_eq!(next.status, 200);
    assert_eq!(&next.body.expect("next body")[..], b"ok");
    eprintln!(
        "observed [{what} / {side:?}]: next request reused: {:?}",
        next.reused
    );
    assert_in_use_settles(&sut, what).await;
}
both_sides!(informational_before_final);

/// A request body that yields `chunks` pieces of `size` bytes, the first at once and
/// each other after sleeping `delay`, and counts what it produced.
struct SlowUpload {
    chunks: usize,
    size: usize,
    delay: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    produced: Arc<AtomicUsize>,
}

impl http_body::Body for SlowUpload {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        if this.chunks == 0 {
            return Poll::Ready(None);
        }
        // The first piece goes out at once, the others after `delay` each.
        if this.produced.load(Ordering::SeqCst) > 0 {
            let delay = this.delay;
            let sleep = this
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
            ready!(sleep.as_mut().poll(cx));
            this.sleep = None;
        }
        this.chunks -= 1;
        this.produced.fetch_add(this.size, Ordering::SeqCst);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; this.size])))))
    }
}

async fn early_413(side: Side, sized: bool) {
    let server = TestServer::builder()
        .answer_before_body(true)
        .handler(|req| {
            if req.path() == "/upload" {
                Reply::new(413).body("too large")
            } else {
                Reply::text("ok")
            }
        })
        .start()
        .await
        .expect("server starts");
    let what = if sized {
        "413 before the body (Content-Length)"
    } else {
        "413 before the body (chunked)"
    };
    // 20 pieces of 16 KiB, one every 100 ms: about 2 s to send in full.
    let (chunks, size) = (20, 16 * 1024);
    let produced = Arc::new(AtomicUsize::new(0));
    let upload = SlowUpload {
        chunks,
        size,
        delay: Duration::from_millis(100),
        sleep: None,
        produced: Arc::clone(&produced),
    };
    let body = if sized {
        Body::sized(upload, (chunks * size) as u64)
    } else {
        Body::streaming(upload)
    };
    let request = Request::post(server.url("/upload"))
        .body(body)
        .expect("valid request");
    let sut = Sut::new(side);
    let started = Instant::now();
    match sut.send(request, None).await {
        Ok(fetched) => {
            eprintln!(
                "observed [{what} / {side:?}]: {} {:?} after {:?}, {} of {} body bytes produced",
                fetched.status,
                fetched.body,
                started.elapsed(),
                produced.load(Ordering::SeqCst),
                chunks * size
            );
            assert_eq!(fetched.status, 413);
            assert_eq!(&fetched.body.expect("413 body")[..], b"too large");
        }
        Err(err) => {
            eprintln!(
                "observed [{what} / {side:?}]: {:?}: {err} after {:?}, {} of {} body bytes produced",
                err.kind(),
                started.elapsed(),
                produced.load(Ordering::SeqCst),
                chunks * size
            );
            panic!("{what}: the 413 response was lost: {err:?}");
        }
    }
    assert_eq!(server.requests()[0].path(), "/upload");
    assert_recovers(&sut, &server, what).await;
    let sent = produced.load(Ordering::SeqCst);
    eprintln!("observed [{what} / {side:?}]: {sent} body bytes produced in the end");
    assert!(
        sent < chunks * size,
        "{what}: the whole body was still sent"
    );
}

async fn answer_413_before_body_finished(side: Side) {
    early_413(side, true).await;
    early_413(side, false).await;
}
both_sides!(answer_413_before_body_finished);

// ---------------------------------------------------------------------------------
// Timeouts

/// The head and 5 of 10 body bytes, then nothing: the server keeps the connection open
/// and waits for a next request that never comes.
const STALLED: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello";

async fn stall_mid_body(side: Side) {
    let server = server_with(Reply::ok().fault(Fault::Raw(Bytes::from_static(STALLED)))).await;
    let what = "stall mid-body";
    let sut = Sut::configured(side, |c| c, |c| c.read_timeout(Duration::from_millis(300)));
    // The connector has no read timeout of its own: the caller gives up and drops the
    // body, which must close the connection.
    let caller_limit = (side == Side::Connector).then_some(Duration::from_millis(300));
    let started = Instant::now();
    let fetched = sut
        .send(get(&server.url("/fault")), caller_limit)
        .await
        .unwrap_or_else(|e| panic!("{what}: the head is valid, got {e}"));
    assert_eq!(fetched.status, 200);
    match (side, &fetched.body) {
        (Side::Connector, Err(BodyFailure::CallerTimeout)) => {}
        (Side::Client, Err(BodyFailure::Error(err))) => {
            assert!(err.is_timeout(), "{err:?}");
            assert!(!err.is_truncated(), "{err:?}");
        }
        (_, other) => panic!("{what}: unexpected body outcome {other:?}"),
    }
    eprintln!(
        "observed [{what} / {side:?}]: 200, then {:?} after {:?}",
        fetched.body,
        started.elapsed()
    );
    drop(fetched);
    assert!(
        server.wait_for_closed(1, SETTLE).await,
        "{what}: the stalled connection was not closed"
    );
    assert_recovers(&sut, &server, what).await;

    if side == Side::Client {
        // The whole-request timeout cuts the same stall.
        let server = server_with(Reply::ok().fault(Fault::Raw(Bytes::from_static(STALLED)))).await;
        let what = "stall mid-body, request timeout";
        let sut = Sut::configured(side, |c| c, |c| c.timeout(Duration::from_millis(300)));
        let fetched = sut
            .get(&server.url("/fault"))
            .await
            .unwrap_or_else(|e| panic!("{what}: the head is valid, got {e}"));
        match &fetched.body {
            Err(BodyFailure::Error(err)) => assert!(err.is_timeout(), "{err:?}"),
            other => panic!("{what}: unexpected body outcome {other:?}"),
        }
        eprintln!("observed [{what} / {side:?}]: 200, then {:?}", fetched.body);
        drop(fetched);
        assert!(
            server.wait_for_closed(1, SETTLE).await,
            "{what}: not closed"
        );
        assert_recovers(&sut, &server, what).await;
    }
}
both_sides!(stall_mid_body);

/// A listener whose accept queue is full: it never accepts, and the kernel drops
/// further SYNs, so connecting to it hangs. Returns it with the connections that fill
/// its queue (all to be kept alive).
async fn full_listener() -> (
    tokio::net::TcpListener,
    SocketAddr,
    Vec<tokio::net::TcpStream>,
) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind");
    let listener = socket.listen(1).expect("listen");
    let addr = listener.local_addr().expect("local addr");
    let mut fillers = Vec::new();
    for _ in 0..64 {
        match tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            Ok(Ok(stream)) => fillers.push(stream),
            Ok(Err(e)) => panic!("connecting to fill the queue failed: {e}"),
            // Queue full: this SYN was dropped.
            Err(_) => return (listener, addr, fillers),
        }
    }
    panic!("the accept queue never filled up");
}

async fn connect_timeout(side: Side) {
    let (_listener, addr, _fillers) = full_listener().await;
    let what = "connect timeout (full accept queue)";
    let sut = Sut::configured(
        side,
        |c| c.connect_timeout(Duration::from_millis(300)),
        |c| c,
    );
    let started = Instant::now();
    let err = sut
        .get(&format!("http://{addr}/fault"))
        .await
        .expect_err("nothing accepts");
    let elapsed = started.elapsed();
    eprintln!(
        "observed [{what} / {side:?}]: {:?}: {err} after {elapsed:?}",
        err.kind()
    );
    assert!(err.is_connect() && err.is_timeout(), "{err:?}");
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    let server = server_with(Reply::ok()).await;
    assert_recovers(&sut, &server, what).await;
}
both_sides!(connect_timeout);

/// A dialer whose first dial never completes; later dials connect over TCP.
#[tokio::test]
async fn connect_timeout_with_a_dialer_that_never_completes() {
    guarded(async {
        let calls = Arc::new(AtomicUsize::new(0));
        let dialer = tower::service_fn(move |dst: Destination| {
            let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    std::future::pending::<()>().await;
                }
                tokio::net::TcpStream::connect((dst.host().to_owned(), dst.port())).await
            }
        });
        let connector = Connector::builder()
            .connect_timeout(Duration::from_millis(300))
            .build_with_dialer(dialer);
        let server = server_with(Reply::ok()).await;
        let started = Instant::now();
        let err = connector
            .clone()
            .oneshot(get(&server.url("/fault")))
            .await
            .expect_err("the dial never completes");
        eprintln!(
            "observed [connect timeout (pending dialer) / Connector]: {:?}: {err} after {:?}",
            err.kind(),
            started.elapsed()
        );
        assert!(err.is_connect() && err.is_timeout(), "{err:?}");
        assert_eq!(connector.pool_stats().in_use, 0);
        let response = connector
            .clone()
            .oneshot(get(&server.url("/ok")))
            .await
            .expect("next request");
        assert_eq!(response.status(), 200);
        let body = read_body(response.into_body()).await.expect("body");
        assert_eq!(&body[..], b"ok");
        let stats = connector.pool_stats();
        assert_eq!((stats.in_use, stats.opened), (0, 1), "{stats:?}");
    })
    .await;
}

async fn invalid_host(side: Side) {
    let what = ".invalid host";
    let sut = Sut::new(side);
    let err = sut
        .get("http://no-such-host.invalid/fault")
        .await
        .expect_err("the name does not resolve");
    eprintln!("observed [{what} / {side:?}]: {:?}: {err}", err.kind());
    assert!(err.is_connect() && err.is_resolve(), "{err:?}");
    assert!(!err.is_timeout(), "{err:?}");
    let server = server_with(Reply::ok()).await;
    assert_recovers(&sut, &server, what).await;
}
both_sides!(invalid_host);
