//! Products with one small dimension: the readout and its dense gradient (17 outputs at cog20
//! shapes). (The input projection and its gradient run over the nonzero inputs, `inputs.rs`.)
//!
//! [`nn`]: C = A B (+ a bias per row of C), A [M, K], B [K, P], all row-major, for a small M
//! (readout W_out H) or a small P (dW_out^T = H dY); it also serves a small K (the dense input
//! products that `gyrus bench train` times the sparse ones against). Tiles of 4 rows x
//! 64 columns of C in 16 AVX-512 registers (one fused multiply-add per A value and B vector);
//! column blocks outermost, then chunks of the inner dimension, so that B's chunk stays in L1
//! while every row tile of A passes over it.
//!
//! The `gemm` crate packs both operands on every call and tunes for large blocks; on these shapes
//! these kernels are faster (see `gyrus bench train`). Without AVX-512 (or off x86-64) a portable
//! twin runs (multiversioned, so AVX2 machines get it vectorised). The AVX-512 kernels use FMA,
//! the twins a separate multiply and add, so the two agree to rounding, not bit for bit (tested);
//! on one machine the same path always runs, so results are deterministic.

use crate::simd::multiversion;

/// Values of the inner dimension per chunk (a chunk of B, KC x 64, fits in L1).
const KC: usize = 128;

/// A row-major matrix inside a slice: element (r, c) at `off + r * ld + c`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mat {
    /// Offset of element (0, 0).
    pub off: usize,
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Distance between rows.
    pub ld: usize,
}

impl Mat {
    /// A `rows` x `cols` matrix with row stride `ld`, starting at `off`.
    pub fn new(off: usize, rows: usize, cols: usize, ld: usize) -> Self {
        Mat {
            off,
            rows,
            cols,
            ld,
        }
    }

    fn fits(&self, len: usize) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.cols <= self.ld || self.rows == 1)
                && self.off + (self.rows - 1) * self.ld + self.cols <= len
    }
}

/// What C starts from before the product is added.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Init<'a> {
    /// Zero: C = A B.
    Zero,
    /// `bias[i]` on every element of row i: C = A B + bias 1^T.
    Bias(&'a [f32]),
    /// C itself: C += A B.
    Add,
}

impl Init<'_> {
    fn bias(&self) -> Option<&[f32]> {
        match self {
            Init::Bias(v) => Some(v),
            _ => None,
        }
    }
}

