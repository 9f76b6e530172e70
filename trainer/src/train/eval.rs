//! Evaluation: whole seeded trials of every task, noise-free recurrence, both metrics.

use super::config::Tasks;
use super::forward::forward;
use crate::model::Network;
use gyrus_runtime::tasks::{self, eval_trial, Score, Trial, N_CLASSES};
use rayon::prelude::*;

/// Per-task scores of an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Task names in rule order.
    pub names: Vec<String>,
    /// One score per task.
    pub scores: Vec<Score>,
}

impl Evaluation {
    /// Mean over tasks of (`last`, `strict`).
    pub fn mean(&self) -> (f32, f32) {
        Score::mean_over_tasks(&self.scores)
    }

    /// A JSON object: per-task rates and the means.
    pub fn to_json(&self) -> serde_json::Value {
        let (last, strict) = self.mean();
        let per_task: serde_json::Map<String, serde_json::Value> = self
            .names
            .iter()
            .zip(&self.scores)
            .map(|(n, s)| {
                (
                    n.clone(),
                    serde_json::json!({"trials": s.trials, "last": s.last_rate(), "strict": s.strict_rate()}),
                )
            })
            .collect();
        serde_json::json!({"last": last, "strict": strict, "tasks": per_task})
    }

    /// A table: task, trials, last, strict; then the mean.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<18} {:>6} {:>7} {:>7}\n",
            "task", "trials", "last", "strict"
        );
        for (n, sc) in self.names.iter().zip(&self.scores) {
            s += &format!(
                "{:<18} {:>6} {:>7.3} {:>7.3}\n",
                n,
                sc.trials,
                sc.last_rate(),
                sc.strict_rate()
            );
        }
        let (l, st) = self.mean();
        s += &format!("{:<18} {:>6} {:>7.3} {:>7.3}\n", "mean", "", l, st);
        s
    }
}

/// The trials of one task with their inputs, padded to a common length, time-major
/// `[T_max, n, I]`. Padding comes after each trial's end, so it cannot change any scored step.
pub struct TrialBatch {
    /// The trials.
    pub trials: Vec<Trial>,
    /// Inputs `[T_max, n, I]`.
    pub inputs: Vec<f32>,
    /// Longest trial.
    pub t_max: usize,
}

/// Generates evaluation trials `0..n` of the task with rule index `rule` (noise as in training).
pub fn trial_batch(
    tasks: &Tasks,
    rule: usize,
    gen: &tasks::Config,
    seed: u64,
    n: u32,
) -> anyhow::Result<TrialBatch> {
    let list = tasks.list();
    let n_in = tasks::n_inputs(list.len());
    let mut made = Vec::with_capacity(n as usize);
    for i in 0..u64::from(n) {
        let (trial, mut rng) =
            eval_trial(&list, rule, seed, i, gen).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut x = vec![0.0; trial.len() * n_in];
        let mut y = vec![0; trial.len()];
        trial
            .write(&mut rng, &mut x, &mut y)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        made.push((trial, x));
    }
    let t_max = made.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
    let b = made.len();
    let mut inputs = vec![0.0; t_max * b * n_in];
    for (k, (trial, x)) in made.iter().enumerate() {
        for t in 0..trial.len() {
            let dst = (t * b + k) * n_in;
            inputs[dst..dst + n_in].copy_from_slice(&x[t * n_in..(t + 1) * n_in]);
        }
    }
    Ok(TrialBatch {
        trials: made.into_iter().map(|(t, _)| t).collect(),
        inputs,
        t_max,
    })
}

/// Evaluates `net` on `n` seeded trials of every task: recurrent noise off, input noise as in
/// training, hidden state from zero at each trial's start. The tasks are scored in parallel on the
/// current rayon pool (each on its own, so the scores do not depend on the thread count).
pub fn evaluate(
    net: &Network,
    tasks: &Tasks,
    gen: &tasks::Config,
    seed: u64,
    n: u32,
) -> anyhow::Result<Evaluation> {
    let scores = (0..tasks.len())
        .into_par_iter()
        .map(|rule| score_task(net, tasks, rule, gen, seed, n))
        .collect::<anyhow::Result<Vec<Score>>>()?;
    Ok(Evaluation {
        names: tasks.names(),
        scores,
    })
}

/// The score of `net` on `n` seeded trials of the task with rule index `rule`.
fn score_task(
    net: &Network,
    tasks: &Tasks,
    rule: usize,
    gen: &tasks::Config,
    seed: u64,
    n: u32,
) -> anyhow::Result<Score> {
    let tb = trial_batch(tasks, rule, gen, seed, n)?;
    let b = tb.trials.len();
    let mut out = vec![0.0; tb.t_max * b * N_CLASSES];
    forward(net, &tb.inputs, tb.t_max, b, None, &mut out)?;
    let mut score = Score::default();
    let mut per_trial = Vec::new();
    for (k, trial) in tb.trials.iter().enumerate() {
        per_trial.clear();
        for t in 0..trial.len() {
            let src = (t * b + k) * N_CLASSES;
            per_trial.extend_from_slice(&out[src..src + N_CLASSES]);
        }
        score.add_outputs(trial, &per_trial);
    }
    Ok(score)
}
