//! The Slurm backend: the whole sweep as one `sbatch` job array, one array task per point (task id
//! = the manifest entry's `index`), at most `max_parallel` running at once (`%K`).
//!
//! Each task runs `gyrus sweep run-point SWEEP --index $SLURM_ARRAY_TASK_ID`, which reads the
//! point from `manifest.json` and trains it into its run folder, resuming from the checkpoint when
//! the folder holds one (so a requeued or preempted task continues) and doing nothing when it is
//! finished. The sweep folder gets `slurm/submit-NNN.sbatch` (every script submitted),
//! `slurm/logs/<job>_<task>.out` (Slurm's output of each task) and [`JOBS_FILE`] (the options and
//! the job ids, so `gyrus sweep status` can ask `squeue` and `gyrus sweep resubmit` can skip points
//! still queued).

use super::manifest::Manifest;
use super::status::{action, Action, Queued};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The folder, inside the sweep folder, with the scripts, logs and [`JOBS_FILE`].
pub const SLURM_DIR: &str = "slurm";
/// The record of submissions, relative to the sweep folder.
pub const JOBS_FILE: &str = "slurm/jobs.json";

/// What goes into the `#SBATCH` lines, and the gyrus binary the tasks run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlurmOptions {
    /// `--partition`, if any (else the cluster's default).
    pub partition: Option<String>,
    /// `--cpus-per-task` (at least 1).
    pub cpus_per_task: u32,
    /// `--gpus-per-task`, if any.
    pub gpus_per_task: Option<u32>,
    /// `--time` limit of each task (e.g. `2:00:00`), if any.
    pub time: Option<String>,
    /// At most this many tasks run at once (the array's `%K`), if any.
    pub max_parallel: Option<usize>,
    /// The gyrus binary the tasks run: an absolute path, as seen from the compute nodes.
    pub gyrus: PathBuf,
}

impl SlurmOptions {
    /// Checks the options on their own (what can go into a job script), so that `gyrus sweep`
    /// can refuse bad ones before it writes anything.
    pub fn validate(&self) -> Result<()> {
        if !self.gyrus.is_absolute() {
            bail!("the sweep folder and the gyrus binary must be absolute paths in a job script");
        }
        let g = self.gyrus.to_str().context("the gyrus path is not UTF-8")?;
        plain("the gyrus binary's path", g)?;
        if let Some(p) = &self.partition {
            plain("--partition", p)?;
        }
        if let Some(t) = &self.time {
            plain("--time", t)?;
        }
        if self.cpus_per_task == 0 || self.gpus_per_task == Some(0) || self.max_parallel == Some(0)
        {
            bail!("--cpus-per-task, --gpus-per-task and --max-parallel must be at least 1");
        }
        Ok(())
    }
}

/// One `sbatch` submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// The array job id `sbatch` printed.
    pub job_id: String,
    /// The point indices (= array task ids) it holds.
    pub indices: Vec<usize>,
    /// The script, relative to the sweep folder.
    pub script: String,
}

/// The content of [`JOBS_FILE`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jobs {
    /// The options of the latest submission (reused by `resubmit`).
    pub options: Option<SlurmOptions>,
    /// Every submission, oldest first.
    pub submissions: Vec<Submission>,
}

impl Jobs {
    /// Reads [`JOBS_FILE`] of the sweep folder `dir`; empty if there is none.
    pub fn load(dir: &Path) -> Result<Jobs> {
        let path = dir.join(JOBS_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("{} is not a valid Slurm job record", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Jobs::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes [`JOBS_FILE`] of the sweep folder `dir`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(JOBS_FILE);
        std::fs::create_dir_all(dir.join(SLURM_DIR))?;
        crate::fsio::write_atomic(&path, serde_json::to_string_pretty(self)? + "\n")
    }
}

/// The `--array` value for `indices` (sorted, distinct): ranges joined by commas, then `%K`,
/// e.g. `0-3,5,7-8%2`.
pub fn array_spec(indices: &[usize], max_parallel: Option<usize>) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let mut j = i;
        while j + 1 < indices.len() && indices[j + 1] == indices[j] + 1 {
            j += 1;
        }
        parts.push(if j == i {
            indices[i].to_string()
        } else {
            format!("{}-{}", indices[i], indices[j])
        });
        i = j + 1;
    }
    let mut s = parts.join(",");
    if let Some(k) = max_parallel {
        s += &format!("%{k}");
    }
    s
}

