//! The [`ClientBuilder`]'s decompression settings: the layer on or off, each coding,
//! the decoded-size limit, and a hook to configure the layer further.

use super::ClientBuilder;

impl ClientBuilder {
    /// Whether the decompression layer is in the stack at all. Off, no
    /// `Accept-Encoding` is offered and every body is handed back as the server sent
    /// it, whatever [`gzip`](Self::gzip), [`deflate`](Self::deflate), `br` and `zstd`
    /// say. On, each of those switches decides for its own coding only.
    ///
    /// Default is `true`.
    pub fn decompression(mut self, on: bool) -> Self {
        self.decompress.on = on;
        self
    }

    /// Whether gzip bodies are decoded (and `gzip` offered in `Accept-Encoding`).
    /// Affects gzip only.
    ///
    /// Default is `true`.
    pub fn gzip(mut self, on: bool) -> Self {
        self.decompress.gzip = on;
        self
    }

    /// Whether deflate bodies are decoded (and `deflate` offered). Affects deflate
    /// only.
    ///
    /// Default is `true`.
    pub fn deflate(mut self, on: bool) -> Self {
        self.decompress.deflate = on;
        self
    }

    /// Whether brotli (`br`) bodies are decoded (and `br` offered). Affects brotli
    /// only.
    ///
    /// Default is `true`.
    #[cfg(feature = "br")]
    pub fn br(mut self, on: bool) -> Self {
        self.decompress.br = on;
        self
    }

    /// Whether zstd bodies are decoded (and `zstd` offered). Affects zstd only.
    ///
    /// Default is `true`.
    #[cfg(feature = "zstd")]
    pub fn zstd(mut self, on: bool) -> Self {
        self.decompress.zstd = on;
        self
    }

    /// The most bytes a body may decode to, however it is read (streamed too); `None`
    /// sets no limit. Buffered reads are capped by
    /// [`max_response_body`](Self::max_response_body) either way, so a decompression
    /// bomb read with `bytes()` stops there; this limit is for callers who stream
    /// bodies to somewhere bounded and want decoding itself to stop.
    ///
    /// Default is `None`: a streamed body costs no memory, and a legitimate large
    /// download served with a `Content-Encoding` must not fail.
    pub fn decoded_limit(mut self, limit: impl Into<Option<u64>>) -> Self {
        self.decompress.limit = limit.into();
        self
    }

    /// Adjusts the decompression layer beyond the switches above: `configure` gets the
    /// layer as they set it up and returns it changed, for instance with
    /// [`max_codings`](crate::decompress::DecompressionLayer::max_codings) or a
    /// [`decoder`](crate::decompress::DecompressionLayer::decoder) of your own. It is
    /// not called when [`decompression(false)`](Self::decompression) is set. A second
    /// call replaces the first.
    ///
    /// ```
    /// use towline::decompress::DecompressionLayer;
    ///
    /// let client = towline::Client::builder()
    ///     .decompression_with(|layer: DecompressionLayer| layer.max_codings(1))
    ///     .build()
    ///     .expect("a client");
    /// # let _ = client;
    /// ```
    #[cfg(feature = "decompress")]
    pub fn decompression_with<F>(mut self, configure: F) -> Self
    where
        F: Fn(crate::decompress::DecompressionLayer) -> crate::decompress::DecompressionLayer
            + Send
            + Sync
            + 'static,
    {
        self.decompress.configure = Some(Configure(std::sync::Arc::new(configure)));
        self
    }
}

/// The builder's decompression switches: the whole layer, then one per coding.
#[derive(Clone, Debug)]
#[cfg_attr(
    not(all(feature = "decompress", feature = "gzip", feature = "deflate")),
    allow(
        dead_code,
        reason = "a switch whose coding is not compiled in is never read"
    )
)]
pub(super) struct Codecs {
    on: bool,
    gzip: bool,
    deflate: bool,
    #[cfg(feature = "br")]
    br: bool,
    #[cfg(feature = "zstd")]
    zstd: bool,
    limit: Option<u64>,
    #[cfg(feature = "decompress")]
    configure: Option<Configure>,
}

/// The function given to [`ClientBuilder::decompression_with`].
#[cfg(feature = "decompress")]
#[derive(Clone)]
struct Configure(
    std::sync::Arc<
        dyn Fn(crate::decompress::DecompressionLayer) -> crate::decompress::DecompressionLayer
            + Send
            + Sync,
    >,
);

#[cfg(feature = "decompress")]
impl std::fmt::Debug for Configure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Configure(..)")
    }
}

impl Default for Codecs {
    fn default() -> Codecs {
        Codecs {
            on: true,
            gzip: true,
            deflate: true,
            #[cfg(feature = "br")]
            br: true,
            #[cfg(feature = "zstd")]
            zstd: true,
            limit: None,
            #[cfg(feature = "decompress")]
            configure: None,
        }
    }
}

impl Codecs {
    /// The layer these switches describe, or `None` when decompression is off. Each
    /// coding's switch goes to the layer as it is: turning gzip and deflate off leaves
    /// br and zstd on.
    #[cfg(feature = "decompress")]
    pub(super) fn layer(&self) -> Option<crate::decompress::DecompressionLayer> {
        if !self.on {
            return None;
        }
        #[allow(unused_mut)]
        let mut layer = crate::decompress::DecompressionLayer::new().limit(self.limit);
        #[cfg(feature = "gzip")]
        {
            layer = layer.gzip(self.gzip);
        }
        #[cfg(feature = "deflate")]
        {
            layer = layer.deflate(self.deflate);
        }
        #[cfg(feature = "br")]
        {
            layer = layer.br(self.br);
        }
        #[cfg(feature = "zstd")]
        {
            layer = layer.zstd(self.zstd);
        }
        if let Some(Configure(configure)) = &self.configure {
            layer = configure(layer);
        }
        Some(layer)
    }
}
