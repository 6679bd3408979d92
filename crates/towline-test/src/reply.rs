//! Scripted responses and faults.

use std::time::Duration;

use bytes::Bytes;

/// A scripted misbehaviour applied to a [`Reply`].
///
/// Set with [`Reply::fault`]. Faults that close the connection close it after
/// the bytes they describe have been written, whatever the reply's other
/// settings say.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum Fault {
    /// Close the socket without writing anything.
    CloseWithoutAnswer,
    /// Reset the socket (`SO_LINGER` of zero, then close) without writing
    /// anything, so the client sees a connection reset.
    ResetWithoutAnswer,
    /// Write the head (with the full `Content-Length`, or chunked framing if
    /// the reply is chunked) and the first `after` bytes of the body, then
    /// close.
    ///
    /// For a chunked reply the encoded stream is cut at body offset `after`:
    /// whole chunks are written while they fit, then the next chunk's size
    /// line and the part of its data that is below `after`. The terminating
    /// zero-size chunk is never written. If `after` is at least the body
    /// length, the whole body is written (still without the chunked
    /// terminator) before closing.
    CloseMidBody {
        /// Number of body bytes written before closing.
        after: usize,
    },
    /// Write the first `after` bytes of the serialized head, then close.
    CloseMidHeaders {
        /// Number of head bytes written before closing.
        after: usize,
    },
    /// Declare `Content-Length: declared` (instead of the usual framing
    /// header), send the whole body unencoded, then close. `declared` is meant
    /// to be larger than the body.
    ShortBody {
        /// The content length announced in the head.
        declared: u64,
    },
    /// Wait this long before writing the head; the reply is otherwise normal.
    SlowHeaders(Duration),
    /// Write the head, then the (encoded) body `chunk` bytes at a time,
    /// sleeping `delay` before each piece (including the first). A `chunk`
    /// of zero is treated as one.
    SlowBody {
        /// Size of each written piece, in bytes.
        chunk: usize,
        /// Pause before each piece.
        delay: Duration,
    },
    /// Write these exact bytes as the whole response (no head is generated),
    /// then keep the connection open for the next request (unless the
    /// connection must close for another reason).
    Raw(Bytes),
    /// Write these exact bytes as the whole response, then close.
    RawThenClose(Bytes),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Length,
    Chunked(usize),
    CloseDelimited,
}

/// What the connection does once a reply has been written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum After {
    KeepOpen,
    Close,
    Reset,
}

/// A scripted response returned by a handler.
///
/// By default the reply gets a `Content-Length` header for its body, unless
/// it is [chunked](Reply::chunked) or [close-delimited](Reply::close_delimited),
/// or the user already set a `content-length` or `transfer-encoding` header:
/// then exactly the user's headers are written, which lets tests send lying
/// framing headers. Responses to `HEAD` requests carry the same head (with
/// the body's `Content-Length`) but no body. Statuses 1xx, 204 and 304 get no
/// body and no generated framing header.
#[derive(Clone, Debug)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Bytes,
    framing: Framing,
    close: bool,
    fault: Option<Fault>,
}

