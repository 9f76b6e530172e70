//! The f32 recurrent product over the diagonal layout (`format::diag`), for local masks.
//!
//! Per group of [`DIAG_LANES`] consecutive rows `r0 ..`, the lanes' sums run over the group's
//! diagonals in ascending order (so over each row's columns in ascending order, as the lane
//! groups of `kernel::ell` do): diagonal 0 gives `acc[l] = w[l] * x[r0 + l + o]`, every further one
//! `acc[l] = acc[l] + w[l] * x[r0 + l + o]` (the product rounded, then the sum). A lane without a
//! weight on a diagonal adds `+0.0 * x`, so the sums differ from the lane groups' only in the sign
//! of a zero; a group without diagonals gives `+0.0`. Reads before `x[0]` or after `x[n - 1]`
//! belong to lanes whose weight is `+0.0` (the layout's canonical form), and read the zeros of a
//! padded state ([`DIAG_PAD`] each side, `kernel::State`), or, for an unpadded `x`
//! ([`Hidden::Plain`], the `phase` functions on plain slices), `0.0` from a bounds check: the same
//! bits either way.
//!
//! On Cortex-M4F the whole groups of a zero-copy blob over a padded state run in inline assembly:
//! per diagonal one `ldrsh` of `o`, one `add`, two `vldmia` of 8 values of `x`, two `vldmia` of 8
//! weights and 16 `vmla.f32` into s0-s15 (`vmla` rounds the product, then the sum, as the portable
//! `a + w * x`), then one `vstmia` of the 16 sums per group: 24 instructions per 16 weight slots.
//! Measured on QEMU (`cd firmware && cargo run --release`, `COST kernel=f32 part=recurrent`;
//! default model, 2,716 stored weights, 3,168 slots, 13 diagonals per interior group): 4,960
//! instructions, 1.83 per stored weight (the lane groups: 3.82).

use crate::format::{Diag, LeSlice, Load, DIAG_LANES, DIAG_PAD};

/// The hidden state a recurrent product reads: a plain slice of `n` values, or a padded one
/// (`DIAG_PAD` zeros, the `n` values, `DIAG_PAD` zeros; the diagonal kernel reads the pads).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Hidden<'a> {
    /// `h` alone.
    Plain(&'a [f32]),
    /// `h` with [`DIAG_PAD`] zeros on each side.
    Padded(&'a [f32]),
}

impl<'a> Hidden<'a> {
    /// The `n` values of `h`.
    #[inline(always)]
    pub(crate) fn h(self) -> &'a [f32] {
        match self {
            Hidden::Plain(h) => h,
            Hidden::Padded(xp) => xp
                .get(DIAG_PAD..xp.len().saturating_sub(DIAG_PAD))
                .unwrap_or(&[]),
        }
    }
}

