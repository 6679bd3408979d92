//! One exchange on a checked-out connection: waiting for a connection from the pool,
//! handing the request to hyper within the read timeout, sorting a failure into the
//! error the caller sees, and the response's extensions.

#[cfg(feature = "tls")]
use super::open::origin;
use super::*;

impl<D: Dial> Shared<D> {
    /// Sends a prepared request: a connection from the pool (or a new one), the
    /// request handed to it, the response head with its extensions.
    pub(super) async fn send<B>(
        self: Arc<Self>,
        prepared: Prepared<B>,
    ) -> Result<Response<ResponseBody>, Error>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Into<Bytes>,
        B::Error: Into<BoxError>,
    {
        let (conn, reused) = self.checkout(&prepared.key, prepared.fresh).await?;
        let meta = conn.meta.clone();
        let mut pooled = self.pool.in_use(conn, prepared.key.clone());
        let (read_before, written_before) = meta.counters.snapshot();
        let h2 = pooled.conn_mut().is_some_and(|c| c.tx.is_h2());
        let Prepared {
            wire,
            uri,
            key,
            host_added,
            connection_added,
            proxy_auth,
            is_head,
            ..
        } = prepared;
        let request_head = self.record_request_heads.then(|| RequestHead::of(&wire));
        let Some(tx) = pooled.conn_mut().map(|c| &mut c.tx) else {
            return Err(Error::new(
                Kind::Request,
                Some(Box::new(Message("connection lost"))),
            ));
        };
        #[cfg(feature = "http2")]
        let wire = if h2 {
            for_h2(wire, &key, host_added, connection_added)
        } else {
            wire
        };
        let sent = match head_within(tx.send(wire), &meta.counters, self.read_timeout).await {
            Some(sent) => sent,
            None => {
                // The exchange is abandoned: dropping it closes an HTTP/1.1 connection.
                drop(pooled);
                debug!(
                    target: "towline::connect",
                    id = meta.id,
                    "no response head within the read timeout"
                );
                return Err(read_timed_out(self.read_timeout.unwrap_or_default()));
            }
        };
        let response = match sent {
            Ok(response) => response,
            Err(mut err) => {
                drop(pooled);
                let unsent = err.take_message().and_then(|wire| {
                    Prepared::<B>::restore(wire, uri, host_added, connection_added, proxy_auth)
                });
                let (read_after, written_after) = meta.counters.snapshot();
                let err = match self.head_limits.exceeded_by(err.into_error(), h2) {
                    Ok(too_large) => Error::new(Kind::Response, Some(Box::new(too_large))),
                    Err(err) => Failed {
                        key: &key,
                        h2,
                        reused,
                        written: written_after > written_before,
                        response_started: read_after > read_before,
                    }
                    .classify(err, unsent),
                };
                return Err(err);
            }
        };
        let head = Head {
            uri,
            reused,
            is_head,
            request_head,
        };
        Ok(head.into_response(response, &meta, pooled))
    }

    /// A connection for `key`: an idle one from the pool that is still open, a share of
    /// an HTTP/2 one, or a new one once the pool allows it. `true` with a reused one.
    async fn checkout(&self, key: &Key, fresh: bool) -> Result<(Conn, bool), Error> {
        let may_h2 = self.may_h2(key);
        loop {
            let handoff = match self.pool.checkout(key, fresh, may_h2) {
                Checkout::Reused(conn) => Handoff::Conn(conn),
                Checkout::Dial(slot) => Handoff::Slot(slot),
                Checkout::AwaitProbe(rx) => {
                    // Woken when the connection being opened is known to be HTTP/2
                    // (then shared) or not; either way, check out again.
                    let _ = rx.await;
                    continue;
                }
                Checkout::Wait(rx) => rx.await.map_err(|_| {
                    Error::new(
                        Kind::Connect,
                        Some(Box::new(Message("the connection pool shut down"))),
                    )
                })?,
            };
            match handoff {
                Handoff::Conn(mut conn) => {
                    if conn.ready_soon().await {
                        debug!(
                            target: "towline::connect",
                            id = conn.meta.id,
                            protocol = conn.protocol(),
                            origin = %KeyOrigin(key),
                            "pooled connection reused"
                        );
                        return Ok((conn, true));
                    }
                    // Closed or still busy: drop it and check out again.
                    debug!(
                        target: "towline::connect",
                        id = conn.meta.id,
                        "pooled connection discarded: closed, or still busy after its last exchange"
                    );
                }
                Handoff::Slot(slot) => return Ok((self.open(key, slot).await?, false)),
            }
        }
    }
}

