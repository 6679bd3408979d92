//! The default dialer: system resolver (or overrides, or a resolver service), happy
//! eyeballs, `TCP_NODELAY`, keep-alive and the local address.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::TcpStream;
use tower_service::Service;

use super::dial::{Destination, DialError};
use super::resolve::{Name, Resolver, interleave, no_addresses};
use crate::error::BoxError;

/// Opens TCP connections (Twisted's `HostnameEndpoint`).
///
/// Resolves names with the system resolver on tokio's blocking threads, then races the
/// addresses with happy eyeballs (RFC 8305): addresses alternate between IPv6 and IPv4,
/// a new attempt starts when the previous one fails or after
/// [`attempt_delay`](TcpDialer::attempt_delay), and the first connection to succeed wins.
/// Connections have `TCP_NODELAY` set.
///
/// [`resolve`](TcpDialer::resolve) pins a host to addresses (curl's `--resolve`,
/// reqwest's `ClientBuilder::resolve`), [`resolver`](TcpDialer::resolver) puts any
/// `tower::Service` from a [`Name`] to addresses in the system resolver's place.
///
/// The connect timeout is the connector's
/// ([`Builder::connect_timeout`](super::Builder::connect_timeout)), so it applies to
/// every dialer.
#[derive(Clone, Debug)]
pub struct TcpDialer {
    attempt_delay: Duration,
    nodelay: bool,
    keepalive: Option<Duration>,
    user_timeout: Option<Duration>,
    bind: Bind,
    resolver: Resolver,
}

/// Where a connection leaves from: a local address, a network interface.
#[derive(Clone, Debug, Default)]
struct Bind {
    address: Option<IpAddr>,
    interface: Option<std::sync::Arc<str>>,
}

impl Default for TcpDialer {
    fn default() -> TcpDialer {
        TcpDialer::new()
    }
}

impl TcpDialer {
    /// A dialer with the defaults.
    pub fn new() -> TcpDialer {
        TcpDialer {
            attempt_delay: Duration::from_millis(250),
            nodelay: true,
            keepalive: None,
            user_timeout: None,
            bind: Bind::default(),
            resolver: Resolver::default(),
        }
    }

    /// Connects to `addr` for `host` instead of resolving it (curl's `--resolve`,
    /// reqwest's `resolve`). Matched without regard to case or a trailing dot; an IDN
    /// host may be given as its A-label (`xn--bcher-kva.example`) or in Unicode, which
    /// is converted. The port of `addr` is used unless it is 0, which keeps the
    /// request's port (reqwest always keeps the request's port).
    pub fn resolve(self, host: &str, addr: SocketAddr) -> TcpDialer {
        self.resolve_to_addrs(host, &[addr])
    }

    /// Connects to `addrs` for `host`, tried in order with happy eyeballs, instead of
    /// resolving it. See [`resolve`](TcpDialer::resolve).
    pub fn resolve_to_addrs(mut self, host: &str, addrs: &[SocketAddr]) -> TcpDialer {
        let ascii = url::Host::parse(host)
            .map(|h| h.to_string())
            .unwrap_or_else(|_| host.to_owned());
        self.resolver.set_override(&ascii, addrs);
        self
    }

    /// Resolves names with `resolver` instead of the system resolver: any
    /// `tower::Service` from a [`Name`] to addresses (their ports are replaced by the
    /// request's). IP addresses and [`resolve`](TcpDialer::resolve) overrides do not
    /// reach it. Its error fails the dial as a resolve error
    /// ([`is_resolve()`](crate::Error::is_resolve)).
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use towline::connect::{Name, TcpDialer};
    ///
    /// let fixed = tower::service_fn(|name: Name| async move {
    ///     let addrs: Vec<SocketAddr> = match name.as_str() {
    ///         "api.test" => vec!["127.0.0.1:0".parse()?],
    ///         _ => vec![],
    ///     };
    ///     Ok::<_, towline::BoxError>(addrs)
    /// });
    /// let dialer = TcpDialer::new().resolver(fixed);
    /// ```
    pub fn resolver<S, A>(mut self, resolver: S) -> TcpDialer
    where
        S: Service<Name, Response = A> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        A: IntoIterator<Item = SocketAddr>,
    {
        self.resolver.set_custom(resolver);
        self
    }

