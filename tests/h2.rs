//! HTTP/2 edge cases against hand-driven h2c servers on loopback.
//!
//! A server that rejects a request without processing it (REFUSED_STREAM, or a GOAWAY
//! whose last stream id is below the request's stream) makes the request a stale,
//! unsent failure, which the retry layer sends again on a new connection, whatever its
//! method. A GOAWAY that h2 raises itself after the server broke the protocol is not
//! such a rejection: the server may have processed the request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::{ServiceBuilder, ServiceExt};
use towline::body::{Body, read_body};
use towline::connect::Connector;
use towline::retry::RetryStaleLayer;

/// What the server does to the first request of its first connection. Every other
/// request is read to its end, recorded as processed and answered `200 ok`.
#[derive(Clone, Copy, Debug)]
enum First {
    /// Reads the request's HEADERS frame, then sends GOAWAY with last stream id 0:
    /// "I processed nothing" (RFC 9113 §6.8). Raw frames, since the h2 crate's GOAWAY
    /// names every stream it has read as processed.
    GoAwayAfterHeaders,
    /// Resets the request's stream with REFUSED_STREAM.
    Refuse,
    /// Reads the whole request and records it as processed, then sends a PING frame on
    /// stream 1. PING belongs to stream 0, so the client's h2 treats this as a
    /// connection error: it sends its own GOAWAY and fails the stream with it.
    ProtocolErrorAfterProcessing,
}

struct H2Server {
    addr: std::net::SocketAddr,
    connections: Arc<AtomicUsize>,
    /// `"METHOD body"` of every request the server processed, in order.
    processed: Arc<Mutex<Vec<String>>>,
}

impl H2Server {
    async fn start(first: First) -> H2Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(AtomicUsize::new(0));
        let processed: Arc<Mutex<Vec<String>>> = Arc::default();
        let (count, log) = (connections.clone(), processed.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let nth = count.fetch_add(1, Ordering::SeqCst);
                let log = log.clone();
                tokio::spawn(async move {
                    match (nth, first) {
                        (0, First::GoAwayAfterHeaders | First::ProtocolErrorAfterProcessing) => {
                            raw_first_connection(socket, first, &log).await;
                        }
                        (0, First::Refuse) => serve(socket, true, log).await,
                        _ => serve(socket, false, log).await,
                    }
                });
            }
        });
        H2Server {
            addr,
            connections,
            processed,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn processed(&self) -> Vec<String> {
        self.processed.lock().expect("lock").clone()
    }
}

/// Serves one connection with the h2 crate; with `refuse_first`, its first stream is
/// reset with REFUSED_STREAM before anything of its body is read.
async fn serve(socket: TcpStream, refuse_first: bool, log: Arc<Mutex<Vec<String>>>) {
    let Ok(mut conn) = h2::server::handshake(socket).await else {
        return;
    };
    let mut refuse = refuse_first;
    // Polling `accept` drives the connection, the streams' tasks included.
    while let Some(Ok((request, mut respond))) = conn.accept().await {
        if std::mem::take(&mut refuse) {
            respond.send_reset(h2::Reason::REFUSED_STREAM);
            continue;
        }
        let log = log.clone();
        tokio::spawn(async move {
            let (parts, mut body) = request.into_parts();
            let mut bytes = Vec::new();
            while let Some(chunk) = body.data().await {
                let Ok(chunk) = chunk else { return };
                let _ = body.flow_control().release_capacity(chunk.len());
                bytes.extend_from_slice(&chunk);
            }
            log.lock().expect("lock").push(format!(
                "{} {}",
                parts.method,
                String::from_utf8_lossy(&bytes)
            ));
            if let Ok(mut stream) = respond.send_response(http::Response::new(()), false) {
                let _ = stream.send_data(Bytes::from_static(b"ok"), true);
            }
        });
    }
}

const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len())
        .expect("small frame")
        .to_be_bytes();
    let mut out = vec![len[1], len[2], len[3], kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// The next frame: its type, flags, stream id and payload; `None` at the end of the
/// connection, on an error, or after 10 s without one.
async fn read_frame(socket: &mut TcpStream) -> Option<(u8, u8, u32, Vec<u8>)> {
    let read = async {
        let mut head = [0u8; 9];
        socket.read_exact(&mut head).await.ok()?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0; len];
        socket.read_exact(&mut payload).await.ok()?;
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        Some((head[3], head[4], stream, payload))
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()
        .flatten()
}

/// Speaks just enough HTTP/2 in raw frames to do `first` to stream 1, then reads until
/// the client closes the connection (the client reads what was sent, not a reset).
async fn raw_first_connection(mut socket: TcpStream, first: First, log: &Mutex<Vec<String>>) {
    let mut preface = [0u8; 24];
    if socket.read_exact(&mut preface).await.is_err() || &preface != PREFACE {
        return;
    }
    if socket.write_all(&frame(SETTINGS, 0, 0, &[])).await.is_err() {
        return;
    }
    let mut body = Vec::new();
    // Bounded: a request is a handful of frames.
    for _ in 0..100 {
        let Some((kind, flags, stream, payload)) = read_frame(&mut socket).await else {
            return;
        };
        let reply = match (kind, stream) {
            (SETTINGS, 0) if flags & ACK == 0 => frame(SETTINGS, ACK, 0, &[]),
            (HEADERS, 1) if matches!(first, First::GoAwayAfterHeaders) => {
                // Last stream id 0, NO_ERROR: stream 1 was read and not processed.
                frame(GOAWAY, 0, 0, &[0; 8])
            }
            (HEADERS | DATA, 1) => {
                if kind == DATA {
                    body.extend_from_slice(&payload);
                }
                if flags & END_STREAM == 0 {
                    continue;
                }
                // Every test sends a POST to this server; its method is not decoded.
                log.lock()
                    .expect("lock")
                    .push(format!("POST {}", String::from_utf8_lossy(&body)));
                frame(PING, 0, 1, &[0; 8])
            }
            _ => continue,
        };
        if socket.write_all(&reply).await.is_err() {
            return;
        }
        if kind != SETTINGS {
            break;
        }
    }
    // Until the client closes, within the bound of `read_frame`.
    for _ in 0..100 {
        if read_frame(&mut socket).await.is_none() {
            return;
        }
    }
}

fn h2c() -> Connector {
    Connector::builder().http2_prior_knowledge(true).build()
}

fn request(method: Method, url: &str) -> Request<Body> {
    let body = if method == Method::POST {
        Body::from("pay once")
    } else {
        Body::empty()
    };
    Request::builder()
        .method(method)
        .uri(url)
        .body(body)
        .expect("request")
}

async fn bounded<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .expect("no hang")
}