/// The f32 recurrent product over one storage of the diagonal layout.
pub(crate) trait DiagKernel {
    /// `acc = W x` (module doc).
    ///
    /// # Safety
    /// A validated layout; `acc` of length `rows`; `x` of length `rows` (plain) or
    /// `rows + 2 DIAG_PAD` (padded).
    unsafe fn rec_diag(&self, x: Hidden<'_>, acc: &mut [f32]);
}

/// Groups `g..` (their diagonals starting at index `k`), portable, reading `x(i)` for the value
/// at row index `i` (which may be negative or `>= rows` only where the weight is `+0.0`).
///
/// # Safety
/// A validated layout, `k` the first diagonal of group `g`; `acc` of length `rows`; `x` safe to
/// call for every index within `-DIAG_PAD .. rows + DIAG_PAD`.
#[inline(always)]
unsafe fn groups<F: Load<f32>, H: Load<u16>>(
    d: &Diag<F, H>,
    g: usize,
    mut k: usize,
    x: impl Fn(isize) -> f32,
    acc: &mut [f32],
) {
    for g in g..d.rows.div_ceil(DIAG_LANES) {
        let r0 = g * DIAG_LANES;
        // SAFETY: `g` below the group count, `k + j` below the diagonal count and its lanes
        // within the weights (a validated layout: the counts sum to the diagonals); every
        // window lies within `-DIAG_PAD .. rows + DIAG_PAD` (checked on opening); the lanes
        // stored are rows `r0 .. rows` of `acc`.
        unsafe {
            let count = usize::from(d.counts.at(g));
            let mut sums = [0.0f32; DIAG_LANES];
            for j in 0..count {
                let o = isize::from(d.diags.at(k + j) as i16);
                let base = r0 as isize + o;
                for (l, a) in sums.iter_mut().enumerate() {
                    let t = d.values.at((k + j) * DIAG_LANES + l) * x(base + l as isize);
                    *a = if j == 0 { t } else { *a + t };
                }
            }
            for (l, &v) in sums.iter().enumerate().take(d.rows - r0) {
                *acc.get_unchecked_mut(r0 + l) = v;
            }
            k += count;
        }
    }
}

/// The portable product from group `g`, diagonal `k` on.
///
/// # Safety
/// As [`DiagKernel::rec_diag`], `k` the first diagonal of group `g`.
#[inline(always)]
unsafe fn portable<F: Load<f32>, H: Load<u16>>(
    d: &Diag<F, H>,
    g: usize,
    k: usize,
    x: Hidden<'_>,
    acc: &mut [f32],
) {
    // SAFETY: the caller's promise; a padded `x` has `rows + 2 DIAG_PAD` values, so every index
    // `i` in `-DIAG_PAD .. rows + DIAG_PAD` reads `xp[i + DIAG_PAD]` in range; a plain one is
    // bounds-checked.
    unsafe {
        match x {
            Hidden::Padded(xp) => groups(
                d,
                g,
                k,
                |i| *xp.get_unchecked((i + DIAG_PAD as isize) as usize),
                acc,
            ),
            Hidden::Plain(h) => groups(
                d,
                g,
                k,
                |i| {
                    usize::try_from(i)
                        .ok()
                        .and_then(|i| h.get(i))
                        .map_or(0.0, |&v| v)
                },
                acc,
            ),
        }
    }
}

impl DiagKernel for Diag<LeSlice<'_, f32>, LeSlice<'_, u16>> {
    unsafe fn rec_diag(&self, x: Hidden<'_>, acc: &mut [f32]) {
        // SAFETY: the caller's promise.
        unsafe { portable(self, 0, 0, x, acc) }
    }
}

impl DiagKernel for Diag<&[f32], &[u16]> {
    unsafe fn rec_diag(&self, x: Hidden<'_>, acc: &mut [f32]) {
        #[cfg(target_arch = "arm")]
        if let Hidden::Padded(xp) = x {
            // SAFETY: a validated zero-copy layout, `xp` of `rows + 2 DIAG_PAD` values and `acc`
            // of `rows` (the caller's promise) is what `arm::whole_groups` needs; it returns the
            // first group and diagonal it left undone, which is what `portable` needs.
            unsafe {
                let (g, k) = arm::whole_groups(self, xp, acc);
                portable(self, g, k, x, acc);
            }
            return;
        }
        // SAFETY: the caller's promise.
        unsafe { portable(self, 0, 0, x, acc) }
    }
}

#[cfg(target_arch = "arm")]
mod arm {
    use super::{Diag, DIAG_LANES, DIAG_PAD};

