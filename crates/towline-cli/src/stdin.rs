//! `-T -`: stdin as a request body of unknown length, read as the connection asks
//! for it (sent with chunked coding), never held whole.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use tokio::io::{AsyncRead, ReadBuf};

/// How much of stdin one frame holds at most.
const CHUNK: usize = 64 * 1024;

/// Stdin, frame by frame, until its end.
pub(crate) struct StdinBody {
    stdin: tokio::io::Stdin,
    /// Read into, then copied out as a frame: one buffer for the whole body.
    buf: Vec<u8>,
    done: bool,
}

impl std::fmt::Debug for StdinBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdinBody")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl StdinBody {
    /// This process's stdin, not read yet.
    pub(crate) fn new() -> StdinBody {
        StdinBody {
            stdin: tokio::io::stdin(),
            buf: vec![0; CHUNK],
            done: false,
        }
    }
}

impl http_body::Body for StdinBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        let mut read = ReadBuf::new(&mut this.buf);
        match Pin::new(&mut this.stdin).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => {
                this.done = true;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Ok(())) => {
                let filled = read.filled();
                if filled.is_empty() {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(filled)))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}
