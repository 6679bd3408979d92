//! The errors a decoded body can fail with.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use crate::error::{BoxError, Classify, Kind};

/// A response body could not be decoded: its coded data was truncated, corrupt, failed
/// a checksum or length check, or had bytes after its end.
///
/// A [`DecompressionBody`](super::DecompressionBody) fails with this error (boxed) and
/// the facade's [`towline::Error`](crate::Error) reports it with
/// [`is_decode()`](crate::Error::is_decode). A [`Decoder`](super::Decoder) of your own
/// fails with it too; the layer fills in the name of the coding.
///
/// See the [module docs](super).
pub struct DecodeError {
    kind: DecodeErrorKind,
    coding: &'static str,
    message: Option<Cow<'static, str>>,
    source: Option<BoxError>,
}

/// What was wrong with the coded data of a [`DecodeError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The coded data ended before its end: a cut header, body or trailer.
    Truncated,
    /// The coded data is not valid for its coding.
    Corrupt,
    /// A checksum over the decoded data did not match (gzip's CRC-32, zlib's Adler-32).
    Checksum,
    /// The length recorded in the coded data did not match the decoded length (gzip's
    /// `ISIZE`).
    Length,
    /// More bytes followed the end of the coded data.
    TrailingData,
    /// `Content-Encoding` listed more codings than the layer decodes
    /// ([`DecompressionLayer::max_codings`](super::DecompressionLayer::max_codings)).
    TooManyCodings,
    /// Any other failure of a decoder.
    Other,
}

impl DecodeError {
    /// A decoding failure of this kind, with a message written from the kind and the
    /// coding's name.
    pub fn new(kind: DecodeErrorKind) -> DecodeError {
        DecodeError {
            kind,
            coding: "",
            message: None,
            source: None,
        }
    }

    /// Replaces the error's text. Write it as a whole sentence fragment that names the
    /// coding, like `"gzip CRC mismatch"`.
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> DecodeError {
        self.message = Some(message.into());
        self
    }

    /// Sets the underlying cause, reachable with [`source()`](StdError::source).
    pub fn with_source(mut self, source: impl Into<BoxError>) -> DecodeError {
        self.source = Some(source.into());
        self
    }

    /// What was wrong with the coded data.
    pub fn kind(&self) -> DecodeErrorKind {
        self.kind
    }

    /// The content coding whose data failed to decode, such as `"gzip"`, or `""` when
    /// the failure concerns the list of codings as a whole.
    pub fn coding(&self) -> &str {
        self.coding
    }

    pub(crate) fn in_coding(mut self, coding: &'static str) -> DecodeError {
        if self.coding.is_empty() {
            self.coding = coding;
        }
        self
    }
}

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("DecodeError");
        d.field("kind", &self.kind).field("coding", &self.coding);
        if let Some(message) = &self.message {
            d.field("message", message);
        }
        if let Some(source) = &self.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(message) = &self.message {
            return f.write_str(message);
        }
        let coding = if self.coding.is_empty() {
            "encoded"
        } else {
            self.coding
        };
        match self.kind {
            DecodeErrorKind::Truncated => write!(f, "{coding} body is truncated")?,
            DecodeErrorKind::Corrupt => write!(f, "{coding} data is corrupt")?,
            DecodeErrorKind::Checksum => write!(f, "{coding} checksum mismatch")?,
            DecodeErrorKind::Length => write!(f, "{coding} length mismatch")?,
            DecodeErrorKind::TrailingData => write!(f, "trailing bytes after the {coding} data")?,
            DecodeErrorKind::TooManyCodings => f.write_str("too many content codings")?,
            DecodeErrorKind::Other => write!(f, "{coding} decoding failed")?,
        }
        // The cause (the inflater's message) is `source()`'s: reporters that walk the
        // chain, and `towline::Error::report`, print it once.
        Ok(())
    }
}

impl StdError for DecodeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// A decoded body grew past the layer's
/// [`limit`](super::DecompressionLayer::limit), or past a
/// [`Client`](crate::Client)'s
/// [`max_response_body`](crate::client::ClientBuilder::max_response_body) while it was read
/// into memory.
///
/// Decoding stops as soon as the limit is passed, so no more than the limit (plus one
/// buffer) is ever produced. The facade's [`towline::Error`](crate::Error) reports it
/// with [`is_decode()`](crate::Error::is_decode).
#[derive(Debug)]
pub struct DecodedTooLarge {
    limit: u64,
    coding: &'static str,
}

impl DecodedTooLarge {
    pub(crate) fn new(limit: u64, coding: &'static str) -> DecodedTooLarge {
        DecodedTooLarge { limit, coding }
    }

    /// The limit that was passed, in decoded bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The content coding whose output passed the limit, such as `"gzip"`.
    pub fn coding(&self) -> &str {
        self.coding
    }
}

impl fmt::Display for DecodedTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} body decodes to more than the limit of {} bytes",
            self.coding, self.limit
        )
    }
}

impl StdError for DecodedTooLarge {}

impl Classify for DecodeError {
    const KIND: Kind = Kind::Decode;
}

impl Classify for DecodedTooLarge {
    const KIND: Kind = Kind::Decode;
}
