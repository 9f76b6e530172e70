//! The inputs of a window kept sparse, and the two products that read them: the input
//! projection A_t = W_in x_t + b_h and its weight gradient dW_in += dA_t x_t.
//!
//! Task inputs are mostly zeros: the rule inputs are one-hot, the rings are zero outside stimulus
//! periods and noise goes only where the task spec puts it (a cog20 batch is about 20 % nonzero,
//! Mod-Cog about 9 %). So each step's inputs are kept as compressed rows (the nonzeros of each
//! trial) and compressed columns (the nonzeros of each input), and both products run over the
//! nonzeros only, vectorised over blocks of [`BW`] hidden units:
//! - projection: for each trial b, A_t^T[b, block] = b_h + sum over the nonzeros x[b, k] of
//!   x[b, k] W_in^T[k, block]; the block's [B, BW] rows are then transposed into the [N, B] block
//!   of A_t, while they are in L1;
//! - gradient: dA_t[block, :] is transposed into [B, BW] rows, then for each input k,
//!   dW_in^T[k, block] += sum over the nonzeros x[b, k] of x[b, k] dA_t^T[b, block].
//!
//! W_in^T and dW_in^T are [I, N] (the caller transposes). Fused multiply-adds in a fixed order on
//! every path, so all builds give the same bits.

use super::aligned::AlignedVec;
use super::kernels::transpose::transpose;
use crate::simd::multiversion;

/// Hidden units per block: four AVX-512 registers of accumulators. The block of W_in^T (I x 64
/// values) and the [B, 64] tile fit in L1 together at cog20 and Mod-Cog sizes (128 was no faster,
/// measured).
const BW: usize = 64;

/// Units per vector in the portable kernels (one AVX-512 register, two AVX ones).
const U: usize = 16;

/// One window's inputs ([T, B, I]) as per-step compressed rows and columns.
#[derive(Clone, Debug, Default)]
pub(crate) struct SparseInputs {
    b: usize,
    ni: usize,
    /// Start of the nonzeros of row (t, b) at `row_ptr[t * B + b]` (T * B + 1 entries).
    row_ptr: Vec<u32>,
    /// Input index and value of each nonzero, by row, in increasing input index.
    row_k: Vec<u32>,
    row_v: Vec<f32>,
    /// Start of the nonzeros of column (t, k) at `col_ptr[t * I + k]` (T * I + 1 entries).
    col_ptr: Vec<u32>,
    /// Trial index and value of each nonzero, by column, in increasing trial index.
    col_b: Vec<u32>,
    col_v: Vec<f32>,
    /// One block's [B, BW] rows.
    tile: AlignedVec,
    /// Per-input counts, then write positions, while the columns are built.
    next: Vec<u32>,
}

impl SparseInputs {
    /// Rebuilds from `inputs`, [T, B, I] time-major, reusing the buffers.
    pub fn rebuild(&mut self, inputs: &[f32], t: usize, b: usize, ni: usize) {
        self.rebuild_streams(inputs, t, b, 0, b, ni);
    }

