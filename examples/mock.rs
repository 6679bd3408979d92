//! Unit-testing towline's layers with tower-test: a mock service below the layer,
//! answered by hand.
//!
//! Run with `cargo run -p towline-examples --example mock`.
//!
//! `tower_test::mock::spawn_layer` puts a layer on a `Mock` service and returns a
//! `Handle` that receives every request the layer sends down and answers it, one at a
//! time. With `tokio_test::task::spawn` the response future is polled step by step,
//! so we can check what the layer did between two answers. No network is used.
//!
//! 1. `FollowRedirectLayer`: the mock answers `302` to another host, then `200`. The
//!    layer sends the second request itself, without the `Authorization` header (it
//!    left the first request's origin), and records the hop.
//! 2. `RetryStaleLayer`: the mock fails a POST as if on a stale pooled connection,
//!    handing the unsent request back. The layer sends it again, once, marked to go
//!    on a fresh connection.
//!
//! These would normally be `#[tokio::test]`s; here `main` runs them and prints what
//! happened.

use http::{Request, Response, StatusCode};
use tokio_test::{assert_pending, assert_ready_ok};
use towline::connect::{EffectiveUri, FreshConnection};
use towline::error::StaleConnection;
use towline::redirect::{FollowRedirectLayer, RedirectHistory};
use towline::retry::RetryStaleLayer;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    follow_redirect().await?;
    retry_stale().await?;
    println!("\nall checks passed");
    Ok(())
}

async fn follow_redirect() -> Result<(), BoxError> {
    println!("== FollowRedirectLayer over a mock");
    let (mut service, mut handle) =
        tower_test::mock::spawn_layer::<Request<String>, Response<String>, _>(
            FollowRedirectLayer::new(),
        );
    assert_ready_ok!(service.poll_ready());

    let request = Request::get("http://app.test/report")
        .header("authorization", "Bearer secret")
        .body(String::new())?;
    let mut response = tokio_test::task::spawn(service.call(request));
    assert_pending!(response.poll());

    let (first, reply) = handle.next_request().await.ok_or("no first request")?;
    println!(
        "mock got:   {} {} (authorization: {:?})",
        first.method(),
        first.uri(),
        first.headers().get("authorization")
    );
    assert!(first.headers().contains_key("authorization"));
    reply.send_response(
        Response::builder()
            .status(StatusCode::FOUND)
            .header("location", "http://cdn.test/files/report.pdf")
            .body(String::from("moved"))?,
    );
    println!("mock sent:  302 Found, Location: http://cdn.test/files/report.pdf");
    // The layer reads the 302's body, then sends the next request and waits for it.
    assert_pending!(response.poll());

    let (second, reply) = handle.next_request().await.ok_or("no second request")?;
    println!(
        "mock got:   {} {} (authorization: {:?})",
        second.method(),
        second.uri(),
        second.headers().get("authorization")
    );
    assert_eq!(second.uri(), "http://cdn.test/files/report.pdf");
    assert!(
        !second.headers().contains_key("authorization"),
        "a credential must not follow a redirect to another origin"
    );
    reply.send_response(Response::new(String::from("%PDF-1.7 ...")));
    println!("mock sent:  200 OK");

    let response = assert_ready_ok!(response.poll());
    let effective = response
        .extensions()
        .get::<EffectiveUri>()
        .ok_or("no effective URI")?;
    let history = response
        .extensions()
        .get::<RedirectHistory>()
        .ok_or("no history")?;
    println!(
        "caller got: {} from {} after {} redirect(s), body {:?}",
        response.status(),
        effective.0,
        history.len(),
        response.body()
    );
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(history.hops()[0].status(), StatusCode::FOUND);
    Ok(())
}

async fn retry_stale() -> Result<(), BoxError> {
    println!("\n== RetryStaleLayer over a mock");
    let (mut service, mut handle) =
        tower_test::mock::spawn_layer::<Request<String>, Response<String>, _>(
            RetryStaleLayer::new(),
        );
    assert_ready_ok!(service.poll_ready());

    let request = Request::post("http://app.test/orders").body(String::from("{\"qty\":1}"))?;
    let mut response = tokio_test::task::spawn(service.call(request));
    assert_pending!(response.poll());

    let (first, reply) = handle.next_request().await.ok_or("no first request")?;
    println!(
        "mock got:   {} {} {:?}",
        first.method(),
        first.uri(),
        first.body()
    );
    // As towline's connector does when a pooled connection was found dead before a
    // byte of the request was written: fail, and give the request back.
    reply.send_error(StaleConnection::new(false, false).with_unsent_request(first));
    println!("mock sent:  an error: stale connection, request unsent");
    assert_pending!(response.poll());

    let (second, reply) = handle.next_request().await.ok_or("no retry")?;
    let fresh = second.extensions().get::<FreshConnection>().is_some();
    println!(
        "mock got:   {} {} {:?} again, fresh connection asked: {fresh}",
        second.method(),
        second.uri(),
        second.body()
    );
    assert!(fresh, "a retry must not meet another stale connection");
    assert_eq!(second.body(), "{\"qty\":1}");
    reply.send_response(Response::new(String::from("order 17 created")));
    println!("mock sent:  200 OK");

    let response = assert_ready_ok!(response.poll());
    println!("caller got: {} {:?}", response.status(), response.body());
    Ok(())
}
