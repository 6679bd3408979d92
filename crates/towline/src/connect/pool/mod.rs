//! The pool of persistent HTTP/1.1 connections (Twisted's `HTTPConnectionPool`).
//!
//! One mutex guards the per-host lists; it is never held across an `.await`, and nothing
//! that could take it again (a [`Slot`] being dropped) is dropped while it is held.
//! Checking out is a hash lookup and a `Vec::pop`.
//!
//! The files: `key.rs` (which connections may serve a request), `conn.rs` (a
//! connection, and one that carries a request), `slot.rs` (the right to open one),
//! `h2.rs` (the probe that learns whether a new connection speaks HTTP/2, and the
//! shared HTTP/2 connection), `reaper.rs` (the idle timer); here the pool and checkout.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

mod conn;
mod h2;
mod key;
mod reaper;
mod slot;
#[cfg(test)]
mod tests;

pub(crate) use conn::{Conn, Pooled, Tx};
#[cfg(feature = "http2")]
use h2::take_shared_h2;
pub(crate) use key::Key;
use key::KeyMap;
#[cfg(feature = "tracing")]
pub(crate) use key::KeyOrigin;
pub(crate) use slot::Slot;

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
        // Connections found unusable are dropped after the lock is given back.
        let mut discarded = Vec::new();
        let found = {
            let mut state = lock(&self.inner.state);
            let state = &mut *state;
            let host = match state.hosts.get_mut(key) {
                Some(host) => host,
                None => state.hosts.entry(key.clone()).or_default(),
            };
            let mut found = None;
            #[cfg(feature = "http2")]
            if !fresh {
                found = take_shared_h2(host, &mut discarded).map(Checkout::Reused);
            }
            if !fresh && found.is_none() {
                found = self.take_idle(host, &mut state.idle, &mut discarded);
            }
            found.unwrap_or_else(|| self.dial_or_wait(host, key, fresh, may_h2))
        };
        drop(discarded);
        // An HTTP/1.1 connection is counted as reused only once a request goes out on
        // it (`in_use`): it may yet turn out closed or busy (`Conn::ready_soon`). A
        // shared HTTP/2 connection was found ready under the lock just now.
        #[cfg(feature = "http2")]
        if let Checkout::Reused(Conn { tx: Tx::H2(_), .. }) = &found {
            self.inner.stats.reused.fetch_add(1, Ordering::Relaxed);
        }
        #[cfg(feature = "tracing")]
        trace_waiting(key, &found);
        found
    }

    /// The most recently used idle connection of `host` that has neither expired nor
    /// been closed by the server; the others popped on the way go to `discarded`.
    fn take_idle(
        &self,
        host: &mut Host,
        idle_count: &mut usize,
        discarded: &mut Vec<Conn>,
    ) -> Option<Checkout> {
        let now = Instant::now();
        while let Some(idle) = host.idle.pop() {
            *idle_count -= 1;
            let expired = self
                .inner
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
            return Some(Checkout::Reused(idle.conn));
        }
        None
    }

    /// No connection to hand out: wait for the HTTP/2 probe under way, or open one
    /// under a new slot (the probe itself, when the connection may be HTTP/2 and none
    /// is being probed), or queue when the host is at `max_connections_per_host`.
    fn dial_or_wait(&self, host: &mut Host, key: &Key, fresh: bool, may_h2: bool) -> Checkout {
        let probe = may_h2 && !host.known_h1;
        if probe && host.probing && !fresh {
            let (tx, rx) = oneshot::channel();
            host.probe_waiters.push(tx);
            return Checkout::AwaitProbe(rx);
        }
        let under_cap = self
            .inner
            .config
            .max_connections_per_host
            .is_none_or(|max| host.open < max);
        if !under_cap {
            let (tx, rx) = oneshot::channel();
            host.waiters.retain(|w| !w.is_closed());
            host.waiters.push_back(tx);
            return Checkout::Wait(rx);
        }
        host.open += 1;
        let mut slot = Slot::new(&self.inner, key.clone());
        if probe && !host.probing {
            host.probing = true;
            slot.probe = true;
        }
        Checkout::Dial(slot)
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

/// The event of a request that has to wait for a connection.
#[cfg(feature = "tracing")]
fn trace_waiting(key: &Key, found: &Checkout) {
    match found {
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
}
