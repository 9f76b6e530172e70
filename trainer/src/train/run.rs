//! A training run in its folder: config, the loop, evaluation, logs and checkpoints, resume.
//!
//! Folder layout: `config.toml` (every field, defaults written out), `checkpoint.safetensors`
//! (weights, Adam state, step, generator and noise state, the metrics log's running interval),
//! `metrics.jsonl` (one JSON object per evaluation: step, mean training loss since the previous
//! one, the largest step loss `loss_max` and gradient norm before clipping `grad_norm_max` since
//! then, the number of loss spikes `loss_spikes`, steps/s, per-task metrics, and for family
//! `bimt` a `bimt` object with the swaps since the previous line and the wiring and connection
//! costs), `train.lock` (the advisory lock of the process training it, [`super::lock`]) and, at
//! the end, `eval.json` (the final evaluation).
//!
//! A loss spike is a step whose loss is more than [`SPIKE_FACTOR`] times the running level (an
//! exponential moving average of the previous steps' losses, weight [`LEVEL_WEIGHT`]); the first
//! of each interval is printed as a warning, the rest are counted. A non-finite loss stops the run.

use super::checkpoint::{self, Named};
use super::config::{Extension, RunConfig, RunPlan, Tasks};
use super::device::DeviceTrainer;
use super::eval::{evaluate, Evaluation};
use super::lock::RunLock;
use super::stop;
use super::trainer::{Engine, StepStats, Trainer};
use crate::fsio;
use crate::model::Network;
use anyhow::{bail, Context};
use gyrus_runtime::tasks::{derive_seed, fill_batch, Rng, Stream};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

const BATCH_DOMAIN: u64 = 0x0042_4154_4348; // "BATCH"
const NOISE_DOMAIN: u64 = 0x004e_4f49_5345; // "NOISE"
const EVAL_DOMAIN: u64 = 0x0045_5641_4c53_4554; // "EVALSET"

/// The file names inside a run folder.
pub const CONFIG_FILE: &str = "config.toml";
/// Latest checkpoint.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
/// Evaluation log.
pub const METRICS_FILE: &str = "metrics.jsonl";
/// Final evaluation.
pub const EVAL_FILE: &str = "eval.json";

/// A step loss above this many times the running level is a spike (module docs).
pub const SPIKE_FACTOR: f64 = 10.0;
/// Weight of the newest step in the running loss level (an exponential moving average).
pub const LEVEL_WEIGHT: f64 = 0.1;

/// The metrics log's running state: what it has accumulated since its last line, and the running
/// loss level. Saved in the checkpoint, so that a resumed run logs the same lines as an
/// uninterrupted one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct LogState {
    /// Steps since the last line.
    steps: u64,
    /// Sum of their losses.
    loss_sum: f64,
    /// Their largest loss.
    loss_max: f32,
    /// Their largest gradient norm (before clipping).
    grad_norm_max: f32,
    /// Loss spikes among them.
    spikes: u64,
    /// BIMT swaps made in them.
    swaps: u64,
    /// Running level of the loss over the whole run (none before the first step).
    level: Option<f64>,
}

impl LogState {
    /// Adds a step; returns the running level it is a spike against, if it is one.
    fn add(&mut self, stats: &StepStats) -> Option<f64> {
        let loss = f64::from(stats.loss);
        self.steps += 1;
        self.loss_sum += loss;
        self.loss_max = self.loss_max.max(stats.loss);
        self.grad_norm_max = self.grad_norm_max.max(stats.grad_norm);
        let spike = self.level.filter(|&l| loss > SPIKE_FACTOR * l);
        if spike.is_some() {
            self.spikes += 1;
        }
        self.level = Some(match self.level {
            Some(l) => l + LEVEL_WEIGHT * (loss - l),
            None => loss,
        });
        spike
    }

