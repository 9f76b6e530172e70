//! Compressed-row recurrence for masked families, fused with the element-wise step updates and
//! the weight gradients.
//!
//! Step-major [N, B] blocks (see `workspace.rs`): one step of one unit is a run of B values, so
//! each stored connection is one B-wide multiply-add, kept in registers across a row's
//! connections:
//! - forward, per unit i: acc = a_t[i] + sum_k w[k] h_{t-1}[col k]; f = phi(acc);
//!   h_t[i] = (1 - alpha) h_{t-1}[i] + alpha f (pre-activations are not stored);
//! - backward, per unit j, over the transposed mask (the rows i that read unit j):
//!   dh = W_out^T dy_t + (1 - alpha) dh_{t+1}[j] + sum_i w[i, j] da_{t+1}[i];
//!   da_t[j] = alpha phi'(f) dh (the readout's dLoss/dh is computed here, never stored whole).
//!   Every value da_{t+1}[i] or dy_t[o] loaded for these sums also goes, times h_t[j], into the
//!   lane sums of the weight gradient of i <- j or of W_out[o, j] ([`LANES`] per weight, reduced
//!   once per pass), so dW and dW_out need no pass of their own.
//!
//! The backward reads each column as a gathered sum (no scattered read-modify-write) from
//! [`Transposed`], rebuilt once per pass. The gathers use fused multiply-adds on every path
//! (AVX-512, AVX2+FMA, portable `mul_add`), in the same order, so all give the same bits.

use super::step::Step;
use crate::model::{Activation, Csr, Training};
use crate::simd::multiversion;
use rayon::prelude::*;
use std::ops::Range;

/// Values per register-blocked chunk of a unit's run (8 AVX registers).
const W: usize = 64;

/// The mask transposed (compressed columns): for unit j, the rows i with a connection i <- j,
/// and the weight of each, in increasing i.
#[derive(Clone, Debug, Default)]
pub(crate) struct Transposed {
    ptr: Vec<usize>,
    rows: Vec<u32>,
    vals: Vec<f32>,
    /// Index of each entry in the compressed rows (where its weight gradient goes).
    orig: Vec<u32>,
    /// W_out transposed, [N, O].
    w_out: Vec<f32>,
    /// 0..O (the readout's "rows" for [`gather_rows`]).
    iota: Vec<u32>,
}

impl Transposed {
    /// Rebuilds from `mask`, its weights `w` and the readout `w_out` ([O, N]), reusing the
    /// buffers.
    pub fn rebuild(&mut self, mask: &Csr, w: &[f32], w_out: &[f32]) {
        let n = mask.n();
        let no = w_out.len() / n.max(1);
        self.iota.clear();
        self.iota.extend(0..no as u32);
        self.w_out.resize(n * no, 0.0);
        for (o, row) in w_out.chunks_exact(n).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                self.w_out[j * no + o] = v;
            }
        }
        let (row_ptr, cols) = (mask.row_ptr(), mask.cols());
        self.ptr.clear();
        self.ptr.resize(n + 1, 0);
        for &c in cols {
            self.ptr[c as usize + 1] += 1;
        }
        for j in 0..n {
            self.ptr[j + 1] += self.ptr[j];
        }
        self.rows.resize(cols.len(), 0);
        self.vals.resize(cols.len(), 0.0);
        self.orig.resize(cols.len(), 0);
        // Rows visited in increasing order, so each column's list is sorted by row.
        let mut next: Vec<usize> = self.ptr[..n].to_vec();
        for i in 0..n {
            for k in row_ptr[i]..row_ptr[i + 1] {
                let c = cols[k] as usize;
                self.rows[next[c]] = i as u32;
                self.vals[next[c]] = w[k];
                self.orig[next[c]] = k as u32;
                next[c] += 1;
            }
        }
    }
}

impl Transposed {
    /// Number of stored connections.
    pub fn nnz(&self) -> usize {
        self.rows.len()
    }

    /// dW in compressed-row order from the per-connection lane sums the backward steps
    /// accumulated ([`LANES`] per connection, in this transposed order).
    pub fn reduce_weight_grad(&self, lanes: &[f32], dw: &mut [f32]) {
        for (q, &k) in self.orig.iter().enumerate() {
            let l: &[f32; LANES] = lanes[q * LANES..(q + 1) * LANES]
                .try_into()
                .expect("16 lanes");
            dw[k as usize] = reduce8(l);
        }
    }
}

impl Transposed {
    /// dW_out ([O, N]) from the lane sums of [`Bwd::out_lanes`].
    pub fn reduce_out_grad(&self, lanes: &[f32], dw_out: &mut [f32]) {
        let no = self.iota.len();
        let n = self.ptr.len() - 1;
        for j in 0..n {
            for o in 0..no {
                let q = j * no + o;
                let l: &[f32; LANES] = lanes[q * LANES..(q + 1) * LANES]
                    .try_into()
                    .expect("16 lanes");
                dw_out[o * n + j] = reduce8(l);
            }
        }
    }
}

/// Lane sums kept per connection for its weight gradient (8, so that the lanes of every
/// connection and readout weight stay in L2 across a step). One chunk of a run adds to lane j
/// the sums t_j + t_{j+8}, where t_m sums (first a product, then fused multiply-adds, in order)
/// the products of the chunk's values l = m mod 16.
pub(crate) const LANES: usize = 8;

/// Pairwise sum of the [`LANES`] lane sums in a fixed order.
#[inline(always)]
fn reduce8(l: &[f32; LANES]) -> f32 {
    ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]))
}

/// acc[l] += w * x[l] over one chunk (`x` at least as long as `acc`). A full register block
/// (or half of one: a chunk of 32 streams) goes through fixed-size arrays so that it is
/// vectorised, not unrolled into scalars.
#[inline(always)]
fn axpy(acc: &mut [f32], w: f32, x: &[f32]) {
    if let (Ok(a), Some(Ok(v))) = (
        <&mut [f32; W]>::try_from(&mut *acc),
        x.get(..W).map(<&[f32; W]>::try_from),
    ) {
        axpy_block(a, w, v);
        return;
    }
    if let (Ok(a), Some(Ok(v))) = (
        <&mut [f32; W / 2]>::try_from(&mut *acc),
        x.get(..W / 2).map(<&[f32; W / 2]>::try_from),
    ) {
        axpy_block(a, w, v);
        return;
    }
    for (a, &v) in acc.iter_mut().zip(x) {
        *a = w.mul_add(v, *a);
    }
}

#[inline(always)]
fn axpy_block<const L: usize>(acc: &mut [f32; L], w: f32, x: &[f32; L]) {
    for l in 0..L {
        acc[l] = w.mul_add(x[l], acc[l]);
    }
}

