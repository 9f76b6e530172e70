//! `gyrus train`: train a network from a TOML config and/or flags, or resume a run.

use crate::model::{Activation, Family, Sheet};
use crate::train::config::{RunConfig, RunPlan};
use crate::train::device::DeviceSpec;
use crate::train::run::{Run, Schedule};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Connectivity family names on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FamilyName {
    /// All connections.
    Dense,
    /// LM-RNN: connections within grid distance --radius.
    Local,
    /// Self-connections only.
    Autapse,
    /// Self-connections fixed at 1, untrained.
    FrozenAutapse,
    /// Same in-degrees as local --radius, random sources.
    Random,
    /// All within --r, plus random ones up to local --radius's edge count.
    SmallWorld,
    /// Dense plus --lambda * L1 of all weights and biases.
    L1,
    /// BIMT: dense plus --lambda * connection cost (--a), with neuron swaps (--swap-every, --top-k).
    Bimt,
}

/// Arguments of `gyrus train`. Flags override the config file; the merged config is written into
/// the run folder as `config.toml`.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Continue the run in this folder from its last checkpoint, as configured there. Only
    /// --device, --threads, --quiet and the schedule may go with it: a larger --steps trains the run further
    /// (a finished one too; the weights end as a run planned that long from the start), and
    /// --eval-every / --checkpoint-every set new intervals; the change is recorded in its
    /// config.toml. The flags that would change anything else are refused.
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = [
        "config", "out", "sheet", "family", "radius", "sw_r", "torus", "lambda", "bimt_a",
        "swap_every", "top_k", "warmup", "activation", "alpha", "no_recurrent_noise", "collection",
        "batch", "chunk", "seq_len", "seed", "lr", "eval_trials", "dt", "input_noise",
    ])]
    pub resume: Option<PathBuf>,
    /// TOML run config (see README); flags override its fields.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Run folder to create.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Sheet of hidden units, ROWSxCOLS (e.g. 16x16).
    #[arg(long, value_name = "RxC", value_parser = parse_sheet)]
    pub sheet: Option<Sheet>,
    /// Connectivity family.
    #[arg(long, value_enum)]
    pub family: Option<FamilyName>,
    /// Locality radius d (local, random, small-world).
    #[arg(long, value_name = "D")]
    pub radius: Option<f64>,
    /// Small-world: radius kept in full (r <= d).
    #[arg(long = "r", value_name = "R")]
    pub sw_r: Option<f64>,
    /// Distances on a torus (local, random, small-world).
    #[arg(long)]
    pub torus: bool,
    /// Penalty weight (families l1 and bimt).
    #[arg(long, value_name = "LAMBDA")]
    pub lambda: Option<f32>,
    /// BIMT: weight A of the distance-weighted wiring term (default 1; 0 = plain L1).
    #[arg(long = "a", value_name = "A")]
    pub bimt_a: Option<f32>,
    /// BIMT: neuron-swap round every K steps (default 200; 0 = never).
    #[arg(long, value_name = "K")]
    pub swap_every: Option<u64>,
    /// BIMT: units tried per swap round (default ceil(N / 8)).
    #[arg(long, value_name = "K")]
    pub top_k: Option<usize>,
    /// BIMT: linear warm-up of lambda over the first K steps (default 0 = none).
    #[arg(long, value_name = "K")]
    pub warmup: Option<u64>,
    /// Nonlinearity: relu, tanh or softplus.
    #[arg(long, value_parser = parse_activation)]
    pub activation: Option<Activation>,
    /// Leak alpha in (0, 1].
    #[arg(long)]
    pub alpha: Option<f32>,
    /// Turn recurrent training noise off.
    #[arg(long)]
    pub no_recurrent_noise: bool,
    /// Tasks: cog20, modcog, modcog-full, or a comma-separated list of task names.
    #[arg(long, value_name = "NAME|A,B,C", alias = "tasks")]
    pub collection: Option<String>,
    /// Gradient steps.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Streams per batch B.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Streams per chunk of the batch (the chunks run in parallel; default 64, the whole default
    /// batch: one thread per step; 32 lets two threads share it at some cost per core).
    #[arg(long)]
    pub chunk: Option<usize>,
    /// Window length T.
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Seed of everything random in the run.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Adam learning rate.
    #[arg(long)]
    pub lr: Option<f32>,
    /// Evaluate every K steps.
    #[arg(long, value_name = "K")]
    pub eval_every: Option<u64>,
    /// Evaluation trials per task.
    #[arg(long)]
    pub eval_trials: Option<u32>,
    /// Checkpoint every K steps.
    #[arg(long, value_name = "K")]
    pub checkpoint_every: Option<u64>,
    /// Task time step in ms.
    #[arg(long, value_name = "MS")]
    pub dt: Option<u16>,
    /// Input-noise multiplier.
    #[arg(long)]
    pub input_noise: Option<f32>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Threads of the training step (its chunks of streams run in parallel) and of evaluation
    /// (tasks in parallel). Default: RAYON_NUM_THREADS, else SLURM_CPUS_PER_TASK (a Slurm task's
    /// --cpus-per-task), else every core. Any count gives the same weights; at most B / chunk
    /// threads help one step. Not part of the run's config.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Where the gradient steps run: cpu (hand-written BPTT, default), cuda / cuda:N (a GPU; needs
    /// a binary built with `--features cuda`), or candle-cpu (the GPU code path on the CPU, slow).
    /// Not part of the run's config: a run may be resumed on another device. Default: the
    /// environment variable GYRUS_DEVICE (set by Slurm sweeps with --gpus-per-task), else cpu.
    #[arg(
        long,
        value_name = "DEVICE",
        env = "GYRUS_DEVICE",
        default_value = "cpu"
    )]
    pub device: DeviceSpec,
}

