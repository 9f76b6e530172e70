//! The recurrent product over the lane-grouped layout (`format::ell`): the [`LANES`] rows of a
//! group are summed in lockstep, one slot per row per step.
//!
//! Summation order, the same on every target: for each row, `acc = w_0 x_0` (the group's first
//! step), then `acc = acc + w_k x_k` for the following steps, each product rounded before the add
//! (no fused multiply-add; the Cortex-M4F's `vmla.f32` does not fuse either). Padding slots add
//! `+0.0 * x[0]`, which leaves a nonzero sum unchanged. A group of degree 0 gives zeros.
//!
//! Groups are taken in kernel order (rows sorted by length, `format::ell`), so each lane's sum
//! is stored at its row, read from the group header: the order within each row is unchanged,
//! only the padding shrinks.
//!
//! On 32-bit Arm with the blob read zero-copy, the f32 group loop is inline assembly (8 rows per
//! step: one `vldmia` for the 8 weights, one `ldmia` for the 8 byte offsets, then per row
//! `uxtah`/`add ... lsr #16` for the address, `vldr`, `vmla`): 28 instructions per 8 slots, against
//! about 6 per entry for the row-by-row loop LLVM emitted; per group 17 more to store the 8 sums
//! at their rows. Whole groups run there, a partial last group in the portable loop below, which
//! performs the same float operations in the same order, so the bits agree.
//!
//! Measured on the emulated Cortex-M4F (`cd firmware && cargo run --release`, default model:
//! 256 rows, 2716 stored weights), `COST ... part=recurrent`, instructions per stored weight:
//! f32 3.82 (4.13 with groups of consecutive rows, 8.36 with the row-by-row loop).
//!
//! The int8 weights have their own layout and kernel, with integer activations
//! (`format::pairs`, `kernel::pairs`).

use crate::format::{Ell, LeSlice, Load, HEADER, LANES};

/// The f32 recurrent product over one storage of the layout.
pub(crate) trait RecKernel {
    /// `acc[r] = sum_k w[r][k] x[col[r][k]]` for every row.
    ///
    /// # Safety
    /// A validated layout; `x` and `acc` of length `rows`.
    unsafe fn rec_f32(&self, x: &[f32], acc: &mut [f32]);
}

/// Entry `i` of the header of group `g` (0: degree; `2 + l`: byte offset of lane `l`'s row).
///
/// # Safety
/// `g` below the number of groups, `i < HEADER`.
#[inline(always)]
unsafe fn head<H: Load<u16>>(h: H, g: usize, i: usize) -> usize {
    // SAFETY: the caller's promise (`g` below the number of groups, `i < HEADER`) puts
    // `g * HEADER + i` inside the header array, which holds HEADER entries per group.
    usize::from(unsafe { h.at(g * HEADER + i) })
}

/// One group, portable: the lanes' sums, in the order of the module doc.
///
/// # Safety
/// Slots `base..base + LANES * d` in range; every offset `/ 4 < x.len()`.
#[inline(always)]
unsafe fn group<H: Load<u16>>(
    off: H,
    base: usize,
    d: usize,
    x: &[f32],
    w: impl Fn(usize) -> f32,
) -> [f32; LANES] {
    let mut acc = [0.0f32; LANES];
    for k in 0..d {
        for (l, a) in acc.iter_mut().enumerate() {
            let s = base + k * LANES + l;
            // SAFETY: the caller's promise: slot `s` (< `base + LANES * d`) is in range and its
            // offset / 4 is below `x.len()`.
            let t = w(s) * unsafe { *x.get_unchecked(usize::from(off.at(s)) >> 2) };
            *a = if k == 0 { t } else { *a + t };
        }
    }
    acc
}

/// Runs `one(base, d)` for groups `first..` (their slots starting at `base`) and stores each
/// lane's sum at its row of `acc` (lanes past the last row are dropped).
///
/// # Safety
/// A validated layout with `acc.len() == rows`; `base` the first slot of group `first`.
#[inline(always)]
unsafe fn each_group<H: Load<u16>>(
    h: H,
    rows: usize,
    acc: &mut [f32],
    first: usize,
    mut base: usize,
    mut one: impl FnMut(usize, usize) -> [f32; LANES],
) {
    for g in first..rows.div_ceil(LANES) {
        // SAFETY: `g` below the group count; the lanes' rows are a permutation of `0..rows`.
        unsafe {
            let d = head(h, g, 0);
            let sums = one(base, d);
            for (l, &v) in sums.iter().enumerate().take(rows - g * LANES) {
                *acc.get_unchecked_mut(head(h, g, 2 + l) >> 2) = v;
            }
            base += d * LANES;
        }
    }
}

