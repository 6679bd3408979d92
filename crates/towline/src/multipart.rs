//! `multipart/form-data` request bodies (RFC 7578), as an HTML form with file inputs
//! sends them.
//!
//! A [`Form`] is a list of named [`Part`]s: text, bytes, a file streamed from disk, or
//! any [`Body`]. Its body is the parts one after the other, each with its
//! `Content-Disposition` and optional `Content-Type` and headers, between boundary
//! lines; nothing is buffered, so a file part of any size costs one read buffer.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use towline::multipart::{Form, Part};
//!
//! let form = Form::new()
//!     .text("title", "holiday")
//!     .part("photo", Part::file("beach.jpg").await?)
//!     .part("notes", Part::bytes(&b"{\"stars\":5}"[..]).mime_str("application/json")?);
//! let client = towline::Client::new();
//! let response = client.post("http://127.0.0.1:8080/upload").multipart(form).send().await?;
//! # let _ = response;
//! # Ok(())
//! # }
//! ```
//!
//! # On the wire
//!
//! - **Length.** When every part's length is known (text, bytes, files, sized
//!   bodies), the whole body's is too, and it goes with `Content-Length`; otherwise
//!   chunked.
//! - **Names.** `name` and `filename` are quoted strings in which `"`, CR and LF are
//!   written `%22`, `%0D` and `%0A`, as browsers do (the HTML Standard's encoding) and
//!   as RFC 7578 §2 allows. Other bytes go as UTF-8, which is what servers expect.
//! - **Non-ASCII file names** are sent twice: as UTF-8 in `filename` (what browsers
//!   and curl send, and what most servers read) and as `filename*=UTF-8''…` (RFC 8187),
//!   for parsers that only trust ASCII. RFC 7578 §4.2 advises against `filename*`
//!   because some old servers misread it; a parser that does not know it ignores it.
//! - **Content types.** Text parts have none (`text/plain` is implied, RFC 7578 §4.4);
//!   file parts get one from the file's extension for common types, else
//!   `application/octet-stream`; [`Part::mime_str`] sets any.
//! - **The boundary** is `towline-` and 32 random hex digits, fresh for each form.
//!
//! A form whose parts are all bytes or files made by [`Part::file`] can be sent again
//! (a 307 or 308 redirect replays it); a part from a stream cannot.

use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderValue};

use crate::body::Body;
use crate::error::Error;

/// A `multipart/form-data` body: named parts in order.
pub struct Form {
    boundary: String,
    parts: Vec<(String, Part)>,
}

/// One part of a [`Form`]: its content, and optionally a file name, a content type and
/// more headers.
pub struct Part {
    body: Body,
    file_name: Option<String>,
    content_type: Option<HeaderValue>,
    headers: HeaderMap,
}

impl Form {
    /// An empty form with a fresh random boundary.
    pub fn new() -> Form {
        Form {
            boundary: random_boundary(),
            parts: Vec::new(),
        }
    }

    /// The boundary that separates the parts.
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// Adds a text field.
    pub fn text(self, name: impl Into<String>, value: impl Into<String>) -> Form {
        self.part(name, Part::text(value))
    }

    /// Adds a part.
    pub fn part(mut self, name: impl Into<String>, part: Part) -> Form {
        self.parts.push((name.into(), part));
        self
    }

    /// Adds the file at `path`, streamed from disk when the form is sent, with its file
    /// name and a content type from its extension. See [`Part::file`].
    pub async fn file(
        self,
        name: impl Into<String>,
        path: impl AsRef<Path>,
    ) -> std::io::Result<Form> {
        Ok(self.part(name, Part::file(path).await?))
    }

    /// The `Content-Type` of the form: `multipart/form-data; boundary=…`.
    pub fn content_type(&self) -> HeaderValue {
        let value = format!("multipart/form-data; boundary={}", self.boundary);
        // The boundary is ASCII letters, digits and `-`.
        HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("multipart/form-data"))
    }

    /// The length of the whole body, when every part's length is known.
    pub fn content_length(&self) -> Option<u64> {
        let mut total = closing(&self.boundary).len() as u64;
        for (name, part) in &self.parts {
            total = total
                .checked_add(part.head(&self.boundary, name).len() as u64)?
                .checked_add(part.body.content_length()?)?
                .checked_add(2)?;
        }
        Some(total)
    }

    /// The form as a request body (set the [`content_type`](Self::content_type) with
    /// it; the `Client`'s `RequestBuilder::multipart` does both).
    pub fn into_body(self) -> Body {
        let mut bodies = Vec::with_capacity(self.parts.len() * 3 + 1);
        for (name, part) in self.parts {
            bodies.push(Body::from(part.head(&self.boundary, &name)));
            bodies.push(part.body);
            bodies.push(Body::from(&b"\r\n"[..]));
        }
        bodies.push(Body::from(closing(&self.boundary)));
        Body::chain(bodies)
    }
}

