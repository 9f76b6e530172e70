//! Training: hand-written backpropagation through time, the loop, checkpoints (Adam is in
//! [`crate::optim`], the regularisers in [`crate::regularize`], which the loop calls).
//!
//! - [`Trainer`]: one network, its Adam state and buffers; [`Trainer::train_step`].
//! - [`config`]: the run config, and the plan it resolves into once ([`config::RunPlan`]).
//! - [`forward`]: noise-free evaluation returning logits and (optionally) every hidden state.
//! - [`oracle`]: the same forward pass with candle autograd, to check the gradients.
//! - [`bench`](mod@bench): ms per gradient step against candle and the dense-times-mask step.
//! - [`device`]: the same step as candle tensor operations on an accelerator (CUDA).
//! - [`memory`]: the memory a run needs, estimated and checked before anything is allocated.
//! - [`threads`]: the thread count of a run, and how a sweep divides the cores.

mod aligned;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod device;
pub mod eval;
mod forward;
mod inputs;
mod kernels;
pub mod lock;
mod loss;
pub mod memory;
mod noise;
pub mod oracle;
pub mod run;
pub mod stop;
pub mod threads;
mod trainer;
mod workspace;

#[cfg(test)]
mod bimt_tests;
#[cfg(test)]
pub(crate) mod tests;

pub use forward::{forward, forward_with};
pub use noise::{add_noise, noise_seed};
pub use trainer::{Engine, StepStats, Trainer, DEFAULT_CHUNK, PARALLEL_CHUNK};
pub use workspace::{RecurrentKernel, Workspace};
