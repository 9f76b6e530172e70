//! The nonlinearity phi and the leaky update, shared by every kernel.
//!
//! tanh and softplus use `libm` rather than `std`'s float functions: libm is pure Rust, so the same
//! code runs on the host and on thumbv7em (which has no `std`), and gives bit-identical results on
//! both, as in the task generator. The trainer computes the same functions with a vectorisable
//! tanh (`gyrus_trainer::model::Training`, within 2e-6 of libm's); the parity tests (`tests/`)
//! compare the two within a tolerance.

use crate::format::Activation;

impl Activation {
    /// phi(x): relu = max(x, 0); tanh; softplus = max(x, 0) + ln(1 + e^-|x|) (stable form of
    /// ln(1 + e^x)).
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
    if x > 0.0 {
        x
    } else {
        0.0
    }
}

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
        Activation::Relu => run(alpha, h, next, relu),
        Activation::Tanh => run(alpha, h, next, libm::tanhf),
        Activation::Softplus => run(alpha, h, next, softplus),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(Activation::Relu.apply(-2.0), 0.0);
        assert_eq!(Activation::Relu.apply(1.5), 1.5);
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
