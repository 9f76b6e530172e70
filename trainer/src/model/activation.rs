//! The trainer's evaluation of the activation phi: applied in place to contiguous slices, with
//! derivatives from outputs.
//!
//! The activation type is the runtime's [`Activation`] (one enum for configs, the trainer and the
//! blob). The kernels' phi is [`Activation::apply`] (libm); the trainer computes the same
//! functions through [`Training`], with tanh as the vectorisable [`fast_tanh`] (within 2e-6 of
//! libm's, so the parity checks hold within their tolerances).

pub use gyrus_runtime::format::Activation;

/// tanh as Eigen's vectorisable 13/6 rational approximation (clamped to |x| <= 7.9053, identity for
/// |x| < 4e-4). Branch-free so loops over slices vectorise; the polynomials use `f32::mul_add`
/// (one instruction in the trainer's AVX2 and AVX-512 kernels, a slower library call without FMA;
/// the same bits either way). Its maximum absolute error against the exact tanh is below 2e-6
/// (checked in the tests over [-10, 10]).
#[inline(always)]
pub fn fast_tanh(x: f32) -> f32 {
    const A1: f32 = 4.893_524_6e-3;
    const A3: f32 = 6.372_619_3e-4;
    const A5: f32 = 1.485_722_4e-5;
    const A7: f32 = 5.122_297e-8;
    const A9: f32 = -8.604_672e-11;
    const A11: f32 = 2.000_188e-13;
    const A13: f32 = -2.760_768_5e-16;
    const B0: f32 = 4.893_525e-3;
    const B2: f32 = 2.268_434_7e-3;
    const B4: f32 = 1.185_347_1e-4;
    const B6: f32 = 1.198_258_4e-6;
    const CLAMP: f32 = 7.905_311;
    let xc = x.clamp(-CLAMP, CLAMP);
    let x2 = xc * xc;
    let mut p = A13;
    p = p.mul_add(x2, A11);
    p = p.mul_add(x2, A9);
    p = p.mul_add(x2, A7);
    p = p.mul_add(x2, A5);
    p = p.mul_add(x2, A3);
    p = p.mul_add(x2, A1);
    p *= xc;
    let mut q = B6;
    q = q.mul_add(x2, B4);
    q = q.mul_add(x2, B2);
    q = q.mul_add(x2, B0);
    let r = p / q;
    if x.abs() < 4e-4 {
        x
    } else {
        r
    }
}

#[inline(always)]
fn relu(x: f32) -> f32 {
    x.max(0.0)
}

/// ln(1 + e^x), computed stably as max(x, 0) + ln(1 + e^-|x|).
#[inline(always)]
fn softplus(x: f32) -> f32 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// phi and its derivative as the trainer computes them (relu; tanh as [`fast_tanh`]; softplus
/// as max(x, 0) + ln(1 + e^-|x|)).
pub trait Training: Copy {
    /// phi(x) for one value.
    fn phi(self, x: f32) -> f32;

    /// Writes phi(x) into `out` for every element of `x` (equal lengths); the match is outside
    /// the loop, so that each loop vectorises.
    fn apply_to(self, x: &[f32], out: &mut [f32]);

    /// phi'(x) written in terms of y = phi(x): relu 1 if y > 0 else 0; tanh 1 - y^2;
    /// softplus sigmoid(x) = 1 - e^-y.
    fn derivative_from_output(self, y: f32) -> f32;
}

impl Training for Activation {
    #[inline]
    fn phi(self, x: f32) -> f32 {
        match self {
            Activation::Relu => relu(x),
            Activation::Tanh => fast_tanh(x),
            Activation::Softplus => softplus(x),
        }
    }

    #[inline]
    fn apply_to(self, x: &[f32], out: &mut [f32]) {
        #[inline(always)]
        fn run(x: &[f32], out: &mut [f32], phi: impl Fn(f32) -> f32) {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = phi(v);
            }
        }
        match self {
            Activation::Relu => run(x, out, relu),
            Activation::Tanh => run(x, out, fast_tanh),
            Activation::Softplus => run(x, out, softplus),
        }
    }

    #[inline(always)]
    fn derivative_from_output(self, y: f32) -> f32 {
        match self {
            Activation::Relu => {
                if y > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Tanh => 1.0 - y * y,
            Activation::Softplus => -(-y).exp_m1(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_tanh_is_close_to_exact() {
        let mut worst = 0.0f64;
        for i in -200_000..=200_000 {
            let x = i as f32 * 5e-5;
            let e = (f64::from(fast_tanh(x)) - f64::from(x).tanh()).abs();
            worst = worst.max(e);
        }
        assert!(worst < 2e-6, "max abs error {worst}");
        assert_eq!(fast_tanh(0.0), 0.0);
        assert!(fast_tanh(50.0) <= 1.0 && fast_tanh(50.0) > 0.999_999);
        assert_eq!(fast_tanh(-3.0), -fast_tanh(3.0));
    }

    #[test]
    fn derivatives_match_finite_differences() {
        for act in [Activation::Relu, Activation::Tanh, Activation::Softplus] {
            for &x in &[-2.5f64, -0.3, 0.4, 1.7] {
                let h = 1e-6;
                let exact = |v: f64| match act {
                    Activation::Relu => v.max(0.0),
                    Activation::Tanh => v.tanh(),
                    Activation::Softplus => v.exp().ln_1p(),
                };
                let fd = (exact(x + h) - exact(x - h)) / (2.0 * h);
                let d = f64::from(act.derivative_from_output(act.phi(x as f32)));
                assert!((d - fd).abs() < 1e-5, "{act:?} at {x}: {d} vs {fd}");
            }
        }
        assert_eq!(Activation::Softplus.phi(100.0), 100.0);
        assert!(Activation::Softplus.phi(-100.0) >= 0.0);
    }

    #[test]
    fn slices_and_values_agree_and_stay_near_the_runtime() {
        let x: Vec<f32> = (-40..=40).map(|i| i as f32 * 0.25).collect();
        for act in [Activation::Relu, Activation::Tanh, Activation::Softplus] {
            let mut out = vec![0.0; x.len()];
            act.apply_to(&x, &mut out);
            for (&v, &o) in x.iter().zip(&out) {
                assert_eq!(o.to_bits(), act.phi(v).to_bits(), "{act:?} at {v}");
                assert!((o - act.apply(v)).abs() <= 2e-6, "{act:?} at {v}");
            }
        }
    }
}
