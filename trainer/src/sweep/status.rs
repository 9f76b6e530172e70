//! The state of each point, read from its run folder alone (no daemon, no lock files), so any
//! backend and `gyrus sweep status` agree on it:
//! - finished: `eval.json` exists (written at the last step);
//! - failed: the backend wrote [`FAILED_FILE`] after the last attempt exited non-zero;
//! - started: a checkpoint or `config.toml` exists (running now, or interrupted: resumable);
//! - pending: nothing yet.

use super::manifest::{Entry, Manifest};
use crate::train::run::{CHECKPOINT_FILE, CONFIG_FILE, EVAL_FILE, METRICS_FILE};
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The child's stdout and stderr, appended to on every attempt, inside the run folder.
pub const LOG_FILE: &str = "sweep.log";
/// Written into the run folder when an attempt fails (its exit status); removed on the next attempt.
pub const FAILED_FILE: &str = "sweep-failed.txt";

/// Where a point stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PointState {
    /// `eval.json` exists.
    Finished,
    /// The last attempt failed; the text says how.
    Failed(String),
    /// Started (running or interrupted); the last step logged in `metrics.jsonl`, if any.
    Started(Option<u64>),
    /// Not started.
    Pending,
}

impl PointState {
    /// A one-word name: finished, failed, started, pending.
    pub fn word(&self) -> &'static str {
        match self {
            PointState::Finished => "finished",
            PointState::Failed(_) => "failed",
            PointState::Started(_) => "started",
            PointState::Pending => "pending",
        }
    }
}

/// The run folder of `entry` in the sweep folder `dir`.
pub fn run_dir(dir: &Path, entry: &Entry) -> PathBuf {
    dir.join(&entry.run_dir)
}

fn last_logged_step(run: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(run.join(METRICS_FILE)).ok()?;
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["step"].as_u64())
        .max()
}

/// The state of the run folder `run`.
pub fn state(run: &Path) -> PointState {
    if run.join(EVAL_FILE).exists() {
        PointState::Finished
    } else if let Ok(why) = std::fs::read_to_string(run.join(FAILED_FILE)) {
        PointState::Failed(why.trim().to_string())
    } else if run.join(CHECKPOINT_FILE).exists() || run.join(CONFIG_FILE).exists() {
        PointState::Started(last_logged_step(run))
    } else {
        PointState::Pending
    }
}

/// What a backend does with a point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Finished: nothing.
    Skip,
    /// `gyrus train --config <config_file> --out <run_dir>`.
    Train,
    /// `gyrus train --resume <run_dir>` (from its checkpoint, or from scratch if it has none).
    Resume,
}

/// The action for `entry`; refuses a run folder whose `config.toml` is not the manifest's config.
pub fn action(dir: &Path, entry: &Entry) -> Result<Action> {
    let run = run_dir(dir, entry);
    if run.join(EVAL_FILE).exists() {
        return Ok(Action::Skip);
    }
    match std::fs::read_to_string(run.join(CONFIG_FILE)) {
        Ok(text) if text == entry.config => Ok(Action::Resume),
        Ok(_) => bail!(
            "{} holds a run with a different config than the manifest's point {}; move it away",
            run.display(),
            entry.name
        ),
        Err(_) if run.join(CHECKPOINT_FILE).exists() => bail!(
            "{} has a checkpoint but no {CONFIG_FILE}; move it away",
            run.display()
        ),
        Err(_) => Ok(Action::Train),
    }
}

/// The `gyrus` arguments for `action` on `entry`, with paths under the sweep folder `dir`.
pub fn train_args(dir: &Path, entry: &Entry, action: Action) -> Vec<std::ffi::OsString> {
    let run = run_dir(dir, entry).into_os_string();
    match action {
        Action::Skip => Vec::new(),
        Action::Train => vec![
            "train".into(),
            "--config".into(),
            dir.join(&entry.config_file).into_os_string(),
            "--out".into(),
            run,
        ],
        Action::Resume => vec!["train".into(), "--resume".into(), run],
    }
}

/// Every point's state, in manifest order.
pub fn scan(dir: &Path, m: &Manifest) -> Vec<PointState> {
    m.points.iter().map(|e| state(&run_dir(dir, e))).collect()
}

/// A point's entry in a batch queue (Slurm's `squeue`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    /// The queue's id of the task, e.g. `1234_5`.
    pub job: String,
    /// The queue's state word, e.g. `PENDING` or `RUNNING`.
    pub state: String,
}

/// Counts per state and a table of the unfinished points: what `gyrus sweep status` prints.
pub fn report(dir: &Path, m: &Manifest) -> String {
    report_queued(dir, m, &BTreeMap::new())
}

/// [`report`], with the points a batch queue holds (index -> entry) counted as running or waiting
/// and their queue state shown.
pub fn report_queued(dir: &Path, m: &Manifest, queue: &BTreeMap<usize, Queued>) -> String {
    let states = scan(dir, m);
    let count = |w: &str| {
        states
            .iter()
            .zip(&m.points)
            .filter(|(s, e)| s.word() == w && e.duplicate_of.is_none())
            .count()
    };
    let dups = m.points.iter().filter(|e| e.duplicate_of.is_some()).count();
    let dup_text = if dups > 0 {
        format!(" ({dups} are duplicates of others, counted once)")
    } else {
        String::new()
    };
    let mut out = format!(
        "{}: {} points{dup_text}: {} finished, {} started (running or interrupted), {} failed, {} pending\n",
        dir.display(),
        states.len(),
        count("finished"),
        count("started"),
        count("failed"),
        count("pending")
    );
    if !queue.is_empty() {
        let running = queue.values().filter(|q| is_running(&q.state)).count();
        out += &format!(
            "  in the queue: {running} running, {} waiting\n",
            queue.len() - running
        );
    }
    for (e, s) in m.points.iter().zip(&states) {
        if e.duplicate_of.is_some() {
            continue;
        }
        let detail = match s {
            PointState::Finished => continue,
            PointState::Failed(why) => format!("failed: {why}"),
            PointState::Started(Some(step)) => format!("started, step {step} logged"),
            PointState::Started(None) => "started, no evaluation logged yet".into(),
            PointState::Pending => "pending".into(),
        };
        let detail = match queue.get(&e.index) {
            Some(q) => format!("{detail} [queued: job {} {}]", q.job, q.state),
            None if !queue.is_empty() && !matches!(s, PointState::Pending) => {
                format!("{detail} [not in the queue]")
            }
            None => detail,
        };
        out += &format!("  {:<40} {detail}\n", e.name);
    }
    out
}

/// Whether a queue state word means the task has started (running, completing, ...).
fn is_running(state: &str) -> bool {
    matches!(
        state,
        "RUNNING" | "COMPLETING" | "CONFIGURING" | "STAGE_OUT" | "SIGNALING"
    )
}
