//! The embedded model blob: `GYRUS_MODEL` (default `models/default.gyrus`), copied by build.rs to
//! `OUT_DIR/model.gyrus` and placed in flash at a 4-aligned address ([`Aligned`]), so that the
//! runtime borrows its weight arrays zero-copy.

use gyrus_runtime::aligned::Aligned;

static BLOB: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/model.gyrus")));

/// The model blob's bytes.
pub fn bytes() -> &'static [u8] {
    BLOB.bytes()
}
