//! `-v`: what happened, on stderr, in curl's style (`*` notes, `>` sent, `<` received).

use std::fmt;
use std::io::Write;

use http::{HeaderMap, Method, StatusCode, Uri, Version};
use towline::Response;
use towline::connect::ConnectionInfo;

/// Prints `-v` lines on stderr, or nothing without `-v`.
#[derive(Debug)]
pub(crate) struct Verbose {
    on: bool,
}

impl Verbose {
    pub(crate) fn new(on: bool) -> Verbose {
        Verbose { on }
    }

    pub(crate) fn is_on(&self) -> bool {
        self.on
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
        let hops = response.history().map_or(0, |h| h.len());
        if hops > 0 {
            // The response tells about the last hop's connection only; whether the
            // first hop opened one comes from the pool's counter.
            let last_opened = u64::from(info.is_some_and(|i| !i.reused));
            let first = response.history().and_then(|h| h.original_uri());
            if let Some(first) = first {
                let same = first.authority() == response.effective_uri().authority();
                let addr = info.filter(|_| same).and_then(|i| i.peer_addr);
                if sent.opened > last_opened {
                    connected(first, addr);
                } else {
                    reusing(first);
                }
            }
        }
        let mut method = sent.method.clone();
        let mut first = true;
        if let Some(history) = response.history() {
            for hop in history {
                request_head(
                    hop.method(),
                    hop.uri(),
                    version,
                    first.then_some(sent.headers),
                );
                first = false;
                response_head(version, hop.status(), None, hop.headers());
                if let Some(location) = hop.location().and_then(|l| l.to_str().ok()) {
                    line(format_args!(
                        "* Issue another request to this URL: '{location}'"
                    ));
                }
                method = method_after(hop.method(), hop.status(), sent.browser_like);
            }
        }
        if let Some(info) = info {
            connection(info, response.effective_uri());
        }
        request_head(
            &method,
            response.effective_uri(),
            version,
            first.then_some(sent.headers),
        );
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

/// What was sent, as the `-v` output shows it.
#[derive(Debug)]
pub(crate) struct Sent<'a> {
    pub(crate) method: &'a Method,
    /// The headers of the first request, as set by towline (the connector adds
    /// `Host`, and the layers `Cookie` and `Accept-Encoding`, on the way).
    pub(crate) headers: &'a HeaderMap,
    pub(crate) following: bool,
    pub(crate) browser_like: bool,
    /// How many connections the pool opened for this transfer, redirects included.
    pub(crate) opened: u64,
}

/// The method of the request after a redirect, by the policy in use.
fn method_after(method: &Method, status: StatusCode, browser_like: bool) -> Method {
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
        connected(uri, info.peer_addr);
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

fn connected(uri: &Uri, addr: Option<std::net::SocketAddr>) {
    let host = uri.host().unwrap_or("");
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
        for (name, value) in headers {
            if value.is_sensitive() {
                line(format_args!("> {name}: <hidden>"));
            } else {
                line(format_args!(
                    "> {name}: {}",
                    String::from_utf8_lossy(value.as_bytes())
                ));
            }
        }
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
        line(format_args!(
            "< {name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        ));
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
        Some(reason) => String::from_utf8_lossy(reason.as_bytes()),
        None => status.canonical_reason().unwrap_or("").into(),
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

fn line(text: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    // Nowhere to report a failure to write to stderr.
    let _ = writeln!(err, "{text}");
}