    /// Rebuilds from the `b` streams `from..from + b` of `inputs`, [T, `total`, I] time-major
    /// (one chunk of a batch), reusing the buffers.
    pub fn rebuild_streams(
        &mut self,
        inputs: &[f32],
        t: usize,
        total: usize,
        from: usize,
        b: usize,
        ni: usize,
    ) {
        assert_eq!(inputs.len(), t * total * ni, "inputs are not [T, B, I]");
        assert!(from + b <= total, "streams past the batch");
        assert!(inputs.len() < u32::MAX as usize, "window too large");
        self.b = b;
        self.ni = ni;
        if self.tile.len() != b * BW {
            self.tile.reset(b * BW);
        }
        // The lists are written in place (branch-free: every value is written, the end advances
        // past the nonzeros only); the buffers keep room for a window of nonzeros.
        let len = t * b * ni;
        for v in [&mut self.row_k, &mut self.col_b] {
            if v.len() < len {
                v.resize(len, 0);
            }
        }
        for v in [&mut self.row_v, &mut self.col_v] {
            if v.len() < len {
                v.resize(len, 0.0);
            }
        }
        // Plain slices from here on (so that the loops keep their pointers in registers).
        let SparseInputs {
            row_ptr,
            row_k,
            row_v,
            col_ptr,
            col_b,
            col_v,
            next,
            ..
        } = self;
        let (row_k, row_v) = (&mut row_k[..], &mut row_v[..]);
        let (col_b, col_v) = (&mut col_b[..], &mut col_v[..]);
        row_ptr.clear();
        col_ptr.clear();
        row_ptr.push(0);
        col_ptr.push(0);
        next.resize(ni, 0);
        let mut end = 0usize;
        for step in inputs.chunks_exact(total * ni) {
            let step = &step[from * ni..(from + b) * ni];
            let first = end;
            for row in step.chunks_exact(ni) {
                for (k, &v) in row.iter().enumerate() {
                    row_k[end] = k as u32;
                    row_v[end] = v;
                    // v != 0.0 (either zero's sign bit shifted out), in integer registers.
                    end += usize::from(v.to_bits() << 1 != 0);
                }
                row_ptr.push(end as u32);
            }
            // Columns by counting: rows are visited in trial order, so each column's list is in
            // increasing trial index.
            next.fill(0);
            for &k in &row_k[first..end] {
                next[k as usize] += 1;
            }
            let mut at = first as u32;
            for c in next.iter_mut() {
                let count = *c;
                *c = at;
                at += count;
                col_ptr.push(at);
            }
            let rows = &row_ptr[row_ptr.len() - 1 - b..];
            for (bb, r) in rows.windows(2).enumerate() {
                for q in r[0] as usize..r[1] as usize {
                    let k = row_k[q] as usize;
                    let at = next[k] as usize;
                    col_b[at] = bb as u32;
                    col_v[at] = row_v[q];
                    next[k] += 1;
                }
            }
        }
    }

    /// Number of nonzero inputs in the window.
    #[cfg(test)]
    pub fn nnz(&self) -> usize {
        self.row_ptr.last().map_or(0, |&e| e as usize)
    }

    /// The nonzeros of each trial of step `s` (B lists of inputs).
    fn rows(&self, s: usize) -> Lists<'_> {
        Lists {
            ptr: &self.row_ptr[s * self.b..=(s + 1) * self.b],
            idx: &self.row_k,
            val: &self.row_v,
        }
    }

    /// The nonzeros of each input of step `s` (I lists of trials).
    fn cols(&self, s: usize) -> Lists<'_> {
        Lists {
            ptr: &self.col_ptr[s * self.ni..=(s + 1) * self.ni],
            idx: &self.col_b,
            val: &self.col_v,
        }
    }

    /// A_s = W_in x_s + b_h 1^T for step `s`, written as the [N, B] block `a`, from W_in^T
    /// ([I, N], `w_in_t`).
    pub fn project(&mut self, s: usize, w_in_t: &[f32], bias: &[f32], n: usize, a: &mut [f32]) {
        let b = self.b;
        assert!(
            w_in_t.len() == self.ni * n && bias.len() == n && a.len() >= n * b,
            "project: bad shapes"
        );
        // The tile is borrowed apart from the lists it is filled from.
        let mut tile = std::mem::take(&mut self.tile);
        let rows = self.rows(s);
        for i0 in (0..n).step_by(BW) {
            let u = BW.min(n - i0);
            let blk = Block { n, i0, u };
            project_block(rows, w_in_t, blk, &bias[i0..i0 + u], &mut tile);
            transpose(&tile, 0, b, u, BW, &mut a[i0 * b..], b);
        }
        self.tile = tile;
    }

    /// dW_in^T ([I, N], `dw_t`) += x_s^T dA_s^T for step `s`, from dA_s, the [N, B] view of
    /// `da` at `off` with row stride `ld`.
    pub fn add_weight_grad(
        &mut self,
        s: usize,
        da: &[f32],
        off: usize,
        ld: usize,
        n: usize,
        dw_t: &mut [f32],
    ) {
        let b = self.b;
        assert!(dw_t.len() == self.ni * n, "add_weight_grad: bad shapes");
        let mut tile = std::mem::take(&mut self.tile);
        let cols = self.cols(s);
        for i0 in (0..n).step_by(BW) {
            let u = BW.min(n - i0);
            let blk = Block { n, i0, u };
            transpose(da, off + i0 * ld, u, b, ld, &mut tile, BW);
            grad_block(cols, &tile, blk, dw_t);
        }
        self.tile = tile;
    }
}