/// The h2 error in `err`'s source chain.
fn h2_error(err: &towline::Error) -> &h2::Error {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return h2;
        }
        next = e.source();
    }
    panic!("no h2 error in {err:?}")
}

/// Asserts `err` is the stale, unsent failure of a request that went out (nothing was
/// handed back) and that the server rejected.
fn assert_unsent(err: &towline::Error) {
    let stale = err.stale_connection().expect("retryable");
    assert!(
        !stale.request_written(),
        "unprocessed: counts as unsent ({err})"
    );
    assert!(
        !stale.has_unsent_request(),
        "the request went out, so hyper did not hand it back: the h2 rejection made this \
         error ({err})"
    );
}

/// Sends a GET and a POST, each to a new server that treats its first request as
/// `first` says, through the bare connector: each must fail as a stale, unsent request
/// the server never processed, and `check` looks at the h2 error under it.
async fn assert_rejected_unsent(first: First, check: impl Fn(&Method, &h2::Error)) {
    for method in [Method::GET, Method::POST] {
        let server = H2Server::start(first).await;
        let connector = h2c();
        let err = bounded(
            connector
                .clone()
                .oneshot(request(method.clone(), &server.url())),
        )
        .await
        .expect_err("rejected");
        assert!(err.is_stale_connection(), "{method}: {err}");
        assert_unsent(&err);
        check(&method, h2_error(&err));
        assert_eq!(connector.pool_stats().in_use, 0);
        assert_eq!(server.processed(), Vec::<String>::new());
    }
}

/// Sends a GET and a replayable POST through the retry layer, each to a new server that
/// treats its first request as `first` says: each must succeed on a second connection,
/// processed exactly once.
async fn assert_retried_once(first: First) {
    for method in [Method::GET, Method::POST] {
        let server = H2Server::start(first).await;
        let client = ServiceBuilder::new()
            .layer(RetryStaleLayer::new())
            .service(h2c());
        let response = bounded(client.oneshot(request(method.clone(), &server.url())))
            .await
            .unwrap_or_else(|e| panic!("{method} retried: {e}"));
        assert_eq!(response.version(), http::Version::HTTP_2);
        assert_eq!(read_body(response.into_body()).await.expect("body"), "ok");
        assert_eq!(server.connections(), 2, "{method}: retried on a new one");
        let expected = if method == Method::POST {
            "POST pay once"
        } else {
            "GET "
        };
        assert_eq!(server.processed(), [expected], "processed exactly once");
    }
}

#[tokio::test]
async fn a_goaway_after_the_headers_went_out_is_a_stale_unsent_failure() {
    assert_rejected_unsent(First::GoAwayAfterHeaders, |method, h2| {
        assert!(
            h2.is_go_away() && h2.is_remote(),
            "{method}: the server's GOAWAY: {h2:?}"
        );
        assert_eq!(h2.reason(), Some(h2::Reason::NO_ERROR));
    })
    .await;
}

#[tokio::test]
async fn the_retry_layer_sends_it_again_on_a_new_connection() {
    assert_retried_once(First::GoAwayAfterHeaders).await;
}

#[tokio::test]
async fn a_refused_stream_is_a_stale_unsent_failure() {
    assert_rejected_unsent(First::Refuse, |method, h2| {
        assert!(
            h2.is_reset() && h2.is_remote(),
            "{method}: the server's RST_STREAM: {h2:?}"
        );
        assert_eq!(h2.reason(), Some(h2::Reason::REFUSED_STREAM));
    })
    .await;
}

#[tokio::test]
async fn a_refused_stream_is_retried_once_for_get_and_for_a_replayable_post() {
    assert_retried_once(First::Refuse).await;
}

#[tokio::test]
async fn a_goaway_h2_raises_after_a_protocol_error_is_not_retried() {
    let server = H2Server::start(First::ProtocolErrorAfterProcessing).await;
    let client = ServiceBuilder::new()
        .layer(RetryStaleLayer::new())
        .service(h2c());
    let err = bounded(client.oneshot(request(Method::POST, &server.url())))
        .await
        .expect_err("the connection broke");
    let h2 = h2_error(&err);
    assert!(
        h2.is_go_away() && h2.is_library(),
        "the client's own GOAWAY: {h2:?}"
    );
    assert_eq!(h2.reason(), Some(h2::Reason::PROTOCOL_ERROR));
    // The server processed the POST before it broke the protocol: no retry may follow.
    assert!(!err.is_stale_connection(), "not a rejection: {err}");
    assert_eq!(server.processed(), ["POST pay once"]);
    assert_eq!(server.connections(), 1, "not sent again");
}
