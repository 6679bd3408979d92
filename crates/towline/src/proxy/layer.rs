use std::fmt;
use std::sync::Arc;

use http::Uri;
use http::uri::Scheme;
use tower_layer::Layer;

use super::{NoProxy, Proxy, ProxyConfigError, ProxyServer};
use crate::connect::Route;

/// A function that picks the proxy for a URI.
type ProxyFn = dyn Fn(&Uri) -> Option<ProxyServer> + Send + Sync;

/// Picks a [`Route`] for each request: which proxy, if any. See the
/// [module docs](super).
#[derive(Clone)]
pub struct ProxyLayer {
    pub(super) config: Arc<Config>,
}

#[derive(Clone, Default)]
pub(super) struct Config {
    http: Option<ProxyServer>,
    https: Option<ProxyServer>,
    custom: Option<Arc<ProxyFn>>,
    no_proxy: NoProxy,
}

impl Config {
    /// The route for `uri`, or `None` to go direct. This is the whole per-request
    /// cost of the layer: a scheme check, the `NO_PROXY` check, and a route (one
    /// reference-count increment) when a proxy applies.
    pub(super) fn route_for(&self, uri: &Uri) -> Option<Route> {
        let scheme = uri.scheme()?;
        let plain = *scheme == Scheme::HTTP;
        if !plain && *scheme != Scheme::HTTPS {
            return None;
        }
        let fixed = if plain { &self.http } else { &self.https };
        if fixed.is_none() && self.custom.is_none() {
            return None;
        }
        let host = uri.host()?;
        if !self.no_proxy.is_empty() {
            let port = uri.port_u16().unwrap_or(if plain { 80 } else { 443 });
            if self.no_proxy.matches(host, port) {
                return None;
            }
        }
        match &self.custom {
            Some(pick) => pick(uri).map(|server| server.route(plain)),
            None => fixed.as_ref().map(|server| server.route(plain)),
        }
    }
}

impl ProxyLayer {
    /// Sends every `http://` and `https://` request through `server`.
    pub fn new(server: ProxyServer) -> ProxyLayer {
        ProxyLayer::direct().http(server.clone()).https(server)
    }

    /// Sends nothing through a proxy until [`http`](Self::http) or
    /// [`https`](Self::https) say otherwise.
    pub fn direct() -> ProxyLayer {
        ProxyLayer {
            config: Arc::new(Config::default()),
        }
    }

    /// Picks the proxy for each request with `pick`, from the request's absolute URI;
    /// `None` goes direct. [`no_proxy`](Self::no_proxy) still applies first; the
    /// [`http`](Self::http) and [`https`](Self::https) settings do not.
    pub fn from_fn<F>(pick: F) -> ProxyLayer
    where
        F: Fn(&Uri) -> Option<ProxyServer> + Send + Sync + 'static,
    {
        ProxyLayer {
            config: Arc::new(Config {
                custom: Some(Arc::new(pick)),
                ..Config::default()
            }),
        }
    }

    /// Reads the proxy settings of the environment, as curl does:
    ///
    /// - `http_proxy` for `http://` URIs, `https_proxy` for `https://` URIs, and
    ///   `all_proxy` for either when its own is unset; each in lower case first, then
    ///   upper case (`HTTPS_PROXY`). An empty value counts as unset.
    /// - `no_proxy` / `NO_PROXY`: hosts that go direct ([`NoProxy`]).
    /// - When `REQUEST_METHOD` is set (a CGI program), `HTTP_PROXY` and `http_proxy` are
    ///   ignored: a CGI server turns a request's `Proxy:` header into `HTTP_PROXY`
    ///   ("httpoxy"), so it cannot be trusted. `ALL_PROXY` still applies.
    ///
    /// The values are proxy URIs ([`ProxyServer::parse`]); one that does not parse is
    /// an error naming its variable. The environment is read once, here.
    pub fn from_env() -> Result<ProxyLayer, ProxyConfigError> {
        ProxyLayer::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) over any source of variables.
    pub(super) fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<ProxyLayer, ProxyConfigError> {
        let var = |lower: &'static str, upper: &'static str| {
            [lower, upper].into_iter().find_map(|name| {
                get(name)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (name, v))
            })
        };
        let parse = |found: Option<(&'static str, String)>| {
            found
                .map(|(name, value)| ProxyServer::parse(&value).map_err(|e| e.in_variable(name)))
                .transpose()
        };
        let cgi = get("REQUEST_METHOD").is_some();
        let all = parse(var("all_proxy", "ALL_PROXY"))?;
        let http = if cgi {
            None
        } else {
            parse(var("http_proxy", "HTTP_PROXY"))?
        };
        let https = parse(var("https_proxy", "HTTPS_PROXY"))?;
        let no_proxy = var("no_proxy", "NO_PROXY")
            .map(|(_, v)| NoProxy::parse(&v))
            .unwrap_or_default();
        Ok(ProxyLayer {
            config: Arc::new(Config {
                http: http.or_else(|| all.clone()),
                https: https.or(all),
                custom: None,
                no_proxy,
            }),
        })
    }

    /// The proxy for `http://` URIs; `None` sends them direct.
    ///
    /// Default is the server given to [`new`](Self::new), none for
    /// [`direct`](Self::direct), and `http_proxy` or `all_proxy` for
    /// [`from_env`](Self::from_env).
    pub fn http(mut self, server: impl Into<Option<ProxyServer>>) -> ProxyLayer {
        Arc::make_mut(&mut self.config).http = server.into();
        self
    }

    /// The proxy for `https://` URIs; `None` sends them direct.
    ///
    /// Default is the server given to [`new`](Self::new), none for
    /// [`direct`](Self::direct), and `https_proxy` or `all_proxy` for
    /// [`from_env`](Self::from_env).
    pub fn https(mut self, server: impl Into<Option<ProxyServer>>) -> ProxyLayer {
        Arc::make_mut(&mut self.config).https = server.into();
        self
    }

    /// Hosts that go direct, whatever the other settings say.
    ///
    /// Default is empty, and `no_proxy` for [`from_env`](Self::from_env).
    pub fn no_proxy(mut self, no_proxy: NoProxy) -> ProxyLayer {
        Arc::make_mut(&mut self.config).no_proxy = no_proxy;
        self
    }

    /// The route the layer would give a request for `uri`; `None` means direct.
    pub fn route_for(&self, uri: &Uri) -> Option<Route> {
        self.config.route_for(uri)
    }
}

impl fmt::Debug for ProxyLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyLayer")
            .field("http", &self.config.http)
            .field("https", &self.config.https)
            .field("custom", &self.config.custom.as_ref().map(|_| "fn"))
            .field("no_proxy", &self.config.no_proxy)
            .finish()
    }
}

impl<S> Layer<S> for ProxyLayer {
    type Service = Proxy<S>;

    fn layer(&self, inner: S) -> Proxy<S> {
        Proxy {
            inner,
            config: self.config.clone(),
        }
    }
}
