//! The int8 input and output products on integers (the recurrent one is `kernel::pairs`).
//!
//! **Input product.** Once per step the inputs are quantised to i16 in a fixed-point format
//! chosen from the step's largest input: `f_u = 14 - floor(log2 max_j |u_j|)` (clamped to
//! -100..=100; no product when every input is 0), so the largest input lands in `[2^14, 2^15)`,
//! and `x_j = sat16(trunc(u_j 2^f_u))`. Each row's sum `S_i = sum_j q'_ij x_j` is an exact integer
//! (any summation order gives the same value), and
//! `acc_i = acc_i + s'_i ((S_i as f32) 2^-f_u) + b_h,i` (one rounding for the conversion, then
//! each operation rounded, in that order, on every target).
//! With a dense input matrix and at most [`MAX_LIST`] inputs, the inputs with `x_j != 0` are
//! gathered into a list of `(x_j, j)` once per step and each row sums over the list only (an
//! exact i32: at most 256 terms of `|q x| <= 127 * 32768`). On Cortex-M4F, 4 rows at a time run
//! in inline assembly: per listed input one `ldmia` for `(x, j)`, then per row `ldrsb` and `mla`
//! (11 instructions per 4 products). A dense matrix stored by column (format version 6) runs over
//! the same list column by column (`kernel::columns`: 8 rows at a time on Cortex-M4F, 17
//! instructions per 8 products). Wider inputs and compressed-row matrices sum in i64 (portable,
//! the same integers).
//!
//! **Readout.** The new hidden state is quantised with the blob's activation format `f` as for the
//! recurrent product (`hq = sat16(trunc(h 2^f))`, `kernel::pairs`), but stored with each group of
//! 4 units in the order `0, 2, 1, 3` (the last `n mod 4` units in place): then one `sxtb16` of a
//! word of 4 weights `q_0..q_3` gives `(q_0, q_2)` and another (rotated by 8) `(q_1, q_3)`, each the
//! partner of one word of the state for `smlad`. Within `kernel::step_int8` the same pass also
//! stores the new state in order in the recurrent product's scratch, for the next step. `S_r = sum_c q_rc hq_c` exactly (i32 up to 512
//! columns, else i64), `o_r = ((S_r as f32) 2^-f) s_r + b_o,r`. On Cortex-M4F dense rows run in
//! inline assembly 3 at a time, sharing each load of the state: per 8 columns one `ldmia` of 4
//! state words, then per row one `ldrd` of 2 weight words, 4 `sxtb16` and 4 `smlad` (28
//! instructions per 24 weights), the loop unrolled twice (3 instructions of loop control per 16
//! columns); the last 2 rows run together the same way (19 per 16 weights), a last single row
//! alone (`ldmia` of 2 weight words and 4 state words, 4 `sxtb16`, 4 `smlad`, loop: 12 per 8).
//! The last `cols mod 8` columns, compressed rows and misaligned rows run in the portable loops,
//! which compute the same integers (the sums are exact, so the order does not matter).
//! Measured on the default model (17 x 256 dense, `COST kernel=int8 part=readout`, i.e.
//! `phase::readout`, quantisation included): 8,799 instructions with every row alone, 7,015 with
//! 3 rows at a time.

use super::pairs::{pow2, quant_one};
use crate::format::{Csr, Load, Matrix};

/// Inputs up to which the int8 input product over a dense matrix gathers the nonzero quantised
/// inputs into a list (on the stack) and runs over it.
pub(crate) const MAX_LIST: usize = 256;

/// Columns up to which a readout row's sum fits an i32 (`512 * 127 * 32768 < 2^31`).
const MAX_I32_COLS: usize = 512;

/// Dense readout rows summed side by side (sharing each load of the state) on Cortex-M4F.
const ROWS: usize = 3;

/// The inputs' fraction bits for one step (see the module doc); `None` when every input is 0.
fn input_frac_bits(u: &[f32]) -> Option<i32> {
    let m = u.iter().fold(0.0f32, |m, &x| m.max(libm::fabsf(x)));
    if m == 0.0 {
        return None;
    }
    // floor(log2 m) from the exponent field (subnormals count as 2^-127; inf as 2^128).
    let e = ((m.to_bits() >> 23) & 0xff) as i32 - 127;
    Some((14 - e).clamp(-100, 100))
}

