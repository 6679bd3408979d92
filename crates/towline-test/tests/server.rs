//! Tests of `TestServer` driven by a raw TCP client.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use towline_test::{Fault, Reply, TestServer};

const WAIT: Duration = Duration::from_secs(5);

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.addr()).await.expect("connect")
}

/// Reads until EOF (with a timeout so a bug cannot hang the test).
async fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut out))
        .await
        .expect("timed out waiting for EOF")
        .expect("read");
    out
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("utf-8")
}

/// A response read with `Content-Length` framing from a keep-alive socket.
#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: Vec<u8>,
}

async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Response {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head_len) = response.parse(buf).expect("valid response") {
            let status = response.code.expect("status");
            let length: usize = response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .map(|h| text(h.value).parse().expect("numeric content-length"))
                .unwrap_or(0);
            let head = text(&buf[..head_len]).to_owned();
            while buf.len() < head_len + length {
                read_more(stream, buf).await;
            }
            let body = buf[head_len..head_len + length].to_vec();
            buf.drain(..head_len + length);
            return Response { status, head, body };
        }
        read_more(stream, buf).await;
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 4096];
    let n = tokio::time::timeout(WAIT, stream.read(&mut chunk))
        .await
        .expect("timed out reading")
        .expect("read");
    assert!(
        n > 0,
        "unexpected EOF; have {:?}",
        String::from_utf8_lossy(buf)
    );
    buf.extend_from_slice(&chunk[..n]);
}

#[tokio::test]
async fn basic_get() {
    let server = TestServer::start(|_| Reply::text("hello")).await;
    let mut client = connect(&server).await;
    client
        .write_all(b"GET /a/b?x=1 HTTP/1.1\r\nHost: example\r\nX-Two: 1\r\nx-two: 2\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let response = read_to_eof(&mut client).await;
    assert_eq!(
        text(&response),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "GET");
    assert_eq!(request.target, "/a/b?x=1");
    assert_eq!(request.path(), "/a/b");
    assert_eq!(request.header("HOST"), Some("example"));
    assert_eq!(request.header_all("x-two"), vec![&b"1"[..], &b"2"[..]]);
    assert_eq!(request.headers[1].0, "x-two");
    assert!(request.body.is_empty());
    assert!(!request.chunked);
    assert!(request.answered);
    assert_eq!((request.connection, request.index_on_connection), (0, 0));
    assert_eq!(server.connections_accepted(), 1);
    // The server closed, so the close was counted before the response was written.
    assert_eq!(server.connections_closed(), 1);
    assert_eq!(server.connections_closed_by_client(), 0);
    assert!(server.url("/x").starts_with("http://127.0.0.1:"));
    assert!(server.url("/x").ends_with("/x"));
}

#[tokio::test]
async fn default_handler_answers_ok() {
    let server = TestServer::builder().start().await.expect("start");
    let mut client = connect(&server).await;
    let mut buf = Vec::new();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let response = read_response(&mut client, &mut buf).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"ok");
}

