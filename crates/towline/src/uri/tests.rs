//! Unit tests of the URL edge: normal forms, refusals, the shortcut against the standard.

use super::*;

fn norm(input: &str) -> String {
    match parse(input) {
        Ok(uri) => uri.to_string(),
        Err(e) => format!("error: {e}"),
    }
}

#[test]
fn strings_come_out_in_normal_form() {
    for (input, out) in [
        ("http://bücher.example/", "http://xn--bcher-kva.example/"),
        ("HTTP://Example.COM:80/a/./b/../c", "http://example.com/a/c"),
        ("https://example.com:443/", "https://example.com/"),
        ("https://example.com:8443/", "https://example.com:8443/"),
        ("http:\\\\example.com\\a\\b", "http://example.com/a/b"),
        ("http:/example.com/", "http://example.com/"),
        ("http:///example.com/", "http://example.com/"),
        (
            "http://example.com/a b?q=ä",
            "http://example.com/a%20b?q=%C3%A4",
        ),
        ("http://0x7f.1/", "http://127.0.0.1/"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com/#frag", "http://example.com/"),
        ("  http://example.com/  ", "http://example.com/"),
        (
            "http://example.com/a?x={y}|z",
            "http://example.com/a?x={y}|z",
        ),
        ("http://example.com/a|b^c[d]", "http://example.com/a|b^c[d]"),
        ("http://[0:0::1]:8080/", "http://[::1]:8080/"),
    ] {
        assert_eq!(norm(input), out, "{input}");
    }
}

/// The shortcut through `http::Uri` gives what the standard gives, for inputs
/// `http::Uri` accepts.
#[test]
fn the_shortcut_agrees_with_the_standard() {
    for input in [
        "http://api.bench.test/v1/items?id=42",
        "http://h.test",
        "http://h.test?x",
        "http://h.test:08080/",
        "http://h.test:0/",
        "http://h.test:65535/",
        "http://h.test:65536/",
        "http://h.test:99999/",
        "http://h.test:080/",
        "https://h.test:443/",
        "https://h.test:80/",
        "http://h.test/a?b'c",
        "http://h.test/a'b",
        "http://h.test/a/%2e/b",
        "http://h.test/a/..",
        "http://h.test/a#f",
        "http://h.test/a?q#f",
        "http://h_t.test/",
        "http://h.test./",
        "http://1.2.3/",
        "http://a.0x1/",
        "http://a.b1/",
        "http://127.0.0.1/",
        "http://127.000.0.1/",
        "http://[::1]/",
        "http://xn--bcher-kva.example/",
        "http://h.test/%zz%41",
        "http://h.test/~a!$&()*+,;=:@/",
        "http://h.test/?a=!$&()*+,;=:@/?",
        "ftp://h.test/x",
        "foo://h.test/x",
        "httpg://@p.u:tehst/",
        "http://u@h.test/",
        "HTTP://h.test/",
        "http://H.test/",
        "http://h.test/\u{e4}",
        "http://h.test/?\u{e4}",
        "http://h.test/a\u{7f}",
        "http://h..test/",
        "http://-h.test/",
        "http://h-.test/",
        "http://.h.test/",
        "http://h.test../",
        "http://0.0.0.0/",
        "http://255.255.255.255/",
        "http://1.2.3.4.5/",
        "http://h.test/%",
        "http://h.test/a?%",
        "http://h.test/!$&'()*+,;=",
        "http://h.test/%2E%2e/x",
        "http://h.test/a%2F../b",
        "http://a.b-c.d_e.f1/",
    ] {
        let Some(uri) = shortcut(input) else {
            continue;
        };
        let standard = Url::parse(input)
            .map_err(|_| ())
            .and_then(|url| from_url(&url).map_err(|_| ()));
        assert_eq!(
            Ok(uri.to_string()),
            standard.map(|u| u.to_string()),
            "{input}"
        );
    }
}

#[test]
fn refusals_name_the_reason_and_hide_userinfo() {
    let err = parse("http://u:SECRET@exa mple.com/").expect_err("a space in a host");
    let text = err.to_string();
    assert!(!text.contains("SECRET"), "{text}");
    assert!(
        text.contains("invalid URL `http://***@exa mple.com/`"),
        "{text}"
    );
    assert!(text.contains("invalid international domain name"), "{text}");
    assert!(!format!("{err:?}").contains("SECRET"));

    let err = parse("/relative").expect_err("no base");
    assert!(
        err.to_string().contains("relative URL without a base"),
        "{err}"
    );
    let err = parse("TOKEN@host").expect_err("no scheme");
    assert!(!err.to_string().contains("TOKEN"), "{err}");
    assert!(parse("mailto:someone@example.com").is_err());
    assert!(parse("http://[::1/").is_err());
    assert!(parse("http://256.256.256.256/").is_err());
}

#[test]
fn a_normal_uri_passes_through_and_others_are_normalised() {
    for text in [
        "http://api.bench.test/v1/items?id=42",
        "https://127.0.0.1:8443/a/b.c/..d?x=.",
        "http://example.com/%2F..x",
    ] {
        let uri: Uri = text.parse().expect("uri");
        assert!(is_normal(&uri), "{text}");
        assert_eq!(uri.clone().into_uri().expect("valid"), uri);
    }
    for (text, out) in [
        ("http://Example.com/", "http://example.com/"),
        ("http://example.com:80/", "http://example.com/"),
        ("http://example.com/a/../b", "http://example.com/b"),
        ("http://example.com/a/%2e%2E/b", "http://example.com/b"),
        ("http://example.com/a/.%2e/b", "http://example.com/b"),
        ("http://0177.0.0.1/", "http://127.0.0.1/"),
        ("http://127.1/", "http://127.0.0.1/"),
        ("http://u:p@example.com/", "http://u:p@example.com/"),
        ("http://[::0:1]/", "http://[::1]/"),
        (
            "http://xn--bcher-kva.example/",
            "http://xn--bcher-kva.example/",
        ),
    ] {
        let uri: Uri = text.parse().expect("uri");
        assert_eq!(uri.into_uri().expect("valid").to_string(), out, "{text}");
    }
    assert!(
        "http://xn--a.example/"
            .parse::<Uri>()
            .expect("uri")
            .into_uri()
            .is_err()
    );
}

#[test]
fn every_input_type() {
    let want: Uri = "http://example.com/x".parse().expect("uri");
    let s = String::from("http://EXAMPLE.com/x");
    let url = Url::parse("http://example.com/x#y").expect("url");
    assert_eq!("http://example.com/./x".into_uri().expect("str"), want);
    assert_eq!((&s).into_uri().expect("&String"), want);
    assert_eq!(s.into_uri().expect("String"), want);
    assert_eq!((&url).into_uri().expect("&Url"), want);
    assert_eq!(url.into_uri().expect("Url"), want);
    assert_eq!((&want).into_uri().expect("&Uri"), want);
}