/// The register-width dispatch of the gathers, written once: on an AVX-512F machine, then on an
/// AVX2 + FMA one, views `$acc` (and each slice in the brackets, of the same length) as a block of
/// 64, else 32 values, binds them to the names after `|`, runs that width's kernel call on them
/// and returns; falls through when no width or block size fits (the caller's portable loop
/// follows). Expands to one `if let` per (width, block), as the gathers were written by hand.
macro_rules! dispatch_blocks {
    ($acc:expr, [$($x:expr),*], |$b:ident $(, $xb:ident)*| avx512: $avx512:expr, avx2: $avx2:expr) => {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::has_avx512() {
            dispatch_blocks!(@block 64, $acc, [$($x),*], |$b $(, $xb)*| $avx512);
            dispatch_blocks!(@block 32, $acc, [$($x),*], |$b $(, $xb)*| $avx512);
        }
        #[cfg(target_arch = "x86_64")]
        if crate::simd::has_avx2_fma() {
            dispatch_blocks!(@block 64, $acc, [$($x),*], |$b $(, $xb)*| $avx2);
            dispatch_blocks!(@block 32, $acc, [$($x),*], |$b $(, $xb)*| $avx2);
        }
    };
    (@block $n:literal, $acc:expr, [$($x:expr),*], |$b:ident $(, $xb:ident)*| $call:expr) => {
        if let (Ok($b), $(Ok($xb),)*) = (
            <&mut [f32; $n]>::try_from(&mut *$acc),
            $(<&[f32; $n]>::try_from($x),)*
        ) {
            // SAFETY: the CPU has the features of the width whose kernel `$call` runs (the
            // `has_avx512` / `has_avx2_fma` check around this block), and the blocks are exactly
            // the length that kernel's `L` expects; the kernels check the rows they read.
            unsafe { $call };
            return;
        }
    };
}

/// acc += sum_k vals[k] * src[idx[k] * stride + c0 ..][..acc.len()], in k order (one fused
/// multiply-add per value, so the AVX paths give the same bits as the plain loop).
#[inline(always)]
fn gather_rows(acc: &mut [f32], idx: &[u32], vals: &[f32], src: &[f32], stride: usize, c0: usize) {
    dispatch_blocks!(acc, [], |block|
        avx512: gather_rows_avx512(block, idx, vals, src, stride, c0),
        avx2: gather_rows_avx(block, idx, vals, src, stride, c0));
    let len = acc.len();
    for (&i, &w) in idx.iter().zip(vals) {
        let r = i as usize * stride + c0;
        axpy(acc, w, &src[r..r + len]);
    }
}

/// [`gather_rows`] fused with the weight gradient: for connection q (reading row `idx[q]` of
/// `src`, x), also adds the products x[l] * hs[l] to its [`LANES`] lane sums at
/// lanes[LANES q ..] (hs: this unit's own state, read by every connection of the column), in the
/// order [`LANES`] describes. Same bits on every path.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gather_rows_dw(
    acc: &mut [f32],
    idx: &[u32],
    vals: &[f32],
    src: &[f32],
    stride: usize,
    c0: usize,
    hs: &[f32],
    lanes: &mut [f32],
) {
    assert!(hs.len() == acc.len() && lanes.len() == LANES * idx.len());
    dispatch_blocks!(acc, [hs], |block, h|
        avx512: gather_dw_avx512(block, idx, vals, src, stride, c0, h, lanes),
        avx2: gather_dw_avx(block, idx, vals, src, stride, c0, h, lanes));
    gather_dw_plain(acc, idx, vals, src, stride, c0, hs, lanes);
}

/// The portable twin of [`gather_rows_dw`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gather_dw_plain(
    acc: &mut [f32],
    idx: &[u32],
    vals: &[f32],
    src: &[f32],
    stride: usize,
    c0: usize,
    hs: &[f32],
    lanes: &mut [f32],
) {
    let len = acc.len();
    for ((&i, &w), ln) in idx.iter().zip(vals).zip(lanes.chunks_exact_mut(LANES)) {
        let r = i as usize * stride + c0;
        let x = &src[r..r + len];
        axpy(acc, w, x);
        let mut t = [0.0f32; 2 * LANES];
        for (l, (&xv, &hv)) in x.iter().zip(hs).enumerate() {
            let m = l % (2 * LANES);
            t[m] = if l < 2 * LANES {
                xv * hv
            } else {
                xv.mul_add(hv, t[m])
            };
        }
        for (j, v) in ln.iter_mut().enumerate() {
            *v += t[j] + t[j + LANES];
        }
    }
}

/// Writes [`gather_rows_dw`] for a full block of L values, once for every register width: `$name`
/// uses `$v` registers of `$w` values (`$g` = 16 / `$w` of them per 16 values), the target
/// features `$feat` and the intrinsics of that width. The products of value l go into register
/// `t[(l / $w) % $g]` (a product first, then fused multiply-adds, in order), and `$fold` turns
/// those `$g` registers into the 8 sums t_j + t_{j+8} ([`LANES`]) that are added to the lanes.
#[cfg(target_arch = "x86_64")]
macro_rules! gather_dw_simd {
    ($name:ident, $feat:literal, $v:ident, $w:literal, $g:literal, $fold:ident, $zero:ident,
     $load:ident, $store:ident, $set1:ident, $fmadd:ident, $mul:ident) => {
        #[target_feature(enable = $feat)]
        // `q % $g` is always 0 in the 512-bit instance (one register per 16 values).
        #[allow(clippy::too_many_arguments, clippy::modulo_one)]
        unsafe fn $name<const L: usize>(
            acc: &mut [f32; L],
            idx: &[u32],
            vals: &[f32],
            src: &[f32],
            stride: usize,
            c0: usize,
            hs: &[f32; L],
            lanes: &mut [f32],
        ) {
            use std::arch::x86_64 as x86;
            use std::arch::x86_64::{$fmadd, $load, $mul, $set1, $store, $v, $zero};
            let p = acc.as_mut_ptr();
            let mut r = [$zero(); 64 / $w];
            let mut hv = [$zero(); 64 / $w];
            let regs: &mut [$v] = &mut r[..L / $w];
            for (q, (v, h)) in regs.iter_mut().zip(hv.iter_mut()).enumerate() {
                // SAFETY: `$w q + $w <= L`, inside `acc` and `hs`.
                unsafe {
                    *v = $load(p.add($w * q));
                    *h = $load(hs.as_ptr().add($w * q));
                }
            }
            for ((&i, &w), ln) in idx.iter().zip(vals).zip(lanes.chunks_exact_mut(LANES)) {
                let at = i as usize * stride + c0;
                let x = src[at..at + L].as_ptr();
                let wv = $set1(w);
                let mut t = [$zero(); $g];
                for (q, v) in regs.iter_mut().enumerate() {
                    // SAFETY: `$w q + $w <= L`, inside the checked slice `src[at..at + L]`.
                    let xv = unsafe { $load(x.add($w * q)) };
                    *v = $fmadd(wv, xv, *v);
                    t[q % $g] = if q < $g {
                        $mul(xv, hv[q])
                    } else {
                        $fmadd(xv, hv[q], t[q % $g])
                    };
                }
                let s8 = $fold(t);
                // SAFETY: `ln` holds [`LANES`] = 8 values.
                unsafe {
                    let la = x86::_mm256_loadu_ps(ln.as_ptr());
                    x86::_mm256_storeu_ps(ln.as_mut_ptr(), x86::_mm256_add_ps(la, s8));
                }
            }
            for (q, v) in regs.iter().enumerate() {
                // SAFETY: `$w q + $w <= L`, inside `acc`.
                unsafe { $store(p.add($w * q), *v) };
            }
        }
    };
}

