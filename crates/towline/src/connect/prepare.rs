//! Preparing a request for the wire: the absolute-URI checks, origin-form or
//! absolute-form, `Host`, the route's proxy credentials and the pool key, and undoing
//! that for a request hyper hands back unsent.

use super::*;

/// A validated request, rewritten for the wire, with what is needed to undo that.
pub(super) struct Prepared<B> {
    /// The request as hyper will write it: origin-form URI, `Host` set.
    pub(super) wire: Request<Outgoing>,
    /// The absolute URI the caller gave.
    pub(super) uri: Uri,
    pub(super) key: Key,
    pub(super) host_added: bool,
    pub(super) connection_added: bool,
    /// `Some(previous)` when the connector changed `Proxy-Authorization`: removed the
    /// caller's, or set the route's for an HTTP proxy.
    pub(super) proxy_auth: Option<Option<HeaderValue>>,
    pub(super) is_head: bool,
    pub(super) fresh: bool,
    pub(super) _body: std::marker::PhantomData<fn() -> B>,
}

fn has_forbidden_byte(bytes: &[u8]) -> bool {
    // Without an early exit the loop vectorizes: headers are short and nearly always
    // clean, so reading every byte is the cheaper way.
    bytes.iter().fold(false, |found, &b| {
        found | (b == b'\r') | (b == b'\n') | (b == 0)
    })
}

impl<B> Prepared<B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Into<Bytes>,
    B::Error: Into<BoxError>,
{
    /// Checks `req` and rewrites it for the wire; the error comes with the URI, when
    /// there is one to quote.
    #[allow(clippy::result_large_err)]
    pub(super) fn new<D>(
        req: Request<B>,
        shared: &Shared<D>,
    ) -> Result<Prepared<B>, (Error, Option<Uri>)> {
        let (mut parts, body) = req.into_parts();
        let uri = parts.uri.clone();
        let fail = |msg: &'static str| (Error::invalid_request(msg), Some(uri.clone()));
        let (scheme, authority) = check(&uri, &parts).map_err(fail)?;
        let https = *scheme == Scheme::HTTPS;
        let scheme_port = default_port(scheme);
        let port = authority.port_u16();
        let key_authority =
            if port == Some(scheme_port) || authority.as_str().as_bytes().contains(&b'@') {
                host_authority(authority, port.is_none_or(|p| p == scheme_port))
            } else {
                authority.clone()
            };
        let host_added = !parts.headers.contains_key(HOST);
        if host_added {
            let value = HeaderValue::from_str(key_authority.as_str())
                .map_err(|_| fail("the URI host is not a valid Host header"))?;
            parts.headers.insert(HOST, value);
        }
        let connection_added =
            !shared.pool.config().persistent && !parts.headers.contains_key(CONNECTION);
        if connection_added {
            parts
                .headers
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        let declared =
            declared_length(&parts.headers, &body).map_err(|e| (e, Some(uri.clone())))?;
        let route = match parts.extensions.get::<Route>() {
            None | Some(Route::Direct) => Route::Direct,
            // https is never handed to a proxy in the clear: it tunnels.
            Some(Route::HttpProxy(endpoint)) if https => Route::Tunnel(endpoint.clone()),
            Some(route) => route.clone(),
        };
        let proxy_auth = set_target(&mut parts, &route, scheme, &key_authority).map_err(fail)?;
        let (tls, proxy_tls) = tls_keys(shared, &route, &key_authority, https).map_err(fail)?;
        let key = Key::new(scheme.clone(), key_authority, tls, route, proxy_tls);
        Ok(Prepared {
            is_head: parts.method == http::Method::HEAD,
            fresh: parts.extensions.get::<FreshConnection>().is_some(),
            wire: Request::from_parts(parts, Outgoing::new(body, declared)),
            uri,
            key,
            host_added,
            connection_added,
            proxy_auth,
            _body: std::marker::PhantomData,
        })
    }

    /// Turns a request hyper handed back unsent into the caller's original request.
    pub(super) fn restore(
        wire: Request<Outgoing>,
        uri: Uri,
        host_added: bool,
        connection_added: bool,
        proxy_auth: Option<Option<HeaderValue>>,
    ) -> Option<Request<B>> {
        let (mut parts, body) = wire.into_parts();
        let body = body.into_original::<B>()?;
        parts.uri = uri;
        if host_added {
            parts.headers.remove(HOST);
        }
        if connection_added {
            parts.headers.remove(CONNECTION);
        }
        if let Some(previous) = proxy_auth {
            parts.headers.remove(PROXY_AUTHORIZATION);
            if let Some(value) = previous {
                parts.headers.insert(PROXY_AUTHORIZATION, value);
            }
        }
        Some(Request::from_parts(parts, body))
    }
}

/// The scheme and authority of an absolute `http://` or `https://` URI, after checking
/// that neither it, the method nor a header value holds CR, LF or NUL (hyper writes
/// whatever it is given).
fn check<'u>(
    uri: &'u Uri,
    parts: &http::request::Parts,
) -> Result<(&'u Scheme, &'u Authority), &'static str> {
    let Some(scheme) = uri.scheme() else {
        return Err("the URI has no scheme: requests need an absolute URI");
    };
    let https = *scheme == Scheme::HTTPS;
    if *scheme != Scheme::HTTP && !https {
        return Err("unsupported URI scheme: only http and https are supported");
    }
    if https && !cfg!(feature = "tls") {
        return Err("https needs towline's `tls` feature");
    }
    let Some(authority) = uri.authority() else {
        return Err("the URI has no host: requests need an absolute URI");
    };
    if authority.host().is_empty() {
        return Err("the URI has an empty host");
    }
    if has_forbidden_byte(authority.as_str().as_bytes())
        || uri
            .path_and_query()
            .is_some_and(|p| has_forbidden_byte(p.as_str().as_bytes()))
    {
        return Err("the URI contains CR, LF or NUL");
    }
    if has_forbidden_byte(parts.method.as_str().as_bytes()) {
        return Err("the method contains CR, LF or NUL");
    }
    if parts
        .headers
        .values()
        .any(|v| has_forbidden_byte(v.as_bytes()))
    {
        return Err("a header value contains CR, LF or NUL");
    }
    Ok((scheme, authority))
}

