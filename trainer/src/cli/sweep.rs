//! `gyrus sweep`: train a grid of configs (local backend), and `gyrus sweep status DIR`.

use crate::sweep::local::{self, LocalOptions, Outcome};
use crate::sweep::{manifest::Manifest, prepare, status};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

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
}

/// Arguments of running a sweep.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Grid, e.g. 'lambda=0,1e-5,1e-4; A=0,1; seed=1..3'. Keys: seed, steps, batch, seq_len,
    /// eval_trials, lr, tasks, sheet, activation, alpha, family, radius (d), r, lambda, A (a).
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
}

/// Runs `gyrus sweep`.
pub fn run(args: SweepArgs) -> Result<()> {
    match args.command {
        Some(SweepCommand::Status { dir }) => {
            let m = Manifest::load(&dir)?;
            print!("{}", status::report(&dir, &m));
            Ok(())
        }
        None => run_sweep(args.run),
    }
}

fn run_sweep(a: RunArgs) -> Result<()> {
    let dir = a.out.context("give --out DIR (the sweep folder)")?;
    let m = prepare(&dir, a.grid.as_deref(), a.base.as_deref())?;
    let jobs = match a.jobs {
        Some(0) => bail!("--jobs must be at least 1"),
        Some(k) => k,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let gyrus = match a.gyrus {
        Some(p) => p,
        None => {
            std::env::current_exe().context("cannot find the gyrus binary; give --gyrus PATH")?
        }
    };
    let _lock = local::Lock::take(&dir)?;
    let outcomes = local::run(&dir, &m, &LocalOptions { jobs, gyrus })?;
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
            "{} of {} points failed; fix the cause and rerun `gyrus sweep --out {}` to retry them",
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
