//! The input product over a dense input matrix stored by column (`format::Matrix::ByColumn`,
//! format version 6), f32 and int8: per step the nonzero inputs are listed once, and every row
//! sums over the list, reading for each listed input `j` the weights of column `j`, which lie side
//! by side for consecutive rows (one load brings a block of rows' weights).
//!
//! **f32.** `acc_i = (acc_i + s_i) + b_i` with `s_i` the sum over the listed inputs, in increasing
//! `j`, of `w_ij u_j`: one accumulator per row starting at `+0.0`, each product rounded, then the
//! sum (`kernel::sparse::seq_dot`, the order of the row-major loop this replaces, so the same
//! bits). On Cortex-M4F the whole blocks of 16 rows of a zero-copy blob run in inline assembly:
//! per listed input one `ldrh` of `j`, one `vldmia` of `u_j` (the listed inputs' values, copied
//! once per step), one `mla` for the address of the block's weights in column `j`, two `vldmia` of
//! 8 weights and 16 `vmla.f32` into s0-s15 (23 instructions per 16 products, with the loop); per
//! block a `vldmia` of 16 zeros, then `vldmia`/8 `vadd` for `acc`, `vldmia`/8 `vadd` for `b`,
//! `vstmia`, twice.
//!
//! **int8** (`kernel::qio` quantises the inputs: `x_j = sat16(trunc(u_j 2^f_u))`). Each row's
//! sum `S_i = sum q_ij x_j` over the listed `j` is an exact i32 (at most 256 terms of
//! `|q x| <= 127 * 32768`). On Cortex-M4F, 8 rows at a time (whole blocks, rows a multiple of 4,
//! `rows * cols <= 65,536`, a 4-aligned matrix): one list word `(x_j << 16) | j rows` per listed
//! input, then `uxtah` for the address, one `ldrd` of the 8 rows' weights, 4 `sxtb16` and 8
//! `smlabt`/`smlatt` (17 instructions per 8 products, with the loop).

use crate::format::Load;

/// Rows summed side by side by the portable loops: a block's sums live in a stack array, and each
/// listed column adds to all of them (contiguous weights: the compiler vectorises the inner loop).
const CHUNK: usize = 64;

/// The f32 input product by column of rows `first..`, portable: `acc_i = (acc_i + s_i) + b_i`
/// (module doc), [`CHUNK`] rows at a time, each row's terms in the listed order.
///
/// # Safety
/// `values` holds `acc.len() * cols` weights column-major, every `nz[k] < cols == u.len()`, `b`
/// has `acc.len()` entries.
#[inline(always)]
pub(crate) unsafe fn f32_rows<F: Load<f32>>(
    values: F,
    nz: &[u16],
    u: &[f32],
    b: F,
    acc: &mut [f32],
    first: usize,
) {
    let rows = acc.len();
    let mut i0 = first;
    while i0 < rows {
        let len = (rows - i0).min(CHUNK);
        let mut s = [0.0f32; CHUNK];
        for &j in nz {
            let j = usize::from(j);
            // SAFETY: `j < cols == u.len()`, so `j rows + i0 + l < rows cols` for `l < len`
            // (this fn's contract).
            unsafe {
                let x = *u.get_unchecked(j);
                let col = j * rows + i0;
                for (l, a) in s.iter_mut().enumerate().take(len) {
                    *a += values.at(col + l) * x;
                }
            }
        }
        for (l, &v) in s.iter().enumerate().take(len) {
            // SAFETY: `i0 + l < rows`, one bias per row (this fn's contract).
            unsafe {
                let a = acc.get_unchecked_mut(i0 + l);
                *a = *a + v + b.at(i0 + l);
            }
        }
        i0 += len;
    }
}

