//! The server handle and its builder.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::conn::{Config, Handler, Shared, accept_loop};
use crate::reply::Reply;
use crate::request::RecordedRequest;

/// How often the `wait_for_*` methods poll.
const POLL_INTERVAL: Duration = Duration::from_millis(2);

/// A loopback HTTP/1.1 server on `127.0.0.1` with a scripted handler.
///
/// The server runs on the tokio runtime it was started on. Dropping it stops
/// accepting and aborts every connection task, closing their sockets. If a
/// handler panicked and the panic was not already reported by
/// [`assert_no_panics`](TestServer::assert_no_panics), dropping the server
/// panics (unless the thread is already panicking), so the test fails.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("connections_accepted", &self.connections_accepted())
            .field("connections_closed", &self.connections_closed())
            .field("request_count", &self.request_count())
            .finish()
    }
}

impl TestServer {
    /// Starts a server with default settings and this handler.
    ///
    /// # Panics
    ///
    /// Panics if the listener cannot be bound, or when called outside a tokio
    /// runtime.
    pub async fn start<F>(handler: F) -> TestServer
    where
        F: Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    {
        match Builder::default().handler(handler).start().await {
            Ok(server) => server,
            Err(error) => panic!("towline-test: failed to bind 127.0.0.1:0: {error}"),
        }
    }

    /// A builder for a server with non-default settings.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` followed by `path`, which should start with
    /// `/` (one is inserted if it does not).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("http://{}{}", self.addr, path)
        } else {
            format!("http://{}/{}", self.addr, path)
        }
    }

    /// Number of connections accepted so far.
    pub fn connections_accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Number of connections that have ended, whoever closed them.
    ///
    /// When the server decides to close a connection, it is counted before
    /// the last response is written, so a client that has read that response
    /// already sees it counted.
    pub fn connections_closed(&self) -> usize {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Number of connections that ended because the client closed them (the
    /// server read EOF or a reset), not because the server closed them.
    ///
    /// This includes clients that went away in the middle of a request.
    pub fn connections_closed_by_client(&self) -> usize {
        self.shared.closed_by_client.load(Ordering::SeqCst)
    }

    /// Every complete request received, in arrival order.
    ///
    /// A request is recorded after the handler returns and before the reply
    /// is written.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// Number of complete requests received.
    pub fn request_count(&self) -> usize {
        self.shared.request_count()
    }

    /// Requests whose head arrived but whose body did not complete before the
    /// connection ended, plus malformed requests (answered with 400).
    ///
    /// A connection that ends in the middle of a request head counts as a
    /// client close, not as an incomplete request.
    pub fn incomplete_requests(&self) -> usize {
        self.shared.incomplete.load(Ordering::SeqCst)
    }

    /// Waits, polling every few milliseconds, until
    /// [`connections_closed`](Self::connections_closed) is at least `n` or
    /// `timeout` passes. Returns whether `n` was reached.
    pub async fn wait_for_closed(&self, n: usize, timeout: Duration) -> bool {
        wait_until(timeout, || self.connections_closed() >= n).await
    }

    /// Waits, polling every few milliseconds, until
    /// [`request_count`](Self::request_count) is at least `n` or `timeout`
    /// passes. Returns whether `n` was reached.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        wait_until(timeout, || self.request_count() >= n).await
    }

    /// Panics with the handler's panic message if any handler has panicked.
    ///
    /// Reported panics are forgotten, so dropping the server afterwards does
    /// not panic again for them.
    pub fn assert_no_panics(&self) {
        let panics = self.shared.take_panics();
        if let Some(first) = panics.first() {
            if panics.len() > 1 {
                panic!(
                    "towline-test: a handler panicked: {first} (and {} more handler panics)",
                    panics.len() - 1
                );
            }
            panic!("towline-test: a handler panicked: {first}");
        }
    }
}

async fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Dropping the accept future drops the listener and the JoinSet, which
        // aborts every connection task and so closes their sockets.
        self.accept_task.abort();
        if !std::thread::panicking() {
            self.assert_no_panics();
        }
    }
}

/// Settings for a [`TestServer`]; create with [`TestServer::builder`].
pub struct Builder {
    handler: Handler,
    close_after: Option<usize>,
    idle_close: Option<Duration>,
    close_reused_without_answer: bool,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("handler", &format_args!("<handler>"))
            .field("close_after", &self.close_after)
            .field("idle_close", &self.idle_close)
            .field(
                "close_reused_without_answer",
                &self.close_reused_without_answer,
            )
            .finish()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            handler: Arc::new(|_: &RecordedRequest| Reply::text("ok")),
            close_after: None,
            idle_close: None,
            close_reused_without_answer: false,
        }
    }
}

impl Builder {
    /// The function that answers every request.
    ///
    /// A panic in the handler is caught: the connection is closed without an
    /// answer and the panic is reported by
    /// [`TestServer::assert_no_panics`] and when the server is dropped.
    ///
    /// Default is a handler answering `200 OK` with body `ok`
    /// (`Content-Type: text/plain`).
    pub fn handler<F>(mut self, f: F) -> Self
    where
        F: Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    {
        self.handler = Arc::new(f);
        self
    }

    /// The server closes each connection after answering `n` requests,
    /// sending `Connection: close` on the `n`th response. An `n` of zero is
    /// treated as one.
    ///
    /// Default is never.
    pub fn close_after(mut self, n: usize) -> Self {
        self.close_after = Some(n);
        self
    }

    /// The server closes a connection that stays idle (no byte of a new
    /// request received) for this long, including right after accept.
    ///
    /// Default is never.
    pub fn idle_close(mut self, d: Duration) -> Self {
        self.idle_close = Some(d);
        self
    }

    /// When a second or later request arrives on a connection, the server
    /// reads it, records it with [`RecordedRequest::answered`] set to
    /// `false`, and closes the socket without calling the handler or
    /// answering. This simulates a server that closed a keep-alive connection
    /// just as the client reused it.
    ///
    /// Default is `false`.
    pub fn close_reused_without_answer(mut self, on: bool) -> Self {
        self.close_reused_without_answer = on;
        self
    }

    /// Binds `127.0.0.1:0` and starts serving on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Panics when called outside a tokio runtime.
    pub async fn start(self) -> std::io::Result<TestServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let config = Arc::new(Config {
            handler: self.handler,
            close_after: self.close_after,
            idle_close: self.idle_close,
            close_reused_without_answer: self.close_reused_without_answer,
        });
        let accept_task = tokio::spawn(accept_loop(listener, config, Arc::clone(&shared)));
        Ok(TestServer {
            addr,
            shared,
            accept_task,
        })
    }
}
