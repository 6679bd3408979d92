//! gzip (RFC 1952): one or more members, each a header, a raw deflate stream, and a
//! trailer holding the CRC-32 and the length (mod 2^32) of the member's decoded bytes.

use flate2::Crc;

use super::inflate::Inflate;
use super::{Decoder, Progress};
use crate::decompress::{DecodeError, DecodeErrorKind};

const ID1: u8 = 0x1f;
const ID2: u8 = 0x8b;
const CM_DEFLATE: u8 = 8;
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const RESERVED: u8 = 0xe0;

/// The decoder of the `gzip` (and `x-gzip`) coding.
pub(crate) struct GzipDecoder {
    state: State,
    inflate: Inflate,
    /// CRC-32 of the current member's decoded bytes.
    crc: Crc,
    /// Length of the current member's decoded bytes, mod 2^32 as `ISIZE` records it.
    size: u32,
}

enum State {
    Header(Header),
    Body,
    Trailer {
        buf: [u8; 8],
        len: usize,
    },
    /// A member ended; the next byte starts another one (or is trailing garbage).
    Between,
}

impl GzipDecoder {
    pub(crate) fn new() -> GzipDecoder {
        GzipDecoder {
            state: State::Header(Header::new(true)),
            inflate: Inflate::new(),
            crc: Crc::new(),
            size: 0,
        }
    }

    fn check_trailer(&self, buf: &[u8; 8]) -> Result<(), DecodeError> {
        let [c0, c1, c2, c3, s0, s1, s2, s3] = *buf;
        let crc = u32::from_le_bytes([c0, c1, c2, c3]);
        let size = u32::from_le_bytes([s0, s1, s2, s3]);
        if crc != self.crc.sum() {
            return Err(
                DecodeError::new(DecodeErrorKind::Checksum).with_message("gzip CRC mismatch")
            );
        }
        if size != self.size {
            return Err(
                DecodeError::new(DecodeErrorKind::Length).with_message(format!(
                    "gzip length mismatch: the trailer records {size} bytes, the member decoded to {} (mod 2^32)",
                    self.size
                )),
            );
        }
        Ok(())
    }
}

impl Decoder for GzipDecoder {
    fn decode(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, DecodeError> {
        let (mut read, mut written) = (0, 0);
        loop {
            match &mut self.state {
                State::Header(header) => {
                    let (n, done) = header.parse(&input[read..])?;
                    read += n;
                    if !done {
                        break;
                    }
                    self.state = State::Body;
                    self.crc.reset();
                    self.size = 0;
                }
                State::Body => {
                    if written == output.len() {
                        break;
                    }
                    let out = &mut output[written..];
                    let step = self
                        .inflate
                        .run(&input[read..], out)
                        .map_err(|e| DecodeError::new(DecodeErrorKind::Corrupt).with_source(e))?;
                    if let Some(decoded) = out.get(..step.written) {
                        self.crc.update(decoded);
                    }
                    // ISIZE is the length mod 2^32: wrapping is what it asks for.
                    self.size = self.size.wrapping_add(step.written as u32);
                    read += step.read;
                    written += step.written;
                    if self.inflate.ended() {
                        self.state = State::Trailer {
                            buf: [0; 8],
                            len: 0,
                        };
                    } else if step.read == 0 && step.written == 0 {
                        break;
                    }
                }
                State::Trailer { buf, len } => {
                    let take = (buf.len() - *len).min(input.len() - read);
                    buf[*len..*len + take].copy_from_slice(&input[read..read + take]);
                    *len += take;
                    read += take;
                    if *len < buf.len() {
                        break;
                    }
                    let buf = *buf;
                    self.check_trailer(&buf)?;
                    self.state = State::Between;
                }
                State::Between => {
                    if read == input.len() {
                        break;
                    }
                    self.state = State::Header(Header::new(false));
                    self.inflate.reset();
                }
            }
        }
        Ok(Progress::new(read, written))
    }

    fn finish(&mut self, output: &mut [u8]) -> Result<usize, DecodeError> {
        // Output the inflater held back comes out first.
        let written = self.decode(&[], output)?.written();
        if written > 0 {
            return Ok(written);
        }
        match self.state {
            State::Between => Ok(0),
            _ => Err(DecodeError::new(DecodeErrorKind::Truncated)),
        }
    }
}

/// The parser of a member header, fed any number of bytes at a time.
struct Header {
    part: Part,
    /// The fixed part (magic, method, flags, mtime, xfl, os), or the two bytes of
    /// `XLEN` or of the header CRC.
    buf: [u8; 10],
    len: usize,
    flags: u8,
    extra_left: usize,
    /// CRC-32 of the header so far, kept only when `FHCRC` is set.
    crc: Crc,
    /// The first member of the body: bad magic bytes mean "not gzip" rather than
    /// trailing garbage.
    first: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part {
    Fixed,
    ExtraLen,
    Extra,
    Name,
    Comment,
    HeaderCrc,
    Done,
}

impl Header {
    fn new(first: bool) -> Header {
        Header {
            part: Part::Fixed,
            buf: [0; 10],
            len: 0,
            flags: 0,
            extra_left: 0,
            crc: Crc::new(),
            first,
        }
    }

