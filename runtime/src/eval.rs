//! Task evaluation of an exported model (feature `tasks`), allocation-free.
//!
//! For each task of the model's list (rule index = position), runs `trials` whole trials from
//! [`tasks::eval_trial`] (seeded: trial `i` of rule `r` is the same on every machine), steps the
//! kernel from h = 0 at the start of every trial, takes the argmax of the outputs at every step, and
//! scores with [`Score`] (both `last` and `strict`).
//!
//! ```text
//! let mut tasks = [Task::base(Base::Go); 132];
//! let mut state = [0.0; 2 * 625 + 48 + 313 + 313];   // State::buffer_len(625)
//! let (mut input, mut output) = ([0.0; 33 + 20], [0.0; 17]);
//! let mut decisions = [0u8; 512];           // >= eval::max_trial_len(&model, &cfg)
//! let mut bufs = EvalBuffers { tasks: &mut tasks, state: &mut state, input: &mut input,
//!                              output: &mut output, decisions: &mut decisions };
//! let mut scores = [Score::default(); 20]; // one per task
//! eval::evaluate(&model, &EvalConfig::new(seed, 100), &mut bufs, &mut scores)?;
//! ```

use core::fmt;

use crate::format::ModelView;
use crate::kernel::{self, KernelError, State};
use crate::tasks::{self, argmax, eval_trial, Config, Score, Task, TaskList};

/// What to evaluate.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EvalConfig {
    /// Evaluation seed (see [`tasks::eval_trial`]).
    pub seed: u64,
    /// Trials per task.
    pub trials: u32,
    /// Generator settings (time step, input noise).
    pub generator: Config,
    /// Use the int8 weights ([`kernel::step_int8`]).
    pub int8: bool,
}

impl EvalConfig {
    /// `trials` trials per task under `seed`, default generator settings, f32 weights.
    pub fn new(seed: u64, trials: u32) -> Self {
        EvalConfig {
            seed,
            trials,
            generator: Config::default(),
            int8: false,
        }
    }
}

/// Caller-owned scratch of [`evaluate`].
#[derive(Debug)]
pub struct EvalBuffers<'a> {
    /// At least `model.n_tasks()` entries (overwritten with the model's tasks).
    pub tasks: &'a mut [Task],
    /// At least [`State::buffer_len`]`(n_hidden)` floats.
    pub state: &'a mut [f32],
    /// Exactly `n_inputs` floats.
    pub input: &'a mut [f32],
    /// Exactly `n_outputs` floats.
    pub output: &'a mut [f32],
    /// At least the longest trial's length ([`max_trial_len`]).
    pub decisions: &'a mut [u8],
}

