//! The [`ClientBuilder`]'s connection settings: the pool, the dialer (name
//! resolution, local address, TCP options), timeouts of the connection's handshakes,
//! TLS and HTTP versions. Each forwards to the [`crate::connect::Builder`] or the
//! [`crate::connect::TcpDialer`] the client is built on, where the same settings exist for
//! a bare `Connector`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::ClientBuilder;
use crate::connect::Name;
use crate::error::BoxError;

impl ClientBuilder {
    /// Whether connections are kept for reuse. Default is `true`.
    pub fn persistent(self, on: bool) -> Self {
        self.connector(|c| c.persistent(on))
    }

    /// How many idle connections to keep per host. Default is 32.
    pub fn max_idle_per_host(self, n: usize) -> Self {
        self.connector(|c| c.max_idle_per_host(n))
    }

    /// How long an idle connection is kept; `None` keeps it until the server closes
    /// it. Default is 90 seconds.
    pub fn pool_idle_timeout(self, timeout: impl Into<Option<Duration>>) -> Self {
        let timeout = timeout.into();
        self.connector(|c| c.idle_timeout(timeout))
    }

    /// The most connections open at once to one host; `None` sets no limit. Default is
    /// `None`.
    pub fn max_connections_per_host(self, n: impl Into<Option<usize>>) -> Self {
        let n = n.into();
        self.connector(|c| c.max_connections_per_host(n))
    }

    /// How long resolving and dialing a host may take, every address tried (happy
    /// eyeballs) together; `None` waits as long as the dialer. Its error is
    /// [`is_connect()`](crate::Error::is_connect) and [`is_timeout()`](crate::Error::is_timeout).
    /// See [`crate::connect::Builder::connect_timeout`].
    ///
    /// Default is 30 seconds.
    pub fn connect_timeout(self, timeout: impl Into<Option<Duration>>) -> Self {
        let timeout = timeout.into();
        self.connector(|c| c.connect_timeout(timeout))
    }

    /// How long each TLS handshake (with the origin, or an `https://` proxy) may take;
    /// `None` waits as long as the server. Its error is
    /// [`is_connect()`](crate::Error::is_connect) and [`is_timeout()`](crate::Error::is_timeout).
    ///
    /// Default is 10 seconds.
    pub fn tls_handshake_timeout(self, timeout: impl Into<Option<Duration>>) -> Self {
        let timeout = timeout.into();
        self.connector(|c| c.tls_handshake_timeout(timeout))
    }

    /// How long the handshake with a proxy (`CONNECT`, or SOCKS5) may take once it is
    /// dialed; `None` waits as long as the proxy. Its error is
    /// [`is_connect()`](crate::Error::is_connect), [`is_proxy()`](crate::Error::is_proxy) and
    /// [`is_timeout()`](crate::Error::is_timeout).
    ///
    /// Default is 10 seconds.
    pub fn proxy_handshake_timeout(self, timeout: impl Into<Option<Duration>>) -> Self {
        let timeout = timeout.into();
        self.connector(|c| c.proxy_handshake_timeout(timeout))
    }

    /// The TLS configuration for every host, or a per-host policy.
    ///
    /// Default is [`TlsConfig::new()`](crate::tls::TlsConfig::new): the bundled web PKI
    /// roots, ALPN `h2` and `http/1.1`.
    #[cfg(feature = "tls")]
    pub fn tls(self, policy: impl crate::tls::TlsPolicy) -> Self {
        self.connector(|c| c.tls(policy))
    }

