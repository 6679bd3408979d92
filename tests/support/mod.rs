//! Helpers shared by the integration tests: real peer servers started on loopback, and
//! test bodies that are costly to write out.
//!
//! Each test target uses part of this module; the rest is dead code to it.
#![allow(dead_code, unreachable_pub)]

pub mod bombs;
pub mod gzip_text;
pub mod nginx;
