//! Export: prune a trained network and build the runtime's model blob (`docs/format.md`).
//!
//! 1. Threshold: every weight of W, W_in and W_out with |w| <= `threshold` becomes zero.
//! 2. Units: a hidden unit is kept when it lies on a path from an input to an output of the
//!    thresholded graph: it is *driven* (reachable through nonzero W_in / W edges from an input,
//!    where a nonzero bias counts as an input of constant 1, and under softplus every unit counts,
//!    since softplus(0) = ln 2 != 0) and it *reaches* an output (through nonzero W / W_out edges).
//!    A unit that is not driven stays exactly 0 (relu(0) = tanh(0) = 0, h_0 = 0), and a unit that
//!    reaches no output cannot change one, so dropping units never changes the outputs; only
//!    step 1 does.
//! 3. [`Pruned::network`]: the trainer network with those zeros (dropped units' weights and
//!    biases zeroed), so that its evaluation is the pruned model's performance.
//! 4. [`build_model`]: the kept units in increasing original index order at their unchanged sheet
//!    positions, the trainer-side wiring length and active-connection count ([`wiring`], the
//!    definition of `docs/models.md`, "Measures"), optionally the int8 variant, whose
//!    activation format is calibrated on the f32 model's own trials ([`calibrate_activation`];
//!    tanh uses a fixed Q1.15).
//!
//! ```text
//! let pruned = export::prune(run.network(), 1e-2)?;
//! let model = export::build_model(&pruned, run.tasks(), run.config().seed, Weights::F32)?;
//! let blob = model.to_bytes()?;
//! ```

use crate::model::{Activation, Network, Structure, WiringSum};
use crate::tasks::Tasks;
use anyhow::{bail, Result};
use gyrus_runtime::eval::{self as rt_eval, EvalBuffers, EvalConfig};
use gyrus_runtime::format::{self as fmt, CsrRepr, MatrixRepr, ModelRepr, ModelView, Readout};
use gyrus_runtime::kernel::State;
use gyrus_runtime::tasks::{self, Score, Task};

/// Default pruning threshold: weights with |w| <= 1e-2 are removed (the spec's activity threshold).
pub const DEFAULT_THRESHOLD: f32 = 1e-2;

/// A recurrent weight with a larger magnitude is an active connection (spec, "Measures"): the
/// runtime's [`gyrus_runtime::measure::ACTIVE_THRESHOLD`].
pub const ACTIVE_THRESHOLD: f32 = gyrus_runtime::measure::ACTIVE_THRESHOLD;

/// Kept and total entries of one weight matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Count {
    /// Nonzero entries between kept units after pruning.
    pub kept: usize,
    /// Trainable (allowed) entries before pruning.
    pub total: usize,
}

/// A pruned network: which units survive and the trainer network with the pruned weights zeroed.
#[derive(Clone, Debug)]
pub struct Pruned {
    /// The trainer network with every pruned weight, and every dropped unit's weights and bias,
    /// set to zero (same shape as the original).
    pub network: Network,
    /// Original indices of the kept units, strictly increasing.
    pub kept: Vec<usize>,
    /// Threshold used.
    pub threshold: f32,
    /// Recurrent weights.
    pub recurrent: Count,
    /// Input weights.
    pub input: Count,
    /// Output weights.
    pub output: Count,
}

/// Marks every node reachable from `seeds` along `edges[node]`.
fn reach(seeds: Vec<bool>, edges: &[Vec<usize>]) -> Vec<bool> {
    let mut seen = seeds;
    let mut stack: Vec<usize> = (0..seen.len()).filter(|&u| seen[u]).collect();
    while let Some(u) = stack.pop() {
        for &v in &edges[u] {
            if !seen[v] {
                seen[v] = true;
                stack.push(v);
            }
        }
    }
    seen
}

