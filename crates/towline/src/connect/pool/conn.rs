//! A connection ([`Conn`]) and one that carries a request ([`Pooled`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::Inner;
use super::key::Key;
use crate::connect::Meta;
use crate::connect::send::Outgoing;

/// How long a request waits for a pooled connection that is finishing its previous
/// exchange before it opens another one instead.
const READY_WAIT: Duration = Duration::from_millis(250);

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

    pub(super) fn is_closed(&self) -> bool {
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
    pub(super) fn is_ready(&self) -> bool {
        match &self.tx {
            Tx::H1(tx) => tx.is_ready(),
            #[cfg(feature = "http2")]
            Tx::H2(tx) => tx.is_ready(),
        }
    }

    #[cfg(feature = "http2")]
    pub(super) fn share(&self) -> Option<Conn> {
        match &self.tx {
            Tx::H2(tx) => Some(Conn {
                tx: Tx::H2(tx.clone()),
                meta: self.meta.clone(),
            }),
            Tx::H1(_) => None,
        }
    }
}

/// A connection carrying a request or an unread body. Dropping it without
/// [`release`](Pooled::release) closes the connection: it is never reused half-read.
pub(crate) struct Pooled {
    pub(super) conn: Option<Conn>,
    pub(super) key: Key,
    pub(super) pool: Arc<Inner>,
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
                reason = "not reusable: ambiguous framing (Transfer-Encoding and Content-Length), or switched to another protocol (101)",
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