/// Refuses text that would break an `#SBATCH` line or the shell (Slurm does not quote them).
fn plain(what: &str, text: &str) -> Result<()> {
    if text.is_empty()
        || text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "'\"`$\\;&|<>()#*?".contains(c))
    {
        bail!(
            "{what} {text:?} cannot go into an sbatch script (empty, or spaces, quotes or shell \
             characters in it)"
        );
    }
    Ok(())
}

/// The job script for the points `indices` of the sweep in `dir` (an absolute path).
pub fn script(dir: &Path, m: &Manifest, indices: &[usize], opts: &SlurmOptions) -> Result<String> {
    if !dir.is_absolute() {
        bail!("the sweep folder and the gyrus binary must be absolute paths in a job script");
    }
    let d = dir
        .to_str()
        .context("the sweep folder's path is not UTF-8")?;
    plain("the sweep folder", d)?;
    opts.validate()?;
    let g = opts.gyrus.to_str().context("the gyrus path is not UTF-8")?;
    if indices.is_empty() || indices.iter().any(|&i| i >= m.points.len()) {
        bail!("no points, or a point index outside the manifest");
    }
    let name: String = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut s = String::from("#!/bin/bash\n");
    let mut opt = |line: String| s += &format!("#SBATCH {line}\n");
    opt(format!("--job-name=gyrus-{name}"));
    opt(format!(
        "--array={}",
        array_spec(indices, opts.max_parallel)
    ));
    opt("--ntasks=1".into());
    opt(format!("--cpus-per-task={}", opts.cpus_per_task));
    if let Some(gpus) = opts.gpus_per_task {
        opt(format!("--gpus-per-task={gpus}"));
    }
    if let Some(p) = &opts.partition {
        opt(format!("--partition={p}"));
    }
    if let Some(t) = &opts.time {
        opt(format!("--time={t}"));
    }
    opt(format!("--chdir={d}"));
    opt(format!("--output={d}/{SLURM_DIR}/logs/%A_%a.out"));
    opt("--open-mode=append".into());
    opt("--requeue".into());
    s += &format!(
        "# gyrus sweep {d}, grid: {}\n\
         # Array task i trains point i of manifest.json into its run folder runs/<point>/ (output in\n\
         # runs/<point>/sweep.log), resuming from its checkpoint if it has one; finished points and\n\
         # duplicates of other points exit at once.\n\
         set -euo pipefail\n\
         # The training step's threads: the task's CPUs.\n\
         export RAYON_NUM_THREADS={}\n\
         {gpu}srun --ntasks=1 --cpus-per-task={} {g} sweep run-point {d} --index \"$SLURM_ARRAY_TASK_ID\"\n",
        m.grid.replace('\n', " "),
        opts.cpus_per_task,
        opts.cpus_per_task,
        gpu = if opts.gpus_per_task.is_some() {
            "# A task with a GPU trains on it (Slurm makes the task's GPU device 0).\n\
             export GYRUS_DEVICE=\"${GYRUS_DEVICE:-cuda}\"\n"
        } else {
            ""
        }
    );
    Ok(s)
}

/// The points of the sweep's jobs that `squeue` lists (pending, running, ...): index -> job and
/// state. `None` when `squeue` is not installed.
pub fn queue(jobs: &Jobs) -> Result<Option<BTreeMap<usize, Queued>>> {
    let ids: BTreeSet<&str> = jobs.submissions.iter().map(|s| s.job_id.as_str()).collect();
    if ids.is_empty() {
        return Ok(Some(BTreeMap::new()));
    }
    let out = match Command::new("squeue")
        .args(["--me", "-h", "-r", "-o", "%F %K %T"])
        .output()
    {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).context("running squeue"),
    };
    if !out.status.success() {
        bail!(
            "squeue failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(Some(parse_queue(
        &String::from_utf8_lossy(&out.stdout),
        &ids,
    )))
}

