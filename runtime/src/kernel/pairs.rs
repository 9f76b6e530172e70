//! The int8 recurrent product with integer activations, over the pair-group layout
//! (`format::pairs`).
//!
//! Once per step the hidden state is quantised to i16 with the blob's activation format `f`
//! (`Int8::act_frac_bits`): `hq[j] = sat16(trunc(h[j] 2^f))`, computed as
//! `sat16(trunc(fl(h[j] 2^(f-16)) 2^16))` (the M4F's `vmul.f32`, then `vcvt.s16.f32 ..., #16`; both
//! scalings by powers of two are exact, so this is `trunc(h 2^f)` whenever it matters), and
//! `hq[n] = 0` (a pair at the last column reads it, with weight 0). Each row's sum
//! `S_r = sum q_rc hq[c]` is an exact i32 (the blob bounds `sum |q|` per row, see
//! `format::pairs`), so any summation order gives the same bits. The row's value is then
//! `acc[r] = (S_r as f32 * 2^-f) * s_r`, two roundings in that order on every target.
//!
//! On 32-bit Arm with the blob read zero-copy, whole groups (4 consecutive rows) run in inline
//! assembly: per step one `ldmia` brings the 4 lanes' byte offsets and weights (4 words), then
//! per lane `uxtah` (or `add ... lsr #16`) for the address of `hq[c]`, one `ldr` for
//! `hq[c], hq[c + 1]`, one `sxtb16` for the lane's two i8 weights as i16 and one `smlad` for both
//! products: 17 instructions per 4 pairs, the loop unrolled twice. Per group: the degree, the
//! first step with `smuad` (no zeroing), then `vcvt`/`vmul`/`vmul` per row, one `vldmia` for the 4
//! row scales and one `vstmia` for the 4 sums. The quantisation is a loop of 8 units (`vldmia`,
//! 8 `vmul`, 8 `vcvt`, 4 `vmov`, 4 `pkhbt`, `stmia`: 28 instructions). A partial last group, the
//! last `n mod 8` units and misaligned buffers run in the portable loops below, which compute the
//! same integers and floats. Within `kernel::step_int8` the recurrent product quantises `h` only
//! when the state's scratch does not hold it already: the readout quantises the new state in its
//! own order (`kernel::qio`) and into this scratch in the same loop (`quantize_both`: 4
//! `pkhbt`/`pkhtb` and a second `stmia` more, 33 instructions per 8 units against 2 x 28).
//!
//! Measured on the emulated Cortex-M4F (`cd firmware && cargo run --release`, default model: 256
//! rows, 2,716 stored weights, 1,871 pairs, 2,136 pair slots with padding),
//! `COST kernel=int8 part=recurrent` (`phase::recurrent`, which always quantises): 12,168
//! instructions, 4.48 per stored weight, quantisation included; the whole int8 step
//! (`COST kernel=int8 instr_per_step`) is about 735 instructions cheaper since it quantises once
//! (30,814 -> 30,080). With the weights stored as i16 (format version 3, 8 bytes more per step: 4,272
//! bytes more for this model) the product took 10,027, 3.69 per weight; the f32 kernel
//! (`kernel::ell`) takes 3.82.

use crate::format::{Load, QLANES, STEP_WORDS};

/// `2^e` as an f32, for `-126 <= e <= 127`.
pub(crate) fn pow2(e: i32) -> f32 {
    f32::from_bits(((127 + e) as u32) << 23)
}

/// The multiplier of the quantisation, `2^(f - 16)`, and of the row sums, `2^-f`.
pub(crate) fn factors(frac_bits: u8) -> (f32, f32) {
    let f = i32::from(frac_bits);
    (pow2(f - 16), pow2(-f))
}

/// `sat16(trunc(fl(x k) 2^16))`; NaN gives 0 (as `vcvt` does).
#[inline(always)]
pub(crate) fn quant_one(x: f32, k: f32) -> i16 {
    (((x * k) * 65536.0) as i32).clamp(-32768, 32767) as i16
}

/// `hq[j]` for `j >= first`, and `hq[n] = 0`.
///
/// # Safety
/// `hq.len() > h.len()`.
#[inline(always)]
pub(crate) unsafe fn quantize_portable(h: &[f32], k: f32, hq: &mut [i16], first: usize) {
    for j in first..h.len() {
        // SAFETY: `j < h.len() < hq.len()`.
        unsafe { *hq.get_unchecked_mut(j) = quant_one(*h.get_unchecked(j), k) };
    }
    // SAFETY: `h.len() < hq.len()`.
    unsafe { *hq.get_unchecked_mut(h.len()) = 0 };
}

