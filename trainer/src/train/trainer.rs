//! One gradient step: forward, cross-entropy, backward, L1 subgradient, clipping, Adam.

use super::adam::{clip_grad_norm, Adam};
use super::noise::noise_seed;
use super::workspace::{RecurrentKernel, Workspace};
use crate::model::Network;
use crate::regularize::bimt::{add_penalty_gradient, Bimt};
use gyrus_runtime::tasks::Rng;

/// What one training step measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// Mean cross-entropy over all T*B steps of the window (before the update). May be NaN or
    /// infinite: then no update was made and the caller decides what to do.
    pub loss: f32,
    /// The regulariser's value (lambda * sum |all weights and biases| for `l1`, lambda * l_cc for
    /// `bimt`, else 0).
    pub penalty: f32,
    /// Global L2 norm of the gradient before clipping.
    pub grad_norm: f32,
    /// Whether the parameters were updated (false when the loss or gradient was not finite).
    pub updated: bool,
}

impl StepStats {
    /// The end of a step, the same on every device: with a finite loss and penalty,
    /// `norm_or_update(true)` clips and updates and returns the norm before clipping (no update
    /// when that norm is not finite); otherwise `norm_or_update(false)` only measures the norm and
    /// nothing is updated.
    pub(crate) fn finish(
        loss: f32,
        penalty: f32,
        norm_or_update: impl FnOnce(bool) -> anyhow::Result<f32>,
    ) -> anyhow::Result<Self> {
        let update = loss.is_finite() && penalty.is_finite();
        let grad_norm = norm_or_update(update)?;
        Ok(StepStats {
            loss,
            penalty,
            grad_norm,
            updated: update && grad_norm.is_finite(),
        })
    }
}

/// A network with its Adam state, gradient buffer and workspace for windows of T x B.
#[derive(Clone, Debug)]
pub struct Trainer {
    net: Network,
    adam: Adam,
    ws: Workspace,
    grads: Vec<f32>,
    kernel: RecurrentKernel,
    /// Global gradient-norm clip (default 1.0).
    pub max_grad_norm: f32,
}

impl Trainer {
    /// A trainer with fresh Adam state for windows of `seq_len` steps and `batch` trials.
    pub fn new(net: Network, seq_len: usize, batch: usize) -> anyhow::Result<Self> {
        let ws = Workspace::new(&net, seq_len, batch)?;
        let n = net.params().len();
        Ok(Trainer {
            net,
            adam: Adam::new(n),
            ws,
            grads: vec![0.0; n],
            kernel: RecurrentKernel::Auto,
            max_grad_norm: 1.0,
        })
    }

    /// The network being trained.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The network, mutable (e.g. to load a checkpoint).
    pub fn network_mut(&mut self) -> &mut Network {
        &mut self.net
    }

    /// The optimiser state.
    pub fn adam(&self) -> &Adam {
        &self.adam
    }

    /// The optimiser state, mutable (learning rate, checkpoint loading).
    pub fn adam_mut(&mut self) -> &mut Adam {
        &mut self.adam
    }

    /// The network and its optimiser together, mutable (for edits that must move both, such as
    /// permuting hidden units).
    pub fn parts_mut(&mut self) -> (&mut Network, &mut Adam) {
        (&mut self.net, &mut self.adam)
    }

    /// Consumes the trainer, returning the network.
    pub fn into_network(self) -> Network {
        self.net
    }

    /// Window length T.
    pub fn seq_len(&self) -> usize {
        self.ws.seq_len()
    }

    /// Batch size B.
    pub fn batch(&self) -> usize {
        self.ws.batch()
    }

    /// Chooses how the recurrent product runs (only changes anything for masked families).
    pub fn set_kernel(&mut self, kernel: RecurrentKernel) {
        self.kernel = kernel;
    }

    /// The gradient of the last [`Trainer::compute_gradients`] (parameter layout; clipped once
    /// [`Trainer::apply_update`] has run).
    pub fn gradients(&self) -> &[f32] {
        &self.grads
    }

