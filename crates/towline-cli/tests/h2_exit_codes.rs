//! HTTP/2 failures exit with curl's codes: 92 for a stream reset, 18 for a connection
//! dropped mid-body, 52 for prior knowledge to an HTTP/1-only server, 16 for a
//! framing-layer error. The servers are raw h2c (prior knowledge) on loopback, so each
//! fault is exact. Also the response head limits (`--max-header-size`,
//! `--max-headers`): a limit broken is 8.

mod support;

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use support::{TempDir, towline};
use towline_test::tls::TestCa;
use towline_test::{Reply, TestServer};

#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Sends the head (`content-length: 100`) and 10 body bytes, then `RST_STREAM`.
    ResetMidBody,
    /// Sends the head (`content-length: 100`) and 10 body bytes, then closes the TCP
    /// connection without a GOAWAY.
    DropMidBody,
    /// Answers the preface with SETTINGS, then sends a PING frame on stream 1 (PING
    /// belongs to stream 0): a connection error in the framing layer.
    PingOnStream,
}

/// An h2c server that applies `fault` to every connection; returns its URL.
async fn h2c_server(fault: Fault) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(serve(socket, fault));
        }
    });
    format!("http://{addr}/")
}

async fn serve(mut socket: TcpStream, fault: Fault) {
    if let Fault::PingOnStream = fault {
        let mut preface = [0u8; 24];
        if socket.read_exact(&mut preface).await.is_err() {
            return;
        }
        // SETTINGS (empty), then PING with stream id 1.
        let mut frames = vec![0, 0, 0, 4, 0, 0, 0, 0, 0];
        frames.extend_from_slice(&[0, 0, 8, 6, 0, 0, 0, 0, 1]);
        frames.extend_from_slice(&[0; 8]);
        let _ = socket.write_all(&frames).await;
        let mut sink = [0u8; 4096];
        while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
        return;
    }
    let Ok(mut conn) = h2::server::handshake(socket).await else {
        return;
    };
    let Some(Ok((_request, mut respond))) = conn.accept().await else {
        return;
    };
    let head = http::Response::builder()
        .header("content-length", "100")
        .body(())
        .expect("head");
    let Ok(mut stream) = respond.send_response(head, false) else {
        return;
    };
    let _ = stream.send_data(Bytes::from_static(b"0123456789"), false);
    // Drive the connection long enough to write what was queued.
    let _ = tokio::time::timeout(Duration::from_millis(300), conn.accept()).await;
    if let Fault::ResetMidBody = fault {
        stream.send_reset(h2::Reason::INTERNAL_ERROR);
        let _ = tokio::time::timeout(Duration::from_millis(300), conn.accept()).await;
    }
    // Fault::DropMidBody: the connection is dropped here, without a GOAWAY.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_reset_mid_body_is_92() {
    let url = h2c_server(Fault::ResetMidBody).await;
    let run = towline(&["--http2-prior-knowledge", &url]).await;
    run.assert_code(92);
    assert!(run.stderr.starts_with("towline: (92) "), "{}", run.stderr);
    assert_eq!(run.stdout, b"0123456789");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_dropped_mid_body_is_18() {
    let url = h2c_server(Fault::DropMidBody).await;
    let run = towline(&["--http2-prior-knowledge", &url]).await;
    run.assert_code(18);
    assert!(run.stderr.starts_with("towline: (18) "), "{}", run.stderr);
    assert_eq!(run.stdout, b"0123456789");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framing_error_is_16() {
    let url = h2c_server(Fault::PingOnStream).await;
    let run = towline(&["--http2-prior-knowledge", &url]).await;
    run.assert_code(16);
    assert!(run.stderr.starts_with("towline: (16) "), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prior_knowledge_to_an_http1_server_is_52() {
    let server = TestServer::start(|_| Reply::text("http/1.1 only")).await;
    let run = towline(&["--http2-prior-knowledge", &server.url("/")]).await;
    run.assert_code(52);
    assert!(run.stderr.starts_with("towline: (52) "), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heads_real_servers_send_pass_and_a_configured_limit_is_8() {
    let server = TestServer::start(|_| {
        (0..120).fold(Reply::text("cookies"), |reply, i| {
            reply.header("set-cookie", format!("c{i}=v{i}; Path=/"))
        })
    })
    .await;
    let run = towline(&[&server.url("/")]).await;
    run.assert_code(0);
    assert_eq!(run.stdout, b"cookies");

    let run = towline(&["--max-headers", "50", &server.url("/")]).await;
    run.assert_code(8);
    assert!(run.stderr.contains("50 header fields"), "{}", run.stderr);
    let run = towline(&["--max-header-size", "1k", &server.url("/")]).await;
    run.assert_code(8);
    assert!(run.stderr.contains("1024 bytes"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2_head_with_a_100kb_header_passes_and_a_smaller_limit_is_8() {
    let ca = TestCa::new();
    let server = TestServer::builder()
        .tls_h2(&ca.leaf(&["localhost"]))
        .handler(|_| Reply::text("big head").header("x-big", "b".repeat(100 * 1024)))
        .start()
        .await
        .expect("server");
    let dir = TempDir::new("h2-big-head");
    let ca_file = dir.file("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).expect("write");
    let url = server.url_for_host("localhost", "/");
    let run = towline(&["--cacert", &ca_file, "-i", &url]).await;
    run.assert_code(0);
    let out = run.stdout_text();
    assert!(
        out.starts_with("HTTP/2 200"),
        "{}",
        &out[..out.len().min(200)]
    );
    assert!(
        out.ends_with("\r\n\r\nbig head"),
        "{}",
        &out[out.len().saturating_sub(200)..]
    );

    let run = towline(&["--cacert", &ca_file, "--max-header-size", "64k", &url]).await;
    run.assert_code(8);
    assert!(run.stderr.contains("65536 bytes"), "{}", run.stderr);
}
