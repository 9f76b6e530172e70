//! `gyrus analyze graph | fixed-points | compare`: graph measures of the connectivity, fixed and
//! slow points of the dynamics, and SVCCA similarity over a population of networks
//! (`docs/models.md`, "Graph measures" and "Dynamics analysis").
//!
//! Run folders are only read (opened with [`crate::analysis::load_run`]); results go to `--out`.

use super::analyze::ImageFormat;
use crate::analysis::fixed_points::{self, Dynamics, FixedPoint};
use crate::analysis::graph::{self, Digraph, ErBaseline, GraphMeasures};
use crate::analysis::svcca::{self, TrialSet};
use crate::analysis::{linalg, load_run, wiring};
use crate::plot::fixed_points::{FixedPointFigure, Marked};
use crate::plot::similarity::SimilarityFigure;
use crate::train::run::{eval_seed, CONFIG_FILE};
use anyhow::{bail, Context, Result};
use clap::Args;
use gyrus_runtime::tasks::Task;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Leading eigenvalues written per point.
const LEADING: usize = 10;
/// Trajectories drawn in the fixed-point figure.
const DRAWN: usize = 32;

fn ext(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "png",
        ImageFormat::Svg => "svg",
    }
}

fn out_dir(out: &Option<PathBuf>, default: &Path) -> Result<PathBuf> {
    let out = out.clone().unwrap_or_else(|| default.to_path_buf());
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create folder {}", out.display()))?;
    Ok(out)
}

fn write_json(path: &Path, v: &Value) -> Result<()> {
    crate::fsio::write_atomic(path, serde_json::to_string_pretty(v)?)?;
    println!("wrote {}", path.display());
    Ok(())
}

