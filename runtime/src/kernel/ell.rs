//! The recurrent product over the lane-grouped layout (`format::ell`): the [`LANES`] rows of a
//! group are summed in lockstep, one slot per row per step.
//!
//! Summation order, the same on every target: for each row, `acc = w_0 x_0` (the group's first
//! step), then `acc = acc + w_k x_k` for the following steps, each product rounded before the add
//! (no fused multiply-add; the Cortex-M4F's `vmla.f32` does not fuse either). Padding slots add
//! `+0.0 * x[0]`, which leaves a nonzero sum unchanged. A group of degree 0 gives zeros.
//!
//! On 32-bit Arm with the blob read zero-copy, the f32 group loop is inline assembly (8 rows per
//! step: one `vldmia` for the 8 weights, one `ldmia` for the 8 byte offsets, then per row
//! `uxtah`/`add ... lsr #16` for the address, `vldr`, `vmla`): 28 instructions per 8 slots, against
//! about 6 per entry for the row-by-row loop LLVM emitted. Everywhere else the portable loop below
//! runs; it performs the same float operations in the same order, so the bits agree.
//!
//! int8: the weights are converted to f32 (exact) and summed in the same order; the row's scale
//! multiplies the sum once, as before. On Arm the same lockstep loop widens the 8 weights of a step
//! itself (`ldrd`, `sxtb`, `vmov`, `vcvt.f32.s32`: 21 instructions), 48 per 8 slots in all; the
//! float accumulation keeps the f32 path's numerics. Getting int8 to the f32 path's cost would
//! need integer activations (quantised `h`, `smla*` MACs), which changes the int8 numerics.
//!
//! Measured on the emulated Cortex-M4F (`cd firmware && cargo run --release`, default model: 249
//! rows, 2861 stored weights, 3112 slots with padding), `COST ... part=recurrent`: f32 3.92
//! instructions per stored weight (8.36 with the earlier row-by-row loop), int8 7.11 (11.48).

use crate::format::{Ell, LeSlice, Load, LANES};

/// The f32 and int8 recurrent products over one storage of the layout.
pub(crate) trait RecKernel {
    /// `acc[r] = sum_k w[r][k] x[col[r][k]]` for every row.
    ///
    /// # Safety
    /// A validated layout; `x` and `acc` of length `rows`.
    unsafe fn rec_f32(&self, x: &[f32], acc: &mut [f32]);

    /// `acc[r] = scale(r) * sum_k q[r][k] x[col[r][k]]`, `q` in slot order.
    ///
    /// # Safety
    /// As [`RecKernel::rec_f32`]; `q` has one entry per slot.
    unsafe fn rec_i8(&self, q: &[i8], scale: impl Fn(usize) -> f32, x: &[f32], acc: &mut [f32]);
}

/// Degree of group `g` and the first slot of the next group.
///
/// # Safety
/// `g` below the number of groups.
#[inline(always)]
unsafe fn degree<H: Load<u16>>(deg: H, g: usize) -> usize {
    // SAFETY: forwarded.
    usize::from(unsafe { deg.at(g) })
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
            // SAFETY: forwarded.
            let t = w(s) * unsafe { *x.get_unchecked(usize::from(off.at(s)) >> 2) };
            *a = if k == 0 { t } else { *a + t };
        }
    }
    acc
}

/// Runs `one(g, base, d)` for every group and stores its lanes into `acc` (the last group only
/// its real rows).
#[inline(always)]
unsafe fn each_group<H: Load<u16>>(
    deg: H,
    rows: usize,
    acc: &mut [f32],
    mut one: impl FnMut(usize, usize) -> [f32; LANES],
) {
    let mut base = 0;
    for (g, dst) in acc.chunks_mut(LANES).enumerate().take(rows.div_ceil(LANES)) {
        // SAFETY: `g` below the group count (validated: `rows.div_ceil(LANES)` degrees).
        let d = unsafe { degree(deg, g) };
        let sums = one(base, d);
        dst.copy_from_slice(&sums[..dst.len()]);
        base += d * LANES;
    }
}

impl RecKernel for Ell<LeSlice<'_, f32>, LeSlice<'_, u16>> {
    unsafe fn rec_f32(&self, x: &[f32], acc: &mut [f32]) {
        let (off, v) = (self.off, self.values);
        // SAFETY: forwarded; slots and offsets validated.
        unsafe {
            each_group(self.deg, self.rows, acc, |b, d| {
                group(off, b, d, x, |s| v.at(s))
            })
        }
    }

    unsafe fn rec_i8(&self, q: &[i8], scale: impl Fn(usize) -> f32, x: &[f32], acc: &mut [f32]) {
        // SAFETY: forwarded.
        unsafe { rec_i8_portable(self.deg, self.off, self.rows, q, scale, x, acc) }
    }
}

