//! `gyrus analyze ...`: measures of a trained run.
//!
//! `gyrus analyze modularity RUN_DIR` (shortcut: `gyrus analyze RUN_DIR`) computes the active
//! connections and wiring length, task variance, important units, functional clusters and their
//! anatomical modularity against a shuffled-position baseline; writes `analysis.json` and three
//! figures into `--out` (default: the run folder) and prints a summary. The run folder is only read.
//!
//! `analysis.json`: `run`, `step`, `seed`, `sheet`, `tasks`; `connections` (threshold,
//! recurrent_allowed, recurrent_active, input_active, output_active, wiring_length);
//! `task_variance` (trials, alignment, steps per task, values \[unit\]\[task\]); `important_units`
//! (threshold, count, units, normalised_variance \[important unit\]\[task\]); `clusters` (k,
//! silhouette, sizes, labels per important unit, silhouette_by_k; null with < 3 important units);
//! `modularity` (isolated_fraction, mean_group_size, groups, baseline: permutations, seed and
//! mean/sd/percentile of both numbers); `figures` (paths). Figures: `clusters_sheet` (Fig. 1c of
//! Liu et al.), `task_variance` (Fig. 1b), `weight_distance` (Fig. 1f), `connectivity` (Fig. 1a),
//! `.png` or `.svg`.
//!
//! To add an analysis (e.g. `graph`, `fixed-points`): add a variant to [`AnalyzeCommand`] with its
//! own `Args` (in its own file under `cli/` if it is long) and an arm to [`run`].

use crate::analysis::{analyze, load_run, Analysis, Options};
use crate::plot::modular_sheet::ModularSheetFigure;
use crate::plot::variance_matrix::VarianceMatrixFigure;
use crate::plot::weight_distance::WeightDistanceFigure;
use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};

/// Arguments of `gyrus analyze`: a subcommand, or the `modularity` arguments directly.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct AnalyzeArgs {
    /// Which analysis (default: modularity).
    #[command(subcommand)]
    pub command: Option<AnalyzeCommand>,
    /// `gyrus analyze RUN_DIR ...` is `gyrus analyze modularity RUN_DIR ...`.
    #[command(flatten)]
    pub modularity: ModularityArgs,
}

/// The analyses.
#[derive(Subcommand, Debug)]
pub enum AnalyzeCommand {
    /// Wiring, task variance, functional clusters and their modularity on the sheet (Liu et al.).
    Modularity(ModularityArgs),
    /// Diameter, shortest paths and clustering of the connectivity against Erdos-Renyi graphs.
    Graph(super::dynamics::GraphArgs),
    /// Fixed and slow points of the dynamics under one task period's constant input.
    FixedPoints(super::dynamics::FixedPointArgs),
    /// SVCCA distances between networks on identical trials (CSV, heat map, MDS).
    Compare(super::dynamics::CompareArgs),
}

/// Image format of the figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ImageFormat {
    /// Raster images.
    Png,
    /// Vector images.
    Svg,
}

/// Arguments of `gyrus analyze modularity`.
#[derive(Args, Debug)]
pub struct ModularityArgs {
    /// The run folder (only read).
    #[arg(required = true, value_name = "RUN_DIR")]
    pub run: Option<PathBuf>,
    /// Folder for analysis.json and the figures (default: the run folder).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Noise-free trials per task for the task variance.
    #[arg(long, default_value_t = 200)]
    pub trials: u32,
    /// Seed of the trials (its evaluation set) and of the permutations (default: the run's seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Position permutations of the modularity baseline.
    #[arg(long, default_value_t = 1000)]
    pub permutations: usize,
    /// Largest number of clusters tried.
    #[arg(long, default_value_t = 30)]
    pub max_clusters: usize,
    /// Figure format.
    #[arg(long, value_enum, default_value_t = ImageFormat::Png)]
    pub format: ImageFormat,
    /// Use the initial network when the run folder has no checkpoint (without this flag, such a
    /// folder is refused: its network was never trained, or the checkpoint was lost).
    #[arg(long)]
    pub untrained: bool,
}

/// Runs `gyrus analyze`.
pub fn run(args: AnalyzeArgs) -> Result<()> {
    match args.command {
        Some(AnalyzeCommand::Modularity(a)) => modularity(a),
        Some(AnalyzeCommand::Graph(a)) => super::dynamics::graph(a),
        Some(AnalyzeCommand::FixedPoints(a)) => super::dynamics::fixed_points(a),
        Some(AnalyzeCommand::Compare(a)) => super::dynamics::compare(a),
        None => modularity(args.modularity),
    }
}

