//! A thin layer over flate2's raw inflater, shared by gzip and deflate. Both read
//! their wrappers (gzip's header and trailer, zlib's header and Adler-32) themselves,
//! so that each failure gets its own error kind whatever flate2's backend.

use flate2::{Decompress, DecompressError, FlushDecompress, Status};

/// An inflater for a raw deflate stream (RFC 1951).
pub(super) struct Inflate {
    inner: Decompress,
    ended: bool,
}

/// What one call to [`Inflate::run`] did.
pub(super) struct Step {
    pub(super) read: usize,
    pub(super) written: usize,
}

impl Inflate {
    pub(super) fn new() -> Inflate {
        Inflate {
            inner: Decompress::new(false),
            ended: false,
        }
    }

    /// Starts a new stream, reusing the inflater's memory.
    #[cfg(feature = "gzip")]
    pub(super) fn reset(&mut self) {
        self.inner.reset(false);
        self.ended = false;
    }

    /// Whether the stream's last block has been read.
    pub(super) fn ended(&self) -> bool {
        self.ended
    }

    /// Inflates from `input` into `output`; once the stream has ended it reads nothing.
    pub(super) fn run(&mut self, input: &[u8], output: &mut [u8]) -> Result<Step, DecompressError> {
        if self.ended {
            return Ok(Step {
                read: 0,
                written: 0,
            });
        }
        let (in_before, out_before) = (self.inner.total_in(), self.inner.total_out());
        let status = self
            .inner
            .decompress(input, output, FlushDecompress::None)?;
        // Both deltas are bounded by the slices' lengths.
        let read = usize::try_from(self.inner.total_in() - in_before).unwrap_or(input.len());
        let written = usize::try_from(self.inner.total_out() - out_before).unwrap_or(output.len());
        if status == Status::StreamEnd {
            self.ended = true;
        }
        Ok(Step { read, written })
    }
}
