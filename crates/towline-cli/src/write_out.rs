//! `-w/--write-out`: curl's format of `%{variable}`s, written after each transfer.
//!
//! The format is read once: text, `%{name}` variables, `%header{name}` (a response
//! header's values), `%%`, and the escapes `\n`, `\r`, `\t` and `\\`. `%{stderr}` and
//! `%{stdout}` switch where what follows goes. An unknown variable is reported on
//! stderr and written as nothing, as curl does. URLs are shown with their secrets
//! hidden, as everywhere in towline's output (`http://***@host/`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderMap, Method, Uri, Version};

use crate::exit::{Failure, code};

/// What one transfer did, for the variables.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// The URL as requested (after -G and -T changed it).
    pub(crate) url: Option<Uri>,
    /// The URL of the last request, after redirects.
    pub(crate) effective: Option<Uri>,
    /// The method of the last request (after a redirect that changed it).
    pub(crate) method: Option<Method>,
    /// The final response's status.
    pub(crate) status: Option<u16>,
    /// The final response's HTTP version.
    pub(crate) version: Option<Version>,
    /// The final response's headers.
    pub(crate) headers: Option<HeaderMap>,
    /// Redirects followed.
    pub(crate) num_redirects: usize,
    /// New connections the transfer opened.
    pub(crate) num_connects: usize,
    /// Body bytes written (decoded, with `--compressed`).
    pub(crate) size_download: u64,
    /// Request body bytes, when known.
    pub(crate) size_upload: u64,
    /// The server's (or the proxy's) address.
    pub(crate) remote: Option<SocketAddr>,
    /// The connection's local address.
    pub(crate) local: Option<SocketAddr>,
    /// When the last new connection of the transfer was made.
    pub(crate) time_connect: Option<Duration>,
    /// When the response head arrived.
    pub(crate) time_starttransfer: Option<Duration>,
    /// The whole transfer, body included.
    pub(crate) time_total: Duration,
    /// Where a 3xx not followed points to.
    pub(crate) redirect_url: Option<Uri>,
    /// The `-o`/`-O` file, if any.
    pub(crate) filename: Option<String>,
    /// Whether the last request went over https.
    pub(crate) https: bool,
    /// curl's exit code for the transfer.
    pub(crate) exitcode: u8,
    /// Why the transfer failed, or nothing.
    pub(crate) errormsg: String,
    /// The URL's place on the command line, from 0.
    pub(crate) urlnum: usize,
    /// The Referer header sent, if any.
    pub(crate) referer: Option<String>,
}

/// One piece of the format.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    /// Text as it is, escapes already read.
    Text(String),
    /// `%{name}`.
    Var(Var),
    /// `%header{name}`, the name in lower case.
    Header(String),
    /// `%{json}`: every variable as one JSON object.
    Json,
    /// `%{stderr}`: what follows goes to stderr.
    ToStderr,
    /// `%{stdout}`: what follows goes to stdout.
    ToStdout,
}

/// The variables towline knows: each is curl's variable of the same name in snake
/// case (see [`VARS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Var {
    ContentType,
    ErrorMsg,
    ExitCode,
    FilenameEffective,
    HeaderJson,
    HttpCode,
    HttpVersion,
    LocalIp,
    LocalPort,
    Method,
    NumConnects,
    NumHeaders,
    NumRedirects,
    RedirectUrl,
    Referer,
    RemoteIp,
    RemotePort,
    ResponseCode,
    Scheme,
    SizeDownload,
    SizeUpload,
    SpeedDownload,
    SpeedUpload,
    TimeAppConnect,
    TimeConnect,
    TimeNameLookup,
    TimePreTransfer,
    TimeRedirect,
    TimeStartTransfer,
    TimeTotal,
    Url,
    UrlEffective,
    UrlNum,
}

