//! The layer: which store the cookie service uses.

use tower_layer::Layer;

use super::{CookieStore, Cookies, Jar};

/// Sends the cookies of a [`CookieStore`] with each request and stores those of each
/// response; a [`tower::Layer`](tower_layer::Layer) making [`Cookies`] services.
///
/// A cheap-to-clone holder of the store: a [`Jar`] clone is a reference count. See
/// the [module docs](super).
#[derive(Clone, Debug)]
pub struct CookieLayer<C = Jar> {
    store: C,
}

impl<C> CookieLayer<C> {
    /// A layer keeping cookies in `store`: usually a [`Jar`], shared by cloning it.
    ///
    /// There is nothing else to set: the rules are RFC 6265's, and the limits are the
    /// jar's ([`Jar::builder`]).
    pub fn new(store: C) -> CookieLayer<C>
    where
        C: CookieStore + Clone,
    {
        CookieLayer { store }
    }

    /// The store.
    pub fn store(&self) -> &C {
        &self.store
    }
}

impl Default for CookieLayer {
    /// A layer with a new, empty [`Jar`] of its own.
    fn default() -> CookieLayer {
        CookieLayer::new(Jar::new())
    }
}

impl<S, C: Clone> Layer<S> for CookieLayer<C> {
    type Service = Cookies<S, C>;

    fn layer(&self, inner: S) -> Cookies<S, C> {
        Cookies::from_parts(inner, self.store.clone())
    }
}
