//! How the `Client` turns the errors of its stack into the crate [`Error`].
//!
//! The stack's layers fail with their own error types (`redirect::TooManyRedirects`,
//! `decompress::DecodeError`, …) boxed as a [`BoxError`], so that a layer used alone
//! stays usable with any service. Each such type states its [`Kind`] through
//! [`Classify`](crate::error::Classify), beside its definition; here the `Client`
//! decides which of those kinds an error of its stack may take, and the default.

use crate::error::{BoxError, Error, Kind};

impl Error {
    /// Turns the error of a stack of layers into a towline [`Error`]: an `Error` inside
    /// the box is returned as it is, a layer's own failure gets its kind (redirect,
    /// decode), anything else [`Kind::Request`].
    pub(crate) fn from_service(err: BoxError) -> Error {
        Error::from_boxed_as(err, &[Kind::Redirect, Kind::Decode], Kind::Request)
    }
}
