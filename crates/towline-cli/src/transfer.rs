//! One URL: send the request, tell about it, and stream the response to its output.

use std::path::PathBuf;
use std::time::Instant;

use http::header::CONTENT_LENGTH;
use http::{Method, Uri};
use towline::{Client, Response};

use crate::exit::{Failure, Stage, code};
use crate::output::{Sink, Target};
use crate::progress::Progress;
use crate::request::Template;
use crate::verbose::{Sent, Verbose, status_line};
use crate::write_out::Metrics;

/// What every transfer of a run shares.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) client: Client,
    /// The request of the first URL.
    pub(crate) template: Template,
    /// The request of the other URLs, when it differs (`-T` goes with the first only).
    pub(crate) later: Option<Template>,
    pub(crate) verbose: Verbose,
    /// `-i`: write the response head(s) before the body.
    pub(crate) include: bool,
    /// `-I`: write the response head(s) only.
    pub(crate) head_only: bool,
    /// `-f`.
    pub(crate) fail: bool,
    /// `--fail-with-body`: exit code 22 on a status of 400 or above, body written.
    pub(crate) fail_with_body: bool,
    /// `--max-filesize`.
    pub(crate) max_filesize: Option<u64>,
    /// `-s`: no progress bar.
    pub(crate) silent: bool,
    pub(crate) following: bool,
    pub(crate) browser_like: bool,
    pub(crate) unix_socket: Option<PathBuf>,
    /// `--http2-prior-knowledge`: `http://` URLs speak HTTP/2 from the first byte.
    pub(crate) prior_knowledge: bool,
}

/// Fetches `uri` and writes what it returned to `target`, noting what `-w` shows in
/// `metrics`.
pub(crate) async fn run(
    ctx: &Context,
    template: &Template,
    uri: &Uri,
    target: &Target,
    metrics: &mut Metrics,
) -> Result<(), Failure> {
    let start = Instant::now();
    let (connects_before, _) = ctx.verbose.dial_log().counted();
    let result = exchange(ctx, template, uri, target, metrics, start).await;
    let (connects, last_connect) = ctx.verbose.dial_log().counted();
    metrics.num_connects = connects - connects_before;
    if metrics.num_connects > 0 {
        metrics.time_connect = last_connect.map(|at| at.saturating_duration_since(start));
    }
    metrics.time_total = start.elapsed();
    result
}