/// The f32 input product by column (module doc), for the weights as read from a blob.
pub(crate) trait ColumnInput: Load<f32> {
    /// `acc_i = (acc_i + s_i) + b_i` for every row.
    ///
    /// # Safety
    /// As [`f32_rows`].
    #[inline(always)]
    unsafe fn column_input(self, nz: &[u16], u: &[f32], b: Self, acc: &mut [f32]) {
        // SAFETY: the caller's promise.
        unsafe { f32_rows(self, nz, u, b, acc, 0) }
    }
}

impl ColumnInput for crate::format::LeSlice<'_, f32> {}

impl ColumnInput for &[f32] {
    #[inline(always)]
    unsafe fn column_input(self, nz: &[u16], u: &[f32], b: Self, acc: &mut [f32]) {
        #[cfg(target_arch = "arm")]
        // SAFETY: the caller's promise is what `arm::f32_blocks` needs.
        let first = unsafe { arm::f32_blocks(self, nz, u, b, acc) };
        #[cfg(not(target_arch = "arm"))]
        let first = 0;
        // SAFETY: the caller's promise; `first <= acc.len()`.
        unsafe { f32_rows(self, nz, u, b, acc, first) }
    }
}

/// The int8 sums `S_i = sum_k q[j_k rows + i] x_k` of rows `first..rows` of a column-major
/// matrix over a list of words `(x_k << 16) | j_k rows` (portable; exact i32, module doc),
/// [`CHUNK`] rows at a time; `done(i, S_i)` for each row in order.
///
/// # Safety
/// Every listed `j < cols`, `values` of `rows * cols <= 2^16` entries.
#[inline(always)]
pub(crate) unsafe fn q_rows(
    values: &[i8],
    rows: usize,
    list: &[u32],
    first: usize,
    mut done: impl FnMut(usize, i32),
) {
    let mut i0 = first;
    while i0 < rows {
        let len = (rows - i0).min(CHUNK);
        let mut s = [0i32; CHUNK];
        for &w in list {
            let (x, col) = ((w as i32) >> 16, (w & 0xffff) as usize + i0);
            // SAFETY: `j < cols`, so `col + len <= rows cols` (this fn's contract).
            let q = unsafe { values.get_unchecked(col..col + len) };
            for (a, &q) in s.iter_mut().zip(q) {
                *a = a.wrapping_add(i32::from(q) * x);
            }
        }
        for (l, &v) in s.iter().enumerate().take(len) {
            done(i0 + l, v);
        }
        i0 += len;
    }
}

/// Whether the int8 blocks of [`arm_q_blocks`] apply (the list words need `rows * cols <=
/// 65,536` besides): rows a multiple of 4 and a 4-aligned matrix, so every `ldrd` is aligned.
#[cfg(target_arch = "arm")]
pub(crate) fn q_blocks_apply(values: &[i8], rows: usize) -> bool {
    rows.is_multiple_of(4) && (values.as_ptr() as usize).is_multiple_of(4)
}

#[cfg(target_arch = "arm")]
pub(crate) use arm::q_block as arm_q_blocks;

#[cfg(target_arch = "arm")]
mod arm {
    /// 16 zeros, loaded by one `vldmia` to start the sums of a block.
    static ZEROS: [f32; 16] = [0.0; 16];

    /// The next 8 weights of the listed column (at `{t}`, post-incremented) times `u_j` (s24)
    /// added into the 8 sums `$s`: one `vldmia` and 8 `vmla.f32` (the product rounded, then the
    /// sum, as the portable `s + w u`).
    macro_rules! mla8 {
        ($s0:literal, $s1:literal, $s2:literal, $s3:literal,
         $s4:literal, $s5:literal, $s6:literal, $s7:literal) => {
            concat!(
                "vldmia {t}!, {{s16-s23}}\n",
                "vmla.f32 ",
                $s0,
                ", s16, s24\n",
                "vmla.f32 ",
                $s1,
                ", s17, s24\n",
                "vmla.f32 ",
                $s2,
                ", s18, s24\n",
                "vmla.f32 ",
                $s3,
                ", s19, s24\n",
                "vmla.f32 ",
                $s4,
                ", s20, s24\n",
                "vmla.f32 ",
                $s5,
                ", s21, s24\n",
                "vmla.f32 ",
                $s6,
                ", s22, s24\n",
                "vmla.f32 ",
                $s7,
                ", s23, s24\n",
            )
        };
    }

