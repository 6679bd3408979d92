//! Test kit for towline: a scriptable loopback HTTP server with fault
//! injection, HTTPS and HTTP/2 modes, and test certificates.
//!
//! [`TestServer`] listens on `127.0.0.1:0` and speaks HTTP/1.1 directly on
//! tokio TCP sockets (parsing with `httparse`), so every byte of a response
//! can be scripted, including broken ones (see [`Fault`]). It records every
//! request ([`RecordedRequest`]), counts connections and requests per
//! connection, shuts down when dropped, and turns a panic in a handler into a
//! test failure.
//!
//! Handlers are plain closures from [`RecordedRequest`] to [`Reply`].
//!
//! The server can also speak HTTPS ([`Builder::tls`], with certificates from
//! [`tls::TestCa`]), HTTP/2 over TLS with ALPN ([`Builder::tls_h2`]) or in
//! plain text with prior knowledge ([`Builder::h2c`]), and listen on another
//! loopback address ([`Builder::bind_ip`]). HTTP/2 connections are served by
//! hyper, with fewer faults (see [`Builder`]). The [`rustls`] crate is
//! re-exported so that clients build their configurations with the same
//! version.
//!
//! # Connection behaviour
//!
//! This describes HTTP/1.1 connections, plain or inside TLS; for HTTP/2 see
//! [`Builder`].
//!
//! - Connections are persistent (HTTP/1.1 keep-alive). The server closes
//!   after answering when the request is HTTP/1.0 or carries
//!   `Connection: close`, when [`Builder::close_after`] is reached, when the
//!   reply asks for it ([`Reply::close`], [`Reply::close_delimited`], or a
//!   closing [`Fault`]), or when [`Builder::idle_close`] expires.
//! - Request heads are limited to 64 KiB and 100 headers. A malformed request
//!   is answered with `400 Bad Request`, the connection is closed and the
//!   request counts in [`TestServer::incomplete_requests`].
//! - Request bodies are read per `Content-Length` or chunked encoding
//!   (decoded, trailers ignored). `Expect: 100-continue` is answered with
//!   `100 Continue` before the body is read.
//! - Bytes received beyond one request are kept for the next one, so
//!   pipelined requests are answered in order.
//! - The server counts a connection as closed (and a request as recorded)
//!   before writing the response that precedes the close, so once a client
//!   has read a response, the counters already reflect it. Closes initiated by
//!   the client are only seen later; use [`TestServer::wait_for_closed`].
//! - Over TLS the handshake runs in the connection's task with a 10 s
//!   timeout; a failed one is counted by [`TestServer::tls_handshake_failures`]
//!   and as a closed connection. Closes send a TLS `close_notify` before the
//!   FIN; resets ([`Fault::ResetWithoutAnswer`]) do not.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use towline_test::{Reply, TestServer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = TestServer::start(|req| Reply::text(format!("hello {}", req.path()))).await;
//!
//! let mut client = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
//! client
//!     .write_all(b"GET /world HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
//!     .await
//!     .unwrap();
//! let mut response = String::new();
//! client.read_to_string(&mut response).await.unwrap();
//!
//! assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(response.ends_with("\r\n\r\nhello /world"));
//! assert_eq!(server.requests()[0].header("host"), Some("test"));
//! assert!(server.wait_for_closed(1, Duration::from_secs(5)).await);
//! # }
//! ```
//!
//! Faults are attached to replies:
//!
//! ```no_run
//! use towline_test::{Fault, Reply, TestServer};
//!
//! # async fn f() {
//! // Declares 11 bytes, sends 5, then closes.
//! let server = TestServer::start(|_| {
//!     Reply::text("hello world").fault(Fault::CloseMidBody { after: 5 })
//! })
//! .await;
//! # }
//! ```
//!
//! HTTPS with a test CA:
//!
//! ```no_run
//! use towline_test::tls::TestCa;
//! use towline_test::{Reply, TestServer};
//!
//! # async fn f() {
//! let ca = TestCa::new();
//! let server = TestServer::builder()
//!     .tls_h2(&ca.leaf(&["localhost", "127.0.0.1"]))
//!     .handler(|req| Reply::text(format!("HTTP version {}", req.version)))
//!     .start()
//!     .await
//!     .unwrap();
//! // Clients trust `ca.root_store()` (or `ca.cert_pem()`) and connect to:
//! let url = server.url_for_host("localhost", "/");
//! # }
//! ```
#![deny(missing_docs)]

mod conn;
mod h2;
mod reply;
mod request;
mod server;
mod stream;
pub mod tls;

pub use reply::{Fault, Reply};
pub use request::RecordedRequest;
pub use server::{Builder, TestServer};

/// The rustls version this crate builds its TLS configurations with, for
/// clients that need matching types.
pub use rustls;