/// The int8 product, portable (both storages).
///
/// # Safety
/// As [`RecKernel::rec_i8`].
#[inline(always)]
unsafe fn rec_i8_portable<H: Load<u16>>(
    deg: H,
    off: H,
    rows: usize,
    q: &[i8],
    scale: impl Fn(usize) -> f32,
    x: &[f32],
    acc: &mut [f32],
) {
    // SAFETY: forwarded; `q` has one entry per slot.
    unsafe {
        each_group(deg, rows, acc, |b, d| {
            group(off, b, d, x, |s| f32::from(*q.get_unchecked(s)))
        })
    };
    for (i, a) in acc.iter_mut().enumerate() {
        *a *= scale(i);
    }
}

impl RecKernel for Ell<&[f32], &[u16]> {
    unsafe fn rec_f32(&self, x: &[f32], acc: &mut [f32]) {
        #[cfg(target_arch = "arm")]
        // SAFETY: forwarded.
        unsafe {
            arm::rec_f32(self, x, acc)
        }
        #[cfg(not(target_arch = "arm"))]
        {
            let (off, v) = (self.off, self.values);
            // SAFETY: forwarded; slots and offsets validated.
            unsafe {
                each_group(self.deg, self.rows, acc, |b, d| {
                    group(off, b, d, x, |s| v.at(s))
                })
            }
        }
    }

    unsafe fn rec_i8(&self, q: &[i8], scale: impl Fn(usize) -> f32, x: &[f32], acc: &mut [f32]) {
        #[cfg(target_arch = "arm")]
        // SAFETY: forwarded; `q` is 4-aligned when it is not empty.
        unsafe {
            if (q.as_ptr() as usize) % 4 == 0 {
                arm::rec_i8(self, q, scale, x, acc)
            } else {
                rec_i8_portable(self.deg, self.off, self.rows, q, scale, x, acc)
            }
        }
        #[cfg(not(target_arch = "arm"))]
        // SAFETY: forwarded.
        unsafe {
            rec_i8_portable(self.deg, self.off, self.rows, q, scale, x, acc)
        }
    }
}

#[cfg(target_arch = "arm")]
mod arm {
    use super::{Ell, LANES};

