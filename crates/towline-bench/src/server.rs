//! The loopback hyper server, run in its own process by `--server`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{BufRead, Write};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Notify;

use crate::BoxError;

/// The 1 KiB body of `/small`.
const SMALL: usize = 1024;
/// The size of each chunk of a streamed body.
const CHUNK: usize = 64 * 1024;

/// The header in which `/slow` says how many requests it held at once when it let
/// this one go, and `/stats` how many connections that carried `/slow` are still open.
const COUNT: &str = "x-count";
/// The listen backlog of the plain listener, for scenario 9's burst of connections
/// (the kernel caps it at `net.core.somaxconn`).
const BACKLOG: u32 = 16384;

/// What every connection of the server shares.
struct State {
    small: Bytes,
    chunk: Bytes,
    gzip: HashMap<u64, Bytes>,
    /// `/slow` requests being held now.
    held: AtomicU64,
    /// Wakes the held requests once enough have arrived.
    arrived: Notify,
    /// Open connections that carried a `/slow` request.
    slow_connections: AtomicU64,
}

/// One connection's mark: whether it carried a `/slow` request.
#[derive(Default)]
struct Connection {
    slow: AtomicBool,
}

impl Connection {
    /// Counts this connection in `slow_connections`, once.
    fn mark_slow(&self, state: &State) {
        if !self.slow.swap(true, Ordering::Relaxed) {
            state.slow_connections.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Uncounts it when it closes.
    fn closed(&self, state: &State) {
        if self.slow.load(Ordering::Relaxed) {
            state.slow_connections.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Serves until standard input closes; prints `PORT` on standard output first.
///
/// `gzip_sizes` are the decoded sizes of the gzip bodies to compress before serving.
pub(crate) fn run(gzip_sizes: &[u64]) -> Result<(), BoxError> {
    let mut gzip = HashMap::new();
    for &n in gzip_sizes {
        gzip.insert(n, compress(n)?);
    }
    let state = Arc::new(State {
        small: Bytes::from(vec![b'x'; SMALL]),
        chunk: Bytes::from(vec![b'y'; CHUNK]),
        gzip,
        held: AtomicU64::new(0),
        arrived: Notify::new(),
        slow_connections: AtomicU64::new(0),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = listen()?;
        let port = listener.local_addr()?.port();
        let tls_listener = TcpListener::bind("127.0.0.1:0").await?;
        let tls_port = tls_listener.local_addr()?.port();
        let ca = towline_test::tls::TestCa::new();
        let leaf = ca.leaf(&["127.0.0.1", "localhost"]);
        let acceptor = tokio_rustls::TlsAcceptor::from(leaf.server_config(&[b"http/1.1"]));
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{port} {tls_port}")?;
            write!(out, "{}", ca.cert_pem())?;
            writeln!(out, "\nEND")?;
            out.flush()?;
        }
        let tls_state = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = tls_listener.accept().await {
                let _ = stream.set_nodelay(true);
                let state = tls_state.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    serve(state, stream).await;
                });
            }
        });
        // The driver closes our standard input when it is done.
        std::thread::spawn(|| {
            let mut sink = String::new();
            let stdin = std::io::stdin();
            let mut lock = stdin.lock();
            while lock.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
            std::process::exit(0);
        });
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors, say: wait for connections to close, go on.
                    eprintln!("server: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            stream.set_nodelay(true)?;
            tokio::spawn(serve(state.clone(), stream));
        }
    })
}

/// The plain listener on 127.0.0.1, with a backlog deep enough for a burst.
fn listen() -> Result<TcpListener, BoxError> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))?;
    Ok(socket.listen(BACKLOG)?)
}

/// Serves one connection, HTTP/1.1 or h2, until it closes.
async fn serve<S>(state: Arc<State>, stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let connection = Arc::new(Connection::default());
    let service = {
        let state = state.clone();
        let connection = connection.clone();
        service_fn(move |req| {
            let state = state.clone();
            let connection = connection.clone();
            async move { Ok::<_, Infallible>(handle(&state, &connection, req).await) }
        })
    };
    // A client closing its connection is not an error worth reporting.
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
    connection.closed(&state);
}

/// Text that compresses like a real document would, roughly 4:1.
fn compress(n: u64) -> Result<Bytes, BoxError> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(usize::try_from(n / 3)?),
        flate2::Compression::fast(),
    );
    let mut written = 0u64;
    let mut line = 0u64;
    let mut buf = String::new();
    while written < n {
        buf.clear();
        use std::fmt::Write as _;
        writeln!(
            buf,
            "{line:08} the quick brown fox {} jumps over the lazy dog {}",
            line.wrapping_mul(2_654_435_761) % 100_000,
            line % 977
        )?;
        let take = usize::try_from((n - written).min(buf.len() as u64))?;
        encoder.write_all(&buf.as_bytes()[..take])?;
        written += take as u64;
        line += 1;
    }
    Ok(Bytes::from(encoder.finish()?))
}

