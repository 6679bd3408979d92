use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Buf;
use http::header::{AUTHORIZATION, COOKIE, HOST, LOCATION, PROXY_AUTHORIZATION, TRANSFER_ENCODING};
use http::{
    Extensions, HeaderMap, HeaderName, Method, Request, Response, StatusCode, Uri, Version,
};
use http_body::Body as HttpBody;
use tower_service::Service;

use super::history::Hop;
use super::layer::Config;
use super::policy::{Action, Attempt, Policy};
use super::resolve::{
    ResolveError, Resolved, is_http, is_https, resolve, same_authority, same_origin,
};
use super::{
    ConflictingLocations, DowngradeRefused, RedirectHistory, TooManyRedirects, UnsupportedScheme,
};
use crate::BoxError;
use crate::body::ReplayBody;
use crate::body::drain::{self, DRAIN_LIMIT, DRAIN_WAIT};
use crate::connect::EffectiveUri;
use crate::redact::Redaction;

pin_project_lite::pin_project! {
    /// The future of a [`FollowRedirect`](super::FollowRedirect) call.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, B, P, ResB>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S::Future, ResB, B>,
        session: Session<S, B, P>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, ResB, B> {
        /// A hop is in flight.
        Calling {
            #[pin]
            future: F,
        },
        /// The redirect response's body is read to its end so its connection can go back
        /// to the pool, for at most `DRAIN_WAIT`; `next` is sent after.
        Draining {
            #[pin]
            body: ResB,
            #[pin]
            deadline: tokio::time::Sleep,
            read: u64,
            next: Option<Request<B>>,
        },
        /// The next hop waits for the service to be ready.
        Ready {
            next: Option<Request<B>>,
        },
    }
}

/// What a request's chain of redirects needs between hops.
pub(super) struct Session<S, B, P> {
    service: S,
    policy: P,
    config: Config,
    method: Method,
    /// The URI of the hop in flight.
    uri: Uri,
    version: Version,
    /// The headers for the next hop: the caller's, less what redirects removed.
    headers: HeaderMap,
    extensions: Extensions,
    body: Replay<B>,
    history: Vec<Hop>,
    /// Credentials were removed, for good.
    stripped: bool,
    fragment: Option<String>,
    /// Where the redirect being decided points, once resolved: for the event that
    /// says why it is not followed.
    target: Option<Uri>,
}

/// A body to send again when a redirect keeps the method.
pub(super) enum Replay<B> {
    /// The request has no body any more (it was turned into GET).
    Empty,
    /// A copy of the caller's body.
    Copy(B),
    /// The body could not be copied, or the policy said it never resends it.
    Unavailable,
}

enum Step<ResB, B> {
    /// The response goes to the caller.
    Done(Response<ResB>),
    Fail(BoxError),
    /// Follow the redirect: drain `body` when `drain` says it is worth it (else drop
    /// it), then send `next`.
    Follow {
        body: ResB,
        drain: bool,
        next: Request<B>,
    },
}

impl<S, B, P> Session<S, B, P> {
    pub(super) fn new(
        service: S,
        policy: P,
        config: Config,
        request: &Request<B>,
        body: Replay<B>,
    ) -> Session<S, B, P> {
        Session {
            service,
            policy,
            config,
            method: request.method().clone(),
            uri: request.uri().clone(),
            version: request.version(),
            headers: request.headers().clone(),
            extensions: request.extensions().clone(),
            body,
            history: Vec::new(),
            stripped: false,
            fragment: None,
            target: None,
        }
    }

    /// How this request's URIs are shown in output.
    fn redaction(&self) -> &Redaction {
        Redaction::of(&self.extensions)
    }

