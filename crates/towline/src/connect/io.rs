//! A stream wrapper that counts bytes, so a failed exchange can tell whether the
//! request was written and whether a response began.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Bytes read from and written to one connection since it opened, and when it last
/// moved any (what the connector's `read_timeout` measures a wait for a head from).
#[derive(Debug)]
pub(crate) struct Counters {
    read: AtomicU64,
    written: AtomicU64,
    /// Nanoseconds from `opened` to the last read or write that moved a byte.
    active: AtomicU64,
    opened: Instant,
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            read: AtomicU64::new(0),
            written: AtomicU64::new(0),
            active: AtomicU64::new(0),
            opened: Instant::now(),
        }
    }
}

impl Counters {
    pub(crate) fn snapshot(&self) -> (u64, u64) {
        (
            self.read.load(Ordering::Relaxed),
            self.written.load(Ordering::Relaxed),
        )
    }

    /// When a byte last moved on the connection (its opening if none has).
    pub(crate) fn last_active(&self) -> Instant {
        self.opened + Duration::from_nanos(self.active.load(Ordering::Relaxed))
    }

    fn moved(&self, counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
        let since = Instant::now().saturating_duration_since(self.opened);
        let nanos = u64::try_from(since.as_nanos()).unwrap_or(u64::MAX);
        self.active.fetch_max(nanos, Ordering::Relaxed);
    }
}

pub(crate) struct Counted<I> {
    io: I,
    counters: Arc<Counters>,
}

impl<I> Counted<I> {
    pub(crate) fn new(io: I, counters: Arc<Counters>) -> Counted<I> {
        Counted { io, counters }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Counted<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            let counters = &*self.counters;
            counters.moved(&counters.read, n);
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Counted<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            let counters = &*self.counters;
            counters.moved(&counters.written, n);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            let counters = &*self.counters;
            counters.moved(&counters.written, n);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// A dialed stream, with TLS on top or not.
pub(crate) enum MaybeTls<I> {
    Plain(I),
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<I>>),
}

impl<I: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTls<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTls<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTls::Plain(io) => io.is_write_vectored(),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_flush(cx),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(io) => Pin::new(io).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            MaybeTls::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }
}
