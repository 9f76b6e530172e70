//! FNV-1a (32-bit) over the exact bits of what the firmware computes, so that a host test can
//! compare them with the runtime on the host. Plain `core` code: the host test includes this file.

/// FNV-1a hasher, 32-bit.
#[derive(Clone, Copy, Debug)]
pub struct Fnv32(u32);

impl Default for Fnv32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv32 {
    /// The empty hash (the FNV offset basis).
    pub const fn new() -> Self {
        Fnv32(0x811c_9dc5)
    }

    /// Hashes one byte.
    #[inline]
    pub fn byte(&mut self, b: u8) {
        self.0 = (self.0 ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }

    /// Hashes a word, little-endian.
    #[inline]
    pub fn u32(&mut self, w: u32) {
        for b in w.to_le_bytes() {
            self.byte(b);
        }
    }

    /// Hashes the bits of a float.
    #[inline]
    pub fn f32(&mut self, x: f32) {
        self.u32(x.to_bits());
    }

    /// Hashes the bits of every float of a slice.
    pub fn f32s(&mut self, xs: &[f32]) {
        for &x in xs {
            self.f32(x);
        }
    }

    /// The hash value.
    pub const fn finish(&self) -> u32 {
        self.0
    }
}
