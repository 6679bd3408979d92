//! What each request is made of: URL, method, headers and body, checked before any
//! connection is opened.

use std::io::Read;
use std::path::PathBuf;

use http::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderMap, HeaderName, HeaderValue,
    PROXY_AUTHORIZATION, REFERER, USER_AGENT,
};
use http::{Method, Uri};
use towline::Body;

use crate::args::{Cli, Data};
use crate::exit::{Failure, code};
use crate::form::FormPart;

/// The request every URL gets: everything but the URL.
#[derive(Debug)]
pub(crate) struct Template {
    pub(crate) method: Method,
    /// The headers to send, in order, with towline's defaults already applied.
    pub(crate) headers: HeaderMap,
    /// `-u user:password`.
    pub(crate) basic_auth: Option<(String, String)>,
    pub(crate) body: BodySpec,
    /// `-G`: the data to put in each URL's query.
    pub(crate) query: Option<String>,
    /// `-T FILE`: the file name a URL ending in `/` gets.
    pub(crate) upload_name: Option<String>,
}

/// Where the request body comes from.
#[derive(Debug)]
pub(crate) enum BodySpec {
    None,
    /// Bytes in memory (from `-d`, or `--data-binary` text).
    Bytes(Vec<u8>),
    /// A file streamed from disk (`--data-binary @file` alone, `-T FILE`).
    File(PathBuf),
    /// `-T -`: stdin, streamed with chunked coding.
    Stdin,
    /// `-F`: a multipart form, built anew for each request.
    Form(Vec<FormPart>),
}

impl BodySpec {
    /// A body for one request, and the multipart form's content type; a file is
    /// opened anew for each.
    pub(crate) async fn body(&self) -> Result<(Body, Option<HeaderValue>), Failure> {
        match self {
            BodySpec::Form(parts) => {
                let form = crate::form::build(parts).await?;
                let content_type = form.content_type();
                Ok((form.into_body(), Some(content_type)))
            }
            BodySpec::Stdin => Ok((Body::streaming(crate::stdin::StdinBody::new()), None)),
            BodySpec::None => Ok((Body::empty(), None)),
            BodySpec::Bytes(bytes) => Ok((Body::from(bytes.clone()), None)),
            BodySpec::File(path) => {
                let body = Body::from_path(path).await.map_err(|e| {
                    Failure::new(
                        code::READ_ERROR,
                        format!("could not read the data file {}: {e}", path.display()),
                    )
                })?;
                Ok((body, None))
            }
        }
    }

    fn is_some(&self) -> bool {
        !matches!(self, BodySpec::None)
    }
}

/// Parses a URL as curl would take it: `http://` when no scheme is given; http and
/// https only. The rest is the WHATWG URL Standard, as everywhere in towline: IDN hosts
/// become A-labels, dot segments go, `http:/host` and `http:///host` are `http://host`.
pub(crate) fn parse_url(raw: &str) -> Result<Uri, Failure> {
    let text = raw.trim();
    let shown = towline::redact::Redaction::new().text(raw);
    let malformed = |why: &str| {
        Failure::new(
            code::URL_MALFORMED,
            format!("malformed URL '{shown}': {why}"),
        )
    };
    if text.is_empty() {
        return Err(malformed("it is empty"));
    }
    let web_scheme =
        |scheme: &str| scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    let with_scheme = match text.split_once(':') {
        // `http:/host`, `http:\\host`, `https://host`: a scheme the standard reads
        // leniently.
        Some((scheme, rest)) if web_scheme(scheme) && rest.starts_with(['/', '\\']) => true,
        _ => match text.split_once("://") {
            Some((scheme, _)) => {
                let plausible = !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
                if !plausible {
                    return Err(malformed("the scheme is not valid"));
                }
                return Err(Failure::new(
                    code::UNSUPPORTED_PROTOCOL,
                    format!("protocol '{scheme}' is not supported (only http and https are)"),
                ));
            }
            None => false,
        },
    };
    let text = match with_scheme {
        true => std::borrow::Cow::Borrowed(text),
        false => std::borrow::Cow::Owned(format!("http://{text}")),
    };
    towline::uri::parse(&text).map_err(|e| {
        let why = e.to_string();
        // The error quotes the input (password hidden); say only why.
        let why = why.split_once("`: ").map_or(why.as_str(), |(_, why)| why);
        malformed(why)
    })
}

