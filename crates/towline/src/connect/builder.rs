//! The connector's settings and how they become a [`Connector`].

use super::*;

/// Configures and builds a [`Connector`].
#[derive(Clone)]
pub struct Builder {
    pub(super) pool: pool::Config,
    pub(super) connect_timeout: Option<Duration>,
    max_header_size: usize,
    max_headers: usize,
    record_request_heads: bool,
    tls_handshake_timeout: Option<Duration>,
    proxy_handshake_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    #[cfg(feature = "tls")]
    tls: Option<Arc<dyn crate::tls::TlsPolicy>>,
    h2c: bool,
    http1_only: bool,
    http1: Http1Settings,
    #[cfg(feature = "http2")]
    http2: Http2Settings,
}

/// Lenient HTTP/1.1 parsing and writing, each off by default (hyper's switches).
#[derive(Clone, Debug, Default)]
struct Http1Settings {
    title_case_headers: bool,
    obsolete_multiline_headers: bool,
    ignore_invalid_headers: bool,
    spaces_after_header_name: bool,
    http09_responses: bool,
}

impl Http1Settings {
    fn configure(&self, builder: &mut hyper::client::conn::http1::Builder) {
        builder
            .title_case_headers(self.title_case_headers)
            .allow_obsolete_multiline_headers_in_responses(self.obsolete_multiline_headers)
            .ignore_invalid_headers_in_responses(self.ignore_invalid_headers)
            .allow_spaces_after_header_name_in_responses(self.spaces_after_header_name)
            .http09_responses(self.http09_responses);
    }
}

/// HTTP/2 connection settings (keep-alive pings, flow-control windows).
#[cfg(feature = "http2")]
#[derive(Clone, Debug)]
pub(super) struct Http2Settings {
    keep_alive_interval: Option<Duration>,
    keep_alive_timeout: Duration,
    keep_alive_while_idle: bool,
    initial_stream_window: Option<u32>,
    initial_connection_window: Option<u32>,
    adaptive_window: bool,
    max_frame_size: Option<u32>,
}

#[cfg(feature = "http2")]
impl Default for Http2Settings {
    fn default() -> Http2Settings {
        Http2Settings {
            keep_alive_interval: None,
            keep_alive_timeout: Duration::from_secs(20),
            keep_alive_while_idle: false,
            initial_stream_window: None,
            initial_connection_window: None,
            adaptive_window: false,
            max_frame_size: None,
        }
    }
}