/// Each variable's name, in the order `%{json}` lists them.
const VARS: &[(&str, Var)] = &[
    ("content_type", Var::ContentType),
    ("errormsg", Var::ErrorMsg),
    ("exitcode", Var::ExitCode),
    ("filename_effective", Var::FilenameEffective),
    ("header_json", Var::HeaderJson),
    ("http_code", Var::HttpCode),
    ("http_version", Var::HttpVersion),
    ("local_ip", Var::LocalIp),
    ("local_port", Var::LocalPort),
    ("method", Var::Method),
    ("num_connects", Var::NumConnects),
    ("num_headers", Var::NumHeaders),
    ("num_redirects", Var::NumRedirects),
    ("redirect_url", Var::RedirectUrl),
    ("referer", Var::Referer),
    ("remote_ip", Var::RemoteIp),
    ("remote_port", Var::RemotePort),
    ("response_code", Var::ResponseCode),
    ("scheme", Var::Scheme),
    ("size_download", Var::SizeDownload),
    ("size_upload", Var::SizeUpload),
    ("speed_download", Var::SpeedDownload),
    ("speed_upload", Var::SpeedUpload),
    ("time_appconnect", Var::TimeAppConnect),
    ("time_connect", Var::TimeConnect),
    ("time_namelookup", Var::TimeNameLookup),
    ("time_pretransfer", Var::TimePreTransfer),
    ("time_redirect", Var::TimeRedirect),
    ("time_starttransfer", Var::TimeStartTransfer),
    ("time_total", Var::TimeTotal),
    ("url", Var::Url),
    ("url_effective", Var::UrlEffective),
    ("urlnum", Var::UrlNum),
];

/// A parsed `-w` format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WriteOut {
    pieces: Vec<Piece>,
}

impl WriteOut {
    /// Reads the format: `@file` from a file, `@-` from stdin, else the text itself.
    /// Unknown variables are reported on stderr (unless `quiet`) and dropped.
    pub(crate) fn new(arg: &str, quiet: bool) -> Result<WriteOut, Failure> {
        let text = match arg.strip_prefix('@') {
            Some("-") => {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text).map_err(
                    |e| Failure::new(code::READ_ERROR, format!("-w: could not read stdin: {e}")),
                )?;
                text
            }
            Some(path) => std::fs::read_to_string(path).map_err(|e| {
                Failure::new(
                    code::READ_ERROR,
                    format!("-w: could not read the format file {path}: {e}"),
                )
            })?,
            None => arg.to_owned(),
        };
        Ok(WriteOut {
            pieces: parse(&text, quiet),
        })
    }

    /// Writes the format for one transfer to stdout (or stderr after `%{stderr}`).
    pub(crate) fn write(&self, m: &Metrics) {
        let mut to_stderr = false;
        let mut out = String::new();
        let flush = |out: &mut String, to_stderr: bool| {
            // Nowhere to report a failure to write the -w output.
            let _ = if to_stderr {
                std::io::stderr().lock().write_all(out.as_bytes())
            } else {
                let mut stdout = std::io::stdout().lock();
                stdout
                    .write_all(out.as_bytes())
                    .and_then(|()| stdout.flush())
            };
            out.clear();
        };
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Var(var) => out.push_str(&value(*var, m)),
                Piece::Header(name) => {
                    if let Some(headers) = &m.headers {
                        let values: Vec<String> = headers
                            .get_all(name.as_str())
                            .iter()
                            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                            .collect();
                        out.push_str(&values.join(", "));
                    }
                }
                Piece::Json => out.push_str(&json(m)),
                Piece::ToStderr | Piece::ToStdout => {
                    flush(&mut out, to_stderr);
                    to_stderr = *piece == Piece::ToStderr;
                }
            }
        }
        flush(&mut out, to_stderr);
    }
}

/// Reads a format into pieces; an unknown `%{name}` is reported (unless `quiet`)
/// and dropped, a `%` or `\` that starts nothing known is kept as text.
fn parse(text: &str, quiet: bool) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '%' {
            if let Some(after) = rest.strip_prefix("%%") {
                literal.push('%');
                rest = after;
                continue;
            }
            let variable = rest
                .strip_prefix("%{")
                .and_then(|r| r.split_once('}'))
                .map(|(name, after)| (false, name, after))
                .or_else(|| {
                    rest.strip_prefix("%header{")
                        .and_then(|r| r.split_once('}'))
                        .map(|(name, after)| (true, name, after))
                });
            if let Some((header, name, after)) = variable {
                let piece = if header {
                    Some(Piece::Header(name.to_ascii_lowercase()))
                } else {
                    match name {
                        "json" => Some(Piece::Json),
                        "stderr" => Some(Piece::ToStderr),
                        "stdout" => Some(Piece::ToStdout),
                        _ => VARS
                            .iter()
                            .find(|(n, _)| *n == name)
                            .map(|(_, v)| Piece::Var(*v)),
                    }
                };
                match piece {
                    Some(piece) => {
                        if !literal.is_empty() {
                            pieces.push(Piece::Text(std::mem::take(&mut literal)));
                        }
                        pieces.push(piece);
                    }
                    None if !quiet => {
                        eprintln!("towline: unknown --write-out variable: '{name}'");
                    }
                    None => {}
                }
                rest = after;
                continue;
            }
        }
        if c == '\\' {
            let escaped = match rest[1..].chars().next() {
                Some('n') => Some('\n'),
                Some('r') => Some('\r'),
                Some('t') => Some('\t'),
                Some('\\') => Some('\\'),
                _ => None,
            };
            if let Some(e) = escaped {
                literal.push(e);
                rest = &rest[2..];
                continue;
            }
        }
        literal.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    pieces
}

