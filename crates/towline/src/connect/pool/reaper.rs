//! The idle timer: a task that closes connections idle past `idle_timeout`, running
//! only while the pool holds idle connections.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::{Inner, State, lock};

impl Inner {
    /// Starts the idle timer task if idle connections exist and none runs. The task
    /// ends when the pool has no idle connection left, so an empty pool costs nothing.
    ///
    /// A connection returned outside a tokio runtime (a body dropped on a plain thread)
    /// starts no timer; the next one returned inside a runtime does. Until then an
    /// expired connection stays open, but checkout never hands it out.
    pub(super) fn start_reaper(self: &Arc<Self>, state: &mut State) {
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
