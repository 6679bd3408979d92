//! The clients under test, each behind the same few operations.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{COOKIE, HOST, HeaderValue, LOCATION, SET_COOKIE};
use http::{Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tower::ServiceExt;

use crate::BoxError;

/// One client under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// towline's base `Connector`, no layers.
    Connector,
    /// towline's `Client`, every layer.
    Client,
    /// hyper-util's legacy client: the floor.
    HyperUtil,
    /// reqwest.
    Reqwest,
    /// One hand-driven `hyper::client::conn::http1` connection, no pool: the limit.
    RawConn,
}

impl Side {
    /// Every side, in table order.
    pub(crate) const ALL: [Side; 4] = [
        Side::Connector,
        Side::Client,
        Side::HyperUtil,
        Side::Reqwest,
    ];

    /// The name in the tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Side::Connector => "towline `Connector`",
            Side::Client => "towline `Client`",
            Side::HyperUtil => "hyper-util legacy",
            Side::Reqwest => "reqwest 0.12",
            Side::RawConn => "hyper `http1` conn (raw)",
        }
    }

    /// The name on a child process's command line.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Side::Connector => "connector",
            Side::Client => "client",
            Side::HyperUtil => "hyper-util",
            Side::Reqwest => "reqwest",
            Side::RawConn => "raw-conn",
        }
    }

    /// The side whose [`key`](Side::key) is `key`.
    pub(crate) fn from_key(key: &str) -> Result<Side, BoxError> {
        [
            Side::Connector,
            Side::Client,
            Side::HyperUtil,
            Side::Reqwest,
            Side::RawConn,
        ]
        .into_iter()
        .find(|s| s.key() == key)
        .ok_or_else(|| format!("no side called {key:?}").into())
    }

    /// Whether the ratio columns apply.
    pub(crate) fn is_towline(self) -> bool {
        matches!(self, Side::Connector | Side::Client)
    }
}

/// A URL parsed once for every side.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The absolute URI, for towline and hyper-util.
    pub(crate) uri: Uri,
    /// The same URL, for reqwest.
    pub(crate) url: reqwest::Url,
    /// Path and query only, what a raw HTTP/1.1 connection sends.
    origin: Uri,
    /// The `Host` header a raw connection sends.
    host: HeaderValue,
}

impl Target {
    /// Parses `s` for every URL type.
    pub(crate) fn new(s: &str) -> Result<Target, BoxError> {
        let uri: Uri = s.parse()?;
        let origin = uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned())
            .parse()?;
        let host = HeaderValue::from_str(uri.authority().ok_or("URL without a host")?.as_str())?;
        Ok(Target {
            url: s.parse()?,
            uri,
            origin,
            host,
        })
    }
}

/// hyper-util's client over plain TCP or over rustls.
#[derive(Debug)]
enum Hyper {
    Plain(HyperClient<HttpConnector, Empty<Bytes>>),
    Tls(HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>),
}

impl Hyper {
    fn request(
        &self,
        request: Request<Empty<Bytes>>,
    ) -> hyper_util::client::legacy::ResponseFuture {
        match self {
            Hyper::Plain(c) => c.request(request),
            Hyper::Tls(c) => c.request(request),
        }
    }

    fn get(&self, uri: Uri) -> hyper_util::client::legacy::ResponseFuture {
        match self {
            Hyper::Plain(c) => c.get(uri),
            Hyper::Tls(c) => c.get(uri),
        }
    }
}

/// The clients, each built once and kept warm across rounds.
#[derive(Debug)]
pub(crate) struct Sides {
    connector: towline::connect::Connector,
    client: towline::Client,
    hyper: Hyper,
    reqwest: reqwest::Client,
    /// The floor's cookie jar for the redirect scenario: name, value.
    hyper_jar: Mutex<Vec<(String, String)>>,
    /// The raw connection, opened by its first request; taken out while in use.
    raw: Mutex<Option<SendRequest<Empty<Bytes>>>>,
}

