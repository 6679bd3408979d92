//! Requests as the server received them.

/// A request received by a [`TestServer`](crate::TestServer).
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target as sent (`/path?q` or absolute-form); over HTTP/2,
    /// the path and query.
    pub target: String,
    /// Header names lowercased, in order; values as raw bytes. Over HTTP/2
    /// a request without a `host` header gets one first, holding its
    /// `:authority`; other pseudo-headers are not included.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The decoded body (chunked encoding removed).
    pub body: Vec<u8>,
    /// Whether the body came with chunked transfer encoding (always `false`
    /// over HTTP/2).
    pub chunked: bool,
    /// The HTTP version: `10` for HTTP/1.0, `11` for HTTP/1.1, `20` for
    /// HTTP/2.
    pub version: u8,
    /// Id of the connection (0-based, in order of accept).
    pub connection: usize,
    /// 0-based index of this request on its connection (over HTTP/2, in the
    /// order the streams' request heads arrived).
    pub index_on_connection: usize,
    /// `false` when the server closed without answering: the request was
    /// refused by [`Builder::close_reused_without_answer`](crate::Builder::close_reused_without_answer),
    /// the handler panicked, or the reply's fault never writes a complete head
    /// ([`Fault::CloseWithoutAnswer`](crate::Fault::CloseWithoutAnswer),
    /// [`Fault::ResetWithoutAnswer`](crate::Fault::ResetWithoutAnswer), or
    /// [`Fault::CloseMidHeaders`](crate::Fault::CloseMidHeaders) cutting the
    /// head short).
    ///
    /// Over HTTP/2 it is `false` when the handler panicked (the stream was
    /// answered with `500`) or the fault reset the stream.
    ///
    /// The copy passed to the handler always has `answered == true`; the
    /// recorded copy reflects what actually happened.
    pub answered: bool,
}

impl RecordedRequest {
    /// The first value of the header `name` (case-insensitive), or `None` if
    /// it is absent or not UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// All values of the header `name` (case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> Vec<&[u8]> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .collect()
    }

    /// The target without its query string.
    pub fn path(&self) -> &str {
        match self.target.find('?') {
            Some(i) => &self.target[..i],
            None => &self.target,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors() {
        let r = RecordedRequest {
            method: "GET".into(),
            target: "/a/b?x=1".into(),
            headers: vec![
                ("x-a".into(), b"1".to_vec()),
                ("x-b".into(), vec![0xff]),
                ("x-a".into(), b"2".to_vec()),
            ],
            body: Vec::new(),
            chunked: false,
            version: 11,
            connection: 0,
            index_on_connection: 0,
            answered: true,
        };
        assert_eq!(r.path(), "/a/b");
        assert_eq!(r.header("X-A"), Some("1"));
        assert_eq!(r.header("x-b"), None);
        assert_eq!(r.header("x-c"), None);
        assert_eq!(r.header_all("x-a"), vec![&b"1"[..], &b"2"[..]]);
    }
}