    /// Sends from `addr`: each connection is bound to it before connecting. Addresses
    /// of the other IP family are not tried (their attempts fail), so that no
    /// connection leaves from another address. `None` lets the system choose.
    ///
    /// Default is `None`.
    pub fn local_address(mut self, addr: impl Into<Option<IpAddr>>) -> TcpDialer {
        self.bind.address = addr.into();
        self
    }

    /// Sends through the network interface named `interface` (`SO_BINDTODEVICE`,
    /// Linux only; it usually needs `CAP_NET_RAW`, and a refusal fails the dial).
    /// `None` lets routing choose.
    ///
    /// Default is `None`.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn interface(mut self, interface: Option<&str>) -> TcpDialer {
        self.bind.interface = interface.map(Into::into);
        self
    }

    /// How long sent data may stay unacknowledged before the connection is dropped
    /// (`TCP_USER_TIMEOUT`, Linux only); `None` keeps the system's.
    ///
    /// Default is `None`.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn tcp_user_timeout(mut self, timeout: impl Into<Option<Duration>>) -> TcpDialer {
        self.user_timeout = timeout.into();
        self
    }

    /// Turns on TCP keep-alive with probes after `idle` without traffic (`SO_KEEPALIVE`
    /// and `TCP_KEEPIDLE`); `None` leaves it off.
    ///
    /// Default is `None`.
    pub fn tcp_keepalive(mut self, idle: impl Into<Option<Duration>>) -> TcpDialer {
        self.keepalive = idle.into();
        self
    }

    /// How long an attempt may run before the next address is tried beside it.
    ///
    /// Default is 250 ms, as RFC 8305 recommends.
    pub fn attempt_delay(mut self, delay: Duration) -> TcpDialer {
        self.attempt_delay = delay;
        self
    }

    /// Whether to set `TCP_NODELAY` on new connections.
    ///
    /// Default is `true`.
    pub fn nodelay(mut self, on: bool) -> TcpDialer {
        self.nodelay = on;
        self
    }
}

/// The future of one [`TcpDialer`] dial.
pub type TcpConnecting = Pin<Box<dyn Future<Output = Result<TcpStream, DialError>> + Send>>;

impl Service<Destination> for TcpDialer {
    type Response = TcpStream;
    type Error = DialError;
    type Future = TcpConnecting;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), DialError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Destination) -> TcpConnecting {
        let this = self.clone();
        Box::pin(async move {
            let addrs = this
                .resolver
                .lookup(dst.host(), dst.port())
                .await
                .map_err(|e| DialError::resolve(&dst, e))?;
            trace!(
                target: "towline::connect",
                destination = %dst,
                addresses = addrs.len(),
                "resolved"
            );
            let bind = this.bind.clone();
            let stream = race(addrs, this.attempt_delay, |addr| {
                Box::pin(connect(addr, bind.clone()))
            })
            .await
            .map_err(|e| DialError::connect(&dst, e))?;
            this.configure(&stream)
                .map_err(|e| DialError::connect(&dst, e))?;
            Ok(stream)
        })
    }
}

impl TcpDialer {
    /// Sets the socket options on a new connection.
    fn configure(&self, stream: &TcpStream) -> io::Result<()> {
        if self.nodelay {
            stream.set_nodelay(true)?;
        }
        if let Some(idle) = self.keepalive {
            let keepalive = socket2::TcpKeepalive::new().with_time(idle);
            socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive)?;
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(timeout) = self.user_timeout {
            socket2::SockRef::from(stream).set_tcp_user_timeout(Some(timeout))?;
        }
        Ok(())
    }
}