#[tokio::test]
async fn keep_alive_two_requests_on_one_connection() {
    let server = TestServer::start(|req| Reply::text(req.path().to_owned())).await;
    let mut client = connect(&server).await;
    let mut buf = Vec::new();

    client
        .write_all(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let first = read_response(&mut client, &mut buf).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body, b"/one");
    assert!(!first.head.contains("Connection"));

    client
        .write_all(b"POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        .await
        .expect("write");
    let second = read_response(&mut client, &mut buf).await;
    assert_eq!(second.body, b"/two");

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(server.request_count(), 2);
    assert_eq!(server.connections_accepted(), 1);
    assert_eq!(server.connections_closed(), 0);
    assert_eq!(
        (requests[0].connection, requests[0].index_on_connection),
        (0, 0)
    );
    assert_eq!(
        (requests[1].connection, requests[1].index_on_connection),
        (0, 1)
    );
    assert_eq!(requests[1].method, "POST");
    assert_eq!(requests[1].body, b"abc");
}

#[tokio::test]
async fn close_after_one_request() {
    let server = TestServer::builder()
        .close_after(1)
        .start()
        .await
        .expect("start");
    for id in 0..2 {
        let mut client = connect(&server).await;
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let response = text(&read_to_eof(&mut client).await).to_owned();
        assert!(response.contains("\r\nConnection: close\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\nok"), "{response}");
        assert_eq!(server.requests()[id].connection, id);
    }
    assert_eq!(server.connections_accepted(), 2);
    assert_eq!(server.connections_closed(), 2);
    assert_eq!(server.connections_closed_by_client(), 0);
}

#[tokio::test]
async fn close_after_two_keeps_the_first_open() {
    let server = TestServer::builder()
        .close_after(2)
        .start()
        .await
        .expect("start");
    let mut client = connect(&server).await;
    let mut buf = Vec::new();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let first = read_response(&mut client, &mut buf).await;
    assert!(!first.head.contains("Connection: close"));
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let second = read_response(&mut client, &mut buf).await;
    assert!(second.head.contains("Connection: close"));
    assert!(read_to_eof(&mut client).await.is_empty());
}

#[tokio::test]
async fn chunked_reply_is_encoded() {
    let server = TestServer::start(|_| Reply::text("hello world").chunked(4).close()).await;
    let mut client = connect(&server).await;
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let response = read_to_eof(&mut client).await;
    assert_eq!(
        text(&response),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         4\r\nhell\r\n4\r\no wo\r\n3\r\nrld\r\n0\r\n\r\n"
    );
}

#[tokio::test]
async fn close_mid_body_sends_fewer_bytes_then_eof() {
    let server = TestServer::start(|req| {
        let reply = Reply::ok().body("abcdefgh");
        let reply = if req.path() == "/chunked" {
            reply.chunked(4)
        } else {
            reply
        };
        reply.fault(Fault::CloseMidBody { after: 6 })
    })
    .await;

    let mut client = connect(&server).await;
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(
        text(&read_to_eof(&mut client).await),
        "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nabcdef"
    );

    let mut client = connect(&server).await;
    client
        .write_all(b"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(
        text(&read_to_eof(&mut client).await),
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n4\r\nef"
    );
    assert!(server.requests().iter().all(|r| r.answered));
    assert_eq!(server.connections_closed(), 2);
}

#[tokio::test]
async fn handler_panic_is_reported() {
    let server = TestServer::start(|_| panic!("boom in handler")).await;
    let mut client = connect(&server).await;
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert!(read_to_eof(&mut client).await.is_empty());

    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        server.assert_no_panics();
    }));
    let payload = caught.expect_err("assert_no_panics should panic");
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .expect("string payload");
    assert_eq!(message, "towline-test: a handler panicked: boom in handler");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert!(!requests[0].answered);
    // Already reported: a second check and the drop do not panic.
    server.assert_no_panics();
}

#[tokio::test]
#[should_panic(expected = "towline-test: a handler panicked: boom on drop")]
async fn handler_panic_fails_on_drop() {
    let server = TestServer::start(|_| panic!("boom on drop")).await;
    let mut client = connect(&server).await;
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert!(read_to_eof(&mut client).await.is_empty());
    drop(server);
}