impl Default for Form {
    fn default() -> Form {
        Form::new()
    }
}

impl fmt::Debug for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Form")
            .field("boundary", &self.boundary)
            .field("parts", &self.parts)
            .finish()
    }
}

impl Part {
    /// A text value.
    pub fn text(value: impl Into<String>) -> Part {
        Part::new(Body::from(value.into()))
    }

    /// Bytes, sent as they are.
    pub fn bytes(value: impl Into<Bytes>) -> Part {
        Part::new(Body::from(value.into()))
    }

    /// Any request body: a stream, a sized stream, an open file. Its length is the
    /// body's, when known.
    pub fn stream(body: impl Into<Body>) -> Part {
        Part::new(body.into())
    }

    /// The file at `path`, opened now and streamed from disk when the form is sent, with
    /// the file's name as its file name and a content type from its extension
    /// (`application/octet-stream` when the extension is not a common one).
    pub async fn file(path: impl AsRef<Path>) -> std::io::Result<Part> {
        let path = path.as_ref();
        let body = Body::from_path(path).await?;
        let mut part = Part::new(body);
        part.file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned());
        part.content_type = Some(HeaderValue::from_static(guess_type(path)));
        Ok(part)
    }

    fn new(body: Body) -> Part {
        Part {
            body,
            file_name: None,
            content_type: None,
            headers: HeaderMap::new(),
        }
    }

    /// Sets the part's file name (`filename` in its `Content-Disposition`).
    pub fn file_name(mut self, name: impl Into<String>) -> Part {
        self.file_name = Some(name.into());
        self
    }

    /// Sets the part's `Content-Type`, e.g. `image/png` or `text/plain; charset=utf-8`.
    ///
    /// A value that cannot be a header value (control characters) is an
    /// [`is_invalid_request`](Error::is_invalid_request) error.
    pub fn mime_str(mut self, mime: &str) -> Result<Part, Error> {
        let value = HeaderValue::from_str(mime).map_err(|_| {
            Error::invalid_request("a part's content type is not a valid header value")
        })?;
        self.content_type = Some(value);
        Ok(self)
    }

    /// More headers for the part, after `Content-Disposition` and `Content-Type`.
    pub fn headers(mut self, headers: HeaderMap) -> Part {
        self.headers = headers;
        self
    }

    /// The boundary line and the part's head, up to and including the blank line.
    fn head(&self, boundary: &str, name: &str) -> Bytes {
        let mut head = BytesMut::with_capacity(128);
        head.extend_from_slice(b"--");
        head.extend_from_slice(boundary.as_bytes());
        head.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
        escape_into(name, &mut head);
        head.extend_from_slice(b"\"");
        if let Some(file_name) = &self.file_name {
            head.extend_from_slice(b"; filename=\"");
            escape_into(file_name, &mut head);
            head.extend_from_slice(b"\"");
            if !file_name.is_ascii() {
                head.extend_from_slice(b"; filename*=UTF-8''");
                ext_value_into(file_name, &mut head);
            }
        }
        head.extend_from_slice(b"\r\n");
        if let Some(content_type) = &self.content_type {
            head.extend_from_slice(b"Content-Type: ");
            head.extend_from_slice(content_type.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        for (header, value) in &self.headers {
            head.extend_from_slice(header.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        head.freeze()
    }
}

impl fmt::Debug for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Part")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

fn closing(boundary: &str) -> Bytes {
    Bytes::from(format!("--{boundary}--\r\n"))
}

/// A quoted-string's content: `"`, CR and LF percent-encoded, as the HTML Standard's
/// `multipart/form-data` encoding does.
fn escape_into(value: &str, out: &mut BytesMut) {
    for &b in value.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"%22"),
            b'\r' => out.extend_from_slice(b"%0D"),
            b'\n' => out.extend_from_slice(b"%0A"),
            _ => out.extend_from_slice(&[b]),
        }
    }
}

/// RFC 8187 `value-chars`: attr-char as is, every other byte of the UTF-8 as `%XX`.
fn ext_value_into(value: &str, out: &mut BytesMut) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value.as_bytes() {
        let attr_char = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        if attr_char {
            out.extend_from_slice(&[b]);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

/// `towline-` and 32 hex digits from the standard library's randomly keyed hasher
/// (fresh keys for each `RandomState`), the time and a counter.
fn random_boundary() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut words = [0u64; 2];
    for (i, word) in words.iter_mut().enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(nanos);
        hasher.write_u64(count);
        hasher.write_usize(i);
        *word = hasher.finish();
    }
    format!("towline-{:016x}{:016x}", words[0], words[1])
}

