//! Task variance (Yang et al. 2019): how much each hidden unit's activity varies across the
//! trials of one task.
//!
//! For task k, `trials` noise-free evaluation trials are run (input noise 0, recurrent noise off,
//! h_0 = 0 at each trial's start). Trials of one task may differ in length (e.g. the dm fixation
//! lasts 2-4 steps), so each trial's time axis is aligned at the end of its first fixation period
//! (step 0 of the trial if it has none): aligned step s of trial b is trial step f_b + s. Only the
//! aligned steps that every trial reaches are used, s = 0 .. min_b(len_b - f_b). At each such step
//! the variance across trials of h_i (population variance, divided by the number of trials) is
//! taken, and these variances are averaged over the steps. For the cog20 tasks only the fixation
//! varies, so no step after the fixation is dropped; for Mod-Cog tasks with random delays the
//! steps past the shortest trial's end are.

use crate::model::Network;
use crate::tasks::Tasks;
use crate::train::eval::trial_batch;
use crate::train::forward;
use anyhow::{bail, Result};
use gyrus_runtime::tasks::{self, PeriodKind};

/// Units whose summed task variance exceeds this are important (active).
pub const IMPORTANT: f64 = 1e-3;

/// Task variance of every unit for every task.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskVariance {
    /// Task names, in rule order (the columns).
    pub tasks: Vec<String>,
    /// Number of hidden units (the rows).
    pub n_units: usize,
    /// Variances [n_units, tasks] row-major.
    pub values: Vec<f64>,
    /// Aligned time steps averaged over, per task.
    pub steps: Vec<usize>,
    /// Trials per task.
    pub trials: u32,
}

impl TaskVariance {
    /// Row of unit `i`: its variance for each task.
    pub fn unit(&self, i: usize) -> &[f64] {
        let k = self.tasks.len();
        &self.values[i * k..(i + 1) * k]
    }

    /// Sum over tasks of unit `i`'s variance.
    pub fn total(&self, i: usize) -> f64 {
        self.unit(i).iter().sum()
    }

    /// Units whose summed variance exceeds `threshold`, in index order.
    pub fn important(&self, threshold: f64) -> Vec<usize> {
        (0..self.n_units)
            .filter(|&i| self.total(i) > threshold)
            .collect()
    }

    /// Rows of `units`, each divided by its maximum over tasks ([units.len(), tasks]; a row of
    /// zeros stays zero).
    pub fn normalised(&self, units: &[usize]) -> Vec<f64> {
        let mut out = Vec::with_capacity(units.len() * self.tasks.len());
        for &i in units {
            let row = self.unit(i);
            let max = row.iter().copied().fold(0.0, f64::max);
            out.extend(row.iter().map(|v| if max > 0.0 { v / max } else { 0.0 }));
        }
        out
    }
}

/// Per-unit variance across trials, averaged over aligned time: `hidden` is [t_max, B, N]
/// time-major; trial b starts its aligned time at step `starts[b]` and lasts `lens[b]` steps.
/// Returns the N variances and the number of aligned steps used.
pub fn aligned_variance(
    hidden: &[f32],
    t_max: usize,
    starts: &[usize],
    lens: &[usize],
    n_units: usize,
) -> Result<(Vec<f64>, usize)> {
    let b = starts.len();
    if b < 2 || lens.len() != b {
        bail!("task variance needs at least 2 trials with one start and one length each");
    }
    if hidden.len() != t_max * b * n_units || lens.iter().any(|&l| l > t_max) {
        bail!("hidden states do not match {t_max} steps x {b} trials x {n_units} units");
    }
    let steps = starts
        .iter()
        .zip(lens)
        .map(|(&s, &l)| l.saturating_sub(s))
        .min()
        .unwrap_or(0);
    if steps == 0 {
        bail!("no time step after the fixation period is common to all trials");
    }
    let mut acc = vec![0.0f64; n_units];
    let (mut sum, mut sq) = (vec![0.0f64; n_units], vec![0.0f64; n_units]);
    for s in 0..steps {
        sum.fill(0.0);
        sq.fill(0.0);
        for (k, &start) in starts.iter().enumerate() {
            let row = &hidden[((start + s) * b + k) * n_units..][..n_units];
            for i in 0..n_units {
                let h = f64::from(row[i]);
                sum[i] += h;
                sq[i] += h * h;
            }
        }
        let bf = b as f64;
        for i in 0..n_units {
            let mean = sum[i] / bf;
            acc[i] += (sq[i] / bf - mean * mean).max(0.0);
        }
    }
    Ok((acc.into_iter().map(|v| v / steps as f64).collect(), steps))
}