/// The 8 lane sums of one 16-value group held in two 256-bit registers: t_j + t_{j+8}.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx,fma")]
fn fold_two_256(t: [std::arch::x86_64::__m256; 2]) -> std::arch::x86_64::__m256 {
    std::arch::x86_64::_mm256_add_ps(t[0], t[1])
}

/// The 8 lane sums of one 16-value group held in one 512-bit register: t_j + t_{j+8}.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fold_one_512(t: [std::arch::x86_64::__m512; 1]) -> std::arch::x86_64::__m256 {
    use std::arch::x86_64::{
        _mm256_add_ps, _mm256_castpd_ps, _mm512_castps512_ps256, _mm512_castps_pd,
        _mm512_extractf64x4_pd,
    };
    let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(t[0])));
    _mm256_add_ps(_mm512_castps512_ps256(t[0]), hi)
}

#[cfg(target_arch = "x86_64")]
gather_dw_simd!(
    gather_dw_avx,
    "avx,fma",
    __m256,
    8,
    2,
    fold_two_256,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps,
    _mm256_mul_ps
);
#[cfg(target_arch = "x86_64")]
gather_dw_simd!(
    gather_dw_avx512,
    "avx512f",
    __m512,
    16,
    1,
    fold_one_512,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps,
    _mm512_mul_ps
);

/// Writes [`gather_rows`] for a full block of L values, the accumulator in L / width registers
/// (all of a unit's run at B = 64, so the connection list is walked once), once for every
/// register width: `$name` uses `$v` registers of `$w` values, the target features `$feat` and
/// the intrinsics of that width.
#[cfg(target_arch = "x86_64")]
macro_rules! gather_rows_simd {
    ($name:ident, $feat:literal, $v:ident, $w:literal, $zero:ident, $load:ident, $store:ident,
     $set1:ident, $fmadd:ident) => {
        #[target_feature(enable = $feat)]
        unsafe fn $name<const L: usize>(
            acc: &mut [f32; L],
            idx: &[u32],
            vals: &[f32],
            src: &[f32],
            stride: usize,
            c0: usize,
        ) {
            use std::arch::x86_64::{$fmadd, $load, $set1, $store, $v, $zero};
            let p = acc.as_mut_ptr();
            let mut r = [$zero(); 64 / $w];
            let regs: &mut [$v] = &mut r[..L / $w];
            for (q, v) in regs.iter_mut().enumerate() {
                // SAFETY: `$w q + $w <= L`, inside `acc`.
                *v = unsafe { $load(p.add($w * q)) };
            }
            for (&i, &w) in idx.iter().zip(vals) {
                let at = i as usize * stride + c0;
                let x = src[at..at + L].as_ptr();
                let wv = $set1(w);
                for (q, v) in regs.iter_mut().enumerate() {
                    // SAFETY: `$w q + $w <= L`, inside the checked slice `src[at..at + L]`.
                    *v = $fmadd(wv, unsafe { $load(x.add($w * q)) }, *v);
                }
            }
            for (q, v) in regs.iter().enumerate() {
                // SAFETY: `$w q + $w <= L`, inside `acc`.
                unsafe { $store(p.add($w * q), *v) };
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
gather_rows_simd!(
    gather_rows_avx,
    "avx,fma",
    __m256,
    8,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps
);
#[cfg(target_arch = "x86_64")]
gather_rows_simd!(
    gather_rows_avx512,
    "avx512f",
    __m512,
    16,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps
);

/// [`gather_rows_avx512`] for two blocks of 32 values at once (two units' runs over a chunk of 32
/// streams), each with its own list: the two chains of fused multiply-adds are interleaved (two
/// 16-value registers per chain would leave the core waiting on each addition), and each is
/// summed in its own list's order, so the bits are those of two separate calls.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gather_two_avx512(
    acc: [&mut [f32; 32]; 2],
    lists: [(&[u32], &[f32]); 2],
    src: &[f32],
    stride: usize,
    c0: usize,
) {
    use std::arch::x86_64::{_mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_storeu_ps};
    // All loads and stores below: `acc` blocks hold 32 values; `x` points at the
    // checked slice `src[at..at + 32]`.
    // SAFETY: `acc[0]` holds 32 values.
    let mut r = [[unsafe { _mm512_loadu_ps(acc[0].as_ptr()) }; 2]; 2];
    for (k, a) in acc.iter().enumerate() {
        // SAFETY: `a` holds 32 values: two registers of 16.
        r[k] = unsafe {
            [
                _mm512_loadu_ps(a.as_ptr()),
                _mm512_loadu_ps(a.as_ptr().add(16)),
            ]
        };
    }
    macro_rules! conn {
        ($k:expr, $q:expr) => {{
            let (idx, vals) = lists[$k];
            let at = idx[$q] as usize * stride + c0;
            let x = src[at..at + 32].as_ptr();
            let wv = _mm512_set1_ps(vals[$q]);
            // SAFETY: `x` points at the checked slice `src[at..at + 32]`: two registers of 16.
            let (x0, x1) = unsafe { (_mm512_loadu_ps(x), _mm512_loadu_ps(x.add(16))) };
            r[$k][0] = _mm512_fmadd_ps(wv, x0, r[$k][0]);
            r[$k][1] = _mm512_fmadd_ps(wv, x1, r[$k][1]);
        }};
    }
    let (n0, n1) = (lists[0].0.len(), lists[1].0.len());
    assert!(lists[0].1.len() == n0 && lists[1].1.len() == n1);
    for q in 0..n0.min(n1) {
        conn!(0, q);
        conn!(1, q);
    }
    for q in n1..n0 {
        conn!(0, q);
    }
    for q in n0..n1 {
        conn!(1, q);
    }
    for (k, a) in acc.into_iter().enumerate() {
        // SAFETY: `a` holds 32 values: two registers of 16.
        unsafe {
            _mm512_storeu_ps(a.as_mut_ptr(), r[k][0]);
            _mm512_storeu_ps(a.as_mut_ptr().add(16), r[k][1]);
        }
    }
}

/// [`gather_dw_avx512`] for two blocks of 32 values at once, interleaved as in
/// [`gather_two_avx512`] (each with its own list, state `hs` and lane sums); the bits are those of
/// two separate calls.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gather_dw_two_avx512(
    acc: [&mut [f32; 32]; 2],
    lists: [(&[u32], &[f32]); 2],
    src: &[f32],
    stride: usize,
    c0: usize,
    hs: [&[f32; 32]; 2],
    lanes: [&mut [f32]; 2],
) {
    use std::arch::x86_64::{
        _mm256_add_ps, _mm256_castpd_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm512_castps512_ps256,
        _mm512_castps_pd, _mm512_extractf64x4_pd, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_mul_ps,
        _mm512_set1_ps, _mm512_storeu_ps,
    };
    let (n0, n1) = (lists[0].0.len(), lists[1].0.len());
    assert!(lists[0].1.len() == n0 && lists[1].1.len() == n1);
    assert!(lanes[0].len() == LANES * n0 && lanes[1].len() == LANES * n1);
    // All loads and stores below: `acc` and `hs` blocks hold 32 values; `x` points at
    // the checked slice `src[at..at + 32]`; `ln` at the checked slice of LANES lane sums.
    // SAFETY: `acc[0]` holds 32 values.
    let mut r = [[unsafe { _mm512_loadu_ps(acc[0].as_ptr()) }; 2]; 2];
    let mut hv = r;
    for k in 0..2 {
        // SAFETY: `acc[k]` holds 32 values: two registers of 16.
        r[k] = unsafe {
            [
                _mm512_loadu_ps(acc[k].as_ptr()),
                _mm512_loadu_ps(acc[k].as_ptr().add(16)),
            ]
        };
        // SAFETY: `hs[k]` holds 32 values: two registers of 16.
        hv[k] = unsafe {
            [
                _mm512_loadu_ps(hs[k].as_ptr()),
                _mm512_loadu_ps(hs[k].as_ptr().add(16)),
            ]
        };
    }
    let ls = lanes;
    macro_rules! conn {
        ($k:expr, $q:expr) => {{
            let (idx, vals) = lists[$k];
            let at = idx[$q] as usize * stride + c0;
            let x = src[at..at + 32].as_ptr();
            let wv = _mm512_set1_ps(vals[$q]);
            // SAFETY: `x` points at the checked slice `src[at..at + 32]`: two registers of 16.
            let (x0, x1) = unsafe { (_mm512_loadu_ps(x), _mm512_loadu_ps(x.add(16))) };
            r[$k][0] = _mm512_fmadd_ps(wv, x0, r[$k][0]);
            r[$k][1] = _mm512_fmadd_ps(wv, x1, r[$k][1]);
            let t = _mm512_fmadd_ps(x1, hv[$k][1], _mm512_mul_ps(x0, hv[$k][0]));
            let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(t)));
            let s8 = _mm256_add_ps(_mm512_castps512_ps256(t), hi);
            let ln = &mut ls[$k][LANES * $q..LANES * $q + LANES];
            // SAFETY: `ln` is a checked slice of LANES = 8 lane sums: one 256-bit register.
            unsafe {
                let la = _mm256_loadu_ps(ln.as_ptr());
                _mm256_storeu_ps(ln.as_mut_ptr(), _mm256_add_ps(la, s8));
            }
        }};
    }
    for q in 0..n0.min(n1) {
        conn!(0, q);
        conn!(1, q);
    }
    for q in n1..n0 {
        conn!(0, q);
    }
    for q in n0..n1 {
        conn!(1, q);
    }
    for (k, a) in acc.into_iter().enumerate() {
        // SAFETY: `a` holds 32 values: two registers of 16.
        unsafe {
            _mm512_storeu_ps(a.as_mut_ptr(), r[k][0]);
            _mm512_storeu_ps(a.as_mut_ptr().add(16), r[k][1]);
        }
    }
}

