//! Opening a tunnel through an HTTP proxy with `CONNECT` (RFC 9110 §9.3.6).

use std::fmt::Write as _;

use http::StatusCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::proxy_error::{ErrorKind, ProxyError};
use super::route::ProxyEndpoint;

/// The largest response head accepted from a proxy.
const MAX_HEAD: usize = 16 * 1024;
/// The most header fields accepted in it.
const MAX_HEADERS: usize = 64;

/// Asks the proxy on `io` to open a tunnel to `host:port`, with the endpoint's
/// credentials, and reads its answer. On success the stream carries bytes to and from
/// the origin.
///
/// The answer's head is read up to [`MAX_HEAD`] bytes, interim (`1xx`) heads before it
/// included and skipped; a proxy that sends anything after a `2xx` head, before the
/// client spoke, breaks the protocol and is refused.
pub(crate) async fn connect<I>(
    io: &mut I,
    endpoint: &ProxyEndpoint,
    host: &str,
    port: u16,
) -> Result<(), ProxyError>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let tunnel = Tunnel {
        endpoint,
        target: Target(host, port).to_string(),
    };
    tunnel.send_request(io).await?;
    let answer = tunnel.read_answer(io).await?;
    tunnel.accept(answer)
}

/// One CONNECT exchange: the proxy and the `host:port` its errors name.
struct Tunnel<'a> {
    endpoint: &'a ProxyEndpoint,
    target: String,
}

/// The proxy's final answer to CONNECT.
struct Answer {
    status: StatusCode,
    /// Whether bytes followed the head before the client spoke.
    early_data: bool,
}