/// `wire` for an HTTP/2 connection, which carries the target in pseudo-headers: the
/// absolute URI (without userinfo) instead of origin-form, and no `Host` or
/// `Connection` the connector added.
#[cfg(feature = "http2")]
fn for_h2(
    mut wire: Request<Outgoing>,
    key: &Key,
    host_added: bool,
    connection_added: bool,
) -> Request<Outgoing> {
    let path = wire.uri().path_and_query().cloned();
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(key.scheme.clone());
    parts.authority = Some(key.authority.clone());
    parts.path_and_query = path;
    if let Ok(absolute) = Uri::from_parts(parts) {
        *wire.uri_mut() = absolute;
    }
    if host_added {
        wire.headers_mut().remove(HOST);
    }
    if connection_added {
        wire.headers_mut().remove(CONNECTION);
    }
    wire
}

/// The error when no response head came within `limit` of the connection's last byte.
fn read_timed_out(limit: Duration) -> Error {
    let timed_out = TimedOut::after("waiting for the response head (read_timeout)", limit);
    Error::new(Kind::Timeout, Some(Box::new(timed_out)))
}

/// What the response head is told about its request.
struct Head {
    uri: Uri,
    reused: bool,
    is_head: bool,
    request_head: Option<RequestHead>,
}

impl Head {
    /// The response with its extensions ([`EffectiveUri`], [`ConnectionInfo`],
    /// [`Framing`], and the [`RequestHead`] when recorded) and a body that gives the
    /// connection back to the pool once read to its end.
    fn into_response(
        self,
        response: Response<hyper::body::Incoming>,
        meta: &Meta,
        pooled: Pooled,
    ) -> Response<ResponseBody> {
        let (mut parts, incoming) = response.into_parts();
        let framing = framing(self.is_head, parts.status, parts.version, &parts.headers);
        let expected = match framing {
            Framing::Length(n) => Some(n),
            _ => None,
        };
        parts.extensions.insert(EffectiveUri(self.uri));
        parts.extensions.insert(ConnectionInfo {
            reused: self.reused,
            local_addr: meta.connected.local_addr,
            peer_addr: meta.connected.peer_addr,
            version: parts.version,
            alpn_protocol: meta.alpn.clone(),
            #[cfg(feature = "tls")]
            tls_version: meta.tls_version,
            #[cfg(feature = "tls")]
            peer_certificates: meta.peer_certificates.clone(),
        });
        parts.extensions.insert(framing);
        if let Some(head) = self.request_head {
            parts.extensions.insert(head);
        }
        // A response framed two ways (RFC 9112 §6.3: Transfer-Encoding and
        // Content-Length) may have been read to a different end than the server meant:
        // whatever follows on that connection cannot be trusted, so it is not reused.
        let ambiguous = parts.headers.contains_key(http::header::TRANSFER_ENCODING)
            && parts.headers.contains_key(CONTENT_LENGTH);
        // After `101 Switching Protocols` the connection speaks another protocol.
        let switched = parts.status == http::StatusCode::SWITCHING_PROTOCOLS;
        trace!(
            target: "towline::connect",
            id = meta.id,
            status = parts.status.as_u16(),
            version = ?parts.version,
            framing = ?framing,
            "response head received"
        );
        let body = ResponseBody::new(incoming, pooled, expected, !ambiguous && !switched);
        Response::from_parts(parts, body)
    }
}

