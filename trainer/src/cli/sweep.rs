//! `gyrus sweep`: train a grid of configs (local backend, or a Slurm job array), and
//! `gyrus sweep status|resubmit|run-point DIR`.

use crate::sweep::local::{self, LocalOptions, Outcome};
use crate::sweep::slurm::{self, Jobs, SlurmOptions, Submitted};
use crate::sweep::{manifest::Manifest, prepare, status};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

/// Arguments of `gyrus sweep`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SweepArgs {
    /// `status`; without a subcommand, runs the sweep.
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    /// The sweep to run.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands of `gyrus sweep`.
#[derive(Subcommand, Debug)]
pub enum SweepCommand {
    /// Counts of finished, started (running or interrupted), failed and pending points, from the
    /// run folders.
    Status {
        /// The sweep folder.
        dir: PathBuf,
    },
    /// Submits (Slurm) the points that are neither finished nor still queued, as one job array;
    /// options not given are those of the last submission.
    Resubmit {
        /// The sweep folder.
        dir: PathBuf,
        /// The job's options.
        #[command(flatten)]
        slurm: SlurmArgs,
        /// The gyrus binary the tasks run (default: the last submission's, else this one).
        #[arg(long, value_name = "PATH")]
        gyrus: Option<PathBuf>,
    },
    /// Trains point INDEX of the sweep (what each Slurm array task runs): resumes it from its
    /// checkpoint if it has one, does nothing if it is finished or a duplicate.
    RunPoint {
        /// The sweep folder.
        dir: PathBuf,
        /// The point's index in manifest.json (the array task id).
        #[arg(long)]
        index: usize,
        /// The gyrus binary that trains it (default: this one).
        #[arg(long, value_name = "PATH")]
        gyrus: Option<PathBuf>,
    },
}

/// Where a sweep's points are trained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    /// Child processes on this machine, `--jobs` at a time; returns when all are done.
    #[default]
    Local,
    /// One Slurm job array (`sbatch`), one task per point; returns once submitted.
    Slurm,
}

/// Options of the Slurm backend.
#[derive(Args, Debug, Default)]
pub struct SlurmArgs {
    /// Slurm partition (default: the cluster's default).
    #[arg(long, value_name = "P")]
    pub partition: Option<String>,
    /// CPUs of each task [default: 1].
    #[arg(long, value_name = "C")]
    pub cpus_per_task: Option<u32>,
    /// GPUs of each task (default: none). With a GPU, each task trains on it
    /// (`GYRUS_DEVICE=cuda` in the job script; the binary needs the `cuda` feature).
    #[arg(long, value_name = "G")]
    pub gpus_per_task: Option<u32>,
    /// Time limit of each task, in Slurm's format (e.g. 2:00:00).
    #[arg(long, value_name = "T")]
    pub time: Option<String>,
    /// At most K tasks run at once (the array's %K).
    #[arg(long, value_name = "K")]
    pub max_parallel: Option<usize>,
    /// Print the job script instead of submitting it (the manifest is still written).
    #[arg(long)]
    pub dry_run: bool,
}

impl SlurmArgs {
    fn any(&self) -> bool {
        self.partition.is_some()
            || self.cpus_per_task.is_some()
            || self.gpus_per_task.is_some()
            || self.time.is_some()
            || self.max_parallel.is_some()
            || self.dry_run
    }

    /// The options: these flags over the last submission's (`jobs`), over the defaults.
    fn options(&self, jobs: &Jobs, gyrus: Option<PathBuf>) -> Result<SlurmOptions> {
        let old = jobs.options.clone();
        let gyrus = match (gyrus, &old) {
            (Some(p), _) => p,
            (None, Some(o)) => o.gyrus.clone(),
            (None, None) => std::env::current_exe()
                .context("cannot find the gyrus binary; give --gyrus PATH")?,
        };
        let gyrus = std::path::absolute(&gyrus)
            .with_context(|| format!("cannot make {} absolute", gyrus.display()))?;
        let old = old.as_ref();
        Ok(SlurmOptions {
            partition: self
                .partition
                .clone()
                .or_else(|| old.and_then(|o| o.partition.clone())),
            cpus_per_task: self
                .cpus_per_task
                .or(old.map(|o| o.cpus_per_task))
                .unwrap_or(1),
            gpus_per_task: self.gpus_per_task.or(old.and_then(|o| o.gpus_per_task)),
            time: self
                .time
                .clone()
                .or_else(|| old.and_then(|o| o.time.clone())),
            max_parallel: self.max_parallel.or(old.and_then(|o| o.max_parallel)),
            gyrus,
        })
    }
}