impl Tunnel<'_> {
    fn fail(&self, kind: ErrorKind) -> ProxyError {
        ProxyError::new(self.endpoint, &self.target, kind)
    }

    fn io_fail(&self, e: std::io::Error) -> ProxyError {
        self.fail(ErrorKind::Io).with_source(e)
    }

    /// The CONNECT request head, with the endpoint's credentials.
    fn request_head(&self) -> Vec<u8> {
        let target = self.target.as_bytes();
        let mut head = Vec::with_capacity(128);
        head.extend_from_slice(b"CONNECT ");
        head.extend_from_slice(target);
        head.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        head.extend_from_slice(target);
        head.extend_from_slice(b"\r\n");
        if let Some(auth) = self.endpoint.authorization() {
            head.extend_from_slice(b"Proxy-Authorization: ");
            head.extend_from_slice(auth.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        head
    }

    async fn send_request<I>(&self, io: &mut I) -> Result<(), ProxyError>
    where
        I: AsyncWrite + Unpin,
    {
        let head = self.request_head();
        trace!(
            target: "towline::connect",
            proxy = %self.endpoint,
            destination = %self.target,
            credentials = self.endpoint.authorization().is_some(),
            "sending CONNECT"
        );
        io.write_all(&head).await.map_err(|e| self.io_fail(e))?;
        io.flush().await.map_err(|e| self.io_fail(e))
    }

    /// Reads up to the final head, skipping interim ones; all of them together stay
    /// within [`MAX_HEAD`].
    async fn read_answer<I>(&self, io: &mut I) -> Result<Answer, ProxyError>
    where
        I: AsyncRead + Unpin,
    {
        let mut buf = Vec::with_capacity(512);
        // Bytes of interim (1xx) heads already parsed and dropped from `buf`.
        let mut skipped = 0;
        loop {
            // Parsing is synchronous, so its 2 KiB of header slots never sit in this
            // future's state (which every connection's future embeds, direct or not).
            match parse_head(&buf).map_err(|why| self.fail(ErrorKind::Protocol(why)))? {
                Head::Final { status, len } => {
                    return Ok(Answer {
                        status,
                        early_data: len < buf.len(),
                    });
                }
                Head::Interim { len } => {
                    // 100, 102, 103: the final answer follows.
                    skipped += len;
                    buf.drain(..len);
                    if skipped >= MAX_HEAD {
                        return Err(self.fail(ErrorKind::Protocol(TOO_LARGE)));
                    }
                    continue;
                }
                Head::Partial if skipped + buf.len() < MAX_HEAD => {}
                Head::Partial => return Err(self.fail(ErrorKind::Protocol(TOO_LARGE))),
            }
            buf.reserve(1024);
            let n = io.read_buf(&mut buf).await.map_err(|e| self.io_fail(e))?;
            if n == 0 {
                return Err(self.fail(ErrorKind::Protocol(
                    "closed the connection before answering CONNECT",
                )));
            }
        }
    }

    /// A `2xx` with nothing after it opens the tunnel; anything else is refused.
    fn accept(&self, answer: Answer) -> Result<(), ProxyError> {
        let status = answer.status;
        if !status.is_success() {
            debug!(
                target: "towline::connect",
                proxy = %self.endpoint,
                destination = %self.target,
                status = status.as_u16(),
                "proxy refused CONNECT"
            );
            return Err(self.fail(ErrorKind::Refused {
                status,
                credentials_sent: self.endpoint.authorization().is_some(),
            }));
        }
        if answer.early_data {
            return Err(self.fail(ErrorKind::Protocol(
                "sent data through the tunnel before the client spoke",
            )));
        }
        debug!(
            target: "towline::connect",
            proxy = %self.endpoint,
            destination = %self.target,
            status = status.as_u16(),
            "CONNECT tunnel established"
        );
        Ok(())
    }
}

const TOO_LARGE: &str = "answered CONNECT with a response head larger than 16 KiB";

/// What the start of a proxy's answer to CONNECT holds.
enum Head {
    /// Not a whole head yet.
    Partial,
    /// A whole interim (`1xx` but 101) head of `len` bytes.
    Interim { len: usize },
    /// The whole final head, of `len` bytes.
    Final { status: StatusCode, len: usize },
}

/// Parses the head at the start of `buf`, or says why it is no HTTP response head.
fn parse_head(buf: &[u8]) -> Result<Head, &'static str> {
    if buf.is_empty() {
        return Ok(Head::Partial);
    }
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let status = response
                .code
                .and_then(|c| StatusCode::from_u16(c).ok())
                .ok_or("answered CONNECT with an invalid status code")?;
            Ok(
                if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
                    Head::Interim { len }
                } else {
                    Head::Final { status, len }
                },
            )
        }
        Ok(httparse::Status::Partial) => Ok(Head::Partial),
        Err(httparse::Error::TooManyHeaders) => {
            Err("answered CONNECT with more than 64 header fields")
        }
        Err(_) => Err("answered CONNECT with a malformed response"),
    }
}

