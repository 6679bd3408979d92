//! The URL edge: `towline::uri::parse` takes a shortcut through `http::Uri` for input
//! already in normal form. Whatever the input, its answer must be the WHATWG URL
//! Standard's (`url::Url::parse`, then `towline::uri::from_url`): the same URI, or an
//! error from both. And an http or https URL that comes out is in normal form:
//! parsing it again gives it back unchanged.

#![no_main]

use towline::uri::{self, IntoUri, Url};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let edge = uri::parse(input).map(|u| u.to_string());
    let standard = Url::parse(input)
        .map_err(|_| ())
        .and_then(|url| uri::from_url(&url).map_err(|_| ()))
        .map(|u| u.to_string());
    assert_eq!(edge.as_ref().ok(), standard.as_ref().ok(), "{input:?}");
    // Only http and https come out idempotent: the standard itself is not for every
    // scheme (`file://host/s:/0` reads again as `file:///s:/0`, a drive letter drops
    // the host), and the client sends nothing else.
    if let Some(out) = edge
        .ok()
        .filter(|out| out.starts_with("http://") || out.starts_with("https://"))
    {
        let again = uri::parse(&out).map(|u| u.to_string());
        assert_eq!(
            again.as_deref().ok(),
            Some(out.as_str()),
            "{input:?} gave {out:?}"
        );
        let uri: http::Uri = out.parse().expect("an http::Uri");
        let through = uri.into_uri().map(|u| u.to_string());
        assert_eq!(
            through.as_deref().ok(),
            Some(out.as_str()),
            "{input:?} gave {out:?}"
        );
    }
});
