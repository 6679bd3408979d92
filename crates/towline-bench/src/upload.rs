//! Scenario 5's file: written once to the temporary directory, removed on drop, and
//! streamed by the peers through a small body that reads it in chunks.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};

use crate::BoxError;

/// How much of the file one chunk of [`FileBody`] reads.
const CHUNK: usize = 64 * 1024;

/// The file every side uploads, deleted when this is dropped.
#[derive(Debug)]
pub(crate) struct UploadFile {
    path: PathBuf,
}

impl UploadFile {
    /// Writes a file of `len` bytes in the temporary directory.
    pub(crate) fn create(len: u64) -> Result<UploadFile, BoxError> {
        let path =
            std::env::temp_dir().join(format!("towline-bench-upload-{}.bin", std::process::id()));
        // Owned from here on, so a failed write still removes the file.
        let file = UploadFile { path };
        let mut out = std::fs::File::create(&file.path)?;
        // Bytes that vary, so no layer below can shortcut runs of one value.
        let block: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        let mut written = 0u64;
        while written < len {
            let take = usize::try_from((len - written).min(block.len() as u64))?;
            out.write_all(&block[..take])?;
            written += take as u64;
        }
        // On disk before the runs, so no write-back competes with them.
        out.sync_all()?;
        Ok(file)
    }

    /// Where it is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for UploadFile {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_file(&self.path) {
            eprintln!("could not remove {}: {e}", self.path.display());
        }
    }
}

/// An open file streamed in chunks of at most 64 KiB as the connection asks for them,
/// with its exact length as the size hint: what the peers upload with.
#[derive(Debug)]
pub(crate) struct FileBody {
    file: tokio::fs::File,
    remaining: u64,
    buf: BytesMut,
}

impl FileBody {
    /// Opens the file at `path`; returns the body and its length.
    pub(crate) async fn open(path: &Path) -> Result<(FileBody, u64), BoxError> {
        let file = tokio::fs::File::open(path).await?;
        let len = file.metadata().await?.len();
        let body = FileBody {
            file,
            remaining: len,
            buf: BytesMut::new(),
        };
        Ok((body, len))
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let this = &mut *self;
        let want = usize::try_from(this.remaining).map_or(CHUNK, |r| r.min(CHUNK));
        this.buf.resize(want, 0);
        let mut read = ReadBuf::new(&mut this.buf[..]);
        let polled = Pin::new(&mut this.file).poll_read(cx, &mut read);
        let n = read.filled().len();
        match polled {
            Poll::Pending => {
                this.buf.clear();
                Poll::Pending
            }
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) if n == 0 => Poll::Ready(Some(Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the file ended {} bytes early", this.remaining),
            )))),
            Poll::Ready(Ok(())) => {
                this.buf.truncate(n);
                this.remaining -= n as u64;
                Poll::Ready(Some(Ok(Frame::data(this.buf.split().freeze()))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
