//! `gyrus deploy sim A.gyrus [B.gyrus ...] --theta 0,0.01,0.05 [--tile 4x4]
//! [--placement sheet,random] [--trials N] [--seed S] [--traffic-png mesh.png]`: runs each model
//! over its tasks with the plain kernel and the delta kernel at each theta, routes the messages on
//! a mesh of cores, and prints one table (markdown) of operations, messages, mesh traffic and task
//! performance (see [`crate::deploy`]).

use crate::cli::select::GeneratorArgs;
use crate::deploy::mesh::Mesh;
use crate::deploy::placement::{parse_tile, Layout, Placement};
use crate::deploy::{simulate, Mode, OutgoingBuf, SimConfig, SimResult};
use crate::plot::mesh::{MeshPanel, MeshTrafficFigure};
use crate::train::run::eval_seed;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use gyrus_runtime::format::ModelView;
use std::path::{Path, PathBuf};

/// Arguments of `gyrus deploy`.
#[derive(Args, Debug)]
pub struct DeployArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: DeployCommand,
}

/// Subcommands of `gyrus deploy`.
#[derive(Subcommand, Debug)]
pub enum DeployCommand {
    /// Event-driven execution and traffic on a tiled mesh of cores, for one or more models.
    Sim(SimArgs),
}

/// Arguments of `gyrus deploy sim`.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// Model blobs (`.gyrus`); each gets its rows in the table.
    #[arg(required = true)]
    pub models: Vec<PathBuf>,
    /// Delta thresholds, comma-separated (the plain kernel is always run too).
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub theta: Vec<f32>,
    /// Sheet cells per core, ROWSxCOLS.
    #[arg(long, default_value = "4x4")]
    pub tile: String,
    /// Placements, comma-separated: `sheet` (the sheet layout) and/or `random` (control).
    #[arg(long, value_delimiter = ',', default_value = "sheet,random")]
    pub placement: Vec<String>,
    /// Trials per task.
    #[arg(long, default_value_t = 20)]
    pub trials: u32,
    /// Evaluation seed (default: the run's evaluation seed, derived from the model's seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Generator settings (as the run was trained with).
    #[command(flatten)]
    pub generator: GeneratorArgs,
    /// Seed of the random placement.
    #[arg(long, default_value_t = 1)]
    pub placement_seed: u64,
    /// Draw the link loads of one step of the plain kernel (sheet placement), one panel per
    /// model (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub traffic_png: Option<PathBuf>,
}

/// Runs `gyrus deploy`.
pub fn run(args: DeployArgs) -> Result<()> {
    match args.command {
        DeployCommand::Sim(a) => sim(a),
    }
}

fn placements(names: &[String], seed: u64) -> Result<Vec<Placement>> {
    names
        .iter()
        .map(|n| match n.trim() {
            "sheet" => Ok(Placement::Sheet),
            "random" => Ok(Placement::Random(seed)),
            other => bail!("unknown placement {other:?} (sheet or random)"),
        })
        .collect()
}

