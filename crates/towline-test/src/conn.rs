//! The accept loop, per-connection setup (TLS, protocol choice) and the raw
//! HTTP/1.1 handling.

use std::any::Any;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::reply::{After, Fault, Reply};
use crate::request::RecordedRequest;
use crate::stream::Stream;

/// Largest accepted request head, in bytes.
const MAX_HEAD: usize = 64 * 1024;
/// Largest number of request headers.
const MAX_HEADERS: usize = 100;
/// Largest chunk-size line (with extensions) accepted in a chunked body.
const MAX_CHUNK_LINE: usize = 4096;
/// Longest a TLS handshake may take.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) type Handler = Arc<dyn Fn(&RecordedRequest) -> Reply + Send + Sync + 'static>;

/// Server settings shared by all connections.
pub(crate) struct Config {
    pub(crate) handler: Handler,
    pub(crate) close_after: Option<usize>,
    pub(crate) idle_close: Option<Duration>,
    pub(crate) close_reused_without_answer: bool,
    /// Answer requests that announce a body as soon as their head arrives.
    pub(crate) answer_before_body: bool,
    /// Keep connections open even when a request asks to close them.
    pub(crate) ignore_connection_close: bool,
    /// Serve TLS with this configuration; HTTP/2 when ALPN picks `h2`.
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// Serve every (plain) connection with HTTP/2, prior knowledge.
    pub(crate) h2c: bool,
}

/// State observed by the tests.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) accepted: AtomicUsize,
    pub(crate) closed: AtomicUsize,
    pub(crate) closed_by_client: AtomicUsize,
    pub(crate) incomplete: AtomicUsize,
    pub(crate) tls_failures: AtomicUsize,
    /// The client's address of each connection, by connection id.
    peers: Mutex<Vec<SocketAddr>>,
    requests: Mutex<Vec<RecordedRequest>>,
    panics: Mutex<Vec<String>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.requests).clone()
    }

    pub(crate) fn request_count(&self) -> usize {
        lock(&self.requests).len()
    }

    /// The client's address of connection `id`.
    pub(crate) fn peer(&self, id: usize) -> Option<SocketAddr> {
        lock(&self.peers).get(id).copied()
    }

    pub(crate) fn push_request(&self, request: RecordedRequest) {
        lock(&self.requests).push(request);
    }

    pub(crate) fn record_panic(&self, message: String) {
        lock(&self.panics).push(message);
    }

    /// Removes and returns the recorded handler panic messages.
    pub(crate) fn take_panics(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.panics))
    }
}

/// Counts the end of a connection exactly once, even if the task is aborted.
pub(crate) struct CloseGuard {
    pub(crate) shared: Arc<Shared>,
    counted: bool,
}

