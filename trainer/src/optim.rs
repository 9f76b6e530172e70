//! Adam (PyTorch semantics, no weight decay) fused over the flat parameter buffer, and global
//! gradient-norm clipping (PyTorch's `clip_grad_norm_`).

use crate::model::network::{check_values, find_range};
use crate::model::Network;
use crate::simd::multiversion;

/// Adam state: first and second moments in the parameter layout, and the step count.
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    /// Learning rate (default 1e-3).
    pub lr: f32,
    /// First-moment decay (default 0.9).
    pub beta1: f32,
    /// Second-moment decay (default 0.999).
    pub beta2: f32,
    /// Denominator epsilon (default 1e-8).
    pub eps: f32,
    m: Vec<f32>,
    v: Vec<f32>,
    step: u64,
}

/// Per-step constants of the update.
#[derive(Clone, Copy)]
struct Coef {
    b1: f32,
    b2: f32,
    step_size: f32,
    inv_sqrt_bc2: f32,
    eps: f32,
}

multiversion! {
    fn adam_update(p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], c: Coef) {
        let (one_b1, one_b2) = (1.0 - c.b1, 1.0 - c.b2);
        for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            *m = c.b1 * *m + one_b1 * g;
            *v = c.b2 * *v + one_b2 * (g * g);
            let denom = v.sqrt() * c.inv_sqrt_bc2 + c.eps;
            *p -= c.step_size * (*m / denom);
        }
    }
}

impl Adam {
    /// Fresh state for `n_params` parameters with PyTorch's defaults (lr 1e-3, betas 0.9/0.999,
    /// eps 1e-8).
    pub fn new(n_params: usize) -> Self {
        Adam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            m: vec![0.0; n_params],
            v: vec![0.0; n_params],
            step: 0,
        }
    }

    /// Number of updates applied so far.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Sets the step count (when loading a checkpoint).
    pub fn set_step_count(&mut self, step: u64) {
        self.step = step;
    }

    /// First moments (parameter layout).
    pub fn m(&self) -> &[f32] {
        &self.m
    }

    /// Second moments (parameter layout).
    pub fn v(&self) -> &[f32] {
        &self.v
    }

    /// First and second moments, mutable (e.g. to permute them along with the parameters).
    pub fn moments_mut(&mut self) -> (&mut [f32], &mut [f32]) {
        (&mut self.m, &mut self.v)
    }

    /// One update: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    /// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    pub fn update(&mut self, params: &mut [f32], grads: &[f32]) {
        assert!(
            params.len() == self.m.len() && grads.len() == self.m.len(),
            "Adam state does not match the parameters"
        );
        self.step += 1;
        let t = self.step as f64;
        let bc1 = 1.0 - f64::from(self.beta1).powf(t);
        let bc2 = 1.0 - f64::from(self.beta2).powf(t);
        let c = Coef {
            b1: self.beta1,
            b2: self.beta2,
            step_size: (f64::from(self.lr) / bc1) as f32,
            inv_sqrt_bc2: (1.0 / bc2.sqrt()) as f32,
            eps: self.eps,
        };
        adam_update(params, grads, &mut self.m, &mut self.v, c);
    }

    /// Named views of the moments for checkpoints: `adam.m.<tensor>` and `adam.v.<tensor>` for
    /// every tensor of `net` (same shapes). The step count is [`Adam::step_count`].
    pub fn tensors<'a>(&'a self, net: &Network) -> Vec<(String, Vec<usize>, &'a [f32])> {
        let mut out = Vec::new();
        for (name, shape, r) in net.tensor_specs() {
            out.push((format!("adam.m.{name}"), shape.clone(), &self.m[r.clone()]));
            out.push((format!("adam.v.{name}"), shape, &self.v[r]));
        }
        out
    }

    /// Loads one tensor listed by [`Adam::tensors`].
    pub fn load_tensor(&mut self, net: &Network, name: &str, data: &[f32]) -> anyhow::Result<()> {
        let specs = net.tensor_specs();
        let (buf, base) = if let Some(b) = name.strip_prefix("adam.m.") {
            (&mut self.m, b)
        } else if let Some(b) = name.strip_prefix("adam.v.") {
            (&mut self.v, b)
        } else {
            anyhow::bail!("unknown Adam tensor {name:?} (expected adam.m.* or adam.v.*)");
        };
        let range = find_range(&specs, base)?;
        check_values(name, range.len(), data)?;
        if buf.len() != net.params().len() {
            anyhow::bail!(
                "Adam state has {} entries, the network {}",
                buf.len(),
                net.params().len()
            );
        }
        buf[range].copy_from_slice(data);
        Ok(())
    }
}

/// Scales `grads` so their global L2 norm is at most `max_norm` (PyTorch: coefficient
/// max_norm / (norm + 1e-6), clamped to 1). Returns the norm before clipping (summed in f64).
pub fn clip_grad_norm(grads: &mut [f32], max_norm: f32) -> f32 {
    let sq: f64 = grads.iter().map(|&g| f64::from(g) * f64::from(g)).sum();
    let norm = sq.sqrt() as f32;
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        for g in grads.iter_mut() {
            *g *= coef;
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_pytorch_formula() {
        let mut p = vec![0.5f32, -1.0, 2.0];
        let mut p64: Vec<f64> = p.iter().map(|&x| f64::from(x)).collect();
        let mut adam = Adam::new(3);
        let (mut m, mut v) = (vec![0.0f64; 3], vec![0.0f64; 3]);
        for step in 1..=5 {
            let g = [0.1f32 * step as f32, -0.3, 0.0];
            adam.update(&mut p, &g);
            for k in 0..3 {
                let gk = f64::from(g[k]);
                m[k] = 0.9 * m[k] + 0.1 * gk;
                v[k] = 0.999 * v[k] + 0.001 * gk * gk;
                let bc1 = 1.0 - 0.9f64.powi(step);
                let bc2 = 1.0 - 0.999f64.powi(step);
                p64[k] -= 1e-3 / bc1 * m[k] / (v[k].sqrt() / bc2.sqrt() + 1e-8);
            }
        }
        for k in 0..3 {
            assert!(
                (f64::from(p[k]) - p64[k]).abs() < 1e-6,
                "{k}: {} vs {}",
                p[k],
                p64[k]
            );
        }
        // The first step moves every parameter with a non-zero gradient by about lr.
        assert!((f64::from(p[1]) - (-1.0 + 5e-3)).abs() < 1e-4);
        assert_eq!(p[2], 2.0);
        assert_eq!(adam.step_count(), 5);
    }

    #[test]
    fn clipping_caps_the_global_norm() {
        let mut g = vec![3.0f32, 4.0];
        let n = clip_grad_norm(&mut g, 1.0);
        assert_eq!(n, 5.0);
        let after = (g[0] * g[0] + g[1] * g[1]).sqrt();
        assert!((after - 1.0).abs() < 1e-5);
        let mut small = vec![0.3f32, 0.4];
        assert!((clip_grad_norm(&mut small, 1.0) - 0.5).abs() < 1e-7);
        assert_eq!(small, vec![0.3, 0.4]);
    }
}