/// `host:port` as a request target: IPv6 addresses in brackets.
struct Target<'a>(&'a str, u16);

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.contains(':') {
            f.write_char('[')?;
            f.write_str(self.0)?;
            f.write_char(']')?;
        } else {
            f.write_str(self.0)?;
        }
        write!(f, ":{}", self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    /// Runs `connect` against a fake proxy that expects `request` and answers `answer`.
    async fn exchange(
        endpoint: ProxyEndpoint,
        host: &str,
        answer: &'static [u8],
    ) -> (Result<(), ProxyError>, String) {
        let (mut client, mut proxy) = duplex(64 * 1024);
        let fake = tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut byte = [0u8; 1];
            while !seen.ends_with(b"\r\n\r\n") {
                if proxy.read(&mut byte).await.unwrap_or(0) == 0 {
                    break;
                }
                seen.push(byte[0]);
            }
            let _ = proxy.write_all(answer).await;
            String::from_utf8(seen).unwrap_or_default()
        });
        let result = connect(&mut client, &endpoint, host, 443).await;
        drop(client);
        (result, fake.await.unwrap_or_default())
    }

    #[tokio::test]
    async fn writes_connect_with_credentials_and_accepts_2xx() {
        let ep = ProxyEndpoint::new("proxy.test", 3128).basic_auth("Aladdin", "open sesame");
        let (result, request) = exchange(
            ep,
            "example.test",
            b"HTTP/1.1 200 Connection established\r\n\r\n",
        )
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(
            request,
            "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\
             Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
        );
        let (result, request) = exchange(
            ProxyEndpoint::new("p", 1),
            "::1",
            b"HTTP/1.0 200 OK\r\nProxy-agent: x\r\n\r\n",
        )
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(
            request,
            "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn refusals_carry_the_status() {
        let (result, _) = exchange(
            ProxyEndpoint::new("p", 1),
            "h.test",
            b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        let err = result.expect_err("refused");
        assert_eq!(
            err.status(),
            Some(StatusCode::PROXY_AUTHENTICATION_REQUIRED)
        );
        assert!(err.is_auth_required());
        assert!(
            err.to_string().contains("no credentials were given"),
            "{err}"
        );

        let (result, _) = exchange(
            ProxyEndpoint::new("p", 1).basic_auth("u", "wrong"),
            "h.test",
            b"HTTP/1.1 407 Nope\r\n\r\n",
        )
        .await;
        let err = result.expect_err("refused");
        assert!(
            err.to_string().contains("did not accept the credentials"),
            "{err}"
        );

        let (result, _) = exchange(
            ProxyEndpoint::new("p", 1),
            "h.test",
            b"HTTP/1.1 403 Forbidden\r\n\r\n",
        )
        .await;
        let err = result.expect_err("refused");
        assert_eq!(err.status(), Some(StatusCode::FORBIDDEN));
        assert!(!err.is_auth_required());
    }

    #[tokio::test]
    async fn interim_answers_are_skipped() {
        let (result, _) = exchange(
            ProxyEndpoint::new("p", 1),
            "h.test",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
              HTTP/1.1 200 Connection established\r\n\r\n",
        )
        .await;
        assert!(result.is_ok(), "{result:?}");

        let (result, _) = exchange(
            ProxyEndpoint::new("p", 1),
            "h.test",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 407 Auth\r\n\r\n",
        )
        .await;
        assert_eq!(
            result.expect_err("refused").status(),
            Some(StatusCode::PROXY_AUTHENTICATION_REQUIRED)
        );

        // 101 is no interim answer to CONNECT: a refusal.
        let (result, _) = exchange(
            ProxyEndpoint::new("p", 1),
            "h.test",
            b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        )
        .await;
        assert_eq!(
            result.expect_err("refused").status(),
            Some(StatusCode::SWITCHING_PROTOCOLS)
        );

        // Endless interim answers end at the head limit.
        let (mut client, mut proxy) = duplex(64 * 1024);
        tokio::spawn(async move {
            for _ in 0..2000 {
                if proxy
                    .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
        let err = connect(&mut client, &ProxyEndpoint::new("p", 1), "h.test", 80)
            .await
            .expect_err("too large");
        assert!(err.to_string().contains("larger than 16 KiB"), "{err}");
    }

    #[tokio::test]
    async fn broken_answers_are_protocol_errors() {
        for (answer, words) in [
            (&b"garbage\r\n\r\n"[..], "malformed"),
            (&b"HTTP/1.1 200 OK\r\n"[..], "closed the connection"),
            (
                &b"HTTP/1.1 200 OK\r\n\r\nhello"[..],
                "before the client spoke",
            ),
        ] {
            let (result, _) = exchange(ProxyEndpoint::new("p", 1), "h.test", answer).await;
            let err = result.expect_err("refused");
            assert!(err.to_string().contains(words), "{err}");
            assert_eq!(err.status(), None);
        }
    }

    #[tokio::test]
    async fn an_endless_head_is_cut_off() {
        let (mut client, mut proxy) = duplex(64 * 1024);
        tokio::spawn(async move {
            let _ = proxy.write_all(b"HTTP/1.1 200 OK\r\nX-Filler: ").await;
            for _ in 0..1000 {
                if proxy.write_all(&[b'a'; 100]).await.is_err() {
                    break;
                }
            }
        });
        let err = connect(&mut client, &ProxyEndpoint::new("p", 1), "h.test", 80)
            .await
            .expect_err("too large");
        assert!(err.to_string().contains("larger than 16 KiB"), "{err}");
    }
}
