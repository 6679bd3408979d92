//! Which connections may serve a request: the pool's [`Key`].

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

use http::uri::{Authority, Scheme};

/// Which connections may serve a request: scheme, authority (host and port), the
/// TLS configuration the connection was made under, and the route (proxy, proxy
/// credentials, and the TLS configuration used with the proxy).
///
/// The key's hash is computed once, when the request is prepared, with the standard
/// library's randomly keyed SipHash (so hosts chosen by a server, through redirects,
/// cannot flood one bucket); the pool's map then only passes it through.
#[derive(Clone, Debug)]
pub(crate) struct Key {
    pub(crate) scheme: Scheme,
    pub(crate) authority: Authority,
    pub(crate) tls: Option<crate::connect::TlsKey>,
    pub(crate) route: crate::connect::Route,
    pub(crate) proxy_tls: Option<crate::connect::TlsKey>,
    hash: u64,
}

impl Key {
    pub(crate) fn new(
        scheme: Scheme,
        authority: Authority,
        tls: Option<crate::connect::TlsKey>,
        route: crate::connect::Route,
        proxy_tls: Option<crate::connect::TlsKey>,
    ) -> Key {
        static SEED: std::sync::OnceLock<std::hash::RandomState> = std::sync::OnceLock::new();
        let mut hasher = SEED.get_or_init(std::hash::RandomState::new).build_hasher();
        scheme.hash(&mut hasher);
        // Case-insensitive, as `Authority`'s equality is; lower-cased a block at a time,
        // since `Authority`'s own `Hash` feeds the hasher one byte per call.
        let mut block = [0u8; 64];
        for chunk in authority.as_str().as_bytes().chunks(block.len()) {
            let lower = &mut block[..chunk.len()];
            lower.copy_from_slice(chunk);
            lower.make_ascii_lowercase();
            hasher.write(lower);
        }
        tls.hash(&mut hasher);
        route.hash(&mut hasher);
        proxy_tls.hash(&mut hasher);
        Key {
            scheme,
            authority,
            tls,
            route,
            proxy_tls,
            hash: hasher.finish(),
        }
    }
}

/// The origin of a key as events show it: `scheme://host[:port]` (a key holds no
/// userinfo).
#[cfg(feature = "tracing")]
pub(crate) struct KeyOrigin<'a>(pub(crate) &'a Key);

#[cfg(feature = "tracing")]
impl std::fmt::Display for KeyOrigin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A key's authority has no userinfo; make sure none is ever shown.
        let authority = self.0.authority.as_str();
        let host_port = authority.rsplit('@').next().unwrap_or(authority);
        write!(f, "{}://{host_port}", self.0.scheme)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.hash == other.hash
            && self.tls == other.tls
            && self.proxy_tls == other.proxy_tls
            && self.scheme == other.scheme
            // The same spelling (nearly always) compares as bytes; `Authority`'s own
            // equality ignores ASCII case a byte at a time.
            && (self.authority.as_str() == other.authority.as_str()
                || self.authority == other.authority)
            && self.route == other.route
    }
}

impl Eq for Key {}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// The pool map's hasher: a [`Key`] hashes itself once, so this passes its hash on.
#[derive(Default)]
pub(super) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `Key` is hashed with this hasher, and it writes one `u64`; anything else
        // still gets a usable (if slow) hash.
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

pub(super) type KeyMap<V> = HashMap<Key, V, std::hash::BuildHasherDefault<KeyHasher>>;
