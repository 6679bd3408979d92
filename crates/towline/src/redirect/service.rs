use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::FollowRedirectLayer;
use super::future::{Replay, ResponseFuture, Session};
use super::layer::Config;
use super::policy::{Policy, Standard};
use crate::BoxError;
use crate::body::ReplayBody;

/// Follows redirects of the requests it sends to the inner service. See the
/// [module docs](super).
#[derive(Clone, Debug)]
pub struct FollowRedirect<S, P = Standard> {
    inner: S,
    policy: P,
    config: Config,
}

impl<S> FollowRedirect<S> {
    /// Wraps `inner` with the [`Strict`](super::Strict) policy and default settings.
    pub fn new(inner: S) -> FollowRedirect<S> {
        FollowRedirect::from_parts(inner, Standard::default(), Config::default())
    }

    /// A layer that wraps services in `FollowRedirect`, to configure.
    pub fn layer() -> FollowRedirectLayer {
        FollowRedirectLayer::new()
    }
}

impl<S, P> FollowRedirect<S, P> {
    /// Wraps `inner` with this policy and default settings.
    pub fn with_policy(inner: S, policy: P) -> FollowRedirect<S, P>
    where
        P: Policy + Clone,
    {
        FollowRedirect::from_parts(inner, policy, Config::default())
    }

    pub(super) fn from_parts(inner: S, policy: P, config: Config) -> FollowRedirect<S, P> {
        FollowRedirect {
            inner,
            policy,
            config,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }

    inner_service_accessors!();
}

impl<S, P, B, ResB> Service<Request<B>> for FollowRedirect<S, P>
where
    S: Service<Request<B>, Response = Response<ResB>> + Clone,
    S::Error: Into<BoxError>,
    P: Policy + Clone,
    B: ReplayBody + Default,
    ResB: http_body::Body,
{
    type Response = Response<ResB>;
    type Error = BoxError;
    type Future = ResponseFuture<S, B, P, ResB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let policy = self.policy.clone();
        // Taken now, since the inner service consumes the body; see the module docs for
        // what this costs.
        let body = if policy.resends_body(request.method()) {
            request
                .body()
                .try_replay()
                .map_or(Replay::Unavailable, Replay::Copy)
        } else {
            Replay::Unavailable
        };
        // Call the instance that was polled ready; keep a clone for the next call.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let session = Session::new(inner, policy, self.config.clone(), &request, body);
        ResponseFuture::start(session, request)
    }
}
