//! The local backend: every unfinished point as a child process `gyrus train ...` on this machine,
//! up to `jobs` at a time, each writing its own run folder and log ([`super::status::LOG_FILE`]).
//!
//! Restarting a sweep skips finished points and resumes started ones from their checkpoints.

use super::manifest::Manifest;
use super::status::{action, run_dir, train_args, Action, FAILED_FILE, LOG_FILE};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Options of the local backend.
#[derive(Clone, Debug)]
pub struct LocalOptions {
    /// Points trained at the same time (at least 1).
    pub jobs: usize,
    /// The `gyrus` binary the children run.
    pub gyrus: PathBuf,
    /// Threads of each child (`RAYON_NUM_THREADS` in its environment); `None`: the child decides
    /// (`gyrus train`'s default).
    pub threads: Option<usize>,
}

/// What happened to one point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Already finished: not run.
    Skipped,
    /// Same config as an earlier point ([`super::manifest::Entry::duplicate_of`]): not run.
    Duplicate,
    /// Trained from the start and finished.
    Trained,
    /// Resumed and finished.
    Resumed,
    /// Failed; the text says how (exit status, log file).
    Failed(String),
}

/// Runs every point of the sweep in `dir`; returns one outcome per point, in manifest order.
/// Progress goes to stderr. Errors only for problems with the sweep itself; a failing point is an
/// [`Outcome::Failed`].
pub fn run(dir: &Path, m: &Manifest, opts: &LocalOptions) -> Result<Vec<Outcome>> {
    let mut outcomes = vec![Outcome::Skipped; m.points.len()];
    let mut todo = Vec::new();
    for e in &m.points {
        if let Some(d) = e.duplicate_of {
            eprintln!("skipped {} (same config as {})", e.name, m.points[d].name);
            outcomes[e.index] = Outcome::Duplicate;
            continue;
        }
        match action(dir, e) {
            Ok(Action::Skip) => eprintln!("skipped {} (finished)", e.name),
            Ok(a) => todo.push((e.index, a)),
            Err(err) => outcomes[e.index] = Outcome::Failed(format!("{err:#}")),
        }
    }
    let total = todo.len();
    let finished = outcomes.iter().filter(|o| **o == Outcome::Skipped).count() - total;
    eprintln!(
        "{} points: {finished} finished (skipped), {} duplicates, {} to run, {} at a time{}",
        m.points.len(),
        outcomes
            .iter()
            .filter(|o| **o == Outcome::Duplicate)
            .count(),
        total,
        opts.jobs.max(1).min(total.max(1)),
        opts.threads
            .map_or(String::new(), |k| format!(", {k} threads each"))
    );
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.max(1).min(total) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                let Some(&(index, act)) = todo.get(k) else {
                    break;
                };
                let e = &m.points[index];
                let verb = if act == Action::Resume {
                    "resuming"
                } else {
                    "training"
                };
                eprintln!("{verb} {}", e.name);
                let started = Instant::now();
                let outcome = match run_point(dir, index, act, m, opts) {
                    Ok(o) => o,
                    Err(err) => Outcome::Failed(format!("{err:#}")),
                };
                let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                match &outcome {
                    Outcome::Failed(why) => eprintln!("[{n}/{total}] FAILED {}: {why}", e.name),
                    _ => eprintln!(
                        "[{n}/{total}] finished {} in {:.1} s",
                        e.name,
                        started.elapsed().as_secs_f64()
                    ),
                }
                results
                    .lock()
                    .expect("no panics hold it")
                    .push((index, outcome));
            });
        }
    });
    for (index, o) in results.into_inner().expect("no panics hold it") {
        outcomes[index] = o;
    }
    Ok(outcomes)
}

/// Runs one point to the end as a child process, logging to its run folder (also what a Slurm
/// array task runs, through `gyrus sweep run-point`).
pub fn run_point(
    dir: &Path,
    index: usize,
    act: Action,
    m: &Manifest,
    opts: &LocalOptions,
) -> Result<Outcome> {
    let e = &m.points[index];
    let run = run_dir(dir, e);
    std::fs::create_dir_all(&run).with_context(|| format!("creating {}", run.display()))?;
    let _ = std::fs::remove_file(run.join(FAILED_FILE));
    let log_path = run.join(LOG_FILE);
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;
    let args = train_args(dir, e, act);
    writeln!(
        log,
        "== gyrus sweep: {} {}",
        opts.gyrus.display(),
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    )?;
    let mut cmd = Command::new(&opts.gyrus);
    end_with_parent(&mut cmd);
    if let Some(k) = opts.threads {
        cmd.env("RAYON_NUM_THREADS", k.to_string());
    }
    let status = cmd
        .args(&args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log.try_clone()?)
        .status()
        .with_context(|| format!("starting {}", opts.gyrus.display()))?;
    if status.success() && run.join(crate::train::run::EVAL_FILE).exists() {
        return Ok(if act == Action::Resume {
            Outcome::Resumed
        } else {
            Outcome::Trained
        });
    }
    let why = if status.success() {
        format!(
            "exited without writing eval.json; see {}",
            log_path.display()
        )
    } else {
        format!("{status}; see {}", log_path.display())
    };
    writeln!(log, "== gyrus sweep: failed: {why}")?;
    crate::fsio::write_atomic(&run.join(FAILED_FILE), format!("{why}\n"))?;
    Ok(Outcome::Failed(why))
}

/// The lock file that keeps two local sweeps from training the same folder at once.
pub const LOCK_FILE: &str = "sweep.lock";

/// Holds [`LOCK_FILE`] (the owner's process id) while alive; removes it on drop.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    /// Takes the lock of the sweep folder `dir`. A lock left by a process that no longer runs
    /// (an interrupted sweep; checked through `/proc` where it exists) is taken over.
    pub fn take(dir: &Path) -> Result<Lock> {
        let path = dir.join(LOCK_FILE);
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    writeln!(f, "{}", std::process::id())?;
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(&path).unwrap_or_default();
                    let owner = owner.trim();
                    let proc = Path::new("/proc");
                    let stale = proc.is_dir()
                        && (owner.parse::<u32>().is_err() || !proc.join(owner).exists());
                    if !stale {
                        anyhow::bail!(
                            "another gyrus sweep (process {owner}) is running {}; if it is not, \
                             delete {}",
                            dir.display(),
                            path.display()
                        );
                    }
                    std::fs::remove_file(&path)
                        .with_context(|| format!("removing stale {}", path.display()))?;
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("creating {}", path.display()));
                }
            }
        }
        anyhow::bail!("cannot take the lock {}", path.display())
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Makes the child receive SIGTERM when the thread that started it dies (Linux), so that killing
/// `gyrus sweep` does not leave its trainings running unseen; each keeps its last checkpoint and
/// the next `gyrus sweep` on the folder resumes it. Elsewhere a no-op.
fn end_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: the closure runs in the forked child before exec and only calls prctl, which is
        // async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_exclusive_and_stale_locks_are_taken_over() {
        let dir = std::env::temp_dir().join(format!("gyrus-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let lock = Lock::take(&dir).unwrap();
        let e = Lock::take(&dir).unwrap_err().to_string();
        assert!(e.contains("another gyrus sweep"), "{e}");
        drop(lock);
        assert!(!dir.join(LOCK_FILE).exists());
        if Path::new("/proc").is_dir() {
            // No process has id u32::MAX - 1.
            std::fs::write(dir.join(LOCK_FILE), format!("{}\n", u32::MAX - 1)).unwrap();
            let _lock = Lock::take(&dir).unwrap();
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