    /// Marks `response` as the final one.
    fn finish<ResB>(&mut self, mut response: Response<ResB>) -> Response<ResB> {
        let extensions = response.extensions_mut();
        // Without a redirect, a connector below that set the effective URI (towline's
        // does) set this very one.
        if !self.history.is_empty() || extensions.get::<EffectiveUri>().is_none() {
            extensions.insert(EffectiveUri(mem::take(&mut self.uri)));
        }
        if !self.history.is_empty() {
            extensions.insert(RedirectHistory::new(
                mem::take(&mut self.history),
                self.fragment.take(),
            ));
        }
        response
    }

    fn strip_credentials(&mut self) {
        for name in [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE] {
            self.headers.remove(name);
        }
        if let Some(names) = &self.config.sensitive {
            for name in names.iter() {
                self.headers.remove(name);
            }
        }
        self.stripped = true;
    }
}

/// Why a redirect is not followed: the response goes back to the caller, or the
/// request fails. Each is logged once, in [`Session::refuse`].
enum Refusal {
    HandBack(&'static str),
    Fail(BoxError, &'static str),
}

/// A redirect that will be followed.
struct Plan<B> {
    target: Resolved,
    keep_method: bool,
    body: B,
}

impl<S, B, P> Session<S, B, P>
where
    P: Policy,
    B: ReplayBody + Default,
{
    /// Decides what to do with the response to the hop in flight.
    fn step<ResB: HttpBody>(&mut self, response: Response<ResB>) -> Step<ResB, B> {
        if !is_redirect(response.status()) {
            return Step::Done(self.finish(response));
        }
        match self.plan(&response) {
            Ok(plan) => self.follow(plan, response),
            Err(refusal) => self.refuse(refusal, response),
        }
    }

    /// Where the redirect goes and how, or why it is not followed.
    fn plan<ResB>(&mut self, response: &Response<ResB>) -> Result<Plan<B>, Refusal> {
        let location = location(response.headers(), &self.uri, self.redaction())?;
        let target = match resolve(&self.uri, self.fragment.as_deref(), location) {
            Ok(target) => target,
            Err(ResolveError::Unusable) => {
                return Err(Refusal::HandBack("its Location is not a usable URI"));
            }
            Err(ResolveError::Scheme(scheme)) => {
                let err =
                    UnsupportedScheme::new(scheme, self.uri.clone(), self.redaction().clone());
                return Err(Refusal::Fail(
                    Box::new(err),
                    "the target's scheme is not http or https",
                ));
            }
        };
        self.target = Some(target.uri.clone());
        let action = self.policy.redirect(&Attempt {
            status: response.status(),
            method: &self.method,
            uri: &self.uri,
            location: &target.uri,
            headers: response.headers(),
            redirects: self.history.len(),
            redaction: Redaction::of(&self.extensions),
        });
        let keep_method = match action {
            Action::Follow => true,
            Action::FollowAsGet => false,
            Action::Stop => return Err(Refusal::HandBack("the policy stopped")),
            Action::Fail(err) => return Err(Refusal::Fail(err, "the policy refused")),
        };
        let body = if keep_method {
            let copy = match &self.body {
                Replay::Empty => Some(B::default()),
                Replay::Copy(body) => body.try_replay(),
                Replay::Unavailable => None,
            };
            copy.ok_or(Refusal::HandBack("the request body cannot be sent again"))?
        } else {
            B::default()
        };
        if self.history.len() >= self.config.max_redirects {
            let method = self.method.clone();
            let mut history = mem::take(&mut self.history);
            history.push(Hop::new(
                method,
                self.uri.clone(),
                response.status(),
                response.headers().clone(),
                self.redaction().clone(),
                response.extensions().clone(),
            ));
            let history = RedirectHistory::new(history, target.fragment);
            let err = TooManyRedirects::new(self.config.max_redirects, history);
            return Err(Refusal::Fail(Box::new(err), "too many redirects"));
        }
        if !self.config.https_downgrade && is_https(&self.uri) && is_http(&target.uri) {
            let err = DowngradeRefused::new(self.uri.clone(), target.uri, self.redaction().clone());
            return Err(Refusal::Fail(Box::new(err), "from https to http"));
        }
        Ok(Plan {
            target,
            keep_method,
            body,
        })
    }

    /// Logs why the redirect in `response` is not followed, and ends the chain.
    fn refuse<ResB>(&mut self, refusal: Refusal, response: Response<ResB>) -> Step<ResB, B> {
        let (followed, reason) = match &refusal {
            Refusal::HandBack(reason) => ("not followed", reason),
            Refusal::Fail(_, reason) => ("refused", reason),
        };
        let redaction = crate::redact::Redaction::of(&self.extensions);
        if let Some(to) = self.target.take() {
            debug!(
                target: "towline::redirect",
                status = response.status().as_u16(),
                method = %self.method,
                from = %redaction.uri(&self.uri),
                to = %redaction.uri(&to),
                max_redirects = self.config.max_redirects,
                "redirect {followed}: {reason}"
            );
            let _ = to;
        } else {
            debug!(
                target: "towline::redirect",
                status = response.status().as_u16(),
                method = %self.method,
                from = %redaction.uri(&self.uri),
                "redirect {followed}: {reason}"
            );
        }
        let _ = (followed, reason, redaction);
        match refusal {
            Refusal::HandBack(_) => Step::Done(self.finish(response)),
            Refusal::Fail(err, _) => Step::Fail(err),
        }
    }

    /// Moves the session to the target of `plan` and builds the next hop's request.
    fn follow<ResB: HttpBody>(&mut self, plan: Plan<B>, response: Response<ResB>) -> Step<ResB, B> {
        let Plan {
            target,
            keep_method,
            body,
        } = plan;
        self.target = None;
        let (parts, response_body) = response.into_parts();
        let drain = drain::worth_draining(parts.version, &parts.headers, &response_body);
        let previous_uri = mem::replace(&mut self.uri, target.uri);
        let method = match (keep_method, &self.method) {
            (true, method) => method.clone(),
            (false, &Method::HEAD) => Method::HEAD,
            (false, _) => Method::GET,
        };
        let previous_method = mem::replace(&mut self.method, method);
        if !same_authority(&previous_uri, &self.uri) {
            // A `Host` the caller set named the previous authority.
            self.headers.remove(HOST);
        }
        self.history.push(Hop::new(
            previous_method,
            previous_uri,
            parts.status,
            parts.headers,
            self.redaction().clone(),
            parts.extensions,
        ));
        if !keep_method {
            remove_body_headers(&mut self.headers);
            self.body = Replay::Empty;
        }
        let left_first_origin = self
            .history
            .first()
            .is_some_and(|first| !same_origin(first.uri(), &self.uri));
        let strip = !self.stripped && left_first_origin;
        if strip {
            self.strip_credentials();
        }
        #[cfg(feature = "tracing")]
        if let Some(hop) = self.history.last() {
            debug!(
                target: "towline::redirect",
                status = parts.status.as_u16(),
                from = %crate::redact::Redaction::of(&self.extensions).uri(hop.uri()),
                to = %crate::redact::Redaction::of(&self.extensions).uri(&self.uri),
                method = %self.method,
                method_changed = *hop.method() != self.method,
                credentials_stripped = strip,
                redirects = self.history.len(),
                "following redirect"
            );
        }
        if target.fragment.is_some() {
            self.fragment = target.fragment;
        }
        self.policy.on_follow(&self.uri, &mut self.headers);

        let mut next = Request::new(body);
        *next.method_mut() = self.method.clone();
        *next.uri_mut() = self.uri.clone();
        *next.version_mut() = self.version;
        *next.headers_mut() = self.headers.clone();
        *next.extensions_mut() = self.extensions.clone();
        Step::Follow {
            body: response_body,
            drain,
            next,
        }
    }
}

/// The redirect's one `Location`, trimmed: `None` (not a redirect to follow) when there
/// is none or it is empty; an error when there are several that differ.
fn location<'h>(
    headers: &'h HeaderMap,
    from: &Uri,
    redaction: &Redaction,
) -> Result<&'h [u8], Refusal> {
    let mut values = headers.get_all(LOCATION).iter();
    let Some(first) = values.next() else {
        return Err(Refusal::HandBack("it has no Location"));
    };
    let first = first.as_bytes().trim_ascii();
    if values.any(|other| other.as_bytes().trim_ascii() != first) {
        let err = ConflictingLocations::new(from.clone(), redaction.clone());
        return Err(Refusal::Fail(Box::new(err), "two different Locations"));
    }
    if first.is_empty() {
        return Err(Refusal::HandBack("its Location is empty"));
    }
    Ok(first)
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Removes the headers that describe a body: every `Content-*` and `Transfer-Encoding`.
fn remove_body_headers(headers: &mut HeaderMap) {
    let names: Vec<HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("content-"))
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
    headers.remove(TRANSFER_ENCODING);
}

