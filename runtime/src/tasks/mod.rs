//! The cognitive task generator: the 20 tasks of Yang et al. (2019) in NeuroGym form and the
//! Mod-Cog battery (Khona et al.), as specified in `docs/tasks.md`.
//!
//! Everything here is `no_std` and allocation-free: trials are small values, inputs and targets are
//! written into caller-provided buffers, and randomness comes from a seeded [`Rng`] whose draws are
//! bit-identical on every platform. So the trainer on a PC and the firmware on a board generate the
//! very same trials from the same seed.
//!
//! - [`Task`], [`Collection`], [`TaskList`]: names and batteries (`cog20`, `modcog`, `modcog-full`).
//! - [`Trial`]: one trial's periods, stimuli, answer; its per-step inputs and targets.
//! - [`Stream`] and [`fill_batch`]: training batches (B streams of concatenated trials in windows).
//! - [`eval_trial`]: seeded whole trials for evaluation.
//! - [`Score`]: the `last` and `strict` performance metrics.
//!
//! Input layout per step: 0 = fixation, 1..=16 = ring 1, 17..=32 = ring 2, then one rule input per
//! task of the list. Outputs: 17 classes, 0 = fixate, k+1 = ring direction k.

mod batch;
mod metrics;
mod rng;
mod task;
mod trial;

#[cfg(test)]
mod tests;

pub use batch::{eval_rng, eval_trial, fill_batch, Stream};
pub use metrics::{argmax, Score};
pub use rng::{derive_seed, mix64, Rng};
pub use task::{Base, Collection, Family, NameError, Shift, Task, TaskList};
pub use trial::{
    bump, length_range, upper_half, Period, PeriodKind, Stimulus, Trial, MAX_PERIODS, MAX_STIMULI,
};

use core::fmt;

/// Units per ring.
pub const RING_UNITS: usize = 16;
/// Sensory inputs: fixation and two rings.
pub const N_SENSORY: usize = 1 + 2 * RING_UNITS;
/// Output classes: fixate, or one of the 16 ring directions.
pub const N_CLASSES: usize = 1 + RING_UNITS;

/// Number of inputs per step for a list of `n_rules` tasks.
pub const fn n_inputs(n_rules: usize) -> usize {
    N_SENSORY + n_rules
}

/// Generator settings shared by training and evaluation.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// Time step in ms (default 100). Every period is floored to a multiple of it. Valid: 1..=100.
    pub dt_ms: u16,
    /// Multiplier of the reference input noise std 1/sqrt(dt_ms) (1 = reference, 0 = noise-free).
    pub noise: f32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dt_ms: 100,
            noise: 1.0,
        }
    }
}

impl Config {
    /// The same settings without input noise.
    pub const fn noise_free(self) -> Self {
        Config {
            dt_ms: self.dt_ms,
            noise: 0.0,
        }
    }

    /// Input-noise standard deviation: `noise / sqrt(dt_ms)` (0.1 at the defaults).
    pub fn sigma(&self) -> f32 {
        self.noise / libm::sqrtf(f32::from(self.dt_ms))
    }

    /// Checks the settings: `dt_ms` in 1..=100 (so that every period of every task is at least one
    /// step long, but for a zero interval delay) and a finite, non-negative noise multiplier.
    pub fn validate(&self) -> Result<(), Error> {
        if !(1..=100).contains(&self.dt_ms) || !self.noise.is_finite() || self.noise < 0.0 {
            return Err(Error::Config);
        }
        Ok(())
    }
}

/// Errors of the task generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// A caller buffer has the wrong length.
    Buffer {
        /// Length required.
        needed: usize,
        /// Length given.
        got: usize,
    },
    /// Invalid [`Config`].
    Config,
    /// Rule index out of range of the task list.
    RuleIndex,
    /// An invalid task (interval modifier on a task without delay).
    Task,
    /// The task list is empty.
    EmptyTaskList,
    /// `seq_len` or the number of streams is zero.
    Size,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Buffer { needed, got } => {
                write!(f, "buffer has length {got}, {needed} needed")
            }
            Error::Config => {
                f.write_str("invalid generator config (dt_ms must be 1..=100, noise >= 0)")
            }
            Error::RuleIndex => f.write_str("rule index out of range of the task list"),
            Error::Task => f.write_str("interval variant of a task without a delay"),
            Error::EmptyTaskList => f.write_str("the task list is empty"),
            Error::Size => f.write_str("batch size and sequence length must be positive"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}
#[cfg(feature = "std")]
impl std::error::Error for NameError {}
