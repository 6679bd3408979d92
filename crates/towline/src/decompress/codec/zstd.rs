//! zstd (RFC 8878, as a content coding RFC 9659): one or more frames, decoded with
//! libzstd through the `zstd` crate.
//!
//! A frame declares the window it needs and the decoder allocates it; frames that ask
//! for more than [`MAX_WINDOW_LOG`] (64 MiB) fail rather than make the client allocate
//! up to the 2 GiB zstd allows. RFC 9659 has encoders keep to 8 MiB, so real content
//! never comes near.

use zstd::zstd_safe::zstd_sys::ZSTD_ErrorCode;
use zstd::zstd_safe::{DCtx, DParameter, ErrorCode, InBuffer, OutBuffer, get_error_name};

use super::{Decoder, Progress};
use crate::decompress::{DecodeError, DecodeErrorKind};

/// The largest window a zstd frame may ask for: 2^26 bytes, 64 MiB.
pub(crate) const MAX_WINDOW_LOG: u32 = 26;

/// The magic number of a zstd frame, little-endian.
const FRAME_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// The decoder of the `zstd` coding.
pub(crate) struct ZstdDecoder {
    /// `None` when libzstd could not make a context; the first call reports it.
    dctx: Option<DCtx<'static>>,
    state: State,
    frame: FrameCheck,
}

/// What the current frame declared and decoded, to check one against the other.
struct FrameCheck {
    /// The first bytes of the frame, up to a whole frame header.
    header: [u8; FRAME_HEADER_MAX],
    header_len: usize,
    /// What the frame has decoded so far.
    written: u64,
}

/// The longest a zstd frame header can be (`ZSTD_FRAMEHEADERSIZE_MAX`).
const FRAME_HEADER_MAX: usize = 18;

enum State {
    /// Inside a frame (or before the first): libzstd has input or output pending.
    Frame,
    /// A frame ended and everything it decoded was handed out. More bytes must start
    /// another frame, or they are trailing garbage; `buf[..len]` is what came so far
    /// of the next frame's magic number.
    Between { buf: [u8; 4], len: usize },
}

impl ZstdDecoder {
    pub(crate) fn new() -> ZstdDecoder {
        let dctx = DCtx::try_create().and_then(|mut dctx| {
            dctx.set_parameter(DParameter::WindowLogMax(MAX_WINDOW_LOG))
                .ok()?;
            Some(dctx)
        });
        ZstdDecoder {
            dctx,
            state: State::Frame,
            frame: FrameCheck {
                header: [0; FRAME_HEADER_MAX],
                header_len: 0,
                written: 0,
            },
        }
    }
}

/// Whether `bytes` can start a zstd frame or a skippable frame
/// (`0x184D2A50..=0x184D2A5F`, little-endian).
fn may_start_frame(bytes: &[u8]) -> bool {
    let frame = FRAME_MAGIC.starts_with(bytes);
    let skippable = match bytes.split_first() {
        None => true,
        Some((&first, rest)) => first & 0xf0 == 0x50 && [0x2a, 0x4d, 0x18].starts_with(rest),
    };
    frame || skippable
}

fn error(code: ErrorCode) -> DecodeError {
    let window =
        0usize.wrapping_sub(ZSTD_ErrorCode::ZSTD_error_frameParameter_windowTooLarge as usize);
    if code == window {
        return DecodeError::new(DecodeErrorKind::Other).with_message(format!(
            "zstd frame needs a window larger than the limit of {} MiB",
            (1u64 << MAX_WINDOW_LOG) >> 20
        ));
    }
    let checksum = 0usize.wrapping_sub(ZSTD_ErrorCode::ZSTD_error_checksum_wrong as usize);
    if code == checksum {
        return DecodeError::new(DecodeErrorKind::Checksum).with_message("zstd checksum mismatch");
    }
    DecodeError::new(DecodeErrorKind::Corrupt)
        .with_message(format!("zstd data is corrupt ({})", get_error_name(code)))
}