/// One `-H` argument.
#[derive(Debug, PartialEq, Eq)]
enum HeaderArg {
    /// `Name: value`.
    Set(HeaderName, HeaderValue),
    /// `Name:`: do not send the header towline would add.
    Remove(HeaderName),
}

fn parse_header(arg: &str) -> Result<HeaderArg, Failure> {
    let bad = |why: &str| {
        Failure::new(
            code::USAGE,
            format!(
                "bad header '{arg}': {why} (expected 'Name: value', 'Name:' to remove a \
                 header or 'Name;' to send it empty)"
            ),
        )
    };
    let name_of = |name: &str| {
        HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad("invalid header name"))
    };
    match arg.split_once(':') {
        Some((name, value)) => {
            let name = name_of(name)?;
            let value = value.trim();
            if value.is_empty() {
                return Ok(HeaderArg::Remove(name));
            }
            let value = HeaderValue::from_str(value).map_err(|_| bad("invalid header value"))?;
            Ok(HeaderArg::Set(name, value))
        }
        None => match arg.trim_end().strip_suffix(';') {
            Some(name) => Ok(HeaderArg::Set(name_of(name)?, HeaderValue::from_static(""))),
            None => Err(bad("no colon")),
        },
    }
}

/// Builds the request template from the command line, reading `-d @file` data.
/// `with_upload`: whether `-T` applies (as in curl, it goes with the first URL only;
/// the others get a plain request).
pub(crate) fn template(cli: &Cli, with_upload: bool) -> Result<Template, Failure> {
    let args = &cli.args;
    let has_data = !cli.data.is_empty();
    let has_form = !args.form.is_empty();
    let upload = args.upload_file.as_ref().filter(|_| with_upload);
    // curl's rule: one way of sending a body (-G turns the data into a query).
    let ways: Vec<&str> = [
        (has_data && !args.get, "POST (-d)"),
        (has_form, "multipart formpost (-F)"),
        (upload.is_some(), "PUT (-T)"),
        (args.get && (has_form || upload.is_some()), "GET (-G)"),
    ]
    .into_iter()
    .filter_map(|(on, what)| on.then_some(what))
    .collect();
    if ways.len() > 1 {
        return Err(Failure::new(
            code::USAGE,
            format!(
                "You can only select one HTTP request method! You asked for both {}.",
                ways.join(" and ")
            ),
        ));
    }
    let (body, query) = if args.get {
        let query = match body_spec(&cli.data)? {
            BodySpec::Bytes(bytes) => Some(query_text(&bytes)),
            _ => None,
        };
        (BodySpec::None, query)
    } else if has_form {
        let quiet = args.silent && !args.show_error;
        let parts = args
            .form
            .iter()
            .map(|arg| crate::form::parse(arg, quiet))
            .collect::<Result<Vec<_>, _>>()?;
        (BodySpec::Form(parts), None)
    } else if let Some(path) = upload {
        if path.as_os_str() == "-" {
            (BodySpec::Stdin, None)
        } else {
            let shown = path.display().to_string();
            std::fs::File::open(path).map_err(|e| read_failed(&shown, &e))?;
            (BodySpec::File(path.clone()), None)
        }
    } else {
        (body_spec(&cli.data)?, None)
    };
    let upload_name = upload
        .filter(|p| p.as_os_str() != "-")
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    let method = match &args.request {
        Some(m) => Method::from_bytes(m.as_bytes())
            .map_err(|_| Failure::new(code::USAGE, format!("'{m}' is not a valid method")))?,
        None if args.head => {
            if body.is_some() {
                return Err(Failure::new(
                    code::USAGE,
                    "-I (HEAD) and -d/--data-binary/-F/-T (a body) cannot be used together",
                ));
            }
            Method::HEAD
        }
        None if upload.is_some() => Method::PUT,
        None if body.is_some() => Method::POST,
        None => Method::GET,
    };
    // curl keeps --json's headers with -G too.
    let json = cli.data.iter().any(|d| matches!(d, Data::Json(_)));

    let mut set = HeaderMap::new();
    let mut removed: Vec<HeaderName> = Vec::new();
    for arg in &args.header {
        match parse_header(arg)? {
            HeaderArg::Set(name, value) => {
                set.append(name, value);
            }
            HeaderArg::Remove(name) => removed.push(name),
        }
    }

    let mut headers = HeaderMap::new();
    let mut default = |name: HeaderName, value: HeaderValue| {
        if !set.contains_key(&name) && !removed.contains(&name) {
            headers.insert(name, value);
        }
    };
    let agent = match &args.user_agent {
        Some(ua) => HeaderValue::from_str(ua)
            .map_err(|_| Failure::new(code::USAGE, format!("'{ua}' is not a valid User-Agent")))?,
        None => HeaderValue::from_static(concat!("towline/", env!("CARGO_PKG_VERSION"))),
    };
    default(USER_AGENT, agent);
    default(
        ACCEPT,
        HeaderValue::from_static(if json { "application/json" } else { "*/*" }),
    );
    if let Some(referer) = referer(args)? {
        default(REFERER, referer);
    }
    // `-u`: sent with `RequestBuilder::basic_auth`, unless `-H` set its own.
    let basic_auth = match &args.user {
        Some(_) if set.contains_key(AUTHORIZATION) || removed.contains(&AUTHORIZATION) => None,
        Some(user) => {
            let (name, password) = user.split_once(':').unwrap_or((user.as_str(), ""));
            Some((name.to_owned(), password.to_owned()))
        }
        None => None,
    };
    let literal_cookies: Vec<&str> = args
        .cookie
        .iter()
        .filter(|c| c.contains('='))
        .map(|c| c.trim())
        .collect();
    if !literal_cookies.is_empty() {
        let value = HeaderValue::from_str(&literal_cookies.join("; ")).map_err(|_| {
            Failure::new(code::USAGE, "the -b cookies are not a valid header value")
        })?;
        default(COOKIE, value);
    }
    if json {
        default(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    } else if matches!(body, BodySpec::Bytes(_) | BodySpec::File(_)) && upload.is_none() {
        default(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
    }
    // The caller's headers go after towline's, in the order given.
    let mut last = None;
    for (name, value) in set {
        let name = match name {
            Some(name) => {
                last = Some(name.clone());
                name
            }
            None => match &last {
                Some(name) => name.clone(),
                None => continue,
            },
        };
        let mut value = value;
        if name == AUTHORIZATION || name == PROXY_AUTHORIZATION {
            // Credentials: hidden from -v, as towline's own basic_auth marks them.
            value.set_sensitive(true);
        }
        headers.append(name, value);
    }
    Ok(Template {
        method,
        headers,
        basic_auth,
        body,
        query,
        upload_name,
    })
}

/// `-e URL`, with curl's `;auto` suffix: without -L it changes nothing; with -L it
/// asks for a Referer on each redirect, which towline's redirect layer cannot add
/// from the command line yet.
fn referer(args: &crate::args::Args) -> Result<Option<HeaderValue>, Failure> {
    let Some(text) = &args.referer else {
        return Ok(None);
    };
    let (url, auto) = match text.strip_suffix(";auto") {
        Some(url) => (url, true),
        None => (text.as_str(), false),
    };
    if auto && (args.location || args.browser_redirects) {
        return Err(Failure::new(
            code::USAGE,
            "-e ';auto' with -L is not supported: towline's redirect layer cannot set a \
             Referer on each hop",
        ));
    }
    if url.is_empty() {
        return Ok(None);
    }
    HeaderValue::from_str(url)
        .map(Some)
        .map_err(|_| Failure::new(code::USAGE, "the -e referer is not a valid header value"))
}

/// The URL a request goes to: with `-G`, the data appended to the query (after a
/// `&` when it has one); with `-T FILE`, the file's name appended to a path that ends
/// in `/`, as curl does.
pub(crate) fn url_for(template: &Template, uri: &Uri) -> Result<Uri, Failure> {
    let mut changed = false;
    let mut path = uri.path().to_owned();
    let mut query = uri.query().map(str::to_owned);
    if let Some(name) = &template.upload_name {
        if query.is_none() && path.ends_with('/') {
            path.push_str(&encode_component(name.as_bytes(), false));
            changed = true;
        }
    }
    if let Some(data) = &template.query {
        query = Some(match query {
            Some(q) if !q.is_empty() => format!("{q}&{data}"),
            _ => data.clone(),
        });
        changed = true;
    }
    if !changed {
        return Ok(uri.clone());
    }
    let mut text = format!(
        "{}://{}{path}",
        uri.scheme_str().unwrap_or("http"),
        uri.authority().map_or("", |a| a.as_str())
    );
    if let Some(q) = query {
        text.push('?');
        text.push_str(&q);
    }
    parse_url(&text)
}

/// -G's data as query text, as curl 7.88 appends it: printable ASCII as it is, any
/// other byte percent-encoded, and every `%XX` escape in lower case (`%2F` becomes
/// `%2f`; the URL's own query is left as it is).
fn query_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escape = bytes
            .get(i + 1..i + 3)
            .filter(|hex| b == b'%' && hex.iter().all(u8::is_ascii_hexdigit));
        if let Some(hex) = escape {
            out.push('%');
            out.extend(hex.iter().map(|h| char::from(h.to_ascii_lowercase())));
            i += 3;
            continue;
        }
        if b.is_ascii_graphic() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
        i += 1;
    }
    out
}