/// Task variance of every unit of `net` for every task, on `trials` noise-free evaluation
/// trials per task drawn with `seed` (the generator's input noise is switched off).
pub fn task_variance(
    net: &Network,
    tasks: &Tasks,
    gen: &tasks::Config,
    seed: u64,
    trials: u32,
) -> Result<TaskVariance> {
    if trials < 2 {
        bail!("task variance needs at least 2 trials per task, got {trials}");
    }
    let gen = tasks::Config { noise: 0.0, ..*gen };
    let n = net.n_hidden();
    let k_tasks = tasks.len();
    let o = net.config().n_outputs;
    let mut values = vec![0.0; n * k_tasks];
    let mut steps = Vec::with_capacity(k_tasks);
    for rule in 0..k_tasks {
        let tb = trial_batch(tasks, rule, &gen, seed, trials)?;
        let b = tb.trials.len();
        let mut hidden = vec![0.0f32; tb.t_max * b * n];
        let mut out = vec![0.0f32; tb.t_max * b * o];
        forward(net, &tb.inputs, tb.t_max, b, Some(&mut hidden), &mut out)?;
        let starts: Vec<usize> = tb
            .trials
            .iter()
            .map(|t| {
                t.period(PeriodKind::Fixation)
                    .map_or(0, |p| usize::from(p.end))
            })
            .collect();
        let lens: Vec<usize> = tb.trials.iter().map(|t| t.len()).collect();
        let (v, s) = aligned_variance(&hidden, tb.t_max, &starts, &lens, n)?;
        for i in 0..n {
            values[i * k_tasks + rule] = v[i];
        }
        steps.push(s);
    }
    Ok(TaskVariance {
        tasks: tasks.names(),
        n_units: n,
        values,
        steps,
        trials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_variance_by_hand() {
        // 2 units, 3 trials, t_max 4. Trial starts 0, 1, 2; lengths 3, 4, 4 -> common steps
        // min(3, 3, 2) = 2.
        let (t_max, b, n) = (4, 3, 2);
        let mut h = vec![0.0f32; t_max * b * n];
        let mut set = |t: usize, k: usize, i: usize, v: f32| h[(t * b + k) * n + i] = v;
        // Unit 0: aligned step 0 values 1, 2, 3 (var 2/3); step 1 values 0, 0, 3 (var 2).
        set(0, 0, 0, 1.0);
        set(1, 1, 0, 2.0);
        set(2, 2, 0, 3.0);
        set(3, 2, 0, 3.0);
        // A value outside the aligned window (trial 0, step 2 is aligned step 2): ignored.
        set(2, 0, 0, 100.0);
        // Unit 1: constant 5 on the aligned window: variance 0.
        for (k, s) in [0usize, 1, 2].iter().enumerate() {
            set(*s, k, 1, 5.0);
            set(s + 1, k, 1, 5.0);
        }
        let (v, steps) = aligned_variance(&h, t_max, &[0, 1, 2], &[3, 4, 4], n).unwrap();
        assert_eq!(steps, 2);
        assert!((v[0] - (2.0 / 3.0 + 2.0) / 2.0).abs() < 1e-9, "{}", v[0]);
        assert!(v[1].abs() < 1e-12);
        assert!(aligned_variance(&h, t_max, &[0], &[3], n).is_err());
        assert!(aligned_variance(&h, t_max, &[0, 4, 4], &[3, 4, 4], n).is_err());
    }

    #[test]
    fn important_units_and_normalised_rows() {
        let tv = TaskVariance {
            tasks: vec!["a".into(), "b".into()],
            n_units: 3,
            values: vec![0.4, 0.1, 0.0004, 0.0005, 0.0, 0.002],
            steps: vec![1, 1],
            trials: 2,
        };
        assert_eq!(tv.important(IMPORTANT), vec![0, 2]);
        assert_eq!(tv.normalised(&[0, 2]), vec![1.0, 0.25, 0.0, 1.0]);
        assert_eq!(tv.total(1), 0.0009);
    }
}
