//! The retry rules, one by one, against a tower-test mock.

use std::fmt;

use bytes::Bytes;
use http::{Method, Request, Response};
use tokio_test::{assert_pending, assert_ready, assert_ready_err, assert_ready_ok, task};
use tower::Layer;
use tower::util::MapRequest;
use tower_test::{assert_request_eq, mock};

use super::{RetryStale, RetryStaleLayer, StaleConnection};
use crate::Body;
use crate::connect::FreshConnection;

/// A request as the mock sees it.
///
/// `tower_test::assert_request_eq!` compares the received request with `==`, and
/// `http::Request` has no `PartialEq`: its extensions are type-erased and its body may
/// be a stream. The layer under test is therefore stacked on a `map_request(Sent)`,
/// and `Sent` compares what a retry must keep: method, URI, version, headers, the
/// body's bytes (when it has them in memory), and whether it asks for a fresh
/// connection. A streaming body has no bytes to compare; the one test that sends one
/// reads the body and checks it by hand.
struct Sent(Request<Body>);

impl Sent {
    fn fresh(&self) -> bool {
        self.0.extensions().get::<FreshConnection>().is_some()
    }
}

impl PartialEq for Sent {
    fn eq(&self, other: &Sent) -> bool {
        let (a, b) = (&self.0, &other.0);
        a.method() == b.method()
            && a.uri() == b.uri()
            && a.version() == b.version()
            && a.headers() == b.headers()
            && a.body().as_bytes() == b.body().as_bytes()
            && self.fresh() == other.fresh()
    }
}

impl fmt::Debug for Sent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sent")
            .field("method", self.0.method())
            .field("uri", self.0.uri())
            .field("headers", self.0.headers())
            .field("body", &self.0.body().as_bytes())
            .field("fresh", &self.fresh())
            .finish()
    }
}

type Handle = mock::Handle<Sent, Response<&'static str>>;

/// The layer under test, in front of a `map_request(Sent)` in front of the mock.
#[derive(Clone, Copy)]
struct UnderTest;

impl<S> Layer<S> for UnderTest {
    type Service = RetryStale<MapRequest<S, fn(Request<Body>) -> Sent>>;

    fn layer(&self, mock: S) -> Self::Service {
        RetryStaleLayer::new().layer(MapRequest::new(mock, Sent as fn(Request<Body>) -> Sent))
    }
}

fn layer() -> UnderTest {
    UnderTest
}

fn request(method: Method, body: Body) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri("http://h.test/path")
        .header("x-id", "7")
        .body(body)
        .expect("request")
}

/// The request as first sent: no `FreshConnection`.
fn first(method: Method, body: &'static str) -> Sent {
    Sent(request(method, Body::from(body)))
}

/// The request as the retry sends it: the same, on a fresh connection.
fn retried(method: Method, body: &'static str) -> Sent {
    let mut req = request(method, Body::from(body));
    req.extensions_mut().insert(FreshConnection);
    Sent(req)
}

/// Fails the next request with the error `stale` makes of it.
async fn fail_next(handle: &mut Handle, stale: impl FnOnce(Request<Body>) -> crate::BoxError) {
    let (req, respond) = handle.next_request().await.expect("a request");
    respond.send_error(stale(req.0));
}

fn no_more_requests(handle: &mut Handle) {
    assert!(handle.poll_request().is_pending(), "no second request");
}

#[tokio::test]
async fn an_unsent_request_is_retried_whatever_its_method() {
    let (mut service, mut handle) = mock::spawn_layer(layer());
    assert_ready_ok!(service.poll_ready());
    let body = Body::streaming(http_body_util::Full::new(Bytes::from_static(b"once")));
    let mut fut = task::spawn(service.call(request(Method::POST, body)));
    assert_pending!(fut.poll());
    fail_next(&mut handle, |req| {
        Box::new(StaleConnection::new(false, false).with_unsent_request(req))
    })
    .await;
    assert_pending!(fut.poll());
    // By hand: the body is a stream, whose bytes `Sent` cannot compare.
    let (again, respond) = handle.next_request().await.expect("the retry");
    assert!(again.fresh(), "the retry asks for a new connection");
    let again = again.0;
    assert_eq!(again.method(), Method::POST);
    assert_eq!(again.uri(), "http://h.test/path");
    assert_eq!(again.headers()["x-id"], "7");
    let body = crate::body::read_body(again.into_body())
        .await
        .expect("body");
    assert_eq!(body, "once", "the very same streaming body, unpolled");
    respond.send_response(Response::new("second try"));
    let response = assert_ready_ok!(fut.poll());
    assert_eq!(*response.body(), "second try");
}

