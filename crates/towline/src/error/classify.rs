//! How causes defined outside this module state their [`Kind`]: [`Classify`], the
//! list of them ([`Causes`]), and the one walker of a `source()` chain ([`walk`]).

use std::error::Error as StdError;

use super::{Error, Kind};

/// A cause defined outside this module (by the connector or a layer) that tells the
/// crate [`Error`] what it is, so that this module names none of them: the `is_*`
/// methods and [`Error::from_boxed_as`] find it in a `source()` chain.
///
/// A type implements it beside its definition; `lib.rs`, where the modules meet, lists
/// the implementors in [`Causes`].
pub(crate) trait Classify: StdError + 'static {
    /// The kind of failure this cause is: [`Error::is_redirect`], [`Error::is_decode`]
    /// and [`Error::is_proxy`] hold for an error with such a cause, and the `Client`
    /// gives this kind to an error made from it.
    const KIND: Kind;

    /// Whether this cause is a failed name resolution, for [`Error::is_resolve`]; `None`
    /// when the type cannot tell (the first cause that can decides).
    fn resolve(&self) -> Option<bool> {
        None
    }
}

/// What a cause stated about itself through [`Classify`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Class {
    pub(super) kind: Kind,
    pub(super) resolve: Option<bool>,
}

/// Recognises the causes of one type: see [`probe`].
pub(crate) type Probe = fn(&(dyn StdError + 'static)) -> Option<Class>;

/// The probe of the causes of type `E`.
pub(crate) fn probe<E: Classify>(err: &(dyn StdError + 'static)) -> Option<Class> {
    err.downcast_ref::<E>().map(|e| Class {
        kind: E::KIND,
        resolve: e.resolve(),
    })
}

/// The causes the rest of the crate defines, as one [`Probe`] per type.
///
/// Implemented once, for [`Error`], in `lib.rs`, where the modules meet: this module
/// depends on the list, not on the modules in it.
pub(crate) trait Causes {
    /// A probe for each type of cause that implements [`Classify`].
    const PROBES: &'static [Probe];
}

/// The one walker of a `source()` chain: `err`, then each cause in turn, until `look`
/// finds what it looks for.
pub(crate) fn walk<'a, T>(
    err: &'a (dyn StdError + 'static),
    look: impl FnMut(&'a (dyn StdError + 'static)) -> Option<T>,
) -> Option<T> {
    let next = |err: &&'a (dyn StdError + 'static)| (*err).source();
    std::iter::successors(Some(err), next).find_map(look)
}

/// The first [`Class`] that `err` or a cause in its chain states and `wanted` accepts.
pub(super) fn class_in(
    err: &(dyn StdError + 'static),
    wanted: impl Fn(Class) -> bool,
) -> Option<Class> {
    walk(err, |cause| {
        <Error as Causes>::PROBES
            .iter()
            .filter_map(|probe| probe(cause))
            .find(|&class| wanted(class))
    })
}