impl RecKernel for Ell<LeSlice<'_, f32>, LeSlice<'_, u16>> {
    unsafe fn rec_f32(&self, x: &[f32], acc: &mut [f32]) {
        let (off, v) = (self.off, self.values);
        // SAFETY: a validated layout (the caller's promise): every group's slots are in range and
        // every offset / 4 is below n = `x.len()`; `acc.len() == rows`.
        unsafe {
            each_group(self.head, self.rows, acc, 0, 0, |b, d| {
                group(off, b, d, x, |s| v.at(s))
            })
        }
    }
}

impl RecKernel for Ell<&[f32], &[u16]> {
    unsafe fn rec_f32(&self, x: &[f32], acc: &mut [f32]) {
        #[cfg(target_arch = "arm")]
        // SAFETY: a validated layout with `x`, `acc` of length `rows` (the caller's promise) is
        // what `arm::rec_f32` needs; it returns the first group and slot it left undone, which
        // is what `each_group` needs.
        unsafe {
            let (first, base) = arm::rec_f32(self, x, acc);
            let (off, v) = (self.off, self.values);
            each_group(self.head, self.rows, acc, first, base, |b, d| {
                group(off, b, d, x, |s| v.at(s))
            })
        }
        #[cfg(not(target_arch = "arm"))]
        {
            let (off, v) = (self.off, self.values);
            // SAFETY: a validated layout (the caller's promise): every group's slots are in range
            // and every offset / 4 is below n = `x.len()`; `acc.len() == rows`.
            unsafe {
                each_group(self.head, self.rows, acc, 0, 0, |b, d| {
                    group(off, b, d, x, |s| v.at(s))
                })
            }
        }
    }
}

#[cfg(target_arch = "arm")]
mod arm {
    use super::{Ell, LANES};

    /// Loads 8 byte offsets, gathers the 8 values of `x` they point at into s16-s23, and multiplies
    /// (`$op` = `vmul.f32`) or multiplies and adds (`vmla.f32`) them with the weights in s8-s15
    /// into the lane sums s0-s7.
    macro_rules! gather_mac {
        ($op:literal) => {
            concat!(
                "ldmia {o}!, {{r0-r3}}\n",
                "uxtah {t}, {x}, r0\n",
                "add r0, {x}, r0, lsr #16\n",
                "vldr s16, [{t}]\n",
                "vldr s17, [r0]\n",
                "uxtah {t}, {x}, r1\n",
                "add r1, {x}, r1, lsr #16\n",
                "vldr s18, [{t}]\n",
                "vldr s19, [r1]\n",
                "uxtah {t}, {x}, r2\n",
                "add r2, {x}, r2, lsr #16\n",
                "vldr s20, [{t}]\n",
                "vldr s21, [r2]\n",
                "uxtah {t}, {x}, r3\n",
                "add r3, {x}, r3, lsr #16\n",
                "vldr s22, [{t}]\n",
                "vldr s23, [r3]\n",
                $op,
                " s0, s8, s16\n",
                $op,
                " s1, s9, s17\n",
                $op,
                " s2, s10, s18\n",
                $op,
                " s3, s11, s19\n",
                $op,
                " s4, s12, s20\n",
                $op,
                " s5, s13, s21\n",
                $op,
                " s6, s14, s22\n",
                $op,
                " s7, s15, s23\n",
            )
        };
    }

    /// Loads one step (8 weights into s8-s15, 8 byte offsets, 8 values of `x` into s16-s23) and
    /// multiplies (`$op` = `vmul.f32`, first step) or multiplies and adds (`vmla.f32`) into s0-s7.
    macro_rules! step {
        ($op:literal) => {
            concat!("vldmia {w}!, {{s8-s15}}\n", gather_mac!($op),)
        };
    }