/// The units on an input-to-output path of the thresholded network (see the module doc). `w` is
/// the thresholded dense N*N recurrent matrix (row = receiving unit).
pub fn units_on_paths(net: &Network, w: &[f32], threshold: f32) -> Vec<bool> {
    let cfg = net.config();
    let (n, n_in, n_out) = (net.n_hidden(), cfg.n_inputs, cfg.n_outputs);
    let live = |v: f32| v.abs() > threshold;
    let always = cfg.activation == Activation::Softplus;
    let driven_seed: Vec<bool> = (0..n)
        .map(|i| {
            always
                || net.b_h()[i] != 0.0
                || net.w_in()[i * n_in..(i + 1) * n_in]
                    .iter()
                    .any(|&v| live(v))
        })
        .collect();
    let reach_seed: Vec<bool> = (0..n)
        .map(|j| (0..n_out).any(|o| live(net.w_out()[o * n + j])))
        .collect();
    let mut forward = vec![Vec::new(); n];
    let mut backward = vec![Vec::new(); n];
    for i in 0..n {
        for j in 0..n {
            if w[i * n + j] != 0.0 {
                forward[j].push(i);
                backward[i].push(j);
            }
        }
    }
    let driven = reach(driven_seed, &forward);
    let reaches = reach(reach_seed, &backward);
    driven.iter().zip(&reaches).map(|(&a, &b)| a && b).collect()
}

/// Prunes `net` at `threshold` (>= 0): see the module doc.
pub fn prune(net: &Network, threshold: f32) -> Result<Pruned> {
    if !(threshold.is_finite() && threshold >= 0.0) {
        bail!("the pruning threshold must be a finite number >= 0, got {threshold}");
    }
    let cfg = net.config().clone();
    let (n, n_in, n_out) = (net.n_hidden(), cfg.n_inputs, cfg.n_outputs);
    let mut w = net.w_rec_dense();
    for v in &mut w {
        if v.abs() <= threshold {
            *v = 0.0;
        }
    }
    let keep = units_on_paths(net, &w, threshold);
    let mut pruned = net.clone();
    let layout = pruned.layout().clone();
    let cut = |v: f32, alive: bool| if alive && v.abs() > threshold { v } else { 0.0 };
    {
        let p = pruned.params_mut();
        let rec = &mut p[layout.w_rec.clone()];
        net.for_each_recurrent(|k, i, j| rec[k] = cut(rec[k], keep[i] && keep[j]));
        let w_in = &mut p[layout.w_in.clone()];
        for (k, v) in w_in.iter_mut().enumerate() {
            *v = cut(*v, keep[k / n_in]);
        }
        for (i, v) in p[layout.b_h.clone()].iter_mut().enumerate() {
            if !keep[i] {
                *v = 0.0;
            }
        }
        for (k, v) in p[layout.w_out.clone()].iter_mut().enumerate() {
            *v = cut(*v, keep[k % n]);
        }
    }
    let kept: Vec<usize> = (0..n).filter(|&i| keep[i]).collect();
    let nonzero = |s: &[f32]| s.iter().filter(|v| **v != 0.0).count();
    let w_kept = pruned.w_rec_dense();
    let rec_kept = kept
        .iter()
        .flat_map(|&i| kept.iter().map(move |&j| (i, j)))
        .filter(|&(i, j)| w_kept[i * n + j] != 0.0)
        .count();
    let rec_total = match net.structure() {
        Structure::FrozenIdentity => n,
        _ => net.w_rec().len(),
    };
    Ok(Pruned {
        recurrent: Count {
            kept: rec_kept,
            total: rec_total,
        },
        input: Count {
            kept: nonzero(pruned.w_in()),
            total: n * n_in,
        },
        output: Count {
            kept: nonzero(pruned.w_out()),
            total: n_out * n,
        },
        network: pruned,
        kept,
        threshold,
    })
}

/// Trainer-side measures of a recurrent matrix among `kept` units: (active connections, wiring
/// length). Active: |w| > [`ACTIVE_THRESHOLD`], self-connections included. Wiring length: the sum
/// over active connections of D = (|i - m| + |j - n|) / S, S = max(rows, cols), the integer
/// Manhattan sum divided by S once in f64 (so that the runtime's recount is bit-equal).
pub fn wiring(net: &Network, kept: &[usize]) -> (u32, f64) {
    let sheet = net.config().sheet;
    let n = net.n_hidden();
    let w = net.w_rec_dense();
    let mut sum = WiringSum::default();
    for &i in kept {
        for &j in kept {
            if w[i * n + j].abs() > ACTIVE_THRESHOLD {
                sum.add(sheet.pos(i), sheet.pos(j));
            }
        }
    }
    (sum.connections, sum.length(sheet.side()))
}

/// Rows `rows` and columns `cols` of a row-major matrix with `width` columns.
fn submatrix(m: &[f32], width: usize, rows: &[usize], cols: &[usize]) -> Vec<f32> {
    rows.iter()
        .flat_map(|&r| cols.iter().map(move |&c| m[r * width + c]))
        .collect()
}

