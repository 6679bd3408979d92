//! Any `Content-Encoding` value (stacked codings, aliases, unknown names, odd commas
//! and case) on arbitrary bytes, through `DecompressionLayer`.
//!
//! Input: the header value up to the first `\n`, then one byte choosing how the body
//! is cut into frames, then the body. See `towline_fuzz::decode_target` for the
//! invariants.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (coding, rest) = towline_fuzz::first_line(data);
    towline_fuzz::decode_target(coding, rest);
});
