//! Measures of a trained network (`docs/models.md`, "Measures"): active connections and
//! wiring length ([`wiring`]), task variance and important units ([`task_variance`]), functional
//! clusters ([`cluster`]) and their anatomical modularity on the sheet ([`modularity`]).
//!
//! [`analyze`] runs them all on one network; [`load_run`] opens a run folder without writing to
//! it (unlike `Run::resume`, which tidies the metrics log).

pub mod cluster;
pub mod fixed_points;
pub mod graph;
pub mod linalg;
pub mod modularity;
pub mod svcca;
pub mod task_variance;
pub mod wiring;

use crate::model::{Network, Sheet};
use crate::tasks::Tasks;
use crate::train::checkpoint;
use crate::train::config::RunConfig;
use crate::train::run::{
    check_checkpoint_config, eval_seed, no_checkpoint_message, CHECKPOINT_FILE, CONFIG_FILE,
};
use anyhow::{bail, Context, Result};
use cluster::Clustering;
use gyrus_runtime::tasks::{self, derive_seed};
use modularity::{Baseline, Modularity, NullStat};
use serde_json::{json, Value};
use std::path::Path;
use task_variance::{TaskVariance, IMPORTANT};
use wiring::Wiring;

const PERMUTATION_DOMAIN: u64 = 0x5045_524d; // "PERM"

/// Settings of [`analyze`].
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Noise-free trials per task for the task variance.
    pub trials: u32,
    /// Seed: the trials use `eval_seed(seed)` (the run's evaluation set when it is the run's
    /// seed), the position permutations a seed derived from it.
    pub seed: u64,
    /// Permutations of the modularity baseline.
    pub permutations: usize,
    /// Largest number of clusters tried.
    pub max_clusters: usize,
}

impl Options {
    /// The defaults for a run seed: 200 trials, 1000 permutations, up to 30 clusters.
    pub fn new(seed: u64) -> Self {
        Options {
            trials: 200,
            seed,
            permutations: 1000,
            max_clusters: 30,
        }
    }
}

/// Everything [`analyze`] measures.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    /// The hidden-unit sheet.
    pub sheet: Sheet,
    /// Connection counts and wiring length.
    pub wiring: Wiring,
    /// Task variance of every unit.
    pub variance: TaskVariance,
    /// Important units (summed task variance > 1e-3), in index order.
    pub important: Vec<usize>,
    /// Normalised task variance of the important units [important, tasks].
    pub normalised: Vec<f64>,
    /// Functional clusters of the important units (None with fewer than 3).
    pub clustering: Option<Clustering>,
    /// Anatomical modularity of the clusters (None without clusters).
    pub modularity: Option<Modularity>,
    /// Its permutation baseline.
    pub baseline: Option<Baseline>,
    /// The settings used.
    pub options: Options,
}

/// Runs every measure on `net`, trained on `tasks` with generator settings `gen`.
pub fn analyze(
    net: &Network,
    tasks: &Tasks,
    gen: &tasks::Config,
    options: &Options,
) -> Result<Analysis> {
    if options.max_clusters < 2 {
        bail!(
            "at least 2 clusters must be allowed, got {}",
            options.max_clusters
        );
    }
    let sheet = net.config().sheet;
    let variance =
        task_variance::task_variance(net, tasks, gen, eval_seed(options.seed), options.trials)?;
    let important = variance.important(IMPORTANT);
    let normalised = variance.normalised(&important);
    let clustering = cluster::cluster(&normalised, tasks.len(), options.max_clusters);
    let mut analysis = Analysis {
        sheet,
        wiring: wiring::wiring(net),
        variance,
        important,
        normalised,
        clustering,
        modularity: None,
        baseline: None,
        options: options.clone(),
    };
    if analysis.clustering.is_some() {
        let labels = analysis.unit_clusters();
        analysis.modularity = modularity::measure(&sheet, &labels);
        analysis.baseline = modularity::baseline(
            &sheet,
            &labels,
            options.permutations,
            derive_seed(options.seed, PERMUTATION_DOMAIN, 0),
        );
    }
    Ok(analysis)
}

impl Analysis {
    /// The cluster of every hidden unit (None for unimportant units, or for all without clusters).
    pub fn unit_clusters(&self) -> Vec<Option<usize>> {
        let mut out = vec![None; self.sheet.n_units()];
        if let Some(cl) = &self.clustering {
            for (&u, &l) in self.important.iter().zip(&cl.labels) {
                out[u] = Some(l);
            }
        }
        out
    }

