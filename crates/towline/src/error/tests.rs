use super::*;

fn assert_send_sync<T: Send + Sync + 'static>() {}

#[test]
fn error_is_send_sync_and_small() {
    assert_send_sync::<Error>();
    assert_send_sync::<StaleConnection>();
    assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
}

#[test]
fn display_is_its_own_line_and_report_has_the_chain() {
    let err = Error::new(Kind::Body, Some(Box::new(Truncated::new(3, Some(10)))))
        .with_uri(Uri::from_static("http://example.test/a"));
    assert_eq!(err.to_string(), "body failed for http://example.test/a");
    assert_eq!(
        err.report().to_string(),
        "body failed for http://example.test/a: response body truncated: \
         the connection closed after 3 of 10 bytes"
    );
    assert!(err.is_body() && err.is_truncated());
    let err = err.without_uri();
    assert!(err.uri().is_none());
    assert_eq!(err.to_string(), "body failed");
    assert!(err.source().is_some());
}

/// An error outside towline whose text repeats its source's.
#[derive(Debug)]
struct Wraps(std::io::Error);

impl fmt::Display for Wraps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wrapper: {}", self.0)
    }
}

impl StdError for Wraps {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn report_writes_each_cause_once() {
    let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    let err = Error::new(Kind::Connect, Some(Box::new(Wraps(io))));
    assert_eq!(
        err.report().to_string(),
        "connection failed: wrapper: refused"
    );
    let nested = Error::new(Kind::Request, Some(Box::new(err)));
    assert_eq!(
        nested.report().to_string(),
        "request failed: connection failed: wrapper: refused"
    );
    assert_eq!(
        format!("{:?}", nested.report()),
        nested.report().to_string()
    );
}

#[test]
fn userinfo_and_secret_params_are_never_displayed() {
    let err = Error::new(Kind::Connect, None).with_uri(Uri::from_static(
        "http://me:s3cret@example.test:8080/a?b=c&access_token=s3cret",
    ));
    assert_eq!(
        err.to_string(),
        "connection failed for http://***@example.test:8080/a?b=c&access_token=***"
    );
    for text in [
        format!("{err:?}"),
        format!("{err:#?}"),
        err.report().to_string(),
    ] {
        assert!(!text.contains("s3cret"), "{text}");
    }
    // The URI itself is the caller's, unchanged.
    assert_eq!(
        err.uri().and_then(|u| u.authority()).map(|a| a.as_str()),
        Some("me:s3cret@example.test:8080")
    );
    let user_only =
        Error::new(Kind::Connect, None).with_uri(Uri::from_static("http://TOKEN@example.test/"));
    assert_eq!(
        user_only.to_string(),
        "connection failed for http://***@example.test/"
    );
    let custom = Error::new(Kind::Connect, None)
        .with_uri(Uri::from_static(
            "http://example.test/?session=s3cret&key=1",
        ))
        .with_redaction(&Redaction::only(["session"]));
    assert_eq!(
        custom.to_string(),
        "connection failed for http://example.test/?session=***&key=1"
    );
}

#[test]
fn unsent_request_comes_back_only_with_its_own_body_type() {
    let req = http::Request::new(String::from("hello"));
    let stale = StaleConnection::new(true, false).with_unsent_request(req);
    assert!(!stale.request_written());
    let err = Error::new(Kind::Request, Some(Box::new(stale)));
    assert!(err.is_stale_connection());
    assert!(err.take_unsent_request::<Vec<u8>>().is_none());
    let back = err
        .take_unsent_request::<String>()
        .expect("request handed back");
    assert_eq!(back.body(), "hello");
    assert!(err.take_unsent_request::<String>().is_none());
}

#[test]
fn causes_of_other_modules_state_their_kind_anywhere_in_the_chain() {
    use crate::connect::{Destination, DialError};
    let dst = Destination::new(http::uri::Scheme::HTTP, "nowhere.test", 80);
    let io = || std::io::Error::other("no");
    let resolve = DialError::resolve(&dst, io());
    let resolve = Error::new(Kind::Connect, Some(Box::new(resolve)));
    assert!(resolve.is_resolve() && resolve.is_connect() && !resolve.is_proxy());
    let refused = DialError::connect(&dst, io());
    let refused = Error::new(Kind::Connect, Some(Box::new(refused)));
    assert!(!refused.is_resolve());
    // Further down the chain, behind another `Error`.
    let nested = Error::new(Kind::Request, Some(Box::new(resolve)));
    assert!(nested.is_resolve() && !nested.is_decode() && !nested.is_redirect());
    // A cause no module classifies: the kinds given.
    let other = Error::from_body("boom".into());
    assert!(other.is_body() && !other.is_decode() && !other.is_resolve());
    assert!(!other.is_proxy() && !other.is_redirect());
    #[cfg(feature = "decompress")]
    {
        use crate::decompress::{DecodeError, DecodeErrorKind};
        let decode = || Box::new(DecodeError::new(DecodeErrorKind::Corrupt));
        let err = Error::from_body(decode());
        assert_eq!(err.kind(), Kind::Decode);
        let inner = Error::new(Kind::Body, Some(decode()));
        let err = Error::new(Kind::Request, Some(Box::new(inner)));
        assert!(err.is_decode() && err.is_request());
    }
}

#[test]
fn from_boxed_keeps_an_inner_error() {
    let inner: BoxError = Box::new(Error::new(Kind::Connect, None));
    assert!(Error::from_boxed(inner, Kind::Request).is_connect());
    let other: BoxError = "boom".into();
    assert!(Error::from_boxed(other, Kind::Request).is_request());
}
