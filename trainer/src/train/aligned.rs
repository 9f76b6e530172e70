//! Buffers whose first value sits on a cache-line boundary.
//!
//! The kernels walk runs of B values (B = 64 is 256 bytes, four AVX-512 registers). The
//! allocator returns large buffers 16 bytes past a page boundary, so without this every
//! 64-byte load of such a run would straddle two cache lines.

use std::ops::{Deref, DerefMut};

/// Values per cache line (64 bytes).
const LINE: usize = 16;

/// A zero-initialised `f32` buffer of a fixed length whose first value is 64-byte aligned.
#[derive(Default)]
pub(crate) struct AlignedVec {
    buf: Vec<f32>,
    off: usize,
    len: usize,
}

impl AlignedVec {
    /// `len` zeros.
    pub fn zeros(len: usize) -> Self {
        let mut v = AlignedVec::default();
        v.reset(len);
        v
    }

    /// Makes this `len` zeros, reusing the allocation when it is large enough.
    pub fn reset(&mut self, len: usize) {
        if self.buf.len() < len + LINE {
            self.buf = vec![0.0; len + LINE];
        } else {
            self.buf.fill(0.0);
        }
        let addr = self.buf.as_ptr() as usize;
        self.off = (addr.next_multiple_of(4 * LINE) - addr) / 4;
        self.len = len;
    }
}

impl Deref for AlignedVec {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        &self.buf[self.off..self.off + self.len]
    }
}

impl DerefMut for AlignedVec {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf[self.off..self.off + self.len]
    }
}

impl Clone for AlignedVec {
    /// A copy in a fresh, again aligned, allocation.
    fn clone(&self) -> Self {
        let mut v = AlignedVec::zeros(self.len);
        v.copy_from_slice(self);
        v
    }
}

impl std::fmt::Debug for AlignedVec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedVec(len {})", self.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_zeroed_and_cloned() {
        for len in [0, 1, 17, 100_000] {
            let mut v = AlignedVec::zeros(len);
            assert_eq!(v.len(), len);
            assert_eq!(v.as_ptr() as usize % 64, 0);
            assert!(v.iter().all(|&x| x == 0.0));
            v.iter_mut().enumerate().for_each(|(i, x)| *x = i as f32);
            let c = v.clone();
            assert_eq!(c.as_ptr() as usize % 64, 0);
            assert_eq!(&c[..], &v[..]);
            v.reset(len / 2);
            assert_eq!(v.len(), len / 2);
            assert_eq!(v.as_ptr() as usize % 64, 0);
            assert!(v.iter().all(|&x| x == 0.0));
        }
    }
}
