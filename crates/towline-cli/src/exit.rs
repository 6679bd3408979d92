//! Exit codes, curl's numbers, and how a failure becomes one line on stderr.
//!
//! | code | when |
//! | --- | --- |
//! | 1 | unsupported protocol (a scheme other than http and https, also as a redirect target) |
//! | 2 | bad usage, or a setting that could not be used |
//! | 3 | malformed URL, or a request towline refuses to send |
//! | 5 / 6 | the proxy's / the host's name could not be resolved |
//! | 7 | connecting failed |
//! | 8 | the server's reply could not be parsed, or its head is over `--max-header-size` / `--max-headers` |
//! | 16 | HTTP/2 framing layer problem: a protocol error the client detected (its own GOAWAY), or the server's GOAWAY with an error before any response |
//! | 18 | partial file: the connection closed mid-body (HTTP/1.1 or HTTP/2) |
//! | 22 | HTTP status 400 or above, with `-f` |
//! | 23 / 26 | writing the output / reading the upload failed |
//! | 28 | a timeout |
//! | 35 | the TLS handshake failed |
//! | 47 | more redirects than `--max-redirs` |
//! | 52 | empty reply: the connection closed before any response (HTTP/1.1 or HTTP/2), or an HTTP/1-only server answered HTTP/2 prior knowledge |
//! | 56 | receiving data failed otherwise |
//! | 58 | the client certificate or key could not be used |
//! | 60 | the server's certificate failed verification |
//! | 61 | the body could not be decoded |
//! | 63 | the body is larger than `--max-filesize` |
//! | 77 | the CA file could not be read or used |
//! | 92 | HTTP/2 stream error: the stream was reset (`RST_STREAM`), by the server or by the client's HTTP/2 layer |
//! | 97 | the proxy's handshake failed or the proxy refused the tunnel |

use std::error::Error as StdError;
use std::fmt;

use towline::Error;

/// curl's exit codes (`man curl`, EXIT CODES) that towline uses.
pub(crate) mod code {
    /// Unsupported protocol (a scheme other than http and https).
    pub(crate) const UNSUPPORTED_PROTOCOL: u8 = 1;
    /// Bad usage, or a setting that could not be used.
    pub(crate) const USAGE: u8 = 2;
    /// Malformed URL.
    pub(crate) const URL_MALFORMED: u8 = 3;
    /// A problem in the HTTP/2 framing layer.
    pub(crate) const HTTP2: u8 = 16;
    /// The proxy's host name could not be resolved.
    pub(crate) const COULDNT_RESOLVE_PROXY: u8 = 5;
    /// The host name could not be resolved.
    pub(crate) const COULDNT_RESOLVE_HOST: u8 = 6;
    /// Connecting failed.
    pub(crate) const COULDNT_CONNECT: u8 = 7;
    /// The server's reply could not be parsed.
    pub(crate) const WEIRD_SERVER_REPLY: u8 = 8;
    /// The body ended before its declared end.
    pub(crate) const PARTIAL_FILE: u8 = 18;
    /// HTTP status 400 or above, with `-f`.
    pub(crate) const HTTP_RETURNED_ERROR: u8 = 22;
    /// Writing the output failed.
    pub(crate) const WRITE_ERROR: u8 = 23;
    /// Reading the data to upload failed.
    pub(crate) const READ_ERROR: u8 = 26;
    /// A timeout.
    pub(crate) const OPERATION_TIMEDOUT: u8 = 28;
    /// The TLS handshake failed.
    pub(crate) const SSL_CONNECT_ERROR: u8 = 35;
    /// The body is larger than `--max-filesize`.
    pub(crate) const FILESIZE_EXCEEDED: u8 = 63;
    /// More redirects than `--max-redirs`.
    pub(crate) const TOO_MANY_REDIRECTS: u8 = 47;
    /// The server closed the connection without answering.
    pub(crate) const GOT_NOTHING: u8 = 52;
    /// Receiving data failed.
    pub(crate) const RECV_ERROR: u8 = 56;
    /// The client certificate or key could not be used.
    pub(crate) const SSL_CERTPROBLEM: u8 = 58;
    /// The server's certificate failed verification.
    pub(crate) const PEER_FAILED_VERIFICATION: u8 = 60;
    /// The body could not be decoded.
    pub(crate) const BAD_CONTENT_ENCODING: u8 = 61;
    /// The CA certificate file could not be read or used.
    pub(crate) const SSL_CACERT_BADFILE: u8 = 77;
    /// An HTTP/2 stream was reset.
    pub(crate) const HTTP2_STREAM: u8 = 92;
    /// The proxy's handshake failed or the proxy refused the tunnel.
    pub(crate) const PROXY: u8 = 97;
}

/// A failed run or transfer: curl's exit code and a message of one line.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    message: String,
}

impl Failure {
    /// The message, without the code.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// A failure from towline's error, at the given stage of the transfer of `uri`
    /// (named in the message when the error does not name it itself): the whole chain
    /// of causes on one line, secrets in the URI redacted.
    pub(crate) fn from_error(err: &Error, stage: Stage, uri: &http::Uri) -> Failure {
        let message = match err.uri() {
            Some(_) => err.report().to_string(),
            None => format!(
                "{} ({})",
                err.report(),
                towline::redact::Redaction::new().uri(uri)
            ),
        };
        Failure::new(classify(err, stage), message)
    }
}