/// curl's URL encoding (`curl_easy_escape`): `A-Za-z0-9-._~` as they are, every
/// other byte as `%XX`; a space is `+` when `plus` (curl's --data-urlencode turns
/// `%20` into `+`), else `%20`.
pub(crate) fn encode_component(bytes: &[u8], plus: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' if plus => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// One `--data-urlencode` argument, as curl reads it: `name=content` (or
/// `=content`), `name@file` (or `@file`), or `content`; the content is encoded, the
/// name is not.
fn url_encoded(arg: &str) -> Result<Vec<u8>, Failure> {
    let split = arg.find('=').or_else(|| arg.find('@'));
    let (name, content) = match split {
        Some(i) if arg.as_bytes()[i] == b'@' => (&arg[..i], read_data(&arg[i + 1..])?),
        Some(i) => (&arg[..i], arg.as_bytes()[i + 1..].to_vec()),
        None => ("", arg.as_bytes().to_vec()),
    };
    let encoded = encode_component(&content, true);
    Ok(if name.is_empty() {
        encoded.into_bytes()
    } else {
        format!("{name}={encoded}").into_bytes()
    })
}

/// The request body from `-d` and `--data-binary`, in order.
fn body_spec(data: &[Data]) -> Result<BodySpec, Failure> {
    if let [Data::Binary(one)] = data {
        if let Some(path) = one.strip_prefix('@') {
            if path != "-" {
                // Opened now to fail early, streamed later.
                std::fs::File::open(path).map_err(|e| read_failed(path, &e))?;
                return Ok(BodySpec::File(path.into()));
            }
        }
    }
    if data.is_empty() {
        return Ok(BodySpec::None);
    }
    let mut out = Vec::new();
    for (i, piece) in data.iter().enumerate() {
        // JSON joins the data before it with nothing, as curl's --json does.
        if i > 0 && !matches!(piece, Data::Json(_)) {
            out.push(b'&');
        }
        match piece {
            Data::Text(text) => match text.strip_prefix('@') {
                Some(path) => {
                    let bytes = read_data(path)?;
                    out.extend(bytes.into_iter().filter(|&b| b != b'\r' && b != b'\n'));
                }
                None => out.extend_from_slice(text.as_bytes()),
            },
            Data::Binary(text) | Data::Json(text) => match text.strip_prefix('@') {
                Some(path) => out.extend(read_data(path)?),
                None => out.extend_from_slice(text.as_bytes()),
            },
            Data::UrlEncode(text) => out.extend(url_encoded(text)?),
        }
    }
    Ok(BodySpec::Bytes(out))
}

fn read_data(path: &str) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    let result = if path == "-" {
        std::io::stdin().lock().read_to_end(&mut out).map(|_| ())
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut out).map(|_| ()))
    };
    result.map_err(|e| read_failed(path, &e))?;
    Ok(out)
}

