//! The pool of persistent HTTP/1.1 connections (Twisted's `HTTPConnectionPool`).
//!
//! One mutex guards the per-host lists; it is never held across an `.await`, and nothing
//! that could take it again (a [`Slot`] being dropped) is dropped while it is held.
//! Checking out is a hash lookup and a `Vec::pop`.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use http::uri::{Authority, Scheme};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::Meta;
use super::send::Outgoing;

/// How long a request waits for a pooled connection that is finishing its previous
/// exchange before it opens another one instead.
const READY_WAIT: Duration = Duration::from_millis(250);

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
    pub(crate) tls: Option<super::TlsKey>,
    pub(crate) route: super::Route,
    pub(crate) proxy_tls: Option<super::TlsKey>,
    hash: u64,
}

impl Key {
    pub(crate) fn new(
        scheme: Scheme,
        authority: Authority,
        tls: Option<super::TlsKey>,
        route: super::Route,
        proxy_tls: Option<super::TlsKey>,
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
struct KeyHasher(u64);

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

type KeyMap<V> = HashMap<Key, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// The sending half of a connection.
pub(crate) enum Tx {
    H1(hyper::client::conn::http1::SendRequest<Outgoing>),
    #[cfg(feature = "http2")]
    H2(hyper::client::conn::http2::SendRequest<Outgoing>),
}

/// One open connection, ready or in use. An HTTP/2 connection is shared: each request
/// holds a clone.
pub(crate) struct Conn {
    pub(crate) tx: Tx,
    pub(crate) meta: Arc<Meta>,
}

impl Conn {
    /// The protocol of the connection, as events show it.
    #[cfg(feature = "tracing")]
    pub(crate) fn protocol(&self) -> &'static str {
        match &self.tx {
            Tx::H1(_) => "http/1.1",
            #[cfg(feature = "http2")]
            Tx::H2(_) => "h2",
        }
    }

    fn is_closed(&self) -> bool {
        match &self.tx {
            Tx::H1(tx) => tx.is_closed(),
            #[cfg(feature = "http2")]
            Tx::H2(tx) => tx.is_closed(),
        }
    }

    /// Waits, briefly, until hyper can take the next request on this connection: an
    /// HTTP/1.1 connection whose last exchange has just ended may need one more turn of
    /// its connection task. `false` means it closed or stayed busy; drop it.
    pub(crate) async fn ready_soon(&mut self) -> bool {
        match &mut self.tx {
            Tx::H1(tx) => {
                if tx.is_ready() {
                    return true;
                }
                let wait = std::future::poll_fn(|cx| tx.poll_ready(cx));
                matches!(tokio::time::timeout(READY_WAIT, wait).await, Ok(Ok(())))
            }
            #[cfg(feature = "http2")]
            Tx::H2(tx) => tx.is_ready(),
        }
    }

    #[cfg(feature = "http2")]
    fn is_ready(&self) -> bool {
        match &self.tx {
            Tx::H1(tx) => tx.is_ready(),
            #[cfg(feature = "http2")]
            Tx::H2(tx) => tx.is_ready(),
        }
    }

    #[cfg(feature = "http2")]
    fn share(&self) -> Option<Conn> {
        match &self.tx {
            Tx::H2(tx) => Some(Conn {
                tx: Tx::H2(tx.clone()),
                meta: self.meta.clone(),
            }),
            Tx::H1(_) => None,
        }
    }
}

/// Pool settings, fixed when the connector is built.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) persistent: bool,
    pub(crate) max_idle_per_host: usize,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_connections_per_host: Option<usize>,
}

/// Counters of the pool's life, read by [`Pool::stats`].
#[derive(Default)]
struct Stats {
    opened: AtomicU64,
    reused: AtomicU64,
    closed: AtomicU64,
    in_use: AtomicUsize,
}

/// A snapshot of the pool's counters, from
/// [`Connector::pool_stats`](super::Connector::pool_stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Connections opened since the connector was built.
    pub opened: u64,
    /// Requests sent on a connection that had already carried one: an idle
    /// connection taken from the pool, or the shared HTTP/2 connection after its first
    /// request. A pooled connection found closed or still busy when a request wanted
    /// it is dropped and not counted; the request goes out on another connection.
    pub reused: u64,
    /// Connections that have closed, whoever closed them.
    pub closed: u64,
    /// Connections waiting in the pool now.
    pub idle: usize,
    /// Connections carrying a request or an unread response body now.
    pub in_use: usize,
}