/// Quantises `h` into `hq` (see the module doc).
///
/// # Safety
/// `hq.len() > h.len()`.
#[inline(always)]
pub(crate) unsafe fn quantize(h: &[f32], k: f32, hq: &mut [i16]) {
    #[cfg(target_arch = "arm")]
    let first = if (hq.as_ptr() as usize).is_multiple_of(4) {
        // SAFETY: `hq.len() > h.len()` (the caller's promise) and `hq` is 4-aligned (just
        // checked), as `arm::quantize` needs.
        unsafe { arm::quantize(h, k, hq, false) }
    } else {
        0
    };
    #[cfg(not(target_arch = "arm"))]
    let first = 0;
    // SAFETY: `hq.len() > h.len()` (the caller's promise), as `quantize_portable` needs.
    unsafe { quantize_portable(h, k, hq, first) };
}

/// Groups `first..` of the layout (words from `p`), portable: each lane's i32 sum, then
/// `acc[r] = (S as f32 * d) * scale(r)` for the lanes' rows below `rows`.
///
/// # Safety
/// A validated layout of `rows` rows at `w`, `p` the first word of group `first`; `hq` holds the
/// quantised state (`n + 1` entries, `n` the layout's columns); `acc.len() == rows`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn groups_portable<U: Load<u32>>(
    w: U,
    rows: usize,
    hq: &[i16],
    scale: impl Fn(usize) -> f32,
    d: f32,
    first: usize,
    mut p: usize,
    acc: &mut [f32],
) {
    let half = |v: u32, hi: bool| if hi { v >> 16 } else { v & 0xffff };
    // Byte `i` of a weight word, sign-extended.
    let byte = |v: u32, i: usize| i32::from((v >> (8 * i)) as u8 as i8);
    for g in first..rows.div_ceil(QLANES) {
        // SAFETY: the layout is validated: every word read is in range and every byte offset
        // `2 c` has `c + 1 < hq.len()`.
        unsafe {
            let deg = w.at(p) as usize;
            p += 1;
            let mut s = [0i32; QLANES];
            for _ in 0..deg {
                let offs = [w.at(p), w.at(p + 1)];
                for (l, a) in s.iter_mut().enumerate() {
                    let c = (half(offs[l / 2], l % 2 == 1) >> 1) as usize;
                    let q = w.at(p + 2 + l / 2);
                    let (x0, x1) = (*hq.get_unchecked(c), *hq.get_unchecked(c + 1));
                    *a = a
                        .wrapping_add(byte(q, l % 2).wrapping_mul(i32::from(x0)))
                        .wrapping_add(byte(q, 2 + l % 2).wrapping_mul(i32::from(x1)));
                }
                p += STEP_WORDS;
            }
            for (l, &v) in s.iter().enumerate() {
                let r = g * QLANES + l;
                if r < rows {
                    *acc.get_unchecked_mut(r) = (v as f32) * d * scale(r);
                }
            }
        }
    }
}

/// The int8 recurrent product over one storage of the layout.
pub(crate) trait PairKernel {
    /// `acc[r] = (sum_c q_rc hq[c] as f32 * d) * scale[r]` for every row.
    ///
    /// # Safety
    /// A validated layout of `rows` rows with `scale` its rows' scales; `hq` the quantised state
    /// (`n + 1` entries); `acc.len() == rows`.
    unsafe fn product(self, rows: usize, hq: &[i16], d: f32, acc: &mut [f32]);
}

/// A layout's words and its rows' scales.
#[derive(Clone, Copy)]
pub(crate) struct Pairs<U, F> {
    pub words: U,
    pub scale: F,
}

impl<'a> PairKernel for Pairs<crate::format::LeSlice<'a, u32>, crate::format::LeSlice<'a, f32>> {
    unsafe fn product(self, rows: usize, hq: &[i16], d: f32, acc: &mut [f32]) {
        let s = self.scale;
        // SAFETY: a validated layout of `rows` rows, `scale` of `rows` entries, `hq` the quantised
        // state and `acc.len() == rows` (the caller's promise); group 0 starts at word 0.
        unsafe { groups_portable(self.words, rows, hq, |r| s.at(r), d, 0, 0, acc) }
    }
}

