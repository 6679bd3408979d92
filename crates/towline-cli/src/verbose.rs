//! `-v`: what happened, on stderr, in curl's style (`*` notes, `>` sent, `<` received).

use std::fmt;
use std::io::Write;

use http::{HeaderMap, Method, StatusCode, Uri, Version};
use towline::Response;
use towline::connect::{ConnectionInfo, RequestHead};

use crate::dial_log::{DialLog, Dialed};

/// Prints `-v` lines on stderr, or nothing without `-v`.
#[derive(Debug)]
pub(crate) struct Verbose {
    on: bool,
    dials: DialLog,
}

impl Verbose {
    pub(crate) fn new(on: bool) -> Verbose {
        Verbose {
            on,
            dials: DialLog::default(),
        }
    }

    pub(crate) fn is_on(&self) -> bool {
        self.on
    }

    /// Where the client's dialer notes the connections it opens, for `-v`.
    pub(crate) fn dial_log(&self) -> &DialLog {
        &self.dials
    }

    /// What is known of a transfer that failed before its response head: the
    /// connections it opened, the request head when the request got as far as being
    /// sent, then the error.
    pub(crate) fn failed(&self, uri: &Uri, sent: &Sent<'_>, err: &towline::Error) {
        if !self.on {
            return;
        }
        for dialed in self.dials.take() {
            connected(dialed.destination.host(), dialed.peer_addr);
        }
        if let Some(too_many) = find::<towline::redirect::TooManyRedirects>(err) {
            let mut dials = self.dials.take();
            dials.reverse();
            let history = too_many.history().hops();
            // The version of the hops is not kept; towline speaks HTTP/1.1 unless
            // the connection said h2.
            let version = history
                .first()
                .and_then(|hop| hop.extensions().get::<ConnectionInfo>())
                .map_or(sent.version, |info| info.version);
            hops(history, None, &mut dials, version, sent);
            line(format_args!(
                "* Maximum ({}) redirects followed",
                too_many.limit()
            ));
            line(format_args!("* {}", err.report()));
            return;
        }
        let never_sent = err.is_connect() || err.is_tls() || err.is_resolve() || err.is_proxy();
        if !never_sent && !err.is_invalid_request() {
            request_head(sent.method, uri, sent.version, Some(sent.headers));
        }
        line(format_args!("* {}", err.report()));
    }

    /// `* text`.
    pub(crate) fn info(&self, text: fmt::Arguments<'_>) {
        if self.on {
            line(format_args!("* {text}"));
        }
    }

    /// `*   Trying host:port...`, before a request is sent.
    pub(crate) fn trying(&self, uri: &Uri, unix_socket: Option<&std::path::Path>) {
        if !self.on {
            return;
        }
        match unix_socket {
            Some(path) => line(format_args!(
                "*   Trying {} over the Unix socket {}...",
                authority(uri),
                path.display()
            )),
            None => line(format_args!("*   Trying {}...", authority(uri))),
        }
    }

    /// The whole exchange once the response head is in: the connection, each
    /// redirect, the final request and the response head.
    pub(crate) fn exchange(&self, sent: &Sent<'_>, response: &Response) {
        if !self.on {
            return;
        }
        let version = response.version();
        let info = response.connection_info();
        // Each hop's response tells about its connection; the dialer's notes, in
        // order, stand in where one does not.
        let mut dials = self.dials.take();
        dials.reverse();
        let mut method = sent.method.clone();
        let mut first = true;
        if let Some(history) = response.history() {
            method = hops(
                history.hops(),
                Some(response.effective_uri()),
                &mut dials,
                version,
                sent,
            );
            first = history.hops().is_empty();
        }
        if let Some(info) = info {
            if !info.reused {
                take_dial(&mut dials, response.effective_uri());
            }
            connection(info, response.effective_uri());
        }
        match response.extensions().get::<RequestHead>() {
            Some(head) => head_as_sent(head, version),
            None => request_head(
                &method,
                response.effective_uri(),
                version,
                first.then_some(sent.headers),
            ),
        }
        response_head(
            version,
            response.status(),
            response.extensions().get(),
            response.headers(),
        );
        if response.status().is_redirection() && sent.following && method == Method::POST {
            line(format_args!(
                "* Not following a {} to {method}: towline's -L is strict (--browser-redirects turns POST into GET)",
                response.status().as_u16()
            ));
        }
    }
}