    /// Starts the next interval (the running level goes on).
    fn next_interval(&mut self) {
        *self = LogState {
            level: self.level,
            ..LogState::default()
        };
    }

    fn mean_loss(&self) -> f64 {
        self.loss_sum / self.steps.max(1) as f64
    }
}

/// The error [`Run::train`] returns when a signal ([`stop`]) stopped it after a checkpoint.
#[derive(Debug)]
pub struct Interrupted {
    /// The signal's number.
    pub signal: i32,
    /// The step of the checkpoint written.
    pub step: u64,
    /// The run folder.
    pub dir: PathBuf,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "interrupted by {} at step {}: the checkpoint of step {} is in {}; continue with \
             `gyrus train --resume {}`",
            stop::signal_name(self.signal),
            self.step,
            self.step,
            self.dir.join(CHECKPOINT_FILE).display(),
            self.dir.display()
        )
    }
}

impl std::error::Error for Interrupted {}

/// New schedule values for [`Run::extend`] (`None`: unchanged).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Total steps (at least the planned ones).
    pub steps: Option<u64>,
    /// Evaluation interval.
    pub eval_every: Option<u64>,
    /// Checkpoint interval.
    pub checkpoint_every: Option<u64>,
}

impl Schedule {
    /// Whether any value is given.
    pub fn any(&self) -> bool {
        self.steps.is_some() || self.eval_every.is_some() || self.checkpoint_every.is_some()
    }
}

/// The seed of a run's evaluation trials (fixed for the run, so evaluations compare).
pub fn eval_seed(run_seed: u64) -> u64 {
    derive_seed(run_seed, EVAL_DOMAIN, 0)
}

/// The batch streams of a run with this config, at step 0 (stream i of B draws trial i of each
/// batch).
pub fn batch_streams(cfg: &RunConfig) -> Vec<Stream> {
    let batch_seed = derive_seed(cfg.seed, BATCH_DOMAIN, 0);
    (0..cfg.batch as u64)
        .map(|i| Stream::new(batch_seed, i))
        .collect()
}

/// The recurrent-noise generator of a run with this config, at step 0.
pub fn noise_rng(cfg: &RunConfig) -> Rng {
    Rng::new(derive_seed(cfg.seed, NOISE_DOMAIN, 0))
}

/// A training run: the trainer plus everything needed to continue it exactly.
pub struct Run {
    dir: PathBuf,
    /// The resolved config (tasks parsed, network config complete).
    plan: RunPlan,
    trainer: Trainer,
    streams: Vec<Stream>,
    noise_rng: Rng,
    step: u64,
    inputs: Vec<f32>,
    targets: Vec<u8>,
    /// BIMT swaps made since this Run was opened (not saved: swaps follow from the weights).
    swaps: u64,
    /// The accelerator copy, when the steps run on one ([`Run::use_device`]); `trainer` then
    /// holds the state of the last sync.
    device: Option<DeviceTrainer>,
    /// The metrics log's running state (saved in checkpoints).
    log: LogState,
    /// Whether a checkpoint was loaded (false: the initial network).
    trained: bool,
    /// The folder's lock, once taken ([`Run::create`], [`Run::resume_locked`], [`Run::train`]).
    lock: Option<RunLock>,
}

/// How a call to [`Run::train`] ended.
#[derive(Debug)]
pub struct Outcome {
    /// Steps done when it returned.
    pub step: u64,
    /// The last evaluation, if any.
    pub last_eval: Option<Evaluation>,
}

impl Run {
    /// Starts a run in `dir` (created if missing). Refuses a folder that already holds a run, and
    /// a config that is invalid or needs more memory than the machine has, before anything is
    /// written: a refused run leaves no folder or config behind. Holds the folder's lock from the
    /// start.
    pub fn create(dir: &Path, cfg: RunConfig) -> anyhow::Result<Self> {
        Self::start(dir, cfg.resolve()?)
    }

