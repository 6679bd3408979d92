//! Opening a connection: dialing within the connect timeout, the proxy handshake,
//! TLS, and the HTTP/1.1 or HTTP/2 handshake.

use super::*;

impl<D: Dial> Shared<D> {
    /// Whether a new connection for `key` could speak HTTP/2.
    pub(super) fn may_h2(&self, key: &Key) -> bool {
        if !cfg!(feature = "http2") || self.http1_only || !self.pool.config().persistent {
            return false;
        }
        if matches!(key.route, Route::HttpProxy(_)) {
            // Requests for an HTTP proxy go to it over HTTP/1.1, in absolute form.
            return false;
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = &key.tls {
            return tls.0.alpn_protocols.iter().any(|p| p == b"h2");
        }
        self.h2c && key.tls.is_none()
    }

    /// Dials, secures and handshakes a new connection under `slot` (the dial within the
    /// connect timeout, each handshake within its own), and starts the task that
    /// drives it.
    pub(super) async fn open(&self, key: &Key, mut slot: Slot) -> Result<Conn, Error> {
        #[cfg(feature = "tracing")]
        let started = std::time::Instant::now();
        let opened = async {
            let (io, meta) = self.establish(key).await?;
            self.handshake(key, io, meta).await
        }
        .await;
        #[cfg(feature = "tracing")]
        if let Err(err) = &opened {
            debug!(
                target: "towline::connect",
                origin = %KeyOrigin(key),
                route = %RouteLabel(&key.route),
                error = %err.report(),
                elapsed = ?started.elapsed(),
                "opening a connection failed"
            );
        }
        let (conn, task) = opened?;
        self.pool.count_opened();
        slot.opened();
        debug!(
            target: "towline::connect",
            id = conn.meta.id,
            protocol = conn.protocol(),
            origin = %KeyOrigin(key),
            elapsed = ?started.elapsed(),
            "connection open"
        );
        #[cfg(feature = "http2")]
        let shared = matches!(conn.tx, Tx::H2(_)).then_some(&conn);
        #[cfg(not(feature = "http2"))]
        let shared = None;
        self.pool.probe_done(&mut slot, shared);
        #[cfg(feature = "http2")]
        let closed = matches!(conn.tx, Tx::H2(_))
            .then(|| (conn.meta.id, self.pool.downgrade(), key.clone()));
        tokio::spawn(async move {
            // The connection lives until the server or hyper closes it, or every
            // handle to it is dropped; the slot goes with it.
            task.await;
            #[cfg(feature = "http2")]
            if let Some((id, pool, key)) = closed {
                if let Some(pool) = pool.upgrade() {
                    pool.h2_closed(&key, id);
                }
            }
            drop(slot);
        });
        Ok(conn)
    }

    /// A stream to the origin: dialed within the connect timeout, through the route's
    /// proxy, in TLS when the key asks for it.
    async fn establish(
        &self,
        key: &Key,
    ) -> Result<(io::MaybeTls<io::MaybeTls<D::Io>>, Meta), Error> {
        #[cfg(feature = "tracing")]
        let started = std::time::Instant::now();
        let mut dialer = self.dialer.clone();
        std::future::poll_fn(|cx| dialer.poll_ready(cx))
            .await
            .map_err(|e| Error::from_boxed(e.into(), Kind::Connect))?;
        let dialing = async {
            dialer
                .dial(dial_target(key))
                .await
                .map_err(|e| dial_failed(key, e.into()))
        };
        let io = within(self.connect_timeout, dialing, |limit| {
            connect_timed_out("connecting (connect_timeout)", limit)
        })
        .await?;
        let connected = io.connected();
        debug!(
            target: "towline::connect",
            destination = %dial_target(key),
            route = %RouteLabel(&key.route),
            peer = connected.peer_addr.map(tracing::field::display),
            elapsed = ?started.elapsed(),
            "connection dialed"
        );
        let io = self.through_proxy(key, io).await?;
        self.secure(key, io, connected).await
    }

    /// The HTTP handshake on an established stream: HTTP/2 when TLS chose `h2` or for
    /// h2c, HTTP/1.1 otherwise. The connection and the task that drives it.
    async fn handshake(
        &self,
        key: &Key,
        io: io::MaybeTls<io::MaybeTls<D::Io>>,
        mut meta: Meta,
    ) -> Result<(Conn, Pin<Box<dyn Future<Output = ()> + Send>>), Error> {
        meta.id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let counters = meta.counters.clone();
        let meta = Arc::new(meta);
        let io = TokioIo::new(io::Counted::new(io, counters));
        let failed = |e: hyper::Error| Error::new(Kind::Connect, Some(Box::new(e)));
        #[cfg(feature = "http2")]
        if self.may_h2(key) && (meta.alpn.as_deref() == Some(b"h2") || key.tls.is_none()) {
            let mut http2 =
                hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new());
            http2.max_header_list_size(self.head_limits.http2_bytes());
            self.http2.configure(&mut http2);
            let (tx, conn) = http2.handshake::<_, Outgoing>(io).await.map_err(failed)?;
            let task = Box::pin(async move {
                let _ = conn.await;
            });
            return Ok((
                Conn {
                    tx: Tx::H2(tx),
                    meta,
                },
                task,
            ));
        }
        let _ = key;
        let (tx, conn) = self
            .http1
            .handshake::<_, Outgoing>(io)
            .await
            .map_err(failed)?;
        // With upgrades: after a `101 Switching Protocols` the connection's stream goes
        // to whoever holds the response (`hyper::upgrade::on`), never back to the pool.
        let task = Box::pin(async move {
            let _ = conn.with_upgrades().await;
        });
        Ok((
            Conn {
                tx: Tx::H1(tx),
                meta,
            },
            task,
        ))
    }

