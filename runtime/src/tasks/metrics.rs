//! Performance metrics: `last` (reference-compatible) and `strict`.

use super::trial::Trial;
use super::N_CLASSES;

/// Index of the largest value (the first one on ties); 0 for an empty slice. NaN never wins.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    let mut best_v = f32::NEG_INFINITY;
    for (i, &v) in values.iter().enumerate() {
        if v > best_v {
            best = i;
            best_v = v;
        }
    }
    best
}

/// Correct-trial counts of one task (or of anything scored together).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Score {
    /// Trials scored.
    pub trials: u32,
    /// Trials correct under `last`: argmax at the last step equals the last target.
    pub last: u32,
    /// Trials correct under `strict`: argmax 0 at every step before the decision, the target at
    /// every decision step.
    pub strict: u32,
}

impl Score {
    /// Scores one trial from its decisions (argmax of the outputs) at every step.
    pub fn add_decisions(&mut self, trial: &Trial, decisions: &[u8]) {
        let len = trial.len();
        self.trials += 1;
        if decisions.len() != len || len == 0 {
            return;
        }
        if decisions[len - 1] == trial.target(len - 1) {
            self.last += 1;
        }
        if decisions
            .iter()
            .enumerate()
            .all(|(t, &d)| d == trial.target(t))
        {
            self.strict += 1;
        }
    }

    /// Scores one trial from its outputs, `len * 17` values, time-major. A buffer of the wrong
    /// length counts as a wrong trial.
    pub fn add_outputs(&mut self, trial: &Trial, outputs: &[f32]) {
        let len = trial.len();
        self.trials += 1;
        if outputs.len() != len * N_CLASSES || len == 0 {
            return;
        }
        let decision = |t: usize| argmax(&outputs[t * N_CLASSES..(t + 1) * N_CLASSES]) as u8;
        if decision(len - 1) == trial.target(len - 1) {
            self.last += 1;
        }
        if (0..len).all(|t| decision(t) == trial.target(t)) {
            self.strict += 1;
        }
    }

    /// Adds another score's counts.
    pub fn merge(&mut self, other: &Score) {
        self.trials += other.trials;
        self.last += other.last;
        self.strict += other.strict;
    }

    /// Fraction correct under `last` (0 with no trials).
    pub fn last_rate(&self) -> f32 {
        ratio(self.last, self.trials)
    }

    /// Fraction correct under `strict` (0 with no trials).
    pub fn strict_rate(&self) -> f32 {
        ratio(self.strict, self.trials)
    }

    /// Mean over tasks of the per-task rates `(last, strict)`, each task weighted equally.
    pub fn mean_over_tasks(scores: &[Score]) -> (f32, f32) {
        if scores.is_empty() {
            return (0.0, 0.0);
        }
        let n = scores.len() as f32;
        let last = scores.iter().map(Score::last_rate).sum::<f32>() / n;
        let strict = scores.iter().map(Score::strict_rate).sum::<f32>() / n;
        (last, strict)
    }
}

fn ratio(a: u32, b: u32) -> f32 {
    if b == 0 {
        0.0
    } else {
        a as f32 / b as f32
    }
}