    /// [`Run::create`] for a config resolved already.
    pub fn start(dir: &Path, plan: RunPlan) -> anyhow::Result<Self> {
        let exists = || dir.join(CHECKPOINT_FILE).exists() || dir.join(CONFIG_FILE).exists();
        let refuse = || {
            anyhow::anyhow!(
                "{} already holds a run; continue it with `gyrus train --resume {}` or choose another --out",
                dir.display(),
                dir.display()
            )
        };
        if exists() {
            return Err(refuse());
        }
        plan.check_memory()?;
        let toml = plan.to_toml()?;
        let mut run = Self::fresh(dir, plan)?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let lock = RunLock::acquire(dir)?;
        if exists() {
            return Err(refuse());
        }
        fsio::write_atomic(&dir.join(CONFIG_FILE), toml)?;
        let _ = std::fs::remove_file(dir.join(METRICS_FILE));
        run.lock = Some(lock);
        Ok(run)
    }

    /// Starts a run in `dir` from the weights of `net` instead of the seeded initialisation
    /// (`gyrus import`): writes `config.toml` and the step-0 checkpoint (fresh Adam state and task
    /// streams), so that evaluation, export and `train --resume` (fine-tuning) open it like any
    /// run. `net` must have the plan's shape and structure. Everything is checked before the
    /// first file is written (the config when it was resolved); on a failure while writing, the
    /// files written so far are removed.
    pub fn create_from(dir: &Path, plan: RunPlan, net: &Network) -> anyhow::Result<Self> {
        if dir.join(CHECKPOINT_FILE).exists() || dir.join(CONFIG_FILE).exists() {
            bail!(
                "{} already holds a run; choose another --out",
                dir.display()
            );
        }
        let mut run = Self::fresh(dir, plan)?;
        let own = run.trainer.network();
        if own.config() != net.config() || own.structure() != net.structure() {
            bail!("internal error: the imported network does not have the run config's shape");
        }
        run.trainer
            .network_mut()
            .params_mut()
            .copy_from_slice(net.params());
        let created = !dir.exists();
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let written = crate::fsio::write_atomic(&dir.join(CONFIG_FILE), run.plan.to_toml()?)
            .and_then(|()| run.save_checkpoint());
        if let Err(e) = written {
            let _ = std::fs::remove_file(dir.join(CONFIG_FILE));
            let _ = std::fs::remove_file(dir.join(CHECKPOINT_FILE));
            if created {
                let _ = std::fs::remove_dir(dir);
            }
            return Err(e);
        }
        Ok(run)
    }

    fn fresh(dir: &Path, plan: RunPlan) -> anyhow::Result<Self> {
        let cfg = plan.config();
        let net = plan.network()?;
        let (t, b) = (plan.seq_len(), cfg.batch);
        let mut trainer = Trainer::with_chunk(net, t, b, cfg.chunk)?;
        trainer.max_grad_norm = cfg.clip;
        trainer.adam_mut().lr = cfg.lr;
        let n_in = plan.n_inputs();
        Ok(Run {
            dir: dir.to_path_buf(),
            streams: batch_streams(cfg),
            noise_rng: noise_rng(cfg),
            step: 0,
            inputs: vec![0.0; t * b * n_in],
            targets: vec![0; t * b],
            swaps: 0,
            device: None,
            log: LogState::default(),
            trained: false,
            lock: None,
            plan,
            trainer,
        })
    }

    /// Opens the run in `dir` at its last checkpoint (or from scratch if it has none yet), without
    /// writing anything into the folder. To use the network (evaluate, export), open it with
    /// [`Run::open_trained`], which refuses a folder without a checkpoint.
    pub fn resume(dir: &Path) -> anyhow::Result<Self> {
        let cfg = RunConfig::load(&dir.join(CONFIG_FILE))
            .with_context(|| format!("{} does not hold a run", dir.display()))?;
        let plan = cfg.resolve()?;
        plan.check_memory()?;
        let mut run = Self::fresh(dir, plan)?;
        let path = dir.join(CHECKPOINT_FILE);
        if path.exists() {
            run.load_checkpoint(&path)?;
        }
        Ok(run)
    }

