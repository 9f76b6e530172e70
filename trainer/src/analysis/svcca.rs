//! Network-to-network similarity by SVCCA (Raghu et al. 2017; Maheswaranathan et al. 2019;
//! `docs/models.md`, "Dynamics analysis").
//!
//! A network's activity is the matrix of its hidden states [samples, N] on a fixed set of trials
//! (every valid step of every trial, padding excluded), centred per unit. SVCCA keeps the top
//! [`DIRECTIONS`] left singular directions of each (fewer when the activity has lower rank:
//! singular values below 1e-10 of the largest are dropped), then runs CCA between the two reduced
//! views. Since CCA is invariant to invertible transforms of each view, the canonical correlations
//! are the singular values of U_a^T U_b, with U the orthonormal bases kept. Similarity = their
//! mean; distance = 1 - similarity.
//!
//! Identical trials for networks trained on different task lists: the trials are drawn once, with
//! the first network's task list ([`TrialSet`]); each network gets the same sensory inputs with its
//! own rule input for the task ([`activity`]).

use super::linalg;
use crate::model::Network;
use crate::tasks::Tasks;
use crate::train::eval::{trial_batch, TrialBatch};
use crate::train::forward;
use anyhow::{bail, Result};
use gyrus_runtime::tasks::{self, Task, N_SENSORY};
use nalgebra::DMatrix;

/// Directions kept by the SVD step.
pub const DIRECTIONS: usize = 20;

/// Relative size below which a singular value counts as zero.
const RANK_TOL: f64 = 1e-10;

/// One network's activity reduced to an orthonormal basis of its top directions.
#[derive(Clone, Debug)]
pub struct Reduced {
    /// Orthonormal columns [samples, k].
    pub basis: DMatrix<f64>,
    /// The singular values kept.
    pub singular_values: Vec<f64>,
}

/// The SVD step: centres the columns of `x` [samples, units] and keeps up to `k` top directions.
/// Errors if the activity is constant (no direction left).
pub fn reduce(x: &DMatrix<f64>, k: usize) -> Result<Reduced> {
    let (s, n) = x.shape();
    if s < 2 || n == 0 {
        bail!("SVCCA needs at least 2 samples of at least 1 unit, got {s}x{n}");
    }
    let mut c = x.clone();
    for mut col in c.column_iter_mut() {
        let m = col.mean();
        col.add_scalar_mut(-m);
    }
    let (u, sv) = linalg::svd_u(&c)?;
    let top = sv.iter().copied().fold(0.0, f64::max);
    let keep = sv
        .iter()
        .take(k)
        .take_while(|&&v| top > 0.0 && v > RANK_TOL * top)
        .count();
    if keep == 0 {
        bail!("the hidden activity is constant: no direction to compare");
    }
    Ok(Reduced {
        basis: u.columns(0, keep).into_owned(),
        singular_values: sv.iter().take(keep).copied().collect(),
    })
}

/// Canonical correlations between two reduced activities on the same samples, descending.
pub fn canonical_correlations(a: &Reduced, b: &Reduced) -> Result<Vec<f64>> {
    if a.basis.nrows() != b.basis.nrows() {
        bail!(
            "activities have {} and {} samples: they must come from the same trials",
            a.basis.nrows(),
            b.basis.nrows()
        );
    }
    let c = a.basis.transpose() * &b.basis;
    Ok(linalg::singular_values(&c)?
        .into_iter()
        .map(|v| v.clamp(0.0, 1.0))
        .collect())
}

/// SVCCA similarity: mean canonical correlation of the reduced activities.
pub fn similarity(a: &Reduced, b: &Reduced) -> Result<f64> {
    let r = canonical_correlations(a, b)?;
    Ok(r.iter().sum::<f64>() / r.len() as f64)
}

/// SVCCA similarity of two activity matrices [samples, units] with the top `k` directions.
pub fn svcca(x: &DMatrix<f64>, y: &DMatrix<f64>, k: usize) -> Result<f64> {
    similarity(&reduce(x, k)?, &reduce(y, k)?)
}

/// The distance matrix 1 - similarity over reduced activities (symmetric, zero diagonal).
pub fn distance_matrix(reduced: &[Reduced]) -> Result<DMatrix<f64>> {
    let p = reduced.len();
    let mut d = DMatrix::zeros(p, p);
    for i in 0..p {
        for j in i + 1..p {
            let v = 1.0 - similarity(&reduced[i], &reduced[j])?;
            d[(i, j)] = v;
            d[(j, i)] = v;
        }
    }
    Ok(d)
}