pub(crate) struct Pool {
    inner: Arc<Inner>,
}

/// A handle to the pool that does not keep it alive.
#[cfg(feature = "http2")]
pub(crate) struct WeakPool(Weak<Inner>);

#[cfg(feature = "http2")]
impl WeakPool {
    pub(crate) fn upgrade(&self) -> Option<Pool> {
        self.0.upgrade().map(|inner| Pool { inner })
    }
}

struct Inner {
    config: Config,
    state: Mutex<State>,
    stats: Stats,
}

#[derive(Default)]
struct State {
    hosts: KeyMap<Host>,
    idle: usize,
    reaper_running: bool,
}

#[derive(Default)]
struct Host {
    /// Oldest first; checkout pops the newest (most-recent-first reuse).
    idle: Vec<Idle>,
    /// Connections open or being opened, each held by a [`Slot`].
    open: usize,
    /// Requests waiting for a connection under `max_connections_per_host`, first first.
    waiters: VecDeque<oneshot::Sender<Handoff>>,
    /// The shared HTTP/2 connection, once one is open.
    #[cfg(feature = "http2")]
    h2: Option<Conn>,
    /// A connection that may turn out to speak HTTP/2 is being opened: requests that
    /// could share it wait for the outcome instead of opening their own.
    probing: bool,
    probe_waiters: Vec<oneshot::Sender<()>>,
    /// The last connection opened spoke HTTP/1.1: nobody waits for a probe.
    known_h1: bool,
}

impl Host {
    fn is_unused(&self) -> bool {
        self.open == 0
            && self.idle.is_empty()
            && self.waiters.is_empty()
            && self.probe_waiters.is_empty()
    }
}

struct Idle {
    conn: Conn,
    since: Instant,
}

/// What a waiting request receives: a connection to use, or the right to open one.
pub(crate) enum Handoff {
    Conn(Conn),
    Slot(Slot),
}