    /// [`Run::resume`] for training: takes the folder's lock first (refusing a folder another
    /// process trains, naming its pid), then reads the checkpoint.
    pub fn resume_locked(dir: &Path) -> anyhow::Result<Self> {
        if !dir.join(CONFIG_FILE).exists() {
            bail!("{} does not hold a run (no {CONFIG_FILE})", dir.display());
        }
        let lock = RunLock::acquire(dir)?;
        let mut run = Self::resume(dir)?;
        run.lock = Some(lock);
        Ok(run)
    }

    /// Opens the run in `dir` to use its trained network (eval, export, measures): refuses a
    /// folder without a checkpoint, unless `untrained` (then the initial network is used, as
    /// `--untrained` asks).
    pub fn open_trained(dir: &Path, untrained: bool) -> anyhow::Result<Self> {
        let run = Self::resume(dir)?;
        if !run.trained && !untrained {
            bail!("{}", no_checkpoint_message(dir));
        }
        Ok(run)
    }

    /// Continues the run in `dir` with a new schedule: a larger step count (a finished run is
    /// trained further), new evaluation and checkpoint intervals. Every other config field stays.
    /// The change is recorded in `config.toml` (`[[extended]]`); a finished run's `eval.json` is
    /// removed (it is written again at the new end). The steps taken are those a run planned with
    /// the new count from the start takes: the weights end bit-identical.
    pub fn extend(dir: &Path, schedule: Schedule) -> anyhow::Result<Self> {
        let mut run = Self::resume_locked(dir)?;
        let old = run.plan.config().clone();
        let mut cfg = old.clone();
        if let Some(steps) = schedule.steps {
            if steps < old.steps {
                bail!(
                    "--steps {steps} would shorten the run in {} (planned {} steps, {} done); a \
                     run can only be extended",
                    dir.display(),
                    old.steps,
                    run.step
                );
            }
            cfg.steps = steps;
        }
        if let Some(k) = schedule.eval_every {
            cfg.eval_every = k;
        }
        if let Some(k) = schedule.checkpoint_every {
            cfg.checkpoint_every = k;
        }
        if cfg == old {
            return Ok(run);
        }
        cfg.extended.push(Extension {
            at_step: run.step,
            from_steps: old.steps,
            to_steps: cfg.steps,
            from_eval_every: old.eval_every,
            from_checkpoint_every: old.checkpoint_every,
            when: super::config::utc_now(),
        });
        let plan = cfg.resolve()?;
        if cfg.steps != old.steps {
            // Not finished any more: a sweep must not take the old final evaluation for the new.
            match std::fs::remove_file(dir.join(EVAL_FILE)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e)
                        .with_context(|| format!("removing {}", dir.join(EVAL_FILE).display()))
                }
                _ => {}
            }
        }
        fsio::write_atomic(&dir.join(CONFIG_FILE), plan.to_toml()?)?;
        run.plan = plan;
        Ok(run)
    }

    /// Runs the following gradient steps on `dev` (a candle device: a CUDA GPU, or candle's CPU
    /// backend for checking) instead of the hand-written CPU trainer. The state moves there now
    /// and comes back before every evaluation, checkpoint and neuron-swap round and when
    /// [`Run::train`] returns, so folders, logs and checkpoints are the same as a CPU run's.
    pub fn use_device(&mut self, dev: candle_core::Device) -> anyhow::Result<()> {
        self.device = Some(DeviceTrainer::new(dev, &self.trainer)?);
        Ok(())
    }

    /// Copies the accelerator's state (if any) into the host trainer.
    fn sync_host(&mut self) -> anyhow::Result<()> {
        if let Some(d) = &self.device {
            d.download(&mut self.trainer)?;
        }
        Ok(())
    }

    /// The run's config.
    pub fn config(&self) -> &RunConfig {
        self.plan.config()
    }

    /// The run's resolved config.
    pub fn plan(&self) -> &RunPlan {
        &self.plan
    }

    /// The task list.
    pub fn tasks(&self) -> &Tasks {
        self.plan.tasks()
    }

    /// The network in its current state.
    pub fn network(&self) -> &Network {
        self.trainer.network()
    }

    /// Steps done.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Whether the network comes from a checkpoint (false: the initial, untrained network).
    pub fn trained(&self) -> bool {
        self.trained
    }

    /// Neuron swaps (family `bimt`) made since this Run was created or resumed.
    pub fn swaps(&self) -> u64 {
        self.swaps
    }

    /// Evaluates the current network on the run's evaluation set.
    pub fn evaluate(&self) -> anyhow::Result<Evaluation> {
        evaluate(
            self.network(),
            self.plan.tasks(),
            &self.plan.generator(),
            eval_seed(self.plan.config().seed),
            self.plan.config().eval_trials,
        )
    }

    /// Trains until step `until` (at most the configured steps), evaluating every `eval_every`
    /// steps and at the end, checkpointing every `checkpoint_every` steps and at the end. With
    /// `progress`, shows a progress bar (or plain lines when stderr is not a terminal). Takes the
    /// folder's lock if this Run does not hold it yet.
    ///
    /// A non-finite loss stops the run with an error; the last checkpoint written stays as it was.
    /// A stop request ([`stop::requested`]: SIGINT or SIGTERM once [`stop::install`] ran) ends the
    /// current step, writes a checkpoint and returns an [`Interrupted`] error.
    pub fn train(&mut self, until: u64, progress: bool) -> anyhow::Result<Outcome> {
        if self.lock.is_none() {
            self.lock = Some(RunLock::acquire(&self.dir)?);
        }
        let until = until.min(self.config().steps);
        // A killed run may have logged past its checkpoint; those lines are redone now.
        self.truncate_metrics()?;
        let bar = progress.then(|| progress_bar(self.step, self.config().steps));
        let say = |text: &str| match &bar {
            Some(b) if !b.is_hidden() => b.suspend(|| eprintln!("{text}")),
            _ => eprintln!("{text}"),
        };
        let gen = self.plan.generator();
        let (steps, eval_every, checkpoint_every) = {
            let c = self.plan.config();
            (c.steps, c.eval_every, c.checkpoint_every)
        };
        let bimt = crate::regularize::Bimt::from_family(&self.plan.config().net.family);
        let started = Instant::now();
        let start_step = self.step;
        // Steps timed in this process since the last line (steps/s), and the first spike's step.
        let mut timed = 0u64;
        let mut first_spike = None;
        let mut since_eval = Instant::now();
        let mut last_eval = None;
        let mut last_eval_text = String::from("-");
        while self.step < until {
            fill_batch(
                &mut self.streams,
                &self.plan.tasks().list(),
                &gen,
                &mut self.inputs,
                &mut self.targets,
            )
            .map_err(|e| anyhow::anyhow!("task generator: {e}"))?;
            let engine: &mut dyn Engine = match &mut self.device {
                Some(d) => d,
                None => &mut self.trainer,
            };
            let stats = engine.train_step(&self.inputs, &self.targets, &mut self.noise_rng)?;
            if !stats.updated {
                let ckpt = self.dir.join(CHECKPOINT_FILE);
                let kept = if ckpt.exists() {
                    format!("the last good checkpoint is kept in {}", ckpt.display())
                } else {
                    "no checkpoint had been written yet".to_string()
                };
                bail!(
                    "training diverged at step {}: loss = {}, penalty = {}, gradient norm = {}; \
                     the run stopped and {kept} (try a lower lr or a smaller init)",
                    self.step + 1,
                    stats.loss,
                    stats.penalty,
                    stats.grad_norm
                );
            }
            self.step += 1;
            let at_end = self.step == steps;
            let eval_now = at_end || (eval_every > 0 && self.step.is_multiple_of(eval_every));
            let checkpoint_now = at_end || self.step.is_multiple_of(checkpoint_every);
            let swap_now = bimt.as_ref().is_some_and(|b| b.swap_due(self.step));
            let stop_now = stop::requested();
            if eval_now || checkpoint_now || swap_now || self.step == until || stop_now.is_some() {
                self.sync_host()?;
            }
            let (net, adam) = self.trainer.parts_mut();
            if let Some(round) = crate::regularize::after_step(net, adam, self.step)? {
                self.swaps += round.swaps as u64;
                self.log.swaps += round.swaps as u64;
                if let Some(d) = &mut self.device {
                    d.upload(&self.trainer)?;
                }
            }
            timed += 1;
            if let Some(level) = self.log.add(&stats) {
                if first_spike.is_none() {
                    first_spike = Some(self.step);
                    say(&format!(
                        "warning: loss spike at step {}: {:.4e}, more than {SPIKE_FACTOR}x the \
                         running level {level:.4} (further spikes before the next evaluation are \
                         only counted)",
                        self.step, stats.loss
                    ));
                }
            }
            if eval_now {
                let ev = self.evaluate()?;
                let (last, strict) = ev.mean();
                let steps_per_s = timed as f64 / since_eval.elapsed().as_secs_f64().max(1e-9);
                let mut line = serde_json::json!({
                    "step": self.step,
                    "loss": self.log.mean_loss(),
                    "loss_max": self.log.loss_max,
                    "grad_norm_max": self.log.grad_norm_max,
                    "loss_spikes": self.log.spikes,
                    "steps_per_s": steps_per_s,
                    "eval": ev.to_json(),
                });
                if let Some(extra) = crate::regularize::metrics(self.network(), self.log.swaps) {
                    line["bimt"] = extra;
                }
                self.append_metrics(&line)?;
                if self.log.spikes > 0 {
                    say(&format!(
                        "warning: {} loss spike(s) in the {} steps up to {} (largest step loss \
                         {:.4e}, mean {:.4})",
                        self.log.spikes,
                        self.log.steps,
                        self.step,
                        self.log.loss_max,
                        self.log.mean_loss()
                    ));
                }
                last_eval_text = format!("perf {last:.3} (strict {strict:.3})");
                if let Some(b) = &bar {
                    if b.is_hidden() {
                        eprintln!(
                            "step {:>6}  loss {:.4}  {:.1} steps/s  {}",
                            self.step,
                            self.log.mean_loss(),
                            steps_per_s,
                            last_eval_text
                        );
                    }
                }
                self.log.next_interval();
                timed = 0;
                first_spike = None;
                since_eval = Instant::now();
                last_eval = Some(ev);
            }
            if checkpoint_now || stop_now.is_some() {
                self.save_checkpoint()?;
            }
            if let Some(b) = &bar {
                b.set_position(self.step);
                let rate =
                    (self.step - start_step) as f64 / started.elapsed().as_secs_f64().max(1e-9);
                b.set_message(format!(
                    "loss {:.4}  {rate:.1} steps/s  {last_eval_text}",
                    stats.loss
                ));
            }
            if let Some(signal) = stop_now {
                if let Some(b) = &bar {
                    b.abandon();
                }
                return Err(Interrupted {
                    signal,
                    step: self.step,
                    dir: self.dir.clone(),
                }
                .into());
            }
        }
        if let Some(b) = bar {
            b.finish();
        }
        if self.step == steps {
            let ev = match &last_eval {
                Some(ev) => ev.clone(),
                None => self.evaluate()?,
            };
            fsio::write_atomic(
                &self.dir.join(EVAL_FILE),
                serde_json::to_string_pretty(&ev.to_json())?,
            )?;
            last_eval = Some(ev);
        }
        Ok(Outcome {
            step: self.step,
            last_eval,
        })
    }

    /// Writes the checkpoint of the current step.
    pub fn save_checkpoint(&self) -> anyhow::Result<()> {
        let net = self.trainer.network();
        let mut tensors: Vec<Named<'_>> = net.tensors();
        tensors.extend(self.trainer.adam().tensors(net));
        let meta = HashMap::from([
            ("step".to_string(), self.step.to_string()),
            (
                "adam_step".to_string(),
                self.trainer.adam().step_count().to_string(),
            ),
            ("streams".to_string(), serde_json::to_string(&self.streams)?),
            (
                "noise_rng".to_string(),
                serde_json::to_string(&self.noise_rng)?,
            ),
            ("config".to_string(), self.plan.to_toml()?),
            (LOG_KEY.to_string(), serde_json::to_string(&self.log)?),
        ]);
        checkpoint::save(&self.dir.join(CHECKPOINT_FILE), &tensors, meta)
    }

    fn load_checkpoint(&mut self, path: &Path) -> anyhow::Result<()> {
        let ck = checkpoint::load(path)?;
        let step =
            check_checkpoint_config(&ck, self.plan.config(), path, &self.dir.join(CONFIG_FILE))?;
        ck.load_network(self.trainer.network_mut())?;
        let (net, adam) = self.trainer.parts_mut();
        let adam_specs: Vec<(String, Vec<usize>)> = adam
            .tensors(net)
            .into_iter()
            .map(|(n, s, _)| (n, s))
            .collect();
        for (name, shape) in &adam_specs {
            adam.load_tensor(net, name, ck.tensor(name, shape)?)?;
        }
        adam.set_step_count(ck.meta("adam_step")?.parse().context("adam_step")?);
        self.step = step;
        // Checkpoints from before the log state was saved start a fresh interval.
        self.log = match ck.meta.get(LOG_KEY) {
            Some(text) => serde_json::from_str(text).context(LOG_KEY)?,
            None => LogState::default(),
        };
        self.trained = true;
        let streams: Vec<Stream> = serde_json::from_str(ck.meta("streams")?).context("streams")?;
        if streams.len() != self.streams.len() {
            bail!(
                "checkpoint has {} streams, config says batch {}",
                streams.len(),
                self.streams.len()
            );
        }
        self.streams = streams;
        self.noise_rng = serde_json::from_str(ck.meta("noise_rng")?).context("noise_rng")?;
        Ok(())
    }

    /// Adds `line` to the metrics log. The log is not appended to in place but rewritten whole
    /// through [`fsio::write_atomic`] (temporary, sync, rename): a crash or a full disk during the
    /// write leaves the previous log intact rather than a torn last line that later readers
    /// (`gyrus plot curves`, resume) would trip on. The cost is rewriting the log at each
    /// evaluation: one line per `eval_every` steps, kilobytes to a few megabytes, small beside the
    /// evaluation that produced the line.
    fn append_metrics(&self, line: &serde_json::Value) -> anyhow::Result<()> {
        let path = self.dir.join(METRICS_FILE);
        let mut text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("{line}\n"));
        fsio::write_atomic(&path, text)
    }

    /// Drops log lines past the checkpoint (a killed run may have logged beyond it).
    fn truncate_metrics(&self) -> anyhow::Result<()> {
        let path = self.dir.join(METRICS_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(());
        };
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .and_then(|v| v["step"].as_u64())
                    .is_some_and(|s| s <= self.step)
            })
            .collect();
        let mut out = kept.join("\n");
        if !out.is_empty() {
            out.push('\n');
        }
        if out != text {
            fsio::write_atomic(&path, out)?;
        }
        Ok(())
    }
}

