//! Building the client's stack of layers, and calling it through one box.

use std::future::Future;
use std::pin::Pin;

use http::{Request, Uri};
use tokio::time::Instant;
use tower::ServiceExt;
use tower::util::{Either, MapErr, MapResponse};
use tower_service::Service;

use super::body::{self, ResponseBody};
use crate::body::Body;
use crate::connect::{Connector, Dial};
use crate::error::{BoxError, Error, Kind, TimedOut};

pub(crate) type BoxedResponse =
    Pin<Box<dyn Future<Output = Result<http::Response<ResponseBody>, Error>> + Send>>;

/// The body the layers return, boxed once so every configuration has one type.
pub(crate) type InnerBody = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, BoxError>;

fn boxed<B>(response: http::Response<B>) -> http::Response<InnerBody>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    use http_body_util::BodyExt;
    response.map(|body| body.map_err(Into::into).boxed_unsync())
}

/// [`boxed`], marking a decoded body for the buffered-read cap.
#[cfg(feature = "decompress")]
fn boxed_decoded<B>(
    mut response: http::Response<crate::decompress::DecompressionBody<B>>,
) -> http::Response<InnerBody>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    if let Some(coding) = response.body().decoded_coding() {
        response.extensions_mut().insert(body::Decoded(coding));
    }
    boxed(response)
}

fn to_box(err: Error) -> BoxError {
    Box::new(err)
}

/// Per-call settings the stack applies around the layers.
pub(crate) struct Params {
    /// When the response must have arrived, and the URI to name in the error.
    pub(crate) deadline: Option<(Instant, Uri)>,
    pub(crate) read_timeout: Option<std::time::Duration>,
    /// How errors show the request's URI.
    pub(crate) redaction: crate::redact::Redaction,
    /// The cap on buffered reads of the body (`bytes`, `text`, `json`).
    pub(crate) max_buffered: Option<u64>,
}

/// The stack with its type erased: called through `&self`, one box per request.
pub(crate) trait Stack: Send + Sync + 'static {
    fn call(&self, request: Request<Body>, params: Params) -> BoxedResponse;
}

impl<S> Stack for S
where
    S: Service<Request<Body>, Response = http::Response<InnerBody>, Error = BoxError>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    fn call(&self, request: Request<Body>, params: Params) -> BoxedResponse {
        // Every layer is a few `Arc`s: cloning is a handful of reference counts.
        let service = self.clone();
        Box::pin(async move {
            let Params {
                deadline,
                read_timeout,
                redaction,
                max_buffered,
            } = params;
            let call = service.oneshot(request);
            let failed = |e: BoxError| Error::from_service(e).with_redaction(&redaction);
            let Some((deadline, uri)) = deadline else {
                let response = call.await.map_err(failed)?;
                return Ok(body::wrap(
                    response,
                    None,
                    read_timeout,
                    redaction,
                    max_buffered,
                ));
            };
            match tokio::time::timeout_at(deadline, call).await {
                Ok(response) => {
                    let response = response.map_err(failed)?;
                    Ok(body::wrap(
                        response,
                        Some(deadline),
                        read_timeout,
                        redaction,
                        max_buffered,
                    ))
                }
                Err(_) => Err(Error::new(
                    Kind::Timeout,
                    Some(Box::new(TimedOut::new("the request (timeout)"))),
                )
                .with_uri(uri)
                .with_redaction(&redaction)),
            }
        })
    }
}

/// The settings of each layer, from the builder.
pub(crate) struct Layers {
    pub(crate) retry: bool,
    #[cfg(feature = "proxy")]
    pub(crate) proxy: Option<crate::proxy::ProxyLayer>,
    #[cfg(feature = "cookies")]
    pub(crate) cookies: Option<crate::cookie::Jar>,
    #[cfg(feature = "redirect")]
    pub(crate) redirect:
        Option<crate::redirect::FollowRedirectLayer<super::redirects::ClientPolicy>>,
    #[cfg(feature = "decompress")]
    pub(crate) decompress: Option<crate::decompress::DecompressionLayer>,
}

/// Stacks the layers on the connector, bottom up, and erases the type.
pub(crate) fn build<D: Dial>(connector: Connector<D>, layers: Layers) -> std::sync::Arc<dyn Stack> {
    #[cfg(feature = "retry")]
    let service = if layers.retry {
        Either::Left(crate::retry::RetryStale::new(connector))
    } else {
        Either::Right(connector)
    };
    #[cfg(not(feature = "retry"))]
    let service = {
        let _ = layers.retry;
        Either::<Connector<D>, Connector<D>>::Right(connector)
    };

    // Layers that add failures return `BoxError`; both arms of each choice must agree.
    let service = MapErr::new(service, to_box as fn(Error) -> BoxError);

    #[cfg(feature = "proxy")]
    let service = match layers.proxy {
        Some(layer) => Either::Left(tower_layer::Layer::layer(&layer, service)),
        None => Either::Right(service),
    };

    #[cfg(feature = "cookies")]
    let service = match layers.cookies {
        Some(jar) => Either::Left(crate::cookie::Cookies::new(service, jar)),
        None => Either::Right(service),
    };

    #[cfg(feature = "redirect")]
    let service = match layers.redirect {
        Some(layer) => Either::Left(tower_layer::Layer::layer(&layer, service)),
        None => Either::Right(service),
    };

    #[cfg(feature = "decompress")]
    let service = match layers.decompress {
        Some(layer) => Either::Left(MapResponse::new(
            tower_layer::Layer::layer(&layer, service),
            boxed_decoded,
        )),
        None => Either::Right(MapResponse::new(service, boxed)),
    };
    #[cfg(not(feature = "decompress"))]
    let service = MapResponse::new(service, boxed);

    std::sync::Arc::new(service)
}
