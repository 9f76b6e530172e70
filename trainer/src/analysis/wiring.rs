//! Connections and wiring length (models.md, "Measures"): a connection is active when |w| > 1e-2;
//! the wiring length is the sum of the BIMT distance D over the active recurrent connections.

use crate::model::{Network, Structure, WiringSum};

/// A weight is an active connection when its magnitude exceeds this (the runtime's threshold).
pub const ACTIVE: f32 = gyrus_runtime::measure::ACTIVE_THRESHOLD;

/// Every allowed recurrent connection as (receiving unit, sending unit, weight): all N*N for a
/// dense structure, the mask entries of a sparse one, the fixed diagonal of frozen-autapse.
pub fn recurrent_connections(net: &Network) -> Vec<(usize, usize, f32)> {
    if let Structure::FrozenIdentity = net.structure() {
        return (0..net.n_hidden()).map(|i| (i, i, 1.0)).collect();
    }
    let w = net.w_rec();
    let mut out = Vec::with_capacity(w.len());
    net.for_each_recurrent(|k, i, j| out.push((i, j, w[k])));
    out
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
    let mut active = WiringSum::default();
    for &(i, j, _) in rec.iter().filter(|c| c.2.abs() > ACTIVE) {
        active.add(sheet.pos(i), sheet.pos(j));
    }
    let count = |w: &[f32]| w.iter().filter(|v| v.abs() > ACTIVE).count();
    Wiring {
        recurrent_allowed: rec.len(),
        recurrent_active: active.connections as usize,
        input_active: count(net.w_in()),
        output_active: count(net.w_out()),
        wiring_length: active.length(sheet.side()),
    }
}

/// (D, |w|) of every allowed recurrent connection, for the weight-against-distance scatter.
pub fn weight_distance(net: &Network) -> Vec<(f64, f32)> {
    let sheet = net.config().sheet;
    recurrent_connections(net)
        .into_iter()
        .map(|(i, j, w)| (sheet.distance(i, j), w.abs()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Family, NetConfig, Sheet};

    #[test]
    fn distance_is_manhattan_over_the_longer_side() {
        let s = Sheet::new(4, 5);
        assert_eq!(s.distance(0, 0), 0.0);
        // unit 0 at (0,0), unit 19 at (3,4): (3 + 4) / 5.
        assert!((s.distance(0, 19) - 7.0 / 5.0).abs() < 1e-12);
        assert_eq!(s.distance(7, 13), s.distance(13, 7));
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
            .all(|&(i, j, _)| net.config().sheet.distance(i, j) <= 1.0 / 3.0 + 1e-12));
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
