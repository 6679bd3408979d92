//! The redirect policy the [`Client`](super::Client) runs: Strict or BrowserLike,
//! with the builder's `Referer` and `https_only` rules on top.

use http::header::{HeaderMap, HeaderName, HeaderValue, REFERER};
use http::uri::{Scheme, Uri};

use super::RedirectPolicy;
use crate::error::{Classify, Kind};
use crate::redirect::{Action, Attempt, BrowserLike, FollowRedirectLayer, Policy, Strict};

/// The builder's redirect settings.
pub(super) struct Settings {
    pub(super) policy: RedirectPolicy,
    pub(super) max: usize,
    pub(super) downgrade: bool,
    pub(super) referer: bool,
    pub(super) https_only: bool,
    pub(super) sensitive: Vec<HeaderName>,
}

/// The redirect layer these settings describe, or `None` when redirects are off.
pub(super) fn layer(settings: Settings) -> Option<FollowRedirectLayer<ClientPolicy>> {
    let rule = match settings.policy {
        RedirectPolicy::None => return None,
        RedirectPolicy::Strict => Rule::Strict(Strict),
        RedirectPolicy::BrowserLike => Rule::BrowserLike(BrowserLike),
    };
    let policy = ClientPolicy {
        rule,
        referer: settings.referer,
        https_only: settings.https_only,
        from: None,
        own: false,
    };
    let layer = FollowRedirectLayer::with_policy(policy)
        .max_redirects(settings.max)
        .https_downgrade(settings.downgrade);
    Some(
        settings
            .sensitive
            .into_iter()
            .fold(layer, |layer, name| layer.sensitive_header(name)),
    )
}

/// The redirect policy the client's layer runs: one of towline's, chosen at build.
#[derive(Clone)]
pub(crate) struct ClientPolicy {
    rule: Rule,
    referer: bool,
    https_only: bool,
    /// The URI of the hop being redirected, for the next hop's `Referer`.
    from: Option<Uri>,
    /// Whether the `Referer` the next hop carries is one this policy set (rather than
    /// the caller's, which is kept).
    own: bool,
}

// `from` is left out: a URI with its query, which output must not show.
impl std::fmt::Debug for ClientPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientPolicy")
            .field("rule", &self.rule)
            .field("referer", &self.referer)
            .field("https_only", &self.https_only)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
enum Rule {
    Strict(Strict),
    BrowserLike(BrowserLike),
}

impl Policy for ClientPolicy {
    fn redirect(&mut self, attempt: &Attempt<'_>) -> Action {
        if self.https_only && attempt.location().scheme() != Some(&Scheme::HTTPS) {
            return Action::Fail(Box::new(HttpsOnlyRefused));
        }
        let action = match &mut self.rule {
            Rule::Strict(p) => p.redirect(attempt),
            Rule::BrowserLike(p) => p.redirect(attempt),
        };
        if self.referer {
            self.from = Some(attempt.uri().clone());
        }
        action
    }

    fn resends_body(&self, method: &http::Method) -> bool {
        match &self.rule {
            Rule::Strict(p) => p.resends_body(method),
            Rule::BrowserLike(p) => p.resends_body(method),
        }
    }

    fn on_follow(&mut self, uri: &Uri, headers: &mut HeaderMap) {
        let Some(from) = self.from.take() else {
            return;
        };
        if headers.contains_key(REFERER) && !self.own {
            return;
        }
        self.own = true;
        match referer(&from, uri) {
            Some(value) => headers.insert(REFERER, value),
            None => headers.remove(REFERER),
        };
    }
}

/// A redirect to a URL that is not https, refused under
/// [`https_only`](super::ClientBuilder::https_only).
#[derive(Debug)]
pub(crate) struct HttpsOnlyRefused;

impl std::fmt::Display for HttpsOnlyRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("https_only: the redirect's target is not an https URL")
    }
}

impl std::error::Error for HttpsOnlyRefused {}

impl Classify for HttpsOnlyRefused {
    const KIND: Kind = Kind::Redirect;
}

/// The `Referer` for a request to `to` that came from `from`, by the
/// `strict-origin-when-cross-origin` policy (the Referrer Policy standard's default):
/// the whole URL without userinfo or fragment to the same origin, the origin alone
/// (with a `/` path) to another, nothing from https to http.
fn referer(from: &Uri, to: &Uri) -> Option<HeaderValue> {
    let from_https = from.scheme() == Some(&Scheme::HTTPS);
    if from_https && to.scheme() != Some(&Scheme::HTTPS) {
        return None;
    }
    let scheme = from.scheme_str()?;
    let authority = from.authority()?;
    let host_port = authority
        .as_str()
        .rsplit_once('@')
        .map_or(authority.as_str(), |(_, rest)| rest);
    let same_origin = from.scheme() == to.scheme()
        && to.authority().is_some_and(|a| {
            a.host().eq_ignore_ascii_case(authority.host()) && a.port_u16() == authority.port_u16()
        });
    let text = if same_origin {
        let path = from.path_and_query().map_or("/", |p| p.as_str());
        format!("{scheme}://{host_port}{path}")
    } else {
        format!("{scheme}://{host_port}/")
    };
    HeaderValue::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn referer_of(from: &str, to: &str) -> Option<String> {
        let (from, to): (Uri, Uri) = (from.parse().expect("from"), to.parse().expect("to"));
        referer(&from, &to).map(|v| v.to_str().expect("ascii").to_owned())
    }

    #[test]
    fn referer_follows_strict_origin_when_cross_origin() {
        let cases = [
            // Same origin: the whole URL, without userinfo.
            (
                "http://u:p@a.test/x?q=1",
                "http://a.test/y",
                Some("http://a.test/x?q=1"),
            ),
            (
                "https://a.test:8443/x",
                "https://a.test:8443/z",
                Some("https://a.test:8443/x"),
            ),
            // Another origin (host, port or scheme): the origin alone.
            (
                "http://a.test/x?token=s",
                "http://b.test/",
                Some("http://a.test/"),
            ),
            (
                "http://a.test/x",
                "http://a.test:8080/",
                Some("http://a.test/"),
            ),
            ("http://a.test/x", "https://a.test/", Some("http://a.test/")),
            // https to http: nothing.
            ("https://a.test/x", "http://a.test/x", None),
        ];
        for (from, to, expected) in cases {
            assert_eq!(referer_of(from, to).as_deref(), expected, "{from} -> {to}");
        }
    }
}
