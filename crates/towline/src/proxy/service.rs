use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use tower_service::Service;

use super::layer::Config;
use super::{ProxyLayer, ProxyServer};
use crate::connect::Route;

/// Puts a [`Route`] on each request that has none, for the connector to carry out.
/// See the [module docs](super).
///
/// It adds no way to fail: its error and future are the inner service's.
#[derive(Clone)]
pub struct Proxy<S> {
    pub(super) inner: S,
    pub(super) config: Arc<Config>,
}

impl<S> Proxy<S> {
    /// Sends every `http://` and `https://` request of `inner` through `server`.
    pub fn new(inner: S, server: ProxyServer) -> Proxy<S> {
        tower_layer::Layer::layer(&ProxyLayer::new(server), inner)
    }

    /// A [`ProxyLayer`] sending everything through `server`.
    pub fn layer(server: ProxyServer) -> ProxyLayer {
        ProxyLayer::new(server)
    }

    inner_service_accessors!();
}

impl<S: fmt::Debug> fmt::Debug for Proxy<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("inner", &self.inner)
            .field(
                "config",
                &ProxyLayer {
                    config: self.config.clone(),
                },
            )
            .finish()
    }
}

impl<S, B> Service<Request<B>> for Proxy<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> S::Future {
        // A route the caller chose wins.
        if req.extensions().get::<Route>().is_none() {
            if let Some(route) = self.config.route_for(req.uri()) {
                req.extensions_mut().insert(route);
            }
        }
        debug!(
            target: "towline::proxy",
            uri = %crate::redact::Redaction::of(req.extensions()).uri(req.uri()),
            route = %crate::connect::RouteLabel(
                req.extensions().get::<Route>().unwrap_or(&Route::Direct)
            ),
            "route chosen"
        );
        self.inner.call(req)
    }
}