/// Waits for `head` (hyper's future of a response head) until `limit` passes without a
/// byte moving on the connection, counting from now at the earliest; `None` then.
async fn head_within<F: Future>(
    head: F,
    counters: &io::Counters,
    limit: Option<Duration>,
) -> Option<F::Output> {
    let Some(limit) = limit else {
        return Some(head.await);
    };
    let dispatched = tokio::time::Instant::now();
    let mut head = std::pin::pin!(head);
    loop {
        let deadline = counters.last_active().max(dispatched) + limit;
        if let Ok(out) = tokio::time::timeout_at(deadline, head.as_mut()).await {
            return Some(out);
        }
        // Bytes moved while the timer ran: wait `limit` from the last of them.
        if counters.last_active().max(dispatched) + limit <= tokio::time::Instant::now() {
            return None;
        }
    }
}

impl Tx {
    /// Whether the connection speaks HTTP/2.
    fn is_h2(&self) -> bool {
        #[cfg(feature = "http2")]
        return matches!(self, Tx::H2(_));
        #[cfg(not(feature = "http2"))]
        return false;
    }

    /// Hands a request to the connection; hyper gives it back unsent in the error when
    /// it could not write it.
    async fn send(
        &mut self,
        wire: Request<Outgoing>,
    ) -> Result<Response<hyper::body::Incoming>, hyper::client::conn::TrySendError<Request<Outgoing>>>
    {
        match self {
            Tx::H1(tx) => tx.try_send_request(wire).await,
            #[cfg(feature = "http2")]
            Tx::H2(tx) => tx.try_send_request(wire).await,
        }
    }
}

/// What is known of a failed exchange, to sort its error.
struct Failed<'a> {
    key: &'a Key,
    /// Whether the connection speaks HTTP/2.
    h2: bool,
    /// Whether the connection came from the pool.
    reused: bool,
    /// Whether bytes were written during the exchange.
    written: bool,
    /// Whether bytes of a response arrived.
    response_started: bool,
}

impl Failed<'_> {
    /// Sorts the failure into the error the caller sees, with the request when hyper
    /// handed it back unsent.
    fn classify<B: Send + 'static>(&self, err: hyper::Error, unsent: Option<Request<B>>) -> Error {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        let mut body_failed = false;
        #[cfg(feature = "tls")]
        let mut tls_failure = None;
        #[cfg(feature = "http2")]
        let mut refused = false;
        while let Some(e) = source {
            if e.is::<LengthMismatch>() || e.is::<RequestBodyError>() {
                body_failed = true;
            }
            #[cfg(feature = "tls")]
            if let Some(tls) = e.downcast_ref::<rustls::Error>().or_else(|| {
                // `io::Error::source()` skips the error it wraps: look inside.
                e.downcast_ref::<std::io::Error>()
                    .and_then(crate::tls::rustls_error_of)
            }) {
                tls_failure = Some(tls.clone());
            }
            #[cfg(feature = "http2")]
            if let Some(h2) = e.downcast_ref::<h2::Error>() {
                refused |= rejected_unprocessed(h2);
            }
            source = e.source();
        }
        if body_failed {
            return Error::new(Kind::Body, Some(Box::new(err)));
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = tls_failure {
            // A TLS 1.3 server checks a client certificate after the client's handshake
            // completed, so its refusal arrives here, with the first request.
            let host = origin(self.key);
            return crate::tls::tls_error(crate::tls::TlsError::handshake(host.host(), tls));
        }
        #[cfg(not(feature = "tls"))]
        let _ = self.key;
        #[cfg(not(feature = "http2"))]
        let _ = self.h2;
        if err.is_parse() || err.is_parse_status() {
            return Error::new(Kind::Response, Some(Box::new(err)));
        }
        // HTTP/2: a request hyper handed back was never written, and one the server
        // rejected (REFUSED_STREAM, or above its GOAWAY's last stream id) was not
        // processed. Either is safe to send again, whatever its method, and whether the
        // connection was new or reused: the server provably did nothing with it.
        #[cfg(feature = "http2")]
        if refused || (self.h2 && unsent.is_some()) {
            let unsent = unsent.map(|r| Box::new(r) as Box<dyn std::any::Any + Send>);
            let stale = StaleConnection::new(false, false)
                .with_unsent_any(unsent)
                .with_source(err);
            return Error::new(Kind::Request, Some(Box::new(stale)));
        }
        if self.reused {
            let written = self.written && unsent.is_none();
            let unsent = unsent.map(|r| Box::new(r) as Box<dyn std::any::Any + Send>);
            let stale = StaleConnection::new(written, self.response_started)
                .with_unsent_any(unsent)
                .with_source(err);
            return Error::new(Kind::Request, Some(Box::new(stale)));
        }
        Error::new(Kind::Request, Some(Box::new(err)))
    }
}