/// One call to libzstd: (read, written, frame ended and flushed).
fn run(
    dctx: &mut DCtx<'static>,
    input: &[u8],
    output: &mut [u8],
) -> Result<(usize, usize, bool), DecodeError> {
    let mut input = InBuffer::around(input);
    let mut output = OutBuffer::around(output);
    let hint = dctx
        .decompress_stream(&mut output, &mut input)
        .map_err(error)?;
    Ok((input.pos(), output.pos(), hint == 0))
}

impl FrameCheck {
    /// Keeps the start of the current frame until its header is whole.
    fn read(&mut self, bytes: &[u8]) {
        let take = (FRAME_HEADER_MAX - self.header_len).min(bytes.len());
        self.header[self.header_len..self.header_len + take].copy_from_slice(&bytes[..take]);
        self.header_len += take;
    }

    /// At the end of a frame: what it decoded must be the content size its header
    /// declared, if it declared one. libzstd checks this when it decodes a frame in one
    /// call, but not on every streaming path (an empty last block fed a byte at a time
    /// ended a frame of 57 declared bytes with none).
    fn end(&mut self) -> Result<(), DecodeError> {
        let declared = zstd::zstd_safe::get_frame_content_size(&self.header[..self.header_len]);
        let written = std::mem::take(&mut self.written);
        self.header_len = 0;
        match declared {
            Ok(Some(size)) if size != written => Err(DecodeError::new(DecodeErrorKind::Corrupt)
                .with_message(format!(
                    "zstd frame declared {size} bytes of content and held {written}"
                ))),
            _ => Ok(()),
        }
    }
}

impl Decoder for ZstdDecoder {
    fn decode(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, DecodeError> {
        let Some(dctx) = &mut self.dctx else {
            return Err(DecodeError::new(DecodeErrorKind::Other)
                .with_message("zstd decoder could not be created"));
        };
        let (mut read, mut written) = (0, 0);
        // One frame per turn: a body may hold any number of them.
        loop {
            if let State::Between { buf, len } = &mut self.state {
                let take = (buf.len() - *len).min(input.len() - read);
                buf[*len..*len + take].copy_from_slice(&input[read..read + take]);
                *len += take;
                read += take;
                if !may_start_frame(&buf[..*len]) {
                    return Err(DecodeError::new(DecodeErrorKind::TrailingData)
                        .with_message("trailing bytes after the last zstd frame"));
                }
                if *len < buf.len() {
                    break;
                }
                // A whole magic number: libzstd takes the frame header into its own
                // buffer, so it consumes these four bytes without writing anything.
                let magic = *buf;
                let (n, _, _) = run(dctx, &magic, &mut [])?;
                if n != magic.len() {
                    return Err(DecodeError::new(DecodeErrorKind::Other)
                        .with_message("the zstd decoder did not take a frame's magic number"));
                }
                self.state = State::Frame;
                self.frame.read(&magic);
            }
            let (n, w, ended) = run(dctx, &input[read..], &mut output[written..])?;
            self.frame.read(&input[read..read + n]);
            self.frame.written += w as u64;
            read += n;
            written += w;
            if !ended {
                break;
            }
            self.frame.end()?;
            self.state = State::Between {
                buf: [0; 4],
                len: 0,
            };
            // Bytes after the frame start another one, or are garbage.
            if read == input.len() || written == output.len() {
                break;
            }
        }
        Ok(Progress::new(read, written))
    }

    fn finish(&mut self, output: &mut [u8]) -> Result<usize, DecodeError> {
        let written = self.decode(&[], output)?.written();
        if written > 0 {
            return Ok(written);
        }
        match self.state {
            State::Between { len: 0, .. } => Ok(0),
            _ => Err(DecodeError::new(DecodeErrorKind::Truncated)),
        }
    }
}