impl PairKernel for Pairs<&[u32], &[f32]> {
    unsafe fn product(self, rows: usize, hq: &[i16], d: f32, acc: &mut [f32]) {
        let s = self.scale;
        #[cfg(target_arch = "arm")]
        // SAFETY: a validated layout of `rows` rows, `scale` of `rows` entries, `hq` the quantised
        // state and `acc.len() == rows` (the caller's promise), as `arm::groups` needs.
        let (first, p) = unsafe { arm::groups(self.words, s, rows, hq, d, acc) };
        #[cfg(not(target_arch = "arm"))]
        let (first, p) = (0, 0);
        // SAFETY: the caller's promise as above; `p` is the first word of group `first` (0 and 0,
        // or where `arm::groups` stopped).
        unsafe { groups_portable(self.words, rows, hq, |r| s.at(r), d, first, p, acc) }
    }
}

#[cfg(target_arch = "arm")]
pub(crate) use arm::{quantize as quantize_arm, quantize_both as quantize_both_arm};

#[cfg(target_arch = "arm")]
mod arm {
    use super::QLANES;

    /// Packs the 8 quantised units of s0-s7 into the 4 words r0-r3: in order (`r0 = (h0, h1)`,
    /// ...) or in the readout's order (`r0 = (h0, h2)`, `r1 = (h1, h3)`, ..., `kernel::qio`);
    /// `$t` and `$u` are scratch.
    macro_rules! pack {
        (plain, $t:literal, $u:literal) => {
            concat!(
                "vmov r0, r1, s0, s1\n",
                "vmov r2, r3, s2, s3\n",
                "pkhbt r0, r0, r1, lsl #16\n",
                "pkhbt r1, r2, r3, lsl #16\n",
                "vmov r2, r3, s4, s5\n",
                "vmov ",
                $t,
                ", ",
                $u,
                ", s6, s7\n",
                "pkhbt r2, r2, r3, lsl #16\n",
                "pkhbt r3, ",
                $t,
                ", ",
                $u,
                ", lsl #16\n",
            )
        };
        (readout, $t:literal, $u:literal) => {
            concat!(
                "vmov r0, r1, s0, s1\n",
                "vmov r2, r3, s2, s3\n",
                "pkhbt r0, r0, r2, lsl #16\n",
                "pkhbt r1, r1, r3, lsl #16\n",
                "vmov r2, r3, s4, s5\n",
                "vmov ",
                $t,
                ", ",
                $u,
                ", s6, s7\n",
                "pkhbt r2, r2, ",
                $t,
                ", lsl #16\n",
                "pkhbt r3, r3, ",
                $u,
                ", lsl #16\n",
            )
        };
    }

    /// Loads 8 floats from `{h}` (post-incremented) into s0-s7 and quantises them in place
    /// (`vmul` by s8, then `vcvt.s16.f32 ..., #16`).
    macro_rules! scale8 {
        () => {
            concat!(
                "vldmia {h}!, {{s0-s7}}\n",
                "vmul.f32 s0, s0, s8\n",
                "vmul.f32 s1, s1, s8\n",
                "vmul.f32 s2, s2, s8\n",
                "vmul.f32 s3, s3, s8\n",
                "vmul.f32 s4, s4, s8\n",
                "vmul.f32 s5, s5, s8\n",
                "vmul.f32 s6, s6, s8\n",
                "vmul.f32 s7, s7, s8\n",
                "vcvt.s16.f32 s0, s0, #16\n",
                "vcvt.s16.f32 s1, s1, #16\n",
                "vcvt.s16.f32 s2, s2, #16\n",
                "vcvt.s16.f32 s3, s3, #16\n",
                "vcvt.s16.f32 s4, s4, #16\n",
                "vcvt.s16.f32 s5, s5, #16\n",
                "vcvt.s16.f32 s6, s6, #16\n",
                "vcvt.s16.f32 s7, s7, #16\n",
            )
        };
    }

    /// The quantisation loop, 8 units per round, packed by [`pack`] (`$order`).
    macro_rules! quantize_loop {
        ($order:ident, $h:expr, $hq:expr, $n8:expr, $k:expr) => {
            core::arch::asm!(
                "vmov s8, {k}",
                "2:",
                scale8!(),
                pack!($order, "{t}", "{u}"),
                "stmia {q}!, {{r0-r3}}",
                "subs {n}, {n}, #1",
                "bne 2b",
                h = inout(reg) $h => _,
                q = inout(reg) $hq => _,
                n = inout(reg) $n8 => _,
                t = out(reg) _,
                u = out(reg) _,
                k = in(reg) $k,
                out("s8") _,
                out("r0") _, out("r1") _, out("r2") _, out("r3") _,
                out("s0") _, out("s1") _, out("s2") _, out("s3") _,
                out("s4") _, out("s5") _, out("s6") _, out("s7") _,
                options(nostack),
            )
        };
    }

