//! `Location` resolution, through `FollowRedirectLayer` over an in-memory service.
//!
//! Input: one byte choosing the first request (URI, GET or POST), then up to four
//! lines, each a byte choosing a redirect status and then the raw `Location` value of
//! one hop; after the last hop the service answers 200. The first request carries
//! `Authorization`, `Cookie`, `Proxy-Authorization`, a sensitive `X-Api-Key` and its
//! own `Host`.
//!
//! For every hop followed:
//! - the URI is absolute http or https, with a host, a path starting with `/`, and no
//!   `.` or `..` segment left;
//! - a relative `Location` (`/path`, `\\path`, `?query`, `#fragment`, as the WHATWG
//!   URL Standard reads them) keeps the scheme and authority of the hop it answered;
//! - an empty or blank `Location` is not followed;
//! - credentials are sent only while every hop so far has the first request's origin
//!   (scheme, host, port), and the caller's `Host` only while every hop so far has its
//!   authority;
//! - 307 and 308 keep the method and body; 303 turns POST into a GET without a body;
//! - nothing is requested after the last redirect is answered.

#![no_main]

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{AUTHORIZATION, COOKIE, HOST, LOCATION, PROXY_AUTHORIZATION};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri};
use tower::{Layer, ServiceExt};
use towline::BoxError;
use towline::body::Body;
use towline_fuzz::{HANG, runtime};

const STARTS: [&str; 8] = [
    "http://origin.test/a/b?q=1",
    "https://origin.test/",
    "http://127.0.0.1:8080/x",
    "https://[::1]/deep/path/",
    "http://user:pw@origin.test:80/a",
    "https://ORIGIN.test:443/",
    "http://origin.test",
    "http://xn--bcher-kva.example/%2e/a/",
];

const STATUSES: [u16; 5] = [301, 302, 303, 307, 308];

const PAYLOAD: &[u8] = b"payload";

