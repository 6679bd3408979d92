//! The command line: curl's options in curl's spelling, parsed by clap.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches, Parser};

/// What `towline --help` shows above the options.
const ABOUT: &str = "A curl-like HTTP client on towline's middleware stack.\n\n\
Fetches each URL in turn over one connection pool and writes the bodies to stdout \
(or to the files named by -o/-O, in order). Redirects are not followed without -L, \
and bodies are not decoded without --compressed, as with curl.";

/// The options, as clap parses them. See the crate's README for the table.
#[derive(Debug, Parser)]
#[command(
    name = "towline",
    version,
    about = ABOUT,
    after_help = "Exit codes follow curl's (see README.md): 6 could not resolve host, \
7 could not connect, 22 HTTP error with -f, 28 timeout, 60 untrusted certificate, …"
)]
pub(crate) struct Args {
    /// The URLs to fetch, in order (`http://` is assumed when the scheme is left out).
    #[arg(value_name = "URL", required = true, num_args = 1..)]
    pub(crate) urls: Vec<String>,

    /// The request method (default GET; POST with -d; HEAD with -I).
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub(crate) request: Option<String>,

    /// A request header, `Name: value`; `Name:` removes one towline adds (User-Agent,
    /// Accept), `Name;` sends it empty. Repeatable.
    #[arg(short = 'H', long = "header", value_name = "HEADER", action = ArgAction::Append)]
    pub(crate) header: Vec<String>,

    /// POST data, as curl's -d: `@file` reads the file and strips CR and LF, `@-`
    /// reads stdin. Several are joined with `&`. Sets
    /// `Content-Type: application/x-www-form-urlencoded`.
    #[arg(short = 'd', long = "data", value_name = "DATA", action = ArgAction::Append)]
    pub(crate) data: Vec<String>,

    /// POST data sent as it is: `@file` streams the file from disk, unchanged and
    /// never held whole in memory (when it is the only data given).
    #[arg(long = "data-binary", value_name = "DATA", action = ArgAction::Append)]
    pub(crate) data_binary: Vec<String>,

    /// POST data URL-encoded as curl's --data-urlencode: `content`, `=content`,
    /// `name=content`, `@file` or `name@file`; the content (not the name) is encoded,
    /// keeping `A-Za-z0-9-._~`, spaces as `+`. Joined with other data by `&`.
    #[arg(long = "data-urlencode", value_name = "DATA", action = ArgAction::Append)]
    pub(crate) data_urlencode: Vec<String>,

    /// JSON to POST, as it is (`@file` reads a file, `@-` stdin); several are joined
    /// with nothing. Sets `Content-Type: application/json` and `Accept:
    /// application/json`.
    #[arg(long = "json", value_name = "DATA", action = ArgAction::Append)]
    pub(crate) json: Vec<String>,

    /// A multipart/form-data part, as curl's -F: `name=value`, `name=@file` (a file
    /// part, streamed), `name=<file` (the file's contents as a text part), each with
    /// optional `;type=MIME` and `;filename=NAME`. Sets POST. Repeatable.
    #[arg(short = 'F', long = "form", value_name = "NAME=CONTENT", action = ArgAction::Append)]
    pub(crate) form: Vec<String>,

    /// Put the -d/--data-urlencode data in the URL's query (after a `&` when it has
    /// one) and send GET (HEAD with -I).
    #[arg(short = 'G', long = "get")]
    pub(crate) get: bool,

    /// PUT this file, streamed from disk with its length; `-` reads stdin and sends it
    /// chunked. A URL ending in `/` gets the file's name appended.
    #[arg(short = 'T', long = "upload-file", value_name = "FILE")]
    pub(crate) upload_file: Option<PathBuf>,

    /// What to write to stdout after each transfer: text with `%{variable}`s
    /// (`http_code`, `url_effective`, `time_total`, …, see README.md) and `\n`
    /// escapes; `@file` reads the format from a file (`@-`: stdin).
    #[arg(short = 'w', long = "write-out", value_name = "FORMAT")]
    pub(crate) write_out: Option<String>,