/// Whether `h2` says the server rejected the stream without processing it, so that
/// sending the request again is safe whatever its method (RFC 9113 §8.7): the server
/// reset it with `REFUSED_STREAM`, or its id is above the last stream id of a GOAWAY
/// the server sent.
///
/// Only an error the *peer* raised counts. When h2 itself detects a protocol error
/// (a malformed frame, a flow-control or header-compression violation), it sends its
/// own GOAWAY and fails every open stream with a library-initiated GOAWAY error, but
/// the server may have processed any of those streams already.
#[cfg(feature = "http2")]
fn rejected_unprocessed(h2: &h2::Error) -> bool {
    h2.is_remote() && (h2.is_go_away() || h2.reason() == Some(h2::Reason::REFUSED_STREAM))
}

/// How the response body is delimited, by the rules hyper applies (RFC 9112 §6.3).
fn framing(
    is_head: bool,
    status: http::StatusCode,
    version: http::Version,
    headers: &http::HeaderMap,
) -> Framing {
    if is_head
        || status.is_informational()
        || status == http::StatusCode::NO_CONTENT
        || status == http::StatusCode::NOT_MODIFIED
    {
        return Framing::Length(0);
    }
    let chunked = headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
    if chunked {
        return Framing::Chunked;
    }
    if headers.contains_key(http::header::TRANSFER_ENCODING) {
        return Framing::CloseDelimited;
    }
    match headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        Some(n) => Framing::Length(n),
        None if version == http::Version::HTTP_2 => Framing::EndStream,
        None => Framing::CloseDelimited,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_follows_the_headers() {
        let mut h = http::HeaderMap::new();
        assert_eq!(
            framing(false, http::StatusCode::OK, http::Version::HTTP_11, &h),
            Framing::CloseDelimited
        );
        assert_eq!(
            framing(true, http::StatusCode::OK, http::Version::HTTP_11, &h),
            Framing::Length(0)
        );
        assert_eq!(
            framing(
                false,
                http::StatusCode::NO_CONTENT,
                http::Version::HTTP_11,
                &h
            ),
            Framing::Length(0)
        );
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("12"));
        assert_eq!(
            framing(false, http::StatusCode::OK, http::Version::HTTP_11, &h),
            Framing::Length(12)
        );
        h.insert(
            http::header::TRANSFER_ENCODING,
            HeaderValue::from_static("gzip, chunked"),
        );
        assert_eq!(
            framing(false, http::StatusCode::OK, http::Version::HTTP_11, &h),
            Framing::Chunked
        );
    }

    #[cfg(feature = "http2")]
    #[test]
    fn only_a_peers_rejection_marks_an_h2_stream_unprocessed() {
        // h2 makes remote-initiated errors only from frames it reads (see tests/h2.rs
        // for REFUSED_STREAM and GOAWAY from a server); an error raised on this side
        // carries the same reason but must not count.
        let local: h2::Error = h2::Reason::REFUSED_STREAM.into();
        assert!(!local.is_remote());
        assert!(!rejected_unprocessed(&local));
        let local: h2::Error = h2::Reason::NO_ERROR.into();
        assert!(!rejected_unprocessed(&local));
    }
}
