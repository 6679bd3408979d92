//! Configuring a [`Client`].

use std::fmt;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue, USER_AGENT};

use super::decoding::Codecs;
use super::{Client, Shared, stack};
use crate::connect::{self, Connector};
use crate::error::Error;

/// The default [`ClientBuilder::max_response_body`]: 256 MiB.
///
/// Large enough for any JSON or HTML document we know of, and for most files read
/// whole; small enough that a decompression bomb read with `bytes()` stops before it
/// holds more than that (the memory a reader of an untrusted server should expect to
/// spend). Larger bodies are meant to be streamed.
pub const DEFAULT_MAX_RESPONSE_BODY: u64 = 256 * 1024 * 1024;

/// Which redirects a [`Client`] follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedirectPolicy {
    /// None: 3xx responses are handed back as they are.
    None,
    /// Twisted's `RedirectAgent`: GET and HEAD follow 301, 302, 307 and 308; 303
    /// becomes GET; other methods get the 3xx back. See
    /// [`redirect::Strict`](crate::redirect::Strict).
    #[default]
    Strict,
    /// Twisted's `BrowserLikeRedirectAgent`: POST on 301, 302 and 303 becomes GET, the
    /// rest follows. See [`redirect::BrowserLike`](crate::redirect::BrowserLike).
    BrowserLike,
}

/// Configures and builds a [`Client`]. Every setter says its default.
pub struct ClientBuilder {
    pub(super) connector: connect::Builder,
    pub(super) dialer: connect::TcpDialer,
    default_headers: HeaderMap,
    timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    max_response_body: Option<u64>,
    retry: bool,
    redirect: RedirectPolicy,
    max_redirects: usize,
    https_downgrade: bool,
    referer: bool,
    https_only: bool,
    sensitive_headers: Vec<HeaderName>,
    pub(super) decompress: Codecs,
    #[cfg(feature = "tls")]
    pub(super) tls: Option<Result<crate::tls::TlsConfig, Error>>,
    #[cfg(feature = "cookies")]
    cookies: Option<crate::cookie::Jar>,
    #[cfg(feature = "proxy")]
    proxy: Option<crate::proxy::ProxyLayer>,
    errors: Vec<Error>,
    redaction: crate::redact::Redaction,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("connector", &self.connector)
            .field("default_headers", &self.default_headers)
            .field("timeout", &self.timeout)
            .field("read_timeout", &self.read_timeout)
            .field("max_response_body", &self.max_response_body)
            .field("retry", &self.retry)
            .field("redirect", &self.redirect)
            .field("max_redirects", &self.max_redirects)
            .field("decompress", &self.decompress)
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> ClientBuilder {
        ClientBuilder::new()
    }
}