/// `c = a * b`, plus `bias[i]` on every element of row i when given. Panics on inconsistent
/// shapes or views outside their slices (internal invariants).
pub(crate) fn nn(c: &mut [f32], cm: Mat, a: &[f32], am: Mat, b: &[f32], bm: Mat, init: Init<'_>) {
    let bias = init.bias();
    assert!(
        cm.rows == am.rows && cm.cols == bm.cols && am.cols == bm.rows,
        "nn shape mismatch"
    );
    assert!(
        cm.fits(c.len()) && am.fits(a.len()) && bm.fits(b.len()),
        "nn view out of bounds"
    );
    assert!(bias.is_none_or(|v| v.len() >= cm.rows), "nn bias too short");
    if cm.rows == 0 || cm.cols == 0 {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if crate::simd::has_avx512() {
        // SAFETY: the CPU has AVX-512F and every view lies inside its slice (checked above).
        unsafe { avx512::nn(c, cm, a, am, b, bm, init) };
        return;
    }
    nn_portable(c, cm, a, am, b, bm, init);
}

multiversion! {
    /// [`nn`] in plain Rust (the vectorised inner loop is a B-row AXPY).
    pub(crate) fn nn_portable(c: &mut [f32], cm: Mat, a: &[f32], am: Mat, b: &[f32], bm: Mat, init: Init<'_>) {
        for i in 0..cm.rows {
            let row = &mut c[cm.off + i * cm.ld..][..cm.cols];
            match init {
                Init::Zero => row.fill(0.0),
                Init::Bias(v) => row.fill(v[i]),
                Init::Add => {}
            }
            for kk in 0..am.cols {
                let w = a[am.off + i * am.ld + kk];
                let src = &b[bm.off + kk * bm.ld..][..bm.cols];
                for (o, &x) in row.iter_mut().zip(src) {
                    *o += w * x;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Init, Mat, KC};
    use std::arch::x86_64::{
        __mmask16, _mm512_fmadd_ps, _mm512_mask_storeu_ps, _mm512_maskz_loadu_ps, _mm512_set1_ps,
        _mm512_setzero_ps,
    };

    /// Columns of C per tile (four registers).
    const NC: usize = 64;

    /// Size of B (in values) up to which it is kept in L2 and walked whole by each row tile.
    const L2_FLOATS: usize = 384 * 1024;

    /// One tile: MR rows of C from `c`, NV registers of 16 columns, the last register's lanes
    /// limited by `last`; starts from C itself (`load`) or from `bias`, adds `k` rank-1 updates.
    ///
    /// # Safety
    /// AVX-512F; MR rows of `k` values of A from `a`, `k` rows of B from `b` and MR rows of C
    /// from `c`, each 16 NV columns wide (less the masked lanes), inside their slices.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile<const MR: usize, const NV: usize>(
        c: *mut f32,
        ldc: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        ldb: usize,
        k: usize,
        load: bool,
        bias: &[f32; 4],
        last: __mmask16,
    ) {
        let mask = |v: usize| if v + 1 == NV { last } else { 0xffff };
        // SAFETY: AVX-512F is present (the caller's promise).
        let mut acc = [[unsafe { _mm512_setzero_ps() }; NV]; MR];
        for (r, row) in acc.iter_mut().enumerate() {
            for (v, s) in row.iter_mut().enumerate() {
                *s = if load {
                    // SAFETY: row r of C's tile, columns inside the view (masked past its end).
                    unsafe { _mm512_maskz_loadu_ps(mask(v), c.add(r * ldc + 16 * v)) }
                } else {
                    // SAFETY: AVX-512F is present (the caller's promise).
                    unsafe { _mm512_set1_ps(bias[r]) }
                };
            }
        }
        for kk in 0..k {
            // SAFETY: AVX-512F is present (the caller's promise).
            let mut x = [unsafe { _mm512_setzero_ps() }; NV];
            for (v, xv) in x.iter_mut().enumerate() {
                // SAFETY: row kk of B's panel, columns inside the view (masked past its end).
                *xv = unsafe { _mm512_maskz_loadu_ps(mask(v), b.add(kk * ldb + 16 * v)) };
            }
            for (r, row) in acc.iter_mut().enumerate() {
                // SAFETY: element (r, kk) of A's tile; AVX-512F is present (the caller's promise).
                let w = unsafe { _mm512_set1_ps(*a.add(r * lda + kk)) };
                for (s, &xv) in row.iter_mut().zip(&x) {
                    // SAFETY: AVX-512F is present (the caller's promise).
                    *s = unsafe { _mm512_fmadd_ps(w, xv, *s) };
                }
            }
        }
        for (r, row) in acc.iter().enumerate() {
            for (v, &s) in row.iter().enumerate() {
                // SAFETY: row r of C's tile, columns inside the view (masked past its end).
                unsafe { _mm512_mask_storeu_ps(c.add(r * ldc + 16 * v), mask(v), s) };
            }
        }
    }

    /// [`tile`] for `mr` (1..=4) rows.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn rows<const NV: usize>(
        mr: usize,
        c: *mut f32,
        ldc: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        ldb: usize,
        k: usize,
        load: bool,
        bias: &[f32; 4],
        last: __mmask16,
    ) {
        // SAFETY: the caller's promise is `tile`'s (AVX-512F; `mr` rows of A and C and `k` rows
        // of B inside their slices), and each arm passes `tile` exactly `mr` rows.
        unsafe {
            match mr {
                4 => tile::<4, NV>(c, ldc, a, lda, b, ldb, k, load, bias, last),
                3 => tile::<3, NV>(c, ldc, a, lda, b, ldb, k, load, bias, last),
                2 => tile::<2, NV>(c, ldc, a, lda, b, ldb, k, load, bias, last),
                _ => tile::<1, NV>(c, ldc, a, lda, b, ldb, k, load, bias, last),
            }
        }
    }

    /// [`super::nn`] with AVX-512: column blocks of 64, then chunks of [`KC`] values of the inner
    /// dimension (B's chunk, at most KC x 64, stays in L1), then tiles of 4 rows.
    ///
    /// # Safety
    /// AVX-512F; the views checked by the caller.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn nn(
        c: &mut [f32],
        cm: Mat,
        a: &[f32],
        am: Mat,
        b: &[f32],
        bm: Mat,
        init: Init<'_>,
    ) {
        let (bias, add) = (init.bias(), matches!(init, Init::Add));
        let (m, p, k) = (cm.rows, cm.cols, am.cols);
        let (cp, ap, bp) = (c.as_mut_ptr(), a.as_ptr(), b.as_ptr());
        let mask_of = |w: usize| -> __mmask16 {
            if w.is_multiple_of(16) {
                0xffff
            } else {
                (1u16 << (w % 16)) - 1
            }
        };
        if k * p <= L2_FLOATS {
            // B fits in L2: row tiles outermost, each over the whole of B, so that A and C are
            // walked once, row by row.
            let mut i = 0;
            while i < m {
                let mr = (m - i).min(4);
                let mut bv = [0.0f32; 4];
                if let Some(v) = bias {
                    bv[..mr].copy_from_slice(&v[i..i + mr]);
                }
                let mut j = 0;
                while j < p {
                    let w = (p - j).min(NC);
                    let last = mask_of(w);
                    // SAFETY: rows i..i+mr < m and columns j..j+w <= p lie inside the views.
                    unsafe {
                        let ct = cp.add(cm.off + i * cm.ld + j);
                        let at = ap.add(am.off + i * am.ld);
                        let bt = bp.add(bm.off + j);
                        let (lc, la, lb) = (cm.ld, am.ld, bm.ld);
                        match w.div_ceil(16) {
                            4 => rows::<4>(mr, ct, lc, at, la, bt, lb, k, add, &bv, last),
                            3 => rows::<3>(mr, ct, lc, at, la, bt, lb, k, add, &bv, last),
                            2 => rows::<2>(mr, ct, lc, at, la, bt, lb, k, add, &bv, last),
                            _ => rows::<1>(mr, ct, lc, at, la, bt, lb, k, add, &bv, last),
                        }
                    }
                    j += w;
                }
                i += mr;
            }
            return;
        }
        let mut j = 0;
        while j < p {
            let w = (p - j).min(NC);
            let nv = w.div_ceil(16);
            let last = mask_of(w);
            let mut k0 = 0;
            while k0 < k.max(1) {
                let kc = (k - k0).min(KC);
                let mut i = 0;
                while i < m {
                    let mr = (m - i).min(4);
                    let mut bv = [0.0f32; 4];
                    if let Some(v) = bias {
                        bv[..mr].copy_from_slice(&v[i..i + mr]);
                    }
                    // SAFETY: rows i..i+mr < m, columns j..j+w <= p and inner indices
                    // k0..k0+kc <= k lie inside the views.
                    unsafe {
                        let ct = cp.add(cm.off + i * cm.ld + j);
                        let at = ap.add(am.off + i * am.ld + k0);
                        let bt = bp.add(bm.off + k0 * bm.ld + j);
                        let (lc, la, lb, ld) = (cm.ld, am.ld, bm.ld, add || k0 > 0);
                        match nv {
                            4 => rows::<4>(mr, ct, lc, at, la, bt, lb, kc, ld, &bv, last),
                            3 => rows::<3>(mr, ct, lc, at, la, bt, lb, kc, ld, &bv, last),
                            2 => rows::<2>(mr, ct, lc, at, la, bt, lb, kc, ld, &bv, last),
                            _ => rows::<1>(mr, ct, lc, at, la, bt, lb, kc, ld, &bv, last),
                        }
                    }
                    i += mr;
                }
                k0 += KC;
            }
            j += w;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize, s: f32) -> Vec<f32> {
        (0..len).map(|i| (i as f32 * s).sin()).collect()
    }

    fn close(x: &[f32], y: &[f32], tol: f32) {
        assert_eq!(x.len(), y.len());
        for (i, (&p, &q)) in x.iter().zip(y).enumerate() {
            assert!((p - q).abs() <= tol * (1.0 + q.abs()), "{i}: {p} vs {q}");
        }
    }

    /// Every tile shape (row and column tails, masked columns) against a naive product, through
    /// the dispatcher and the portable twin; untouched padding stays as it was.
    #[test]
    fn nn_matches_naive() {
        for (m, k, p) in [
            (9, 5, 150),
            (17, 31, 64),
            (4, 1, 16),
            (3, 53, 7),
            (1, 2, 1),
            (6, 300, 17),
            (5, 128, 20),
        ] {
            let (lda, ldb, ldc) = (k + 2, p + 3, p + 5);
            let a = data(2 + m * lda, 0.37);
            let b = data(1 + k * ldb, 0.11);
            let bias = data(m, 0.7);
            let (am, bm, cm) = (
                Mat::new(2, m, k, lda),
                Mat::new(1, k, p, ldb),
                Mat::new(4, m, p, ldc),
            );
            let mut want = vec![-7.0f32; 4 + m * ldc];
            for i in 0..m {
                for j in 0..p {
                    let mut s = f64::from(bias[i]);
                    for kk in 0..k {
                        s += f64::from(a[2 + i * lda + kk]) * f64::from(b[1 + kk * ldb + j]);
                    }
                    want[4 + i * ldc + j] = s as f32;
                }
            }
            let mut fast = vec![-7.0f32; want.len()];
            nn(&mut fast, cm, &a, am, &b, bm, Init::Bias(&bias));
            close(&fast, &want, 1e-5);
            let mut plain = vec![-7.0f32; want.len()];
            nn_portable(&mut plain, cm, &a, am, &b, bm, Init::Bias(&bias));
            close(&plain, &want, 1e-5);
            // Adding to C: the bias rows added twice.
            let mut twice = fast.clone();
            nn(&mut twice, cm, &a, am, &b, bm, Init::Add);
            let mut plain2 = plain.clone();
            nn_portable(&mut plain2, cm, &a, am, &b, bm, Init::Add);
            for (i, &bi) in bias.iter().enumerate() {
                for j in 0..p {
                    let at = 4 + i * ldc + j;
                    let want2 = 2.0 * want[at] - bi;
                    assert!(
                        (twice[at] - want2).abs() <= 1e-5 * (1.0 + want2.abs()),
                        "add {at}"
                    );
                    assert!(
                        (plain2[at] - want2).abs() <= 1e-5 * (1.0 + want2.abs()),
                        "add {at}"
                    );
                }
            }
            // Without a bias the rows start from zero.
            nn(&mut fast, cm, &a, am, &b, bm, Init::Zero);
            for i in 0..m {
                for j in 0..p {
                    want[4 + i * ldc + j] -= bias[i];
                }
            }
            close(&fast, &want, 1e-5);
        }
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn views_are_checked() {
        let mut c = [0.0f32; 4];
        nn(
            &mut c,
            Mat::new(0, 2, 2, 2),
            &[1.0; 4],
            Mat::new(0, 2, 2, 2),
            &[1.0; 3],
            Mat::new(0, 2, 2, 2),
            Init::Zero,
        );
    }
}
