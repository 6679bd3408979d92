//! Building a request for a [`Client`].

use std::fmt;
use std::time::Duration;

use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Uri};

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

/// `Authorization: Basic` for `user` and `password`, marked sensitive; a user name
/// with `:` or a control character anywhere is refused (RFC 7617 §2).
fn basic_credentials(user: &str, password: Option<&str>) -> Result<HeaderValue, Error> {
    let control = |s: &str| s.chars().any(char::is_control);
    if user.contains(':') {
        return Err(invalid(
            "the basic credentials",
            "a user name must not contain ':'",
        ));
    }
    if control(user) || password.is_some_and(control) {
        return Err(invalid(
            "the basic credentials",
            "control characters are not allowed",
        ));
    }
    let credentials = format!("{user}:{}", password.unwrap_or(""));
    let mut value = HeaderValue::try_from(format!("Basic {}", base64(credentials.as_bytes())))
        .map_err(|e| invalid("the basic credentials", e))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Moves credentials in the request's URL to `Authorization: Basic` (percent-decoded),
/// unless the request has an `Authorization` already, and takes them out of the URL
/// either way: as curl, browsers and reqwest send them, and so that no layer below
/// holds them.
pub(super) fn userinfo_to_basic<B>(request: &mut Request<B>) -> Result<(), Error> {
    let Some((userinfo, host)) = request
        .uri()
        .authority()
        .and_then(|a| a.as_str().rsplit_once('@'))
    else {
        return Ok(());
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (decode(user), Some(decode(password))),
        None => (decode(userinfo), None),
    };
    let mut parts = request.uri().clone().into_parts();
    parts.authority = http::uri::Authority::try_from(host).ok();
    let stripped =
        Uri::from_parts(parts).map_err(|e| invalid("the URL without its userinfo", e))?;
    let given = !user.is_empty() || password.is_some();
    if given && !request.headers().contains_key(AUTHORIZATION) {
        let value = basic_credentials(&user, password.as_deref())?;
        request.headers_mut().insert(AUTHORIZATION, value);
    }
    *request.uri_mut() = stripped;
    Ok(())
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
        self.with(|r| {
            let value = basic_credentials(&user, password.as_deref())?;
            r.headers_mut().insert(AUTHORIZATION, value);
            Ok(())
        })
    }

    /// A `multipart/form-data` body (RFC 7578) with its `Content-Type`; see
    /// [`multipart`](crate::multipart).
    pub fn multipart(self, form: crate::multipart::Form) -> Self {
        self.with(|r| {
            r.headers_mut().insert(CONTENT_TYPE, form.content_type());
            *r.body_mut() = form.into_body();
            Ok(())
        })
    }

    /// Appends name–value pairs to the URI's query, encoded as a form is
    /// (`application/x-www-form-urlencoded`): `query(&[("q", "rust tower"), ("page",
    /// "2")])` adds `q=rust+tower&page=2`, after any query the URI already has.
    ///
    /// Anything serde serializes as a flat map or a list of pairs works: a struct with
    /// scalar fields, a `HashMap`, `&[(&str, &str)]`; `None` fields are left out. A
    /// nested value is an [`is_invalid_request`](Error::is_invalid_request) error.
    #[cfg(feature = "json")]
    pub fn query<T: serde::Serialize + ?Sized>(self, query: &T) -> Self {
        self.with(|r| {
            let pairs = query_pairs(query)?;
            if pairs.is_empty() {
                return Ok(());
            }
            let mut encoded = String::new();
            for (k, v) in &pairs {
                if !encoded.is_empty() {
                    encoded.push('&');
                }
                form_encode(k, &mut encoded);
                encoded.push('=');
                form_encode(v, &mut encoded);
            }
            let mut parts = std::mem::take(r.uri_mut()).into_parts();
            let path_and_query = match &parts.path_and_query {
                Some(pq) => match pq.query() {
                    Some(q) if !q.is_empty() => format!("{}?{q}&{encoded}", pq.path()),
                    _ => format!("{}?{encoded}", pq.path()),
                },
                None => format!("/?{encoded}"),
            };
            parts.path_and_query = Some(
                path_and_query
                    .parse()
                    .map_err(|e| invalid("the query", e))?,
            );
            *r.uri_mut() = http::Uri::from_parts(parts).map_err(|e| invalid("the query", e))?;
            Ok(())
        })
    }

    /// A copy of this builder, or `None` when its body cannot be sent twice (a stream)
    /// or it already holds an error.
    pub fn try_clone(&self) -> Option<RequestBuilder> {
        let request = self.request.as_ref().ok()?;
        let mut copy = Request::new(request.body().try_clone()?);
        *copy.method_mut() = request.method().clone();
        *copy.uri_mut() = request.uri().clone();
        *copy.version_mut() = request.version();
        *copy.headers_mut() = request.headers().clone();
        *copy.extensions_mut() = request.extensions().clone();
        Some(RequestBuilder {
            client: self.client.clone(),
            request: Ok(copy),
        })
    }

    /// The HTTP version of the request line over HTTP/1.x: `HTTP_10` sends
    /// `HTTP/1.0` (and the connection is not kept unless the server says
    /// `keep-alive`). Over an HTTP/2 connection the connection's version is used
    /// whatever this says; `HTTP_2` on an HTTP/1.1 connection fails the request.
    ///
    /// Default is `HTTP_11`.
    pub fn version(self, version: http::Version) -> Self {
        self.with(|r| {
            *r.version_mut() = version;
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

/// The name–value pairs of a flat serde value, in its order: a map or struct of
/// scalars, or a list of two-element lists.
#[cfg(feature = "json")]
fn query_pairs<T: serde::Serialize + ?Sized>(query: &T) -> Result<Vec<(String, String)>, Error> {
    use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::Value;

    /// Entries as serialized, in order (a `serde_json::Map` would sort them).
    struct Entries(Vec<(Value, Value)>);

    impl<'de> Deserialize<'de> for Entries {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Entries, D::Error> {
            struct Flat;
            impl<'de> Visitor<'de> for Flat {
                type Value = Entries;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a map or a list of pairs")
                }
                fn visit_unit<E>(self) -> Result<Entries, E> {
                    Ok(Entries(Vec::new()))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = map.next_entry::<Value, Value>()? {
                        out.push((k, v));
                    }
                    Ok(Entries(out))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entries, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = seq.next_element::<(Value, Value)>()? {
                        out.push((k, v));
                    }
                    Ok(Entries(out))
                }
            }
            d.deserialize_any(Flat)
        }
    }

    let nested = || {
        Error::invalid_request(
            "a query must serialize as a flat map, a struct of scalars, or a list of pairs",
        )
    };
    let scalar = |v: Value| -> Result<Option<String>, Error> {
        match v {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            Value::Bool(b) => Ok(Some(b.to_string())),
            Value::Number(n) => Ok(Some(n.to_string())),
            Value::Array(_) | Value::Object(_) => Err(nested()),
        }
    };
    let json = serde_json::to_vec(query).map_err(|e| invalid("the query", e))?;
    let Entries(entries) = serde_json::from_slice(&json).map_err(|_| nested())?;
    let mut pairs = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let k = scalar(k)?.ok_or_else(nested)?;
        if let Some(v) = scalar(v)? {
            pairs.push((k, v));
        }
    }
    Ok(pairs)
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