fn folder_name(dir: &Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

// ---------------------------------------------------------------- graph

/// Arguments of `gyrus analyze graph`.
#[derive(Args, Debug)]
pub struct GraphArgs {
    /// The run folder (only read).
    pub run: PathBuf,
    /// Use the initial network of a run folder without a checkpoint (refused without this flag).
    #[arg(long)]
    pub untrained: bool,
    /// Use the active connections (|w| > --threshold) instead of the allowed ones.
    #[arg(long)]
    pub active: bool,
    /// Threshold of an active connection.
    #[arg(long, default_value_t = wiring::ACTIVE)]
    pub threshold: f32,
    /// Erdos-Renyi graphs (seeds) of the baseline.
    #[arg(long, default_value_t = 10)]
    pub er_graphs: usize,
    /// Seed of the Erdos-Renyi graphs (default: the run's seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Folder for graph.json (default: the run folder).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The file written by `gyrus analyze graph`.
pub const GRAPH_FILE: &str = "graph.json";

fn measures_json(m: &GraphMeasures) -> Value {
    json!({
        "nodes": m.nodes,
        "edges": m.edges,
        "strongly_connected": m.strongly_connected,
        "largest_strong_component": m.component,
        "diameter": m.diameter,
        "avg_shortest_path": m.avg_path_length,
        "avg_clustering": m.avg_clustering,
    })
}

fn baseline_json(b: &ErBaseline) -> Value {
    json!({
        "graphs": b.graphs,
        "seed": b.seed,
        "not_strongly_connected": b.not_connected,
        "largest_strong_component": b.component,
        "diameter": b.diameter,
        "avg_shortest_path": b.avg_path_length,
        "avg_clustering": b.avg_clustering,
    })
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "undefined".into(), |x| format!("{x:.3}"))
}

/// Runs `gyrus analyze graph`.
pub fn graph(args: GraphArgs) -> Result<()> {
    let loaded = load_run(&args.run, args.untrained)?;
    let net = &loaded.network;
    let g = if args.active {
        Digraph::active(net, args.threshold)
    } else {
        Digraph::allowed(net)
    };
    let seed = args.seed.unwrap_or(loaded.config.seed);
    let m = graph::measure(&g);
    let b = graph::er_baseline(&g, args.er_graphs, seed)?;
    let kind = if args.active {
        format!("active (|w| > {})", args.threshold)
    } else {
        "allowed".into()
    };
    println!(
        "{} at step {}: {kind} recurrent connections, no self-loops",
        args.run.display(),
        loaded.step
    );
    println!("nodes {}, edges {}", m.nodes, m.edges);
    if !m.strongly_connected {
        println!(
            "not strongly connected: paths measured on the largest strongly connected component ({} of {} nodes)",
            m.component, m.nodes
        );
    }
    println!(
        "network:       diameter {}, avg shortest path {}, avg clustering {:.3}",
        m.diameter,
        opt(m.avg_path_length),
        m.avg_clustering
    );
    println!(
        "Erdos-Renyi (mean of {}): diameter {:.2}, avg shortest path {}, avg clustering {:.3}{}",
        b.graphs,
        b.diameter,
        opt(b.avg_path_length),
        b.avg_clustering,
        if b.not_connected > 0 {
            format!(
                " ({} not strongly connected, measured on their largest component)",
                b.not_connected
            )
        } else {
            String::new()
        }
    );
    let out = out_dir(&args.out, &args.run)?;
    write_json(
        &out.join(GRAPH_FILE),
        &json!({
            "run": args.run.display().to_string(),
            "step": loaded.step,
            "connections": if args.active { "active" } else { "allowed" },
            "threshold": args.active.then_some(args.threshold),
            "clustering": "directed (Fagiolo 2007, as networkx), mean over all nodes",
            "paths": "on the largest strongly connected component when the graph is not strongly connected",
            "network": measures_json(&m),
            "erdos_renyi": baseline_json(&b),
        }),
    )
}

// ---------------------------------------------------------------- fixed points

/// Arguments of `gyrus analyze fixed-points`.
#[derive(Args, Debug)]
pub struct FixedPointArgs {
    /// The run folder (only read).
    pub run: PathBuf,
    /// Use the initial network of a run folder without a checkpoint (refused without this flag).
    #[arg(long)]
    pub untrained: bool,
    /// The task whose constant input is used (one of the run's tasks).
    #[arg(long)]
    pub task: String,
    /// The period of the task whose input is held constant.
    #[arg(long, default_value = "delay")]
    pub period: String,
    /// Noise-free evaluation trials whose states seed the search.
    #[arg(long, default_value_t = 64)]
    pub trials: u32,
    /// Starting states.
    #[arg(long, default_value_t = 1024)]
    pub starts: usize,
    /// Std of the Gaussian noise added to each starting state.
    #[arg(long, default_value_t = 0.05)]
    pub noise: f64,
    /// Adam iterations.
    #[arg(long, default_value_t = 3000)]
    pub iterations: usize,
    /// Adam's initial learning rate (decays to 1 % of it); default 0.05 times the RMS unit
    /// activity of the period's states, so that steps scale with the states.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Keep points with q below this.
    #[arg(long, default_value_t = 1e-6)]
    pub q_tol: f64,
    /// Seed of the trials and the starts (default: the run's seed; trials use its evaluation set).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Folder for the JSON and the figure (default: the run folder).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Figure format.
    #[arg(long, value_enum, default_value_t = ImageFormat::Png)]
    pub format: ImageFormat,
}

fn point_json(p: &FixedPoint, pc: &[f64; 3]) -> Value {
    json!({
        "q": p.q,
        "fixed": p.fixed(),
        "stable": p.stable(),
        "spectral_radius": p.spectral_radius(),
        "unstable_modes": p.unstable_modes(),
        "leading_eigenvalues": p.eigenvalues.iter().take(LEADING).map(|&(re, im)| [re, im]).collect::<Vec<_>>(),
        "hits": p.hits,
        "pc": pc,
        "h": p.h,
    })
}

/// Runs `gyrus analyze fixed-points`.
pub fn fixed_points(args: FixedPointArgs) -> Result<()> {
    let loaded = load_run(&args.run, args.untrained)?;
    let net = &loaded.network;
    let task = crate::tasks::parse_task(&args.task)?;
    let Some(rule) = loaded.tasks.list().position(task) else {
        bail!(
            "the run was not trained on {task}; its tasks: {}",
            loaded.tasks.names().join(", ")
        );
    };
    let period = fixed_points::parse_period(&args.period)?;
    let seed = args.seed.unwrap_or(loaded.config.seed);
    let gen = loaded.config.generator();
    let u = fixed_points::period_input(&loaded.tasks, rule, &gen, eval_seed(seed), period)?;
    let traj = fixed_points::trajectories(
        net,
        &loaded.tasks,
        rule,
        &gen,
        eval_seed(seed),
        args.trials,
        period,
    )?;
    let states = traj.period_states();
    if states.ncols() == 0 {
        bail!("no trial of {task} has a {} period", period.name());
    }
    let dynamics = Dynamics::from_network(net);
    let drive = dynamics.drive(&u)?;
    let opts = fixed_points::Options {
        starts: args.starts,
        noise: args.noise,
        iterations: args.iterations,
        lr: args.lr.unwrap_or_else(|| {
            let rms = (states.norm_squared() / states.len() as f64).sqrt();
            0.05 * rms.max(1e-3)
        }),
        q_tol: args.q_tol,
        seed,
        ..fixed_points::Options::default()
    };
    let search = fixed_points::find(&dynamics, &drive, &states, &opts)?;
    // PCA of every state of the trajectories.
    let all = traj.all_states();
    let (mean, dirs, var) = linalg::pca(&all, 3)?;
    let total: f64 = {
        let (_, _, v) = linalg::pca(&all, all.ncols())?;
        v.iter().sum::<f64>().max(1e-300)
    };
    let mut explained = [0.0; 3];
    for (k, v) in var.iter().enumerate() {
        explained[k] = v / total;
    }
    let project = |h: &[f64]| {
        let mut p = [0.0; 3];
        for (k, pk) in p.iter_mut().enumerate().take(dirs.ncols()) {
            *pk = (0..h.len()).map(|i| (h[i] - mean[i]) * dirs[(i, k)]).sum();
        }
        p
    };
    let pcs: Vec<[f64; 3]> = search.points.iter().map(|p| project(&p.h)).collect();
    let n = traj.n;
    let trajectories: Vec<Vec<[f64; 3]>> = traj
        .states
        .iter()
        .take(DRAWN)
        .map(|s| s.chunks_exact(n).map(project).collect())
        .collect();
    let name = folder_name(&args.run);
    let fixed = search.points.iter().filter(|p| p.fixed()).count();
    let stable_fixed = search
        .points
        .iter()
        .filter(|p| p.fixed() && p.stable())
        .count();
    let slow = search.points.len() - fixed;
    println!(
        "{} at step {}: {task}, {} period input; {} starts from {} states of {} trials",
        args.run.display(),
        loaded.step,
        period.name(),
        search.starts,
        states.ncols(),
        args.trials
    );
    println!(
        "{} of {} minima below q = {:e} (median q {:.2e}); {} distinct points: {} fixed (q < {:e}; {} stable, {} unstable), {} slow",
        search.converged,
        search.starts,
        args.q_tol,
        search.median_q,
        search.points.len(),
        fixed,
        fixed_points::FIXED_Q,
        stable_fixed,
        fixed - stable_fixed,
        slow
    );
    for (p, pc) in search.points.iter().zip(&pcs).take(20) {
        let ev: Vec<String> = p
            .eigenvalues
            .iter()
            .take(3)
            .map(|&(re, im)| {
                if im == 0.0 {
                    format!("{re:.3}")
                } else {
                    format!("{re:.3}{im:+.3}i")
                }
            })
            .collect();
        println!(
            "  q {:.2e} {} {}, |lambda|max {:.3} ({} unstable), hits {}, PC ({:.2}, {:.2}, {:.2}), leading {}",
            p.q,
            if p.fixed() { "fixed" } else { "slow" },
            if p.stable() { "stable" } else { "unstable" },
            p.spectral_radius(),
            p.unstable_modes(),
            p.hits,
            pc[0],
            pc[1],
            pc[2],
            ev.join(", ")
        );
    }
    let out = out_dir(&args.out, &args.run)?;
    let stem = format!("fixed_points_{task}_{}", period.name());
    let figure = FixedPointFigure {
        title: format!(
            "{name}: {task}, {} input: {} fixed ({stable_fixed} stable), {slow} slow",
            period.name(),
            fixed
        ),
        trajectories,
        points: search
            .points
            .iter()
            .zip(&pcs)
            .map(|(p, pc)| Marked {
                pc: *pc,
                stable: p.stable(),
                fixed: p.fixed(),
            })
            .collect(),
        explained,
    };
    let fig_path = out.join(format!("{stem}.{}", ext(args.format)));
    crate::plot::save(&figure, &fig_path)?;
    println!("wrote {}", fig_path.display());
    write_json(
        &out.join(format!("{stem}.json")),
        &json!({
            "run": args.run.display().to_string(),
            "step": loaded.step,
            "task": task.to_string(),
            "period": period.name(),
            "input": u,
            "trials": args.trials,
            "seed": seed,
            "options": {
                "starts": opts.starts, "noise": opts.noise, "iterations": opts.iterations,
                "lr": opts.lr, "q_tol": opts.q_tol, "dedup": opts.dedup, "newton": opts.newton,
            },
            "fixed_q": fixed_points::FIXED_Q,
            "converged": search.converged,
            "median_q": search.median_q,
            "counts": {"points": search.points.len(), "fixed": fixed, "stable_fixed": stable_fixed, "slow": slow},
            "pca_explained": explained,
            "points": search.points.iter().zip(&pcs).map(|(p, pc)| point_json(p, pc)).collect::<Vec<_>>(),
            "figure": fig_path.display().to_string(),
        }),
    )
}

// ---------------------------------------------------------------- compare

/// Arguments of `gyrus analyze compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Run folders, or folders holding run folders (e.g. a sweep folder: its `runs/`).
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// Use the initial network of run folders without a checkpoint (refused without this flag).
    #[arg(long)]
    pub untrained: bool,
    /// Comma-separated tasks whose trials are compared (default: the first run's tasks that every
    /// run has).
    #[arg(long)]
    pub task: Option<String>,
    /// Noise-free evaluation trials per task (the same for every network).
    #[arg(long, default_value_t = 32)]
    pub trials: u32,
    /// Seed of the trials.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// SVD directions kept per network.
    #[arg(long, default_value_t = svcca::DIRECTIONS)]
    pub directions: usize,
    /// Folder for svcca.csv, svcca.json and the figure.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Figure format.
    #[arg(long, value_enum, default_value_t = ImageFormat::Png)]
    pub format: ImageFormat,
}

