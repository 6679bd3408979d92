//! Decompression bombs built without compressing their whole output.

use std::io::Write;

use flate2::Compression;
use flate2::write::DeflateEncoder;

/// A gzip body of `mib` MiB of zeros, about 1 KiB per MiB, made without compressing
/// all of it: the deflate data of 1 MiB of zeros, ended by a sync flush, decodes to
/// the same 1 MiB after any run of zeros, so it is repeated `mib` times and closed
/// with an empty final block. The CRC is combined from the 1 MiB one.
pub fn gzip_bomb(mib: usize) -> Vec<u8> {
    let zeros = vec![0u8; 1 << 20];
    let mut e = DeflateEncoder::new(Vec::new(), Compression::best());
    e.write_all(&zeros).expect("write");
    e.flush().expect("sync flush");
    let segment = e.get_ref().clone();
    let mut crc_1mib = flate2::Crc::new();
    crc_1mib.update(&zeros);
    let mut crc = flate2::Crc::new();
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255];
    for _ in 0..mib {
        out.extend_from_slice(&segment);
        crc.combine(&crc_1mib);
    }
    // A final block of fixed codes holding only the end-of-block code.
    out.extend_from_slice(&[0x03, 0x00]);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&((mib as u64) << 20).to_le_bytes()[..4]);
    out
}
