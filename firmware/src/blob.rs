//! The embedded model blob: `GYRUS_MODEL` (default `models/default.gyrus`), copied by build.rs to
//! `OUT_DIR/model.gyrus` and placed in flash at a 4-aligned address, so that the runtime borrows
//! its weight arrays zero-copy.

/// Wrapper that gives the bytes 4-byte alignment.
#[repr(C, align(4))]
struct Aligned<B: ?Sized>(B);

static BLOB: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/model.gyrus")));

/// The model blob's bytes.
pub fn bytes() -> &'static [u8] {
    &BLOB.0
}
