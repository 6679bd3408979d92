//! `--resolve` and `--connect-to`: a dialer that sends a host and port somewhere else.
//!
//! Only where the connection goes changes: the URL, the `Host` header, the TLS
//! server name and the certificate check stay the URL's, as in curl. The dialer sees
//! each [`Destination`] before the inner dialer does: `--connect-to` rules first (the
//! first that matches), then `--resolve` entries for the host and port that result.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use towline::BoxError;
use towline::connect::{Destination, Dial};

use crate::exit::{Failure, code};

/// One `--resolve HOST:PORT:ADDR[,ADDR]…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Resolve {
    host: String,
    port: u16,
    addrs: Vec<IpAddr>,
}

/// One `--connect-to HOST1:PORT1:HOST2:PORT2`; `None` matches any host or port, or
/// keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConnectTo {
    from_host: Option<String>,
    from_port: Option<u16>,
    to_host: Option<String>,
    to_port: Option<u16>,
}

/// The parsed `--resolve` and `--connect-to` options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Overrides {
    resolve: Vec<Resolve>,
    connect_to: Vec<ConnectTo>,
}

/// Splits `text` at its `:`s, a `[…]` IPv6 address counting as one field.
fn fields(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let end = if rest.starts_with('[') {
            rest.find(']').map_or(rest.len(), |i| i + 1)
        } else {
            0
        };
        match rest[end..].find(':') {
            Some(i) => {
                out.push(&rest[..end + i]);
                rest = &rest[end + i + 1..];
            }
            None => {
                out.push(rest);
                return out;
            }
        }
    }
}

fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

impl Overrides {
    /// Reads every `--resolve` and `--connect-to`; a malformed one is a usage error.
    pub(crate) fn parse(resolve: &[String], connect_to: &[String]) -> Result<Overrides, Failure> {
        let mut out = Overrides::default();
        for arg in resolve {
            let bad = |why: &str| {
                Failure::new(
                    code::USAGE,
                    format!("--resolve '{arg}': {why} (expected HOST:PORT:ADDRESS[,ADDRESS]…)"),
                )
            };
            // `+` marks an entry that times out in curl's cache; `-` removes one,
            // which a fresh run has nothing to remove from.
            if arg.starts_with('-') {
                continue;
            }
            let text = arg.strip_prefix('+').unwrap_or(arg);
            let (host, rest) = text.split_once(':').ok_or_else(|| bad("no port"))?;
            let (port, addrs) = rest.split_once(':').ok_or_else(|| bad("no address"))?;
            let port: u16 = port.parse().map_err(|_| bad("the port is not a number"))?;
            let addrs = addrs
                .split(',')
                .map(|a| unbracket(a.trim()).parse::<IpAddr>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| bad("an address is not an IP address"))?;
            if host.is_empty() || addrs.is_empty() {
                return Err(bad("no host"));
            }
            out.resolve.push(Resolve {
                host: unbracket(host).to_ascii_lowercase(),
                port,
                addrs,
            });
        }
        for arg in connect_to {
            let bad = || {
                Failure::new(
                    code::USAGE,
                    format!("--connect-to '{arg}': expected HOST1:PORT1:HOST2:PORT2"),
                )
            };
            let [from_host, from_port, to_host, to_port] = fields(arg)[..] else {
                return Err(bad());
            };
            let host = |h: &str| (!h.is_empty()).then(|| unbracket(h).to_ascii_lowercase());
            let port = |p: &str| -> Result<Option<u16>, Failure> {
                match p {
                    "" => Ok(None),
                    p => p.parse().map(Some).map_err(|_| bad()),
                }
            };
            out.connect_to.push(ConnectTo {
                from_host: host(from_host),
                from_port: port(from_port)?,
                to_host: host(to_host),
                to_port: port(to_port)?,
            });
        }
        Ok(out)
    }

    /// Whether there is nothing to override.
    pub(crate) fn is_empty(&self) -> bool {
        self.resolve.is_empty() && self.connect_to.is_empty()
    }