/// The mask's compressed rows and weights.
#[derive(Clone, Copy)]
pub(crate) struct Rows<'a> {
    /// Row pointers (N + 1).
    pub ptr: &'a [usize],
    /// Column of each stored connection.
    pub cols: &'a [u32],
    /// Weight of each stored connection.
    pub w: &'a [f32],
}

/// Buffers one forward step reads and writes. The written blocks may hold only the units
/// `base..` (one part of a step split by units, see [`forward_parts`]); the read ones are whole.
pub(crate) struct Fwd<'a> {
    /// Input part of this step's pre-activations (W_in u + b + noise), [N, B].
    pub a: &'a [f32],
    /// phi(a) of this step for units `base..`, [.., B] (written when alpha < 1; may be empty
    /// otherwise).
    pub f: &'a mut [f32],
    /// h_{t-1}, [N, B].
    pub prev: &'a [f32],
    /// h_t of units `base..`, [.., B] (written).
    pub next: &'a mut [f32],
    /// The first unit of `f` and `next`.
    pub base: usize,
}

/// One unit's forward over `acc.len()` values from `c0` (acc is a register block or a tail).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn forward_run(
    act: Activation,
    alpha: f32,
    i: usize,
    c0: usize,
    acc: &mut [f32],
    m: Rows<'_>,
    s: Step,
    io: &mut Fwd<'_>,
) {
    let len = acc.len();
    let rc = i * s.b + c0;
    acc.copy_from_slice(&io.a[rc..rc + len]);
    let r = m.ptr[i]..m.ptr[i + 1];
    gather_rows(acc, &m.cols[r.clone()], &m.w[r], io.prev, s.b, c0);
    forward_finish(act, alpha, i, c0, acc, s, io);
}

/// The end of [`forward_run`]: phi, the leak and the writes, from the finished sums `acc`.
#[inline(always)]
fn forward_finish(
    act: Activation,
    alpha: f32,
    i: usize,
    c0: usize,
    acc: &[f32],
    s: Step,
    io: &mut Fwd<'_>,
) {
    let len = acc.len();
    let rc = i * s.b + c0;
    let rw = (i - io.base) * s.b + c0;
    let next = &mut io.next[rw..rw + len];
    if alpha == 1.0 {
        act.apply_to(acc, next);
    } else {
        let f_i = &mut io.f[rw..rw + len];
        act.apply_to(acc, f_i);
        let keep = 1.0 - alpha;
        for ((nx, &p), &v) in next.iter_mut().zip(&io.prev[rc..rc + len]).zip(f_i.iter()) {
            *nx = keep * p + alpha * v;
        }
    }
}