/// Each redirect hop: its connection, its request head as sent (or, without the
/// connector's record, as towline set it on the first hop), its response head, and
/// where it led (the next hop's absolute URI; `last_next` after the last hop).
/// Returns the method the next request uses.
fn hops(
    hops: &[towline::redirect::Hop],
    last_next: Option<&Uri>,
    dials: &mut Vec<Dialed>,
    version: Version,
    sent: &Sent<'_>,
) -> Method {
    let mut method = sent.method.clone();
    for (i, hop) in hops.iter().enumerate() {
        match hop.extensions().get::<ConnectionInfo>() {
            Some(info) => {
                if !info.reused {
                    take_dial(dials, hop.uri());
                }
                connection(info, hop.uri());
            }
            None => match take_dial(dials, hop.uri()) {
                Some(dialed) => connected(host(hop.uri()), dialed.peer_addr),
                None => reusing(hop.uri()),
            },
        }
        match hop.extensions().get::<RequestHead>() {
            Some(head) => head_as_sent(head, version),
            None => request_head(
                hop.method(),
                hop.uri(),
                version,
                (i == 0).then_some(sent.headers),
            ),
        }
        response_head(version, hop.status(), None, hop.headers());
        let next = hops.get(i + 1).map(|next| next.uri()).or(last_next);
        if let Some(next) = next {
            // Userinfo and secret query parameters hidden, as in the CLI's other output.
            let redaction = towline::redact::Redaction::new();
            let next = redaction.uri(next);
            line(format_args!(
                "* Issue another request to this URL: '{next}'"
            ));
        }
        method = method_after(hop.method(), hop.status(), sent.browser_like);
    }
    method
}

/// The first cause of type `E` in the error's `source()` chain.
fn find<E: std::error::Error + 'static>(err: &towline::Error) -> Option<&E> {
    let mut next = std::error::Error::source(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// The next noted connection (`dials` is newest first), when it went to `uri`'s host
/// or to a proxy.
fn take_dial(dials: &mut Vec<Dialed>, uri: &Uri) -> Option<Dialed> {
    let next = dials.last()?;
    let scheme = next.destination.scheme().as_str();
    let proxied = scheme != "http" && scheme != "https";
    if proxied || next.destination.host() == host(uri) {
        dials.pop()
    } else {
        None
    }
}

fn host(uri: &Uri) -> &str {
    uri.host()
        .map_or("", |h| h.trim_start_matches('[').trim_end_matches(']'))
}

/// What was sent, as the `-v` output shows it.
#[derive(Debug)]
pub(crate) struct Sent<'a> {
    pub(crate) method: &'a Method,
    /// The HTTP version the request goes out in, as far as known before it is sent.
    pub(crate) version: Version,
    /// The headers of the first request, as set by towline (the connector adds
    /// `Host`, and the layers `Cookie` and `Accept-Encoding`, on the way).
    pub(crate) headers: &'a HeaderMap,
    pub(crate) following: bool,
    pub(crate) browser_like: bool,
}

/// The method of the request after a redirect, by the policy in use.
pub(crate) fn method_after(method: &Method, status: StatusCode, browser_like: bool) -> Method {
    let to_get = match status.as_u16() {
        303 => *method != Method::HEAD,
        301 | 302 => browser_like && *method == Method::POST,
        _ => false,
    };
    if to_get { Method::GET } else { method.clone() }
}

fn connection(info: &ConnectionInfo, uri: &Uri) {
    if info.reused {
        reusing(uri);
    } else {
        connected(host(uri), info.peer_addr);
    }
    if let Some(tls) = info.tls_version {
        let alpn = info
            .alpn_protocol
            .as_ref()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_else(|| "none".to_owned());
        line(format_args!(
            "* TLS connection using {} / ALPN: {alpn}",
            tls_name(tls)
        ));
    }
    if info.version == Version::HTTP_2 {
        line(format_args!("* Using HTTP/2"));
    }
}

/// `* Connected to host (ip) port N`.
fn connected(host: &str, addr: Option<std::net::SocketAddr>) {
    match addr {
        Some(addr) => line(format_args!(
            "* Connected to {host} ({}) port {}",
            addr.ip(),
            addr.port()
        )),
        None => line(format_args!("* Connected to {host}")),
    }
}

fn reusing(uri: &Uri) {
    let host = uri.host().unwrap_or("");
    line(format_args!(
        "* Re-using existing connection with host {host}"
    ));
}

fn tls_name(version: towline::tls::rustls::ProtocolVersion) -> String {
    use towline::tls::rustls::ProtocolVersion as V;
    match version {
        V::TLSv1_3 => "TLSv1.3".to_owned(),
        V::TLSv1_2 => "TLSv1.2".to_owned(),
        other => format!("{other:?}"),
    }
}

/// The request as the connector handed it to the connection, with the headers the
/// layers added; `version` is the response's.
fn head_as_sent(head: &RequestHead, version: Version) {
    let sent = if version == Version::HTTP_2 {
        "HTTP/2"
    } else {
        "HTTP/1.1"
    };
    line(format_args!("> {} {} {sent}", head.method(), head.target()));
    header_lines(head.headers());
    line(format_args!(">"));
}

fn header_lines(headers: &HeaderMap) {
    for (name, value) in headers {
        if let Some(redacted) = redacted(name, value.as_bytes()) {
            line(format_args!("> {name}: {redacted}"));
        } else if value.is_sensitive() {
            line(format_args!("> {name}: <hidden>"));
        } else {
            line(format_args!("> {name}: {}", escaped(value.as_bytes())));
        }
    }
}