#[tokio::test]
async fn a_sent_idempotent_request_without_response_is_retried() {
    for method in [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::TRACE,
        Method::PUT,
        Method::DELETE,
    ] {
        let (mut service, mut handle) = mock::spawn_layer(layer());
        assert_ready_ok!(service.poll_ready());
        let mut fut = task::spawn(service.call(request(method.clone(), Body::from("replayable"))));
        assert_pending!(fut.poll());
        assert_request_eq!(handle, first(method.clone(), "replayable"), "{method}")
            .send_error(StaleConnection::new(true, false));
        assert_pending!(fut.poll());
        assert_request_eq!(handle, retried(method.clone(), "replayable"), "{method}")
            .send_response(Response::new("ok"));
        assert_ready_ok!(fut.poll(), "{method}");
        no_more_requests(&mut handle);
    }
}

/// A POST the server rejected unprocessed (an HTTP/2 REFUSED_STREAM, or a GOAWAY
/// below its stream) went out, so nothing hands it back; its copy is sent instead.
#[tokio::test]
async fn an_unprocessed_post_is_retried_from_its_copy() {
    let (mut service, mut handle) = mock::spawn_layer(layer());
    assert_ready_ok!(service.poll_ready());
    let mut fut = task::spawn(service.call(request(Method::POST, Body::from("pay once"))));
    assert_pending!(fut.poll());
    assert_request_eq!(handle, first(Method::POST, "pay once"))
        .send_error(StaleConnection::new(false, false));
    assert_pending!(fut.poll());
    assert_request_eq!(handle, retried(Method::POST, "pay once"))
        .send_response(Response::new("paid"));
    assert_eq!(*assert_ready_ok!(fut.poll()).body(), "paid");
    no_more_requests(&mut handle);
}

#[tokio::test]
async fn an_unprocessed_post_with_a_streaming_body_is_not_retried() {
    let (mut service, mut handle) = mock::spawn_layer(layer());
    assert_ready_ok!(service.poll_ready());
    let body = Body::streaming(http_body_util::Full::new(Bytes::from_static(b"gone")));
    let mut fut = task::spawn(service.call(request(Method::POST, body)));
    assert_pending!(fut.poll());
    // Rejected unprocessed, but not handed back, and a stream cannot be copied.
    fail_next(&mut handle, |_| {
        Box::new(StaleConnection::new(false, false))
    })
    .await;
    let err = assert_ready_err!(fut.poll());
    assert!(super::find_stale(&*err).is_some(), "{err}");
    no_more_requests(&mut handle);
}

#[tokio::test]
async fn a_sent_post_is_not_retried() {
    for method in [Method::POST, Method::PATCH] {
        let (mut service, mut handle) = mock::spawn_layer(layer());
        assert_ready_ok!(service.poll_ready());
        let mut fut = task::spawn(service.call(request(method.clone(), Body::from("pay once"))));
        assert_pending!(fut.poll());
        assert_request_eq!(handle, first(method.clone(), "pay once"))
            .send_error(StaleConnection::new(true, false));
        let err = assert_ready_err!(fut.poll());
        assert!(
            super::find_stale(&*err).is_some(),
            "the error passes through: {err}"
        );
        no_more_requests(&mut handle);
    }
}

#[tokio::test]
async fn a_sent_request_whose_response_began_is_not_retried() {
    let (mut service, mut handle) = mock::spawn_layer(layer());
    assert_ready_ok!(service.poll_ready());
    let mut fut = task::spawn(service.call(request(Method::GET, Body::empty())));
    assert_pending!(fut.poll());
    assert_request_eq!(handle, first(Method::GET, "")).send_error(StaleConnection::new(true, true));
    assert_ready_err!(fut.poll());
    no_more_requests(&mut handle);
}