    /// Quantises the first `8 * (n / 8)` units, in order or (with `readout`) in the readout's
    /// order (`kernel::qio`); returns how many.
    ///
    /// # Safety
    /// `hq.len() >= 8 * (h.len() / 8)`, `hq` 4-aligned.
    #[inline(always)]
    pub(crate) unsafe fn quantize(h: &[f32], k: f32, hq: &mut [i16], readout: bool) -> usize {
        let n8 = h.len() / 8;
        let (hp, qp, k) = (h.as_ptr(), hq.as_mut_ptr(), k.to_bits());
        // SAFETY: reads `8 * n8` floats of `h`, writes as many i16 of `hq` (16 bytes per round,
        // 4-aligned); touches only the registers listed.
        unsafe {
            match (n8, readout) {
                (0, _) => {}
                (_, false) => quantize_loop!(plain, hp, qp, n8, k),
                (_, true) => quantize_loop!(readout, hp, qp, n8, k),
            }
        }
        8 * n8
    }

    /// Quantises the first `8 * (n / 8)` units into `hq` in order and into `hr` in the readout's
    /// order (`kernel::qio`) in one pass: the plain words, then 4 `pkhbt`/`pkhtb` for the
    /// readout's words and a second `stmia` (33 instructions per 8 units, against 28 for one
    /// order); returns how many.
    ///
    /// # Safety
    /// `hq.len() >= 8 * (h.len() / 8)` and `hr.len() >= 8 * (h.len() / 8)`, both 4-aligned.
    #[inline(always)]
    pub(crate) unsafe fn quantize_both(h: &[f32], k: f32, hq: &mut [i16], hr: &mut [i16]) -> usize {
        let n8 = h.len() / 8;
        if n8 == 0 {
            return 0;
        }
        // SAFETY: reads `8 * n8` floats of `h`, writes as many i16 of `hq` and of `hr` (16 bytes
        // per round each, 4-aligned); touches only the registers listed.
        unsafe {
            core::arch::asm!(
                "vmov s8, r4",
                "2:",
                scale8!(),
                pack!(plain, "r4", "r5"),
                "pkhbt r4, r0, r1, lsl #16",
                "pkhtb r5, r1, r0, asr #16",
                "pkhbt r8, r2, r3, lsl #16",
                "pkhtb r9, r3, r2, asr #16",
                "stmia {q}!, {{r0-r3}}",
                "stmia {r}!, {{r4, r5, r8, r9}}",
                "subs {n}, {n}, #1",
                "bne 2b",
                h = inout(reg) h.as_ptr() => _,
                q = inout(reg) hq.as_mut_ptr() => _,
                r = inout(reg) hr.as_mut_ptr() => _,
                n = inout(reg) n8 => _,
                inout("r4") k.to_bits() => _,
                out("s8") _,
                out("r0") _, out("r1") _, out("r2") _, out("r3") _,
                out("r5") _, out("r8") _, out("r9") _,
                out("s0") _, out("s1") _, out("s2") _, out("s3") _,
                out("s4") _, out("s5") _, out("s6") _, out("s7") _,
                options(nostack),
            );
        }
        8 * n8
    }

    /// `smuad d, a, b` (`d = a.lo b.lo + a.hi b.hi`) or `smlad d, a, b, d` (the same, plus `d`).
    macro_rules! mac {
        (smuad, $d:literal, $a:literal, $b:literal) => {
            concat!("smuad ", $d, ", ", $a, ", ", $b, "\n")
        };
        (smlad, $d:literal, $a:literal, $b:literal) => {
            concat!("smlad ", $d, ", ", $a, ", ", $b, ", ", $d, "\n")
        };
    }