/// Connects to `addr`, from `bind`'s address and interface when given (an address of
/// the other family fails the attempt rather than leave from elsewhere).
async fn connect(addr: SocketAddr, bind: Bind) -> io::Result<TcpStream> {
    if bind.address.is_none() && bind.interface.is_none() {
        return TcpStream::connect(addr).await;
    }
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(interface) = &bind.interface {
        socket2::SockRef::from(&socket).bind_device(Some(interface.as_bytes()))?;
    }
    if let Some(local) = bind.address {
        if local.is_ipv4() != addr.is_ipv4() {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("{addr} is not reachable from the local address {local}"),
            ));
        }
        socket.bind(SocketAddr::new(local, 0))?;
    }
    socket.connect(addr).await
}

/// Resolves `host` with the system resolver on tokio's blocking threads (an IP literal
/// as it is), ordered for happy eyeballs. Also used for `socks5://` targets.
pub(crate) async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    if addrs.is_empty() {
        return Err(no_addresses());
    }
    Ok(interleave(addrs))
}

type Attempt<T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send>>;

/// Races connection attempts to `addrs`, starting a new one every `delay` or as soon as
/// one fails; the first success wins and drops (closes) the others.
#[cfg(test)]
async fn happy_eyeballs(addrs: Vec<SocketAddr>, delay: Duration) -> io::Result<TcpStream> {
    race(addrs, delay, |addr| Box::pin(TcpStream::connect(addr))).await
}

