//! `Content-Encoding: zstd` on arbitrary bytes, through `DecompressionLayer`.
//!
//! Input: one byte choosing how the body is cut into frames, then the body. See
//! `towline_fuzz::decode_target` for the invariants.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    towline_fuzz::decode_target(b"zstd", data);
});