/// A URL as towline shows URLs: userinfo and secret query values as `***`.
fn shown(uri: Option<&Uri>) -> String {
    uri.map(|u| towline::redact::Redaction::new().uri(u).to_string())
        .unwrap_or_default()
}

/// Seconds with six decimals, as curl writes its times; 0 when not known.
fn seconds(d: Option<Duration>) -> String {
    format!("{:.6}", d.unwrap_or_default().as_secs_f64())
}

/// Bytes per second over `time`, whole, as curl writes its speeds.
fn per_second(bytes: u64, time: Duration) -> u64 {
    let secs = time.as_secs_f64();
    if secs > 0.0 {
        (bytes as f64 / secs) as u64
    } else {
        0
    }
}

/// A variable's value as curl writes it.
fn value(var: Var, m: &Metrics) -> String {
    let status = || m.status.map_or("000".to_owned(), |s| format!("{s:03}"));
    let connect = m
        .time_connect
        .or(m.time_starttransfer.map(|_| Duration::ZERO));
    match var {
        Var::ContentType => m
            .headers
            .as_ref()
            .and_then(|h| h.get(http::header::CONTENT_TYPE))
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default(),
        Var::ErrorMsg => m.errormsg.clone(),
        Var::ExitCode => m.exitcode.to_string(),
        Var::FilenameEffective => m.filename.clone().unwrap_or_default(),
        Var::HeaderJson => header_json(m.headers.as_ref()),
        Var::HttpCode | Var::ResponseCode => status(),
        Var::HttpVersion => match m.version {
            Some(Version::HTTP_09) => "0.9",
            Some(Version::HTTP_10) => "1",
            Some(Version::HTTP_11) => "1.1",
            Some(Version::HTTP_2) => "2",
            Some(Version::HTTP_3) => "3",
            _ => "0",
        }
        .to_owned(),
        Var::LocalIp => m.local.map(|a| a.ip().to_string()).unwrap_or_default(),
        Var::LocalPort => m.local.map_or(0, |a| a.port()).to_string(),
        Var::Method => m
            .method
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        Var::NumConnects => m.num_connects.to_string(),
        Var::NumHeaders => m.headers.as_ref().map_or(0, HeaderMap::len).to_string(),
        Var::NumRedirects => m.num_redirects.to_string(),
        Var::RedirectUrl => shown(m.redirect_url.as_ref()),
        Var::Referer => m.referer.clone().unwrap_or_default(),
        Var::RemoteIp => m.remote.map(|a| a.ip().to_string()).unwrap_or_default(),
        Var::RemotePort => m.remote.map_or(0, |a| a.port()).to_string(),
        // Known once a response came, as in curl.
        Var::Scheme => m
            .effective
            .as_ref()
            .and_then(Uri::scheme_str)
            .map(str::to_ascii_uppercase)
            .unwrap_or_default(),
        Var::SizeDownload => m.size_download.to_string(),
        Var::SizeUpload => m.size_upload.to_string(),
        Var::SpeedDownload => per_second(m.size_download, m.time_total).to_string(),
        Var::SpeedUpload => per_second(m.size_upload, m.time_total).to_string(),
        // The dialer resolves and connects in one step: both end when it does.
        Var::TimeNameLookup | Var::TimeConnect => seconds(connect),
        // The TLS handshake's end is not reported apart from the response's
        // connection: the connect time is the lower bound towline knows.
        Var::TimeAppConnect if m.https => seconds(connect),
        Var::TimeAppConnect => seconds(None),
        Var::TimePreTransfer => seconds(connect),
        Var::TimeRedirect => seconds(None),
        Var::TimeStartTransfer => seconds(m.time_starttransfer),
        Var::TimeTotal => seconds(Some(m.time_total)),
        Var::Url => shown(m.url.as_ref()),
        Var::UrlEffective => shown(m.effective.as_ref().or(m.url.as_ref())),
        Var::UrlNum => m.urlnum.to_string(),
    }
}

