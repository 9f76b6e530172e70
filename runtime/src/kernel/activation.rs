//! The nonlinearity phi and the leaky update, shared by every kernel.
//!
//! tanh and softplus use `libm` rather than `std`'s float functions: libm is pure Rust, so the same
//! code runs on the host and on thumbv7em (which has no `std`), and gives bit-identical results on
//! both, as in the task generator. The trainer computes the same functions with a vectorisable
//! tanh (`gyrus_trainer::model::Training`, within 2e-6 of libm's); the parity tests (`tests/`)
//! compare the two within a tolerance.
//!
//! relu is `max(x, 0)` computed on the bits: `x` where its bits, read as an unsigned integer, are
//! at most those of `+inf` (`+0.0` up to `+inf`), else `+0.0` (a negative number, `-0.0`, and a
//! NaN of either sign: the sign of a NaN that an operation creates differs between targets, x86
//! giving `-NaN` and Arm `+NaN` for `inf - inf`, so a NaN must not survive the activation, or host
//! and firmware would disagree). On Cortex-M4F the relu leaky update runs 8 units at a time in
//! inline assembly: one `ldmia` of 8 pre-activations into core registers, 8 times `cmp` with
//! `0x7f800000`, `it hi`, `movhi 0`, 4 `vmov` to the FPU, one `vldmia` of 8 `h`, 8 `vmul` by
//! `1 - alpha`, 8 `vmla` of `alpha phi`, one `vstmia` (49 instructions per 8 units with the loop);
//! `vmla` rounds the product, then the sum, as the portable `keep h + alpha phi` does, so the bits
//! are the same.

use crate::format::Activation;

impl Activation {
    /// phi(x): relu = max(x, 0) (`+0.0` for `x <= 0` and for a NaN of either sign);
    /// tanh; softplus = max(x, 0) + ln(1 + e^-|x|) (stable form of ln(1 + e^x)).
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Relu => relu(x),
            Activation::Tanh => libm::tanhf(x),
            Activation::Softplus => softplus(x),
        }
    }
}

#[inline(always)]
fn relu(x: f32) -> f32 {
    // Above the bits of +inf: a positive NaN or any negative (sign bit set) value or NaN.
    if x.to_bits() <= RELU_MAX_BITS {
        x
    } else {
        0.0
    }
}

/// The bits of `+inf`, the largest that relu keeps.
const RELU_MAX_BITS: u32 = 0x7f80_0000;

#[inline(always)]
fn softplus(x: f32) -> f32 {
    relu(x) + libm::log1pf(libm::expf(-libm::fabsf(x)))
}

/// `next[i] = (1 - alpha) * h[i] + alpha * phi(next[i])`, where `next` holds the pre-activation.
/// The match is hoisted out of the loop.
#[inline(always)]
pub(crate) fn leaky_update(act: Activation, alpha: f32, h: &[f32], next: &mut [f32]) {
    #[inline(always)]
    fn run(alpha: f32, h: &[f32], next: &mut [f32], phi: impl Fn(f32) -> f32) {
        let keep = 1.0 - alpha;
        for (n, &old) in next.iter_mut().zip(h) {
            *n = keep * old + alpha * phi(*n);
        }
    }
    match act {
        Activation::Relu => {
            #[cfg(target_arch = "arm")]
            let first = arm::relu_blocks(alpha, h, next);
            #[cfg(not(target_arch = "arm"))]
            let first = 0;
            let (h, next) = (
                h.get(first..).unwrap_or(&[]),
                next.get_mut(first..).unwrap_or(&mut []),
            );
            run(alpha, h, next, relu)
        }
        Activation::Tanh => run(alpha, h, next, libm::tanhf),
        Activation::Softplus => run(alpha, h, next, softplus),
    }
}