    /// `acc = (acc + s) + b` for the next 8 rows (at `{ap}`, post-incremented; biases at `{bp}`,
    /// post-incremented) from the 8 sums `$s`: 2 `vldmia`, 16 `vadd.f32`, one `vstmia`.
    macro_rules! finish8 {
        ($s0:literal, $s1:literal, $s2:literal, $s3:literal,
         $s4:literal, $s5:literal, $s6:literal, $s7:literal) => {
            concat!(
                "vldmia {ap}, {{s16-s23}}\n",
                "vldmia {bp}!, {{s24-s31}}\n",
                "vadd.f32 s16, s16, ",
                $s0,
                "\n",
                "vadd.f32 s17, s17, ",
                $s1,
                "\n",
                "vadd.f32 s18, s18, ",
                $s2,
                "\n",
                "vadd.f32 s19, s19, ",
                $s3,
                "\n",
                "vadd.f32 s20, s20, ",
                $s4,
                "\n",
                "vadd.f32 s21, s21, ",
                $s5,
                "\n",
                "vadd.f32 s22, s22, ",
                $s6,
                "\n",
                "vadd.f32 s23, s23, ",
                $s7,
                "\n",
                "vadd.f32 s16, s16, s24\n",
                "vadd.f32 s17, s17, s25\n",
                "vadd.f32 s18, s18, s26\n",
                "vadd.f32 s19, s19, s27\n",
                "vadd.f32 s20, s20, s28\n",
                "vadd.f32 s21, s21, s29\n",
                "vadd.f32 s22, s22, s30\n",
                "vadd.f32 s23, s23, s31\n",
                "vstmia {ap}!, {{s16-s23}}\n",
            )
        };
    }

    /// The whole blocks of 16 rows (module doc); returns how many rows they cover.
    ///
    /// # Safety
    /// As [`super::f32_rows`].
    #[inline(always)]
    pub(super) unsafe fn f32_blocks(
        values: &[f32],
        nz: &[u16],
        u: &[f32],
        b: &[f32],
        acc: &mut [f32],
    ) -> usize {
        let rows = acc.len();
        let blocks = rows / 16;
        let m = nz.len();
        if blocks == 0 || m == 0 {
            return 0;
        }
        // u_j per listed input (its column's offset is computed from j: `mla`).
        let mut x = [0.0f32; super::super::sparse::MAX_SPARSE_INPUTS];
        for (x, &j) in x.iter_mut().zip(nz) {
            // SAFETY: `j < u.len()` (the caller's promise).
            *x = unsafe { *u.get_unchecked(usize::from(j)) };
        }
        // SAFETY: per block, the listed columns' 16 weights at `values + 4 (j rows + 16 blk)` lie
        // inside `values` (`j < cols`, whole blocks only); `acc` and `b` have `rows` floats, of
        // which the whole blocks are read and written; `nz` and `x` hold `m >= 1` entries; every
        // float pointer is 4-aligned (f32 slices), as `vldmia`/`vstmia` need. Touches only the
        // registers listed.
        unsafe {
            core::arch::asm!(
                "2:",
                "vldmia {z}, {{s0-s15}}",
                "mov {np}, {n0}",
                "mov {xp}, {x0}",
                "3:",
                "ldrh {t}, [{np}], #2",
                "vldmia {xp}!, {{s24}}",
                "mla {t}, {t}, {rb}, {wb}",
                mla8!("s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"),
                mla8!("s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15"),
                "cmp {np}, {ne}",
                "bne 3b",
                finish8!("s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"),
                finish8!("s8", "s9", "s10", "s11", "s12", "s13", "s14", "s15"),
                "add {wb}, {wb}, #64",
                "subs {n}, {n}, #1",
                "bne 2b",
                z = in(reg) ZEROS.as_ptr(),
                n0 = in(reg) nz.as_ptr(),
                ne = in(reg) nz.as_ptr().add(m),
                x0 = in(reg) x.as_ptr(),
                rb = in(reg) 4 * rows,
                wb = inout(reg) values.as_ptr() => _,
                ap = inout(reg) acc.as_mut_ptr() => _,
                bp = inout(reg) b.as_ptr() => _,
                n = inout(reg) blocks => _,
                np = out(reg) _,
                xp = out(reg) _,
                t = out(reg) _,
                out("s0") _, out("s1") _, out("s2") _, out("s3") _,
                out("s4") _, out("s5") _, out("s6") _, out("s7") _,
                out("s8") _, out("s9") _, out("s10") _, out("s11") _,
                out("s12") _, out("s13") _, out("s14") _, out("s15") _,
                out("s16") _, out("s17") _, out("s18") _, out("s19") _,
                out("s20") _, out("s21") _, out("s22") _, out("s23") _,
                out("s24") _, out("s25") _, out("s26") _, out("s27") _,
                out("s28") _, out("s29") _, out("s30") _, out("s31") _,
                options(nostack),
            );
        }
        16 * blocks
    }

