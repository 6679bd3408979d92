//! The client side of SOCKS5 (RFC 1928) with username and password authentication
//! (RFC 1929).

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::proxy_error::{ErrorKind, ProxyError};
use super::route::ProxyEndpoint;

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0x00;
const USERNAME_PASSWORD: u8 = 0x02;
const NO_ACCEPTABLE_METHOD: u8 = 0xff;
const CMD_CONNECT: u8 = 0x01;
const ATYP_IPV4: u8 = 0x01;
const ATYP_DOMAIN: u8 = 0x03;
const ATYP_IPV6: u8 = 0x04;

/// Where the proxy should connect: an address resolved here, or a name the proxy
/// resolves.
#[derive(Debug)]
pub(crate) enum Target<'a> {
    Addr(SocketAddr),
    Name(&'a str, u16),
}

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Addr(addr) => write!(f, "{addr}"),
            Target::Name(host, port) => write!(f, "{host}:{port}"),
        }
    }
}

/// Runs the SOCKS5 handshake on `io` up to a connection to `target`; the stream then
/// carries bytes to and from the origin. Every read has a fixed size.
pub(crate) async fn connect<I>(
    io: &mut I,
    endpoint: &ProxyEndpoint,
    target: Target<'_>,
) -> Result<(), ProxyError>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let mut handshake = Handshake {
        io,
        endpoint,
        target,
    };
    // Everything that can be refused before I/O.
    let credentials = handshake.credentials()?;
    let request = handshake.connect_request()?;

    let method = handshake.negotiate(credentials.is_some()).await?;
    handshake.authenticate(method, credentials).await?;
    handshake.request(&request).await?;
    debug!(
        target: "towline::connect",
        proxy = %endpoint,
        destination = %handshake.target,
        authenticated = method == USERNAME_PASSWORD,
        "SOCKS5 connection established"
    );
    Ok(())
}

/// The username and password to offer (RFC 1929), when the endpoint has them.
type Credentials<'a> = Option<(&'a str, &'a str)>;

/// One SOCKS5 handshake: the stream, the proxy and the destination its errors name.
struct Handshake<'a, 't, I> {
    io: &'a mut I,
    endpoint: &'a ProxyEndpoint,
    target: Target<'t>,
}