multiversion! {
    /// One forward step over the mask, fused with the activation and the leak, on [N, B] blocks
    /// (the step-major layout of the masked path), for the units `units` (every unit's numbers
    /// are the same whichever range it is computed in): reads this step's input part of the
    /// pre-activations and h_{t-1}; writes f (alpha < 1) and h_t. Only `s.b` is used from `s`.
    pub(crate) fn sparse_step_forward(act: Activation, alpha: f32, m: Rows<'_>, s: Step, io: &mut Fwd<'_>, units: Range<usize>) {
        let n = units.end;
        let mut first = units.start;
        #[cfg(target_arch = "x86_64")]
        if s.b == W / 2 && crate::simd::has_avx512() {
            // A chunk of 32 streams: units two at a time (see `gather_two_avx512`).
            while first + 1 < n {
                let i = first;
                let mut acc = [[0.0f32; W / 2]; 2];
                for (k, a) in acc.iter_mut().enumerate() {
                    a.copy_from_slice(&io.a[(i + k) * s.b..(i + k + 1) * s.b]);
                }
                let list = |u: usize| (&m.cols[m.ptr[u]..m.ptr[u + 1]], &m.w[m.ptr[u]..m.ptr[u + 1]]);
                let [a0, a1] = &mut acc;
                // SAFETY: the CPU supports AVX-512F (checked above).
                unsafe { gather_two_avx512([a0, a1], [list(i), list(i + 1)], io.prev, s.b, 0) };
                for (k, a) in acc.iter().enumerate() {
                    forward_finish(act, alpha, i + k, 0, a, s, io);
                }
                first += 2;
            }
        }
        for i in first..n {
            let mut c0 = 0;
            while c0 + W <= s.b {
                let mut acc = [0.0f32; W];
                forward_run(act, alpha, i, c0, &mut acc, m, s, io);
                c0 += W;
            }
            if c0 < s.b {
                let mut acc = [0.0f32; W];
                forward_run(act, alpha, i, c0, &mut acc[..s.b - c0], m, s, io);
            }
        }
    }
}

/// What one backward step reads and writes.
pub(crate) struct Bwd<'a> {
    /// phi(a_t) of unit i at `phi[i * phi_ld + phi_off ..][..B]`.
    pub phi: &'a [f32],
    /// Row length of `phi`.
    pub phi_ld: usize,
    /// Offset of this step's block in `phi`.
    pub phi_off: usize,
    /// This step's dLoss/dlogits transposed, [O, B] contiguous.
    pub dy: &'a [f32],
    /// dLoss/da_{t+1} as a contiguous [N, B] block, or `None` at the last step.
    pub prev: Option<&'a [f32]>,
    /// dLoss/da_t of units `base..` as a contiguous [.., B] block (written).
    pub next: &'a mut [f32],
    /// dLoss/dh carried between steps, of units `base..`, [.., B] (read and written when
    /// alpha < 1).
    pub dh: &'a mut [f32],
    /// h_t of unit j at `hs[j * hs_ld + hs_off ..][..B]` (for the weight gradient).
    pub hs: &'a [f32],
    /// Row length of `hs`.
    pub hs_ld: usize,
    /// Offset of this step's block in `hs`.
    pub hs_off: usize,
    /// Weight-gradient lane sums, [`LANES`] per connection in transposed order, from the first
    /// connection of unit `base` (accumulated).
    pub lanes: &'a mut [f32],
    /// Readout weight-gradient lane sums, [`LANES`] per (unit j, output o) at ((j - base) O + o)
    /// (accumulated).
    pub out_lanes: &'a mut [f32],
    /// The first unit of `next`, `dh`, `lanes` and `out_lanes`.
    pub base: usize,
}

/// dLoss/da = alpha phi'(a) dh, with phi' from y = phi(a).
#[inline(always)]
fn da(act: Activation, alpha: f32, dh: f32, y: f32) -> f32 {
    match act {
        Activation::Relu => {
            if y > 0.0 {
                alpha * dh
            } else {
                0.0
            }
        }
        Activation::Tanh => alpha * (1.0 - y * y) * dh,
        Activation::Softplus => alpha * -(-y).exp_m1() * dh,
    }
}

