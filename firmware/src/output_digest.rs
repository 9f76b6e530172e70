//! Digest of a model's outputs on the evaluation trials: the bits of every output of every step
//! and of the final hidden state of every trial, per task. The firmware logs it; the host test
//! (which includes this file) recomputes it with the runtime on the host and requires the same
//! values, so host and board must agree bit for bit.

use crate::digest::Fnv32;
use gyrus_runtime::eval::EvalError;
use gyrus_runtime::format::ModelView;
use gyrus_runtime::kernel::{self, State};
use gyrus_runtime::tasks::{eval_trial, Config, TaskList};

/// Seed of the evaluation trials (digests and scores).
pub const EVAL_SEED: u64 = 0x6779_7275_7345;

/// Trials per task.
pub const EVAL_TRIALS: u32 = 8;

/// Which weights a step uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weights {
    /// f32 weights ([`kernel::step`]).
    F32,
    /// int8 weights ([`kernel::step_int8`]).
    Int8,
}

impl Weights {
    /// Both kinds, f32 first.
    pub const ALL: [Weights; 2] = [Weights::F32, Weights::Int8];

    /// Name in log lines.
    pub const fn name(self) -> &'static str {
        match self {
            Weights::F32 => "f32",
            Weights::Int8 => "int8",
        }
    }

    /// One step of the model with these weights.
    #[inline]
    pub fn step(
        self,
        model: &ModelView<'_>,
        state: &mut State<'_>,
        input: &[f32],
        output: &mut [f32],
    ) -> Result<(), kernel::KernelError> {
        match self {
            Weights::F32 => kernel::step(model, state, input, output),
            Weights::Int8 => kernel::step_int8(model, state, input, output),
        }
    }
}

/// Caller-owned scratch for [`outputs_digest`].
pub struct Scratch<'a> {
    /// At least `State::buffer_len(n_hidden)` floats.
    pub state: &'a mut [f32],
    /// Exactly `n_inputs` floats.
    pub input: &'a mut [f32],
    /// Exactly `n_outputs` floats.
    pub output: &'a mut [f32],
}

/// FNV-1a over trials `0..trials` of rule `rule` (from h = 0 each): per step the output bits, per
/// trial the final hidden state bits. Also returns the number of steps.
pub fn outputs_digest(
    model: &ModelView<'_>,
    list: &TaskList<'_>,
    rule: usize,
    weights: Weights,
    cfg: &Config,
    scratch: &mut Scratch<'_>,
) -> Result<(u32, u32), EvalError> {
    let mut state = State::new(model.n_hidden(), scratch.state)?;
    let mut h = Fnv32::new();
    let mut steps = 0u32;
    for i in 0..EVAL_TRIALS {
        let (trial, mut rng) = eval_trial(list, rule, EVAL_SEED, u64::from(i), cfg)?;
        state.reset();
        for t in 0..trial.len() {
            trial.write_step(t, &mut rng, scratch.input)?;
            weights.step(model, &mut state, scratch.input, scratch.output)?;
            h.f32s(scratch.output);
            steps += 1;
        }
        h.f32s(state.hidden());
    }
    Ok((h.finish(), steps))
}