#[cfg(feature = "http2")]
impl Http2Settings {
    /// Applies the settings to hyper's HTTP/2 handshake.
    pub(super) fn configure(
        &self,
        builder: &mut hyper::client::conn::http2::Builder<hyper_util::rt::TokioExecutor>,
    ) {
        if let Some(interval) = self.keep_alive_interval {
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .keep_alive_interval(interval)
                .keep_alive_timeout(self.keep_alive_timeout)
                .keep_alive_while_idle(self.keep_alive_while_idle);
        }
        builder
            .initial_stream_window_size(self.initial_stream_window)
            .initial_connection_window_size(self.initial_connection_window)
            .adaptive_window(self.adaptive_window)
            .max_frame_size(self.max_frame_size);
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("pool", &self.pool)
            .field("connect_timeout", &self.connect_timeout)
            .field("tls_handshake_timeout", &self.tls_handshake_timeout)
            .field("proxy_handshake_timeout", &self.proxy_handshake_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("max_header_size", &self.max_header_size)
            .field("max_headers", &self.max_headers)
            .field("record_request_heads", &self.record_request_heads)
            .field("http2_prior_knowledge", &self.h2c)
            .field("http1_only", &self.http1_only)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Builder {
        Builder::new()
    }
}

impl Builder {
    /// A builder with every default.
    pub fn new() -> Builder {
        Builder {
            pool: pool::Config {
                persistent: true,
                max_idle_per_host: 32,
                idle_timeout: Some(Duration::from_secs(90)),
                max_connections_per_host: None,
            },
            connect_timeout: Some(DEFAULT_CONNECT_TIMEOUT),
            tls_handshake_timeout: Some(DEFAULT_TLS_HANDSHAKE_TIMEOUT),
            proxy_handshake_timeout: Some(DEFAULT_PROXY_HANDSHAKE_TIMEOUT),
            read_timeout: None,
            max_header_size: limits::DEFAULT_MAX_HEADER_SIZE,
            max_headers: limits::DEFAULT_MAX_HEADERS,
            record_request_heads: false,
            #[cfg(feature = "tls")]
            tls: None,
            h2c: false,
            http1_only: false,
            http1: Http1Settings::default(),
            #[cfg(feature = "http2")]
            http2: Http2Settings::default(),
        }
    }

    /// Speaks HTTP/1.1 only: TLS offers only `http/1.1` by ALPN and
    /// [`http2_prior_knowledge`](Builder::http2_prior_knowledge) is ignored (reqwest's
    /// `http1_only`).
    ///
    /// Default is `false`.
    pub fn http1_only(mut self, on: bool) -> Builder {
        self.http1_only = on;
        self
    }

    /// Writes HTTP/1.1 header names in title case (`Content-Type`) instead of as
    /// given, for peers that compare them case-sensitively, which RFC 9110 forbids.
    ///
    /// Default is `false`.
    pub fn http1_title_case_headers(mut self, on: bool) -> Builder {
        self.http1.title_case_headers = on;
        self
    }

    /// Accepts response header values folded over several lines (obsolete line
    /// folding, RFC 9112 §5.2), unfolded into one line. Off, such a head is an error.
    ///
    /// Default is `false`.
    pub fn http1_allow_obsolete_multiline_headers_in_responses(mut self, on: bool) -> Builder {
        self.http1.obsolete_multiline_headers = on;
        self
    }

    /// Skips response header lines that are not valid (a bad name or value) instead
    /// of failing the response.
    ///
    /// Default is `false`.
    pub fn http1_ignore_invalid_headers_in_responses(mut self, on: bool) -> Builder {
        self.http1.ignore_invalid_headers = on;
        self
    }

    /// Accepts spaces between a response header's name and its colon (`Name : value`),
    /// which RFC 9112 §5.1 forbids.
    ///
    /// Default is `false`.
    pub fn http1_allow_spaces_after_header_name_in_responses(mut self, on: bool) -> Builder {
        self.http1.spaces_after_header_name = on;
        self
    }

    /// Accepts an HTTP/0.9 response (a body with no status line or headers).
    ///
    /// Default is `false`.
    pub fn http09_responses(mut self, on: bool) -> Builder {
        self.http1.http09_responses = on;
        self
    }

    /// Sends an HTTP/2 PING every `interval` to keep a connection alive and find one
    /// that died silently; `None` sends none. A PING not answered within
    /// [`http2_keep_alive_timeout`](Builder::http2_keep_alive_timeout) closes the
    /// connection.
    ///
    /// Default is `None`.
    #[cfg(feature = "http2")]
    pub fn http2_keep_alive_interval(mut self, interval: impl Into<Option<Duration>>) -> Builder {
        self.http2.keep_alive_interval = interval.into();
        self
    }

    /// How long to wait for a keep-alive PING's answer before closing the connection.
    ///
    /// Default is 20 seconds (hyper's).
    #[cfg(feature = "http2")]
    pub fn http2_keep_alive_timeout(mut self, timeout: Duration) -> Builder {
        self.http2.keep_alive_timeout = timeout;
        self
    }

    /// Whether keep-alive PINGs are sent while no request is open on the connection.
    ///
    /// Default is `false`.
    #[cfg(feature = "http2")]
    pub fn http2_keep_alive_while_idle(mut self, on: bool) -> Builder {
        self.http2.keep_alive_while_idle = on;
        self
    }

    /// The HTTP/2 flow-control window of each stream (`SETTINGS_INITIAL_WINDOW_SIZE`);
    /// `None` keeps hyper's default (2 MiB).
    #[cfg(feature = "http2")]
    pub fn http2_initial_stream_window_size(mut self, bytes: impl Into<Option<u32>>) -> Builder {
        self.http2.initial_stream_window = bytes.into();
        self
    }

    /// The HTTP/2 flow-control window of the whole connection; `None` keeps hyper's
    /// default (5 MiB).
    #[cfg(feature = "http2")]
    pub fn http2_initial_connection_window_size(
        mut self,
        bytes: impl Into<Option<u32>>,
    ) -> Builder {
        self.http2.initial_connection_window = bytes.into();
        self
    }

    /// The largest HTTP/2 frame payload this side accepts (`SETTINGS_MAX_FRAME_SIZE`,
    /// 16 KiB to 16 MiB); `None` keeps hyper's default (16 KiB).
    #[cfg(feature = "http2")]
    pub fn http2_max_frame_size(mut self, bytes: impl Into<Option<u32>>) -> Builder {
        self.http2.max_frame_size = bytes.into();
        self
    }

    /// Sizes the HTTP/2 windows from the measured bandwidth-delay product (BDP),
    /// overriding the two window settings.
    ///
    /// Default is `false`.
    #[cfg(feature = "http2")]
    pub fn http2_adaptive_window(mut self, on: bool) -> Builder {
        self.http2.adaptive_window = on;
        self
    }

    /// How to set up TLS for `https://` URIs: a [`TlsConfig`](crate::tls::TlsConfig)
    /// for every host, or a [`TlsPolicy`](crate::tls::TlsPolicy) that chooses per
    /// host. Connections made under different configurations are never shared.
    ///
    /// Default is [`TlsConfig::new()`](crate::tls::TlsConfig::new): verification
    /// against the bundled web PKI roots, ALPN `h2` and `http/1.1`.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, policy: impl crate::tls::TlsPolicy) -> Builder {
        self.tls = Some(Arc::new(policy));
        self
    }

    /// Speaks HTTP/2 straight away on `http://` connections (h2c with prior
    /// knowledge, RFC 9113 §3.3), for servers known to support it.
    ///
    /// Default is `false`.
    #[cfg(feature = "http2")]
    pub fn http2_prior_knowledge(mut self, on: bool) -> Builder {
        self.h2c = on;
        self
    }

    /// Whether connections are kept for reuse (Twisted's `persistent`). When `false`,
    /// each request opens its own connection, sends `Connection: close`, and the
    /// connection is closed once the response is read.
    ///
    /// Default is `true`.
    pub fn persistent(mut self, on: bool) -> Builder {
        self.pool.persistent = on;
        self
    }

    /// How many idle connections to keep per host; beyond it the oldest is closed.
    ///
    /// Twisted and Go keep 2, which churns connections when more than two requests to
    /// one host overlap; set `max_idle_per_host(2)` for that behaviour. `0` keeps none.
    ///
    /// Default is 32.
    pub fn max_idle_per_host(mut self, n: usize) -> Builder {
        self.pool.max_idle_per_host = n;
        self
    }

    /// How long a connection may sit idle in the pool before it is closed; `None`
    /// keeps idle connections until the server closes them.
    ///
    /// Default is 90 seconds.
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Builder {
        self.pool.idle_timeout = timeout.into();
        self
    }

    /// The most connections open at once to one host; further requests wait, first
    /// come first served, for a connection to come free. A waiting request that is
    /// dropped leaves the queue. `None` sets no limit.
    ///
    /// Default is `None`.
    pub fn max_connections_per_host(mut self, n: impl Into<Option<usize>>) -> Builder {
        self.pool.max_connections_per_host = n.into();
        self
    }

    /// How long resolving the host and dialing it may take, every address the dialer
    /// tries (happy eyeballs) together; `None` waits as long as the dialer does. The
    /// proxy and TLS handshakes that follow have bounds of their own
    /// ([`proxy_handshake_timeout`](Builder::proxy_handshake_timeout),
    /// [`tls_handshake_timeout`](Builder::tls_handshake_timeout)). Failing it is an
    /// error that is both [`is_connect()`](crate::Error::is_connect) and
    /// [`is_timeout()`](crate::Error::is_timeout), whose cause names `connect_timeout`.
    ///
    /// Default is [30 seconds](DEFAULT_CONNECT_TIMEOUT), as Go's `DefaultTransport`.
    pub fn connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Builder {
        self.connect_timeout = timeout.into();
        self
    }

    /// How long each TLS handshake may take: with the origin, and with an `https://`
    /// proxy; `None` waits as long as the peer does. Failing it is an error that is
    /// both [`is_connect()`](crate::Error::is_connect) and
    /// [`is_timeout()`](crate::Error::is_timeout), whose cause names
    /// `tls_handshake_timeout`.
    ///
    /// Default is [10 seconds](DEFAULT_TLS_HANDSHAKE_TIMEOUT), as Go's
    /// `DefaultTransport`.
    pub fn tls_handshake_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Builder {
        self.tls_handshake_timeout = timeout.into();
        self
    }

    /// How long the handshake with a proxy may take once it is dialed: the `CONNECT`
    /// exchange of a tunnel, or the SOCKS5 greeting, authentication and connect
    /// request (with the local resolution of `socks5://`); `None` waits as long as the
    /// proxy does. Failing it is an error that is [`is_connect()`](crate::Error::is_connect),
    /// [`is_proxy()`](crate::Error::is_proxy) and [`is_timeout()`](crate::Error::is_timeout),
    /// whose cause names `proxy_handshake_timeout`.
    ///
    /// Default is [10 seconds](DEFAULT_PROXY_HANDSHAKE_TIMEOUT).
    pub fn proxy_handshake_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Builder {
        self.proxy_handshake_timeout = timeout.into();
        self
    }

    /// How long the wait for a response head may go without the connection moving a
    /// byte, once the request is handed to it; `None` waits as long as the server
    /// does. Every byte written (the request body uploading) or read (the head
    /// arriving) starts the wait again, so a slow upload is not cut. On an HTTP/2
    /// connection, bytes of other requests sharing it count too. Failing it is an
    /// error that is [`is_timeout()`](crate::Error::is_timeout) (not
    /// [`is_connect()`](crate::Error::is_connect)), whose cause names `read_timeout`;
    /// the connection is closed. The [`Client`](crate::Client) sets it from
    /// [`ClientBuilder::read_timeout`](crate::client::ClientBuilder::read_timeout), which also
    /// bounds each gap in the body.
    ///
    /// Default is `None`.
    pub fn read_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Builder {
        self.read_timeout = timeout.into();
        self
    }

    /// The largest response head accepted, in bytes, over HTTP/1.1 and HTTP/2 alike.
    ///
    /// Over HTTP/1.1 it bounds the status line and header lines as received, up to
    /// the blank line (and the trailers of a chunked body). Over HTTP/2 it is advertised to the server as
    /// `SETTINGS_MAX_HEADER_LIST_SIZE`, which counts each field's name and value plus
    /// 32 bytes. A larger head fails the request with a
    /// [`ResponseHeadTooLarge`] error naming the limit.
    ///
    /// Default is 256 KiB (262,144 bytes), Chromium's limit.
    pub fn max_header_size(mut self, bytes: usize) -> Builder {
        self.max_header_size = bytes;
        self
    }

    /// The most header fields accepted in an HTTP/1.1 response (HTTP/2 bounds a head
    /// by [`max_header_size`](Builder::max_header_size) alone). More fails the request
    /// with a [`ResponseHeadTooLarge`] error.
    ///
    /// Default is 1,000 (hyper's own default is 100, fewer than some servers send).
    pub fn max_headers(mut self, n: usize) -> Builder {
        self.max_headers = n;
        self
    }

    /// Whether each response carries the [`RequestHead`] as the connector handed it
    /// to the connection, for tools that show what was sent (`-v`). It costs a copy
    /// of the request's headers per request.
    ///
    /// Default is `false`.
    pub fn record_request_heads(mut self, on: bool) -> Builder {
        self.record_request_heads = on;
        self
    }

    /// Builds a connector that dials TCP with a default [`TcpDialer`].
    pub fn build(self) -> Connector {
        self.build_with_dialer(TcpDialer::new())
    }

    /// Builds a connector that opens connections with `dialer` (Twisted's
    /// `Agent.usingEndpointFactory`).
    pub fn build_with_dialer<D: Dial>(self, dialer: D) -> Connector<D> {
        let head_limits = limits::HeadLimits {
            bytes: self.max_header_size,
            fields: self.max_headers,
        };
        let mut http1 = hyper::client::conn::http1::Builder::new();
        head_limits.configure_http1(&mut http1);
        self.http1.configure(&mut http1);
        Connector {
            shared: Arc::new(Shared {
                dialer,
                pool: Pool::new(self.pool),
                connect_timeout: self.connect_timeout,
                tls_handshake_timeout: self.tls_handshake_timeout,
                proxy_handshake_timeout: self.proxy_handshake_timeout,
                read_timeout: self.read_timeout,
                http1,
                head_limits,
                record_request_heads: self.record_request_heads,
                #[cfg(feature = "tls")]
                tls: self
                    .tls
                    .unwrap_or_else(|| Arc::new(crate::tls::TlsConfig::new())),
                h2c: self.h2c && !self.http1_only,
                http1_only: self.http1_only,
                #[cfg(feature = "http2")]
                http2: self.http2,
                next_id: AtomicU64::new(0),
            }),
        }
    }
}
