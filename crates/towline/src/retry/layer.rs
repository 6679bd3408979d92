use tower_layer::Layer;

use super::RetryStale;

/// Wraps a service in [`RetryStale`]. See the [module docs](super).
#[derive(Clone, Copy, Debug, Default)]
pub struct RetryStaleLayer {
    _priv: (),
}

impl RetryStaleLayer {
    /// The layer. It has nothing to configure: the rules are fixed by what is safe.
    pub fn new() -> RetryStaleLayer {
        RetryStaleLayer { _priv: () }
    }
}

impl<S> Layer<S> for RetryStaleLayer {
    type Service = RetryStale<S>;

    fn layer(&self, inner: S) -> RetryStale<S> {
        RetryStale::new(inner)
    }
}
