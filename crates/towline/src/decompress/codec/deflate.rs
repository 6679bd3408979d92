//! deflate: a zlib stream (RFC 1950) as the specification says, or a raw deflate
//! stream (RFC 1951) as some servers send. Like browsers, the first two bytes decide.

use super::inflate::Inflate;
use super::{Decoder, Progress};
use crate::decompress::{DecodeError, DecodeErrorKind};

/// The decoder of the `deflate` coding.
pub(crate) struct DeflateDecoder {
    state: State,
}

enum State {
    /// Collecting the first two bytes.
    Detect { buf: [u8; 2], len: usize },
    /// Inflating; `prefix[fed..]` are detection bytes not yet given to the inflater.
    Inflate {
        inflate: Inflate,
        prefix: [u8; 2],
        fed: usize,
    },
}

/// Whether two bytes are a valid zlib header: method 8 (deflate), a window of at most
/// 32 KiB, and a header check that makes `CMF * 256 + FLG` a multiple of 31.
fn is_zlib_header(cmf: u8, flg: u8) -> bool {
    cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

fn corrupt(e: flate2::DecompressError) -> DecodeError {
    DecodeError::new(DecodeErrorKind::Corrupt).with_source(e)
}

impl DeflateDecoder {
    pub(crate) fn new() -> DeflateDecoder {
        DeflateDecoder {
            state: State::Detect {
                buf: [0; 2],
                len: 0,
            },
        }
    }
}

impl Decoder for DeflateDecoder {
    fn decode(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, DecodeError> {
        let mut read = 0;
        if let State::Detect { buf, len } = &mut self.state {
            let take = (buf.len() - *len).min(input.len());
            buf[*len..*len + take].copy_from_slice(&input[..take]);
            *len += take;
            read = take;
            if *len < buf.len() {
                return Ok(Progress::new(read, 0));
            }
            let prefix = *buf;
            self.state = State::Inflate {
                inflate: Inflate::new(is_zlib_header(prefix[0], prefix[1])),
                prefix,
                fed: 0,
            };
        }
        let State::Inflate {
            inflate,
            prefix,
            fed,
        } = &mut self.state
        else {
            return Ok(Progress::new(read, 0));
        };
        let mut written = 0;
        while *fed < prefix.len() && written < output.len() {
            let step = inflate
                .run(&prefix[*fed..], &mut output[written..])
                .map_err(corrupt)?;
            *fed += step.read;
            written += step.written;
            if inflate.ended() || (step.read == 0 && step.written == 0) {
                break;
            }
        }
        if *fed == prefix.len() && written < output.len() {
            let step = inflate
                .run(&input[read..], &mut output[written..])
                .map_err(corrupt)?;
            read += step.read;
            written += step.written;
        }
        if inflate.ended() && (read < input.len() || *fed < prefix.len()) {
            return Err(DecodeError::new(DecodeErrorKind::TrailingData)
                .with_message("trailing bytes after the end of the deflate data"));
        }
        Ok(Progress::new(read, written))
    }

    fn finish(&mut self, output: &mut [u8]) -> Result<usize, DecodeError> {
        let written = self.decode(&[], output)?.written();
        if written > 0 {
            return Ok(written);
        }
        match &self.state {
            State::Inflate { inflate, .. } if inflate.ended() => Ok(0),
            _ => Err(DecodeError::new(DecodeErrorKind::Truncated)),
        }
    }
}
