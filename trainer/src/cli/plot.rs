//! `gyrus plot ...`: figures made from run folders.

use crate::plot::curves::{mean_curve, CurvesFigure};
use crate::train::config::RunConfig;
use crate::train::run::{read_metrics, CONFIG_FILE};
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Arguments of `gyrus plot`.
#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Which figure.
    #[command(subcommand)]
    pub figure: PlotFigure,
}

/// The figures.
#[derive(Subcommand, Debug)]
pub enum PlotFigure {
    /// Learning curves (mean task performance against gradient step) of several runs.
    Curves(CurvesArgs),
    /// Test error against active neurons and wiring length of a sweep's runs, one Pareto frontier
    /// per family; also writes the numbers as CSV.
    Pareto(crate::cli::sweep::ParetoArgs),
}

/// Arguments of `gyrus plot curves`.
#[derive(Args, Debug)]
pub struct CurvesArgs {
    /// Run folders.
    #[arg(required = true)]
    pub runs: Vec<PathBuf>,
    /// Output image (.png or .svg).
    #[arg(long)]
    pub out: PathBuf,
    /// Plot the strict metric instead of `last`.
    #[arg(long)]
    pub strict: bool,
    /// Figure title.
    #[arg(long, default_value = "Learning curves")]
    pub title: String,
    /// One curve per configuration (runs that differ only in their seed): the mean over the runs,
    /// with the range of the runs shaded.
    #[arg(long)]
    pub mean: bool,
}

/// Runs `gyrus plot`.
pub fn run(args: PlotArgs) -> Result<()> {
    match args.figure {
        PlotFigure::Curves(a) => curves(a),
        PlotFigure::Pareto(a) => crate::cli::sweep::plot_pareto(a),
    }
}

/// One run's (step, performance) points.
type RunPoints = Vec<(u64, f64)>;

fn curves(args: CurvesArgs) -> Result<()> {
    // (label, runs' metrics) in order of first appearance.
    let mut groups: Vec<(String, Vec<RunPoints>)> = Vec::new();
    for dir in &args.runs {
        let rows = read_metrics(dir)?;
        if rows.is_empty() {
            bail!("{} has no evaluations logged yet", dir.display());
        }
        let label = if args.mean {
            let cfg = RunConfig::load(&dir.join(CONFIG_FILE))?;
            let s = cfg.net.sheet;
            format!(
                "{} {}x{} {}",
                cfg.net.family_label(),
                s.rows,
                s.cols,
                cfg.tasks
            )
        } else {
            dir.file_name().map_or_else(
                || dir.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        };
        let points = rows
            .iter()
            .map(|&(step, last, strict, _)| (step, if args.strict { strict } else { last }))
            .collect();
        match groups.iter_mut().find(|(l, _)| *l == label) {
            Some((_, runs)) => runs.push(points),
            None => groups.push((label, vec![points])),
        }
    }
    let mut curves = Vec::new();
    for (label, runs) in groups {
        curves.push(mean_curve(label, &runs)?);
    }
    let fig = CurvesFigure {
        curves,
        title: args.title,
        y_label: format!(
            "mean task performance ({})",
            if args.strict { "strict" } else { "last" }
        ),
    };
    crate::plot::save(&fig, &args.out)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