impl Sides {
    /// Builds every client; `h2` speaks HTTP/2 with prior knowledge over plain TCP.
    pub(crate) fn new(h2: bool) -> Result<Sides, BoxError> {
        let connector = towline::connect::Connector::builder()
            .http2_prior_knowledge(h2)
            .build();
        let client = towline::Client::builder()
            .http2_prior_knowledge(h2)
            .build()?;
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        let hyper = Hyper::Plain(
            HyperClient::builder(TokioExecutor::new())
                .http2_only(h2)
                .build(http),
        );
        let mut reqwest = reqwest::Client::builder()
            .cookie_store(true)
            .gzip(true)
            .tcp_nodelay(true)
            .no_proxy();
        if h2 {
            reqwest = reqwest.http2_prior_knowledge();
        } else {
            reqwest = reqwest.http1_only();
        }
        Ok(Sides {
            connector,
            client,
            hyper,
            reqwest: reqwest.build()?,
            hyper_jar: Mutex::new(Vec::new()),
            raw: Mutex::new(None),
        })
    }

    /// Builds every client for HTTPS (HTTP/1.1) with one shared rustls configuration;
    /// `persistent(false)` opens a new connection for each request.
    pub(crate) fn tls(
        config: Arc<rustls::ClientConfig>,
        persistent: bool,
    ) -> Result<Sides, BoxError> {
        let connector = towline::connect::Connector::builder()
            .tls(config.clone())
            .persistent(persistent)
            .build();
        let client = towline::Client::builder()
            .tls(config.clone())
            .persistent(persistent)
            .build()?;
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config({
                // hyper-rustls sets ALPN itself (to http/1.1 here) and refuses a preset one.
                let mut c = (*config).clone();
                c.alpn_protocols.clear();
                c
            })
            .https_only()
            .enable_http1()
            .wrap_connector(http);
        let idle = if persistent { usize::MAX } else { 0 };
        let hyper = Hyper::Tls(
            HyperClient::builder(TokioExecutor::new())
                .pool_max_idle_per_host(idle)
                .build(https),
        );
        let reqwest = reqwest::Client::builder()
            .use_preconfigured_tls((*config).clone())
            .tcp_nodelay(true)
            .no_proxy()
            .http1_only()
            .pool_max_idle_per_host(idle)
            .build()?;
        Ok(Sides {
            connector,
            client,
            hyper,
            reqwest,
            hyper_jar: Mutex::new(Vec::new()),
            raw: Mutex::new(None),
        })
    }

    /// The counters of the towline `Client`'s pool.
    pub(crate) fn client_pool_stats(&self) -> towline::connect::PoolStats {
        self.client.pool_stats()
    }

    /// GETs `target` and reads the body to its end; returns the body's length.
    ///
    /// With `gunzip`, the body is gzip and sides without a decoder of their own decode
    /// it with flate2; the length is then the decoded one.
    pub(crate) async fn get(
        &self,
        side: Side,
        target: &Target,
        gunzip: bool,
    ) -> Result<u64, BoxError> {
        match side {
            Side::Connector => {
                let request = Request::get(target.uri.clone()).body(towline::Body::empty())?;
                let response = self.connector.clone().oneshot(request).await?;
                drain(response.into_body(), gunzip).await
            }
            Side::Client => {
                let mut response = self.client.get(target.uri.clone()).send().await?;
                let mut n = 0u64;
                while let Some(chunk) = response.chunk().await? {
                    n += chunk.len() as u64;
                }
                Ok(n)
            }
            Side::HyperUtil => {
                let response = self.hyper.get(target.uri.clone()).await?;
                drain(response.into_body(), gunzip).await
            }
            Side::Reqwest => {
                let mut response = self.reqwest.get(target.url.clone()).send().await?;
                let mut n = 0u64;
                while let Some(chunk) = response.chunk().await? {
                    n += chunk.len() as u64;
                }
                Ok(n)
            }
            Side::RawConn => self.raw_get(target).await,
        }
    }