/// [`happy_eyeballs`] with the way to connect to one address given.
async fn race<T, F>(addrs: Vec<SocketAddr>, delay: Duration, mut connect: F) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Attempt<T>,
{
    let mut pending = addrs.into_iter();
    let mut running: Vec<Attempt<T>> = Vec::new();
    let mut last_err: Option<io::Error> = None;
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    std::future::poll_fn(move |cx| {
        loop {
            let may_start = running.is_empty() || timer.as_mut().poll(cx).is_ready();
            if may_start {
                if let Some(addr) = pending.next() {
                    trace!(target: "towline::connect", %addr, "TCP connection attempt");
                    running.push(connect(addr));
                    timer.as_mut().reset(tokio::time::Instant::now() + delay);
                    // Register the timer with this task before going on.
                    let _ = timer.as_mut().poll(cx);
                }
            }
            let mut failed = false;
            let mut i = 0;
            while i < running.len() {
                match running[i].as_mut().poll(cx) {
                    Poll::Ready(Ok(stream)) => return Poll::Ready(Ok(stream)),
                    Poll::Ready(Err(e)) => {
                        trace!(target: "towline::connect", error = %e, "TCP connection attempt failed");
                        last_err = Some(e);
                        drop(running.swap_remove(i));
                        failed = true;
                    }
                    Poll::Pending => i += 1,
                }
            }
            if running.is_empty() && pending.len() == 0 {
                return Poll::Ready(Err(last_err.take().unwrap_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "no addresses to connect to")
                })));
            }
            // A failure frees the way for the next address at once.
            if !(failed && running.is_empty() && pending.len() > 0) {
                return Poll::Pending;
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaves_families_starting_with_the_first() {
        let v6a: SocketAddr = "[::1]:1".parse().expect("addr");
        let v6b: SocketAddr = "[::2]:1".parse().expect("addr");
        let v4a: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        let v4b: SocketAddr = "127.0.0.2:1".parse().expect("addr");
        assert_eq!(
            interleave(vec![v6a, v6b, v4a, v4b]),
            vec![v6a, v4a, v6b, v4b]
        );
        assert_eq!(interleave(vec![v4a, v4b, v6a]), vec![v4a, v6a, v4b]);
    }

    #[tokio::test]
    async fn a_refused_address_falls_through_to_the_next() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let good = listener.local_addr().expect("addr");
        // Port 1 on loopback refuses at once.
        let bad: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        let stream = happy_eyeballs(vec![bad, good], Duration::from_secs(10))
            .await
            .expect("second address connects without waiting for the delay");
        assert_eq!(stream.peer_addr().expect("peer"), good);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_address_is_raced_after_the_attempt_delay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let good = listener.local_addr().expect("addr");
        // Never dialed for real: its attempt hangs, as a connection to a host that
        // drops the SYN does.
        let hanging = SocketAddr::new([127, 0, 0, 2].into(), good.port());
        let delay = Duration::from_millis(250);
        let started = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = started.clone();
        let t0 = tokio::time::Instant::now();
        let stream = race(vec![hanging, good], delay, move |addr| {
            log.lock().expect("log").push((addr, t0.elapsed()));
            if addr == hanging {
                Box::pin(std::future::pending())
            } else {
                Box::pin(TcpStream::connect(addr))
            }
        })
        .await
        .expect("the second address wins");
        assert_eq!(stream.peer_addr().expect("peer"), good);
        let started = started.lock().expect("log").clone();
        assert_eq!(started.len(), 2, "{started:?}");
        assert_eq!(started[0], (hanging, Duration::ZERO));
        // The clock is paused, so this is exact: the second attempt started when the
        // delay ran out, not before, and not only after the first one gave up.
        assert_eq!(started[1], (good, delay));
    }

    #[tokio::test]
    async fn the_dialer_sets_nodelay_unless_told_not_to() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let dst = Destination::new(http::uri::Scheme::HTTP, "127.0.0.1", addr.port());
        let mut dialer = TcpDialer::new();
        let stream = dialer.call(dst.clone()).await.expect("dial");
        assert!(stream.nodelay().expect("nodelay"));
        assert_eq!(stream.peer_addr().expect("peer"), addr);
        let mut dialer = TcpDialer::new().nodelay(false);
        let stream = dialer.call(dst).await.expect("dial");
        assert!(!stream.nodelay().expect("nodelay"));
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let dialer = TcpDialer::default();
        assert_eq!(dialer.attempt_delay, Duration::from_millis(250));
        assert!(dialer.nodelay);
    }

    #[tokio::test]
    async fn all_refused_reports_the_last_error() {
        let bad: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        let err = happy_eyeballs(vec![bad, bad], Duration::from_millis(10))
            .await
            .expect_err("nothing listens");
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn interface_binds_to_a_device_and_a_missing_one_fails() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let dst = Destination::new(http::uri::Scheme::HTTP, "127.0.0.1", addr.port());
        let mut missing = TcpDialer::new().interface(Some("towline-none0"));
        let err = missing.call(dst.clone()).await.expect_err("no such device");
        assert!(!err.is_resolve(), "{err}");
        // Binding to a device needs CAP_NET_RAW: CI runs as root; elsewhere the
        // refusal is the expected error.
        let mut lo = TcpDialer::new().interface(Some("lo"));
        match lo.call(dst).await {
            Ok(stream) => {
                let device = socket2::SockRef::from(&stream)
                    .device()
                    .expect("SO_BINDTODEVICE");
                assert_eq!(device.as_deref(), Some(&b"lo"[..]));
            }
            Err(err) => {
                let source = std::error::Error::source(&err).expect("io error");
                let io = source.downcast_ref::<io::Error>().expect("io error");
                assert_eq!(io.kind(), io::ErrorKind::PermissionDenied, "{err}");
            }
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn tcp_user_timeout_is_set_on_the_socket() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let dst = Destination::new(http::uri::Scheme::HTTP, "127.0.0.1", addr.port());
        let timeout = Duration::from_secs(7);
        let stream = TcpDialer::new()
            .tcp_user_timeout(timeout)
            .call(dst)
            .await
            .expect("dial");
        let set = socket2::SockRef::from(&stream)
            .tcp_user_timeout()
            .expect("TCP_USER_TIMEOUT");
        assert_eq!(set, Some(timeout));
    }
}