/// The file names written by `gyrus analyze modularity`.
pub const ANALYSIS_FILE: &str = "analysis.json";
/// Sheet coloured by functional cluster.
pub const SHEET_FIGURE: &str = "clusters_sheet";
/// Clustered normalised task variance.
pub const VARIANCE_FIGURE: &str = "task_variance";
/// |w| against connection distance.
pub const WEIGHT_FIGURE: &str = "weight_distance";
/// The active recurrent connections drawn on the sheet (Fig. 1a of Liu et al., as `gyrus inspect`).
pub const CONNECTIVITY_FIGURE: &str = "connectivity";

/// Runs `gyrus analyze modularity`: analysis.json, the figures and the summary on stdout.
pub fn modularity(args: ModularityArgs) -> Result<()> {
    let dir = args.run.clone().context("a run folder is required")?;
    let loaded = load_run(&dir, args.untrained)?;
    let seed = args.seed.unwrap_or(loaded.config.seed);
    let options = Options {
        trials: args.trials,
        seed,
        permutations: args.permutations,
        max_clusters: args.max_clusters,
    };
    let analysis = analyze(
        &loaded.network,
        &loaded.tasks,
        &loaded.config.generator(),
        &options,
    )?;
    let out = args.out.clone().unwrap_or_else(|| dir.clone());
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create folder {}", out.display()))?;
    let figures = write_figures(&analysis, &loaded.network, &dir, &out, args.format)?;
    let mut json = analysis.to_json();
    json["run"] = dir.display().to_string().into();
    json["step"] = loaded.step.into();
    json["figures"] = figures
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .into();
    let path = out.join(ANALYSIS_FILE);
    crate::fsio::write_atomic(&path, serde_json::to_string_pretty(&json)?)?;
    println!("{} at step {}:", dir.display(), loaded.step);
    print!("{}", analysis.summary());
    println!("wrote {}", path.display());
    for f in &figures {
        println!("wrote {}", f.display());
    }
    Ok(())
}

