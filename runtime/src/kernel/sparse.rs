//! The inner loops: row dot products over compressed rows or dense rows, in f32 and int8, and the
//! phases of a step over a set of arrays (the recurrent product itself is in `kernel::ell`). Generic over how elements are read (`&[T]` or
//! [`LeSlice`](crate::format::LeSlice)) so the zero-copy path and the misaligned path share code
//! (and give the same bits).
//!
//! Every row dot product sums its terms in index order with one accumulator (`seq_dot`); the
//! order is fixed by this code alone, so host and firmware (same code) agree bit for bit.
//!
//! Safety: every function here requires a validated model (offsets within the arrays, column
//! indices below the vector length) and vectors of the model's sizes; the public entry points in
//! `kernel` check the sizes, `ModelView::from_bytes` the rest.

use crate::format::{Activation, Csr, Diag, Ell, Load, Matrix, Net, Rec};

use super::activation::leaky_update;
use super::columns::ColumnInput;
use super::diag::{DiagKernel, Hidden};
use super::ell::RecKernel;
use super::pairs::{self, PairKernel, Pairs};
use super::qio;

/// `sum_k w(k) * x[col[k]]` over the entries `s..e`, in order.
///
/// # Safety
/// `s <= e`, entries `s..e` of `col` and of the weights in range, every `col[k] < x.len()`.
#[inline(always)]
unsafe fn gather_dot<H: Load<u16>>(
    col: H,
    s: usize,
    e: usize,
    x: &[f32],
    w: impl Fn(usize) -> f32,
) -> f32 {
    // SAFETY: the caller's promise: `s <= e`, entries `s..e` of `col` and of the weights in
    // range and every `col[k] < x.len()`, so every `term(k)` for `k` in `s..e` is in bounds.
    unsafe { seq_dot(s, e, |k| w(k) * *x.get_unchecked(usize::from(col.at(k)))) }
}

/// `sum_k term(k)` over `s..e`, one accumulator, in index order (the order of the trainer's
/// reference). Used for the input and output matrices; the recurrent product has its own
/// lane-grouped loop (`kernel::ell`), which keeps the same per-row order.
///
/// # Safety
/// `term` must be safe to call for every `k` in `s..e`.
#[inline(always)]
unsafe fn seq_dot(s: usize, e: usize, term: impl Fn(usize) -> f32) -> f32 {
    let mut acc = 0.0f32;
    for k in s..e {
        acc += term(k);
    }
    acc
}

/// Entries `s..e` of row `r`.
#[inline(always)]
unsafe fn row_range<F, U: Load<u32>, H>(m: &Csr<F, U, H>, r: usize) -> (usize, usize) {
    // SAFETY: the caller passes `r < rows`, and a validated CSR has `rows + 1` row pointers.
    unsafe { (m.row_ptr.at(r) as usize, m.row_ptr.at(r + 1) as usize) }
}

/// sum over the stored entries of row `r` of `value * x[col]`.
#[inline(always)]
unsafe fn csr_dot<F: Load<f32>, U: Load<u32>, H: Load<u16>>(
    m: &Csr<F, U, H>,
    r: usize,
    x: &[f32],
) -> f32 {
    // SAFETY: see the module doc.
    unsafe {
        let (s, e) = row_range(m, r);
        let v = m.values;
        gather_dot(m.col_idx, s, e, x, |k| v.at(k))
    }
}

/// A dense f32 row dot product `sum_j w[base + j] x[j]` over `j < x.len()`, one accumulator, in
/// order (the order of [`seq_dot`]).
pub(crate) trait DenseDot: ColumnInput {
    /// # Safety
    /// `base + x.len()` within the array.
    #[inline(always)]
    unsafe fn dense_dot(self, base: usize, x: &[f32]) -> f32 {
        // SAFETY: `j < x.len()`, and `base + x.len()` is within the array (this fn's contract).
        unsafe { seq_dot(0, x.len(), |j| self.at(base + j) * *x.get_unchecked(j)) }
    }

    /// [`DenseDot::dense_dot`] of the 8 consecutive rows of `x.len()` values starting at `base`,
    /// when a faster path than 8 calls exists (`None`: use `dense_dot`); the same bits.
    ///
    /// # Safety
    /// `base + 8 x.len()` within the array.
    #[inline(always)]
    unsafe fn dense_dot8(self, _base: usize, _x: &[f32]) -> Option<[f32; 8]> {
        None
    }
}

impl DenseDot for crate::format::LeSlice<'_, f32> {}