    /// Stores the 8 sums s0-s7 of a group at their rows: the 8 row byte offsets of the group's
    /// header at `{hp}` (advanced), relative to `{acc}`.
    macro_rules! scatter {
        () => {
            concat!(
                "ldmia {hp}!, {{r0-r3}}\n",
                "uxtah {t}, {acc}, r0\n",
                "add r0, {acc}, r0, lsr #16\n",
                "vstr s0, [{t}]\n",
                "vstr s1, [r0]\n",
                "uxtah {t}, {acc}, r1\n",
                "add r1, {acc}, r1, lsr #16\n",
                "vstr s2, [{t}]\n",
                "vstr s3, [r1]\n",
                "uxtah {t}, {acc}, r2\n",
                "add r2, {acc}, r2, lsr #16\n",
                "vstr s4, [{t}]\n",
                "vstr s5, [r2]\n",
                "uxtah {t}, {acc}, r3\n",
                "add r3, {acc}, r3, lsr #16\n",
                "vstr s6, [{t}]\n",
                "vstr s7, [r3]\n",
            )
        };
    }

    /// The registers every block below clobbers, besides its named operands.
    macro_rules! block {
        ($($body:expr),* ; $($operands:tt)*) => {
            core::arch::asm!(
                $($body),*,
                $($operands)*
                out("r0") _, out("r1") _, out("r2") _, out("r3") _,
                out("s0") _, out("s1") _, out("s2") _, out("s3") _,
                out("s4") _, out("s5") _, out("s6") _, out("s7") _,
                out("s8") _, out("s9") _, out("s10") _, out("s11") _,
                out("s12") _, out("s13") _, out("s14") _, out("s15") _,
                out("s16") _, out("s17") _, out("s18") _, out("s19") _,
                out("s20") _, out("s21") _, out("s22") _, out("s23") _,
                options(nostack),
            )
        };
    }

    /// The group loop around one step macro (`$first` for step 0, `$next` after): per group, the
    /// degree (a u32 whose high half is the header's zero), the steps, then the scatter.
    macro_rules! group_loop {
        ($first:expr, $next:expr) => {
            concat!(
                "2:\n",
                "ldr {d}, [{hp}], #4\n",
                "cmp {d}, #0\n",
                "beq 5f\n",
                $first,
                "subs {d}, {d}, #1\n",
                "beq 4f\n",
                "3:\n",
                $next,
                "subs {d}, {d}, #1\n",
                "bne 3b\n",
                "4:\n",
                scatter!(),
                "subs {n}, {n}, #1\n",
                "bne 2b\n",
                "b 6f\n",
                "5:\n",
                "movs r0, #0\n",
                "vmov s0, s1, r0, r0\n",
                "vmov s2, s3, r0, r0\n",
                "vmov s4, s5, r0, r0\n",
                "vmov s6, s7, r0, r0\n",
                "b 4b\n",
                "6:\n",
            )
        };
    }

    /// `n >= 1` whole groups: headers at `*hp`, weights at `*w`, offsets at `*o` (all advanced);
    /// each lane's sum stored at its row of `acc`.
    ///
    /// # Safety
    /// `n >= 1` whole groups of a validated layout at `*hp`; `*hp`, `*o`, `*w` 4-aligned with the
    /// groups' slots readable; every offset within `x`; `acc` has the layout's `rows` floats.
    #[inline(always)]
    unsafe fn groups(
        x: *const f32,
        hp: &mut *const u16,
        o: &mut *const u16,
        w: &mut *const f32,
        acc: *mut f32,
        n: usize,
    ) {
        // SAFETY: the caller's contract; touches only the registers listed.
        unsafe {
            block!(
                group_loop!(step!("vmul.f32"), step!("vmla.f32"));
                x = in(reg) x,
                hp = inout(reg) *hp,
                o = inout(reg) *o,
                w = inout(reg) *w,
                acc = in(reg) acc,
                n = inout(reg) n => _,
                d = out(reg) _,
                t = out(reg) _,
            );
        }
    }

