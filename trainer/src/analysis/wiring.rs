//! Connections and wiring length (models.md, "Measures"): a connection is active when |w| > 1e-2;
//! the wiring length is the sum of the BIMT distance D over the active recurrent connections.

use crate::model::{Network, Sheet, Structure};

/// A weight is an active connection when its magnitude exceeds this (the runtime's threshold).
pub const ACTIVE: f32 = gyrus_runtime::measure::ACTIVE_THRESHOLD;

/// Grid distance |i-m| + |j-n| between units `a` and `b`.
fn manhattan(sheet: &Sheet, a: usize, b: usize) -> usize {
    let (i, j) = sheet.pos(a);
    let (m, n) = sheet.pos(b);
    i.abs_diff(m) + j.abs_diff(n)
}

/// BIMT distance between hidden units `a` and `b` on `sheet`: (|i-m| + |j-n|) / max(R, C).
pub fn distance(sheet: &Sheet, a: usize, b: usize) -> f64 {
    manhattan(sheet, a, b) as f64 / sheet.rows.max(sheet.cols).max(1) as f64
}

/// Every allowed recurrent connection as (receiving unit, sending unit, weight): all N*N for a
/// dense structure, the mask entries of a sparse one, the fixed diagonal of frozen-autapse.
pub fn recurrent_connections(net: &Network) -> Vec<(usize, usize, f32)> {
    let n = net.n_hidden();
    match net.structure() {
        Structure::Dense => net
            .w_rec()
            .iter()
            .enumerate()
            .map(|(k, &w)| (k / n, k % n, w))
            .collect(),
        Structure::Sparse(mask) => {
            let w = net.w_rec();
            let mut out = Vec::with_capacity(mask.nnz());
            for i in 0..n {
                let start = mask.row_ptr()[i];
                for (k, &j) in mask.row(i).iter().enumerate() {
                    out.push((i, j as usize, w[start + k]));
                }
            }
            out
        }
        Structure::FrozenIdentity => (0..n).map(|i| (i, i, 1.0)).collect(),
    }
}

/// Connection counts and wiring length of a network.
#[derive(Clone, Debug, PartialEq)]
pub struct Wiring {
    /// Allowed recurrent connections (N*N for dense, the mask size for sparse families).
    pub recurrent_allowed: usize,
    /// Active recurrent connections (self-connections included).
    pub recurrent_active: usize,
    /// Active input weights.
    pub input_active: usize,
    /// Active readout weights.
    pub output_active: usize,
    /// Sum of D over the active recurrent connections (the integer sum of |i-m| + |j-n|
    /// divided by S once, as the runtime computes it).
    pub wiring_length: f64,
}

/// Counts the active connections of `net` and sums their wiring length.
pub fn wiring(net: &Network) -> Wiring {
    let sheet = net.config().sheet;
    let rec = recurrent_connections(net);
    let active: Vec<&(usize, usize, f32)> = rec.iter().filter(|c| c.2.abs() > ACTIVE).collect();
    let count = |w: &[f32]| w.iter().filter(|v| v.abs() > ACTIVE).count();
    Wiring {
        recurrent_allowed: rec.len(),
        recurrent_active: active.len(),
        input_active: count(net.w_in()),
        output_active: count(net.w_out()),
        wiring_length: active
            .iter()
            .map(|c| manhattan(&sheet, c.0, c.1))
            .sum::<usize>() as f64
            / sheet.rows.max(sheet.cols).max(1) as f64,
    }
}

/// (D, |w|) of every allowed recurrent connection, for the weight-against-distance scatter.
pub fn weight_distance(net: &Network) -> Vec<(f64, f32)> {
    let sheet = net.config().sheet;
    recurrent_connections(net)
        .into_iter()
        .map(|(i, j, w)| (distance(&sheet, i, j), w.abs()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, NetConfig};

    #[test]
    fn distance_is_manhattan_over_the_longer_side() {
        let s = Sheet::new(4, 5);
        assert_eq!(distance(&s, 0, 0), 0.0);
        // unit 0 at (0,0), unit 19 at (3,4): (3 + 4) / 5.
        assert!((distance(&s, 0, 19) - 7.0 / 5.0).abs() < 1e-12);
        assert_eq!(distance(&s, 7, 13), distance(&s, 13, 7));
    }

    #[test]
    fn counts_and_length_follow_the_weights() {
        let mut cfg = NetConfig::new(Sheet::new(2, 2), 3, 2);
        cfg.family = Family::Dense;
        let mut net = Network::new(&cfg, 1).unwrap();
        let n = 4;
        let range = net.layout().w_rec.clone();
        let p = &mut net.params_mut()[range];
        p.fill(0.0);
        p[0] = 0.5; // 0 <- 0, D = 0
        p[n + 2] = -0.2; // 1 <- 2: (0,1) vs (1,0), D = 2/2 = 1
        p[3 * n] = 0.005; // inactive
        p[3 * n + 1] = 0.011; // 3 <- 1: (1,1) vs (0,1), D = 1/2
        let w = wiring(&net);
        assert_eq!(w.recurrent_allowed, 16);
        assert_eq!(w.recurrent_active, 3);
        assert!((w.wiring_length - 1.5).abs() < 1e-12, "{}", w.wiring_length);
        let wd = weight_distance(&net);
        assert_eq!(wd.len(), 16);
        assert!(wd.contains(&(1.0, 0.2)));
    }

    #[test]
    fn sparse_and_frozen_structures_list_only_their_connections() {
        let mut cfg = NetConfig::new(Sheet::new(3, 3), 3, 2);
        cfg.family = Family::Local {
            d: 1.0,
            torus: false,
        };
        let net = Network::new(&cfg, 1).unwrap();
        let rec = recurrent_connections(&net);
        // 9 self + 12 grid edges counted in both directions.
        assert_eq!(rec.len(), 9 + 24);
        assert!(rec
            .iter()
            .all(|&(i, j, _)| distance(&net.config().sheet, i, j) <= 1.0 / 3.0 + 1e-12));
        let dense = net.w_rec_dense();
        for &(i, j, w) in &rec {
            assert_eq!(dense[i * 9 + j], w);
        }
        cfg.family = Family::FrozenAutapse;
        let net = Network::new(&cfg, 1).unwrap();
        let w = wiring(&net);
        assert_eq!((w.recurrent_allowed, w.recurrent_active), (9, 9));
        assert_eq!(w.wiring_length, 0.0);
    }
}