fn write_figures(
    analysis: &Analysis,
    net: &crate::model::Network,
    dir: &Path,
    out: &Path,
    format: ImageFormat,
) -> Result<Vec<PathBuf>> {
    let ext = match format {
        ImageFormat::Png => "png",
        ImageFormat::Svg => "svg",
    };
    let name = dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut written = Vec::new();
    let path = out.join(format!("{SHEET_FIGURE}.{ext}"));
    crate::plot::save(&ModularSheetFigure::from_analysis(analysis, &name), &path)?;
    written.push(path);
    if let Some(fig) = VarianceMatrixFigure::from_analysis(analysis, &name) {
        let path = out.join(format!("{VARIANCE_FIGURE}.{ext}"));
        crate::plot::save(&fig, &path)?;
        written.push(path);
    }
    let path = out.join(format!("{WEIGHT_FIGURE}.{ext}"));
    crate::plot::save(&WeightDistanceFigure::from_network(net, &name), &path)?;
    written.push(path);
    let path = out.join(format!("{CONNECTIVITY_FIGURE}.{ext}"));
    let title = format!(
        "{name}: active recurrent connections (|w| > {})",
        crate::analysis::wiring::ACTIVE
    );
    let fig =
        crate::plot::sheet::SheetFigure::from_network(net, crate::analysis::wiring::ACTIVE, &title);
    crate::plot::save(&fig, &path)?;
    written.push(path);
    Ok(written)
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> super::ModularityArgs {
        let cli = Cli::try_parse_from(args).unwrap();
        let Command::Analyze(a) = cli.command else {
            panic!("not analyze")
        };
        match a.command {
            Some(super::AnalyzeCommand::Modularity(m)) => m,
            None => a.modularity,
            Some(other) => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn the_shortcut_and_the_subcommand_parse_alike() {
        let a = parse(&["gyrus", "analyze", "runs/a", "--trials", "7"]);
        let b = parse(&["gyrus", "analyze", "modularity", "runs/a", "--trials", "7"]);
        assert_eq!(a.run, b.run);
        assert_eq!(a.run.as_deref(), Some(std::path::Path::new("runs/a")));
        assert_eq!((a.trials, b.trials), (7, 7));
        assert_eq!(a.permutations, 1000);
        assert!(Cli::try_parse_from(["gyrus", "analyze"]).is_err());
        assert!(Cli::try_parse_from(["gyrus", "analyze", "modularity"]).is_err());
    }

    #[test]
    fn end_to_end_on_a_tiny_trained_run() {
        use crate::analysis::{analyze, load_run, Options};
        use crate::model::Sheet;
        use crate::train::config::RunConfig;
        use crate::train::run::Run;

        let root = std::env::temp_dir().join(format!("gyrus-analyze-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("run");
        let mut cfg = RunConfig::with_sheet(Sheet::new(5, 5));
        cfg.tasks = "go,dlygo,dm1,dms".into();
        cfg.steps = 100;
        cfg.batch = 16;
        cfg.eval_trials = 8;
        Run::create(&dir, cfg).unwrap().train(100, false).unwrap();
        let files_before: Vec<(std::path::PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let b = std::fs::read(&p).unwrap();
                (p, b)
            })
            .collect();

        let out = root.join("out");
        let args = super::ModularityArgs {
            run: Some(dir.clone()),
            out: Some(out.clone()),
            trials: 12,
            seed: None,
            permutations: 50,
            max_clusters: 30,
            format: super::ImageFormat::Png,
            untrained: false,
        };
        super::modularity(args).unwrap();

        // The run folder is untouched.
        for (p, b) in &files_before {
            assert_eq!(&std::fs::read(p).unwrap(), b, "{} changed", p.display());
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), files_before.len());

        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("analysis.json")).unwrap())
                .unwrap();
        assert_eq!(json["step"], 100);
        assert_eq!(
            json["tasks"],
            serde_json::json!(["go", "dlygo", "dm1", "dms"])
        );
        let c = &json["connections"];
        assert_eq!(c["recurrent_allowed"], 625);
        let active = c["recurrent_active"].as_u64().unwrap();
        assert!(active > 0 && active <= 625);
        assert!(c["wiring_length"].as_f64().unwrap() > 0.0);
        let tv = &json["task_variance"];
        // Steps after the fixation: go 10, dlygo 15, dm1 7 (stimulus 5 + decision 2), dms 29.
        assert_eq!(tv["steps"], serde_json::json!([10, 15, 7, 29]));
        let values = tv["values"].as_array().unwrap();
        assert_eq!(values.len(), 25);
        assert!(values.iter().all(|r| r.as_array().unwrap().len() == 4));
        let imp = &json["important_units"];
        let count = imp["count"].as_u64().unwrap() as usize;
        assert_eq!(imp["units"].as_array().unwrap().len(), count);
        // Normalised rows have a maximum of exactly 1.
        for row in imp["normalised_variance"].as_array().unwrap() {
            let max = row
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .fold(0.0, f64::max);
            assert_eq!(max, 1.0);
        }
        assert!(
            count >= 3,
            "only {count} important units: the clustering path is not exercised"
        );
        let cl = &json["clusters"];
        let k = cl["k"].as_u64().unwrap() as usize;
        assert!((2..count).contains(&k));
        assert_eq!(cl["labels"].as_array().unwrap().len(), count);
        let sizes: u64 = cl["sizes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(sizes as usize, count);
        let m = &json["modularity"];
        let iso = m["isolated_fraction"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&iso));
        assert_eq!(m["baseline"]["permutations"], 50);
        let p = m["baseline"]["mean_group_size"]["percentile"]
            .as_f64()
            .unwrap();
        assert!((0.0..=100.0).contains(&p));
        let figures = json["figures"].as_array().unwrap();
        assert_eq!(figures.len(), 4);
        for f in figures {
            let bytes = std::fs::read(f.as_str().unwrap()).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        }

        // Deterministic: the same seed gives the same analysis; another seed other trials.
        let run = load_run(&dir, false).unwrap();
        // A folder whose checkpoint is missing is refused, unless asked for the untrained network.
        let bare = root.join("bare");
        drop(Run::create(&bare, run.config.clone()).unwrap());
        let e = load_run(&bare, false).err().unwrap().to_string();
        assert!(
            e.contains("no checkpoint") && e.contains("--untrained"),
            "{e}"
        );
        assert_eq!(load_run(&bare, true).unwrap().step, 0);
        let opts = Options {
            trials: 12,
            permutations: 50,
            ..Options::new(run.config.seed)
        };
        let gen = run.config.generator();
        let a = analyze(&run.network, &run.tasks, &gen, &opts).unwrap();
        let b = analyze(&run.network, &run.tasks, &gen, &opts).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_json()["modularity"], json["modularity"]);
        let other = Options { seed: 99, ..opts };
        let c = analyze(&run.network, &run.tasks, &gen, &other).unwrap();
        assert_ne!(a.variance, c.variance);
        let _ = std::fs::remove_dir_all(&root);
    }
}
