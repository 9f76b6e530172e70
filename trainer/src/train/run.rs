//! A training run in its folder: config, the loop, evaluation, logs and checkpoints, resume.
//!
//! Folder layout: `config.toml` (every field, defaults written out), `checkpoint.safetensors`
//! (weights, Adam state, step, generator and noise state), `metrics.jsonl` (one JSON object per
//! evaluation: step, mean training loss since the previous one, steps/s, per-task metrics, and for
//! family `bimt` a `bimt` object with the swaps since the previous line and the wiring and
//! connection costs) and, at the end, `eval.json` (the final evaluation).

use super::checkpoint::{self, Named};
use super::config::{RunConfig, Tasks};
use super::device::DeviceTrainer;
use super::eval::{evaluate, Evaluation};
use super::trainer::Trainer;
use crate::model::Network;
use anyhow::{bail, Context};
use gyrus_runtime::tasks::{self, derive_seed, fill_batch, Rng, Stream};
use std::collections::HashMap;
use std::io::Write;
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

/// The seed of a run's evaluation trials (fixed for the run, so evaluations compare).
pub fn eval_seed(run_seed: u64) -> u64 {
    derive_seed(run_seed, EVAL_DOMAIN, 0)
}

/// A training run: the trainer plus everything needed to continue it exactly.
pub struct Run {
    dir: PathBuf,
    cfg: RunConfig,
    tasks: Tasks,
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
    /// Starts a run in `dir` (created if missing). Refuses a folder that already holds a run.
    pub fn create(dir: &Path, cfg: RunConfig) -> anyhow::Result<Self> {
        cfg.validate()?;
        if dir.join(CHECKPOINT_FILE).exists() || dir.join(CONFIG_FILE).exists() {
            bail!(
                "{} already holds a run; continue it with `gyrus train --resume {}` or choose another --out",
                dir.display(),
                dir.display()
            );
        }
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join(CONFIG_FILE), cfg.to_toml()?)?;
        let _ = std::fs::remove_file(dir.join(METRICS_FILE));
        Self::fresh(dir, cfg)
    }

    /// Starts a run in `dir` from the weights of `net` instead of the seeded initialisation
    /// (`gyrus import`): writes `config.toml` and the step-0 checkpoint (fresh Adam state and task
    /// streams), so that evaluation, export and `train --resume` (fine-tuning) open it like any
    /// run. `net` must have the config's shape and structure. Everything is checked before the
    /// first file is written; on a failure while writing, the files written so far are removed.
    pub fn create_from(dir: &Path, cfg: RunConfig, net: &Network) -> anyhow::Result<Self> {
        cfg.validate()?;
        if dir.join(CHECKPOINT_FILE).exists() || dir.join(CONFIG_FILE).exists() {
            bail!(
                "{} already holds a run; choose another --out",
                dir.display()
            );
        }
        let mut run = Self::fresh(dir, cfg)?;
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
        let written = crate::fsio::write_atomic(&dir.join(CONFIG_FILE), run.cfg.to_toml()?)
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

    fn fresh(dir: &Path, cfg: RunConfig) -> anyhow::Result<Self> {
        let tasks = cfg.task_list()?;
        let net = Network::new(&cfg.net_config()?, cfg.seed)?;
        let (t, b) = (cfg.seq_len(), cfg.batch);
        let mut trainer = Trainer::new(net, t, b)?;
        trainer.max_grad_norm = cfg.clip;
        trainer.adam_mut().lr = cfg.lr;
        let batch_seed = derive_seed(cfg.seed, BATCH_DOMAIN, 0);
        let n_in = tasks::n_inputs(tasks.len());
        Ok(Run {
            dir: dir.to_path_buf(),
            streams: (0..b as u64).map(|i| Stream::new(batch_seed, i)).collect(),
            noise_rng: Rng::new(derive_seed(cfg.seed, NOISE_DOMAIN, 0)),
            step: 0,
            inputs: vec![0.0; t * b * n_in],
            targets: vec![0; t * b],
            swaps: 0,
            device: None,
            cfg,
            tasks,
            trainer,
        })
    }

    /// Opens the run in `dir` at its last checkpoint (or from scratch if it has none yet), without
    /// writing anything into the folder.
    pub fn resume(dir: &Path) -> anyhow::Result<Self> {
        let cfg = RunConfig::load(&dir.join(CONFIG_FILE))
            .with_context(|| format!("{} does not hold a run", dir.display()))?;
        cfg.validate()?;
        let mut run = Self::fresh(dir, cfg)?;
        let path = dir.join(CHECKPOINT_FILE);
        if path.exists() {
            run.load_checkpoint(&path)?;
        }
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
        &self.cfg
    }

    /// The task list.
    pub fn tasks(&self) -> &Tasks {
        &self.tasks
    }

    /// The network in its current state.
    pub fn network(&self) -> &Network {
        self.trainer.network()
    }

    /// Steps done.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// Neuron swaps (family `bimt`) made since this Run was created or resumed.
    pub fn swaps(&self) -> u64 {
        self.swaps
    }

    /// Evaluates the current network on the run's evaluation set.
    pub fn evaluate(&self) -> anyhow::Result<Evaluation> {
        evaluate(
            self.network(),
            &self.tasks,
            &self.cfg.generator(),
            eval_seed(self.cfg.seed),
            self.cfg.eval_trials,
        )
    }

    /// Trains until step `until` (at most the configured steps), evaluating every `eval_every`
    /// steps and at the end, checkpointing every `checkpoint_every` steps and at the end. With
    /// `progress`, shows a progress bar (or plain lines when stderr is not a terminal).
    ///
    /// A non-finite loss stops the run with an error; the last checkpoint written stays as it was.
    pub fn train(&mut self, until: u64, progress: bool) -> anyhow::Result<Outcome> {
        let until = until.min(self.cfg.steps);
        // A killed run may have logged past its checkpoint; those lines are redone now.
        self.truncate_metrics()?;
        let bar = progress.then(|| progress_bar(self.step, self.cfg.steps));
        let gen = self.cfg.generator();
        let started = Instant::now();
        let start_step = self.step;
        let (mut loss_sum, mut loss_n) = (0.0f64, 0u64);
        let mut swaps_since = 0u64;
        let mut since_eval = Instant::now();
        let mut last_eval = None;
        let mut last_eval_text = String::from("-");
        while self.step < until {
            fill_batch(
                &mut self.streams,
                &self.tasks.list(),
                &gen,
                &mut self.inputs,
                &mut self.targets,
            )
            .map_err(|e| anyhow::anyhow!("task generator: {e}"))?;
            let stats = match &mut self.device {
                Some(d) => d.train_step(&self.inputs, &self.targets, &mut self.noise_rng)?,
                None => {
                    self.trainer
                        .train_step(&self.inputs, &self.targets, &mut self.noise_rng)?
                }
            };
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
            let at_end = self.step == self.cfg.steps;
            let eval_now = at_end
                || (self.cfg.eval_every > 0 && self.step.is_multiple_of(self.cfg.eval_every));
            let checkpoint_now = at_end || self.step.is_multiple_of(self.cfg.checkpoint_every);
            let swap_now = crate::regularize::Bimt::from_family(&self.cfg.net.family)
                .is_some_and(|b| b.swap_due(self.step));
            if eval_now || checkpoint_now || swap_now || self.step == until {
                self.sync_host()?;
            }
            if let Some(round) = crate::regularize::after_step(&mut self.trainer, self.step)? {
                self.swaps += round.swaps as u64;
                swaps_since += round.swaps as u64;
                if let Some(d) = &mut self.device {
                    d.upload(&self.trainer)?;
                }
            }
            loss_sum += f64::from(stats.loss);
            loss_n += 1;
            if eval_now {
                let ev = self.evaluate()?;
                let (last, strict) = ev.mean();
                let steps_per_s = loss_n as f64 / since_eval.elapsed().as_secs_f64().max(1e-9);
                let mut line = serde_json::json!({
                    "step": self.step,
                    "loss": loss_sum / loss_n.max(1) as f64,
                    "steps_per_s": steps_per_s,
                    "eval": ev.to_json(),
                });
                if let Some(extra) = crate::regularize::metrics(self.network(), swaps_since) {
                    line["bimt"] = extra;
                }
                swaps_since = 0;
                self.append_metrics(&line)?;
                last_eval_text = format!("perf {last:.3} (strict {strict:.3})");
                if let Some(b) = &bar {
                    if b.is_hidden() {
                        eprintln!(
                            "step {:>6}  loss {:.4}  {:.1} steps/s  {}",
                            self.step,
                            loss_sum / loss_n.max(1) as f64,
                            steps_per_s,
                            last_eval_text
                        );
                    }
                }
                loss_sum = 0.0;
                loss_n = 0;
                since_eval = Instant::now();
                last_eval = Some(ev);
            }
            if checkpoint_now {
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
        }
        if let Some(b) = bar {
            b.finish();
        }
        if self.step == self.cfg.steps {
            let ev = match &last_eval {
                Some(ev) => ev.clone(),
                None => self.evaluate()?,
            };
            std::fs::write(
                self.dir.join(EVAL_FILE),
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
            ("config".to_string(), self.cfg.to_toml()?),
        ]);
        checkpoint::save(&self.dir.join(CHECKPOINT_FILE), &tensors, meta)
    }

    fn load_checkpoint(&mut self, path: &Path) -> anyhow::Result<()> {
        let ck = checkpoint::load(path)?;
        if ck.meta("config")? != self.cfg.to_toml()? {
            bail!(
                "{} was written with a different config than {}; refusing to mix them",
                path.display(),
                self.dir.join(CONFIG_FILE).display()
            );
        }
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
        self.step = ck.meta("step")?.parse().context("step")?;
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

    fn append_metrics(&self, line: &serde_json::Value) -> anyhow::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(METRICS_FILE))?;
        writeln!(f, "{line}")?;
        Ok(())
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
        std::fs::write(path, out)?;
        Ok(())
    }
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