impl Reply {
    /// A reply with this status, no headers and an empty body.
    ///
    /// The reason phrase comes from a small table of common statuses and is
    /// `Status` for the others.
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            framing: Framing::Length,
            close: false,
            fault: None,
        }
    }

    /// `200 OK` with an empty body.
    pub fn ok() -> Reply {
        Reply::new(200)
    }

    /// `200 OK` with `Content-Type: text/plain` and this body.
    pub fn text(body: impl Into<Bytes>) -> Reply {
        Reply::new(200)
            .header("Content-Type", "text/plain")
            .body(body)
    }

    /// Sets the status code.
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Appends a header, written exactly as given. Repeated names are allowed.
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.headers
            .push((name.to_owned(), value.as_ref().to_vec()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Sends the body with `Transfer-Encoding: chunked`, in chunks of at most
    /// `chunk_size` bytes (a size of zero is treated as one).
    pub fn chunked(mut self, chunk_size: usize) -> Self {
        self.framing = Framing::Chunked(chunk_size.max(1));
        self
    }

    /// Sends no `Content-Length` and no chunking: the body ends when the
    /// server closes the connection, which it does after this reply.
    pub fn close_delimited(mut self) -> Self {
        self.framing = Framing::CloseDelimited;
        self
    }

    /// Sends `Connection: close` and closes the connection after this reply.
    pub fn close(mut self) -> Self {
        self.close = true;
        self
    }

    /// Applies a fault when this reply is written. Replaces any previous
    /// fault.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.fault = Some(fault);
        self
    }

    pub(crate) fn fault_ref(&self) -> Option<&Fault> {
        self.fault.as_ref()
    }

    pub(crate) fn status_code(&self) -> u16 {
        self.status
    }

    pub(crate) fn headers_ref(&self) -> &[(String, Vec<u8>)] {
        &self.headers
    }

    pub(crate) fn body_bytes(&self) -> Bytes {
        self.body.clone()
    }

    /// Whether the given status never carries a body.
    pub(crate) fn bodiless_status(&self) -> bool {
        (100..200).contains(&self.status) || self.status == 204 || self.status == 304
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.trim().eq_ignore_ascii_case(name))
    }

    /// Whether a `Connection: close` header should be written when the
    /// connection is going to close anyway (`must_close`).
    pub(crate) fn wants_close_header(&self, must_close: bool) -> bool {
        self.close || must_close
    }

    /// What happens to the connection after this reply is written.
    pub(crate) fn after(&self, must_close: bool) -> After {
        match &self.fault {
            Some(Fault::ResetWithoutAnswer) => After::Reset,
            Some(
                Fault::CloseWithoutAnswer
                | Fault::CloseMidBody { .. }
                | Fault::CloseMidHeaders { .. }
                | Fault::ShortBody { .. }
                | Fault::RawThenClose(_),
            ) => After::Close,
            _ => {
                if must_close || self.close || self.framing == Framing::CloseDelimited {
                    After::Close
                } else {
                    After::KeepOpen
                }
            }
        }
    }

    /// The serialized status line and headers, including the blank line.
    pub(crate) fn head_bytes(&self, connection_close: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(
            format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).as_bytes(),
        );
        for (name, value) in &self.headers {
            push_header(&mut out, name, value);
        }
        if !self.bodiless_status() {
            if let Some(Fault::ShortBody { declared }) = &self.fault {
                push_header(&mut out, "Content-Length", declared.to_string());
            } else if !self.has_header("content-length") && !self.has_header("transfer-encoding") {
                match self.framing {
                    Framing::Length => {
                        push_header(&mut out, "Content-Length", self.body.len().to_string());
                    }
                    Framing::Chunked(_) => push_header(&mut out, "Transfer-Encoding", "chunked"),
                    Framing::CloseDelimited => {}
                }
            }
        }
        if connection_close && !self.has_header("connection") {
            push_header(&mut out, "Connection", "close");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// The body as written on the wire, cut after `cut` body bytes if given.
    pub(crate) fn body_wire(&self, head_request: bool, cut: Option<usize>) -> Vec<u8> {
        if head_request || self.bodiless_status() {
            return Vec::new();
        }
        let raw = |limit: Option<usize>| {
            let end = limit.map_or(self.body.len(), |l| l.min(self.body.len()));
            self.body[..end].to_vec()
        };
        if matches!(self.fault, Some(Fault::ShortBody { .. })) {
            return raw(None);
        }
        match self.framing {
            Framing::Chunked(size) => encode_chunked(&self.body, size, cut),
            Framing::Length | Framing::CloseDelimited => raw(cut),
        }
    }
}

fn push_header(out: &mut Vec<u8>, name: &str, value: impl AsRef<[u8]>) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_ref());
    out.extend_from_slice(b"\r\n");
}

