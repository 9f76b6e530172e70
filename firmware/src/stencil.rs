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
const MAX_N: usize = 512;
/// Largest number of (group, diagonal) pairs.
const MAX_DIAGS: usize = 512;

#[repr(C, align(4))]
struct Buffers {
    /// Per group: number of diagonals.
    count: [u32; MAX_N / LANES],
    /// Per (group, diagonal): byte offset of the group's window in the padded copy of `x`.
    off: [u32; MAX_DIAGS],
    /// Per (group, diagonal): the lanes' weights.
    w: [f32; MAX_DIAGS * LANES],
    /// The padded copy of `x`.
    xp: [f32; MAX_N + 2 * PAD],
    acc: [f32; MAX_N],
}

static mut BUF: Buffers = Buffers {
    count: [0; MAX_N / LANES],
    off: [0; MAX_DIAGS],
    w: [0.0; MAX_DIAGS * LANES],
    xp: [0.0; MAX_N + 2 * PAD],
    acc: [0.0; MAX_N],
};

/// Builds the layout; returns the number of diagonal slots (`LANES` per (group, diagonal)), or
/// `None` when the model does not fit the experiment.
fn build(model: &ModelView<'_>, b: &mut Buffers) -> Option<usize> {
    let n = model.n_hidden();
    if n > MAX_N || !n.is_multiple_of(LANES) {
        return None;
    }
    let w = model.recurrent_of(Precision::F32)?;
    let mut d = 0;
    for g in 0..n / LANES {
        // The group's diagonals, ascending: collect into a bitmap over -PAD..PAD.
        let mut seen = [false; 2 * PAD + 1];
        let mut ok = true;
        for r in g * LANES..(g + 1) * LANES {
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
            if d >= MAX_DIAGS {
                return None;
            }
            let o = i as isize - PAD as isize;
            b.off[d] = (4 * (PAD as isize + (g * LANES) as isize + o)) as u32;
            for l in 0..LANES {
                b.w[d * LANES + l] = 0.0;
            }
            for l in 0..LANES {
                let r = g * LANES + l;
                w.for_each_in_row(r, |c, v| {
                    if c as isize - r as isize == o {
                        b.w[d * LANES + l] = v;
                    }
                });
            }
            d += 1;
        }
        b.count[g] = (d - first) as u32;
    }
    Some(d * LANES)
}

/// `acc = W x` over the layout (see the module doc), `x` copied into the padded buffer first.
#[inline(never)]
fn product(b: &mut Buffers, x: &[f32], n: usize) {
    b.xp[PAD..PAD + n].copy_from_slice(&x[..n]);
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

/// Logs `STENCIL kernel=f32 part=recurrent instr=.. nnz=.. instr_per_nnz=.. slots=..
/// mismatches=.. zero_sign=..` for the warmed-up state `h` (`next` is overwritten with the shipped
/// kernel's product, the reference).
pub fn log_f32(meter: &Meter, model: &ModelView<'_>, h: &[f32], next: &mut [f32]) {
    // SAFETY: the firmware is single-threaded and nothing else touches BUF.
    let b = unsafe { &mut *core::ptr::addr_of_mut!(BUF) };
    let n = model.n_hidden();
    let Some(slots) = build(model, b) else {
        defmt::warn!("STENCIL skipped: the model does not fit the experiment");
        return;
    };
    if b.count[..n / LANES].contains(&0) {
        defmt::warn!("STENCIL skipped: a group without diagonals");
        return;
    }
    if phase::recurrent(model, h, next, None).is_err() {
        return;
    }
    let once = meter.measure(1, || product(b, h, n));
    let reps = meter.reps_within_wrap(once, 64);
    let instr = meter.per_rep(meter.measure(reps, || product(b, h, n)), reps);
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
    let nnz = model.recurrent_of(Precision::F32).map_or(0, |w| w.stored());
    defmt::info!(
        "STENCIL kernel=f32 part=recurrent instr={=f32} nnz={=usize} instr_per_nnz={=f32} slots={=usize} mismatches={=usize} zero_sign={=usize} reps={=u32}",
        instr,
        nnz,
        instr / nnz.max(1) as f32,
        slots,
        mismatches,
        zero_sign,
        reps
    );
}