impl Failure {
    /// With HTTP/2 prior knowledge, a connection the server closed before any
    /// response is curl's 52 (empty reply): what an HTTP/1-only server does with the
    /// HTTP/2 preface. hyper reports it as an I/O error with the HTTP/2 error turned
    /// into a plain `io::Error`, so only the caller knows the connection spoke HTTP/2.
    pub(crate) fn prior_knowledge_refused(mut self, err: &Error) -> Failure {
        use std::io::ErrorKind;
        let closed = find::<std::io::Error>(err).is_some_and(|io| {
            matches!(
                io.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof
            )
        });
        if self.code == code::RECV_ERROR && closed {
            self.code = code::GOT_NOTHING;
        }
        self
    }
}

impl fmt::Display for Failure {
    /// `(7) connection failed for …`: the code in parentheses as curl prints it, and
    /// the message kept on one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}) ", self.code)?;
        let mut last_space = false;
        for c in self.message.trim().chars() {
            let c = if c.is_control() { ' ' } else { c };
            if c == ' ' && last_space {
                continue;
            }
            last_space = c == ' ';
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

/// When in a transfer an error happened: it tells an upload's read error from a
/// download's receive error, and an empty reply from a broken body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Sending the request and waiting for the response head.
    Request,
    /// Reading the response body.
    Body,
}

/// curl's exit code for towline's error.
pub(crate) fn classify(err: &Error, stage: Stage) -> u8 {
    use towline::connect::{DialError, ProxyError};
    if err.is_timeout() {
        return code::OPERATION_TIMEDOUT;
    }
    if let Some(proxy) = find::<ProxyError>(err) {
        if proxy.is_unreachable() {
            return if find::<DialError>(err).is_some_and(DialError::is_resolve) {
                code::COULDNT_RESOLVE_PROXY
            } else {
                code::COULDNT_CONNECT
            };
        }
        return code::PROXY;
    }
    if err.is_proxy() {
        return code::PROXY;
    }
    if err.is_resolve() {
        return code::COULDNT_RESOLVE_HOST;
    }
    if err.is_tls() {
        return tls_code(err);
    }
    if err.is_connect() {
        return code::COULDNT_CONNECT;
    }
    if err.is_redirect() {
        return if find::<towline::redirect::TooManyRedirects>(err).is_some() {
            code::TOO_MANY_REDIRECTS
        } else {
            code::UNSUPPORTED_PROTOCOL
        };
    }
    if err.is_decode() {
        return code::BAD_CONTENT_ENCODING;
    }
    if err.is_truncated() {
        return code::PARTIAL_FILE;
    }
    if err.is_invalid_request() {
        return code::URL_MALFORMED;
    }
    if err.is_response() {
        return code::WEIRD_SERVER_REPLY;
    }
    if let Some(h2) = find_h2(err) {
        return h2_code(h2, stage);
    }
    if err.is_body() {
        // Before the response, a body error is the upload's: the file could not be
        // read, or changed length while it was sent.
        return match stage {
            Stage::Request => code::READ_ERROR,
            Stage::Body => code::RECV_ERROR,
        };
    }
    if stage == Stage::Request && nothing_received(err) {
        return code::GOT_NOTHING;
    }
    code::RECV_ERROR
}

/// curl's code for an HTTP/2 failure, by what h2 says and when it happened.
fn h2_code(h2: &h2::Error, stage: Stage) -> u8 {
    if h2.is_reset() && !h2.is_go_away() {
        return code::HTTP2_STREAM;
    }
    if h2.is_io() {
        return match stage {
            Stage::Request => code::GOT_NOTHING,
            Stage::Body => code::PARTIAL_FILE,
        };
    }
    if h2.is_go_away() {
        let reason = h2.reason();
        return match (stage, h2.is_remote()) {
            // The server ended the connection mid-body.
            (Stage::Body, true) => code::PARTIAL_FILE,
            (Stage::Request, true) if reason == Some(h2::Reason::NO_ERROR) => code::GOT_NOTHING,
            // An HTTP/1 reply read as HTTP/2 is a frame far over the largest size:
            // the server does not speak HTTP/2 (prior knowledge to an HTTP/1 server).
            (Stage::Request, false) if reason == Some(h2::Reason::FRAME_SIZE_ERROR) => {
                code::GOT_NOTHING
            }
            _ => code::HTTP2,
        };
    }
    code::HTTP2
}

/// Whether the connection closed before any byte of a response arrived.
fn nothing_received(err: &Error) -> bool {
    if let Some(stale) = err.stale_connection() {
        return !stale.response_started();
    }
    find::<hyper::Error>(err).is_some_and(hyper::Error::is_incomplete_message)
}

/// 60 for a certificate that failed verification, 35 for other handshake failures.
fn tls_code(err: &Error) -> u8 {
    let rustls = find::<towline::tls::TlsError>(err).and_then(|e| e.rustls_error());
    match rustls {
        Some(towline::tls::rustls::Error::InvalidCertificate(_)) => code::PEER_FAILED_VERIFICATION,
        _ => code::SSL_CONNECT_ERROR,
    }
}

/// The HTTP/2 error in the error's `source()` chain, also inside an `io::Error`
/// (whose `source()` skips the error it wraps).
fn find_h2(err: &Error) -> Option<&h2::Error> {
    let mut next: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<h2::Error>() {
            return Some(found);
        }
        let wrapped = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<h2::Error>());
        if wrapped.is_some() {
            return wrapped;
        }
        next = e.source();
    }
    None
}

/// The first cause of type `E` in the error's `source()` chain.
fn find<E: StdError + 'static>(err: &Error) -> Option<&E> {
    let mut next: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_with_the_code() {
        let f = Failure::new(7, "could not connect\nto  127.0.0.1:1:\tconnection refused");
        assert_eq!(
            f.to_string(),
            "(7) could not connect to 127.0.0.1:1: connection refused"
        );
    }
}