    /// The Referer header. `URL;auto` (with -L, a Referer on each redirect) is not
    /// supported.
    #[arg(short = 'e', long = "referer", value_name = "URL")]
    pub(crate) referer: Option<String>,

    /// The largest download accepted, in bytes (`k`, `m`, `g` suffixes): a larger
    /// Content-Length, or a body that grows past it, fails with exit code 63.
    #[arg(long = "max-filesize", value_name = "BYTES", value_parser = bytes_size)]
    pub(crate) max_filesize: Option<usize>,

    /// Like -f (exit code 22 when the status is 400 or above), but write the body.
    #[arg(long = "fail-with-body", conflicts_with = "fail")]
    pub(crate) fail_with_body: bool,

    /// Connect to ADDRESS for HOST:PORT instead of resolving HOST (several addresses,
    /// comma-separated, are tried in turn). The URL, Host header and TLS name stay
    /// HOST's. Repeatable.
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDRESS", action = ArgAction::Append)]
    pub(crate) resolve: Vec<String>,

    /// Connect to HOST2:PORT2 for requests to HOST1:PORT1 (an empty field matches any
    /// host or port, or keeps it). The URL, Host header and TLS name stay HOST1's.
    /// Repeatable.
    #[arg(
        long = "connect-to",
        value_name = "HOST1:PORT1:HOST2:PORT2",
        action = ArgAction::Append
    )]
    pub(crate) connect_to: Vec<String>,

    /// Follow redirects (Strict: GET and HEAD follow 301/302/307/308, 303 becomes
    /// GET; other methods get the 3xx back).
    #[arg(short = 'L', long = "location")]
    pub(crate) location: bool,

    /// The most redirects followed with -L; -1 for no limit. Default 50.
    #[arg(long = "max-redirs", value_name = "NUM", allow_negative_numbers = true)]
    pub(crate) max_redirs: Option<i64>,

    /// Follow redirects as browsers do: POST becomes GET on 301, 302 and 303.
    /// Implies -L. (curl's -L does this by default; towline's -L is strict.)
    #[arg(long = "browser-redirects")]
    pub(crate) browser_redirects: bool,

    /// Cookies to send: a Netscape cookies.txt file to read (a missing file is
    /// ignored), or, when it holds `=`, a literal `name=value; n2=v2` Cookie header.
    /// A file turns on the cookie engine. Repeatable.
    #[arg(short = 'b', long = "cookie", value_name = "DATA|FILE", action = ArgAction::Append)]
    pub(crate) cookie: Vec<String>,

    /// Turn on the cookie engine and write every cookie to this file, Netscape
    /// cookies.txt format, when done.
    #[arg(short = 'c', long = "cookie-jar", value_name = "FILE")]
    pub(crate) cookie_jar: Option<PathBuf>,

    /// Ask for a compressed response (gzip, deflate, br, zstd) and decode it.
    #[arg(long = "compressed")]
    pub(crate) compressed: bool,

    /// Use this proxy: `[scheme://][user:pass@]host[:port]`, scheme http, https,
    /// socks5 or socks5h. Without it, the *_proxy environment variables apply, as in
    /// curl.
    #[arg(short = 'x', long = "proxy", value_name = "URL")]
    pub(crate) proxy: Option<String>,

    /// Hosts that bypass the proxy, comma-separated (`*` for all); replaces NO_PROXY.
    #[arg(long = "noproxy", value_name = "LIST")]
    pub(crate) noproxy: Option<String>,

    /// Connect through this Unix domain socket instead of TCP.
    #[arg(long = "unix-socket", value_name = "PATH")]
    pub(crate) unix_socket: Option<PathBuf>,

    /// Accept any server certificate (for tests only: anyone on the path can read
    /// and change the traffic).
    #[arg(short = 'k', long = "insecure")]
    pub(crate) insecure: bool,

    /// Trust only the CA certificates in this PEM file.
    #[arg(long = "cacert", value_name = "FILE")]
    pub(crate) cacert: Option<PathBuf>,

    /// A client certificate chain (PEM) for mutual TLS.
    #[arg(short = 'E', long = "cert", value_name = "FILE")]
    pub(crate) cert: Option<PathBuf>,

    /// The private key (PEM) of --cert; default: the --cert file itself.
    #[arg(long = "key", value_name = "FILE")]
    pub(crate) key: Option<PathBuf>,

    /// Write the body to this file instead of stdout; one per URL, in order.
    #[arg(short = 'o', long = "output", value_name = "FILE", action = ArgAction::Append)]
    pub(crate) output: Vec<PathBuf>,

    /// Write the body to a file in the current directory named like the URL's last
    /// path segment; one per URL, in order.
    // A value-less option rather than a counted flag: clap records where each
    // occurrence was, which pairs it with its URL among the -o options.
    #[arg(
        short = 'O',
        long = "remote-name",
        action = ArgAction::Append,
        num_args = 0,
        default_missing_value = "true",
        value_parser = clap::value_parser!(bool),
    )]
    pub(crate) remote_name: Vec<bool>,

    /// Write the response head before the body.
    #[arg(short = 'i', long = "include")]
    pub(crate) include: bool,

    /// Send HEAD and write the response head only.
    #[arg(short = 'I', long = "head")]
    pub(crate) head: bool,

    /// Tell on stderr what happens: connections, redirects, request and response heads.
    #[arg(short = 'v', long = "verbose")]
    pub(crate) verbose: bool,

    /// No progress bar and no error messages.
    #[arg(short = 's', long = "silent")]
    pub(crate) silent: bool,

    /// With -s, still print error messages.
    #[arg(short = 'S', long = "show-error")]
    pub(crate) show_error: bool,

    /// Fail with exit code 22, writing no body, when the status is 400 or above.
    #[arg(short = 'f', long = "fail")]
    pub(crate) fail: bool,

    /// The most seconds opening a connection may take (fractions allowed). Default 300.
    #[arg(long = "connect-timeout", value_name = "SECONDS", value_parser = seconds)]
    pub(crate) connect_timeout: Option<Duration>,

    /// The most seconds a whole transfer may take (fractions allowed).
    #[arg(short = 'm', long = "max-time", value_name = "SECONDS", value_parser = seconds)]
    pub(crate) max_time: Option<Duration>,

    /// HTTP/2 over TLS through ALPN (the default already; accepted for curl's sake).
    #[arg(long = "http2", overrides_with = "http1_1")]
    pub(crate) http2: bool,

    /// Offer only HTTP/1.1 over TLS.
    #[arg(long = "http1.1", id = "http1_1", overrides_with = "http2")]
    pub(crate) http1_1: bool,

    /// Speak HTTP/2 straight away on http:// URLs (h2c).
    #[arg(long = "http2-prior-knowledge")]
    pub(crate) http2_prior_knowledge: bool,

    /// The largest response head accepted, in bytes, over HTTP/1.1 and HTTP/2
    /// alike (a `k` or `m` suffix for KiB or MiB). A larger head fails the transfer
    /// with exit code 8 (weird server reply). Default 256k.
    #[arg(long = "max-header-size", value_name = "BYTES", value_parser = bytes_size)]
    pub(crate) max_header_size: Option<usize>,

    /// The most header fields accepted in an HTTP/1.1 response. Default 1000.
    #[arg(long = "max-headers", value_name = "NUM")]
    pub(crate) max_headers: Option<usize>,

    /// Resend a request once when a pooled connection turns out to be dead, when
    /// that is safe (the default).
    #[arg(long = "retry-stale", overrides_with = "no_retry_stale")]
    pub(crate) retry_stale: bool,

    /// Never resend a request on a stale pooled connection.
    #[arg(long = "no-retry-stale", overrides_with = "retry_stale")]
    pub(crate) no_retry_stale: bool,

    /// The User-Agent header. Default `towline/<version>`.
    #[arg(short = 'A', long = "user-agent", value_name = "NAME")]
    pub(crate) user_agent: Option<String>,

    /// Basic authentication, `user:password` (no colon: an empty password).
    #[arg(short = 'u', long = "user", value_name = "USER:PASSWORD")]
    pub(crate) user: Option<String>,
}

