//! Experiment (issue 15): the f32 recurrent product in a *diagonal* layout, timed next to the
//! shipped one (`kernel::ell`). Not a blob format: the layout is built in RAM at boot from the
//! model's f32 recurrent weights, to measure whether a layout that loads no column index per
//! weight reaches 3 instructions per stored weight on a local mask.
//!
//! Layout: rows in groups of [`LANES`] consecutive rows; a group lists the diagonals
//! `o = column - row` any of its rows stores, ascending, and per diagonal the `LANES` weights
//! (0.0 where the row stores no entry on it). With units on the sheet in row-major order, a
//! local mask has few diagonals (the default model: 13) and the same ones for every interior
//! group. Lane `l` of group `g` on diagonal `o` reads `x[8 g + l + o]`: one `vldmia` of 8
//! consecutive floats per diagonal, no index per weight. Reads may fall before or after `x`, so
//! the kernel reads a copy of `x` with [`PAD`] zeros on each side (the copy is timed too).
//!
//! Per row the sum runs over the diagonals in ascending order, i.e. columns ascending, as the
//! shipped layout does; lanes without an entry on a diagonal add `+0.0 * x`, so the sums can
//! differ from the shipped kernel's only in the sign of a zero. The log line counts bit
//! mismatches against `phase::recurrent`.

use crate::cost::Meter;
use gyrus_runtime::format::{ModelView, Precision};
use gyrus_runtime::kernel::phase;

/// Rows per group.
const LANES: usize = 8;
/// Zeros before and after the copy of `x`.
const PAD: usize = 64;
/// Largest hidden layer of the experiment.
const MAX_N: usize = 256;
/// Largest number of (group, diagonal) pairs.
const MAX_DIAGS: usize = 512;

#[repr(C, align(4))]
struct Buffers {
    /// Per group: number of diagonals.
    count: [u32; MAX_N / 4],
    /// Per (group, diagonal): byte offset of the group's window in the padded copy of `x`.
    off: [u32; MAX_DIAGS],
    /// Per (group, diagonal): the lanes' weights (f32 bits); the int8 experiment's stream.
    w: [u32; MAX_DIAGS * 8],
    /// The padded copy of `x`.
    xp: [f32; MAX_N + 2 * PAD],
    acc: [f32; MAX_N],
    /// The padded copy of `hq` (int8 experiment).
    hq: [i16; MAX_N + 2 * QPAD + 2],
    /// The int8 rows' scales.
    scale: [f32; MAX_N],
}

static mut BUF: Buffers = Buffers {
    count: [0; MAX_N / 4],
    off: [0; MAX_DIAGS],
    w: [0; MAX_DIAGS * 8],
    xp: [0.0; MAX_N + 2 * PAD],
    acc: [0.0; MAX_N],
    hq: [0; MAX_N + 2 * QPAD + 2],
    scale: [0.0; MAX_N],
};

/// Builds the layout; returns the number of diagonal slots (`LANES` per (group, diagonal)), or
/// `None` when the model does not fit the experiment.
fn build(model: &ModelView<'_>, b: &mut Buffers, lanes: usize) -> Option<usize> {
    let n = model.n_hidden();
    if n > MAX_N || !n.is_multiple_of(lanes) {
        return None;
    }
    let w = model.recurrent_of(Precision::F32)?;
    let mut d = 0;
    for g in 0..n / lanes {
        // The group's diagonals, ascending: collect into a bitmap over -PAD..PAD.
        let mut seen = [false; 2 * PAD + 1];
        let mut ok = true;
        for r in g * lanes..(g + 1) * lanes {
            w.for_each_in_row(r, |c, _| {
                let o = c as isize - r as isize;
                match usize::try_from(o + PAD as isize) {
                    Ok(i) if i <= 2 * PAD => seen[i] = true,
                    _ => ok = false,
                }
            });
        }
        if !ok {
            return None;
        }
        let first = d;
        for (i, _) in seen.iter().enumerate().filter(|(_, &s)| s) {
            if (d + 1) * lanes > MAX_DIAGS * 8 {
                return None;
            }
            let o = i as isize - PAD as isize;
            b.off[d] = (4 * (PAD as isize + (g * lanes) as isize + o)) as u32;
            for l in 0..lanes {
                b.w[d * lanes + l] = 0;
            }
            for l in 0..lanes {
                let r = g * lanes + l;
                w.for_each_in_row(r, |c, v| {
                    if c as isize - r as isize == o {
                        b.w[d * lanes + l] = v.to_bits();
                    }
                });
            }
            d += 1;
        }
        b.count[g] = (d - first) as u32;
    }
    Some(d * lanes)
}

