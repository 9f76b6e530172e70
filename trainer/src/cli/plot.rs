//! `gyrus plot ...`: figures made from run folders.

use crate::plot::curves::{Curve, CurvesFigure};
use crate::train::run::read_metrics;
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
}

/// Runs `gyrus plot`.
pub fn run(args: PlotArgs) -> Result<()> {
    match args.figure {
        PlotFigure::Curves(a) => curves(a),
    }
}

fn curves(args: CurvesArgs) -> Result<()> {
    let mut curves = Vec::new();
    for dir in &args.runs {
        let rows = read_metrics(dir)?;
        if rows.is_empty() {
            bail!("{} has no evaluations logged yet", dir.display());
        }
        let label = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let points = rows
            .iter()
            .map(|&(step, last, strict, _)| (step as f64, if args.strict { strict } else { last }))
            .collect();
        curves.push(Curve { label, points });
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
