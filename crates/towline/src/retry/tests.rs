//! The retry rules, one by one, against a tower-test mock.

use bytes::Bytes;
use http::{Method, Request, Response};
use tokio_test::{assert_pending, assert_ready, assert_ready_err, assert_ready_ok, task};
use tower_test::mock;

use super::{RetryStaleLayer, StaleConnection};
use crate::Body;

type Handle = mock::Handle<Request<Body>, Response<&'static str>>;

fn request(method: Method, body: Body) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri("http://h.test/path")
        .header("x-id", "7")
        .body(body)
        .expect("request")
}

/// Fails the next request with the error `stale` makes of it.
async fn fail_next(handle: &mut Handle, stale: impl FnOnce(Request<Body>) -> crate::BoxError) {
    let (req, respond) = handle.next_request().await.expect("a request");
    respond.send_error(stale(req));
}

fn no_more_requests(handle: &mut Handle) {
    assert!(handle.poll_request().is_pending(), "no second request");
}

#[tokio::test]
async fn an_unsent_request_is_retried_whatever_its_method() {
    let (mut service, mut handle) = mock::spawn_layer(RetryStaleLayer::new());
    assert_ready_ok!(service.poll_ready());
    let body = Body::streaming(http_body_util::Full::new(Bytes::from_static(b"once")));
    let mut fut = task::spawn(service.call(request(Method::POST, body)));
    assert_pending!(fut.poll());
    fail_next(&mut handle, |req| {
        Box::new(StaleConnection::new(false, false).with_unsent_request(req))
    })
    .await;
    assert_pending!(fut.poll());
    let (again, respond) = handle.next_request().await.expect("the retry");
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
        let (mut service, mut handle) = mock::spawn_layer(RetryStaleLayer::new());
        assert_ready_ok!(service.poll_ready());
        let mut fut = task::spawn(service.call(request(method.clone(), Body::from("replayable"))));
        assert_pending!(fut.poll());
        fail_next(&mut handle, |_| Box::new(StaleConnection::new(true, false))).await;
        assert_pending!(fut.poll());
        let (again, respond) = handle.next_request().await.expect("the retry");
        assert_eq!(again.method(), method);
        assert!(
            again
                .extensions()
                .get::<crate::connect::FreshConnection>()
                .is_some()
        );
        assert_eq!(again.body().as_bytes(), Some(&b"replayable"[..]));
        respond.send_response(Response::new("ok"));
        assert_ready_ok!(fut.poll(), "{method}");
    }
}

#[tokio::test]
async fn a_sent_post_is_not_retried() {
    let (mut service, mut handle) = mock::spawn_layer(RetryStaleLayer::new());
    assert_ready_ok!(service.poll_ready());
    let mut fut = task::spawn(service.call(request(Method::POST, Body::from("pay once"))));
    assert_pending!(fut.poll());
    fail_next(&mut handle, |_| Box::new(StaleConnection::new(true, false))).await;
    let err = assert_ready_err!(fut.poll());
    assert!(
        super::find_stale(&*err).is_some(),
        "the error passes through: {err}"
    );
    no_more_requests(&mut handle);
}

#[tokio::test]
async fn a_sent_request_whose_response_began_is_not_retried() {
    let (mut service, mut handle) = mock::spawn_layer(RetryStaleLayer::new());
    assert_ready_ok!(service.poll_ready());
    let mut fut = task::spawn(service.call(request(Method::GET, Body::empty())));
    assert_pending!(fut.poll());
    fail_next(&mut handle, |_| Box::new(StaleConnection::new(true, true))).await;
    assert_ready_err!(fut.poll());
    no_more_requests(&mut handle);
}

#[tokio::test]
async fn a_sent_get_with_a_streaming_body_is_not_retried() {
    let (mut service, mut handle) = mock::spawn_layer(RetryStaleLayer::new());
    assert_ready_ok!(service.poll_ready());
    let body = Body::streaming(http_body_util::Full::new(Bytes::from_static(b"gone")));
    let mut fut = task::spawn(service.call(request(Method::GET, body)));
    assert_pending!(fut.poll());
    fail_next(&mut handle, |_| Box::new(StaleConnection::new(true, false))).await;
    assert_ready_err!(fut.poll());
    no_more_requests(&mut handle);
}

#[tokio::test]
async fn a_failure_on_a_fresh_connection_is_not_retried() {
    let (mut service, mut handle) = mock::spawn_layer(RetryStaleLayer::new());
    assert_ready_ok!(service.poll_ready());
    let mut fut = task::spawn(service.call(request(Method::GET, Body::empty())));
    assert_pending!(fut.poll());
    fail_next(&mut handle, |_| {
        Box::new(crate::Error::new(
            crate::Kind::Request,
            Some("connection reset".into()),
        ))
    })
    .await;
    let err = assert_ready_err!(fut.poll());
    assert_eq!(err.to_string(), "request failed: connection reset");
    no_more_requests(&mut handle);
}

#[tokio::test]
async fn a_request_is_retried_at_most_once() {
    let (mut service, mut handle) = mock::spawn_layer(RetryStaleLayer::new());
    assert_ready_ok!(service.poll_ready());
    let mut fut = task::spawn(service.call(request(Method::GET, Body::empty())));
    assert_pending!(fut.poll());
    fail_next(&mut handle, |_| Box::new(StaleConnection::new(true, false))).await;
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
    let (mut service, mut handle) = mock::spawn_layer(RetryStaleLayer::new());
    handle.allow(1);
    assert_ready_ok!(service.poll_ready());
    let mut fut = task::spawn(service.call(request(Method::GET, Body::empty())));
    assert_pending!(fut.poll());
    fail_next(&mut handle, |_| Box::new(StaleConnection::new(true, false))).await;
    // The mock allows no second call yet: the retry must wait in poll_ready.
    assert_pending!(fut.poll());
    assert!(
        handle.poll_request().is_pending(),
        "nothing sent before ready"
    );
    handle.allow(1);
    assert!(fut.is_woken(), "readiness wakes the retry");
    assert_pending!(fut.poll());
    let (_, respond) = handle.next_request().await.expect("the retry");
    respond.send_response(Response::new("ready now"));
    assert_ready_ok!(fut.poll());
}

#[tokio::test]
async fn a_dropped_future_sends_nothing_more() {
    let (mut service, mut handle) = mock::spawn_layer(RetryStaleLayer::new());
    assert_ready_ok!(service.poll_ready());
    let mut fut = task::spawn(service.call(request(Method::GET, Body::empty())));
    assert_pending!(fut.poll());
    let (_req, respond) = handle.next_request().await.expect("a request");
    drop(fut);
    respond.send_error(StaleConnection::new(true, false));
    no_more_requests(&mut handle);
}

#[test]
fn readiness_errors_pass_through() {
    let (mut service, mut handle) =
        mock::spawn_layer::<Request<Body>, Response<&'static str>, _>(RetryStaleLayer::new());
    handle.send_error("not ready");
    let err = assert_ready!(service.poll_ready()).expect_err("error");
    assert_eq!(err.to_string(), "not ready");
}