/// A JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `%{header_json}` as curl 7.88 writes it: names in lower case, each with the array
/// of its values, one name a line.
fn header_json(headers: Option<&HeaderMap>) -> String {
    let Some(headers) = headers else {
        return "{\n}".to_owned();
    };
    let mut lines = Vec::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| json_string(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        lines.push(format!(
            "{}:[{}]",
            json_string(name.as_str()),
            values.join(",")
        ));
    }
    format!("{{{}\n}}", lines.join(",\n"))
}

/// `%{json}`: every variable, numbers as numbers.
fn json(m: &Metrics) -> String {
    let mut fields = Vec::new();
    for (name, var) in VARS {
        let text = value(*var, m);
        let numeric = matches!(
            var,
            Var::ExitCode
                | Var::HttpCode
                | Var::LocalPort
                | Var::NumConnects
                | Var::NumHeaders
                | Var::NumRedirects
                | Var::RemotePort
                | Var::ResponseCode
                | Var::SizeDownload
                | Var::SizeUpload
                | Var::SpeedDownload
                | Var::SpeedUpload
                | Var::TimeAppConnect
                | Var::TimeConnect
                | Var::TimeNameLookup
                | Var::TimePreTransfer
                | Var::TimeRedirect
                | Var::TimeStartTransfer
                | Var::TimeTotal
                | Var::UrlNum
        );
        let shown = match var {
            Var::HeaderJson => continue,
            _ if numeric => text.trim_start_matches('0').to_owned(),
            // What is not known is null, as in curl's.
            _ if text.is_empty() => "null".to_owned(),
            _ => json_string(&text),
        };
        let shown = match shown.as_str() {
            "" => "0".to_owned(),
            s if s.starts_with('.') => format!("0{s}"),
            _ => shown,
        };
        fields.push(format!("{}:{shown}", json_string(name)));
    }
    format!("{{{}}}", fields.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_into_text_and_variables() {
        let w = parse("code %{http_code}\\n%%{x}%{nope}%header{X-A}\\q", true);
        assert_eq!(
            w,
            vec![
                Piece::Text("code ".into()),
                Piece::Var(Var::HttpCode),
                Piece::Text("\n%{x}".into()),
                Piece::Header("x-a".into()),
                Piece::Text("\\q".into()),
            ]
        );
    }

    #[test]
    fn values_are_written_as_curl_writes_them() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", http::HeaderValue::from_static("1"));
        headers.append("content-type", http::HeaderValue::from_static("text/plain"));
        headers.append("x-a", http::HeaderValue::from_static("2\""));
        let m = Metrics {
            effective: Some(Uri::from_static("http://u:pw@127.0.0.1:8/a?token=x&b=1")),
            status: Some(204),
            version: Some(Version::HTTP_11),
            headers: Some(headers),
            ..Metrics::default()
        };
        assert_eq!(value(Var::HttpCode, &m), "204");
        assert_eq!(value(Var::HttpVersion, &m), "1.1");
        assert_eq!(value(Var::Scheme, &m), "HTTP");
        assert_eq!(
            value(Var::UrlEffective, &m),
            "http://***@127.0.0.1:8/a?token=***&b=1"
        );
        assert_eq!(value(Var::ContentType, &m), "text/plain");
        assert_eq!(
            value(Var::HeaderJson, &m),
            "{\"x-a\":[\"1\",\"2\\\"\"],\n\"content-type\":[\"text/plain\"]\n}"
        );
        assert_eq!(value(Var::HttpCode, &Metrics::default()), "000");
        let json = json(&m);
        assert!(json.contains("\"http_code\":204"), "{json}");
        assert!(json.contains("\"response_code\":204"), "{json}");
        assert!(json.contains("\"time_total\":0.000000"), "{json}");
        assert!(json.contains("\"errormsg\":null"), "{json}");
        assert!(json.ends_with(",\"urlnum\":0}"), "{json}");
    }
}
