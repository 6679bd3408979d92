//! A file streamed from disk in chunks, with backpressure.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use tokio::fs::File;
use tokio::io::{AsyncRead, ReadBuf};

use crate::error::BoxError;

/// How much of the file is read per chunk.
const CHUNK: usize = 64 * 1024;

type Opening = Pin<Box<dyn Future<Output = io::Result<File>> + Send>>;

pub(super) struct FileBody {
    state: State,
    /// Where to reopen the file for a clone; `None` for bodies made from an open file.
    path: Option<Arc<PathBuf>>,
    len: u64,
    remaining: u64,
    buf: BytesMut,
}

enum State {
    Unopened,
    Opening(Opening),
    Open(File),
    Done,
}

impl FileBody {
    pub(super) fn opened(file: File, len: u64, path: Option<PathBuf>) -> FileBody {
        FileBody {
            state: State::Open(file),
            path: path.map(Arc::new),
            len,
            remaining: len,
            buf: BytesMut::new(),
        }
    }

    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// The bytes still to be read.
    pub(super) fn remaining(&self) -> u64 {
        self.remaining
    }

    pub(super) fn is_end(&self) -> bool {
        self.remaining == 0
    }

    pub(super) fn try_clone(&self) -> Option<FileBody> {
        Some(FileBody {
            state: State::Unopened,
            path: Some(self.path.clone()?),
            len: self.len,
            remaining: self.len,
            buf: BytesMut::new(),
        })
    }

    pub(super) fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, BoxError>>> {
        loop {
            if self.remaining == 0 {
                self.state = State::Done;
                return Poll::Ready(None);
            }
            match &mut self.state {
                State::Unopened => {
                    let Some(path) = self.path.clone() else {
                        return Poll::Ready(None);
                    };
                    self.state = State::Opening(Box::pin(async move { File::open(&*path).await }));
                }
                State::Opening(fut) => match ready!(fut.as_mut().poll(cx)) {
                    Ok(file) => self.state = State::Open(file),
                    Err(e) => {
                        self.state = State::Done;
                        return Poll::Ready(Some(Err(e.into())));
                    }
                },
                State::Open(file) => {
                    let want = CHUNK.min(usize::try_from(self.remaining).unwrap_or(CHUNK));
                    self.buf.resize(want, 0);
                    let mut read_buf = ReadBuf::new(&mut self.buf[..]);
                    let polled = Pin::new(file).poll_read(cx, &mut read_buf);
                    let n = read_buf.filled().len();
                    match polled {
                        Poll::Pending => {
                            self.buf.clear();
                            return Poll::Pending;
                        }
                        Poll::Ready(Err(e)) => {
                            self.state = State::Done;
                            return Poll::Ready(Some(Err(e.into())));
                        }
                        Poll::Ready(Ok(())) if n == 0 => {
                            let read = self.len - self.remaining;
                            self.state = State::Done;
                            let msg = format!("file ended after {read} of {} bytes", self.len);
                            return Poll::Ready(Some(Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                msg,
                            )
                            .into())));
                        }
                        Poll::Ready(Ok(())) => {
                            self.buf.truncate(n);
                            self.remaining -= n as u64;
                            return Poll::Ready(Some(Ok(self.buf.split().freeze())));
                        }
                    }
                }
                State::Done => return Poll::Ready(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;
    use http_body::Body as _;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_file_is_read_in_bounded_chunks_only_as_it_is_polled() {
        let dir = std::env::temp_dir().join(format!("towline-file-chunks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("big.bin");
        let content: Vec<u8> = (0..(5 * CHUNK + 123)).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &content).expect("write");

        let mut body = Body::from_path(&path).await.expect("open");
        assert_eq!(body.size_hint().exact(), Some(content.len() as u64));
        let mut read = Vec::new();
        let mut frames = 0;
        let mut largest = 0;
        while let Some(frame) = body.frame().await {
            let data = frame.expect("frame").into_data().expect("data");
            largest = largest.max(data.len());
            frames += 1;
            read.extend_from_slice(&data);
            // Nothing is read ahead: what has not been polled is still on disk.
            assert_eq!(
                body.size_hint().exact(),
                Some((content.len() - read.len()) as u64)
            );
        }
        assert!(largest <= CHUNK, "a frame of {largest} bytes");
        assert!(frames >= 6, "{frames} frames");
        assert_eq!(read, content);
        assert!(body.is_end_stream());
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