/// The blob's content for a pruned network: kept units only, `tasks` (names in rule order) and
/// the training `seed`; `weights` says which weights the blob holds (int8: quantised from the f32
/// ones).
pub fn build_model(
    pruned: &Pruned,
    tasks: &Tasks,
    seed: u64,
    weights: fmt::Weights,
) -> Result<ModelRepr> {
    let net = &pruned.network;
    let cfg = net.config();
    let (n, n_in, n_out) = (net.n_hidden(), cfg.n_inputs, cfg.n_outputs);
    let kept = &pruned.kept;
    let k = kept.len();
    if k == 0 {
        bail!(
            "pruning at threshold {} left no hidden unit on a path from an input to an output",
            pruned.threshold
        );
    }
    // The runtime's limits (`format::Limit`), before anything is built: a blob over one would be
    // written but never opened.
    let limit = |e: fmt::FormatError| anyhow::anyhow!("cannot export: {e}");
    fmt::Limit::Hidden.check(k as u64).map_err(limit)?;
    fmt::Limit::Inputs.check(n_in as u64).map_err(limit)?;
    fmt::Limit::Outputs.check(n_out as u64).map_err(limit)?;
    let sheet = cfg.sheet;
    if sheet.rows > usize::from(u16::MAX) || sheet.cols > usize::from(u16::MAX) {
        bail!(
            "the sheet {}x{} is too large for the format (u16 indices)",
            sheet.rows,
            sheet.cols
        );
    }
    let names = tasks.names();
    if tasks::n_inputs(names.len()) != n_in {
        bail!(
            "the network has {n_in} inputs, {} tasks need {}",
            names.len(),
            tasks::n_inputs(names.len())
        );
    }
    if let Some(bad) = names.iter().find(|s| s.contains(',')) {
        bail!("task name {bad:?} contains a comma, which the format cannot store");
    }
    let all_in: Vec<usize> = (0..n_in).collect();
    let all_out: Vec<usize> = (0..n_out).collect();
    let w = submatrix(&net.w_rec_dense(), n, kept, kept);
    let w_in = submatrix(net.w_in(), n_in, kept, &all_in);
    let w_out = submatrix(net.w_out(), n, &all_out, kept);
    let (active, wiring_length) = wiring(net, kept);
    let mut m = ModelRepr {
        n_inputs: n_in,
        n_hidden: k,
        n_outputs: n_out,
        sheet_rows: sheet.rows as u16,
        sheet_cols: sheet.cols as u16,
        pitch: 1.0,
        positions: kept
            .iter()
            .map(|&u| {
                let (r, c) = sheet.pos(u);
                (r as u16, c as u16)
            })
            .collect(),
        recurrent: CsrRepr::from_dense(k, k, &w, |v| v != 0.0),
        input: MatrixRepr::compact(k, n_in, &w_in),
        output: MatrixRepr::compact(n_out, k, &w_out),
        b_h: kept.iter().map(|&u| net.b_h()[u]).collect(),
        b_o: net.b_o().to_vec(),
        activation: cfg.activation,
        alpha: cfg.alpha,
        readout: Readout::Argmax,
        tasks: names,
        wiring_length,
        active_connections: active,
        seed,
        int8: None,
        weights: gyrus_runtime::format::Weights::F32,
        layout: gyrus_runtime::format::RecLayout::Rows,
    };
    // Diagonals when they pay (local masks in sheet order), else lane groups.
    m.layout = gyrus_runtime::format::RecLayout::choose(&m.recurrent);
    if weights.has_int8() {
        let act_max = match m.activation {
            fmt::Activation::Tanh => 1.0,
            _ => CALIBRATION_HEADROOM * calibrate_activation(&m)?,
        };
        m.quantize_int8(act_max);
        m.weights = weights;
    }
    m.check_limits()
        .map_err(|e| anyhow::anyhow!("cannot export: {e}"))?;
    Ok(m)
}

/// The scratch the runtime's evaluation loop borrows, allocated for one model and generator.
struct OwnedEvalBuffers {
    tasks: Vec<Task>,
    state: Vec<f32>,
    input: Vec<f32>,
    output: Vec<f32>,
    decisions: Vec<u8>,
}

