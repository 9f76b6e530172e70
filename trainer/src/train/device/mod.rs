//! Training on an accelerator: the same step as [`crate::train::Trainer`] (same loss, gradients,
//! clipping, Adam, L1 and BIMT penalties) written with candle tensors, so that it runs on any
//! candle device, a CUDA GPU above all.
//!
//! - [`DeviceSpec`]: what `--device` names: `cpu` (the hand-written trainer, the default),
//!   `cuda` / `cuda:N` (a GPU; needs the `cuda` cargo feature), and `candle-cpu` (this module's
//!   step on candle's CPU backend: slow, for checking the GPU code path on a machine without one).
//! - [`DeviceTrainer`]: the parameters, Adam moments and masks held on the device; one call per
//!   gradient step. The host [`crate::train::Trainer`] stays the owner of record: the run copies
//!   the state back before it evaluates, checkpoints or swaps neurons, so checkpoints, logs and
//!   exports are those of a CPU run, and a run may be resumed on another device.
//! - [`bench`](mod@bench): ms per gradient step on the device next to the hand-written CPU step.
//!
//! On a GPU the recurrent noise is drawn on the device (candle's generator, reseeded every step
//! from the run's noise stream, so a resumed run draws the same noise); on `candle-cpu` it is the
//! CPU trainer's own noise, so that the two agree draw for draw.

pub mod bench;
mod engine;
mod spec;

#[cfg(test)]
mod tests;

pub use engine::{DeviceTrainer, NoiseSource};
pub use spec::DeviceSpec;