impl DenseDot for &[f32] {
    /// On 32-bit Arm the first `8 * (n / 8)` terms run in inline assembly (`vldmia` of 8
    /// weights and 8 inputs, 8 `vmla.f32` into one accumulator: 12 instructions per 8 terms), the
    /// rest in the portable loop; `vmla.f32` rounds the product, then the sum, as the portable
    /// `acc + w * x` does, so the bits agree.
    #[inline(always)]
    unsafe fn dense_dot(self, base: usize, x: &[f32]) -> f32 {
        #[cfg(target_arch = "arm")]
        {
            let n8 = x.len() / 8;
            let mut acc = 0.0f32;
            if n8 > 0 {
                // SAFETY: reads `8 * n8` floats of the row (within the array, caller) and of `x`;
                // both 4-aligned (`&[f32]`); touches only the registers listed.
                unsafe {
                    let mut bits = 0u32;
                    core::arch::asm!(
                        "vmov s0, {a}",
                        "2:",
                        "vldmia {x}!, {{s8-s15}}",
                        dot8_row!("s0", "{w}"),
                        "subs {n}, {n}, #1",
                        "bne 2b",
                        "vmov {a}, s0",
                        w = inout(reg) self.as_ptr().add(base) => _,
                        x = inout(reg) x.as_ptr() => _,
                        n = inout(reg) n8 => _,
                        a = inout(reg) bits,
                        out("s0") _,
                        out("s8") _, out("s9") _, out("s10") _, out("s11") _,
                        out("s12") _, out("s13") _, out("s14") _, out("s15") _,
                        out("s16") _, out("s17") _, out("s18") _, out("s19") _,
                        out("s20") _, out("s21") _, out("s22") _, out("s23") _,
                        options(nostack, readonly),
                    );
                    acc = f32::from_bits(bits);
                }
            }
            for j in 8 * n8..x.len() {
                // SAFETY: `j < x.len()`, and `base + x.len()` is within the array (this fn's
                // contract).
                acc += unsafe { self.at(base + j) * *x.get_unchecked(j) };
            }
            acc
        }
        #[cfg(not(target_arch = "arm"))]
        // SAFETY: `j < x.len()`, and `base + x.len()` is within the array (this fn's contract).
        unsafe {
            seq_dot(0, x.len(), |j| self.at(base + j) * *x.get_unchecked(j))
        }
    }

    /// On 32-bit Arm, 8 rows share each load of `x`: per 8 columns one `vldmia` of 8 values of
    /// `x` (s8-s15), then per row one `vldmia` of its 8 weights (s16-s23) and 8 `vmla.f32` into
    /// its sum (s0-s7): 75 instructions per 64 terms with the loop, against 12 per 8 row by row.
    /// Each row's sum starts at `+0.0` and adds its terms in column order, as `dense_dot` does
    /// (the last `n mod 8` columns in the portable loop), so the bits are the same.
    #[inline(always)]
    unsafe fn dense_dot8(self, base: usize, x: &[f32]) -> Option<[f32; 8]> {
        #[cfg(target_arch = "arm")]
        {
            let (n, n8) = (x.len(), x.len() / 8);
            let mut acc = [0.0f32; 8];
            if n8 > 0 {
                // SAFETY: reads `8 n8` floats of each of the 8 rows (within the array: this fn's
                // contract) and of `x`, all 4-aligned (`&[f32]`); writes the 8 sums to `acc`;
                // touches only the registers listed.
                unsafe {
                    let p = self.as_ptr().add(base);
                    core::arch::asm!(
                        "vldmia {o}, {{s0-s7}}",
                        "2:",
                        "vldmia {x}!, {{s8-s15}}",
                        dot8_row!("s0", "{p0}"),
                        dot8_row!("s1", "{p1}"),
                        dot8_row!("s2", "{p2}"),
                        dot8_row!("s3", "{p3}"),
                        dot8_row!("s4", "{p4}"),
                        dot8_row!("s5", "{p5}"),
                        dot8_row!("s6", "{p6}"),
                        dot8_row!("s7", "{p7}"),
                        "subs {n}, {n}, #1",
                        "bne 2b",
                        "vstmia {o}, {{s0-s7}}",
                        o = in(reg) acc.as_mut_ptr(),
                        x = inout(reg) x.as_ptr() => _,
                        n = inout(reg) n8 => _,
                        p0 = inout(reg) p => _,
                        p1 = inout(reg) p.add(n) => _,
                        p2 = inout(reg) p.add(2 * n) => _,
                        p3 = inout(reg) p.add(3 * n) => _,
                        p4 = inout(reg) p.add(4 * n) => _,
                        p5 = inout(reg) p.add(5 * n) => _,
                        p6 = inout(reg) p.add(6 * n) => _,
                        p7 = inout(reg) p.add(7 * n) => _,
                        out("s0") _, out("s1") _, out("s2") _, out("s3") _,
                        out("s4") _, out("s5") _, out("s6") _, out("s7") _,
                        out("s8") _, out("s9") _, out("s10") _, out("s11") _,
                        out("s12") _, out("s13") _, out("s14") _, out("s15") _,
                        out("s16") _, out("s17") _, out("s18") _, out("s19") _,
                        out("s20") _, out("s21") _, out("s22") _, out("s23") _,
                        options(nostack),
                    );
                }
            }
            for (k, a) in acc.iter_mut().enumerate() {
                for j in 8 * n8..n {
                    // SAFETY: `j < n`, and row `k < 8` lies within the array (this fn's
                    // contract).
                    *a += unsafe { self.at(base + k * n + j) * *x.get_unchecked(j) };
                }
            }
            Some(acc)
        }
        #[cfg(not(target_arch = "arm"))]
        {
            let _ = (base, x);
            None
        }
    }
}