/// A piece of request data, in command-line order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Data {
    /// From `-d`: CR and LF stripped from an `@file`.
    Text(String),
    /// From `--data-binary`: sent as it is.
    Binary(String),
    /// From `--data-urlencode`: the content percent-encoded.
    UrlEncode(String),
    /// From `--json`: sent as it is, joined to the data before it with nothing.
    Json(String),
}

/// Where one URL's body goes, in command-line order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// `-o FILE`.
    File(PathBuf),
    /// `-O`: a file named after the URL.
    RemoteName,
}

/// The parsed command line with the order of the repeatable options that depend on it.
#[derive(Debug)]
pub(crate) struct Cli {
    pub(crate) args: Args,
    /// `-d`, `--data-binary`, `--data-urlencode` and `--json`, interleaved as given.
    pub(crate) data: Vec<Data>,
    /// `-o` and `-O`, interleaved as given: the n-th goes with the n-th URL.
    pub(crate) outputs: Vec<Output>,
}

/// Parses the command line, or returns clap's error (which knows its exit code:
/// 0 for `--help` and `--version`, 2 otherwise).
pub(crate) fn parse<I, T>(argv: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = Args::command().try_get_matches_from(argv)?;
    let args = Args::from_arg_matches(&matches)?;
    let data = interleave(
        &matches,
        vec![
            ("data", args.data.iter().cloned().map(Data::Text).collect()),
            (
                "data_binary",
                args.data_binary.iter().cloned().map(Data::Binary).collect(),
            ),
            (
                "data_urlencode",
                args.data_urlencode
                    .iter()
                    .cloned()
                    .map(Data::UrlEncode)
                    .collect(),
            ),
            ("json", args.json.iter().cloned().map(Data::Json).collect()),
        ],
    );
    let outputs = interleave(
        &matches,
        vec![
            (
                "output",
                args.output.iter().cloned().map(Output::File).collect(),
            ),
            (
                "remote_name",
                vec![Output::RemoteName; args.remote_name.len()],
            ),
        ],
    );
    Ok(Cli {
        args,
        data,
        outputs,
    })
}