impl<'a, I> Handshake<'a, '_, I>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    fn fail(&self, kind: ErrorKind) -> ProxyError {
        ProxyError::new(self.endpoint, &self.target, kind)
    }

    fn io_fail(&self, e: io::Error) -> ProxyError {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            self.fail(ErrorKind::Protocol(
                "closed the connection during the SOCKS5 handshake",
            ))
        } else {
            self.fail(ErrorKind::Io).with_source(e)
        }
    }

    /// The endpoint's username and password, when both fit RFC 1929's length bytes.
    fn credentials(&self) -> Result<Credentials<'a>, ProxyError> {
        match (self.endpoint.username(), self.endpoint.password()) {
            (Some(user), Some(pass)) => {
                if user.len() > 255 || pass.len() > 255 {
                    return Err(self.fail(ErrorKind::Unsupported(
                        "a SOCKS5 username or password is at most 255 bytes",
                    )));
                }
                Ok(Some((user, pass)))
            }
            _ => Ok(None),
        }
    }

    /// The connect request for the target (RFC 1928 §4).
    fn connect_request(&self) -> Result<Vec<u8>, ProxyError> {
        let mut request = vec![VERSION, CMD_CONNECT, 0x00];
        match &self.target {
            Target::Addr(SocketAddr::V4(addr)) => {
                request.push(ATYP_IPV4);
                request.extend_from_slice(&addr.ip().octets());
                request.extend_from_slice(&addr.port().to_be_bytes());
            }
            Target::Addr(SocketAddr::V6(addr)) => {
                request.push(ATYP_IPV6);
                request.extend_from_slice(&addr.ip().octets());
                request.extend_from_slice(&addr.port().to_be_bytes());
            }
            Target::Name(host, port) => {
                let Ok(len) = u8::try_from(host.len()) else {
                    return Err(self.fail(ErrorKind::Unsupported(
                        "a host name sent to a SOCKS5 proxy is at most 255 bytes",
                    )));
                };
                request.push(ATYP_DOMAIN);
                request.push(len);
                request.extend_from_slice(host.as_bytes());
                request.extend_from_slice(&port.to_be_bytes());
            }
        }
        Ok(request)
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), ProxyError> {
        let sent = async {
            self.io.write_all(bytes).await?;
            self.io.flush().await
        };
        match sent.await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.io_fail(e)),
        }
    }

    async fn receive(&mut self, buf: &mut [u8]) -> Result<(), ProxyError> {
        match self.io.read_exact(buf).await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.io_fail(e)),
        }
    }

    /// Method negotiation (RFC 1928 §3): offers no authentication, and username and
    /// password when there are credentials; returns the method the proxy chose.
    async fn negotiate(&mut self, offer_credentials: bool) -> Result<u8, ProxyError> {
        let greeting: &[u8] = if offer_credentials {
            &[VERSION, 2, NO_AUTH, USERNAME_PASSWORD]
        } else {
            &[VERSION, 1, NO_AUTH]
        };
        self.send(greeting).await?;
        let mut choice = [0u8; 2];
        self.receive(&mut choice).await?;
        if choice[0] != VERSION {
            return Err(self.fail(ErrorKind::Protocol(
                "is not a SOCKS5 proxy: its answer has another version",
            )));
        }
        trace!(
            target: "towline::connect",
            proxy = %self.endpoint,
            method = choice[1],
            "SOCKS5 authentication method chosen"
        );
        Ok(choice[1])
    }

    /// Follows the chosen method: nothing, username and password, or a refusal.
    async fn authenticate(
        &mut self,
        method: u8,
        credentials: Credentials<'_>,
    ) -> Result<(), ProxyError> {
        match (method, credentials) {
            (NO_AUTH, _) => Ok(()),
            (USERNAME_PASSWORD, Some((user, pass))) => self.username_password(user, pass).await,
            (NO_ACCEPTABLE_METHOD, credentials) => Err(self.fail(ErrorKind::SocksNoMethod {
                credentials_offered: credentials.is_some(),
            })),
            _ => Err(self.fail(ErrorKind::Protocol(
                "chose an authentication method that was not offered",
            ))),
        }
    }

    /// RFC 1929 §2: version 1, then length-prefixed username and password.
    async fn username_password(&mut self, user: &str, pass: &str) -> Result<(), ProxyError> {
        let mut auth = Vec::with_capacity(3 + user.len() + pass.len());
        auth.push(0x01);
        auth.push(user.len() as u8);
        auth.extend_from_slice(user.as_bytes());
        auth.push(pass.len() as u8);
        auth.extend_from_slice(pass.as_bytes());
        self.send(&auth).await?;
        let mut status = [0u8; 2];
        self.receive(&mut status).await?;
        if status[1] != 0x00 {
            return Err(self.fail(ErrorKind::SocksCredentialsRejected));
        }
        Ok(())
    }

    /// The connect request and its reply (RFC 1928 §4, §6).
    async fn request(&mut self, request: &[u8]) -> Result<(), ProxyError> {
        self.send(request).await?;
        let mut reply = [0u8; 4];
        self.receive(&mut reply).await?;
        if reply[0] != VERSION {
            return Err(self.fail(ErrorKind::Protocol(
                "is not a SOCKS5 proxy: its reply has another version",
            )));
        }
        if reply[1] != 0x00 {
            debug!(
                target: "towline::connect",
                proxy = %self.endpoint,
                destination = %self.target,
                reply = reply[1],
                "SOCKS5 proxy refused the connection"
            );
            return Err(self.fail(ErrorKind::SocksReply(reply[1])));
        }
        self.skip_bound_address(reply[3]).await
    }

    /// The bound address that follows a reply is of no use to a client, but must be
    /// consumed.
    async fn skip_bound_address(&mut self, atyp: u8) -> Result<(), ProxyError> {
        let rest = match atyp {
            ATYP_IPV4 => 4 + 2,
            ATYP_IPV6 => 16 + 2,
            ATYP_DOMAIN => {
                let mut len = [0u8; 1];
                self.receive(&mut len).await?;
                usize::from(len[0]) + 2
            }
            _ => {
                return Err(self.fail(ErrorKind::Protocol("replied with an unknown address type")));
            }
        };
        let mut bound = [0u8; 255 + 2];
        self.receive(&mut bound[..rest]).await
    }
}