/// One row of [`DenseDot::dense_dot8`]'s block: its 8 weights from `$p` (post-incremented), 8
/// `vmla.f32` into `$s` with `x` in s8-s15.
#[cfg(target_arch = "arm")]
macro_rules! dot8_row {
    ($s:literal, $p:literal) => {
        concat!(
            "vldmia ",
            $p,
            "!, {{s16-s23}}\n",
            "vmla.f32 ",
            $s,
            ", s16, s8\n",
            "vmla.f32 ",
            $s,
            ", s17, s9\n",
            "vmla.f32 ",
            $s,
            ", s18, s10\n",
            "vmla.f32 ",
            $s,
            ", s19, s11\n",
            "vmla.f32 ",
            $s,
            ", s20, s12\n",
            "vmla.f32 ",
            $s,
            ", s21, s13\n",
            "vmla.f32 ",
            $s,
            ", s22, s14\n",
            "vmla.f32 ",
            $s,
            ", s23, s15\n",
        )
    };
}
#[cfg(target_arch = "arm")]
use dot8_row;

#[inline(always)]
unsafe fn mat_dot<F: DenseDot, U: Load<u32>, H: Load<u16>>(
    m: &Matrix<F, U, H>,
    r: usize,
    x: &[f32],
) -> f32 {
    // SAFETY: see the module doc; a dense row has `cols == x.len()` entries.
    unsafe {
        match m {
            Matrix::Dense { cols, values, .. } => values.dense_dot(r * cols, x),
            Matrix::Csr(c) => csr_dot(c, r, x),
            Matrix::ByColumn { rows, values, .. } => seq_dot(0, x.len(), |j| {
                values.at(j * rows + r) * *x.get_unchecked(j)
            }),
        }
    }
}

/// Recurrent part of the pre-activation: `acc_i = W_i. h` (f32, over the lane-grouped layout,
/// `kernel::ell`, or the diagonal one, `kernel::diag`) or, given the int8 scratch `hq`, `acc_i = (q_i. hq) 2^-f s_i` with `hq` the
/// quantised `h` (`kernel::pairs`); with `quantised`, `hq` already holds `h` quantised with the
/// blob's format (and `hq[n] = 0`), and the quantisation is skipped.
///
/// # Safety
/// Validated `net`; `h` of length n_hidden (plain, or padded with `DIAG_PAD` values each side),
/// `acc` of length n_hidden; with `hq` (length > n_hidden), `net.int8` present, else `net.f32`.
#[inline(always)]
pub(crate) unsafe fn recurrent<F: Load<f32>, U: Load<u32>, H: Load<u16>>(
    net: &Net<'_, F, U, H>,
    x: Hidden<'_>,
    acc: &mut [f32],
    hq: Option<&mut [i16]>,
    quantised: bool,
) where
    Ell<F, H>: RecKernel,
    Diag<F, H>: DiagKernel,
    Pairs<U, F>: PairKernel,
{
    let h = x.h();
    // SAFETY: the caller's promise: a validated net (row pointers, columns below n_hidden, the
    // lane groups of `Ell` and `Pairs` in range), `h` and `acc` of length n_hidden, `hq` longer
    // than n_hidden, and the weights asked for (int8 with `hq`, else f32) present.
    unsafe {
        match (hq, &net.int8, &net.f32) {
            (Some(hq), Some(q), _) => {
                let (k, d) = pairs::factors(q.act_frac_bits);
                if !quantised {
                    pairs::quantize(h, k, hq);
                }
                let p = Pairs {
                    words: q.rec,
                    scale: q.rec_scale,
                };
                p.product(acc.len(), hq, d, acc)
            }
            (None, _, Some(f)) => match &f.rec {
                Rec::Rows(e) => e.rec_f32(h, acc),
                Rec::Diagonal(d) => d.rec_diag(x, acc),
            },
            _ => {}
        }
    }
}

