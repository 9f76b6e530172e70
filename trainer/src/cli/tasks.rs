//! `gyrus tasks`: list the tasks, draw one trial, dump a training batch for NumPy.

use super::select::{family_name, parse_task, GeneratorArgs, TaskSelection, Tasks};
use crate::npz::{self, Array};
use crate::plot::{self, trial::TrialFigure};
use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use gyrus_runtime::tasks::{self, eval_trial, fill_batch, length_range, Collection, Stream};
use std::path::PathBuf;

/// Most streams in a dumped batch.
pub const MAX_BATCH: usize = 1 << 16;
/// Most steps in a dumped batch.
pub const MAX_SEQ_LEN: usize = 1 << 20;
/// Most input values (B * T * inputs) in a dumped batch: 2^28 float32 = 1 GiB.
pub const MAX_ELEMENTS: usize = 1 << 28;

/// `gyrus tasks`: arguments.
#[derive(Args, Debug)]
pub struct TasksArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: TasksAction,
}

/// The `gyrus tasks` subcommands.
#[derive(Subcommand, Debug)]
pub enum TasksAction {
    /// Table of the tasks: rule index, name, family, trial length in steps.
    List(ListArgs),
    /// Draw one trial of a task (inputs, periods, targets) as PNG or SVG.
    Show(ShowArgs),
    /// Write one training batch (time-major) as a NumPy .npz file.
    Dump(DumpArgs),
}

/// `gyrus tasks list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Tasks to list (default: all of modcog-full, whose rule order extends modcog and cog20).
    #[command(flatten)]
    pub select: TaskSelection,
    /// Generator settings (only dt matters here).
    #[command(flatten)]
    pub generator: GeneratorArgs,
}

/// `gyrus tasks show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Task name, e.g. dlygo, dmsintr, goseql, dlydm1intr_seqr.
    pub task: String,
    /// Seed of the trial.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Task list that fixes the rule inputs (default: the smallest collection holding the task).
    #[command(flatten)]
    pub select: TaskSelection,
    /// Generator settings.
    #[command(flatten)]
    pub generator: GeneratorArgs,
    /// Output image, .png or .svg.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// `gyrus tasks dump`.
#[derive(Args, Debug)]
pub struct DumpArgs {
    /// Tasks of the batch (default: modcog).
    #[command(flatten)]
    pub select: TaskSelection,
    /// Generator settings.
    #[command(flatten)]
    pub generator: GeneratorArgs,
    /// Number of streams B.
    #[arg(long, value_name = "B")]
    pub batch: usize,
    /// Steps per window T.
    #[arg(long, value_name = "T")]
    pub seq_len: usize,
    /// Generator seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output file (.npz).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Runs `gyrus tasks`.
pub fn run(args: TasksArgs) -> Result<()> {
    match args.action {
        TasksAction::List(a) => list(&a),
        TasksAction::Show(a) => show(&a),
        TasksAction::Dump(a) => dump(&a),
    }
}

fn list(args: &ListArgs) -> Result<()> {
    let cfg = args.generator.config()?;
    let tasks = args.select.resolve(Collection::ModCogFull)?;
    let list = tasks.list();
    println!(
        "{}: {} tasks, {} inputs per step, dt = {} ms",
        tasks.name(),
        list.len(),
        tasks::n_inputs(list.len()),
        cfg.dt_ms
    );
    if args.select.is_empty() {
        println!("(cog20 = rules 0-19, modcog = rules 0-81, modcog-full = rules 0-125)");
    }
    let width = tasks
        .names()
        .iter()
        .map(String::len)
        .max()
        .unwrap_or(4)
        .max(4);
    println!("{:>4}  {:<width$}  {:<10}  steps", "rule", "task", "family");
    for (i, task) in list.iter().enumerate() {
        let (lo, hi) =
            length_range(task, &cfg).ok_or_else(|| anyhow!("invalid generator config"))?;
        let steps = if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}-{hi}")
        };
        println!(
            "{i:>4}  {:<width$}  {:<10}  {steps}",
            task.to_string(),
            family_name(task.family())
        );
    }
    Ok(())
}

fn show(args: &ShowArgs) -> Result<()> {
    let cfg = args.generator.config()?;
    let task = parse_task(&args.task)?;
    plot::Format::from_path(&args.out)?;
    let tasks = if args.select.is_empty() {
        let c = Collection::ALL
            .into_iter()
            .find(|c| c.iter().any(|t| t == task))
            .ok_or_else(|| anyhow!("task {task} is in no collection"))?;
        Tasks::collection(c)
    } else {
        args.select.resolve(Collection::ModCogFull)?
    };
    let list = tasks.list();
    let rule = list
        .position(task)
        .ok_or_else(|| anyhow!("task {task} is not in {}", tasks.name()))?;
    let (trial, mut rng) =
        eval_trial(&list, rule, args.seed, 0, &cfg).map_err(|e| anyhow!("{e}"))?;
    let mut inputs = vec![0.0; trial.len() * trial.n_inputs()];
    let mut targets = vec![0u8; trial.len()];
    trial
        .write(&mut rng, &mut inputs, &mut targets)
        .map_err(|e| anyhow!("{e}"))?;
    let context = format!("rule {rule} of {}, seed {}", tasks.name(), args.seed);
    let figure = TrialFigure::new(&trial, &inputs, &targets, context, cfg.dt_ms)?;
    plot::save(&figure, &args.out)?;
    let answer = match trial.answer {
        Some(a) => format!("respond toward unit {a}"),
        None => "keep fixating".to_string(),
    };
    println!(
        "wrote {}: {task}, rule {rule} of {}, {} steps, answer: {answer}",
        args.out.display(),
        tasks.name(),
        trial.len()
    );
    Ok(())
}

