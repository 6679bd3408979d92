//! Whether a response body nobody will read is worth reading anyway, so that its
//! connection can be reused.
//!
//! A body that a layer throws away (a redirect's, say) is read to its end only when that
//! can finish at once: it is delimited (a `Content-Length` of at most [`DRAIN_LIMIT`],
//! or chunked), and the connection stays open after it. Anything else —
//! `Connection: close`, HTTP/1.0 without keep-alive, a body whose end is the
//! connection closing, a longer body — is dropped, which closes the connection instead
//! of waiting for a server that may never finish. Even a short body is read for at most
//! [`DRAIN_WAIT`], and no more than [`DRAIN_LIMIT`] bytes of it.

use std::time::Duration;

use http::header::{CONNECTION, TRANSFER_ENCODING};
use http::{HeaderMap, Version};
use http_body::Body as HttpBody;

/// The most bytes of a body read and thrown away to keep its connection.
pub(crate) const DRAIN_LIMIT: u64 = 64 * 1024;

/// The longest wait for the bytes of a body being drained; after it, the body is
/// dropped and its connection closed.
pub(crate) const DRAIN_WAIT: Duration = Duration::from_millis(100);

/// Whether `body`, answered with `version` and `headers`, should be read to its end
/// before it is dropped.
pub(crate) fn worth_draining<B: HttpBody>(version: Version, headers: &HeaderMap, body: &B) -> bool {
    if body.is_end_stream() {
        return true;
    }
    if body.size_hint().lower() > DRAIN_LIMIT {
        return false;
    }
    // Without a length, HTTP/1 needs chunked framing to end a body on an open
    // connection; anything else ends when the server closes it.
    let chunked = headers.get_all(TRANSFER_ENCODING).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.to_ascii_lowercase().contains("chunked"))
    });
    let delimited = body.size_hint().exact().is_some() || chunked;
    let connection = |token: &str| {
        headers.get_all(CONNECTION).iter().any(|value| {
            value
                .to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    match version {
        Version::HTTP_10 | Version::HTTP_09 => delimited && connection("keep-alive"),
        Version::HTTP_11 => delimited && !connection("close"),
        // h2 and later: one stream, never the connection.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{Empty, Full};

    fn headers(connection: Option<&str>) -> HeaderMap {
        let mut map = HeaderMap::new();
        if let Some(value) = connection {
            map.insert(CONNECTION, value.parse().expect("value"));
        }
        map
    }

    #[test]
    fn only_short_known_bodies_on_a_connection_that_stays() {
        let small = Full::new(Bytes::from_static(b"moved"));
        let big = Full::new(Bytes::from(vec![0; DRAIN_LIMIT as usize + 1]));
        let stream = Endless;
        let v11 = Version::HTTP_11;
        assert!(worth_draining(v11, &headers(None), &small));
        assert!(worth_draining(
            v11,
            &headers(Some("close")),
            &Empty::<Bytes>::new()
        ));
        assert!(!worth_draining(v11, &headers(Some("close")), &small));
        assert!(!worth_draining(v11, &headers(Some("foo, Close")), &small));
        assert!(!worth_draining(v11, &headers(None), &big));
        assert!(!worth_draining(v11, &headers(None), &stream));
        let mut chunked = headers(None);
        chunked.insert(TRANSFER_ENCODING, "chunked".parse().expect("value"));
        assert!(worth_draining(v11, &chunked, &stream));
        assert!(worth_draining(Version::HTTP_2, &headers(None), &stream));
        assert!(!worth_draining(Version::HTTP_10, &headers(None), &small));
        assert!(worth_draining(
            Version::HTTP_10,
            &headers(Some("Keep-Alive")),
            &small
        ));
        assert!(worth_draining(Version::HTTP_2, &headers(None), &small));
    }

    /// A body of unknown length that never ends.
    struct Endless;

    impl HttpBody for Endless {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            std::task::Poll::Pending
        }
    }
}