    /// Loads the window of diagonal `o` (16 values of `x` into s16-s23 twice) and its 16 weights
    /// (s24-s31 twice) and multiplies (`$op` = `vmul.f32`) or multiplies and adds (`vmla.f32`)
    /// them into the lane sums s0-s15.
    macro_rules! diagonal {
        ($op:literal) => {
            concat!(
                "ldrsh {t}, [{dp}], #2\n",
                "add {t}, {xg}, {t}, lsl #2\n",
                "vldmia {t}!, {{s16-s23}}\n",
                "vldmia {wp}!, {{s24-s31}}\n",
                $op,
                " s0, s16, s24\n",
                $op,
                " s1, s17, s25\n",
                $op,
                " s2, s18, s26\n",
                $op,
                " s3, s19, s27\n",
                $op,
                " s4, s20, s28\n",
                $op,
                " s5, s21, s29\n",
                $op,
                " s6, s22, s30\n",
                $op,
                " s7, s23, s31\n",
                "vldmia {t}, {{s16-s23}}\n",
                "vldmia {wp}!, {{s24-s31}}\n",
                $op,
                " s8, s16, s24\n",
                $op,
                " s9, s17, s25\n",
                $op,
                " s10, s18, s26\n",
                $op,
                " s11, s19, s27\n",
                $op,
                " s12, s20, s28\n",
                $op,
                " s13, s21, s29\n",
                $op,
                " s14, s22, s30\n",
                $op,
                " s15, s23, s31\n",
            )
        };
    }

    /// The product of the whole groups (16 sums stored per group); returns the next group and
    /// its first diagonal, for the portable loop to finish the partial last group.
    ///
    /// # Safety
    /// A validated zero-copy layout; `xp` of `rows + 2 DIAG_PAD` values; `acc` of `rows`.
    pub(super) unsafe fn whole_groups(
        d: &Diag<&[f32], &[u16]>,
        xp: &[f32],
        acc: &mut [f32],
    ) -> (usize, usize) {
        let whole = d.rows / DIAG_LANES;
        if whole == 0 {
            return (0, 0);
        }
        let mut dp = d.diags.as_ptr();
        // SAFETY: per group the count (u16) is read, then per diagonal its `o` (i16) and 16
        // weights (the counts sum to the diagonals, each with 16 weights: a validated layout);
        // the window `xg + 4 o .. + 64` is `xp[DIAG_PAD + r0 + o ..][..16]`, inside `xp` (every
        // window lies within `-DIAG_PAD .. rows + DIAG_PAD`, checked on opening); the 16 sums go
        // to `acc[r0 .. r0 + 16]`, inside `acc` for a whole group. `xp`, the weights and `acc`
        // are 4-aligned (f32 slices), as `vldmia`/`vstmia` need. Touches only the registers
        // listed.
        unsafe {
            core::arch::asm!(
                "2:",
                "ldrh {c}, [{cp}], #2",
                "cmp {c}, #0",
                "beq 5f",
                diagonal!("vmul.f32"),
                "subs {c}, {c}, #1",
                "beq 4f",
                "3:",
                diagonal!("vmla.f32"),
                "subs {c}, {c}, #1",
                "bne 3b",
                "4:",
                "vstmia {acc}!, {{s0-s15}}",
                "add {xg}, {xg}, #64",
                "subs {n}, {n}, #1",
                "bne 2b",
                "b 6f",
                "5:",
                "movs {t}, #0",
                "vmov s0, s1, {t}, {t}",
                "vmov s2, s3, {t}, {t}",
                "vmov s4, s5, {t}, {t}",
                "vmov s6, s7, {t}, {t}",
                "vmov s8, s9, {t}, {t}",
                "vmov s10, s11, {t}, {t}",
                "vmov s12, s13, {t}, {t}",
                "vmov s14, s15, {t}, {t}",
                "b 4b",
                "6:",
                xg = inout(reg) xp.as_ptr().add(DIAG_PAD) => _,
                cp = inout(reg) d.counts.as_ptr() => _,
                dp = inout(reg) dp,
                wp = inout(reg) d.values.as_ptr() => _,
                acc = inout(reg) acc.as_mut_ptr() => _,
                n = inout(reg) whole => _,
                c = out(reg) _,
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
            (whole, dp.offset_from(d.diags.as_ptr()) as usize)
        }
    }
}