    /// Loads one step (8 weights into s8-s15, 8 byte offsets, 8 values of `x` into s16-s23) and
    /// multiplies (`$op` = `vmul.f32`, first step) or multiplies and adds (`vmla.f32`) into s0-s7.
    macro_rules! step {
        ($op:literal) => {
            concat!(
                "vldmia {w}!, {{s8-s15}}\n",
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

    /// Loads 8 int8 weights (two words at `{q}`, as f32 into s8-s15), then the offsets and the 8
    /// values of `x` like [`step`], and multiplies (`vmul.f32`) or multiplies and adds
    /// (`vmla.f32`) into s0-s7.
    macro_rules! step_q {
        ($op:literal) => {
            concat!(
                "ldrd {t}, {u}, [{q}], #8\n",
                "sxtb r0, {t}\n",
                "sxtb r1, {t}, ror #8\n",
                "sxtb r2, {t}, ror #16\n",
                "asrs r3, {t}, #24\n",
                "vmov s8, s9, r0, r1\n",
                "vmov s10, s11, r2, r3\n",
                "sxtb r0, {u}\n",
                "sxtb r1, {u}, ror #8\n",
                "sxtb r2, {u}, ror #16\n",
                "asrs r3, {u}, #24\n",
                "vmov s12, s13, r0, r1\n",
                "vmov s14, s15, r2, r3\n",
                "vcvt.f32.s32 s8, s8\n",
                "vcvt.f32.s32 s9, s9\n",
                "vcvt.f32.s32 s10, s10\n",
                "vcvt.f32.s32 s11, s11\n",
                "vcvt.f32.s32 s12, s12\n",
                "vcvt.f32.s32 s13, s13\n",
                "vcvt.f32.s32 s14, s14\n",
                "vcvt.f32.s32 s15, s15\n",
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

    /// `n >= 1` whole groups: degrees at `*dp`, weights at `*w`, offsets at `*o` (all advanced),
    /// the 8 sums of each group stored at `*acc` onwards (advanced too).
    ///
    /// # Safety
    /// `n >= 1`; `n` degrees at `*dp`; `*o`, `*w` 4-aligned with the groups' slots readable;
    /// every offset within `x`; `8 n` writable floats at `*acc`.
    #[inline(always)]
    unsafe fn groups(
        x: *const f32,
        dp: &mut *const u16,
        o: &mut *const u16,
        w: &mut *const f32,
        acc: &mut *mut f32,
        n: usize,
    ) {
        // SAFETY: the caller's contract; touches only the registers listed.
        unsafe {
            block!(
                "2:",
                "ldrh {d}, [{dp}], #2",
                "cmp {d}, #0",
                "beq 5f",
                step!("vmul.f32"),
                "subs {d}, {d}, #1",
                "beq 4f",
                "3:",
                step!("vmla.f32"),
                "subs {d}, {d}, #1",
                "bne 3b",
                "4:",
                "vstmia {acc}!, {{s0-s7}}",
                "subs {n}, {n}, #1",
                "bne 2b",
                "b 6f",
                "5:",
                "movs r0, #0",
                "vmov s0, s1, r0, r0",
                "vmov s2, s3, r0, r0",
                "vmov s4, s5, r0, r0",
                "vmov s6, s7, r0, r0",
                "b 4b",
                "6:";
                x = in(reg) x,
                dp = inout(reg) *dp,
                o = inout(reg) *o,
                w = inout(reg) *w,
                acc = inout(reg) *acc,
                n = inout(reg) n => _,
                d = out(reg) _,
                t = out(reg) _,
            );
        }
    }

    /// [`groups`] with int8 weights (`*q`, one byte per slot, 4-aligned; advanced).
    ///
    /// # Safety
    /// As [`groups`], with the int8 weights of the groups' slots readable at `*q`.
    #[inline(always)]
    unsafe fn groups_q(
        x: *const f32,
        dp: &mut *const u16,
        o: &mut *const u16,
        q: &mut *const i8,
        acc: &mut *mut f32,
        n: usize,
    ) {
        // SAFETY: the caller's contract; touches only the registers listed.
        unsafe {
            block!(
                "2:",
                "ldrh {d}, [{dp}], #2",
                "cmp {d}, #0",
                "beq 5f",
                step_q!("vmul.f32"),
                "subs {d}, {d}, #1",
                "beq 4f",
                "3:",
                step_q!("vmla.f32"),
                "subs {d}, {d}, #1",
                "bne 3b",
                "4:",
                "vstmia {acc}!, {{s0-s7}}",
                "subs {n}, {n}, #1",
                "bne 2b",
                "b 6f",
                "5:",
                "movs r0, #0",
                "vmov s0, s1, r0, r0",
                "vmov s2, s3, r0, r0",
                "vmov s4, s5, r0, r0",
                "vmov s6, s7, r0, r0",
                "b 4b",
                "6:";
                x = in(reg) x,
                dp = inout(reg) *dp,
                o = inout(reg) *o,
                q = inout(reg) *q,
                acc = inout(reg) *acc,
                n = inout(reg) n => _,
                d = out(reg) _,
                t = out(reg) _,
                u = out(reg) _,
            );
        }
    }

    /// The int8 product (sums of `q x` as in [`rec_f32`], then the row scales).
    ///
    /// # Safety
    /// As [`super::RecKernel::rec_i8`] on a zero-copy layout; `q` 4-aligned.
    pub(super) unsafe fn rec_i8(
        e: &Ell<&[f32], &[u16]>,
        q: &[i8],
        scale: impl Fn(usize) -> f32,
        x: &[f32],
        acc: &mut [f32],
    ) {
        let (mut dp, mut o, mut qp) = (e.deg.as_ptr(), e.off.as_ptr(), q.as_ptr());
        let (whole, rest) = (e.rows / LANES, e.rows % LANES);
        let (xp, mut out) = (x.as_ptr(), acc.as_mut_ptr());
        // SAFETY: as in `rec_f32`; groups hold multiples of 8 slots, so `qp` stays 4-aligned.
        unsafe {
            if whole > 0 {
                groups_q(xp, &mut dp, &mut o, &mut qp, &mut out, whole);
            }
            if rest > 0 {
                let mut buf = [0.0f32; LANES];
                let mut b = buf.as_mut_ptr();
                groups_q(xp, &mut dp, &mut o, &mut qp, &mut b, 1);
                acc[whole * LANES..].copy_from_slice(&buf[..rest]);
            }
        }
        for (i, a) in acc.iter_mut().enumerate() {
            *a *= scale(i);
        }
    }

    /// The f32 product: whole groups straight into `acc`, the last partial group (if any)
    /// through a local buffer.
    ///
    /// # Safety
    /// As [`super::RecKernel::rec_f32`] on a zero-copy (4-aligned) layout.
    pub(super) unsafe fn rec_f32(e: &Ell<&[f32], &[u16]>, x: &[f32], acc: &mut [f32]) {
        let (mut dp, mut o, mut w) = (e.deg.as_ptr(), e.off.as_ptr(), e.values.as_ptr());
        let (whole, rest) = (e.rows / LANES, e.rows % LANES);
        let (xp, mut out) = (x.as_ptr(), acc.as_mut_ptr());
        // SAFETY: `acc` has `rows` floats; slots and offsets validated; the pointers advance
        // group by group and stay 4-aligned (groups hold multiples of 8 slots).
        unsafe {
            if whole > 0 {
                groups(xp, &mut dp, &mut o, &mut w, &mut out, whole);
            }
            if rest > 0 {
                let mut buf = [0.0f32; LANES];
                let mut b = buf.as_mut_ptr();
                groups(xp, &mut dp, &mut o, &mut w, &mut b, 1);
                acc[whole * LANES..].copy_from_slice(&buf[..rest]);
            }
        }
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
        let mut want = vec![0.0f32; n];
        for g in 0..n.div_ceil(LANES) {
            let rows = g * LANES..(g * LANES + LANES).min(n);
            let len = |r: usize| (m.row_ptr[r + 1] - m.row_ptr[r]) as usize;
            let deg = rows.clone().map(len).max().unwrap();
            for r in rows {
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
            crate::kernel::phase::recurrent(&view, &x, &mut got, false).unwrap();
            let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want));
            assert!(got[8..16].iter().all(|&v| v == 0.0));
        }
    }
}