/// Compressed lists: list r holds `idx[ptr[r]..ptr[r + 1]]` with their values.
#[derive(Clone, Copy)]
struct Lists<'a> {
    ptr: &'a [u32],
    idx: &'a [u32],
    val: &'a [f32],
}

impl<'a> Lists<'a> {
    /// Each list in turn.
    fn iter(self) -> impl Iterator<Item = (&'a [u32], &'a [f32])> {
        self.ptr.windows(2).map(move |r| {
            let r = r[0] as usize..r[1] as usize;
            (&self.idx[r.clone()], &self.val[r])
        })
    }
}

/// The units `i0..i0 + u` of N (u <= BW).
#[derive(Clone, Copy)]
struct Block {
    n: usize,
    i0: usize,
    u: usize,
}

/// [`project_plain`], or its AVX-512 twin where the CPU has it.
fn project_block(rows: Lists<'_>, w_in_t: &[f32], blk: Block, bias: &[f32], tile: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::simd::has_avx512() {
        // SAFETY: AVX-512F is present.
        unsafe { avx512::project(rows, w_in_t, blk, bias, tile) };
        return;
    }
    project_plain(rows, w_in_t, blk, bias, tile);
}

/// [`grad_plain`], or its AVX-512 twin where the CPU has it.
fn grad_block(cols: Lists<'_>, tile: &[f32], blk: Block, dw_t: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::simd::has_avx512() {
        // SAFETY: AVX-512F is present.
        unsafe { avx512::grad(cols, tile, blk, dw_t) };
        return;
    }
    grad_plain(cols, tile, blk, dw_t);
}

/// acc[l] += v * x[l] (fused) for l < acc.len() <= U; a full vector through fixed-size arrays.
#[inline(always)]
fn axpy(acc: &mut [f32], v: f32, x: &[f32]) {
    if let (Ok(a), Ok(x)) = (
        <&mut [f32; U]>::try_from(&mut *acc),
        <&[f32; U]>::try_from(x),
    ) {
        for l in 0..U {
            a[l] = v.mul_add(x[l], a[l]);
        }
        return;
    }
    for (a, &xv) in acc.iter_mut().zip(x) {
        *a = v.mul_add(xv, *a);
    }
}

multiversion! {
    /// The [B, u] rows of A_s^T for one block (`rows`: the step's row lists) into `tile`
    /// (row stride BW).
    fn project_plain(rows: Lists<'_>, w_in_t: &[f32], blk: Block, bias: &[f32], tile: &mut [f32]) {
        for ((ks, vs), out) in rows.iter().zip(tile.chunks_exact_mut(BW)) {
            for j0 in (0..blk.u).step_by(U) {
                let w = U.min(blk.u - j0);
                let mut acc = [0.0f32; U];
                acc[..w].copy_from_slice(&bias[j0..j0 + w]);
                for (&k, &v) in ks.iter().zip(vs) {
                    let at = k as usize * blk.n + blk.i0 + j0;
                    axpy(&mut acc[..w], v, &w_in_t[at..at + w]);
                }
                out[j0..j0 + w].copy_from_slice(&acc[..w]);
            }
        }
    }
}

