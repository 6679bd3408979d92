//! `-v`'s record of the connections opened: a dialer that notes each one, so that a
//! transfer can tell which hop opened a connection, and a failed one can still say
//! where it got (`* Connected to …`) before it failed.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Instant;

use towline::BoxError;
use towline::connect::{Destination, Dial, Io};

/// One connection the dialer opened.
#[derive(Clone, Debug)]
pub(crate) struct Dialed {
    pub(crate) destination: Destination,
    pub(crate) peer_addr: Option<SocketAddr>,
}

/// The connections opened and not yet told about, shared by the dialer and `-v`.
#[derive(Clone, Debug, Default)]
pub(crate) struct DialLog {
    opened: Arc<Mutex<Vec<Dialed>>>,
    /// How many connections were opened, and when the last one was: for `-w`.
    counted: Arc<Mutex<(usize, Option<Instant>)>>,
}

impl DialLog {
    fn push(&self, dialed: Dialed) {
        {
            let mut counted = self.counted.lock().unwrap_or_else(PoisonError::into_inner);
            counted.0 += 1;
            counted.1 = Some(Instant::now());
        }
        self.opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(dialed);
    }

    /// The connections opened since the last call, oldest first.
    pub(crate) fn take(&self) -> Vec<Dialed> {
        std::mem::take(&mut *self.opened.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// How many connections were opened so far, and when the last one was.
    pub(crate) fn counted(&self) -> (usize, Option<Instant>) {
        *self.counted.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `dialer`, noting each connection it opens here.
    pub(crate) fn wrap<D: Dial>(&self, dialer: D) -> Logged<D> {
        Logged {
            inner: dialer,
            log: self.clone(),
        }
    }
}

/// A dialer that notes the connections it opens in a [`DialLog`].
#[derive(Clone, Debug)]
pub(crate) struct Logged<D> {
    inner: D,
    log: DialLog,
}

impl<D: Dial> tower_service::Service<Destination> for Logged<D> {
    type Response = D::Io;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<D::Io, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, destination: Destination) -> Self::Future {
        let dialing = self.inner.dial(destination.clone());
        let log = self.log.clone();
        Box::pin(async move {
            let io = dialing.await.map_err(Into::into)?;
            log.push(Dialed {
                destination,
                peer_addr: io.connected().peer_addr,
            });
            Ok(io)
        })
    }
}
