//! BIMT's neuron swaps: relabelling hidden units so that strong connections get shorter.
//!
//! Exchanging units p and q swaps rows and columns p, q of W, rows p, q of W_in, columns p, q of
//! W_out, entries p, q of b_h, and the same entries of Adam's moments: the network computes exactly
//! the same function, only the weights now sit at other places on the sheet (the positions stay).

use crate::model::{Layout, Network, Sheet, Structure};
use crate::optim::Adam;
use anyhow::bail;

/// What one swap round did.
#[derive(Clone, Debug, PartialEq)]
pub struct SwapRound {
    /// Swaps made.
    pub swaps: usize,
    /// The exchanges (p, q), in the order they were made.
    pub pairs: Vec<(usize, usize)>,
    /// Wiring cost A * |D (.) W|_1 before the round.
    pub cost_before: f64,
    /// Wiring cost after the round.
    pub cost_after: f64,
}

/// All pairwise distances [N, N] of the sheet.
fn distances(sheet: &Sheet) -> Vec<f64> {
    let n = sheet.n_units();
    let mut d = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            d[i * n + j] = sheet.distance(i, j);
        }
    }
    d
}

/// sum_ij D_ij |W_ij| - the same after exchanging units p and q, i.e. the change, in O(N).
/// Only rows and columns p, q change; the 2x2 block {p, q} keeps its cost (diagonals have D = 0,
/// W_pq and W_qp trade places at the same distance), so for k outside {p, q} the change is
/// (D_pk - D_qk) (|W_qk| - |W_pk| + |W_kq| - |W_kp|).
/// `dp` and `dq` are the distances of units p and q to every unit.
fn delta_with(w: &[f32], dp: &[f64], dq: &[f64], n: usize, p: usize, q: usize) -> f64 {
    if p == q {
        return 0.0;
    }
    let (wp, wq) = (&w[p * n..(p + 1) * n], &w[q * n..(q + 1) * n]);
    let mut sum = 0.0f64;
    for k in 0..n {
        if k == p || k == q {
            continue;
        }
        let abs = |x: f32| f64::from(x.abs());
        let moved = abs(wq[k]) - abs(wp[k]) + abs(w[k * n + q]) - abs(w[k * n + p]);
        sum += (dp[k] - dq[k]) * moved;
    }
    sum
}

fn dense_n(net: &Network) -> anyhow::Result<usize> {
    match net.structure() {
        Structure::Dense => Ok(net.n_hidden()),
        _ => bail!(
            "neuron swaps need a dense recurrent matrix (family {} is masked)",
            net.config().family.name()
        ),
    }
}

/// Change of the wiring cost A * |D (.) W|_1 if hidden units `p` and `q` of the dense network `net`
/// exchanged places, computed in O(N) without touching the network.
pub fn swap_delta(net: &Network, a: f32, p: usize, q: usize) -> anyhow::Result<f64> {
    let n = dense_n(net)?;
    if p >= n || q >= n {
        bail!("units {p} and {q}: the network has {n}");
    }
    let sheet = net.config().sheet;
    let w = net.w_rec();
    let dp: Vec<f64> = (0..n).map(|k| sheet.distance(p, k)).collect();
    let dq: Vec<f64> = (0..n).map(|k| sheet.distance(q, k)).collect();
    Ok(f64::from(a) * delta_with(w, &dp, &dq, n, p, q))
}

/// Exchanges hidden units `p` and `q` in `buf`, a buffer with the parameter layout of a dense
/// network with `n` hidden units (parameters, gradients or Adam moments).
fn swap_in_buffer(layout: &Layout, n: usize, buf: &mut [f32], p: usize, q: usize) {
    if p == q {
        return;
    }
    let (lo, hi) = (p.min(q), p.max(q));
    let ni = layout.w_in.len() / n;
    let no = layout.w_out.len() / n;
    let swap_rows = |m: &mut [f32], width: usize| {
        let (a, b) = m.split_at_mut(hi * width);
        a[lo * width..(lo + 1) * width].swap_with_slice(&mut b[..width]);
    };
    let w = &mut buf[layout.w_rec.clone()];
    swap_rows(w, n);
    for row in w.chunks_exact_mut(n) {
        row.swap(p, q);
    }
    swap_rows(&mut buf[layout.w_in.clone()], ni);
    buf[layout.b_h.clone()].swap(p, q);
    for row in buf[layout.w_out.clone()].chunks_exact_mut(n).take(no) {
        row.swap(p, q);
    }
}

/// Exchanges hidden units `p` and `q` of a dense network, and of Adam's moments if given, so that
/// the network computes the same function (and the next Adam step is the relabelled one).
pub fn swap_units(
    net: &mut Network,
    adam: Option<&mut Adam>,
    p: usize,
    q: usize,
) -> anyhow::Result<()> {
    let n = dense_n(net)?;
    if p >= n || q >= n {
        bail!("units {p} and {q}: the network has {n}");
    }
    let layout = net.layout().clone();
    swap_in_buffer(&layout, n, net.params_mut(), p, q);
    if let Some(adam) = adam {
        let (m, v) = adam.moments_mut();
        if m.len() != layout.len() || v.len() != layout.len() {
            bail!("Adam state does not match the network");
        }
        swap_in_buffer(&layout, n, m, p, q);
        swap_in_buffer(&layout, n, v, p, q);
    }
    Ok(())
}

/// The `k` hidden units with the largest sum |incoming| + sum |outgoing| recurrent weights
/// (largest first; ties by lower index).
pub fn top_units(net: &Network, k: usize) -> anyhow::Result<Vec<usize>> {
    let n = dense_n(net)?;
    let w = net.w_rec();
    let mut score = vec![0.0f64; n];
    for i in 0..n {
        for j in 0..n {
            let x = f64::from(w[i * n + j].abs());
            score[i] += x;
            score[j] += x;
        }
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&x, &y| score[y].total_cmp(&score[x]).then(x.cmp(&y)));
    idx.truncate(k.min(n));
    Ok(idx)
}

/// One swap round: for each of the `top_k` most connected units in turn (chosen at the start of
/// the round), try exchanging it with every other unit and make the exchange that lowers
/// A * |D (.) W|_1 the most, if any lowers it by more than 1e-9 of the current cost (float noise
/// never moves a unit). Moves Adam's moments along. Deterministic in the weights. Does nothing
/// when A = 0.
pub fn swap_round(
    net: &mut Network,
    mut adam: Option<&mut Adam>,
    a: f32,
    top_k: usize,
) -> anyhow::Result<SwapRound> {
    let n = dense_n(net)?;
    let before = super::bimt::wiring_cost(net, a);
    if a == 0.0 || n < 2 {
        return Ok(SwapRound {
            swaps: 0,
            pairs: Vec::new(),
            cost_before: before,
            cost_after: before,
        });
    }
    let d = distances(&net.config().sheet);
    let mut raw = before / f64::from(a);
    let mut pairs = Vec::new();
    for p in top_units(net, top_k)? {
        let w = net.w_rec();
        let mut best = (0.0f64, p);
        for q in 0..n {
            let delta = delta_with(w, &d[p * n..(p + 1) * n], &d[q * n..(q + 1) * n], n, p, q);
            if delta < best.0 {
                best = (delta, q);
            }
        }
        let (delta, q) = best;
        if q != p && delta < -1e-9 * raw {
            swap_units(net, adam.as_deref_mut(), p, q)?;
            raw += delta;
            pairs.push((p, q));
        }
    }
    Ok(SwapRound {
        swaps: pairs.len(),
        pairs,
        cost_before: before,
        cost_after: super::bimt::wiring_cost(net, a),
    })
}
