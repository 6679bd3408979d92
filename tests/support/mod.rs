//! Helpers shared by the integration tests: real peer servers started on loopback.
//!
//! Each test target uses part of this module; the rest is dead code to it.
#![allow(dead_code, unreachable_pub)]

pub mod nginx;