/// The checkpoint metadata entry of the metrics log's running state.
const LOG_KEY: &str = "log_state";

/// The message for a run folder without a checkpoint, where a trained network is needed.
pub fn no_checkpoint_message(dir: &Path) -> String {
    format!(
        "{} has no {CHECKPOINT_FILE}: it was never trained (or the file was lost), so there is no \
         trained network to use; train it (`gyrus train --resume {}`), or pass --untrained to use \
         the initial network on purpose",
        dir.display(),
        dir.display()
    )
}

/// Checks that the checkpoint `ck` (read from `path`) belongs to the run configured in
/// `config_path` as `cfg`: the same config but for the schedule (`steps`, intervals, extension
/// record, which `gyrus train --resume DIR --steps N` may change), and a step within the planned
/// steps. Returns its step.
pub fn check_checkpoint_config(
    ck: &checkpoint::Loaded,
    cfg: &RunConfig,
    path: &Path,
    config_path: &Path,
) -> anyhow::Result<u64> {
    let text = ck.meta("config")?;
    let theirs: RunConfig = toml::from_str(text).with_context(|| {
        format!(
            "{}: the config in its metadata does not parse",
            path.display()
        )
    })?;
    if theirs.without_schedule() != cfg.without_schedule() {
        bail!(
            "{} was written with a different config than {}; refusing to mix them",
            path.display(),
            config_path.display()
        );
    }
    let step: u64 = ck.meta("step")?.parse().context("checkpoint step")?;
    if step > cfg.steps {
        bail!(
            "{} is at step {step}, past the {} steps {} plans",
            path.display(),
            cfg.steps,
            config_path.display()
        );
    }
    Ok(step)
}

