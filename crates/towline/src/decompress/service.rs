//! The decompression service.

use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, RANGE};
use http::{Method, Request, Response};
use tower_service::Service;

use super::future::ResponseFuture;
use super::layer::Config;
use super::{DecompressionBody, DecompressionLayer};
use crate::error::BoxError;

/// Asks for compressed responses and decodes them as they stream.
///
/// Made by [`DecompressionLayer`], or with every default by [`Decompression::new`]. See
/// the [module docs](super).
#[derive(Clone, Debug)]
pub struct Decompression<S> {
    inner: S,
    config: Config,
}

impl<S> Decompression<S> {
    /// Wraps `inner` with every default (see [`DecompressionLayer::new`]).
    pub fn new(inner: S) -> Decompression<S> {
        Decompression::with_config(inner, Config::default())
    }

    pub(crate) fn with_config(inner: S, config: Config) -> Decompression<S> {
        Decompression { inner, config }
    }

    inner_service_accessors!();
}

impl Decompression<()> {
    /// A layer to configure and apply to services; the same as
    /// [`DecompressionLayer::new`].
    ///
    /// (Defined on `Decompression<()>` so that `Decompression::layer()` needs no type
    /// annotation.)
    pub fn layer() -> DecompressionLayer {
        DecompressionLayer::new()
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for Decompression<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ResB: http_body::Body<Data = Bytes>,
    ResB::Error: Into<BoxError>,
{
    type Response = Response<DecompressionBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqB>) -> Self::Future {
        let headers = request.headers_mut();
        // A caller's own Accept-Encoding stands. A range request gets none: a range of
        // coded bytes could not be decoded.
        if let Some(accept) = &self.config.accept {
            if !headers.contains_key(ACCEPT_ENCODING) && !headers.contains_key(RANGE) {
                headers.insert(ACCEPT_ENCODING, accept.clone());
            }
        }
        let head = request.method() == Method::HEAD;
        ResponseFuture::new(self.inner.call(request), self.config.settings.clone(), head)
    }
}