    /// The limit: one request on the hand-driven connection, opened if there is none.
    async fn raw_get(&self, target: &Target) -> Result<u64, BoxError> {
        let kept = self.raw.lock().map_err(|_| "raw lock poisoned")?.take();
        let mut sender = match kept {
            Some(sender) if !sender.is_closed() => sender,
            _ => raw_connect(&target.uri).await?,
        };
        sender.ready().await?;
        let request = Request::get(target.origin.clone())
            .header(HOST, target.host.clone())
            .body(Empty::new())?;
        let response = sender.send_request(request).await?;
        let n = drain(response.into_body(), false).await?;
        *self.raw.lock().map_err(|_| "raw lock poisoned")? = Some(sender);
        Ok(n)
    }

    /// Follows the redirect chain that starts at `target`, keeping cookies; returns
    /// the number of hops.
    pub(crate) async fn chain(&self, side: Side, target: &Target) -> Result<usize, BoxError> {
        match side {
            Side::Client => {
                let response = self.client.get(target.uri.clone()).send().await?;
                let hops = response.history().map_or(0, |h| h.len());
                response.bytes().await?;
                Ok(hops)
            }
            Side::Reqwest => {
                let response = self.reqwest.get(target.url.clone()).send().await?;
                let status = response.status();
                response.bytes().await?;
                if !status.is_success() {
                    return Err(format!("reqwest ended the chain on {status}").into());
                }
                // reqwest does not expose the history; the server's chain is fixed.
                Ok(usize::MAX)
            }
            Side::HyperUtil => self.hyper_chain(target).await,
            Side::Connector | Side::RawConn => {
                Err(format!("{} follows no redirects", side.name()).into())
            }
        }
    }

    /// The floor: redirects and cookies done by hand, as little work as possible.
    async fn hyper_chain(&self, target: &Target) -> Result<usize, BoxError> {
        let mut uri = target.uri.clone();
        let mut hops = 0;
        loop {
            let cookie = {
                let jar = self.hyper_jar.lock().map_err(|_| "jar lock poisoned")?;
                jar.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let mut request = Request::get(uri.clone());
            if !cookie.is_empty() {
                request = request.header(COOKIE, cookie);
            }
            let response = self.hyper.request(request.body(Empty::new())?).await?;
            {
                let mut jar = self.hyper_jar.lock().map_err(|_| "jar lock poisoned")?;
                for value in response.headers().get_all(SET_COOKIE) {
                    let pair = value.to_str()?.split(';').next().unwrap_or("");
                    if let Some((k, v)) = pair.split_once('=') {
                        match jar.iter_mut().find(|(name, _)| name == k) {
                            Some(slot) => slot.1 = v.to_owned(),
                            None => jar.push((k.to_owned(), v.to_owned())),
                        }
                    }
                }
            }
            let location = if response.status().is_redirection() {
                response.headers().get(LOCATION).cloned()
            } else {
                None
            };
            drain(response.into_body(), false).await?;
            let Some(location) = location else {
                return Ok(hops);
            };
            let mut parts = uri.into_parts();
            parts.path_and_query = Some(location.to_str()?.parse()?);
            uri = Uri::from_parts(parts)?;
            hops += 1;
        }
    }
}

/// Opens a plain TCP connection (no Nagle) to `uri`'s authority and hands it to
/// hyper's HTTP/1.1 connection, driven by a task of its own.
async fn raw_connect(uri: &Uri) -> Result<SendRequest<Empty<Bytes>>, BoxError> {
    if uri.scheme_str() != Some("http") {
        return Err("the raw connection speaks plain HTTP only".into());
    }
    let authority = uri.authority().ok_or("URL without a host")?;
    let stream = tokio::net::TcpStream::connect(authority.as_str()).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // The connection ends when the sender is dropped or the server closes it.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Counts the bytes written into it.
struct Count(u64);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads a body to its end, gunzipping it on the way if asked; returns its length.
pub(crate) async fn drain<B>(mut body: B, gunzip: bool) -> Result<u64, BoxError>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    let mut decoder = gunzip.then(|| flate2::write::GzDecoder::new(Count(0)));
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.map_err(Into::into)?.into_data() {
            match decoder.as_mut() {
                Some(d) => d.write_all(&data)?,
                None => n += data.len() as u64,
            }
        }
    }
    match decoder {
        Some(d) => Ok(d.finish()?.0),
        None => Ok(n),
    }
}
