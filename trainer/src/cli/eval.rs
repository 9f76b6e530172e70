//! `gyrus eval RUN_DIR`: per-task performance of a run's latest checkpoint, as a table and JSON.

use crate::train::eval::evaluate;
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
}

/// Runs `gyrus eval`.
pub fn run(args: EvalArgs) -> Result<()> {
    let run = Run::open_trained(&args.run, args.untrained)?;
    let cfg = run.config();
    if let Some(trials) = args.trials {
        // More trials than the run evaluates with: refuse clearly if they cannot fit.
        let mut with = cfg.clone();
        with.eval_trials = trials;
        with.validate()?;
        with.memory_estimate()?
            .check(&format!("evaluating {trials} trials per task"))?;
    }
    let ev = evaluate(
        run.network(),
        run.tasks(),
        &cfg.generator(),
        args.seed.unwrap_or_else(|| eval_seed(cfg.seed)),
        args.trials.unwrap_or(cfg.eval_trials),
    )?;
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
