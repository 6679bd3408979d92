//! The default dialer: system resolver, happy eyeballs, `TCP_NODELAY`.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::TcpStream;
use tower_service::Service;

use super::dial::{Destination, DialError};

/// Opens TCP connections (Twisted's `HostnameEndpoint`).
///
/// Resolves names with the system resolver on tokio's blocking threads, then races the
/// addresses with happy eyeballs (RFC 8305): addresses alternate between IPv6 and IPv4,
/// a new attempt starts when the previous one fails or after
/// [`attempt_delay`](TcpDialer::attempt_delay), and the first connection to succeed wins.
/// Connections have `TCP_NODELAY` set.
///
/// The connect timeout is the connector's
/// ([`Builder::connect_timeout`](super::Builder::connect_timeout)), so it applies to
/// every dialer.
#[derive(Clone, Debug)]
pub struct TcpDialer {
    attempt_delay: Duration,
    nodelay: bool,
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
        }
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
            let addrs = resolve(dst.host(), dst.port())
                .await
                .map_err(|e| DialError::resolve(&dst, e))?;
            trace!(
                target: "towline::connect",
                destination = %dst,
                addresses = addrs.len(),
                "resolved"
            );
            let stream = happy_eyeballs(addrs, this.attempt_delay)
                .await
                .map_err(|e| DialError::connect(&dst, e))?;
            if this.nodelay {
                stream
                    .set_nodelay(true)
                    .map_err(|e| DialError::connect(&dst, e))?;
            }
            Ok(stream)
        })
    }
}

/// Resolves `host` with the system resolver on tokio's blocking threads (an IP literal
/// as it is), ordered for happy eyeballs. Also used for `socks5://` targets.
pub(crate) async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the name resolved to no addresses",
        ));
    }
    Ok(interleave(addrs))
}

/// Orders addresses as RFC 8305 §4 asks: alternate families, starting with the family
/// of the resolver's first answer, each family in the resolver's order.
fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let first_v6 = addrs.first().is_some_and(SocketAddr::is_ipv6);
    let (preferred, other): (Vec<_>, Vec<_>) =
        addrs.into_iter().partition(|a| a.is_ipv6() == first_v6);
    let mut out = Vec::with_capacity(preferred.len() + other.len());
    let mut a = preferred.into_iter();
    let mut b = other.into_iter();
    loop {
        match (a.next(), b.next()) {
            (None, None) => break,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
    out
}

type Attempt<T> = Pin<Box<dyn Future<Output = io::Result<T>> + Send>>;

/// Races connection attempts to `addrs`, starting a new one every `delay` or as soon as
/// one fails; the first success wins and drops (closes) the others.
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
}
