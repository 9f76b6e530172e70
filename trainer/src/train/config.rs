//! The run configuration: what `gyrus train` reads from `--config run.toml` and flags, and writes
//! into the run folder as `config.toml`.

use crate::model::{NetConfig, Network, Sheet};
pub use crate::tasks::Tasks;
use anyhow::{bail, Context};
use gyrus_runtime::tasks;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Everything a training run depends on. Every field has a default but the sheet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// The tasks: a collection name (`cog20`, `modcog`, `modcog-full`) or a comma-separated list
    /// of task names (rule-input order = list order).
    #[serde(default = "default_tasks")]
    pub tasks: String,
    /// Time step of the task generator in ms.
    #[serde(default = "default_dt")]
    pub dt_ms: u16,
    /// Input-noise multiplier (1 = reference std 1/sqrt(dt_ms), 0 = none).
    #[serde(default = "one")]
    pub input_noise: f32,
    /// Training seed: network init, masks, batches and recurrent noise all derive from it.
    #[serde(default = "one_u64")]
    pub seed: u64,
    /// Gradient steps.
    #[serde(default = "default_steps")]
    pub steps: u64,
    /// Streams per batch B.
    #[serde(default = "default_batch")]
    pub batch: usize,
    /// Streams per chunk: the batch is cut into chunks of this many streams whose forward and
    /// backward passes run in parallel, and whose gradients are summed in chunk order. It sets the
    /// rounding of that sum, so it belongs to the run; the thread count does not (any gives the
    /// same weights). At most B / chunk threads help one step.
    #[serde(default = "default_chunk")]
    pub chunk: usize,
    /// Window length T in steps; default 100 for cog20, 350 for anything larger.
    #[serde(default)]
    pub seq_len: Option<usize>,
    /// Adam learning rate.
    #[serde(default = "default_lr")]
    pub lr: f32,
    /// Global gradient-norm clip.
    #[serde(default = "one")]
    pub clip: f32,
    /// Evaluate every this many steps (and at the end); 0 = only at the end.
    #[serde(default = "default_eval_every")]
    pub eval_every: u64,
    /// Evaluation trials per task.
    #[serde(default = "default_eval_trials")]
    pub eval_trials: u32,
    /// Checkpoint every this many steps (and at the end).
    #[serde(default = "default_checkpoint_every")]
    pub checkpoint_every: u64,
    /// The network (sheet, family, activation, leak, recurrent noise).
    pub net: NetConfig,
    /// The run's extensions (`gyrus train --resume DIR --steps N`), oldest first; absent from the
    /// TOML until the first one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extended: Vec<Extension>,
}

/// One change of a run's schedule by `gyrus train --resume DIR --steps N [--eval-every K]
/// [--checkpoint-every K]`, recorded in its config (`[[extended]]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// Steps done when the schedule changed.
    pub at_step: u64,
    /// The planned steps before.
    pub from_steps: u64,
    /// The planned steps after.
    pub to_steps: u64,
    /// The evaluation interval before.
    pub from_eval_every: u64,
    /// The checkpoint interval before.
    pub from_checkpoint_every: u64,
    /// When, UTC (`YYYY-MM-DDTHH:MM:SSZ`).
    pub when: String,
}

/// The current time, UTC, as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_text(secs)
}

