use http::{Method, StatusCode};

use super::{Action, Attempt, Policy};

/// Follows redirects as browsers do (the Fetch standard), like Twisted's
/// `BrowserLikeRedirectAgent`.
///
/// A POST answered with 301 or 302 is followed as GET, as is any request answered
/// with 303 (HEAD stays HEAD). Every other redirect is followed with the method and
/// body kept: PUT and DELETE on 301 and 302 (where Twisted would switch to GET too, and
/// browsers do not), and every method on 307 and 308. See the [module docs](super).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BrowserLike;

impl Policy for BrowserLike {
    fn redirect(&mut self, attempt: &Attempt<'_>) -> Action {
        match attempt.status() {
            StatusCode::SEE_OTHER => Action::FollowAsGet,
            StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND
                if *attempt.method() == Method::POST =>
            {
                Action::FollowAsGet
            }
            _ => Action::Follow,
        }
    }
}