/// out[l] = op(acc[l], phi[l]), over fixed-size arrays for a full block or half of one
/// (vectorised).
#[inline(always)]
fn finish(out: &mut [f32], acc: &[f32], phi: &[f32], op: impl Fn(f32, f32) -> f32) {
    if let (Ok(o), Ok(a), Ok(p)) = (
        <&mut [f32; W]>::try_from(&mut *out),
        <&[f32; W]>::try_from(acc),
        <&[f32; W]>::try_from(phi),
    ) {
        for l in 0..W {
            o[l] = op(a[l], p[l]);
        }
    } else if let (Ok(o), Ok(a), Ok(p)) = (
        <&mut [f32; W / 2]>::try_from(&mut *out),
        <&[f32; W / 2]>::try_from(acc),
        <&[f32; W / 2]>::try_from(phi),
    ) {
        for l in 0..W / 2 {
            o[l] = op(a[l], p[l]);
        }
    } else {
        for ((o, &d), &y) in out.iter_mut().zip(acc).zip(phi) {
            *o = op(d, y);
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn backward_run(
    act: Activation,
    alpha: f32,
    j: usize,
    c0: usize,
    acc: &mut [f32],
    t: &Transposed,
    s: Step,
    io: &mut Bwd<'_>,
) {
    let len = acc.len();
    // dLoss/dh_t from the readout: sum_o W_out[o, j] dy[o]; dW_out[o, j] += dy[o] h_t[j].
    let no = t.iota.len();
    acc.fill(0.0);
    let rh = j * io.hs_ld + io.hs_off + c0;
    let jw = j - io.base;
    gather_rows_dw(
        acc,
        &t.iota,
        &t.w_out[j * no..(j + 1) * no],
        io.dy,
        s.b,
        c0,
        &io.hs[rh..rh + len],
        &mut io.out_lanes[LANES * jw * no..LANES * (jw + 1) * no],
    );
    let rd = jw * s.b + c0;
    if let Some(prev) = io.prev {
        if alpha != 1.0 {
            axpy(acc, 1.0 - alpha, &io.dh[rd..rd + len]);
        }
        let r = t.ptr[j]..t.ptr[j + 1];
        let l0 = t.ptr[io.base];
        gather_rows_dw(
            acc,
            &t.rows[r.clone()],
            &t.vals[r.clone()],
            prev,
            s.b,
            c0,
            &io.hs[rh..rh + len],
            &mut io.lanes[LANES * (r.start - l0)..LANES * (r.end - l0)],
        );
    }
    backward_finish(act, alpha, j, c0, acc, s, io);
}

/// The end of [`backward_run`]: keeps dh (leak) and writes da_t = alpha phi'(f) dh from the
/// finished sums `acc`.
#[inline(always)]
fn backward_finish(
    act: Activation,
    alpha: f32,
    j: usize,
    c0: usize,
    acc: &[f32],
    s: Step,
    io: &mut Bwd<'_>,
) {
    let len = acc.len();
    let rd = (j - io.base) * s.b + c0;
    if alpha != 1.0 {
        io.dh[rd..rd + len].copy_from_slice(acc);
    }
    let rf = j * io.phi_ld + io.phi_off + c0;
    let phi = &io.phi[rf..rf + len];
    let out = &mut io.next[rd..rd + len];
    match act {
        Activation::Relu => finish(out, acc, phi, |d, y| da(Activation::Relu, alpha, d, y)),
        Activation::Tanh => finish(out, acc, phi, |d, y| da(Activation::Tanh, alpha, d, y)),
        Activation::Softplus => finish(out, acc, phi, |d, y| da(Activation::Softplus, alpha, d, y)),
    }
}

multiversion! {
    /// One backward step over the transposed mask, fused with the readout gradient and the
    /// activation derivative: dh_t = W_out^T dy_t + (1 - alpha) dh_{t+1} + W^T da_{t+1};
    /// da_t = alpha phi'(f_t) dh_t, written to the contiguous `next`. Also adds da_{t+1}[i] h_t[j]
    /// to the weight-gradient lanes of every connection i <- j, and dy_t[o] h_t[j] to the
    /// readout's. For the units `units` only (every unit's numbers are the same whichever range
    /// it is computed in).
    pub(crate) fn sparse_step_backward(act: Activation, alpha: f32, t: &Transposed, s: Step, io: &mut Bwd<'_>, units: Range<usize>) {
        let n = units.end;
        let mut first = units.start;
        #[cfg(target_arch = "x86_64")]
        if s.b == W / 2 && crate::simd::has_avx512() {
            // A chunk of 32 streams: units two at a time (see `gather_dw_two_avx512`), each
            // summed in the order of `backward_run`.
            let no = t.iota.len();
            let (hs_all, hs_ld, hs_off) = (io.hs, io.hs_ld, io.hs_off);
            while first + 1 < n {
                let j = first;
                let mut acc = [[0.0f32; W / 2]; 2];
                let h: [&[f32; W / 2]; 2] = [0, 1].map(|k| {
                    let rh = (j + k) * hs_ld + hs_off;
                    hs_all[rh..rh + W / 2].try_into().expect("32 values")
                });
                let (jw, l0) = (j - io.base, t.ptr[io.base]);
                {
                    let out = &mut io.out_lanes[LANES * jw * no..LANES * (jw + 2) * no];
                    let (o0, o1) = out.split_at_mut(LANES * no);
                    let w = |u: usize| (&t.iota[..], &t.w_out[u * no..(u + 1) * no]);
                    let [a0, a1] = &mut acc;
                    // SAFETY: the CPU supports AVX-512F (checked above).
                    unsafe { gather_dw_two_avx512([a0, a1], [w(j), w(j + 1)], io.dy, s.b, 0, h, [o0, o1]) };
                }
                if let Some(prev) = io.prev {
                    if alpha != 1.0 {
                        for (k, a) in acc.iter_mut().enumerate() {
                            let rd = (jw + k) * s.b;
                            axpy(&mut a[..], 1.0 - alpha, &io.dh[rd..rd + W / 2]);
                        }
                    }
                    let (r0, r1) = (t.ptr[j]..t.ptr[j + 1], t.ptr[j + 1]..t.ptr[j + 2]);
                    let both = &mut io.lanes[LANES * (r0.start - l0)..LANES * (r1.end - l0)];
                    let (l0, l1) = both.split_at_mut(LANES * r0.len());
                    let lists = [(&t.rows[r0.clone()], &t.vals[r0]), (&t.rows[r1.clone()], &t.vals[r1])];
                    let [a0, a1] = &mut acc;
                    // SAFETY: as above.
                    unsafe { gather_dw_two_avx512([a0, a1], lists, prev, s.b, 0, h, [l0, l1]) };
                }
                for (k, a) in acc.iter().enumerate() {
                    backward_finish(act, alpha, j + k, 0, a, s, io);
                }
                first += 2;
            }
        }
        for j in first..n {
            let mut c0 = 0;
            while c0 + W <= s.b {
                let mut acc = [0.0f32; W];
                backward_run(act, alpha, j, c0, &mut acc, t, s, io);
                c0 += W;
            }
            if c0 < s.b {
                let mut acc = [0.0f32; W];
                backward_run(act, alpha, j, c0, &mut acc[..s.b - c0], t, s, io);
            }
        }
    }
}

/// Least work (stored connections times streams) of one step before it is split by units across
/// the threads of the current pool: below it a fork-join costs about what it saves.
pub(crate) const SPLIT_MIN_WORK: usize = 1 << 19;

/// How many parts one step of a mask with `nnz` connections over `b` streams is split into by
/// units: every thread of the current pool (at most `limit`), or 1 below `min_work`.
pub(crate) fn unit_parts(nnz: usize, b: usize, limit: usize, min_work: usize) -> usize {
    if nnz.saturating_mul(b) < min_work {
        return 1;
    }
    rayon::current_num_threads().min(limit).max(1)
}

/// Boundaries `0 = u_0 < u_1 < ... = n` of at most `parts` ranges of units with about the same
/// cost, unit u costing its stored connections (`ptr`, N + 1 pointers) plus `extra`.
fn split_units(ptr: &[usize], extra: usize, parts: usize) -> Vec<usize> {
    let n = ptr.len() - 1;
    let cost = |u: usize| ptr[u] + u * extra;
    let total = cost(n);
    let mut bounds = vec![0];
    for k in 1..parts {
        let goal = total * k / parts;
        // The first unit whose prefix cost reaches the goal (costs never decrease).
        let (mut u, mut hi) = (0, n);
        while u < hi {
            let mid = (u + hi) / 2;
            if cost(mid) < goal {
                u = mid + 1;
            } else {
                hi = mid;
            }
        }
        if u > *bounds.last().expect("starts with 0") && u < n {
            bounds.push(u);
        }
    }
    bounds.push(n);
    bounds
}

/// Takes the first `len` values off the front of `rest` (panics if it is shorter).
fn split_front<'a>(rest: &mut &'a mut [f32], len: usize) -> &'a mut [f32] {
    let (part, tail) = std::mem::take(rest).split_at_mut(len);
    *rest = tail;
    part
}

/// [`sparse_step_forward`] over all units, split into `parts` ranges of units that run on the
/// current rayon pool. Every unit computes the same numbers in any part, so the result does not
/// depend on `parts`. `io` holds whole blocks (`base` = 0).
pub(crate) fn forward_parts(
    act: Activation,
    alpha: f32,
    m: Rows<'_>,
    s: Step,
    io: Fwd<'_>,
    parts: usize,
) {
    let n = m.ptr.len() - 1;
    let bounds = split_units(m.ptr, 1, parts.clamp(1, n.max(1)));
    debug_assert_eq!(io.base, 0);
    let Fwd {
        a,
        mut f,
        prev,
        mut next,
        ..
    } = io;
    if bounds.len() <= 2 {
        let mut io = Fwd {
            a,
            f,
            prev,
            next,
            base: 0,
        };
        sparse_step_forward(act, alpha, m, s, &mut io, 0..n);
        return;
    }
    let mut jobs = Vec::with_capacity(bounds.len() - 1);
    // Values per unit of the optional buffer (`f` is empty without a leak, alpha = 1).
    let f_b = if f.is_empty() { 0 } else { s.b };
    for w in bounds.windows(2) {
        let (lo, hi) = (w[0], w[1]);
        let rows = (hi - lo) * s.b;
        let nx = split_front(&mut next, rows);
        let fx = split_front(&mut f, (hi - lo) * f_b);
        jobs.push((
            lo..hi,
            Fwd {
                a,
                f: fx,
                prev,
                next: nx,
                base: lo,
            },
        ));
    }
    jobs.into_par_iter()
        .for_each(|(r, mut io)| sparse_step_forward(act, alpha, m, s, &mut io, r));
}

/// [`sparse_step_backward`] over all units, split into `parts` ranges of units (columns of the
/// mask) that run on the current rayon pool; each range writes only its own units' rows and lane
/// sums, so the result does not depend on `parts`. `io` holds whole buffers (`base` = 0).
pub(crate) fn backward_parts(
    act: Activation,
    alpha: f32,
    t: &Transposed,
    s: Step,
    io: Bwd<'_>,
    parts: usize,
) {
    let n = t.ptr.len() - 1;
    let no = t.iota.len();
    let bounds = split_units(&t.ptr, no, parts.clamp(1, n.max(1)));
    debug_assert_eq!(io.base, 0);
    if bounds.len() <= 2 {
        let mut io = io;
        sparse_step_backward(act, alpha, t, s, &mut io, 0..n);
        return;
    }
    let Bwd {
        phi,
        phi_ld,
        phi_off,
        dy,
        prev,
        mut next,
        mut dh,
        hs,
        hs_ld,
        hs_off,
        mut lanes,
        mut out_lanes,
        ..
    } = io;
    let mut jobs = Vec::with_capacity(bounds.len() - 1);
    // Values per unit of the optional buffer (`dh` may be empty).
    let dh_b = if dh.is_empty() { 0 } else { s.b };
    for w in bounds.windows(2) {
        let (lo, hi) = (w[0], w[1]);
        let rows = (hi - lo) * s.b;
        let nx = split_front(&mut next, rows);
        let dx = split_front(&mut dh, (hi - lo) * dh_b);
        let lx = split_front(&mut lanes, LANES * (t.ptr[hi] - t.ptr[lo]));
        let ox = split_front(&mut out_lanes, LANES * (hi - lo) * no);
        let io = Bwd {
            phi,
            phi_ld,
            phi_off,
            dy,
            prev,
            next: nx,
            dh: dx,
            hs,
            hs_ld,
            hs_off,
            lanes: lx,
            out_lanes: ox,
            base: lo,
        };
        jobs.push((lo..hi, io));
    }
    jobs.into_par_iter()
        .for_each(|(r, mut io)| sparse_step_backward(act, alpha, t, s, &mut io, r));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The register-blocked AVX path gives the same bits as the plain loop.
    #[test]
    fn gather_rows_blocks_match_the_plain_loop() {
        let src: Vec<f32> = (0..5 * 80).map(|i| (i as f32 * 0.37).sin()).collect();
        let idx = [3u32, 0, 4, 1];
        let vals = [0.5f32, -1.25, 2.0, 0.1];
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        // Both register-block widths (64 and 32 values).
        for len in [W, 32] {
            let init: Vec<f32> = (0..len).map(|i| i as f32 * 0.01).collect();
            let mut fast = init.clone();
            gather_rows(&mut fast, &idx, &vals, &src, 80, 8);
            let mut plain = init.clone();
            for (&i, &w) in idx.iter().zip(&vals) {
                for (l, p) in plain.iter_mut().enumerate() {
                    *p = w.mul_add(src[i as usize * 80 + 8 + l], *p);
                }
            }
            assert_eq!(bits(&fast), bits(&plain));
            // Each SIMD width on its own (the dispatcher above takes the widest).
            #[cfg(target_arch = "x86_64")]
            {
                let run = |wide: bool| {
                    let mut v = init.clone();
                    match <&mut [f32; 64]>::try_from(&mut v[..]) {
                        // SAFETY: `run(true)` runs only when `has_avx512()`, `run(false)` only
                        // when `has_avx2_fma()`; the rows of `src` (80 wide, from column 8) hold
                        // a whole block for every index in `idx`.
                        Ok(blk) if wide => unsafe {
                            gather_rows_avx512(blk, &idx, &vals, &src, 80, 8)
                        },
                        // SAFETY: as above.
                        Ok(blk) => unsafe { gather_rows_avx(blk, &idx, &vals, &src, 80, 8) },
                        Err(_) => {
                            let blk = <&mut [f32; 32]>::try_from(&mut v[..]).unwrap();
                            if wide {
                                // SAFETY: as above.
                                unsafe { gather_rows_avx512(blk, &idx, &vals, &src, 80, 8) }
                            } else {
                                // SAFETY: as above.
                                unsafe { gather_rows_avx(blk, &idx, &vals, &src, 80, 8) }
                            }
                        }
                    }
                    v
                };
                if crate::simd::has_avx2_fma() {
                    assert_eq!(bits(&run(false)), bits(&plain));
                }
                if crate::simd::has_avx512() {
                    assert_eq!(bits(&run(true)), bits(&plain));
                }
            }
        }
        // A tail (shorter than a block) takes the plain loop.
        let mut tail = vec![0.0f32; 7];
        gather_rows(&mut tail, &idx, &vals, &src, 80, 33);
        let want: f32 = idx
            .iter()
            .zip(&vals)
            .map(|(&i, &w)| w * src[i as usize * 80 + 33])
            .sum();
        assert!((tail[0] - want).abs() < 1e-6);
    }

    /// The fused weight-gradient gather gives the same bits on every path, and the lane sums
    /// add up to the dot products.
    #[test]
    fn gather_dw_paths_agree() {
        let src: Vec<f32> = (0..5 * 80).map(|i| (i as f32 * 0.37).sin()).collect();
        let idx = [3u32, 0, 4];
        let vals = [0.5f32, -1.25, 2.0];
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for len in [64usize, 32, 7] {
            let hs: Vec<f32> = (0..len).map(|i| (i as f32 * 0.3).cos()).collect();
            let init: Vec<f32> = (0..len).map(|i| i as f32 * 0.01).collect();
            let lanes0: Vec<f32> = (0..3 * LANES).map(|i| i as f32 * 0.1).collect();
            let mut acc_p = init.clone();
            let mut lanes_p = lanes0.clone();
            gather_dw_plain(&mut acc_p, &idx, &vals, &src, 80, 8, &hs, &mut lanes_p);
            for (q, &i) in idx.iter().enumerate() {
                let sum: f32 = lanes_p[q * LANES..(q + 1) * LANES].iter().sum::<f32>()
                    - lanes0[q * LANES..(q + 1) * LANES].iter().sum::<f32>();
                let want: f32 = (0..len).map(|l| src[i as usize * 80 + 8 + l] * hs[l]).sum();
                assert!((sum - want).abs() < 1e-4, "{sum} vs {want}");
            }
            let mut acc = init.clone();
            let mut lanes = lanes0.clone();
            gather_rows_dw(&mut acc, &idx, &vals, &src, 80, 8, &hs, &mut lanes);
            assert_eq!(bits(&acc), bits(&acc_p));
            assert_eq!(bits(&lanes), bits(&lanes_p));
            #[cfg(target_arch = "x86_64")]
            if len == 64 {
                let h: &[f32; 64] = hs[..].try_into().unwrap();
                if crate::simd::has_avx2_fma() {
                    let mut a: [f32; 64] = init[..].try_into().unwrap();
                    let mut ln = lanes0.clone();
                    // SAFETY: AVX and FMA are present.
                    unsafe { gather_dw_avx(&mut a, &idx, &vals, &src, 80, 8, h, &mut ln) };
                    assert_eq!(bits(&a), bits(&acc_p));
                    assert_eq!(bits(&ln), bits(&lanes_p));
                }
                if crate::simd::has_avx512() {
                    let mut a: [f32; 64] = init[..].try_into().unwrap();
                    let mut ln = lanes0.clone();
                    // SAFETY: AVX-512F is present.
                    unsafe { gather_dw_avx512(&mut a, &idx, &vals, &src, 80, 8, h, &mut ln) };
                    assert_eq!(bits(&a), bits(&acc_p));
                    assert_eq!(bits(&ln), bits(&lanes_p));
                }
            }
        }
    }

    /// The two-unit kernels of a chunk of 32 streams give the bits of two one-unit calls (the
    /// longer list first and second).
    #[test]
    fn two_unit_kernels_match_one_at_a_time() {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::has_avx512() {
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let src: Vec<f32> = (0..6 * 40).map(|i| (i as f32 * 0.37).sin()).collect();
            let long: (&[u32], &[f32]) = (&[3, 0, 4, 1, 5], &[0.5, -1.25, 2.0, 0.1, 0.3]);
            let short: (&[u32], &[f32]) = (&[2, 5], &[0.7, -0.4]);
            let init: [[f32; 32]; 2] = [
                std::array::from_fn(|i| i as f32 * 0.01),
                std::array::from_fn(|i| 1.0 - i as f32 * 0.02),
            ];
            let hs: [[f32; 32]; 2] = [
                std::array::from_fn(|i| (i as f32 * 0.3).cos()),
                std::array::from_fn(|i| (i as f32 * 0.7).sin()),
            ];
            for lists in [[long, short], [short, long]] {
                let mut one = init;
                for (a, (idx, vals)) in one.iter_mut().zip(lists) {
                    gather_rows(a, idx, vals, &src, 40, 8);
                }
                let mut two = init;
                let [a0, a1] = &mut two;
                // SAFETY: AVX-512F is present.
                unsafe { gather_two_avx512([a0, a1], lists, &src, 40, 8) };
                assert_eq!(bits(one.as_flattened()), bits(two.as_flattened()));
                let lanes0 = |(idx, _): (&[u32], &[f32])| {
                    (0..LANES * idx.len())
                        .map(|i| i as f32 * 0.1)
                        .collect::<Vec<f32>>()
                };
                let mut one = init;
                let mut lanes_one = [lanes0(lists[0]), lanes0(lists[1])];
                for k in 0..2 {
                    let (idx, vals) = lists[k];
                    gather_rows_dw(
                        &mut one[k],
                        idx,
                        vals,
                        &src,
                        40,
                        8,
                        &hs[k],
                        &mut lanes_one[k],
                    );
                }
                let mut two = init;
                let [l0, l1] = [lanes0(lists[0]), lanes0(lists[1])];
                let (mut l0, mut l1) = (l0, l1);
                let [a0, a1] = &mut two;
                // SAFETY: AVX-512F is present.
                unsafe {
                    gather_dw_two_avx512(
                        [a0, a1],
                        lists,
                        &src,
                        40,
                        8,
                        [&hs[0], &hs[1]],
                        [&mut l0, &mut l1],
                    )
                };
                assert_eq!(bits(one.as_flattened()), bits(two.as_flattened()));
                assert_eq!(bits(&lanes_one[0]), bits(&l0));
                assert_eq!(bits(&lanes_one[1]), bits(&l1));
            }
        }
    }

    #[test]
    fn unit_splits_cover_every_unit_with_balanced_costs() {
        // Units with 1, 9, 1, 9, ... connections.
        let mut ptr = vec![0];
        for u in 0..20 {
            ptr.push(ptr[u] + if u % 2 == 0 { 1 } else { 9 });
        }
        for parts in [1, 2, 3, 7, 20, 50] {
            let b = split_units(&ptr, 2, parts);
            assert_eq!((b[0], *b.last().unwrap()), (0, 20), "{parts}: {b:?}");
            assert!(b.windows(2).all(|w| w[0] < w[1]), "{parts}: {b:?}");
            assert!(b.len() - 1 <= parts.max(1), "{parts}: {b:?}");
            if parts <= 10 {
                assert_eq!(b.len() - 1, parts, "{parts}: {b:?}");
                let cost = |r: &[usize]| ptr[r[1]] - ptr[r[0]] + 2 * (r[1] - r[0]);
                // Within two units of the most costly one (11).
                let (lo, hi) = b
                    .windows(2)
                    .map(cost)
                    .fold((usize::MAX, 0), |(l, h), c| (l.min(c), h.max(c)));
                assert!(hi - lo <= 2 * 11, "{parts}: {b:?} costs {lo}..{hi}");
            }
        }
        let pool = crate::train::threads::pool(3).unwrap();
        assert_eq!(pool.install(|| unit_parts(10, 10, 8, 0)), 3);
        assert_eq!(pool.install(|| unit_parts(10, 10, 2, 0)), 2);
        assert_eq!(pool.install(|| unit_parts(10, 10, 8, 101)), 1);
    }

    #[test]
    fn transpose_lists_rows_per_column() {
        let mask = Csr::from_rows(3, vec![vec![0, 2], vec![1], vec![0, 1, 2]]).unwrap();
        let mut t = Transposed::default();
        t.rebuild(
            &mask,
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        );
        assert_eq!(t.w_out, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(t.iota, vec![0, 1]);
        assert_eq!(t.ptr, vec![0, 2, 4, 6]);
        assert_eq!(t.rows, vec![0, 2, 1, 2, 0, 2]);
        assert_eq!(t.vals, vec![1.0, 4.0, 3.0, 5.0, 2.0, 6.0]);
        assert_eq!(t.orig, vec![0, 3, 2, 4, 1, 5]);
    }
}
