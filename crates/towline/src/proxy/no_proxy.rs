//! Hosts that bypass the proxy: `NO_PROXY`.

use std::net::{IpAddr, SocketAddr};

/// Hosts that are reached directly, not through the proxy: the rules of `NO_PROXY`.
///
/// A list of entries separated by commas (spaces around them are ignored); matching is
/// case-insensitive and never resolves names:
///
/// | entry | matches |
/// | --- | --- |
/// | `*` | every host |
/// | `example.test`, `.example.test`, `*.example.test` | `example.test` and every name under it, as curl does |
/// | `example.test:8080` | the same names, on port 8080 only |
/// | `192.168.1.10`, `::1`, `[::1]` | that address, when the URI's host is that IP literal |
/// | `10.0.0.0/8`, `fd00::/8` | URI hosts that are IP literals in that block |
/// | `[::1]:8080`, `127.0.0.1:8080` | that address and port |
///
/// A name in Unicode (`bücher.example`) is read as its A-labels
/// (`xn--bcher-kva.example`), the form every URI host takes in towline.
///
/// A host name never matches an IP entry and the other way round: `localhost` does not
/// match `127.0.0.1`, and the host `10.0.0.1` does not match an entry `1`. An IPv4
/// address and its IPv4-mapped IPv6 form (`::ffff:10.0.0.1`) are the same host. Entries that are none of these (an IP block with a prefix too
/// long for its family) are ignored, so a stray entry in the environment cannot stop a
/// program from starting.
///
/// ```
/// use towline::proxy::NoProxy;
///
/// let no_proxy = NoProxy::parse("localhost, .internal.test, 10.0.0.0/8, [::1]");
/// assert!(no_proxy.matches("LOCALHOST", 80));
/// assert!(no_proxy.matches("git.internal.test", 443));
/// assert!(no_proxy.matches("internal.test", 443));
/// assert!(no_proxy.matches("10.1.2.3", 80));
/// assert!(no_proxy.matches("[::1]", 8080));
/// assert!(!no_proxy.matches("notinternal.test", 443));
/// assert!(!no_proxy.matches("127.0.0.1", 80));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoProxy {
    all: bool,
    names: Vec<(Box<str>, Option<u16>)>,
    nets: Vec<(IpAddr, u8, Option<u16>)>,
}

impl NoProxy {
    /// An empty list: every host goes through the proxy.
    pub fn new() -> NoProxy {
        NoProxy::default()
    }

    /// Parses a `NO_PROXY` value. See the [type docs](NoProxy) for the entries.
    pub fn parse(list: &str) -> NoProxy {
        let mut out = NoProxy::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            out.add(entry);
        }
        out
    }

    fn add(&mut self, entry: &str) {
        if entry == "*" {
            self.all = true;
            return;
        }
        if let Some((addr, prefix)) = entry.split_once('/') {
            let Ok(ip) = unbracket(addr).parse::<IpAddr>() else {
                return;
            };
            let max = if ip.is_ipv4() { 32 } else { 128 };
            if let Ok(prefix) = prefix.parse::<u8>() {
                if prefix <= max {
                    self.nets.push((ip, prefix, None));
                }
            }
            return;
        }
        if let Ok(ip) = unbracket(entry).parse::<IpAddr>() {
            self.nets.push((ip, full_prefix(ip), None));
            return;
        }
        if let Ok(addr) = entry.parse::<SocketAddr>() {
            self.nets
                .push((addr.ip(), full_prefix(addr.ip()), Some(addr.port())));
            return;
        }
        let (name, port) = match entry.rsplit_once(':') {
            Some((name, port)) => match port.parse::<u16>() {
                Ok(port) => (name, Some(port)),
                Err(_) => return,
            },
            None => (entry, None),
        };
        let name = name.strip_prefix("*.").unwrap_or(name);
        let name = name.trim_start_matches('.').trim_end_matches('.');
        if name.is_empty() {
            return;
        }
        // A name in U-labels is kept as its A-labels, the form hosts take on the wire.
        let name = if name.is_ascii() {
            name.to_ascii_lowercase()
        } else {
            match url::Host::parse(name) {
                Ok(url::Host::Domain(name)) => name,
                _ => return,
            }
        };
        self.names.push((name.into(), port));
    }

    /// Whether nothing bypasses the proxy.
    pub fn is_empty(&self) -> bool {
        !self.all && self.names.is_empty() && self.nets.is_empty()
    }

    /// Whether a request to `host` (as in a URI: a name, an IPv4 address, or an IPv6
    /// address in brackets or not) on `port` bypasses the proxy.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.all {
            return true;
        }
        let host = unbracket(host);
        let host = host.strip_suffix('.').unwrap_or(host);
        let port_ok = |wanted: Option<u16>| wanted.is_none_or(|p| p == port);
        let looks_ip =
            host.contains(':') || host.bytes().next().is_some_and(|b| b.is_ascii_digit());
        if looks_ip {
            if let Ok(ip) = host.parse::<IpAddr>() {
                // An IP literal is matched by IP entries only, never by a name's labels.
                return self
                    .nets
                    .iter()
                    .any(|&(net, prefix, p)| port_ok(p) && in_block(ip, net, prefix));
            }
        }
        self.names.iter().any(|(name, p)| {
            port_ok(*p)
                && host.len() >= name.len()
                // Compared as bytes: a host that is not ASCII cannot be cut inside a
                // character, and simply does not match an ASCII name.
                && host.as_bytes()[host.len() - name.len()..].eq_ignore_ascii_case(name.as_bytes())
                && (host.len() == name.len()
                    || host.as_bytes()[host.len() - name.len() - 1] == b'.')
        })
    }
}

fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

fn full_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

/// Whether `ip` is in the block `net/prefix`. An IPv4 address and its IPv4-mapped IPv6
/// form (`::ffff:a.b.c.d`) are the same host, on either side.
fn in_block(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    let as_v6 = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
        v6 => v6,
    };
    let as_v4 = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    match (ip, net) {
        (IpAddr::V6(_), IpAddr::V4(_)) => same_family_in_block(as_v4(ip), net, prefix),
        (IpAddr::V4(_), IpAddr::V6(_)) => same_family_in_block(as_v6(ip), net, prefix),
        _ => same_family_in_block(ip, net, prefix),
    }
}

fn same_family_in_block(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}
