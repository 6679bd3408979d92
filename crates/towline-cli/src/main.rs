//! `towline`: a curl-like HTTP client on towline's full middleware stack.
//!
//! `towline [OPTIONS] <URL>...` fetches each URL in turn through one
//! [`towline::Client`] (so they share its connection pool) and streams each body to
//! stdout or to a file. The options are curl's, in curl's spelling, and so are the
//! exit codes; see `README.md` in this crate for both tables and for where towline
//! differs from curl.

mod args;
mod client;
mod dial_log;
mod exit;
mod form;
mod output;
mod overrides;
mod progress;
mod request;
mod stdin;
mod transfer;
mod verbose;
mod write_out;

use std::process::ExitCode;

use args::Cli;
use exit::{Failure, code};
use output::Target;
use transfer::Context;
use verbose::Verbose;
use write_out::{Metrics, WriteOut};

fn main() -> ExitCode {
    let cli = match args::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(err) => {
            // `--help` and `--version` go to stdout with 0; usage errors to stderr with 2.
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(code::USAGE));
        }
    };
    let report = Report {
        silent: cli.args.silent,
        show_error: cli.args.show_error,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            report.error(&Failure::new(
                code::USAGE,
                format!("could not start the runtime: {e}"),
            ));
            return ExitCode::from(code::USAGE);
        }
    };
    ExitCode::from(runtime.block_on(run(cli, &report)))
}

/// Prints failures as `towline: (7) …`, unless `-s` without `-S`.
#[derive(Clone, Copy, Debug)]
struct Report {
    silent: bool,
    show_error: bool,
}

impl Report {
    fn error(&self, failure: &Failure) {
        if !self.silent || self.show_error {
            eprintln!("towline: {failure}");
        }
    }
}

/// Runs every transfer and returns the exit code: like curl, the last transfer's.
async fn run(cli: Cli, report: &Report) -> u8 {
    match prepare(&cli) {
        Err(failure) => {
            report.error(&failure);
            failure.code
        }
        Ok((ctx, transfers, jar, write_out)) => {
            let mut last = 0;
            for (urlnum, (uri, target)) in transfers.iter().enumerate() {
                let mut metrics = Metrics {
                    urlnum,
                    ..Metrics::default()
                };
                let template = match &ctx.later {
                    Some(later) if urlnum > 0 => later,
                    _ => &ctx.template,
                };
                last = match transfer::run(&ctx, template, uri, target, &mut metrics).await {
                    Ok(()) => 0,
                    Err(failure) => {
                        report.error(&failure);
                        metrics.errormsg = failure.message().to_owned();
                        failure.code
                    }
                };
                if let Some(write_out) = &write_out {
                    metrics.exitcode = last;
                    write_out.write(&metrics);
                }
            }
            if let (Some(jar), Some(path)) = (jar, &cli.args.cookie_jar) {
                if let Err(e) = towline::cookie::CookiesTxt::new().save(&jar, path) {
                    let failure = Failure::new(
                        code::WRITE_ERROR,
                        format!("could not save the cookies to {}: {e}", path.display()),
                    );
                    report.error(&failure);
                    if last == 0 {
                        last = failure.code;
                    }
                }
            }
            last
        }
    }
}

type Prepared = (
    Context,
    Vec<(http::Uri, Target)>,
    Option<towline::cookie::Jar>,
    Option<WriteOut>,
);

/// Checks every URL and option, and builds the client, before any request.
fn prepare(cli: &Cli) -> Result<Prepared, Failure> {
    let args = &cli.args;
    if cli.outputs.len() > args.urls.len() {
        return Err(Failure::new(code::USAGE, "more -o/-O options than URLs"));
    }
    let template = request::template(cli, true)?;
    // -T goes with the first URL only, as in curl.
    let later = match args.upload_file {
        Some(_) if args.urls.len() > 1 => Some(request::template(cli, false)?),
        _ => None,
    };
    let mut transfers = Vec::with_capacity(args.urls.len());
    for (i, raw) in args.urls.iter().enumerate() {
        let this = later.as_ref().filter(|_| i > 0).unwrap_or(&template);
        let uri = request::url_for(this, &request::parse_url(raw)?)?;
        let target = Target::for_url(cli.outputs.get(i), &uri)?;
        transfers.push((uri, target));
    }
    let quiet = args.silent && !args.show_error;
    let write_out = match &args.write_out {
        Some(format) => Some(WriteOut::new(format, quiet)?),
        None => None,
    };
    let verbose = Verbose::new(args.verbose);
    let built = client::build(args, &verbose)?;
    if verbose.is_on() && transfers.iter().any(|(_, t)| t.is_file()) && args.silent {
        verbose.info(format_args!("-s: no progress bar"));
    }
    let ctx = Context {
        client: built.client,
        template,
        later,
        verbose,
        include: args.include,
        head_only: args.head,
        fail: args.fail,
        fail_with_body: args.fail_with_body,
        max_filesize: args.max_filesize.map(|n| n as u64),
        silent: args.silent,
        following: args.location || args.browser_redirects,
        browser_like: args.browser_redirects,
        unix_socket: args.unix_socket.clone(),
        prior_knowledge: args.http2_prior_knowledge,
    };
    Ok((ctx, transfers, built.jar, write_out))
}