#[tokio::test]
async fn a_sent_get_with_a_streaming_body_is_not_retried() {
    let (mut service, mut handle) = mock::spawn_layer(layer());
    assert_ready_ok!(service.poll_ready());
    let body = Body::streaming(http_body_util::Full::new(Bytes::from_static(b"gone")));
    let mut fut = task::spawn(service.call(request(Method::GET, body)));
    assert_pending!(fut.poll());
    fail_next(&mut handle, |_| Box::new(StaleConnection::new(true, false))).await;
    assert_ready_err!(fut.poll());
    no_more_requests(&mut handle);
}

/// The connector reports a failure on a fresh connection as a plain error, without
/// [`StaleConnection`] (HTTP/2 rejections aside, see the module docs): it passes
/// through.
#[tokio::test]
async fn a_failure_on_a_fresh_connection_is_not_retried() {
    let (mut service, mut handle) = mock::spawn_layer(layer());
    assert_ready_ok!(service.poll_ready());
    let mut fut = task::spawn(service.call(request(Method::GET, Body::empty())));
    assert_pending!(fut.poll());
    assert_request_eq!(handle, first(Method::GET, "")).send_error(crate::Error::new(
        crate::Kind::Request,
        Some("connection reset".into()),
    ));
    let err = assert_ready_err!(fut.poll());
    assert_eq!(
        crate::error::Report::new(&*err).to_string(),
        "request failed: connection reset"
    );
    no_more_requests(&mut handle);
}

#[tokio::test]
async fn a_request_is_retried_at_most_once() {
    let (mut service, mut handle) = mock::spawn_layer(layer());
    assert_ready_ok!(service.poll_ready());
    let mut fut = task::spawn(service.call(request(Method::GET, Body::empty())));
    assert_pending!(fut.poll());
    assert_request_eq!(handle, first(Method::GET, ""))
        .send_error(StaleConnection::new(true, false));
    assert_pending!(fut.poll());
    fail_next(&mut handle, |req| {
        Box::new(StaleConnection::new(false, false).with_unsent_request(req))
    })
    .await;
    let err = assert_ready_err!(fut.poll());
    assert!(super::find_stale(&*err).is_some());
    no_more_requests(&mut handle);
}

#[tokio::test]
async fn the_retry_waits_for_the_inner_service_to_be_ready() {
    let (mut service, mut handle) = mock::spawn_layer(layer());
    handle.allow(1);
    assert_ready_ok!(service.poll_ready());
    let mut fut = task::spawn(service.call(request(Method::GET, Body::empty())));
    assert_pending!(fut.poll());
    assert_request_eq!(handle, first(Method::GET, ""))
        .send_error(StaleConnection::new(true, false));
    // The mock allows no second call yet: the retry must wait in poll_ready.
    assert_pending!(fut.poll());
    assert!(
        handle.poll_request().is_pending(),
        "nothing sent before ready"
    );
    handle.allow(1);
    assert!(fut.is_woken(), "readiness wakes the retry");
    assert_pending!(fut.poll());
    assert_request_eq!(handle, retried(Method::GET, "")).send_response(Response::new("ready now"));
    assert_ready_ok!(fut.poll());
}

#[tokio::test]
async fn a_dropped_future_sends_nothing_more() {
    let (mut service, mut handle) = mock::spawn_layer(layer());
    assert_ready_ok!(service.poll_ready());
    let mut fut = task::spawn(service.call(request(Method::GET, Body::empty())));
    assert_pending!(fut.poll());
    let respond = assert_request_eq!(handle, first(Method::GET, ""));
    drop(fut);
    respond.send_error(StaleConnection::new(true, false));
    no_more_requests(&mut handle);
}

#[test]
fn readiness_errors_pass_through() {
    let (mut service, mut handle) = mock::spawn_layer::<Sent, Response<&'static str>, _>(layer());
    handle.send_error("not ready");
    let err = assert_ready!(service.poll_ready()).expect_err("error");
    assert_eq!(err.to_string(), "not ready");
}