    /// Carries out the key's route on a dialed stream: TLS to an `https://` proxy,
    /// then the `CONNECT` or SOCKS5 handshake. The stream then leads to the origin (or,
    /// for [`Route::HttpProxy`], to the proxy that forwards the requests).
    async fn through_proxy(&self, key: &Key, io: D::Io) -> Result<io::MaybeTls<D::Io>, Error> {
        let handshake_failed = |err: ProxyError| Error::new(Kind::Proxy, Some(Box::new(err)));
        match &key.route {
            Route::Direct => Ok(io::MaybeTls::Plain(io)),
            Route::HttpProxy(endpoint) => self.secure_proxy(key, endpoint, io).await,
            Route::Tunnel(endpoint) => {
                let mut io = self.secure_proxy(key, endpoint, io).await?;
                let origin = origin(key);
                let handshake = async {
                    tunnel::connect(&mut io, endpoint, origin.host(), origin.port())
                        .await
                        .map_err(handshake_failed)
                };
                within(self.proxy_handshake_timeout, handshake, |limit| {
                    proxy_timed_out(endpoint, &origin, limit)
                })
                .await?;
                Ok(io)
            }
            Route::Socks5 {
                endpoint,
                remote_dns,
            } => {
                let mut io = io;
                let origin = origin(key);
                let handshake = async {
                    let target = socks::target(origin.host(), origin.port(), *remote_dns)
                        .await
                        .map_err(|e| {
                            let err = DialError::resolve(&origin, e);
                            Error::new(Kind::Connect, Some(Box::new(err)))
                        })?;
                    socks::connect(&mut io, endpoint, target)
                        .await
                        .map_err(handshake_failed)
                };
                within(self.proxy_handshake_timeout, handshake, |limit| {
                    proxy_timed_out(endpoint, &origin, limit)
                })
                .await?;
                Ok(io::MaybeTls::Plain(io))
            }
        }
    }

    /// TLS to the proxy itself when it is an `https://` one, offering only HTTP/1.1.
    async fn secure_proxy(
        &self,
        key: &Key,
        endpoint: &ProxyEndpoint,
        io: D::Io,
    ) -> Result<io::MaybeTls<D::Io>, Error> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &key.proxy_tls {
            let handshake = tls_handshake(only_http1(&tls.0), endpoint.host(), io);
            let stream = within(self.tls_handshake_timeout, handshake, |limit| {
                connect_timed_out(
                    "the TLS handshake with the proxy (tls_handshake_timeout)",
                    limit,
                )
            })
            .await?;
            trace!(
                target: "towline::connect",
                proxy = %endpoint,
                tls_version = stream.get_ref().1.protocol_version().map(tracing::field::debug),
                "TLS with the proxy established"
            );
            return Ok(io::MaybeTls::Tls(Box::new(stream)));
        }
        let _ = (key, endpoint);
        Ok(io::MaybeTls::Plain(io))
    }

    /// Wraps a stream to the origin in TLS when the key asks for it.
    async fn secure(
        &self,
        key: &Key,
        io: io::MaybeTls<D::Io>,
        connected: Connected,
    ) -> Result<(io::MaybeTls<io::MaybeTls<D::Io>>, Meta), Error> {
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut meta = Meta {
            id: 0,
            connected,
            counters: Arc::new(io::Counters::default()),
            alpn: None,
            #[cfg(feature = "tls")]
            tls_version: None,
            #[cfg(feature = "tls")]
            peer_certificates: None,
        };
        #[cfg(feature = "tls")]
        if let Some(tls) = &key.tls {
            let origin = origin(key);
            let config = if self.http1_only {
                only_http1(&tls.0)
            } else {
                tls.0.clone()
            };
            let handshake = tls_handshake(config, origin.host(), io);
            let stream = within(self.tls_handshake_timeout, handshake, |limit| {
                connect_timed_out("the TLS handshake (tls_handshake_timeout)", limit)
            })
            .await?;
            let (_, session) = stream.get_ref();
            meta.alpn = session.alpn_protocol().map(Bytes::copy_from_slice);
            meta.tls_version = session.protocol_version();
            meta.peer_certificates = session
                .peer_certificates()
                .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect());
            debug!(
                target: "towline::connect",
                server_name = origin.host(),
                tls_version = meta.tls_version.map(tracing::field::debug),
                alpn = meta.alpn.as_deref().and_then(|p| std::str::from_utf8(p).ok()),
                "TLS established"
            );
            return Ok((io::MaybeTls::Tls(Box::new(stream)), meta));
        }
        let _ = key;
        Ok((io::MaybeTls::Plain(io), meta))
    }
}