/// Parses `squeue -h -r -o '%F %K %T'` output, keeping the array tasks of the jobs `ids`.
pub fn parse_queue(text: &str, ids: &BTreeSet<&str>) -> BTreeMap<usize, Queued> {
    let mut q = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if let [job, task, state] = f[..] {
            if let (true, Ok(index)) = (ids.contains(job), task.parse::<usize>()) {
                q.insert(
                    index,
                    Queued {
                        job: format!("{job}_{index}"),
                        state: state.to_string(),
                    },
                );
            }
        }
    }
    q
}

/// The points to submit: not duplicates, not finished, not in `queued`. Fails naming a point
/// whose run folder does not fit the manifest (its task could only fail).
pub fn to_submit(dir: &Path, m: &Manifest, queued: &BTreeMap<usize, Queued>) -> Result<Vec<usize>> {
    let mut todo = Vec::new();
    for e in m.points.iter().filter(|e| e.duplicate_of.is_none()) {
        if action(dir, e)? != Action::Skip && !queued.contains_key(&e.index) {
            todo.push(e.index);
        }
    }
    Ok(todo)
}

/// What [`submit`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// Every point is finished or still queued: nothing submitted.
    Nothing {
        /// Points finished (duplicates not counted).
        finished: usize,
        /// Points still in the queue.
        queued: usize,
    },
    /// Dry run: the script that would be submitted.
    DryRun(String),
    /// Submitted as this job.
    Job(Submission),
}