impl OwnedEvalBuffers {
    fn new(model: &ModelView<'_>, generator: &tasks::Config) -> Self {
        OwnedEvalBuffers {
            tasks: vec![Task::base(tasks::Base::Go); model.n_tasks()],
            state: vec![0.0; State::buffer_len(model.n_hidden())],
            input: vec![0.0; model.n_inputs()],
            output: vec![0.0; model.n_outputs()],
            decisions: vec![0u8; rt_eval::max_trial_len(model, generator)],
        }
    }

    fn borrow(&mut self) -> EvalBuffers<'_> {
        EvalBuffers {
            tasks: &mut self.tasks,
            state: &mut self.state,
            input: &mut self.input,
            output: &mut self.output,
            decisions: &mut self.decisions,
        }
    }
}

/// Trials per task of the int8 activation calibration ([`calibrate_activation`]).
pub const CALIBRATION_TRIALS: u32 = 16;
/// Seed of the calibration trials (not the evaluation seeds, so that the reported int8 scores
/// are on trials the calibration did not see).
pub const CALIBRATION_SEED: u64 = 0xCA11B;
/// Range kept above the calibrated largest |h| before saturating (relu and softplus; the int8
/// format then takes the most fraction bits that hold it, so the margin is 1.5x to 3x).
pub const CALIBRATION_HEADROOM: f32 = 1.5;

/// The largest |h| of the f32 model over [`CALIBRATION_TRIALS`] seeded trials of each of its tasks
/// (the runtime's own kernel and trials, [`gyrus_runtime::eval::max_activation`]).
pub fn calibrate_activation(model: &ModelRepr) -> Result<f32> {
    let blob = model.to_bytes()?;
    let view = ModelView::from_bytes(&blob)?;
    let cfg = EvalConfig::new(CALIBRATION_SEED, CALIBRATION_TRIALS);
    let mut owned = OwnedEvalBuffers::new(&view, &cfg.generator);
    rt_eval::max_activation(&view, &cfg, &mut owned.borrow())
        .map_err(|e| anyhow::anyhow!("int8 calibration failed: {e}"))
}