/// Runs `future` within `limit`, if there is one; `timed_out` makes the error.
async fn within<F, T>(
    limit: Option<Duration>,
    future: F,
    timed_out: impl FnOnce(Duration) -> Error,
) -> Result<T, Error>
where
    F: Future<Output = Result<T, Error>>,
{
    match limit {
        Some(limit) => tokio::time::timeout(limit, future)
            .await
            .unwrap_or_else(|_| Err(timed_out(limit))),
        None => future.await,
    }
}

/// The error of a connect or TLS handshake bound: `is_connect()` and `is_timeout()`.
fn connect_timed_out(what: &'static str, limit: Duration) -> Error {
    Error::new(Kind::Connect, Some(Box::new(TimedOut::after(what, limit))))
}

/// `config` offering only `http/1.1` by ALPN (a copy, when it offers more).
#[cfg(feature = "tls")]
fn only_http1(config: &Arc<rustls::ClientConfig>) -> Arc<rustls::ClientConfig> {
    if config.alpn_protocols == [b"http/1.1".to_vec()] {
        return config.clone();
    }
    let mut only_h1 = (**config).clone();
    only_h1.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(only_h1)
}

/// A TLS handshake with `host` (its name or IP address) on `io`, verified by `config`.
#[cfg(feature = "tls")]
async fn tls_handshake<I>(
    config: Arc<rustls::ClientConfig>,
    host: &str,
    io: I,
) -> Result<tokio_rustls::client::TlsStream<I>, Error>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| Error::invalid_request("the host is not a valid TLS server name"))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, io)
        .await
        .map_err(|e| match crate::tls::rustls_error_of(&e) {
            Some(err) => crate::tls::tls_error(crate::tls::TlsError::handshake(host, err.clone())),
            None => Error::new(Kind::Connect, Some(Box::new(e))),
        })
}

/// The error of the proxy handshake bound: `is_connect()`, `is_proxy()`, `is_timeout()`.
fn proxy_timed_out(endpoint: &ProxyEndpoint, origin: impl fmt::Display, limit: Duration) -> Error {
    let timed_out = TimedOut::after("the proxy handshake (proxy_handshake_timeout)", limit);
    let err = ProxyError::new(endpoint, origin, ProxyErrorKind::TimedOut).with_source(timed_out);
    Error::new(Kind::Connect, Some(Box::new(err)))
}

/// The error for a failed dial: a proxy that cannot be reached says so.
fn dial_failed(key: &Key, err: BoxError) -> Error {
    match key.route.endpoint() {
        None => Error::from_boxed(err, Kind::Connect),
        Some(endpoint) => {
            let err = ProxyError::new(endpoint, origin(key), ProxyErrorKind::Unreachable)
                .with_source(err);
            Error::new(Kind::Connect, Some(Box::new(err)))
        }
    }
}

/// The origin of a request: scheme, host and port of its URI.
pub(super) fn origin(key: &Key) -> Destination {
    let host = key.authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port = key
        .authority
        .port_u16()
        .unwrap_or_else(|| default_port(&key.scheme));
    Destination::new(key.scheme.clone(), host, port)
}

/// What the dialer connects to: the origin, or the proxy of the route, with the proxy
/// URI's scheme (`http`, `https`, `socks5`, `socks5h`).
pub(super) fn dial_target(key: &Key) -> Destination {
    let (endpoint, scheme) = match &key.route {
        Route::Direct => return origin(key),
        Route::HttpProxy(endpoint) | Route::Tunnel(endpoint) => (
            endpoint,
            if endpoint.is_tls() {
                Scheme::HTTPS
            } else {
                Scheme::HTTP
            },
        ),
        Route::Socks5 {
            endpoint,
            remote_dns,
        } => {
            let name = if *remote_dns { "socks5h" } else { "socks5" };
            (endpoint, name.parse().unwrap_or(Scheme::HTTP))
        }
    };
    Destination::new(scheme, endpoint.host(), endpoint.port())
}
