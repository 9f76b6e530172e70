//! Digest of the evaluation trials the task generator produces: trial lengths, the bits of every
//! input and every target. The firmware logs it per task; the host test (which includes this file)
//! recomputes it with the runtime on the host and requires the same values.

use crate::digest::Fnv32;
use gyrus_runtime::tasks::{eval_trial, n_inputs, Config, Error, TaskList};

/// Longest input row: Mod-Cog-full's 126 rule inputs plus the 33 sensory ones.
pub const MAX_INPUTS: usize = n_inputs(126);

/// Seed of the parity trials.
pub const SEED: u64 = 0x6779_7275_7321;

/// Trials per task.
pub const TRIALS: u64 = 4;

/// FNV-1a over evaluation trials `0..trials` of rule `rule` of `list`: for each trial its length,
/// then per step the input bits and the target. Also returns the number of steps hashed.
pub fn trials_digest(
    list: &TaskList<'_>,
    rule: usize,
    seed: u64,
    trials: u64,
    cfg: &Config,
) -> Result<(u32, u32), Error> {
    let n_in = n_inputs(list.len());
    let mut buf = [0.0f32; MAX_INPUTS];
    let input = buf.get_mut(..n_in).ok_or(Error::Buffer {
        needed: n_in,
        got: MAX_INPUTS,
    })?;
    let mut h = Fnv32::new();
    let mut steps = 0u32;
    for i in 0..trials {
        let (trial, mut rng) = eval_trial(list, rule, seed, i, cfg)?;
        h.u32(trial.len() as u32);
        for t in 0..trial.len() {
            let target = trial.write_step(t, &mut rng, input)?;
            h.f32s(input);
            h.byte(target);
            steps += 1;
        }
    }
    Ok((h.finish(), steps))
}