/// `sat16(trunc(x k))` as an i32 (`k = 2^f_u`; NaN gives 0).
#[inline(always)]
fn quant_input(x: f32, k: f32) -> i32 {
    ((x * k) as i32).clamp(-32768, 32767)
}

/// `acc_i = acc_i + s_i ((S_i as f32) d) + b_i` for row `i` (the conversion of `S_i` is done by
/// the caller: i32 and i64 give the same float for the same integer).
#[inline(always)]
unsafe fn finish<F: Load<f32>>(acc: &mut [f32], i: usize, s: f32, d: f32, scale: F, bias: F) {
    // SAFETY: `i < acc.len()`, the scales and biases have one entry per row (caller).
    unsafe {
        let a = acc.get_unchecked_mut(i);
        *a = *a + scale.at(i) * (s * d) + bias.at(i);
    }
}

/// Sum `q_k x_k` of row `r`'s stored entries of a compressed-row int8 matrix, `x(c)` the
/// quantised vector, in i64.
///
/// # Safety
/// A validated matrix, `r < rows`.
#[inline(always)]
unsafe fn csr_sum<U: Load<u32>, H: Load<u16>>(
    c: &Csr<&[i8], U, H>,
    r: usize,
    x: impl Fn(usize) -> i64,
) -> i64 {
    // SAFETY: validated offsets and columns.
    unsafe {
        let (s, e) = (c.row_ptr.at(r) as usize, c.row_ptr.at(r + 1) as usize);
        (s..e)
            .map(|k| i64::from(*c.values.get_unchecked(k)) * x(usize::from(c.col_idx.at(k))))
            .sum()
    }
}

