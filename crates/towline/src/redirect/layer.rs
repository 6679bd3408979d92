use std::sync::Arc;

use http::HeaderName;
use tower_layer::Layer;

use super::FollowRedirect;
use super::policy::{Policy, Standard};

/// The redirect limit unless set with [`FollowRedirectLayer::max_redirects`].
pub(crate) const DEFAULT_MAX_REDIRECTS: usize = 20;

/// Settings shared by the layer, the service and each response future.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) max_redirects: usize,
    pub(crate) https_downgrade: bool,
    /// Credential headers beyond the fixed three; `None` (the default) costs nothing to
    /// clone per request.
    pub(crate) sensitive: Option<Arc<[HeaderName]>>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_redirects: DEFAULT_MAX_REDIRECTS,
            https_downgrade: true,
            sensitive: None,
        }
    }
}

/// Wraps a service in [`FollowRedirect`]. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct FollowRedirectLayer<P = Standard> {
    policy: P,
    config: Config,
}

impl FollowRedirectLayer {
    /// A layer with the [`Strict`](super::Strict) policy and default settings.
    pub fn new() -> FollowRedirectLayer {
        FollowRedirectLayer::with_policy(Standard::default())
    }
}

impl Default for FollowRedirectLayer {
    fn default() -> FollowRedirectLayer {
        FollowRedirectLayer::new()
    }
}

impl<P> FollowRedirectLayer<P> {
    /// A layer with this policy and default settings.
    pub fn with_policy(policy: P) -> FollowRedirectLayer<P>
    where
        P: Policy + Clone,
    {
        FollowRedirectLayer {
            policy,
            config: Config::default(),
        }
    }

    /// The most redirects followed for one request: the `n`th is followed, the next
    /// fails with [`TooManyRedirects`](super::TooManyRedirects). `0` makes every
    /// redirect that the policy would follow an error.
    ///
    /// Default is 20.
    pub fn max_redirects(mut self, n: usize) -> Self {
        self.config.max_redirects = n;
        self
    }

    /// Whether a redirect from an https URI to an http one is followed. When it is, it
    /// goes without credentials, since its origin differs from the first request's;
    /// when it is not, the request fails with
    /// [`DowngradeRefused`](super::DowngradeRefused).
    ///
    /// Default is `true`.
    pub fn https_downgrade(mut self, allow: bool) -> Self {
        self.config.https_downgrade = allow;
        self
    }

    /// Adds a header that holds a credential, removed like `Authorization` once a
    /// redirect leaves the first request's origin (an API key header, say). Call it once
    /// per header.
    ///
    /// Default is `Authorization`, `Proxy-Authorization` and `Cookie` only.
    pub fn sensitive_header(mut self, name: HeaderName) -> Self {
        let mut names: Vec<HeaderName> = self.config.sensitive.as_deref().unwrap_or(&[]).to_vec();
        if !names.contains(&name) {
            names.push(name);
        }
        self.config.sensitive = Some(names.into());
        self
    }

    /// The policy.
    pub fn policy(&self) -> &P {
        &self.policy
    }
}

impl<S, P: Clone> Layer<S> for FollowRedirectLayer<P> {
    type Service = FollowRedirect<S, P>;

    fn layer(&self, inner: S) -> FollowRedirect<S, P> {
        FollowRedirect::from_parts(inner, self.policy.clone(), self.config.clone())
    }
}
