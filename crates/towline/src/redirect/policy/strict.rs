use http::{Method, StatusCode};

use super::{Action, Attempt, Policy, is_get_or_head};

/// Follows redirects as Twisted's `RedirectAgent` does, which is the
/// [`Standard`](super::Standard) policy.
///
/// 301, 302, 307 and 308 are followed only for GET and HEAD, with the method kept; any
/// other method gets the redirect response back. 303 is followed as GET (HEAD stays
/// HEAD, where Twisted would send GET: HEAD asks for the head of the response, which a
/// GET would download whole). See the [module docs](super) for the full table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Strict;

impl Policy for Strict {
    fn redirect(&mut self, attempt: &Attempt<'_>) -> Action {
        match attempt.status() {
            StatusCode::SEE_OTHER => Action::FollowAsGet,
            _ if is_get_or_head(attempt.method()) => Action::Follow,
            _ => Action::Stop,
        }
    }

    fn resends_body(&self, method: &Method) -> bool {
        is_get_or_head(method)
    }
}
