//! Sequential 1 KiB GETs over an in-memory connection, served by hyper on the same
//! runtime, for counting instructions with callgrind (deterministic, unlike time on a
//! shared machine):
//!
//! ```sh
//! cargo build -p towline-bench --release --example inmem
//! valgrind --tool=callgrind target/release/examples/inmem client 20000
//! ```
//!
//! Sides: `raw` (one `hyper::client::conn::http1` connection), `connector`, `client`,
//! and over HTTP/2 (prior knowledge) `raw-h2` and `connector-h2`. Divide the
//! instruction count (`I refs`) by the number of requests.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::DuplexStream;
use tower::ServiceExt;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

static KIB: [u8; 1024] = [b'x'; 1024];

/// Serves one end of a pipe with hyper: every request gets 1 KiB.
fn serve(io: DuplexStream, h2: bool) {
    tokio::spawn(async move {
        let service = hyper::service::service_fn(|_: Request<hyper::body::Incoming>| {
            std::future::ready(Ok::<_, Infallible>(Response::new(Full::new(
                Bytes::from_static(&KIB),
            ))))
        });
        let io = TokioIo::new(io);
        let _ = if h2 {
            hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(io, service)
                .await
        } else {
            hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
        };
    });
}

/// A dialer whose every connection is a new pipe to [`serve`].
fn dialer(h2: bool) -> impl towline::connect::Dial {
    tower::service_fn(move |_: towline::connect::Destination| {
        let (client, server) = tokio::io::duplex(64 * 1024);
        serve(server, h2);
        std::future::ready(Ok::<_, std::io::Error>(client))
    })
}

fn request() -> Result<Request<towline::Body>, http::Error> {
    Request::get("http://api.bench.test/v1/items?id=42")
        .header("accept", "application/json")
        .header("x-request-id", "7f1c2a")
        .body(towline::Body::empty())
}

/// `n` GETs through `service`, each body read to its end.
async fn run<S, B>(service: S, n: usize) -> Result<(), BoxError>
where
    S: tower::Service<Request<towline::Body>, Response = Response<B>> + Clone,
    S::Error: Into<BoxError>,
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    for _ in 0..n {
        let response = service
            .clone()
            .oneshot(request()?)
            .await
            .map_err(Into::into)?;
        let body = response.into_body().collect().await.map_err(Into::into)?;
        std::hint::black_box(body);
    }
    Ok(())
}

/// The request of [`request`] as a raw connection sends it: origin-form with `Host`
/// over HTTP/1.1, the absolute URI over HTTP/2.
fn raw_request(h2: bool) -> Result<Request<Empty<Bytes>>, http::Error> {
    let builder = if h2 {
        Request::get("http://api.bench.test/v1/items?id=42")
    } else {
        Request::get("/v1/items?id=42").header("host", "api.bench.test")
    };
    builder
        .header("accept", "application/json")
        .header("x-request-id", "7f1c2a")
        .body(Empty::<Bytes>::new())
}

/// `n` GETs on one hand-driven hyper connection.
async fn raw(n: usize, h2: bool) -> Result<(), BoxError> {
    let (client, server) = tokio::io::duplex(64 * 1024);
    serve(server, h2);
    let io = TokioIo::new(client);
    if h2 {
        let (mut tx, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
        tokio::spawn(conn);
        for _ in 0..n {
            tx.ready().await?;
            let response = tx.send_request(raw_request(true)?).await?;
            std::hint::black_box(response.into_body().collect().await?);
        }
    } else {
        let (mut tx, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(conn);
        for _ in 0..n {
            tx.ready().await?;
            let response = tx.send_request(raw_request(false)?).await?;
            std::hint::black_box(response.into_body().collect().await?);
        }
    }
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let side = args.next().unwrap_or_else(|| "client".to_owned());
    let n: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match side.as_str() {
            "raw" => raw(n, false).await,
            "raw-h2" => raw(n, true).await,
            "connector" => {
                run(
                    towline::connect::Connector::builder().build_with_dialer(dialer(false)),
                    n,
                )
                .await
            }
            "connector-h2" => {
                let connector = towline::connect::Connector::builder()
                    .http2_prior_knowledge(true)
                    .build_with_dialer(dialer(true));
                run(connector, n).await
            }
            "client" => {
                run(
                    towline::Client::builder().build_with_dialer(dialer(false))?,
                    n,
                )
                .await
            }
            other => Err(format!(
                "unknown side {other:?}: raw, raw-h2, connector, connector-h2, client"
            )
            .into()),
        }
    })
}