/// Merges the values of repeatable options in the order they were given.
fn interleave<T>(matches: &ArgMatches, lists: Vec<(&str, Vec<T>)>) -> Vec<T> {
    let indices = |id: &str| -> Vec<usize> {
        matches
            .indices_of(id)
            .map(|i| i.collect())
            .unwrap_or_default()
    };
    let mut all: Vec<(usize, T)> = Vec::new();
    for (id, values) in lists {
        let at = indices(id);
        for (n, value) in values.into_iter().enumerate() {
            // Every value has an index; should clap ever report fewer, keep the rest
            // after the others rather than lose them.
            all.push((at.get(n).copied().unwrap_or(usize::MAX), value));
        }
    }
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, v)| v).collect()
}

/// Parses a number of seconds, fractions allowed, as curl's timeouts take them.
fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("'{text}' is not a number of seconds"));
    }
    Duration::try_from_secs_f64(value).map_err(|_| format!("'{text}' seconds is too long"))
}

/// A size in bytes, with an optional `k`, `m` or `g` suffix (KiB, MiB, GiB), as
/// curl's `--max-filesize` reads one.
fn bytes_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let bad = || format!("'{text}' is not a size in bytes");
    let (digits, unit) = match text.char_indices().last() {
        Some((i, 'k' | 'K')) => (&text[..i], 1024),
        Some((i, 'm' | 'M')) => (&text[..i], 1024 * 1024),
        Some((i, 'g' | 'G')) => (&text[..i], 1024 * 1024 * 1024),
        _ => (text, 1),
    };
    let n: usize = digits.parse().map_err(|_| bad())?;
    n.checked_mul(unit).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        let mut argv = vec!["towline"];
        argv.extend_from_slice(args);
        match parse(argv) {
            Ok(cli) => cli,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn outputs_and_data_keep_their_order() {
        let c = cli(&[
            "-O",
            "-o",
            "b",
            "-O",
            "--data-binary",
            "x",
            "-d",
            "y",
            "http://a/1",
        ]);
        assert_eq!(
            c.outputs,
            vec![
                Output::RemoteName,
                Output::File("b".into()),
                Output::RemoteName
            ]
        );
        assert_eq!(
            c.data,
            vec![Data::Binary("x".into()), Data::Text("y".into())]
        );
    }

    #[test]
    fn all_data_options_keep_their_order() {
        let c = cli(&[
            "--json",
            "{}",
            "-d",
            "a",
            "--data-urlencode",
            "b c",
            "--data-binary",
            "d",
            "http://a/",
        ]);
        assert_eq!(
            c.data,
            vec![
                Data::Json("{}".into()),
                Data::Text("a".into()),
                Data::UrlEncode("b c".into()),
                Data::Binary("d".into()),
            ]
        );
        let c = cli(&["--max-filesize", "2g", "http://a/"]);
        assert_eq!(c.args.max_filesize, Some(2 << 30));
        let err = parse(["towline", "-f", "--fail-with-body", "http://a/"]).expect_err("conflict");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn timeouts_take_fractions() {
        let c = cli(&["--connect-timeout", "0.25", "-m", "2", "http://a/"]);
        assert_eq!(c.args.connect_timeout, Some(Duration::from_millis(250)));
        assert_eq!(c.args.max_time, Some(Duration::from_secs(2)));
        for bad in ["-1", "nan", "x", "inf"] {
            assert!(parse(["towline", "-m", bad, "http://a/"]).is_err(), "{bad}");
        }
    }

    #[test]
    fn header_limits_take_sizes() {
        let c = cli(&[
            "--max-header-size",
            "64k",
            "--max-headers",
            "20",
            "http://a/",
        ]);
        assert_eq!(c.args.max_header_size, Some(64 * 1024));
        assert_eq!(c.args.max_headers, Some(20));
        let c = cli(&["--max-header-size", "1M", "http://a/"]);
        assert_eq!(c.args.max_header_size, Some(1024 * 1024));
        let c = cli(&["--max-header-size", "5000", "http://a/"]);
        assert_eq!(c.args.max_header_size, Some(5000));
        for bad in ["-1", "k", "1.5k", "x", "99999999999999999999"] {
            let argv = ["towline", "--max-header-size", bad, "http://a/"];
            assert!(parse(argv).is_err(), "{bad}");
        }
    }

    #[test]
    fn max_redirs_takes_minus_one() {
        let c = cli(&["--max-redirs", "-1", "-L", "http://a/"]);
        assert_eq!(c.args.max_redirs, Some(-1));
    }

    #[test]
    fn retry_stale_switches_override_each_other() {
        let c = cli(&["--no-retry-stale", "--retry-stale", "http://a/"]);
        assert!(c.args.retry_stale && !c.args.no_retry_stale);
        let c = cli(&["--retry-stale", "--no-retry-stale", "http://a/"]);
        assert!(!c.args.retry_stale && c.args.no_retry_stale);
    }

    #[test]
    fn usage_errors_exit_2() {
        let err = parse(["towline"]).expect_err("a URL is required");
        assert_eq!(err.exit_code(), 2);
        let err = parse(["towline", "--nope", "http://a/"]).expect_err("unknown option");
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn command_is_consistent() {
        Args::command().debug_assert();
    }
}
