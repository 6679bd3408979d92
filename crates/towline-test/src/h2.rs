//! HTTP/2 connections, served by hyper's HTTP/2 server.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::task::AbortHandle;

use crate::conn::{CloseGuard, Config, Shared, lock, panic_message};
use crate::reply::{Fault, Reply};
use crate::request::RecordedRequest;
use crate::stream::Stream;

/// Response headers that are specific to an HTTP/1 connection and forbidden
/// in HTTP/2; they are dropped from replies.
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "proxy-connection",
    "upgrade",
];

/// The error a stream's service returns to make hyper reset the stream
/// (`RST_STREAM` with `INTERNAL_ERROR`) instead of answering.
#[derive(Debug)]
struct ResetStream;

impl std::fmt::Display for ResetStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("towline-test: stream reset by a fault or an incomplete request")
    }
}

impl std::error::Error for ResetStream {}

/// Spawns hyper's per-stream tasks on tokio and keeps their abort handles,
/// so that they end with their connection (see [`AbortOnDrop`]) rather than
/// outliving the server.
#[derive(Clone, Default)]
struct StreamTasks {
    handles: Arc<Mutex<Vec<AbortHandle>>>,
}

impl<F> hyper::rt::Executor<F> for StreamTasks
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        let handle = tokio::spawn(future).abort_handle();
        let mut handles = lock(&self.handles);
        handles.retain(|h| !h.is_finished());
        handles.push(handle);
    }
}

/// Aborts every task of a [`StreamTasks`] when dropped.
struct AbortOnDrop(StreamTasks);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for handle in lock(&self.0.handles).drain(..) {
            handle.abort();
        }
    }
}

/// Serves one HTTP/2 connection until it ends.
///
/// The server never closes an HTTP/2 connection on its own, so its end is
/// counted as a close by the client.
pub(crate) async fn serve(stream: Stream, id: usize, config: &Arc<Config>, mut guard: CloseGuard) {
    let tasks = StreamTasks::default();
    let _abort = AbortOnDrop(tasks.clone());
    let next_index = AtomicUsize::new(0);
    let shared = Arc::clone(&guard.shared);
    let config = Arc::clone(config);
    // hyper calls the service as each request head arrives, in order.
    let service = service_fn(move |request: Request<Incoming>| {
        let index = next_index.fetch_add(1, Ordering::SeqCst);
        respond(request, id, index, Arc::clone(&config), Arc::clone(&shared))
    });
    let _ = http2::Builder::new(tasks)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    guard.finish(true);
}

/// Handles one request stream: collects the body, calls the handler, records
/// the request, and builds the response (or resets the stream).
async fn respond(
    request: Request<Incoming>,
    id: usize,
    index: usize,
    config: Arc<Config>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, ResetStream> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => {
            shared.incomplete.fetch_add(1, Ordering::SeqCst);
            return Err(ResetStream);
        }
    };
    let mut headers: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    if !parts.headers.contains_key(http::header::HOST) {
        if let Some(authority) = parts.uri.authority() {
            headers.insert(
                0,
                ("host".to_owned(), authority.as_str().as_bytes().to_vec()),
            );
        }
    }
    let target = match (parts.uri.path_and_query(), parts.uri.authority()) {
        (Some(path), _) => path.as_str().to_owned(),
        (None, Some(authority)) => authority.as_str().to_owned(),
        (None, None) => "/".to_owned(),
    };
    let head_request = parts.method == http::Method::HEAD;
    let mut recorded = RecordedRequest {
        method: parts.method.as_str().to_owned(),
        target,
        headers,
        body,
        chunked: false,
        version: 20,
        connection: id,
        index_on_connection: index,
        answered: true,
    };

    let handler = &config.handler;
    let reply = match catch_unwind(AssertUnwindSafe(|| handler(&recorded))) {
        Ok(reply) => reply,
        Err(payload) => {
            recorded.answered = false;
            shared.push_request(recorded);
            shared.record_panic(panic_message(&*payload));
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return Ok(response);
        }
    };

    match reply.fault_ref() {
        Some(Fault::CloseWithoutAnswer | Fault::ResetWithoutAnswer) => {
            recorded.answered = false;
            shared.push_request(recorded);
            Err(ResetStream)
        }
        Some(Fault::SlowHeaders(delay)) => {
            let delay = *delay;
            shared.push_request(recorded);
            tokio::time::sleep(delay).await;
            Ok(to_response(&reply, head_request))
        }
        _ => {
            shared.push_request(recorded);
            Ok(to_response(&reply, head_request))
        }
    }
}

/// The HTTP/2 response for `reply`: its status, its headers except the
/// connection-specific ones (and any that are not valid HTTP/2 headers), and
/// its body, which is empty for `HEAD` requests and bodiless statuses.
fn to_response(reply: &Reply, head_request: bool) -> Response<Full<Bytes>> {
    let status =
        StatusCode::from_u16(reply.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let no_body = head_request || reply.bodiless_status();
    let mut response = Response::new(Full::new(if no_body {
        Bytes::new()
    } else {
        reply.body_bytes()
    }));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (name, value) in reply.headers_ref() {
        let Ok(name) = HeaderName::from_bytes(name.trim().as_bytes()) else {
            continue;
        };
        if CONNECTION_SPECIFIC.contains(&name.as_str()) {
            continue;
        }
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }
    // Like HTTP/1.1, a response to HEAD announces the length of the body it
    // would have had.
    if head_request
        && !reply.bodiless_status()
        && !headers.contains_key(http::header::CONTENT_LENGTH)
    {
        headers.insert(
            http::header::CONTENT_LENGTH,
            HeaderValue::from(reply.body_bytes().len()),
        );
    }
    response
}
