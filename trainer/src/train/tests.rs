//! Tests of the hand-written BPTT against the candle oracle, and of the training step.

use super::noise::{add_noise, noise_seed};
use super::oracle::oracle_gradients;
use super::{forward, RecurrentKernel, Trainer};
use crate::model::{Activation, Family, NetConfig, Network, Sheet};
use crate::train::Engine;
use gyrus_runtime::tasks::{self, Collection, Config, Rng, Stream, TaskList};

pub(crate) const T: usize = 7;
pub(crate) const B: usize = 3;
pub(crate) const NI: usize = 5;
pub(crate) const NO: usize = 4;

pub(crate) fn config(family: Family, act: Activation, alpha: f32) -> NetConfig {
    let mut c = NetConfig::new(Sheet::new(4, 4), NI, NO);
    c.family = family;
    c.activation = act;
    c.alpha = alpha;
    c
}

/// A network with every parameter (allowed recurrent weights included) drawn at random, so the
/// check does not rest on the special 0.5 I initialisation.
pub(crate) fn random_net(cfg: &NetConfig, seed: u64) -> Network {
    let mut net = Network::new(cfg, seed).unwrap();
    let mut rng = Rng::new(seed ^ 0xabc);
    for p in net.params_mut() {
        *p = (rng.uniform() - 0.5) * 0.8;
    }
    net
}

pub(crate) fn batch(seed: u64) -> (Vec<f32>, Vec<u8>) {
    let mut rng = Rng::new(seed);
    let x = (0..T * B * NI).map(|_| rng.normal()).collect();
    let y = (0..T * B).map(|_| rng.below(NO as u32) as u8).collect();
    (x, y)
}

/// [`batch`] with about three in four inputs zeroed, as task inputs are (the input products run
/// over the nonzeros).
pub(crate) fn sparse_batch(seed: u64) -> (Vec<f32>, Vec<u8>) {
    let (mut x, y) = batch(seed);
    let mut rng = Rng::new(seed ^ 0x5a5a);
    for v in &mut x {
        if rng.below(4) != 0 {
            *v = 0.0;
        }
    }
    (x, y)
}

/// ||a - b|| / ||b|| in f64 (or ||a|| when b = 0).
pub(crate) fn rel_err(a: &[f32], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let diff: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - y).powi(2))
        .sum::<f64>()
        .sqrt();
    let norm: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    if norm == 0.0 {
        diff
    } else {
        diff / norm
    }
}

pub(crate) fn families() -> Vec<Family> {
    vec![
        Family::Dense,
        Family::Local {
            d: 1.0,
            torus: false,
        },
        Family::Local {
            d: 1.5,
            torus: true,
        },
        Family::Autapse,
        Family::FrozenAutapse,
        Family::Random {
            d: 1.0,
            torus: false,
            seed: None,
        },
        Family::SmallWorld {
            r: 1.0,
            d: 2.0,
            torus: false,
            seed: Some(4),
        },
        Family::L1 { lambda: 1e-3 },
    ]
}