/// The int8 input product plus bias (module doc): `acc_i = acc_i + s_i ((sum_j q_ij x_j as f32)
/// 2^-f_u) + b_i`.
///
/// # Safety
/// A validated matrix `w` of `acc.len()` rows and `u.len()` columns; `scale` and `bias` with one
/// entry per row.
#[inline(never)]
pub(crate) unsafe fn input<F: Load<f32>, U: Load<u32>, H: Load<u16>>(
    w: &Matrix<&[i8], U, H>,
    scale: F,
    bias: F,
    u: &[f32],
    acc: &mut [f32],
) {
    let Some(f) = input_frac_bits(u) else {
        for i in 0..acc.len() {
            // SAFETY: `i < acc.len()`, and `scale` and `bias` have one entry per row of `acc` (this
            // fn's contract); every sum is 0.
            unsafe { finish(acc, i, 0.0, 1.0, scale, bias) };
        }
        return;
    };
    let (k, d) = (pow2(f), pow2(-f));
    match w {
        Matrix::ByColumn { rows, cols, values }
            if u.len() <= MAX_LIST && rows.saturating_mul(*cols) <= 1 << 16 =>
        {
            let rows = *rows;
            // `(x_j << 16) | j rows` for every x_j != 0 (`j rows < 2^16`), then a 0 word.
            let mut words = [0u32; MAX_LIST + 1];
            let mut m = 0;
            for (j, &v) in u.iter().enumerate() {
                let x = quant_input(v, k);
                if x != 0 {
                    words[m] = ((x as u32) << 16) | (j * rows) as u32;
                    m += 1;
                }
            }
            #[cfg(target_arch = "arm")]
            let first = if m > 0 && super::columns::q_blocks_apply(values, rows) {
                let mut sums = [0i32; 8];
                for b in 0..rows / 8 {
                    // SAFETY: rows `8 b .. 8 b + 8` exist; `q_blocks_apply` holds (rows a
                    // multiple of 4, a 4-aligned matrix) and every listed `j < cols`, so every
                    // read is 4-aligned and inside the matrix; the words end with 0 after
                    // `m >= 1` entries. `acc`, `scale` and `bias` have `rows` entries (this fn's
                    // contract).
                    unsafe {
                        super::columns::arm_q_blocks(values, 8 * b, &words, &mut sums);
                        for (l, &s) in sums.iter().enumerate() {
                            finish(acc, 8 * b + l, s as f32, d, scale, bias);
                        }
                    }
                }
                8 * (rows / 8)
            } else {
                0
            };
            #[cfg(not(target_arch = "arm"))]
            let first = 0;
            // SAFETY: every listed `j < cols` (the validated matrix); `acc`, `scale` and `bias`
            // have `rows` entries (this fn's contract), and `q_rows` passes rows below `rows`.
            unsafe {
                super::columns::q_rows(values, rows, &words[..m], first, |i, s| {
                    finish(acc, i, s as f32, d, scale, bias)
                });
            }
        }
        Matrix::ByColumn { rows, cols, values } => {
            for i in 0..acc.len() {
                let s: i64 = (0..*cols)
                    .map(|j| {
                        // SAFETY: `j rows + i < rows cols` (the validated matrix, `i < rows`).
                        let q = unsafe { *values.get_unchecked(j * rows + i) };
                        // SAFETY: `j < cols == u.len()`.
                        i64::from(q) * i64::from(quant_input(unsafe { *u.get_unchecked(j) }, k))
                    })
                    .sum();
                // SAFETY: `i < acc.len()`, and `scale` and `bias` have one entry per row of `acc`
                // (this fn's contract).
                unsafe { finish(acc, i, s as f32, d, scale, bias) };
            }
        }
        Matrix::Dense { cols, values, .. } if u.len() <= MAX_LIST => {
            // (x_j, j) for every x_j != 0, then a (0, 0) sentinel.
            let mut list = [0u32; 2 * MAX_LIST + 2];
            let mut m = 0;
            for (j, &v) in u.iter().enumerate() {
                let x = quant_input(v, k);
                if x != 0 {
                    list[2 * m] = x as u32;
                    list[2 * m + 1] = j as u32;
                    m += 1;
                }
            }
            #[cfg(target_arch = "arm")]
            // SAFETY: the list holds columns below `cols` (the validated matrix's width) and ends with
            // a sentinel; `values` holds `acc.len()` rows of `cols`, `scale` and `bias` one entry per
            // row (this fn's contract), as `arm::input_blocks` needs.
            let first = unsafe { arm::input_blocks(values, *cols, &list, scale, bias, d, acc) };
            #[cfg(not(target_arch = "arm"))]
            let first = 0;
            for i in first..acc.len() {
                let base = i * cols;
                let mut s = 0i32;
                for e in list[..2 * m].chunks_exact(2) {
                    // SAFETY: `j < cols`, row `i` in range.
                    let q = unsafe { *values.get_unchecked(base + e[1] as usize) };
                    s = s.wrapping_add(i32::from(q) * e[0] as i32);
                }
                // SAFETY: `i < acc.len()`, and `scale` and `bias` have one entry per row of `acc`
                // (this fn's contract).
                unsafe { finish(acc, i, s as f32, d, scale, bias) };
            }
        }
        Matrix::Dense { cols, values, .. } => {
            for i in 0..acc.len() {
                let row = &values[i * cols..(i + 1) * cols];
                let s: i64 = row
                    .iter()
                    .zip(u)
                    .map(|(&q, &v)| i64::from(q) * i64::from(quant_input(v, k)))
                    .sum();
                // SAFETY: `i < acc.len()`, and `scale` and `bias` have one entry per row of `acc`
                // (this fn's contract).
                unsafe { finish(acc, i, s as f32, d, scale, bias) };
            }
        }
        Matrix::Csr(c) => {
            for i in 0..acc.len() {
                // SAFETY: the validated matrix's stored columns are below `u.len()`, `i < acc.len()` = its
                // rows, and `scale`, `bias` have one entry per row (this fn's contract).
                unsafe {
                    let s = csr_sum(c, i, |j| i64::from(quant_input(*u.get_unchecked(j), k)));
                    finish(acc, i, s as f32, d, scale, bias);
                }
            }
        }
    }
}

/// Where unit `c` of `n4 = 4 * (n / 4)` permuted units is stored (see the module doc).
#[inline(always)]
fn perm(c: usize, n4: usize) -> usize {
    if c < n4 {
        (c & !3) | [0, 2, 1, 3][c & 3]
    } else {
        c
    }
}

