//! The layer: configuration of decompression.

use std::sync::Arc;

use http::HeaderValue;
use tower_layer::Layer;

use super::Decompression;
use super::codec::{Codings, Custom, Decoder};

/// The default [`max_codings`](DecompressionLayer::max_codings): 3.
pub const DEFAULT_MAX_CODINGS: usize = 3;

/// Decodes compressed response bodies; a [`tower::Layer`](tower_layer::Layer) making
/// [`Decompression`] services.
///
/// A cheap-to-clone holder of configuration. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct DecompressionLayer {
    config: Config,
}

/// What a [`Decompression`] service needs per request.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) settings: Settings,
    /// The `Accept-Encoding` value, built once from `settings.codings`.
    pub(crate) accept: Option<HeaderValue>,
}

/// What the response future needs: cloned per request, and cheap to clone (no
/// reference count is touched unless the user added decoders).
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) codings: Codings,
    pub(crate) limit: Option<u64>,
    pub(crate) max_codings: usize,
}

impl Settings {
    /// Settings that decode nothing.
    pub(crate) fn passthrough() -> Settings {
        Settings {
            codings: Codings::none(),
            limit: None,
            max_codings: 0,
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        let codings = Codings::default();
        Config {
            accept: codings.accept_encoding(),
            settings: Settings {
                codings,
                limit: None,
                max_codings: DEFAULT_MAX_CODINGS,
            },
        }
    }
}

impl Config {
    fn codings_changed(&mut self) {
        self.accept = self.settings.codings.accept_encoding();
    }
}

impl DecompressionLayer {
    /// A layer with every default: gzip, deflate, br and zstd (as their features
    /// allow), no limit on a streamed body (see the [module docs](super) for why), up
    /// to [3](DEFAULT_MAX_CODINGS) stacked codings.
    pub fn new() -> DecompressionLayer {
        DecompressionLayer {
            config: Config::default(),
        }
    }

    /// Whether to ask for and decode `gzip` (and its alias `x-gzip`).
    ///
    /// Default is `true`.
    #[cfg(feature = "gzip")]
    pub fn gzip(mut self, on: bool) -> Self {
        self.config.settings.codings.gzip = on;
        self.config.codings_changed();
        self
    }

    /// Whether to ask for and decode `deflate`, zlib-wrapped or raw.
    ///
    /// Default is `true`.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, on: bool) -> Self {
        self.config.settings.codings.deflate = on;
        self.config.codings_changed();
        self
    }

    /// Whether to ask for and decode `br` (brotli, RFC 7932). Streams that use brotli's
    /// large-window extension are refused, so its window is at most 16 MiB.
    ///
    /// Default is `true`.
    #[cfg(feature = "br")]
    pub fn br(mut self, on: bool) -> Self {
        self.config.settings.codings.br = on;
        self.config.codings_changed();
        self
    }

    /// Whether to ask for and decode `zstd` (Zstandard, RFC 8878), any number of
    /// frames. A frame that asks for a window larger than
    /// [`ZSTD_MAX_WINDOW`](super::ZSTD_MAX_WINDOW) (64 MiB) fails to decode rather
    /// than make the client allocate it.
    ///
    /// Default is `true`.
    #[cfg(feature = "zstd")]
    pub fn zstd(mut self, on: bool) -> Self {
        self.config.settings.codings.zstd = on;
        self.config.codings_changed();
        self
    }

    /// The most bytes a decoded body may have; `None` for no limit.
    ///
    /// Decoding fails with [`DecodedTooLarge`](super::DecodedTooLarge) as soon as the
    /// output passes the limit, so a small compressed body cannot make the client
    /// produce more. With stacked codings the limit applies to each stage's output.
    /// Bodies are decoded as they stream either way, so the limit is not needed to
    /// bound memory; set it when whoever reads the body keeps all of it (a
    /// [`Client`](crate::Client) caps its buffered reads with
    /// [`max_response_body`](crate::client::ClientBuilder::max_response_body) instead), or to
    /// bound the CPU spent on one response.
    ///
    /// Default is `None`: a legitimate download of any size decodes.
    pub fn limit(mut self, limit: impl Into<Option<u64>>) -> Self {
        self.config.settings.limit = limit.into();
        self
    }

    /// How many codings (other than `identity`) one response may stack, as in
    /// `Content-Encoding: deflate, gzip`. A response with more fails to decode with a
    /// [`DecodeError`](super::DecodeError) of kind
    /// [`TooManyCodings`](super::DecodeErrorKind::TooManyCodings).
    ///
    /// Default is [3](DEFAULT_MAX_CODINGS).
    pub fn max_codings(mut self, max: usize) -> Self {
        self.config.settings.max_codings = max;
        self
    }

    /// Adds a content coding: `make` returns a fresh [`Decoder`] for each response
    /// that uses `coding`. The coding is offered in `Accept-Encoding` after the
    /// built-in ones, in the order added. Names compare case-insensitively; adding a
    /// name that is already taken, `gzip` included, replaces its decoder. Panics if
    /// `coding` is `identity` or not an HTTP token (letters, digits and
    /// ``!#$%&'*+-.^_`|~``).
    ///
    /// Default is no added codings.
    pub fn decoder<D, F>(mut self, coding: &'static str, make: F) -> Self
    where
        D: Decoder,
        F: Fn() -> D + Send + Sync + 'static,
    {
        assert!(
            is_token(coding) && !coding.eq_ignore_ascii_case("identity"),
            "`{coding}` cannot name a content coding"
        );
        let codings = &mut self.config.settings.codings;
        let mut custom: Vec<Custom> = codings
            .custom
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .filter(|c| !c.name.eq_ignore_ascii_case(coding))
            .cloned()
            .collect();
        custom.push(Custom {
            name: coding,
            make: Arc::new(move || Box::new(make()) as Box<dyn Decoder>),
        });
        codings.custom = Some(custom.into());
        self.config.codings_changed();
        self
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl Default for DecompressionLayer {
    fn default() -> DecompressionLayer {
        DecompressionLayer::new()
    }
}

impl<S> Layer<S> for DecompressionLayer {
    type Service = Decompression<S>;

    fn layer(&self, inner: S) -> Decompression<S> {
        Decompression::with_config(inner, self.config.clone())
    }
}
