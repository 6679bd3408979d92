//! Proxies: HTTP proxies, `CONNECT` tunnels, SOCKS5, and the environment's settings.
//!
//! [`ProxyLayer`] decides, for each request, whether it goes through a proxy and puts
//! that decision on the request as a [`Route`] extension; the
//! [`Connector`](crate::connect::Connector) carries it out. The layer leaves the URI
//! alone (the connector alone picks the wire form) and never overrides a `Route` the
//! caller set on a request. It replaces Twisted's `ProxyAgent`, which sends `https://`
//! requests to the proxy in the clear; here they always tunnel.
//!
//! Put it *below* [`FollowRedirectLayer`](crate::redirect::FollowRedirectLayer) (closer
//! to the connector), as the `Client` does, so that every hop gets its own route: the
//! redirect layer copies a request's extensions to the next hop, so a `Route` chosen
//! above it would follow a redirect to another host and skip that host's `NO_PROXY`
//! check.
//!
//! | proxy URI | `http://` requests | `https://` requests |
//! | --- | --- | --- |
//! | `http://proxy:3128` | absolute-form to the proxy | `CONNECT`, then TLS with the origin inside the tunnel |
//! | `https://proxy:443` | as above, over TLS to the proxy | as above, TLS inside TLS |
//! | `socks5://proxy:1080` | SOCKS5; names resolved here | SOCKS5, then TLS with the origin |
//! | `socks5h://proxy:1080` | SOCKS5; names resolved by the proxy | as above |
//!
//! The origin's certificate is verified as on a direct connection, with the
//! connector's [`TlsPolicy`](crate::tls::TlsPolicy) for the origin's host; an
//! `https://` proxy's certificate with the same policy for the proxy's host.
//!
//! # Credentials
//!
//! A username and password in the proxy URI (percent-decoded: `%40` for `@`) go to the
//! proxy only: as `Proxy-Authorization: Basic`, marked sensitive, on each request to an
//! HTTP proxy, or on the `CONNECT` request of a tunnel; or as SOCKS5 username and
//! password (RFC 1929). They never reach the origin. The connector removes a
//! `Proxy-Authorization` header set by the caller from every request, since a proxy
//! that does no authentication passes it on to the origin (see [`Route`]). Connections
//! made with different credentials are never shared.
//!
//! # Failures
//!
//! The layer adds no way to fail: its errors are the inner service's. A proxy that
//! cannot be reached, refuses a tunnel, or breaks the SOCKS5 handshake makes the
//! connector fail with an error that is [`is_proxy()`](crate::Error::is_proxy) and holds
//! a [`ProxyError`] with the proxy's status (`407` means credentials are needed) or a
//! SOCKS5 reply in words ("connection refused by destination host"). An HTTP proxy's
//! answer to a forwarded `http://` request, `407` included, is an ordinary response.
//! Settings that do not parse are a [`ProxyConfigError`] when the layer is built.
//!
//! # Example
//!
//! The proxies of the environment (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`,
//! `NO_PROXY`), as curl reads them:
//!
//! ```
//! use tower::ServiceBuilder;
//! use towline::{connect::Connector, proxy::ProxyLayer};
//!
//! # fn main() -> Result<(), towline::proxy::ProxyConfigError> {
//! let client = ServiceBuilder::new()
//!     .layer(ProxyLayer::from_env()?)
//!     .service(Connector::new());
//! # let _ = client;
//! # Ok(()) }
//! ```
//!
//! One proxy with credentials, except for internal hosts, and a SOCKS5 proxy for one
//! domain:
//!
//! ```
//! use towline::connect::Route;
//! use towline::proxy::{NoProxy, ProxyLayer, ProxyServer};
//!
//! # fn main() -> Result<(), towline::proxy::ProxyConfigError> {
//! let corporate = ProxyServer::parse("http://me:s%40cret@proxy.corp.test:3128")?;
//! let layer = ProxyLayer::new(corporate.clone())
//!     .no_proxy(NoProxy::parse("localhost, .corp.test, 10.0.0.0/8"));
//! let route = |uri: &str| layer.route_for(&uri.parse().expect("URI"));
//!
//! assert!(matches!(route("http://example.test/"), Some(Route::HttpProxy(_))));
//! assert!(matches!(route("https://example.test/"), Some(Route::Tunnel(_))));
//! assert_eq!(route("http://wiki.corp.test/"), None); // direct
//! assert_eq!(route("http://10.1.2.3/"), None);
//!
//! let onion = ProxyServer::parse("socks5h://127.0.0.1:9050")?;
//! let layer = ProxyLayer::from_fn(move |uri| {
//!     let host = uri.host()?;
//!     if host.ends_with(".onion") { Some(onion.clone()) } else { Some(corporate.clone()) }
//! });
//! let route = layer.route_for(&"http://abc.onion/".parse().expect("URI"));
//! assert!(matches!(route, Some(Route::Socks5 { remote_dns: true, .. })));
//! # Ok(()) }
//! ```
//!
//! A route can also be chosen per request, without the layer:
//!
//! ```
//! use towline::connect::{ProxyEndpoint, Route};
//!
//! let request = http::Request::get("http://example.test/")
//!     .extension(Route::Socks5 {
//!         endpoint: ProxyEndpoint::new("127.0.0.1", 1080),
//!         remote_dns: true,
//!     })
//!     .body(towline::Body::empty())
//!     .expect("valid request");
//! # let _ = request;
//! ```

mod layer;
mod no_proxy;
mod server;
mod service;
#[cfg(test)]
mod tests;

pub use crate::connect::{ProxyEndpoint, ProxyError, Route};
pub use layer::ProxyLayer;
pub use no_proxy::NoProxy;
pub use server::{ProxyConfigError, ProxyProtocol, ProxyServer};
pub use service::Proxy;