/// Parses `RxC`.
pub fn parse_sheet(s: &str) -> std::result::Result<Sheet, String> {
    s.parse()
        .map_err(|_| format!("'{s}' is not ROWSxCOLS (e.g. 16x16)"))
}

/// Parses `relu`, `tanh` or `softplus`.
pub fn parse_activation(s: &str) -> std::result::Result<Activation, String> {
    match s {
        "relu" => Ok(Activation::Relu),
        "tanh" => Ok(Activation::Tanh),
        "softplus" => Ok(Activation::Softplus),
        _ => Err(format!(
            "'{s}' is not an activation (valid: relu, tanh, softplus)"
        )),
    }
}

impl TrainArgs {
    /// Refuses a family flag that does not apply to `--family` (or comes without it), by the
    /// rule of [`Family::params`]: e.g. `--family dense --lambda 0.1`, `--family local --lambda 5`
    /// or `--family dense --radius 3 --torus`.
    fn check_family_flags(&self) -> Result<()> {
        let flags = [
            ("--radius", "d", self.radius.is_some()),
            ("--r", "r", self.sw_r.is_some()),
            ("--torus", "torus", self.torus),
            ("--lambda", "lambda", self.lambda.is_some()),
            ("--a", "a", self.bimt_a.is_some()),
            ("--swap-every", "swap_every", self.swap_every.is_some()),
            ("--top-k", "top_k", self.top_k.is_some()),
            ("--warmup", "warmup", self.warmup.is_some()),
        ];
        for (flag, param, _) in flags.into_iter().filter(|f| f.2) {
            let families = Family::taking(param).join(", ");
            let Some(f) = self.family else {
                bail!("{flag} needs --family (it applies to --family {families})");
            };
            let kind = f
                .to_possible_value()
                .expect("every family has a name")
                .get_name()
                .to_string();
            if !Family::params(&kind).is_some_and(|p| p.contains(&param)) {
                bail!(
                    "{flag} does not apply to --family {kind}: it applies to --family {families}"
                );
            }
        }
        Ok(())
    }