/// Quantises `h` into `hq` in the readout's order (module doc) and, given `plain`, into `plain`
/// in order as `kernel::pairs::quantize` does (`plain[n] = 0`), in the same pass.
///
/// # Safety
/// `hq.len() >= h.len()`; `plain.len() > h.len()`.
#[inline(always)]
unsafe fn quantize_perm(h: &[f32], k: f32, hq: &mut [i16], plain: Option<&mut [i16]>) {
    #[cfg(target_arch = "arm")]
    let (first, plain) = {
        let aligned = |q: &[i16]| (q.as_ptr() as usize).is_multiple_of(4);
        // SAFETY: `hq.len() >= h.len()` and `plain.len() > h.len()` (this fn's contract), both
        // 4-aligned where used (just checked), as `quantize_arm` and `quantize_both_arm` need.
        unsafe {
            match plain {
                Some(p) if aligned(hq) && aligned(p) => {
                    (super::pairs::quantize_both_arm(h, k, p, hq), Some(p))
                }
                None if aligned(hq) => (super::pairs::quantize_arm(h, k, hq, true), None),
                p => (0, p),
            }
        }
    };
    #[cfg(not(target_arch = "arm"))]
    let first = 0;
    let n4 = h.len() & !3;
    for j in first..h.len() {
        // SAFETY: `perm(j) < h.len() <= hq.len()`.
        unsafe { *hq.get_unchecked_mut(perm(j, n4)) = quant_one(*h.get_unchecked(j), k) };
    }
    if let Some(p) = plain {
        // SAFETY: `plain.len() > h.len()` (this fn's contract).
        unsafe { super::pairs::quantize_portable(h, k, p, first) };
    }
}

/// `s` plus `sum_c q_c hq_c` over the columns `first..n` of the dense readout row at
/// `values[base..base + n]` (`hq` in the readout's order, `n4 = 4 * (n / 4)`).
///
/// # Safety
/// `base + n <= values.len()`, `first <= n4`, `first` a multiple of 4, `hq.len() >= n`.
#[inline(always)]
unsafe fn row_rest(
    values: &[i8],
    base: usize,
    n: usize,
    hq: &[i16],
    first: usize,
    n4: usize,
    mut s: i32,
) -> i32 {
    // SAFETY: every `a < n` and `b < n <= hq.len()` below, and `base + n <= values.len()` (this
    // fn's contract).
    let t = |a: usize, b: usize| unsafe {
        i32::from(*values.get_unchecked(base + a)) * i32::from(*hq.get_unchecked(b))
    };
    // Whole groups of 4 (stored as 0, 2, 1, 3), then the units in place.
    let mut c = first;
    while c < n4 {
        s += t(c, c) + t(c + 1, c + 2) + t(c + 2, c + 1) + t(c + 3, c + 3);
        c += 4;
    }
    while c < n {
        s += t(c, c);
        c += 1;
    }
    s
}

/// The int8 readout (module doc): `o_r = ((sum_c q_rc hq_c as f32) 2^-f) s_r + b_r`, `h` quantised
/// into the scratch `hq` and, given `plain`, also into `plain` in order (the recurrent product's
/// scratch, `kernel::pairs`), in the same pass.
///
/// # Safety
/// A validated matrix `w` of `o.len()` rows and `h.len()` columns; `scale` and `bias` with one
/// entry per row; `hq.len() >= h.len()`; `plain.len() > h.len()`.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub(crate) unsafe fn readout<F: Load<f32>, U: Load<u32>, H: Load<u16>>(
    w: &Matrix<&[i8], U, H>,
    scale: F,
    bias: F,
    frac_bits: u8,
    h: &[f32],
    hq: &mut [i16],
    plain: Option<&mut [i16]>,
    o: &mut [f32],
) {
    let (k, d) = super::pairs::factors(frac_bits);
    let n = h.len();
    let n4 = n & !3;
    // SAFETY: `hq.len() >= h.len()` and `plain.len() > h.len()` (this fn's contract), what
    // `quantize_perm` needs.
    unsafe { quantize_perm(h, k, hq, plain) };
    let hq = &*hq;
    let x = |c: usize| {
        // SAFETY: every caller passes a column `c < n` (the matrix's stored columns are below
        // n_hidden = `h.len()`), so `perm(c) < n <= hq.len()`.
        i64::from(unsafe { *hq.get_unchecked(perm(c, n4)) })
    };
    let out = |o: &mut [f32], r: usize, s: f32| {
        // SAFETY: `r < o.len()`, one scale and bias per row.
        unsafe { *o.get_unchecked_mut(r) = (s * d) * scale.at(r) + bias.at(r) };
    };
    match w {
        Matrix::Dense { cols, values, .. } if *cols <= MAX_I32_COLS => {
            let rows = o.len();
            let mut r = 0;
            while r < rows {
                #[cfg(target_arch = "arm")]
                // SAFETY: `values` holds `rows` rows of `cols` weights, `r < rows`, and `hq` has at
                // least `cols` (= `n`) entries, as `arm::rows_dot` needs.
                let (m, first, s) = unsafe { arm::rows_dot(values, *cols, r, rows, hq) };
                #[cfg(not(target_arch = "arm"))]
                let (m, first, s) = (1, 0, [0i32; ROWS]);
                for (l, &s) in s[..m].iter().enumerate() {
                    // SAFETY: row `r + l < rows` is inside `values`; `first` is 0 or
                    // `8 * (cols / 8)`, so a multiple of 4 and at most `n4` (`cols == n`);
                    // `hq.len() >= n`.
                    let s = unsafe { row_rest(values, (r + l) * cols, n, hq, first, n4, s) };
                    out(o, r + l, s as f32);
                }
                r += m;
            }
        }
        Matrix::Dense { cols, values, .. } => {
            for r in 0..o.len() {
                let row = &values[r * cols..(r + 1) * cols];
                let s: i64 = row
                    .iter()
                    .enumerate()
                    .map(|(c, &q)| i64::from(q) * x(c))
                    .sum();
                out(o, r, s as f32);
            }
        }
        Matrix::Csr(c) => {
            for r in 0..o.len() {
                // SAFETY: validated columns are below `n`.
                let s = unsafe { csr_sum(c, r, x) };
                out(o, r, s as f32);
            }
        }
        // Not written by the encoder (the validator refuses an output matrix by column); here for
        // completeness.
        m @ Matrix::ByColumn { values, .. } => {
            for r in 0..o.len() {
                let s: i64 = (0..n)
                    .filter_map(|c| Some(i64::from(*values.get(m.dense_index(r, c)?)?) * x(c)))
                    .sum();
                out(o, r, s as f32);
            }
        }
    }
}