/// The body's length as the request declares it (`Content-Length`) or as the body
/// knows it, refusing a `Content-Length` that is no number or that the body
/// contradicts.
fn declared_length<B: http_body::Body>(
    headers: &http::HeaderMap,
    body: &B,
) -> Result<Option<u64>, Error> {
    let Some(value) = headers.get(CONTENT_LENGTH) else {
        return Ok(body.size_hint().exact());
    };
    let parsed = value
        .to_str()
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let Some(n) = parsed else {
        return Err(Error::invalid_request(
            "the Content-Length header is not a number",
        ));
    };
    match body.size_hint().exact() {
        Some(exact) if exact != n => Err(Error::new(
            Kind::Body,
            Some(Box::new(LengthMismatch::new(n, exact, exact > n))),
        )),
        _ => Ok(Some(n)),
    }
}

/// Writes the request target for `route`: absolute-form with the proxy's credentials
/// for an HTTP proxy, origin-form otherwise. Returns what `Proxy-Authorization` was
/// before, when the connector changed it.
///
/// Proxy credentials come from the route alone: a caller's `Proxy-Authorization` is
/// removed on every route, since a proxy without authentication (tinyproxy) forwards
/// it to the origin, and on the other routes the origin is the recipient.
fn set_target(
    parts: &mut http::request::Parts,
    route: &Route,
    scheme: &Scheme,
    authority: &Authority,
) -> Result<Option<Option<HeaderValue>>, &'static str> {
    let path = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let caller_auth = parts.headers.remove(PROXY_AUTHORIZATION);
    let mut auth_added = false;
    if let Route::HttpProxy(endpoint) = route {
        let mut absolute = http::uri::Parts::default();
        absolute.scheme = Some(scheme.clone());
        absolute.authority = Some(authority.clone());
        absolute.path_and_query = Some(path);
        parts.uri =
            Uri::from_parts(absolute).map_err(|_| "the URI cannot be written in absolute form")?;
        if let Some(auth) = endpoint.authorization() {
            parts.headers.insert(PROXY_AUTHORIZATION, auth.clone());
            auth_added = true;
        }
    } else {
        parts.uri = Uri::from(path);
    }
    Ok((auth_added || caller_auth.is_some()).then_some(caller_auth))
}

/// The TLS configurations of a pool key: the origin's for `https`, and the proxy's
/// for an `https://` proxy.
fn tls_keys<D>(
    shared: &Shared<D>,
    route: &Route,
    authority: &Authority,
    https: bool,
) -> Result<(Option<TlsKey>, Option<TlsKey>), &'static str> {
    let tls_proxy = match route {
        Route::HttpProxy(endpoint) | Route::Tunnel(endpoint) if endpoint.is_tls() => Some(endpoint),
        _ => None,
    };
    #[cfg(feature = "tls")]
    {
        let proxy_tls = tls_proxy
            .map(|endpoint| TlsKey(shared.tls.config_for(endpoint.host(), endpoint.port())));
        let tls = https.then(|| {
            let host = authority.host();
            let host = host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host);
            let port = authority.port_u16().unwrap_or(443);
            TlsKey(shared.tls.config_for(host, port))
        });
        Ok((tls, proxy_tls))
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = (shared, authority, https);
        match tls_proxy {
            Some(_) => Err("https proxies need towline's `tls` feature"),
            None => Ok((None, None)),
        }
    }
}