/// Seeded, noise-free evaluation trials of some tasks, drawn once for every network compared.
pub struct TrialSet {
    /// The tasks, each with its trials (drawn with the reference task list's rule index).
    pub batches: Vec<(Task, TrialBatch)>,
}

impl TrialSet {
    /// `trials` noise-free evaluation trials (seed `seed`) of each of `names`, drawn with the
    /// reference task list `reference` (which must contain them) and generator settings `gen`.
    pub fn new(
        reference: &Tasks,
        names: &[Task],
        gen: &tasks::Config,
        seed: u64,
        trials: u32,
    ) -> Result<Self> {
        if names.is_empty() || trials == 0 {
            bail!("SVCCA needs at least one task and one trial");
        }
        let list = reference.list();
        let batches = names
            .iter()
            .map(|&task| {
                let Some(rule) = list.position(task) else {
                    bail!("task {task} is not among the reference run's tasks");
                };
                Ok((
                    task,
                    trial_batch(reference, rule, &gen.noise_free(), seed, trials)?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(TrialSet { batches })
    }

    /// Total valid steps over all trials (the samples of [`activity`]).
    pub fn samples(&self) -> usize {
        self.batches
            .iter()
            .flat_map(|(_, b)| b.trials.iter().map(|t| t.len()))
            .sum()
    }
}

/// The hidden states of `net` (trained on `net_tasks`) on every valid step of `set`, as rows
/// [samples, N]: the same sensory inputs for every network, the rule input of each task moved to
/// its position in `net_tasks`.
pub fn activity(net: &Network, net_tasks: &Tasks, set: &TrialSet) -> Result<DMatrix<f64>> {
    let n = net.n_hidden();
    let n_in = net.config().n_inputs;
    if n_in != tasks::n_inputs(net_tasks.len()) {
        bail!(
            "the network has {n_in} inputs, its {} tasks need {}",
            net_tasks.len(),
            tasks::n_inputs(net_tasks.len())
        );
    }
    let mut rows: Vec<f64> = Vec::with_capacity(set.samples() * n);
    for (task, batch) in &set.batches {
        let Some(rule) = net_tasks.list().position(*task) else {
            bail!("the network was not trained on task {task}");
        };
        let (t_max, b) = (batch.t_max, batch.trials.len());
        let ref_in = batch.inputs.len() / (t_max * b).max(1);
        let mut inputs = vec![0.0f32; t_max * b * n_in];
        for (src, dst) in batch
            .inputs
            .chunks_exact(ref_in)
            .zip(inputs.chunks_exact_mut(n_in))
        {
            dst[..N_SENSORY].copy_from_slice(&src[..N_SENSORY]);
            // Padding rows are all zero: keep them so.
            if src.iter().any(|&v| v != 0.0) {
                dst[N_SENSORY + rule] = 1.0;
            }
        }
        let mut hidden = vec![0.0f32; t_max * b * n];
        let mut out = vec![0.0f32; t_max * b * net.config().n_outputs];
        forward(net, &inputs, t_max, b, Some(&mut hidden), &mut out)?;
        for (k, trial) in batch.trials.iter().enumerate() {
            for t in 0..trial.len() {
                rows.extend(hidden[(t * b + k) * n..][..n].iter().map(|&v| f64::from(v)));
            }
        }
    }
    Ok(DMatrix::from_row_slice(rows.len() / n, n, &rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NetConfig, Sheet};
    use gyrus_runtime::tasks::Rng;

    fn random(r: usize, c: usize, seed: u64) -> DMatrix<f64> {
        let mut rng = Rng::new(seed);
        DMatrix::from_fn(r, c, |_, _| f64::from(rng.normal()))
    }

    fn net(tasks: &Tasks, seed: u64) -> Network {
        let cfg = NetConfig::new(
            Sheet { rows: 5, cols: 6 },
            tasks::n_inputs(tasks.len()),
            tasks::N_CLASSES,
        );
        let mut net = Network::new(&cfg, seed).unwrap();
        let mut rng = Rng::new(seed);
        let n = net.n_hidden();
        let r = net.layout().w_rec.clone();
        for v in &mut net.params_mut()[r] {
            *v = rng.normal() * 1.2 / (n as f32).sqrt();
        }
        net
    }

    #[test]
    fn an_orthogonal_transform_of_the_units_has_similarity_one() {
        // Activity of a random 30-unit network; its rotated copy X Q (Q orthogonal from a QR).
        let tasks = Tasks::parse("go,dlygo").unwrap();
        let set = TrialSet::new(&tasks, tasks.tasks(), &tasks::Config::default(), 4, 6).unwrap();
        let x = activity(&net(&tasks, 1), &tasks, &set).unwrap();
        assert_eq!(x.nrows(), set.samples());
        let q = random(30, 30, 2).qr().q();
        assert!((q.transpose() * &q - DMatrix::identity(30, 30)).norm() < 1e-10);
        let y = &x * &q;
        let s = svcca(&x, &y, DIRECTIONS).unwrap();
        assert!((s - 1.0).abs() < 1e-9, "{s}");
        // Another network is less similar; the measure is symmetric.
        let z = activity(&net(&tasks, 7), &tasks, &set).unwrap();
        let s_xz = svcca(&x, &z, DIRECTIONS).unwrap();
        assert!(s_xz < 0.99 && s_xz > 0.0, "{s_xz}");
        assert!((s_xz - svcca(&z, &x, DIRECTIONS).unwrap()).abs() < 1e-9);
        let r = reduce(&x, DIRECTIONS).unwrap();
        assert_eq!(r.basis.ncols(), DIRECTIONS);
    }

    #[test]
    fn a_permuted_network_is_the_same_network() {
        // Relabelling hidden units (a permutation, an orthogonal transform) changes no function:
        // W' = P W P^T, W_in' = P W_in, b' = P b, W_out' = W_out P^T. SVCCA through the whole
        // pipeline (trials, forward pass, reduction) gives 1.
        let tasks = Tasks::parse("go,dlygo").unwrap();
        let a = net(&tasks, 3);
        let mut b = a.clone();
        let (n, i, o) = (30, tasks::n_inputs(2), tasks::N_CLASSES);
        let perm: Vec<usize> = (0..n).map(|k| (k * 7 + 3) % n).collect();
        let l = a.layout().clone();
        let (pa, pb) = (a.params(), b.params_mut());
        for r in 0..n {
            for c in 0..n {
                pb[l.w_rec.start + r * n + c] = pa[l.w_rec.start + perm[r] * n + perm[c]];
            }
            for c in 0..i {
                pb[l.w_in.start + r * i + c] = pa[l.w_in.start + perm[r] * i + c];
            }
            pb[l.b_h.start + r] = pa[l.b_h.start + perm[r]];
            for c in 0..o {
                pb[l.w_out.start + c * n + r] = pa[l.w_out.start + c * n + perm[r]];
            }
        }
        // The task list in a different order: rule inputs are remapped per network.
        let other = Tasks::parse("dlygo,go").unwrap();
        let set = TrialSet::new(&tasks, tasks.tasks(), &tasks::Config::default(), 9, 5).unwrap();
        let xa = activity(&a, &tasks, &set).unwrap();
        let xb = activity(&b, &tasks, &set).unwrap();
        let s = svcca(&xa, &xb, DIRECTIONS).unwrap();
        assert!((s - 1.0).abs() < 1e-6, "{s}");
        let d = distance_matrix(&[reduce(&xa, 20).unwrap(), reduce(&xb, 20).unwrap()]).unwrap();
        assert!(d[(0, 1)].abs() < 1e-6 && d[(0, 0)] == 0.0);
        // The same network given a different rule order sees different rule inputs.
        let xo = activity(&a, &other, &set).unwrap();
        assert!(svcca(&xa, &xo, DIRECTIONS).unwrap() < 1.0 - 1e-6);
        assert!(activity(&a, &Tasks::parse("go,anti").unwrap(), &set).is_err());
    }

    #[test]
    fn distance_matrix_is_symmetric_with_zero_diagonal() {
        let xs: Vec<Reduced> = (0..3)
            .map(|s| reduce(&random(50, 8, s), 20).unwrap())
            .collect();
        let d = distance_matrix(&xs).unwrap();
        for i in 0..3 {
            assert_eq!(d[(i, i)], 0.0);
            for j in 0..3 {
                assert_eq!(d[(i, j)], d[(j, i)]);
                assert!(d[(i, j)] >= 0.0 && d[(i, j)] <= 1.0);
            }
        }
        // 8 random units over 50 samples: only 8 directions kept; low-rank activity is cut.
        assert_eq!(xs[0].basis.ncols(), 8);
        let low = random(50, 2, 4) * random(2, 6, 5);
        assert_eq!(reduce(&low, 20).unwrap().basis.ncols(), 2);
        assert!(reduce(&DMatrix::from_element(10, 3, 1.5), 20).is_err());
        assert!(canonical_correlations(&xs[0], &reduce(&random(40, 8, 1), 20).unwrap()).is_err());
    }
}