#[cfg(target_arch = "arm")]
mod arm {
    use super::{finish, ROWS};
    use crate::format::Load;

    /// Rows `0..4 * (rows / 4)` of the dense input product over `list` (`(x, j)` pairs ending with
    /// `x = 0`), each row finished with [`finish`]; returns how many rows.
    ///
    /// # Safety
    /// As [`super::input`]; every listed `j < cols`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) unsafe fn input_blocks<F: Load<f32>>(
        values: &[i8],
        cols: usize,
        list: &[u32],
        scale: F,
        bias: F,
        d: f32,
        acc: &mut [f32],
    ) -> usize {
        let blocks = acc.len() / 4;
        let base = values.as_ptr();
        for b in 0..blocks {
            let i = 4 * b;
            let (s0, s1, s2, s3): (i32, i32, i32, i32);
            // SAFETY: rows `i..i + 4` exist, so `base + (i + l) * cols + j` is inside `values`
            // for every listed `j < cols`; the list ends with a sentinel `x = 0`. Touches only
            // the registers listed.
            unsafe {
                let r0 = base.add(i * cols);
                core::arch::asm!(
                    "2:",
                    "ldmia r4!, {{r5, r12}}",
                    "cbz r5, 3f",
                    "ldrsb lr, [r0, r12]",
                    "mla r8, lr, r5, r8",
                    "ldrsb lr, [r1, r12]",
                    "mla r9, lr, r5, r9",
                    "ldrsb lr, [r2, r12]",
                    "mla r10, lr, r5, r10",
                    "ldrsb lr, [r3, r12]",
                    "mla r11, lr, r5, r11",
                    "b 2b",
                    "3:",
                    in("r0") r0,
                    in("r1") r0.add(cols),
                    in("r2") r0.add(2 * cols),
                    in("r3") r0.add(3 * cols),
                    inout("r4") list.as_ptr() => _,
                    out("r5") _,
                    inout("r8") 0i32 => s0,
                    inout("r9") 0i32 => s1,
                    inout("r10") 0i32 => s2,
                    inout("r11") 0i32 => s3,
                    out("r12") _,
                    out("lr") _,
                    options(nostack, readonly),
                );
                for (l, s) in [s0, s1, s2, s3].into_iter().enumerate() {
                    finish(acc, i + l, s as f32, d, scale, bias);
                }
            }
        }
        4 * blocks
    }

    /// 8 columns of one row (weights at `$p`, post-incremented) into the sum `$s`, the state's
    /// 4 words (readout order) in r0-r3; r8, r9 and r10 are scratch.
    macro_rules! row8 {
        ($p:literal, $s:literal) => {
            concat!(
                "ldrd r8, r9, [",
                $p,
                "], #8\n",
                "sxtb16 r10, r8\n",
                "smlad ",
                $s,
                ", r10, r0, ",
                $s,
                "\n",
                "sxtb16 r8, r8, ror #8\n",
                "smlad ",
                $s,
                ", r8, r1, ",
                $s,
                "\n",
                "sxtb16 r10, r9\n",
                "smlad ",
                $s,
                ", r10, r2, ",
                $s,
                "\n",
                "sxtb16 r9, r9, ror #8\n",
                "smlad ",
                $s,
                ", r9, r3, ",
                $s,
                "\n",
            )
        };
    }

    /// 8 columns of 3 rows (at r4, r6, r7; sums in r11, r12, lr), the state at r5.
    macro_rules! half3 {
        () => {
            concat!(
                "ldmia r5!, {{r0-r3}}\n",
                row8!("r4", "r11"),
                row8!("r6", "r12"),
                row8!("r7", "lr"),
            )
        };
    }

    /// 8 columns of 2 rows (at r4, r6; sums in r11, r12), the state at r5.
    macro_rules! half2 {
        () => {
            concat!(
                "ldmia r5!, {{r0-r3}}\n",
                row8!("r4", "r11"),
                row8!("r6", "r12"),
            )
        };
    }

    /// The loop over the first `8 n8` columns of 2 or 3 rows (`$half`: [`half2`] or [`half3`]):
    /// rows at `$base` (row 0), `+ $cols`, `+ 2 $cols`, the state at `$hq`; evaluates to the 3
    /// sums (the third 0 for 2 rows). Unrolled twice, an odd `n8` entering at the second half;
    /// it stops when the state pointer reaches `$hq + 8 n8` (kept in `s0`).
    ///
    /// # Safety
    /// `n8 >= 1`; the rows hold `8 n8` bytes or more each and are 4-aligned, as is `$hq`, which
    /// holds `8 n8` entries or more.
    macro_rules! rows_loop {
        ($half:ident, $base:expr, $cols:expr, $hq:expr, $n8:expr) => {{
            let (a, b, c): (i32, i32, i32);
            // SAFETY: the macro's contract: the loop reads `8 n8` bytes of each row and as many
            // i16 of the state, all 4-aligned, and stops after `n8` halves (the state pointer
            // advances 8 units per half). r6 and r7 (reserved by the compiler) hold rows 1 and
            // 2 and are saved and restored on the stack; otherwise only the registers listed
            // are touched.
            unsafe {
                core::arch::asm!(
                    "push {{r6, r7}}",
                    "vmov s0, r10",
                    "add r6, r4, r9",
                    "add r7, r6, r9",
                    "cmp r8, #0",
                    "bne 3f",
                    "2:",
                    $half!(),
                    "3:",
                    $half!(),
                    "vmov r10, s0",
                    "cmp r5, r10",
                    "bne 2b",
                    "pop {{r6, r7}}",
                    inout("r4") $base => _,
                    inout("r5") $hq.as_ptr() => _,
                    inout("r8") $n8 & 1 => _,
                    inout("r9") $cols => _,
                    inout("r10") $hq.as_ptr().add(8 * $n8) => _,
                    inout("r11") 0i32 => a,
                    inout("r12") 0i32 => b,
                    inout("lr") 0i32 => c,
                    out("r0") _, out("r1") _, out("r2") _, out("r3") _,
                    out("s0") _,
                );
            }
            [a, b, c]
        }};
    }

    /// `sum_c q_c hq_c` over the first `8 * (cols / 8)` columns of readout rows `r..r + m`:
    /// returns `m`, that column count and the `m` sums (the rest 0). With `hq`, `values` and
    /// `cols` 4-aligned (so every row is), [`ROWS`] = 3 rows at a time, or the last 2 rows
    /// together; else `m = 1` (row `r` alone, [`row_dot`]).
    ///
    /// Per 8 columns: one `ldmia` of 4 words of the state, then per row one `ldrd` of 2 words of
    /// weights, 4 `sxtb16` and 4 `smlad` (28 instructions for 3 rows, 19 for 2); the loop is
    /// unrolled twice and ends on the state pointer (3 instructions per 16 columns).
    ///
    /// # Safety
    /// `values` holds `rows` rows of `cols` weights, `r < rows`, `hq.len() >= cols`.
    #[inline(always)]
    pub(super) unsafe fn rows_dot(
        values: &[i8],
        cols: usize,
        r: usize,
        rows: usize,
        hq: &[i16],
    ) -> (usize, usize, [i32; ROWS]) {
        let n8 = cols / 8;
        // SAFETY: `r < rows`, so row `r` is inside `values`.
        let base = unsafe { values.as_ptr().add(r * cols) };
        let aligned = (base as usize).is_multiple_of(4)
            && cols.is_multiple_of(4)
            && (hq.as_ptr() as usize).is_multiple_of(4);
        let m = (rows - r).min(ROWS);
        // SAFETY (both loops): rows `r..r + m` are inside `values` (`r + m <= rows`), hold
        // `cols >= 8 n8` bytes each and are 4-aligned (`aligned`), as is `hq`, which holds
        // `cols >= 8 n8` entries; `n8 >= 1`.
        match (n8 > 0 && aligned, m) {
            (true, 3) => (3, 8 * n8, rows_loop!(half3, base, cols, hq, n8)),
            (true, 2) => (2, 8 * n8, rows_loop!(half2, base, cols, hq, n8)),
            _ => {
                // SAFETY: row `r` is inside `values` (`r < rows`) and `hq.len() >= cols`.
                let (first, s) = unsafe { row_dot(core::slice::from_raw_parts(base, cols), hq) };
                (1, first, [s, 0, 0])
            }
        }
    }

    /// `sum_c q_c hq_c` over the first `8 * (row.len() / 8)` columns of a readout row (`hq` in
    /// the readout's order); returns that count and the sum; `(0, 0)` when `row` or `hq` is not
    /// 4-aligned.
    ///
    /// # Safety
    /// `hq.len() >= row.len()`.
    #[inline(always)]
    pub(super) unsafe fn row_dot(row: &[i8], hq: &[i16]) -> (usize, i32) {
        let n8 = row.len() / 8;
        let aligned =
            (row.as_ptr() as usize).is_multiple_of(4) && (hq.as_ptr() as usize).is_multiple_of(4);
        if n8 == 0 || !aligned {
            return (0, 0);
        }
        let s: i32;
        // SAFETY: reads `8 * n8` bytes of `row` and as many i16 of `hq`, both 4-aligned; touches
        // only the registers listed.
        unsafe {
            core::arch::asm!(
                "2:",
                "ldmia {w}!, {{r0, r1}}",
                "ldmia {h}!, {{r2, r3, r4, r5}}",
                "sxtb16 {t}, r0",
                "smlad {s}, {t}, r2, {s}",
                "sxtb16 r0, r0, ror #8",
                "smlad {s}, r0, r3, {s}",
                "sxtb16 {t}, r1",
                "smlad {s}, {t}, r4, {s}",
                "sxtb16 r1, r1, ror #8",
                "smlad {s}, r1, r5, {s}",
                "subs {n}, {n}, #1",
                "bne 2b",
                w = inout(reg) row.as_ptr() => _,
                h = inout(reg) hq.as_ptr() => _,
                n = inout(reg) n8 => _,
                s = inout(reg) 0i32 => s,
                t = out(reg) _,
                out("r0") _, out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                options(nostack, readonly),
            );
        }
        (8 * n8, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_format_puts_the_largest_input_in_the_top_bit() {
        assert_eq!(input_frac_bits(&[0.0, -0.0]), None);
        assert_eq!(input_frac_bits(&[0.0, 1.0]), Some(14));
        assert_eq!(input_frac_bits(&[0.5, -1.99]), Some(14));
        assert_eq!(input_frac_bits(&[0.3]), Some(16));
        assert_eq!(input_frac_bits(&[f32::INFINITY]), Some(-100));
        for f in [14, 16] {
            let k = pow2(f);
            assert!((16384..32768).contains(&quant_input(if f == 14 { 1.99 } else { 0.3 }, k)));
        }
        assert_eq!(quant_input(f32::NAN, 1.0), 0);
        assert_eq!(quant_input(-1e9, 1.0), -32768);
    }

    #[test]
    fn readout_order_swaps_the_middle_two_of_each_group_of_four() {
        let got: Vec<usize> = (0..10).map(|c| perm(c, 8)).collect();
        assert_eq!(got, [0, 2, 1, 3, 4, 6, 5, 7, 8, 9]);
    }
}