#[cfg(target_arch = "arm")]
mod arm {
    /// The relu leaky update of the first `8 * (n / 8)` units (module doc); returns how many.
    #[inline(always)]
    pub(super) fn relu_blocks(alpha: f32, h: &[f32], next: &mut [f32]) -> usize {
        let n8 = h.len().min(next.len()) / 8;
        if n8 == 0 {
            return 0;
        }
        let keep = 1.0 - alpha;
        // SAFETY: reads `8 n8` floats of `h` and of `next` and writes as many of `next`, all
        // inside the slices (`n8` from the shorter one); f32 slices are 4-aligned, as `ldmia`,
        // `vldmia` and `vstmia` need. Touches only the registers listed.
        unsafe {
            core::arch::asm!(
                "vmov s16, s17, {k}, {a}",
                "2:",
                "ldmia {np}, {{r0-r5, r8, r9}}",
                "cmp r0, #0x7f800000",
                "it hi",
                "movhi r0, #0",
                "cmp r1, #0x7f800000",
                "it hi",
                "movhi r1, #0",
                "cmp r2, #0x7f800000",
                "it hi",
                "movhi r2, #0",
                "cmp r3, #0x7f800000",
                "it hi",
                "movhi r3, #0",
                "cmp r4, #0x7f800000",
                "it hi",
                "movhi r4, #0",
                "cmp r5, #0x7f800000",
                "it hi",
                "movhi r5, #0",
                "cmp r8, #0x7f800000",
                "it hi",
                "movhi r8, #0",
                "cmp r9, #0x7f800000",
                "it hi",
                "movhi r9, #0",
                "vmov s0, s1, r0, r1",
                "vmov s2, s3, r2, r3",
                "vmov s4, s5, r4, r5",
                "vmov s6, s7, r8, r9",
                "vldmia {hp}!, {{s8-s15}}",
                "vmul.f32 s8, s16, s8",
                "vmul.f32 s9, s16, s9",
                "vmul.f32 s10, s16, s10",
                "vmul.f32 s11, s16, s11",
                "vmul.f32 s12, s16, s12",
                "vmul.f32 s13, s16, s13",
                "vmul.f32 s14, s16, s14",
                "vmul.f32 s15, s16, s15",
                "vmla.f32 s8, s17, s0",
                "vmla.f32 s9, s17, s1",
                "vmla.f32 s10, s17, s2",
                "vmla.f32 s11, s17, s3",
                "vmla.f32 s12, s17, s4",
                "vmla.f32 s13, s17, s5",
                "vmla.f32 s14, s17, s6",
                "vmla.f32 s15, s17, s7",
                "vstmia {np}!, {{s8-s15}}",
                "subs {n}, {n}, #1",
                "bne 2b",
                k = in(reg) keep.to_bits(),
                a = in(reg) alpha.to_bits(),
                np = inout(reg) next.as_mut_ptr() => _,
                hp = inout(reg) h.as_ptr() => _,
                n = inout(reg) n8 => _,
                out("r0") _, out("r1") _, out("r2") _, out("r3") _,
                out("r4") _, out("r5") _, out("r8") _, out("r9") _,
                out("s0") _, out("s1") _, out("s2") _, out("s3") _,
                out("s4") _, out("s5") _, out("s6") _, out("s7") _,
                out("s8") _, out("s9") _, out("s10") _, out("s11") _,
                out("s12") _, out("s13") _, out("s14") _, out("s15") _,
                out("s16") _, out("s17") _,
                options(nostack),
            );
        }
        8 * n8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(Activation::Relu.apply(-2.0), 0.0);
        assert_eq!(Activation::Relu.apply(1.5), 1.5);
        let bits = |x: f32| Activation::Relu.apply(x).to_bits();
        assert_eq!(bits(-0.0), 0);
        assert_eq!(bits(f32::NEG_INFINITY), 0);
        assert_eq!(bits(-f32::MIN_POSITIVE), 0);
        assert_eq!(Activation::Relu.apply(f32::INFINITY), f32::INFINITY);
        assert_eq!(
            Activation::Relu.apply(f32::MIN_POSITIVE / 2.0),
            f32::MIN_POSITIVE / 2.0
        );
        // Every NaN gives +0.0, whatever its sign: an operation that creates one gives -NaN on
        // x86 and +NaN on Arm, so keeping it would make host and firmware disagree.
        assert_eq!(bits(f32::NAN), 0);
        assert_eq!(bits(-f32::NAN), 0);
        let inf = std::hint::black_box(f32::INFINITY);
        assert_eq!(bits(inf - inf), 0);
        assert_eq!(bits(f32::from_bits(0x7f80_0001)), 0);
        assert_eq!(bits(f32::MAX), f32::MAX.to_bits());
        assert!((Activation::Tanh.apply(0.5) - 0.5f32.tanh()).abs() < 1e-7);
        for x in [-30.0f32, -2.0, 0.0, 0.7, 15.0, 80.0] {
            let want = (1.0 + (x as f64).exp()).ln();
            let got = Activation::Softplus.apply(x) as f64;
            assert!(
                (got - want).abs() <= 1e-6 * want.max(1.0),
                "{x}: {got} vs {want}"
            );
        }
    }
}
