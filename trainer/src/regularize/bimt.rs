//! BIMT's connection cost (Liu, Khona, Fiete, Tegmark; `docs/models.md`): distances on the
//! sheet, the wiring cost A * |D (.) W|_1, the full cost l_cc and its subgradient.
//!
//! Unit (i, j) of an R x C sheet sits at (i / S, j / S) in the unit square, S = max(R, C); the
//! distance between two units is Manhattan, D = (|i - m| + |j - n|) / S.

use crate::model::{Family, Network};

/// BIMT's settings, read from [`Family::Bimt`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bimt {
    /// Penalty weight lambda (after warm-up).
    pub lambda: f32,
    /// Weight A of the distance-weighted term.
    pub a: f32,
    /// Swap round every this many steps (0 = never).
    pub swap_every: u64,
    /// Units tried per swap round (None = ceil(N / 8)).
    pub top_k: Option<usize>,
    /// Linear warm-up length of lambda in steps (0 = none).
    pub warmup: u64,
}

impl Bimt {
    /// The settings of a `bimt` family; None for every other family.
    pub fn from_family(family: &Family) -> Option<Self> {
        match *family {
            Family::Bimt {
                lambda,
                a,
                swap_every,
                top_k,
                warmup,
            } => Some(Bimt {
                lambda,
                a,
                swap_every,
                top_k,
                warmup,
            }),
            _ => None,
        }
    }

    /// The penalty weight used by step `step` (counted from 1): lambda * min(1, step / warmup),
    /// or lambda without warm-up.
    pub fn lambda_at(&self, step: u64) -> f32 {
        if self.warmup == 0 || step >= self.warmup {
            self.lambda
        } else {
            (f64::from(self.lambda) * step as f64 / self.warmup as f64) as f32
        }
    }

    /// Units tried per swap round on a network of `n` hidden units: `top_k` or, by default,
    /// ceil(n / 8) (at least 1), never more than n. One eighth reaches the most connected units
    /// (the ones whose placement matters most) at a cost of k * N * O(N) = N^3 / 8 operations per
    /// round, well under 1% of the 200 training steps between rounds.
    pub fn top_k(&self, n: usize) -> usize {
        self.top_k.unwrap_or(n.div_ceil(8)).clamp(1, n.max(1))
    }

    /// Whether a swap round follows step `step` (counted from 1).
    pub fn swap_due(&self, step: u64) -> bool {
        self.swap_every > 0 && step > 0 && step.is_multiple_of(self.swap_every)
    }
}

/// The wiring cost A * sum_ij D_ij |W_ij| of the recurrent weights (f64 sums). Works for every
/// structure (0 for frozen-autapse, whose identity has D = 0 everywhere).
pub fn wiring_cost(net: &Network, a: f32) -> f64 {
    let sheet = net.config().sheet;
    let w = net.w_rec();
    let mut sum = 0.0f64;
    net.for_each_recurrent(|k, i, j| {
        sum += sheet.distance(i, j) * f64::from(w[k].abs());
    });
    f64::from(a) * sum
}

/// The connection cost l_cc = |W|_1 + |W_in|_1 + |W_out|_1 + |b_h|_1 + |b_o|_1 + A |D (.) W|_1
/// (sums over all trainable parameters, f64).
pub fn connection_cost(net: &Network, a: f32) -> f64 {
    let l1: f64 = net.params().iter().map(|p| f64::from(p.abs())).sum();
    l1 + wiring_cost(net, a)
}

/// Adds the subgradient of `lambda * l_cc` to `grads` (parameter layout): lambda * sign(p) for
/// every parameter, times (1 + A D_ij) for recurrent weights; sign(0) = 0, as torch.abs. Returns
/// the penalty lambda * l_cc. With lambda = 0 it adds nothing and returns 0.
pub fn add_penalty_gradient(net: &Network, lambda: f32, a: f32, grads: &mut [f32]) -> f64 {
    assert_eq!(
        grads.len(),
        net.params().len(),
        "gradient buffer does not match the parameters"
    );
    if lambda == 0.0 {
        return 0.0;
    }
    let sign = |p: f32| {
        if p > 0.0 {
            1.0f32
        } else if p < 0.0 {
            -1.0
        } else {
            0.0
        }
    };
    let params = net.params();
    let mut l1 = 0.0f64;
    for (g, &p) in grads.iter_mut().zip(params) {
        l1 += f64::from(p.abs());
        *g += lambda * sign(p);
    }
    let sheet = net.config().sheet;
    let base = net.layout().w_rec.start;
    let la = lambda * a;
    let mut wired = 0.0f64;
    if a != 0.0 {
        net.for_each_recurrent(|k, i, j| {
            let d = sheet.distance(i, j);
            let p = params[base + k];
            wired += d * f64::from(p.abs());
            grads[base + k] += la * d as f32 * sign(p);
        });
    }
    f64::from(lambda) * (l1 + f64::from(a) * wired)
}