fn label(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The rows of one model: the plain kernel first, then each theta.
fn model_rows(
    view: &ModelView<'_>,
    args: &SimArgs,
    tile: (u16, u16),
    places: &[Placement],
) -> Result<Vec<SimResult>> {
    for &t in &args.theta {
        if !(t.is_finite() && t >= 0.0) {
            bail!("theta must be finite and >= 0, got {t}");
        }
    }
    let ob = OutgoingBuf::new(view)?;
    let out = ob.view()?;
    let mut meshes: Vec<Mesh> = places
        .iter()
        .map(|&p| Ok(Mesh::new(&Layout::new(view, tile, p)?, &out)))
        .collect::<Result<_>>()?;
    let cfg = SimConfig {
        seed: args.seed.unwrap_or_else(|| eval_seed(view.seed())),
        trials: args.trials,
        generator: args.generator.config()?,
    };
    std::iter::once(Mode::Plain)
        .chain(args.theta.iter().map(|&t| Mode::Delta(t)))
        .map(|mode| simulate(view, &out, mode, &mut meshes, &cfg))
        .collect()
}

fn header(places: &[Placement]) -> String {
    let mut h =
        String::from("| model | units | nnz | mode | msgs/step | syn ops/step | ops vs plain |");
    let mut sep = String::from("|---|---:|---:|---|---:|---:|---:|");
    for p in places {
        let n = p.name();
        h += &format!(" {n}: packets/step | {n}: hops/step | {n}: peak link mean/max |");
        sep += "---:|---:|---:|";
    }
    h += " perf last | perf strict |";
    sep += "---:|---:|";
    format!("{h}\n{sep}")
}

fn row(name: &str, r: &SimResult, plain_updates: f64) -> String {
    let steps = r.steps.max(1) as f64;
    let mut s = format!(
        "| {name} | {} | {} | {} | {:.1} | {:.0} | {:.1}% |",
        r.n_hidden,
        r.nnz,
        r.mode.label(),
        r.messages_per_step(),
        r.updates_per_step(),
        100.0 * r.updates_per_step() / plain_updates.max(1e-12),
    );
    for t in &r.traffic {
        s += &format!(
            " {:.1} | {:.1} | {:.1}/{} |",
            t.packets as f64 / steps,
            t.hops as f64 / steps,
            t.peak_mean(),
            t.peak_max
        );
    }
    let (last, strict) = r.performance();
    s += &format!(" {:.1}% | {:.1}% |", 100.0 * last, 100.0 * strict);
    s
}

fn sim(args: SimArgs) -> Result<()> {
    let tile = parse_tile(&args.tile)?;
    let places = placements(&args.placement, args.placement_seed)?;
    if places.is_empty() {
        bail!("no placement given");
    }
    if args.trials == 0 {
        bail!("--trials must be at least 1");
    }
    let mut panels = Vec::new();
    println!(
        "tile {}x{} sheet cells per core; {} trials per task; per-step means over all steps",
        tile.0, tile.1, args.trials
    );
    println!("{}", header(&places));
    for path in &args.models {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let view = ModelView::from_bytes(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: not a model blob: {e}", path.display()))?;
        let name = label(path);
        let results = model_rows(&view, &args, tile, &places)?;
        let plain_updates = results[0].updates_per_step();
        for r in &results {
            println!("{}", row(&name, r, plain_updates));
        }
        if let Some(snap) = results[0].snapshot.first() {
            let layout = Layout::new(&view, tile, places[0])?;
            panels.push(MeshPanel {
                title: format!(
                    "{name} ({}, plain): busiest link {}",
                    places[0].name(),
                    snap.iter().max().copied().unwrap_or(0)
                ),
                rows: layout.rows,
                cols: layout.cols,
                loads: snap.clone(),
            });
        }
    }
    if let Some(png) = &args.traffic_png {
        crate::plot::save(&MeshTrafficFigure { panels }, png)?;
        println!("traffic picture: {}", png.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SimArgs,
    }

    fn args(extra: &[&str]) -> SimArgs {
        let mut v = vec!["sim"];
        v.extend_from_slice(extra);
        Cli::try_parse_from(v).unwrap().args
    }

    #[test]
    fn runs_two_models_draws_the_traffic_and_refuses_bad_options() {
        let dir = std::env::temp_dir().join(format!("gyrus-deploy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let blob = crate::deploy::tests::tiny_model(4, 4).to_bytes().unwrap();
        let (a, b) = (dir.join("a.gyrus"), dir.join("b.gyrus"));
        std::fs::write(&a, &blob).unwrap();
        std::fs::write(&b, &blob).unwrap();
        let png = dir.join("mesh.png");
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        let ok = args(&[a, b, "--theta", "0,0.1", "--tile", "2x2", "--trials", "1"]);
        let ok = SimArgs {
            traffic_png: Some(png.clone()),
            ..ok
        };
        sim(ok).unwrap();
        assert_eq!(&std::fs::read(&png).unwrap()[..4], b"\x89PNG");
        for bad in [
            vec![a, "--theta=-1"],
            vec![a, "--tile", "4"],
            vec![a, "--placement", "diagonal"],
            vec![a, "--trials", "0"],
            vec!["/nonexistent/x.gyrus"],
        ] {
            assert!(sim(args(&bad)).is_err(), "{bad:?} accepted");
        }
        std::fs::write(dir.join("junk.gyrus"), b"not a model").unwrap();
        let junk = dir.join("junk.gyrus");
        assert!(sim(args(&[junk.to_str().unwrap()])).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
