//! The [`Decoder`] trait and the built-in codings.

#[cfg(feature = "br")]
mod brotli;
#[cfg(feature = "deflate")]
mod deflate;
#[cfg(feature = "gzip")]
mod gzip;
#[cfg(any(feature = "gzip", feature = "deflate"))]
mod inflate;
#[cfg(feature = "zstd")]
mod zstd;

#[cfg(feature = "zstd")]
pub(crate) use zstd::MAX_WINDOW_LOG as ZSTD_MAX_WINDOW_LOG;

use std::fmt;
use std::sync::Arc;

use http::HeaderValue;

use super::DecodeError;

/// A decoder for one content coding, fed the coded bytes as they arrive.
///
/// The layer creates one decoder per response (with the function given to
/// [`DecompressionLayer::decoder`](super::DecompressionLayer::decoder)) and drives it:
///
/// - [`decode`](Decoder::decode) is called with the coded bytes not yet consumed and
///   a non-empty output buffer. It consumes what it can from the front of `input`,
///   writes decoded bytes to the front of `output`, and says how many of each with a
///   [`Progress`]. It is called again with the rest of the input (or with no input at
///   all, as long as the last call wrote something, so a decoder can hold back output
///   that did not fit), and with more input as it arrives. A call that neither reads
///   nor writes while input is waiting is taken as a stuck decoder and fails the body.
/// - [`finish`](Decoder::finish) is called once all input was consumed and the
///   response body ended. It writes any output held back and is called again until it
///   returns `0`. It fails with a [`DecodeError`] of kind
///   [`Truncated`](super::DecodeErrorKind::Truncated) when the coded data stopped
///   before its end.
///
/// A body with no bytes at all is an empty decoded body, so a decoder never sees it.
/// Bytes that follow the coded data's end should fail with
/// [`TrailingData`](super::DecodeErrorKind::TrailingData).
///
/// Output is bounded by the layer's [`limit`](super::DecompressionLayer::limit), which
/// it checks as `output` fills; a decoder need not count.
///
/// See the [module docs](super) for an example.
pub trait Decoder: Send + 'static {
    /// Decodes from the front of `input` into the front of `output` (never empty).
    fn decode(&mut self, input: &[u8], output: &mut [u8]) -> Result<Progress, DecodeError>;

    /// All input was given: writes what is left into `output` (never empty) and returns
    /// how many bytes it wrote, `0` once there is nothing left.
    fn finish(&mut self, output: &mut [u8]) -> Result<usize, DecodeError>;
}

// Decoders are stored as trait objects.
const _: fn(&dyn Decoder) = |_| {};

/// How much one [`Decoder::decode`] call consumed and produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    read: usize,
    written: usize,
}

impl Progress {
    /// `read` bytes of input consumed, `written` bytes of output produced.
    pub fn new(read: usize, written: usize) -> Progress {
        Progress { read, written }
    }

    /// Bytes of input consumed.
    pub fn read(&self) -> usize {
        self.read
    }

    /// Bytes of output produced.
    pub fn written(&self) -> usize {
        self.written
    }
}

/// Makes a decoder per response for a coding the user added.
pub(crate) type MakeDecoder = Arc<dyn Fn() -> Box<dyn Decoder> + Send + Sync>;

/// A coding added with `DecompressionLayer::decoder`.
#[derive(Clone)]
pub(crate) struct Custom {
    pub(crate) name: &'static str,
    pub(crate) make: MakeDecoder,
}

impl fmt::Debug for Custom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// The codings a layer decodes, as it resolves `Content-Encoding` tokens.
#[derive(Clone, Debug)]
pub(crate) struct Codings {
    #[cfg(feature = "gzip")]
    pub(crate) gzip: bool,
    #[cfg(feature = "deflate")]
    pub(crate) deflate: bool,
    #[cfg(feature = "br")]
    pub(crate) br: bool,
    #[cfg(feature = "zstd")]
    pub(crate) zstd: bool,
    /// `None` unless the user added codings, so the common case clones no `Arc`.
    pub(crate) custom: Option<Arc<[Custom]>>,
}

/// One coding named in `Content-Encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Coding {
    Identity,
    #[cfg(feature = "gzip")]
    Gzip,
    #[cfg(feature = "deflate")]
    Deflate,
    #[cfg(feature = "br")]
    Brotli,
    #[cfg(feature = "zstd")]
    Zstd,
    Custom(usize),
}

impl Default for Codings {
    fn default() -> Codings {
        Codings::builtin(true)
    }
}

impl Codings {
    /// No coding but `identity`.
    pub(crate) fn none() -> Codings {
        Codings::builtin(false)
    }

