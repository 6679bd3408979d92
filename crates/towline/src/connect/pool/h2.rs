//! The HTTP/2 part of the pool: the probe that learns whether a new connection speaks
//! HTTP/2 (requests that could share it wait for the outcome instead of opening their
//! own), and the one shared HTTP/2 connection per host.

#[cfg(feature = "http2")]
use std::sync::atomic::Ordering;

use super::{Conn, Pool, Slot, lock};
#[cfg(feature = "http2")]
use super::{Handoff, Host, Key};

impl Pool {
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
}

/// The shared HTTP/2 connection of `host`, if it takes another request; one that no
/// longer does is forgotten (and goes to `discarded`).
#[cfg(feature = "http2")]
pub(super) fn take_shared_h2(host: &mut Host, discarded: &mut Vec<Conn>) -> Option<Conn> {
    let h2 = host.h2.as_ref()?;
    if h2.is_ready() {
        return h2.share();
    }
    debug!(
        target: "towline::connect",
        id = h2.meta.id,
        "HTTP/2 connection discarded: it takes no more requests"
    );
    discarded.extend(host.h2.take());
    None
}