    /// The f32 product of the whole groups (the lanes scattered to their rows of `acc`); returns
    /// the next group and its first slot, for the portable loop to finish the partial last group.
    ///
    /// # Safety
    /// As [`super::RecKernel::rec_f32`] on a zero-copy (4-aligned) layout.
    pub(super) unsafe fn rec_f32(
        e: &Ell<&[f32], &[u16]>,
        x: &[f32],
        acc: &mut [f32],
    ) -> (usize, usize) {
        let (mut hp, mut o, mut w) = (e.head.as_ptr(), e.off.as_ptr(), e.values.as_ptr());
        let whole = e.rows / LANES;
        if whole > 0 {
            // SAFETY: `acc` has `rows` floats and the lanes' rows are below `rows`; slots and
            // offsets validated; the pointers advance group by group and stay 4-aligned
            // (headers are 20 bytes, groups hold multiples of 8 slots).
            unsafe { groups(x.as_ptr(), &mut hp, &mut o, &mut w, acc.as_mut_ptr(), whole) };
        }
        // SAFETY: `w` advanced within `values`.
        (whole, unsafe { w.offset_from(e.values.as_ptr()) } as usize)
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::format::{CsrRepr, ModelView};

    /// The documented order, written out per row over the compressed rows: first product, then
    /// `acc + product` for the row's other entries, then `acc + 0.0 * x[0]` once per padding slot.
    #[test]
    fn lockstep_sum_is_the_documented_per_row_order() {
        let n = 21;
        let mut d = vec![0.0f32; n * n];
        for r in 0..n {
            for c in 0..n {
                if (r + 2 * c) % (r % 4 + 2) == 0 && !(8..16).contains(&r) {
                    d[r * n + c] = ((r * 31 + c * 17) % 23) as f32 / 7.0 - 1.5;
                }
            }
        }
        let m = CsrRepr::from_dense(n, n, &d, |w| w != 0.0);
        let repr = crate::format::ModelRepr {
            n_inputs: 1,
            n_hidden: n,
            n_outputs: 1,
            sheet_rows: 5,
            sheet_cols: 5,
            pitch: 1.0,
            positions: (0..n as u16).map(|u| (u / 5, u % 5)).collect(),
            recurrent: m.clone(),
            input: crate::format::MatrixRepr::compact(n, 1, &vec![0.5; n]),
            output: crate::format::MatrixRepr::compact(1, n, &vec![0.5; n]),
            b_h: vec![0.0; n],
            b_o: vec![0.0],
            activation: crate::format::Activation::Tanh,
            alpha: 1.0,
            readout: crate::format::Readout::Argmax,
            tasks: Vec::new(),
            wiring_length: 0.0,
            active_connections: 0,
            seed: 0,
            int8: None,
            weights: crate::format::Weights::F32,
            layout: crate::format::RecLayout::Rows,
        };
        let blob = repr.to_bytes().unwrap();
        // An aligned copy (zero-copy path) and a misaligned one (little-endian reads).
        let mut words = vec![0u32; blob.len() / 4 + 2];
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut words);
        bytes[..blob.len()].copy_from_slice(&blob);
        bytes[1..=blob.len()].copy_from_slice(&blob);
        let mut aligned = vec![0u32; blob.len().div_ceil(4)];
        bytemuck::cast_slice_mut::<u32, u8>(&mut aligned)[..blob.len()].copy_from_slice(&blob);
        let fast = ModelView::from_bytes(&bytemuck::cast_slice(&aligned)[..blob.len()]).unwrap();
        let slow = ModelView::from_bytes(&bytes[1..=blob.len()]).unwrap();
        assert!(fast.is_zero_copy() && !slow.is_zero_copy());
        let x: Vec<f32> = (0..n).map(|j| (j as f32 * 0.37).sin()).collect();
        // Kernel order: longest rows first, ties by index; groups of LANES in that order.
        let len = |r: usize| (m.row_ptr[r + 1] - m.row_ptr[r]) as usize;
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| len(b).cmp(&len(a)).then(a.cmp(&b)));
        let mut want = vec![0.0f32; n];
        for rows in order.chunks(LANES) {
            let deg = rows.iter().map(|&r| len(r)).max().unwrap();
            for &r in rows {
                let s = m.row_ptr[r] as usize;
                let mut acc = 0.0f32;
                for k in 0..deg {
                    let t = if k < len(r) {
                        m.values[s + k] * x[usize::from(m.col_idx[s + k])]
                    } else {
                        0.0 * x[0]
                    };
                    acc = if k == 0 { t } else { acc + t };
                }
                want[r] = acc;
            }
        }
        for view in [fast, slow] {
            let mut got = vec![f32::NAN; n];
            crate::kernel::phase::recurrent(&view, &x, &mut got, None).unwrap();
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want));
            assert!(got[8..16].iter().all(|&v| v == 0.0));
        }
    }
}
