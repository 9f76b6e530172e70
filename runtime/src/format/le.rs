//! [`LeSlice`]: an array of little-endian numbers inside a blob, read in place.
//!
//! A blob stores every weight array as raw little-endian bytes. When the bytes happen to be
//! 4-aligned in memory (the encoder pads each array to a 4-aligned offset from the blob start, so
//! this holds whenever the blob itself is 4-aligned) and the target is little-endian, the array is
//! borrowed as `&[T]` with no copy ([`LeSlice::as_slice`]). Otherwise each element is assembled with
//! `from_le_bytes` ([`LeSlice::get`]); the kernels pick the fast path once per step.

use core::marker::PhantomData;

mod sealed {
    pub trait Sealed {}
    impl Sealed for u16 {}
    impl Sealed for u32 {}
    impl Sealed for f32 {}
}

/// A number type stored little-endian in a blob: `u16`, `u32` or `f32`.
pub trait LeScalar: sealed::Sealed + Copy + bytemuck::Pod {
    /// Bytes per element.
    const SIZE: usize;
    /// Reads one element from `SIZE` bytes.
    ///
    /// # Safety
    /// `p` must point to `SIZE` readable bytes (any alignment).
    unsafe fn read_le(p: *const u8) -> Self;
}

macro_rules! le_scalar {
    ($t:ty, $n:expr) => {
        impl LeScalar for $t {
            const SIZE: usize = $n;
            #[inline(always)]
            unsafe fn read_le(p: *const u8) -> Self {
                // SAFETY: the caller guarantees `$n` readable bytes at `p`.
                <$t>::from_le_bytes(unsafe { core::ptr::read_unaligned(p as *const [u8; $n]) })
            }
        }
    };
}
le_scalar!(u16, 2);
le_scalar!(u32, 4);
le_scalar!(f32, 4);

/// A read-only array of little-endian `T` borrowed from a blob.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LeSlice<'a, T> {
    bytes: &'a [u8],
    _t: PhantomData<T>,
}

impl<'a, T: LeScalar> LeSlice<'a, T> {
    /// An empty array.
    pub const EMPTY: LeSlice<'static, T> = LeSlice {
        bytes: &[],
        _t: PhantomData,
    };

    /// Wraps `bytes`; `None` unless its length is a multiple of the element size.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        bytes.len().is_multiple_of(T::SIZE).then_some(LeSlice {
            bytes,
            _t: PhantomData,
        })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.bytes.len() / T::SIZE
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Element `i`, or `None` out of range.
    pub fn get(&self, i: usize) -> Option<T> {
        let start = i.checked_mul(T::SIZE)?;
        let chunk = self.bytes.get(start..start.checked_add(T::SIZE)?)?;
        // SAFETY: `chunk` has exactly `SIZE` bytes.
        Some(unsafe { T::read_le(chunk.as_ptr()) })
    }

    /// Iterates the elements.
    pub fn iter(&self) -> impl Iterator<Item = T> + 'a {
        // SAFETY: `chunks_exact` yields `SIZE`-byte chunks.
        self.bytes
            .chunks_exact(T::SIZE)
            .map(|c| unsafe { T::read_le(c.as_ptr()) })
    }

    /// The array as `&[T]` without copying, when the bytes are aligned for `T` and the target is
    /// little-endian; `None` otherwise.
    pub fn as_slice(&self) -> Option<&'a [T]> {
        if cfg!(target_endian = "little") {
            bytemuck::try_cast_slice(self.bytes).ok()
        } else {
            None
        }
    }

    /// The raw little-endian bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// Unchecked element access for the kernels, over `&[T]` (aligned fast path) or [`LeSlice`].
pub(crate) trait Load<T>: Copy {
    /// Element `i`.
    ///
    /// # Safety
    /// `i` must be below the array's length.
    unsafe fn at(self, i: usize) -> T;
}

impl<T: Copy> Load<T> for &[T] {
    #[inline(always)]
    unsafe fn at(self, i: usize) -> T {
        // SAFETY: the caller's promise: `i` is below the slice's length.
        unsafe { *self.get_unchecked(i) }
    }
}

impl<T: LeScalar> Load<T> for LeSlice<'_, T> {
    #[inline(always)]
    unsafe fn at(self, i: usize) -> T {
        // SAFETY: `i < len`, so `i * SIZE + SIZE <= bytes.len()`.
        unsafe { T::read_le(self.bytes.as_ptr().add(i * T::SIZE)) }
    }
}
