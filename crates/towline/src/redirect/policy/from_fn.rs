use std::fmt;

use super::{Action, Attempt, Policy};

/// Makes a [`Policy`] of a closure called for each redirect.
///
/// The closure is cloned with the policy, once per request, so it may count or remember
/// in its captured state. Its body is copied for every request whose method it might
/// keep (see [`Policy::resends_body`]); build on [`Strict`](super::Strict) or
/// [`BrowserLike`](super::BrowserLike) by calling their [`Policy::redirect`].
///
/// ```
/// use towline::redirect::{Action, BrowserLike, FollowRedirectLayer, Policy, policy};
///
/// // Browser-like, but never leave the example.com hosts.
/// let layer = FollowRedirectLayer::with_policy(policy::from_fn(|attempt| {
///     match attempt.location().host() {
///         Some(h) if h == "example.com" || h.ends_with(".example.com") => {
///             BrowserLike.redirect(attempt)
///         }
///         _ => Action::Stop,
///     }
/// }));
/// # let _ = layer;
/// ```
pub fn from_fn<F>(f: F) -> PolicyFn<F>
where
    F: FnMut(&Attempt<'_>) -> Action,
{
    PolicyFn { f }
}

/// A [`Policy`] made of a closure by [`from_fn`].
#[derive(Clone, Copy)]
pub struct PolicyFn<F> {
    f: F,
}

impl<F> Policy for PolicyFn<F>
where
    F: FnMut(&Attempt<'_>) -> Action,
{
    fn redirect(&mut self, attempt: &Attempt<'_>) -> Action {
        (self.f)(attempt)
    }
}

impl<F> fmt::Debug for PolicyFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyFn").finish_non_exhaustive()
    }
}
