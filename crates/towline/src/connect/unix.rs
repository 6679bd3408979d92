//! A dialer for Unix domain sockets.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::net::UnixStream;
use tower_service::Service;

use super::dial::{Destination, DialError, Io};

/// Opens every connection to one Unix domain socket, whatever the request's host
/// (Twisted's `UNIXClientEndpoint`, curl's `--unix-socket`).
///
/// Requests keep their absolute URIs: `http://localhost/v1.43/containers/json` sends
/// `GET /v1.43/containers/json` with `Host: localhost` over the socket, as Docker's API
/// is used. Connections are pooled per host as usual, so one host name per socket
/// keeps the pool tidy. [`ConnectionInfo`](super::ConnectionInfo) has no addresses for
/// such connections.
///
/// ```no_run
/// use towline::{body::Body, connect::{Connector, UnixDialer}};
/// use tower::ServiceExt;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), towline::Error> {
/// let docker = Connector::builder().build_with_dialer(UnixDialer::new("/var/run/docker.sock"));
/// let request = http::Request::get("http://localhost/version")
///     .body(Body::empty())
///     .expect("valid request");
/// let response = docker.oneshot(request).await?;
/// # let _ = response;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct UnixDialer {
    path: Arc<Path>,
}

impl UnixDialer {
    /// A dialer for the socket at `path`.
    pub fn new(path: impl Into<PathBuf>) -> UnixDialer {
        UnixDialer {
            path: Arc::from(path.into()),
        }
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The future of one [`UnixDialer`] dial.
pub type UnixConnecting = Pin<Box<dyn Future<Output = Result<UnixStream, DialError>> + Send>>;

impl Service<Destination> for UnixDialer {
    type Response = UnixStream;
    type Error = DialError;
    type Future = UnixConnecting;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), DialError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Destination) -> UnixConnecting {
        let path = self.path.clone();
        Box::pin(async move {
            UnixStream::connect(&path)
                .await
                .map_err(|e| DialError::unix(&path, e))
        })
    }
}

/// A Unix socket has no IP addresses to report.
impl Io for UnixStream {}