/// Chunked encoding of `body`. With `cut`, stops after `cut` body bytes and
/// never writes the terminating chunk.
fn encode_chunked(body: &[u8], size: usize, cut: Option<usize>) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 32);
    let mut sent = 0usize;
    for chunk in body.chunks(size.max(1)) {
        if let Some(limit) = cut {
            if sent + chunk.len() > limit {
                let take = limit - sent;
                if take > 0 {
                    out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    out.extend_from_slice(&chunk[..take]);
                }
                return out;
            }
        }
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
        sent += chunk.len();
    }
    if cut.is_none() {
        out.extend_from_slice(b"0\r\n\r\n");
    }
    out
}

/// Reason phrase for common statuses.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[u8]) -> &str {
        std::str::from_utf8(v).expect("utf-8")
    }

    #[test]
    fn default_framing_is_content_length() {
        let r = Reply::text("hi");
        assert_eq!(
            s(&r.head_bytes(false)),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n"
        );
        assert_eq!(r.body_wire(false, None), b"hi");
        assert_eq!(r.body_wire(true, None), b"");
    }

    #[test]
    fn user_framing_headers_are_kept_verbatim() {
        let r = Reply::new(200).header("content-length", "10").body("abc");
        assert_eq!(
            s(&r.head_bytes(false)),
            "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n"
        );
        assert_eq!(r.body_wire(false, None), b"abc");
    }

    #[test]
    fn bodiless_statuses() {
        let r = Reply::new(204).body("ignored");
        assert_eq!(s(&r.head_bytes(false)), "HTTP/1.1 204 No Content\r\n\r\n");
        assert!(r.body_wire(false, None).is_empty());
        let r = Reply::new(304);
        assert_eq!(
            s(&r.head_bytes(true)),
            "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n"
        );
        assert_eq!(
            s(&Reply::new(599).head_bytes(false)),
            "HTTP/1.1 599 Status\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn chunked_encoding_and_cuts() {
        let r = Reply::ok().body("abcdefghij").chunked(4);
        assert_eq!(
            s(&r.body_wire(false, None)),
            "4\r\nabcd\r\n4\r\nefgh\r\n2\r\nij\r\n0\r\n\r\n"
        );
        assert_eq!(s(&r.body_wire(false, Some(6))), "4\r\nabcd\r\n4\r\nef");
        assert_eq!(s(&r.body_wire(false, Some(4))), "4\r\nabcd\r\n");
        assert_eq!(s(&r.body_wire(false, Some(0))), "");
        assert_eq!(
            s(&r.body_wire(false, Some(100))),
            "4\r\nabcd\r\n4\r\nefgh\r\n2\r\nij\r\n"
        );
        assert_eq!(
            s(&Reply::ok().chunked(3).body_wire(false, None)),
            "0\r\n\r\n"
        );
        assert!(s(&r.head_bytes(false)).contains("Transfer-Encoding: chunked\r\n"));
    }

    #[test]
    fn short_body_declares_length() {
        let r = Reply::text("abc").fault(Fault::ShortBody { declared: 10 });
        let head = r.head_bytes(false);
        assert!(s(&head).contains("Content-Length: 10\r\n"));
        assert!(!s(&head).contains("Content-Length: 3\r\n"));
        assert_eq!(r.body_wire(false, None), b"abc");
        assert_eq!(r.after(false), After::Close);
    }

    #[test]
    fn after_rules() {
        assert_eq!(Reply::ok().after(false), After::KeepOpen);
        assert_eq!(Reply::ok().after(true), After::Close);
        assert_eq!(Reply::ok().close().after(false), After::Close);
        assert_eq!(Reply::ok().close_delimited().after(false), After::Close);
        assert_eq!(
            Reply::ok().fault(Fault::ResetWithoutAnswer).after(false),
            After::Reset
        );
        assert_eq!(
            Reply::ok()
                .fault(Fault::Raw(Bytes::from_static(b"x")))
                .after(false),
            After::KeepOpen
        );
        let cd = Reply::text("abc").close_delimited();
        assert!(!s(&cd.head_bytes(false)).contains("Content-Length"));
        assert!(!s(&cd.head_bytes(false)).contains("Connection"));
    }
}
