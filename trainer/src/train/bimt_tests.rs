//! Tests of BIMT's cost, gradient and neuron swaps (`crate::regularize`), here because they train
//! networks.

use crate::model::{Family, NetConfig, Network, Sheet};
use crate::regularize::bimt::{add_penalty_gradient, connection_cost, wiring_cost, Bimt};
use crate::regularize::swap::{swap_delta, swap_round, swap_units, top_units};
use crate::train::tests::cog20_batches;
use crate::train::Engine;
use crate::train::{forward, Trainer};
use gyrus_runtime::tasks::Rng;

fn bimt(lambda: f32, a: f32) -> Family {
    Family::Bimt {
        lambda,
        a,
        swap_every: 200,
        top_k: None,
        warmup: 0,
    }
}

/// A network with every parameter drawn uniformly in +-0.4 (so nothing rests on the 0.5 I init).
fn random_net(sheet: Sheet, family: Family, ni: usize, no: usize, seed: u64) -> Network {
    let mut cfg = NetConfig::new(sheet, ni, no);
    cfg.family = family;
    let mut net = Network::new(&cfg, seed).unwrap();
    let mut rng = Rng::new(seed ^ 0x5eed);
    for p in net.params_mut() {
        *p = (rng.uniform() - 0.5) * 0.8;
    }
    net
}

#[test]
fn distance_is_manhattan_in_the_unit_square() {
    let s = Sheet::new(3, 5); // S = 5
    assert_eq!(s.distance(0, 0), 0.0);
    assert!((s.distance(0, 14) - 6.0 / 5.0).abs() < 1e-12); // (0,0) to (2,4)
    assert!((s.distance(7, 3) - 2.0 / 5.0).abs() < 1e-12); // (1,2) to (0,3)
    for i in 0..15 {
        for j in 0..15 {
            assert_eq!(s.distance(i, j), s.distance(j, i));
        }
    }
    let tall = Sheet::new(4, 2); // S = 4
    assert!((tall.distance(0, 7) - 4.0 / 4.0).abs() < 1e-12);
}

/// l_cc against a direct sum over the dense matrix, and the subgradient against central finite
/// differences of lambda * l_cc (and 0 at a parameter that is exactly 0).
#[test]
fn cost_and_gradient_match_a_direct_computation() {
    let sheet = Sheet::new(3, 4);
    let (lambda, a) = (0.01f32, 1.5f32);
    let mut net = random_net(sheet, bimt(lambda, a), 5, 4, 3);
    let k0 = net.layout().w_rec.start + 5; // a recurrent weight set to exactly 0
    net.params_mut()[k0] = 0.0;
    let n = net.n_hidden();
    let w = net.w_rec_dense();
    let mut direct = 0.0f64;
    for i in 0..n {
        for j in 0..n {
            let (ri, ci) = (i / 4, i % 4);
            let (rj, cj) = (j / 4, j % 4);
            let d = (ri.abs_diff(rj) + ci.abs_diff(cj)) as f64 / 4.0;
            direct += f64::from(a) * d * f64::from(w[i * n + j].abs());
        }
    }
    assert!((wiring_cost(&net, a) - direct).abs() < 1e-9 * direct);
    let l1: f64 = net.params().iter().map(|p| f64::from(p.abs())).sum();
    assert!((connection_cost(&net, a) - (l1 + direct)).abs() < 1e-9 * (l1 + direct));
    assert!(direct > 1.0 && l1 > 1.0);

    let mut g = vec![0.0f32; net.params().len()];
    let pen = add_penalty_gradient(&net, lambda, a, &mut g);
    assert!((pen - f64::from(lambda) * (l1 + direct)).abs() < 1e-9 * pen);
    assert_eq!(g[k0], 0.0);
    let eps = 1e-3f32;
    let mut checked = 0;
    for (k, (&p, &gk)) in net.params().iter().zip(&g).enumerate() {
        if p.abs() < 2.0 * eps {
            continue;
        }
        let mut plus = net.clone();
        plus.params_mut()[k] = p + eps;
        let mut minus = net.clone();
        minus.params_mut()[k] = p - eps;
        let fd = f64::from(lambda) * (connection_cost(&plus, a) - connection_cost(&minus, a))
            / (f64::from(p + eps) - f64::from(p - eps));
        assert!(
            (f64::from(gk) - fd).abs() < 1e-5 * fd.abs().max(1e-3),
            "param {k}: {gk} vs {fd}"
        );
        checked += 1;
    }
    assert!(checked > net.params().len() * 9 / 10);
    // A recurrent weight between far units costs more than one on the diagonal.
    let base = net.layout().w_rec.start;
    let (diag, far) = (g[base].abs(), g[base + 3].abs()); // W[0][0] and W[0][3]: D = 0, 3/4
    assert!((diag - lambda).abs() < 1e-9 && (far - lambda * (1.0 + a * 0.75)).abs() < 1e-7);
    // lambda = 0: nothing added.
    let mut zero = vec![0.0f32; g.len()];
    assert_eq!(add_penalty_gradient(&net, 0.0, a, &mut zero), 0.0);
    assert!(zero.iter().all(|&x| x == 0.0));
}