#[tokio::test]
async fn chunked_request_body_is_decoded() {
    let server = TestServer::start(|req| Reply::ok().body(req.body.clone())).await;
    let mut client = connect(&server).await;
    let mut buf = Vec::new();
    client
        .write_all(
            b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
              5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
        )
        .await
        .expect("write");
    let response = read_response(&mut client, &mut buf).await;
    assert_eq!(response.body, b"hello world");

    // The connection is still usable after the trailers.
    client
        .write_all(b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        .await
        .expect("write");
    let response = read_response(&mut client, &mut buf).await;
    assert_eq!(response.body, b"");

    let requests = server.requests();
    assert_eq!(requests[0].body, b"hello world");
    assert!(requests[0].chunked);
    assert!(requests[1].chunked);
    assert_eq!(requests[1].index_on_connection, 1);
}

#[tokio::test]
async fn client_close_is_counted() {
    let server = TestServer::start(|_| Reply::ok()).await;
    let mut client = connect(&server).await;
    let mut buf = Vec::new();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    read_response(&mut client, &mut buf).await;
    assert_eq!(server.connections_closed(), 0);
    drop(client);
    assert!(server.wait_for_closed(1, WAIT).await);
    assert_eq!(server.connections_closed_by_client(), 1);
    assert_eq!(server.incomplete_requests(), 0);
}

#[tokio::test]
async fn body_cut_short_by_client_is_incomplete() {
    let server = TestServer::start(|_| Reply::ok()).await;
    let mut client = connect(&server).await;
    client
        .write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .expect("write");
    client.shutdown().await.expect("shutdown");
    assert!(server.wait_for_closed(1, WAIT).await);
    assert_eq!(server.incomplete_requests(), 1);
    assert_eq!(server.request_count(), 0);
    assert_eq!(server.connections_closed_by_client(), 1);
}

#[tokio::test]
async fn malformed_request_gets_400() {
    let server = TestServer::start(|_| Reply::ok()).await;
    let mut client = connect(&server).await;
    client
        .write_all(b"NOT A REQUEST\r\n\r\n")
        .await
        .expect("write");
    let response = read_to_eof(&mut client).await;
    assert!(text(&response).starts_with("HTTP/1.1 400 Bad Request\r\n"));
    assert_eq!(server.incomplete_requests(), 1);
    assert_eq!(server.request_count(), 0);
}

#[tokio::test]
async fn close_reused_without_answer() {
    let server = TestServer::builder()
        .close_reused_without_answer(true)
        .start()
        .await
        .expect("start");
    let mut client = connect(&server).await;
    let mut buf = Vec::new();
    client
        .write_all(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(read_response(&mut client, &mut buf).await.body, b"ok");
    client
        .write_all(b"GET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert!(read_to_eof(&mut client).await.is_empty());
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].answered);
    assert!(!requests[1].answered);
    assert_eq!(requests[1].target, "/2");
    assert_eq!(server.connections_closed(), 1);
    assert_eq!(server.connections_closed_by_client(), 0);
}

#[tokio::test]
async fn idle_close_closes_quiet_connections() {
    let server = TestServer::builder()
        .idle_close(Duration::from_millis(50))
        .start()
        .await
        .expect("start");
    let mut client = connect(&server).await;
    let mut buf = Vec::new();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    read_response(&mut client, &mut buf).await;
    assert!(read_to_eof(&mut client).await.is_empty());
    assert_eq!(server.connections_closed(), 1);
    assert_eq!(server.connections_closed_by_client(), 0);
}

#[tokio::test]
async fn head_and_bodiless_statuses() {
    let server = TestServer::start(|req| match req.path() {
        "/204" => Reply::new(204).body("ignored"),
        _ => Reply::text("twelve bytes"),
    })
    .await;
    let mut client = connect(&server).await;
    client
        .write_all(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /204 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(
        text(&read_to_eof(&mut client).await),
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\n\
         HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(server.request_count(), 2);
}

#[tokio::test]
async fn expect_continue_gets_100_first() {
    let server = TestServer::start(|req| Reply::ok().body(req.body.clone()).close()).await;
    let mut client = connect(&server).await;
    client
        .write_all(
            b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
        )
        .await
        .expect("write");
    let mut interim = vec![0u8; 25];
    tokio::time::timeout(WAIT, client.read_exact(&mut interim))
        .await
        .expect("timed out")
        .expect("read");
    assert_eq!(text(&interim), "HTTP/1.1 100 Continue\r\n\r\n");
    client.write_all(b"data").await.expect("write");
    let response = read_to_eof(&mut client).await;
    assert!(text(&response).ends_with("\r\n\r\ndata"));
}

#[tokio::test]
async fn reset_without_answer() {
    let server = TestServer::start(|_| Reply::ok().fault(Fault::ResetWithoutAnswer)).await;
    let mut client = connect(&server).await;
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut out = Vec::new();
    let result = tokio::time::timeout(WAIT, client.read_to_end(&mut out))
        .await
        .expect("timed out");
    let error = result.expect_err("expected a reset");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
    assert!(!server.requests()[0].answered);
}

#[tokio::test]
async fn close_without_answer_and_mid_headers() {
    let server = TestServer::start(|req| match req.path() {
        "/none" => Reply::ok().fault(Fault::CloseWithoutAnswer),
        _ => Reply::text("abc").fault(Fault::CloseMidHeaders { after: 12 }),
    })
    .await;
    let mut client = connect(&server).await;
    client
        .write_all(b"GET /none HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert!(read_to_eof(&mut client).await.is_empty());

    let mut client = connect(&server).await;
    client
        .write_all(b"GET /mid HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(text(&read_to_eof(&mut client).await), "HTTP/1.1 200");
    let requests = server.requests();
    assert!(!requests[0].answered);
    assert!(!requests[1].answered);
}

#[tokio::test]
async fn short_body_and_lying_headers() {
    let server = TestServer::start(|req| match req.path() {
        "/short" => Reply::text("abc").fault(Fault::ShortBody { declared: 10 }),
        _ => Reply::new(200)
            .header("Content-Length", "10")
            .body("abc")
            .close(),
    })
    .await;
    for path in ["/short", "/lying"] {
        let mut client = connect(&server).await;
        client
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .expect("write");
        let response = text(&read_to_eof(&mut client).await).to_owned();
        assert_eq!(response.matches("Content-Length").count(), 1, "{response}");
        assert!(response.contains("Content-Length: 10\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\nabc"), "{response}");
    }
}

#[tokio::test]
async fn raw_replies() {
    let server = TestServer::start(|req| match req.path() {
        "/raw" => Reply::ok().fault(Fault::Raw(Bytes::from_static(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nR",
        ))),
        _ => Reply::ok().fault(Fault::RawThenClose(Bytes::from_static(b"garbage"))),
    })
    .await;
    let mut client = connect(&server).await;
    let mut buf = Vec::new();
    client
        .write_all(b"GET /raw HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(read_response(&mut client, &mut buf).await.body, b"R");
    client
        .write_all(b"GET /then-close HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(read_to_eof(&mut client).await, b"garbage");
}

#[tokio::test]
async fn slow_body_and_slow_headers() {
    let server = TestServer::start(|req| match req.path() {
        "/slow-body" => Reply::ok().body("abcdef").close().fault(Fault::SlowBody {
            chunk: 2,
            delay: Duration::from_millis(20),
        }),
        _ => Reply::text("x")
            .close()
            .fault(Fault::SlowHeaders(Duration::from_millis(60))),
    })
    .await;
    for path in ["/slow-body", "/slow-headers"] {
        let started = std::time::Instant::now();
        let mut client = connect(&server).await;
        client
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .await
            .expect("write");
        let response = read_to_eof(&mut client).await;
        assert!(started.elapsed() >= Duration::from_millis(55), "{path}");
        assert!(text(&response).starts_with("HTTP/1.1 200 OK\r\n"));
    }
}

#[tokio::test]
async fn wait_for_requests_and_http10() {
    let server = TestServer::start(|_| Reply::ok()).await;
    assert!(!server.wait_for_requests(1, Duration::from_millis(20)).await);
    let mut client = connect(&server).await;
    client
        .write_all(b"GET / HTTP/1.0\r\n\r\n")
        .await
        .expect("write");
    assert!(server.wait_for_requests(1, WAIT).await);
    // HTTP/1.0 closes after the answer.
    let response = read_to_eof(&mut client).await;
    assert!(text(&response).contains("Connection: close"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_closes_open_connections() {
    let server = TestServer::start(|_| Reply::ok()).await;
    let addr = server.addr();
    let mut client = connect(&server).await;
    let mut buf = Vec::new();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    read_response(&mut client, &mut buf).await;
    drop(server);
    let mut rest = Vec::new();
    let read = tokio::time::timeout(WAIT, client.read_to_end(&mut rest))
        .await
        .expect("socket was not closed");
    assert!(read.map_or(true, |n| n == 0));
    // Eventually nobody listens any more.
    let mut refused = false;
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused);
}

#[tokio::test]
async fn answer_before_body_replies_to_the_head_and_drains_the_body() {
    let server = TestServer::builder()
        .answer_before_body(true)
        .handler(|req| {
            if req.method == "POST" {
                Reply::new(413).body("too large")
            } else {
                Reply::text("ok")
            }
        })
        .start()
        .await
        .expect("start");

    // A request without a body is served normally, and the connection stays open.
    let mut stream = connect(&server).await;
    let mut buf = Vec::new();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .expect("write");
    let response = read_response(&mut stream, &mut buf).await;
    assert_eq!(response.status, 200);

    // The head of a POST alone gets the 413, with `Connection: close`.
    stream
        .write_all(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
        .await
        .expect("write");
    let response = read_response(&mut stream, &mut buf).await;
    assert_eq!(response.status, 413);
    assert_eq!(response.body, b"too large");
    assert!(
        response.head.contains("Connection: close\r\n"),
        "{}",
        response.head
    );
    // The server keeps reading (and discarding) the body: writing it does not fail.
    stream.write_all(&[b'x'; 100_000]).await.expect("drained");
    // Then EOF, with nothing more.
    assert!(read_to_eof(&mut stream).await.is_empty());
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].method, "POST");
    assert!(requests[1].body.is_empty());
    assert!(requests[1].answered);
    assert!(server.wait_for_closed(1, WAIT).await);
}
