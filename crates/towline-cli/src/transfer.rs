//! One URL: send the request, tell about it, and stream the response to its output.

use std::path::PathBuf;

use http::header::CONTENT_LENGTH;
use http::{Method, Uri};
use towline::{Client, Response};

use crate::exit::{Failure, Stage, code};
use crate::output::{Sink, Target};
use crate::progress::Progress;
use crate::request::Template;
use crate::verbose::{Sent, Verbose, status_line};

/// What every transfer of a run shares.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) client: Client,
    pub(crate) template: Template,
    pub(crate) verbose: Verbose,
    /// `-i`: write the response head(s) before the body.
    pub(crate) include: bool,
    /// `-I`: write the response head(s) only.
    pub(crate) head_only: bool,
    /// `-f`.
    pub(crate) fail: bool,
    /// `-s`: no progress bar.
    pub(crate) silent: bool,
    pub(crate) following: bool,
    pub(crate) browser_like: bool,
    pub(crate) unix_socket: Option<PathBuf>,
    /// `--http2-prior-knowledge`: `http://` URLs speak HTTP/2 from the first byte.
    pub(crate) prior_knowledge: bool,
}

/// Fetches `uri` and writes what it returned to `target`.
pub(crate) async fn run(ctx: &Context, uri: &Uri, target: &Target) -> Result<(), Failure> {
    let t = &ctx.template;
    let mut builder = ctx.client.request(t.method.clone(), uri.clone());
    // One by one: `RequestBuilder::headers` keeps only the first value of a name.
    for (name, value) in &t.headers {
        builder = builder.header(name, value);
    }
    if let Some((user, password)) = &t.basic_auth {
        builder = builder.basic_auth(user, Some(password));
    }
    let request = builder
        .body(t.body.body().await?)
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

    let status = response.status();
    if ctx.fail && status.as_u16() >= 400 {
        return Err(Failure::new(
            code::HTTP_RETURNED_ERROR,
            format!(
                "the requested URL returned error: {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ),
        ));
    }

    let mut sink = Sink::open(target)?;
    if ctx.include || ctx.head_only {
        sink.write(&heads(&response))?;
    }
    if ctx.head_only || t.method == Method::HEAD {
        return Ok(());
    }
    let progress = match target {
        Target::File(path) if !ctx.silent => {
            let total = response
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            Progress::new(&path.display().to_string(), total)
        }
        _ => Progress::hidden(),
    };
    let result = stream(&mut response, &mut sink, &progress, uri).await;
    progress.finish();
    result
}

/// Copies the body to the sink chunk by chunk: never more than one chunk in memory.
async fn stream(
    response: &mut Response,
    sink: &mut Sink,
    progress: &Progress,
    uri: &Uri,
) -> Result<(), Failure> {
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                sink.write(&chunk)?;
                progress.advance(chunk.len());
            }
            Ok(None) => return Ok(()),
            Err(e) => return Err(Failure::from_error(&e, Stage::Body, uri)),
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