/// Arguments of running a sweep.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Grid, e.g. 'lambda=0,1e-5,1e-4; A=0,1; seed=1..3'. Keys: seed, steps, batch, seq_len,
    /// eval_trials, eval_every, checkpoint_every, lr, tasks, sheet, activation, alpha, family,
    /// radius (d), r, lambda, A (a).
    /// On an l1 or bimt base, lambda = 0 trains dense and A = 0 trains l1.
    #[arg(long, value_name = "SPEC", requires = "base")]
    pub grid: Option<String>,
    /// Base run config (TOML) the grid points modify.
    #[arg(long, value_name = "FILE", requires = "grid")]
    pub base: Option<PathBuf>,
    /// Sweep folder: manifest.json, configs/, runs/. Rerun with the same folder to continue
    /// (finished points are skipped, started ones resumed).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Points trained at once (default: the number of cores).
    #[arg(long, value_name = "K")]
    pub jobs: Option<usize>,
    /// The gyrus binary to run for each point (default: this one).
    #[arg(long, value_name = "PATH")]
    pub gyrus: Option<PathBuf>,
    /// Where the points are trained.
    #[arg(long, value_enum, default_value_t = Backend::Local)]
    pub backend: Backend,
    /// Options of the Slurm backend.
    #[command(flatten)]
    pub slurm: SlurmArgs,
}

/// Runs `gyrus sweep`.
pub fn run(args: SweepArgs) -> Result<()> {
    match args.command {
        Some(SweepCommand::Status { dir }) => sweep_status(&dir),
        Some(SweepCommand::Resubmit { dir, slurm, gyrus }) => {
            let m = Manifest::load(&dir)?;
            submit(&dir, &m, &slurm, gyrus)
        }
        Some(SweepCommand::RunPoint { dir, index, gyrus }) => run_point(&dir, index, gyrus),
        None => run_sweep(args.run),
    }
}

/// Prints the state of every point of the sweep in `dir` (and the Slurm queue, if submitted).
pub(crate) fn sweep_status(dir: &Path) -> Result<()> {
    let m = Manifest::load(dir)?;
    let jobs = Jobs::load(dir)?;
    let mut note = None;
    let queue = if jobs.submissions.is_empty() {
        Default::default()
    } else {
        match slurm::queue(&jobs) {
            Ok(Some(q)) => q,
            Ok(None) => {
                note = Some("squeue not found: the Slurm queue is not shown".to_string());
                Default::default()
            }
            Err(e) => {
                note = Some(format!("the Slurm queue is not shown: {e:#}"));
                Default::default()
            }
        }
    };
    print!("{}", status::report_queued(dir, &m, &queue));
    if !jobs.submissions.is_empty() {
        let ids: Vec<&str> = jobs.submissions.iter().map(|s| s.job_id.as_str()).collect();
        println!("Slurm jobs submitted: {}", ids.join(", "));
    }
    if let Some(n) = note {
        println!("{n}");
    }
    Ok(())
}

/// Submits the sweep in `dir` to Slurm with the options `a` (`gyrus sweep --backend slurm`,
/// `resubmit`, `gyrus repro run --backend slurm`).
pub(crate) fn submit(
    dir: &Path,
    m: &Manifest,
    a: &SlurmArgs,
    gyrus: Option<PathBuf>,
) -> Result<()> {
    let opts = a.options(&Jobs::load(dir)?, gyrus)?;
    match slurm::submit(dir, m, &opts, a.dry_run)? {
        Submitted::DryRun(script) => print!("{script}"),
        Submitted::Nothing { finished, queued } => eprintln!(
            "nothing to submit in {}: {finished} points finished, {queued} still queued",
            dir.display()
        ),
        Submitted::Job(s) => eprintln!(
            "submitted Slurm job {} with {} points (array {}); script {}; follow it with \
             `gyrus sweep status {}`",
            s.job_id,
            s.indices.len(),
            slurm::array_spec(&s.indices, opts.max_parallel),
            dir.join(&s.script).display(),
            dir.display()
        ),
    }
    Ok(())
}

fn run_point(dir: &Path, index: usize, gyrus: Option<PathBuf>) -> Result<()> {
    let m = Manifest::load(dir)?;
    let e = m.points.get(index).with_context(|| {
        format!(
            "{} has {} points; there is no index {index}",
            dir.display(),
            m.points.len()
        )
    })?;
    if let Some(d) = e.duplicate_of {
        eprintln!(
            "{} has the same config as {}: nothing to do",
            e.name, m.points[d].name
        );
        return Ok(());
    }
    let act = status::action(dir, e)?;
    if act == status::Action::Skip {
        eprintln!("{} is finished: nothing to do", e.name);
        return Ok(());
    }
    let gyrus = match gyrus {
        Some(p) => p,
        None => {
            std::env::current_exe().context("cannot find the gyrus binary; give --gyrus PATH")?
        }
    };
    let log = status::run_dir(dir, e).join(status::LOG_FILE);
    let verb = if act == status::Action::Resume {
        "resuming"
    } else {
        "training"
    };
    eprintln!("{verb} {} (output: {})", e.name, log.display());
    match local::run_point(dir, index, act, &m, &LocalOptions { jobs: 1, gyrus })? {
        Outcome::Failed(why) => bail!("{} failed: {why}", e.name),
        _ => eprintln!("finished {}", e.name),
    }
    Ok(())
}

