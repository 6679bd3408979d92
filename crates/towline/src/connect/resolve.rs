//! Turning host names into addresses for the [`TcpDialer`](super::TcpDialer): the
//! system resolver, fixed overrides (`resolve`), or any `tower::Service` from a
//! [`Name`] to addresses (a hickory-dns resolver, a test double).

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use crate::error::BoxError;

/// A host name handed to a custom resolver (see
/// [`TcpDialer::resolver`](super::TcpDialer::resolver)): lower case, IDN hosts as
/// A-labels (`xn--…`), never an IP address (those are used as they are).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Name(Box<str>);

impl Name {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

type Custom = BoxCloneSyncService<Name, Vec<SocketAddr>, BoxError>;

/// How the dialer finds a host's addresses: overrides first, then the custom
/// resolver or the system's.
#[derive(Clone, Default)]
pub(crate) struct Resolver {
    overrides: Arc<HashMap<Box<str>, Arc<[SocketAddr]>>>,
    custom: Option<Custom>,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.overrides.keys().map(|k| &**k).collect();
        names.sort_unstable();
        f.debug_struct("Resolver")
            .field("overrides", &names)
            .field("custom", &self.custom.is_some())
            .finish()
    }
}

impl Resolver {
    /// Sends `host` to `addrs` from now on, whatever a resolver says.
    pub(crate) fn set_override(&mut self, host: &str, addrs: &[SocketAddr]) {
        Arc::make_mut(&mut self.overrides).insert(
            host.trim_end_matches('.').to_ascii_lowercase().into(),
            addrs.into(),
        );
    }

    /// Asks `resolver` for names without an override.
    pub(crate) fn set_custom<S, A>(&mut self, resolver: S)
    where
        S: tower_service::Service<Name, Response = A> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        A: IntoIterator<Item = SocketAddr>,
    {
        let service = resolver
            .map_response(|addrs: A| addrs.into_iter().collect::<Vec<_>>())
            .map_err(Into::into);
        self.custom = Some(BoxCloneSyncService::new(service));
    }

    /// The addresses to try for `host` and `port`, in the order to try them. An IP
    /// literal is used as it is; an override's port is used unless it is 0.
    pub(crate) async fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        let addrs = if let Some(addrs) = self.overrides.get(name.as_str()) {
            with_port(addrs.iter().copied(), port, false)
        } else {
            match &self.custom {
                Some(custom) => {
                    let addrs = custom
                        .clone()
                        .oneshot(Name(name.into()))
                        .await
                        .map_err(io::Error::other)?;
                    interleave(with_port(addrs.into_iter(), port, true))
                }
                None => return super::tcp::resolve(host, port).await,
            }
        };
        if addrs.is_empty() {
            return Err(no_addresses());
        }
        Ok(addrs)
    }
}

/// The error of a name that resolved to nothing.
pub(crate) fn no_addresses() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "the name resolved to no addresses")
}

/// `addrs` on `port`: every one when `force`, else only those that say port 0.
fn with_port(addrs: impl Iterator<Item = SocketAddr>, port: u16, force: bool) -> Vec<SocketAddr> {
    addrs
        .map(|mut addr| {
            if force || addr.port() == 0 {
                addr.set_port(port);
            }
            addr
        })
        .collect()
}