/// The run folders named by `paths`: each path that holds a run, else the runs in its `runs/`
/// subfolder (a sweep), else the runs among its subfolders; sorted by path within each argument.
pub fn collect_runs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let is_run = |p: &Path| p.join(CONFIG_FILE).is_file();
    let mut out = Vec::new();
    for p in paths {
        if is_run(p) {
            out.push(p.clone());
            continue;
        }
        let base = if p.join("runs").is_dir() {
            p.join("runs")
        } else {
            p.clone()
        };
        let entries = std::fs::read_dir(&base)
            .with_context(|| format!("{} is neither a run nor a folder of runs", p.display()))?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|q| is_run(q))
            .collect();
        if found.is_empty() {
            bail!("{} holds no run folders", p.display());
        }
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

/// Runs `gyrus analyze compare`.
pub fn compare(args: CompareArgs) -> Result<()> {
    let dirs = collect_runs(&args.runs)?;
    if dirs.len() < 2 {
        bail!("comparing needs at least 2 networks, got {}", dirs.len());
    }
    let runs = dirs
        .iter()
        .map(|d| load_run(d, args.untrained).with_context(|| format!("loading {}", d.display())))
        .collect::<Result<Vec<_>>>()?;
    let first = &runs[0];
    let tasks: Vec<Task> = match &args.task {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(crate::tasks::parse_task)
            .collect::<Result<_>>()?,
        None => first
            .tasks
            .tasks()
            .iter()
            .copied()
            .filter(|t| runs.iter().all(|r| r.tasks.list().position(*t).is_some()))
            .collect(),
    };
    if tasks.is_empty() {
        bail!("the runs share no task");
    }
    for (d, r) in dirs.iter().zip(&runs) {
        if let Some(t) = tasks
            .iter()
            .find(|t| r.tasks.list().position(**t).is_none())
        {
            bail!("{} was not trained on {t}", d.display());
        }
    }
    let set = TrialSet::new(
        &first.tasks,
        &tasks,
        &first.config.generator(),
        args.seed,
        args.trials,
    )?;
    let reduced = runs
        .iter()
        .zip(&dirs)
        .map(|(r, d)| {
            let x = svcca::activity(&r.network, &r.tasks, &set)?;
            svcca::reduce(&x, args.directions).with_context(|| d.display().to_string())
        })
        .collect::<Result<Vec<_>>>()?;
    let d = svcca::distance_matrix(&reduced)?;
    let embedding = linalg::classical_mds(&d)?;
    let labels: Vec<String> = dirs.iter().map(|p| folder_name(p)).collect();
    let families: Vec<String> = runs
        .iter()
        .map(|r| r.config.net.family.name().to_string())
        .collect();
    let n = dirs.len();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create folder {}", args.out.display()))?;
    let mut csv = String::from("run");
    for l in &labels {
        csv += &format!(",{}", csv_field(l));
    }
    csv.push('\n');
    for i in 0..n {
        csv += &csv_field(&labels[i]);
        for j in 0..n {
            csv += &format!(",{}", d[(i, j)]);
        }
        csv.push('\n');
    }
    let csv_path = args.out.join("svcca.csv");
    crate::fsio::write_atomic(&csv_path, csv)?;
    println!("wrote {}", csv_path.display());
    let fig = SimilarityFigure {
        title: format!(
            "SVCCA over {n} networks ({} tasks, {} trials each)",
            tasks.len(),
            args.trials
        ),
        labels: labels.clone(),
        families: families.clone(),
        distance: d.transpose().iter().copied().collect(),
        embedding: embedding.clone(),
    };
    let fig_path = args.out.join(format!("svcca.{}", ext(args.format)));
    crate::plot::save(&fig, &fig_path)?;
    println!("wrote {}", fig_path.display());
    // Mean distance within and between families.
    let mut fam_names: Vec<&String> = Vec::new();
    for f in &families {
        if !fam_names.contains(&f) {
            fam_names.push(f);
        }
    }
    let mut blocks = Vec::new();
    for (a, fa) in fam_names.iter().enumerate() {
        for fb in &fam_names[a..] {
            let v: Vec<f64> = (0..n)
                .flat_map(|i| (0..n).map(move |j| (i, j)))
                .filter(|&(i, j)| i != j && families[i] == **fa && families[j] == **fb)
                .map(|(i, j)| d[(i, j)])
                .collect();
            if !v.is_empty() {
                let m = v.iter().sum::<f64>() / v.len() as f64;
                println!("mean distance {fa} - {fb}: {m:.4}");
                blocks.push(json!({"a": fa, "b": fb, "mean_distance": m, "pairs": v.len()}));
            }
        }
    }
    let rows: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| d[(i, j)]).collect())
        .collect();
    write_json(
        &args.out.join("svcca.json"),
        &json!({
            "runs": dirs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "labels": labels,
            "families": families,
            "tasks": tasks.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "trials": args.trials,
            "seed": args.seed,
            "samples": set.samples(),
            "directions": reduced.iter().map(|r| r.basis.ncols()).collect::<Vec<_>>(),
            "distance": rows,
            "mds": embedding,
            "family_means": blocks,
        }),
    )
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
