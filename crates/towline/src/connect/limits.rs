//! Limits on a response head, the same for HTTP/1.1 and HTTP/2.
//!
//! One byte limit bounds the head in both protocols: over HTTP/1.1 it is the status
//! line and header lines as received, up to the blank line;
//! over HTTP/2 it is `SETTINGS_MAX_HEADER_LIST_SIZE`, advertised to the server, which
//! counts each field's name and value plus 32 bytes (RFC 9113 §6.5.2). The count of
//! fields is HTTP/1.1's alone: HTTP/2 has no such setting, its byte limit bounds the
//! count too.

use std::fmt;

/// The default for [`Builder::max_header_size`](super::Builder::max_header_size):
/// 256 KiB, Chromium's limit for a response head over HTTP/1.1 and HTTP/2 alike.
pub(crate) const DEFAULT_MAX_HEADER_SIZE: usize = 256 * 1024;

/// The default for [`Builder::max_headers`](super::Builder::max_headers): well above
/// the hundred-odd fields real servers send (120 `Set-Cookie`s from httpbin).
pub(crate) const DEFAULT_MAX_HEADERS: usize = 1000;

/// hyper's own read buffer limit (8 KiB plus 4 KiB per default header field); towline
/// keeps it, or raises it to the head limit, so body reads are not made smaller.
const HTTP1_DEFAULT_BUF: usize = 8192 + 4096 * 100;

/// The configured limits, kept by the connector to build connections and to name the
/// limit in an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeadLimits {
    pub(crate) bytes: usize,
    pub(crate) fields: usize,
}

impl HeadLimits {
    /// Applies the limits to hyper's HTTP/1.1 connection builder.
    pub(crate) fn configure_http1(&self, http1: &mut hyper::client::conn::http1::Builder) {
        http1.max_header_size(self.bytes);
        http1.max_buf_size(self.bytes.max(HTTP1_DEFAULT_BUF));
        http1.max_headers(self.fields);
    }

    /// The byte limit advertised over HTTP/2.
    #[cfg(feature = "http2")]
    pub(crate) fn http2_bytes(&self) -> u32 {
        u32::try_from(self.bytes).unwrap_or(u32::MAX)
    }

    /// A [`ResponseHeadTooLarge`] when `err` says the response head broke a limit:
    /// hyper's "message head is too large" over HTTP/1.1, or, over HTTP/2, the stream
    /// reset by h2 itself with `PROTOCOL_ERROR` before any response arrived, which is
    /// what h2 does with a header list over the advertised size.
    pub(crate) fn exceeded_by(
        &self,
        err: hyper::Error,
        h2: bool,
    ) -> Result<ResponseHeadTooLarge, hyper::Error> {
        // hyper's `is_parse_too_large` exists with its `server` feature only; its text
        // for this parse error is fixed ("message head is too large"), and it also
        // stands for too many header fields.
        if !h2 && err.is_parse() && err.to_string().contains("too large") {
            return Ok(ResponseHeadTooLarge {
                bytes: self.bytes,
                fields: Some(self.fields),
                source: err,
            });
        }
        #[cfg(feature = "http2")]
        if h2 && library_protocol_reset(&err) {
            return Ok(ResponseHeadTooLarge {
                bytes: self.bytes,
                fields: None,
                source: err,
            });
        }
        Err(err)
    }
}

/// Whether h2 reset the stream itself with `PROTOCOL_ERROR` (not the server, not a
/// GOAWAY): its answer to a response header list over `SETTINGS_MAX_HEADER_LIST_SIZE`.
#[cfg(feature = "http2")]
fn library_protocol_reset(err: &hyper::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            return h2.is_reset()
                && !h2.is_remote()
                && !h2.is_go_away()
                && h2.reason() == Some(h2::Reason::PROTOCOL_ERROR);
        }
        source = e.source();
    }
    false
}

/// A response head was larger than the connector accepts
/// ([`Builder::max_header_size`](super::Builder::max_header_size), and over HTTP/1.1
/// [`Builder::max_headers`](super::Builder::max_headers)).
///
/// The request fails with an error that is
/// [`is_response()`](crate::Error::is_response); downcast its source to this type to
/// read the limits.
#[derive(Debug)]
pub struct ResponseHeadTooLarge {
    bytes: usize,
    fields: Option<usize>,
    source: hyper::Error,
}

impl ResponseHeadTooLarge {
    /// The byte limit that applied.
    pub fn limit_bytes(&self) -> usize {
        self.bytes
    }

    /// The limit on the number of header fields, over HTTP/1.1; `None` over HTTP/2,
    /// where the byte limit alone applies.
    pub fn limit_fields(&self) -> Option<usize> {
        self.fields
    }

    /// Whether the head came over HTTP/2.
    pub fn is_http2(&self) -> bool {
        self.fields.is_none()
    }
}

impl fmt::Display for ResponseHeadTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.fields {
            Some(fields) => write!(
                f,
                "the response head is larger than the limit of {} bytes (max_header_size) \
                 or {fields} header fields (max_headers)",
                self.bytes
            ),
            None => write!(
                f,
                "the HTTP/2 response head was refused: larger than the limit of {} bytes \
                 (max_header_size, sent as SETTINGS_MAX_HEADER_LIST_SIZE), or malformed",
                self.bytes
            ),
        }
    }
}

impl std::error::Error for ResponseHeadTooLarge {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