/// `secs` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (proleptic Gregorian calendar).
fn utc_text(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn default_tasks() -> String {
    "cog20".into()
}
fn default_dt() -> u16 {
    100
}
fn one() -> f32 {
    1.0
}
fn one_u64() -> u64 {
    1
}
fn default_steps() -> u64 {
    3000
}
fn default_batch() -> usize {
    64
}
fn default_chunk() -> usize {
    super::trainer::DEFAULT_CHUNK
}
fn default_lr() -> f32 {
    1e-3
}
fn default_eval_every() -> u64 {
    200
}
fn default_eval_trials() -> u32 {
    64
}
fn default_checkpoint_every() -> u64 {
    500
}

/// Largest batch * seq_len * inputs accepted (keeps a typo from allocating the machine away).
const MAX_BATCH_ELEMENTS: usize = 1 << 30;

impl RunConfig {
    /// A config with every default for the given sheet.
    pub fn with_sheet(sheet: Sheet) -> Self {
        RunConfig {
            tasks: default_tasks(),
            dt_ms: default_dt(),
            input_noise: 1.0,
            seed: 1,
            steps: default_steps(),
            batch: default_batch(),
            chunk: default_chunk(),
            seq_len: None,
            lr: default_lr(),
            clip: 1.0,
            eval_every: default_eval_every(),
            eval_trials: default_eval_trials(),
            checkpoint_every: default_checkpoint_every(),
            net: NetConfig::new(sheet, 0, 0),
            extended: Vec::new(),
        }
    }

    /// The config with its schedule (steps, evaluation and checkpoint intervals, extension
    /// record) cleared: what must stay the same for a checkpoint to belong to this run.
    pub fn without_schedule(&self) -> RunConfig {
        let mut c = self.clone();
        c.seq_len = Some(self.seq_len());
        c.steps = 0;
        c.eval_every = 0;
        c.checkpoint_every = 0;
        c.extended.clear();
        c
    }

    /// Reads a TOML file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config {}", path.display()))?;
        let cfg: RunConfig =
            toml::from_str(&text).with_context(|| format!("parsing config {}", path.display()))?;
        Ok(cfg)
    }

    /// The TOML text (every field written out, defaults included).
    pub fn to_toml(&self) -> anyhow::Result<String> {
        let mut full = self.clone();
        full.seq_len = Some(self.seq_len());
        Ok(toml::to_string_pretty(&full)?)
    }

    /// The task list, parsed from `tasks` (each call parses again: downstream code reads
    /// [`RunPlan::tasks`]).
    pub fn task_list(&self) -> anyhow::Result<Tasks> {
        Tasks::parse(&self.tasks)
    }

    /// The window length: the configured one, else 100 for cog20 (or a list of base tasks) and 350
    /// for batteries with Mod-Cog tasks.
    pub fn seq_len(&self) -> usize {
        self.seq_len
            .unwrap_or_else(|| match Tasks::parse(&self.tasks) {
                Ok(t) => default_seq_len(&t),
                Err(_) => 350,
            })
    }

    /// The generator settings.
    pub fn generator(&self) -> tasks::Config {
        tasks::Config {
            dt_ms: self.dt_ms,
            noise: self.input_noise,
        }
    }

    /// The full network config (inputs = 33 + rules, 17 outputs) of a valid config: the one of
    /// [`RunConfig::resolve`].
    pub fn net_config(&self) -> anyhow::Result<NetConfig> {
        Ok(self.resolve()?.net)
    }

    /// Checks every field, with messages that say what is allowed ([`RunConfig::resolve`]
    /// without keeping the plan).
    pub fn validate(&self) -> anyhow::Result<()> {
        self.resolve().map(drop)
    }

    /// Resolves the config into the plan everything downstream reads: parses the tasks once,
    /// completes the network config (inputs and outputs follow from the tasks), fixes the window
    /// length, and checks every field once, with messages that say what is allowed.
    pub fn resolve(&self) -> anyhow::Result<RunPlan> {
        if self.net.n_inputs != 0 || self.net.n_outputs != 0 {
            bail!(
                "[net] n_inputs and n_outputs cannot be set in a run config: they follow from the \
                 tasks (33 + one rule input per task, and 17 outputs); remove them"
            );
        }
        let tasks = self.task_list()?;
        let seq_len = self.seq_len.unwrap_or_else(|| default_seq_len(&tasks));
        self.generator().validate().map_err(|e| {
            anyhow::anyhow!(
                "{e} (dt_ms = {}, input_noise = {})",
                self.dt_ms,
                self.input_noise
            )
        })?;
        let n_inputs = tasks::n_inputs(tasks.len());
        let net = NetConfig {
            n_inputs,
            n_outputs: tasks::N_CLASSES,
            ..self.net.clone()
        };
        net.validate()?;
        if self.steps == 0 {
            bail!("steps must be positive");
        }
        if self.chunk == 0 {
            bail!("chunk must be positive (streams per chunk of the batch)");
        }
        if self.batch == 0 || seq_len == 0 {
            bail!(
                "batch and seq_len must be positive (got {} and {seq_len})",
                self.batch,
            );
        }
        let elements = self
            .batch
            .checked_mul(seq_len)
            .and_then(|x| x.checked_mul(n_inputs));
        if elements.is_none_or(|e| e > MAX_BATCH_ELEMENTS) {
            bail!(
                "batch {} x seq_len {seq_len} x {n_inputs} inputs is too large (limit \
                 {MAX_BATCH_ELEMENTS} values)",
                self.batch,
            );
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            bail!("lr must be a positive number, got {}", self.lr);
        }
        if !(self.clip.is_finite() && self.clip > 0.0) {
            bail!("clip must be a positive number, got {}", self.clip);
        }
        if self.eval_trials == 0 {
            bail!("eval_trials must be positive");
        }
        if self.checkpoint_every == 0 {
            bail!("checkpoint_every must be positive");
        }
        Ok(RunPlan {
            config: self.clone(),
            tasks,
            net,
            seq_len,
        })
    }
}

