//! deflate: a zlib stream (RFC 1950) as the specification says, or a raw deflate
//! stream (RFC 1951) as some servers send. Like browsers, the first two bytes decide.
//!
//! The zlib wrapper is read here, not by flate2: its two-byte header, then the raw
//! deflate data, then the Adler-32 of the decoded bytes (big-endian). That way a bad
//! checksum is a [`Checksum`](DecodeErrorKind::Checksum) error with every flate2
//! backend, where flate2 itself reports it as a general decompression error (with no
//! message at all from its default backend).

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
    /// Inflating a raw stream; `prefix[fed..]` are detection bytes not yet given to the
    /// inflater.
    Raw {
        inflate: Inflate,
        prefix: [u8; 2],
        fed: usize,
    },
    /// Inflating the deflate data of a zlib stream, whose header was read.
    Zlib { inflate: Inflate, adler: Adler32 },
    /// Reading a zlib stream's trailer: the Adler-32 of what it decoded to, `sum`.
    Trailer { sum: u32, buf: [u8; 4], len: usize },
    /// The stream ended; any byte more is trailing garbage.
    Done,
}

/// `FDICT`: a zlib stream that needs a preset dictionary, which HTTP never supplies.
const FDICT: u8 = 0x20;

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
        let mut io = Cursor {
            input,
            read: 0,
            output,
            written: 0,
        };
        loop {
            let flow = match &mut self.state {
                State::Detect { buf, len } => match io.fill(buf, len) {
                    None => Flow::Stop,
                    Some([cmf, flg]) => {
                        self.state = detected(cmf, flg)?;
                        Flow::Continue
                    }
                },
                State::Raw {
                    inflate,
                    prefix,
                    fed,
                } => match io.inflate_raw(inflate, prefix, fed)? {
                    Inflated::Ended => {
                        self.state = State::Done;
                        Flow::Continue
                    }
                    Inflated::More => Flow::Continue,
                    Inflated::Stuck => Flow::Stop,
                },
                State::Zlib { inflate, adler } => match io.inflate_zlib(inflate, adler)? {
                    Inflated::Ended => {
                        self.state = State::Trailer {
                            sum: adler.sum(),
                            buf: [0; 4],
                            len: 0,
                        };
                        Flow::Continue
                    }
                    Inflated::More => Flow::Continue,
                    Inflated::Stuck => Flow::Stop,
                },
                State::Trailer { sum, buf, len } => match io.fill(buf, len) {
                    None => Flow::Stop,
                    Some(trailer) => {
                        check_trailer(u32::from_be_bytes(trailer), *sum)?;
                        self.state = State::Done;
                        Flow::Continue
                    }
                },
                State::Done => {
                    if io.read < io.input.len() {
                        return Err(trailing());
                    }
                    Flow::Stop
                }
            };
            if let Flow::Stop = flow {
                break;
            }
        }
        Ok(Progress::new(io.read, io.written))
    }

    fn finish(&mut self, output: &mut [u8]) -> Result<usize, DecodeError> {
        // Output the inflater held back comes out first.
        let written = self.decode(&[], output)?.written();
        if written > 0 {
            return Ok(written);
        }
        match self.state {
            State::Done => Ok(0),
            _ => Err(DecodeError::new(DecodeErrorKind::Truncated)),
        }
    }
}

/// Whether [`DeflateDecoder::decode`] goes on with the next state or returns.
enum Flow {
    Continue,
    Stop,
}

/// What one run of an inflater came to.
enum Inflated {
    /// The deflate data ended.
    Ended,
    /// It made progress; there may be more.
    More,
    /// No room for output, or no progress without more input.
    Stuck,
}

/// The input and output of one [`DeflateDecoder::decode`] call, and how far into each
/// it has got.
struct Cursor<'i, 'o> {
    input: &'i [u8],
    read: usize,
    output: &'o mut [u8],
    written: usize,
}

impl Cursor<'_, '_> {
    /// Moves input into `buf[*len..]`; the whole buffer once it is full.
    fn fill<const N: usize>(&mut self, buf: &mut [u8; N], len: &mut usize) -> Option<[u8; N]> {
        let take = (N - *len).min(self.input.len() - self.read);
        buf[*len..*len + take].copy_from_slice(&self.input[self.read..self.read + take]);
        *len += take;
        self.read += take;
        (*len == N).then_some(*buf)
    }