multiversion! {
    /// dW_in^T[k, block] += sum over list k of x[b, k] dA^T[b, block] (`cols`: the step's
    /// column lists; `tile`: dA^T of the block, [B, BW]).
    fn grad_plain(cols: Lists<'_>, tile: &[f32], blk: Block, dw_t: &mut [f32]) {
        for (k, (bs, vs)) in cols.iter().enumerate() {
            if bs.is_empty() {
                continue;
            }
            let row = &mut dw_t[k * blk.n + blk.i0..k * blk.n + blk.i0 + blk.u];
            for j0 in (0..blk.u).step_by(U) {
                let w = U.min(blk.u - j0);
                let mut acc = [0.0f32; U];
                acc[..w].copy_from_slice(&row[j0..j0 + w]);
                for (&bb, &v) in bs.iter().zip(vs) {
                    let at = bb as usize * BW + j0;
                    axpy(&mut acc[..w], v, &tile[at..at + w]);
                }
                row[j0..j0 + w].copy_from_slice(&acc[..w]);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Block, Lists, BW};
    use std::arch::x86_64::{
        __m512, __mmask16, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_mask_storeu_ps,
        _mm512_maskz_loadu_ps, _mm512_set1_ps,
    };

    /// Registers per block.
    const R: usize = BW / 16;

    /// The lane mask of each register for a block of `u` units.
    #[inline(always)]
    fn masks(u: usize) -> [__mmask16; R] {
        std::array::from_fn(|q| {
            let lanes = u.saturating_sub(16 * q).min(16);
            ((1u32 << lanes) - 1) as __mmask16
        })
    }

    /// acc += sum over the list of v * row(i) (i, v: the list's entries in order; row(i): a
    /// pointer to a block of units, masked by `m`).
    ///
    /// # Safety
    /// AVX-512F; `row` returns pointers to at least the unmasked lanes of a block.
    #[inline(always)]
    unsafe fn accumulate(
        acc: &mut [__m512; R],
        (idx, val): (&[u32], &[f32]),
        row: impl Fn(u32) -> *const f32,
        m: &[__mmask16; R],
    ) {
        if m.iter().all(|&k| k == 0xffff) {
            // A full block: plain loads.
            for (&i, &v) in idx.iter().zip(val) {
                let x = row(i);
                // SAFETY: AVX-512F is present (the caller's promise).
                let vv = unsafe { _mm512_set1_ps(v) };
                for (q, r) in acc.iter_mut().enumerate() {
                    // SAFETY: the caller's promise on `row` (no lane masked).
                    let a = unsafe { _mm512_loadu_ps(x.add(16 * q)) };
                    // SAFETY: AVX-512F is present (the caller's promise).
                    *r = unsafe { _mm512_fmadd_ps(vv, a, *r) };
                }
            }
            return;
        }
        for (&i, &v) in idx.iter().zip(val) {
            let x = row(i);
            // SAFETY: AVX-512F is present (the caller's promise).
            let vv = unsafe { _mm512_set1_ps(v) };
            for q in 0..R {
                // SAFETY: the caller's promise on `row`.
                let a = unsafe { _mm512_maskz_loadu_ps(m[q], x.add(16 * q)) };
                // SAFETY: AVX-512F is present (the caller's promise).
                acc[q] = unsafe { _mm512_fmadd_ps(vv, a, acc[q]) };
            }
        }
    }

    /// Loads the unmasked lanes of a block from `src`.
    ///
    /// # Safety
    /// AVX-512F; `src` holds the unmasked lanes.
    #[inline(always)]
    unsafe fn load(src: *const f32, m: &[__mmask16; R]) -> [__m512; R] {
        // SAFETY: the caller's promise.
        std::array::from_fn(|q| unsafe { _mm512_maskz_loadu_ps(m[q], src.add(16 * q)) })
    }

    /// Stores the unmasked lanes of a block to `dst`.
    ///
    /// # Safety
    /// AVX-512F; `dst` holds the unmasked lanes.
    #[inline(always)]
    unsafe fn store(dst: *mut f32, v: &[__m512; R], m: &[__mmask16; R]) {
        for q in 0..R {
            // SAFETY: the caller's promise.
            unsafe { _mm512_mask_storeu_ps(dst.add(16 * q), m[q], v[q]) };
        }
    }

    /// [`super::project_plain`] with the block's accumulators in registers (same bits).
    ///
    /// # Safety
    /// AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn project(
        rows: Lists<'_>,
        w_in_t: &[f32],
        blk: Block,
        bias: &[f32],
        tile: &mut [f32],
    ) {
        let m = masks(blk.u);
        assert!(bias.len() == blk.u);
        // SAFETY: `bias` holds the block's u values.
        let b0 = unsafe { load(bias.as_ptr(), &m) };
        let row = |k: u32| {
            let at = k as usize * blk.n + blk.i0;
            w_in_t[at..at + blk.u].as_ptr()
        };
        for (list, out) in rows.iter().zip(tile.chunks_exact_mut(BW)) {
            let mut acc = b0;
            // SAFETY: `row` points at u values inside W_in^T; `out` holds BW values.
            unsafe {
                accumulate(&mut acc, list, row, &m);
                store(out.as_mut_ptr(), &acc, &m);
            }
        }
    }

    /// [`super::grad_plain`] with the block's accumulators in registers (same bits).
    ///
    /// # Safety
    /// AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn grad(cols: Lists<'_>, tile: &[f32], blk: Block, dw_t: &mut [f32]) {
        let m = masks(blk.u);
        let row = |b: u32| tile[b as usize * BW..(b as usize + 1) * BW].as_ptr();
        for (k, list) in cols.iter().enumerate() {
            if list.0.is_empty() {
                continue;
            }
            let dst = &mut dw_t[k * blk.n + blk.i0..k * blk.n + blk.i0 + blk.u];
            // SAFETY: `dst` holds the block's u values; `row` points at BW values of the tile.
            unsafe {
                let mut acc = load(dst.as_ptr(), &m);
                accumulate(&mut acc, list, row, &m);
                store(dst.as_mut_ptr(), &acc, &m);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: usize, b: usize, ni: usize) -> Vec<f32> {
        (0..t * b * ni)
            .map(|i| {
                let h = (i as u32).wrapping_mul(0x9e37_79b9) >> 27;
                if h < 8 {
                    (i % 13) as f32 * 0.25 - 1.0
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// The AVX-512 kernels give the bits of the portable ones (full and ragged blocks).
    #[test]
    fn kernel_paths_agree() {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::has_avx512() {
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let (t, b, ni, n) = (2, 7, 11, 150);
            let x = sample(t, b, ni);
            let mut sp = SparseInputs::default();
            sp.rebuild(&x, t, b, ni);
            let w_t: Vec<f32> = (0..ni * n).map(|i| (i as f32 * 0.37).sin()).collect();
            let bias: Vec<f32> = (0..n).map(|i| i as f32 * 0.01).collect();
            for s in 0..t {
                let (rows, cols) = (sp.rows(s), sp.cols(s));
                for i0 in (0..n).step_by(BW) {
                    let u = BW.min(n - i0);
                    let blk = Block { n, i0, u };
                    let mut plain = vec![0.0f32; b * BW];
                    let mut fast = plain.clone();
                    project_plain(rows, &w_t, blk, &bias[i0..i0 + u], &mut plain);
                    // SAFETY: AVX-512F is present.
                    unsafe { avx512::project(rows, &w_t, blk, &bias[i0..i0 + u], &mut fast) };
                    assert_eq!(bits(&plain), bits(&fast));
                    let mut dw_plain = w_t.clone();
                    let mut dw_fast = w_t.clone();
                    grad_plain(cols, &plain, blk, &mut dw_plain);
                    // SAFETY: as above.
                    unsafe { avx512::grad(cols, &plain, blk, &mut dw_fast) };
                    assert_eq!(bits(&dw_plain), bits(&dw_fast));
                }
            }
        }
    }

    /// Both products equal the dense ones (to rounding), at chunk-aligned and ragged sizes.
    #[test]
    fn sparse_products_match_dense() {
        for (t, b, ni, n) in [(3, 5, 7, 130), (2, 64, 53, 256), (1, 3, 4, 9)] {
            let x = sample(t, b, ni);
            let mut sp = SparseInputs::default();
            sp.rebuild(&x, t, b, ni);
            assert_eq!(sp.nnz(), x.iter().filter(|v| **v != 0.0).count());
            let w_t: Vec<f32> = (0..ni * n).map(|i| (i as f32 * 0.37).sin()).collect();
            let bias: Vec<f32> = (0..n).map(|i| i as f32 * 0.01).collect();
            // dA as an [N, B] view with row stride b + 3 at offset 2.
            let ld = b + 3;
            let da: Vec<f32> = (0..2 + n * ld).map(|i| (i as f32 * 0.11).cos()).collect();
            let mut dw = vec![0.5f32; ni * n];
            for s in 0..t {
                let mut out = vec![0.0f32; n * b];
                sp.project(s, &w_t, &bias, n, &mut out);
                for bb in 0..b {
                    for i in 0..n {
                        let want: f32 = bias[i]
                            + (0..ni)
                                .map(|k| x[(s * b + bb) * ni + k] * w_t[k * n + i])
                                .sum::<f32>();
                        let got = out[i * b + bb];
                        assert!((got - want).abs() < 1e-4, "A[{bb}, {i}] {got} vs {want}");
                    }
                }
                let before = dw.clone();
                sp.add_weight_grad(s, &da, 2, ld, n, &mut dw);
                for k in 0..ni {
                    for i in 0..n {
                        let add: f32 = (0..b)
                            .map(|bb| x[(s * b + bb) * ni + k] * da[2 + i * ld + bb])
                            .sum();
                        let (got, want) = (dw[k * n + i], before[k * n + i] + add);
                        assert!((got - want).abs() < 1e-4, "dW[{k}, {i}] {got} vs {want}");
                    }
                }
            }
        }
    }
}