/// Checks a batch's size: B and T positive and sane, and the input array not over
/// [`MAX_ELEMENTS`]; returns the number of input values.
pub fn check_batch_size(batch: usize, seq_len: usize, n_inputs: usize) -> Result<usize> {
    if batch == 0 || batch > MAX_BATCH {
        bail!("--batch must be between 1 and {MAX_BATCH}, got {batch}");
    }
    if seq_len == 0 || seq_len > MAX_SEQ_LEN {
        bail!("--seq-len must be between 1 and {MAX_SEQ_LEN}, got {seq_len}");
    }
    let elements = batch
        .checked_mul(seq_len)
        .and_then(|x| x.checked_mul(n_inputs))
        .filter(|&x| x <= MAX_ELEMENTS)
        .ok_or_else(|| {
            anyhow!(
                "a batch of {batch} streams x {seq_len} steps x {n_inputs} inputs is too large \
                 (limit {MAX_ELEMENTS} input values = 1 GiB of float32); use a smaller --batch or --seq-len"
            )
        })?;
    Ok(elements)
}

/// The arrays of a dumped batch: `inputs` float32 [T, B, I], `targets` int64 [T, B] and `tasks`
/// (the rule names, unicode \[n_rules\]); the same values as [`fill_batch`] on streams
/// `Stream::new(seed, b)` for b in 0..B.
pub fn batch_arrays(
    tasks: &Tasks,
    cfg: &tasks::Config,
    batch: usize,
    seq_len: usize,
    seed: u64,
) -> Result<Vec<(&'static str, Array)>> {
    let list = tasks.list();
    let n_in = tasks::n_inputs(list.len());
    let elements = check_batch_size(batch, seq_len, n_in)?;
    let mut streams: Vec<Stream> = (0..batch as u64).map(|b| Stream::new(seed, b)).collect();
    let mut inputs = vec![0.0f32; elements];
    let mut targets = vec![0u8; batch * seq_len];
    fill_batch(&mut streams, &list, cfg, &mut inputs, &mut targets).map_err(|e| anyhow!("{e}"))?;
    let targets: Vec<i64> = targets.into_iter().map(i64::from).collect();
    Ok(vec![
        ("inputs", Array::new(&[seq_len, batch, n_in], &inputs)?),
        ("targets", Array::new(&[seq_len, batch], &targets)?),
        ("tasks", Array::strings(&tasks.names())),
    ])
}

fn dump(args: &DumpArgs) -> Result<()> {
    let cfg = args.generator.config()?;
    let tasks = args.select.resolve(Collection::ModCog)?;
    let arrays = batch_arrays(&tasks, &cfg, args.batch, args.seq_len, args.seed)?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let refs: Vec<(&str, &Array)> = arrays.iter().map(|(n, a)| (*n, a)).collect();
    npz::save_npz(&args.out, &refs)?;
    println!(
        "wrote {}: inputs float32 [{}, {}, {}], targets int64 [{}, {}], tasks ({}), seed {}",
        args.out.display(),
        args.seq_len,
        args.batch,
        tasks::n_inputs(tasks.list().len()),
        args.seq_len,
        args.batch,
        tasks.name(),
        args.seed
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_sizes_are_checked() {
        assert!(check_batch_size(0, 10, 53).is_err());
        assert!(check_batch_size(4, 0, 53).is_err());
        assert!(check_batch_size(MAX_BATCH + 1, 1, 53).is_err());
        let err = check_batch_size(60_000, 100_000, 159)
            .unwrap_err()
            .to_string();
        assert!(err.contains("too large"), "{err}");
        assert_eq!(check_batch_size(2, 3, 53).unwrap(), 2 * 3 * 53);
    }

    #[test]
    fn batch_arrays_match_fill_batch() {
        let tasks = Tasks::collection(Collection::Cog20);
        let cfg = tasks::Config::default();
        let arrays = batch_arrays(&tasks, &cfg, 3, 40, 9).unwrap();
        let mut streams: Vec<Stream> = (0..3).map(|b| Stream::new(9, b)).collect();
        let mut inputs = vec![0.0f32; 3 * 40 * 53];
        let mut targets = vec![0u8; 3 * 40];
        fill_batch(&mut streams, &tasks.list(), &cfg, &mut inputs, &mut targets).unwrap();
        assert_eq!(arrays[0].1.shape, vec![40, 3, 53]);
        assert_eq!(arrays[0].1.to_f32().unwrap(), inputs);
        let t: Vec<u8> = arrays[1]
            .1
            .to_i64()
            .unwrap()
            .iter()
            .map(|&x| x as u8)
            .collect();
        assert_eq!(t, targets);
        assert_eq!(arrays[2].1.to_strings().unwrap()[2], "dlygo");
    }
}