    /// The destinations to try for `dst`, in order: `dst` itself when nothing
    /// applies. Only the origin's destinations (`http`, `https`) are changed.
    fn targets(&self, dst: &Destination) -> Vec<Destination> {
        let scheme = dst.scheme().clone();
        if scheme != http::uri::Scheme::HTTP && scheme != http::uri::Scheme::HTTPS {
            return vec![dst.clone()];
        }
        let (mut host, mut port) = (dst.host().to_ascii_lowercase(), dst.port());
        let rule = self.connect_to.iter().find(|c| {
            c.from_host.as_ref().is_none_or(|h| *h == host) && c.from_port.is_none_or(|p| p == port)
        });
        if let Some(rule) = rule {
            host = rule.to_host.clone().unwrap_or(host);
            port = rule.to_port.unwrap_or(port);
        }
        match self
            .resolve
            .iter()
            .find(|r| r.host == host && r.port == port)
        {
            Some(entry) => entry
                .addrs
                .iter()
                .map(|ip| Destination::new(scheme.clone(), ip.to_string(), port))
                .collect(),
            None => vec![Destination::new(scheme, host, port)],
        }
    }

    /// `dialer`, with these overrides applied to what it dials.
    pub(crate) fn wrap<D: Dial>(&self, dialer: D) -> Overridden<D> {
        Overridden {
            inner: dialer,
            overrides: std::sync::Arc::new(self.clone()),
        }
    }
}

/// A dialer that dials where `--resolve` and `--connect-to` say.
#[derive(Clone, Debug)]
pub(crate) struct Overridden<D> {
    inner: D,
    overrides: std::sync::Arc<Overrides>,
}

impl<D: Dial> tower_service::Service<Destination> for Overridden<D> {
    type Response = D::Io;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<D::Io, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, destination: Destination) -> Self::Future {
        let targets = self.overrides.targets(&destination);
        // The dialer polled ready goes with this call; a clone stays for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let mut last: Option<BoxError> = None;
            // More than one target: the addresses of one --resolve entry, in turn.
            for (i, target) in targets.into_iter().enumerate() {
                if i > 0 {
                    std::future::poll_fn(|cx| inner.poll_ready(cx))
                        .await
                        .map_err(Into::into)?;
                }
                match inner.dial(target).await {
                    Ok(io) => return Ok(io),
                    Err(e) => last = Some(e.into()),
                }
            }
            Err(last.unwrap_or_else(|| "--resolve gave no address".into()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dst(host: &str, port: u16) -> Destination {
        Destination::new(http::uri::Scheme::HTTP, host, port)
    }

    fn shown(ds: Vec<Destination>) -> Vec<String> {
        ds.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn resolve_and_connect_to_rewrite_the_destination() {
        let o = Overrides::parse(
            &[
                "a.test:80:127.0.0.1,[::1]".into(),
                "+b.test:443:10.0.0.1".into(),
            ],
            &["c.test:80:b.test:443".into(), ":81:[::1]:8080".into()],
        )
        .expect("valid");
        assert_eq!(
            shown(o.targets(&dst("A.test", 80))),
            ["127.0.0.1:80", "[::1]:80"]
        );
        assert_eq!(shown(o.targets(&dst("a.test", 81))), ["[::1]:8080"]);
        assert_eq!(shown(o.targets(&dst("c.test", 80))), ["10.0.0.1:443"]);
        let socks = Destination::new("socks5".parse().expect("scheme"), "a.test", 80);
        assert_eq!(shown(o.targets(&socks)), ["a.test:80"]);
        assert!(Overrides::parse(&[], &[]).expect("none").is_empty());
    }

    #[test]
    fn malformed_overrides_are_usage_errors() {
        for bad in [
            "a.test",
            "a.test:x:1.2.3.4",
            "a.test:80:nope",
            ":80:1.2.3.4",
        ] {
            let err = Overrides::parse(&[bad.into()], &[]).expect_err(bad);
            assert_eq!(err.code, code::USAGE, "{bad}");
        }
        for bad in ["a:1:b", "a:x:b:2", "a:1:b:2:3"] {
            let err = Overrides::parse(&[], &[bad.into()]).expect_err(bad);
            assert_eq!(err.code, code::USAGE, "{bad}");
        }
    }
}
