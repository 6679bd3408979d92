//! The right to open one connection to a host: [`Slot`].

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use super::Inner;
use super::key::Key;

/// The right to one connection to a host, counted against
/// `max_connections_per_host`. Dropping it (a failed dial, a closed connection) frees
/// the place for the next waiter.
pub(crate) struct Slot {
    pub(super) pool: Weak<Inner>,
    /// `None` once disarmed.
    pub(super) key: Option<Key>,
    /// Whether a connection was opened under this slot (its drop counts a close).
    pub(super) opened: bool,
    /// Whether this slot's dial is the probe other requests wait on.
    pub(super) probe: bool,
}

impl Slot {
    pub(super) fn new(pool: &Arc<Inner>, key: Key) -> Slot {
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
