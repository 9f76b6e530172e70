//! One gradient step: forward, cross-entropy, backward, L1 subgradient, clipping, Adam.
//!
//! Data parallelism inside the step: the B streams of a batch are cut into chunks of a fixed
//! number of streams (a constant of the run, [`DEFAULT_CHUNK`] unless configured, never the
//! thread count). Each chunk has its own [`Workspace`] and gradient buffer and runs its forward
//! and backward pass as one task of the current rayon pool; then the chunk gradients (and losses)
//! are summed in chunk order. Every chunk computes the same numbers whichever thread runs it, and
//! the recurrent noise of a stream is drawn at its position in the whole batch's buffer, so the
//! same seed and config give bit-identical weights with any number of threads.
//!
//! Threads that no chunk occupies (all but one with a single chunk, the default) help inside
//! each chunk: a masked step is split by units (each thread computes a range of units, which
//! write disjoint rows and weight-gradient lane sums; each unit's numbers are the same whichever
//! range computes it), and the dense products run on `gemm`'s threads (which split the output
//! and sum every element in the same order). Neither changes a bit of the weights.

use super::noise::noise_seed;
use super::workspace::{RecurrentKernel, Streams, Workspace};
use crate::model::Network;
use crate::optim::{clip_grad_norm, Adam};
use crate::regularize::bimt::{add_penalty_gradient, Bimt};
use gyrus_runtime::tasks::Rng;
use rayon::prelude::*;

/// Streams per chunk unless the run configures another size: the whole default batch of 64 as one
/// chunk, which is the single-thread step at full speed and gives the same weights as before
/// chunking existed. Smaller chunks let more threads help one step at a per-core cost (README,
/// "Speed": chunks of 32 cost 2-66% more CPU per step); see [`PARALLEL_CHUNK`].
pub const DEFAULT_CHUNK: usize = 64;

/// The chunk size that lets two threads share a step of the default batch of 64 (`--chunk 32`),
/// each chunk still a whole 32-value register block of the kernels; what `gyrus bench train
/// --threads` times.
pub const PARALLEL_CHUNK: usize = 32;

/// Parameters per task when the chunk gradients are summed.
const SUM_BLOCK: usize = 1 << 14;

/// One chunk of the batch: its streams, buffers and gradient.
#[derive(Clone, Debug)]
struct Chunk {
    /// Index of its first stream in the batch.
    first: usize,
    ws: Workspace,
    /// Its gradient (unused with a single chunk, which writes the trainer's buffer directly).
    grads: Vec<f32>,
    /// The sum of its steps' cross-entropies.
    loss: f64,
}

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

/// A network with its Adam state, gradient buffer and per-chunk workspaces for windows of T x B.
#[derive(Clone, Debug)]
pub struct Trainer {
    net: Network,
    adam: Adam,
    t: usize,
    b: usize,
    chunk: usize,
    chunks: Vec<Chunk>,
    grads: Vec<f32>,
    kernel: RecurrentKernel,
    /// Least work of a masked step before it is split by units (None: the default).
    split_min_work: Option<usize>,
    /// Global gradient-norm clip (default 1.0).
    pub max_grad_norm: f32,
}

impl Trainer {
    /// A trainer with fresh Adam state for windows of `seq_len` steps and `batch` trials, in
    /// chunks of [`DEFAULT_CHUNK`] streams.
    pub fn new(net: Network, seq_len: usize, batch: usize) -> anyhow::Result<Self> {
        Self::with_chunk(net, seq_len, batch, DEFAULT_CHUNK)
    }

