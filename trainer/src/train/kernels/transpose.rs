//! Matrix transposes between the layouts of the step: inputs and weights, the [B, N] rows of the
//! sparse input products and the [N, B] blocks of the recurrence, logits.
//!
//! On AVX-512 machines full 16 x 16 tiles are transposed in registers (four rounds of shuffles),
//! the edges element by element; elsewhere a blocked plain loop. A transpose only moves values, so
//! every path gives the same bits.

use crate::simd::multiversion;

/// dst[c * ldd + r] = src[off + r * lds + c] for r < `rows`, c < `cols`: the transpose of a
/// row-major `rows` x `cols` view of `src` (row stride `lds`, first element at `off`), written as
/// `cols` rows of stride `ldd` >= `rows` into `dst`. Panics on views outside their slices.
pub(crate) fn transpose(
    src: &[f32],
    off: usize,
    rows: usize,
    cols: usize,
    lds: usize,
    dst: &mut [f32],
    ldd: usize,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        cols <= lds
            && rows <= ldd
            && off + (rows - 1) * lds + cols <= src.len()
            && (cols - 1) * ldd + rows <= dst.len(),
        "transpose: a view lies outside its slice"
    );
    #[cfg(target_arch = "x86_64")]
    if crate::simd::has_avx512() {
        // SAFETY: AVX-512F is present; the views were checked above.
        unsafe { avx512::transpose(src, off, rows, cols, lds, dst, ldd) };
        return;
    }
    transpose_plain(src, off, rows, cols, lds, dst, ldd);
}

multiversion! {
    /// [`transpose`] as a plain loop over 16-row blocks (each source line read once per block).
    fn transpose_plain(src: &[f32], off: usize, rows: usize, cols: usize, lds: usize, dst: &mut [f32], ldd: usize) {
        edges(src, off, (0, rows), (0, cols), lds, dst, ldd);
    }
}

