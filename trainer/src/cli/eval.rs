//! `gyrus eval RUN_DIR`: per-task performance of a run's latest checkpoint, as a table and JSON;
//! with `--dump-trials`, the scored trials for scoring the same network elsewhere.

use crate::npz::{self, Array};
use crate::train::config::Tasks;
use crate::train::eval::{evaluate, trial_batch};
use crate::train::run::{eval_seed, Run};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// Arguments of `gyrus eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The run folder.
    pub run: PathBuf,
    /// Trials per task (default: the run's eval_trials).
    #[arg(long)]
    pub trials: Option<u32>,
    /// Seed of the evaluation trials (default: the run's evaluation set).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the JSON here (default: print the table, then the JSON on stdout with --json).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Use the initial network when the run folder has no checkpoint (without this flag, such a
    /// folder is refused: its network was never trained, or the checkpoint was lost).
    #[arg(long)]
    pub untrained: bool,
    /// Also write the scored trials for NumPy/PyTorch (.npz): `inputs` float32 [T, n, I]
    /// (time-major, zero after each trial's end), `targets` int64 [T, n] (-1 after the end),
    /// `lengths` and `rules` int64 \[n\], `tasks` (names in rule order). Trial k of task r is
    /// column r * trials + k.
    #[arg(long, value_name = "FILE")]
    pub dump_trials: Option<PathBuf>,
}

/// The evaluation trials of every task as NumPy arrays (see [`EvalArgs::dump_trials`]).
pub fn trial_arrays(
    tasks: &Tasks,
    gen: &gyrus_runtime::tasks::Config,
    seed: u64,
    trials: u32,
) -> Result<Vec<(&'static str, Array)>> {
    let batches = (0..tasks.len())
        .map(|rule| trial_batch(tasks, rule, gen, seed, trials))
        .collect::<Result<Vec<_>>>()?;
    let n_in = gyrus_runtime::tasks::n_inputs(tasks.len());
    let t_max = batches.iter().map(|b| b.t_max).max().unwrap_or(0);
    let total: usize = batches.iter().map(|b| b.trials.len()).sum();
    let mut inputs = vec![0.0f32; t_max * total * n_in];
    let mut targets = vec![-1i64; t_max * total];
    let (mut lengths, mut rules) = (Vec::with_capacity(total), Vec::with_capacity(total));
    let mut col = 0;
    for (rule, tb) in batches.iter().enumerate() {
        let b = tb.trials.len();
        for (k, trial) in tb.trials.iter().enumerate() {
            for t in 0..trial.len() {
                let src = (t * b + k) * n_in;
                let dst = (t * total + col) * n_in;
                inputs[dst..dst + n_in].copy_from_slice(&tb.inputs[src..src + n_in]);
                targets[t * total + col] = i64::from(trial.target(t));
            }
            lengths.push(trial.len() as i64);
            rules.push(rule as i64);
            col += 1;
        }
    }
    Ok(vec![
        ("inputs", Array::new(&[t_max, total, n_in], &inputs)?),
        ("targets", Array::new(&[t_max, total], &targets)?),
        ("lengths", Array::new(&[total], &lengths)?),
        ("rules", Array::new(&[total], &rules)?),
        ("tasks", Array::strings(&tasks.names())),
    ])
}

/// Runs `gyrus eval`.
pub fn run(args: EvalArgs) -> Result<()> {
    let run = Run::open_trained(&args.run, args.untrained)?;
    let cfg = run.config();
    if let Some(trials) = args.trials {
        // More trials than the run evaluates with: refuse clearly if they cannot fit.
        let mut with = cfg.clone();
        with.eval_trials = trials;
        with.resolve()?
            .memory_estimate()?
            .check(&format!("evaluating {trials} trials per task"))?;
    }
    let (seed, trials) = (
        args.seed.unwrap_or_else(|| eval_seed(cfg.seed)),
        args.trials.unwrap_or(cfg.eval_trials),
    );
    let ev = evaluate(run.network(), run.tasks(), &cfg.generator(), seed, trials)?;
    if let Some(path) = &args.dump_trials {
        let arrays = trial_arrays(run.tasks(), &cfg.generator(), seed, trials)?;
        let refs: Vec<(&str, &Array)> = arrays.iter().map(|(n, a)| (*n, a)).collect();
        crate::fsio::write_atomic_with(path, |w| npz::write_npz(w, &refs))?;
        eprintln!("wrote {}", path.display());
    }
    let mut json = ev.to_json();
    json["step"] = run.step().into();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!("{} at step {}:", args.run.display(), run.step());
        print!("{}", ev.table());
    }
    if let Some(out) = &args.out {
        crate::fsio::write_atomic(out, serde_json::to_string_pretty(&json)?)?;
    }
    Ok(())
}