    /// The merged config: file (if any), then flags, validated.
    pub fn config(&self) -> Result<RunConfig> {
        self.plan().map(RunPlan::into_config)
    }

    /// The merged config ([`TrainArgs::config`]), resolved.
    pub fn plan(&self) -> Result<RunPlan> {
        let base = match &self.config {
            Some(path) => Some(RunConfig::load(path)?),
            None => None,
        };
        self.plan_over(base)
    }

    /// The flags applied over `base` (without one: the defaults for `--sheet`), resolved.
    pub fn plan_over(&self, base: Option<RunConfig>) -> Result<RunPlan> {
        let mut cfg = match base {
            Some(cfg) => cfg,
            None => RunConfig::with_sheet(self.sheet.context(
                "give --sheet ROWSxCOLS (e.g. --sheet 16x16) or a --config file with [net] sheet",
            )?),
        };
        if let Some(s) = self.sheet {
            cfg.net.sheet = s;
        }
        self.check_family_flags()?;
        let radius = || self.radius.context("this family needs --radius D");
        if let Some(f) = self.family {
            cfg.net.family = match f {
                FamilyName::Dense => Family::Dense,
                FamilyName::Local => Family::Local {
                    d: radius()?,
                    torus: self.torus,
                },
                FamilyName::Autapse => Family::Autapse,
                FamilyName::FrozenAutapse => Family::FrozenAutapse,
                FamilyName::Random => Family::Random {
                    d: radius()?,
                    torus: self.torus,
                    seed: None,
                },
                FamilyName::SmallWorld => Family::SmallWorld {
                    r: self
                        .sw_r
                        .context("small-world needs --r R (the radius kept in full)")?,
                    d: radius()?,
                    torus: self.torus,
                    seed: None,
                },
                FamilyName::L1 => Family::L1 {
                    lambda: self.lambda.context("l1 needs --lambda")?,
                },
                FamilyName::Bimt => Family::Bimt {
                    lambda: self.lambda.context("bimt needs --lambda (paper: 1e-5)")?,
                    a: self.bimt_a.unwrap_or(1.0),
                    swap_every: self.swap_every.unwrap_or(200),
                    top_k: self.top_k,
                    warmup: self.warmup.unwrap_or(0),
                },
            };
        }
        if let Some(a) = self.activation {
            cfg.net.activation = a;
        }
        if let Some(a) = self.alpha {
            cfg.net.alpha = a;
        }
        if self.no_recurrent_noise {
            cfg.net.recurrent_noise = false;
        }
        macro_rules! set {
            ($($field:ident <- $flag:expr),*) => { $(if let Some(v) = $flag.clone() { cfg.$field = v; })* };
        }
        set!(tasks <- self.collection, steps <- self.steps, batch <- self.batch, chunk <- self.chunk,
             seed <- self.seed,
             lr <- self.lr, eval_every <- self.eval_every, eval_trials <- self.eval_trials,
             checkpoint_every <- self.checkpoint_every, dt_ms <- self.dt, input_noise <- self.input_noise);
        if self.seq_len.is_some() {
            cfg.seq_len = self.seq_len;
        }
        cfg.resolve()
    }
}