    /// Inflates a raw stream: the detection bytes go to the inflater first, then the
    /// input.
    fn inflate_raw(
        &mut self,
        inflate: &mut Inflate,
        prefix: &[u8; 2],
        fed: &mut usize,
    ) -> Result<Inflated, DecodeError> {
        if self.written == self.output.len() {
            return Ok(Inflated::Stuck);
        }
        let out = &mut self.output[self.written..];
        let step = if *fed < prefix.len() {
            let step = inflate.run(&prefix[*fed..], out).map_err(corrupt)?;
            *fed += step.read;
            step
        } else {
            let step = inflate
                .run(&self.input[self.read..], out)
                .map_err(corrupt)?;
            self.read += step.read;
            step
        };
        self.written += step.written;
        if inflate.ended() {
            if *fed < prefix.len() {
                return Err(trailing());
            }
            Ok(Inflated::Ended)
        } else if step.read == 0 && step.written == 0 {
            Ok(Inflated::Stuck)
        } else {
            Ok(Inflated::More)
        }
    }

    /// Inflates the deflate data of a zlib stream, summing what it decodes to.
    fn inflate_zlib(
        &mut self,
        inflate: &mut Inflate,
        adler: &mut Adler32,
    ) -> Result<Inflated, DecodeError> {
        if self.written == self.output.len() {
            return Ok(Inflated::Stuck);
        }
        let out = &mut self.output[self.written..];
        let step = inflate
            .run(&self.input[self.read..], out)
            .map_err(corrupt)?;
        if let Some(decoded) = out.get(..step.written) {
            adler.update(decoded);
        }
        self.read += step.read;
        self.written += step.written;
        if inflate.ended() {
            Ok(Inflated::Ended)
        } else if step.read == 0 && step.written == 0 {
            Ok(Inflated::Stuck)
        } else {
            Ok(Inflated::More)
        }
    }
}

/// The state after the first two bytes: a zlib stream if they are a zlib header, and
/// otherwise a raw one.
fn detected(cmf: u8, flg: u8) -> Result<State, DecodeError> {
    if !is_zlib_header(cmf, flg) {
        Ok(State::Raw {
            inflate: Inflate::new(),
            prefix: [cmf, flg],
            fed: 0,
        })
    } else if flg & FDICT != 0 {
        Err(DecodeError::new(DecodeErrorKind::Corrupt)
            .with_message("deflate data is corrupt: the zlib stream needs a preset dictionary"))
    } else {
        Ok(State::Zlib {
            inflate: Inflate::new(),
            adler: Adler32::new(),
        })
    }
}

/// Compares the Adler-32 a zlib trailer records with the one of the decoded data.
fn check_trailer(recorded: u32, sum: u32) -> Result<(), DecodeError> {
    if recorded != sum {
        return Err(DecodeError::new(DecodeErrorKind::Checksum).with_message(format!(
            "deflate Adler-32 mismatch: the zlib trailer records {recorded:#010x}, the data sums to {sum:#010x}"
        )));
    }
    Ok(())
}

fn trailing() -> DecodeError {
    DecodeError::new(DecodeErrorKind::TrailingData)
        .with_message("trailing bytes after the end of the deflate data")
}

/// Adler-32 (RFC 1950, section 9), the checksum of a zlib stream's decoded bytes.
struct Adler32 {
    a: u32,
    b: u32,
}

/// The modulus of Adler-32: the largest prime below 2^16.
const ADLER_MOD: u32 = 65521;

/// The most bytes that can be summed before `b` must be reduced, starting from values
/// below [`ADLER_MOD`], without overflowing a `u32` (zlib's `NMAX`).
const ADLER_RUN: usize = 5552;

impl Adler32 {
    fn new() -> Adler32 {
        Adler32 { a: 1, b: 0 }
    }

    fn update(&mut self, bytes: &[u8]) {
        for run in bytes.chunks(ADLER_RUN) {
            for &byte in run {
                self.a += u32::from(byte);
                self.b += self.a;
            }
            self.a %= ADLER_MOD;
            self.b %= ADLER_MOD;
        }
    }

    fn sum(&self) -> u32 {
        self.b << 16 | self.a
    }
}

#[cfg(test)]
mod tests {
    use super::Adler32;

    fn adler32(bytes: &[u8]) -> u32 {
        let mut adler = Adler32::new();
        adler.update(bytes);
        adler.sum()
    }

    #[test]
    fn adler32_known_values() {
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"a"), 0x0062_0062);
        assert_eq!(adler32(b"Wikipedia"), 0x11e6_0398);
        // Long runs of the largest byte are where `b` would overflow unreduced; the
        // value is the one zlib gives.
        assert_eq!(adler32(&[0xff; 100_000]), 0x149a_302c);
        // Fed in pieces of any size, the sum is the same.
        let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 + i / 300) as u8).collect();
        assert_eq!(adler32(&data), 0x6f80_e807);
        for size in [1, 4999, 5552, 5553] {
            let mut adler = Adler32::new();
            for piece in data.chunks(size) {
                adler.update(piece);
            }
            assert_eq!(adler.sum(), 0x6f80_e807, "pieces of {size}");
        }
    }
}