/// The transfer itself: the request, the response head, the body to its output.
async fn exchange(
    ctx: &Context,
    t: &Template,
    uri: &Uri,
    target: &Target,
    metrics: &mut Metrics,
    start: Instant,
) -> Result<(), Failure> {
    metrics.url = Some(uri.clone());
    metrics.referer = t
        .headers
        .get(http::header::REFERER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    metrics.method = Some(t.method.clone());
    metrics.https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
    if let Target::File(path) = target {
        metrics.filename = Some(path.display().to_string());
    }
    let mut builder = ctx.client.request(t.method.clone(), uri.clone());
    // One by one: `RequestBuilder::headers` keeps only the first value of a name.
    for (name, value) in &t.headers {
        builder = builder.header(name, value);
    }
    if let Some((user, password)) = &t.basic_auth {
        builder = builder.basic_auth(user, Some(password));
    }
    let (body, form_type) = t.body.body().await?;
    if let Some(form_type) = form_type {
        if !t.headers.contains_key(http::header::CONTENT_TYPE) {
            builder = builder.header(http::header::CONTENT_TYPE, form_type);
        }
    }
    metrics.size_upload = body.content_length().unwrap_or(0);
    let request = builder
        .body(body)
        .build()
        // The URL and headers were checked already: what is left is the -u text.
        .map_err(|e| {
            Failure::new(
                code::USAGE,
                format!("could not build the request: {}", e.report()),
            )
        })?;
    let sent_headers = request.headers().clone();

    ctx.verbose.trying(uri, ctx.unix_socket.as_deref());
    let prior_knowledge = ctx.prior_knowledge && uri.scheme() == Some(&http::uri::Scheme::HTTP);
    let sent = Sent {
        method: &t.method,
        version: if prior_knowledge {
            http::Version::HTTP_2
        } else {
            http::Version::HTTP_11
        },
        headers: &sent_headers,
        following: ctx.following,
        browser_like: ctx.browser_like,
    };
    let mut response = ctx.client.execute(request).await.map_err(|e| {
        ctx.verbose.failed(uri, &sent, &e);
        let failure = Failure::from_error(&e, Stage::Request, uri);
        if prior_knowledge {
            failure.prior_knowledge_refused(&e)
        } else {
            failure
        }
    })?;
    ctx.verbose.exchange(&sent, &response);
    note_response(&response, metrics, ctx, t, start);

    let status = response.status();
    let http_error = Failure::new(
        code::HTTP_RETURNED_ERROR,
        format!(
            "the requested URL returned error: {} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        ),
    );
    if ctx.fail && status.as_u16() >= 400 {
        return Err(http_error);
    }
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let failed_with_body = ctx.fail_with_body && status.as_u16() >= 400;

    // Checked after the head that -i and -I write, as curl does, and before any of
    // the body (and before the output file is created, when there is no head).
    let too_large = ctx
        .max_filesize
        .filter(|&max| declared.is_some_and(|len| len > max));
    let with_head = ctx.include || ctx.head_only;
    if let (Some(max), false) = (too_large, with_head) {
        return Err(too_big(max));
    }
    let mut sink = Sink::open(target)?;
    if with_head {
        sink.write(&heads(&response))?;
    }
    if let Some(max) = too_large {
        return Err(too_big(max));
    }
    if ctx.head_only || t.method == Method::HEAD {
        return if failed_with_body {
            Err(http_error)
        } else {
            Ok(())
        };
    }
    let progress = match target {
        Target::File(path) if !ctx.silent => Progress::new(&path.display().to_string(), declared),
        _ => Progress::hidden(),
    };
    let limits = Limits {
        max: ctx.max_filesize,
        uri,
    };
    let result = stream(&mut response, &mut sink, &progress, &limits, metrics).await;
    progress.finish();
    result?;
    if failed_with_body {
        return Err(http_error);
    }
    Ok(())
}

/// curl's 63: the body is larger than `--max-filesize`.
fn too_big(max: u64) -> Failure {
    Failure::new(
        code::FILESIZE_EXCEEDED,
        format!("Maximum file size exceeded (--max-filesize {max})"),
    )
}

/// What -w tells of the response head.
fn note_response(
    response: &Response,
    metrics: &mut Metrics,
    ctx: &Context,
    t: &Template,
    start: Instant,
) {
    metrics.time_starttransfer = Some(start.elapsed());
    metrics.status = Some(response.status().as_u16());
    metrics.version = Some(response.version());
    metrics.headers = Some(response.headers().clone());
    let effective = response.effective_uri().clone();
    metrics.https = effective.scheme() == Some(&http::uri::Scheme::HTTPS);
    if let Some(history) = response.history() {
        metrics.num_redirects = history.hops().len();
        let mut method = t.method.clone();
        for hop in history.hops() {
            method = crate::verbose::method_after(hop.method(), hop.status(), ctx.browser_like);
        }
        metrics.method = Some(method);
    }
    if let Some(info) = response.connection_info() {
        metrics.remote = info.peer_addr;
        metrics.local = info.local_addr;
    }
    if response.status().is_redirection() {
        metrics.redirect_url = response
            .headers()
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|location| {
                let base = url::Url::parse(&effective.to_string()).ok()?;
                towline::uri::from_url(&base.join(location).ok()?).ok()
            });
    }
    metrics.effective = Some(effective);
}

/// What limits the body read.
struct Limits<'a> {
    /// `--max-filesize`.
    max: Option<u64>,
    /// The URL, for the error of a broken body.
    uri: &'a Uri,
}

/// Copies the body to the sink chunk by chunk: never more than one chunk in memory.
/// Stops with curl's 63 before writing past `--max-filesize`.
async fn stream(
    response: &mut Response,
    sink: &mut Sink,
    progress: &Progress,
    limits: &Limits<'_>,
    metrics: &mut Metrics,
) -> Result<(), Failure> {
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let total = metrics.size_download.saturating_add(chunk.len() as u64);
                if let Some(max) = limits.max {
                    if total > max {
                        return Err(too_big(max));
                    }
                }
                sink.write(&chunk)?;
                metrics.size_download = total;
                progress.advance(chunk.len());
            }
            Ok(None) => return Ok(()),
            Err(e) => return Err(Failure::from_error(&e, Stage::Body, limits.uri)),
        }
    }
}

/// The response head as `-i` writes it, after the heads of any redirects followed.
fn heads(response: &Response) -> Vec<u8> {
    let version = response.version();
    let mut out = Vec::new();
    let mut head = |status, reason, headers: &http::HeaderMap| {
        out.extend_from_slice(status_line(version, status, reason).as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in headers {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    };
    if let Some(history) = response.history() {
        for hop in history {
            // A hop keeps its status and headers only: its reason is the standard one.
            head(hop.status(), None, hop.headers());
        }
    }
    head(
        response.status(),
        response.extensions().get(),
        response.headers(),
    );
    out
}