/// Submits the unfinished points of the sweep in `dir` that are not already queued, as one job
/// array with `opts` (or, with `dry_run`, only builds its script). Records the job in
/// [`JOBS_FILE`].
pub fn submit(dir: &Path, m: &Manifest, opts: &SlurmOptions, dry_run: bool) -> Result<Submitted> {
    let dir = &std::path::absolute(dir)
        .with_context(|| format!("cannot make {} absolute", dir.display()))?;
    let mut jobs = Jobs::load(dir)?;
    let queued = match queue(&jobs)? {
        Some(q) => q,
        None if dry_run => BTreeMap::new(),
        None => bail!(
            "squeue not found, so the points still queued cannot be told apart; run this where \
             Slurm's commands are installed"
        ),
    };
    let todo = to_submit(dir, m, &queued)?;
    if todo.is_empty() {
        let finished = super::status::scan(dir, m)
            .iter()
            .zip(&m.points)
            .filter(|(s, e)| **s == super::status::PointState::Finished && e.duplicate_of.is_none())
            .count();
        return Ok(Submitted::Nothing {
            finished,
            queued: queued.len(),
        });
    }
    let text = script(dir, m, &todo, opts)?;
    if dry_run {
        return Ok(Submitted::DryRun(text));
    }
    std::fs::create_dir_all(dir.join(SLURM_DIR).join("logs"))
        .with_context(|| format!("creating {}/{SLURM_DIR}/logs", dir.display()))?;
    let rel = format!(
        "{SLURM_DIR}/submit-{:03}.sbatch",
        jobs.submissions.len() + 1
    );
    let path = dir.join(&rel);
    crate::fsio::write_atomic(&path, &text)?;
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(&path)
        .current_dir(dir)
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "sbatch not found: the Slurm backend needs Slurm's commands on PATH (--dry-run \
                     prints the script without them)"
                )
            } else {
                anyhow::Error::new(e).context("running sbatch")
            }
        })?;
    if !out.status.success() {
        bail!(
            "sbatch {} failed ({}): {}",
            path.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let job_id = stdout
        .trim()
        .split(';')
        .next()
        .filter(|id| !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()))
        .with_context(|| format!("sbatch printed no job id: {stdout:?}"))?
        .to_string();
    let sub = Submission {
        job_id,
        indices: todo,
        script: rel,
    };
    jobs.options = Some(opts.clone());
    jobs.submissions.push(sub.clone());
    jobs.save(dir)?;
    Ok(Submitted::Job(sub))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "tasks = \"go,anti\"\nsteps = 20\n[net]\nsheet = { rows = 3, cols = 3 }\n\
                        family = { kind = \"bimt\", lambda = 1e-4 }\n";

    fn opts() -> SlurmOptions {
        SlurmOptions {
            partition: Some("gpu".into()),
            cpus_per_task: 2,
            gpus_per_task: Some(1),
            time: Some("1:00:00".into()),
            max_parallel: Some(3),
            gyrus: "/opt/gyrus/bin/gyrus".into(),
        }
    }

    #[test]
    fn array_specs_compress_runs() {
        assert_eq!(array_spec(&[0, 1, 2, 3], Some(2)), "0-3%2");
        assert_eq!(array_spec(&[1, 3, 4, 5, 9], None), "1,3-5,9");
        assert_eq!(array_spec(&[7], Some(1)), "7%1");
    }

    #[test]
    fn the_script_holds_the_options_and_one_run_point_line() {
        let m = Manifest::build("lambda=1e-4,1e-3; seed=1..3", BASE).unwrap();
        let dir = Path::new("/scratch/sweeps/p");
        let s = script(dir, &m, &[0, 1, 2, 4, 5], &opts()).unwrap();
        for line in [
            "#!/bin/bash\n",
            "#SBATCH --job-name=gyrus-p\n",
            "#SBATCH --array=0-2,4-5%3\n",
            "#SBATCH --cpus-per-task=2\n",
            "#SBATCH --gpus-per-task=1\n",
            "#SBATCH --partition=gpu\n",
            "#SBATCH --time=1:00:00\n",
            "#SBATCH --output=/scratch/sweeps/p/slurm/logs/%A_%a.out\n",
            "export GYRUS_DEVICE=\"${GYRUS_DEVICE:-cuda}\"\n",
            "export RAYON_NUM_THREADS=2\n",
            "srun --ntasks=1 --cpus-per-task=2 /opt/gyrus/bin/gyrus sweep run-point \
             /scratch/sweeps/p --index \"$SLURM_ARRAY_TASK_ID\"\n",
        ] {
            assert!(s.contains(line), "{line:?} missing from\n{s}");
        }
        let mut o = opts();
        o.partition = None;
        o.gpus_per_task = None;
        let s = script(dir, &m, &[3], &o).unwrap();
        assert!(
            !s.contains("--partition") && !s.contains("--gpus") && !s.contains("GYRUS_DEVICE"),
            "{s}"
        );
        assert!(s.contains("--array=3%3\n"), "{s}");
        o.time = Some("1:00 ; rm".into());
        assert!(script(dir, &m, &[3], &o).is_err());
        assert!(script(Path::new("/a b/p"), &m, &[3], &opts()).is_err());
        assert!(script(Path::new("rel/p"), &m, &[3], &opts()).is_err());
        assert!(script(dir, &m, &[6], &opts()).is_err());
        assert!(script(dir, &m, &[], &opts()).is_err());
    }

    #[test]
    fn squeue_lines_of_other_jobs_are_ignored() {
        let ids: BTreeSet<&str> = ["12", "15"].into_iter().collect();
        let q = parse_queue(
            "12 0 RUNNING\n12 3 PENDING\n13 1 RUNNING\n15 5 PENDING\n16 N/A RUNNING\nbad\n",
            &ids,
        );
        let got: Vec<(usize, &str, &str)> = q
            .iter()
            .map(|(i, e)| (*i, e.job.as_str(), e.state.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (0, "12_0", "RUNNING"),
                (3, "12_3", "PENDING"),
                (5, "15_5", "PENDING")
            ]
        );
    }

    #[test]
    fn submit_skips_finished_and_duplicate_points_and_dry_runs() {
        let dir = std::env::temp_dir().join(format!("gyrus-slurm-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // lambda = 0 with A = 0 and A = 1: both dense, the second a duplicate.
        let m = Manifest::build("lambda=0,1e-3; A=0,1", BASE).unwrap();
        m.save(&dir).unwrap();
        let run = dir.join(&m.points[2].run_dir);
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join(crate::train::run::EVAL_FILE), "{}").unwrap();
        let Submitted::DryRun(s) = submit(&dir, &m, &opts(), true).unwrap() else {
            panic!("a dry run gives the script")
        };
        assert!(s.contains("--array=0,3%3\n"), "{s}");
        assert!(!dir.join(JOBS_FILE).exists(), "a dry run records nothing");
        let q = parse_queue("7 0 PENDING\n7 3 RUNNING\n", &["7"].into_iter().collect());
        assert_eq!(to_submit(&dir, &m, &q).unwrap(), Vec::<usize>::new());
        let r = super::super::status::report_queued(&dir, &m, &q);
        assert!(r.contains("in the queue: 1 running, 1 waiting"), "{r}");
        assert!(r.contains("pending [queued: job 7_3 RUNNING]"), "{r}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
