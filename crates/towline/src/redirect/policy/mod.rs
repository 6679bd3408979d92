//! Deciding what to do with each redirect.
//!
//! A [`Policy`] is asked once per redirect response (301, 302, 303, 307 or 308 with a
//! usable `Location`) and answers with an [`Action`]. Two come with towline, after
//! Twisted's agents:
//!
//! | status | [`Strict`] (`RedirectAgent`) | [`BrowserLike`] (`BrowserLikeRedirectAgent`) |
//! | --- | --- | --- |
//! | 301, 302 | GET, HEAD: follow; others: hand back | POST: follow as GET; others: follow |
//! | 303 | follow as GET (HEAD stays HEAD) | follow as GET (HEAD stays HEAD) |
//! | 307, 308 | GET, HEAD: follow; others: hand back | follow |
//!
//! "Follow" keeps the method and the body (which must be replayable); "follow as GET"
//! drops the body and its `Content-*` headers. [`from_fn`] makes a policy of a closure.
//!
//! The layer clones its policy once per request, before the first hop, so a policy may
//! keep state for one chain of redirects (a count, the hosts seen) in `&mut self`.

mod browser_like;
mod from_fn;
mod strict;

use http::{HeaderMap, Method, StatusCode, Uri};

use crate::BoxError;

pub use browser_like::BrowserLike;
pub use from_fn::{PolicyFn, from_fn};
pub use strict::Strict;

/// The policy a [`FollowRedirectLayer`](super::FollowRedirectLayer) uses unless told
/// otherwise.
pub type Standard = Strict;

/// Decides, for each redirect, whether and how to follow it. See the
/// [module docs](self).
///
/// Some decisions are not the policy's to make. Before asking, the layer hands back
/// responses that are not 301, 302, 303, 307 or 308 or lack a usable `Location`, and
/// fails on targets that are not http or https. After a follow decision, it enforces
/// the redirect limit, the https downgrade setting and the removal of credentials.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a redirect policy",
    label = "expected a `towline::redirect::Policy`",
    note = "use `Strict`, `BrowserLike`, or a closure wrapped in `towline::redirect::policy::from_fn`"
)]
pub trait Policy {
    /// What to do with this redirect.
    fn redirect(&mut self, attempt: &Attempt<'_>) -> Action;

    /// Whether this policy may answer [`Action::Follow`] for a request with `method`,
    /// which sends its body again.
    ///
    /// The layer asks before the first hop and keeps a copy of the body (with
    /// [`ReplayBody::try_replay`](crate::body::ReplayBody::try_replay)) only when the
    /// answer is `true`; when it is `false` and the policy answers `Follow` anyway, the
    /// redirect is handed back as it is. Returning `false` where the policy never keeps
    /// a body (Strict for POST) saves that copy. Default is `true`.
    fn resends_body(&self, method: &Method) -> bool {
        let _ = method;
        true
    }

    /// Called with the next request's URI and headers just before it is sent, after the
    /// layer has removed credentials and body headers. Default does nothing.
    ///
    /// A policy may add headers here (a `Referer`), or deliberately put back a
    /// credential for a target it trusts.
    fn on_follow(&mut self, uri: &Uri, headers: &mut HeaderMap) {
        let _ = (uri, headers);
    }
}

/// What a [`Policy`] decides for one redirect.
#[derive(Debug)]
#[non_exhaustive]
pub enum Action {
    /// Follow with the same method and body. If the body cannot be sent again, the
    /// redirect response is handed back instead.
    Follow,
    /// Follow with GET (a HEAD stays HEAD), without the body and without the
    /// `Content-*` and `Transfer-Encoding` headers.
    FollowAsGet,
    /// Hand the redirect response to the caller as it is.
    Stop,
    /// Fail the request with this error.
    Fail(BoxError),
}

/// A redirect response, as shown to a [`Policy`].
///
/// Its `Debug` shows the URIs and headers redacted (see [`crate::redact`]).
pub struct Attempt<'a> {
    pub(crate) status: StatusCode,
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) location: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) redirects: usize,
    pub(crate) redaction: &'a crate::redact::Redaction,
}

impl std::fmt::Debug for Attempt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("status", &self.status)
            .field("method", self.method)
            .field("uri", &self.redaction.uri(self.uri))
            .field("location", &self.redaction.uri(self.location))
            .field(
                "headers",
                &crate::redact::Headers(self.headers, self.redaction),
            )
            .field("redirects", &self.redirects)
            .finish()
    }
}

impl Attempt<'_> {
    /// The redirect status: 301, 302, 303, 307 or 308.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The method of the request that was redirected.
    pub fn method(&self) -> &Method {
        self.method
    }

    /// The URI of the request that was redirected.
    pub fn uri(&self) -> &Uri {
        self.uri
    }

    /// The target: the `Location` header resolved against [`uri`](Self::uri), always an
    /// absolute http or https URI.
    pub fn location(&self) -> &Uri {
        self.location
    }

    /// The headers of the redirect response.
    pub fn headers(&self) -> &HeaderMap {
        self.headers
    }

    /// How many redirects were already followed for this request.
    pub fn redirects(&self) -> usize {
        self.redirects
    }
}

fn is_get_or_head(method: &Method) -> bool {
    *method == Method::GET || *method == Method::HEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    // The trait stays object safe, so policies can be boxed by users.
    fn _object_safe(_: &mut dyn Policy) {}

    fn _policies_are_send_sync_clone() {
        fn check<P: Policy + Clone + Send + Sync + 'static>() {}
        check::<Strict>();
        check::<BrowserLike>();
        check::<PolicyFn<fn(&Attempt<'_>) -> Action>>();
    }
}