    /// The gradient buffer, mutable: a regulariser may add its gradient here between
    /// [`Trainer::compute_gradients`] and [`Trainer::apply_update`].
    pub fn gradients_mut(&mut self) -> &mut [f32] {
        &mut self.grads
    }

    fn check_targets(&self, targets: &[u8]) -> anyhow::Result<()> {
        let need = self.ws.seq_len() * self.ws.batch();
        if targets.len() != need {
            anyhow::bail!(
                "targets have {} values, T*B = {need} expected",
                targets.len()
            );
        }
        let classes = self.net.config().n_outputs;
        if let Some(&bad) = targets.iter().find(|&&c| usize::from(c) >= classes) {
            anyhow::bail!("target class {bad} out of range (the network has {classes} outputs)");
        }
        Ok(())
    }

    /// Forward (with recurrent noise if configured, its seed taken from `noise_rng`) and backward
    /// on one window; fills the gradient buffer with d(loss + penalty)/dparams. Returns
    /// (mean cross-entropy, penalty). `inputs` is [T, B, I] and `targets` [T, B], time-major.
    pub fn compute_gradients(
        &mut self,
        inputs: &[f32],
        targets: &[u8],
        noise_rng: &mut Rng,
    ) -> anyhow::Result<(f32, f32)> {
        self.ws.check(&self.net, inputs)?;
        self.check_targets(targets)?;
        let seed = noise_seed(noise_rng);
        let sigma = self.net.config().noise_sigma();
        self.ws
            .forward(&self.net, inputs, self.kernel, Some((seed, sigma)));
        let loss = self.ws.loss(targets) as f32;
        self.ws.backward(&self.net, self.kernel, &mut self.grads);
        let lambda = self.net.config().family.l1_lambda();
        let mut penalty = 0.0f32;
        if lambda > 0.0 {
            let mut sum = 0.0f64;
            for (g, &p) in self.grads.iter_mut().zip(self.net.params()) {
                sum += f64::from(p.abs());
                // Subgradient sign(p), 0 at 0 (as torch.abs).
                if p > 0.0 {
                    *g += lambda;
                } else if p < 0.0 {
                    *g -= lambda;
                }
            }
            penalty = (f64::from(lambda) * sum) as f32;
        }
        if let Some(bimt) = Bimt::from_family(&self.net.config().family) {
            // Step t (from 1) of the update this gradient feeds: the warm-up follows Adam's count,
            // which checkpoints restore.
            let lambda = bimt.lambda_at(self.adam.step_count() + 1);
            penalty += add_penalty_gradient(&self.net, lambda, bimt.a, &mut self.grads) as f32;
        }
        Ok((loss, penalty))
    }

    /// Clips the gradient buffer to [`Trainer::max_grad_norm`] and applies one Adam update.
    /// Returns the norm before clipping. Does nothing and returns the norm if it is not finite.
    pub fn apply_update(&mut self) -> f32 {
        let norm = clip_grad_norm(&mut self.grads, self.max_grad_norm);
        if norm.is_finite() {
            self.adam.update(self.net.params_mut(), &self.grads);
        }
        norm
    }

    /// One full training step: [`Trainer::compute_gradients`], then (if the loss and the gradient
    /// are finite) [`Trainer::apply_update`]. A non-finite loss is returned in the stats with
    /// `updated = false` and the parameters unchanged.
    pub fn train_step(
        &mut self,
        inputs: &[f32],
        targets: &[u8],
        noise_rng: &mut Rng,
    ) -> anyhow::Result<StepStats> {
        let (loss, penalty) = self.compute_gradients(inputs, targets, noise_rng)?;
        StepStats::finish(loss, penalty, |update| {
            Ok(if update {
                self.apply_update()
            } else {
                clip_grad_norm(&mut self.grads, f32::INFINITY)
            })
        })
    }
}