/// The trainer adds exactly the penalty gradient (the BIMT trainer's gradient minus the dense
/// one's, same weights and noise), reports lambda * l_cc, and follows the warm-up.
#[test]
fn trainer_adds_the_bimt_penalty() {
    let sheet = Sheet::new(2, 3);
    let (x, y) = cog20_batches(4, 6, 3, 1).pop().unwrap();
    let dense = random_net(sheet, Family::Dense, 53, 17, 9);
    for (warmup, scale) in [(0u64, 1.0f32), (10, 0.1)] {
        let fam = Family::Bimt {
            lambda: 0.02,
            a: 2.0,
            swap_every: 200,
            top_k: None,
            warmup,
        };
        let mut net = random_net(sheet, fam, 53, 17, 9);
        net.params_mut().copy_from_slice(dense.params());
        let mut td = Trainer::new(dense.clone(), 6, 3).unwrap();
        let mut tb = Trainer::new(net.clone(), 6, 3).unwrap();
        let (ld, pd) = td.compute_gradients(&x, &y, &mut Rng::new(1)).unwrap();
        let (lb, pb) = tb.compute_gradients(&x, &y, &mut Rng::new(1)).unwrap();
        assert_eq!((ld, pd), (lb, 0.0));
        let lambda = 0.02 * scale;
        let mut expect = td.gradients().to_vec();
        let pen = add_penalty_gradient(&net, lambda, 2.0, &mut expect);
        assert!((f64::from(pb) - pen).abs() < 1e-6 * pen && pen > 0.0);
        for (k, (&got, &want)) in tb.gradients().iter().zip(&expect).enumerate() {
            assert!((got - want).abs() < 1e-6, "warmup {warmup}, param {k}");
        }
    }
    let b = Bimt::from_family(&Family::Bimt {
        lambda: 1.0,
        a: 1.0,
        swap_every: 5,
        top_k: None,
        warmup: 4,
    })
    .unwrap();
    assert_eq!([1, 2, 4, 9].map(|s| b.lambda_at(s)), [0.25, 0.5, 1.0, 1.0]);
    assert!(!b.swap_due(0) && !b.swap_due(4) && b.swap_due(5) && b.swap_due(10));
    assert_eq!((b.top_k(64), b.top_k(65), b.top_k(1)), (8, 9, 1));
    assert!(Bimt::from_family(&Family::L1 { lambda: 1.0 }).is_none());
}