fn read_failed(path: &str, err: &std::io::Error) -> Failure {
    let what = if path == "-" {
        "stdin".to_owned()
    } else {
        format!("the data file {path}")
    };
    Failure::new(code::READ_ERROR, format!("could not read {what}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_a_scheme_and_a_path() {
        let ok = |raw: &str| parse_url(raw).map(|u| u.to_string()).map_err(|f| f.code);
        assert_eq!(ok("127.0.0.1:8080"), Ok("http://127.0.0.1:8080/".into()));
        assert_eq!(ok("https://a.test?q=1"), Ok("https://a.test/?q=1".into()));
        assert_eq!(ok("HTTP://a.test/x"), Ok("http://a.test/x".into()));
        assert_eq!(ok("ftp://a.test/"), Err(code::UNSUPPORTED_PROTOCOL));
        // The WHATWG URL Standard, as browsers, curl and reqwest read URLs.
        assert_eq!(
            ok("http://Bücher.example/ä ö"),
            Ok("http://xn--bcher-kva.example/%C3%A4%20%C3%B6".into())
        );
        assert_eq!(
            ok("bücher.example"),
            Ok("http://xn--bcher-kva.example/".into())
        );
        assert_eq!(ok("http:/a.test/x"), Ok("http://a.test/x".into()));
        assert_eq!(ok("http:///a.test/x"), Ok("http://a.test/x".into()));
        assert_eq!(ok("http:\\\\a.test\\x"), Ok("http://a.test/x".into()));
        assert_eq!(
            ok("http://a.test/a/./b/../c"),
            Ok("http://a.test/a/c".into())
        );
        assert_eq!(ok("http://0x7f.1:80/"), Ok("http://127.0.0.1/".into()));
        assert_eq!(ok("localhost:8080/x"), Ok("http://localhost:8080/x".into()));
        for bad in [
            "",
            "http://",
            "http://exa mple/",
            "http://[::1/",
            "://x",
            "h t://x",
        ] {
            assert_eq!(ok(bad), Err(code::URL_MALFORMED), "{bad:?}");
        }
    }

    #[test]
    fn data_is_encoded_as_curl_encodes_it() {
        assert_eq!(
            encode_component("a b+/é~".as_bytes(), true),
            "a+b%2B%2F%C3%A9~"
        );
        assert_eq!(encode_component(b"a b", false), "a%20b");
        assert_eq!(query_text(b"a=%2F%C3&b=x y%zz"), "a=%2f%c3&b=x%20y%zz");
        assert_eq!(url_encoded("n=a b").ok(), Some(b"n=a+b".to_vec()));
        assert_eq!(url_encoded("=a=b").ok(), Some(b"a%3Db".to_vec()));
        assert_eq!(url_encoded("just text").ok(), Some(b"just+text".to_vec()));
    }

    #[test]
    fn header_syntax() {
        let name = |n: &'static str| HeaderName::from_static(n);
        assert_eq!(
            parse_header("X-A:  b c ").ok(),
            Some(HeaderArg::Set(name("x-a"), HeaderValue::from_static("b c")))
        );
        assert_eq!(
            parse_header("User-Agent:").ok(),
            Some(HeaderArg::Remove(name("user-agent")))
        );
        assert_eq!(
            parse_header("X-Empty;").ok(),
            Some(HeaderArg::Set(
                name("x-empty"),
                HeaderValue::from_static("")
            ))
        );
        for bad in ["nocolon", "bad name: x", ": x", "X: a\nb"] {
            assert_eq!(
                parse_header(bad).map_err(|f| f.code),
                Err(code::USAGE),
                "{bad:?}"
            );
        }
    }
}