    /// Builds the TLS configuration from a [`TlsConfigBuilder`](crate::tls::TlsConfigBuilder);
    /// its errors are reported by [`build`](Self::build).
    ///
    /// Default is [`TlsConfig::new()`](crate::tls::TlsConfig::new).
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, builder: crate::tls::TlsConfigBuilder) -> Self {
        self.tls = Some(builder.build());
        self
    }

    /// Speaks HTTP/2 straight away on `http://` connections (h2c).
    ///
    /// Default is `false`.
    #[cfg(feature = "http2")]
    pub fn http2_prior_knowledge(self, on: bool) -> Self {
        self.connector(|c| c.http2_prior_knowledge(on))
    }

    /// The largest response head accepted, in bytes, over HTTP/1.1 and HTTP/2 alike
    /// (over HTTP/2 it is advertised as `SETTINGS_MAX_HEADER_LIST_SIZE`); see
    /// [`crate::connect::Builder::max_header_size`]. A larger head fails the request with an
    /// error that is [`is_response()`](crate::Error::is_response), its source a
    /// [`ResponseHeadTooLarge`](crate::connect::ResponseHeadTooLarge).
    ///
    /// Default is 256 KiB (262,144 bytes).
    pub fn max_header_size(self, bytes: usize) -> Self {
        self.connector(|c| c.max_header_size(bytes))
    }

    /// The most header fields accepted in an HTTP/1.1 response; see
    /// [`crate::connect::Builder::max_headers`].
    ///
    /// Default is 1,000.
    pub fn max_headers(self, n: usize) -> Self {
        self.connector(|c| c.max_headers(n))
    }

    /// Connects to `addr` for `host` instead of resolving it (curl's `--resolve`); the
    /// port of `addr` is used unless it is 0. See [`crate::connect::TcpDialer::resolve`].
    pub fn resolve(mut self, host: &str, addr: SocketAddr) -> Self {
        self.dialer = self.dialer.resolve(host, addr);
        self
    }

    /// Connects to `addrs` for `host` instead of resolving it. See
    /// [`crate::connect::TcpDialer::resolve_to_addrs`].
    pub fn resolve_to_addrs(mut self, host: &str, addrs: &[SocketAddr]) -> Self {
        self.dialer = self.dialer.resolve_to_addrs(host, addrs);
        self
    }

    /// Resolves names with `resolver`, any `tower::Service` from a [`Name`] to
    /// addresses (hickory-dns, a test double), instead of the system resolver. See
    /// [`crate::connect::TcpDialer::resolver`].
    pub fn dns_resolver<S, A>(mut self, resolver: S) -> Self
    where
        S: tower_service::Service<Name, Response = A> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        A: IntoIterator<Item = SocketAddr>,
    {
        self.dialer = self.dialer.resolver(resolver);
        self
    }

    /// Sends from `addr`; see [`crate::connect::TcpDialer::local_address`]. Default is `None`.
    pub fn local_address(mut self, addr: impl Into<Option<IpAddr>>) -> Self {
        self.dialer = self.dialer.local_address(addr);
        self
    }

    /// TCP keep-alive after `idle` without traffic; `None` leaves it off. Default is
    /// `None`.
    pub fn tcp_keepalive(mut self, idle: impl Into<Option<Duration>>) -> Self {
        self.dialer = self.dialer.tcp_keepalive(idle);
        self
    }

    /// Whether to set `TCP_NODELAY`. Default is `true`.
    pub fn tcp_nodelay(mut self, on: bool) -> Self {
        self.dialer = self.dialer.nodelay(on);
        self
    }

    /// Speaks HTTP/1.1 only (TLS offers only `http/1.1`). Default is `false`. See
    /// [`crate::connect::Builder::http1_only`].
    pub fn http1_only(self) -> Self {
        self.connector(|c| c.http1_only(true))
    }

    /// HTTP/2 keep-alive PINGs every `interval`; `None` sends none. Default is `None`.
    /// See [`crate::connect::Builder::http2_keep_alive_interval`].
    #[cfg(feature = "http2")]
    pub fn http2_keep_alive_interval(self, interval: impl Into<Option<Duration>>) -> Self {
        let interval = interval.into();
        self.connector(|c| c.http2_keep_alive_interval(interval))
    }

    /// How long a keep-alive PING may go unanswered before the connection is closed.
    /// Default is 20 seconds.
    #[cfg(feature = "http2")]
    pub fn http2_keep_alive_timeout(self, timeout: Duration) -> Self {
        self.connector(|c| c.http2_keep_alive_timeout(timeout))
    }

    /// Whether keep-alive PINGs go out while no request is open. Default is `false`.
    #[cfg(feature = "http2")]
    pub fn http2_keep_alive_while_idle(self, on: bool) -> Self {
        self.connector(|c| c.http2_keep_alive_while_idle(on))
    }

    /// The HTTP/2 window of each stream; `None` keeps hyper's 2 MiB.
    #[cfg(feature = "http2")]
    pub fn http2_initial_stream_window_size(self, bytes: impl Into<Option<u32>>) -> Self {
        let bytes = bytes.into();
        self.connector(|c| c.http2_initial_stream_window_size(bytes))
    }

    /// The HTTP/2 window of the connection; `None` keeps hyper's 5 MiB.
    #[cfg(feature = "http2")]
    pub fn http2_initial_connection_window_size(self, bytes: impl Into<Option<u32>>) -> Self {
        let bytes = bytes.into();
        self.connector(|c| c.http2_initial_connection_window_size(bytes))
    }

    /// HTTP/2 windows sized from the measured bandwidth-delay product. Default is
    /// `false`.
    #[cfg(feature = "http2")]
    pub fn http2_adaptive_window(self, on: bool) -> Self {
        self.connector(|c| c.http2_adaptive_window(on))
    }

    /// Sends through the network interface `interface` (Linux). See
    /// [`TcpDialer::interface`](crate::connect::TcpDialer::interface). Default is `None`.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn interface(mut self, interface: &str) -> Self {
        self.dialer = self.dialer.interface(Some(interface));
        self
    }

    /// `TCP_USER_TIMEOUT` (Linux); `None` keeps the system's. Default is `None`.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn tcp_user_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.dialer = self.dialer.tcp_user_timeout(timeout);
        self
    }

    /// Writes HTTP/1.1 header names in title case. Default is `false`. See
    /// [`connect::Builder::http1_title_case_headers`](crate::connect::Builder::http1_title_case_headers).
    pub fn http1_title_case_headers(self) -> Self {
        self.connector(|c| c.http1_title_case_headers(true))
    }

    /// Accepts obsolete folded header lines in responses. Default is `false`.
    pub fn http1_allow_obsolete_multiline_headers_in_responses(self, on: bool) -> Self {
        self.connector(|c| c.http1_allow_obsolete_multiline_headers_in_responses(on))
    }

    /// Skips invalid response header lines instead of failing. Default is `false`.
    pub fn http1_ignore_invalid_headers_in_responses(self, on: bool) -> Self {
        self.connector(|c| c.http1_ignore_invalid_headers_in_responses(on))
    }

    /// Accepts spaces between a response header's name and its colon. Default is
    /// `false`.
    pub fn http1_allow_spaces_after_header_name_in_responses(self, on: bool) -> Self {
        self.connector(|c| c.http1_allow_spaces_after_header_name_in_responses(on))
    }

    /// Accepts HTTP/0.9 responses. Default is `false`.
    pub fn http09_responses(self) -> Self {
        self.connector(|c| c.http09_responses(true))
    }

    /// The largest HTTP/2 frame payload accepted; `None` keeps hyper's 16 KiB.
    #[cfg(feature = "http2")]
    pub fn http2_max_frame_size(self, bytes: impl Into<Option<u32>>) -> Self {
        let bytes = bytes.into();
        self.connector(|c| c.http2_max_frame_size(bytes))
    }
}