/// The request line and headers; `version` is the response's, and towline sends
/// HTTP/1.1 unless it speaks HTTP/2.
fn request_head(method: &Method, uri: &Uri, version: Version, headers: Option<&HeaderMap>) {
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let sent = if version == Version::HTTP_2 {
        "HTTP/2"
    } else {
        "HTTP/1.1"
    };
    line(format_args!("> {method} {target} {sent}"));
    if !headers.is_some_and(|h| h.contains_key(http::header::HOST)) {
        line(format_args!("> Host: {}", authority(uri)));
    }
    if let Some(headers) = headers {
        header_lines(headers);
    }
    line(format_args!(">"));
}

fn response_head(
    version: Version,
    status: StatusCode,
    reason: Option<&hyper::ext::ReasonPhrase>,
    headers: &HeaderMap,
) {
    line(format_args!("< {}", status_line(version, status, reason)));
    for (name, value) in headers {
        match redacted(name, value.as_bytes()) {
            Some(redacted) => line(format_args!("< {name}: {redacted}")),
            None => line(format_args!("< {name}: {}", escaped(value.as_bytes()))),
        }
    }
    line(format_args!("<"));
}

/// `HTTP/1.1 200 OK`, or `HTTP/2 200` as curl writes it. The reason phrase is the
/// server's when hyper kept it (it keeps one only when it is not the standard one),
/// else the standard one.
pub(crate) fn status_line(
    version: Version,
    status: StatusCode,
    reason: Option<&hyper::ext::ReasonPhrase>,
) -> String {
    let reason = match reason {
        Some(reason) => escaped(reason.as_bytes()),
        None => status.canonical_reason().unwrap_or("").to_owned(),
    };
    if version == Version::HTTP_2 {
        format!("HTTP/2 {}", status.as_u16())
    } else {
        format!("{} {} {reason}", version_name(version), status.as_u16())
    }
}

/// `HTTP/1.1`, `HTTP/2`.
pub(crate) fn version_name(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

fn authority(uri: &Uri) -> String {
    match uri.authority() {
        Some(a) => {
            let auth = a.as_str();
            // Never print userinfo.
            auth.rsplit_once('@')
                .map_or(auth, |(_, host)| host)
                .to_owned()
        }
        None => String::new(),
    }
}

/// A credential's value with its secret part hidden: each cookie's value (its name,
/// and a `Set-Cookie`'s attributes, kept), or an authorization's credentials (its
/// scheme kept). `None` for other headers.
fn redacted(name: &http::HeaderName, value: &[u8]) -> Option<String> {
    use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, SET_COOKIE};
    let text = String::from_utf8_lossy(value);
    if *name == SET_COOKIE {
        // The cookie's value hidden, its name and attributes kept.
        let (pair, attributes) = text.split_once(';').unwrap_or((&text, ""));
        let name = pair.split_once('=').map_or("", |(name, _)| name.trim());
        let sep = if attributes.is_empty() { "" } else { ";" };
        return Some(format!("{name}=<hidden>{sep}{attributes}"));
    }
    if *name == COOKIE {
        let pairs: Vec<String> = text
            .split(';')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) => format!("{}=<hidden>", name.trim()),
                None => "<hidden>".to_owned(),
            })
            .collect();
        return Some(pairs.join("; "));
    }
    if *name == AUTHORIZATION || *name == PROXY_AUTHORIZATION {
        return Some(match text.split_once(' ') {
            Some((scheme, _)) => format!("{scheme} <hidden>"),
            None => "<hidden>".to_owned(),
        });
    }
    None
}

/// A header value as text: UTF-8 as it is, any other byte as `\xNN` (never replaced
/// by U+FFFD, so what the server sent can be read back).
fn escaped(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

fn line(text: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    // Nowhere to report a failure to write to stderr.
    let _ = writeln!(err, "{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_names_and_schemes_kept() {
        let cookie = http::header::COOKIE;
        assert_eq!(
            redacted(&cookie, b"a=1; b=two;c").as_deref(),
            Some("a=<hidden>; b=<hidden>; <hidden>")
        );
        let auth = http::header::AUTHORIZATION;
        assert_eq!(
            redacted(&auth, b"Basic dXNlcjpwYXNz").as_deref(),
            Some("Basic <hidden>")
        );
        assert_eq!(redacted(&auth, b"token").as_deref(), Some("<hidden>"));
        assert_eq!(redacted(&http::header::ACCEPT, b"*/*"), None);
        let set = http::header::SET_COOKIE;
        assert_eq!(
            redacted(&set, b"sid=abc; Path=/; HttpOnly").as_deref(),
            Some("sid=<hidden>; Path=/; HttpOnly")
        );
        assert_eq!(redacted(&set, b"sid=abc").as_deref(), Some("sid=<hidden>"));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_escaped() {
        assert_eq!(escaped(b"a\xffb\xc3\xa9\xc3"), "a\\xFFb\u{e9}\\xC3");
        assert_eq!(escaped(b"plain"), "plain");
    }
}