    /// [`Trainer::new`] with chunks of `chunk` streams (the last one may be shorter). The chunk
    /// size changes the order in which the gradient is summed, so it is part of a run's config;
    /// the thread count is not.
    pub fn with_chunk(
        net: Network,
        seq_len: usize,
        batch: usize,
        chunk: usize,
    ) -> anyhow::Result<Self> {
        if chunk == 0 {
            anyhow::bail!("the chunk size must be positive");
        }
        if batch == 0 {
            // Workspace::new gives the message.
            Workspace::new(&net, seq_len, batch)?;
        }
        let n = net.params().len();
        let single = batch <= chunk;
        let chunks = (0..batch)
            .step_by(chunk)
            .map(|first| {
                Ok(Chunk {
                    first,
                    ws: Workspace::new(&net, seq_len, chunk.min(batch - first))?,
                    grads: if single { Vec::new() } else { vec![0.0; n] },
                    loss: 0.0,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Trainer {
            net,
            adam: Adam::new(n),
            t: seq_len,
            b: batch,
            chunk,
            chunks,
            grads: vec![0.0; n],
            kernel: RecurrentKernel::Auto,
            split_min_work: None,
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
        self.t
    }

    /// Batch size B.
    pub fn batch(&self) -> usize {
        self.b
    }

    /// Streams per chunk.
    pub fn chunk(&self) -> usize {
        self.chunk
    }

    /// Number of chunks (the most threads one step can use).
    pub fn n_chunks(&self) -> usize {
        self.chunks.len()
    }

    /// Chooses how the recurrent product runs (only changes anything for masked families).
    pub fn set_kernel(&mut self, kernel: RecurrentKernel) {
        self.kernel = kernel;
    }

    /// Sets the least work (stored connections x streams of a chunk) of one masked step before
    /// the threads that no chunk occupies split it by units (default: a size where a fork-join
    /// pays; 0 splits every step, for tests). The weights do not depend on it.
    pub fn set_split_min_work(&mut self, work: usize) {
        self.split_min_work = Some(work);
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
        let need = self.t * self.b;
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
    /// The chunks run in parallel on the current rayon pool (see the module docs).
    pub fn compute_gradients(
        &mut self,
        inputs: &[f32],
        targets: &[u8],
        noise_rng: &mut Rng,
    ) -> anyhow::Result<(f32, f32)> {
        let all = Streams::all(self.b);
        for c in &self.chunks {
            let streams = Streams {
                first: c.first,
                ..all
            };
            c.ws.check(&self.net, inputs, streams)?;
        }
        self.check_targets(targets)?;
        let seed = noise_seed(noise_rng);
        let sigma = self.net.config().noise_sigma();
        let (net, kernel) = (&self.net, self.kernel);
        // Threads left over by the chunks split each masked step by units.
        let spare = (rayon::current_num_threads() / self.chunks.len()).max(1);
        for c in &mut self.chunks {
            c.ws.set_split(spare, self.split_min_work);
        }
        let run = |c: &mut Chunk, grads: &mut [f32]| {
            let streams = Streams {
                first: c.first,
                ..all
            };
            c.ws.forward(net, inputs, streams, kernel, Some((seed, sigma)));
            c.loss = c.ws.loss(targets, streams);
            c.ws.backward(net, kernel, grads);
        };
        if let [single] = &mut self.chunks[..] {
            run(single, &mut self.grads);
        } else {
            self.chunks.par_iter_mut().for_each(|c| {
                let mut g = std::mem::take(&mut c.grads);
                run(c, &mut g);
                c.grads = g;
            });
            // The sum over chunks in chunk order, element by element (blocks in parallel).
            let chunks = &self.chunks;
            self.grads
                .par_chunks_mut(SUM_BLOCK)
                .enumerate()
                .for_each(|(k, out)| {
                    let at = k * SUM_BLOCK..k * SUM_BLOCK + out.len();
                    out.copy_from_slice(&chunks[0].grads[at.clone()]);
                    for c in &chunks[1..] {
                        for (o, &g) in out.iter_mut().zip(&c.grads[at.clone()]) {
                            *o += g;
                        }
                    }
                });
        }
        let total: f64 = self.chunks.iter().map(|c| c.loss).sum();
        let loss = (total / (self.t * self.b) as f64) as f32;
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
}

/// What takes a training step: the hand-written CPU [`Trainer`] and the accelerator's
/// [`super::device::DeviceTrainer`] implement the parts, and the step itself is written once
/// ([`Engine::train_step`]), so the training loop holds one code path for both.
pub trait Engine {
    /// Forward (with recurrent noise seeded from `noise_rng`) and backward on one window
    /// (`inputs` [T, B, I], `targets` [T, B]); keeps d(loss + penalty)/dparams. Returns (mean
    /// cross-entropy, penalty).
    fn compute_gradients(
        &mut self,
        inputs: &[f32],
        targets: &[u8],
        noise_rng: &mut Rng,
    ) -> anyhow::Result<(f32, f32)>;

    /// Clips the kept gradient and applies one Adam update; returns the norm before clipping
    /// (and updates nothing if that norm is not finite).
    fn apply_update(&mut self) -> anyhow::Result<f32>;

    /// The norm of the kept gradient, without an update.
    fn grad_norm(&mut self) -> anyhow::Result<f32>;

    /// One full training step: [`Engine::compute_gradients`], then (if the loss, penalty and
    /// gradient are finite) [`Engine::apply_update`]. A non-finite loss is returned in the stats
    /// with `updated = false` and the parameters unchanged.
    fn train_step(
        &mut self,
        inputs: &[f32],
        targets: &[u8],
        noise_rng: &mut Rng,
    ) -> anyhow::Result<StepStats> {
        let (loss, penalty) = self.compute_gradients(inputs, targets, noise_rng)?;
        StepStats::finish(loss, penalty, |update| {
            if update {
                self.apply_update()
            } else {
                self.grad_norm()
            }
        })
    }
}

impl Engine for Trainer {
    fn compute_gradients(
        &mut self,
        inputs: &[f32],
        targets: &[u8],
        noise_rng: &mut Rng,
    ) -> anyhow::Result<(f32, f32)> {
        Trainer::compute_gradients(self, inputs, targets, noise_rng)
    }

    fn apply_update(&mut self) -> anyhow::Result<f32> {
        Ok(Trainer::apply_update(self))
    }

    fn grad_norm(&mut self) -> anyhow::Result<f32> {
        Ok(clip_grad_norm(&mut self.grads, f32::INFINITY))
    }
}