/// The runtime's own evaluation of a blob ([`gyrus_runtime::eval::evaluate`]): one score per task
/// of the blob, `trials` seeded trials each; `int8` runs the quantised weights.
pub fn runtime_evaluate(
    model: &ModelView<'_>,
    seed: u64,
    trials: u32,
    generator: tasks::Config,
    int8: bool,
) -> Result<Vec<Score>> {
    let n_tasks = model.n_tasks();
    let mut cfg = EvalConfig::new(seed, trials);
    cfg.generator = generator;
    cfg.int8 = int8;
    let mut owned = OwnedEvalBuffers::new(model, &generator);
    let mut scores = vec![Score::default(); n_tasks];
    rt_eval::evaluate(model, &cfg, &mut owned.borrow(), &mut scores)
        .map_err(|e| anyhow::anyhow!("runtime evaluation failed: {e}"))?;
    Ok(scores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NetConfig, Sheet};
    use crate::train::forward;

    /// A 3 x 3 dense network in which unit 2 reaches no output and unit 5 is never driven.
    fn net(activation: Activation) -> Network {
        let mut cfg = NetConfig::new(Sheet::new(3, 3), 4, 3);
        cfg.activation = activation;
        let mut net = Network::new(&cfg, 3).unwrap();
        let l = net.layout().clone();
        let p = net.params_mut();
        for i in 0..9 {
            for j in 0..9 {
                p[l.w_rec.start + i * 9 + j] = if j == 2 || i == 5 {
                    0.0
                } else {
                    0.05 * ((i * 7 + j * 3) % 5) as f32 - 0.1
                };
            }
        }
        for o in 0..3 {
            p[l.w_out.start + o * 9 + 2] = 0.0;
        }
        p[l.w_in.start + 5 * 4..l.w_in.start + 6 * 4].fill(0.0);
        p[l.b_h.start + 5] = 0.0;
        net
    }

    fn outputs(net: &Network) -> Vec<f32> {
        let (t, b) = (12, 2);
        let inputs: Vec<f32> = (0..t * b * 4)
            .map(|k| ((k * 37) % 11) as f32 / 11.0)
            .collect();
        let mut out = vec![0.0; t * b * 3];
        forward(net, &inputs, t, b, None, &mut out).unwrap();
        out
    }

    #[test]
    fn units_off_every_input_to_output_path_are_dropped_without_changing_outputs() {
        let n = net(Activation::Relu);
        let p = prune(&n, 0.0).unwrap();
        assert_eq!(p.kept, vec![0, 1, 3, 4, 6, 7, 8]);
        let (a, b) = (outputs(&n), outputs(&p.network));
        let diff = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(diff < 1e-6, "dropping units changed the outputs by {diff}");
        // The dropped units' parameters are zero in the pruned network.
        let w = p.network.w_rec_dense();
        assert!((0..9).all(|k| w[k * 9 + 2] == 0.0 && w[2 * 9 + k] == 0.0));
        assert_eq!(p.network.b_h()[2], 0.0);
        assert!(p.network.w_in()[2 * 4..3 * 4].iter().all(|v| *v == 0.0));
        // Under softplus an undriven unit is active (softplus(0) = ln 2) and is kept.
        let s = prune(&net(Activation::Softplus), 0.0).unwrap();
        assert_eq!(s.kept, vec![0, 1, 3, 4, 5, 6, 7, 8]);
    }

    #[test]
    fn threshold_zeroes_small_weights_and_counts_them() {
        let n = net(Activation::Relu);
        let p = prune(&n, 0.06).unwrap();
        let w = p.network.w_rec_dense();
        assert!(w.iter().all(|v| *v == 0.0 || v.abs() > 0.06));
        assert!(p.network.w_in().iter().all(|v| *v == 0.0 || v.abs() > 0.06));
        assert_eq!(p.recurrent.total, 81);
        assert_eq!(p.recurrent.kept, w.iter().filter(|v| **v != 0.0).count());
        assert!(p.recurrent.kept < 81 - 9 - 9);
        assert!(prune(&n, -1.0).is_err());
        assert!(prune(&n, f32::NAN).is_err());
    }

    /// Issue 21.2: a network over one of the runtime's limits is refused before a blob is built
    /// (so `gyrus export` writes nothing), with the limit and the value named.
    #[test]
    fn exports_over_a_runtime_limit_fail_naming_the_limit() {
        let tasks = Tasks::parse("go").unwrap();
        let hidden = fmt::MAX_KERNEL_HIDDEN + 1;
        let mut p = prune(&net(Activation::Relu), 0.0).unwrap();
        p.kept = (0..hidden).collect();
        let e = build_model(&p, &tasks, 1, fmt::Weights::F32)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("MAX_KERNEL_HIDDEN = 16384") && e.contains(&hidden.to_string()),
            "{e}"
        );
        // 625 dense units with equal weights: every int8 recurrent row sums 625 * 127 > 65,535.
        let mut cfg = NetConfig::new(Sheet::new(25, 25), tasks::n_inputs(1), tasks::N_CLASSES);
        cfg.activation = Activation::Tanh;
        let mut n = Network::new(&cfg, 1).unwrap();
        let l = n.layout().clone();
        n.params_mut()[l.w_rec.clone()].fill(0.05);
        n.params_mut()[l.w_in.clone()].fill(0.05);
        n.params_mut()[l.w_out.clone()].fill(0.05);
        let p = prune(&n, DEFAULT_THRESHOLD).unwrap();
        assert!(build_model(&p, &tasks, 1, fmt::Weights::F32).is_ok());
        let e = build_model(&p, &tasks, 1, fmt::Weights::Both)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("MAX_ROW_ABS_Q = 65535") && e.contains(&(625 * 127).to_string()),
            "{e}"
        );
    }

    #[test]
    fn wiring_counts_active_connections_by_manhattan_distance() {
        // 1 x 3 sheet (S = 3): 0 -> 2 (distance 2), 1 -> 1 (self, 0), 2 -> 0 below threshold.
        let cfg = NetConfig::new(Sheet::new(1, 3), 2, 2);
        let mut n = Network::new(&cfg, 1).unwrap();
        let r = n.layout().w_rec.clone();
        let w = &mut n.params_mut()[r];
        w.fill(0.0);
        w[2 * 3] = 0.5;
        w[4] = -0.3;
        w[2] = 0.01;
        let (count, len) = wiring(&n, &[0, 1, 2]);
        assert_eq!(count, 2);
        assert_eq!(len, 2.0 / 3.0);
        assert_eq!(wiring(&n, &[0, 1]), (1, 0.0));
    }
}