impl<S, B, P, ResB> ResponseFuture<S, B, P, ResB>
where
    S: Service<Request<B>>,
{
    pub(super) fn start(mut session: Session<S, B, P>, request: Request<B>) -> Self {
        let future = session.service.call(request);
        ResponseFuture {
            state: State::Calling { future },
            session,
        }
    }
}

impl<S, B, P, ResB> Future for ResponseFuture<S, B, P, ResB>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    S::Error: Into<BoxError>,
    P: Policy,
    B: ReplayBody + Default,
    ResB: HttpBody,
{
    type Output = Result<Response<ResB>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { future } => {
                    let response = ready!(future.poll(cx)).map_err(Into::into)?;
                    match this.session.step(response) {
                        Step::Done(response) => return Poll::Ready(Ok(response)),
                        Step::Fail(err) => return Poll::Ready(Err(err)),
                        Step::Follow { body, drain, next } => {
                            let next = Some(next);
                            // Draining waits with tokio's timer; without a runtime the
                            // body is dropped.
                            let runtime = tokio::runtime::Handle::try_current().is_ok();
                            if drain && runtime && !body.is_end_stream() {
                                this.state.set(State::Draining {
                                    body,
                                    deadline: tokio::time::sleep(DRAIN_WAIT),
                                    read: 0,
                                    next,
                                });
                            } else {
                                // Dropping it closes the connection (unless it was over).
                                drop(body);
                                this.state.set(State::Ready { next });
                            }
                        }
                    }
                }
                StateProj::Draining {
                    mut body,
                    deadline,
                    read,
                    next,
                } => {
                    while !body.is_end_stream() {
                        match body.as_mut().poll_frame(cx) {
                            Poll::Ready(Some(Ok(frame))) => {
                                if let Some(data) = frame.data_ref() {
                                    *read += data.remaining() as u64;
                                    if *read > DRAIN_LIMIT {
                                        break;
                                    }
                                }
                            }
                            // A failed body only costs its connection.
                            Poll::Ready(Some(Err(_)) | None) => break,
                            Poll::Pending => {
                                // Waited long enough: dropping the body closes the
                                // connection.
                                ready!(deadline.poll(cx));
                                break;
                            }
                        }
                    }
                    let next = next.take();
                    this.state.set(State::Ready { next });
                }
                StateProj::Ready { next } => {
                    ready!(this.session.service.poll_ready(cx)).map_err(Into::into)?;
                    let Some(request) = next.take() else {
                        return Poll::Ready(Err("redirect future polled after completion".into()));
                    };
                    let future = this.session.service.call(request);
                    this.state.set(State::Calling { future });
                }
            }
        }
    }
}

impl<S, B, P, ResB> fmt::Debug for ResponseFuture<S, B, P, ResB>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("redirect::ResponseFuture")
            .field("redirects", &self.session.history.len())
            .finish_non_exhaustive()
    }
}