/// Orders addresses as RFC 8305 §4 asks: alternate families, starting with the family
/// of the resolver's first answer, each family in the resolver's order.
pub(crate) fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use http::uri::Scheme;
    use tokio::net::TcpListener;
    use tower_service::Service;

    use super::*;
    use crate::connect::{Destination, TcpDialer};

    async fn listener() -> (TcpListener, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        (listener, addr)
    }

    fn dst(host: &str, port: u16) -> Destination {
        Destination::new(Scheme::HTTP, host, port)
    }

    #[tokio::test]
    async fn an_override_answers_for_its_host_in_any_case_and_unicode() {
        let (_listener, addr) = listener().await;
        let mut dialer = TcpDialer::new()
            .resolve("API.test.", addr)
            .resolve("bücher.example", addr);
        // The override's port wins over the request's.
        for host in ["api.test", "Api.Test.", "xn--bcher-kva.example"] {
            let stream = dialer.call(dst(host, 80)).await.expect("dialed");
            assert_eq!(stream.peer_addr().expect("peer"), addr, "{host}");
        }
        // Other names still go to the system resolver, IP literals as they are.
        let stream = dialer
            .call(dst("127.0.0.1", addr.port()))
            .await
            .expect("dialed");
        assert_eq!(stream.peer_addr().expect("peer"), addr);
    }

    #[tokio::test]
    async fn an_override_on_port_zero_keeps_the_requests_port() {
        let (_listener, addr) = listener().await;
        let any_port = SocketAddr::new(addr.ip(), 0);
        let mut dialer = TcpDialer::new().resolve_to_addrs("api.test", &[any_port]);
        let stream = dialer
            .call(dst("api.test", addr.port()))
            .await
            .expect("dialed");
        assert_eq!(stream.peer_addr().expect("peer"), addr);
    }

    #[tokio::test]
    async fn an_empty_override_is_a_resolve_error() {
        let mut dialer = TcpDialer::new().resolve_to_addrs("api.test", &[]);
        let err = dialer
            .call(dst("api.test", 80))
            .await
            .expect_err("no address");
        assert!(err.is_resolve(), "{err}");
    }

    #[tokio::test]
    async fn a_resolver_service_gets_the_name_and_its_ports_are_the_requests() {
        let (_listener, addr) = listener().await;
        let asked = std::sync::Arc::new(Mutex::new(Vec::new()));
        let log = asked.clone();
        let resolver = tower::service_fn(move |name: Name| {
            log.lock().expect("log").push(name.to_string());
            async move {
                match name.as_str() {
                    "svc.test" => Ok(vec![SocketAddr::new(addr.ip(), 9)]),
                    "empty.test" => Ok(vec![]),
                    _ => Err::<Vec<SocketAddr>, BoxError>("no such name here".into()),
                }
            }
        });
        let mut dialer = TcpDialer::new()
            .resolver(resolver)
            .resolve("pinned.test", addr);
        let stream = dialer
            .call(dst("Svc.Test.", addr.port()))
            .await
            .expect("dialed");
        assert_eq!(stream.peer_addr().expect("peer"), addr);
        // Overrides and IP literals never reach it.
        dialer.call(dst("pinned.test", 1)).await.expect("pinned");
        dialer
            .call(dst("127.0.0.1", addr.port()))
            .await
            .expect("literal");
        for host in ["empty.test", "other.test"] {
            let err = dialer.call(dst(host, 80)).await.expect_err("unresolved");
            assert!(err.is_resolve(), "{host}: {err}");
        }
        let asked = asked.lock().expect("log").clone();
        assert_eq!(asked, ["svc.test", "empty.test", "other.test"]);
    }

    #[tokio::test]
    async fn a_local_address_is_where_connections_leave_from() {
        let (listener, addr) = listener().await;
        let local: IpAddr = "127.0.0.2".parse().expect("ip");
        let mut dialer = TcpDialer::new().local_address(local);
        let _stream = dialer
            .call(dst("127.0.0.1", addr.port()))
            .await
            .expect("dialed");
        let (_, peer) = listener.accept().await.expect("accepted");
        assert_eq!(peer.ip(), local);
        // An address of the other family is not tried from elsewhere.
        let mut dialer = TcpDialer::new().local_address("::1".parse::<IpAddr>().expect("ip"));
        let err = dialer
            .call(dst("127.0.0.1", addr.port()))
            .await
            .expect_err("other family");
        let source = std::error::Error::source(&err).expect("source");
        assert!(source.to_string().contains("local address ::1"), "{source}");
    }

    #[tokio::test]
    async fn tcp_keepalive_sets_the_socket_options() {
        let (_listener, addr) = listener().await;
        let idle = std::time::Duration::from_secs(42);
        let mut dialer = TcpDialer::new().tcp_keepalive(idle);
        let stream = dialer
            .call(dst("127.0.0.1", addr.port()))
            .await
            .expect("dialed");
        let socket = socket2::SockRef::from(&stream);
        assert!(socket.keepalive().expect("SO_KEEPALIVE"));
        #[cfg(target_os = "linux")]
        assert_eq!(socket.tcp_keepalive_time().expect("TCP_KEEPIDLE"), idle);
        let stream = TcpDialer::new()
            .call(dst("127.0.0.1", addr.port()))
            .await
            .expect("dialed");
        assert!(
            !socket2::SockRef::from(&stream)
                .keepalive()
                .expect("SO_KEEPALIVE")
        );
    }
}
