//! Measures of a sweep's trained networks for Pareto plots: test error, active neurons, wiring
//! length (`docs/models.md`, "Measures"), and the Pareto frontier of a set of points.
//!
//! - test error: 1 - the mean over tasks of the `last` performance in the run's `eval.json`;
//! - active connection: a recurrent weight with |w| > 1e-2, self-connections included;
//! - active neurons: here, hidden units with at least one active incoming or outgoing recurrent
//!   connection (a connectivity measure; the spec's task-variance "important units" need
//!   evaluation trajectories and are not used here);
//! - wiring length: the sum over active recurrent connections of D = (|i-m| + |j-n|) / S,
//!   S = max(R, C) ([`crate::export::wiring`]), on the run's final checkpoint.

use super::manifest::{Entry, Manifest};
use super::status::run_dir;
use crate::train::run::{Run, EVAL_FILE};
use anyhow::{Context, Result};
use gyrus_runtime::measure::ACTIVE_THRESHOLD;
use std::path::Path;

/// One finished point's numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct PointMeasures {
    /// Index in the manifest.
    pub index: usize,
    /// Point name.
    pub name: String,
    /// Family trained (`dense`, `l1`, `bimt`, ...).
    pub family: String,
    /// Grid values, `key=value` joined by spaces.
    pub params: String,
    /// Mean `last` performance over tasks.
    pub performance: f64,
    /// 1 - performance.
    pub error: f64,
    /// Hidden units with an active recurrent connection in or out.
    pub active_units: usize,
    /// Active recurrent connections.
    pub active_connections: u32,
    /// Sum of D over active recurrent connections.
    pub wiring_length: f64,
}

/// Units with an active connection in row-major N x N matrix `w` (row = receiving unit).
pub fn active_units(w: &[f32], n: usize) -> usize {
    (0..n)
        .filter(|&i| {
            (0..n).any(|j| {
                w[i * n + j].abs() > ACTIVE_THRESHOLD || w[j * n + i].abs() > ACTIVE_THRESHOLD
            })
        })
        .count()
}

/// Measures the finished run of `entry`.
pub fn measure(dir: &Path, entry: &Entry) -> Result<PointMeasures> {
    let run_path = run_dir(dir, entry);
    let eval_path = run_path.join(EVAL_FILE);
    let text = std::fs::read_to_string(&eval_path)
        .with_context(|| format!("reading {}", eval_path.display()))?;
    let eval: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", eval_path.display()))?;
    let performance = eval["last"]
        .as_f64()
        .with_context(|| format!("{} has no mean `last` performance", eval_path.display()))?;
    let run = Run::open_trained(&run_path, false)?;
    let net = run.network();
    let n = net.n_hidden();
    let w = net.w_rec_dense();
    let all: Vec<usize> = (0..n).collect();
    let (active_connections, wiring_length) = crate::export::wiring(net, &all);
    Ok(PointMeasures {
        index: entry.index,
        name: entry.name.clone(),
        family: entry.family.clone(),
        params: entry
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        performance,
        error: 1.0 - performance,
        active_units: active_units(&w, n),
        active_connections,
        wiring_length,
    })
}

/// Measures every finished point (duplicates once); also returns the names of the points not
/// finished.
pub fn collect(dir: &Path, m: &Manifest) -> Result<(Vec<PointMeasures>, Vec<String>)> {
    let mut done = Vec::new();
    let mut missing = Vec::new();
    for e in m.points.iter().filter(|e| e.duplicate_of.is_none()) {
        if run_dir(dir, e).join(EVAL_FILE).exists() {
            done.push(measure(dir, e).with_context(|| format!("point {}", e.name))?);
        } else {
            missing.push(e.name.clone());
        }
    }
    Ok((done, missing))
}

/// Marks the Pareto-optimal points of (cost, error) pairs, both minimised: a point is on the
/// frontier unless another point is no worse in both and better in one. Ties (equal pairs) are all
/// kept.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<bool> {
    points
        .iter()
        .map(|&(x, y)| {
            !points
                .iter()
                .any(|&(a, b)| a <= x && b <= y && (a < x || b < y))
        })
        .collect()
}

/// Writes one CSV row per point (with a header), including whether the point is on its family's
/// frontier by active units and by wiring length.
pub fn write_csv(path: &Path, points: &[PointMeasures]) -> Result<()> {
    let front = |f: &dyn Fn(&PointMeasures) -> f64| {
        let mut on = vec![false; points.len()];
        for fam in families(points) {
            let idx: Vec<usize> = (0..points.len())
                .filter(|&i| points[i].family == fam)
                .collect();
            let xy: Vec<(f64, f64)> = idx
                .iter()
                .map(|&i| (f(&points[i]), points[i].error))
                .collect();
            for (k, is) in pareto_front(&xy).into_iter().enumerate() {
                on[idx[k]] = is;
            }
        }
        on
    };
    let by_units = front(&|p| p.active_units as f64);
    let by_wiring = front(&|p| p.wiring_length);
    crate::fsio::write_atomic_with(path, |f| {
        writeln!(
            f,
            "index,name,family,params,performance,error,active_units,active_connections,wiring_length,\
             frontier_units,frontier_wiring"
        )?;
        for (i, p) in points.iter().enumerate() {
            writeln!(
                f,
                "{},{},{},\"{}\",{},{},{},{},{},{},{}",
                p.index,
                p.name,
                p.family,
                p.params,
                p.performance,
                p.error,
                p.active_units,
                p.active_connections,
                p.wiring_length,
                by_units[i],
                by_wiring[i]
            )?;
        }
        Ok(())
    })
}

/// The distinct families of `points`, in order of first appearance.
pub fn families(points: &[PointMeasures]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in points {
        if !out.contains(&p.family) {
            out.push(p.family.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontier_keeps_the_undominated_points() {
        let pts = [
            (1.0, 0.5),
            (2.0, 0.4),
            (3.0, 0.45),
            (2.0, 0.4),
            (0.5, 0.9),
            (4.0, 0.1),
        ];
        assert_eq!(pareto_front(&pts), [true, true, false, true, true, true]);
        assert_eq!(pareto_front(&[]), Vec::<bool>::new());
    }

    #[test]
    fn active_units_count_connections_in_and_out() {
        // 3 units: 0 -> 1 active (w[1][0]), unit 2 only has a weak self-connection.
        let mut w = vec![0.0f32; 9];
        w[3] = 0.5;
        w[8] = 0.005;
        assert_eq!(active_units(&w, 3), 2);
        w[8] = -0.02;
        assert_eq!(active_units(&w, 3), 3);
    }
}