    /// One step of a group: 4 words from `lr` (offsets of lanes 0-1 and 2-3, the weights of lanes
    /// 0-1 and 2-3), then per lane the address of its pair of `hq` (at `r12`), the pair, the lane's
    /// two weights as i16 (`sxtb16`, rotated by 8 for lanes 1 and 3) and [`mac`] (`smuad` for the
    /// first step, `smlad` after) into the lane sums r8-r11.
    macro_rules! step {
        ($op:ident) => {
            concat!(
                "ldmia lr!, {{r0-r3}}\n",
                "uxtah r6, r12, r0\n",
                "ldr r6, [r6]\n",
                "sxtb16 r4, r2\n",
                mac!($op, "r8", "r6", "r4"),
                "add r0, r12, r0, lsr #16\n",
                "ldr r0, [r0]\n",
                "sxtb16 r5, r2, ror #8\n",
                mac!($op, "r9", "r0", "r5"),
                "uxtah r6, r12, r1\n",
                "ldr r6, [r6]\n",
                "sxtb16 r4, r3\n",
                mac!($op, "r10", "r6", "r4"),
                "add r1, r12, r1, lsr #16\n",
                "ldr r1, [r1]\n",
                "sxtb16 r5, r3, ror #8\n",
                mac!($op, "r11", "r1", "r5"),
            )
        };
    }

    /// The whole groups (`rows / 4`) of a zero-copy layout: stores their rows' values in `acc`;
    /// returns the next group and its first word, for the portable loop to finish the partial
    /// last group.
    ///
    /// # Safety
    /// As [`super::PairKernel::product`]; `scale` has `rows` floats.
    pub(super) unsafe fn groups(
        words: &[u32],
        scale: &[f32],
        rows: usize,
        hq: &[i16],
        d: f32,
        acc: &mut [f32],
    ) -> (usize, usize) {
        let whole = rows / QLANES;
        let mut p = words.as_ptr();
        if whole > 0 {
            // SAFETY: the layout is validated (degrees >= 1, every offset inside `hq`, words in
            // range); `acc` and `scale` have `4 * whole` floats or more. r6 and r7 (reserved by
            // the compiler) are saved and restored on the stack, with the output pointer, the
            // scale pointer and the group count, which the epilogue reloads. Unaligned `ldr` of
            // `hq` pairs is allowed on the M4 (CCR.UNALIGN_TRP is off).
            unsafe {
                core::arch::asm!(
                    "vmov s8, r3",
                    "push {{r0, r1, r2, r6, r7}}",
                    "2:",
                    "ldr r7, [lr], #4",
                    step!(smuad),
                    "lsrs r7, r7, #1",
                    "beq 5f",
                    "bcs 3f",
                    "b 4f",
                    "3:",
                    step!(smlad),
                    "4:",
                    step!(smlad),
                    "subs r7, r7, #1",
                    "bne 3b",
                    "5:",
                    "vmov s0, s1, r8, r9",
                    "vmov s2, s3, r10, r11",
                    "vcvt.f32.s32 s0, s0",
                    "vcvt.f32.s32 s1, s1",
                    "vcvt.f32.s32 s2, s2",
                    "vcvt.f32.s32 s3, s3",
                    "vmul.f32 s0, s0, s8",
                    "vmul.f32 s1, s1, s8",
                    "vmul.f32 s2, s2, s8",
                    "vmul.f32 s3, s3, s8",
                    "ldmia sp, {{r0, r1, r2}}",
                    "vldmia r1!, {{s4-s7}}",
                    "vmul.f32 s0, s0, s4",
                    "vmul.f32 s1, s1, s5",
                    "vmul.f32 s2, s2, s6",
                    "vmul.f32 s3, s3, s7",
                    "vstmia r0!, {{s0-s3}}",
                    "subs r2, r2, #1",
                    "stmia sp, {{r0, r1, r2}}",
                    "bne 2b",
                    "pop {{r0, r1, r2, r6, r7}}",
                    inout("r0") acc.as_mut_ptr() => _,
                    inout("r1") scale.as_ptr() => _,
                    inout("r2") whole => _,
                    inout("r3") d.to_bits() => _,
                    out("r4") _, out("r5") _,
                    out("r8") _, out("r9") _, out("r10") _, out("r11") _,
                    in("r12") hq.as_ptr(),
                    inout("lr") p,
                    out("s8") _,
                    out("s0") _, out("s1") _, out("s2") _, out("s3") _,
                    out("s4") _, out("s5") _, out("s6") _, out("s7") _,
                );
            }
        }
        // SAFETY: `p` advanced within `words`.
        (whole, unsafe { p.offset_from(words.as_ptr()) } as usize)
    }
}