/// `host[:port]` without userinfo, and without the port when it is the default.
fn host_authority(authority: &Authority, default_port: bool) -> Authority {
    let text = match (default_port, authority.port()) {
        (false, Some(port)) => format!("{}:{}", authority.host(), port.as_str()),
        _ => authority.host().to_owned(),
    };
    Authority::try_from(text.as_str()).unwrap_or_else(|_| authority.clone())
}

pub(super) fn default_port(scheme: &Scheme) -> u16 {
    if *scheme == Scheme::HTTPS { 443 } else { 80 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;
    use crate::connect::open::{dial_target, origin};

    fn prepare(uri: &str) -> Result<Prepared<Body>, Error> {
        let req = Request::get(uri).body(Body::empty()).expect("request");
        Prepared::new(req, &Connector::new().shared).map_err(|(e, _)| e)
    }

    #[test]
    fn writes_origin_form_and_host() {
        let p = prepare("http://user:pw@Example.test:80/a/b?c=d").expect("valid");
        assert_eq!(p.wire.uri(), "/a/b?c=d");
        assert_eq!(p.wire.headers()[HOST], "Example.test");
        let p = prepare("http://[::1]:8080").expect("valid");
        assert_eq!(p.wire.uri(), "/");
        assert_eq!(p.wire.headers()[HOST], "[::1]:8080");
        assert_eq!(origin(&p.key).host(), "::1");
        assert_eq!(origin(&p.key).port(), 8080);
    }

    fn prepare_via(uri: &str, route: Route, proxy_auth: Option<&str>) -> Prepared<Body> {
        prepare_on(&Connector::new(), uri, route, proxy_auth)
    }

    fn prepare_on(
        connector: &Connector,
        uri: &str,
        route: Route,
        proxy_auth: Option<&str>,
    ) -> Prepared<Body> {
        let mut req = Request::get(uri).extension(route);
        if let Some(value) = proxy_auth {
            req = req.header(PROXY_AUTHORIZATION, value);
        }
        let req = req.body(Body::empty()).expect("request");
        Prepared::new(req, &connector.shared)
            .map_err(|(e, _)| e)
            .expect("valid")
    }

    #[test]
    fn an_http_proxy_gets_absolute_form_and_its_credentials() {
        let ep = ProxyEndpoint::new("proxy.test", 3128).basic_auth("me", "pw");
        let p = prepare_via(
            "http://me:x@Origin.test:8080/a?b",
            Route::HttpProxy(ep.clone()),
            None,
        );
        assert_eq!(p.wire.uri(), "http://Origin.test:8080/a?b");
        assert_eq!(p.wire.headers()[HOST], "Origin.test:8080");
        let auth = &p.wire.headers()[PROXY_AUTHORIZATION];
        assert_eq!(auth, "Basic bWU6cHc=");
        assert!(auth.is_sensitive());
        let dst = dial_target(&p.key);
        assert_eq!(
            (dst.scheme().as_str(), dst.host(), dst.port()),
            ("http", "proxy.test", 3128)
        );
        assert!(
            !Connector::new().shared.may_h2(&p.key),
            "HTTP/1.1 to an HTTP proxy"
        );
        // Handed back unsent, the request is the caller's again.
        let back = Prepared::<Body>::restore(
            p.wire,
            p.uri,
            p.host_added,
            p.connection_added,
            p.proxy_auth,
        )
        .expect("restored");
        assert_eq!(back.uri(), "http://me:x@Origin.test:8080/a?b");
        assert!(!back.headers().contains_key(PROXY_AUTHORIZATION));
    }

    #[test]
    fn https_through_an_http_proxy_tunnels() {
        let ep = ProxyEndpoint::new("proxy.test", 3128).basic_auth("me", "pw");
        let p = prepare_via("https://origin.test/a", Route::HttpProxy(ep.clone()), None);
        assert_eq!(p.key.route, Route::Tunnel(ep));
        assert_eq!(p.wire.uri(), "/a");
        assert!(!p.wire.headers().contains_key(PROXY_AUTHORIZATION));
        assert_eq!(origin(&p.key).host(), "origin.test");
        assert_eq!(origin(&p.key).port(), 443);
    }

    #[test]
    fn proxy_authorization_never_goes_to_an_origin() {
        let ep = ProxyEndpoint::new("p.test", 1080);
        for route in [
            Route::Direct,
            Route::HttpProxy(ep.clone()),
            Route::Tunnel(ep.clone()),
            Route::Socks5 {
                endpoint: ep.clone(),
                remote_dns: true,
            },
        ] {
            let p = prepare_via("http://origin.test/", route.clone(), Some("Basic c2VjcmV0"));
            assert!(
                !p.wire.headers().contains_key(PROXY_AUTHORIZATION),
                "{route:?}"
            );
            let back = Prepared::<Body>::restore(
                p.wire,
                p.uri,
                p.host_added,
                p.connection_added,
                p.proxy_auth,
            )
            .expect("restored");
            assert_eq!(back.headers()[PROXY_AUTHORIZATION], "Basic c2VjcmV0");
        }
        // Not even to an HTTP proxy: only the route's credentials go there.
        let p = prepare_via(
            "http://origin.test/",
            Route::HttpProxy(ep.clone()),
            Some("Bearer mine"),
        );
        assert!(!p.wire.headers().contains_key(PROXY_AUTHORIZATION));
        let p = prepare_via(
            "http://origin.test/",
            Route::HttpProxy(ep.basic_auth("u", "p")),
            Some("Bearer mine"),
        );
        assert_eq!(p.wire.headers()[PROXY_AUTHORIZATION], "Basic dTpw");
        let back = Prepared::<Body>::restore(
            p.wire,
            p.uri,
            p.host_added,
            p.connection_added,
            p.proxy_auth,
        )
        .expect("restored");
        assert_eq!(back.headers()[PROXY_AUTHORIZATION], "Bearer mine");
    }

    #[test]
    fn the_pool_key_holds_the_route_and_its_credentials() {
        let connector = Connector::new();
        let prepare_via =
            |uri: &str, route: Route, auth: Option<&str>| prepare_on(&connector, uri, route, auth);
        let ep = ProxyEndpoint::new("p.test", 3128);
        let url = "https://origin.test/";
        let direct = prepare_via(url, Route::Direct, None).key;
        assert_eq!(
            direct,
            prepare_via("https://origin.test/x", Route::Direct, None).key
        );
        let tunnel = prepare_via(url, Route::Tunnel(ep.clone()), None).key;
        let alice = prepare_via(
            url,
            Route::Tunnel(ep.clone().basic_auth("alice", "a")),
            None,
        )
        .key;
        let bob = prepare_via(url, Route::Tunnel(ep.clone().basic_auth("bob", "b")), None).key;
        let socks = prepare_via(
            url,
            Route::Socks5 {
                endpoint: ep.clone(),
                remote_dns: false,
            },
            None,
        )
        .key;
        let keys = [&direct, &tunnel, &alice, &bob, &socks];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(
            tunnel,
            prepare_via(url, Route::Tunnel(ep.clone()), None).key
        );
        let tls_proxy = prepare_via(url, Route::Tunnel(ep.tls(true)), None).key;
        assert!(tls_proxy.proxy_tls.is_some());
        assert_ne!(tls_proxy, tunnel);
        let dst = dial_target(&tls_proxy);
        assert_eq!(
            (dst.scheme().as_str(), dst.host(), dst.port()),
            ("https", "p.test", 3128)
        );
        let dst = dial_target(&socks);
        assert_eq!(dst.scheme().as_str(), "socks5");
    }

    #[test]
    fn the_default_port_shares_a_pool_key() {
        let a = prepare("http://h.test/").expect("valid").key;
        let b = prepare("http://h.test:80/x").expect("valid").key;
        assert_eq!(a, b);
        let c = prepare("http://h.test:81/").expect("valid").key;
        assert_ne!(a, c);
    }

    #[test]
    fn refuses_bad_requests_before_io() {
        for uri in ["/relative", "ftp://h.test/", "ws://h.test/"] {
            let err = prepare(uri).err().expect("refused");
            assert!(err.is_invalid_request(), "{uri}: {err}");
        }
        // `http` refuses CR, LF and NUL in URIs and header values built safely; the
        // connector checks again because hyper writes whatever it is given.
        assert!(Uri::try_from("http://h.test/a\r\nb").is_err());
        assert!(has_forbidden_byte(b"a\r\nInjected: 1"));
        assert!(has_forbidden_byte(b"nul\0"));
        assert!(!has_forbidden_byte(b"tab\tok"));
    }

    #[test]
    fn content_length_that_disagrees_with_the_body_is_refused() {
        let req = Request::post("http://h.test/")
            .header(CONTENT_LENGTH, "10")
            .body(Body::from("abc"))
            .expect("request");
        let err = Prepared::new(req, &Connector::new().shared)
            .err()
            .expect("refused")
            .0;
        assert!(err.is_body());
    }
}
