//! Bodies that can be sent a second time.

use bytes::Bytes;

/// A request body that may be copied so the request can be sent a second time.
///
/// Layers that may resend a request use it: `RetryStale` after a stale connection, and
/// `FollowRedirect` when a redirect keeps the method (307 and 308 always). Implemented for towline's [`Body`](crate::Body) (see
/// [`Body::try_clone`](crate::Body::try_clone)), for in-memory bodies, and for
/// `http_body_util`'s `Full` and `Empty`; its boxed bodies (`BoxBody`, `UnsyncBoxBody`)
/// implement it too, as never copied, so that stacks with boxed bodies can use the
/// layers. Implement it for your own body type to make its requests resendable.
///
/// For `String` and `Vec<u8>` a copy duplicates the bytes; `Bytes`, `Full<Bytes>` and
/// towline's `Body` share them instead.
pub trait ReplayBody: Sized {
    /// A copy of the body that produces the same bytes, or `None` if there is none.
    fn try_replay(&self) -> Option<Self>;
}

impl ReplayBody for crate::Body {
    fn try_replay(&self) -> Option<Self> {
        self.try_clone()
    }
}

impl ReplayBody for String {
    fn try_replay(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl ReplayBody for Bytes {
    fn try_replay(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl ReplayBody for Vec<u8> {
    fn try_replay(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl ReplayBody for () {
    fn try_replay(&self) -> Option<Self> {
        Some(())
    }
}

impl<D: Clone> ReplayBody for http_body_util::Full<D> {
    fn try_replay(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl<D> ReplayBody for http_body_util::Empty<D> {
    fn try_replay(&self) -> Option<Self> {
        Some(http_body_util::Empty::new())
    }
}

/// A boxed body cannot be copied: `None`, so a 307 or 308 for it is handed back to the
/// caller and a stale request with it is not resent. The impl lets stacks whose body
/// is boxed (common with tower-http and hyper-util) use the redirect and retry layers.
impl<D, E> ReplayBody for http_body_util::combinators::BoxBody<D, E> {
    fn try_replay(&self) -> Option<Self> {
        None
    }
}

/// As for [`BoxBody`](http_body_util::combinators::BoxBody): never copied.
impl<D, E> ReplayBody for http_body_util::combinators::UnsyncBoxBody<D, E> {
    fn try_replay(&self) -> Option<Self> {
        None
    }
}
