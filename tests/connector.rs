//! End-to-end tests of the connector against the towline-test server.
fn main() {}
