//! Building the one towline `Client` every URL of a run goes through.

use std::time::Duration;

use towline::Client;
use towline::client::RedirectPolicy;
use towline::cookie::{CookiesTxt, Jar};
use towline::proxy::{NoProxy, ProxyLayer, ProxyServer};
use towline::tls::TlsConfig;

use crate::args::Args;
use crate::exit::{Failure, code};
use crate::overrides::Overrides;
use crate::verbose::Verbose;

/// curl's limit on redirects followed with `-L`.
const DEFAULT_MAX_REDIRS: usize = 50;

/// curl's default connect timeout.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(300);

/// The client, and the cookie jar when the cookie engine is on.
#[derive(Debug)]
pub(crate) struct Built {
    pub(crate) client: Client,
    pub(crate) jar: Option<Jar>,
}

/// Builds the client as curl's options ask: no redirects unless `-L`, no decoding
/// unless `--compressed`, cookies only with `-b FILE` or `-c`.
pub(crate) fn build(args: &Args, verbose: &Verbose) -> Result<Built, Failure> {
    let mut builder = Client::builder()
        // The request template sets User-Agent and Accept, so that `-H 'Name:'` can
        // remove them.
        .default_headers(http::HeaderMap::new())
        .retry_stale(!args.no_retry_stale)
        .connect_timeout(args.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
        .timeout(args.max_time)
        // Without --compressed, no Accept-Encoding is sent and no body is decoded.
        .decompression(args.compressed)
        // The body streams to its output, so a large decoded body costs no memory;
        // curl sets no limit either.
        .decoded_limit(None::<u64>)
        .http2_prior_knowledge(args.http2_prior_knowledge);
    if let Some(bytes) = args.max_header_size {
        builder = builder.max_header_size(bytes);
    }
    if let Some(n) = args.max_headers {
        builder = builder.max_headers(n);
    }

    let follow = args.location || args.browser_redirects;
    builder = if follow {
        let max = match args.max_redirs {
            None => DEFAULT_MAX_REDIRS,
            Some(-1) => usize::MAX,
            Some(n) => usize::try_from(n).map_err(|_| {
                Failure::new(
                    code::USAGE,
                    format!("--max-redirs {n}: expected a number from -1 up"),
                )
            })?,
        };
        let policy = if args.browser_redirects {
            RedirectPolicy::BrowserLike
        } else {
            RedirectPolicy::Strict
        };
        builder.redirect(policy).max_redirects(max)
    } else {
        builder.redirect(RedirectPolicy::None)
    };

    let jar = cookie_jar(args, verbose);
    builder = match &jar {
        Some(jar) => builder.cookie_jar(jar.clone()),
        None => builder.cookies(false),
    };

    if let Some(proxies) = proxy(args)? {
        builder = builder.proxy(proxies);
    }
    builder = builder.tls_config(tls(args)?);

    // -v prints each hop's request as it was sent, layers' headers included.
    builder = builder.connector(|c| c.record_request_heads(verbose.is_on()));
    let log = verbose.dial_log();
    // The dialer notes connections for -v, and counts and times them for -w;
    // --resolve and --connect-to change where a TCP connection goes.
    let noted = verbose.is_on() || args.write_out.is_some();
    let overrides = Overrides::parse(&args.resolve, &args.connect_to)?;
    let tcp = || overrides.wrap(towline::connect::TcpDialer::new());
    let client = match (&args.unix_socket, noted) {
        (Some(path), false) => builder.build_with_dialer(towline::connect::UnixDialer::new(path)),
        (Some(path), true) => {
            builder.build_with_dialer(log.wrap(towline::connect::UnixDialer::new(path)))
        }
        (None, false) if overrides.is_empty() => builder.build(),
        (None, false) => builder.build_with_dialer(tcp()),
        (None, true) => builder.build_with_dialer(log.wrap(tcp())),
    }
    .map_err(|e| {
        Failure::new(
            code::USAGE,
            format!("could not set up the client: {}", e.report()),
        )
    })?;
    Ok(Built { client, jar })
}

/// The jar, loaded from every `-b FILE`, when `-b FILE` or `-c` turns the engine on.
fn cookie_jar(args: &Args, verbose: &Verbose) -> Option<Jar> {
    let files: Vec<&String> = args.cookie.iter().filter(|c| !c.contains('=')).collect();
    if files.is_empty() && args.cookie_jar.is_none() {
        return None;
    }
    let jar = Jar::new();
    for file in files {
        if file.is_empty() {
            continue;
        }
        // As curl does, a file that cannot be read just adds no cookies.
        match CookiesTxt::new().load(&jar, file) {
            Ok(report) => {
                verbose.info(format_args!(
                    "Loaded {} cookies from {file}",
                    report.loaded()
                ));
                for skipped in report.skipped() {
                    verbose.info(format_args!("Skipped a cookie in {file}: {skipped}"));
                }
            }
            Err(e) => verbose.info(format_args!("Could not read cookies from {file}: {e}")),
        }
    }
    Some(jar)
}

/// `-x` and `--noproxy`, or the environment's proxies as curl reads them.
fn proxy(args: &Args) -> Result<Option<ProxyLayer>, Failure> {
    let layer = match &args.proxy {
        Some(uri) if uri.trim().is_empty() => None,
        Some(uri) => {
            let server = ProxyServer::parse(uri).map_err(|e| {
                let shown = towline::redact::Redaction::new().text(uri);
                Failure::new(code::USAGE, format!("bad proxy '{shown}': {e}"))
            })?;
            Some(ProxyLayer::new(server))
        }
        // A Unix socket goes to one place: the environment's proxies do not apply.
        None if args.unix_socket.is_some() => None,
        None => Some(ProxyLayer::from_env().map_err(|e| {
            Failure::new(
                code::USAGE,
                format!("bad proxy setting in the environment: {e}"),
            )
        })?),
    };
    Ok(layer.map(|layer| match &args.noproxy {
        Some(list) => layer.no_proxy(NoProxy::parse(list)),
        None => layer,
    }))
}

/// `-k`, `--cacert`, `--cert`/`--key` and `--http1.1`; each file is checked on its
/// own so that its failure gets curl's code (77 for the CA file, 58 for the client
/// certificate).
fn tls(args: &Args) -> Result<towline::tls::TlsConfigBuilder, Failure> {
    let mut tls = TlsConfig::builder()
        .danger_accept_invalid_certs(args.insecure)
        .http2(!args.http1_1);
    match &args.cacert {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                Failure::new(
                    code::SSL_CACERT_BADFILE,
                    format!("could not read the CA file {}: {e}", path.display()),
                )
            })?;
            TlsConfig::builder()
                .replace_roots_pem(&pem)
                .build()
                .map_err(|e| {
                    Failure::new(
                        code::SSL_CACERT_BADFILE,
                        format!(
                            "the CA file {} cannot be used: {}",
                            path.display(),
                            e.report()
                        ),
                    )
                })?;
            tls = tls.replace_roots_pem(&pem);
        }
        // The system's roots besides the bundled ones, as curl trusts the system's.
        None => tls = tls.native_roots(true),
    }
    if let Some(cert) = &args.cert {
        let key = args.key.as_ref().unwrap_or(cert);
        let read = |path: &std::path::Path| {
            std::fs::read(path).map_err(|e| {
                Failure::new(
                    code::SSL_CERTPROBLEM,
                    format!("could not read {}: {e}", path.display()),
                )
            })
        };
        let (cert_pem, key_pem) = (read(cert)?, read(key)?);
        TlsConfig::builder()
            .client_auth_pem(&cert_pem, &key_pem)
            .build()
            .map_err(|e| {
                Failure::new(
                    code::SSL_CERTPROBLEM,
                    format!("the client certificate cannot be used: {}", e.report()),
                )
            })?;
        tls = tls.client_auth_pem(&cert_pem, &key_pem);
    } else if args.key.is_some() {
        return Err(Failure::new(code::USAGE, "--key needs --cert"));
    }
    Ok(tls)
}