/// `acc = W x` over the layout (see the module doc), `x` copied into the padded buffer first.
#[inline(never)]
fn product(b: &mut Buffers, x: &[f32], n: usize, copy: bool) {
    if copy {
        b.xp[PAD..PAD + n].copy_from_slice(&x[..n]);
    }
    let groups = n / LANES;
    // SAFETY: `build` wrote `count[..groups]` (each >= 1 for a model with self or neighbour
    // connections in every group; checked by the caller), `off`/`w` for every (group, diagonal),
    // and every window `off .. off + 32` lies inside `xp`; `acc` has `n` floats.
    unsafe {
        core::arch::asm!(
            "2:",
            "ldr {d}, [{cp}], #4",
            "ldr {t}, [{op}], #4",
            "add {t}, {xb}, {t}",
            "vldmia {t}, {{s8-s15}}",
            "vldmia {wp}!, {{s16-s23}}",
            "vmul.f32 s0, s8, s16",
            "vmul.f32 s1, s9, s17",
            "vmul.f32 s2, s10, s18",
            "vmul.f32 s3, s11, s19",
            "vmul.f32 s4, s12, s20",
            "vmul.f32 s5, s13, s21",
            "vmul.f32 s6, s14, s22",
            "vmul.f32 s7, s15, s23",
            "subs {d}, {d}, #1",
            "beq 4f",
            "3:",
            "ldr {t}, [{op}], #4",
            "add {t}, {xb}, {t}",
            "vldmia {t}, {{s8-s15}}",
            "vldmia {wp}!, {{s16-s23}}",
            "vmla.f32 s0, s8, s16",
            "vmla.f32 s1, s9, s17",
            "vmla.f32 s2, s10, s18",
            "vmla.f32 s3, s11, s19",
            "vmla.f32 s4, s12, s20",
            "vmla.f32 s5, s13, s21",
            "vmla.f32 s6, s14, s22",
            "vmla.f32 s7, s15, s23",
            "subs {d}, {d}, #1",
            "bne 3b",
            "4:",
            "vstmia {acc}!, {{s0-s7}}",
            "subs {n}, {n}, #1",
            "bne 2b",
            xb = in(reg) b.xp.as_ptr(),
            cp = inout(reg) b.count.as_ptr() => _,
            op = inout(reg) b.off.as_ptr() => _,
            wp = inout(reg) b.w.as_ptr() => _,
            acc = inout(reg) b.acc.as_mut_ptr() => _,
            n = inout(reg) groups => _,
            d = out(reg) _,
            t = out(reg) _,
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

/// `acc = W x` over the layout with groups of 16 rows: two halves of 8 lanes per diagonal (s0-s15
/// the sums, s16-s23 the window of `x`, s24-s31 the weights). `copy`: copy `x` into the padded
/// buffer first (else the buffer is assumed current).
#[inline(never)]
fn product16(b: &mut Buffers, x: &[f32], n: usize, copy: bool) {
    if copy {
        b.xp[PAD..PAD + n].copy_from_slice(&x[..n]);
    }
    let groups = n / 16;
    // SAFETY: as `product`, with groups of 16 rows.
    unsafe {
        core::arch::asm!(
            "2:",
            "ldr {d}, [{cp}], #4",
            "ldr {t}, [{op}], #4",
            "add {t}, {xb}, {t}",
            "vldmia {t}!, {{s16-s23}}",
            "vldmia {wp}!, {{s24-s31}}",
            "vmul.f32 s0, s16, s24",
            "vmul.f32 s1, s17, s25",
            "vmul.f32 s2, s18, s26",
            "vmul.f32 s3, s19, s27",
            "vmul.f32 s4, s20, s28",
            "vmul.f32 s5, s21, s29",
            "vmul.f32 s6, s22, s30",
            "vmul.f32 s7, s23, s31",
            "vldmia {t}, {{s16-s23}}",
            "vldmia {wp}!, {{s24-s31}}",
            "vmul.f32 s8, s16, s24",
            "vmul.f32 s9, s17, s25",
            "vmul.f32 s10, s18, s26",
            "vmul.f32 s11, s19, s27",
            "vmul.f32 s12, s20, s28",
            "vmul.f32 s13, s21, s29",
            "vmul.f32 s14, s22, s30",
            "vmul.f32 s15, s23, s31",
            "subs {d}, {d}, #1",
            "beq 4f",
            "3:",
            "ldr {t}, [{op}], #4",
            "add {t}, {xb}, {t}",
            "vldmia {t}!, {{s16-s23}}",
            "vldmia {wp}!, {{s24-s31}}",
            "vmla.f32 s0, s16, s24",
            "vmla.f32 s1, s17, s25",
            "vmla.f32 s2, s18, s26",
            "vmla.f32 s3, s19, s27",
            "vmla.f32 s4, s20, s28",
            "vmla.f32 s5, s21, s29",
            "vmla.f32 s6, s22, s30",
            "vmla.f32 s7, s23, s31",
            "vldmia {t}, {{s16-s23}}",
            "vldmia {wp}!, {{s24-s31}}",
            "vmla.f32 s8, s16, s24",
            "vmla.f32 s9, s17, s25",
            "vmla.f32 s10, s18, s26",
            "vmla.f32 s11, s19, s27",
            "vmla.f32 s12, s20, s28",
            "vmla.f32 s13, s21, s29",
            "vmla.f32 s14, s22, s30",
            "vmla.f32 s15, s23, s31",
            "subs {d}, {d}, #1",
            "bne 3b",
            "4:",
            "vstmia {acc}!, {{s0-s15}}",
            "subs {n}, {n}, #1",
            "bne 2b",
            xb = in(reg) b.xp.as_ptr(),
            cp = inout(reg) b.count.as_ptr() => _,
            op = inout(reg) b.off.as_ptr() => _,
            wp = inout(reg) b.w.as_ptr() => _,
            acc = inout(reg) b.acc.as_mut_ptr() => _,
            n = inout(reg) groups => _,
            d = out(reg) _,
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
}

/// Logs one `STENCIL kernel=f32 part=recurrent lanes=.. copy=.. instr=.. nnz=.. instr_per_nnz=..
/// slots=.. mismatches=.. zero_sign=..` line per variant (groups of 8 or 16 rows; with the copy of
/// `x` into the padded buffer timed or not) for the warmed-up state `h`; `next` is overwritten
/// with the shipped kernel's product, the reference.
pub fn log_f32(meter: &Meter, model: &ModelView<'_>, h: &[f32], next: &mut [f32]) {
    // SAFETY: the firmware is single-threaded and nothing else touches BUF.
    let b = unsafe { &mut *core::ptr::addr_of_mut!(BUF) };
    let n = model.n_hidden();
    if phase::recurrent(model, h, next, None).is_err() {
        return;
    }
    let nnz = model.recurrent_of(Precision::F32).map_or(0, |w| w.stored());
    for lanes in [LANES, 16] {
        let Some(slots) = build(model, b, lanes) else {
            defmt::warn!("STENCIL skipped: the model does not fit the experiment");
            return;
        };
        if b.count[..n / lanes].contains(&0) {
            defmt::warn!("STENCIL skipped: a group without diagonals");
            return;
        }
        for copy in [true, false] {
            let mut run = || {
                if lanes == 16 {
                    product16(b, h, n, copy)
                } else {
                    product(b, h, n, copy)
                }
            };
            let once = meter.measure(1, &mut run);
            let reps = meter.reps_within_wrap(once, 64);
            let instr = meter.per_rep(meter.measure(reps, &mut run), reps);
            let (mut mismatches, mut zero_sign) = (0usize, 0usize);
            for (a, r) in b.acc[..n].iter().zip(next.iter()) {
                if a.to_bits() != r.to_bits() {
                    if *a == 0.0 && *r == 0.0 {
                        zero_sign += 1;
                    } else {
                        mismatches += 1;
                    }
                }
            }
            defmt::info!(
                "STENCIL kernel=f32 part=recurrent lanes={=usize} copy={=bool} instr={=f32} nnz={=usize} instr_per_nnz={=f32} slots={=usize} mismatches={=usize} zero_sign={=usize} reps={=u32}",
                lanes,
                copy,
                instr,
                nnz,
                instr / nnz.max(1) as f32,
                slots,
                mismatches,
                zero_sign,
                reps
            );
            b.acc.fill(f32::NAN);
        }
    }
}

/// Rows per group of the int8 experiment: groups of `QLANES` consecutive rows; per group one word, the number of
/// *diagonal pairs* `(o, o + 1)` (cut greedily from the group's diagonals, ascending; a pair whose
/// second diagonal the group does not store has 0 weights there), then per pair 3 words: the byte
/// offset `2 (QPAD + 4 g + o)` of the group's window in the padded copy of `hq`, and the weights
/// of lanes 0-1 and 2-3 as in format version 4 (bytes `q_o(a), q_o(b), q_o+1(a), q_o+1(b)`).
/// Lane `l` reads the pair `hq[4 g + l + o], hq[4 g + l + o + 1]` at `window + 2 l`: one `ldr`
/// with an immediate offset, no column index per lane. The stream lives in `Buffers::w`.
const QLANES: usize = 4;
/// Zeros before and after the copy of `hq`.
const QPAD: usize = 64;

/// Builds the int8 stream; returns the number of pair slots (4 per pair), or `None` when the
/// model does not fit.
fn build_q(model: &ModelView<'_>, b: &mut Buffers) -> Option<usize> {
    let n = model.n_hidden();
    if n > MAX_N || !n.is_multiple_of(QLANES) {
        return None;
    }
    let w = model.recurrent_of(Precision::Int8)?;
    let scale = model.int8()?.rec_scale;
    // q of row r at column c (the view gives q * scale[r]).
    let q_of = |r: usize, c: usize| {
        let s = scale.get(r).unwrap_or(1.0);
        let mut q = 0i8;
        w.for_each_in_row(r, |cc, v| {
            if cc == c {
                let t = v / s;
                q = (if t < 0.0 { t - 0.5 } else { t + 0.5 }) as i32 as i8;
            }
        });
        q
    };
    let (mut p, mut pairs) = (0usize, 0usize);
    let mut push = |b: &mut Buffers, v: u32| -> Option<()> {
        *b.w.get_mut(p)? = v;
        p += 1;
        Some(())
    };
    for g in 0..n / QLANES {
        let mut seen = [false; 2 * QPAD + 2];
        let mut ok = true;
        for r in g * QLANES..(g + 1) * QLANES {
            w.for_each_in_row(r, |c, _| {
                match usize::try_from(c as isize - r as isize + QPAD as isize) {
                    Ok(i) if i < 2 * QPAD => seen[i] = true,
                    _ => ok = false,
                }
            });
        }
        if !ok {
            return None;
        }
        let mut starts = [0usize; 2 * QPAD];
        let (mut k, mut i) = (0, 0);
        while i < 2 * QPAD {
            if seen[i] {
                starts[k] = i;
                k += 1;
                i += 2;
            } else {
                i += 1;
            }
        }
        push(b, k.max(1) as u32)?;
        for &i in &starts[..k.max(1)] {
            let o = i as isize - QPAD as isize;
            push(b, (2 * (QPAD as isize + (g * QLANES) as isize + o)) as u32)?;
            let r0 = g * QLANES;
            let col = |r: usize, d: isize| usize::try_from(r as isize + o + d).ok();
            let q = |l: usize, d: isize| {
                let r = r0 + l;
                col(r, d)
                    .filter(|&c| c < n && seen[i])
                    .map_or(0, |c| q_of(r, c)) as u8
            };
            for a in [0, 2] {
                push(
                    b,
                    u32::from_le_bytes([q(a, 0), q(a + 1, 0), q(a, 1), q(a + 1, 1)]),
                )?;
            }
            pairs += 1;
        }
    }
    Some(pairs * QLANES)
}

/// The int8 product over the stream: `acc[r] = (S_r as f32 * d) * scale[r]`, as the shipped
/// kernel (`kernel::pairs`); `hq` (n + 1 entries, the shipped quantisation's output) is copied
/// into the padded buffer first when `copy`.
#[inline(never)]
fn product_q(b: &mut Buffers, hq: &[i16], d: f32, n: usize, copy: bool) {
    if copy {
        b.hq[QPAD..QPAD + n + 1].copy_from_slice(&hq[..n + 1]);
    }
    // SAFETY: `build_q` wrote a stream of `n / 4` groups with counts >= 1 and every window
    // `off .. off + 10` inside the padded copy; `acc` and `scale` have `n` floats (the scales written by the caller). r6 and r7 are
    // not touched; the output pointer, the scale pointer and the group count live on the stack.
    // Unaligned `ldr` of `hq` pairs is allowed on the M4.
    unsafe {
        core::arch::asm!(
            "vmov s8, r3",
            "push {{r0, r1, r2}}",
            "2:",
            "ldr r5, [lr], #4",
                "ldmia lr!, {{r0, r1, r2}}",
                "add r0, r12, r0",
                "ldr r3, [r0]",
                "sxtb16 r4, r1",
                "smuad r8, r3, r4",
                "ldr r3, [r0, #2]",
                "sxtb16 r4, r1, ror #8",
                "smuad r9, r3, r4",
                "ldr r3, [r0, #4]",
                "sxtb16 r4, r2",
                "smuad r10, r3, r4",
                "ldr r3, [r0, #6]",
                "sxtb16 r4, r2, ror #8",
                "smuad r11, r3, r4",
            "subs r5, r5, #1",
            "beq 4f",
            "3:",
                "ldmia lr!, {{r0, r1, r2}}",
                "add r0, r12, r0",
                "ldr r3, [r0]",
                "sxtb16 r4, r1",
                "smlad r8, r3, r4, r8",
                "ldr r3, [r0, #2]",
                "sxtb16 r4, r1, ror #8",
                "smlad r9, r3, r4, r9",
                "ldr r3, [r0, #4]",
                "sxtb16 r4, r2",
                "smlad r10, r3, r4, r10",
                "ldr r3, [r0, #6]",
                "sxtb16 r4, r2, ror #8",
                "smlad r11, r3, r4, r11",
            "subs r5, r5, #1",
            "bne 3b",
            "4:",
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
            "add sp, sp, #12",
            inout("r0") b.acc.as_mut_ptr() => _,
            inout("r1") b.scale.as_ptr() => _,
            inout("r2") n / QLANES => _,
            inout("r3") d.to_bits() => _,
            out("r4") _, out("r5") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            in("r12") b.hq.as_ptr(),
            inout("lr") b.w.as_ptr() => _,
            out("s8") _,
            out("s0") _, out("s1") _, out("s2") _, out("s3") _,
            out("s4") _, out("s5") _, out("s6") _, out("s7") _,
        );
    }
}

/// Logs `STENCIL kernel=int8 part=recurrent copy=.. instr=.. nnz=.. instr_per_nnz=.. pair_slots=..
/// mismatches=..` (without and with the copy of `hq`; the quantisation of `h` is not included:
/// the shipped `COST kernel=int8 part=recurrent` includes it). `next` is overwritten with the
/// shipped kernel's product and `hq` with the shipped quantisation, the reference.
pub fn log_int8(meter: &Meter, model: &ModelView<'_>, h: &[f32], next: &mut [f32], hq: &mut [i16]) {
    // SAFETY: the firmware is single-threaded and nothing else touches BUF.
    let b = unsafe { &mut *core::ptr::addr_of_mut!(BUF) };
    let n = model.n_hidden();
    let Some(q) = model.int8() else {
        return;
    };
    if n > MAX_N {
        return;
    }
    for (r, s) in b.scale[..n].iter_mut().enumerate() {
        *s = q.rec_scale.get(r).unwrap_or(0.0);
    }
    let d = f32::from_bits(((127 - i32::from(q.act_frac_bits)) as u32) << 23);
    if phase::recurrent(model, h, next, Some(&mut *hq)).is_err() {
        return;
    }
    let Some(slots) = build_q(model, b) else {
        defmt::warn!("STENCIL skipped: the model does not fit the int8 experiment");
        return;
    };
    let nnz = model
        .recurrent_of(Precision::Int8)
        .map_or(0, |w| w.stored());
    for copy in [true, false] {
        b.acc.fill(f32::NAN);
        let mut run = || product_q(b, hq, d, n, copy);
        let once = meter.measure(1, &mut run);
        let reps = meter.reps_within_wrap(once, 64);
        let instr = meter.per_rep(meter.measure(reps, &mut run), reps);
        let mismatches = b.acc[..n]
            .iter()
            .zip(next.iter())
            .filter(|(a, r)| a.to_bits() != r.to_bits())
            .count();
        defmt::info!(
            "STENCIL kernel=int8 part=recurrent copy={=bool} instr={=f32} nnz={=usize} instr_per_nnz={=f32} pair_slots={=usize} mismatches={=usize} reps={=u32}",
            copy,
            instr,
            nnz,
            instr / nnz.max(1) as f32,
            slots,
            mismatches,
            reps
        );
    }
}