#[derive(Debug)]
struct Seen {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

/// Scheme, host and port (the scheme's default when none is written), lowercased.
fn origin(uri: &Uri) -> (String, String, u16) {
    let scheme = uri.scheme_str().unwrap_or("").to_ascii_lowercase();
    let port = uri
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    let host = uri.host().unwrap_or("").to_ascii_lowercase();
    (scheme, host, port)
}

fn authority(uri: &Uri) -> (String, u16) {
    let (_, host, port) = origin(uri);
    (host, port)
}

/// Whether `location` is a path-, query- or fragment-relative reference, read as the
/// URL Standard reads it: C0 controls and spaces trimmed from both ends, tabs and
/// newlines removed anywhere, `\` taken as `/` (http and https are special schemes).
/// So `\t/\t/host` and `/\host` are scheme-relative and may leave the origin.
fn is_relative(location: &[u8]) -> bool {
    let start = location
        .iter()
        .position(|&b| b > b' ')
        .unwrap_or(location.len());
    let end = location
        .iter()
        .rposition(|&b| b > b' ')
        .map_or(start, |i| i + 1);
    let l: Vec<u8> = location[start..end]
        .iter()
        .filter(|&&b| !matches!(b, b'\t' | b'\n' | b'\r'))
        .map(|&b| if b == b'\\' { b'/' } else { b })
        .collect();
    l.is_empty() || (l[0] == b'/' && l.get(1) != Some(&b'/')) || l[0] == b'?' || l[0] == b'#'
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let start: Uri = STARTS[usize::from(pick) % STARTS.len()]
        .parse()
        .expect("start");
    let post = pick & 0x80 != 0;
    let hops: Vec<(StatusCode, Option<HeaderValue>)> = rest
        .split(|&b| b == b'\n')
        .take(4)
        .filter_map(|line| {
            let (&s, location) = line.split_first()?;
            let status =
                StatusCode::from_u16(STATUSES[usize::from(s) % STATUSES.len()]).expect("status");
            Some((status, HeaderValue::from_bytes(location).ok()))
        })
        .collect();
    if hops.is_empty() {
        return;
    }

    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let service = {
        let seen = Arc::clone(&seen);
        let hops = hops.clone();
        tower::service_fn(move |request: Request<Body>| {
            let seen = Arc::clone(&seen);
            let hops = hops.clone();
            async move {
                let (parts, body) = request.into_parts();
                let body = towline::body::read_body(body).await?;
                let n = {
                    let mut seen = seen.lock().expect("seen");
                    seen.push(Seen {
                        method: parts.method,
                        uri: parts.uri,
                        headers: parts.headers,
                        body,
                    });
                    seen.len() - 1
                };
                let mut response = Response::builder();
                match hops.get(n) {
                    Some((status, location)) => {
                        response = response.status(*status);
                        if let Some(location) = location {
                            response = response.header(LOCATION, location.clone());
                        }
                    }
                    None => response = response.status(200),
                }
                Ok::<_, BoxError>(response.body(String::from("body")).expect("response"))
            }
        })
    };
    let api_key = HeaderName::from_static("x-api-key");
    let client = towline::redirect::FollowRedirectLayer::new()
        .sensitive_header(api_key.clone())
        .layer(service);
    let mut request = Request::builder()
        .method(if post { Method::POST } else { Method::GET })
        .uri(start.clone())
        .header(AUTHORIZATION, "Bearer fuzz")
        .header(COOKIE, "sid=fuzz")
        .header(PROXY_AUTHORIZATION, "Basic fuzz")
        .header(api_key.clone(), "fuzz")
        .header(HOST, start.authority().expect("authority").as_str());
    if post {
        request = request.header(http::header::CONTENT_TYPE, "text/plain");
    }
    let request = request
        .body(if post {
            Body::from(PAYLOAD)
        } else {
            Body::empty()
        })
        .expect("request");

    let rt = runtime();
    let outcome = rt.block_on(async { tokio::time::timeout(HANG, client.oneshot(request)).await });
    let outcome = outcome.expect("the redirect layer hung");

    let seen = seen.lock().expect("seen");
    assert!(
        seen.len() <= hops.len() + 1,
        "{} requests for {} redirects",
        seen.len(),
        hops.len()
    );
    if let Ok(response) = &outcome
        && seen.len() == hops.len() + 1
    {
        assert_eq!(response.status(), 200, "the last answer was 200");
    }
    let first = &seen[0];
    let mut same_origin = true;
    let mut same_authority = true;
    for (i, hop) in seen.iter().enumerate().skip(1) {
        let previous = &seen[i - 1];
        let (status, location) = &hops[i - 1];
        let location = location.as_ref().expect("followed without a Location");
        assert!(
            !location.as_bytes().trim_ascii().is_empty(),
            "followed the blank Location {location:?}"
        );
        let uri = &hop.uri;
        assert!(
            matches!(uri.scheme_str(), Some("http" | "https")),
            "followed {location:?} to {uri}: not http(s)"
        );
        assert!(
            uri.host().is_some_and(|h| !h.is_empty()),
            "followed {location:?} to {uri}: no host"
        );
        let path = uri.path();
        assert!(
            path.starts_with('/'),
            "followed {location:?} to {uri}: a path without /"
        );
        assert!(
            !path.split('/').any(|s| s == "." || s == ".."),
            "followed {location:?} to {uri}: dot segments left"
        );
        if is_relative(location.as_bytes()) {
            assert_eq!(
                origin(uri),
                origin(&previous.uri),
                "the relative {location:?} left the origin of {}",
                previous.uri
            );
        }

        same_origin &= origin(uri) == origin(&first.uri);
        same_authority &= authority(uri) == authority(&first.uri);
        for name in [&AUTHORIZATION, &COOKIE, &PROXY_AUTHORIZATION, &api_key] {
            if hop.headers.contains_key(name) {
                assert!(
                    same_origin,
                    "{name} sent to {uri} after leaving {}",
                    first.uri
                );
            }
        }
        if hop.headers.contains_key(HOST) {
            assert!(
                same_authority,
                "the caller's Host sent to {uri} after leaving {}",
                first.uri
            );
        }

        match status.as_u16() {
            307 | 308 => {
                assert_eq!(hop.method, previous.method, "{status} changed the method");
                assert_eq!(hop.body, previous.body, "{status} changed the body");
            }
            303 => {
                assert_eq!(hop.method, Method::GET, "303 not followed with GET");
                assert!(hop.body.is_empty(), "303 followed with a body");
            }
            _ => {}
        }
    }
});