/// Inputs up to which the input product over a dense matrix runs over the nonzero inputs only
/// (their indices are gathered into a stack array of this many u16 once per step); wider inputs
/// run the plain dense loop.
pub(crate) const MAX_SPARSE_INPUTS: usize = 256;

/// `(indices of the nonzero entries of u, their count)`; NaN counts as nonzero. `None` when `u`
/// is wider than [`MAX_SPARSE_INPUTS`].
#[inline(always)]
fn nonzero_inputs(u: &[f32]) -> Option<([u16; MAX_SPARSE_INPUTS], usize)> {
    if u.len() > MAX_SPARSE_INPUTS {
        return None;
    }
    let mut nz = [0u16; MAX_SPARSE_INPUTS];
    let mut m = 0;
    for (j, &x) in u.iter().enumerate() {
        if x != 0.0 {
            nz[m] = j as u16;
            m += 1;
        }
    }
    Some((nz, m))
}

/// Input part and bias: `acc_i = acc_i + W_in,i. u + b_h,i` (int8: `acc_i + s'_i (q'_i. u) + b_h,i`).
/// With a dense input matrix the row dot product runs over the nonzero inputs only, in increasing
/// input order (task inputs are mostly zero: about 20% nonzero on cog20); a skipped term is
/// `w * 0 = +-0`, so the sum differs from the dense one at most in the sign of a zero. A matrix
/// stored by column (format version 6) runs the same sums column by column (`kernel::columns`).
///
/// # Safety
/// Validated `net`; `acc` of length n_hidden, `u` of length n_inputs; with `int8`, `net.int8`
/// present.
#[inline(always)]
pub(crate) unsafe fn input<F: DenseDot, U: Load<u32>, H: Load<u16>>(
    net: &Net<'_, F, U, H>,
    u: &[f32],
    acc: &mut [f32],
    int8: bool,
) {
    match (&net.int8, &net.f32, int8) {
        // SAFETY: validated net (the caller's promise): the int8 W_in's stored columns are below
        // n_inputs = `u.len()`, `acc`, `in_scale` and `b_h` have n_hidden entries, as
        // `qio::input` needs.
        (Some(q), _, true) => unsafe { qio::input(&q.w_in, q.in_scale, net.b_h, u, acc) },
        (_, Some(f), false) => match (&f.w_in, nonzero_inputs(u)) {
            // SAFETY: validated net (the caller's promise): a column-major W_in of n_hidden =
            // `acc.len()` rows and n_inputs = `u.len()` columns, every listed index below
            // `u.len()`, `b_h` of n_hidden entries, as `column_input` needs.
            (Matrix::ByColumn { values, .. }, Some((nz, m))) => unsafe {
                values.column_input(&nz[..m], u, net.b_h, acc)
            },
            (Matrix::Dense { cols, values, .. }, Some((nz, m))) => {
                let nz = &nz[..m];
                for (i, a) in acc.iter_mut().enumerate() {
                    let base = i * cols;
                    // SAFETY: every index in `nz` is below `u.len() == cols`, so `base + j` is
                    // inside row `i` of the dense W_in; `i` < n_hidden = the length of `b_h`
                    // (validated net, the caller's promise).
                    unsafe {
                        let dot = seq_dot(0, m, |k| {
                            let j = usize::from(*nz.get_unchecked(k));
                            values.at(base + j) * *u.get_unchecked(j)
                        });
                        *a = *a + dot + net.b_h.at(i)
                    };
                }
            }
            _ => {
                for (i, a) in acc.iter_mut().enumerate() {
                    // SAFETY: validated net (the caller's promise): every stored column of W_in is
                    // below n_inputs = `u.len()`, and `i` < n_hidden = its rows and the length of
                    // `b_h`.
                    unsafe { *a = *a + mat_dot(&f.w_in, i, u) + net.b_h.at(i) };
                }
            }
        },
        _ => {}
    }
}