/// Runs `gyrus train`.
pub fn run(args: TrainArgs) -> Result<()> {
    // Before anything is written: a missing GPU or a bad thread count must not leave a half-made
    // run folder.
    let device = args.device.open()?;
    // Ctrl-C / SIGTERM: finish the step, checkpoint, say how to resume (train/stop.rs).
    crate::train::stop::install()?;
    let (threads, source) = crate::train::threads::threads(args.threads)?;
    let pool = crate::train::threads::pool(threads)?;
    let mut run = match &args.resume {
        Some(dir) => {
            let schedule = Schedule {
                steps: args.steps,
                eval_every: args.eval_every,
                checkpoint_every: args.checkpoint_every,
            };
            let run = if schedule.any() {
                let run = Run::extend(dir, schedule)?;
                if let Some(e) = run.config().extended.last() {
                    eprintln!(
                        "{}: schedule changed at step {}: {} -> {} steps, eval every {} -> {}, \
                         checkpoint every {} -> {} (recorded in its config.toml)",
                        dir.display(),
                        e.at_step,
                        e.from_steps,
                        e.to_steps,
                        e.from_eval_every,
                        run.config().eval_every,
                        e.from_checkpoint_every,
                        run.config().checkpoint_every
                    );
                }
                run
            } else {
                Run::resume_locked(dir)?
            };
            eprintln!(
                "resuming {} at step {} of {}",
                dir.display(),
                run.step(),
                run.config().steps
            );
            run
        }
        None => {
            let plan = args.plan()?;
            let out = args
                .out
                .clone()
                .context("give --out DIR for the run folder")?;
            Run::start(&out, plan)?
        }
    };
    if let Some(dev) = device {
        run.use_device(dev)?;
    }
    let cfg = run.config().clone();
    eprintln!(
        "training {} {} on {} ({} tasks), {} steps, B = {} in chunks of {}, T = {}, seed {}, \
         device {}, {threads} threads ({})",
        cfg.net.sheet.rows * cfg.net.sheet.cols,
        cfg.net.family_label(),
        cfg.tasks,
        run.tasks().len(),
        cfg.steps,
        cfg.batch,
        cfg.chunk,
        run.plan().seq_len(),
        cfg.seed,
        args.device,
        source.describe()
    );
    let outcome = pool.install(|| run.train(cfg.steps, !args.quiet))?;
    if let Some(ev) = outcome.last_eval {
        let (last, strict) = ev.mean();
        println!(
            "step {}: mean performance {last:.3} (strict {strict:.3})",
            outcome.step
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheets_parse() {
        assert_eq!(parse_sheet("16x16"), Ok(Sheet::new(16, 16)));
        assert_eq!(parse_sheet("3X5"), Ok(Sheet::new(3, 5)));
        assert!(parse_sheet("16").is_err());
        assert!(parse_sheet("ax2").is_err());
    }

    fn parse(args: &[&str]) -> Result<RunConfig> {
        use clap::Parser;
        let mut full = vec!["gyrus", "train", "--sheet", "4x4"];
        full.extend_from_slice(args);
        match crate::cli::Cli::try_parse_from(full).unwrap().command {
            crate::cli::Command::Train(t) => t.config(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn family_flags_that_do_not_apply_are_refused() {
        let cases: [(&[&str], &str); 7] = [
            (
                &["--family", "dense", "--lambda", "0.1"],
                "--lambda does not apply to --family dense: it applies to --family l1, bimt",
            ),
            (
                &["--family", "local", "--radius", "2", "--lambda", "5"],
                "--lambda does not apply to --family local",
            ),
            (
                &["--family", "dense", "--radius", "3", "--torus"],
                "--radius does not apply to --family dense: it applies to --family local, \
                 random, small-world",
            ),
            (
                &["--family", "dense", "--torus"],
                "--torus does not apply to --family dense",
            ),
            (&["--torus"], "--torus needs --family"),
            (
                &["--family", "autapse", "--r", "1"],
                "--r does not apply to --family autapse: it applies to --family small-world",
            ),
            (
                &["--family", "l1", "--lambda", "1", "--top-k", "3"],
                "it applies to --family bimt",
            ),
        ];
        for (args, want) in cases {
            let e = parse(args).unwrap_err().to_string();
            assert!(e.contains(want), "{args:?}: {e}");
        }
        let c = parse(&[
            "--family",
            "small-world",
            "--radius",
            "2",
            "--r",
            "1",
            "--torus",
        ])
        .unwrap();
        assert!(matches!(
            c.net.family,
            Family::SmallWorld { torus: true, .. }
        ));
        let c = parse(&["--family", "random", "--radius", "2", "--torus"]).unwrap();
        assert!(matches!(c.net.family, Family::Random { torus: true, .. }));
    }
}
