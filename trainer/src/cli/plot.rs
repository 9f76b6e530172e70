//! `gyrus plot ...`: figures made from run folders.

use crate::plot::curves::{Curve, CurvesFigure};
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

/// The mean over runs at the steps every run has, with the (lowest, highest) band; a single run
/// gives its own points and no band.
fn mean_curve(label: String, runs: &[RunPoints]) -> Result<Curve> {
    if runs.len() == 1 {
        let points = runs[0].iter().map(|&(s, y)| (s as f64, y)).collect();
        return Ok(Curve {
            label,
            points,
            band: Vec::new(),
        });
    }
    let steps: Vec<u64> = runs[0]
        .iter()
        .map(|p| p.0)
        .filter(|s| runs.iter().all(|r| r.iter().any(|p| p.0 == *s)))
        .collect();
    if steps.is_empty() {
        bail!("the runs of `{label}` share no evaluation step; they cannot be averaged");
    }
    let (mut points, mut band) = (Vec::new(), Vec::new());
    for s in steps {
        let ys: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.iter().find(|p| p.0 == s).map(|p| p.1))
            .collect();
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        let lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        points.push((s as f64, mean));
        band.push((lo, hi));
    }
    Ok(Curve {
        label: format!("{label} (mean of {})", runs.len()),
        points,
        band,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn means_use_shared_steps() {
        let runs = vec![
            vec![(10, 0.2), (20, 0.4), (30, 0.9)],
            vec![(10, 0.4), (20, 0.8)],
        ];
        let c = mean_curve("x".into(), &runs).unwrap();
        assert_eq!(c.points.len(), 2);
        assert!((c.points[1].1 - 0.6).abs() < 1e-12);
        assert_eq!(c.band[0], (0.2, 0.4));
        assert!(mean_curve("y".into(), &[vec![(1, 0.1)], vec![(2, 0.2)]]).is_err());
        let single = mean_curve("z".into(), &runs[..1]).unwrap();
        assert!(single.band.is_empty() && single.points.len() == 3);
    }
}
