//! Building a request for a [`Client`].

use std::fmt;
use std::time::Duration;

use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request};

use super::{Client, RequestTimeout, Response};
use crate::body::Body;
use crate::error::{Error, Kind};
use crate::uri::IntoUri;

/// A request being built; [`send`](RequestBuilder::send) sends it.
///
/// Errors in what was given (an invalid URI or header) are kept and returned by
/// `send`, so the calls chain.
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    client: Client,
    request: Result<Request<Body>, Error>,
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.request {
            Ok(r) => f
                .debug_struct("RequestBuilder")
                .field("method", r.method())
                .field("uri", &self.client.redaction().uri(r.uri()))
                .finish_non_exhaustive(),
            Err(e) => f.debug_struct("RequestBuilder").field("error", e).finish(),
        }
    }
}

fn invalid(what: &'static str, err: impl Into<crate::BoxError>) -> Error {
    let err: crate::BoxError = err.into();
    Error::new(Kind::InvalidRequest, Some(format!("{what}: {err}").into()))
}

impl RequestBuilder {
    pub(super) fn new(client: Client, method: Method, uri: impl IntoUri) -> RequestBuilder {
        let request = uri
            .into_uri()
            .map_err(|e| {
                let e = e.redact_with(client.redaction());
                Error::new(Kind::InvalidRequest, Some(Box::new(e)))
                    .with_redaction(client.redaction())
            })
            .map(|uri| {
                let mut request = Request::new(Body::empty());
                *request.method_mut() = method;
                *request.uri_mut() = uri;
                request
            });
        RequestBuilder { client, request }
    }

    fn with(mut self, f: impl FnOnce(&mut Request<Body>) -> Result<(), Error>) -> Self {
        if let Ok(request) = &mut self.request {
            if let Err(err) = f(request) {
                self.request = Err(err);
            }
        }
        self
    }

    /// Adds a header (a second one with the same name is added, not replaced).
    pub fn header<K, V>(self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: Into<http::Error>,
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        self.with(|r| {
            let name = name
                .try_into()
                .map_err(|e| invalid("invalid header name", e.into()))?;
            let value = value
                .try_into()
                .map_err(|e| invalid("invalid header value", e.into()))?;
            r.headers_mut().append(name, value);
            Ok(())
        })
    }

    /// Adds every header of `headers`, replacing those of the same names; a name with
    /// several values in `headers` keeps them all.
    pub fn headers(self, headers: HeaderMap) -> Self {
        self.with(|r| {
            // `HeaderMap`'s owning iterator names only the first value of each name.
            let mut current: Option<HeaderName> = None;
            for (name, value) in headers {
                match (name, &current) {
                    (Some(name), _) => {
                        r.headers_mut().insert(name.clone(), value);
                        current = Some(name);
                    }
                    (None, Some(name)) => {
                        r.headers_mut().append(name.clone(), value);
                    }
                    (None, None) => {}
                }
            }
            Ok(())
        })
    }

    /// The request body.
    pub fn body(self, body: impl Into<Body>) -> Self {
        self.with(|r| {
            *r.body_mut() = body.into();
            Ok(())
        })
    }

    /// A JSON body, with `Content-Type: application/json`.
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Self {
        self.with(|r| {
            let bytes = serde_json::to_vec(value).map_err(|e| invalid("the JSON body", e))?;
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            *r.body_mut() = Body::from(bytes);
            Ok(())
        })
    }

    /// A form body, `application/x-www-form-urlencoded`, from name–value pairs.
    pub fn form<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Self {
        let mut encoded = String::new();
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                encoded.push('&');
            }
            form_encode(k.as_ref(), &mut encoded);
            encoded.push('=');
            form_encode(v.as_ref(), &mut encoded);
        }
        self.with(|r| {
            r.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            *r.body_mut() = Body::from(encoded);
            Ok(())
        })
    }

    /// `Authorization: Bearer <token>`, marked sensitive.
    pub fn bearer_auth(self, token: impl fmt::Display) -> Self {
        self.with(|r| {
            let mut value = HeaderValue::try_from(format!("Bearer {token}"))
                .map_err(|e| invalid("the bearer token", e))?;
            value.set_sensitive(true);
            r.headers_mut().insert(AUTHORIZATION, value);
            Ok(())
        })
    }

    /// `Authorization: Basic …` from a user name and an optional password, marked
    /// sensitive.
    ///
    /// As RFC 7617 §2 requires, a user name containing `:` and either part containing
    /// a control character are refused: [`send`](Self::send) fails with an error whose
    /// [`is_invalid_request()`](Error::is_invalid_request) is true. (The server would
    /// read `a:b` with password `c` as user `a` with password `b:c`.)
    pub fn basic_auth(self, user: impl fmt::Display, password: Option<impl fmt::Display>) -> Self {
        let user = user.to_string();
        let password = password.map(|p| p.to_string());
        let control = |s: &str| s.chars().any(char::is_control);
        let credentials = format!("{user}:{}", password.as_deref().unwrap_or(""));
        self.with(|r| {
            if user.contains(':') {
                return Err(invalid(
                    "the basic credentials",
                    "a user name must not contain ':'",
                ));
            }
            if control(&user) || password.as_deref().is_some_and(control) {
                return Err(invalid(
                    "the basic credentials",
                    "control characters are not allowed",
                ));
            }
            let mut value =
                HeaderValue::try_from(format!("Basic {}", base64(credentials.as_bytes())))
                    .map_err(|e| invalid("the basic credentials", e))?;
            value.set_sensitive(true);
            r.headers_mut().insert(AUTHORIZATION, value);
            Ok(())
        })
    }

    /// A timeout for this request, replacing the client's
    /// [`timeout`](super::ClientBuilder::timeout).
    pub fn timeout(self, timeout: Duration) -> Self {
        self.with(|r| {
            r.extensions_mut().insert(RequestTimeout(timeout));
            Ok(())
        })
    }

    /// The request as built, to send some other way (it is an `http::Request`).
    pub fn build(self) -> Result<Request<Body>, Error> {
        self.request
    }

    /// Sends the request.
    pub async fn send(self) -> Result<Response, Error> {
        let request = self.request?;
        self.client.execute(request).await
    }
}

/// Appends `text` encoded as in `application/x-www-form-urlencoded` (WHATWG URL §5.2).
fn form_encode(text: &str, out: &mut String) {
    for &b in text.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
        }
    }
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(TABLE[(n >> 18) as usize & 63] as char);
        out.push(TABLE[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            TABLE[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            TABLE[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, out) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), out);
        }
    }

    #[test]
    fn form_encoding() {
        let mut out = String::new();
        form_encode("a b&c=d/é", &mut out);
        assert_eq!(out, "a+b%26c%3Dd%2F%C3%A9");
    }
}