/// What [`Pool::checkout`] found.
pub(crate) enum Checkout {
    /// An idle connection, or the shared HTTP/2 one. An HTTP/1.1 connection counts as
    /// reused (and in use) only once [`Pool::in_use`] takes it.
    Reused(Conn),
    /// No idle connection: open a new one under this slot.
    Dial(Slot),
    /// The host is at its connection limit: wait for a handoff.
    Wait(oneshot::Receiver<Handoff>),
    /// A connection that may be HTTP/2 is being opened: check out again once it is.
    AwaitProbe(oneshot::Receiver<()>),
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic while the lock was held cannot leave the lists inconsistent in a way that
    // matters more than refusing all further requests would, so go on.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Pool {
    pub(crate) fn new(config: Config) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State::default()),
                stats: Stats::default(),
            }),
        }
    }

    #[cfg(feature = "http2")]
    pub(crate) fn downgrade(&self) -> WeakPool {
        WeakPool(Arc::downgrade(&self.inner))
    }

    pub(crate) fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Takes the shared HTTP/2 connection or the most recently used idle connection to
    /// `key` (unless `fresh` asks for a new one), or a slot to open one, or a place in a
    /// queue. `may_h2` says whether a new connection could turn out to be HTTP/2.
    pub(crate) fn checkout(&self, key: &Key, fresh: bool, may_h2: bool) -> Checkout {
        let inner = &self.inner;
        let mut discarded = Vec::new();
        let found = {
            let mut state = lock(&inner.state);
            let state = &mut *state;
            let host = match state.hosts.get_mut(key) {
                Some(host) => host,
                None => state.hosts.entry(key.clone()).or_default(),
            };
            let now = Instant::now();
            let mut found = None;
            #[cfg(feature = "http2")]
            if !fresh {
                if let Some(h2) = &host.h2 {
                    if h2.is_ready() {
                        found = h2.share().map(Checkout::Reused);
                    } else {
                        debug!(
                            target: "towline::connect",
                            id = h2.meta.id,
                            "HTTP/2 connection discarded: it takes no more requests"
                        );
                        discarded.extend(host.h2.take());
                    }
                }
            }
            while let Some(idle) = if fresh || found.is_some() {
                None
            } else {
                host.idle.pop()
            } {
                state.idle -= 1;
                let expired = inner
                    .config
                    .idle_timeout
                    .is_some_and(|t| now.duration_since(idle.since) >= t);
                // A connection the server closed while it was idle is gone; one that is
                // still finishing its last exchange is handed out, and the request
                // waits for it (`Conn::ready_soon`).
                if expired || idle.conn.is_closed() {
                    debug!(
                        target: "towline::connect",
                        id = idle.conn.meta.id,
                        reason = if expired { "expired" } else { "closed by the peer while idle" },
                        "pooled connection discarded"
                    );
                    discarded.push(idle.conn);
                    continue;
                }
                found = Some(Checkout::Reused(idle.conn));
                break;
            }
            let probe = may_h2 && !host.known_h1;
            match found {
                Some(found) => found,
                None if probe && host.probing && !fresh => {
                    let (tx, rx) = oneshot::channel();
                    host.probe_waiters.push(tx);
                    Checkout::AwaitProbe(rx)
                }
                None => {
                    let under_cap = inner
                        .config
                        .max_connections_per_host
                        .is_none_or(|max| host.open < max);
                    if under_cap {
                        host.open += 1;
                        let mut slot = Slot::new(&self.inner, key.clone());
                        if probe && !host.probing {
                            host.probing = true;
                            slot.probe = true;
                        }
                        Checkout::Dial(slot)
                    } else {
                        let (tx, rx) = oneshot::channel();
                        host.waiters.retain(|w| !w.is_closed());
                        host.waiters.push_back(tx);
                        Checkout::Wait(rx)
                    }
                }
            }
        };
        drop(discarded);
        // An HTTP/1.1 connection is counted as reused only once a request goes out on
        // it (`in_use`): it may yet turn out closed or busy (`Conn::ready_soon`). A
        // shared HTTP/2 connection was found ready under the lock just now.
        #[cfg(feature = "http2")]
        if let Checkout::Reused(Conn { tx: Tx::H2(_), .. }) = &found {
            inner.stats.reused.fetch_add(1, Ordering::Relaxed);
        }
        #[cfg(feature = "tracing")]
        match &found {
            Checkout::Wait(_) => trace!(
                target: "towline::connect",
                origin = %KeyOrigin(key),
                "waiting for a connection: max_connections_per_host reached"
            ),
            Checkout::AwaitProbe(_) => trace!(
                target: "towline::connect",
                origin = %KeyOrigin(key),
                "waiting to learn whether the connection being opened speaks HTTP/2"
            ),
            Checkout::Reused(_) | Checkout::Dial(_) => {}
        }
        found
    }

    /// Wraps a connection that now carries a request. An HTTP/1.1 connection that has
    /// written bytes before carried an earlier request: this one counts as a reuse.
    /// (HTTP/2 reuse is counted where a shared connection is handed out.)
    pub(crate) fn in_use(&self, conn: Conn, key: Key) -> Pooled {
        let stats = &self.inner.stats;
        stats.in_use.fetch_add(1, Ordering::Relaxed);
        if matches!(conn.tx, Tx::H1(_)) && conn.meta.counters.snapshot().1 > 0 {
            stats.reused.fetch_add(1, Ordering::Relaxed);
        }
        Pooled {
            conn: Some(conn),
            key,
            pool: self.inner.clone(),
        }
    }

    /// Ends the probe a slot may hold: records whether the new connection speaks
    /// HTTP/2, shares it when it does, and wakes the requests that waited.
    pub(crate) fn probe_done(&self, slot: &mut Slot, h2: Option<&Conn>) {
        if !std::mem::take(&mut slot.probe) {
            #[cfg(feature = "http2")]
            if let Some(h2) = h2 {
                // Not the probe, but HTTP/2 all the same: share it if none is.
                let Some(key) = slot.key.as_ref() else {
                    return;
                };
                let mut state = lock(&self.inner.state);
                if let Some(host) = state.hosts.get_mut(key) {
                    if host.h2.is_none() {
                        host.h2 = h2.share();
                    }
                }
            }
            #[cfg(not(feature = "http2"))]
            let _ = h2;
            return;
        }
        let Some(key) = slot.key.as_ref() else {
            return;
        };
        let waiters = {
            let mut state = lock(&self.inner.state);
            let Some(host) = state.hosts.get_mut(key) else {
                return;
            };
            host.probing = false;
            host.known_h1 = h2.is_none();
            #[cfg(feature = "http2")]
            if let Some(h2) = h2 {
                host.h2 = h2.share();
                // Requests queued under max_connections_per_host can share it too.
                while let Some(waiter) = host.waiters.pop_front() {
                    if let Some(conn) = h2.share() {
                        if waiter.send(Handoff::Conn(conn)).is_ok() {
                            self.inner.stats.reused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            std::mem::take(&mut host.probe_waiters)
        };
        for waiter in waiters {
            let _ = waiter.send(());
        }
    }

    /// Forgets the shared HTTP/2 connection `id` of `key`, which has closed.
    #[cfg(feature = "http2")]
    pub(crate) fn h2_closed(&self, key: &Key, id: u64) {
        let closed = {
            let mut state = lock(&self.inner.state);
            let Some(host) = state.hosts.get_mut(key) else {
                return;
            };
            match &host.h2 {
                Some(h2) if h2.meta.id == id => host.h2.take(),
                _ => None,
            }
        };
        debug!(target: "towline::connect", id, "HTTP/2 connection closed");
        drop(closed);
    }

    /// Counts a newly opened connection.
    pub(crate) fn count_opened(&self) {
        self.inner.stats.opened.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let idle = lock(&self.inner.state).idle;
        let s = &self.inner.stats;
        PoolStats {
            opened: s.opened.load(Ordering::Relaxed),
            reused: s.reused.load(Ordering::Relaxed),
            closed: s.closed.load(Ordering::Relaxed),
            idle,
            in_use: s.in_use.load(Ordering::Relaxed),
        }
    }

    /// Closes every idle connection now (Twisted's `closeCachedConnections`).
    pub(crate) fn close_idle(&self) {
        let mut closing = Vec::new();
        {
            let mut state = lock(&self.inner.state);
            for host in state.hosts.values_mut() {
                closing.extend(host.idle.drain(..).map(|i| i.conn));
            }
            state.idle = 0;
        }
        debug!(
            target: "towline::connect",
            closed = closing.len(),
            "idle connections closed (close_idle)"
        );
        drop(closing);
    }
}

impl Inner {
    /// Puts a ready connection back: to the first waiter, else on the idle list.
    fn put_idle(self: &Arc<Self>, key: &Key, conn: Conn) {
        let mut evicted = None;
        {
            let mut state = lock(&self.state);
            let state = &mut *state;
            let Some(host) = state.hosts.get_mut(key) else {
                return;
            };
            let conn = match hand_off(host, Handoff::Conn(conn)) {
                None => return,
                Some(Handoff::Conn(conn)) => conn,
                Some(Handoff::Slot(_)) => return,
            };
            if self.config.max_idle_per_host == 0 {
                evicted = Some(conn);
            } else {
                if host.idle.len() >= self.config.max_idle_per_host {
                    evicted = Some(host.idle.remove(0).conn);
                    state.idle -= 1;
                }
                trace!(target: "towline::connect", id = conn.meta.id, "connection pooled");
                host.idle.push(Idle {
                    conn,
                    since: Instant::now(),
                });
                state.idle += 1;
                self.start_reaper(state);
            }
        }
        #[cfg(feature = "tracing")]
        if let Some(conn) = &evicted {
            debug!(
                target: "towline::connect",
                id = conn.meta.id,
                reason = "beyond max_idle_per_host",
                "pooled connection discarded"
            );
        }
        drop(evicted);
    }

    /// Starts the idle timer task if idle connections exist and none runs. The task
    /// ends when the pool has no idle connection left, so an empty pool costs nothing.
    ///
    /// A connection returned outside a tokio runtime (a body dropped on a plain thread)
    /// starts no timer; the next one returned inside a runtime does. Until then an
    /// expired connection stays open, but checkout never hands it out.
    fn start_reaper(self: &Arc<Self>, state: &mut State) {
        let Some(timeout) = self.config.idle_timeout else {
            return;
        };
        if state.reaper_running {
            return;
        }
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            state.reaper_running = true;
            rt.spawn(reap(Arc::downgrade(self), timeout));
        }
    }

    /// Gives up one host slot and passes it to the next waiter, if any.
    fn release_slot(&self, key: &Key, slot_weak: &Weak<Inner>, probe: bool) {
        let mut state = lock(&self.state);
        let Some(host) = state.hosts.get_mut(key) else {
            return;
        };
        host.open = host.open.saturating_sub(1);
        if probe {
            // The probe failed or was dropped: let the waiters try for themselves.
            host.probing = false;
            for waiter in host.probe_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
        if !host.waiters.is_empty() {
            host.open += 1;
            let slot = Slot {
                pool: slot_weak.clone(),
                key: Some(key.clone()),
                opened: false,
                probe: false,
            };
            if let Some(Handoff::Slot(mut unused)) = hand_off(host, Handoff::Slot(slot)) {
                unused.key = None; // disarm: dropping it must not take the lock again
                host.open -= 1;
            }
        }
        if host.is_unused() {
            state.hosts.remove(key);
        }
    }
}

/// Offers `handoff` to the waiters in order; returns it if nobody took it.
fn hand_off(host: &mut Host, mut handoff: Handoff) -> Option<Handoff> {
    while let Some(waiter) = host.waiters.pop_front() {
        match waiter.send(handoff) {
            Ok(()) => return None,
            // That waiter gave up (its request was dropped): try the next.
            Err(back) => handoff = back,
        }
    }
    Some(handoff)
}

async fn reap(pool: Weak<Inner>, timeout: Duration) {
    let mut next = Instant::now() + timeout;
    loop {
        tokio::time::sleep_until(next).await;
        let Some(inner) = pool.upgrade() else {
            return;
        };
        let mut evicted = Vec::new();
        let mut earliest: Option<Instant> = None;
        {
            let mut state = lock(&inner.state);
            let now = Instant::now();
            let mut idle = 0;
            for host in state.hosts.values_mut() {
                // The list is oldest first, so the expired ones are a prefix.
                let n = host
                    .idle
                    .partition_point(|i| now.duration_since(i.since) >= timeout);
                evicted.extend(host.idle.drain(..n).map(|i| i.conn));
                host.idle.retain(|i| {
                    let closed = i.conn.is_closed();
                    if closed {
                        debug!(
                            target: "towline::connect",
                            id = i.conn.meta.id,
                            reason = "closed by the peer while idle",
                            "pooled connection discarded"
                        );
                    }
                    !closed
                });
                if let Some(first) = host.idle.first() {
                    earliest = Some(earliest.map_or(first.since, |e| e.min(first.since)));
                }
                idle += host.idle.len();
            }
            // Connections the server closed were dropped by `retain`.
            state.idle = idle;
            state.hosts.retain(|_, h| !h.is_unused());
            if earliest.is_none() {
                state.reaper_running = false;
            }
        }
        #[cfg(feature = "tracing")]
        for conn in &evicted {
            debug!(
                target: "towline::connect",
                id = conn.meta.id,
                reason = "expired",
                "pooled connection discarded"
            );
        }
        drop(evicted);
        drop(inner);
        match earliest {
            Some(since) => next = since + timeout,
            None => return,
        }
    }
}

/// The right to one connection to a host, counted against
/// `max_connections_per_host`. Dropping it (a failed dial, a closed connection) frees
/// the place for the next waiter.
pub(crate) struct Slot {
    pool: Weak<Inner>,
    /// `None` once disarmed.
    key: Option<Key>,
    /// Whether a connection was opened under this slot (its drop counts a close).
    opened: bool,
    /// Whether this slot's dial is the probe other requests wait on.
    probe: bool,
}

impl Slot {
    fn new(pool: &Arc<Inner>, key: Key) -> Slot {
        Slot {
            pool: Arc::downgrade(pool),
            key: Some(key),
            opened: false,
            probe: false,
        }
    }

    /// Marks that a connection now lives under this slot.
    pub(crate) fn opened(&mut self) {
        self.opened = true;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else {
            return;
        };
        let Some(inner) = self.pool.upgrade() else {
            return;
        };
        if self.opened {
            inner.stats.closed.fetch_add(1, Ordering::Relaxed);
        }
        inner.release_slot(&key, &self.pool, self.probe);
    }
}

/// A connection carrying a request or an unread body. Dropping it without
/// [`release`](Pooled::release) closes the connection: it is never reused half-read.
pub(crate) struct Pooled {
    conn: Option<Conn>,
    key: Key,
    pool: Arc<Inner>,
}

impl Pooled {
    pub(crate) fn conn_mut(&mut self) -> Option<&mut Conn> {
        self.conn.as_mut()
    }

    /// The response has been read to its end: offer the connection for reuse once
    /// hyper says it is ready for the next request.
    pub(crate) fn release(mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if !self.pool.config.persistent {
            trace!(
                target: "towline::connect",
                id = conn.meta.id,
                "connection closed: the pool is not persistent"
            );
            return;
        }
        #[cfg_attr(not(feature = "http2"), allow(irrefutable_let_patterns))]
        let Conn {
            tx: Tx::H1(mut tx),
            meta,
        } = conn
        else {
            // An HTTP/2 stream is done; the shared connection stays where it is.
            return;
        };
        let mut cx = Context::from_waker(Waker::noop());
        let polled = tx.poll_ready(&mut cx);
        let conn = Conn {
            tx: Tx::H1(tx),
            meta,
        };
        match polled {
            Poll::Ready(Ok(())) => self.pool.put_idle(&self.key, conn),
            Poll::Ready(Err(_)) => debug!(
                target: "towline::connect",
                id = conn.meta.id,
                reason = "closed after its response",
                "connection discarded"
            ),
            // hyper finishes the exchange on its connection task in a moment: pool the
            // connection now, so the next request finds it and waits that moment,
            // rather than opening a new one.
            Poll::Pending => self.pool.put_idle(&self.key, conn),
        }
    }

    /// Closes the connection instead of pooling it: its last response was framed two
    /// ways, so what follows on it cannot be trusted.
    pub(crate) fn discard(mut self) {
        if let Some(conn) = self.conn.take() {
            debug!(
                target: "towline::connect",
                id = conn.meta.id,
                reason = "ambiguous framing (Transfer-Encoding and Content-Length)",
                "connection discarded"
            );
            drop(conn);
        }
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        // An HTTP/1.1 exchange that did not end well closes its connection; an HTTP/2
        // stream only ends.
        #[cfg(feature = "tracing")]
        if let Some(Conn {
            tx: Tx::H1(_),
            meta,
        }) = &self.conn
        {
            debug!(
                target: "towline::connect",
                id = meta.id,
                reason = "exchange not finished (response not read to the end, or failed)",
                "connection discarded"
            );
        }
        self.pool.stats.in_use.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    use super::super::io::{Counted, Counters};
    use super::super::{Builder, Connected, Route};
    use crate::body::Body;

    #[test]
    fn defaults_are_the_documented_ones() {
        let builder = Builder::new();
        assert_eq!(builder.connect_timeout, Some(Duration::from_secs(30)));
        assert!(builder.pool.persistent);
        assert_eq!(builder.pool.max_idle_per_host, 32);
        assert_eq!(builder.pool.idle_timeout, Some(Duration::from_secs(90)));
        assert_eq!(builder.pool.max_connections_per_host, None);
        // `Connector::new()` is built from the same defaults.
        let connector = super::super::Connector::new();
        let config = connector.shared.pool.config();
        assert_eq!(config.max_idle_per_host, 32);
        assert_eq!(config.idle_timeout, Some(Duration::from_secs(90)));
        assert_eq!(
            connector.shared.connect_timeout,
            Some(Duration::from_secs(30))
        );
    }

    fn key(server: &towline_test::TestServer) -> Key {
        let authority =
            Authority::try_from(format!("127.0.0.1:{}", server.addr().port())).expect("authority");
        Key::new(Scheme::HTTP, authority, None, Route::Direct, None)
    }

    /// Opens an HTTP/1.1 connection to `server` the way the connector does (bytes
    /// counted), with its connection task spawned.
    async fn open(server: &towline_test::TestServer) -> (Conn, tokio::task::JoinHandle<()>) {
        let tcp = tokio::net::TcpStream::connect(server.addr())
            .await
            .expect("connect");
        let counters = Arc::new(Counters::default());
        let io = hyper_util::rt::TokioIo::new(Counted::new(tcp, counters.clone()));
        let (tx, conn) = hyper::client::conn::http1::handshake::<_, Outgoing>(io)
            .await
            .expect("handshake");
        let task = tokio::spawn(async move {
            let _ = conn.await;
        });
        let meta = Arc::new(Meta {
            id: 0,
            connected: Connected::default(),
            counters,
            alpn: None,
            #[cfg(feature = "tls")]
            tls_version: None,
            #[cfg(feature = "tls")]
            peer_certificates: None,
        });
        (
            Conn {
                tx: Tx::H1(tx),
                meta,
            },
            task,
        )
    }

    /// Sends a GET on `pooled` and reads the response to its end.
    async fn exchange(pooled: &mut Pooled, path: &str) {
        let Some(Tx::H1(tx)) = pooled.conn_mut().map(|c| &mut c.tx) else {
            panic!("an HTTP/1.1 connection");
        };
        let request = http::Request::get(path)
            .header(http::header::HOST, "127.0.0.1")
            .body(Outgoing::new(Body::empty(), Some(0)))
            .expect("request");
        let response = tx
            .try_send_request(request)
            .await
            .map_err(|e| e.into_error())
            .expect("response");
        response.into_body().collect().await.expect("body");
    }

    fn config() -> Config {
        Config {
            persistent: true,
            max_idle_per_host: 32,
            idle_timeout: None,
            max_connections_per_host: None,
        }
    }

    #[tokio::test]
    async fn reuse_counts_only_a_connection_a_request_goes_out_on() {
        let server = towline_test::TestServer::start(|_| towline_test::Reply::text("x")).await;
        let pool = Pool::new(config());
        let key = key(&server);

        // A new connection: opened under a slot, as the connector does.
        let Checkout::Dial(mut slot) = pool.checkout(&key, false, false) else {
            panic!("an empty pool dials");
        };
        let (conn, task) = open(&server).await;
        pool.count_opened();
        slot.opened();
        let mut pooled = pool.in_use(conn, key.clone());
        exchange(&mut pooled, "/1").await;
        pooled.release();
        assert_eq!(pool.stats().reused, 0, "a fresh connection is not a reuse");
        assert_eq!(pool.stats().idle, 1);

        // Taken from the pool and used: one reuse, counted when the request goes out.
        let Checkout::Reused(mut conn) = pool.checkout(&key, false, false) else {
            panic!("the idle connection");
        };
        assert_eq!(pool.stats().reused, 0, "checking out alone is not a reuse");
        assert!(conn.ready_soon().await);
        let mut pooled = pool.in_use(conn, key.clone());
        assert_eq!(pool.stats().reused, 1);
        exchange(&mut pooled, "/2").await;
        pooled.release();
        assert_eq!(pool.stats().idle, 1);

        // Taken from the pool, but dead by the time a request wants it (its task ended
        // after the checkout saw it open): dropped, and not a reuse.
        let Checkout::Reused(mut conn) = pool.checkout(&key, false, false) else {
            panic!("the idle connection");
        };
        task.abort();
        let _ = task.await;
        assert!(!conn.ready_soon().await, "the connection is gone");
        drop(conn);
        let stats = pool.stats();
        assert_eq!((stats.reused, stats.idle, stats.in_use), (1, 0, 0));
        assert!(matches!(
            pool.checkout(&key, false, false),
            Checkout::Dial(_)
        ));
        drop(slot);
        assert_eq!(pool.stats().closed, 1);
        assert_eq!(server.request_count(), 2);
    }
}