/// Why an evaluation could not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EvalError {
    /// The model has no task list.
    NoTasks,
    /// The model's inputs or outputs do not match its task list (33 + tasks inputs, 17 outputs).
    Shape,
    /// A buffer is too short.
    Buffer {
        /// Length needed.
        needed: usize,
        /// Length given.
        got: usize,
    },
    /// The kernel refused a buffer.
    Kernel(KernelError),
    /// The task generator failed.
    Task(tasks::Error),
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvalError::NoTasks => f.write_str("the model has no task list"),
            EvalError::Shape => f.write_str("model inputs/outputs do not match its task list"),
            EvalError::Buffer { needed, got } => {
                write!(f, "buffer has length {got}, {needed} needed")
            }
            EvalError::Kernel(e) => write!(f, "kernel: {e}"),
            EvalError::Task(e) => write!(f, "task generator: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for EvalError {}

impl From<KernelError> for EvalError {
    fn from(e: KernelError) -> Self {
        EvalError::Kernel(e)
    }
}

impl From<tasks::Error> for EvalError {
    fn from(e: tasks::Error) -> Self {
        EvalError::Task(e)
    }
}

/// The longest trial, in steps, over the model's tasks under `cfg` (the decisions buffer size).
pub fn max_trial_len(model: &ModelView<'_>, cfg: &Config) -> usize {
    (0..model.n_tasks())
        .filter_map(|i| tasks::length_range(model.task(i)?, cfg))
        .map(|(_, hi)| hi)
        .max()
        .unwrap_or(0)
}

fn need(needed: usize, got: usize) -> Result<(), EvalError> {
    if got < needed {
        Err(EvalError::Buffer { needed, got })
    } else {
        Ok(())
    }
}

/// Evaluates every task of the model: `scores[r]` gets the counts of rule `r` (`scores` must have
/// `model.n_tasks()` entries; they are overwritten).
pub fn evaluate(
    model: &ModelView<'_>,
    cfg: &EvalConfig,
    bufs: &mut EvalBuffers<'_>,
    scores: &mut [Score],
) -> Result<(), EvalError> {
    need(model.n_tasks(), scores.len())?;
    for score in scores.iter_mut().take(model.n_tasks()) {
        *score = Score::default();
    }
    run_trials(
        model,
        cfg,
        bufs,
        |_| {},
        |rule, trial, decisions| {
            if let Some(score) = scores.get_mut(rule) {
                score.add_decisions(trial, decisions);
            }
        },
    )
}

/// The largest `|h|` of any hidden unit at any step of the trials [`evaluate`] runs (with the
/// weights `cfg.int8` picks): the range the exporter calibrates the int8 activation format with.
pub fn max_activation(
    model: &ModelView<'_>,
    cfg: &EvalConfig,
    bufs: &mut EvalBuffers<'_>,
) -> Result<f32, EvalError> {
    let mut max = 0.0f32;
    run_trials(
        model,
        cfg,
        bufs,
        |h| max = h.iter().fold(max, |m, x| m.max(x.abs())),
        |_, _, _| {},
    )?;
    Ok(max)
}

/// Runs `cfg.trials` trials of every task from h = 0; `on_step(h)` after every step,
/// `on_trial(rule, trial, decisions)` after every trial.
fn run_trials(
    model: &ModelView<'_>,
    cfg: &EvalConfig,
    bufs: &mut EvalBuffers<'_>,
    mut on_step: impl FnMut(&[f32]),
    mut on_trial: impl FnMut(usize, &tasks::Trial, &[u8]),
) -> Result<(), EvalError> {
    let n_tasks = model.n_tasks();
    if n_tasks == 0 {
        return Err(EvalError::NoTasks);
    }
    // The task list fits the inputs and outputs: checked once by `ModelView::from_bytes`.
    need(n_tasks, bufs.tasks.len())?;
    cfg.generator.validate()?;
    need(max_trial_len(model, &cfg.generator), bufs.decisions.len())?;
    for (i, t) in bufs.tasks[..n_tasks].iter_mut().enumerate() {
        *t = model.task(i).ok_or(EvalError::NoTasks)?;
    }
    let list = TaskList::Custom(&bufs.tasks[..n_tasks]);
    let mut state = State::new(model.n_hidden(), bufs.state)?;
    let step = if cfg.int8 {
        kernel::step_int8
    } else {
        kernel::step
    };
    for rule in 0..n_tasks {
        for i in 0..cfg.trials {
            let (trial, mut rng) = eval_trial(&list, rule, cfg.seed, u64::from(i), &cfg.generator)?;
            let len = trial.len();
            let got = bufs.decisions.len();
            let decisions = bufs
                .decisions
                .get_mut(..len)
                .ok_or(EvalError::Buffer { needed: len, got })?;
            state.reset();
            for (t, d) in decisions.iter_mut().enumerate() {
                trial.write_step(t, &mut rng, bufs.input)?;
                step(model, &mut state, bufs.input, bufs.output)?;
                *d = argmax(bufs.output) as u8;
                on_step(state.hidden());
            }
            on_trial(rule, &trial, decisions);
        }
    }
    Ok(())
}
