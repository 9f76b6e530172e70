//! Blobs at 4-aligned addresses, which [`crate::format::ModelView`] reads zero-copy
//! ([`crate::format::ModelView::is_zero_copy`]); a blob at any other address opens too, read
//! element by element.
//!
//! - [`Aligned`]: a blob embedded in the program (flash on a board):
//!   `static BLOB: &Aligned<[u8]> = &Aligned(*include_bytes!("model.gyrus"));`
//! - `AlignedCopy` (feature `std`): a 4-aligned heap copy of bytes read at run time.

/// Gives its contents 4-byte alignment; `Aligned<[u8]>` is an embedded blob.
///
/// ```
/// use gyrus_runtime::aligned::Aligned;
/// static BLOB: &Aligned<[u8]> = &Aligned([1, 2, 3]);
/// assert_eq!(BLOB.bytes(), &[1, 2, 3]);
/// assert_eq!(BLOB.bytes().as_ptr() as usize % 4, 0);
/// ```
#[repr(C, align(4))]
pub struct Aligned<B: ?Sized>(pub B);

impl Aligned<[u8]> {
    /// The bytes, at a 4-aligned address.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// A 4-aligned copy of a blob on the heap (a `Vec<u8>` guarantees no alignment).
#[cfg(feature = "std")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlignedCopy {
    words: Vec<u32>,
    len: usize,
}

#[cfg(feature = "std")]
impl AlignedCopy {
    /// Copies `bytes` into 4-aligned memory.
    pub fn new(bytes: &[u8]) -> Self {
        let mut words = vec![0u32; bytes.len().div_ceil(4)];
        bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        AlignedCopy {
            words,
            len: bytes.len(),
        }
    }

    /// The bytes, at a 4-aligned address.
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u32, u8>(&self.words)[..self.len]
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn copies_are_aligned_and_equal() {
        for len in 0..9 {
            let bytes: Vec<u8> = (1..=len as u8).collect();
            // A slice that starts at an odd address.
            let mut buf = vec![0u8; len + 1];
            buf[1..].copy_from_slice(&bytes);
            let a = AlignedCopy::new(&buf[1..]);
            assert_eq!(a.bytes(), &bytes[..]);
            assert_eq!(a.bytes().as_ptr() as usize % 4, 0);
        }
    }
}