    /// The 8 sums of rows `i..i + 8` over `list` (words `(x << 16) | j rows`, `x != 0`, ending
    /// with a 0 word, at least one entry), written to `out`.
    ///
    /// # Safety
    /// `values + i + j rows .. + 8` inside the matrix and 4-aligned for every listed `j` (see
    /// [`super::q_blocks_apply`]), `i + 8 <= rows`.
    #[inline(always)]
    pub(crate) unsafe fn q_block(values: &[i8], i: usize, list: &[u32], out: &mut [i32; 8]) {
        // SAFETY: the caller's promise: every `ldrd` reads 8 bytes of the matrix at a 4-aligned
        // address; the list is read up to its 0 word. r6 and r7 (reserved by the compiler) are
        // saved on the stack with the output pointer and restored; the 8 sums are stored through
        // that pointer (8 words). Touches only the registers listed.
        unsafe {
            core::arch::asm!(
                "push {{r0, r6, r7}}",
                "ldr r7, [r12], #4",
                "uxtah r9, lr, r7",
                "ldrd r9, r10, [r9]",
                "sxtb16 r11, r9",
                "smulbt r0, r11, r7",
                "smultt r2, r11, r7",
                "sxtb16 r9, r9, ror #8",
                "smulbt r1, r9, r7",
                "smultt r3, r9, r7",
                "sxtb16 r11, r10",
                "smulbt r4, r11, r7",
                "smultt r6, r11, r7",
                "sxtb16 r10, r10, ror #8",
                "smulbt r5, r10, r7",
                "smultt r8, r10, r7",
                "2:",
                "ldr r7, [r12], #4",
                "cbz r7, 3f",
                "uxtah r9, lr, r7",
                "ldrd r9, r10, [r9]",
                "sxtb16 r11, r9",
                "smlabt r0, r11, r7, r0",
                "smlatt r2, r11, r7, r2",
                "sxtb16 r9, r9, ror #8",
                "smlabt r1, r9, r7, r1",
                "smlatt r3, r9, r7, r3",
                "sxtb16 r11, r10",
                "smlabt r4, r11, r7, r4",
                "smlatt r6, r11, r7, r6",
                "sxtb16 r10, r10, ror #8",
                "smlabt r5, r10, r7, r5",
                "smlatt r8, r10, r7, r8",
                "b 2b",
                "3:",
                "ldr r9, [sp]",
                "stmia r9!, {{r0-r6}}",
                "str r8, [r9]",
                "pop {{r0, r6, r7}}",
                inout("r0") out.as_mut_ptr() => _,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _,
                inout("r12") list.as_ptr() => _,
                inout("lr") values.as_ptr().add(i) => _,
            );
        }
    }
}