/// The plain transpose of the rows `r0..r1` and columns `c0..c1` of the view.
#[inline(always)]
fn edges(
    src: &[f32],
    off: usize,
    (r0, r1): (usize, usize),
    (c0, c1): (usize, usize),
    lds: usize,
    dst: &mut [f32],
    ldd: usize,
) {
    for rb in (r0..r1).step_by(16) {
        let re = (rb + 16).min(r1);
        for c in c0..c1 {
            for r in rb..re {
                dst[c * ldd + r] = src[off + r * lds + c];
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::{
        __m512, _mm512_castpd_ps, _mm512_castps_pd, _mm512_loadu_ps, _mm512_shuffle_f32x4,
        _mm512_storeu_ps, _mm512_unpackhi_pd, _mm512_unpackhi_ps, _mm512_unpacklo_pd,
        _mm512_unpacklo_ps,
    };

    /// [`super::transpose`] with 16 x 16 tiles in registers.
    ///
    /// # Safety
    /// AVX-512F; the views lie inside their slices (checked by the caller).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn transpose(
        src: &[f32],
        off: usize,
        rows: usize,
        cols: usize,
        lds: usize,
        dst: &mut [f32],
        ldd: usize,
    ) {
        let (rf, cf) = (rows / 16 * 16, cols / 16 * 16);
        let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
        for r0 in (0..rf).step_by(16) {
            for c0 in (0..cf).step_by(16) {
                // SAFETY: rows r0..r0+16 and columns c0..c0+16 lie inside both views.
                unsafe { tile(s.add(off + r0 * lds + c0), lds, d.add(c0 * ldd + r0), ldd) };
            }
        }
        super::edges(src, off, (0, rf), (cf, cols), lds, dst, ldd);
        super::edges(src, off, (rf, rows), (0, cols), lds, dst, ldd);
    }

    /// Transposes one 16 x 16 tile: s[r * lds + c] -> d[c * ldd + r].
    ///
    /// # Safety
    /// AVX-512F; 16 rows of 16 values at `s` (stride `lds`) and at `d` (stride `ldd`).
    #[inline(always)]
    unsafe fn tile(s: *const f32, lds: usize, d: *mut f32, ldd: usize) {
        let ps = _mm512_castpd_ps;
        let pd = _mm512_castps_pd;
        // SAFETY: rows r < 16 of the tile.
        let r: [__m512; 16] = std::array::from_fn(|i| unsafe { _mm512_loadu_ps(s.add(i * lds)) });
        // Round 1: interleave 32-bit elements of row pairs.
        let mut a = [r[0]; 16];
        for i in 0..8 {
            // SAFETY: AVX-512F is present (the caller's promise); registers only.
            a[2 * i] = unsafe { _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]) };
            // SAFETY: as above.
            a[2 * i + 1] = unsafe { _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]) };
        }
        // Round 2: interleave 64-bit pairs of rows 4 apart.
        let mut b = [r[0]; 16];
        for q in 0..4 {
            for h in 0..2 {
                // SAFETY: AVX-512F is present (the caller's promise); registers only.
                let (x, y) = unsafe { (pd(a[4 * q + h]), pd(a[4 * q + 2 + h])) };
                // SAFETY: as above.
                b[4 * q + h] = unsafe { ps(_mm512_unpacklo_pd(x, y)) };
                // SAFETY: as above.
                b[4 * q + 2 + h] = unsafe { ps(_mm512_unpackhi_pd(x, y)) };
            }
        }
        // Round 3: 128-bit lanes of register groups 4 apart.
        let mut c = [r[0]; 16];
        for h in 0..2 {
            for j in 0..4 {
                let (x, y) = (b[8 * h + j], b[8 * h + 4 + j]);
                // SAFETY: AVX-512F is present (the caller's promise); registers only.
                c[8 * h + j] = unsafe { _mm512_shuffle_f32x4::<0x88>(x, y) };
                // SAFETY: as above.
                c[8 * h + 4 + j] = unsafe { _mm512_shuffle_f32x4::<0xdd>(x, y) };
            }
        }
        // Round 4: 128-bit lanes of groups 8 apart.
        let mut o = [r[0]; 16];
        for j in 0..8 {
            let (x, y) = (c[j], c[8 + j]);
            // SAFETY: AVX-512F is present (the caller's promise); registers only.
            o[j] = unsafe { _mm512_shuffle_f32x4::<0x88>(x, y) };
            // SAFETY: as above.
            o[8 + j] = unsafe { _mm512_shuffle_f32x4::<0xdd>(x, y) };
        }
        // Round 2 leaves columns 1 and 2 (mod 4) swapped: o[k] holds column ORDER[k].
        for (k, v) in o.iter().enumerate() {
            // SAFETY: rows of the destination tile.
            unsafe { _mm512_storeu_ps(d.add(ORDER[k] * ldd), *v) };
        }
    }

    /// The tile column each output register of [`tile`] holds.
    const ORDER: [usize; 16] = [0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_views_of_every_shape() {
        for (rows, cols, lds, ldd, off) in [
            (16, 16, 16, 16, 0),
            (33, 50, 57, 40, 5),
            (64, 625, 625, 64, 0),
            (625, 64, 6400, 625, 128),
            (3, 1, 2, 3, 1),
            (0, 4, 4, 0, 0),
        ] {
            let src: Vec<f32> = (0..off + rows * lds + cols)
                .map(|i| i as f32 * 0.5 - 3.0)
                .collect();
            let mut got = vec![f32::NAN; cols * ldd + 1];
            transpose(&src, off, rows, cols, lds, &mut got, ldd);
            let mut plain = got.clone();
            transpose_plain(&src, off, rows, cols, lds, &mut plain, ldd);
            for c in 0..cols {
                for r in 0..rows {
                    assert_eq!(got[c * ldd + r], src[off + r * lds + c], "({r}, {c})");
                }
                // Nothing written past the rows.
                for r in rows..ldd {
                    assert!(got[c * ldd + r].is_nan());
                }
            }
            assert_eq!(
                got.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                plain.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
    }
}