/// The O(N) change equals the recomputed difference for random swaps, and a swap round never
/// raises the wiring cost (and does lower it on a random network).
#[test]
fn swap_delta_is_exact_and_rounds_never_raise_the_cost() {
    let a = 1.3f32;
    let mut net = random_net(Sheet::new(5, 4), bimt(0.0, a), 3, 2, 11);
    let n = net.n_hidden();
    let mut rng = Rng::new(7);
    for t in 0..60 {
        let p = rng.below(n as u32) as usize;
        let q = if t % 10 == 0 {
            p
        } else {
            rng.below(n as u32) as usize
        };
        let before = wiring_cost(&net, a);
        let delta = swap_delta(&net, a, p, q).unwrap();
        swap_units(&mut net, None, p, q).unwrap();
        let after = wiring_cost(&net, a);
        assert!(
            (after - before - delta).abs() < 1e-10 * before,
            "swap ({p}, {q}): {delta} vs {}",
            after - before
        );
    }
    let mut costs = vec![wiring_cost(&net, a)];
    let mut total = 0;
    for _ in 0..5 {
        let round = swap_round(&mut net, None, a, n).unwrap();
        assert!((round.cost_before - costs[costs.len() - 1]).abs() < 1e-12 * round.cost_before);
        assert!(round.cost_after <= round.cost_before * (1.0 + 1e-12));
        assert!((wiring_cost(&net, a) - round.cost_after).abs() < 1e-12 * round.cost_after);
        assert_eq!(round.swaps, round.pairs.len());
        total += round.swaps;
        costs.push(round.cost_after);
    }
    assert!(total > 0 && costs[5] < 0.95 * costs[0], "{costs:?}");
    // A = 0: plain L1, nothing to gain from moving.
    let round = swap_round(&mut net, None, 0.0, n).unwrap();
    assert_eq!((round.swaps, round.cost_after), (0, 0.0));
    // Masked families refuse.
    let mut local = random_net(
        Sheet::new(3, 3),
        Family::Local {
            d: 1.0,
            torus: false,
        },
        3,
        2,
        1,
    );
    assert!(swap_units(&mut local, None, 0, 1).is_err());
    assert!(swap_round(&mut local, None, 1.0, 3).is_err());
}

#[test]
fn top_units_are_the_most_connected() {
    let mut net = random_net(Sheet::new(3, 3), bimt(0.0, 1.0), 2, 2, 5);
    let base = net.layout().w_rec.start;
    net.params_mut()[base..base + 81].fill(0.01);
    net.params_mut()[base + 4 * 9 + 7] = 5.0; // 7 -> 4
    net.params_mut()[base + 2 * 9 + 4] = -3.0; // 4 -> 2
    assert_eq!(top_units(&net, 3).unwrap(), vec![4, 7, 2]);
    assert_eq!(top_units(&net, 100).unwrap().len(), 9);
}

/// Position of every original unit after a list of swaps: `labels[pos]` = the unit now at `pos`.
fn labels(n: usize, pairs: &[(usize, usize)]) -> Vec<usize> {
    let mut l: Vec<usize> = (0..n).collect();
    for &(p, q) in pairs {
        l.swap(p, q);
    }
    l
}

/// A swap round relabels hidden units: noise-free outputs on task inputs agree to 1e-6 and hidden
/// states are the permuted ones.
#[test]
fn swaps_keep_the_function() {
    let (t, b) = (20, 4);
    let mut net = random_net(Sheet::new(4, 4), bimt(1e-3, 1.0), 53, 17, 21);
    for p in net.params_mut() {
        *p *= 0.6; // keep the relu network from blowing up over 20 steps
    }
    let n = net.n_hidden();
    let (x, _) = cog20_batches(8, t, b, 1).pop().unwrap();
    let mut out0 = vec![0.0f32; t * b * 17];
    let mut h0 = vec![0.0f32; t * b * n];
    forward(&net, &x, t, b, Some(&mut h0), &mut out0).unwrap();
    let round = swap_round(&mut net, None, 1.0, n).unwrap();
    assert!(round.swaps >= 2, "{round:?}");
    let mut out1 = vec![0.0f32; out0.len()];
    let mut h1 = vec![0.0f32; h0.len()];
    forward(&net, &x, t, b, Some(&mut h1), &mut out1).unwrap();
    let scale = out0.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(scale > 0.1);
    for (k, (u, v)) in out0.iter().zip(&out1).enumerate() {
        assert!(
            (u - v).abs() < 1e-6 * scale.max(1.0),
            "logit {k}: {u} vs {v}"
        );
    }
    let l = labels(n, &round.pairs);
    assert_ne!(l, (0..n).collect::<Vec<_>>());
    for row in 0..t * b {
        for pos in 0..n {
            let (u, v) = (h0[row * n + l[pos]], h1[row * n + pos]);
            assert!((u - v).abs() < 1e-6 * u.abs().max(1.0), "{row} {pos}");
        }
    }
}