/// The `n=` query parameter.
fn query_n(req: &Request<Incoming>) -> Option<u64> {
    query(req, "n")
}

/// The numeric query parameter `name`.
fn query(req: &Request<Incoming>, name: &str) -> Option<u64> {
    req.uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))?
        .parse()
        .ok()
}

type ServerBody = http_body_util::Either<http_body_util::Full<Bytes>, Repeat>;

fn full(bytes: impl Into<Bytes>) -> ServerBody {
    http_body_util::Either::Left(http_body_util::Full::new(bytes.into()))
}

fn status(code: StatusCode) -> Response<ServerBody> {
    let mut response = Response::new(full(Bytes::new()));
    *response.status_mut() = code;
    response
}

async fn handle(
    state: &State,
    connection: &Connection,
    req: Request<Incoming>,
) -> Response<ServerBody> {
    let path = req.uri().path();
    if path == "/small" {
        return Response::new(full(state.small.clone()));
    }
    if path == "/slow" {
        let (Some(n), Some(ms)) = (query_n(&req), query(&req, "ms")) else {
            return status(StatusCode::BAD_REQUEST);
        };
        connection.mark_slow(state);
        let held = hold(state, n, Duration::from_millis(ms)).await;
        let mut response = Response::new(full(state.small.clone()));
        response
            .headers_mut()
            .insert(COUNT, header::HeaderValue::from(held));
        return response;
    }
    if path == "/stats" {
        let open = state.slow_connections.load(Ordering::Relaxed);
        let mut response = status(StatusCode::OK);
        response
            .headers_mut()
            .insert(COUNT, header::HeaderValue::from(open));
        return response;
    }
    if path == "/big" {
        let Some(n) = query_n(&req) else {
            return status(StatusCode::BAD_REQUEST);
        };
        return Response::new(http_body_util::Either::Right(Repeat {
            chunk: state.chunk.clone(),
            remaining: n,
        }));
    }
    if path == "/gzip" {
        let Some(body) = query_n(&req).and_then(|n| state.gzip.get(&n)) else {
            return status(StatusCode::NOT_FOUND);
        };
        let mut response = Response::new(full(body.clone()));
        response.headers_mut().insert(
            header::CONTENT_ENCODING,
            header::HeaderValue::from_static("gzip"),
        );
        return response;
    }
    if path == "/upload" {
        // Every side must say how long its upload is: no chunked coding.
        if !req.headers().contains_key(header::CONTENT_LENGTH) {
            return status(StatusCode::LENGTH_REQUIRED);
        }
        let mut body = req.into_body();
        let mut n = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                n += data.len() as u64;
            }
        }
        return Response::new(full(n.to_string()));
    }
    if let Some(k) = path.strip_prefix("/redirect/") {
        let Ok(k) = k.parse::<u32>() else {
            return status(StatusCode::BAD_REQUEST);
        };
        if k == 0 {
            return Response::new(full(Bytes::from_static(b"done")));
        }
        let mut response = status(StatusCode::FOUND);
        let headers = response.headers_mut();
        if let Ok(location) = header::HeaderValue::try_from(format!("/redirect/{}", k - 1)) {
            headers.insert(header::LOCATION, location);
        }
        if let Ok(cookie) = header::HeaderValue::try_from(format!("hop{k}=v; Path=/")) {
            headers.insert(header::SET_COOKIE, cookie);
        }
        return response;
    }
    status(StatusCode::NOT_FOUND)
}

/// Holds a `/slow` request until `n` are held at once or `limit` passes; returns how
/// many were held when it was let go.
async fn hold(state: &State, n: u64, limit: Duration) -> u64 {
    // Listening before counting: the wake-up of the `n`th arrival cannot be missed.
    let mut arrived = pin!(state.arrived.notified());
    arrived.as_mut().enable();
    let _held = Held::new(state);
    if state.held.load(Ordering::SeqCst) >= n {
        state.arrived.notify_waiters();
    } else {
        let _ = tokio::time::timeout(limit, arrived).await;
    }
    state.held.load(Ordering::SeqCst)
}

/// One request counted in `State::held` while it lives.
struct Held<'a>(&'a State);

impl<'a> Held<'a> {
    fn new(state: &'a State) -> Held<'a> {
        state.held.fetch_add(1, Ordering::SeqCst);
        Held(state)
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.held.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A body of `remaining` bytes sent as clones of one chunk, with a known length.
pub(crate) struct Repeat {
    chunk: Bytes,
    remaining: u64,
}

impl Body for Repeat {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let take = self.remaining.min(self.chunk.len() as u64);
        self.remaining -= take;
        // `take` is at most the chunk's length, a usize.
        let data = self.chunk.slice(..take as usize);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