fn run_sweep(a: RunArgs) -> Result<()> {
    let dir = a.out.context("give --out DIR (the sweep folder)")?;
    check_backend(a.backend, &a.slurm, a.jobs)?;
    if a.backend == Backend::Slurm {
        let m = prepare(&dir, a.grid.as_deref(), a.base.as_deref())?;
        return submit(&dir, &m, &a.slurm, a.gyrus);
    }
    let m = prepare(&dir, a.grid.as_deref(), a.base.as_deref())?;
    run_local(&dir, &m, a.jobs, a.gyrus, "gyrus sweep --out")
}

/// Checks the backend options: the Slurm flags go with `--backend slurm`, `--jobs` with local.
pub(crate) fn check_backend(
    backend: Backend,
    slurm: &SlurmArgs,
    jobs: Option<usize>,
) -> Result<()> {
    match backend {
        Backend::Local if slurm.any() => bail!(
            "--partition, --cpus-per-task, --gpus-per-task, --time, --max-parallel and --dry-run \
             belong to --backend slurm"
        ),
        Backend::Slurm if jobs.is_some() => {
            bail!("--jobs is for the local backend; with Slurm use --max-parallel")
        }
        _ => Ok(()),
    }
}

/// Trains the sweep in `dir` on this machine, `jobs` points at a time (default: the cores), and
/// prints what happened; fails if a point failed (`retry`: the command that continues it, before
/// the folder).
pub(crate) fn run_local(
    dir: &Path,
    m: &Manifest,
    jobs: Option<usize>,
    gyrus: Option<PathBuf>,
    retry: &str,
) -> Result<()> {
    let dir = dir.to_path_buf();
    let jobs = match jobs {
        Some(0) => bail!("--jobs must be at least 1"),
        Some(k) => k,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let gyrus = match gyrus {
        Some(p) => p,
        None => {
            std::env::current_exe().context("cannot find the gyrus binary; give --gyrus PATH")?
        }
    };
    let _lock = local::Lock::take(&dir)?;
    let outcomes = local::run(&dir, m, &LocalOptions { jobs, gyrus })?;
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(o)).count();
    let failed: Vec<(&str, &str)> = m
        .points
        .iter()
        .zip(&outcomes)
        .filter_map(|(e, o)| match o {
            Outcome::Failed(why) => Some((e.name.as_str(), why.as_str())),
            _ => None,
        })
        .collect();
    let dups = count(|o| *o == Outcome::Duplicate);
    eprintln!(
        "sweep {}: {} points: {} skipped (already finished), {} trained, {} resumed, {} failed{}",
        dir.display(),
        outcomes.len(),
        count(|o| *o == Outcome::Skipped),
        count(|o| *o == Outcome::Trained),
        count(|o| *o == Outcome::Resumed),
        failed.len(),
        if dups > 0 {
            format!(", {dups} duplicates of other points not run")
        } else {
            String::new()
        }
    );
    if !failed.is_empty() {
        for (name, why) in &failed {
            eprintln!("  failed {name}: {why}");
        }
        bail!(
            "{} of {} points failed; fix the cause and rerun the same command (or `{retry} {}`) to \
             retry them",
            failed.len(),
            outcomes.len(),
            dir.display()
        );
    }
    Ok(())
}

/// Arguments of `gyrus plot pareto`.
#[derive(Args, Debug)]
pub struct ParetoArgs {
    /// The sweep folder (its finished points are plotted; unfinished ones are listed and left out).
    pub sweep: PathBuf,
    /// Output image (.png or .svg); the numbers go next to it as .csv.
    #[arg(long)]
    pub out: PathBuf,
    /// Figure title (default: the sweep's grid).
    #[arg(long)]
    pub title: Option<String>,
}

/// Runs `gyrus plot pareto`: measures every finished point, writes the CSV and the figure.
pub fn plot_pareto(args: ParetoArgs) -> Result<()> {
    let m = Manifest::load(&args.sweep)?;
    let (points, missing) = crate::sweep::results::collect(&args.sweep, &m)?;
    if !missing.is_empty() {
        eprintln!(
            "{} of {} points are not finished and are left out: {}",
            missing.len(),
            m.points.len(),
            missing.join(", ")
        );
    }
    if points.is_empty() {
        bail!("{} has no finished points yet", args.sweep.display());
    }
    let csv = args.out.with_extension("csv");
    if let Some(d) = csv.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d)?;
    }
    crate::sweep::results::write_csv(&csv, &points)?;
    let fig = crate::plot::pareto::ParetoFigure {
        title: args
            .title
            .unwrap_or_else(|| format!("Pareto frontiers: {}", m.grid)),
        points,
    };
    crate::plot::save(&fig, &args.out)?;
    eprintln!("wrote {} and {}", args.out.display(), csv.display());
    Ok(())
}