    /// The first part after `from` that the flags say is present.
    fn next(&self, from: Part) -> Part {
        [
            (Part::ExtraLen, FEXTRA),
            (Part::Name, FNAME),
            (Part::Comment, FCOMMENT),
            (Part::HeaderCrc, FHCRC),
        ]
        .into_iter()
        .find(|&(part, flag)| part > from && self.flags & flag != 0)
        .map_or(Part::Done, |(part, _)| part)
    }

    fn hash(&mut self, bytes: &[u8]) {
        if self.flags & FHCRC != 0 {
            self.crc.update(bytes);
        }
    }

    /// Checks byte `at` of the fixed part as soon as it arrives, so that data which is
    /// not gzip fails at once.
    fn check_fixed(&self, at: usize, byte: u8) -> Result<(), DecodeError> {
        let bad_magic = match at {
            0 => byte != ID1,
            1 => byte != ID2,
            _ => false,
        };
        if bad_magic {
            return Err(if self.first {
                DecodeError::new(DecodeErrorKind::Corrupt).with_message(
                    "gzip data is corrupt: it does not start with the gzip magic bytes",
                )
            } else {
                DecodeError::new(DecodeErrorKind::TrailingData)
                    .with_message("trailing bytes after the last gzip member")
            });
        }
        if at == 2 && byte != CM_DEFLATE {
            return Err(
                DecodeError::new(DecodeErrorKind::Corrupt).with_message(format!(
                    "gzip data is corrupt: compression method {byte} is not deflate (8)"
                )),
            );
        }
        if at == 3 && byte & RESERVED != 0 {
            return Err(DecodeError::new(DecodeErrorKind::Corrupt)
                .with_message("gzip data is corrupt: reserved header flags are set"));
        }
        Ok(())
    }

    /// Consumes header bytes from `input`; returns how many, and whether the header
    /// is complete.
    fn parse(&mut self, input: &[u8]) -> Result<(usize, bool), DecodeError> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            match self.part {
                Part::Fixed => {
                    let take = (self.buf.len() - self.len).min(rest.len());
                    for (i, &byte) in rest[..take].iter().enumerate() {
                        self.check_fixed(self.len + i, byte)?;
                    }
                    self.buf[self.len..self.len + take].copy_from_slice(&rest[..take]);
                    self.len += take;
                    pos += take;
                    if self.len < self.buf.len() {
                        return Ok((pos, false));
                    }
                    self.flags = self.buf[3];
                    let fixed = self.buf;
                    self.hash(&fixed);
                    self.len = 0;
                    self.part = self.next(Part::Fixed);
                }
                Part::ExtraLen | Part::HeaderCrc => {
                    let take = (2 - self.len).min(rest.len());
                    self.buf[self.len..self.len + take].copy_from_slice(&rest[..take]);
                    self.len += take;
                    pos += take;
                    if self.len < 2 {
                        return Ok((pos, false));
                    }
                    self.len = 0;
                    let value = u16::from_le_bytes([self.buf[0], self.buf[1]]);
                    if self.part == Part::ExtraLen {
                        let xlen = [self.buf[0], self.buf[1]];
                        self.hash(&xlen);
                        self.extra_left = usize::from(value);
                        self.part = if self.extra_left == 0 {
                            self.next(Part::Extra)
                        } else {
                            Part::Extra
                        };
                    } else {
                        // FHCRC holds the two low bytes of the header's CRC-32.
                        if u32::from(value) != self.crc.sum() & 0xffff {
                            return Err(DecodeError::new(DecodeErrorKind::Checksum)
                                .with_message("gzip header CRC mismatch"));
                        }
                        self.part = Part::Done;
                    }
                }
                Part::Extra => {
                    let take = self.extra_left.min(rest.len());
                    self.hash(&rest[..take]);
                    self.extra_left -= take;
                    pos += take;
                    if self.extra_left > 0 {
                        return Ok((pos, false));
                    }
                    self.part = self.next(Part::Extra);
                }
                Part::Name | Part::Comment => {
                    // Zero-terminated; streamed through, never stored.
                    match rest.iter().position(|&b| b == 0) {
                        Some(end) => {
                            self.hash(&rest[..=end]);
                            pos += end + 1;
                            self.part = self.next(self.part);
                        }
                        None => {
                            self.hash(rest);
                            return Ok((input.len(), false));
                        }
                    }
                }
                Part::Done => return Ok((pos, true)),
            }
        }
    }
}
