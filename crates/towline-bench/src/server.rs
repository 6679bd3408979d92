//! The loopback hyper server, run in its own process by `--server`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{BufRead, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

use crate::BoxError;

/// The 1 KiB body of `/small`.
const SMALL: usize = 1024;
/// The size of each chunk of a streamed body.
const CHUNK: usize = 64 * 1024;

/// What every connection of the server shares.
struct State {
    small: Bytes,
    chunk: Bytes,
    gzip: HashMap<u64, Bytes>,
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
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
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
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(&state, req).await) }
                    });
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
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
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let state = state.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(handle(&state, req).await) }
                });
                // A client closing its connection is not an error worth reporting.
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
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
    req.uri()
        .query()?
        .split('&')
        .find_map(|kv| kv.strip_prefix("n="))?
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

async fn handle(state: &State, req: Request<Incoming>) -> Response<ServerBody> {
    let path = req.uri().path();
    if path == "/small" {
        return Response::new(full(state.small.clone()));
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
