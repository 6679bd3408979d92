//! The trait for cookie stores.

use std::sync::Arc;

use http::{HeaderValue, Uri};

/// Where [`CookieLayer`](super::CookieLayer) keeps cookies: [`Jar`](super::Jar), or a
/// store of your own (a database, a per-user map, a read-only fixture). See the
/// [module docs](super).
///
/// Both methods take `&self` and may be called from many tasks at once; a store
/// handles its own locking and must not block for long (it runs inside `poll`).
///
/// ```
/// use std::sync::Arc;
/// use http::{HeaderValue, Uri};
/// use towline::cookie::{CookieLayer, CookieStore};
///
/// /// Sends one fixed cookie everywhere and keeps nothing.
/// #[derive(Debug)]
/// struct Fixed(HeaderValue);
///
/// impl CookieStore for Fixed {
///     fn set_cookies(&self, _uri: &Uri, _set_cookie: &mut dyn Iterator<Item = &HeaderValue>) {}
///     fn cookies(&self, _uri: &Uri) -> Option<HeaderValue> {
///         Some(self.0.clone())
///     }
/// }
///
/// let store: Arc<dyn CookieStore> = Arc::new(Fixed(HeaderValue::from_static("a=1")));
/// let layer = CookieLayer::new(store);
/// # let _ = layer;
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a cookie store",
    label = "implement `towline::cookie::CookieStore`, or use `towline::cookie::Jar`"
)]
pub trait CookieStore: Send + Sync {
    /// Stores the `Set-Cookie` header values of a response to a request for `uri`.
    /// Called once per response that has at least one, with all of them in order.
    fn set_cookies(&self, uri: &Uri, set_cookie: &mut dyn Iterator<Item = &HeaderValue>);

    /// The `Cookie` header value for a request to `uri`, or `None` to send none.
    fn cookies(&self, uri: &Uri) -> Option<HeaderValue>;
}

impl<T: CookieStore + ?Sized> CookieStore for Arc<T> {
    fn set_cookies(&self, uri: &Uri, set_cookie: &mut dyn Iterator<Item = &HeaderValue>) {
        (**self).set_cookies(uri, set_cookie);
    }

    fn cookies(&self, uri: &Uri) -> Option<HeaderValue> {
        (**self).cookies(uri)
    }
}

impl<T: CookieStore + ?Sized> CookieStore for &T {
    fn set_cookies(&self, uri: &Uri, set_cookie: &mut dyn Iterator<Item = &HeaderValue>) {
        (**self).set_cookies(uri, set_cookie);
    }

    fn cookies(&self, uri: &Uri) -> Option<HeaderValue> {
        (**self).cookies(uri)
    }
}

/// The trait stays object safe.
fn _object_safe(_: &dyn CookieStore) {}