/// The default window length of a task list: 100 when every task is a base task, else 350.
fn default_seq_len(tasks: &Tasks) -> usize {
    if tasks
        .tasks()
        .iter()
        .all(|t| t.interval.is_none() && t.seq.is_none())
    {
        100
    } else {
        350
    }
}

/// A [`RunConfig`] resolved once ([`RunConfig::resolve`]): the config as given, its parsed
/// task list, the complete network config and the window length, every field checked. Only
/// `resolve` makes one, so holding a plan means holding a valid config; the training loop,
/// evaluation, analysis, export and the memory estimate read it instead of parsing the tasks
/// again. It is derived, never written: the files keep the [`RunConfig`]
/// ([`RunPlan::to_toml`]), and resolving a loaded config gives the same plan.
#[derive(Clone, Debug, PartialEq)]
pub struct RunPlan {
    config: RunConfig,
    tasks: Tasks,
    net: NetConfig,
    seq_len: usize,
}

impl RunPlan {
    /// The config it was resolved from.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// The config, giving the plan up.
    pub fn into_config(self) -> RunConfig {
        self.config
    }

    /// The config and its task list, giving the plan up.
    pub fn into_parts(self) -> (RunConfig, Tasks) {
        (self.config, self.tasks)
    }

    /// The task list (rule-input order).
    pub fn tasks(&self) -> &Tasks {
        &self.tasks
    }

    /// The complete network config: the config's `[net]` with `n_inputs = 33 + rules` and
    /// `n_outputs = 17`, validated.
    pub fn net(&self) -> &NetConfig {
        &self.net
    }

    /// Inputs per step (33 + one rule input per task).
    pub fn n_inputs(&self) -> usize {
        self.net.n_inputs
    }

    /// The window length T (the configured one or the tasks' default).
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// The generator settings.
    pub fn generator(&self) -> tasks::Config {
        self.config.generator()
    }

    /// The seeded initial network of the run (the plan's network config is valid already).
    pub fn network(&self) -> anyhow::Result<Network> {
        Network::new_valid(&self.net, self.config.seed)
    }