impl CloseGuard {
    pub(crate) fn finish(&mut self, by_client: bool) {
        if !self.counted {
            self.counted = true;
            if by_client {
                self.shared.closed_by_client.fetch_add(1, Ordering::SeqCst);
            }
            self.shared.closed.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Drop for CloseGuard {
    fn drop(&mut self) {
        self.finish(false);
    }
}

/// Accepts connections forever; dropping this future (by aborting its task)
/// drops the listener and aborts every connection task.
pub(crate) async fn accept_loop(listener: TcpListener, config: Arc<Config>, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    let mut next_id = 0usize;
    loop {
        tokio::select! {
            Some(joined) = connections.join_next(), if !connections.is_empty() => {
                // A panic here is a bug in this crate; surface it like a handler panic.
                if let Err(error) = joined {
                    if error.is_panic() {
                        let message = panic_message(&*error.into_panic());
                        shared.record_panic(format!("connection task panicked: {message}"));
                    }
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let id = next_id;
                    next_id += 1;
                    // Ids are given in order, so the list's index is the id.
                    lock(&shared.peers).push(peer);
                    shared.accepted.fetch_add(1, Ordering::SeqCst);
                    let guard = CloseGuard { shared: Arc::clone(&shared), counted: false };
                    connections.spawn(connection(stream, id, Arc::clone(&config), guard));
                }
                // Typically out of file descriptors; back off a little.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
        }
    }
}

/// Sets up one accepted connection (TLS handshake, choice of protocol) and
/// serves it until it ends.
async fn connection(tcp: TcpStream, id: usize, config: Arc<Config>, mut guard: CloseGuard) {
    let _ = tcp.set_nodelay(true);
    let stream = match &config.tls {
        None => Stream::Plain(tcp),
        Some(tls) => {
            let acceptor = TlsAcceptor::from(Arc::clone(tls));
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => Stream::Tls(Box::new(tls)),
                Ok(Err(_)) | Err(_) => {
                    // Counted before the close, so that a test seeing the close
                    // also sees the failure.
                    guard.shared.tls_failures.fetch_add(1, Ordering::SeqCst);
                    return guard.finish(false);
                }
            }
        }
    };
    if config.h2c || stream.alpn_is_h2() {
        crate::h2::serve(stream, id, &config, guard).await;
    } else {
        serve(stream, id, config, guard).await;
    }
}

/// Why reading a request failed.
#[derive(Debug)]
enum ReadError {
    /// EOF or a read error: the client went away.
    Closed,
    /// The request could not be parsed.
    Malformed,
    /// `idle_close` expired while waiting for a request.
    Idle,
}

/// A parsed request head.
#[derive(Debug)]
struct Head {
    method: String,
    target: String,
    version: u8,
    headers: Vec<(String, Vec<u8>)>,
}

impl Head {
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Comma-separated tokens of all `name` headers, trimmed and lowercased.
    fn tokens(&self, name: &str) -> Vec<String> {
        self.values(name)
            .flat_map(|v| v.split(|&b| b == b','))
            .map(|t| String::from_utf8_lossy(t).trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect()
    }

    fn client_wants_close(&self) -> bool {
        self.version == 0 || self.tokens("connection").iter().any(|t| t == "close")
    }
}

enum BodyFraming {
    Length(usize),
    Chunked,
}

/// Reads more bytes into `buf`; `Ok(0)` means EOF.
async fn fill(stream: &mut Stream, buf: &mut BytesMut) -> std::io::Result<usize> {
    buf.reserve(8 * 1024);
    stream.read_buf(buf).await
}

async fn fill_or_closed(stream: &mut Stream, buf: &mut BytesMut) -> Result<(), ReadError> {
    match fill(stream, buf).await {
        Ok(0) | Err(_) => Err(ReadError::Closed),
        Ok(_) => Ok(()),
    }
}

fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, ReadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            if len > MAX_HEAD {
                return Err(ReadError::Malformed);
            }
            let head = Head {
                method: request.method.unwrap_or_default().to_owned(),
                target: request.path.unwrap_or_default().to_owned(),
                version: request.version.unwrap_or(1),
                headers: request
                    .headers
                    .iter()
                    .map(|h| (h.name.to_ascii_lowercase(), h.value.to_vec()))
                    .collect(),
            };
            Ok(Some((head, len)))
        }
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => Err(ReadError::Malformed),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(_) => Err(ReadError::Malformed),
    }
}

async fn read_head(
    stream: &mut Stream,
    buf: &mut BytesMut,
    idle: Option<Duration>,
) -> Result<Head, ReadError> {
    loop {
        if !buf.is_empty() {
            if let Some((head, len)) = parse_head(buf)? {
                buf.advance(len);
                return Ok(head);
            }
        }
        let read = match idle {
            // Idle means no byte of the next request has arrived yet.
            Some(limit) if buf.is_empty() => {
                match tokio::time::timeout(limit, fill(stream, buf)).await {
                    Ok(read) => read,
                    Err(_) => return Err(ReadError::Idle),
                }
            }
            _ => fill(stream, buf).await,
        };
        match read {
            Ok(0) | Err(_) => return Err(ReadError::Closed),
            Ok(_) => {}
        }
    }
}

fn body_framing(head: &Head) -> Result<BodyFraming, ReadError> {
    let codings = head.tokens("transfer-encoding");
    if !codings.is_empty() {
        return if codings.last().is_some_and(|c| c == "chunked") {
            Ok(BodyFraming::Chunked)
        } else {
            Err(ReadError::Malformed)
        };
    }
    let mut length: Option<u64> = None;
    for value in head.values("content-length") {
        for part in value.split(|&b| b == b',') {
            let text = std::str::from_utf8(part)
                .map_err(|_| ReadError::Malformed)?
                .trim();
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ReadError::Malformed);
            }
            let n: u64 = text.parse().map_err(|_| ReadError::Malformed)?;
            if length.is_some_and(|l| l != n) {
                return Err(ReadError::Malformed);
            }
            length = Some(n);
        }
    }
    let length = usize::try_from(length.unwrap_or(0)).map_err(|_| ReadError::Malformed)?;
    Ok(BodyFraming::Length(length))
}

async fn read_fixed_body(
    stream: &mut Stream,
    buf: &mut BytesMut,
    length: usize,
) -> Result<Vec<u8>, ReadError> {
    while buf.len() < length {
        fill_or_closed(stream, buf).await?;
    }
    Ok(buf.split_to(length).to_vec())
}