/// Adam's moments move with the units: a training step after a swap equals the swapped result of
/// the same step without the swap (noise off, lambda 0 so the loss is relabelling-invariant).
#[test]
fn adam_moments_move_with_the_units() {
    let (t, b) = (8, 3);
    let mut cfg = NetConfig::new(Sheet::new(3, 3), 53, 17);
    cfg.family = bimt(0.0, 1.0);
    cfg.recurrent_noise = false;
    let mut net = Network::new(&cfg, 2).unwrap();
    let mut rng = Rng::new(3);
    for p in net.params_mut() {
        *p += (rng.uniform() - 0.5) * 0.3;
    }
    let batches = cog20_batches(5, t, b, 4);
    let mut a = Trainer::new(net, t, b).unwrap();
    let mut noise = Rng::new(0);
    for (x, y) in &batches[..3] {
        assert!(a.train_step(x, y, &mut noise).unwrap().updated);
    }
    let pairs = [(0usize, 5usize), (2, 7), (5, 8)];
    let mut bt = a.clone();
    for &(p, q) in &pairs {
        let (net, adam) = bt.parts_mut();
        swap_units(net, Some(adam), p, q).unwrap();
    }
    let (x, y) = &batches[3];
    let sa = a.train_step(x, y, &mut Rng::new(9)).unwrap();
    let sb = bt.train_step(x, y, &mut Rng::new(9)).unwrap();
    assert!((sa.loss - sb.loss).abs() < 1e-6 && (sa.grad_norm - sb.grad_norm).abs() < 1e-5);
    for &(p, q) in &pairs {
        let (net, adam) = a.parts_mut();
        swap_units(net, Some(adam), p, q).unwrap();
    }
    let close = |u: &[f32], v: &[f32], what: &str| {
        for (k, (x, y)) in u.iter().zip(v).enumerate() {
            assert!((x - y).abs() < 1e-6, "{what} {k}: {x} vs {y}");
        }
    };
    close(a.network().params(), bt.network().params(), "param");
    close(a.adam().m(), bt.adam().m(), "m");
    close(a.adam().v(), bt.adam().v(), "v");
    // The swaps did move something: the unswapped step differs from the swapped one.
    let mut unswapped = a.clone();
    for &(p, q) in pairs.iter().rev() {
        let (net, adam) = unswapped.parts_mut();
        swap_units(net, Some(adam), p, q).unwrap();
    }
    assert_ne!(unswapped.network().params(), bt.network().params());
}

#[test]
fn bimt_family_parses_and_validates() {
    let f: Family =
        toml::from_str::<toml::Table>("family = { kind = \"bimt\", lambda = 1e-5, a = 1.0 }")
            .unwrap()["family"]
            .clone()
            .try_into()
            .unwrap();
    assert_eq!(f, bimt(1e-5, 1.0));
    assert_eq!(f.name(), "bimt");
    let full: Family = serde_json::from_str(
        r#"{"kind":"bimt","lambda":0.001,"swap_every":0,"top_k":4,"warmup":100}"#,
    )
    .unwrap();
    assert_eq!(
        full,
        Family::Bimt {
            lambda: 1e-3,
            a: 1.0,
            swap_every: 0,
            top_k: Some(4),
            warmup: 100
        }
    );
    assert!(serde_json::from_str::<Family>(r#"{"kind":"bimt"}"#).is_err());
    assert!(serde_json::from_str::<Family>(r#"{"kind":"bimt","lambda":1,"b":2}"#).is_err());
    for bad in [bimt(-1.0, 1.0), bimt(1.0, -0.5), bimt(f32::NAN, 1.0)] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
    let zero_k = Family::Bimt {
        lambda: 1.0,
        a: 1.0,
        swap_every: 1,
        top_k: Some(0),
        warmup: 0,
    };
    assert!(zero_k.validate().unwrap_err().to_string().contains("top_k"));
    assert_eq!(
        bimt(1.0, 1.0).structure(&Sheet::new(2, 2), 0).unwrap(),
        crate::model::Structure::Dense
    );
}