/// Hand-written gradients (f32, with recurrent noise) against candle autograd in f64 on the same
/// parameters, inputs and noise: relative error ||g - g_ref|| / ||g_ref|| < 1e-4 for every tensor
/// of every family, activation and two leaks (dense inputs without a leak, sparse ones with it);
/// the loss (plus penalty) agrees to 1e-5 relative.
#[test]
fn gradients_match_the_candle_oracle() {
    let mut worst = 0.0f64;
    let mut checked = 0;
    for family in families() {
        for act in [Activation::Relu, Activation::Tanh, Activation::Softplus] {
            for alpha in [1.0f32, 0.6] {
                let cfg = config(family.clone(), act, alpha);
                let net = random_net(&cfg, 3);
                let (x, y) = if alpha == 1.0 {
                    batch(11)
                } else {
                    sparse_batch(11)
                };
                let mut tr = Trainer::new(net.clone(), T, B).unwrap();
                let mut rng = Rng::new(5);
                let mut noise_rng = rng.clone();
                let (loss, penalty) = tr.compute_gradients(&x, &y, &mut rng).unwrap();
                let mut noise = vec![0.0f32; net.n_hidden() * T * B];
                add_noise(noise_seed(&mut noise_rng), cfg.noise_sigma(), &mut noise);
                assert!(noise.iter().any(|&v| v != 0.0));
                let oracle =
                    oracle_gradients(&net, &x, &y, T, B, Some(&noise), candle_core::DType::F64)
                        .unwrap();
                let total = f64::from(loss) + f64::from(penalty);
                let what = format!("{} {} alpha={alpha}", family.name(), act.name());
                assert!(
                    (total - oracle.loss).abs() <= 1e-5 * oracle.loss.abs(),
                    "{what}: loss {total} vs {}",
                    oracle.loss
                );
                let specs = net.tensor_specs();
                assert_eq!(specs.len(), oracle.grads.len());
                for ((name, _, range), (oname, g_ref)) in specs.iter().zip(&oracle.grads) {
                    assert_eq!(name, oname);
                    let e = rel_err(&tr.gradients()[range.clone()], g_ref);
                    assert!(
                        g_ref.iter().any(|&v| v != 0.0),
                        "{what}: {name} has a zero reference gradient"
                    );
                    assert!(e < 1e-4, "{what}: {name} relative error {e:e}");
                    worst = worst.max(e);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 8 * 3 * 2 * 4);
    eprintln!("worst relative gradient error over {checked} tensors: {worst:e}");
}

/// The compressed-row kernels and the dense-times-mask kernels compute the same gradient.
#[test]
fn sparse_and_dense_masked_kernels_agree() {
    for family in [
        Family::Local {
            d: 1.0,
            torus: false,
        },
        Family::Random {
            d: 1.5,
            torus: false,
            seed: None,
        },
    ] {
        let cfg = config(family, Activation::Tanh, 0.8);
        let net = random_net(&cfg, 9);
        let (x, y) = batch(2);
        let mut a = Trainer::new(net.clone(), T, B).unwrap();
        let mut b = Trainer::new(net, T, B).unwrap();
        b.set_kernel(RecurrentKernel::DenseMasked);
        let la = a.compute_gradients(&x, &y, &mut Rng::new(1)).unwrap();
        let lb = b.compute_gradients(&x, &y, &mut Rng::new(1)).unwrap();
        assert!((la.0 - lb.0).abs() < 1e-6);
        let gb: Vec<f64> = b.gradients().iter().map(|&v| f64::from(v)).collect();
        assert!(rel_err(a.gradients(), &gb) < 1e-5);
    }
}

/// With batches wide enough for the register-blocked kernels (B = 96: one block of 64 and a
/// 32-wide tail; B = 40: a plain tail only), the compressed-row step still matches
/// dense-times-mask, for both leaks and all activations, and repeats bit for bit.
#[test]
fn wide_batches_use_the_blocked_kernels_correctly() {
    let t = 4;
    for (b, act) in [40, 96]
        .into_iter()
        .flat_map(|b| [Activation::Relu, Activation::Tanh, Activation::Softplus].map(|a| (b, a)))
    {
        for alpha in [1.0f32, 0.7] {
            let cfg = config(
                Family::Local {
                    d: 1.5,
                    torus: false,
                },
                act,
                alpha,
            );
            let net = random_net(&cfg, 21);
            let mut rng = Rng::new(8);
            let x: Vec<f32> = (0..t * b * NI).map(|_| rng.normal()).collect();
            let y: Vec<u8> = (0..t * b).map(|_| rng.below(NO as u32) as u8).collect();
            let mut a = Trainer::new(net.clone(), t, b).unwrap();
            let mut c = Trainer::new(net.clone(), t, b).unwrap();
            let mut m = Trainer::new(net, t, b).unwrap();
            m.set_kernel(RecurrentKernel::DenseMasked);
            let la = a.compute_gradients(&x, &y, &mut Rng::new(1)).unwrap();
            let lc = c.compute_gradients(&x, &y, &mut Rng::new(1)).unwrap();
            let lm = m.compute_gradients(&x, &y, &mut Rng::new(1)).unwrap();
            assert_eq!(la.0.to_bits(), lc.0.to_bits());
            assert_eq!(a.gradients(), c.gradients());
            assert!((la.0 - lm.0).abs() < 1e-5, "{}: loss", act.name());
            let gm: Vec<f64> = m.gradients().iter().map(|&v| f64::from(v)).collect();
            let e = rel_err(a.gradients(), &gm);
            assert!(
                e < 1e-5,
                "{} alpha={alpha}: relative error {e:e}",
                act.name()
            );
        }
    }
}

/// `n` consecutive cog20 training batches of `b` streams and `t` steps from `seed` (shared with
/// the regulariser tests).
pub(crate) fn cog20_batches(seed: u64, t: usize, b: usize, n: usize) -> Vec<(Vec<f32>, Vec<u8>)> {
    let list = TaskList::Collection(Collection::Cog20);
    let ni = tasks::n_inputs(list.len());
    let mut streams: Vec<Stream> = (0..b as u64).map(|i| Stream::new(seed, i)).collect();
    (0..n)
        .map(|_| {
            let mut x = vec![0.0f32; t * b * ni];
            let mut y = vec![0u8; t * b];
            tasks::fill_batch(&mut streams, &list, &Config::default(), &mut x, &mut y).unwrap();
            (x, y)
        })
        .collect()
}

fn train_cog20(family: Family, act: Activation, seed: u64, steps: usize) -> (Trainer, Vec<f32>) {
    let mut cfg = NetConfig::new(Sheet::new(4, 5), 53, 17);
    cfg.family = family;
    cfg.activation = act;
    let mut tr = Trainer::new(Network::new(&cfg, seed).unwrap(), 10, 4).unwrap();
    let mut noise = Rng::new(seed + 100);
    let mut losses = Vec::new();
    for (x, y) in cog20_batches(seed, 10, 4, steps) {
        let s = tr.train_step(&x, &y, &mut noise).unwrap();
        assert!(s.updated && s.loss.is_finite() && s.grad_norm > 0.0);
        losses.push(s.loss);
    }
    (tr, losses)
}

/// Same seed and config: bit-identical parameters and Adam state after N steps; another seed
/// gives other parameters.
#[test]
fn training_is_deterministic() {
    for family in [
        Family::Dense,
        Family::Local {
            d: 1.0,
            torus: false,
        },
    ] {
        let (a, la) = train_cog20(family.clone(), Activation::Relu, 1, 6);
        let (b, lb) = train_cog20(family.clone(), Activation::Relu, 1, 6);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(a.network().params()), bits(b.network().params()));
        assert_eq!(bits(a.adam().m()), bits(b.adam().m()));
        assert_eq!(bits(a.adam().v()), bits(b.adam().v()));
        assert_eq!(bits(&la), bits(&lb));
        let (c, _) = train_cog20(family, Activation::Relu, 2, 6);
        assert_ne!(bits(a.network().params()), bits(c.network().params()));
    }
}

/// Masked weights stay exactly zero through training while allowed ones move.
#[test]
fn masked_weights_stay_zero() {
    let family = Family::Local {
        d: 1.0,
        torus: false,
    };
    let (tr, _) = train_cog20(family.clone(), Activation::Tanh, 3, 5);
    let net = tr.network();
    let crate::model::Structure::Sparse(mask) = net.structure() else {
        panic!("local must be sparse")
    };
    let w = net.w_rec_dense();
    let n = net.n_hidden();
    for i in 0..n {
        for j in 0..n {
            if mask.find(i, j).is_none() {
                assert_eq!(w[i * n + j], 0.0);
            }
        }
    }
    let fresh = Network::new(net.config(), 3).unwrap();
    assert!(
        net.w_rec().iter().zip(fresh.w_rec()).all(|(a, b)| a != b),
        "every allowed weight trains"
    );
    let (frozen, _) = train_cog20(Family::FrozenAutapse, Activation::Relu, 3, 3);
    let w = frozen.network().w_rec_dense();
    assert!((0..20).all(|i| w[i * 20 + i] == 1.0));
}

/// The loss falls when fitting one fixed batch: the whole step (gradient, clip, Adam) descends.
#[test]
fn loss_decreases_on_a_fixed_batch() {
    for act in [Activation::Relu, Activation::Tanh] {
        let mut cfg = NetConfig::new(Sheet::new(4, 4), 53, 17);
        cfg.activation = act;
        cfg.recurrent_noise = false;
        let mut tr = Trainer::new(Network::new(&cfg, 5).unwrap(), 10, 4).unwrap();
        let (x, y) = cog20_batches(5, 10, 4, 1).remove(0);
        let mut rng = Rng::new(0);
        let first = tr.train_step(&x, &y, &mut rng).unwrap().loss;
        let mut last = first;
        for _ in 0..150 {
            last = tr.train_step(&x, &y, &mut rng).unwrap().loss;
        }
        assert!(last < 0.7 * first, "{}: {first} -> {last}", act.name());
    }
}

/// Noise-free `forward` against a naive f64 loop over `w_rec_dense`, and its logits give the
/// same loss as a noise-free training step.
#[test]
fn forward_matches_a_naive_reference() {
    for family in [
        Family::Dense,
        Family::Local {
            d: 1.0,
            torus: false,
        },
        Family::FrozenAutapse,
    ] {
        let mut cfg = config(family, Activation::Softplus, 0.7);
        cfg.recurrent_noise = false;
        let net = random_net(&cfg, 4);
        let (x, y) = batch(8);
        let n = net.n_hidden();
        let mut hid = vec![0.0f32; T * B * n];
        let mut out = vec![0.0f32; T * B * NO];
        forward(&net, &x, T, B, Some(&mut hid), &mut out).unwrap();
        let w = net.w_rec_dense();
        let mut ce = 0.0f64;
        for b in 0..B {
            let mut h = vec![0.0f64; n];
            for t in 0..T {
                let u = &x[(t * B + b) * NI..][..NI];
                let mut next = vec![0.0f64; n];
                for i in 0..n {
                    let mut a = f64::from(net.b_h()[i]);
                    for (k, &uk) in u.iter().enumerate() {
                        a += f64::from(net.w_in()[i * NI + k]) * f64::from(uk);
                    }
                    for j in 0..n {
                        a += f64::from(w[i * n + j]) * h[j];
                    }
                    let phi = a.exp().ln_1p();
                    next[i] = 0.3 * h[i] + 0.7 * phi;
                }
                h = next;
                let r = t * B + b;
                for i in 0..n {
                    assert!(
                        (f64::from(hid[r * n + i]) - h[i]).abs() < 1e-5,
                        "hidden t={t} b={b} i={i}"
                    );
                }
                let mut logits = [0.0f64; NO];
                for (o, l) in logits.iter_mut().enumerate() {
                    *l = f64::from(net.b_o()[o])
                        + (0..n)
                            .map(|j| f64::from(net.w_out()[o * n + j]) * h[j])
                            .sum::<f64>();
                    assert!((f64::from(out[r * NO + o]) - *l).abs() < 1e-5);
                }
                let lse = logits.iter().map(|v| v.exp()).sum::<f64>().ln();
                ce += lse - logits[usize::from(y[r])];
            }
        }
        ce /= (T * B) as f64;
        let mut tr = Trainer::new(net, T, B).unwrap();
        let (loss, _) = tr.compute_gradients(&x, &y, &mut Rng::new(0)).unwrap();
        assert!((f64::from(loss) - ce).abs() < 1e-5, "{loss} vs {ce}");
    }
}

/// A NaN parameter gives a NaN loss that is reported, with no update.
#[test]
fn non_finite_loss_is_reported_without_update() {
    let cfg = config(Family::Dense, Activation::Relu, 1.0);
    let mut net = Network::new(&cfg, 1).unwrap();
    let r = net.layout().w_out.start;
    net.params_mut()[r] = f32::NAN;
    let before: Vec<u32> = net.params().iter().map(|v| v.to_bits()).collect();
    let mut tr = Trainer::new(net, T, B).unwrap();
    let (x, y) = batch(1);
    let s = tr.train_step(&x, &y, &mut Rng::new(1)).unwrap();
    assert!(s.loss.is_nan() && !s.updated);
    let after: Vec<u32> = tr.network().params().iter().map(|v| v.to_bits()).collect();
    assert_eq!(before, after);
    assert_eq!(tr.adam().step_count(), 0);
}

/// Wrong buffer sizes and out-of-range targets are clear errors.
#[test]
fn bad_batches_are_rejected() {
    let cfg = config(Family::Dense, Activation::Relu, 1.0);
    let mut tr = Trainer::new(Network::new(&cfg, 1).unwrap(), T, B).unwrap();
    let (x, mut y) = batch(1);
    let e = tr.train_step(&x[1..], &y, &mut Rng::new(1)).unwrap_err();
    assert!(e.to_string().contains("inputs"), "{e}");
    y[3] = NO as u8;
    let e = tr.train_step(&x, &y, &mut Rng::new(1)).unwrap_err();
    assert!(e.to_string().contains("target class"), "{e}");
    let mut out = vec![0.0; 3];
    assert!(forward(tr.network(), &x, T, B, None, &mut out).is_err());
    assert!(Trainer::new(Network::new(&cfg, 1).unwrap(), 0, B).is_err());
}

/// Adam's moments and step count round-trip through named tensors; a resumed trainer continues
/// bit-identically.
#[test]
fn adam_state_round_trips() {
    let (a, _) = train_cog20(
        Family::Local {
            d: 1.0,
            torus: false,
        },
        Activation::Relu,
        4,
        3,
    );
    let mut b = Trainer::new(Network::new(a.network().config(), 4).unwrap(), 10, 4).unwrap();
    for (name, _, data) in a.network().tensors() {
        b.network_mut().load_tensor(&name, data).unwrap();
    }
    let tensors: Vec<(String, Vec<f32>)> = a
        .adam()
        .tensors(a.network())
        .into_iter()
        .map(|(n, _, d)| (n, d.to_vec()))
        .collect();
    assert_eq!(tensors.len(), 10);
    {
        let (net, adam) = b.parts_mut();
        for (name, data) in &tensors {
            adam.load_tensor(net, name, data).unwrap();
        }
        adam.set_step_count(a.adam().step_count());
        assert!(adam.load_tensor(net, "adam.m.w_in", &[1.0]).is_err());
        assert!(adam.load_tensor(net, "w_in", &[]).is_err());
    }
    let mut a = a;
    let (x, y) = cog20_batches(9, 10, 4, 1).remove(0);
    a.train_step(&x, &y, &mut Rng::new(3)).unwrap();
    b.train_step(&x, &y, &mut Rng::new(3)).unwrap();
    assert_eq!(a.network().params(), b.network().params());
}

/// Every family of the chunk tests: the test families, plus BIMT.
fn chunk_families() -> Vec<Family> {
    let mut f = families();
    f.push(Family::Bimt {
        lambda: 1e-3,
        a: 1.0,
        swap_every: 200,
        top_k: None,
        warmup: 0,
    });
    f
}

/// Cut into chunks (7 streams as 3 + 3 + 1), a step computes the whole batch's loss and gradient
/// (to the rounding of the sum over chunks), with the same recurrent noise: every family, dense
/// and sparse inputs, with and without a leak.
#[test]
fn chunks_give_the_whole_batch_gradient() {
    let b = 7;
    for family in chunk_families() {
        for (alpha, sparse) in [(1.0f32, false), (0.6, true)] {
            let cfg = config(family.clone(), Activation::Tanh, alpha);
            assert!(cfg.noise_sigma() > 0.0);
            let net = random_net(&cfg, 13);
            let mut rng = Rng::new(if sparse { 31 } else { 32 });
            let x: Vec<f32> = (0..T * b * NI)
                .map(|_| {
                    let v = rng.normal();
                    if sparse && rng.below(4) != 0 {
                        0.0
                    } else {
                        v
                    }
                })
                .collect();
            let y: Vec<u8> = (0..T * b).map(|_| rng.below(NO as u32) as u8).collect();
            let mut whole = Trainer::with_chunk(net.clone(), T, b, b).unwrap();
            let mut cut = Trainer::with_chunk(net, T, b, 3).unwrap();
            assert_eq!((whole.n_chunks(), cut.n_chunks()), (1, 3));
            let lw = whole.compute_gradients(&x, &y, &mut Rng::new(4)).unwrap();
            let lc = cut.compute_gradients(&x, &y, &mut Rng::new(4)).unwrap();
            let what = format!("{} alpha={alpha}", family.name());
            assert!((lw.0 - lc.0).abs() <= 1e-6 * lw.0.abs(), "{what}: loss");
            assert!((lw.1 - lc.1).abs() <= 1e-6 * lw.1.abs(), "{what}: penalty");
            let gw: Vec<f64> = whole.gradients().iter().map(|&v| f64::from(v)).collect();
            let e = rel_err(cut.gradients(), &gw);
            assert!(e < 1e-6, "{what}: relative gradient error {e:e}");
            // Another noise seed moves the gradient by far more than the chunks' rounding, so
            // misplaced noise draws would not pass.
            let mut other = whole.clone();
            other.compute_gradients(&x, &y, &mut Rng::new(5)).unwrap();
            assert!(rel_err(other.gradients(), &gw) > 1e-4, "{what}: noise");
        }
    }
}

/// `tr` trained on `batches` in a rayon pool of `threads` threads (noise seed `noise`); returns
/// it with the losses of its steps.
fn train_in_pool(
    mut tr: Trainer,
    batches: &[(Vec<f32>, Vec<u8>)],
    threads: usize,
    noise: u64,
) -> (Trainer, Vec<f32>) {
    let pool = crate::train::threads::pool(threads).unwrap();
    let mut noise = Rng::new(noise);
    let losses = pool.install(|| {
        batches
            .iter()
            .map(|(x, y)| tr.train_step(x, y, &mut noise).unwrap().loss)
            .collect()
    });
    (tr, losses)
}

/// Asserts that two trainings gave bit-identical losses, weights and Adam state.
fn assert_same_bits(a: (&Trainer, &[f32]), b: (&Trainer, &[f32]), what: &str) {
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(a.1), bits(b.1), "{what}: losses");
    let (a, b) = (a.0, b.0);
    assert_eq!(
        bits(a.network().params()),
        bits(b.network().params()),
        "{what}: weights"
    );
    assert_eq!(bits(a.adam().m()), bits(b.adam().m()), "{what}: m");
    assert_eq!(bits(a.adam().v()), bits(b.adam().v()), "{what}: v");
}

/// Training steps in rayon pools of 1, 2 and 5 threads give bit-identical weights, Adam state and
/// losses: every family, random and task inputs, recurrent noise on, chunks of 16 and of the
/// default 32 (with a shorter last chunk).
#[test]
fn thread_count_does_not_change_the_weights() {
    let (t, ni, no) = (6, 53, 17);
    let cog = cog20_batches(3, t, 40, 2);
    let mut rng = Rng::new(77);
    let random: Vec<(Vec<f32>, Vec<u8>)> = (0..2)
        .map(|_| {
            let x = (0..t * 40 * ni).map(|_| rng.normal()).collect();
            let y = (0..t * 40).map(|_| rng.below(no as u32) as u8).collect();
            (x, y)
        })
        .collect();
    let wide = cog20_batches(4, t, 72, 2);
    for family in chunk_families() {
        for (batches, b, chunk) in [(&cog, 40, 16), (&random, 40, 16), (&wide, 72, 32)] {
            let mut cfg = NetConfig::new(Sheet::new(4, 5), ni, no);
            cfg.family = family.clone();
            cfg.activation = Activation::Tanh;
            let net = random_net(&cfg, 6);
            let run = |threads: usize| {
                let tr = Trainer::with_chunk(net.clone(), t, b, chunk).unwrap();
                train_in_pool(tr, batches, threads, 12)
            };
            let (one, l1) = run(1);
            assert!(one.n_chunks() >= 3);
            for threads in [2, 5] {
                let (many, lk) = run(threads);
                let what = format!("{} B={b} chunk={chunk}, {threads} threads", family.name());
                assert_same_bits((&one, &l1), (&many, &lk), &what);
            }
        }
    }
}

/// A single chunk's masked steps split by units across pools of 2, 3 and 7 threads (every step
/// split: `set_split_min_work(0)`) give the bit-identical losses, weights and Adam state of one
/// thread: every family, with and without a leak, batches of 32 (the two-unit kernels, ranges
/// starting at odd units), 64 and 40 (a tail block).
#[test]
fn unit_splits_do_not_change_the_weights() {
    let (t, ni, no) = (5, 53, 17);
    let mut split_seen = false;
    for family in chunk_families() {
        for alpha in [1.0f32, 0.6] {
            for b in [32, 64, 40] {
                let batches = cog20_batches(5, t, b, 2);
                let mut cfg = NetConfig::new(Sheet::new(5, 5), ni, no);
                cfg.family = family.clone();
                cfg.activation = Activation::Tanh;
                cfg.alpha = alpha;
                let net = random_net(&cfg, 8);
                let masked = matches!(net.structure(), crate::model::Structure::Sparse(_));
                split_seen |= masked;
                let run = |threads: usize| {
                    let mut tr = Trainer::with_chunk(net.clone(), t, b, b).unwrap();
                    tr.set_split_min_work(0);
                    train_in_pool(tr, &batches, threads, 21)
                };
                let (one, l1) = run(1);
                assert_eq!(one.n_chunks(), 1);
                for threads in [2, 3, 7] {
                    let (many, lk) = run(threads);
                    let what = format!("{} alpha={alpha} B={b}, {threads} threads", family.name());
                    assert_same_bits((&one, &l1), (&many, &lk), &what);
                }
            }
        }
    }
    assert!(split_seen, "no masked family among the tested ones");
}

/// Evaluation scores the tasks in parallel; the scores do not depend on the thread count.
#[test]
fn evaluation_does_not_depend_on_the_thread_count() {
    let tasks = crate::tasks::Tasks::parse("go,anti,dm1,dms").unwrap();
    let cfg = NetConfig::new(Sheet::new(3, 4), tasks::n_inputs(tasks.len()), 17);
    let net = random_net(&cfg, 2);
    let gen = Config::default();
    let eval = |threads: usize| {
        crate::train::threads::pool(threads)
            .unwrap()
            .install(|| crate::train::eval::evaluate(&net, &tasks, &gen, 9, 8).unwrap())
    };
    let one = eval(1);
    assert_eq!(one.scores.len(), 4);
    assert_eq!(one, eval(3));
}