/// The target for a host: an IP literal as it is; a name sent as it is when the proxy
/// resolves names, and otherwise resolved here (its first address, as curl does).
pub(crate) async fn target(host: &str, port: u16, remote_dns: bool) -> io::Result<Target<'_>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Target::Addr(SocketAddr::new(ip, port)));
    }
    if remote_dns {
        return Ok(Target::Name(host, port));
    }
    let addrs = super::tcp::resolve(host, port).await?;
    addrs
        .into_iter()
        .next()
        .map(Target::Addr)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the name resolved to no addresses"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::duplex;

    /// A fake SOCKS5 proxy: reads the greeting, answers `method`, checks credentials
    /// against `expect_auth` when asked, then reads the request and answers `rep`.
    /// Returns the bytes of the connect request.
    async fn fake_proxy(
        mut io: tokio::io::DuplexStream,
        method: u8,
        expect_auth: Option<(&'static str, &'static str)>,
        rep: u8,
    ) -> Vec<u8> {
        let mut head = [0u8; 2];
        io.read_exact(&mut head).await.expect("greeting");
        let mut methods = vec![0u8; usize::from(head[1])];
        io.read_exact(&mut methods).await.expect("methods");
        io.write_all(&[5, method]).await.expect("choice");
        if method == NO_ACCEPTABLE_METHOD {
            return methods;
        }
        if method == USERNAME_PASSWORD {
            let mut ver_len = [0u8; 2];
            io.read_exact(&mut ver_len).await.expect("auth");
            let mut user = vec![0u8; usize::from(ver_len[1])];
            io.read_exact(&mut user).await.expect("user");
            let mut plen = [0u8; 1];
            io.read_exact(&mut plen).await.expect("plen");
            let mut pass = vec![0u8; usize::from(plen[0])];
            io.read_exact(&mut pass).await.expect("pass");
            let ok = expect_auth.is_some_and(|(u, p)| u.as_bytes() == user && p.as_bytes() == pass);
            io.write_all(&[1, if ok { 0 } else { 1 }])
                .await
                .expect("status");
            if !ok {
                return Vec::new();
            }
        }
        let mut request = vec![0u8; 4];
        io.read_exact(&mut request).await.expect("request");
        let rest = match request[3] {
            ATYP_IPV4 => 6,
            ATYP_IPV6 => 18,
            _ => {
                let mut len = [0u8; 1];
                io.read_exact(&mut len).await.expect("len");
                request.push(len[0]);
                usize::from(len[0]) + 2
            }
        };
        let mut tail = vec![0u8; rest];
        io.read_exact(&mut tail).await.expect("address");
        request.extend_from_slice(&tail);
        // Answer with a domain-typed bound address, to exercise that path too.
        let mut answer = vec![5, rep, 0, ATYP_DOMAIN, 4];
        answer.extend_from_slice(b"bind");
        answer.extend_from_slice(&[0, 80]);
        io.write_all(&answer).await.expect("reply");
        request
    }

    #[tokio::test]
    async fn socks5h_sends_the_name_and_socks5_the_address() {
        let (mut client, proxy) = duplex(4096);
        let fake = tokio::spawn(fake_proxy(proxy, NO_AUTH, None, 0));
        let ep = ProxyEndpoint::new("p", 1080);
        let name = target("localhost", 8080, true).await.expect("target");
        connect(&mut client, &ep, name).await.expect("connected");
        let request = fake.await.expect("fake");
        assert_eq!(&request[..5], &[5, 1, 0, ATYP_DOMAIN, 9]);
        assert_eq!(&request[5..14], b"localhost");
        assert_eq!(&request[14..], &8080u16.to_be_bytes());

        let (mut client, proxy) = duplex(4096);
        let fake = tokio::spawn(fake_proxy(proxy, NO_AUTH, None, 0));
        let resolved = target("localhost", 8080, false).await.expect("resolved");
        assert!(matches!(resolved, Target::Addr(a) if a.ip().is_loopback()));
        connect(
            &mut client,
            &ep,
            Target::Addr("127.0.0.1:8080".parse().expect("addr")),
        )
        .await
        .expect("connected");
        let request = fake.await.expect("fake");
        assert_eq!(request, [5, 1, 0, ATYP_IPV4, 127, 0, 0, 1, 0x1f, 0x90]);
    }

    #[tokio::test]
    async fn username_and_password_per_rfc_1929() {
        let (mut client, proxy) = duplex(4096);
        let fake = tokio::spawn(fake_proxy(proxy, USERNAME_PASSWORD, Some(("me", "pw")), 0));
        let ep = ProxyEndpoint::new("p", 1080).basic_auth("me", "pw");
        connect(
            &mut client,
            &ep,
            Target::Addr("[::1]:443".parse().expect("addr")),
        )
        .await
        .expect("connected");
        let request = fake.await.expect("fake");
        assert_eq!(request[3], ATYP_IPV6);

        let (mut client, proxy) = duplex(4096);
        tokio::spawn(fake_proxy(proxy, USERNAME_PASSWORD, Some(("me", "pw")), 0));
        let ep = ProxyEndpoint::new("p", 1080).basic_auth("me", "wrong");
        let err = connect(&mut client, &ep, Target::Name("h.test", 80))
            .await
            .expect_err("rejected");
        assert!(err.is_auth_required());
        assert!(
            err.to_string()
                .contains("rejected the username and password"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_proxy_that_wants_credentials_says_so() {
        let (mut client, proxy) = duplex(4096);
        let fake = tokio::spawn(fake_proxy(proxy, NO_ACCEPTABLE_METHOD, None, 0));
        let err = connect(
            &mut client,
            &ProxyEndpoint::new("p", 1080),
            Target::Name("h", 1),
        )
        .await
        .expect_err("refused");
        assert_eq!(fake.await.expect("fake"), [NO_AUTH], "offers only no-auth");
        assert!(err.is_auth_required());
        assert!(err.to_string().contains("requires authentication"), "{err}");
    }

    #[tokio::test]
    async fn reply_codes_become_messages() {
        let (mut client, proxy) = duplex(4096);
        tokio::spawn(fake_proxy(proxy, NO_AUTH, None, 4));
        let err = connect(
            &mut client,
            &ProxyEndpoint::new("p", 1080),
            Target::Name("h.test", 80),
        )
        .await
        .expect_err("refused");
        assert_eq!(err.socks_reply(), Some(4));
        assert_eq!(
            err.to_string(),
            "the SOCKS5 proxy p:1080 could not connect to h.test:80: host unreachable (reply code 4)"
        );
    }

    #[tokio::test]
    async fn broken_proxies_and_oversized_names() {
        let (mut client, mut proxy) = duplex(4096);
        tokio::spawn(async move {
            let mut greeting = [0u8; 3];
            let _ = proxy.read_exact(&mut greeting).await;
            let _ = proxy.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        });
        let err = connect(
            &mut client,
            &ProxyEndpoint::new("p", 1),
            Target::Name("h", 1),
        )
        .await
        .expect_err("not socks");
        assert!(err.to_string().contains("is not a SOCKS5 proxy"), "{err}");

        let (mut client, proxy) = duplex(4096);
        drop(proxy);
        let err = connect(
            &mut client,
            &ProxyEndpoint::new("p", 1),
            Target::Name("h", 1),
        )
        .await
        .expect_err("closed");
        assert!(!err.to_string().is_empty());

        let long = "a".repeat(256);
        let (mut client, _proxy) = duplex(4096);
        let err = connect(
            &mut client,
            &ProxyEndpoint::new("p", 1),
            Target::Name(&long, 1),
        )
        .await
        .expect_err("too long");
        assert!(err.to_string().contains("at most 255 bytes"), "{err}");
    }
}
