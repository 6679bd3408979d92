//! brotli (RFC 7932), decoded with the pure-Rust `brotli-decompressor`.
//!
//! Only standard brotli is accepted: the window is at most 16 MiB (`WBITS` 24), as RFC
//! 7932 allows; the "large window" extension (up to 1 GiB) is switched off, so a
//! hostile stream cannot make the decoder allocate more than that.

use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, StandardAlloc};

use super::{Decoder, Progress};
use crate::decompress::{DecodeError, DecodeErrorKind};

/// The most input given to the decoder in one call: it takes lengths below 2^32.
const MAX_INPUT: usize = 1 << 20;

type State = BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>;

/// The decoder of the `br` coding.
pub(crate) struct BrotliDecoder {
    /// Boxed: the state holds several KiB of tables inline.
    state: Box<State>,
    /// The stream's last meta-block was decoded and all its output handed out.
    ended: bool,
}

impl BrotliDecoder {
    pub(crate) fn new() -> BrotliDecoder {
        let mut state = Box::new(State::new(
            StandardAlloc::default(),
            StandardAlloc::default(),
            StandardAlloc::default(),
        ));
        // `new` allows the large-window extension; a standard stream never needs it.
        state.large_window = false;
        BrotliDecoder {
            state,
            ended: false,
        }
    }
}

impl Decoder for BrotliDecoder {
    fn decode(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, DecodeError> {
        if self.ended {
            return match input.is_empty() {
                true => Ok(Progress::new(0, 0)),
                false => Err(trailing()),
            };
        }
        let input = &input[..input.len().min(MAX_INPUT)];
        let (mut available_in, mut input_offset) = (input.len(), 0);
        let (mut available_out, mut output_offset) = (output.len(), 0);
        let mut total_out = 0;
        let result = BrotliDecompressStream(
            &mut available_in,
            &mut input_offset,
            input,
            &mut available_out,
            &mut output_offset,
            output,
            &mut total_out,
            &mut self.state,
        );
        let (read, written) = (
            input_offset.min(input.len()),
            output_offset.min(output.len()),
        );
        match result {
            BrotliResult::ResultSuccess => {
                self.ended = true;
                if read < input.len() {
                    return Err(trailing());
                }
            }
            BrotliResult::NeedsMoreInput | BrotliResult::NeedsMoreOutput => {}
            BrotliResult::ResultFailure => {
                return Err(
                    DecodeError::new(DecodeErrorKind::Corrupt).with_message(format!(
                        "brotli data is corrupt ({:?})",
                        self.state.error_code
                    )),
                );
            }
        }
        Ok(Progress::new(read, written))
    }

    fn finish(&mut self, output: &mut [u8]) -> Result<usize, DecodeError> {
        // Output that did not fit comes out first.
        let written = self.decode(&[], output)?.written();
        if written > 0 {
            return Ok(written);
        }
        match self.ended {
            true => Ok(0),
            false => Err(DecodeError::new(DecodeErrorKind::Truncated)),
        }
    }
}

fn trailing() -> DecodeError {
    DecodeError::new(DecodeErrorKind::TrailingData)
        .with_message("trailing bytes after the end of the brotli stream")
}
