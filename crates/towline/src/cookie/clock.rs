//! The jar's source of the current time.

use std::fmt;
use std::time::SystemTime;

/// Where a [`Jar`](super::Jar) reads the current time: when cookies are created, when
/// `Max-Age` counts from, and which cookies have expired.
///
/// Any `Fn() -> SystemTime + Send + Sync + 'static` is a clock, so a test can evaluate
/// the jar at a chosen time:
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use towline::cookie::Jar;
///
/// let seconds = Arc::new(AtomicU64::new(1_700_000_000));
/// let now = Arc::clone(&seconds);
/// let jar = Jar::builder()
///     .clock(move || UNIX_EPOCH + Duration::from_secs(now.load(Ordering::Relaxed)))
///     .build();
///
/// let uri = "http://example.com/".parse()?;
/// jar.set_cookie(&uri, "short=1; Max-Age=60")?;
/// assert!(jar.cookie_header(&uri).is_some());
/// seconds.fetch_add(60, Ordering::Relaxed);
/// assert!(jar.cookie_header(&uri).is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a cookie jar clock",
    label = "a clock is `Fn() -> SystemTime + Send + Sync + 'static` or implements `Clock`"
)]
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

impl<F> Clock for F
where
    F: Fn() -> SystemTime + Send + Sync + 'static,
{
    fn now(&self) -> SystemTime {
        self()
    }
}

/// The operating system's clock, [`SystemTime::now`]: the default.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock in a jar, for its `Debug` output.
pub(crate) struct BoxedClock(pub(crate) Box<dyn Clock>);

impl fmt::Debug for BoxedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}