    /// Every built-in coding on, or off.
    #[cfg_attr(
        not(any(
            feature = "gzip",
            feature = "deflate",
            feature = "br",
            feature = "zstd"
        )),
        allow(unused_variables, reason = "no built-in coding is compiled in")
    )]
    fn builtin(on: bool) -> Codings {
        Codings {
            #[cfg(feature = "gzip")]
            gzip: on,
            #[cfg(feature = "deflate")]
            deflate: on,
            #[cfg(feature = "br")]
            br: on,
            #[cfg(feature = "zstd")]
            zstd: on,
            custom: None,
        }
    }

    /// The coding named by one `Content-Encoding` token, or `None` if it is not decoded.
    pub(crate) fn lookup(&self, token: &[u8]) -> Option<Coding> {
        if let Some(custom) = &self.custom {
            if let Some(i) = custom
                .iter()
                .position(|c| c.name.as_bytes().eq_ignore_ascii_case(token))
            {
                return Some(Coding::Custom(i));
            }
        }
        if token.eq_ignore_ascii_case(b"identity") {
            return Some(Coding::Identity);
        }
        #[cfg(feature = "gzip")]
        if self.gzip
            && (token.eq_ignore_ascii_case(b"gzip") || token.eq_ignore_ascii_case(b"x-gzip"))
        {
            return Some(Coding::Gzip);
        }
        #[cfg(feature = "deflate")]
        if self.deflate && token.eq_ignore_ascii_case(b"deflate") {
            return Some(Coding::Deflate);
        }
        #[cfg(feature = "br")]
        if self.br && token.eq_ignore_ascii_case(b"br") {
            return Some(Coding::Brotli);
        }
        #[cfg(feature = "zstd")]
        if self.zstd && token.eq_ignore_ascii_case(b"zstd") {
            return Some(Coding::Zstd);
        }
        None
    }

    /// A fresh decoder for `coding`, with the name errors report; `None` for identity.
    pub(crate) fn decoder(&self, coding: Coding) -> Option<(AnyDecoder, &'static str)> {
        match coding {
            Coding::Identity => None,
            #[cfg(feature = "gzip")]
            Coding::Gzip => Some((AnyDecoder::Gzip(gzip::GzipDecoder::new()), "gzip")),
            #[cfg(feature = "deflate")]
            Coding::Deflate => Some((
                AnyDecoder::Deflate(deflate::DeflateDecoder::new()),
                "deflate",
            )),
            #[cfg(feature = "br")]
            Coding::Brotli => Some((AnyDecoder::Brotli(brotli::BrotliDecoder::new()), "br")),
            #[cfg(feature = "zstd")]
            Coding::Zstd => Some((AnyDecoder::Zstd(zstd::ZstdDecoder::new()), "zstd")),
            Coding::Custom(i) => {
                let custom = self.custom.as_deref()?.get(i)?;
                Some((AnyDecoder::Custom((custom.make)()), custom.name))
            }
        }
    }

    /// The value to send in `Accept-Encoding`, most preferred first, or `None` when
    /// nothing but `identity` is decoded. Built once per configuration.
    pub(crate) fn accept_encoding(&self) -> Option<HeaderValue> {
        let mut names: Vec<&'static str> = Vec::new();
        #[cfg(feature = "gzip")]
        if self.gzip {
            names.push("gzip");
        }
        #[cfg(feature = "deflate")]
        if self.deflate {
            names.push("deflate");
        }
        #[cfg(feature = "br")]
        if self.br {
            names.push("br");
        }
        #[cfg(feature = "zstd")]
        if self.zstd {
            names.push("zstd");
        }
        for custom in self.custom.as_deref().unwrap_or(&[]) {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(custom.name)) {
                names.push(custom.name);
            }
        }
        match names.as_slice() {
            [] => None,
            ["gzip"] => Some(HeaderValue::from_static("gzip")),
            ["deflate"] => Some(HeaderValue::from_static("deflate")),
            ["gzip", "deflate"] => Some(HeaderValue::from_static("gzip, deflate")),
            ["gzip", "deflate", "br", "zstd"] => {
                Some(HeaderValue::from_static("gzip, deflate, br, zstd"))
            }
            _ => HeaderValue::from_str(&names.join(", ")).ok(),
        }
    }
}

/// The decoder of one stage: a built-in one, stored inline, or a user's.
pub(crate) enum AnyDecoder {
    #[cfg(feature = "gzip")]
    Gzip(gzip::GzipDecoder),
    #[cfg(feature = "deflate")]
    Deflate(deflate::DeflateDecoder),
    #[cfg(feature = "br")]
    Brotli(brotli::BrotliDecoder),
    #[cfg(feature = "zstd")]
    Zstd(zstd::ZstdDecoder),
    Custom(Box<dyn Decoder>),
}

impl AnyDecoder {
    pub(crate) fn decode(
        &mut self,
        input: &[u8],
        output: &mut [u8],
    ) -> Result<Progress, DecodeError> {
        match self {
            #[cfg(feature = "gzip")]
            AnyDecoder::Gzip(d) => d.decode(input, output),
            #[cfg(feature = "deflate")]
            AnyDecoder::Deflate(d) => d.decode(input, output),
            #[cfg(feature = "br")]
            AnyDecoder::Brotli(d) => d.decode(input, output),
            #[cfg(feature = "zstd")]
            AnyDecoder::Zstd(d) => d.decode(input, output),
            AnyDecoder::Custom(d) => d.decode(input, output),
        }
    }

    pub(crate) fn finish(&mut self, output: &mut [u8]) -> Result<usize, DecodeError> {
        match self {
            #[cfg(feature = "gzip")]
            AnyDecoder::Gzip(d) => d.finish(output),
            #[cfg(feature = "deflate")]
            AnyDecoder::Deflate(d) => d.finish(output),
            #[cfg(feature = "br")]
            AnyDecoder::Brotli(d) => d.finish(output),
            #[cfg(feature = "zstd")]
            AnyDecoder::Zstd(d) => d.finish(output),
            AnyDecoder::Custom(d) => d.finish(output),
        }
    }
}

impl fmt::Debug for AnyDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            #[cfg(feature = "gzip")]
            AnyDecoder::Gzip(_) => "gzip",
            #[cfg(feature = "deflate")]
            AnyDecoder::Deflate(_) => "deflate",
            #[cfg(feature = "br")]
            AnyDecoder::Brotli(_) => "br",
            #[cfg(feature = "zstd")]
            AnyDecoder::Zstd(_) => "zstd",
            AnyDecoder::Custom(_) => "custom",
        })
    }
}