async fn read_chunked_body(stream: &mut Stream, buf: &mut BytesMut) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let (line_len, size) = loop {
            match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete(found)) => break found,
                Ok(httparse::Status::Partial) if buf.len() > MAX_CHUNK_LINE => {
                    return Err(ReadError::Malformed);
                }
                Ok(httparse::Status::Partial) => fill_or_closed(stream, buf).await?,
                Err(_) => return Err(ReadError::Malformed),
            }
        };
        buf.advance(line_len);
        if size == 0 {
            skip_trailers(stream, buf).await?;
            return Ok(body);
        }
        let size = usize::try_from(size).map_err(|_| ReadError::Malformed)?;
        let needed = size.checked_add(2).ok_or(ReadError::Malformed)?;
        while buf.len() < needed {
            fill_or_closed(stream, buf).await?;
        }
        body.extend_from_slice(&buf[..size]);
        if &buf[size..needed] != b"\r\n" {
            return Err(ReadError::Malformed);
        }
        buf.advance(needed);
    }
}

/// Consumes the trailer section after the last chunk (trailers are ignored).
async fn skip_trailers(stream: &mut Stream, buf: &mut BytesMut) -> Result<(), ReadError> {
    loop {
        if buf.len() >= 2 && buf.starts_with(b"\r\n") {
            buf.advance(2);
            return Ok(());
        }
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.advance(pos + 4);
            return Ok(());
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::Malformed);
        }
        fill_or_closed(stream, buf).await?;
    }
}

/// Reads the body of a request whose head has arrived.
async fn read_body(
    stream: &mut Stream,
    buf: &mut BytesMut,
    head: &Head,
) -> Result<(Vec<u8>, bool), ReadError> {
    let framing = body_framing(head)?;
    let expects_continue =
        head.version == 1 && head.tokens("expect").iter().any(|t| t == "100-continue");
    if expects_continue {
        stream
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .map_err(|_| ReadError::Closed)?;
    }
    match framing {
        BodyFraming::Length(length) => Ok((read_fixed_body(stream, buf, length).await?, false)),
        BodyFraming::Chunked => Ok((read_chunked_body(stream, buf).await?, true)),
    }
}

/// How long a lingering close keeps reading what the client still sends.
const LINGER: Duration = Duration::from_secs(5);

/// Whether a request head announces a body.
fn announces_body(head: &Head) -> bool {
    head.values("transfer-encoding").next().is_some()
        || head.values("content-length").any(|v| {
            v.split(|&b| b == b',')
                .any(|part| part.iter().any(|b| b.is_ascii_digit() && *b != b'0'))
        })
}

