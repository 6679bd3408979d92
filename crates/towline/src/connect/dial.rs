//! Where connections come from: the [`Dial`] service and what it returns.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;

use tower_service::Service;

use crate::error::{BoxError, Classify, Kind};

/// Where a connection should go: the scheme, host and port of a request URI, or of
/// the proxy when the request has a proxied [`Route`](super::Route) (then the scheme is
/// the proxy URI's: `http`, `https`, `socks5` or `socks5h`).
///
/// This is what the connector hands its [`Dial`] service (Twisted's endpoint factory
/// gets the same from `Agent.usingEndpointFactory`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Destination {
    scheme: http::uri::Scheme,
    host: Box<str>,
    port: u16,
}

impl Destination {
    /// A destination for `host` (a name, an IPv4 address, or an IPv6 address without
    /// brackets) and `port`, reached with `scheme`.
    pub fn new(scheme: http::uri::Scheme, host: impl Into<Box<str>>, port: u16) -> Destination {
        Destination {
            scheme,
            host: host.into(),
            port,
        }
    }

    /// The URI scheme (`http`, `https`; `socks5`, `socks5h` for a SOCKS5 proxy).
    pub fn scheme(&self) -> &http::uri::Scheme {
        &self.scheme
    }

    /// The host: a name, or an IP address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, the scheme's default when the URI gave none.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Facts about a dialed connection that the connector reports in
/// [`ConnectionInfo`](super::ConnectionInfo).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Connected {
    /// The local address of the connection.
    pub local_addr: Option<SocketAddr>,
    /// The remote address of the connection.
    pub peer_addr: Option<SocketAddr>,
}

impl Connected {
    /// Facts with the given addresses.
    pub fn new(local_addr: Option<SocketAddr>, peer_addr: Option<SocketAddr>) -> Connected {
        Connected {
            local_addr,
            peer_addr,
        }
    }
}

/// A byte stream a [`Dial`] service returns.
///
/// Implemented for `tokio::net::TcpStream` (and `UnixStream` on Unix); implement it for
/// your own stream types (the one method has a default).
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {
    /// The addresses of this connection, as far as they are known.
    fn connected(&self) -> Connected {
        Connected::default()
    }
}

impl Io for tokio::net::TcpStream {
    fn connected(&self) -> Connected {
        Connected::new(self.local_addr().ok(), self.peer_addr().ok())
    }
}

impl Io for tokio::io::DuplexStream {}

/// A service that opens connections: `tower::Service<Destination>` returning an [`Io`].
///
/// This trait is implemented for every such service that is `Clone + Send + Sync`;
/// there is nothing to implement by hand. The connector clones the dialer for each new
/// connection, waits until it is ready and calls it. The default is
/// [`TcpDialer`](super::TcpDialer); anything else — a Unix socket, an in-memory pipe, a
/// SOCKS client — plugs in through
/// [`Builder::build_with_dialer`](super::Builder::build_with_dialer).
pub trait Dial: Clone + Send + Sync + 'static {
    /// The stream the dialer returns.
    type Io: Io;
    /// The error the dialer fails with.
    type Error: Into<BoxError>;
    /// The future of one dial.
    type Future: Future<Output = Result<Self::Io, Self::Error>> + Send + 'static;

    /// Polls readiness, as [`Service::poll_ready`].
    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>>;

    /// Starts a dial, as [`Service::call`].
    fn dial(&mut self, dst: Destination) -> Self::Future;
}

impl<S> Dial for S
where
    S: Service<Destination> + Clone + Send + Sync + 'static,
    S::Response: Io,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Io = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        Service::poll_ready(self, cx)
    }

    fn dial(&mut self, dst: Destination) -> Self::Future {
        Service::call(self, dst)
    }
}

/// Why the [`TcpDialer`](super::TcpDialer) could not open a connection.
#[derive(Debug)]
pub struct DialError {
    resolve: bool,
    dst: String,
    source: std::io::Error,
}

impl DialError {
    pub(crate) fn resolve(dst: &Destination, source: std::io::Error) -> DialError {
        DialError {
            resolve: true,
            dst: dst.to_string(),
            source,
        }
    }

    pub(crate) fn connect(dst: &Destination, source: std::io::Error) -> DialError {
        DialError {
            resolve: false,
            dst: dst.to_string(),
            source,
        }
    }

    #[cfg(unix)]
    pub(crate) fn unix(path: &std::path::Path, source: std::io::Error) -> DialError {
        DialError {
            resolve: false,
            dst: format!("the Unix socket {}", path.display()),
            source,
        }
    }

    /// The host name could not be resolved to any address.
    pub fn is_resolve(&self) -> bool {
        self.resolve
    }
}

impl fmt::Display for DialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.resolve {
            write!(f, "could not resolve {}", self.dst)
        } else {
            write!(f, "could not connect to {}", self.dst)
        }
    }
}

impl std::error::Error for DialError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

impl Classify for DialError {
    const KIND: Kind = Kind::Connect;

    fn resolve(&self) -> Option<bool> {
        Some(self.is_resolve())
    }
}