impl ClientBuilder {
    /// A builder with every default.
    pub fn new() -> ClientBuilder {
        let mut default_headers = HeaderMap::new();
        default_headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("towline/", env!("CARGO_PKG_VERSION"))),
        );
        ClientBuilder {
            connector: Connector::builder(),
            dialer: connect::TcpDialer::new(),
            default_headers,
            timeout: None,
            read_timeout: None,
            max_response_body: Some(DEFAULT_MAX_RESPONSE_BODY),
            retry: true,
            redirect: RedirectPolicy::Strict,
            max_redirects: 20,
            https_downgrade: true,
            referer: true,
            https_only: false,
            sensitive_headers: Vec::new(),
            decompress: Codecs::default(),
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "cookies")]
            cookies: Some(crate::cookie::Jar::new()),
            #[cfg(feature = "proxy")]
            proxy: None,
            errors: Vec::new(),
            redaction: crate::redact::Redaction::new(),
        }
    }

    /// Configures the connection pool and connector directly; the other pool setters
    /// of this builder act on the same configuration.
    ///
    /// Default is [`connect::Builder::new()`].
    pub fn connector(
        mut self,
        configure: impl FnOnce(connect::Builder) -> connect::Builder,
    ) -> Self {
        self.connector = configure(self.connector);
        self
    }

    /// How long a whole request may take, from sending it to the end of its response
    /// body; `None` sets no limit. [`RequestBuilder::timeout`](super::RequestBuilder::timeout)
    /// overrides it per request.
    ///
    /// Default is `None`.
    pub fn timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.timeout = timeout.into();
        self
    }

    /// How long a response may go without the server sending anything: the wait for
    /// the response head once the request is on a connection (every byte written or
    /// read starts it again, so a slow upload is not cut), and then each gap between
    /// chunks of the body. `None` sets no limit. Its error is
    /// [`is_timeout()`](Error::is_timeout); the connection is closed.
    ///
    /// Default is `None`.
    pub fn read_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.read_timeout = timeout.into();
        let timeout = self.read_timeout;
        self.connector(|c| c.read_timeout(timeout))
    }

    /// The most bytes a body read into memory may have: it caps
    /// [`Response::bytes`](super::Response::bytes), [`text`](super::Response::text) and
    /// `json`, counted after decoding. A body that passes it fails as soon as it does,
    /// before the bytes past it are stored: with an error that is
    /// [`is_decode()`](Error::is_decode) (its cause a
    /// [`DecodedTooLarge`](crate::decompress::DecodedTooLarge)) when the body was
    /// decoded, since that is how a decompression bomb ends, and otherwise
    /// [`is_body()`](Error::is_body) (its cause a
    /// [`LengthLimitExceeded`](crate::error::LengthLimitExceeded)). `None` sets no cap.
    ///
    /// Streamed reads ([`Response::chunk`](super::Response::chunk), the body as an
    /// `http_body::Body`) are not capped: they hold one chunk at a time, however large
    /// the body. [`Response::bytes_limited`](super::Response::bytes_limited) sets
    /// another cap for one read.
    ///
    /// Default is [256 MiB](DEFAULT_MAX_RESPONSE_BODY).
    pub fn max_response_body(mut self, bytes: impl Into<Option<u64>>) -> Self {
        self.max_response_body = bytes.into();
        self
    }

    /// A header sent with every request that does not set it itself.
    ///
    /// Default is a `User-Agent` of `towline/<version>` and nothing else.
    pub fn default_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.default_headers.insert(name, value);
        self
    }

    /// Replaces every default header (the `User-Agent` included).
    ///
    /// Default is a `User-Agent` of `towline/<version>`.
    pub fn default_headers(mut self, headers: HeaderMap) -> Self {
        self.default_headers = headers;
        self
    }

    /// The `User-Agent` header. An invalid value is reported by [`build`](Self::build).
    ///
    /// Default is `towline/<version>`.
    pub fn user_agent(mut self, value: impl AsRef<str>) -> Self {
        match HeaderValue::from_str(value.as_ref()) {
            Ok(value) => {
                self.default_headers.insert(USER_AGENT, value);
            }
            Err(_) => self.errors.push(Error::invalid_request(
                "the User-Agent is not a valid header value",
            )),
        }
        self
    }

    /// The cookie jar: cookies the servers set are stored in it and sent back
    /// (RFC 6265, public suffixes refused). Share one jar between clients by passing
    /// clones; save and load it with [`Jar::save`](crate::cookie::Jar::save) and
    /// [`Jar::load`](crate::cookie::Jar::load).
    ///
    /// Default is a new, empty in-memory jar for each client.
    #[cfg(feature = "cookies")]
    pub fn cookie_jar(mut self, jar: crate::cookie::Jar) -> Self {
        self.cookies = Some(jar);
        self
    }

    /// Whether cookies are stored and sent at all.
    ///
    /// Default is `true`.
    #[cfg(feature = "cookies")]
    pub fn cookies(mut self, on: bool) -> Self {
        match (on, self.cookies.is_some()) {
            (false, _) => self.cookies = None,
            (true, false) => self.cookies = Some(crate::cookie::Jar::new()),
            (true, true) => {}
        }
        self
    }

    /// Sends requests through proxies: a [`ProxyLayer`](crate::proxy::ProxyLayer) made
    /// from one proxy URI, per scheme, or a function of the URI.
    ///
    /// Default is no proxy: unlike curl, the environment is read only when asked with
    /// [`proxy_from_env`](Self::proxy_from_env), so a stray `HTTP_PROXY` never
    /// redirects a program's traffic unnoticed.
    #[cfg(feature = "proxy")]
    pub fn proxy(mut self, proxies: crate::proxy::ProxyLayer) -> Self {
        self.proxy = Some(proxies);
        self
    }

    /// Takes the proxies from `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY`
    /// (either case). A malformed value is reported by [`build`](Self::build).
    ///
    /// Default is not to read the environment.
    #[cfg(feature = "proxy")]
    pub fn proxy_from_env(mut self) -> Self {
        match crate::proxy::ProxyLayer::from_env() {
            Ok(layer) => self.proxy = Some(layer),
            Err(err) => self
                .errors
                .push(Error::new(crate::error::Kind::Proxy, Some(Box::new(err)))),
        }
        self
    }

    /// Whether a request that failed on a stale pooled connection is sent again once,
    /// when that is safe (see [`retry`](crate::retry)).
    ///
    /// Default is `true`.
    pub fn retry_stale(mut self, on: bool) -> Self {
        self.retry = on;
        self
    }

    /// Which redirects to follow.
    ///
    /// Default is [`RedirectPolicy::Strict`].
    pub fn redirect(mut self, policy: RedirectPolicy) -> Self {
        self.redirect = policy;
        self
    }

    /// The most redirects followed for one request; one more fails with
    /// [`TooManyRedirects`](crate::redirect::TooManyRedirects).
    ///
    /// Default is 20.
    pub fn max_redirects(mut self, n: usize) -> Self {
        self.max_redirects = n;
        self
    }

    /// Whether a redirect from https to http is followed (with credentials removed) or
    /// fails.
    ///
    /// Default is `true` (followed).
    pub fn https_downgrade(mut self, allow: bool) -> Self {
        self.https_downgrade = allow;
        self
    }

    /// Whether a followed redirect carries a `Referer` naming the page it came from,
    /// by browsers' default policy (`strict-origin-when-cross-origin`): the whole URL
    /// to the same origin, only the origin to another, nothing from https to http;
    /// never userinfo or a fragment. A `Referer` the request already has is kept.
    ///
    /// Default is `true` (reqwest sends one too, with the whole URL).
    pub fn referer(mut self, on: bool) -> Self {
        self.referer = on;
        self
    }

    /// Refuses every `http://` URL: the request's own (an error that is
    /// [`is_invalid_request()`](Error::is_invalid_request)) and a redirect's target (an
    /// error that is [`is_redirect()`](Error::is_redirect)).
    ///
    /// Default is `false`.
    pub fn https_only(mut self, on: bool) -> Self {
        self.https_only = on;
        self
    }

    /// Adds a header that holds a credential (an API key, say): like `Authorization`,
    /// it is removed once a redirect leaves the first request's origin. Call it once
    /// per header.
    ///
    /// Default is `Authorization`, `Proxy-Authorization` and `Cookie` only.
    pub fn sensitive_header(mut self, name: HeaderName) -> Self {
        if !self.sensitive_headers.contains(&name) {
            self.sensitive_headers.push(name);
        }
        self
    }

    /// Adds query parameter names whose values every `Display`, `Debug` and `tracing`
    /// field of this client shows as `***`, to the list it has (compared
    /// case-insensitively). Userinfo is always hidden. What is sent does not change.
    /// See [`crate::redact`].
    ///
    /// ```
    /// let client = towline::Client::builder()
    ///     .redact_query_params(["session", "X-Goog-Signature"])
    ///     .build()?;
    /// # let _ = client;
    /// # Ok::<(), towline::Error>(())
    /// ```
    ///
    /// Default is [`DEFAULT_SECRET_PARAMS`](crate::redact::DEFAULT_SECRET_PARAMS).
    pub fn redact_query_params<I>(mut self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.redaction = self.redaction.with_params(names);
        self
    }

    /// Replaces the list of secret query parameter names with `redaction`'s, for
    /// example [`Redaction::only`](crate::redact::Redaction::only) to drop defaults
    /// that are no secret for your API. See [`crate::redact`].
    ///
    /// Default is [`DEFAULT_SECRET_PARAMS`](crate::redact::DEFAULT_SECRET_PARAMS).
    pub fn redaction(mut self, redaction: crate::redact::Redaction) -> Self {
        self.redaction = redaction;
        self
    }

    /// Builds the client, or reports the first invalid setting.
    pub fn build(mut self) -> Result<Client, Error> {
        let dialer = std::mem::take(&mut self.dialer);
        self.build_with_dialer(dialer)
    }

    /// Builds the client on another [`Dial`](connect::Dial)er than TCP — a
    /// [`UnixDialer`](connect::UnixDialer), an in-memory pipe, your own endpoint
    /// (Twisted's `Agent.usingEndpointFactory`). The settings of the TCP dialer
    /// ([`resolve`](Self::resolve), [`dns_resolver`](Self::dns_resolver),
    /// [`local_address`](Self::local_address), [`tcp_keepalive`](Self::tcp_keepalive),
    /// [`tcp_nodelay`](Self::tcp_nodelay)) do not apply to another dialer. Every layer works as with [`build`](Self::build);
    /// TLS, when the URI is `https`, runs over the dialed stream.
    ///
    /// ```no_run
    /// # #[cfg(unix)]
    /// # async fn docker() -> Result<(), towline::Error> {
    /// // Docker's API, on its Unix socket: the URI's host only names the `Host` header.
    /// let client = towline::Client::builder()
    ///     .build_with_dialer(towline::connect::UnixDialer::new("/var/run/docker.sock"))?;
    /// let version = client.get("http://docker/version").send().await?.text().await?;
    /// # let _ = version;
    /// # Ok(())
    /// # }
    /// ```
    pub fn build_with_dialer<D: connect::Dial>(self, dialer: D) -> Result<Client, Error> {
        if let Some(err) = self.errors.into_iter().next() {
            return Err(err);
        }
        #[allow(unused_mut)]
        let mut connector = self.connector;
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls {
            connector = connector.tls(tls?);
        }
        let connector = connector.build_with_dialer(dialer);
        #[cfg(feature = "cookies")]
        let jar = self.cookies.clone();
        let layers = stack::Layers {
            retry: self.retry,
            #[cfg(feature = "proxy")]
            proxy: self.proxy,
            #[cfg(feature = "cookies")]
            cookies: self.cookies,
            #[cfg(feature = "redirect")]
            redirect: super::redirects::layer(super::redirects::Settings {
                policy: self.redirect,
                max: self.max_redirects,
                downgrade: self.https_downgrade,
                referer: self.referer,
                https_only: self.https_only,
                sensitive: self.sensitive_headers,
            }),
            #[cfg(feature = "decompress")]
            decompress: self.decompress.layer(),
        };
        #[cfg(not(feature = "redirect"))]
        let _ = (
            self.redirect,
            self.max_redirects,
            self.https_downgrade,
            self.referer,
            self.sensitive_headers,
        );
        #[cfg(not(feature = "decompress"))]
        let _ = self.decompress;
        let stack = stack::build(connector.clone(), layers);
        Ok(Client {
            stack,
            shared: std::sync::Arc::new(Shared {
                pool: Box::new(connector),
                default_headers: self.default_headers,
                timeout: self.timeout,
                read_timeout: self.read_timeout,
                max_response_body: self.max_response_body,
                https_only: self.https_only,
                #[cfg(feature = "cookies")]
                jar,
                redaction: self.redaction,
            }),
        })
    }
}