/// Shuts down the sending side, then reads and discards what the client still
/// sends until it closes, fails, or [`LINGER`] passes, then drops the socket.
/// Closing with unread data would make the kernel reset the connection, which
/// can destroy the response before the client reads it.
async fn lingering_close(mut stream: Stream) {
    let _ = stream.shutdown().await;
    let drain = async {
        let mut sink = [0u8; 8 * 1024];
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// Answers a request whose body was not read (see
/// [`Builder::answer_before_body`](crate::Builder::answer_before_body)), then
/// closes with a lingering close.
async fn answer_before_body(
    mut stream: Stream,
    head: Head,
    id: usize,
    index: usize,
    config: &Config,
    mut guard: CloseGuard,
) {
    let shared = Arc::clone(&guard.shared);
    let head_request = head.method.eq_ignore_ascii_case("HEAD");
    let mut request = RecordedRequest {
        method: head.method,
        target: head.target,
        headers: head.headers,
        body: Vec::new(),
        chunked: false,
        version: if head.version == 0 { 10 } else { 11 },
        connection: id,
        index_on_connection: index,
        answered: true,
    };
    let handler = &config.handler;
    let reply = match catch_unwind(AssertUnwindSafe(|| handler(&request))) {
        Ok(reply) => reply,
        Err(payload) => {
            request.answered = false;
            shared.push_request(request);
            shared.record_panic(panic_message(&*payload));
            guard.finish(false);
            return close(stream).await;
        }
    };
    let head_bytes = reply.head_bytes(true);
    request.answered = match reply.fault_ref() {
        Some(Fault::CloseWithoutAnswer | Fault::ResetWithoutAnswer) => false,
        Some(Fault::CloseMidHeaders { after }) => *after >= head_bytes.len(),
        _ => true,
    };
    shared.push_request(request);
    guard.finish(false);
    let written = write_reply(&mut stream, &reply, &head_bytes, head_request).await;
    if matches!(reply.fault_ref(), Some(Fault::ResetWithoutAnswer)) {
        return stream.reset();
    }
    if written.is_ok() {
        lingering_close(stream).await;
    }
}

/// Closes gracefully (TLS `close_notify`, then FIN), dropping the socket.
async fn close(mut stream: Stream) {
    let _ = stream.shutdown().await;
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// Writes `reply` (head and body, applying its fault).
async fn write_reply(
    stream: &mut Stream,
    reply: &Reply,
    head: &[u8],
    head_request: bool,
) -> std::io::Result<()> {
    let mut out;
    match reply.fault_ref() {
        Some(Fault::CloseWithoutAnswer | Fault::ResetWithoutAnswer) => return Ok(()),
        Some(Fault::Raw(bytes) | Fault::RawThenClose(bytes)) => {
            stream.write_all(bytes).await?;
        }
        Some(Fault::CloseMidHeaders { after }) => {
            stream.write_all(&head[..(*after).min(head.len())]).await?;
        }
        Some(Fault::CloseMidBody { after }) => {
            out = head.to_vec();
            out.extend_from_slice(&reply.body_wire(head_request, Some(*after)));
            stream.write_all(&out).await?;
        }
        Some(Fault::SlowBody { chunk, delay }) => {
            stream.write_all(head).await?;
            stream.flush().await?;
            for piece in reply.body_wire(head_request, None).chunks((*chunk).max(1)) {
                tokio::time::sleep(*delay).await;
                stream.write_all(piece).await?;
                stream.flush().await?;
            }
        }
        other => {
            if let Some(Fault::SlowHeaders(delay)) = other {
                tokio::time::sleep(*delay).await;
            }
            out = head.to_vec();
            out.extend_from_slice(&reply.body_wire(head_request, None));
            stream.write_all(&out).await?;
        }
    }
    stream.flush().await
}

/// Serves one connection until it ends.
async fn serve(mut stream: Stream, id: usize, config: Arc<Config>, mut guard: CloseGuard) {
    let shared = Arc::clone(&guard.shared);
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut index = 0usize;
    loop {
        let head = match read_head(&mut stream, &mut buf, config.idle_close).await {
            Ok(head) => head,
            Err(ReadError::Closed) => return guard.finish(true),
            Err(ReadError::Idle) => {
                guard.finish(false);
                return close(stream).await;
            }
            Err(ReadError::Malformed) => return bad_request(stream, &shared, guard).await,
        };
        if config.answer_before_body && announces_body(&head) {
            return answer_before_body(stream, head, id, index, &config, guard).await;
        }
        let (body, chunked) = match read_body(&mut stream, &mut buf, &head).await {
            Ok(body) => body,
            Err(ReadError::Malformed) => return bad_request(stream, &shared, guard).await,
            Err(ReadError::Closed | ReadError::Idle) => {
                shared.incomplete.fetch_add(1, Ordering::SeqCst);
                return guard.finish(true);
            }
        };
        let must_close = (head.client_wants_close() && !config.ignore_connection_close)
            || config.close_after.is_some_and(|n| index + 1 >= n.max(1));
        let head_request = head.method.eq_ignore_ascii_case("HEAD");
        let mut request = RecordedRequest {
            method: head.method,
            target: head.target,
            headers: head.headers,
            body,
            chunked,
            version: if head.version == 0 { 10 } else { 11 },
            connection: id,
            index_on_connection: index,
            answered: true,
        };

        if config.close_reused_without_answer && index > 0 {
            request.answered = false;
            shared.push_request(request);
            guard.finish(false);
            return close(stream).await;
        }

        let handler = &config.handler;
        let reply = match catch_unwind(AssertUnwindSafe(|| handler(&request))) {
            Ok(reply) => reply,
            Err(payload) => {
                request.answered = false;
                shared.push_request(request);
                shared.record_panic(panic_message(&*payload));
                guard.finish(false);
                return close(stream).await;
            }
        };

        let head_bytes = reply.head_bytes(reply.wants_close_header(must_close));
        request.answered = match reply.fault_ref() {
            Some(Fault::CloseWithoutAnswer | Fault::ResetWithoutAnswer) => false,
            Some(Fault::CloseMidHeaders { after }) => *after >= head_bytes.len(),
            _ => true,
        };
        shared.push_request(request);

        // Count the close before the client can observe it.
        let after = reply.after(must_close);
        if after != After::KeepOpen {
            guard.finish(false);
        }
        if write_reply(&mut stream, &reply, &head_bytes, head_request)
            .await
            .is_err()
        {
            return guard.finish(false);
        }
        match after {
            After::KeepOpen => index += 1,
            After::Close => return close(stream).await,
            After::Reset => return stream.reset(),
        }
    }
}

/// Answers a malformed request with 400 and closes.
async fn bad_request(mut stream: Stream, shared: &Shared, mut guard: CloseGuard) {
    shared.incomplete.fetch_add(1, Ordering::SeqCst);
    guard.finish(false);
    let _ = stream
        .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await;
    close(stream).await;
}