    /// All results as JSON (fields listed in `cli::analyze`).
    pub fn to_json(&self) -> Value {
        let w = &self.wiring;
        let v = &self.variance;
        let rows: Vec<&[f64]> = (0..v.n_units).map(|i| v.unit(i)).collect();
        let k = v.tasks.len().max(1);
        let norm: Vec<&[f64]> = self.normalised.chunks(k).collect();
        let clusters = self.clustering.as_ref().map(|c| {
            json!({
                "k": c.k,
                "silhouette": c.silhouette,
                "sizes": c.sizes(),
                "labels": c.labels,
                "silhouette_by_k": c.scores.iter().map(|&(k, s)| json!({"k": k, "silhouette": s})).collect::<Vec<_>>(),
            })
        });
        let stat = |s: &NullStat| json!({"mean": s.mean, "sd": s.sd, "percentile": s.percentile});
        let modularity = self.modularity.map(|m| {
            json!({
                "isolated_fraction": m.isolated_fraction,
                "mean_group_size": m.mean_group_size,
                "groups": m.groups,
                "baseline": self.baseline.map(|b| json!({
                    "permutations": b.permutations,
                    "seed": b.seed,
                    "isolated_fraction": stat(&b.isolated_fraction),
                    "mean_group_size": stat(&b.mean_group_size),
                })),
            })
        });
        json!({
            "sheet": {"rows": self.sheet.rows, "cols": self.sheet.cols},
            "tasks": v.tasks,
            "seed": self.options.seed,
            "connections": {
                "threshold": wiring::ACTIVE,
                "recurrent_allowed": w.recurrent_allowed,
                "recurrent_active": w.recurrent_active,
                "input_active": w.input_active,
                "output_active": w.output_active,
                "wiring_length": w.wiring_length,
            },
            "task_variance": {
                "trials": v.trials,
                "alignment": "each trial aligned at the end of its first fixation period; steps reached by every trial of the task",
                "steps": v.steps,
                "values": rows,
            },
            "important_units": {
                "threshold": IMPORTANT,
                "count": self.important.len(),
                "units": self.important,
                "normalised_variance": norm,
            },
            "clusters": clusters,
            "modularity": modularity,
        })
    }

    /// A few readable lines.
    pub fn summary(&self) -> String {
        let w = &self.wiring;
        let n = self.sheet.n_units();
        let mut s = format!(
            "sheet {}x{} ({n} units), {} tasks, {} noise-free trials per task\n",
            self.sheet.rows,
            self.sheet.cols,
            self.variance.tasks.len(),
            self.variance.trials
        );
        s += &format!(
            "active connections (|w| > {}): recurrent {} of {} allowed, input {}, output {}\n",
            wiring::ACTIVE,
            w.recurrent_active,
            w.recurrent_allowed,
            w.input_active,
            w.output_active
        );
        s += &format!("wiring length: {:.3}\n", w.wiring_length);
        s += &format!(
            "important units (summed task variance > {IMPORTANT}): {} of {n}\n",
            self.important.len()
        );
        match &self.clustering {
            None => s += "functional clusters: none (fewer than 3 important units)\n",
            Some(c) => {
                s += &format!(
                    "functional clusters: k = {} (silhouette {:.3}), sizes {:?}\n",
                    c.k,
                    c.silhouette,
                    c.sizes()
                );
            }
        }
        if let Some(m) = &self.modularity {
            s += &format!(
                "isolated fraction: {:.3}; mean group size: {:.3} ({} groups)\n",
                m.isolated_fraction, m.mean_group_size, m.groups
            );
        }
        if let Some(b) = &self.baseline {
            let f = |x: &NullStat| {
                format!(
                    "{:.3} +- {:.3}, trained at percentile {:.1}",
                    x.mean, x.sd, x.percentile
                )
            };
            s += &format!(
                "shuffled positions ({} permutations): isolated {}; group size {}\n",
                b.permutations,
                f(&b.isolated_fraction),
                f(&b.mean_group_size)
            );
        }
        s
    }
}

/// A run folder opened read-only: its config, tasks, network at the last checkpoint and step.
pub struct LoadedRun {
    /// The run's config.
    pub config: RunConfig,
    /// Its tasks.
    pub tasks: Tasks,
    /// The network at the last checkpoint (the initial network without one).
    pub network: Network,
    /// Steps done at the checkpoint.
    pub step: u64,
}

/// Opens the run in `dir` without writing anything to it. A folder without a checkpoint is
/// refused unless `untrained` (then the initial network is returned, at step 0).
pub fn load_run(dir: &Path, untrained: bool) -> Result<LoadedRun> {
    let config = RunConfig::load(&dir.join(CONFIG_FILE))
        .with_context(|| format!("{} does not hold a run", dir.display()))?;
    let plan = config.resolve()?;
    let mut network = plan.network()?;
    let (config, tasks) = plan.into_parts();
    let path = dir.join(CHECKPOINT_FILE);
    let mut step = 0;
    if path.exists() {
        let ck = checkpoint::load(&path)?;
        step = check_checkpoint_config(&ck, &config, &path, &dir.join(CONFIG_FILE))?;
        ck.load_network(&mut network)?;
    } else if !untrained {
        bail!("{}", no_checkpoint_message(dir));
    }
    Ok(LoadedRun {
        config,
        tasks,
        network,
        step,
    })
}