    /// The TOML text of the config (every field written out, defaults included; the window
    /// length as resolved).
    pub fn to_toml(&self) -> anyhow::Result<String> {
        let mut full = self.config.clone();
        full.seq_len = Some(self.seq_len);
        Ok(toml::to_string_pretty(&full)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Family;

    #[test]
    fn minimal_toml_gets_the_defaults_and_round_trips() {
        let cfg: RunConfig = toml::from_str("[net.sheet]\nrows = 4\ncols = 5\n").unwrap();
        assert_eq!(cfg, RunConfig::with_sheet(Sheet::new(4, 5)));
        assert_eq!(cfg.seq_len(), 100);
        cfg.validate().unwrap();
        let back: RunConfig = toml::from_str(&cfg.to_toml().unwrap()).unwrap();
        assert_eq!(back.seq_len, Some(100));
        let nc = cfg.net_config().unwrap();
        assert_eq!((nc.n_inputs, nc.n_outputs), (53, 17));
    }

    #[test]
    fn families_parse_from_toml() {
        let cfg: RunConfig = toml::from_str(
            "tasks = \"modcog\"\n[net]\nsheet = { rows = 3, cols = 3 }\nactivation = \"tanh\"\n\
             family = { kind = \"local\", d = 2.0 }\n",
        )
        .unwrap();
        assert_eq!(cfg.seq_len(), 350);
        assert!(matches!(cfg.net.family, Family::Local { .. }));
        assert_eq!(cfg.net_config().unwrap().n_inputs, 115);
    }

    #[test]
    fn a_plan_holds_the_resolved_config() {
        let mut cfg = RunConfig::with_sheet(Sheet::new(3, 3));
        cfg.tasks = "go, dms".into();
        let plan = cfg.resolve().unwrap();
        assert_eq!(plan.config(), &cfg);
        assert_eq!(plan.tasks().names(), ["go", "dms"]);
        assert_eq!((plan.net().n_inputs, plan.net().n_outputs), (35, 17));
        assert_eq!(plan.n_inputs(), 35);
        assert_eq!(plan.seq_len(), 100);
        assert_eq!(plan.net(), &cfg.net_config().unwrap());
        // The network built from the plan is the one `Network::new` builds.
        let net = plan.network().unwrap();
        let again = Network::new(plan.net(), cfg.seed).unwrap();
        assert_eq!(net.params(), again.params());
        assert_eq!(net.structure(), again.structure());
        // What a run folder keeps resolves to the same plan (the window length written out).
        let back: RunConfig = toml::from_str(&plan.to_toml().unwrap()).unwrap();
        assert_eq!(back.seq_len, Some(100));
        let replan = back.resolve().unwrap();
        assert_eq!(
            (replan.tasks(), replan.net(), replan.seq_len()),
            (plan.tasks(), plan.net(), plan.seq_len())
        );
        cfg.tasks = "modcog".into();
        assert_eq!(cfg.resolve().unwrap().seq_len(), 350);
        cfg.net.alpha = 0.0;
        let e = cfg.resolve().unwrap_err().to_string();
        assert!(e.contains("alpha"), "{e}");
    }

    #[test]
    fn utc_text_is_the_civil_date() {
        assert_eq!(utc_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_text(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_text(1_796_300_000), "2026-12-03T12:13:20Z");
    }

    #[test]
    fn an_extension_round_trips_and_only_the_schedule_may_differ() {
        let mut cfg = RunConfig::with_sheet(Sheet::new(2, 2));
        assert!(!cfg.to_toml().unwrap().contains("extended"));
        let mut ext = cfg.clone();
        ext.steps = 6000;
        ext.eval_every = 7;
        ext.extended.push(Extension {
            at_step: 3000,
            from_steps: 3000,
            to_steps: 6000,
            from_eval_every: 200,
            from_checkpoint_every: 500,
            when: utc_now(),
        });
        let back: RunConfig = toml::from_str(&ext.to_toml().unwrap()).unwrap();
        assert_eq!(back.extended, ext.extended);
        assert_eq!(back.without_schedule(), cfg.without_schedule());
        cfg.lr = 0.5;
        assert_ne!(back.without_schedule(), cfg.without_schedule());
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        let mut cfg = RunConfig::with_sheet(Sheet::new(2, 2));
        cfg.tasks = "go,flyto".into();
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("flyto") && e.contains("gyrus tasks list"), "{e}");
        cfg.tasks = "go,go".into();
        assert!(cfg.validate().unwrap_err().to_string().contains("twice"));
        cfg.tasks = "go,dms".into();
        cfg.batch = 0;
        assert!(cfg.validate().unwrap_err().to_string().contains("batch"));
        cfg.batch = 1 << 20;
        cfg.seq_len = Some(1 << 20);
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("too large"));
        assert!(
            toml::from_str::<RunConfig>("stepz = 3\n[net.sheet]\nrows = 1\ncols = 1\n").is_err()
        );
    }

    #[test]
    fn fields_that_do_not_apply_are_refused_not_dropped() {
        let cfg: RunConfig =
            toml::from_str("[net]\nsheet = { rows = 2, cols = 2 }\nn_inputs = 999\n").unwrap();
        let e = cfg.validate().unwrap_err().to_string();
        assert!(
            e.contains("n_inputs") && e.contains("follow from the tasks"),
            "{e}"
        );
        let cfg: RunConfig =
            toml::from_str("[net]\nsheet = { rows = 2, cols = 2 }\nn_outputs = 17\n").unwrap();
        assert!(cfg.validate().is_err());
        let e = toml::from_str::<RunConfig>(
            "[net]\nsheet = { rows = 2, cols = 2 }\nfamily = { kind = \"dense\", d = 2.0 }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("family `dense` does not take `d`"), "{e}");
    }
}