/// Output `o = W_out h + b_o`; with the int8 scratch `hq`, the int8 readout on integers
/// (`kernel::qio`), which quantises `h` into `hq` (and, given `plain`, into `plain` for the
/// next recurrent product, in the same pass).
///
/// # Safety
/// Validated `net`; `h` of length n_hidden, `o` of length n_outputs; with `hq` (length >=
/// n_hidden), `net.int8` present, else `net.f32`; `plain` (length > n_hidden) only with `hq`.
#[inline(always)]
pub(crate) unsafe fn readout<F: DenseDot, U: Load<u32>, H: Load<u16>>(
    net: &Net<'_, F, U, H>,
    h: &[f32],
    o: &mut [f32],
    hq: Option<&mut [i16]>,
    plain: Option<&mut [i16]>,
) {
    // The match outside the loops, so that each loop is straight-line code.
    match (&net.int8, &net.f32, hq) {
        (Some(q), _, Some(hq)) => {
            // SAFETY: validated net (the caller's promise): the int8 W_out's stored columns are
            // below n_hidden = `h.len()` <= `hq.len()` (< `plain.len()`), and `o`, `out_scale`
            // and `b_o` have n_outputs entries, as `qio::readout` needs.
            unsafe {
                let (s, b, f) = (q.out_scale, net.b_o, q.act_frac_bits);
                qio::readout(&q.w_out, s, b, f, h, hq, plain, o)
            }
        }
        (_, Some(f), None) => {
            let mut first = 0;
            if let Matrix::Dense { cols, values, .. } = &f.w_out {
                while first + 8 <= o.len() {
                    // SAFETY: rows `first .. first + 8` of the dense W_out (n_outputs = `o.len()`
                    // rows of `cols == h.len()` values, validated net) lie within `values`.
                    let Some(s) = (unsafe { values.dense_dot8(first * cols, h) }) else {
                        break;
                    };
                    for (k, v) in s.into_iter().enumerate() {
                        // SAFETY: `first + k < o.len()` = n_outputs = the length of `b_o`.
                        unsafe { *o.get_unchecked_mut(first + k) = v + net.b_o.at(first + k) };
                    }
                    first += 8;
                }
            }
            for (r, out) in o.iter_mut().enumerate().skip(first) {
                // SAFETY: validated net (the caller's promise), so every stored column of W_out is
                // below n_hidden = `h.len()`, and `r` < n_outputs = the rows of W_out and the
                // length of `b_o`.
                unsafe { *out = mat_dot(&f.w_out, r, h) + net.b_o.at(r) };
            }
        }
        _ => {}
    }
}

/// The int8 step's scratches (held by `kernel::State`).
pub(crate) struct Int8Scratch<'s> {
    /// `h` quantised in order for the recurrent product (`n_hidden + 1` entries, the last 0);
    /// the step leaves the new state quantised here.
    pub plain: &'s mut [i16],
    /// `plain` already holds the current `h` quantised with the blob's format.
    pub current: bool,
    /// The readout's scratch, the new state quantised in the readout's order (`n_hidden`
    /// entries).
    pub readout: &'s mut [i16],
}

/// One whole step: `next = (1 - alpha) h + alpha phi(W h + W_in u + b_h)`, `o = W_out next + b_o`;
/// the same phases, in the same order, as the public `kernel::phase` functions. With the int8
/// scratches, `h` is quantised only when `plain` is not current, and the readout quantises the
/// new state into both scratches at once, so that `plain` is current for the next step.
///
/// # Safety
/// As [`recurrent`] and [`input`] plus `o` of length n_outputs; the int8 weights when the int8
/// scratches are given.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn step_net<F: DenseDot, U: Load<u32>, H: Load<u16>>(
    net: &Net<'_, F, U, H>,
    act: Activation,
    alpha: f32,
    x: Hidden<'_>,
    u: &[f32],
    next: &mut [f32],
    o: &mut [f32],
    int8: Option<Int8Scratch<'_>>,
) where
    Ell<F, H>: RecKernel,
    Diag<F, H>: DiagKernel,
    Pairs<U, F>: PairKernel,
{
    let h = x.h();
    // SAFETY: the caller's promise (this fn's `# Safety`) is what `recurrent`, `input` and
    // `readout` need: a validated net, `h`, `next` of length n_hidden, `u` of n_inputs, `o` of
    // n_outputs, the int8 weights present when the scratches are given.
    unsafe {
        match int8 {
            Some(s) => {
                recurrent(net, x, next, Some(&mut *s.plain), s.current);
                input(net, u, next, true);
                leaky_update(act, alpha, h, next);
                readout(net, next, o, Some(s.readout), Some(s.plain));
            }
            None => {
                recurrent(net, x, next, None, false);
                input(net, u, next, false);
                leaky_update(act, alpha, h, next);
                readout(net, next, o, None, None);
            }
        }
    }
}