fn progress_bar(pos: u64, len: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed_precise}] {msg}")
            .expect("static template"),
    );
    bar.set_position(pos);
    bar
}

/// Reads a run's metrics log: (step, mean `last` performance, mean `strict`, training loss).
pub fn read_metrics(dir: &Path) -> anyhow::Result<Vec<(u64, f64, f64, f64)>> {
    let path = dir.join(METRICS_FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut rows = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{} line {}: not JSON", path.display(), i + 1))?;
        let get = |x: &serde_json::Value| x.as_f64().unwrap_or(f64::NAN);
        let step = v["step"]
            .as_u64()
            .with_context(|| format!("{} line {}: no step", path.display(), i + 1))?;
        rows.push((
            step,
            get(&v["eval"]["last"]),
            get(&v["eval"]["strict"]),
            get(&v["loss"]),
        ));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(loss: f32, grad_norm: f32) -> StepStats {
        StepStats {
            loss,
            penalty: 0.0,
            grad_norm,
            updated: true,
        }
    }

    #[test]
    fn the_log_keeps_the_interval_extremes_and_flags_spikes() {
        let mut log = LogState::default();
        assert_eq!(log.add(&stats(2.0, 0.5)), None); // no level yet
        assert_eq!(log.add(&stats(2.0, 3.0)), None);
        assert_eq!(log.add(&stats(19.0, 1.0)), None); // 9.5x the level: not a spike
        let level = log.level.unwrap();
        assert_eq!(log.add(&stats(1e6, 2.0)), Some(level));
        assert_eq!((log.steps, log.spikes), (4, 1));
        assert_eq!((log.loss_max, log.grad_norm_max), (1e6, 3.0));
        assert!((log.mean_loss() - (23.0 + 1e6) / 4.0).abs() < 1e-9);
        log.next_interval();
        assert_eq!((log.steps, log.spikes, log.loss_max), (0, 0, 0.0));
        assert!(
            log.level.unwrap() > 1e5,
            "the level goes on across intervals"
        );
        // Round trip through the checkpoint's JSON, exactly.
        log.add(&stats(0.1 + 0.2, 0.3));
        let back: LogState = serde_json::from_str(&serde_json::to_string(&log).unwrap()).unwrap();
        assert_eq!(back, log);
    }
}