/// A content type for a file from its extension: the common ones, else
/// `application/octet-stream`.
fn guess_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "text" | "log" => "text/plain",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "js" | "mjs" => "text/javascript",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "ico" => "image/vnd.microsoft.icon",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn encode(form: Form) -> (String, Option<u64>, Vec<u8>) {
        let boundary = form.boundary().to_owned();
        let len = form.content_length();
        let body = form.into_body();
        assert_eq!(body.content_length(), len);
        let bytes = body.collect().await.expect("body").to_bytes().to_vec();
        (boundary, len, bytes)
    }

    #[tokio::test]
    async fn parts_are_framed_as_rfc_7578_says() {
        let form = Form::new().text("title", "a \"quoted\"\r\nline").part(
            "doc",
            Part::bytes(&b"{}"[..])
                .file_name("r\u{e9}sum\u{e9} 1.json")
                .mime_str("application/json")
                .expect("mime"),
        );
        let (b, len, bytes) = encode(form).await;
        let expected = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n\
             a \"quoted\"\r\nline\r\n\
             --{b}\r\nContent-Disposition: form-data; name=\"doc\"; \
             filename=\"r\u{e9}sum\u{e9} 1.json\"; filename*=UTF-8''r%C3%A9sum%C3%A9%201.json\r\n\
             Content-Type: application/json\r\n\r\n{{}}\r\n--{b}--\r\n"
        );
        assert_eq!(String::from_utf8(bytes).expect("utf-8"), expected);
        assert_eq!(len, Some(expected.len() as u64));
    }

    #[tokio::test]
    async fn names_cannot_break_out_of_their_quotes() {
        let form = Form::new().part(
            "a\"; filename=\"evil",
            Part::text("x").file_name("b\r\nX-Injected: 1"),
        );
        let (_, _, bytes) = encode(form).await;
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(
            text.contains("name=\"a%22; filename=%22evil\"; filename=\"b%0D%0AX-Injected: 1\""),
            "{text}"
        );
        assert!(!text.contains("\r\nX-Injected"));
    }

    /// One frame, `streamed`, of a length it does not tell.
    struct OneFrame(Option<Bytes>);

    impl http_body::Body for OneFrame {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
            std::task::Poll::Ready(self.0.take().map(|b| Ok(http_body::Frame::data(b))))
        }
    }

    #[tokio::test]
    async fn a_stream_of_unknown_length_makes_the_form_unsized() {
        let stream = Body::streaming(OneFrame(Some(Bytes::from_static(b"streamed"))));
        let form = Form::new().text("a", "1").part("s", Part::stream(stream));
        assert_eq!(form.content_length(), None);
        let (b, len, bytes) = encode(form).await;
        assert_eq!(len, None);
        let text = String::from_utf8(bytes).expect("utf-8");
        assert!(
            text.ends_with(&format!("\r\n\r\nstreamed\r\n--{b}--\r\n")),
            "{text}"
        );
    }

    #[test]
    fn boundaries_differ_and_are_valid() {
        let a = Form::new();
        let b = Form::new();
        assert_ne!(a.boundary(), b.boundary());
        assert_eq!(a.boundary().len(), "towline-".len() + 32);
        assert!(
            a.boundary()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        );
        assert_eq!(
            a.content_type().to_str().expect("ascii"),
            format!("multipart/form-data; boundary={}", a.boundary())
        );
    }

    #[test]
    fn a_bad_content_type_is_an_invalid_request() {
        let err = Part::text("x")
            .mime_str("text/plain\r\nX: y")
            .expect_err("refused");
        assert!(err.is_invalid_request());
    }

    #[test]
    fn file_types_come_from_the_extension() {
        assert_eq!(guess_type(Path::new("a/b.PNG")), "image/png");
        assert_eq!(guess_type(Path::new("notes.txt")), "text/plain");
        assert_eq!(guess_type(Path::new("blob")), "application/octet-stream");
        assert_eq!(
            guess_type(Path::new("x.unknown")),
            "application/octet-stream"
        );
    }

    #[tokio::test]
    async fn a_form_of_bytes_and_files_can_be_sent_again() {
        let dir = std::env::temp_dir().join(format!("towline-multipart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("data.bin");
        std::fs::write(&path, b"file bytes").expect("write");
        let form = Form::new()
            .text("a", "1")
            .file("f", &path)
            .await
            .expect("file");
        let body = form.into_body();
        let copy = body.try_clone().expect("replayable");
        let first = body.collect().await.expect("body").to_bytes();
        let second = copy.collect().await.expect("body").to_bytes();
        assert_eq!(first, second);
        assert!(first.windows(10).any(|w| w == b"file bytes"));
        let text = String::from_utf8_lossy(&first);
        assert!(text.contains("filename=\"data.bin\"\r\nContent-Type: application/octet-stream"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
